//! `valence._native`: the Rust core's Python bindings (PyO3). The package users import is
//! `valence` (`python/valence/__init__.py`), which builds DataFrames, progress bars and NumPy
//! arrays on top of what this module returns:
//!
//! - runs (`run`, `resume`, `sweep`, `merge`, `validate`, `regions`) take paths and JSON
//!   strings and return run directories, dicts and column buffers; they release the GIL while
//!   the simulator runs and call back into Python every 256 steps to report progress and to
//!   let Ctrl-C stop the run cleanly ([`valence::experiment::Observer`]);
//! - `Brain` is one brain ticked by hand; signals cross as little-endian `f32` bytes with their
//!   shape (`numpy.frombuffer` views them without a further copy);
//! - errors are Python exceptions with structure: `ScenarioError` (file, line, column, kind,
//!   help), `DivergenceError`, `ResumeError`, `DeviceError`, `Interrupted` (a
//!   `KeyboardInterrupt`), all `ValenceError`s but the last.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ndarray::Array2;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use valence::checkpoint::Snapshot;
use valence::error::{Error, SourceFile};
use valence::experiment::{Observer, Progress, RunOptions};
use valence::metrics::Row;
use valence::signal::Signal;
use valence::vocabulary::Vocabulary;
use valence::worlds::build_vocabulary;
use valence::{Brain, DeviceChoice, Scenario};

pyo3::create_exception!(_native, ValenceError, PyException, "Any error of the simulator.");
pyo3::create_exception!(
    _native,
    ScenarioError,
    ValenceError,
    "A problem at a place in a model, scenario or sweep file: `.file`, `.line`, `.column` \
     (1-based), `.kind` (e.g. `unknown-field`), `.message` and `.help` (\"did you mean …\")."
);
pyo3::create_exception!(
    _native,
    DivergenceError,
    ValenceError,
    "A region's learnable state stopped being finite: `.phase`, `.step`, `.region`, `.agent`, \
     `.dir` (the readings so far are there)."
);
pyo3::create_exception!(
    _native,
    ResumeError,
    ValenceError,
    "A run directory cannot be resumed (no checkpoint, or the scenario changed): `.path`."
);
pyo3::create_exception!(
    _native,
    DeviceError,
    ValenceError,
    "The compute device is not available in this build or on this machine."
);
pyo3::create_exception!(
    _native,
    Interrupted,
    PyKeyboardInterrupt,
    "A run stopped by Ctrl-C (or by an exception in a progress callback): `.phase`, `.step`, \
     `.dir`, `.resumable` (a checkpoint was written at `.step`; `valence.resume(dir)` goes on)."
);

/// A simulator error as the Python exception of its kind, with its fields as attributes.
fn to_py(py: Python<'_>, e: &Error) -> PyErr {
    let message = e.to_string();
    match e.root() {
        Error::Located(l) => {
            let err = ScenarioError::new_err(message);
            let v = err.value(py);
            let _ = v.setattr("file", l.location.file.display().to_string());
            let _ = v.setattr("line", l.location.line);
            let _ = v.setattr("column", l.location.column);
            let _ = v.setattr("kind", l.kind.name());
            let _ = v.setattr("message", l.message.clone());
            let _ = v.setattr("help", l.help.clone());
            err
        }
        Error::Diverged {
            phase,
            step,
            region,
            agent,
            dir,
        } => {
            let err = DivergenceError::new_err(message);
            let v = err.value(py);
            let _ = v.setattr("phase", phase.clone());
            let _ = v.setattr("step", *step);
            let _ = v.setattr("region", region.clone());
            let _ = v.setattr("agent", *agent);
            let _ = v.setattr("dir", dir.display().to_string());
            err
        }
        Error::Interrupted {
            phase,
            step,
            dir,
            checkpoint,
        } => {
            let err = Interrupted::new_err(message);
            let v = err.value(py);
            let _ = v.setattr("phase", phase.clone());
            let _ = v.setattr("step", *step);
            let _ = v.setattr("dir", dir.display().to_string());
            let _ = v.setattr("resumable", *checkpoint);
            err
        }
        Error::Resume { path, .. } => {
            let err = ResumeError::new_err(message);
            let _ = err.value(py).setattr("path", path.display().to_string());
            err
        }
        Error::Device(_) => DeviceError::new_err(message),
        Error::Io { path, cause } => pyo3::exceptions::PyOSError::new_err((
            cause.raw_os_error().unwrap_or(0),
            message,
            path.display().to_string(),
        )),
        _ => ValenceError::new_err(message),
    }
}

