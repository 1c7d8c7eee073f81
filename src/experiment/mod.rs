//! The run loop: build the world and the brain from a scenario, step through its phases, take
//! the probes on schedule, and write the run directory:
//!
//! - `scenario.toml`: the fully resolved scenario (model inlined, defaults written out);
//! - `metrics.csv`: long format `phase,step,agent,probe,key,value`;
//! - `summary.json`: each probe's last value per key, median and 10th/90th percentiles across
//!   agents, and under `derived` the figures each world makes of its own outputs
//!   (`WorldParams::derived`);
//! - `plots/<probe>.{svg,png}`: each probe's keys over steps, median and 10–90% band across
//!   agents; `plots/dose_<probe>.{svg,png}`: valence against co-occurrence counts (dose–response).
//!
//! A phase with `replay = "<hippocampus>"` feeds the brain that region's stored episodes
//! instead of stepping the world; the world's other outputs are zeros then, and probes of
//! `world.*` are not taken.
//!
//! Every file but `metrics.csv` is written to a temporary name and renamed into place, so a
//! killed run never leaves a half-written file; `metrics.csv` is appended to (and synced) at the
//! end of every phase and at every checkpoint, so what is on disk is the run's readings up to
//! then (a kill may cut the last line off; `--resume` cuts back to the checkpoint's length). With `checkpoint_every = N` in the scenario, `checkpoint.bin` holds the whole
//! state after every N-th step (see [`crate::checkpoint`]), and [`resume`] (`valence run
//! --resume RUN_DIR`) continues from it: on the CPU device the resumed run's `metrics.csv` is
//! byte-identical to an uninterrupted run's. [`fork`] (`valence run SCENARIO --fork RUN_DIR`)
//! starts a *changed* scenario from another run's checkpoint, when the change comes after it
//! (`fork.toml` in its directory says where it came from).

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use serde::{Deserialize, Serialize};

use crate::brain::{Brain, derive_seed};
use crate::checkpoint::Snapshot;
use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::scenario::{ProbeSpec, Scenario};
use std::sync::Arc;

use crate::effects::{EffectSpec, Measured};
use crate::plot::RunLayout;
use crate::worlds::{WorldSpec, build_vocabulary};

mod fork;
pub use fork::fork;

/// The readings of a run and their summary (moved to [`crate::metrics`]; this path stays).
pub use crate::metrics as recorder;
pub use crate::metrics::{Chart, Recorder, Row, Summary, SummaryEntry, read_csv, write_atomic};
pub use crate::probes::Probes;

/// How to run a scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The run directory; default `runs/<scenario>-seed<S>-<unix time>`.
    pub out: Option<PathBuf>,
    /// The compute device.
    pub device: DeviceChoice,
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
    /// Show a progress bar per phase.
    pub progress: bool,
    /// The most memory the run may plan to allocate, in bytes (default: `VALENCE_MAX_MEMORY`,
    /// else the machine's memory; see [`crate::resources`]).
    pub max_memory: Option<u64>,
    /// Told how the run goes (every 256 steps and at the end of each phase), and asked whether
    /// to go on: a front end's progress display and its Ctrl-C (the Python package's).
    pub observer: Option<Observer>,
}

/// Where a run stands, as an [`Observer`] is told.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The phase's name.
    pub phase: &'a str,
    /// Its index, and how many phases the scenario has.
    pub index: usize,
    /// The scenario's phases.
    pub phases: usize,
    /// Steps done in the phase.
    pub k: u64,
    /// The phase's steps.
    pub steps: u64,
}

/// A run's observer: called with the run's [`Progress`]; returning `false` stops the run
/// cleanly — the readings so far are flushed to `metrics.csv`, a checkpoint is written at that
/// step when the scenario sets `checkpoint_every` (so [`resume`] continues from exactly there),
/// and the run returns [`Error::Interrupted`].
#[derive(Clone)]
pub struct Observer(pub Arc<dyn Fn(Progress<'_>) -> bool + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer(..)")
    }
}

/// What a finished run leaves.
#[derive(Debug)]
pub struct RunOutput {
    /// The scenario's name.
    pub name: String,
    /// P, its agents.
    pub population: usize,
    /// The run directory.
    pub dir: PathBuf,
    /// Every probe reading.
    pub rows: Vec<Row>,
    /// The last reading of each probe and key across agents.
    pub summary: Summary,
    /// The scenario's `[[effects]]`, measured.
    pub effects: Vec<Measured>,
}

