//! A society where valence travels through language (#19, first part: the `society` world and
//! `scenarios/transmission.toml`). In each of two groups one speaker is taught that `x` leads to
//! food (a reward for speakers alone); then it says `good` or `bad` after `x` as its own
//! valence of `x` goes, and its listeners hear it at a contact rate. `sweeps/transmission.toml`
//! runs contact 0 (listening ablated), 0.25, 0.5 and 1. Criteria: listeners' valence of `x`
//! rises above its pre-contact value in ≥ 90% of listeners at the shipped rate (0.5), rises more
//! with more contact (monotone in the medians), and does not move with listening ablated.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use valence::experiment::{Row, RunOptions, read_csv};
use valence::sweep::run_sweep;

/// Per listener (agents whose `world.speaker` reading is 0): valence(x) at the end of contact
/// less at the end of upbringing.
fn listener_gains(rows: &[Row]) -> BTreeMap<usize, f32> {
    let at = |phase| valence::effects::at_phase_end(rows, "valence", "x", phase);
    let speakers = valence::effects::at_phase_end(rows, "speaker", "world.speaker", "contact");
    let (before, after) = (at("upbringing"), at("contact"));
    after
        .iter()
        .filter(|(a, _)| speakers[a] == 0.0)
        .map(|(&a, &v)| (a, v - before[&a]))
        .collect()
}

#[test]
fn listeners_take_up_their_speakers_valence_more_with_more_contact() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let report = run_sweep(
        &root.join("sweeps/transmission.toml"),
        out.path(),
        0,
        1,
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!((report.runs.len(), report.failed.len()), (4, 0));
    let (mut medians, mut agreement) = (Vec::new(), Vec::new());
    for (i, contact) in [0.0, 0.25, 0.5, 1.0].into_iter().enumerate() {
        let rows = read_csv(&out.path().join(format!("run{i:04}-seed1/metrics.csv"))).unwrap();
        let gains = listener_gains(&rows);
        assert_eq!(gains.len(), 14, "two speakers, fourteen listeners");
        let rose = gains.values().filter(|&&g| g > 0.0).count();
        let median = common::median(gains.values().copied().collect());
        eprintln!("contact {contact}: listeners' Δvalence(x) median {median:.3}, rose in {rose}/14");
        if contact == 0.0 {
            assert!(median.abs() < 0.05, "listening ablated, x moved: {median}");
        }
        if contact == 0.5 {
            assert!(rose * 10 >= 9 * 14, "rose in {rose}/14 at the shipped rate");
        }
        medians.push(median);
        // The world's agreement (mean correlation of agents' valences across x, good, bad, food).
        let dir = out.path().join(format!("run{i:04}-seed1"));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        agreement.push(
            summary["probes"]["derived"]["agreement"]["median"]
                .as_f64()
                .unwrap(),
        );
    }
    assert!(
        medians.windows(2).all(|m| m[1] > m[0]),
        "more contact, more valence: {medians:?}"
    );
    // More contact, more agreement (measured 0.14, 0.69, 0.86, 0.89).
    assert!(agreement.windows(2).all(|a| a[1] > a[0]), "{agreement:?}");
    assert!(agreement[3] > 0.8 && agreement[0] < 0.3, "{agreement:?}");
}

