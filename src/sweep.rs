//! Sweeps: a grid of scenario parameters × seeds expanded into runs, split into shards (one per
//! Slurm array task), and merged back into one long table.
//!
//! ```toml
//! schema = 1
//! scenario = "../scenarios/mere_exposure.toml"   # relative to the sweep file
//! seeds = [1, 2, 3]
//! [grid]                                          # dotted paths into the scenario file
//! "overrides.vta.lr" = [0.01, 0.02]
//! "phases.1.steps" = [1000, 4000]
//! ```
//!
//! Runs are numbered in a fixed order (grid in key order, values in file order, seeds last), so
//! every shard of every machine agrees on which runs are its own: run k belongs to shard
//! k mod N.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result, SourceFile};
use crate::experiment::{RunOptions, run};
use crate::metrics::{Row, read_csv, write_atomic};
use crate::scenario::parse_scenario;

/// A sweep file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The file-format version.
    pub schema: i64,
    /// The scenario, relative to the sweep file.
    pub scenario: PathBuf,
    /// Seeds to run each grid point with (default: the scenario's own).
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Dotted path into the scenario file → the values it takes.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<toml::Value>>,
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRun {
    /// Its index in the sweep's fixed order.
    pub index: usize,
    /// Its directory name.
    pub id: String,
    /// The grid values it sets, by path.
    pub params: BTreeMap<String, toml::Value>,
    /// Its seed, if the sweep sets seeds.
    pub seed: Option<u64>,
}

impl SweepSpec {
    /// Reads a sweep file.
    pub fn load(path: &Path) -> Result<(SweepSpec, SourceFile)> {
        let source = SourceFile::read(path)?;
        let spec: SweepSpec = toml::from_str(&source.text).map_err(|e| source.toml_error(&e))?;
        if spec.schema != crate::scenario::SCHEMA {
            return Err(source.error(ErrorKind::UnsupportedSchema, 0..0, "expected schema = 1"));
        }
        if let Some((k, _)) = spec.grid.iter().find(|(_, v)| v.is_empty()) {
            return Err(source.error(ErrorKind::InvalidValue, 0..0, format!("grid `{k}` has no values")));
        }
        Ok((spec, source))
    }

    /// Every run, in the fixed order.
    pub fn runs(&self) -> Vec<SweepRun> {
        let mut points: Vec<BTreeMap<String, toml::Value>> = vec![BTreeMap::new()];
        for (path, values) in &self.grid {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.insert(path.clone(), v.clone());
                        q
                    })
                })
                .collect();
        }
        let seeds: Vec<Option<u64>> = if self.seeds.is_empty() {
            vec![None]
        } else {
            self.seeds.iter().copied().map(Some).collect()
        };
        let mut runs = Vec::new();
        for params in points {
            for &seed in &seeds {
                let index = runs.len();
                let mut id = format!("run{index:04}");
                if let Some(s) = seed {
                    id.push_str(&format!("-seed{s}"));
                }
                runs.push(SweepRun {
                    index,
                    id,
                    params: params.clone(),
                    seed,
                });
            }
        }
        runs
    }
}

/// This shard's runs: run k belongs to shard k mod `count`.
pub fn shard(runs: &[SweepRun], index: usize, count: usize) -> Vec<SweepRun> {
    runs.iter()
        .filter(|r| count > 0 && r.index % count == index)
        .cloned()
        .collect()
}

/// `I/N` from `--shard`, else from Slurm's array variables, else the whole sweep.
pub fn shard_from(arg: Option<&str>) -> Result<(usize, usize)> {
    let parse = |i: &str, n: &str| -> Result<(usize, usize)> {
        let (i, n) = (i.trim().parse::<usize>(), n.trim().parse::<usize>());
        match (i, n) {
            (Ok(i), Ok(n)) if n > 0 && i < n => Ok((i, n)),
            _ => Err(Error::Run("a shard is I/N with 0 ≤ I < N".into())),
        }
    };
    if let Some(a) = arg {
        let (i, n) = a
            .split_once('/')
            .ok_or_else(|| Error::Run(format!("`{a}`: expected I/N, e.g. 0/4")))?;
        return parse(i, n);
    }
    match (
        std::env::var("SLURM_ARRAY_TASK_ID"),
        std::env::var("SLURM_ARRAY_TASK_COUNT"),
    ) {
        (Ok(i), Ok(n)) => parse(&i, &n),
        _ => Ok((0, 1)),
    }
}

