//! Values that reward themselves (#18, the "should" loop; `src/regions/self_reward.rs`):
//! `sweeps/values_outlast.toml` runs `scenarios/values_outlast.toml` with the loop on once the
//! rewards have stopped, and with its edge ablated throughout; agents are paired across the two
//! arms (same seed, same streams until adulthood). Criteria are what `models/self_reward.toml`
//! (gain 2, threshold 0.1, clip 1) measures — the target of 90% of agents is *not* met
//! (81% and 88%; the README says so), and these tests hold the measured levels.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use valence::experiment::{Row, RunOptions, read_csv, run};
use valence::scenario::{Scenario, load_scenario};
use valence::sweep::run_sweep;

/// Each agent's last reading of `valence`/`key` in `phase`.
fn at_end(rows: &[Row], key: &str, phase: &str) -> BTreeMap<usize, f32> {
    valence::effects::at_phase_end(rows, "valence", key, phase)
}

#[test]
fn with_the_loop_values_outlast_their_rewards_and_bleed_compounds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let report = run_sweep(
        &root.join("sweeps/values_outlast.toml"),
        out.path(),
        0,
        1,
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!((report.runs.len(), report.failed.len()), (6, 0));
    // Runs 0–2: the loop (seeds 1–3); 3–5: ablated (seeds 1–3).
    let rows = |i: usize, seed: usize| {
        read_csv(&out.path().join(format!("run{i:04}-seed{seed}/metrics.csv"))).unwrap()
    };
    let (mut v_more, mut n_more, mut agents) = (0, 0, 0);
    let (mut v_loop, mut v_ablated, mut n_loop, mut n_ablated) = (vec![], vec![], vec![], vec![]);
    for seed in 1..=3 {
        let (with, without) = (rows(seed - 1, seed), rows(seed + 2, seed));
        // Both arms enter adulthood alike.
        assert_eq!(
            at_end(&with, "v", "upbringing"),
            at_end(&without, "v", "upbringing")
        );
        let (vw, vo) = (
            at_end(&with, "v", "adulthood"),
            at_end(&without, "v", "adulthood"),
        );
        let (nw, no) = (
            at_end(&with, "n", "adulthood"),
            at_end(&without, "n", "adulthood"),
        );
        for a in vw.keys() {
            agents += 1;
            v_more += usize::from(vw[a] > vo[a]);
            n_more += usize::from(nw[a] > no[a]);
        }
        v_loop.extend(vw.values());
        v_ablated.extend(vo.values());
        n_loop.extend(nw.values());
        n_ablated.extend(no.values());
    }
    let (vl, va) = (common::median(v_loop), common::median(v_ablated));
    let (nl, na) = (common::median(n_loop), common::median(n_ablated));
    eprintln!(
        "v: {vl:.3} with the loop, {va:.3} without, higher in {v_more}/{agents}; \
         n: {nl:.3} vs {na:.3}, higher in {n_more}/{agents}"
    );
    assert_eq!(agents, 48);
    // Values outlast their causes: after 6 000 ticks without reward, v keeps most of its value
    // with the loop, and almost none without.
    assert!(vl > 0.4 && va < 0.05, "v: {vl} with the loop, {va} without");
    assert!(
        v_more * 100 >= 75 * agents,
        "v higher with the loop in {v_more}/{agents}"
    );
    // Bleed compounds: n, which only ever precedes v after v's rewards stopped, gains more.
    assert!(nl > 0.5 && na < 0.05, "n: {nl} with the loop, {na} without");
    assert!(
        n_more * 100 >= 80 * agents,
        "n higher with the loop in {n_more}/{agents}"
    );
}

fn with_gain(gain: f64, limit: f64) -> Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut s = load_scenario(root.join("scenarios/values_outlast.toml")).unwrap();
    let (_, should) = s.model.regions.iter_mut().find(|(n, _)| n == "should").unwrap();
    let c = should.get_mut::<valence::regions::SelfRewardConfig>().unwrap();
    (c.gain, c.limit) = (gain, limit);
    s
}

/// The runaway check: at a gain of 0.5 the loop cannot hold a value above its threshold and
/// every value stays small; at 2, with the clip raised to 1000, values run away — to a bound
/// the clip sets (about c / (1 − γ)), finite, so no setting reaches the divergence check. (At a
/// gain of 1 most agents stay calm, but some, whose geometry spreads one value over several
/// words, already run away: 1 800 with the clip at 1000.)
#[test]
fn a_gain_beyond_one_runs_away_to_the_clips_bound() {
    let largest = |s: &Scenario| {
        let dir = tempfile::tempdir().unwrap();
        let out = run(s, &common::options(dir.path())).unwrap();
        out.rows.iter().map(|r| r.value.abs()).fold(0.0f32, f32::max)
    };
    let calm = largest(&with_gain(0.5, 1000.0));
    let runaway = largest(&with_gain(2.0, 1000.0));
    eprintln!("largest |valence|: gain 0.5 → {calm:.3}, gain 2 with clip 1000 → {runaway:.1}");
    assert!(calm < 1.0, "gain 0.5: {calm}");
    assert!(runaway > 100.0 && runaway.is_finite(), "gain 2: {runaway}");
    assert!(
        runaway < 1000.0 / (1.0 - 0.9) * 2.0,
        "bounded by the clip: {runaway}"
    );
}
