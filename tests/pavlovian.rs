//! Schultz, Dayan & Montague (1997): over cue → reward training the dopamine RPE at the reward
//! falls toward 0 and the RPE at the cue rises; omitting the reward after training gives a dip
//! at the time it was due; with a 50% reward the cue's RPE is about half the reward.
//! `scenarios/pavlovian.toml`, 16 agents, fixed seed.

mod common;
use common::{median, run_rows};

use std::collections::BTreeMap;

use valence::experiment::Row;
use valence::scenario::Scenario;
use valence::worlds::PavlovianConfig;

/// One agent's tick: (δ, time since the cue, phase).
type Tick = (Option<f32>, Option<f32>, String);

/// Per agent, per trial: (phase, δ at the cue, δ when the reward is due).
fn trials(rows: &[Row], delay: f32) -> BTreeMap<usize, Vec<(String, f32, f32)>> {
    let mut by_agent: BTreeMap<usize, BTreeMap<u64, Tick>> = BTreeMap::new();
    for r in rows {
        let e = by_agent
            .entry(r.agent)
            .or_default()
            .entry(r.step)
            .or_insert((None, None, r.phase.clone()));
        match r.probe.as_str() {
            "rpe" => e.0 = Some(r.value),
            "time" => e.1 = Some(r.value),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for (agent, steps) in by_agent {
        let mut list: Vec<(String, f32, f32)> = Vec::new();
        for (rpe, time, phase) in steps.into_values() {
            let (Some(rpe), Some(time)) = (rpe, time) else {
                continue;
            };
            if time == 0.0 {
                list.push((phase, rpe, f32::NAN));
            } else if let Some(last) = list.last_mut().filter(|_| time == delay) {
                last.2 = rpe;
            }
        }
        list.retain(|t| !t.2.is_nan());
        out.insert(agent, list);
    }
    out
}

fn scenario() -> Scenario {
    common::scenario("pavlovian")
}

#[test]
fn rpe_moves_from_reward_to_cue_and_dips_on_omission() {
    let s = scenario();
    assert!(s.population >= 16);
    let Some(w) = s.world.get::<PavlovianConfig>() else {
        panic!("a pavlovian world")
    };
    let (delay, reward) = (w.delay as f32, w.reward as f32);
    let trials = trials(&run_rows(&s), delay);
    let (mut first, mut late_reward, mut late_cue, mut omitted) = (vec![], vec![], vec![], vec![]);
    for list in trials.values() {
        let training: Vec<_> = list.iter().filter(|t| t.0 == "training").collect();
        first.push(training[0].2);
        let late = &training[training.len() - 10..];
        late_reward.push(late.iter().map(|t| t.2).sum::<f32>() / 10.0);
        late_cue.push(late.iter().map(|t| t.1).sum::<f32>() / 10.0);
        omitted.push(
            list.iter()
                .find(|t| t.0 == "omission")
                .expect("an omission trial")
                .2,
        );
    }
    let (first, late_reward, late_cue, omitted) = (
        median(first),
        median(late_reward),
        median(late_cue),
        median(omitted),
    );
    eprintln!(
        "δ at reward: first trial {first:.3}, late {late_reward:.3}; δ at cue late {late_cue:.3}; omission {omitted:.3}"
    );
    assert!(
        (first - reward).abs() < 1e-6,
        "an unpredicted reward is all surprise: {first}"
    );
    assert!(
        late_reward.abs() < 0.2 * first,
        "δ at the reward should fall below 20% of its first value: {late_reward}"
    );
    assert!(
        late_cue > 0.5 * reward,
        "δ at the cue should rise above half the reward: {late_cue}"
    );
    assert!(
        omitted < -0.5 * reward,
        "omission should dip below −0.5 × reward: {omitted}"
    );
}

#[test]
fn half_the_reward_predicted_gives_half_the_cue_response() {
    let mut s = scenario();
    for phase in &mut s.phases {
        if let Some(w) = phase.world.get_mut::<PavlovianConfig>() {
            w.probability = 0.5;
        }
    }
    s.phases.truncate(1);
    let Some(w) = s.phases[0].world.get::<PavlovianConfig>() else {
        panic!("a pavlovian world")
    };
    let (delay, reward) = (w.delay as f32, w.reward as f32);
    let trials = trials(&run_rows(&s), delay);
    let late_cue = median(
        trials
            .values()
            .map(|list| list[list.len() - 20..].iter().map(|t| t.1).sum::<f32>() / 20.0)
            .collect(),
    );
    eprintln!("δ at cue with p = 0.5: {late_cue:.3}");
    assert!(
        (late_cue / reward - 0.5).abs() <= 0.15,
        "δ at the cue = {late_cue}, expected 0.5 ± 0.15 of the reward"
    );
}