fn set_path(root: &mut toml::Value, path: &str, value: toml::Value) -> Result<()> {
    let mut node = root;
    let keys: Vec<&str> = path.split('.').collect();
    for (depth, key) in keys.iter().enumerate() {
        let last = depth + 1 == keys.len();
        node = match node {
            toml::Value::Table(t) => {
                if last {
                    t.insert(key.to_string(), value);
                    return Ok(());
                }
                t.entry(key.to_string())
                    .or_insert_with(|| toml::Value::Table(Default::default()))
            }
            toml::Value::Array(a) => {
                let i: usize = key
                    .parse()
                    .map_err(|_| Error::Run(format!("`{path}`: `{key}` is not an index")))?;
                let len = a.len();
                let slot = a
                    .get_mut(i)
                    .ok_or_else(|| Error::Run(format!("`{path}`: index {i} of {len}")))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => {
                return Err(Error::Run(format!(
                    "`{path}`: `{key}` is inside a value, not a table"
                )));
            }
        };
    }
    Ok(())
}

/// A scenario with `overrides` set: dotted paths into its TOML, as a sweep's `[grid]` keys
/// (`"phases.0.steps"`, `"overrides.vta.lr"`, `"population"`). `source` is the scenario's text
/// and where it was read from (relative paths in it are taken from that file's folder). Without
/// overrides the text is parsed as written, so its errors point at its own lines; with them,
/// a scenario error is located in a copy of the file with the values set, and an override
/// that names no place (an index past the end, a key inside a value) is an error naming it.
pub fn scenario_with(
    source: SourceFile,
    overrides: &[(String, toml::Value)],
) -> Result<crate::scenario::Scenario> {
    if overrides.is_empty() {
        return parse_scenario(source);
    }
    let base = Base::new(source)?;
    let params: Vec<(&String, &toml::Value)> = overrides.iter().map(|(k, v)| (k, v)).collect();
    base.with(&params)
}

/// The base scenario of a sweep, as read, beside its parsed value.
struct Base {
    path: PathBuf,
    source: SourceFile,
    value: toml::Value,
}

impl Base {
    fn read(sweep: &Path, spec: &SweepSpec) -> Result<Base> {
        let path = sweep.parent().unwrap_or(Path::new(".")).join(&spec.scenario);
        Base::new(SourceFile::read(&path)?)
    }

    fn new(source: SourceFile) -> Result<Base> {
        let value: toml::Value = toml::from_str(&source.text).map_err(|e| source.toml_error(&e))?;
        Ok(Base {
            path: source.path.clone(),
            source,
            value,
        })
    }

    /// The scenario with `params` set; an error is the scenario's own (located in a copy of
    /// the file, not in the scenario file).
    fn with(&self, params: &[(&String, &toml::Value)]) -> Result<crate::scenario::Scenario> {
        if params.is_empty() {
            // The file as written: its errors point at its own lines.
            return parse_scenario(self.source.clone());
        }
        let mut value = self.value.clone();
        for (p, v) in params {
            set_path(&mut value, p, (*v).clone())?;
        }
        let text = toml::to_string(&value).map_err(|e| Error::Run(e.to_string()))?;
        parse_scenario(SourceFile::new(&self.path, text))
    }
}

/// The span of the key `path` in the sweep file's `[grid]`, if found.
fn grid_key_span(source: &SourceFile, path: &str) -> Option<std::ops::Range<usize>> {
    let doc = toml::de::DeTable::parse(&source.text).ok()?;
    let grid = doc.get_ref().get("grid")?;
    match grid.get_ref() {
        toml::de::DeValue::Table(t) => t
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == path)
            .map(|(k, _)| k.span()),
        _ => None,
    }
}

