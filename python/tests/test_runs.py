"""Runs, metrics, overrides, errors, interruption and sweeps from Python, checked against the
command line's own results."""

from __future__ import annotations

import signal
import threading
import _thread
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import valence
from conftest import ROOT, run_cli, small_scenario


def test_metrics_equal_the_cli_runs_byte_for_byte(tmp_path: Path, cli: str):
    scenario = small_scenario(tmp_path)
    py = valence.run(scenario, seed=3, out=tmp_path / "py", progress=False)
    done = run_cli(cli, "run", str(scenario), "--seed", "3", "--out", str(tmp_path / "cli"), "--quiet")
    assert done.returncode == 0, done.stderr
    cli_csv = (tmp_path / "cli" / "metrics.csv").read_bytes()
    assert (py.dir / "metrics.csv").read_bytes() == cli_csv
    # The DataFrame holds the same readings, and writes back to the same bytes.
    df = py.metrics
    assert valence.metrics_csv(df).encode() == cli_csv
    pd.testing.assert_frame_equal(df, valence.read_metrics(tmp_path / "cli"), check_exact=True)
    assert py.summary["probes"]["valence"]["b4"]["median"] == pytest.approx(
        float(df[(df.probe == "valence") & (df.key == "b4") & (df.step == df.step.max())].value.median()), abs=1e-6
    )


def test_metrics_have_the_documented_columns_and_dtypes(tmp_path: Path):
    r = valence.run(small_scenario(tmp_path), out=tmp_path / "r", progress=False)
    df = r.metrics
    assert list(df.columns) == ["phase", "step", "agent", "probe", "key", "value"]
    assert {c: str(t) for c, t in df.dtypes.items()} == {
        "phase": "category", "step": "int64", "agent": "int64",
        "probe": "category", "key": "category", "value": "float64",
    }
    assert set(df.agent) == {0, 1, 2, 3}
    assert list(df.phase.cat.categories) == ["childhood", "conditioning"]
    assert r.complete and repr(r).endswith("finished)")
    assert valence.load_run(r.dir).metrics.equals(df)


def test_overrides_change_what_they_name_and_nothing_else(tmp_path: Path):
    scenario = small_scenario(tmp_path)
    base = valence.run(scenario, out=tmp_path / "base", progress=False)
    changed = valence.run(scenario, out=tmp_path / "changed", progress=False,
                          overrides={"phases.1.steps": 200, "population": 2, "overrides.vta.lr": 0.5})
    a = base.scenario.splitlines()
    b = changed.scenario.splitlines()
    assert len(a) == len(b)
    differing = [(x, y) for x, y in zip(a, b) if x != y]
    assert sorted(y for _, y in differing) == ["lr = 0.5", "population = 2", "steps = 200"], differing
    assert changed.metrics.agent.max() == 1
    assert changed.metrics.step.max() == 1200 + 200
    # An override that names no place is an error that names it.
    with pytest.raises(valence.ValenceError, match="phases.7.steps"):
        valence.run(scenario, out=tmp_path / "bad", progress=False, overrides={"phases.7.steps": 1})


def test_a_scenario_can_be_a_dict(tmp_path: Path):
    import tomllib

    table = tomllib.loads(small_scenario(tmp_path).read_text())
    r = valence.run(table, out=tmp_path / "d", progress=False)
    f = valence.run(small_scenario(tmp_path), out=tmp_path / "f", progress=False)
    assert (r.dir / "metrics.csv").read_bytes() == (f.dir / "metrics.csv").read_bytes()


def test_a_validation_error_is_located_where_the_cli_locates_it(tmp_path: Path, cli: str):
    bad = small_scenario(tmp_path, name="bad.toml")
    bad.write_text(bad.read_text().replace('kind = "valence"', 'kind = "valense"'))
    with pytest.raises(valence.ScenarioError) as caught:
        valence.validate(bad)
    e = caught.value
    done = run_cli(cli, "validate", str(bad))
    assert done.returncode != 0
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"{bad}:{e.line}:{e.column}: error[{e.kind}]"), (first, e.line, e.column, e.kind)
    assert e.file == str(bad)
    assert "did you mean `valence`" in (e.help or "")
    assert isinstance(e, valence.ValenceError)
    # The same error from run(), before anything runs.
    with pytest.raises(valence.ScenarioError):
        valence.run(bad, out=tmp_path / "never", progress=False)
    assert valence.validate(ROOT / "scenarios" / "bandit.toml") == "scenario"
    assert valence.validate(ROOT / "models" / "actor_critic.toml") == "model"


