"""valence: a brain-inspired cognitive-architecture simulator, from Python.

A sensory cortex learns a latent space of a token stream without reward; a dopaminergic reward
model values points of that space; basal ganglia, habits, a PFC controller and a hippocampus act
and remember. Because value generalises over latent geometry, valence bleeds between concepts
that merely co-occur. This package drives the same Rust core as the ``valence`` command:

>>> import valence
>>> r = valence.run("scenarios/mere_exposure.toml", overrides={"phases.0.steps": 2000})
>>> r.metrics.head()            # a pandas DataFrame: phase, step, agent, probe, key, value
>>> r.summary["probes"]["valence"]["b4"]["median"]
>>> r.plot()                    # the run's figures (inline in Jupyter)

Scenario runs
    :func:`run`, :func:`resume`, :func:`load_run` → :class:`Run`; :func:`validate`;
    :func:`sweep` and :func:`merge` (a grid of runs → one long DataFrame); :func:`regions`.
Step by step
    :class:`Brain`: build a brain from a model file, feed it your environment's observations,
    read any region's signals, clamp edges, freeze regions, read concepts' valence, save/load.
Errors
    :class:`ScenarioError` (``.file``, ``.line``, ``.column``, ``.kind``, ``.help``),
    :class:`DivergenceError`, :class:`ResumeError`, :class:`DeviceError` — all
    :class:`ValenceError` — and :class:`Interrupted` (a ``KeyboardInterrupt``: Ctrl-C stops a run
    cleanly; with ``checkpoint_every`` in the scenario it resumes from exactly that step).

Runs release the GIL while they compute; progress is shown with tqdm (a widget in Jupyter, a
bar in terminals) and checked for Ctrl-C every 256 steps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from . import _native
from ._native import (
    DeviceError,
    DivergenceError,
    Interrupted,
    ResumeError,
    ScenarioError,
    ValenceError,
)

__version__ = _native.__version__

__all__ = [
    "Brain",
    "DeviceError",
    "DivergenceError",
    "Interrupted",
    "ResumeError",
    "Run",
    "ScenarioError",
    "ValenceError",
    "load_run",
    "merge",
    "metrics_csv",
    "read_metrics",
    "regions",
    "resume",
    "run",
    "sweep",
    "validate",
]

PathLike = Union[str, "os.PathLike[str]"]
#: ``progress=``: True (a tqdm bar per phase), False (none), or a callable
#: ``f(phase, index, phases, k, steps)`` called every 256 steps and at each phase's end.
ProgressArg = Union[bool, Callable[[str, int, int, int, int], Any]]

METRIC_COLUMNS = ["phase", "step", "agent", "probe", "key", "value"]


def _progress(progress: ProgressArg) -> tuple[Optional[Callable[..., Any]], Callable[[], None]]:
    """A callback for the native run and a function that closes what it opened."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    from tqdm.auto import tqdm

    state: dict[str, Any] = {"bar": None, "phase": None}

    def update(phase: str, index: int, phases: int, k: int, steps: int) -> None:
        if state["phase"] != (index, phase):
            if state["bar"] is not None:
                state["bar"].close()
            state["bar"] = tqdm(total=steps, desc=f"{phase} ({index + 1}/{phases})", unit="step", leave=False)
            state["phase"] = (index, phase)
        bar = state["bar"]
        bar.update(k - bar.n)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()

    return update, close


def _frame(cols: tuple) -> pd.DataFrame:
    """A long-format metrics DataFrame from the native column buffers."""
    (phases, phase_codes), steps, agents, (probes, probe_codes), (keys, key_codes), values = cols

    def cat(names: list, codes: bytes) -> pd.Categorical:
        return pd.Categorical.from_codes(np.frombuffer(codes, dtype="<u4").astype(np.int32), categories=names)

    return pd.DataFrame(
        {
            "phase": cat(phases, phase_codes),
            "step": np.frombuffer(steps, dtype="<u8").astype(np.int64),
            "agent": np.frombuffer(agents, dtype="<u8").astype(np.int64),
            "probe": cat(probes, probe_codes),
            "key": cat(keys, key_codes),
            "value": np.frombuffer(values, dtype="<f4").astype(np.float64),
        }
    )