fn device(name: &str) -> PyResult<DeviceChoice> {
    name.parse::<DeviceChoice>()
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// `{"a.b": value}` (JSON) as dotted-path overrides.
fn overrides_from_json(json: &str) -> PyResult<Vec<(String, toml::Value)>> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("overrides: {e}")))?;
    map.into_iter()
        .map(|(k, v)| {
            let v = toml::Value::try_from(&v).map_err(|e| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "override `{k}`: {e} (TOML has no null: leave the key out instead)"
                ))
            })?;
            Ok((k, v))
        })
        .collect()
}

/// A scenario from a file (or from `text`, TOML or a JSON table, as if read from `path`),
/// with overrides.
fn scenario(path: &str, text: Option<String>, json: bool, overrides: &str) -> Result<Scenario, Error> {
    let source = match text {
        Some(t) if json => {
            let v: serde_json::Value =
                serde_json::from_str(&t).map_err(|e| Error::Run(format!("scenario: {e}")))?;
            let table = toml::Value::try_from(&v).map_err(|e| {
                Error::Run(format!(
                    "scenario: {e} (TOML has no null: leave the key out instead)"
                ))
            })?;
            SourceFile::new(
                path,
                toml::to_string(&table).map_err(|e| Error::Run(format!("scenario: {e}")))?,
            )
        }
        Some(t) => SourceFile::new(path, t),
        None => SourceFile::read(path)?,
    };
    let overrides = overrides_from_json(overrides).map_err(|e| Error::Run(e.to_string()))?;
    valence::sweep::scenario_with(source, &overrides)
}

/// An observer that reports progress to `callback` (if any) and checks for Ctrl-C, keeping
/// the first Python exception either raised (the run then stops cleanly).
fn observer(callback: Option<Py<PyAny>>, raised: Arc<Mutex<Option<PyErr>>>) -> Observer {
    Observer(Arc::new(move |p: Progress<'_>| {
        Python::attach(|py| {
            if raised.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                return false;
            }
            let outcome = py.check_signals().and_then(|()| match &callback {
                Some(cb) => cb
                    .call1(py, (p.phase, p.index, p.phases, p.k, p.steps))
                    .map(|_| ()),
                None => Ok(()),
            });
            match outcome {
                Ok(()) => true,
                Err(e) => {
                    raised.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                    false
                }
            }
        })
    }))
}

/// Runs `f` without the GIL under an observer; an interruption re-raises what the callback (or
/// Ctrl-C) raised when it was not a KeyboardInterrupt, else `Interrupted` with the run's point.
fn observed<T: Send>(
    py: Python<'_>,
    progress: Option<Py<PyAny>>,
    f: impl FnOnce(Observer) -> Result<T, Error> + Send,
) -> PyResult<T> {
    let raised = Arc::new(Mutex::new(None::<PyErr>));
    let obs = observer(progress, raised.clone());
    let out = py.detach(move || f(obs));
    match out {
        Ok(v) => Ok(v),
        Err(e) => {
            let taken = raised.lock().unwrap_or_else(|e| e.into_inner()).take();
            match (taken, &e) {
                (Some(cause), Error::Interrupted { .. })
                    if !cause.is_instance_of::<PyKeyboardInterrupt>(py) =>
                {
                    Err(cause)
                }
                _ => Err(to_py(py, &e)),
            }
        }
    }
}

/// run(path, text, json, overrides_json, seed, out, device, progress, fork) -> str
///
/// Runs a scenario (the file at `path`, or `text` as if read from there; a JSON table when
/// `json`) with dotted-path overrides, from step 0 or (`fork`) from another run's checkpoint;
/// returns the run directory.
#[pyfunction]
#[pyo3(signature = (path, text, json, overrides, seed, out, device_name, progress, fork=None))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    path: String,
    text: Option<String>,
    json: bool,
    overrides: String,
    seed: Option<u64>,
    out: Option<String>,
    device_name: String,
    progress: Option<Py<PyAny>>,
    fork: Option<String>,
) -> PyResult<String> {
    let device = device(&device_name)?;
    let s = scenario(&path, text, json, &overrides).map_err(|e| to_py(py, &e))?;
    let out = observed(py, progress, move |obs| {
        let options = RunOptions {
            out: out.map(PathBuf::from),
            device,
            seed,
            progress: false,
            observer: Some(obs),
            ..Default::default()
        };
        match &fork {
            Some(parent) => valence::experiment::fork(Path::new(parent), &s, &options),
            None => valence::experiment::run(&s, &options),
        }
    })?;
    Ok(out.dir.display().to_string())
}