def test_progress_is_reported_per_phase(tmp_path: Path):
    seen = []
    valence.run(small_scenario(tmp_path), out=tmp_path / "p",
                progress=lambda phase, i, n, k, steps: seen.append((phase, i, n, k, steps)))
    assert seen[0] == ("childhood", 0, 2, 256, 1200)
    assert ("childhood", 0, 2, 1200, 1200) in seen
    assert seen[-1] == ("conditioning", 1, 2, 400, 400)


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path: Path):
    scenario = small_scenario(tmp_path, checkpoint_every=500)
    whole = valence.run(scenario, out=tmp_path / "whole", progress=False)

    def stop(phase, i, n, k, steps):
        if (phase, k) == ("childhood", 768):
            raise KeyboardInterrupt

    with pytest.raises(valence.Interrupted) as caught:
        valence.run(scenario, out=tmp_path / "cut", progress=stop)
    e = caught.value
    assert isinstance(e, KeyboardInterrupt)
    assert (e.step, e.phase, e.resumable) == (768, "childhood", True)
    assert not (tmp_path / "cut" / "summary.json").exists()
    r = valence.resume(tmp_path / "cut", progress=False)
    assert (r.dir / "metrics.csv").read_bytes() == (whole.dir / "metrics.csv").read_bytes()


def test_a_fork_continues_another_runs_checkpoint_as_the_changed_scenario_would(tmp_path: Path):
    # The checkpoint ends the childhood (1200 steps); the fork conditions for longer.
    scenario = small_scenario(tmp_path, checkpoint_every=1200)
    parent = valence.run(scenario, out=tmp_path / "parent", progress=False)
    longer = {"phases.1.steps": 600}
    whole = valence.run(scenario, out=tmp_path / "whole", overrides=longer, progress=False)
    forked = valence.run(scenario, out=tmp_path / "fork", overrides=longer, fork=parent.dir, progress=False)
    assert (forked.dir / "metrics.csv").read_bytes() == (whole.dir / "metrics.csv").read_bytes()
    assert "step = 1200" in (forked.dir / "fork.toml").read_text()
    # A change before the checkpoint is refused, naming the key.
    with pytest.raises(valence.ResumeError, match=r"`phases\[0\]\.steps` differs"):
        valence.run(scenario, out=tmp_path / "no", overrides={"phases.0.steps": 1000}, fork=parent.dir,
                    progress=False)


def test_ctrl_c_while_the_core_runs_stops_it_cleanly(tmp_path: Path):
    # Long enough (tens of seconds) that the interruption after one second comes mid-run.
    scenario = small_scenario(tmp_path, childhood=20_000_000, checkpoint_every=1_000_000)
    # Python's own Ctrl-C handler, as in a terminal or Jupyter (a shell's background job, as CI
    # may run this in, starts with SIGINT ignored, and then `interrupt_main` does nothing).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(valence.Interrupted) as caught:
            valence.run(scenario, out=tmp_path / "c", progress=False)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    e = caught.value
    assert e.resumable and 0 < e.step < 20_000_000
    # What is on disk is consistent: the readings up to the interruption, a checkpoint there.
    df = valence.read_metrics(tmp_path / "c")
    assert df.step.max() <= e.step
    assert (tmp_path / "c" / "checkpoint.bin").is_file()


def test_an_exception_in_a_progress_callback_stops_the_run_and_is_raised(tmp_path: Path):
    def boom(*_):
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        valence.run(small_scenario(tmp_path), out=tmp_path / "b", progress=boom)


