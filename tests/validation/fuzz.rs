//! Mutation fuzzing of the file parsers (#17): every shipped model, scenario and sweep file is
//! mutated many times over — numbers swapped for extremes (0, negative, huge, `nan`, `inf`,
//! past i64), strings for empty, path-like or very long ones, lines deleted, duplicated or
//! swapped, the text cut off — and each mutant checked as `valence validate` checks it.
//! Asserted: nothing panics, and every error is located (`file:line:col`), or is an I/O error
//! naming the file that cannot be read. Fixed seeds and a fixed count bound it: `VALENCE_FUZZ_CASES` per file, default
//! 300 (~11,000 mutants, seconds); 3,000 per file (111,000 mutants) ran clean when it was
//! written.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use crate::common::shipped;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use valence::Error;
use valence::error::SourceFile;
use valence::scenario::{FileKind, file_kind, model::any_world_ports, parse_model, parse_scenario};

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0.5",
    "1e308",
    "-1e308",
    "1e39",
    "1e-45",
    "nan",
    "inf",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "4294967296",
    "1000000000",
    "3",
    "1.5",
    "\"7\"",
    "[]",
    "{}",
    "true",
];

fn strings(rng: &mut SmallRng) -> String {
    match rng.gen_range(0..9) {
        0 => "\"\"".into(),
        1 => "\"../../ESCAPED\"".into(),
        2 => "\"/dev/zero\"".into(),
        3 => "\"/\"".into(),
        4 => format!("\"{}\"", "x".repeat(10_000)),
        5 => "\"a,b\\\"c\\nd\"".into(),
        6 => "\"cortex\"".into(),
        7 => "\"world.token\"".into(),
        _ => "\"\\u0000\"".into(),
    }
}

/// One random change to a TOML text.
fn mutate(text: &str, rng: &mut SmallRng) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let i = rng.gen_range(0..lines.len());
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match rng.gen_range(0..10) {
        // Replace a value (after `=`) with a number-like extreme or a string.
        0..=4 => {
            let with_value: Vec<usize> = (0..lines.len()).filter(|&k| lines[k].contains(" = ")).collect();
            if let Some(&k) = with_value.get(rng.gen_range(0..with_value.len().max(1))) {
                let (key, _) = lines[k].split_once(" = ").expect("has ` = `");
                let value = match rng.gen_bool(0.7) {
                    true => NUMBERS[rng.gen_range(0..NUMBERS.len())].to_string(),
                    false => strings(rng),
                };
                out[k] = format!("{key} = {value}");
            }
        }
        5 => {
            out.remove(i);
        }
        6 => out.insert(i, lines[i].to_string()),
        7 => {
            let j = rng.gen_range(0..lines.len());
            out.swap(i, j);
        }
        8 => {
            // Cut off mid-file, at a character boundary.
            let mut cut = rng.gen_range(0..text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_string();
        }
        _ => out.insert(
            i,
            [
                "[[phases]]\nname = \"x\"\nsteps = 1",
                "[[probes]]\nkind = \"valence\"",
                "[[edges]]\nfrom = \"a.b\"\nto = \"c.d\"",
                "[grid]",
                "x.y.z = 1",
            ][rng.gen_range(0..5)]
            .to_string(),
        ),
    }
    out.join("\n") + "\n"
}

