//! Probe readings in long format (`metrics.csv`), their summary across agents, and atomic file
//! writes: what every layer above records, reads back or plots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ndarray::Array1;
use serde::Serialize;

use crate::error::{Error, Result};

/// One reading: one agent, one probe key, at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The phase's name.
    pub phase: String,
    /// Ticks since the run began.
    pub step: u64,
    /// The agent's index in the population.
    pub agent: usize,
    /// The probe's name.
    pub probe: String,
    /// What within the probe (a concept, a pair).
    pub key: String,
    /// The reading.
    pub value: f32,
}

/// Collects readings and writes `metrics.csv`.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    rows: Vec<Row>,
}

impl Recorder {
    /// A recorder writing `metrics.csv` into `dir`.
    pub fn new(dir: &Path) -> Self {
        Recorder {
            path: dir.join("metrics.csv"),
            rows: Vec::new(),
        }
    }

    /// Records one probe key for every agent (`values` is `[P]`).
    /// A recorder that goes on from `rows` (a resumed run's readings so far).
    pub fn resume(dir: &Path, rows: Vec<Row>) -> Self {
        Recorder {
            rows,
            ..Recorder::new(dir)
        }
    }

    /// Records readings.
    pub fn record(&mut self, phase: &str, step: u64, probe: &str, key: &str, values: &Array1<f32>) {
        for (agent, &value) in values.iter().enumerate() {
            self.record_one(phase, step, agent, probe, key, value);
        }
    }

    /// Records one value of one agent.
    pub fn record_one(&mut self, phase: &str, step: u64, agent: usize, probe: &str, key: &str, value: f32) {
        self.rows.push(Row {
            phase: phase.to_string(),
            step,
            agent,
            probe: probe.to_string(),
            key: key.to_string(),
            value,
        });
    }

    /// Writes everything recorded so far, atomically.
    pub fn flush(&self) -> Result<()> {
        write_atomic(&self.path, to_csv(&self.rows).as_bytes())
    }

    /// The last reading of each (probe, key) across agents.
    pub fn summary(&self) -> Summary {
        let mut summary = summarise(&self.rows);
        let derived = derived(&self.rows);
        if !derived.is_empty() {
            summary.insert("derived".into(), derived);
        }
        summary
    }

    /// The readings so far.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The readings.
    pub fn into_rows(self) -> Vec<Row> {
        self.rows
    }
}

/// Rows as CSV with a header (`f32` written in Rust's shortest round-trip form).
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from("phase,step,agent,probe,key,value\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}",
            csv_field(&r.phase),
            r.step,
            r.agent,
            csv_field(&r.probe),
            csv_field(&r.key),
            r.value
        );
    }
    s
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a newline.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Reads a `metrics.csv` back.
pub fn read_csv(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let bad = || {
            Error::Run(format!(
                "{}:{}: expected `phase,step,agent,probe,key,value`",
                path.display(),
                i + 1
            ))
        };
        if f.len() != 6 {
            return Err(bad());
        }
        rows.push(Row {
            phase: f[0].to_string(),
            step: f[1].parse().map_err(|_| bad())?,
            agent: f[2].parse().map_err(|_| bad())?,
            probe: f[3].to_string(),
            key: f[4].to_string(),
            value: f[5].parse().map_err(|_| bad())?,
        });
    }
    Ok(rows)
}

/// The spread of one probe key across agents at its last reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryEntry {
    /// The phase of the last reading.
    pub phase: String,
    /// Its step.
    pub step: u64,
    /// Median across agents.
    pub median: f32,
    /// 10th percentile.
    pub p10: f32,
    /// 90th percentile.
    pub p90: f32,
    /// Agents counted.
    pub agents: usize,
}