def read_metrics(path: PathLike) -> pd.DataFrame:
    """A ``metrics.csv`` (or a run directory's) as a long DataFrame.

    Columns: ``phase``, ``probe``, ``key`` (categorical), ``step``, ``agent`` (int64) and
    ``value`` (float64, holding the simulator's float32 readings exactly). Keys are read as
    text, never as numbers or missing values (a concept named ``"NA"`` stays ``"NA"``).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.csv"
    return _frame(_native.read_metrics(str(p)))


def metrics_csv(df: pd.DataFrame) -> str:
    """Readings as ``metrics.csv`` text: for a frame from :func:`read_metrics` (or
    ``Run.metrics``), byte-identical to the file it was read from."""
    missing = [c for c in METRIC_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"metrics_csv: columns {missing} missing; expected {METRIC_COLUMNS}")
    return _native.metrics_csv(
        df["phase"].astype(str).tolist(),
        df["step"].astype(np.uint64).tolist(),
        df["agent"].astype(np.uint64).tolist(),
        df["probe"].astype(str).tolist(),
        df["key"].astype(str).tolist(),
        df["value"].astype(np.float32).tolist(),
    )


class Run:
    """A run directory: what a finished (or interrupted) run left.

    Attributes are read lazily from the directory: :attr:`metrics` (``metrics.csv``),
    :attr:`summary` (``summary.json``), :attr:`scenario` (the resolved ``scenario.toml``).
    """

    def __init__(self, dir: PathLike):
        self.dir = Path(dir)
        if not (self.dir / "scenario.toml").is_file():
            raise FileNotFoundError(f"{self.dir}: not a run directory (no scenario.toml)")
        self._metrics: Optional[pd.DataFrame] = None

    def __repr__(self) -> str:
        state = "finished" if self.complete else "unfinished"
        return f"Run({str(self.dir)!r}, {state})"

    @property
    def complete(self) -> bool:
        """Whether the run finished (it wrote ``summary.json``)."""
        return (self.dir / "summary.json").is_file()

    @property
    def metrics(self) -> pd.DataFrame:
        """Every probe reading, long format (see :func:`read_metrics`)."""
        if self._metrics is None:
            self._metrics = read_metrics(self.dir / "metrics.csv")
        return self._metrics

    @property
    def summary(self) -> dict:
        """``summary.json``: per probe and key the last reading's median and 10/90th
        percentiles across agents, derived figures and measured effects."""
        path = self.dir / "summary.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run did not finish (resume it with valence.resume)")
        return json.loads(path.read_text())

    @property
    def scenario(self) -> str:
        """The fully resolved scenario the run ran (TOML)."""
        return (self.dir / "scenario.toml").read_text()

    def plot(self, show: Optional[bool] = None) -> list[Path]:
        """The run's figures (``plots/*.png``). In Jupyter (or with ``show=True``) they are
        also displayed inline. Returns their paths."""
        paths = sorted((self.dir / "plots").glob("*.png"))
        if show is None:
            show = _in_notebook()
        if show:
            from IPython.display import Image, display

            for p in paths:
                display(Image(filename=str(p)))
        return paths


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


def _scenario_args(scenario: Union[PathLike, Mapping[str, Any]]) -> tuple[str, Optional[str], bool]:
    if isinstance(scenario, Mapping):
        # Relative paths in it (``model = "models/x.toml"``) are taken from the working directory.
        return os.path.join(os.getcwd(), "<dict>"), json.dumps(dict(scenario)), True
    return os.fspath(scenario), None, False


def run(
    scenario: Union[PathLike, Mapping[str, Any]],
    *,
    seed: Optional[int] = None,
    out: Optional[PathLike] = None,
    device: str = "cpu",
    overrides: Optional[Mapping[str, Any]] = None,
    progress: ProgressArg = True,
    fork: Optional[PathLike] = None,
) -> Run:
    """Runs a scenario to the end and returns its :class:`Run`.

    Parameters
    ----------
    scenario
        A scenario file, or a dict of the same tables (relative paths in it are taken from the
        working directory).
    seed
        Replaces the scenario's seed (one seed → bit-identical results on the CPU).
    out
        The run directory (default ``runs/<scenario>-seed<S>-<time>``).
    device
        ``"cpu"``, or ``"wgpu"`` in a build with the ``wgpu`` feature.
    overrides
        Dotted paths into the scenario, as a sweep's ``[grid]`` keys:
        ``{"phases.0.steps": 1000, "overrides.vta.lr": 0.05, "population": 4}``.
    progress
        A tqdm bar per phase (``True``), none, or a callable ``f(phase, index, phases, k, steps)``.
    fork
        A run directory: start from its last checkpoint instead of from step 0 (``valence run
        --fork``). The scenario may change what comes after that checkpoint — later phases,
        worlds, learning rates, probes — and nothing before it; on the CPU the result is
        bit-identical to running the changed scenario from step 0 (with the same probes).

    Raises
    ------
    ScenarioError
        The scenario does not check (file, line, column, "did you mean").
    ResumeError
        ``fork``: the run has no checkpoint, or the scenario changes what came before it (the
        first differing key is named).
    DivergenceError
        A region's weights stopped being finite (the readings so far are kept).
    Interrupted
        Ctrl-C: the readings so far are in the run directory; with ``checkpoint_every`` the run
        is checkpointed at that step and :func:`resume` continues it bit-identically.
    """
    path, text, is_json = _scenario_args(scenario)
    callback, close = _progress(progress)
    try:
        d = _native.run(
            path,
            text,
            is_json,
            json.dumps(dict(overrides or {})),
            seed,
            None if out is None else os.fspath(out),
            device,
            callback,
            None if fork is None else os.fspath(fork),
        )
    finally:
        close()
    return Run(d)


def resume(dir: PathLike, *, device: str = "cpu", progress: ProgressArg = True) -> Run:
    """Continues an interrupted run from its last checkpoint; on the CPU the result is
    bit-identical to an uninterrupted run."""
    callback, close = _progress(progress)
    try:
        d = _native.resume(os.fspath(dir), device, callback)
    finally:
        close()
    return Run(d)


def load_run(dir: PathLike) -> Run:
    """A run directory written earlier (by Python or by ``valence run``)."""
    return Run(dir)


def validate(path: PathLike) -> str:
    """Checks a model, scenario or sweep file; returns its kind (``"model"``, ``"scenario"``,
    ``"sweep"``) or raises :class:`ScenarioError` at the file, line and column the command
    line's ``valence validate`` names."""
    return _native.validate(os.fspath(path))


