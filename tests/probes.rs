//! Every probe kind runs on a small grammar world and records what it promises.

use valence::error::SourceFile;
mod common;

use valence::experiment::run;
use valence::scenario::parse_scenario;

const SCENARIO: &str = r#"schema = 1
model = "../models/mere_exposure.toml"
population = 3
seed = 5

[overrides.cortex]
dim = 8

[world]
kind = "corpus"
[world.rules]
S = ["the cat sat", "the dog ran", "a king ruled", "a queen ruled", "man and woman"]
[world.rewards]
cat = 1.0

[[phases]]
name = "one"
steps = 3000

[[probes]]
kind = "neighbours"
concepts = ["cat", "king"]
k = 3

[[probes]]
kind = "weat"
targets = [["cat", "dog"], ["king", "queen"]]
attributes = [["sat", "ran"], ["ruled", "and"]]

[[probes]]
kind = "analogy"
analogies = [["man", "woman", "king", "queen"]]

[[probes]]
kind = "signal"
signal = "vta.rpe"
every = 1000

[[probes]]
kind = "signal"
name = "reward"
signal = "world.reward"
every = 1
"#;

#[test]
fn every_probe_kind_records_per_agent_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/probes_test.toml");
    let scenario = parse_scenario(SourceFile::new(&path, SCENARIO)).unwrap();
    let out = run(&scenario, &common::options(dir.path())).unwrap();
    let rows = |probe: &str| out.rows.iter().filter(|r| r.probe == probe).collect::<Vec<_>>();

    let n = rows("neighbours");
    assert_eq!(n.len(), 2 * 3 * 3, "2 concepts × k = 3 × 3 agents");
    assert!(
        n.iter()
            .all(|r| r.key.starts_with("cat#") || r.key.starts_with("king#"))
    );
    assert!(
        n.iter()
            .all(|r| !r.key.ends_with(":cat") || !r.key.starts_with("cat#")),
        "a word is not its own neighbour"
    );

    let w = rows("weat");
    assert_eq!(w.len(), 3);
    assert!(
        w.iter()
            .all(|r| r.key == "d" && r.value.is_finite() && r.value.abs() <= 2.0)
    );

    let a = rows("analogy");
    assert_eq!(a.len(), 3);
    assert!(
        a.iter()
            .all(|r| r.key == "man:woman:king:queen" && r.value >= 1.0 && r.value.fract() == 0.0)
    );

    assert_eq!(rows("signal").len(), 3 * 3, "every 1000 steps of 3000, 3 agents");
    // The reward signal is 1 exactly when the word is `cat`: one word in three of one sentence
    // in five, 1/15 of the ticks.
    let reward = rows("reward");
    assert!(reward.iter().all(|r| r.value == 0.0 || r.value == 1.0));
    let rewarded = reward.iter().filter(|r| r.value == 1.0).count() as f64 / (3.0 * 3000.0);
    assert!((rewarded - 1.0 / 15.0).abs() < 0.01, "{rewarded}");
}
