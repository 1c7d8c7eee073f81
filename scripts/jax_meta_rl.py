#!/usr/bin/env python3
"""A JAX peer of valence's PFC meta-RL workload (#22, target 4), timed beside
`valence bench --brain --scenario scenarios/meta_bandit.toml`.

The same computation as models/meta_rl.toml on the meta_bandit world, written the way a JAX
user would: G = P / W controllers, each with its own weights (a leading G axis, `jax.vmap`),
each driving W workers that play their own two-armed bandit episodes (arm probabilities drawn
from U[0, 1] at every episode's start, 100 ticks an episode). Each tick a GRU (48 units) reads
x_t = [onehot(a_{t−1}), r_{t−1}] (zeros at an episode's start) and emits the policy's logits
and a value; an action is sampled; the arm pays 1 with its probability. A rollout is one
episode (valence's `rollout = 100` ends at the episode's end too); then advantage actor-critic
with n-step returns (γ = 0.9, value loss 0.05, entropy 0.05), back-propagation through the
episode (`jax.grad` of a `lax.scan`), each controller's gradient clipped to norm 1 and Adam
(lr 0.005). One jitted call plays and learns one episode for every agent (the world inside
the compiled program: what JAX does best); a second variant makes one jitted call a tick with
the world in numpy between calls, as a simulator that steps regions and worlds in turn must (the
structure valence has). The first episode's compile time is reported apart and excluded.

It must learn, or it is not the same computation: `--check` trains P = 32, W = 32 for 50 000
ticks and compares the regret per episode of its last 20 episodes with ε-greedy's (ε = 0.1:
each arm once, then the best sample mean) on the same arm probabilities.

    python3 scripts/jax_meta_rl.py --populations 1,32,1024 --workers 1 --ticks 3000 --json out.json
    python3 scripts/jax_meta_rl.py --check
"""
import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

ACTIONS, HIDDEN, INPUT, EPISODE = 2, 48, 3, 100
GAMMA, VALUE_LOSS, ENTROPY, LR, MAX_NORM, EPSILON = 0.9, 0.05, 0.05, 0.005, 1.0, 0.1


def init_params(key, g):
    """Per-controller weights with a leading G axis (uniform ±1/√H, as a GRU is usually initialised)."""
    k = jax.random.split(key, 4)
    s = 1.0 / np.sqrt(HIDDEN)
    u = lambda key, shape: jax.random.uniform(key, (g, *shape), jnp.float32, -s, s)
    return {
        "wi": u(k[0], (INPUT, 3 * HIDDEN)),
        "wh": u(k[1], (HIDDEN, 3 * HIDDEN)),
        "b": jnp.zeros((g, 3 * HIDDEN)),
        "wpi": u(k[2], (HIDDEN, ACTIONS)),
        "bpi": jnp.zeros((g, ACTIONS)),
        "wv": u(k[3], (HIDDEN, 1)),
        "bv": jnp.zeros((g, 1)),
    }


def gru(p, x, h):
    """One GRU step for W workers of one controller: x [W, I], h [W, H]."""
    gi, gh = x @ p["wi"] + p["b"], h @ p["wh"]
    r = jax.nn.sigmoid(gi[:, :HIDDEN] + gh[:, :HIDDEN])
    z = jax.nn.sigmoid(gi[:, HIDDEN:2 * HIDDEN] + gh[:, HIDDEN:2 * HIDDEN])
    n = jnp.tanh(gi[:, 2 * HIDDEN:] + r * gh[:, 2 * HIDDEN:])
    return (1 - z) * n + z * h


def heads(p, h):
    return h @ p["wpi"] + p["bpi"], (h @ p["wv"] + p["bv"])[:, 0]


def play(p, key, w):
    """One episode of W workers under one controller's weights: inputs, actions, rewards, regret."""
    kp, ks = jax.random.split(key)
    probs = jax.random.uniform(kp, (w, ACTIONS))

    def tick(carry, k):
        h, x = carry
        h = gru(p, x, h)
        logits, _ = heads(p, h)
        ka, kr = jax.random.split(k)
        a = jax.random.categorical(ka, logits)
        pa = jnp.take_along_axis(probs, a[:, None], 1)[:, 0]
        r = (jax.random.uniform(kr, (w,)) < pa).astype(jnp.float32)
        regret = probs.max(1) - pa
        x_next = jnp.concatenate([jax.nn.one_hot(a, ACTIONS), r[:, None]], 1)
        return (h, x_next), (x, a, r, regret)

    h0, x0 = jnp.zeros((w, HIDDEN)), jnp.zeros((w, INPUT))
    _, (xs, acts, rewards, regret) = jax.lax.scan(tick, (h0, x0), jax.random.split(ks, EPISODE))
    return xs, acts, rewards, regret.sum(0), probs


