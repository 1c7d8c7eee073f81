"""A brain driven step by step from Python: shapes, signals, clamps, freezing, valence,
save/load, and learning in an environment written here (Gymnasium-style)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import valence
from conftest import ROOT

MODEL = ROOT / "models" / "actor_critic.toml"
BANDIT = {"kind": "bandit", "arms": [0.5, 0.5]}  # its ports and vocabulary; Python steps the world


class TwoArmedBandit:
    """A Gymnasium-style environment: ``reset() -> obs``, ``step(action) -> (obs, reward, ...)``,
    vectorised over P agents. Arm 1 pays with probability 0.9, arm 0 with 0.1."""

    def __init__(self, population: int, seed: int, p=(0.1, 0.9)):
        self.rng = np.random.default_rng(seed)
        self.p = np.asarray(p)
        self.population = population

    def reset(self):
        return np.zeros(self.population)  # one cue, always

    def step(self, action: np.ndarray):
        reward = (self.rng.random(self.population) < self.p[action]).astype(np.float32)
        return np.zeros(self.population), reward, False, False, {}


def test_a_brain_learns_the_better_arm_of_a_python_environment():
    p = 16
    brain = valence.Brain(MODEL, world=BANDIT, population=p, seed=1)
    env = TwoArmedBandit(p, seed=2)
    cue = env.reset()
    reward = np.zeros(p)
    chosen = []
    for _ in range(1500):
        out = brain.step({"token": cue, "reward": reward})
        action = out["world.action"][:, 0].astype(int)
        chosen.append(action)
        cue, reward, *_ = env.step(action)
    late = np.array(chosen[-300:])
    assert (late == 1).mean() > 0.9, (late == 1).mean()
    assert (np.array(chosen[:50]) == 1).mean() < 0.8  # it did not start there


def test_outputs_have_the_documented_shapes_and_names():
    brain = valence.Brain(MODEL, world=BANDIT, population=3, seed=0)
    assert brain.schedule[0] == "cortex"
    assert brain.world_ports["token"] == ("token", 1)
    out = brain.step({"token": 0, "reward": [0.0, 1.0, 0.0]})
    assert out["cortex.latent"].shape == (3, 16)
    assert out["vta.rpe"].shape == (3, 1)
    assert out["world.action"].shape == (3, 1)
    assert out["cortex.latent"].dtype == np.float32
    np.testing.assert_array_equal(brain.signal("vta.rpe"), out["vta.rpe"])
    assert brain.steps == 1


def test_bad_inputs_are_errors_that_say_what_was_expected():
    brain = valence.Brain(MODEL, world=BANDIT, population=2, seed=0)
    with pytest.raises(KeyError, match="did you mean `token`"):
        brain.step({"tokn": 0})
    with pytest.raises(ValueError, match=r"expected an array \[P, width\]"):
        brain.step({"reward": np.zeros((2, 2, 2))})
    with pytest.raises(ValueError, match="not in the vocabulary"):
        brain.step({"token": 10_000})
    with pytest.raises(KeyError, match="did you mean `vta`"):
        brain.signal("vtaa.rpe")
    with pytest.raises(KeyError, match="no value yet"):
        brain.signal("vta.rpe")
    with pytest.raises(KeyError, match="edge"):
        brain.clamp("cortex.latent -> nowhere.latent", 0.0)
    with pytest.raises(valence.ValenceError, match="give `world=`"):
        valence.Brain(MODEL)


def test_a_clamped_edge_carries_the_constant():
    brain = valence.Brain(MODEL, world=BANDIT, population=2, seed=0)
    for _ in range(30):
        brain.step({"token": 0, "reward": 1.0})
    assert np.abs(brain.signal("vta.value")).max() > 0
    brain.clamp("cortex.latent -> vta.latent", 0.0)
    brain.step({"token": 0, "reward": 1.0})
    # V(0) = w·0 (+ bias, if any): the same for every agent whatever it learnt.
    v = brain.signal("vta.value")
    assert np.allclose(v, v[0])
    brain.clamp("cortex.latent -> vta.latent", None)
    brain.step({"token": 0, "reward": 1.0})
    assert np.abs(brain.signal("vta.value") - v).max() > 0


def test_a_frozen_region_stops_learning():
    words = ["a", "b"]
    world = {"kind": "corpus", "start": "S", "rules": {"S": ["a b", "b a"]}, "rewards": {"a": 1.0}}
    brain = valence.Brain(ROOT / "models" / "mere_exposure.toml", world=world, population=2, seed=0)
    a, b = brain.token("a"), brain.token("b")

    def feed(n):
        for t in [a, b] * n:
            brain.step({"token": t, "reward": 1.0 if t == a else 0.0})

    feed(100)
    learnt = brain.valence(words)
    assert list(learnt.columns) == words and learnt.shape == (2, 2)
    assert (learnt["a"] > 0).all()
    brain.freeze("cortex")
    brain.freeze("vta")
    feed(100)
    pd.testing.assert_frame_equal(brain.valence(words), learnt, check_exact=True)
    brain.freeze("vta", False)  # the reward model learns again, on a fixed latent space
    feed(100)
    assert not brain.valence(words).equals(learnt)


def test_save_and_load_continue_bit_identically(tmp_path: Path):
    brain = valence.Brain(MODEL, world=BANDIT, population=4, seed=5)
    rng = np.random.default_rng(0)
    for _ in range(50):
        brain.step({"token": 0, "reward": rng.random(4)})
    brain.freeze("habit")
    brain.save(tmp_path / "brain.bin")
    other = valence.Brain.load(tmp_path / "brain.bin")
    assert other.steps == 50 and other.schedule == brain.schedule
    for _ in range(20):
        r = rng.random(4)
        x, y = brain.step({"token": 0, "reward": r}), other.step({"token": 0, "reward": r})
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
