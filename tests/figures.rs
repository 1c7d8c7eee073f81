//! Every shipped scenario's figures, read as a reader of a paper reads them (#23): each scenario
//! runs with its phases cut to a few hundred ticks (the figures' content is not what is tested,
//! their labels are), and every SVG its run directory gets is read back.
//!
//! - No text of any figure is a tick label a person would not write: none ends in `.0`, none
//!   reads `-0` or `-0.00`, none is a rounding error (`e-16`).
//! - Every figure over the run's steps names the phases it shows (all of them, or the probe's
//!   `plot_phases`, even one), and carries the probe's `title` where the scenario gives one.

mod common;

use valence::experiment::{RunOptions, run};
use valence::scenario::load_scenario;

/// The longest a phase runs here, in ticks.
const TICKS: u64 = 300;

/// The text of every `<text>` element of an SVG.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let (_, rest) = t.split_once('>')?;
            Some(rest.split("</text>").next()?.trim().to_string())
        })
        .collect()
}

/// SVG text escapes `&`, `<`, `>`, `"` and `'`.
fn svg_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn unwritten(label: &str) -> bool {
    label.ends_with(".0") || label == "-0" || label == "-0.00" || label.contains("e-16")
}

#[test]
fn shipped_figures_have_clean_labels_and_mark_their_phases() {
    let mut problems = Vec::new();
    let mut checked = (0, 0);
    for path in common::shipped(&["scenarios"]) {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut scenario = load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
        for phase in &mut scenario.phases {
            phase.steps = phase.steps.min(TICKS);
        }
        let dir = tempfile::tempdir().unwrap();
        let options = RunOptions {
            out: Some(dir.path().join("run")),
            ..Default::default()
        };
        let out = run(&scenario, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let plots = out.dir.join("plots");
        for entry in std::fs::read_dir(&plots).unwrap() {
            let file = entry.unwrap().path();
            if file.extension().is_none_or(|x| x != "svg") {
                continue;
            }
            let svg = std::fs::read_to_string(&file).unwrap();
            let figure = format!("{name}: {}", file.file_name().unwrap().to_string_lossy());
            checked.0 += 1;
            for t in texts(&svg).iter().filter(|t| unwritten(t)) {
                problems.push(format!("{figure}: label `{t}`"));
            }
        }
        // Each probe's own figure over steps (drawn for probes with at most MAX_KEYS keys).
        for probe in &scenario.probes {
            let file = plots.join(format!("{}.svg", probe.name));
            let Ok(svg) = std::fs::read_to_string(&file) else {
                continue;
            };
            checked.1 += 1;
            let shown: Vec<&str> = match probe.plot_phases.is_empty() {
                true => scenario.phases.iter().map(|p| p.name.as_str()).collect(),
                false => probe.plot_phases.iter().map(String::as_str).collect(),
            };
            let labels = texts(&svg);
            if shown.len() >= 2 || !probe.plot_phases.is_empty() {
                for phase in &shown {
                    if !labels.iter().any(|t| t == &svg_escaped(phase)) {
                        problems.push(format!("{name}/{}: phase `{phase}` not named", probe.name));
                    }
                }
            }
            if let Some(title) = &probe.title
                && !labels.contains(&svg_escaped(title))
            {
                problems.push(format!("{name}/{}: title `{title}` missing", probe.name));
            }
        }
    }
    eprintln!(
        "{} figures read, {} of them a probe's over steps",
        checked.0, checked.1
    );
    assert!(checked.1 >= 16, "too few probe figures drawn: {checked:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