/// resume(dir, device, progress) -> str: continues a run from its checkpoint.
#[pyfunction]
fn resume(py: Python<'_>, dir: String, device_name: String, progress: Option<Py<PyAny>>) -> PyResult<String> {
    let device = device(&device_name)?;
    let out = observed(py, progress, move |obs| {
        let options = RunOptions {
            device,
            progress: false,
            observer: Some(obs),
            ..Default::default()
        };
        valence::experiment::resume(Path::new(&dir), None, &options)
    })?;
    Ok(out.dir.display().to_string())
}

/// validate(path) -> str: "model", "scenario" or "sweep"; raises ScenarioError.
#[pyfunction]
fn validate(py: Python<'_>, path: String) -> PyResult<&'static str> {
    use valence::scenario::FileKind;
    let p = Path::new(&path);
    let checked = match SourceFile::read(p).and_then(|s| valence::scenario::file_kind(&s)) {
        Ok(FileKind::Sweep) => valence::sweep::check_sweep(p).map(|_| FileKind::Sweep),
        _ => valence::scenario::validate(p),
    };
    match checked {
        Ok(FileKind::Model) => Ok("model"),
        Ok(FileKind::Scenario) => Ok("scenario"),
        Ok(FileKind::Sweep) => Ok("sweep"),
        Err(e) => Err(to_py(py, &e)),
    }
}

/// sweep(path, out, shard, device, progress) -> dict: runs one shard of a sweep.
#[pyfunction]
fn sweep<'py>(
    py: Python<'py>,
    path: String,
    out: String,
    shard: Option<String>,
    device_name: String,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let device = device(&device_name)?;
    let (index, count) = valence::sweep::shard_from(shard.as_deref()).map_err(|e| to_py(py, &e))?;
    let report = observed(py, progress, move |obs| {
        let options = RunOptions {
            device,
            progress: false,
            observer: Some(obs),
            ..Default::default()
        };
        valence::sweep::run_sweep(Path::new(&path), Path::new(&out), index, count, &options)
    })?;
    // A run stopped by Ctrl-C is recorded as failed by the sweep, which goes on: stop here.
    for (_, e) in &report.failed {
        if matches!(e.root(), Error::Interrupted { .. }) {
            return Err(to_py(py, e));
        }
    }
    let d = PyDict::new(py);
    d.set_item("shard", (index, count))?;
    d.set_item(
        "runs",
        report.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "failed",
        report
            .failed
            .iter()
            .map(|(r, e)| (r.id.clone(), e.to_string()))
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "busy",
        report
            .busy
            .iter()
            .map(|(r, pid)| (r.id.clone(), *pid))
            .collect::<Vec<_>>(),
    )?;
    Ok(d)
}

/// Readings as columns: categories and `u32` codes for phase, probe and key; `u64` steps and
/// agents; `f32` values (all little-endian bytes).
type Columns<'py> = (
    (Vec<String>, Bound<'py, PyBytes>),
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    (Vec<String>, Bound<'py, PyBytes>),
    (Vec<String>, Bound<'py, PyBytes>),
    Bound<'py, PyBytes>,
);

fn coded<'a, 'py>(
    py: Python<'py>,
    values: impl Iterator<Item = &'a str>,
) -> (Vec<String>, Bound<'py, PyBytes>) {
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<&'a str, u32> = HashMap::new();
    let mut codes: Vec<u8> = Vec::new();
    for v in values {
        let code = *index.entry(v).or_insert_with(|| {
            names.push(v.to_string());
            names.len() as u32 - 1
        });
        codes.extend_from_slice(&code.to_le_bytes());
    }
    (names, PyBytes::new(py, &codes))
}

fn columns<'py>(py: Python<'py>, rows: &[Row]) -> Columns<'py> {
    let bytes = |f: &dyn Fn(&Row) -> [u8; 8]| -> Bound<'py, PyBytes> {
        PyBytes::new(py, &rows.iter().flat_map(f).collect::<Vec<u8>>())
    };
    let values: Vec<u8> = rows.iter().flat_map(|r| r.value.to_le_bytes()).collect();
    (
        coded(py, rows.iter().map(|r| r.phase.as_str())),
        bytes(&|r| r.step.to_le_bytes()),
        bytes(&|r| (r.agent as u64).to_le_bytes()),
        coded(py, rows.iter().map(|r| r.probe.as_str())),
        coded(py, rows.iter().map(|r| r.key.as_str())),
        PyBytes::new(py, &values),
    )
}