/// The scenario of one sweep run: the base file with the run's grid values set. A grid point
/// the scenario refuses is an error in the sweep file at the grid key that made it fail (the
/// first whose value, added to those before it, does), naming the run and its values.
fn scenario_of(sweep: &SourceFile, base: &Base, r: &SweepRun) -> Result<crate::scenario::Scenario> {
    let params: Vec<(&String, &toml::Value)> = r.params.iter().collect();
    let e = match base.with(&params) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    // The base scenario's own errors stand as they are.
    base.with(&[])?;
    let culprit = (1..=params.len())
        .find(|&n| base.with(&params[..n]).is_err())
        .map_or(params.len() - 1, |n| n - 1);
    let (key, value) = params[culprit];
    let values: Vec<String> = params.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let inner = match &e {
        Error::Located(l) => l.message.clone(),
        other => other.to_string(),
    };
    let message = format!(
        "grid `{key}` = {value}: run {} ({}) of scenario {}: {inner}",
        r.id,
        values.join(", "),
        base.path.display()
    );
    Err(match grid_key_span(sweep, key) {
        Some(span) => sweep.error_with_help(
            ErrorKind::InvalidValue,
            span,
            message,
            e.help().map(str::to_string),
        ),
        None => Error::Run(format!("{}: {message}", sweep.path.display())),
    })
}

/// Checks a sweep file and the scenario of every grid point; returns the number of runs.
pub fn check_sweep(path: &Path) -> Result<usize> {
    let (spec, source) = SweepSpec::load(path)?;
    let base = Base::read(path, &spec)?;
    let runs = spec.runs();
    let per_point = spec.seeds.len().max(1);
    for r in runs.iter().step_by(per_point) {
        scenario_of(&source, &base, r)?;
    }
    Ok(runs.len())
}

/// What a shard of a sweep did.
#[derive(Debug)]
pub struct ShardReport {
    /// This shard's runs.
    pub runs: Vec<SweepRun>,
    /// Those that failed, with the error (also in the run's `error.txt`); the others went on.
    pub failed: Vec<(SweepRun, Error)>,
    /// Those another process was running (its `.lock`, with its process id): left to it.
    pub busy: Vec<(SweepRun, u32)>,
}

/// The file in a run directory that holds why the run failed.
pub const ERROR_FILE: &str = "error.txt";

/// Runs one shard of a sweep into `out/<run id>/`, skipping runs already complete and resuming
/// interrupted ones from their checkpoint (when the scenario sets `checkpoint_every`). A run
/// that fails (a grid point the scenario refuses, a divergence) is recorded — its error in
/// `out/<run id>/error.txt` and in the report — and the other runs go on; a rerun tries it
/// again. A run another process holds (two sweeps into one directory) is left to that process.
/// A run stopped by its observer ([`Error::Interrupted`]) stops the shard there.
pub fn run_sweep(
    path: &Path,
    out: &Path,
    index: usize,
    count: usize,
    options: &RunOptions,
) -> Result<ShardReport> {
    let (spec, source) = SweepSpec::load(path)?;
    let base = Base::read(path, &spec)?;
    let mine = shard(&spec.runs(), index, count);
    let mut report = ShardReport {
        runs: mine.clone(),
        failed: Vec::new(),
        busy: Vec::new(),
    };
    for r in mine {
        let dir = out.join(&r.id);
        if dir.join("summary.json").is_file() {
            continue;
        }
        if let Some(pid) = crate::experiment::run_dir_holder(&dir) {
            report.busy.push((r, pid));
            continue;
        }
        match run_one(&source, &base, &r, &dir, options) {
            Ok(()) => {
                let _ = std::fs::remove_file(dir.join(ERROR_FILE));
            }
            Err(e) => {
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                write_atomic(&dir.join(ERROR_FILE), format!("{e}\n").as_bytes())?;
                // Stopped from outside (Ctrl-C in Python): the whole shard stops, not one run.
                let stop = matches!(e.root(), Error::Interrupted { .. });
                report.failed.push((r, e));
                if stop {
                    break;
                }
            }
        }
    }
    Ok(report)
}

