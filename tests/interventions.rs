//! Interventions at run time: a clamped edge delivers its constant to the target (and only to
//! it: the source port keeps its own value); an ablation delivers zeros and stops learning
//! through that edge; both last only for the phases they name.

mod common;
use common::run_rows;

use std::collections::BTreeMap;

use valence::error::SourceFile;
use valence::experiment::Row;
use valence::scenario::parse_scenario;

const SCENARIO: &str = r#"schema = 1
model = "../models/mere_exposure.toml"
population = 4
seed = 2

[world]
kind = "corpus"
[world.rules]
S = ["the cat sat", "a dog ran"]
[world.rewards]
cat = 1.0

[[phases]]
name = "clamped"
steps = 400
[[phases.interventions]]
edge = "world.reward -> vta.reward"
action = "clamp"
value = 0.25

[[phases]]
name = "ablated"
steps = 400
[[phases.interventions]]
edge = "cortex.latent -> vta.latent"
action = "ablate"

[[phases]]
name = "free"
steps = 400

[[probes]]
name = "edge"
kind = "signal"
signal = "world.reward -> vta.reward"
every = 1

[[probes]]
name = "port"
kind = "signal"
signal = "world.reward"
every = 1

[[probes]]
name = "latent_in"
kind = "signal"
signal = "cortex.latent -> vta.latent"
every = 1

[[probes]]
name = "value"
kind = "signal"
signal = "vta.value"
every = 1
"#;

fn rows() -> Vec<Row> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/interventions.toml");
    run_rows(&parse_scenario(SourceFile::new(path, SCENARIO)).unwrap())
}

#[test]
fn clamps_and_ablations_change_what_the_target_receives_for_their_phase_only() {
    let rows = rows();
    let by: BTreeMap<(&str, &str), Vec<f32>> = rows.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry((r.phase.as_str(), r.probe.as_str()))
            .or_default()
            .push(r.value);
        m
    });
    // Clamped: the target receives 0.25 every tick; the world still emits 0 or 1.
    assert!(by[&("clamped", "edge")].iter().all(|&v| v == 0.25));
    let port = &by[&("clamped", "port")];
    assert!(port.contains(&1.0) && port.contains(&0.0) && !port.contains(&0.25));
    // Ablated: the reward model sees a zero latent, so its value is exactly 0 (no bias).
    assert!(by[&("ablated", "latent_in")].iter().all(|&v| v == 0.0));
    assert!(by[&("ablated", "value")].iter().all(|&v| v == 0.0));
    // Free: the edges carry their sources again.
    assert_eq!(by[&("free", "edge")], by[&("free", "port")]);
    assert!(by[&("free", "latent_in")].iter().any(|&v| v != 0.0));
    assert!(by[&("free", "value")].iter().any(|&v| v != 0.0));
}
