"""Shared fixtures: the repository, the command-line binary, small scenarios written per test."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def small_scenario(tmp: Path, *, childhood: int = 1200, conditioning: int = 400, population: int = 4,
                   checkpoint_every: int = 0, name: str = "small.toml") -> Path:
    """`mere_exposure` shortened (model path made absolute), written under `tmp`."""
    text = (ROOT / "scenarios" / "mere_exposure.toml").read_text()
    text = text.replace('model = "../models/', f'model = "{ROOT}/models/')
    text = re.sub(r"(?m)^population = \d+", f"population = {population}", text)
    text = text.replace("steps = 30000", f"steps = {childhood}").replace("steps = 4000", f"steps = {conditioning}")
    text = re.sub(r"(?m)^every = (\d+)", lambda m: f"every = {min(int(m.group(1)), 200)}", text)
    if checkpoint_every:
        text = text.replace("population =", f"checkpoint_every = {checkpoint_every}\npopulation =", 1)
    path = tmp / name
    path.write_text(text)
    return path


@pytest.fixture
def cli() -> str:
    """The `valence` binary the CLI comparisons run (`VALENCE_BIN`, else target/debug/valence)."""
    path = os.environ.get("VALENCE_BIN") or str(ROOT / "target" / "debug" / "valence")
    if not Path(path).is_file():
        pytest.fail(f"no valence binary at {path}: build it with `cargo build` or set VALENCE_BIN")
    return path


def run_cli(cli: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli, *args], capture_output=True, text=True, cwd=ROOT)
