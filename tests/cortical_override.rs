//! Cortical override (`scenarios/cortical_override.toml`, 16 agents): the same stimulus, `snake`,
//! is punished in "real" contexts and harmless in "photo" ones. With the cortex's contextual
//! state reaching the reward model, the valence of `snake` depends on its context; with that
//! edge ablated (the scenario's own commented `[[interventions]]` block, switched on) it cannot
//! — the stimulus code alone gives one value whatever the context.

mod common;
use common::{median, run_rows};

use std::collections::BTreeMap;
use std::path::Path;

use valence::error::SourceFile;
use valence::scenario::{Scenario, parse_scenario};

fn scenario(ablated: bool) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/cortical_override.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    if ablated {
        let block = "# [[interventions]]\n# edge = \"cortex.latent -> vta.latent\"\n# action = \"ablate\"\n\
                     # phases = [\"conditioning\", \"test\"]\n";
        assert!(text.contains(block), "the scenario documents its ablation");
        text = text.replace(block, &block.replace("# ", ""));
    }
    parse_scenario(SourceFile::new(path, text)).unwrap()
}

/// Per event group: each agent's mean value of `snake` in the test phase.
fn snake_values(s: &Scenario) -> BTreeMap<String, Vec<f32>> {
    let rows = run_rows(s);
    let last = rows.iter().map(|r| r.step).max().unwrap();
    let mut v: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.probe == "snake_value" && r.step == last) {
        assert_eq!(r.phase, "test");
        v.entry(r.key.clone()).or_default().push(r.value);
    }
    assert_eq!(
        (v["real"].len(), v["photo"].len()),
        (16, 16),
        "every agent met both contexts"
    );
    v
}

#[test]
fn cortical_input_makes_valence_context_dependent_and_ablating_it_removes_that() {
    let with = snake_values(&scenario(false));
    let gap: Vec<f32> = with["photo"]
        .iter()
        .zip(&with["real"])
        .map(|(p, r)| p - r)
        .collect();
    let more_negative_when_real = gap.iter().filter(|&&g| g > 0.05).count();
    let median_gap = median(gap);
    eprintln!("with cortex: median photo − real {median_gap:.3}, {more_negative_when_real}/16 agents");
    assert!(median_gap > 0.2, "median gap {median_gap}");
    assert!(more_negative_when_real >= 15, "{more_negative_when_real}/16");

    let without = snake_values(&scenario(true));
    for (agent, (p, r)) in without["photo"].iter().zip(&without["real"]).enumerate() {
        assert!(
            (p - r).abs() < 1e-6,
            "agent {agent}: {p} vs {r} with the cortex cut off"
        );
    }
    // The punishment is still learned: the stimulus alone is aversive.
    assert!(median(without["real"].clone()) < -0.2);
}

/// Contextual override without wiring (`scenarios/cortical_override_world_model.toml`): the
/// world model is the only cortex, no hand-built second route; its contextual state alone must
/// make a real snake worse than a photographed one.
#[test]
fn a_world_model_alone_makes_valence_context_dependent() {
    let v = snake_values(&common::scenario("cortical_override_world_model"));
    let gap: Vec<f32> = v["photo"].iter().zip(&v["real"]).map(|(p, r)| p - r).collect();
    let worse_when_real = gap.iter().filter(|&&g| g > 0.0).count();
    eprintln!(
        "world model: median valence(snake | photo) − valence(snake | real) {:.3}, > 0 in {worse_when_real}/16",
        median(gap.clone())
    );
    assert!(
        worse_when_real >= 15,
        "{worse_when_real}/16 agents (≥ 90% needed)"
    );
    assert!(median(gap) > 0.1);
}
