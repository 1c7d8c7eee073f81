//! Meta-RL on bandits (Wang et al. 2018; `scenarios/meta_bandit.toml` at reduced size): after
//! meta-training across episodes of new two-armed bandits, the PFC — weights frozen — plays
//! new episodes with a regret far below a random policy's and below ε-greedy's, all three
//! baselines playing the very same episodes.

mod common;

use std::collections::BTreeMap;

use common::run_rows;
use valence::scenario::Scenario;
use valence::worlds::BanditConfig;

fn scenario() -> Scenario {
    common::scenario("meta_bandit")
}

/// Mean over agents of each probe's last reading in the test phase (each agent's reading is
/// its mean over its test episodes, so this is the mean over all test episodes).
fn test_regrets(s: &Scenario) -> BTreeMap<String, f64> {
    let rows = run_rows(s);
    let last = rows.iter().map(|r| r.step).max().unwrap();
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.phase == "test" && r.step == last) {
        let e = sums.entry(r.probe.clone()).or_default();
        e.0 += f64::from(r.value);
        e.1 += 1;
    }
    sums.into_iter().map(|(k, (s, n))| (k, s / n as f64)).collect()
}

#[test]
fn meta_trained_pfc_beats_random_and_epsilon_greedy_on_new_bandits() {
    let mut s = scenario();
    // CI size: 80 k meta-training ticks (800 updates of 64 agents' episodes) instead of 200 k.
    s.phases[0].steps = 80_000;
    let test = &s.phases[1];
    let Some(world) = test.world.get::<BanditConfig>() else {
        panic!("a bandit world")
    };
    let episodes = s.population as u64 * test.steps / world.episode_length;
    assert!(episodes >= 200, "{episodes} test episodes");
    assert!(
        test.freeze.iter().any(|r| r == "pfc"),
        "the test runs with frozen weights"
    );
    let r = test_regrets(&s);
    eprintln!("mean cumulative regret over {episodes} test episodes of 100 trials: {r:?}");
    let (pfc, random, greedy, thompson) = (r["regret"], r["random"], r["egreedy"], r["thompson"]);
    assert!(pfc <= 0.5 * random, "PFC {pfc:.2} vs random {random:.2}");
    assert!(pfc < greedy, "PFC {pfc:.2} vs ε-greedy {greedy:.2}");
    // The baselines are sane on these episodes.
    assert!(thompson < greedy && greedy < random, "{r:?}");
}

#[test]
fn one_seed_gives_identical_metrics() {
    let mut s = scenario();
    s.phases[0].steps = 3_000;
    s.phases[1].steps = 300;
    let a = run_rows(&s);
    let b = run_rows(&s);
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter()
            .zip(&b)
            .all(|(x, y)| x.value.to_bits() == y.value.to_bits())
    );
}

#[test]
fn the_full_architecture_runs_every_region_together() {
    // models/millidge.toml: cortex, reward model, basal ganglia, habit, PFC and hippocampus all
    // learning on episodic bandits (a smoke test at 2 000 ticks; the benchmark's workload).
    let mut s = common::scenario("millidge_bandit");
    let kinds: Vec<&str> = s.model.regions.iter().map(|(_, r)| r.kind()).collect();
    for kind in [
        "sensory_cortex",
        "reward_model",
        "basal_ganglia",
        "habit",
        "pfc",
        "hippocampus",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    s.phases[0].steps = 2_000;
    s.phases[1].steps = 200;
    let rows = run_rows(&s);
    assert!(rows.iter().all(|r| r.value.is_finite()), "non-finite reading");
    let last = rows.iter().map(|r| r.step).max().unwrap();
    let at_end = |probe: &str| rows.iter().filter(|r| r.step == last && r.probe == probe).count();
    assert_eq!((at_end("regret"), at_end("recall")), (16, 16));
    // The bandit's single cue is recalled from the store every tick.
    assert!(rows.iter().filter(|r| r.probe == "recall").all(|r| r.value > 0.9));
}
