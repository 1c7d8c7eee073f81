//! Graph scheduling: topological order, delayed edges carrying the previous tick, cycles
//! rejected unless delayed.

use ndarray::Array2;
use valence::brain::{Brain, EdgeSpec, Endpoint, ModelSpec, plan};
use valence::error::ErrorKind;
use valence::regions::{RegionSpec, RewardModelConfig, SensoryCortexConfig, Traffic};
use valence::scenario::model::any_world_ports;
use valence::signal::Signal;
use valence::worlds::Vocabulary;

fn edge(from: &str, to: &str, delay: u32) -> EdgeSpec {
    EdgeSpec {
        from: Endpoint::parse(from).unwrap(),
        to: Endpoint::parse(to).unwrap(),
        delay,
    }
}

fn cortex(dim: usize) -> RegionSpec {
    RegionSpec::new(SensoryCortexConfig {
        dim,
        normalize: false,
        ..Default::default()
    })
}

/// Regions listed in the reverse of their data flow, so that file order is not tick order.
fn chain() -> ModelSpec {
    ModelSpec {
        name: "chain".into(),
        regions: vec![
            ("vta".into(), RegionSpec::new(RewardModelConfig::default())),
            ("second".into(), cortex(4)),
            ("first".into(), cortex(4)),
        ],
        edges: vec![
            edge("second.latent", "vta.latent", 0),
            edge("world.reward", "vta.reward", 0),
            edge("first.latent", "second.conditioning", 0),
            edge("world.token", "second.token", 0),
            edge("world.token", "first.token", 0),
        ],
    }
}

fn order(model: &ModelSpec) -> Vec<String> {
    let p = plan(model, ("world", any_world_ports())).unwrap();
    p.order.iter().map(|&n| p.graph[n].name.clone()).collect()
}

#[test]
fn schedule_follows_the_data_flow() {
    assert_eq!(order(&chain()), ["first", "second", "vta"]);
}

#[test]
fn a_delayed_edge_does_not_constrain_the_order() {
    let mut m = chain();
    m.edges[2].delay = 1;
    let o = order(&m);
    let pos = |n: &str| o.iter().position(|x| x == n).unwrap();
    assert!(pos("second") < pos("vta"));
    // `second` may now run before `first`; both orders are valid, so only completeness is checked.
    assert_eq!(o.len(), 3);
}

#[test]
fn a_cycle_without_delay_is_rejected_and_with_one_accepted() {
    let mut m = chain();
    m.edges.push(edge("second.latent", "first.conditioning", 0));
    let e = plan(&m, ("world", any_world_ports())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::CycleWithoutDelay);
    m.edges.last_mut().unwrap().delay = 1;
    assert_eq!(order(&m), ["first", "second", "vta"]);
}

#[test]
fn a_self_loop_needs_a_delay() {
    let mut m = chain();
    m.edges.push(edge("first.latent", "first.conditioning", 0));
    assert_eq!(
        plan(&m, ("world", any_world_ports())).unwrap_err().kind,
        ErrorKind::CycleWithoutDelay
    );
    m.edges.last_mut().unwrap().delay = 1;
    assert!(plan(&m, ("world", any_world_ports())).is_ok());
}

fn world(tokens: &[u32]) -> Vec<(&'static str, Signal)> {
    let p = tokens.len();
    vec![
        (
            "token",
            Signal::Host(Array2::from_shape_vec((p, 1), tokens.iter().map(|&t| t as f32).collect()).unwrap()),
        ),
        ("reward", Signal::zeros(p, 1)),
    ]
}

