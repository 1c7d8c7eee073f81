//! The valence-bleed suite at CI size: propaganda, ideology clustering and sparse reward, each a
//! scenario file run as written and, where the claim is a comparison, with one intervention
//! (a frozen region) applied to the loaded scenario — no special-purpose code.

mod common;
use common::{median, run_rows};

use std::collections::BTreeMap;

use valence::experiment::Row;
use valence::scenario::Scenario;

fn scenario(name: &str) -> Scenario {
    common::scenario(name)
}

/// Each agent's valence of `concept` at the last valence reading of `phase`.
fn valence_at_end(rows: &[Row], phase: &str, concept: &str) -> Vec<f32> {
    let in_phase = |r: &&Row| r.probe == "valence" && r.phase == phase;
    let last = rows.iter().filter(in_phase).map(|r| r.step).max().unwrap();
    let mut v: BTreeMap<usize, f32> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(in_phase)
        .filter(|r| r.step == last && r.key == concept)
    {
        v.insert(r.agent, r.value);
    }
    v.into_values().collect()
}

fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let a: Vec<f64> = a.iter().map(|&x| x.into()).collect();
    let b: Vec<f64> = b.iter().map(|&x| x.into()).collect();
    valence::analysis::pearson(&a, &b)
}

#[test]
fn propaganda_raises_valence_more_when_the_cortex_learns() {
    let learning = scenario("propaganda");
    let mut frozen = learning.clone();
    let campaign = frozen.phases.iter_mut().find(|p| p.name == "campaign").unwrap();
    campaign.freeze.push("cortex".into());

    let rise = |rows: &[Row]| -> Vec<f32> {
        let before = valence_at_end(rows, "conditioning", "x");
        let after = valence_at_end(rows, "campaign", "x");
        after.iter().zip(&before).map(|(a, b)| a - b).collect()
    };
    let with = run_rows(&learning);
    let (rise_learning, rise_frozen) = (rise(&with), rise(&run_rows(&frozen)));
    let (ml, mf) = (median(rise_learning.clone()), median(rise_frozen.clone()));
    let more = rise_learning
        .iter()
        .zip(&rise_frozen)
        .filter(|(l, f)| l > f)
        .count();
    eprintln!(
        "rise of valence(x) in the campaign: cortex learning {ml:.4}, frozen {mf:.4}; {more}/32 agents"
    );
    assert!(ml > 0.05, "valence(x) should rise during the campaign: {ml}");
    assert!(ml > mf + 0.05, "learning {ml} vs frozen {mf}");
    assert!(more >= 29, "{more}/32 agents");
    // Recovery: without the campaign, x drifts back toward its old value.
    let end = median(valence_at_end(&with, "recovery", "x"));
    let peak = median(valence_at_end(&with, "campaign", "x"));
    assert!(end < peak, "recovery {end} vs campaign {peak}");
}

#[test]
fn ideology_positions_correlate_within_a_side_not_across() {
    let s = scenario("ideology");
    let rows = run_rows(&s);
    let v: Vec<Vec<f32>> = ["x1", "x2", "x3", "x4", "y1", "y2", "y3", "y4"]
        .iter()
        .map(|c| valence_at_end(&rows, "life", c))
        .collect();
    assert!(v.iter().all(|a| a.len() == s.population));
    let (mut within, mut across) = (Vec::new(), Vec::new());
    for i in 0..8 {
        for j in i + 1..8 {
            let r = pearson(&v[i], &v[j]);
            if (i < 4) == (j < 4) {
                within.push(r)
            } else {
                across.push(r)
            }
        }
    }
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let (w, a) = (mean(&within), mean(&across));
    eprintln!("across agents: mean r within a side {w:.3}, across sides {a:.3}");
    assert!(w > 0.8, "within {w}");
    assert!(w > a + 0.5, "within {w} vs across {a}");
    assert!(
        within.iter().all(|&r| r > a),
        "every within-side pair above the across mean"
    );
}

#[test]
fn sparser_rewards_leave_a_larger_share_of_valence_to_geometric_bleed() {
    let intact = scenario("sparse_reward");
    let mut ablated = intact.clone();
    ablated.phases[0].freeze.push("cortex".into());
    let (with, without) = (run_rows(&intact), run_rows(&ablated));
    let share: Vec<f32> = ["t1", "t2", "t3"]
        .iter()
        .map(|t| {
            let full = median(valence_at_end(&with, "conditioning", t));
            let direct = median(valence_at_end(&without, "conditioning", t));
            assert!(full > 0.0, "{t}: {full}");
            1.0 - direct / full
        })
        .collect();
    eprintln!("share of valence from geometric bleed, dense → sparse: {share:?}");
    assert!(share[2] > share[0] + 0.2, "{share:?}");
    assert!(share.windows(2).all(|w| w[1] >= w[0] - 0.05), "{share:?}");
}
