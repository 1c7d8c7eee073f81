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

/// Collects readings and appends them to `metrics.csv`: the file is created (header and the
/// readings so far) at the first [`Recorder::flush`], and every later flush appends only the
/// readings since the last one and syncs them, so the cost of writing a run is linear in its
/// length and what is on disk is always a prefix of the run's readings (a kill can cut off at
/// most the line being appended, which `--resume` cuts back to the checkpoint's length).
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    rows: Vec<Row>,
    /// Readings on disk, and the file's length in bytes after them (`None`: not yet created).
    flushed: usize,
    bytes: Option<u64>,
}

/// The header line of `metrics.csv`.
pub const CSV_HEADER: &str = "phase,step,agent,probe,key,value\n";

impl Recorder {
    /// A recorder writing `metrics.csv` into `dir`.
    pub fn new(dir: &Path) -> Self {
        Recorder {
            path: dir.join("metrics.csv"),
            rows: Vec::new(),
            flushed: 0,
            bytes: None,
        }
    }

    /// A recorder that goes on from `rows`, the readings already in `dir/metrics.csv`, whose
    /// length in bytes is `bytes` (a resumed run's readings so far).
    pub fn resume(dir: &Path, rows: Vec<Row>, bytes: u64) -> Self {
        Recorder {
            flushed: rows.len(),
            bytes: Some(bytes),
            rows,
            ..Recorder::new(dir)
        }
    }

    /// Records one probe key for every agent (`values` is `[P]`).
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

    /// Writes the readings recorded since the last flush and syncs them to disk: the first
    /// flush creates the file atomically (header and all), later ones append.
    pub fn flush(&mut self) -> Result<()> {
        let mut text = String::new();
        if self.bytes.is_none() {
            text.push_str(CSV_HEADER);
        }
        write_rows(&mut text, &self.rows[self.flushed..]);
        match self.bytes {
            None => write_atomic(&self.path, text.as_bytes())?,
            Some(_) if text.is_empty() => {}
            Some(_) => {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| Error::io(&self.path, e))?;
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_data())
                    .map_err(|e| Error::io(&self.path, e))?;
            }
        }
        self.flushed = self.rows.len();
        self.bytes = Some(self.bytes.unwrap_or(0) + text.len() as u64);
        Ok(())
    }

    /// The length of `metrics.csv` in bytes as of the last flush (0 before the first).
    pub fn bytes(&self) -> u64 {
        self.bytes.unwrap_or(0)
    }

    /// The last reading of each (probe, key) across agents.
    pub fn summary(&self) -> Summary {
        summarise(&self.rows)
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
    let mut s = String::from(CSV_HEADER);
    write_rows(&mut s, rows);
    s
}

/// Rows as CSV lines, without the header.
fn write_rows(s: &mut String, rows: &[Row]) {
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
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a newline.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The records of a CSV text as [`csv_field`] writes it (RFC 4180: a field with a comma, a quote
/// or a line break is quoted, `""` is a quote inside one; CRLF line ends accepted), each with the
/// line it starts on. An unterminated quote is an error at the line its record starts on.
pub fn csv_records(text: &str) -> std::result::Result<Vec<(usize, Vec<String>)>, usize> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut line, mut start) = (1, 1);
    let (mut quoted, mut was_quoted) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => (quoted, was_quoted) = (true, true),
            ',' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push((start, std::mem::take(&mut record)));
                was_quoted = false;
                line += 1;
                start = line;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(start);
    }
    if !field.is_empty() || !record.is_empty() || was_quoted {
        record.push(field);
        records.push((start, record));
    }
    Ok(records)
}

/// Reads a `metrics.csv` back (names with commas, quotes or line breaks as [`to_csv`] quotes them).
pub fn read_csv(path: &Path) -> Result<Vec<Row>> {
    parse_csv(&read_text(path)?, path)
}