def loss(p, xs, acts, rewards):
    """A2C over one episode (it ends there: R after the last tick is 0)."""
    w = xs.shape[1]

    def step(h, x):
        h = gru(p, x, h)
        return h, heads(p, h)

    _, (logits, values) = jax.lax.scan(step, jnp.zeros((w, HIDDEN)), xs)

    def ret(r_next, r):
        r_t = r + GAMMA * r_next
        return r_t, r_t

    _, returns = jax.lax.scan(ret, jnp.zeros(w), rewards, reverse=True)
    logp = jax.nn.log_softmax(logits)
    chosen = jnp.take_along_axis(logp, acts[..., None], 2)[..., 0]
    adv = jax.lax.stop_gradient(returns - values)
    entropy = -(jnp.exp(logp) * logp).sum(-1)
    return jnp.mean(-chosen * adv + VALUE_LOSS * 0.5 * (returns - values) ** 2 - ENTROPY * entropy)


def adam(p, g, m, v, t):
    norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g)))
    g = jax.tree_util.tree_map(lambda x: x * jnp.minimum(1.0, MAX_NORM / (norm + 1e-12)), g)
    m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
    v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
    c1, c2 = 1 - 0.9**t, 1 - 0.999**t
    p = jax.tree_util.tree_map(lambda p, m, v: p - LR * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), p, m, v)
    return p, m, v


def controller(p, m, v, t, key, w):
    """One controller: play an episode with its W workers, then learn from it."""
    xs, acts, rewards, regret, probs = play(p, key, w)
    g = jax.grad(loss)(p, xs, acts, rewards)
    p, m, v = adam(p, g, m, v, t)
    return p, m, v, regret, probs


def make_episode(w):
    vmapped = jax.vmap(lambda p, m, v, t, k: controller(p, m, v, t, k, w), in_axes=(0, 0, 0, None, 0))

    @jax.jit
    def episode(p, m, v, t, key):
        keys = jax.random.split(key, jax.tree_util.tree_leaves(p)[0].shape[0])
        return vmapped(p, m, v, t, keys)

    return episode


def start_population(population, workers, seed):
    """W (the largest divisor of P up to `workers`), G = P / W, a key, and G controllers' weights
    with Adam's moments at zero."""
    w = max(d for d in range(1, min(workers, population) + 1) if population % d == 0)
    g = population // w
    key, k0 = jax.random.split(jax.random.PRNGKey(seed))
    p = init_params(k0, g)
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, p)
    return w, g, key, p, zeros(), zeros()


def figure(population, w, episodes, seconds, compile_s):
    """Throughput over the timed episodes (all but the first, which compiled)."""
    ticks = (episodes - 1) * EPISODE
    return {
        "population": population,
        "workers": w,
        "ticks": ticks,
        "seconds": seconds,
        "agent_ticks_per_s": population * ticks / seconds,
        "compile_s": compile_s,
    }


def make_per_tick(w):
    """The same computation with the world outside the compiled program, one call a tick (as a
    simulator that steps regions and worlds in turn must run it): a jitted tick (GRU, heads,
    sampling) and a jitted update at each episode's end."""

    def tick_one(p, h, x, key):
        h = gru(p, x, h)
        logits, _ = heads(p, h)
        return h, jax.random.categorical(key, logits)

    def update_one(p, m, v, t, xs, acts, rewards):
        g = jax.grad(loss)(p, xs, acts, rewards)
        return adam(p, g, m, v, t)

    tick = jax.jit(jax.vmap(tick_one))
    update = jax.jit(jax.vmap(update_one, in_axes=(0, 0, 0, None, 1, 1, 1)))
    return tick, update