fn run_one(source: &SourceFile, base: &Base, r: &SweepRun, dir: &Path, options: &RunOptions) -> Result<()> {
    let scenario = scenario_of(source, base, r)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_atomic(
        &dir.join("sweep_run.json"),
        serde_json::to_string_pretty(r).expect("serialisable").as_bytes(),
    )?;
    let options = RunOptions {
        out: Some(dir.to_path_buf()),
        seed: r.seed,
        ..options.clone()
    };
    if crate::experiment::checkpoint_path(dir).is_file() {
        let mut scenario = scenario;
        if let Some(seed) = r.seed {
            scenario.seed = seed;
        }
        crate::experiment::resume(dir, Some(&scenario), &options)?;
    } else {
        run(&scenario, &options)?;
    }
    Ok(())
}

/// One run's readings in a merged table.
#[derive(Debug, Clone)]
pub struct MergedRun {
    /// The run.
    pub run: SweepRun,
    /// Its readings.
    pub rows: Vec<Row>,
    /// Whether it finished (has `summary.json`).
    pub complete: bool,
}

/// Per derived summary entry (`summary.json`'s `probes.derived`: polarisation, agreement, …)
/// that every finished run has, a bar chart of it across the sweep's runs — one bar per run,
/// labelled by its grid values (and seed, with several): e.g. polarisation against contact.
/// `valence merge` draws them under the sweep's `plots/`.
pub fn derived_charts(columns: &[String], runs: &[MergedRun], out: &Path) -> Vec<crate::metrics::Chart> {
    let several_seeds = runs
        .iter()
        .filter_map(|r| r.run.seed)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    type Bars = Vec<(String, (f32, f32, f32))>;
    let mut per_key: BTreeMap<String, Bars> = BTreeMap::new();
    let mut finished = 0;
    for r in runs.iter().filter(|r| r.complete) {
        let Ok(text) = std::fs::read_to_string(out.join(&r.run.id).join("summary.json")) else {
            continue;
        };
        let Ok(summary) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        finished += 1;
        let mut label: Vec<String> = columns
            .iter()
            .map(|c| {
                let short = c.rsplit('.').next().unwrap_or(c);
                format!(
                    "{short} {}",
                    r.run.params.get(c).map(|v| v.to_string()).unwrap_or_default()
                )
            })
            .collect();
        if several_seeds && let Some(seed) = r.run.seed {
            label.push(format!("seed {seed}"));
        }
        let label = label.join(", ");
        let Some(derived) = summary["probes"]["derived"].as_object() else {
            continue;
        };
        for (key, entry) in derived {
            let get = |f: &str| entry[f].as_f64().map(|x| x as f32);
            if let (Some(lo), Some(mid), Some(hi)) = (get("p10"), get("median"), get("p90")) {
                per_key
                    .entry(key.clone())
                    .or_default()
                    .push((label.clone(), (lo, mid, hi)));
            }
        }
    }
    per_key
        .into_iter()
        .filter(|(_, bars)| bars.len() == finished && finished > 1)
        .map(|(key, bars)| crate::metrics::Chart::Bars {
            stem: format!("sweep_{}", crate::plot::file_stem(&key)),
            title: format!("{key} across the sweep"),
            y_label: key,
            bars,
        })
        .collect()
}

