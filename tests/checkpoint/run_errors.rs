//! Run-time failures are typed: a test (or a caller) matches on what failed — a diverged region
//! and agent, a checkpoint key, a world, a probe, a run that cannot be resumed — and on where
//! (phase and step), never on message text.

use valence::Error;
use valence::error::SourceFile;
use valence::experiment::{resume, run};
use valence::scenario::{Scenario, parse_scenario};

use super::common;

use common::CORTEX_VTA_MODEL as MODEL;

const SCENARIO: &str = r#"schema = 1
model = "m.toml"
population = 3
seed = 1

[world]
kind = "corpus"
[world.rules]
S = ["apple pie", "stone wall"]
[world.rewards]
apple = 1.0

[[phases]]
name = "learn"
steps = 200

[[probes]]
kind = "valence"
concepts = ["apple", "stone"]
every = 10
"#;

fn scenario(text: &str, dir: &std::path::Path) -> Scenario {
    std::fs::write(dir.join("m.toml"), MODEL).unwrap();
    parse_scenario(SourceFile::new(dir.join("s.toml"), text)).unwrap()
}

#[test]
fn a_diverging_region_is_named_with_its_agent_phase_and_step() {
    let dir = tempfile::tempdir().unwrap();
    // A learning rate that sends the reward model's weights past f32's range in a few ticks.
    let s = scenario(
        &SCENARIO.replace("seed = 1\n", "seed = 1\n[overrides.vta]\nlr = 1e20\n"),
        dir.path(),
    );
    let out = dir.path().join("run");
    let e = run(&s, &common::options(&out)).unwrap_err();
    let Error::Diverged {
        ref phase,
        step,
        ref region,
        agent,
        ..
    } = e
    else {
        panic!("expected a divergence, got {e}")
    };
    assert_eq!((phase.as_str(), region.as_str()), ("learn", "vta"), "{e}");
    // Caught at the tick it happens (the first agent to diverge then), not at the next probe.
    assert!(agent < 3 && step > 0 && step < 10, "{e}");
    assert_eq!(e.region(), Some("vta"));
    assert_eq!(e.at_step(), Some(("learn", step)));
    // The readings before it are on disk.
    assert!(out.join("metrics.csv").is_file());
    // The same scenario at a sane rate runs through.
    run(
        &scenario(SCENARIO, dir.path()),
        &common::options(&dir.path().join("ok")),
    )
    .unwrap();
}

/// Divergence is checked every tick, not only when a probe is due: a run whose probe is never
/// due before the end, or that has no probes, stops at (nearly) the same step as one probed
/// every tick, instead of running on NaN or exiting 0.
#[test]
fn divergence_is_caught_between_probes_and_without_any() {
    let dir = tempfile::tempdir().unwrap();
    let diverging = SCENARIO.replace("seed = 1\n", "seed = 1\n[overrides.vta]\nlr = 1e20\n");
    let step_of = |text: &str, out: &str| {
        let e = run(
            &scenario(text, dir.path()),
            &common::options(&dir.path().join(out)),
        )
        .unwrap_err();
        match e {
            Error::Diverged { step, ref region, .. } => {
                assert_eq!(region, "vta", "{e}");
                step
            }
            _ => panic!("{out}: expected a divergence, got {e}"),
        }
    };
    let dense = step_of(&diverging.replace("every = 10", "every = 1"), "dense");
    let sparse = step_of(&diverging.replace("every = 10", "every = 1000000"), "sparse");
    let probes = diverging.find("[[probes]]").unwrap();
    let none = step_of(&diverging[..probes], "none");
    assert!(dense < 200, "{dense}");
    for (what, step) in [("never-due probe", sparse), ("no probes", none)] {
        assert!(
            (dense..=dense + 2).contains(&step),
            "{what}: caught at step {step}, probed every tick at {dense}"
        );
    }
}

/// The reference scenario with a checkpoint every 50 steps, run to the end into `dir/run`.
fn checkpointed_run(dir: &std::path::Path) -> (Scenario, std::path::PathBuf) {
    let with = SCENARIO.replace("population = 3\n", "population = 3\ncheckpoint_every = 50\n");
    let s = scenario(&with, dir);
    let out = dir.join("run");
    run(&s, &common::options(&out)).unwrap();
    (s, out)
}

#[test]
fn resuming_without_a_checkpoint_or_from_a_broken_one_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let e = resume(dir.path(), None, &common::options(dir.path())).unwrap_err();
    assert!(
        matches!(e, Error::Resume { ref path, .. } if path.ends_with("checkpoint.bin")),
        "{e}"
    );

    // A checkpoint whose region state lacks a key: the error names the key, under its region.
    let (s, out) = checkpointed_run(dir.path());
    let path = out.join("checkpoint.bin");
    let bytes = std::fs::read(&path).unwrap();
    let snapshot = valence::checkpoint::Snapshot::from_bytes(&bytes, &path).unwrap();
    let mut broken = valence::checkpoint::Snapshot::default();
    for key in ["run/source", "run/seed", "run/scenario", "run/point"] {
        let v: ciborium::Value = snapshot.get(key).unwrap();
        broken.put(key, &v);
    }
    broken.write(&path).unwrap();
    let e = resume(&out, Some(&s), &common::options(&out)).unwrap_err();
    // The first region in tick order is restored first.
    assert_eq!(e.region(), Some("cortex"), "{e}");
    match e.root() {
        Error::Checkpoint { key, .. } => {
            assert!(!key.is_empty() && e.to_string().contains(key.as_str()), "{e}")
        }
        other => panic!("expected a checkpoint error, got {other}"),
    }
}

/// A `metrics.csv` that no longer starts with the readings the checkpoint saw (changed after
/// it was written) is refused before anything is cut from it; a damaged checkpoint is refused.
#[test]
fn readings_that_do_not_match_the_checkpoint_are_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (s, out) = checkpointed_run(dir.path());
    let metrics = out.join("metrics.csv");
    let text = std::fs::read_to_string(&metrics).unwrap();
    // One reading removed near the start: the checkpoint's prefix now holds one fewer.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(1);
    let changed = lines.join("\n") + "\n";
    std::fs::write(&metrics, &changed).unwrap();
    let e = resume(&out, Some(&s), &common::options(&out)).unwrap_err();
    assert!(
        e.to_string().contains("not the") && e.to_string().contains("readings the checkpoint saw"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(&metrics).unwrap(),
        changed,
        "the readings were cut"
    );

    // A flipped bit in the checkpoint.
    std::fs::write(&metrics, &text).unwrap();
    let path = out.join("checkpoint.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let e = resume(&out, Some(&s), &common::options(&out)).unwrap_err();
    assert!(e.to_string().contains("the checkpoint is damaged"), "{e}");
}
