//! Checkpoints and `--resume`: a run continued from its last checkpoint writes the same
//! `metrics.csv` and `summary.json`, byte for byte, as the run that was never interrupted —
//! across every region kind (cortex, reward model, basal ganglia, habit, PFC mid-rollout,
//! hippocampus, action selection) and every world kind (corpus, text/WordNet, lexicon,
//! Pavlovian, bandit, two-step, one-shot), with replay phases and running probes.

mod common;
// Typed run-time errors (one test binary: each links the whole crate).
#[path = "checkpoint/run_errors.rs"]
mod run_errors;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use valence::experiment::{RunPoint, checkpoint_path, fork, resume, run};
use valence::scenario::{Scenario, load_scenario};

/// Asserts that a `valence` command succeeded, showing its stderr if not.
fn succeeded(out: &std::process::Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The scenario with every phase cut to at most `cap` steps and checkpoints every `every`.
fn shrunk(name: &str, cap: u64, every: u64) -> Scenario {
    let mut s = load_scenario(root().join("scenarios").join(name)).unwrap();
    for phase in &mut s.phases {
        phase.steps = phase.steps.min(cap);
    }
    s.checkpoint_every = every;
    s
}

fn files(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join("metrics.csv")).unwrap(),
        std::fs::read(dir.join("summary.json")).unwrap(),
    )
}

/// Runs `s` to the end, then resumes a copy of its directory (summary, plots and readings
/// after the checkpoint removed, as if killed right after it) and compares the files.
fn resumes_exactly(s: &Scenario) {
    let total: u64 = s.phases.iter().map(|p| p.steps).sum();
    let whole = tempfile::tempdir().unwrap();
    run(s, &common::options(whole.path())).unwrap();
    let point = RunPoint::of(whole.path()).unwrap();
    assert!(
        point.step < total && point.step > 0,
        "{}: the last checkpoint (step {}) should fall inside the run ({total} steps)",
        s.name,
        point.step
    );
    let cut = tempfile::tempdir().unwrap();
    std::fs::copy(checkpoint_path(whole.path()), checkpoint_path(cut.path())).unwrap();
    std::fs::copy(
        whole.path().join("scenario.toml"),
        cut.path().join("scenario.toml"),
    )
    .unwrap();
    // metrics.csv as the checkpoint left it: its first `rows` readings.
    let text = std::fs::read_to_string(whole.path().join("metrics.csv")).unwrap();
    // Then what a kill mid-append leaves: readings after the checkpoint and a line cut off
    // inside a quote; and a hidden temporary file of a write the kill interrupted.
    let kept: Vec<&str> = text.lines().take(point.rows + 1).collect();
    let tail = "later,99,0,p,k,1.5\nlater,100,0,\"cut off";
    std::fs::write(cut.path().join("metrics.csv"), kept.join("\n") + "\n" + tail).unwrap();
    let stale = cut.path().join(".summary.json.4000000000-0.tmp"); // no such process
    std::fs::write(&stale, "{\"half\": ").unwrap();
    resume(cut.path(), Some(s), &common::options(cut.path())).unwrap();
    assert!(!stale.exists(), "{}: a stale temporary file was left", s.name);
    let (metrics, summary) = files(whole.path());
    let (resumed_metrics, resumed_summary) = files(cut.path());
    assert!(
        metrics == resumed_metrics,
        "{}: metrics.csv differs after resuming at step {}",
        s.name,
        point.step
    );
    assert!(summary == resumed_summary, "{}: summary.json differs", s.name);
}

#[test]
fn resumed_runs_match_uninterrupted_runs_on_every_world_and_region() {
    if valence::DeviceChoice::from_env().unwrap() != valence::DeviceChoice::Cpu {
        eprintln!("bit-identical resumption is promised on the CPU device only; skipped");
        return;
    }
    // (scenario, steps per phase at most, checkpoint interval): the last checkpoint lands
    // mid-phase, so the resumed run restores a half-done phase (the PFC mid-rollout).
    for (name, cap, every) in [
        ("mere_exposure.toml", 3_000, 1_100),
        ("propaganda.toml", 1_500, 1_300),
        ("pavlovian.toml", 2_000, 900),
        ("one_shot_memory.toml", 400, 250),
        ("two_step.toml", 1_500, 1_150),
        ("millidge_bandit.toml", 1_500, 1_150),
        // The world model mid-window (bptt 8) and the perplexity probe's counts.
        ("polysemy.toml", 1_500, 1_103),
        // A society mid-window (8 ticks) in contact, speakers between a topic and its word.
        ("transmission.toml", 1_500, 1_150),
        // Choices: the instrumental world, the goal-directed model, the imagined worths.
        ("battery/instrumental_devaluation.toml", 1_000, 1_150),
        // The DJ party mid-turn (a song chosen, an evaluation pending).
        ("harmony.toml", 1_000, 1_150),
    ] {
        resumes_exactly(&shrunk(name, cap, every));
    }
}