#[test]
fn a_delayed_edge_carries_the_previous_tick_and_zeros_first() {
    // first.latent → second.conditioning with delay 1. With learning off and no normalisation,
    // second's latent is exactly e_second(token_t) + e_first(token_{t−1}) (zeros at t = 0).
    let mut m = chain();
    m.edges[2].delay = 1;
    let vocab = Vocabulary::from_counts(vec![("x".into(), 1), ("y".into(), 1)]);
    let device = valence::DeviceChoice::from_env().unwrap().make(0).unwrap();
    let p = plan(&m, ("world", any_world_ports())).unwrap();
    let mut brain = Brain::new(&m, p, 2, 5, &device, &vocab).unwrap();
    for r in ["first", "second", "vta"] {
        brain.set_learning(r, false).unwrap();
    }
    let readout =
        |brain: &Brain, region: &str, t: u32| brain.region(region).unwrap().concept_latent(&[t]).unwrap();

    brain.tick(world(&[0, 1])).unwrap();
    let z = brain.signal("second", "latent").unwrap().to_host();
    let e0 = readout(&brain, "second", 0);
    let e1 = readout(&brain, "second", 1);
    assert_eq!(z.row(0), e0.row(0));
    assert_eq!(z.row(1), e1.row(1));

    brain.tick(world(&[1, 0])).unwrap();
    let z = brain.signal("second", "latent").unwrap().to_host();
    let prev = readout(&brain, "first", 0).row(0).to_owned();
    let expected = &e1.row(0) + &prev;
    for (a, b) in z.row(0).iter().zip(expected.iter()) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    // The two cortices of one agent are seeded apart, so the delayed input is not a copy.
    assert_ne!(readout(&brain, "first", 0).row(0), e0.row(0));
}

#[test]
fn dot_lists_every_region_and_edge() {
    let p = plan(&chain(), ("world", any_world_ports())).unwrap();
    let dot = p.to_dot("chain");
    assert!(dot.starts_with("digraph \"chain\" {"));
    assert_eq!(dot.matches(" -> ").count(), 5);
    for n in ["world", "first", "second", "vta"] {
        assert!(dot.contains(&format!("\"{n}\" [label=")), "{dot}");
    }
}

/// `Brain::traffic` (the memory roofline of `valence bench --brain`): the skip-gram cortex
/// counts only the rows a tick touches; a region without its own figure (the reward model)
/// counts every array it saves, read and written while learning, read only when frozen.
#[test]
fn traffic_counts_touched_rows_and_dense_state() {
    let m = chain();
    let vocab = Vocabulary::from_counts(vec![("x".into(), 1), ("y".into(), 1)]);
    let device = valence::DeviceChoice::from_env().unwrap().make(0).unwrap();
    let p = plan(&m, ("world", any_world_ports())).unwrap();
    let brain_of = || Brain::new(&m, p.clone(), 3, 5, &device, &vocab).unwrap();
    let mut brain = brain_of();
    let traffic: std::collections::BTreeMap<String, Traffic> = brain
        .traffic()
        .into_iter()
        .map(|(n, b)| (n, b.expect("every built-in region counts")))
        .collect();
    // Cortex (dim 4, window 2, 5 negatives), 3 agents, 4 B · 3 · 4 ·: the readout reads 4 rows
    // and writes 1, and each of 2·2 pairs reads and writes 2 + 5 rows.
    let rows = |n: u64| 4 * 3 * 4 * n;
    let traffic_of = |read, written| Traffic { read, written };
    assert_eq!(traffic["first"], traffic_of(rows(4 + 4 * 7), rows(1 + 4 * 7)));
    // The reward model's saved arrays, read and written.
    let mut state = valence::checkpoint::Snapshot::default();
    brain.region("vta").unwrap().save(&mut state).unwrap();
    let bytes = state.array_bytes();
    assert!(bytes >= 4 * 3 * 4, "at least its weights [P, D]");
    assert_eq!(traffic["vta"], traffic_of(bytes, bytes));
    for r in ["first", "vta"] {
        brain.set_learning(r, false).unwrap();
    }
    let frozen: std::collections::BTreeMap<String, Traffic> = brain
        .traffic()
        .into_iter()
        .map(|(n, b)| (n, b.unwrap()))
        .collect();
    assert_eq!(frozen["first"], traffic_of(rows(4), rows(1)), "only the readout");
    assert_eq!(frozen["vta"], traffic_of(bytes, 0), "read, not written");
    assert_eq!(frozen["second"], traffic["second"], "still learning");
}
