//! Helpers shared by the integration tests (`mod common;` in each file that uses them).
#![allow(dead_code)]

use valence::experiment::{Row, RunOptions, run};
use valence::scenario::Scenario;

/// Runs a scenario on the default (CPU) device into a temporary directory; every probe reading.
pub fn run_rows(s: &Scenario) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    run(
        s,
        &RunOptions {
            out: Some(dir.path().into()),
            ..Default::default()
        },
    )
    .unwrap()
    .rows
}

/// The median across agents (numpy's linear interpolation, as in `summary.json`).
pub fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    valence::experiment::recorder::percentile(&v, 0.5)
}
