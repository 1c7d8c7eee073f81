//! Forks: a new run that starts from another run's checkpoint (`valence run SCENARIO --fork
//! RUN_DIR`) — the same childhood, a different conditioning.
//!
//! A checkpoint holds the whole state after some step of phase i. A scenario that agrees with
//! the parent run on everything that decided that state — schema, seed, population, the model,
//! phases 0…i, and the vocabulary every phase's world builds — would have reached the very same
//! state, so it may start there and run its own later phases: other worlds, other norms, other
//! learning rates, other probes. On the CPU device a fork's `metrics.csv` is byte-identical to
//! the changed scenario's uninterrupted run's, as long as its probes are the parent's; the
//! readings before the fork are the parent's (copied), and a probe the parent did not have
//! (or had with other settings) starts at the fork with nothing accumulated.
//!
//! Anything else is refused, naming the first key that differs.

use std::path::{Path, PathBuf};

use super::{RunOptions, RunOutput, RunPoint, Start, checkpoint_path, run_from};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::worlds::WorldSpec;

/// A fork's starting point, as [`run_from`] takes it.
pub(super) struct Fork {
    /// The parent's checkpoint.
    pub snapshot: Snapshot,
    /// The parent's run directory.
    pub parent: PathBuf,
    /// The parent's worlds (every phase's), when they differ from the fork's: the two
    /// vocabularies must then be compared.
    pub parent_worlds: Option<Vec<WorldSpec>>,
    /// Per probe of the fork: whether the parent had it with the same settings (its state is
    /// restored).
    pub kept_probes: Vec<bool>,
}