#[test]
fn resumed_real_language_run_matches_on_wordnet_and_lexicon() {
    if valence::DeviceChoice::from_env().unwrap() != valence::DeviceChoice::Cpu {
        return;
    }
    // Resumed mid-way through the WordNet phase, then mid-way through the lexicon phase.
    for every in [2_000, 3_200] {
        let mut s = shrunk("real_language_valence.toml", 3_000, every);
        s.phases[1].steps = 500;
        s.population = 2;
        resumes_exactly(&s);
    }
}

#[test]
fn a_changed_scenario_or_a_missing_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = resume(dir.path(), None, &common::options(dir.path())).unwrap_err();
    assert!(matches!(err, valence::Error::Resume { .. }), "{err}");
    assert!(err.to_string().contains("no checkpoint to resume from"), "{err}");

    // A scenario file that changes after the run started.
    let scenario = dir.path().join("s.toml");
    let text = std::fs::read_to_string(root().join("scenarios/pavlovian.toml"))
        .unwrap()
        .replace("\"../models/", &format!("\"{}/models/", root().display()))
        .replace("population = 16", "population = 2\ncheckpoint_every = 100");
    std::fs::write(&scenario, &text).unwrap();
    let mut s = load_scenario(&scenario).unwrap();
    for phase in &mut s.phases {
        phase.steps = 150;
    }
    let out = dir.path().join("run");
    run(&s, &common::options(&out)).unwrap();
    std::fs::write(&scenario, text.replace("population = 2", "population = 3")).unwrap();
    let err = resume(&out, None, &common::options(&out)).unwrap_err();
    assert!(
        matches!(&err, valence::Error::Resume { path, .. } if *path == scenario),
        "{err}"
    );
    assert!(
        err.to_string().contains("changed since this run started"),
        "{err}"
    );
}

/// `real_language_valence.toml` edited by `edit`, written to `dir` (its model path made
/// absolute) and read back, every phase cut to at most 3 000 steps, 2 agents, a checkpoint at
/// the end of its WordNet childhood.
fn edited_real_language(dir: &Path, file: &str, edit: impl Fn(String) -> String) -> Scenario {
    let text = std::fs::read_to_string(root().join("scenarios/real_language_valence.toml"))
        .unwrap()
        .replace("\"../models/", &format!("\"{}/models/", root().display()));
    let path = dir.join(file);
    std::fs::write(&path, edit(text)).unwrap();
    let mut s = load_scenario(&path).unwrap();
    for phase in &mut s.phases {
        phase.steps = phase.steps.min(3_000);
    }
    s.phases[1].steps = 500;
    s.population = 2;
    s.checkpoint_every = 3_000;
    s
}

