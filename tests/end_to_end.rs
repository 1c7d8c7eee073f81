//! The thin slice, end to end: `scenarios/mere_exposure.toml` run through the library as the CLI
//! runs it, checked for the valence-bleed result and for bit-identical reruns.

mod common;
use common::median;

use std::collections::HashMap;
use std::path::Path;

use valence::error::SourceFile;
use valence::experiment::{Row, RunOptions, run};
use valence::scenario::{Scenario, load_scenario, parse_scenario};

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

/// agent → last reading of `key` in probe `probe`.
fn last(rows: &[Row], probe: &str, key: &str) -> HashMap<usize, f32> {
    let step = rows
        .iter()
        .filter(|r| r.probe == probe)
        .map(|r| r.step)
        .max()
        .unwrap();
    rows.iter()
        .filter(|r| r.probe == probe && r.key == key && r.step == step)
        .map(|r| (r.agent, r.value))
        .collect()
}

/// The valence-bleed curve (DESIGN §5.4): b0…b4 meet rewarded `a` at rates 0, ¼, ½, ¾, 1 in
/// childhood; with the cortex frozen at conditioning, their valence rises with the dose, and the
/// control `c` (as much company, none of it `a`) does not gain.
#[test]
fn mere_exposure_valence_rises_with_the_dose_of_co_occurrence() {
    let scenario = load_scenario(scenario_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let medians = dose_response(&scenario, dir.path());
    assert!(dir.path().join("plots/dose_valence.png").is_file());
    // The run directory holds the resolved scenario, the metrics and the summary.
    for f in ["scenario.toml", "metrics.csv", "summary.json"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    let median_b4 = summary["probes"]["valence"]["b4"]["median"].as_f64().unwrap();
    assert!(
        (median_b4 as f32 - medians[4]).abs() < 1e-6,
        "summary median {median_b4} vs {}",
        medians[4]
    );
    // The resolved scenario is itself a complete record: it names every region parameter.
    let resolved = std::fs::read_to_string(dir.path().join("scenario.toml")).unwrap();
    assert!(
        resolved.contains("weight_decay") && resolved.contains("negatives"),
        "{resolved}"
    );
}

/// The same curve with the population's noise tokens shared (the cortex's `shared_negatives`,
/// a speed option for large populations): the draws change, the dose–response must not.
#[test]
fn mere_exposure_holds_with_shared_noise_draws() {
    let path = scenario_path();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\n[world]\n"));
    let text = text.replace(
        "\n[world]\n",
        "\n[overrides.cortex]\nshared_negatives = true\n\n[world]\n",
    );
    let scenario = parse_scenario(SourceFile::new(path, text)).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    dose_response(&scenario, dir.path());
    let resolved = std::fs::read_to_string(dir.path().join("scenario.toml")).unwrap();
    assert!(resolved.contains("shared_negatives = true"), "{resolved}");
}

/// Runs a mere-exposure scenario into `dir` and checks its dose–response (the assertions of
/// DESIGN §5.4); the median valence of b0…b4.
fn dose_response(scenario: &Scenario, dir: &Path) -> Vec<f32> {
    assert!(scenario.population >= 16);
    let out = run(scenario, &common::options(dir)).unwrap();
    let p = scenario.population;
    let doses = ["b0", "b1", "b2", "b3", "b4"];
    let valence: Vec<HashMap<usize, f32>> = doses.iter().map(|b| last_valence(&out.rows, b)).collect();
    let exposure: Vec<HashMap<usize, f32>> = doses
        .iter()
        .map(|b| last(&out.rows, "exposure", &format!("{b}~a")))
        .collect();
    let (a, c) = (last_valence(&out.rows, "a"), last_valence(&out.rows, "c"));
    assert!(valence.iter().chain(&exposure).all(|m| m.len() == p));

    // The dose is what the scenario says it is: rising with k, near zero for b0 (only where
    // a sentence ending in `a` meets the next one beginning `… b0`: the corpus has no boundaries).
    let dose_medians: Vec<f32> = exposure
        .iter()
        .map(|m| median(m.values().copied().collect()))
        .collect();
    assert!(
        dose_medians.windows(2).all(|w| w[1] > w[0] + 100.0),
        "doses {dose_medians:?}"
    );
    assert!(dose_medians[0] < 0.05 * dose_medians[4], "doses {dose_medians:?}");

    let medians: Vec<f32> = valence
        .iter()
        .map(|m| median(m.values().copied().collect()))
        .collect();
    eprintln!("median valence by dose {medians:?} (doses {dose_medians:?})");
    // Monotone non-decreasing within noise (a drop of at most 0.01 between neighbours).
    assert!(medians.windows(2).all(|w| w[1] >= w[0] - 0.01), "{medians:?}");
    let rise = medians[4] - medians[0];
    assert!(rise > 0.08, "top dose over zero dose: {rise}");
    let top_over_zero = (0..p).filter(|i| valence[4][i] > valence[0][i]).count();
    assert!(
        top_over_zero as f64 >= 0.9 * p as f64,
        "b4 > b0 in only {top_over_zero}/{p}"
    );
    let top_over_control = (0..p).filter(|i| valence[4][i] > c[i]).count();
    assert!(
        top_over_control as f64 >= 0.9 * p as f64,
        "b4 > c in only {top_over_control}/{p}"
    );
    let (ma, mc) = (
        median(a.values().copied().collect()),
        median(c.values().copied().collect()),
    );
    assert!(
        ma > medians[4],
        "the rewarded concept keeps the most value: a {ma}, b4 {}",
        medians[4]
    );
    assert!(
        mc <= medians[0] + 0.02,
        "the control does not gain: c {mc}, b0 {}",
        medians[0]
    );
    medians
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
            seed: Some(seed),
            ..common::options(dir.path())
        };
        run(&scenario, &options).unwrap();
        std::fs::read(dir.path().join("metrics.csv")).unwrap()
    };
    let first = run_once(11);
    assert!(first.len() > 1000);
    assert_eq!(first, run_once(11), "same seed, different metrics.csv");
    assert_ne!(first, run_once(12), "a different seed should change the metrics");
}