def run_per_tick(population, workers, ticks, seed=0):
    """Like `run`, one tick per call; the world (numpy) draws arms and outcomes between calls."""
    w, g, key, p, m, v = start_population(population, workers, seed)
    tick, update = make_per_tick(w)
    rng = np.random.default_rng(seed)
    episodes = max(2, ticks // EPISODE)
    compile_s, start = 0.0, time.perf_counter()
    for e in range(1, episodes + 1):
        if e == 2:
            jax.block_until_ready(p)
            compile_s, start = time.perf_counter() - start, time.perf_counter()
        probs = rng.random((g, w, ACTIONS), dtype=np.float32)
        h = jnp.zeros((g, w, HIDDEN))
        x = np.zeros((g, w, INPUT), np.float32)
        xs, acts, rewards = [], [], []
        for _ in range(EPISODE):
            key, k = jax.random.split(key)
            h, a = tick(p, h, x, jax.random.split(k, g))
            a = np.asarray(a)
            pa = np.take_along_axis(probs, a[..., None], 2)[..., 0]
            r = (rng.random((g, w)) < pa).astype(np.float32)
            xs.append(x)
            acts.append(a)
            rewards.append(r)
            x = np.concatenate([np.eye(ACTIONS, dtype=np.float32)[a], r[..., None]], 2)
        p, m, v = update(p, m, v, e, np.stack(xs), np.stack(acts), np.stack(rewards))
    jax.block_until_ready(p)
    return figure(population, w, episodes, time.perf_counter() - start, compile_s)


def egreedy_regret(probs, rng):
    """ε-greedy on the same arm probabilities (its own outcomes): each arm once, then the best
    sample mean, a random arm with probability ε; regret per episode."""
    n = probs.shape[0]
    counts, sums, regret = np.zeros((n, ACTIONS)), np.zeros((n, ACTIONS)), np.zeros(n)
    for t in range(EPISODE):
        if t < ACTIONS:
            a = np.full(n, t)
        else:
            a = np.argmax(sums / counts, 1)
            explore = rng.random(n) < EPSILON
            a = np.where(explore, rng.integers(0, ACTIONS, n), a)
        p = probs[np.arange(n), a]
        r = (rng.random(n) < p).astype(float)
        counts[np.arange(n), a] += 1
        sums[np.arange(n), a] += r
        regret += probs.max(1) - p
    return regret


def run(population, workers, ticks, seed=0):
    """Trains P agents for `ticks` ticks; returns throughput, compile time and the regret curve."""
    w, g, key, p, m, v = start_population(population, workers, seed)
    episode = make_episode(w)
    episodes = max(2, ticks // EPISODE)
    start = time.perf_counter()
    key, k = jax.random.split(key)
    p, m, v, regret, probs = episode(p, m, v, 1, k)
    jax.block_until_ready(p)
    compile_s = time.perf_counter() - start
    regrets, all_probs = [np.asarray(regret)], [np.asarray(probs)]
    start = time.perf_counter()
    for t in range(2, episodes + 1):
        key, k = jax.random.split(key)
        p, m, v, regret, probs = episode(p, m, v, t, k)
        regrets.append(regret)
        all_probs.append(probs)
    jax.block_until_ready(p)
    return figure(population, w, episodes, time.perf_counter() - start, compile_s) | {
        "regret": [float(np.mean(np.asarray(r))) for r in regrets],
        "probs": [np.asarray(x).reshape(-1, ACTIONS) for x in all_probs],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--populations", default="1,32,1024")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ticks", type=int, default=3000, help="ticks per population (the first episode, compiling, is not timed)")
    ap.add_argument("--tick-ticks", type=int, default=1000, help="ticks per population, one call a tick")
    ap.add_argument("--check", action="store_true", help="P = 32, W = 32, 50 000 ticks: does it learn?")
    ap.add_argument("--json")
    args = ap.parse_args()
    jax.config.update("jax_platforms", "cpu")
    out = {"tool": "jax", "version": jax.__version__, "devices": [str(d) for d in jax.devices()], "figures": []}
    if args.check:
        f = run(32, 32, 50_000, seed=1)
        last = slice(-20, None)
        peer = float(np.mean(f["regret"][last]))
        rng = np.random.default_rng(1)
        eg = float(np.mean([egreedy_regret(pr, rng).mean() for pr in f["probs"][last]]))
        print(f"JAX peer, P = 32, W = 32, 50 000 ticks: regret per episode over its last 20 episodes "
              f"{peer:.2f}; ε-greedy on the same arms {eg:.2f} ({'learns' if peer < eg else 'DOES NOT LEARN'})")
        out["check"] = {"regret": peer, "egreedy_regret": eg, "learns": peer < eg,
                        "first_episodes": float(np.mean(f["regret"][:20]))}
        if not peer < eg:
            raise SystemExit(1)
    else:
        for pop in (int(x) for x in args.populations.split(",")):
            f = run(pop, args.workers, args.ticks)
            t = run_per_tick(pop, args.workers, args.tick_ticks)
            print(f"JAX peer P = {pop:>5}, W = {f['workers']:>2}: {f['agent_ticks_per_s']:>12,.0f} agent-ticks/s "
                  f"a scanned episode ({f['seconds']:.2f} s for {f['ticks']} ticks; compile {f['compile_s']:.2f} s, "
                  f"excluded), {t['agent_ticks_per_s']:>12,.0f} a call per tick ({t['seconds']:.2f} s for {t['ticks']})")
            fig = {k: v for k, v in f.items() if k not in ("regret", "probs")}
            fig["per_tick"] = t
            out["figures"].append(fig)
    if args.json:
        json.dump(out, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