/// What `valence validate` does with a file's text, as the library does it.
fn check(path: &Path, text: String) -> Result<(), Error> {
    let source = SourceFile::new(path, text);
    match file_kind(&source)? {
        FileKind::Scenario => parse_scenario(source).map(|_| ()),
        FileKind::Model => parse_model(source)?
            .plan(("world", any_world_ports()))
            .map(|_| ()),
        FileKind::Sweep => {
            let dir = tempfile::tempdir().unwrap();
            let sweep = dir.path().join(path.file_name().unwrap());
            // The sweep's `scenario` is relative to it: keep the shipped folder layout.
            let text = source
                .text
                .replace("\"../scenarios/", &format!("\"{}/scenarios/", root().display()));
            std::fs::write(&sweep, text).unwrap();
            valence::sweep::check_sweep(&sweep).map(|_| ())
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a caught panic said.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Whether an error says where: a file, line and column, or — a file that cannot be read — the
/// file's path.
fn located(e: &Error) -> bool {
    e.location().is_some() || matches!(e.root(), Error::Io { .. })
}

#[test]
fn mutated_shipped_files_never_panic_and_every_error_is_located() {
    let cases: usize = std::env::var("VALENCE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let files = shipped(&["models", "scenarios", "scenarios/battery", "sweeps"]);
    // Panics are caught and reported together, without the default hook's backtraces.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (mut panics, mut unlocated, mut accepted, mut total) = (Vec::new(), Vec::new(), 0, 0);
    for (f, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        let mut rng = SmallRng::seed_from_u64(17 + f as u64);
        for case in 0..cases {
            let mut mutant = mutate(&text, &mut rng);
            if rng.gen_bool(0.3) {
                mutant = mutate(&mutant, &mut rng);
            }
            total += 1;
            if std::env::var_os("VALENCE_FUZZ_VERBOSE").is_some() {
                eprintln!("{} case {case}:\n{mutant}", path.display());
            }
            match std::panic::catch_unwind(AssertUnwindSafe(|| check(path, mutant.clone()))) {
                Err(p) => {
                    let msg = panic_message(&*p);
                    panics.push(format!(
                        "{} case {case}: {msg}\n--- mutant ---\n{mutant}",
                        path.display()
                    ));
                }
                Ok(Err(e)) if !located(&e) => unlocated.push(format!("{} case {case}: {e}", path.display())),
                Ok(Err(_)) => {}
                Ok(Ok(())) => accepted += 1,
            }
        }
    }
    std::panic::set_hook(hook);
    for p in &panics {
        eprintln!("panic: {p}");
    }
    eprintln!(
        "fuzz: {total} mutants of {} files: {accepted} accepted, {} panics, {} unlocated errors",
        files.len(),
        panics.len(),
        unlocated.len()
    );
    assert!(
        panics.is_empty(),
        "{} panics:\n{}",
        panics.len(),
        panics.join("\n\n")
    );
    assert!(
        unlocated.is_empty(),
        "{} errors without a location:\n{}",
        unlocated.len(),
        unlocated.join("\n")
    );
}

/// `validate` accepts what `run` accepts: mutants of the shipped scenarios that validate are
/// run (every phase cut to 3 steps: what is checked is that the run starts, goes and writes
/// its files, not its result), and none may fail or panic. `VALENCE_FUZZ_RUNS` mutants
/// per scenario (default 4).
#[test]
fn mutants_that_validate_also_run() {
    let runs: usize = std::env::var("VALENCE_FUZZ_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let files = shipped(&["scenarios"]);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (mut failures, mut ran) = (Vec::new(), 0);
    for (f, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        let mut rng = SmallRng::seed_from_u64(1000 + f as u64);
        let mut done = 0;
        for case in 0..200 {
            if done == runs {
                break;
            }
            let mutant = mutate(&text, &mut rng);
            let Ok(mut scenario) = parse_scenario(SourceFile::new(path, mutant.clone())) else {
                continue;
            };
            // Populations are the file's (a PFC's groups must divide them); large ones, which
            // the memory check passed, are left out to keep the test small.
            if scenario.population > 64 {
                continue;
            }
            done += 1;
            ran += 1;
            for phase in &mut scenario.phases {
                phase.steps = phase.steps.min(3);
            }
            let dir = tempfile::tempdir().unwrap();
            let options = valence::experiment::RunOptions {
                out: Some(dir.path().join("run")),
                ..Default::default()
            };
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| valence::experiment::run(&scenario, &options)));
            let what = match outcome {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => format!("refused: {e}"),
                Err(p) => format!("panicked: {}", panic_message(&*p)),
            };
            failures.push(format!(
                "{} case {case}: validated, then the run {what}\n--- mutant ---\n{mutant}",
                path.display()
            ));
        }
    }
    std::panic::set_hook(hook);
    eprintln!("fuzz: {ran} validated mutants run, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