impl SummaryEntry {
    /// The spread of readings (NaN sorts last), read at `step` of `phase`.
    pub fn of(phase: &str, step: u64, mut values: Vec<f32>) -> Self {
        values.sort_by(f32::total_cmp);
        SummaryEntry {
            phase: phase.to_string(),
            step,
            median: percentile(&values, 0.5),
            p10: percentile(&values, 0.1),
            p90: percentile(&values, 0.9),
            agents: values.len(),
        }
    }
}

/// probe → key → last reading's spread.
pub type Summary = BTreeMap<String, BTreeMap<String, SummaryEntry>>;

/// The last reading of each (probe, key) across agents.
pub fn summarise(rows: &[Row]) -> Summary {
    let mut last: BTreeMap<(&str, &str), (u64, &str, Vec<f32>)> = BTreeMap::new();
    for r in rows {
        let e = last
            .entry((&r.probe, &r.key))
            .or_insert((r.step, &r.phase, Vec::new()));
        if r.step > e.0 {
            *e = (r.step, &r.phase, Vec::new());
        }
        if r.step == e.0 {
            e.2.push(r.value);
        }
    }
    let mut summary = Summary::new();
    for ((probe, key), (step, phase, values)) in last {
        summary
            .entry(probe.to_string())
            .or_default()
            .insert(key.to_string(), SummaryEntry::of(phase, step, values));
    }
    summary
}

/// Figures that combine several outputs, added to the summary as the pseudo-probe `derived`:
///
/// - a bandit's regret ratios `regret/thompson`, `regret/egreedy`, `regret/random`: the ratio of
///   the means across agents at the last reading (one number: median = p10 = p90);
/// - the two-step signature per agent: `stay: rewarded common − rare` and
///   `stay: reward × transition` = (RC − RR) − (UC − UR), summarised across agents;
/// - a one-shot world's `accuracy` and `error` at the end of every phase (`accuracy: PHASE`),
///   since the comparison is between phases (with and without recall).
pub fn derived(rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
    // key → (last step, phase, agent → value)
    let mut last: BTreeMap<&str, (u64, &str, BTreeMap<usize, f32>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.key.starts_with("world.")) {
        let e = last.entry(&r.key).or_insert((r.step, &r.phase, BTreeMap::new()));
        if r.step > e.0 {
            *e = (r.step, &r.phase, BTreeMap::new());
        }
        if r.step == e.0 {
            e.2.insert(r.agent, r.value);
        }
    }
    let mut out = BTreeMap::new();
    for key in ["world.accuracy", "world.error"] {
        let mut by_phase: BTreeMap<&str, (u64, Vec<f32>)> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.key == key) {
            let e = by_phase.entry(&r.phase).or_insert((r.step, Vec::new()));
            if r.step > e.0 {
                *e = (r.step, Vec::new());
            }
            if r.step == e.0 && r.value.is_finite() {
                e.1.push(r.value);
            }
        }
        for (phase, (step, v)) in by_phase {
            if !v.is_empty() {
                let name = format!("{}: {phase}", key.trim_start_matches("world."));
                out.insert(name, SummaryEntry::of(phase, step, v));
            }
        }
    }
    let mean = |k: &str| {
        last.get(k)
            .map(|(_, _, v)| v.values().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64)
    };
    if let Some(agent) = mean("world.regret") {
        let (step, phase, values) = &last["world.regret"];
        for (key, name) in [
            ("world.thompson_regret", "regret/thompson"),
            ("world.egreedy_regret", "regret/egreedy"),
            ("world.random_regret", "regret/random"),
        ] {
            if let Some(base) = mean(key).filter(|b| *b > 0.0) {
                let mut entry = SummaryEntry::of(phase, *step, vec![(agent / base) as f32]);
                entry.agents = values.len();
                out.insert(name.to_string(), entry);
            }
        }
    }
    let stay = [
        "rewarded_common",
        "rewarded_rare",
        "unrewarded_common",
        "unrewarded_rare",
    ]
    .map(|k| last.get(format!("world.stay_{k}").as_str()));
    if let [Some(rc), Some(rr), Some(uc), Some(ur)] = stay {
        let mut main = Vec::new();
        let mut interaction = Vec::new();
        for (agent, &a) in &rc.2 {
            if let (Some(&b), Some(&c), Some(&d)) = (rr.2.get(agent), uc.2.get(agent), ur.2.get(agent))
                && [a, b, c, d].iter().all(|x| x.is_finite())
            {
                main.push(a - b);
                interaction.push((a - b) - (c - d));
            }
        }
        for (name, v) in [
            ("stay: rewarded common − rare", main),
            ("stay: reward × transition", interaction),
        ] {
            if !v.is_empty() {
                out.insert(name.to_string(), SummaryEntry::of(rc.1, rc.0, v));
            }
        }
    }
    out
}