/// read_metrics(path) -> columns of a `metrics.csv`.
#[pyfunction]
fn read_metrics(py: Python<'_>, path: String) -> PyResult<Columns<'_>> {
    let rows = valence::metrics::read_csv(Path::new(&path)).map_err(|e| to_py(py, &e))?;
    Ok(columns(py, &rows))
}

/// metrics_csv(phase, step, agent, probe, key, value) -> str: readings as `metrics.csv`
/// writes them (the same bytes for the same readings).
#[pyfunction]
fn metrics_csv(
    phase: Vec<String>,
    step: Vec<u64>,
    agent: Vec<u64>,
    probe: Vec<String>,
    key: Vec<String>,
    value: Vec<f32>,
) -> PyResult<String> {
    let n = phase.len();
    if [step.len(), agent.len(), probe.len(), key.len(), value.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "columns of different lengths",
        ));
    }
    let rows: Vec<Row> = (0..n)
        .map(|i| Row {
            phase: phase[i].clone(),
            step: step[i],
            agent: agent[i] as usize,
            probe: probe[i].clone(),
            key: key[i].clone(),
            value: value[i],
        })
        .collect();
    Ok(valence::metrics::to_csv(&rows))
}

/// merge(path, out, allow_incomplete) -> (grid columns, [(run, seed, params json, complete,
/// columns)]); also writes `out/merged.csv` as `valence merge` does.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn merge(
    py: Python<'_>,
    path: String,
    out: String,
    allow_incomplete: bool,
) -> PyResult<(Vec<String>, Vec<(String, Option<u64>, String, bool, Columns<'_>)>)> {
    let (names, runs) = valence::sweep::merge(Path::new(&path), Path::new(&out), allow_incomplete)
        .map_err(|e| to_py(py, &e))?;
    valence::sweep::write_merged(Path::new(&out), &names, &runs, allow_incomplete)
        .map_err(|e| to_py(py, &e))?;
    let runs = runs
        .iter()
        .map(|r| {
            let params: serde_json::Map<String, serde_json::Value> = r
                .run
                .params
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect();
            (
                r.run.id.clone(),
                r.run.seed,
                serde_json::Value::Object(params).to_string(),
                r.complete,
                columns(py, &r.rows),
            )
        })
        .collect();
    Ok((names, runs))
}

/// regions() -> str: JSON list of region kinds with their ports and default parameters.
#[pyfunction]
fn regions() -> String {
    let kinds: Vec<serde_json::Value> = valence::regions::registry()
        .into_iter()
        .map(|kind| {
            let spec = kind.defaults();
            let ports = spec.ports();
            let port = |p: &valence::ports::PortSpec| {
                serde_json::json!({
                    "name": p.name,
                    "kind": p.kind.name(),
                    "width": match p.width {
                        valence::ports::Width::Fixed(n) => serde_json::json!(n),
                        valence::ports::Width::Inferred => serde_json::Value::Null,
                    },
                    "required": p.required,
                    "doc": p.doc,
                })
            };
            serde_json::json!({
                "kind": kind.name,
                "summary": kind.summary,
                "inputs": ports.inputs.iter().map(port).collect::<Vec<_>>(),
                "outputs": ports.outputs.iter().map(port).collect::<Vec<_>>(),
                "params": serde_json::to_value(spec.params()).unwrap_or_default(),
                "detail": valence::regions::RegionSpec::detail(kind.name),
            })
        })
        .collect();
    serde_json::Value::Array(kinds).to_string()
}

/// A signal as (f32 bytes, rows, columns).
fn signal_bytes<'py>(py: Python<'py>, s: &Signal) -> (Bound<'py, PyBytes>, usize, usize) {
    let host = s.host();
    let (r, c) = host.dim();
    let data: Vec<u8> = host.iter().flat_map(|v| v.to_le_bytes()).collect();
    (PyBytes::new(py, &data), r, c)
}