/// A fork — a scenario changed after some checkpoint, started from that checkpoint of another
/// run (`valence run SCENARIO --fork RUN_DIR`) — writes what the changed scenario's own run
/// from step 0 writes, byte for byte, and leaves its parent as it was; a change to what came
/// before the checkpoint is refused, naming the key.
#[test]
fn a_fork_writes_what_the_changed_scenario_writes_from_step_zero() {
    if valence::DeviceChoice::from_env().unwrap() != valence::DeviceChoice::Cpu {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let parent = edited_real_language(tmp.path(), "parent.toml", |t| t);
    let parent_dir = tmp.path().join("parent");
    run(&parent, &common::options(&parent_dir)).unwrap();
    let point = RunPoint::of(&parent_dir).unwrap();
    assert_eq!(
        (point.phase, point.k),
        (0, 3_000),
        "the checkpoint ends the childhood"
    );
    let before = files(&parent_dir);
    let text = |dir: &Path| std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    // The readings of steps up to `step` (`upto`) or after it.
    let readings = |dir: &Path, upto: bool| -> Vec<String> {
        text(dir)
            .lines()
            .skip(1)
            .filter(|l| (l.split(',').nth(1).unwrap().parse::<u64>().unwrap() <= 3_000) == upto)
            .map(String::from)
            .collect()
    };
    // The same childhood; conditioned by a slower reward model, longer.
    let slower = |t: String| {
        t.replace(
            "freeze = [\"cortex\"]\n",
            "freeze = [\"cortex\"]\n\n[phases.overrides.vta]\nlr = 0.01\n",
        )
    };
    let mut child = edited_real_language(tmp.path(), "child.toml", slower);
    child.phases[1].steps = 700;
    let whole = tmp.path().join("whole");
    run(&child, &common::options(&whole)).unwrap();
    let forked = tmp.path().join("fork");
    fork(&parent_dir, &child, &common::options(&forked)).unwrap();
    let (a, b) = (text(&whole), text(&forked));
    let first = a.lines().zip(b.lines()).position(|(x, y)| x != y);
    assert!(
        a == b,
        "the fork's metrics.csv differs from the changed scenario's own run: line {first:?} \
         ({} and {} lines)",
        a.lines().count(),
        b.lines().count()
    );
    assert!(files(&whole) == files(&forked), "summary.json differs");
    assert!(files(&parent_dir) == before, "forking changed the parent's files");
    let provenance = std::fs::read_to_string(forked.join("fork.toml")).unwrap();
    assert!(provenance.contains("step = 3000") && provenance.contains("phase = \"childhood\""));
    assert!(provenance.contains("changed_probes = []"), "{provenance}");
    // The fork's own first checkpoint: it resumes, and forks, like any run.
    assert_eq!(RunPoint::of(&forked).unwrap().step, 3_000);
    let again = tmp.path().join("again");
    fork(&forked, &child, &common::options(&again)).unwrap();
    assert!(files(&again) == files(&whole));

    // Another split of the lexicon: the norms probe, which scores that split, changes with it.
    // Its readings up to the checkpoint are the parent's; after it, the changed run's own.
    let other = |t: String| slower(t).replace("split_seed = 0", "split_seed = 3");
    let mut split = edited_real_language(tmp.path(), "split.toml", other);
    split.phases[1].steps = 700;
    let whole = tmp.path().join("whole-split");
    run(&split, &common::options(&whole)).unwrap();
    let forked = tmp.path().join("fork-split");
    fork(&parent_dir, &split, &common::options(&forked)).unwrap();
    assert_eq!(readings(&forked, true), readings(&parent_dir, true));
    assert!(
        readings(&forked, true) != readings(&whole, true),
        "the split changes the norms readings"
    );
    assert_eq!(readings(&forked, false), readings(&whole, false));
    let provenance = std::fs::read_to_string(forked.join("fork.toml")).unwrap();
    assert!(
        provenance.contains("changed_probes = [\"norms\"]"),
        "{provenance}"
    );

    // Changes before the checkpoint: refused, by name, nothing written.
    let mut wrong = child.clone();
    wrong.phases[0].steps = 2_999;
    let refused = |s: &Scenario, what: &str| {
        let out = tmp.path().join(format!("refused-{what}"));
        let err = fork(&parent_dir, s, &common::options(&out)).unwrap_err();
        assert!(matches!(err, valence::Error::Resume { .. }), "{err}");
        assert!(err.to_string().contains(&format!("`{what}` differs")), "{err}");
        assert!(!out.join("metrics.csv").exists());
    };
    refused(&wrong, "phases[0].steps");
    let lr = edited_real_language(tmp.path(), "lr.toml", |t| {
        t.replace("center = true", "center = true\nlr = 0.02")
    });
    refused(&lr, "model.regions.cortex.lr");
    let mut seed = child.clone();
    seed.seed = 2;
    refused(&seed, "seed");
    // A later world that brings words the parent's tables never had.
    let more = |t: String| {
        t + "\n[[phases]]\nname = \"more\"\nsteps = 10\n\n[phases.world]\nkind = \"wordnet\"\nmin_count = 2\n"
    };
    let more = edited_real_language(tmp.path(), "more.toml", more);
    let err = fork(&parent_dir, &more, &common::options(&tmp.path().join("more"))).unwrap_err();
    assert!(err.to_string().contains("another vocabulary"), "{err}");
    // Into the parent's own directory, or from a directory without a checkpoint.
    let err = fork(&parent_dir, &child, &common::options(&parent_dir)).unwrap_err();
    assert!(err.to_string().contains("another `--out`"), "{err}");
    let err = fork(&whole.join("plots"), &child, &common::options(&forked)).unwrap_err();
    assert!(err.to_string().contains("no checkpoint"), "{err}");
}

/// The CLI end to end: a run killed mid-phase and resumed with `valence run --resume` writes
/// the same `metrics.csv` as one never interrupted.
#[test]
fn a_killed_run_resumes_to_the_same_metrics() {
    if valence::DeviceChoice::from_env().unwrap() != valence::DeviceChoice::Cpu {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("millidge.toml");
    let text = std::fs::read_to_string(root().join("scenarios/millidge_bandit.toml"))
        .unwrap()
        .replace("\"../models/", &format!("\"{}/models/", root().display()))
        .replace("population = 16", "population = 4\ncheckpoint_every = 500");
    std::fs::write(&scenario, text).unwrap();
    let valence = env!("CARGO_BIN_EXE_valence");
    let (killed, whole) = (dir.path().join("killed"), dir.path().join("whole"));
    let mut child = Command::new(valence)
        .args(["run", "--quiet", "--out"])
        .arg(&killed)
        .arg(&scenario)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !checkpoint_path(&killed).is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.join("summary.json").exists(),
        "the run finished before it was killed; lengthen it"
    );
    let point = RunPoint::of(&killed).unwrap();
    assert!(point.step < 21_000, "killed at step {}", point.step);

    let resumed = Command::new(valence)
        .args(["run", "--quiet", "--resume"])
        .arg(&killed)
        .output()
        .unwrap();
    succeeded(&resumed);
    let uninterrupted = Command::new(valence)
        .args(["run", "--quiet", "--out"])
        .arg(&whole)
        .arg(&scenario)
        .output()
        .unwrap();
    succeeded(&uninterrupted);
    assert!(
        files(&killed) == files(&whole),
        "resumed run differs from the uninterrupted one"
    );
}

/// A scenario whose data path is relative to its file, started from its folder by a relative
/// name, resumes from another working directory: data paths are resolved against the scenario
/// file and recorded absolute, so the scenario resolves the same from anywhere (#17, item 3).
#[test]
fn a_run_with_relative_data_paths_resumes_from_another_directory() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp");
    std::fs::create_dir(&exp).unwrap();
    std::fs::write(exp.join("corpus.txt"), "the cat sat\nthe dog ran\n".repeat(20)).unwrap();
    std::fs::write(exp.join("m.toml"), common::CORTEX_VTA_MODEL).unwrap();
    std::fs::write(
        exp.join("s.toml"),
        "schema = 1\nname = \"s\"\nmodel = \"m.toml\"\npopulation = 2\nseed = 1\ncheckpoint_every = 50\n\
         [world]\nkind = \"text\"\npaths = [\"corpus.txt\"]\nmin_count = 1\n\
         [[phases]]\nname = \"a\"\nsteps = 120\n\
         [[probes]]\nkind = \"valence\"\nconcepts = [\"cat\", \"dog\"]\nevery = 10\n",
    )
    .unwrap();
    let valence = env!("CARGO_BIN_EXE_valence");
    let out = Command::new(valence)
        .current_dir(&exp)
        .args(["run", "--quiet", "--out", "../run", "s.toml"])
        .output()
        .unwrap();
    succeeded(&out);
    let run_dir = dir.path().join("run");
    let resolved = std::fs::read_to_string(run_dir.join("scenario.toml")).unwrap();
    let corpus = std::path::absolute(exp.join("corpus.txt")).unwrap();
    assert!(
        resolved.contains(&format!("{:?}", corpus.display().to_string())),
        "{resolved}"
    );
    let whole = files(&run_dir);
    // Resumed from its last checkpoint (step 100), from the folder above.
    let resumed = Command::new(valence)
        .current_dir(dir.path())
        .args(["run", "--quiet", "--resume", "run"])
        .output()
        .unwrap();
    succeeded(&resumed);
    assert!(files(&run_dir) == whole, "the resumed run differs");
}