/// Where a checkpoint stands: the phase, the steps done in it, and the steps and readings so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPoint {
    /// The phase's index.
    pub phase: usize,
    /// Steps done in it.
    pub k: u64,
    /// Steps done in the run.
    pub step: u64,
    /// Readings recorded so far.
    pub rows: usize,
    /// `metrics.csv`'s length in bytes with those readings (absent in checkpoints written
    /// before appending: the readings are then counted, and the file rewritten).
    #[serde(default)]
    pub bytes: Option<u64>,
}

impl RunPoint {
    /// Where the checkpoint of a run directory stands.
    pub fn of(dir: &Path) -> Result<RunPoint> {
        Snapshot::read(&checkpoint_path(dir))?.get("run/point")
    }
}

/// The checkpoint file of a run directory.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("checkpoint.bin")
}

/// Runs a scenario to the end and writes its run directory.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Result<RunOutput> {
    let mut scenario = scenario.clone();
    if let Some(seed) = options.seed {
        scenario.seed = seed;
    }
    run_from(scenario, options, Start::Fresh)
}

/// Continues a run from its directory's last checkpoint (`checkpoint.bin`) to the end.
/// `scenario` is the scenario the run started with (as passed to [`run`], seed included); with
/// `None` it is read again from the file the run started from. Either way it must resolve to
/// the run's `scenario.toml`. On the CPU device the result is bit-identical to an
/// uninterrupted run.
pub fn resume(dir: &Path, scenario: Option<&Scenario>, options: &RunOptions) -> Result<RunOutput> {
    let path = checkpoint_path(dir);
    if !path.is_file() {
        // Why there is none: the scenario never asked for checkpoints, or the run stopped
        // before its first.
        let every = std::fs::read_to_string(dir.join("scenario.toml")).ok().map(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("checkpoint_every = ")?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        });
        let reason = match every {
            None => "no checkpoint to resume from, and no `scenario.toml`: not a run directory \
                           (or the run stopped before it started)"
                .to_string(),
            Some(0) => "no checkpoint to resume from: the run's scenario sets no \
                          `checkpoint_every`; set it to make runs resumable"
                .to_string(),
            Some(n) => format!(
                "no checkpoint to resume from: the run stopped before its first (every {n} \
                 steps); start it again"
            ),
        };
        return Err(Error::Resume { path, reason });
    }
    let snapshot = Snapshot::read(&path)?;
    let source: PathBuf = snapshot.get("run/source")?;
    let scenario = match scenario {
        Some(s) => s.clone(),
        None => {
            let mut s = crate::scenario::load_scenario(&source)?;
            s.seed = snapshot.get("run/seed")?;
            s
        }
    };
    let saved: String = snapshot.get("run/scenario")?;
    if scenario.to_toml() != saved {
        return Err(Error::Resume {
            reason: format!(
                "the scenario (or its model) changed since this run started; a resumed run \
                 would not continue the same experiment (the run's is {})",
                dir.join("scenario.toml").display()
            ),
            path: source,
        });
    }
    let options = RunOptions {
        out: Some(dir.to_path_buf()),
        ..options.clone()
    };
    run_from(scenario, &options, Start::Resume(snapshot))
}

