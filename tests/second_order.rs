//! The two routes of valence (`scenarios/second_order.toml`, 16 agents), separated by ablation:
//! with the cortex frozen, `b` gains value only through TD (γ > 0) and not at γ = 0; with the
//! cortex learning and γ = 0, `b` gains value only by geometric bleed.

mod common;
use common::{median, run_rows};

use std::collections::BTreeMap;

use valence::regions::RewardModelConfig;
use valence::scenario::Scenario;

/// Per phase, per concept: each agent's valence at the phase's last probe.
fn valences(s: &Scenario) -> BTreeMap<(String, String), Vec<f32>> {
    let rows = run_rows(s);
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        let e = last.entry(r.phase.clone()).or_insert(0);
        *e = (*e).max(r.step);
    }
    let mut out: BTreeMap<(String, String), Vec<f32>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.step == last[&r.phase]) {
        out.entry((r.phase.clone(), r.key.clone()))
            .or_default()
            .push(r.value);
    }
    out
}

/// (median of b, median of c, agents with b > c) in a phase.
fn b_vs_c(v: &BTreeMap<(String, String), Vec<f32>>, phase: &str) -> (f32, f32, usize) {
    let (b, c) = (
        &v[&(phase.to_string(), "b".to_string())],
        &v[&(phase.to_string(), "c".to_string())],
    );
    (
        median(b.clone()),
        median(c.clone()),
        b.iter().zip(c).filter(|(b, c)| b > c).count(),
    )
}

fn variant(cortex_learns: bool, gamma: f64) -> Scenario {
    let mut s = common::scenario("second_order");
    if !cortex_learns {
        s.phases[0].freeze.push("cortex".into());
    }
    for (_, spec) in &mut s.phases[2].regions {
        if let Some(c) = spec.get_mut::<RewardModelConfig>() {
            c.gamma = gamma;
        }
    }
    s
}

#[test]
fn with_the_cortex_frozen_b_gains_value_through_td_only() {
    let p = variant(false, 0.9).population;
    assert!(p >= 16);
    let td = b_vs_c(&valences(&variant(false, 0.9)), "second_order");
    let no_td = b_vs_c(&valences(&variant(false, 0.0)), "second_order");
    eprintln!(
        "cortex frozen — γ = 0.9: b {:.4}, c {:.4}, b > c in {}; γ = 0: b {:.4}, c {:.4}, b > c in {}",
        td.0, td.1, td.2, no_td.0, no_td.1, no_td.2
    );
    assert!(
        td.0 - td.1 > 0.02 && td.2 * 10 >= p * 9,
        "TD should carry value to b: {td:?}"
    );
    assert!(
        no_td.0.abs() < 0.25 * td.0,
        "without TD, b should stay near 0: {no_td:?}"
    );
    assert!(
        no_td.2 * 4 <= p * 3,
        "without TD or geometry b should not beat c reliably: {no_td:?}"
    );
}

#[test]
fn with_gamma_zero_b_gains_value_through_geometry_only() {
    let learning = b_vs_c(&valences(&variant(true, 0.0)), "conditioning");
    let frozen = b_vs_c(&valences(&variant(false, 0.0)), "conditioning");
    eprintln!(
        "γ = 0 — cortex learning: b {:.4}, c {:.4}, b > c in {}; frozen: b {:.4}, c {:.4}, b > c in {}",
        learning.0, learning.1, learning.2, frozen.0, frozen.1, frozen.2
    );
    let p = variant(true, 0.0).population;
    assert!(
        learning.0 > 0.05 && learning.2 * 10 >= p * 9,
        "geometry should carry value to b: {learning:?}"
    );
    assert!(
        frozen.0.abs() < 0.05 && frozen.2 * 4 <= p * 3,
        "a frozen cortex has no geometry to bleed through: {frozen:?}"
    );
}
