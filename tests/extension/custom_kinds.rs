//! A world kind and a probe kind defined outside the crate, each in one place (its parameters,
//! its run-time part) and made known with one `register` call: they validate with located
//! errors, run, are probed and analysed like the built-in ones (whose kinds are one line each
//! in their registry's `KINDS` table, through the same path).

use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;
use valence::brain::Brain;
use valence::error::{ErrorKind, SourceFile};
use valence::experiment::run;
use valence::metrics::{Row, SummaryEntry};
use valence::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use valence::probes::{Probe, ProbeContext, ProbeParams, Readings};
use valence::scenario::{Scenario, parse_scenario};
use valence::worlds::{Vocabulary, World, WorldError, WorldParams};
use valence::{Signal, SignalKind};

use super::common;

// ---- a world: `tick` `tock` `tick` `tock` …, reward on every `period`-th tock ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MetronomeConfig {
    /// Every this many tocks is rewarded.
    period: u64,
    /// The reward.
    reward: f64,
    /// Declare an `action` input (and take it, or not).
    listens: bool,
    /// With `listens`: whether `act` is implemented (a world that declares inputs and has no
    /// `act` must refuse them, not drop them).
    acts: bool,
}

impl Default for MetronomeConfig {
    fn default() -> Self {
        MetronomeConfig {
            period: 1,
            reward: 1.0,
            listens: false,
            acts: true,
        }
    }
}

impl WorldParams for MetronomeConfig {
    const KIND: &'static str = "metronome";
    const SUMMARY: &'static str = "tick tock, a reward on every period-th tock";

    fn ports(&self) -> Ports {
        let inputs = if self.listens {
            vec![PortSpec::input(
                "action",
                SignalKind::Action,
                Width::Fixed(1),
                "ignored, but taken",
            )]
        } else {
            vec![]
        };
        Ports {
            inputs,
            outputs: vec![
                PortSpec::output("token", SignalKind::Token, 1, "tick or tock"),
                PortSpec::output("reward", SignalKind::Reward, 1, "on rewarded tocks"),
            ],
        }
    }

    fn check(&self) -> Result<(), WorldError> {
        if self.period == 0 {
            return Err(WorldError::invalid("period", "expected an integer ≥ 1"));
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(vec!["tick".into(), "tock".into()])
    }

    fn word_counts(&self) -> valence::Result<Vec<(String, u64)>> {
        Ok(vec![("tick".into(), 1), ("tock".into(), 1)])
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> valence::Result<Box<dyn World>> {
        if self.listens && !self.acts {
            return Ok(Box::new(Deaf(Metronome::new(self, vocabulary, population))));
        }
        Ok(Box::new(Metronome::new(self, vocabulary, population)))
    }

    /// The share of rewarded ticks, from a `signal` probe on `world.reward`.
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        let v: Vec<f32> = rows
            .iter()
            .filter(|r| r.key == "world.reward")
            .map(|r| r.value)
            .collect();
        let mut out = BTreeMap::new();
        if let Some(last) = rows.iter().map(|r| r.step).max()
            && !v.is_empty()
        {
            let share = v.iter().filter(|&&x| x > 0.0).count() as f32 / v.len() as f32;
            out.insert(
                "rewarded share".into(),
                SummaryEntry::of("one", last, vec![share]),
            );
        }
        out
    }
}

struct Metronome {
    vocabulary: Arc<Vocabulary>,
    population: usize,
    period: u64,
    reward: f32,
    t: u64,
    actions: u64,
}

impl Metronome {
    fn new(c: &MetronomeConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Self {
        Metronome {
            vocabulary,
            population,
            period: c.period,
            reward: c.reward as f32,
            t: 0,
            actions: 0,
        }
    }
}

impl World for Metronome {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, _seeds: &[u64]) {
        self.t = 0;
    }

    fn step(&mut self) -> valence::Result<Outputs> {
        let tock = self.t % 2 == 1;
        let word = if tock { "tock" } else { "tick" };
        let rewarded = tock && (self.t / 2 + 1).is_multiple_of(self.period);
        self.t += 1;
        let id = self.vocabulary.id(word).expect("in the vocabulary") as f32;
        let p = self.population;
        Ok(vec![
            ("token", Signal::Host(Array2::from_elem((p, 1), id))),
            (
                "reward",
                Signal::Host(Array2::from_elem(
                    (p, 1),
                    if rewarded { self.reward } else { 0.0 },
                )),
            ),
        ])
    }