/// Starts a new run of `scenario` from the last checkpoint of the run in `parent`, which must
/// agree with it on everything before that checkpoint (see the module's documentation). The
/// fork writes its own run directory (`options.out`, default `runs/<name>-seed<S>-<time>`):
/// the parent's readings up to the checkpoint, then its own, `fork.toml` (where it came from,
/// and which probes changed), and — with `checkpoint_every` — its own first checkpoint at the
/// fork's step, so that it resumes and forks like any run. The parent is only read.
pub fn fork(parent: &Path, scenario: &Scenario, options: &RunOptions) -> Result<RunOutput> {
    let mut scenario = scenario.clone();
    if let Some(seed) = options.seed {
        scenario.seed = seed;
    }
    let refuse = |path: PathBuf, reason: String| Error::Resume {
        path,
        reason: format!("cannot fork: {reason}"),
    };
    let path = checkpoint_path(parent);
    if !path.is_file() {
        return Err(refuse(
            path,
            "no checkpoint here (a fork starts from a run's `checkpoint.bin`: the parent's \
             scenario needs `checkpoint_every`)"
                .into(),
        ));
    }
    if let Some(out) = &options.out
        && same_dir(out, parent)
    {
        return Err(refuse(
            out.clone(),
            "the fork's directory is its parent's; give another `--out`".into(),
        ));
    }
    let snapshot = Snapshot::read(&path)?;
    let at: RunPoint = snapshot.get("run/point")?;
    let theirs: String = snapshot.get("run/scenario")?;
    let theirs = resolved_table(&theirs).map_err(|e| {
        refuse(
            path.clone(),
            format!("the checkpoint's scenario does not parse: {e}"),
        )
    })?;
    let ours = resolved_table(&scenario.to_toml()).expect("a resolved scenario parses back");
    let phase_name = scenario
        .phases
        .get(at.phase)
        .map_or_else(String::new, |p| p.name.clone());
    if let Some(reason) = mismatch(&theirs, &ours, at) {
        return Err(refuse(
            scenario.path.clone(),
            format!(
                "{reason}; a fork must agree with its parent ({}) on everything before the \
                 checkpoint (step {}, phase `{phase_name}`)",
                parent.join("scenario.toml").display(),
                at.step
            ),
        ));
    }
    let worlds = |t: &toml::Table| -> Vec<toml::Value> {
        array(t, "phases")
            .iter()
            .map(|p| p.get("world").cloned().unwrap_or(toml::Value::Boolean(false)))
            .collect()
    };
    let their_worlds = worlds(&theirs);
    let parent_worlds = match their_worlds == worlds(&ours) {
        true => None,
        false => Some(
            their_worlds
                .into_iter()
                .map(|w| world_spec(w).map_err(|e| refuse(path.clone(), e)))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let parent_probes = array(&theirs, "probes");
    let kept_probes = array(&ours, "probes")
        .iter()
        .map(|p| parent_probes.contains(p))
        .collect();
    let fork = Fork {
        snapshot,
        parent: std::path::absolute(parent).map_err(|e| Error::io(parent, e))?,
        parent_worlds,
        kept_probes,
    };
    run_from(scenario, options, Start::Fork(Box::new(fork)))
}

/// A resolved scenario as a table. Its integers beyond i64 (a probe's `every = u64::MAX`:
/// never), which a `toml::Value` cannot hold, are read as strings: compared, not used.
fn resolved_table(text: &str) -> std::result::Result<toml::Table, toml::de::Error> {
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.split_once(" = ") {
            Some((key, value))
                if value.bytes().all(|b| b.is_ascii_digit()) && value.parse::<i64>().is_err() =>
            {
                format!("{key} = \"{value}\"")
            }
            _ => line.to_string(),
        })
        .collect();
    toml::from_str(&lines.join("\n"))
}

/// A resolved scenario's array of tables (`phases`, `probes`); empty when it has none.
fn array(t: &toml::Table, key: &str) -> Vec<toml::Value> {
    t.get(key).and_then(|v| v.as_array()).cloned().unwrap_or_default()
}

/// Whether two paths name the same directory.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A world read back from a resolved scenario's table.
fn world_spec(value: toml::Value) -> std::result::Result<WorldSpec, String> {
    let mut table = value
        .as_table()
        .cloned()
        .ok_or("a phase's world is not a table")?;
    let kind = match table.remove("kind") {
        Some(toml::Value::String(k)) => k,
        _ => return Err("a phase's world has no `kind`".into()),
    };
    WorldSpec::from_value(&kind, toml::Value::Table(table))
        .ok_or_else(|| format!("the parent's world kind `{kind}` is not registered here"))?
        .map_err(|e| format!("the parent's `{kind}` world does not read back: {e}"))
}

/// The first thing the fork (`ours`) changes that decided the parent's (`theirs`) state at
/// `at`, said as a sentence; `None` when they agree.
fn mismatch(theirs: &toml::Table, ours: &toml::Table, at: RunPoint) -> Option<String> {
    for key in ["schema", "seed", "population", "model"] {
        if let Some(path) = difference(theirs.get(key), ours.get(key), key) {
            return Some(format!("`{path}` differs"));
        }
    }
    let (tp, op) = (array(theirs, "phases"), array(ours, "phases"));
    if op.len() <= at.phase {
        return Some(format!(
            "the parent's checkpoint is in its phase {} and the fork has {} phases",
            at.phase + 1,
            op.len()
        ));
    }
    (0..=at.phase).find_map(|i| {
        difference(tp.get(i), op.get(i), &format!("phases[{i}]")).map(|path| format!("`{path}` differs"))
    })
}

/// The dotted path of the first place two values differ (`None`: equal).
fn difference(a: Option<&toml::Value>, b: Option<&toml::Value>, path: &str) -> Option<String> {
    match (a, b) {
        (Some(toml::Value::Table(a)), Some(toml::Value::Table(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find_map(|k| difference(a.get(k), b.get(k), &format!("{path}.{k}")))
        }
        (Some(toml::Value::Array(a)), Some(toml::Value::Array(b))) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(Some(x), Some(y), &format!("{path}[{i}]"))),
        (a, b) => (a != b).then(|| path.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn integers_beyond_i64_are_compared_as_text() {
        let t = resolved_table("[[probes]]\nevery = 18446744073709551615\nk = 5\n").unwrap();
        let probe = &t["probes"][0];
        assert_eq!(probe["every"].as_str(), Some("18446744073709551615"));
        assert_eq!(probe["k"].as_integer(), Some(5));
    }

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a =
            table("seed = 1\n[model.regions.vta]\nlr = 0.05\n[[phases]]\nsteps = 3\n[[phases]]\nsteps = 4\n");
        let b =
            table("seed = 1\n[model.regions.vta]\nlr = 0.01\n[[phases]]\nsteps = 3\n[[phases]]\nsteps = 5\n");
        let at = RunPoint {
            phase: 0,
            k: 3,
            step: 3,
            rows: 0,
            bytes: None,
        };
        assert_eq!(mismatch(&a, &b, at).unwrap(), "`model.regions.vta.lr` differs");
        let b =
            table("seed = 1\n[model.regions.vta]\nlr = 0.05\n[[phases]]\nsteps = 3\n[[phases]]\nsteps = 5\n");
        // Phase 1 runs after the checkpoint: the fork may change it, not phase 0.
        assert_eq!(mismatch(&a, &b, at), None);
        assert_eq!(
            mismatch(&a, &b, RunPoint { phase: 1, ..at }).unwrap(),
            "`phases[1].steps` differs"
        );
        let c = table("seed = 2\n[model.regions.vta]\nlr = 0.05\n[[phases]]\nsteps = 3\n");
        assert_eq!(mismatch(&a, &c, at).unwrap(), "`seed` differs");
        let d = table("seed = 1\n[model.regions.vta]\nlr = 0.05\nbias = true\n[[phases]]\nsteps = 3\n");
        assert_eq!(mismatch(&a, &d, at).unwrap(), "`model.regions.vta.bias` differs");
        assert!(mismatch(&a, &d, RunPoint { phase: 1, ..at }).is_some());
    }
}