/// A new directory at `base`, or at `base-2`, `base-3`, … when that exists: created, not
/// reused, so two runs started in the same second with the same name never share one.
fn claim_new_dir(base: &Path) -> Result<PathBuf> {
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    for n in 1u32.. {
        let dir = match n {
            1 => base.to_path_buf(),
            _ => PathBuf::from(format!("{}-{n}", base.display())),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
    unreachable!("the loop returns")
}

/// An exclusive claim on a run directory: the file `.lock` holding this process's id and host
/// name, made with `create_new` and removed when the run returns (or unwinds). A lock whose
/// process is gone (killed) is stale and taken over; so is one with this process's id that
/// this process does not hold (a reused id after a restart). A lock from another host (a
/// shared file system) is respected, as its process cannot be seen from here. On systems
/// without `/proc`, every lock from this host is taken as stale.
struct RunLock {
    path: PathBuf,
}

impl RunLock {
    fn acquire(dir: &Path) -> Result<RunLock> {
        let path = dir.join(".lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    use std::io::Write as _;
                    f.write_all(format!("{}\n{}\n", std::process::id(), host_name()).as_bytes())
                        .map_err(|e| Error::io(&path, e))?;
                    held_locks().push(path.clone());
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(pid) = run_dir_holder(dir) {
                        return Err(Error::Run(format!(
                            "run directory {} is in use by process {pid} (its `.lock`); wait for \
                             that run, or give another `--out` (if that process is gone, on \
                             another host, remove the `.lock`)",
                            dir.display(),
                        )));
                    }
                    // Stale: its process is gone.
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Run(format!(
            "run directory {}: its `.lock` could not be taken",
            dir.display()
        )))
    }
}

/// The process that holds a run directory (its `.lock`), if it is alive — a run is writing
/// it — or on another host, where it cannot be seen.
pub fn run_dir_holder(dir: &Path) -> Option<u32> {
    let path = dir.join(".lock");
    let holder = std::fs::read_to_string(&path).ok()?;
    let mut lines = holder.lines();
    let pid = lines.next()?.trim().parse::<u32>().ok()?;
    if lines.next().is_some_and(|h| h.trim() != host_name()) {
        return Some(pid);
    }
    if pid == std::process::id() {
        return held_locks().contains(&path).then_some(pid);
    }
    process_alive(pid).then_some(pid)
}

/// Whether a process of this host is running (`/proc/PID`; false where there is no `/proc`).
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// The locks this process holds.
fn held_locks() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static HELD: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// This machine's name (`/proc/sys/kernel/hostname`), or empty where it cannot be read.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl Drop for RunLock {
    fn drop(&mut self) {
        held_locks().retain(|p| *p != self.path);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes what a killed write left: hidden temporary files (`.NAME.PID-N.tmp`, written by
/// [`write_atomic`]) in the run directory and its `plots/`. Only the lock's holder calls it, so
/// no other run is writing them.
fn remove_stale_temporaries(dir: &Path) {
    for d in [dir.to_path_buf(), dir.join("plots")] {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // `.NAME.PID-N.tmp`, of a process that is gone (or of this one, from before).
            let pid = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".tmp"))
                .and_then(|n| n.rsplit_once('.'))
                .and_then(|(_, pid_call)| pid_call.split_once('-'))
                .filter(|(_, call)| call.parse::<u64>().is_ok())
                .and_then(|(pid, _)| pid.parse::<u32>().ok());
            let gone = pid.is_some_and(|pid| pid == std::process::id() || !process_alive(pid));
            if gone && entry.path().is_file() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// How a run starts: afresh, from its own directory's checkpoint, or from another run's.
enum Start {
    Fresh,
    Resume(Snapshot),
    Fork(Box<fork::Fork>),
}

fn run_from(scenario: Scenario, options: &RunOptions, start: Start) -> Result<RunOutput> {
    let resume: Option<&Snapshot> = match &start {
        Start::Fresh => None,
        Start::Resume(s) => Some(s),
        Start::Fork(f) => Some(&f.snapshot),
    };
    let forked = match &start {
        Start::Fork(f) => Some(f.as_ref()),
        _ => None,
    };
    let seed = scenario.seed;
    let p = scenario.population;
    let dir = match &options.out {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            d.clone()
        }
        None => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            claim_new_dir(&PathBuf::from("runs").join(format!("{}-seed{seed}-{t}", scenario.name)))?
        }
    };
    // The directory is this run's until it returns: a second run into it is refused.
    let _lock = RunLock::acquire(&dir)?;
    remove_stale_temporaries(&dir);
    // What an earlier run into the directory left must not pass for this run's: its summary
    // (which marks a finished run) until this one writes its own, and — for a fresh start — its
    // checkpoint.
    let fresh_dir = !matches!(start, Start::Resume(_));
    for (file, stale) in [("summary.json", true), ("checkpoint.bin", fresh_dir)] {
        let path = dir.join(file);
        if stale && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    let resolved = scenario.to_toml();
    write_atomic(&dir.join("scenario.toml"), resolved.as_bytes())?;

    let device = options.device.make(seed)?;
    let worlds: Vec<&WorldSpec> = scenario.phases.iter().map(|ph| &ph.world).collect();
    let vocabulary = Arc::new(build_vocabulary(&worlds)?);
    if let Some(fork) = forked
        && let Some(parent_worlds) = &fork.parent_worlds
    {
        // Other worlds may still build the same vocabulary (a lexicon adds no words): the
        // tables' rows must mean the same words.
        let theirs = build_vocabulary(&parent_worlds.iter().collect::<Vec<_>>())?;
        if theirs.words() != vocabulary.words() || theirs.counts() != vocabulary.counts() {
            return Err(Error::Resume {
                path: scenario.path.clone(),
                reason: format!(
                    "cannot fork: the fork's worlds build another vocabulary than its parent's \
                     ({} words, the parent's {}): the parent's tables would not mean the same \
                     words",
                    vocabulary.len(),
                    theirs.len()
                ),
            });
        }
    }
    // What the brain will allocate, now that the vocabulary is known (an open corpus's too).
    let limit = crate::resources::memory_limit(options.max_memory).map_err(Error::Run)?;
    let model = (&scenario.model, &scenario.phases[..], &scenario.probes[..]);
    crate::scenario::check_memory(model, p, vocabulary.len(), limit)
        .map_err(|e| Error::Run(format!("scenario `{}`: {e}", scenario.name)))?;
    let mut probes = Probes::new(&scenario.probes, vocabulary.clone())?;
    // Wired afresh from the model as it is now: a scenario changed in code after loading (a
    // region's parameters, its ports) gets an error here, not a mismatch at the first tick.
    let plan = crate::brain::plan(&scenario.model, (scenario.world.kind(), scenario.world.ports())).map_err(
        |e| {
            Error::Run(format!(
                "scenario `{}`: the model does not wire: {}",
                scenario.name, e.message
            ))
        },
    )?;
    let mut brain = Brain::new(&scenario.model, plan, p, seed, &device, &vocabulary)?;

    let observes = probes.observes();
    let at: Option<RunPoint> = resume.map(|s| s.get("run/point")).transpose()?;
    if let (Some(fork), Some(at)) = (forked, at) {
        // Where the fork came from (its readings before `step` are the parent's).
        let phase = scenario.phases.get(at.phase).map_or("", |p| p.name.as_str());
        let mut table = toml::Table::new();
        table.insert("parent".into(), fork.parent.display().to_string().into());
        table.insert("step".into(), toml::Value::Integer(at.step as i64));
        table.insert("phase".into(), phase.into());
        table.insert("steps_into_phase".into(), toml::Value::Integer(at.k as i64));
        // Probes the parent had otherwise (or not at all): their readings up to `step` are
        // the parent's probes', not theirs.
        let changed: Vec<toml::Value> = scenario
            .probes
            .iter()
            .zip(&fork.kept_probes)
            .filter(|(_, kept)| !**kept)
            .map(|(p, _)| p.name.clone().into())
            .collect();
        table.insert("changed_probes".into(), toml::Value::Array(changed));
        let text = format!(
            "# This run is a fork: it started from the checkpoint of `parent` (valence run --fork)\n{}",
            toml::to_string(&table).expect("a table serialises")
        );
        write_atomic(&dir.join("fork.toml"), text.as_bytes())?;
    }
    let mut recorder = match at {
        Some(at) => {
            // The readings the checkpoint saw: this directory's, or the parent's for a fork
            // (copied into this one).
            let path = match forked {
                Some(f) => f.parent.join("metrics.csv"),
                None => dir.join("metrics.csv"),
            };
            let ours = dir.join("metrics.csv");
            let wrong = |found: String| {
                Error::Run(format!(
                    "{}: {found}, not the {} readings the checkpoint saw; the run directory \
                     was changed after the checkpoint was written",
                    path.display(),
                    at.rows
                ))
            };
            match at.bytes {
                Some(bytes) => {
                    // Readings appended after the checkpoint (perhaps a line cut off by a kill)
                    // are cut back: the run goes on from the checkpoint's prefix, once that
                    // prefix is checked to hold the checkpoint's readings.
                    let text = crate::metrics::read_text(&path)?;
                    let len = text.len() as u64;
                    let Some(prefix) = usize::try_from(bytes).ok().and_then(|b| text.get(..b)) else {
                        return Err(wrong(format!(
                            "{len} bytes of readings where the checkpoint wrote {bytes}"
                        )));
                    };
                    let rows = crate::metrics::parse_csv(prefix, &path)?;
                    if rows.len() != at.rows {
                        return Err(wrong(format!("{} readings", rows.len())));
                    }
                    if forked.is_some() {
                        write_atomic(&ours, prefix.as_bytes())?;
                    } else if len > bytes {
                        let f = std::fs::OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(|e| Error::io(&path, e))?;
                        f.set_len(bytes)
                            .and_then(|_| f.sync_all())
                            .map_err(|e| Error::io(&path, e))?;
                    }
                    Recorder::resume(&dir, rows, bytes)
                }
                None => {
                    let mut rows = read_csv(&path)?;
                    if rows.len() < at.rows {
                        return Err(wrong(format!("{} readings", rows.len())));
                    }
                    rows.truncate(at.rows);
                    let text = crate::metrics::to_csv(&rows);
                    write_atomic(&ours, text.as_bytes())?;
                    Recorder::resume(&dir, rows, text.len() as u64)
                }
            }
        }
        None => Recorder::new(&dir),
    };
    let output_check_every: u64 = match options.device {
        DeviceChoice::Cpu => 1,
        _ => 32,
    };
    let every = scenario.checkpoint_every;
    if every > 0 && resume.is_none() {
        // Refuse now, not at the first checkpoint, if some region cannot be saved.
        brain.save(&mut Snapshot::default())?;
    }
    let source = std::path::absolute(&scenario.path).map_err(|e| Error::io(&scenario.path, e))?;
    // Each region's parameters as they stand; phases may change them and the next phase
    // restores the model's unless it changes them again.
    let mut current: Vec<(String, crate::regions::RegionSpec)> = scenario.model.regions.clone();
    let mut step: u64 = at.map_or(0, |at| at.step);
    for (index, phase) in scenario.phases.iter().enumerate() {
        if at.is_some_and(|at| index < at.phase) {
            continue;
        }
        let mut world = phase.world.build(vocabulary.clone(), p)?;
        let agent_seeds: Vec<u64> = (0..p)
            .map(|a| derive_seed(seed, &[0, index as u64, a as u64]))
            .collect();
        world.reset(&agent_seeds);
        for ((name, model_spec), (_, now)) in scenario.model.regions.iter().zip(current.iter_mut()) {
            brain.set_learning(name, !phase.freeze.contains(name))?;
            let wanted = phase
                .regions
                .iter()
                .find(|(n, _)| n == name)
                .map_or(model_spec, |(_, s)| s);
            if wanted != now {
                brain.configure(name, wanted)?;
                *now = wanted.clone();
            }
        }
        let clamps: Vec<(usize, f32)> = phase
            .interventions
            .iter()
            .map(|iv| (iv.index, iv.value))
            .collect();
        brain.set_clamps(&clamps)?;
        if let Some(r) = &phase.replay {
            brain.set_learning(r, false)?;
        }
        let write_checkpoint = |recorder: &mut Recorder,
                                brain: &Brain,
                                world: &dyn crate::worlds::World,
                                probes: &Probes,
                                (k, step): (u64, u64)|
         -> Result<()> {
            recorder.flush()?;
            let mut snapshot = Snapshot::default();
            snapshot.put("run/source", &source);
            snapshot.put("run/seed", &seed);
            snapshot.put("run/scenario", &resolved);
            let point = RunPoint {
                phase: index,
                k,
                step,
                rows: recorder.rows().len(),
                bytes: Some(recorder.bytes()),
            };
            snapshot.put("run/point", &point);
            let mut part = Snapshot::default();
            brain.save(&mut part)?;
            snapshot.nest("brain", part);
            let mut part = Snapshot::default();
            world
                .save(&mut part)
                .map_err(|e| e.in_world(phase.world.kind()))?;
            snapshot.nest("world", part);
            let mut part = Snapshot::default();
            probes.save(&mut part);
            snapshot.nest("probes", part);
            snapshot.write(&checkpoint_path(&dir))
        };
        let mut first = 1;
        if let (Some(at), Some(snapshot)) = (at, resume)
            && at.phase == index
        {
            brain.restore(&snapshot.scope("brain"))?;
            world
                .restore(&snapshot.scope("world"))
                .map_err(|e| e.in_world(phase.world.kind()))?;
            match forked {
                Some(f) => probes.restore_kept(&snapshot.scope("probes"), &f.kept_probes)?,
                None => probes.restore(&snapshot.scope("probes"))?,
            }
            first = at.k + 1;
            if forked.is_some() && every > 0 {
                // The fork's own first checkpoint: it resumes (and forks) from here on.
                write_checkpoint(&mut recorder, &brain, world.as_ref(), &probes, (at.k, step))?;
            }
        }
        let world_ports = phase.world.ports().outputs;
        let bar = progress_bar(options.progress, &phase.name, phase.steps);
        bar.set_position(first - 1);
        for k in first..=phase.steps {
            let observation = match &phase.replay {
                Some(r) => brain.replay(r, &world_ports)?,
                None => world
                    .step()
                    .map_err(|e| e.in_world(phase.world.kind()).at(&phase.name, step))?,
            };
            brain.tick(observation).map_err(|e| e.at(&phase.name, step))?;
            if phase.replay.is_none() {
                world
                    .act(&brain.world_inputs())
                    .map_err(|e| e.in_world(phase.world.kind()).at(&phase.name, step))?;
            }
            if observes {
                probes.observe(&brain)?;
            }
            step += 1;
            let last = k == phase.steps;
            let due: Vec<(usize, &ProbeSpec)> = scenario
                .probes
                .iter()
                .enumerate()
                .filter(|(_, pr)| last || k % pr.every == 0)
                .filter(|(_, pr)| phase.replay.is_none() || !pr.reads_world())
                .collect();
            // The regions' outputs (a few values each) every tick on the CPU, every 32nd on a
            // GPU (each check reads them back); when probes are due, and at the end of a
            // phase, all their learnable state.
            let outputs_due = output_check_every == 1 || step.is_multiple_of(output_check_every);
            let diverged = match (due.is_empty() && !last, outputs_due) {
                (true, true) => brain.divergent_output(),
                (true, false) => None,
                (false, _) => brain.divergent_output().or_else(|| brain.first_divergent()),
            };
            if let Some((region, agent)) = diverged {
                recorder.flush()?;
                return Err(Error::Diverged {
                    phase: phase.name.clone(),
                    step,
                    region: region.to_string(),
                    agent,
                    dir: dir.clone(),
                });
            }
            if !due.is_empty() {
                for (i, probe) in due {
                    probes.take(i, &brain, &probe.name, &phase.name, step, &mut recorder)?;
                }
            }
            if every > 0 && step.is_multiple_of(every) {
                write_checkpoint(&mut recorder, &brain, world.as_ref(), &probes, (k, step))?;
            }
            if k % 256 == 0 || last {
                bar.set_position(k);
                let progress = Progress {
                    phase: &phase.name,
                    index,
                    phases: scenario.phases.len(),
                    k,
                    steps: phase.steps,
                };
                if let Some(observer) = &options.observer
                    && !(observer.0)(progress)
                {
                    bar.abandon();
                    let checkpoint = every > 0;
                    match checkpoint {
                        true => write_checkpoint(&mut recorder, &brain, world.as_ref(), &probes, (k, step))?,
                        false => recorder.flush()?,
                    }
                    return Err(Error::Interrupted {
                        phase: phase.name.clone(),
                        step,
                        dir: dir.clone(),
                        checkpoint,
                    });
                }
            }
        }
        bar.finish_and_clear();
        recorder.flush()?;
    }
    let worlds = distinct_worlds(scenario.phases.iter().map(|ph| &ph.world));
    let charts: Vec<Chart> = worlds.iter().flat_map(|w| w.figures(recorder.rows())).collect();
    crate::plot::plot_run(&dir, recorder.rows(), &charts, &layout(&scenario))?;
    let summary = summary_with_derived(recorder.rows(), &worlds);
    let effects = measure_effects(&scenario.effects, recorder.rows());
    let json = summary_json(&summary, &scenario, &effects);
    write_atomic(&dir.join("summary.json"), json.as_bytes())?;
    Ok(RunOutput {
        name: scenario.name.clone(),
        population: p,
        dir,
        rows: recorder.into_rows(),
        summary,
        effects,
    })
}

/// Each world once, in order of first appearance.
fn distinct_worlds<'a>(worlds: impl Iterator<Item = &'a WorldSpec>) -> Vec<&'a WorldSpec> {
    let mut out: Vec<&WorldSpec> = Vec::new();
    for w in worlds {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// The last reading of each probe and key across agents, and, as the pseudo-probe `derived`,
/// the figures each world makes of its own outputs ([`WorldSpec::derived`]).
pub fn summary_with_derived(rows: &[Row], worlds: &[&WorldSpec]) -> Summary {
    let mut summary = crate::metrics::summarise(rows);
    let mut derived = std::collections::BTreeMap::new();
    for w in worlds {
        for (key, entry) in w.derived(rows) {
            derived.entry(key).or_insert(entry);
        }
    }
    if !derived.is_empty() {
        summary.insert("derived".into(), derived);
    }
    summary
}

/// The worlds of a finished run, read back from its `scenario.toml` (each phase's, in order):
/// what `valence plot` needs to redraw the worlds' own figures.
pub fn run_worlds(dir: &Path) -> Result<Vec<WorldSpec>> {
    Ok(read_run_file(dir)?.worlds())
}

/// Redraws a run's figures from its readings (`valence plot`), reading its `scenario.toml`
/// once for the worlds' own figures and the layout; without a readable one, the probes'
/// figures only, with the phases the readings show (said once on stderr).
pub fn replot(dir: &Path, rows: &[Row]) -> Result<Vec<PathBuf>> {
    let (charts, layout) = match read_run_file(dir) {
        Ok(file) => {
            let layout = file.layout();
            let charts = file.worlds().iter().flat_map(|w| w.figures(rows)).collect();
            (charts, layout)
        }
        Err(e) => {
            eprintln!(
                "valence: warning: {e}; drawing the probes' figures only, with the phases \
                 metrics.csv shows"
            );
            (Vec::new(), RunLayout::from_rows(rows))
        }
    };
    crate::plot::plot_run(dir, rows, &charts, &layout)
}

/// What a run directory's `scenario.toml` says of its phases and probes, read without the
/// rest (a probe's `every` may be u64::MAX, beyond what a `toml::Value` holds; a probe's own
/// fields and the model are skipped unparsed).
#[derive(Deserialize)]
struct RunFile {
    phases: Vec<RunPhase>,
    #[serde(default)]
    probes: Vec<RunProbe>,
}

#[derive(Deserialize)]
struct RunPhase {
    name: String,
    #[serde(default)]
    steps: u64,
    world: WorldSpec,
}

#[derive(Deserialize)]
struct RunProbe {
    name: String,
    title: Option<String>,
    #[serde(default)]
    plot_phases: Vec<String>,
}

impl RunFile {
    /// Each phase's world, once.
    fn worlds(self) -> Vec<WorldSpec> {
        let mut worlds = Vec::new();
        for phase in self.phases {
            if !worlds.contains(&phase.world) {
                worlds.push(phase.world);
            }
        }
        worlds
    }

    /// The figures' layout.
    fn layout(&self) -> RunLayout {
        RunLayout::new(
            self.phases.iter().map(|p| (p.name.as_str(), p.steps)),
            self.probes
                .iter()
                .map(|p| (p.name.clone(), p.title.clone(), p.plot_phases.clone())),
        )
    }
}

fn read_run_file(dir: &Path) -> Result<RunFile> {
    let path = dir.join("scenario.toml");
    let text = crate::error::SourceFile::read(&path)?.text;
    toml::from_str(&text).map_err(|e| Error::Run(format!("{}: {}", path.display(), e.message().trim())))
}

/// How a scenario's figures are laid out: its phases on every step axis, its probes' titles
/// and the phases each shows.
pub fn layout(scenario: &Scenario) -> RunLayout {
    RunLayout::new(
        scenario.phases.iter().map(|p| (p.name.as_str(), p.steps)),
        scenario
            .probes
            .iter()
            .map(|p| (p.name.clone(), p.title.clone(), p.plot_phases.clone())),
    )
}

/// [`run_layout`], or — where the run's `scenario.toml` cannot be read — the phases its
/// readings show ([`RunLayout::from_rows`]) with the probes' names as titles, said on stderr.
pub fn run_layout_or_rows(dir: &Path, rows: &[Row]) -> RunLayout {
    run_layout(dir).unwrap_or_else(|e| {
        eprintln!("valence: warning: {e}; phases as metrics.csv shows them, probes' names as titles");
        RunLayout::from_rows(rows)
    })
}

/// [`layout`] read back from a run directory's `scenario.toml` (for `valence plot` and
/// `valence compare`).
pub fn run_layout(dir: &Path) -> Result<RunLayout> {
    Ok(read_run_file(dir)?.layout())
}

fn progress_bar(show: bool, phase: &str, steps: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:40}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(phase.to_string());
    bar
}

/// `summary.json`'s shape.
#[derive(Serialize)]
struct SummaryFile<'a> {
    scenario: &'a str,
    seed: u64,
    population: usize,
    probes: &'a Summary,
    #[serde(skip_serializing_if = "<[Measured]>::is_empty")]
    effects: &'a [Measured],
}

/// A run's `summary.json`: the scenario's identity, each probe's last readings and, where the
/// scenario claims any, its effects measured.
pub fn summary_json(summary: &Summary, scenario: &Scenario, effects: &[Measured]) -> String {
    let file = SummaryFile {
        scenario: &scenario.name,
        seed: scenario.seed,
        population: scenario.population,
        probes: summary,
        effects,
    };
    serde_json::to_string_pretty(&file).expect("summaries serialise") + "\n"
}

/// The scenario's effects in a run's readings; one that cannot be measured (a side without
/// readings) is said on stderr and left out.
pub fn measure_effects(effects: &[EffectSpec], rows: &[Row]) -> Vec<Measured> {
    effects
        .iter()
        .filter_map(|e| match e.measure(rows) {
            Ok(m) => Some(m),
            Err(err) => {
                eprintln!("valence: warning: effect `{}`: {err}", e.name);
                None
            }
        })
        .collect()
}

/// Loads a scenario file and runs it.
pub fn run_file(path: impl AsRef<Path>, options: &RunOptions) -> Result<RunOutput> {
    run(&crate::scenario::load_scenario(path)?, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_run_directory_is_new_even_within_one_second() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("runs/s-seed1-100");
        let first = claim_new_dir(&base).unwrap();
        let second = claim_new_dir(&base).unwrap();
        assert_eq!(first, base);
        assert_eq!(second, root.path().join("runs/s-seed1-100-2"));
        assert!(first.is_dir() && second.is_dir());
    }

    /// A live process's lock refuses a second run; the lock of a process that is gone is taken
    /// over; the lock goes when its run ends.
    #[test]
    fn a_run_directory_has_one_owner() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        std::fs::write(dir.path().join(".lock"), other.id().to_string()).unwrap();
        let e = RunLock::acquire(dir.path()).err().unwrap();
        assert!(
            e.to_string()
                .contains(&format!("in use by process {}", other.id())),
            "{e}"
        );
        other.kill().unwrap();
        other.wait().unwrap();
        {
            let _lock = RunLock::acquire(dir.path()).unwrap();
            let holder = std::fs::read_to_string(dir.path().join(".lock")).unwrap();
            assert_eq!(
                holder.lines().next(),
                Some(std::process::id().to_string().as_str())
            );
            assert!(RunLock::acquire(dir.path()).is_err(), "this process holds it");
        }
        assert!(!dir.path().join(".lock").exists());
        // A lock with this process's id that this process does not hold is stale (an id
        // reused after a restart); one from another host is respected.
        std::fs::write(
            dir.path().join(".lock"),
            format!("{}\n{}\n", std::process::id(), host_name()),
        )
        .unwrap();
        assert_eq!(run_dir_holder(dir.path()), None);
        drop(RunLock::acquire(dir.path()).unwrap());
        std::fs::write(dir.path().join(".lock"), "4242\nanother-host\n").unwrap();
        assert_eq!(run_dir_holder(dir.path()), Some(4242));
        assert!(RunLock::acquire(dir.path()).is_err());
    }

    #[test]
    fn a_run_s_worlds_read_back_whatever_else_its_scenario_holds() {
        let dir = tempfile::tempdir().unwrap();
        // As a run writes it: probes without `every` carry u64::MAX.
        let text = "name = \"s\"\n[[phases]]\nname = \"a\"\n[phases.world]\nkind = \"bandit\"\narms = [0.2, 0.8]\n\
                    [[phases]]\nname = \"b\"\n[phases.world]\nkind = \"bandit\"\narms = [0.2, 0.8]\n\
                    [[probes]]\nname = \"v\"\nevery = 18446744073709551615\nkind = \"signal\"\n";
        std::fs::write(dir.path().join("scenario.toml"), text).unwrap();
        let worlds = run_worlds(dir.path()).unwrap();
        assert_eq!(worlds.len(), 1, "the same world twice is read once");
        assert_eq!(worlds[0].kind(), "bandit");
        // The figures' layout from the same file: phases on the step axis, the probe's look.
        let with_steps = text
            .replace("name = \"a\"\n", "name = \"a\"\nsteps = 100\n")
            .replace("name = \"b\"\n", "name = \"b\"\nsteps = 50\n")
            .replace(
                "kind = \"signal\"\n",
                "kind = \"signal\"\ntitle = \"t?\"\nplot_phases = [\"b\"]\n",
            );
        std::fs::write(dir.path().join("scenario.toml"), with_steps).unwrap();
        let layout = run_layout(dir.path()).unwrap();
        assert_eq!(layout.phases, crate::plot::phase_spans([("a", 100), ("b", 50)]));
        let look = &layout.probes["v"];
        assert_eq!(
            (look.title.as_deref(), &look.phases[..]),
            (Some("t?"), &["b".to_string()][..])
        );
        std::fs::write(dir.path().join("scenario.toml"), "name = \"s\"\n").unwrap();
        assert!(run_worlds(dir.path()).is_err());
    }
}