def test_a_sweep_runs_and_merges_into_one_dataframe(tmp_path: Path):
    scenario = small_scenario(tmp_path, childhood=300, conditioning=100, population=2)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'schema = 1\nscenario = "{scenario}"\nseeds = [1, 2]\n[grid]\n"overrides.vta.lr" = [0.01, 0.05]\n')
    assert valence.validate(sweep) == "sweep"
    out = tmp_path / "runs"
    report = valence.sweep(sweep, out=out, progress=False)
    assert report["failed"] == [] and len(report["runs"]) == 4
    df = valence.merge(sweep, out=out)
    assert list(df.columns[:3]) == ["run", "seed", "overrides.vta.lr"]
    assert set(df["overrides.vta.lr"]) == {0.01, 0.05}
    assert df.groupby("run", observed=True).seed.first().tolist() == [1, 2, 1, 2]
    one = valence.read_metrics(out / "run0000-seed1")
    mine = df[df.run == "run0000-seed1"][list(one.columns)].reset_index(drop=True)
    assert np.array_equal(mine.value.to_numpy(), one.value.to_numpy())
    assert (out / "merged.csv").is_file()
    # Half a sweep: shard 1 of 2 runs the odd runs only.
    out2 = tmp_path / "half"
    assert valence.sweep(sweep, out=out2, shard="1/2", progress=False)["runs"] == ["run0001-seed2", "run0003-seed2"]
    with pytest.raises(valence.ValenceError, match="did not finish"):
        valence.merge(sweep, out=out2)
    # With `allow_incomplete`, the runs with readings, marked (runs never started have none).
    half = valence.merge(sweep, out=out2, allow_incomplete=True)
    assert sorted(half.run.unique()) == ["run0001-seed2", "run0003-seed2"] and half.complete.all()


def test_regions_lists_every_kind_with_ports_and_defaults():
    kinds = {k["kind"]: k for k in valence.regions()}
    assert {"sensory_cortex", "reward_model", "basal_ganglia", "habit", "hippocampus"} <= set(kinds)
    cortex = kinds["sensory_cortex"]
    assert "latent" in [p["name"] for p in cortex["outputs"]]
    assert cortex["params"]["dim"] > 0
    assert cortex["detail"]


def test_a_divergence_is_an_exception_naming_where(tmp_path: Path):
    with pytest.raises(valence.DivergenceError) as caught:
        valence.run(small_scenario(tmp_path), out=tmp_path / "d", progress=False,
                    overrides={"overrides.cortex.lr": 1e30})
    e = caught.value
    assert (e.phase, e.region, e.agent) == ("childhood", "cortex", 0) and e.step > 0
    assert Path(e.dir) == tmp_path / "d"


def test_a_killed_python_run_resumes_to_the_uninterrupted_result(tmp_path: Path):
    import subprocess
    import sys
    import time

    scenario = small_scenario(tmp_path, childhood=1_000_000, checkpoint_every=100_000)
    cut = tmp_path / "killed"
    code = f"import valence; valence.run({str(scenario)!r}, out={str(cut)!r}, progress=False)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 120
        while not (cut / "checkpoint.bin").is_file() and child.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert child.poll() is None, "the run ended before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
    assert not (cut / "summary.json").exists()
    resumed = valence.resume(cut, progress=False)
    whole = valence.run(scenario, out=tmp_path / "whole", progress=False)
    assert (resumed.dir / "metrics.csv").read_bytes() == (whole.dir / "metrics.csv").read_bytes()


def test_ctrl_c_stops_a_whole_sweep_and_the_sweep_continues_later(tmp_path: Path):
    scenario = small_scenario(tmp_path, childhood=600, conditioning=100, population=2, checkpoint_every=300)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'schema = 1\nscenario = "{scenario}"\nseeds = [1, 2, 3]\n')
    out = tmp_path / "runs"

    def stop(phase, i, n, k, steps):
        raise KeyboardInterrupt

    with pytest.raises(valence.Interrupted):
        valence.sweep(sweep, out=out, progress=stop)
    assert sorted(p.name for p in out.iterdir()) == ["run0000-seed1"]  # the others never started
    report = valence.sweep(sweep, out=out, progress=False)
    assert report["failed"] == []
    df = valence.merge(sweep, out=out)
    assert sorted(df.run.unique()) == ["run0000-seed1", "run0001-seed2", "run0002-seed3"]
