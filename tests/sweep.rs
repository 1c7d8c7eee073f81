//! Sweeps: shards of a grid × seeds cover every run exactly once, and merging is lossless.

use std::path::Path;

use valence::experiment::{RunOptions, read_csv};
use valence::sweep::{ERROR_FILE, SweepSpec, check_sweep, merge, merged_csv, run_sweep};

/// A sweep of the shipped mere-exposure scenario in a new folder: `sweep.toml` with `rest`
/// (seeds and grid) after its `scenario`. Returns the folder and the sweep file.
fn mere_exposure_sweep(rest: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mere_exposure.toml");
    let sweep = dir.path().join("sweep.toml");
    let head = format!("schema = 1\nscenario = {:?}\n", scenario.display().to_string());
    std::fs::write(&sweep, head + rest).unwrap();
    (dir, sweep)
}

#[test]
fn two_shards_run_every_run_once_and_merge_keeps_every_row() {
    let (dir, sweep) = mere_exposure_sweep(
        "seeds = [1, 2]\n[grid]\npopulation = [2]\n\"phases.0.steps\" = [200, 400]\n\"phases.1.steps\" = [100]\n",
    );
    let out = dir.path().join("runs");
    let options = RunOptions::default();
    let a = run_sweep(&sweep, &out, 0, 2, &options).unwrap().runs;
    let b = run_sweep(&sweep, &out, 1, 2, &options).unwrap().runs;
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

    let (columns, runs) = merge(&sweep, &out, false).unwrap();
    let csv = merged_csv(&columns, &runs, false);
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

/// A grid point the scenario refuses fails alone: the other runs finish, the failure is kept in
/// its run's `error.txt` and located in the sweep file at the grid key, `merge` refuses the
/// sweep naming the run (or includes it marked with `--allow-incomplete`), and a rerun skips
/// what finished (#17, item 5).
#[test]
fn a_bad_grid_point_fails_alone_and_merge_names_it() {
    let (dir, sweep) = mere_exposure_sweep(
        "[grid]\npopulation = [2]\n\"phases.0.steps\" = [100, 0, 150]\n\"phases.1.steps\" = [50]\n",
    );
    // `validate` finds it, in the sweep file, at the key that made the scenario fail.
    let e = check_sweep(&sweep).unwrap_err();
    let at = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert!(at.file.ends_with("sweep.toml") && at.line == 5, "{e}");
    assert!(
        e.to_string().contains("grid `phases.0.steps` = 0: run run0001"),
        "{e}"
    );

    let out = dir.path().join("runs");
    let report = run_sweep(&sweep, &out, 0, 1, &RunOptions::default()).unwrap();
    assert_eq!(report.runs.len(), 3);
    let failed: Vec<&str> = report.failed.iter().map(|(r, _)| r.id.as_str()).collect();
    assert_eq!(failed, ["run0001"]);
    for id in ["run0000", "run0002"] {
        assert!(out.join(id).join("summary.json").is_file(), "{id} did not finish");
    }
    let kept = std::fs::read_to_string(out.join("run0001").join(ERROR_FILE)).unwrap();
    assert!(kept.contains("phases.0.steps"), "{kept}");

    let e = merge(&sweep, &out, false).unwrap_err().to_string();
    assert!(e.contains("1 of 3 runs") && e.contains("run0001 (failed:"), "{e}");
    let (columns, runs) = merge(&sweep, &out, true).unwrap();
    let csv = merged_csv(&columns, &runs, true);
    assert!(csv.starts_with("run,seed,complete,phases.0.steps,"), "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.starts_with("run0000,,true,") || l.starts_with("run0002,,true,"))
    );
    assert_eq!(runs.iter().filter(|r| !r.complete).count(), 1);

    // A rerun tries the failed run again and leaves the finished ones alone.
    let stamp = |id: &str| {
        std::fs::metadata(out.join(id).join("metrics.csv"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = stamp("run0000");
    let again = run_sweep(&sweep, &out, 0, 1, &RunOptions::default()).unwrap();
    assert_eq!(again.failed.len(), 1);
    assert_eq!(stamp("run0000"), before);
}

/// Two sweeps into one directory: a run another live process holds is left to it, not run
/// twice into the same files (#17, item 1).
#[test]
fn a_run_another_process_holds_is_left_to_it() {
    let (dir, sweep) = mere_exposure_sweep(
        "seeds = [1, 2]\n[grid]\npopulation = [2]\n\"phases.0.steps\" = [100]\n\"phases.1.steps\" = [50]\n",
    );
    let out = dir.path().join("runs");
    let mut other = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::create_dir_all(out.join("run0000-seed1")).unwrap();
    std::fs::write(out.join("run0000-seed1/.lock"), other.id().to_string()).unwrap();
    let report = run_sweep(&sweep, &out, 0, 1, &RunOptions::default()).unwrap();
    other.kill().unwrap();
    other.wait().unwrap();
    assert_eq!(report.busy.len(), 1, "{report:?}");
    assert_eq!(
        (report.busy[0].0.id.as_str(), report.busy[0].1),
        ("run0000-seed1", other.id())
    );
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(
        !out.join("run0000-seed1/metrics.csv").exists(),
        "the held run was written into"
    );
    assert!(out.join("run0001-seed2/summary.json").is_file());
}