def sweep(
    path: PathLike,
    *,
    out: PathLike = "runs/sweep",
    shard: Optional[str] = None,
    device: str = "cpu",
    progress: ProgressArg = True,
) -> dict:
    """Runs (one shard ``"I/N"`` of) a sweep: one run directory per grid point and seed under
    ``out``. Finished runs are skipped and interrupted ones resumed, so calling it again
    continues a sweep. Returns ``{"shard", "runs", "failed": [(run, error)], "busy"}``."""
    callback, close = _progress(progress)
    try:
        return _native.sweep(os.fspath(path), os.fspath(out), shard, device, callback)
    finally:
        close()


def merge(path: PathLike, *, out: PathLike = "runs/sweep", allow_incomplete: bool = False) -> pd.DataFrame:
    """A sweep's runs as one long DataFrame: ``run``, ``seed``, one column per grid path,
    (``complete`` with ``allow_incomplete``), then the metrics columns. Also writes
    ``out/merged.csv``, as ``valence merge`` does."""
    names, runs = _native.merge(os.fspath(path), os.fspath(out), allow_incomplete)
    frames = []
    for run_id, seed, params, complete, cols in runs:
        f = _frame(cols)
        f.insert(0, "run", run_id)
        f.insert(1, "seed", seed)
        values = json.loads(params)
        at = 2
        if allow_incomplete:
            f.insert(at, "complete", complete)
            at += 1
        for i, name in enumerate(names):
            v = values.get(name)
            f.insert(at + i, name, json.dumps(v) if isinstance(v, (list, dict)) else v)
        frames.append(f)
    if not frames:
        return pd.DataFrame(columns=["run", "seed", *names, *METRIC_COLUMNS])
    df = pd.concat(frames, ignore_index=True)
    for c in ("run", "phase", "probe", "key"):
        df[c] = df[c].astype("category")
    return df


def regions() -> list[dict]:
    """Every region kind: ``kind``, ``summary``, ``inputs`` and ``outputs`` (each port's name,
    signal kind, width — ``None`` where it takes its input's — required, doc), default
    ``params`` and ``detail`` (its equation sheet)."""
    return json.loads(_native.regions())


ArrayLike = Union[float, int, np.ndarray, Iterable[float]]


def _view(triple: tuple) -> np.ndarray:
    data, rows, cols = triple
    return np.frombuffer(data, dtype="<f4").reshape(rows, cols)