    fn act(&mut self, inputs: &Inputs) -> valence::Result<()> {
        self.actions += u64::from(inputs.get("action").is_some());
        Ok(())
    }
}

/// The same world without `act`: the trait's default refuses what it is sent.
struct Deaf(Metronome);

impl World for Deaf {
    fn vocabulary(&self) -> &Vocabulary {
        self.0.vocabulary()
    }
    fn reset(&mut self, seeds: &[u64]) {
        self.0.reset(seeds)
    }
    fn step(&mut self) -> valence::Result<Outputs> {
        self.0.step()
    }
}

// ---- a probe: ‖e(c)‖, the length of each concept's latent point ----

#[derive(Debug, Clone, PartialEq, Serialize)]
struct LatentNormProbe {
    concepts: Vec<String>,
    cortex: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatentNormFields {
    concepts: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
}

impl ProbeParams for LatentNormProbe {
    const KIND: &'static str = "latent_norm";
    const SUMMARY: &'static str = "‖e(c)‖ for each concept";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> valence::Result<Self> {
        let f: LatentNormFields = cx.fields(table)?;
        Ok(LatentNormProbe {
            concepts: cx.words(f.concepts.get_ref())?,
            cortex: cx.region_or_default(&f.cortex, "sensory_cortex")?,
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.concepts.iter().collect()
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> valence::Result<Box<dyn Probe>> {
        Ok(Box::new(LatentNorm {
            spec: self.clone(),
            ids: self.concepts.iter().map(|c| vocabulary.id(c).unwrap()).collect(),
        }))
    }
}

struct LatentNorm {
    spec: LatentNormProbe,
    ids: Vec<u32>,
}

impl Probe for LatentNorm {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> valence::Result<()> {
        let cortex = brain
            .region(&self.spec.cortex)
            .ok_or_else(|| out.fail("no cortex"))?;
        for (c, &id) in self.spec.concepts.iter().zip(&self.ids) {
            let z = cortex
                .concept_latent(&[id])
                .ok_or_else(|| out.fail("no latent space"))?;
            let norms: Array1<f32> = z.rows().into_iter().map(|r| r.dot(&r).sqrt()).collect();
            out.record(c, &norms);
        }
        Ok(())
    }
}

// ---- the tests ----

use common::CORTEX_VTA_MODEL as MODEL;

const SCENARIO: &str = r#"schema = 1
model = "m.toml"
population = 3
seed = 2

[world]
kind = "metronome"
period = 2

[[phases]]
name = "one"
steps = 400

[[probes]]
kind = "latent_norm"
concepts = ["tick", "tock"]
every = 100

[[probes]]
kind = "signal"
signal = "world.reward"
every = 1

[[probes]]
kind = "valence"
concepts = ["tock"]
"#;

fn register() {
    valence::worlds::register::<MetronomeConfig>().unwrap();
    valence::probes::register::<LatentNormProbe>().unwrap();
}

fn parse(model: &str, scenario: &str) -> valence::Result<Scenario> {
    register();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), model).unwrap();
    parse_scenario(SourceFile::new(dir.path().join("s.toml"), scenario))
}

fn assert_at(e: &valence::Error, kind: ErrorKind, line: usize, column: usize) {
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(
        (e.kind(), loc.line, loc.column),
        (Some(kind), line, column),
        "{e}"
    );
}

#[test]
fn a_registered_world_and_probe_run_are_probed_and_analysed() {
    let s = parse(MODEL, SCENARIO).unwrap();
    assert_eq!(s.world.kind(), "metronome");
    assert_eq!(s.probes[0].kind(), "latent_norm");
    // The resolved scenario writes them back, kind first.
    let toml = s.to_toml();
    assert!(
        toml.contains("kind = \"metronome\"") && toml.contains("period = 2"),
        "{toml}"
    );
    assert!(toml.contains("kind = \"latent_norm\""), "{toml}");

    let dir = tempfile::tempdir().unwrap();
    let out = run(&s, &common::options(dir.path())).unwrap();
    // The probe: one reading per agent, concept and schedule point (every 100 of 400 steps).
    let norms: Vec<&Row> = out.rows.iter().filter(|r| r.probe == "latent_norm").collect();
    assert_eq!(norms.len(), 3 * 2 * 4);
    assert!(
        norms.iter().all(|r| r.value.is_finite() && r.value > 0.0),
        "{norms:?}"
    );
    // The world: every second tock rewarded (a quarter of all ticks), seen by the signal probe
    // and by the world's own analysis in the summary.
    let rewards: Vec<f32> = out
        .rows
        .iter()
        .filter(|r| r.key == "world.reward")
        .map(|r| r.value)
        .collect();
    assert_eq!(rewards.len(), 3 * 400);
    assert_eq!(rewards.iter().filter(|&&r| r > 0.0).count(), 3 * 100);
    assert_eq!(out.summary["derived"]["rewarded share"].median, 0.25);
    // And the rewarded word gains value.
    assert!(
        out.summary["valence"]["tock"].median > 0.0,
        "{:?}",
        out.summary["valence"]
    );
}

#[test]
fn a_registered_world_is_checked_with_located_errors() {
    // A misspelled parameter: unknown field, at its key, with a suggestion.
    let e = parse(MODEL, &SCENARIO.replace("period = 2", "perod = 2")).unwrap_err();
    assert_at(&e, ErrorKind::UnknownField, 8, 1);
    assert_eq!(e.help(), Some("did you mean `period`?"));
    // Out of range: the world's own check, at the value.
    let e = parse(MODEL, &SCENARIO.replace("period = 2", "period = 0")).unwrap_err();
    assert_at(&e, ErrorKind::InvalidValue, 8, 10);
    // A misspelled kind: the registered name is suggested.
    let e = parse(
        MODEL,
        &SCENARIO.replace("kind = \"metronome\"", "kind = \"metronom\""),
    )
    .unwrap_err();
    assert_at(&e, ErrorKind::UnknownWorldKind, 7, 8);
    assert_eq!(e.help(), Some("did you mean `metronome`?"));
}

#[test]
fn a_registered_probe_is_checked_with_located_errors() {
    // Unknown field, with a suggestion.
    let e = parse(
        MODEL,
        &SCENARIO.replace("concepts = [\"tick\", \"tock\"]", "concept = [\"tick\"]"),
    )
    .unwrap_err();
    assert_at(&e, ErrorKind::UnknownField, 16, 1);
    assert_eq!(e.help(), Some("did you mean `concepts`?"));
    // A word the world never emits.
    let e = parse(
        MODEL,
        &SCENARIO.replace("[\"tick\", \"tock\"]", "[\"tick\", \"tack\"]"),
    )
    .unwrap_err();
    assert_at(&e, ErrorKind::UnknownConcept, 16, 21);
    assert_eq!(e.help(), Some("did you mean `tick`?"));
    // A misspelled kind.
    let e = parse(
        MODEL,
        &SCENARIO.replace("kind = \"latent_norm\"", "kind = \"latent_nrom\""),
    )
    .unwrap_err();
    assert_at(&e, ErrorKind::UnknownProbeKind, 15, 8);
    assert_eq!(e.help(), Some("did you mean `latent_norm`?"));
}

/// A model that sends the world an action: a basal-ganglia actor and action selection.
fn acting_model() -> String {
    format!(
        "{MODEL}[regions.choose]\nkind = \"action_selection\"\nactions = 2\n[regions.bg]\nkind = \"basal_ganglia\"\nactions = 2\n\
         [[edges]]\nfrom = \"cortex.latent\"\nto = \"bg.latent\"\n[[edges]]\nfrom = \"vta.rpe\"\nto = \"bg.rpe\"\n\
         [[edges]]\nfrom = \"bg.logits\"\nto = \"choose.basal_ganglia\"\n[[edges]]\nfrom = \"choose.action\"\nto = \"world.action\"\n\
         [[edges]]\nfrom = \"choose.action\"\nto = \"bg.action\"\ndelay = 1\n"
    )
}

#[test]
fn a_world_input_is_wired_only_where_declared_and_never_dropped() {
    // Not declared: the edge into `world.action` is a located wiring error.
    let e = parse(&acting_model(), SCENARIO).unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::UnknownPort), "{e}");
    // Declared and taken: the run goes through.
    let listening = SCENARIO.replace("period = 2", "period = 2\nlistens = true");
    let s = parse(&acting_model(), &listening).unwrap();
    assert!(s.world.ports().input("action").is_some());
    let dir = tempfile::tempdir().unwrap();
    run(&s, &common::options(dir.path())).unwrap();
    // Declared but no `act`: the first action sent is refused, not dropped.
    let deaf = SCENARIO.replace("period = 2", "period = 2\nlistens = true\nacts = false");
    let s = parse(&acting_model(), &deaf).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = run(&s, &common::options(dir.path())).unwrap_err();
    assert!(
        matches!(&e, valence::Error::AtStep { error, .. } if matches!(**error, valence::Error::World { ref kind, .. } if kind == "metronome")),
        "{e}"
    );
    assert_eq!(e.at_step().map(|(phase, _)| phase), Some("one"));
    assert!(e.to_string().contains("takes no inputs"), "{e}");
}

#[test]
fn a_phase_world_without_a_port_the_model_uses_is_refused_where_it_is_named() {
    // The model sends `world.action`; a later phase's corpus world takes no input.
    let listening = SCENARIO.replace("period = 2", "period = 2\nlistens = true");
    let switching = listening.replace(
        "steps = 400\n",
        "steps = 400\n[phases.world]\nkind = \"corpus\"\n[phases.world.rules]\nS = [\"tick tock\"]\n",
    );
    let e = parse(&acting_model(), &switching).unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::UnknownPort), "{e}");
    let at = e.location().unwrap();
    assert_eq!((at.line, at.column), (15, 8), "{e}");
    assert!(e.to_string().contains("no input `action`"), "{e}");
}