/// One brain for P agents, ticked by hand (`valence.Brain` wraps it).
#[pyclass(unsendable, module = "valence._native")]
struct NativeBrain {
    brain: Brain,
    scenario: Scenario,
    /// The scenario's text, as parsed (what `save` stores).
    text: String,
    vocabulary: Arc<Vocabulary>,
    seed: u64,
    clamps: HashMap<usize, f32>,
    steps: u64,
}

/// The scenario a brain is built from: the file `path` (a model, or a scenario whose model and
/// world are used), with `world` (JSON table) as its world when given.
/// Returns it with the text it was parsed from (which names the model by its path).
fn brain_scenario(
    path: &str,
    world: Option<&str>,
    population: usize,
    seed: u64,
) -> Result<(Scenario, String), Error> {
    let source = SourceFile::read(path)?;
    let kind = valence::scenario::file_kind(&source)?;
    let world_value = match world {
        Some(w) => Some(
            toml::Value::try_from(
                serde_json::from_str::<serde_json::Value>(w)
                    .map_err(|e| Error::Run(format!("world: {e}")))?,
            )
            .map_err(|e| Error::Run(format!("world: {e}")))?,
        ),
        None => None,
    };
    let mut table = match kind {
        valence::scenario::FileKind::Scenario => {
            let t: toml::Table = toml::from_str(&source.text).map_err(|e| source.toml_error(&e))?;
            t
        }
        valence::scenario::FileKind::Model => {
            let abs = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
            let mut t = toml::Table::new();
            t.insert("schema".into(), toml::Value::Integer(valence::scenario::SCHEMA));
            t.insert("name".into(), toml::Value::String("python_brain".into()));
            t.insert("model".into(), toml::Value::String(abs.display().to_string()));
            t
        }
        valence::scenario::FileKind::Sweep => {
            return Err(Error::Run(format!(
                "{path}: a sweep file; give a model or a scenario"
            )));
        }
    };
    match world_value {
        Some(w) => {
            table.insert("world".into(), w);
        }
        None if !table.contains_key("world") => {
            return Err(Error::Run(format!(
                "{path} is a model: give `world=` (e.g. {{\"kind\": \"bandit\", \"arms\": [0.8, 0.2]}}) — \
                 its ports are what `step` takes, its words the vocabulary"
            )));
        }
        None => {}
    }
    table.insert("population".into(), toml::Value::Integer(population as i64));
    table.insert("seed".into(), toml::Value::Integer(seed as i64));
    // One phase of the world as given (the scenario's own phases may change it later).
    let mut phase = toml::Table::new();
    phase.insert("name".into(), toml::Value::String("python".into()));
    phase.insert("steps".into(), toml::Value::Integer(1));
    table.insert(
        "phases".into(),
        toml::Value::Array(vec![toml::Value::Table(phase)]),
    );
    table.remove("probes");
    table.remove("effects");
    table.remove("interventions");
    table.remove("checkpoint_every");
    let text = toml::to_string(&table).map_err(|e| Error::Run(e.to_string()))?;
    Ok((
        valence::scenario::parse_scenario(SourceFile::new(path, text.clone()))?,
        text,
    ))
}

impl NativeBrain {
    fn build(
        scenario: Scenario,
        text: String,
        seed: u64,
        device: DeviceChoice,
    ) -> Result<NativeBrain, Error> {
        let vocabulary = Arc::new(build_vocabulary(&[&scenario.world])?);
        let plan = valence::brain::plan(&scenario.model, (scenario.world.kind(), scenario.world.ports()))
            .map_err(|e| Error::Run(format!("the model does not wire: {}", e.message)))?;
        let dev = device.make(seed)?;
        let brain = Brain::new(
            &scenario.model,
            plan,
            scenario.population,
            seed,
            &dev,
            &vocabulary,
        )?;
        Ok(NativeBrain {
            brain,
            scenario,
            text,
            vocabulary,
            seed,
            clamps: HashMap::new(),
            steps: 0,
        })
    }