class Brain:
    """One brain for ``population`` agents, ticked by hand: bring your own environment.

    >>> brain = valence.Brain("models/actor_critic.toml", world={"kind": "bandit", "arms": [0.8, 0.2]},
    ...                       population=16, seed=1)
    >>> out = brain.step({"token": 0, "reward": np.zeros(16)})
    >>> out["world.action"].shape, out["vta.rpe"].shape
    ((16, 1), (16, 1))

    ``model`` is a model file (give ``world=``: a world table whose output ports are what
    :meth:`step` takes and whose words are the vocabulary) or a scenario file (its model and
    world; ``world=`` replaces the latter). The world itself is not stepped: you feed its ports.
    """

    def __init__(
        self,
        model: PathLike,
        *,
        world: Optional[Mapping[str, Any]] = None,
        population: int = 1,
        seed: int = 0,
        device: str = "cpu",
        _native_brain: Any = None,
    ):
        if _native_brain is not None:
            self._b = _native_brain
        else:
            if population < 1:
                raise ValueError("population must be at least 1")
            self._b = _native.NativeBrain(
                os.fspath(model), None if world is None else json.dumps(dict(world)), population, seed, device
            )
        self._ports = {name: (kind, width) for name, kind, width in self._b.world_ports()}
        self._words: Optional[dict[str, int]] = None

    def __repr__(self) -> str:
        return f"Brain(population={self.population}, regions={self.schedule}, steps={self.steps})"

    @property
    def population(self) -> int:
        """P, the agents."""
        return self._b.population

    @property
    def steps(self) -> int:
        """Ticks taken so far."""
        return self._b.steps

    @property
    def schedule(self) -> list[str]:
        """The regions, in the order each tick steps them."""
        return self._b.schedule()

    @property
    def edges(self) -> list[str]:
        """The model's edges, ``"region.port -> region.port"``."""
        return self._b.edges()

    @property
    def world_ports(self) -> dict[str, tuple[str, int]]:
        """What :meth:`step` takes: port → (signal kind, width)."""
        return dict(self._ports)

    @property
    def words(self) -> list[str]:
        """The vocabulary, in token-id order."""
        return self._b.words()

    def token(self, word: str) -> int:
        """A word's token id (what a ``token`` port carries)."""
        if self._words is None:
            self._words = {w: i for i, w in enumerate(self.words)}
        try:
            return self._words[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary ({len(self._words)} words)") from None

    def step(self, inputs: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
        """One tick. ``inputs`` maps the world's ports (:attr:`world_ports`) to arrays
        ``[P, width]``; a scalar or a ``[P]`` vector is broadcast; a port left out is zeros.
        Returns every region output and what the brain sends the world (``"world.action"``),
        each as a read-only float32 array ``[P, width]``."""
        p = self.population
        given = {}
        for name, value in inputs.items():
            if name not in self._ports:
                given[name] = (b"", 0, 0)  # the native side names the error, with a suggestion
                continue
            width = self._ports[name][1] or 1
            a = np.asarray(value, dtype=np.float32)
            if a.ndim == 0 or (a.ndim == 1 and a.shape[0] == p and width == 1):
                a = np.broadcast_to(a.reshape(-1, 1) if a.ndim == 1 else a, (p, width))
            elif a.ndim == 1 and a.shape[0] == width:
                a = np.broadcast_to(a, (p, width))
            if a.ndim != 2:
                raise ValueError(f"{name!r}: expected an array [P, width] = [{p}, {width}], got shape {a.shape}")
            a = np.ascontiguousarray(a, dtype="<f4")
            given[name] = (a.tobytes(), a.shape[0], a.shape[1])
        out = self._b.step(given)
        return {k: _view(v) for k, v in out.items()}

    def signal(self, name: str) -> np.ndarray:
        """The latest value of ``"region.port"`` (e.g. ``"vta.rpe"``), ``[P, width]``."""
        return _view(self._b.signal(name))

    def clamp(self, edge: str, value: Optional[float]) -> None:
        """Replaces what an edge (``"cortex.latent -> vta.latent"``) carries by a constant
        from the next tick on; ``None`` releases it."""
        self._b.clamp(edge, None if value is None else float(value))

    def freeze(self, region: str, frozen: bool = True) -> None:
        """Turns a region's learning off (or back on with ``frozen=False``)."""
        self._b.freeze(region, frozen)

    def valence(
        self, concepts: Iterable[str], *, cortex: Optional[str] = None, reward_model: Optional[str] = None
    ) -> pd.DataFrame:
        """V(e(c)): the reward model's value at each concept's cortical embedding, per agent —
        a DataFrame ``[P, concepts]`` (a concept is a word or words separated by spaces)."""
        concepts = list(concepts)
        a = _view(self._b.valence(concepts, cortex, reward_model))
        return pd.DataFrame(a, columns=concepts).rename_axis("agent")

    def save(self, path: PathLike) -> None:
        """Writes the whole brain (model, weights, clamps, frozen regions) to ``path``."""
        self._b.save(os.fspath(path))

    @classmethod
    def load(cls, path: PathLike, *, device: str = "cpu") -> "Brain":
        """A brain written by :meth:`save`; it continues bit-identically on the CPU."""
        return cls("", _native_brain=_native.NativeBrain.load(os.fspath(path), device))