/// The text of a regular file (a directory or device refused unread).
pub fn read_text(path: &Path) -> Result<String> {
    crate::error::regular_file(path)?;
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Parses a `metrics.csv` text; `path` names it in errors.
pub fn parse_csv(text: &str, path: &Path) -> Result<Vec<Row>> {
    let bad = |line: usize| {
        Error::Run(format!(
            "{}:{line}: expected `phase,step,agent,probe,key,value`",
            path.display()
        ))
    };
    let records = csv_records(text).map_err(|line| {
        Error::Run(format!(
            "{}:{line}: a quoted field is never closed",
            path.display()
        ))
    })?;
    let mut rows = Vec::new();
    for (line, f) in records.into_iter().skip(1) {
        if f.len() != 6 {
            return Err(bad(line));
        }
        rows.push(Row {
            step: f[1].parse().map_err(|_| bad(line))?,
            agent: f[2].parse().map_err(|_| bad(line))?,
            value: f[5].parse().map_err(|_| bad(line))?,
            phase: f[0].clone(),
            probe: f[3].clone(),
            key: f[4].clone(),
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

/// The last reading of `key` of each agent: (step, phase, agent → value) at the key's last
/// step. For analyses that combine several keys agent by agent.
pub fn last_reading<'a>(rows: &'a [Row], key: &str) -> Option<(u64, &'a str, BTreeMap<usize, f32>)> {
    let mut last: Option<(u64, &str, BTreeMap<usize, f32>)> = None;
    for r in rows.iter().filter(|r| r.key == key) {
        let e = last.get_or_insert((r.step, &r.phase, BTreeMap::new()));
        if r.step > e.0 {
            *e = (r.step, &r.phase, BTreeMap::new());
        }
        if r.step == e.0 {
            e.2.insert(r.agent, r.value);
        }
    }
    last
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

/// One key's curve: step → (p10, median, p90) across agents.
pub type Curve = BTreeMap<u64, (f32, f32, f32)>;

/// probe → key → curve.
pub type RunCurves = BTreeMap<String, BTreeMap<String, Curve>>;

/// probe → key → curve, from a run's rows.
pub fn curves(rows: &[Row]) -> RunCurves {
    let mut values: BTreeMap<(&str, &str, u64), Vec<f32>> = BTreeMap::new();
    for r in rows {
        values
            .entry((&r.probe, &r.key, r.step))
            .or_default()
            .push(r.value);
    }
    let mut out: BTreeMap<String, BTreeMap<String, Curve>> = BTreeMap::new();
    for ((probe, key, step), mut v) in values {
        v.sort_by(f32::total_cmp);
        let point = (percentile(&v, 0.1), percentile(&v, 0.5), percentile(&v, 0.9));
        out.entry(probe.into())
            .or_default()
            .entry(key.into())
            .or_default()
            .insert(step, point);
    }
    out
}

/// A figure described by its data, drawn by `plot` (SVG and PNG): what a world's analysis
/// hook (`WorldParams::figures`) returns without knowing how figures are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Median lines with 10–90% bands against `x_label`.
    Curves {
        /// File stem under `plots/`.
        stem: String,
        /// The title.
        title: String,
        /// The x axis.
        x_label: String,
        /// The y axis: what the curves measure.
        y_label: String,
        /// Label → curve.
        curves: BTreeMap<String, Curve>,
    },
    /// Bars (median) with 10–90% whiskers.
    Bars {
        /// File stem under `plots/`.
        stem: String,
        /// The title.
        title: String,
        /// The y axis.
        y_label: String,
        /// (label, (p10, median, p90)), in drawing order.
        bars: Vec<(String, (f32, f32, f32))>,
    },
    /// Trial × time from an event, each cell a value on a diverging scale (red > 0, blue < 0).
    Raster {
        /// File stem under `plots/`.
        stem: String,
        /// The title.
        title: String,
        /// The x axis.
        x_label: String,
        /// Rows (trials) of cells; cell k of a row is `k − before` ticks from the event.
        cells: Vec<Vec<f32>>,
        /// Ticks shown before the event.
        before: usize,
    },
}

impl Chart {
    /// The file stem under `plots/`.
    pub fn stem(&self) -> &str {
        match self {
            Chart::Curves { stem, .. } | Chart::Bars { stem, .. } | Chart::Raster { stem, .. } => stem,
        }
    }
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
    // A name of this process and call: two writers never share a temporary file.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.{}-{call}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        // A full disk, say: the half-written temporary goes, the old file stays.
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
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

    /// Each flush appends only what is new; the file is always the CSV of the readings so far,
    /// and a resumed recorder appends after the bytes it was given.
    #[test]
    fn flushes_append_and_the_file_is_always_the_readings_so_far() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut r = Recorder::new(dir.path());
        r.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), CSV_HEADER);
        r.record_one("a,b", 1, 0, "p", "k", 0.5);
        r.flush().unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        r.record_one("a,b", 2, 1, "p", "k\n2", -1.0);
        r.record_one("c", 3, 0, "p", "k", 2.0);
        // Mark the bytes already written: an append leaves them, a rewrite would not.
        let marked = first.replacen("0.5", "0.7", 1);
        std::fs::write(&path, &marked).unwrap();
        r.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&marked), "the earlier bytes were rewritten");
        assert_eq!(text, to_csv(r.rows()).replacen("0.5", "0.7", 1));
        assert_eq!(r.bytes(), text.len() as u64);
        let mut resumed = Recorder::resume(dir.path(), r.rows().to_vec(), r.bytes());
        resumed.record_one("c", 4, 0, "p", "k", 3.0);
        resumed.flush().unwrap();
        assert_eq!(read_csv(&path).unwrap().len(), 4);
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
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }

    /// Names with commas, quotes and line breaks (a phase `a,b`, a probe `say "hi"`, a key
    /// across two lines) are quoted on writing and read back as written; a record that is cut
    /// off inside a quote is an error at its line.
    #[test]
    fn quoted_names_round_trip_and_a_broken_quote_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let row = |phase: &str, probe: &str, key: &str, value| Row {
            phase: phase.into(),
            step: 7,
            agent: 0,
            probe: probe.into(),
            key: key.into(),
            value,
        };
        let rows = vec![
            row("a,b", "say \"hi\"", "two\nlines", 0.5),
            row("plain", "p", "k\r\n,", -1.0),
            row("", "p", "", 2.0),
        ];
        let path = dir.path().join("m.csv");
        write_atomic(&path, to_csv(&rows).as_bytes()).unwrap();
        assert_eq!(read_csv(&path).unwrap(), rows);
        let text = to_csv(&rows).replace("\n", "\r\n").replace("\r\r\n", "\r\n");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read_csv(&path).unwrap().len(), 3, "CRLF line ends");
        std::fs::write(&path, "phase,step,agent,probe,key,value\nx,1,0,p,\"open,1\n").unwrap();
        let e = read_csv(&path).unwrap_err().to_string();
        assert!(e.contains(":2: a quoted field is never closed"), "{e}");
    }
}