    /// A region's output ports, from the plan.
    fn outputs_of(&self, region: &str) -> Vec<&'static str> {
        let graph = &self.brain.plan().graph;
        graph
            .node_indices()
            .find(|&n| graph[n].name == region)
            .map(|n| graph[n].ports.outputs.iter().map(|p| p.name).collect())
            .unwrap_or_default()
    }

    /// A region by name, or a KeyError naming the nearest one.
    fn region(&self, name: &str) -> PyResult<&dyn valence::Region> {
        self.brain.region(name).ok_or_else(|| {
            let names = self.brain.schedule();
            let hint = valence::error::did_you_mean(name, names.iter().copied())
                .unwrap_or_else(|| format!("regions: {}", names.join(", ")));
            pyo3::exceptions::PyKeyError::new_err(format!("no region `{name}`; {hint}"))
        })
    }

    fn split(name: &str) -> PyResult<(&str, &str)> {
        name.split_once('.').ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!("`{name}`: expected `region.port`"))
        })
    }
}

#[pymethods]
impl NativeBrain {
    #[new]
    fn new(
        py: Python<'_>,
        path: String,
        world: Option<String>,
        population: usize,
        seed: u64,
        device_name: String,
    ) -> PyResult<Self> {
        let device = device(&device_name)?;
        let (scenario, text) =
            brain_scenario(&path, world.as_deref(), population, seed).map_err(|e| to_py(py, &e))?;
        NativeBrain::build(scenario, text, seed, device).map_err(|e| to_py(py, &e))
    }

    /// The regions in tick order.
    fn schedule(&self) -> Vec<String> {
        self.brain.schedule().into_iter().map(String::from).collect()
    }

    /// P.
    #[getter]
    fn population(&self) -> usize {
        self.brain.population()
    }

    /// Ticks taken.
    #[getter]
    fn steps(&self) -> u64 {
        self.steps
    }

    /// The world's output ports: [(name, kind, width)], what `step` takes.
    fn world_ports(&self) -> Vec<(String, String, usize)> {
        self.scenario
            .world
            .ports()
            .outputs
            .iter()
            .map(|p| {
                let w = match p.width {
                    valence::ports::Width::Fixed(n) => n,
                    valence::ports::Width::Inferred => 0,
                };
                (p.name.to_string(), p.kind.name().to_string(), w)
            })
            .collect()
    }

    /// The model's edges as `from -> to`, in file order.
    fn edges(&self) -> Vec<String> {
        self.scenario
            .model
            .edges
            .iter()
            .map(|e| format!("{} -> {}", e.from, e.to))
            .collect()
    }

    /// The vocabulary, in id order.
    fn words(&self) -> Vec<String> {
        (0..self.vocabulary.len() as u32)
            .map(|i| self.vocabulary.word(i).unwrap_or_default().to_string())
            .collect()
    }

    /// The resolved scenario the brain was built from (TOML).
    fn scenario_toml(&self) -> String {
        self.scenario.to_toml()
    }