/// One table of every run's metrics: `run` and each grid parameter as leading columns. A run
/// that did not finish (no `summary.json`: interrupted, failed, still running) is refused,
/// naming every such run, unless `allow_incomplete`; then it is included and marked.
pub fn merge(path: &Path, out: &Path, allow_incomplete: bool) -> Result<(Vec<String>, Vec<MergedRun>)> {
    let (spec, _) = SweepSpec::load(path)?;
    let columns: Vec<String> = spec.grid.keys().cloned().collect();
    let mut all = Vec::new();
    let mut missing = Vec::new();
    let runs = spec.runs();
    let total = runs.len();
    for r in runs {
        let dir = out.join(&r.id);
        let metrics = dir.join("metrics.csv");
        let complete = dir.join("summary.json").is_file();
        if !complete && !allow_incomplete {
            let why = match std::fs::read_to_string(dir.join(ERROR_FILE)) {
                Ok(e) => format!("failed: {}", e.lines().next().unwrap_or_default()),
                Err(_) if metrics.is_file() => "interrupted or still running".to_string(),
                Err(_) => "not run yet".to_string(),
            };
            missing.push(format!("  {} ({why})", r.id));
            continue;
        }
        let rows = match metrics.is_file() {
            true => read_csv(&metrics)?,
            false => Vec::new(),
        };
        all.push(MergedRun {
            run: r,
            rows,
            complete,
        });
    }
    if !missing.is_empty() {
        return Err(Error::Run(format!(
            "{} of {} runs in {} did not finish:\n{}\nrun their shards again (finished runs are \
             skipped, interrupted ones resume), or merge with `--allow-incomplete` to include \
             them marked `complete = false`",
            missing.len(),
            total,
            out.display(),
            missing.join("\n")
        )));
    }
    Ok((columns, all))
}

/// Writes the merged table to `out/merged.csv` (atomically) and returns its path.
pub fn write_merged(
    out: &Path,
    columns: &[String],
    runs: &[MergedRun],
    mark_complete: bool,
) -> Result<PathBuf> {
    let path = out.join("merged.csv");
    write_atomic(&path, merged_csv(columns, runs, mark_complete).as_bytes())?;
    Ok(path)
}

