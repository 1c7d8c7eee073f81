//! The thin slice, end to end: `scenarios/mere_exposure.toml` run through the library as the CLI
//! runs it, checked for the valence-bleed result and for bit-identical reruns.

use std::collections::HashMap;
use std::path::Path;

use valence::DeviceChoice;
use valence::experiment::{Row, RunOptions, run};
use valence::scenario::load_scenario;

fn scenario_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mere_exposure.toml")
}

/// agent → value of `key` at the last valence reading.
fn last_valence(rows: &[Row], key: &str) -> HashMap<usize, f32> {
    let last = rows
        .iter()
        .filter(|r| r.probe == "valence")
        .map(|r| r.step)
        .max()
        .unwrap();
    rows.iter()
        .filter(|r| r.probe == "valence" && r.key == key && r.step == last)
        .map(|r| (r.agent, r.value))
        .collect()
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    valence::experiment::recorder::percentile(&v, 0.5)
}

#[test]
fn mere_exposure_bleeds_valence_to_the_co_occurring_concept_only() {
    let scenario = load_scenario(scenario_path()).unwrap();
    assert!(scenario.population >= 16);
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        out: Some(dir.path().to_path_buf()),
        device: DeviceChoice::from_env().unwrap(),
        ..Default::default()
    };
    let out = run(&scenario, &options).unwrap();
    let (a, b, c) = (
        last_valence(&out.rows, "a"),
        last_valence(&out.rows, "b"),
        last_valence(&out.rows, "c"),
    );
    let p = scenario.population;
    assert_eq!((a.len(), b.len(), c.len()), (p, p, p));
    let b_over_c = (0..p).filter(|i| b[i] > c[i]).count();
    assert!(
        b_over_c as f64 >= 0.9 * p as f64,
        "valence(b) > valence(c) in only {b_over_c}/{p} agents"
    );
    let (ma, mb, mc) = (
        median(a.values().copied().collect()),
        median(b.values().copied().collect()),
        median(c.values().copied().collect()),
    );
    assert!(
        ma > mb,
        "median valence(a) = {ma} should exceed valence(b) = {mb}"
    );
    assert!(mb > 0.0 && mb > mc, "b should gain valence: b = {mb}, c = {mc}");
    // The run directory holds the resolved scenario, the metrics and the summary.
    for f in ["scenario.toml", "metrics.csv", "summary.json"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    let median_b = summary["probes"]["valence"]["b"]["median"].as_f64().unwrap();
    assert!(
        (median_b as f32 - mb).abs() < 1e-6,
        "summary median {median_b} vs {mb}"
    );
    // The resolved scenario is itself a complete record: it names every region parameter.
    let resolved = std::fs::read_to_string(dir.path().join("scenario.toml")).unwrap();
    assert!(
        resolved.contains("weight_decay") && resolved.contains("negatives"),
        "{resolved}"
    );
}

#[test]
fn one_seed_gives_byte_identical_metrics() {
    let mut scenario = load_scenario(scenario_path()).unwrap();
    // A shorter run is enough to expose any nondeterminism (thread scheduling, hashing).
    scenario.population = 8;
    for phase in &mut scenario.phases {
        phase.steps = phase.steps.min(3000);
    }
    let run_once = |seed| {
        let dir = tempfile::tempdir().unwrap();
        let options = RunOptions {
            out: Some(dir.path().to_path_buf()),
            seed: Some(seed),
            ..Default::default()
        };
        run(&scenario, &options).unwrap();
        std::fs::read(dir.path().join("metrics.csv")).unwrap()
    };
    let first = run_once(11);
    assert!(first.len() > 1000);
    assert_eq!(first, run_once(11), "same seed, different metrics.csv");
    assert_ne!(first, run_once(12), "a different seed should change the metrics");
}
