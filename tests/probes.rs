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

/// The norms probe on a grammar whose good words follow `joy` and bad words `pain`, rated ±2 in
/// a small VADER-format lexicon (30 each): the reward model and the ridge readout rank held-out
/// words with the ratings; the shuffled control is the mean over `permutations` permutations,
/// reported with its spread, and so lies within a few standard errors of 0; with one
/// permutation there is no spread.
#[test]
fn the_norms_control_averages_permutations_and_reports_their_spread() {
    let dir = tempfile::tempdir().unwrap();
    let good: Vec<String> = (0..30).map(|i| format!("good{i}")).collect();
    let bad: Vec<String> = (0..30).map(|i| format!("bad{i}")).collect();
    let lexicon = dir.path().join("lexicon.txt");
    let lines: Vec<String> = good
        .iter()
        .map(|w| format!("{w}\t2.0\t0.5\t[2, 2]"))
        .chain(bad.iter().map(|w| format!("{w}\t-2.0\t0.5\t[-2, -2]")))
        .collect();
    std::fs::write(&lexicon, lines.join("\n")).unwrap();
    let quote = |v: &[String]| {
        v.iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scenario = |permutations: usize| {
        let text = format!(
            r#"schema = 1
model = "../models/conditioning.toml"
population = 3
seed = 2

# Each word's own rating, as `real_language_valence` learns it.
[overrides.vta]
timing = "state"
gamma = 0.0

[world]
kind = "corpus"
[world.rules]
S = ["GOOD joy", "BAD pain"]
GOOD = [{good}]
BAD = [{bad}]

[[phases]]
name = "reading"
steps = 20000
freeze = ["vta"]

[[phases]]
name = "ratings"
steps = 3000
freeze = ["cortex"]
[phases.world]
kind = "lexicon"
path = "{path}"
scale = 2.0

[[probes]]
kind = "norms"
permutations = {permutations}
"#,
            good = quote(&good),
            bad = quote(&bad),
            path = lexicon.display(),
        );
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/norms_test.toml");
        parse_scenario(SourceFile::new(&path, text)).unwrap_or_else(|e| panic!("{e}"))
    };
    let last = |rows: &[valence::experiment::Row], key: &str| -> Vec<f32> {
        let step = rows.iter().map(|r| r.step).max().unwrap();
        rows.iter()
            .filter(|r| r.probe == "norms" && r.key == key && r.step == step)
            .map(|r| r.value)
            .collect()
    };
    let rows = common::run_rows(&scenario(20));
    let (model, ridge) = (last(&rows, "model"), last(&rows, "ridge"));
    let (shuffled, sd) = (last(&rows, "shuffled"), last(&rows, "shuffled_sd"));
    eprintln!("model {model:?}, ridge {ridge:?}, shuffled {shuffled:?} ± {sd:?}");
    assert_eq!((model.len(), shuffled.len(), sd.len()), (3, 3, 3));
    assert!(
        model.iter().chain(&ridge).all(|&r| r > 0.5),
        "{model:?} {ridge:?}"
    );
    for (m, s) in shuffled.iter().zip(&sd) {
        assert!(*s > 0.05, "permutations differ: sd {s}");
        assert!(
            m.abs() < 4.0 * s / 20f32.sqrt(),
            "mean {m} within 4 standard errors of 0 (sd {s})"
        );
    }
    let one = common::run_rows(&scenario(1));
    assert!(last(&one, "shuffled_sd").iter().all(|&s| s == 0.0));
    assert_eq!(last(&one, "model"), model, "the control changes nothing else");
}