    /// One tick: `inputs` maps world ports to (f32 bytes, rows, columns); ports not given are
    /// zeros. Returns every region's outputs and what the brain sends the world, by
    /// `region.port`.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        inputs: HashMap<String, (Vec<u8>, usize, usize)>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let p = self.brain.population();
        let ports = self.scenario.world.ports().outputs;
        let names: Vec<&str> = ports.iter().map(|q| q.name).collect();
        for k in inputs.keys() {
            if !names.contains(&k.as_str()) {
                let hint = valence::error::did_you_mean(k, names.iter().copied())
                    .unwrap_or_else(|| format!("the world's ports: {}", names.join(", ")));
                return Err(pyo3::exceptions::PyKeyError::new_err(format!(
                    "`{k}` is not an output of the world `{}`; {hint}",
                    self.scenario.world.kind()
                )));
            }
        }
        let mut world: valence::ports::Outputs = Vec::new();
        for port in &ports {
            let width = match port.width {
                valence::ports::Width::Fixed(n) => n,
                valence::ports::Width::Inferred => 1,
            };
            let array = match inputs.get(port.name) {
                Some((bytes, r, c)) => {
                    if (*r, *c) != (p, width) || bytes.len() != r * c * 4 {
                        return Err(pyo3::exceptions::PyValueError::new_err(format!(
                            "`{}`: expected shape [{p}, {width}] (population, width), got [{r}, {c}]",
                            port.name
                        )));
                    }
                    let data: Vec<f32> = bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    if port.kind == valence::SignalKind::Token
                        && let Some(bad) = data.iter().find(|&&t| {
                            !(t >= 0.0 && t.fract() == 0.0 && (t as usize) < self.vocabulary.len())
                        })
                    {
                        return Err(pyo3::exceptions::PyValueError::new_err(format!(
                            "`{}`: token id {bad} is not in the vocabulary (0 … {})",
                            port.name,
                            self.vocabulary.len() - 1
                        )));
                    }
                    Array2::from_shape_vec((p, width), data).expect("checked length")
                }
                None => Array2::zeros((p, width)),
            };
            world.push((port.name, Signal::Host(array)));
        }
        let brain = &mut self.brain;
        py.detach(|| brain.tick(world)).map_err(|e| to_py(py, &e))?;
        self.steps += 1;
        let out = PyDict::new(py);
        for region in self.brain.schedule() {
            for port in self.outputs_of(region) {
                if let Some(s) = self.brain.signal(region, port) {
                    out.set_item(format!("{region}.{port}"), signal_bytes(py, s))?;
                }
            }
        }
        let sent = self.brain.world_inputs();
        for name in sent.names() {
            if let Some(s) = sent.get(name) {
                out.set_item(format!("world.{name}"), signal_bytes(py, s))?;
            }
        }
        Ok(out)
    }

    /// The latest value of `region.port`.
    fn signal<'py>(&self, py: Python<'py>, name: &str) -> PyResult<(Bound<'py, PyBytes>, usize, usize)> {
        let (region, port) = NativeBrain::split(name)?;
        self.region(region)?;
        match self.brain.signal(region, port) {
            Some(s) => Ok(signal_bytes(py, s)),
            None => {
                let ports = self.outputs_of(region);
                let known = ports.contains(&port);
                Err(pyo3::exceptions::PyKeyError::new_err(match known {
                    true => format!("`{name}` has no value yet: step the brain first"),
                    false => format!(
                        "`{region}` has no output `{port}`; {}",
                        valence::error::did_you_mean(port, ports.iter().copied())
                            .unwrap_or_else(|| format!("its outputs: {}", ports.join(", ")))
                    ),
                }))
            }
        }
    }

    /// Replaces what an edge carries by a constant (`None` releases it).
    fn clamp(&mut self, py: Python<'_>, edge: String, value: Option<f32>) -> PyResult<()> {
        let source = SourceFile::new("<clamp>", edge.clone());
        let spanned = toml::Spanned::new(0..edge.len(), edge.clone());
        let index = valence::probes::find_edge(&source, &spanned, &self.scenario.model).map_err(|e| {
            let message = match &e {
                Error::Located(l) => match &l.help {
                    Some(h) => format!("{}; {h}", l.message),
                    None => l.message.clone(),
                },
                other => other.to_string(),
            };
            pyo3::exceptions::PyKeyError::new_err(message)
        })?;
        match value {
            Some(v) => self.clamps.insert(index, v),
            None => self.clamps.remove(&index),
        };
        let mut clamps: Vec<(usize, f32)> = self.clamps.iter().map(|(&i, &v)| (i, v)).collect();
        clamps.sort_by_key(|c| c.0);
        self.brain.set_clamps(&clamps).map_err(|e| to_py(py, &e))
    }

    /// Turns a region's learning off (`frozen=True`) or back on.
    fn freeze(&mut self, py: Python<'_>, region: &str, frozen: bool) -> PyResult<()> {
        self.region(region)?;
        self.brain
            .set_learning(region, !frozen)
            .map_err(|e| to_py(py, &e))
    }

    /// V(e(c)) per agent for each concept (a word, or words separated by spaces): the reward
    /// model's value at the cortex's readout, as the `valence` probe reads it. `[P, n]`.
    #[pyo3(signature = (concepts, cortex=None, reward_model=None))]
    fn valence<'py>(
        &self,
        py: Python<'py>,
        concepts: Vec<String>,
        cortex: Option<String>,
        reward_model: Option<String>,
    ) -> PyResult<(Bound<'py, PyBytes>, usize, usize)> {
        let first = |kinds: &[&str]| {
            self.scenario
                .model
                .regions
                .iter()
                .find(|(_, s)| kinds.contains(&s.kind()))
                .map(|(n, _)| n.clone())
        };
        let cortex = cortex
            .or_else(|| first(&["sensory_cortex", "world_model"]))
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("the model has no cortex"))?;
        let reward_model = reward_model
            .or_else(|| first(&["reward_model"]))
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("the model has no reward_model"))?;
        let (c, vta) = (self.region(&cortex)?, self.region(&reward_model)?);
        let mut phrases: Vec<Vec<u32>> = Vec::new();
        for c in &concepts {
            let mut ids = Vec::new();
            for w in c.split_whitespace() {
                let id = self.vocabulary.id(w).ok_or_else(|| {
                    pyo3::exceptions::PyKeyError::new_err(format!("`{w}` is not in the vocabulary"))
                })?;
                ids.push(id);
            }
            if ids.is_empty() {
                return Err(pyo3::exceptions::PyValueError::new_err("an empty concept"));
            }
            phrases.push(ids);
        }
        let slices: Vec<&[u32]> = phrases.iter().map(Vec::as_slice).collect();
        let latents = c.concept_latents(&slices).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(format!("region `{cortex}` has no latent space"))
        })?;
        let p = self.brain.population();
        let mut out = Array2::<f32>::zeros((p, concepts.len()));
        for (j, z) in latents.iter().enumerate() {
            let v = vta.value_at(z).ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "region `{reward_model}` values no latent of this width"
                ))
            })?;
            out.column_mut(j).assign(&v);
        }
        Ok(signal_bytes(py, &Signal::Host(out)))
    }

    /// Writes the brain (its scenario, every region's state, clamps, frozen regions) to `path`
    /// atomically.
    fn save(&self, py: Python<'_>, path: String) -> PyResult<()> {
        let mut snapshot = Snapshot::default();
        snapshot.put("python/text", &self.text);
        snapshot.put("python/scenario", &self.scenario.to_toml());
        snapshot.put("python/source", &self.scenario.path);
        snapshot.put("python/seed", &self.seed);
        snapshot.put("python/steps", &self.steps);
        let clamps: Vec<(usize, f32)> = self.clamps.iter().map(|(&i, &v)| (i, v)).collect();
        snapshot.put("python/clamps", &clamps);
        let frozen: Vec<String> = self
            .brain
            .schedule()
            .into_iter()
            .filter(|r| !self.brain.is_learning(r))
            .map(String::from)
            .collect();
        snapshot.put("python/frozen", &frozen);
        let mut part = Snapshot::default();
        self.brain.save(&mut part).map_err(|e| to_py(py, &e))?;
        snapshot.nest("brain", part);
        snapshot.write(Path::new(&path)).map_err(|e| to_py(py, &e))
    }

    /// A brain saved by `save`.
    #[staticmethod]
    #[pyo3(signature = (path, device_name="cpu".to_string()))]
    fn load(py: Python<'_>, path: String, device_name: String) -> PyResult<Self> {
        let device = device(&device_name)?;
        let load = || -> Result<NativeBrain, Error> {
            let snapshot = Snapshot::read(Path::new(&path))?;
            let text: String = snapshot.get("python/text")?;
            let resolved: String = snapshot.get("python/scenario")?;
            let source: PathBuf = snapshot.get("python/source")?;
            let seed: u64 = snapshot.get("python/seed")?;
            let scenario = valence::scenario::parse_scenario(SourceFile::new(source, text.clone()))?;
            if scenario.to_toml() != resolved {
                return Err(Error::Run(format!(
                    "{path}: the model (or world) this brain was built from changed since it was \
                     saved; its weights would not fit. The brain's scenario was:\n{resolved}"
                )));
            }
            let mut b = NativeBrain::build(scenario, text, seed, device)?;
            b.brain.restore(&snapshot.scope("brain"))?;
            b.steps = snapshot.get("python/steps")?;
            let clamps: Vec<(usize, f32)> = snapshot.get("python/clamps")?;
            b.clamps = clamps.iter().copied().collect();
            b.brain.set_clamps(&clamps)?;
            let frozen: Vec<String> = snapshot.get("python/frozen")?;
            for r in frozen {
                b.brain.set_learning(&r, false)?;
            }
            Ok(b)
        };
        load().map_err(|e| to_py(py, &e))
    }
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(resume, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(read_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(metrics_csv, m)?)?;
    m.add_function(wrap_pyfunction!(regions, m)?)?;
    m.add_class::<NativeBrain>()?;
    m.add("ValenceError", py.get_type::<ValenceError>())?;
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add("DivergenceError", py.get_type::<DivergenceError>())?;
    m.add("ResumeError", py.get_type::<ResumeError>())?;
    m.add("DeviceError", py.get_type::<DeviceError>())?;
    m.add("Interrupted", py.get_type::<Interrupted>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
