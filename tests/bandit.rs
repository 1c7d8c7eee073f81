//! Actor-critic on a two-armed bandit (0.8 vs 0.2; `scenarios/bandit.toml`, 16 agents): the
//! basal ganglia learns the better arm from the dopaminergic δ alone and relearns after a
//! reversal; a habit prior makes the old choice persist measurably longer.

use std::collections::BTreeMap;

mod common;

use valence::experiment::run;
use valence::regions::ActionSelectionConfig;
use valence::scenario::Scenario;

fn scenario() -> Scenario {
    common::scenario("bandit")
}

/// Share of choices of the best arm in each step window, pooled over agents.
fn accuracy(s: &Scenario, windows: &[(u64, u64)]) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let out = run(s, &common::options(dir.path())).unwrap();
    let mut ticks: BTreeMap<(usize, u64), (f32, f32)> = BTreeMap::new();
    for r in &out.rows {
        let e = ticks.entry((r.agent, r.step)).or_insert((-1.0, -2.0));
        match r.probe.as_str() {
            "choice" => e.0 = r.value,
            "best" => e.1 = r.value,
            _ => {}
        }
    }
    windows
        .iter()
        .map(|&(lo, hi)| {
            let w: Vec<_> = ticks.iter().filter(|((_, s), _)| (lo..hi).contains(s)).collect();
            w.iter().filter(|(_, (c, b))| c == b).count() as f64 / w.len() as f64
        })
        .collect()
}

#[test]
fn actor_critic_learns_the_better_arm_and_recovers_after_reversal() {
    let s = scenario();
    assert!(s.population >= 16);
    let (a, r) = (s.phases[0].steps, s.phases[1].steps);
    let acc = accuracy(&s, &[(a - 500, a), (a + r - 500, a + r)]);
    eprintln!(
        "better arm chosen: end of acquisition {:.3}, end of reversal {:.3}",
        acc[0], acc[1]
    );
    assert!(
        acc[0] > 0.9,
        "after training the better arm should be chosen > 90%: {}",
        acc[0]
    );
    assert!(
        acc[1] > 0.9,
        "after the reversal the new better arm should be chosen > 90%: {}",
        acc[1]
    );
}

#[test]
fn a_habit_prior_makes_the_old_choice_persist_after_reversal() {
    let base = scenario();
    let a = base.phases[0].steps;
    let with_habit = |weight: f64| {
        let mut s = base.clone();
        for (_, spec) in &mut s.model.regions {
            if let Some(c) = spec.get_mut::<ActionSelectionConfig>() {
                c.habit_weight = weight;
            }
        }
        // Share of choices still going to the old arm in the 300 steps after the reversal.
        1.0 - accuracy(&s, &[(a, a + 300)])[0]
    };
    let (none, habit) = (with_habit(0.0), with_habit(2.0));
    eprintln!("old arm chosen after reversal: habit weight 0 → {none:.3}, 2 → {habit:.3}");
    assert!(
        habit > none + 0.05,
        "habit should prolong the old choice: {habit} vs {none}"
    );
}