/// The merged table as CSV: `run,seed,<grid paths…>,phase,step,agent,probe,key,value`, with a
/// `complete` column after `seed` when `mark_complete` (a merge that included unfinished runs).
pub fn merged_csv(columns: &[String], runs: &[MergedRun], mark_complete: bool) -> String {
    use crate::metrics::csv_field;
    let mut s = format!(
        "run,seed,{}{}phase,step,agent,probe,key,value\n",
        if mark_complete { "complete," } else { "" },
        columns
            .iter()
            .map(|c| format!("{},", csv_field(c)))
            .collect::<String>()
    );
    for MergedRun {
        run: r,
        rows,
        complete,
    } in runs
    {
        // A grid value may be an array or a table (`["CAMPAIGN", "LIFE"]`): quoted as needed.
        let params: String = columns
            .iter()
            .map(|c| {
                format!(
                    "{},",
                    csv_field(&r.params.get(c).map(|v| v.to_string()).unwrap_or_default())
                )
            })
            .collect();
        let seed = r.seed.map(|s| s.to_string()).unwrap_or_default();
        let mark = match mark_complete {
            true => format!("{complete},"),
            false => String::new(),
        };
        for row in rows {
            s.push_str(&format!(
                "{},{seed},{mark}{params}{},{},{},{},{},{}\n",
                r.id,
                csv_field(&row.phase),
                row.step,
                row.agent,
                csv_field(&row.probe),
                csv_field(&row.key),
                row.value
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(grid: &[(&str, usize)], seeds: usize) -> SweepSpec {
        SweepSpec {
            schema: 1,
            scenario: "s.toml".into(),
            seeds: (0..seeds as u64).collect(),
            grid: grid
                .iter()
                .map(|(k, n)| (k.to_string(), (0..*n as i64).map(toml::Value::Integer).collect()))
                .collect(),
        }
    }

    #[test]
    fn the_grid_expands_to_its_full_product_in_a_fixed_order() {
        let runs = spec(&[("a", 2), ("b", 3)], 2).runs();
        assert_eq!(runs.len(), 12);
        assert_eq!(
            runs.iter().map(|r| r.index).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>()
        );
        let distinct: std::collections::BTreeSet<_> = runs
            .iter()
            .map(|r| format!("{:?}{:?}", r.params, r.seed))
            .collect();
        assert_eq!(distinct.len(), 12);
        assert_eq!(runs, spec(&[("a", 2), ("b", 3)], 2).runs(), "the order is fixed");
    }

    #[test]
    fn shards_cover_every_run_exactly_once_for_any_count() {
        let runs = spec(&[("a", 3), ("b", 5)], 3).runs();
        for n in 1..=50 {
            let mut seen = vec![0; runs.len()];
            for i in 0..n {
                for r in shard(&runs, i, n) {
                    seen[r.index] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "N = {n}: {seen:?}");
        }
    }

    #[test]
    fn shard_arguments_are_checked() {
        assert_eq!(shard_from(Some("2/5")).unwrap(), (2, 5));
        assert!(shard_from(Some("5/5")).is_err());
        assert!(shard_from(Some("x")).is_err());
    }

    #[test]
    fn merged_csv_quotes_grid_values_with_commas() {
        let value: toml::Value = toml::from_str::<toml::Table>("v = [\"A\", \"B\"]").unwrap()["v"].clone();
        let run = SweepRun {
            index: 0,
            id: "run0000".into(),
            params: [("phases.2.world.rules.S".to_string(), value)].into(),
            seed: Some(1),
        };
        let row = Row {
            phase: "p".into(),
            step: 3,
            agent: 0,
            probe: "valence".into(),
            key: "x".into(),
            value: 0.5,
        };
        let merged = MergedRun {
            run,
            rows: vec![row],
            complete: true,
        };
        let csv = merged_csv(&["phases.2.world.rules.S".to_string()], &[merged], false);
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            r#"run0000,1,"[""A"", ""B""]",p,3,0,valence,x,0.5"#
        );
    }

    #[test]
    fn dotted_paths_reach_tables_and_arrays() {
        let mut v: toml::Value = toml::from_str("[o]\nx = 1\n[[p]]\nsteps = 3\n[[p]]\nsteps = 4\n").unwrap();
        set_path(&mut v, "o.x", toml::Value::Integer(2)).unwrap();
        set_path(&mut v, "p.1.steps", toml::Value::Integer(9)).unwrap();
        set_path(&mut v, "new.key", toml::Value::Boolean(true)).unwrap();
        assert_eq!(v["o"]["x"].as_integer(), Some(2));
        assert_eq!(v["p"][1]["steps"].as_integer(), Some(9));
        assert_eq!(v["new"]["key"].as_bool(), Some(true));
        assert!(set_path(&mut v, "p.7.steps", toml::Value::Integer(1)).is_err());
    }

    #[test]
    fn derived_results_are_charted_across_the_finished_runs() {
        let dir = tempfile::tempdir().unwrap();
        let run = |index: usize, between: f64, polarisation: Option<f64>, complete| {
            let id = format!("run{index:04}-seed1");
            if let Some(p) = polarisation {
                std::fs::create_dir_all(dir.path().join(&id)).unwrap();
                let summary = serde_json::json!({"probes": {"derived": {
                    "polarisation/x": {"median": p, "p10": p, "p90": p, "phase": "c", "step": 9},
                    // Only in one run: not charted.
                    "only_here": if index == 0 { serde_json::json!({"median": 1.0, "p10": 1.0, "p90": 1.0}) } else { serde_json::Value::Null },
                }}});
                std::fs::write(dir.path().join(&id).join("summary.json"), summary.to_string()).unwrap();
            }
            MergedRun {
                run: SweepRun {
                    index,
                    id,
                    params: [("phases.2.world.between".to_string(), toml::Value::Float(between))].into(),
                    seed: Some(1),
                },
                rows: Vec::new(),
                complete,
            }
        };
        let columns = ["phases.2.world.between".to_string()];
        let runs = [
            run(0, 0.0, Some(2.5), true),
            run(1, 0.5, Some(0.5), true),
            run(2, 1.0, None, false),
        ];
        let charts = derived_charts(&columns, &runs, dir.path());
        assert_eq!(charts.len(), 1, "{charts:?}");
        let crate::metrics::Chart::Bars { stem, bars, .. } = &charts[0] else {
            panic!("{charts:?}")
        };
        assert_eq!(stem, "sweep_polarisation_x");
        assert_eq!(
            bars,
            &[
                ("between 0.0".to_string(), (2.5, 2.5, 2.5)),
                ("between 0.5".to_string(), (0.5, 0.5, 0.5))
            ]
        );
        // One finished run: nothing to compare.
        assert!(derived_charts(&columns, &runs[..1], dir.path()).is_empty());
    }
}
