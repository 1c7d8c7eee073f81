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
fn validate_accepts_the_shipped_files() {
    let out = valence(&[
        "validate",
        "models/mere_exposure.toml",
        "scenarios/mere_exposure.toml",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok (model)") && stdout.contains("ok (scenario)"),
        "{stdout}"
    );
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