/// `sweeps/polarisation.toml`: two communities whose speakers value `x` oppositely, listeners
/// hearing the other community's speaker at 0, 0.1, 0.25 and 0.5. The world's derived
/// `polarisation/x` (between-group over within-group spread, at the end of contact) falls as
/// contact between the communities rises, strictly at every step of the sweep, and the
/// communities' mean valences of `x` stand on opposite sides of 0 without it.
#[test]
fn polarisation_falls_as_contact_between_communities_rises() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let report = run_sweep(
        &root.join("sweeps/polarisation.toml"),
        out.path(),
        0,
        1,
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!((report.runs.len(), report.failed.len()), (4, 0));
    let mut levels = Vec::new();
    for (i, between) in [0.0, 0.1, 0.25, 0.5].into_iter().enumerate() {
        let dir = out.path().join(format!("run{i:04}-seed1"));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        let entry = &summary["probes"]["derived"]["polarisation/x"];
        assert_eq!(entry["phase"], "contact", "{entry}");
        let p = entry["median"].as_f64().unwrap();
        eprintln!("between {between}: polarisation of x {p:.3}");
        if between == 0.0 {
            let rows = read_csv(&dir.join("metrics.csv")).unwrap();
            let x = valence::effects::at_phase_end(&rows, "valence", "x", "contact");
            let mean = |r: std::ops::Range<usize>| r.clone().map(|a| x[&a]).sum::<f32>() / r.len() as f32;
            let (g0, g1) = (mean(0..8), mean(8..16));
            assert!(g0 > 0.1 && g1 < -0.1, "communities at {g0} and {g1}");
            assert!(p > 2.0, "polarisation {p} without contact");
        }
        levels.push(p);
    }
    assert!(levels.windows(2).all(|l| l[1] < l[0]), "{levels:?}");
    assert!(levels[3] < 0.5 * levels[0], "{levels:?}");
}

/// `sweeps/harmony.toml`: eight pairs of DJs (`scenarios/harmony.toml`) with and without the
/// partner's evaluations. Criteria, on the test phase (everything frozen): with speech, the
/// Harmony index beats both random choice (1/3 on the same turns) and selfish choice (0) in
/// every pair, with a median ≥ 0.8 (measured 1.0 in 8/8); the partners' correlation of song
/// valences rises from the end of `tastes` to the end of the party by more than 0.5 (measured
/// −0.85 → 0.93). With speech ablated, Harmony stays below random choice (measured 0.175) and
/// the correlation does not move (|Δ| < 0.1; measured −0.85 → −0.85).
#[test]
fn partners_who_evaluate_each_others_songs_find_harmony_and_converge() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let report = run_sweep(
        &root.join("sweeps/harmony.toml"),
        out.path(),
        0,
        1,
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!((report.runs.len(), report.failed.len()), (2, 0));
    for (i, speech) in [true, false].into_iter().enumerate() {
        let dir = out.path().join(format!("run{i:04}-seed1"));
        let rows = read_csv(&dir.join("metrics.csv")).unwrap();
        let end = |probe, key| valence::effects::at_phase_end(&rows, probe, key, "test");
        let (harmony, random, selfish) = (
            end("harmony", "world.harmony"),
            end("random", "world.harmony_random"),
            end("selfish", "world.harmony_selfish"),
        );
        assert_eq!(harmony.len(), 16);
        let median = common::median(harmony.values().copied().collect());
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        let correlation = |phase: &str| {
            summary["probes"]["derived"][format!("partner_correlation/{phase}")]["median"]
                .as_f64()
                .unwrap()
        };
        let (before, after) = (correlation("tastes"), correlation("party"));
        eprintln!(
            "speech {speech}: Harmony median {median:.3} (random {:.3}, selfish {:.3}); partner correlation {before:.2} → {after:.2}",
            random[&0], selfish[&0]
        );
        for a in 0..16 {
            assert!(
                (random[&a] - 1.0 / 3.0).abs() < 1e-6 && selfish[&a] == 0.0,
                "baselines of agent {a}"
            );
        }
        if speech {
            let beat = harmony.values().filter(|&&h| h > random[&0]).count();
            assert_eq!(beat, 16, "Harmony beats random choice in every pair: {harmony:?}");
            assert!(median >= 0.8, "Harmony median {median}");
            assert!(after - before > 0.5, "partners converge: {before} → {after}");
        } else {
            assert!(median < random[&0], "without speech, Harmony {median}");
            assert!((after - before).abs() < 0.1, "without speech: {before} → {after}");
        }
    }
}