/// Linear-interpolated percentile of sorted values (numpy's default method).
pub fn percentile(sorted: &[f32], q: f64) -> f32 {
    if sorted.is_empty() {
        return f32::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = (pos - lo as f64) as f32;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// Writes a file by writing a temporary sibling, syncing it and renaming it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy() {
        // numpy.percentile([1, 2, 3, 4, 10], [10, 50, 90]) == [1.4, 3.0, 7.6]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((percentile(&v, 0.1) - 1.4).abs() < 1e-6);
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert!((percentile(&v, 0.9) - 7.6).abs() < 1e-5);
    }

    #[test]
    fn summary_takes_the_last_step_of_each_key() {
        let row = |step, agent, value| Row {
            phase: "p".into(),
            step,
            agent,
            probe: "valence".into(),
            key: "a".into(),
            value,
        };
        let rows = vec![row(1, 0, 9.0), row(1, 1, 9.0), row(2, 0, 1.0), row(2, 1, 3.0)];
        let s = summarise(&rows);
        let e = &s["valence"]["a"];
        assert_eq!((e.step, e.median, e.agents), (2, 2.0, 2));
    }

    #[test]
    fn csv_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![Row {
            phase: "x".into(),
            step: 3,
            agent: 1,
            probe: "cos".into(),
            key: "a~b".into(),
            value: 0.1,
        }];
        write_atomic(&dir.path().join("m.csv"), to_csv(&rows).as_bytes()).unwrap();
        assert_eq!(read_csv(&dir.path().join("m.csv")).unwrap(), rows);
        assert!(!dir.path().join(".m.csv.tmp").exists());
    }

    #[test]
    fn derived_figures_combine_outputs_per_agent() {
        let row = |agent: usize, key: &str, value: f32| Row {
            phase: "test".into(),
            step: 10,
            agent,
            probe: key.trim_start_matches("world.").into(),
            key: key.into(),
            value,
        };
        let mut rows = Vec::new();
        for agent in 0..2 {
            rows.push(row(agent, "world.regret", 2.0));
            rows.push(row(agent, "world.thompson_regret", 4.0));
            rows.push(row(agent, "world.random_regret", 16.0));
            for (key, v) in [
                ("rewarded_common", 0.9),
                ("rewarded_rare", 0.6),
                ("unrewarded_common", 0.5),
            ] {
                rows.push(row(agent, &format!("world.stay_{key}"), v));
            }
            rows.push(row(agent, "world.stay_unrewarded_rare", 0.7 + agent as f32 * 0.1));
        }
        let d = derived(&rows);
        assert_eq!(d["regret/thompson"].median, 0.5);
        assert_eq!(d["regret/random"].median, 0.125);
        assert!(!d.contains_key("regret/egreedy"), "no ε-greedy output, no ratio");
        assert!((d["stay: rewarded common − rare"].median - 0.3).abs() < 1e-6);
        // (0.9 − 0.6) − (0.5 − 0.7) = 0.5 and (0.9 − 0.6) − (0.5 − 0.8) = 0.6.
        let i = &d["stay: reward × transition"];
        assert!((i.median - 0.55).abs() < 1e-6 && i.agents == 2, "{i:?}");
    }
}
