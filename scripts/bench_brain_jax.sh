#!/usr/bin/env bash
# Benchmark (not a test): the PFC meta-RL workload (models/meta_rl.toml on the meta_bandit world)
# in valence (`valence bench --brain --scenario scenarios/meta_bandit.toml`) and in a JAX peer
# written the way a JAX user would (scripts/jax_meta_rl.py: jit + vmap over controllers, per-
# controller weights, jax.grad for BPTT; once with lax.scan over a whole episode, the world
# inside, and once with one jitted call a tick, the world in numpy between calls), at P = 1, 32,
# 1024 with one worker per controller and with 32, in one run; prints agent-ticks/s side by
# side and their ratios (#22 target 4: valence ≥ 2× the peer at every P). The peer's compile time is excluded
# and reported; first it must learn (`--check`: regret per episode below ε-greedy's after
# 50 000 ticks at P = 32, W = 32), or its speed means nothing.
# Installs jax (PyPI `jax[cpu]`) when missing. TICKS=… POPULATIONS=… to change the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import jax' 2>/dev/null || python3 -m pip install -q "jax[cpu]"
mkdir -p runs/bench
cargo build --release --quiet
pops=${POPULATIONS:-1,32,1024}
ticks=${TICKS:-1000}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 scripts/jax_meta_rl.py --check --json runs/bench/jax_check.json
# Whole episodes for the peer (one jitted call plays and learns one): at least 30; valence times
# as many ticks (at P = 32, 1 000 ticks were ~40 ms, too short a window on a shared VM).
timed=$(( ticks > 3000 ? ticks : 3000 ))
for w in 1 32; do
    ./target/release/valence bench --brain --scenario scenarios/meta_bandit.toml --populations "$pops" \
        --pfc-workers "$w" --ticks "$timed" --json "runs/bench/brain_meta_w$w.json" >/dev/null
    python3 scripts/jax_meta_rl.py --populations "$pops" --workers "$w" --ticks "$timed" \
        --json "runs/bench/jax_meta_w$w.json" >/dev/null
done
python3 - <<'PY'
import json
print("agent-ticks/s; JAX scanned: one jitted call plays and learns an episode (the world inside);"
      " JAX per tick: one jitted call a tick, the world in numpy between calls (valence's structure)")
print(f"{'P':>5} {'W':>3} {'valence':>10} {'JAX scanned':>12} {'÷':>7} {'JAX per tick':>13} {'÷':>7} {'compile s':>10}")
for w in (1, 32):
    ours = json.load(open(f"runs/bench/brain_meta_w{w}.json"))
    peer = {f["population"]: f for f in json.load(open(f"runs/bench/jax_meta_w{w}.json"))["figures"]}
    for f in ours:
        j = peer[f["population"]]
        a, s, t = f["agent_ticks_per_s"], j["agent_ticks_per_s"], j["per_tick"]["agent_ticks_per_s"]
        print(f"{f['population']:>5} {j['workers']:>3} {a:>10,.0f} {s:>12,.0f} {a / s:>6.2f}× {t:>13,.0f} {a / t:>6.2f}×"
              f" {j['compile_s']:>10.2f}")
check = json.load(open("runs/bench/jax_check.json"))["check"]
print(f"the peer learns: regret per episode {check['regret']:.2f} after 50 000 ticks (first 20 episodes "
      f"{check['first_episodes']:.2f}), ε-greedy {check['egreedy_regret']:.2f}")
PY
