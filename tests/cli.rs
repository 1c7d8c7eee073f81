//! The `valence` command as a user runs it.

use std::path::Path;
use std::process::Command;

fn valence(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_valence"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the valence binary runs")
}

#[test]
fn validate_points_at_a_misspelled_region_kind_and_suggests() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/mere_exposure.toml"))
            .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("kind = \"reward_model\"", "kind = \"reward_modle\""),
    )
    .unwrap();
    let out = valence(&["validate", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .position(|l| l.contains("kind = \"reward_model\""))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("bad.toml:{line}:8: error[unknown-region-kind]")),
        "{err}"
    );
    assert!(err.contains("did you mean `reward_model`?"), "{err}");
}

#[test]
fn validate_accepts_every_shipped_model_scenario_and_sweep() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["models", "scenarios", "sweeps", "examples/novelty"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "toml") {
                files.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert!(files.len() >= 15, "{files:?}");
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(String::as_str))
        .collect();
    let out = valence(&args);
    // The novelty example registers its own region kind; the CLI cannot know it.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for f in files.iter().filter(|f| !f.starts_with("examples/")) {
        assert!(stdout.contains(&format!("{f}: ok (")), "{f} not ok:\n{stderr}");
    }
    for kind in ["ok (model)", "ok (scenario)", "ok (sweep)"] {
        assert!(stdout.contains(kind), "{stdout}");
    }
}

