//! Sweeps: shards of a grid × seeds cover every run exactly once, and merging is lossless.

use std::path::Path;

use valence::experiment::{RunOptions, read_csv};
use valence::sweep::{SweepSpec, merge, merged_csv, run_sweep};

#[test]
fn two_shards_run_every_run_once_and_merge_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mere_exposure.toml");
    let sweep = dir.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        format!(
            "schema = 1\nscenario = {:?}\nseeds = [1, 2]\n[grid]\npopulation = [2]\n\"phases.0.steps\" = [200, 400]\n\"phases.1.steps\" = [100]\n",
            scenario.display().to_string()
        ),
    )
    .unwrap();
    let out = dir.path().join("runs");
    let options = RunOptions::default();
    let a = run_sweep(&sweep, &out, 0, 2, &options).unwrap();
    let b = run_sweep(&sweep, &out, 1, 2, &options).unwrap();
    let (spec, _) = SweepSpec::load(&sweep).unwrap();
    let all = spec.runs();
    assert_eq!(all.len(), 4);
    let mut ids: Vec<_> = a.iter().chain(&b).map(|r| r.id.clone()).collect();
    ids.sort();
    let mut expected: Vec<_> = all.iter().map(|r| r.id.clone()).collect();
    expected.sort();
    assert_eq!(ids, expected, "the two shards together run each run once");

    // The grid reached the runs: each resolved scenario has its own childhood length.
    let rows = |id: &str| read_csv(&out.join(id).join("metrics.csv")).unwrap();
    let resolved = |id: &str| std::fs::read_to_string(out.join(id).join("scenario.toml")).unwrap();
    assert!(resolved(&all[0].id).contains("steps = 200") && resolved(&all[2].id).contains("steps = 400"));
    let last_step = |id: &str| rows(id).iter().map(|r| r.step).max().unwrap();
    assert_eq!((last_step(&all[0].id), last_step(&all[2].id)), (300, 500));

    let (columns, runs) = merge(&sweep, &out).unwrap();
    let csv = merged_csv(&columns, &runs);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "run,seed,phases.0.steps,phases.1.steps,population,phase,step,agent,probe,key,value"
    );
    let total: usize = all.iter().map(|r| rows(&r.id).len()).sum();
    let merged: Vec<&str> = lines.collect();
    assert_eq!(merged.len(), total, "no row lost or added");
    // Every merged row is the run's own row with the run's columns in front.
    let mut k = 0;
    for r in &all {
        for row in rows(&r.id) {
            let tail = format!(
                "{},{},{},{},{},{}",
                row.phase, row.step, row.agent, row.probe, row.key, row.value
            );
            assert!(
                merged[k].starts_with(&format!("{},", r.id)) && merged[k].ends_with(&tail),
                "{}",
                merged[k]
            );
            k += 1;
        }
    }

    // A finished run is not run again (a requeued shard resumes).
    let stamp = std::fs::metadata(out.join(&all[0].id).join("metrics.csv"))
        .unwrap()
        .modified()
        .unwrap();
    run_sweep(&sweep, &out, 0, 2, &options).unwrap();
    assert_eq!(
        std::fs::metadata(out.join(&all[0].id).join("metrics.csv"))
            .unwrap()
            .modified()
            .unwrap(),
        stamp
    );
}

#[test]
fn the_shipped_sweep_expands() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/mere_exposure_dose.toml");
    let (spec, _) = SweepSpec::load(&path).unwrap();
    assert_eq!(spec.runs().len(), 12);
}
