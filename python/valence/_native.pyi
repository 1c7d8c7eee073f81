"""Type stubs of ``valence._native``, the Rust core's bindings (PyO3). Use the package
``valence`` instead: it wraps these in DataFrames, NumPy arrays and progress bars."""

from typing import Any, Callable, Optional

__version__: str

# Readings as columns: (categories, u32 codes) for phase, probe and key; u64 steps and agents;
# f32 values; all little-endian bytes.
_Coded = tuple[list[str], bytes]
Columns = tuple[_Coded, bytes, bytes, _Coded, _Coded, bytes]
# A signal: f32 little-endian bytes, rows, columns.
Signal = tuple[bytes, int, int]
Progress = Optional[Callable[[str, int, int, int, int], Any]]

class ValenceError(Exception):
    """Any error of the simulator."""

class ScenarioError(ValenceError):
    """A problem at a place in a model, scenario or sweep file."""

    file: str
    line: int
    column: int
    kind: str
    message: str
    help: Optional[str]

class DivergenceError(ValenceError):
    """A region's learnable state stopped being finite."""

    phase: str
    step: int
    region: str
    agent: int
    dir: str

class ResumeError(ValenceError):
    """A run directory cannot be resumed."""

    path: str

class DeviceError(ValenceError):
    """The compute device is not available."""

class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (or by an exception in a progress callback)."""

    phase: str
    step: int
    dir: str
    resumable: bool

def run(
    path: str,
    text: Optional[str],
    json: bool,
    overrides: str,
    seed: Optional[int],
    out: Optional[str],
    device_name: str,
    progress: Progress,
    fork: Optional[str] = None,
) -> str: ...
def resume(dir: str, device_name: str, progress: Progress) -> str: ...
def validate(path: str) -> str: ...
def sweep(path: str, out: str, shard: Optional[str], device_name: str, progress: Progress) -> dict[str, Any]: ...
def merge(
    path: str, out: str, allow_incomplete: bool
) -> tuple[list[str], list[tuple[str, Optional[int], str, bool, Columns]]]: ...
def read_metrics(path: str) -> Columns: ...
def metrics_csv(
    phase: list[str], step: list[int], agent: list[int], probe: list[str], key: list[str], value: list[float]
) -> str: ...
def regions() -> str: ...

class NativeBrain:
    def __init__(self, path: str, world: Optional[str], population: int, seed: int, device_name: str) -> None: ...
    @property
    def population(self) -> int: ...
    @property
    def steps(self) -> int: ...
    def schedule(self) -> list[str]: ...
    def world_ports(self) -> list[tuple[str, str, int]]: ...
    def edges(self) -> list[str]: ...
    def words(self) -> list[str]: ...
    def scenario_toml(self) -> str: ...
    def step(self, inputs: dict[str, Signal]) -> dict[str, Signal]: ...
    def signal(self, name: str) -> Signal: ...
    def clamp(self, edge: str, value: Optional[float]) -> None: ...
    def freeze(self, region: str, frozen: bool) -> None: ...
    def valence(
        self, concepts: list[str], cortex: Optional[str] = None, reward_model: Optional[str] = None
    ) -> Signal: ...
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str, device_name: str = "cpu") -> "NativeBrain": ...