#[test]
fn compare_overlays_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("one"), dir.path().join("two"));
    for (run, seed) in [(&a, "1"), (&b, "2")] {
        let out = valence(&[
            "run",
            "scenarios/mere_exposure.toml",
            "--seed",
            seed,
            "--quiet",
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let figures = dir.path().join("cmp");
    let out = valence(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--keys",
        "b0,b4",
        "--out",
        figures.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let svg = std::fs::read_to_string(figures.join("valence.svg")).unwrap();
    for label in ["one: b4", "two: b4", "one: b0", "two: b0"] {
        assert!(svg.contains(label), "missing {label}");
    }
    assert!(!svg.contains("one: c"), "keys outside --keys are left out");
    assert!(figures.join("valence.png").is_file());
}

/// A phase and a probe named with a comma and quotes: the run's own `metrics.csv` quotes them,
/// and `valence plot` reads it back (it used to stop at line 2).
#[test]
fn plot_reads_back_names_with_commas_and_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/scenarios/mere_exposure.toml"))
        .unwrap()
        .replace("name = \"childhood\"", "name = \"child,hood \\\"early\\\"\"")
        .replace("steps = 30000", "steps = 300")
        .replace("../models/", &format!("{root}/models/"));
    let scenario = dir.path().join("s.toml");
    std::fs::write(&scenario, text).unwrap();
    let run = dir.path().join("run");
    let out = valence(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metrics = run.join("metrics.csv");
    let rows = valence::metrics::read_csv(&metrics).unwrap();
    assert!(
        rows.iter()
            .any(|r| r.phase == "child,hood \"early\"" && r.probe == "valence")
    );
    // A probe name with a comma (refused in a scenario, where it would name files, but possible
    // in a metrics.csv from elsewhere) is read back quoted and plotted under a safe file name.
    let text = std::fs::read_to_string(&metrics)
        .unwrap()
        .replace(",valence,", ",\"val,ence\",");
    std::fs::write(&metrics, text).unwrap();
    std::fs::remove_dir_all(run.join("plots")).unwrap();
    let out = valence(&["plot", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run.join("plots/val_ence.png").is_file());
}

#[test]
fn graph_prints_dot() {
    let out = valence(&["graph", "models/mere_exposure.toml"]);
    assert!(out.status.success());
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(
        dot.starts_with("digraph \"mere_exposure\" {") && dot.trim_end().ends_with('}'),
        "{dot}"
    );
    assert_eq!(dot.matches(" -> ").count(), 3, "{dot}");
    // When Graphviz is installed, it must accept the output.
    if let Ok(mut child) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(dot.as_bytes()).unwrap();
        let svg = child.wait_with_output().unwrap();
        assert!(svg.status.success() && String::from_utf8_lossy(&svg.stdout).contains("<svg"));
    }
}

#[test]
fn regions_lists_kinds_ports_and_defaults() {
    let out = valence(&["regions"]);
    let s = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "sensory_cortex",
        "reward_model",
        "in  token",
        "out latent",
        "param gamma = 0.0",
    ] {
        assert!(s.contains(needle), "missing `{needle}` in\n{s}");
    }
}

/// `valence regions | head -1`: the reader goes away before the listing is written; the
/// program ends as Unix tools do (SIGPIPE), not with a panic.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_valence"))
        .arg("regions")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(13), "{:?}: {stderr}", out.status);
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn wgpu_is_refused_with_a_hint_in_a_cpu_build() {
    let out = valence(&[
        "run",
        "scenarios/mere_exposure.toml",
        "--device",
        "wgpu",
        "--quiet",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features wgpu"), "{err}");
}

#[test]
fn regions_detail_prints_the_equation_sheet_and_suggests_on_typos() {
    let out = valence(&["regions", "--detail", "reward_model"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    for needle in ["δ_t", "Ports:", "| `gamma` | 0.0 |", "Schultz"] {
        assert!(s.contains(needle), "missing `{needle}` in\n{s}");
    }
    let out = valence(&["regions", "--detail", "sensory_cortx"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `sensory_cortex`?"));
}

#[test]
fn bench_brain_times_every_population_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("brain.json");
    let out = valence(&[
        "bench",
        "--brain",
        "--populations",
        "1,4",
        "--ticks",
        "20",
        "--pfc-workers",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let figures: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let figures = figures.as_array().unwrap();
    assert_eq!(figures.len(), 2);
    assert_eq!(figures[0]["model"], "millidge");
    assert_eq!(figures[1]["population"], 4);
    // P = 1 keeps a controller of its own; P = 4 shares two controllers between its agents.
    assert_eq!(figures[0]["pfc_workers"], 1);
    assert_eq!(figures[1]["pfc_workers"], 2);
    assert!(
        figures
            .iter()
            .all(|f| f["agent_ticks_per_s"].as_f64().unwrap() > 0.0)
    );
    assert_eq!(figures[0]["ratio_to_baseline"], 1.0);
    // The roofline's read figure is the higher of the two measured around the ticks.
    for f in figures {
        let [before, after] = [0, 1].map(|i| f["read_bandwidths_before_after"][i].as_f64().unwrap());
        assert!(before > 0.0 && after > 0.0, "{f}");
        assert_eq!(
            f["read_bandwidth_bytes_per_s"].as_f64().unwrap(),
            before.max(after)
        );
    }
    // A cache line's round trip between two threads, where there are two (rayon's count).
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    for f in figures {
        for trip in f["round_trips_ns_before_after"].as_array().unwrap() {
            match trip.as_f64() {
                Some(ns) => assert!(threads >= 2 && ns > 0.0 && ns < 1e8, "{f}"),
                None => assert!(threads < 2, "{f}"),
            }
        }
    }
    // Each population's first measurement is the one after the population before it.
    assert_eq!(
        figures[1]["read_bandwidths_before_after"][0],
        figures[0]["read_bandwidths_before_after"][1]
    );
}

/// Messages say what is wrong once and where (#17, item 10): the OS error once, a directory or a
/// device named as what it is, a non-UTF-8 byte at its line and column, and a run stopped
/// before its first checkpoint told so (not to set `checkpoint_every`, which it sets).
#[test]
fn errors_say_what_is_wrong_once_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = |args: &[&str]| {
        let out = valence(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = dir.path().join("missing.toml");
    let e = stderr(&["validate", missing.to_str().unwrap()]);
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    let e = stderr(&["validate", dir.path().to_str().unwrap()]);
    assert!(e.contains("is a directory, not a file"), "{e}");
    let e = stderr(&["validate", "/dev/zero"]);
    assert!(e.contains("is not a regular file"), "{e}");
    // A FIFO nobody writes to is refused, not opened (opening it would block forever).
    let fifo = dir.path().join("model.toml");
    if Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_valence"))
            .args(["validate", fifo.to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > std::time::Duration::from_secs(20) {
                child.kill().unwrap();
                panic!("`valence validate FIFO` blocked");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("is not a regular file"));
    }
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"schema = 1\nname = \"caf\xe9\"\n").unwrap();
    let e = stderr(&["validate", latin1.to_str().unwrap()]);
    assert!(
        e.contains("latin1.toml:2:12: error[syntax]: not UTF-8 text"),
        "{e}"
    );
    // A run directory whose scenario checkpoints, stopped before the first checkpoint.
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("scenario.toml"), "schema = 1\ncheckpoint_every = 500\n").unwrap();
    let e = stderr(&["run", "--resume", run.to_str().unwrap()]);
    assert!(e.contains("stopped before its first (every 500 steps)"), "{e}");
}

#[test]
fn corpus_lists_sources_samples_them_and_dumps_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "the cat sat\nthe dog ran\n").unwrap();
    std::fs::write(dir.path().join("b.txt"), "a bird sang\n").unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/real_language.toml");
    let scenario = dir.path().join("mix.toml");
    std::fs::write(
        &scenario,
        format!(
            "schema = 1\nmodel = {:?}\npopulation = 1\n[world]\nkind = \"corpora\"\nmin_count = 1\n\
             sources = [{{ kind = \"text\", path = \"a.txt\" }}, {{ kind = \"text\", path = \"b.txt\", weight = 2 }}]\n\
             [[phases]]\nname = \"read\"\nsteps = 10\n",
            model.to_str().unwrap()
        ),
    )
    .unwrap();
    let dump = dir.path().join("stream.txt");
    let out = valence(&[
        "corpus",
        scenario.to_str().unwrap(),
        "--sample",
        "1",
        "--dump",
        dump.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a.txt: 2 sentences, 8 tokens with </s>, weight 1; b.txt: 1 sentence, 4 tokens, weight 2.
    let row = |label: &str| {
        text.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("text ")[1..3], ["2", "8"], "{text}");
    assert!(text.contains("  the cat sat"), "the sample: {text}");
    assert!(text.contains("50.0%"), "8 of 16 tokens a pass: {text}");
    let stream = std::fs::read_to_string(&dump).unwrap();
    assert_eq!(stream, "the cat sat\na bird sang\nthe dog ran\na bird sang\n");
    let plain = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mere_exposure.toml");
    let out = valence(&["corpus", plain.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `corpora` world"));
}
