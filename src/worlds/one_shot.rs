//! # one_shot — cues seen once with a reward, then again: is the second presentation valued?
//!
//! A stream of distinct cues `{prefix}0 … {prefix}{cues − 1}`, each paying its own reward
//! (±`reward`) whenever it is shown. Cues come in blocks of `block`: each cue of a block is
//! shown once ("study"), then each once more in a shuffled order ("test"). After every cue has
//! had its two presentations the list starts over (with the same rewards).
//!
//! Signs are `"alternate"` (+ for even-numbered cues, − for odd: fixed, so probes can name a
//! cue's valence) or `"random"` (drawn per agent and cue).
//!
//! The world scores the brain's valuation: its optional input `prediction` (e.g. the reward
//! model's `value`) is read on every test presentation and compared with the cue's reward.
//!
//! Ports: input `prediction` `[P, 1]` (Value, optional); outputs `token`, `reward`, `test`
//! (Time: 1 on a test presentation), `accuracy` (Value: share of this phase's test
//! presentations whose prediction had the reward's sign; NaN before the first) and `error`
//! (Value: mean |prediction − reward| over them), all `[P, 1]`.

use std::sync::Arc;

use crate::rng::SimRng;
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::metrics::{Row, SummaryEntry};
use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::signal::{Signal, SignalKind};

/// How each cue's reward sign is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signs {
    /// + for even-numbered cues, − for odd.
    Alternate,
    /// At random, per agent and cue.
    Random,
}

/// The one-shot memory task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OneShotConfig {
    /// Distinct cues.
    pub cues: usize,
    /// Cue tokens are this prefix and a number.
    pub prefix: String,
    /// Cues studied before they are tested.
    pub block: usize,
    /// The reward's magnitude.
    pub reward: f64,
    /// How each cue's sign is chosen.
    pub signs: Signs,
}

impl Default for OneShotConfig {
    fn default() -> Self {
        OneShotConfig {
            cues: 100,
            prefix: "cue".into(),
            block: 4,
            reward: 1.0,
            signs: Signs::Alternate,
        }
    }
}

impl OneShotConfig {
    /// The cue tokens.
    pub fn words(&self) -> Vec<String> {
        (0..self.cues).map(|i| format!("{}{i}", self.prefix)).collect()
    }
}
impl WorldParams for OneShotConfig {
    const KIND: &'static str = "one_shot";
    const SUMMARY: &'static str = "cues seen once with a reward, then again: one-shot memory, scored";

    fn ports(&self) -> Ports {
        ports()
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        let bad = |key: &str, msg: &str| Err(WorldError::invalid(key, msg));
        // Each cue is a word: bounded like a vocabulary.
        if self.cues == 0 || self.cues > 1_000_000 {
            return bad("cues", "expected an integer in [1, 1000000] (each cue is a word)");
        }
        if self.block == 0 || self.block > self.cues {
            return bad("block", "expected an integer in [1, cues]");
        }
        if !(self.reward.is_finite() && self.reward > 0.0) {
            return bad("reward", "expected a number > 0");
        }
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return bad("prefix", "expected a word without spaces");
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(self.words())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        Ok(self.words().into_iter().map(|w| (w, 1)).collect())
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(OneShotWorld::new(self, vocabulary, population)?))
    }

    /// `accuracy` and `error` at the end of every phase (`accuracy: PHASE`), since the
    /// comparison is between phases (with and without recall).
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        let mut out = BTreeMap::new();
        for key in ["world.accuracy", "world.error"] {
            let mut by_phase: BTreeMap<&str, (u64, Vec<f32>)> = BTreeMap::new();
            for r in rows.iter().filter(|r| r.key == key) {
                let e = by_phase.entry(&r.phase).or_insert((r.step, Vec::new()));
                if r.step > e.0 {
                    *e = (r.step, Vec::new());
                }
                if r.step == e.0 && r.value.is_finite() {
                    e.1.push(r.value);
                }
            }
            for (phase, (step, v)) in by_phase {
                if !v.is_empty() {
                    let name = format!("{}: {phase}", key.trim_start_matches("world."));
                    out.insert(name, SummaryEntry::of(phase, step, v));
                }
            }
        }
        out
    }
}

/// The ports of a one-shot world.
pub fn ports() -> Ports {
    Ports {
        inputs: vec![PortSpec::optional(
            "prediction",
            SignalKind::Value,
            Width::Fixed(1),
            "the brain's valuation of the cue shown",
        )],
        outputs: vec![
            PortSpec::output("token", SignalKind::Token, 1, "the cue"),
            PortSpec::output("reward", SignalKind::Reward, 1, "the cue's reward"),
            PortSpec::output("test", SignalKind::Time, 1, "1 on a second presentation"),
            PortSpec::output(
                "accuracy",
                SignalKind::Value,
                1,
                "share of sign-correct predictions",
            ),
            PortSpec::output("error", SignalKind::Value, 1, "mean |prediction − reward|"),
        ],
    }
}

#[derive(Serialize, Deserialize)]
struct Agent {
    rng: SimRng,
    signs: Vec<f32>,
    /// The presentation schedule: (cue, is test).
    schedule: Vec<(usize, bool)>,
    shown: Option<(usize, bool)>,
    correct: u32,
    tests: u32,
    error: f64,
}

/// The task for P agents.
pub struct OneShotWorld {
    config: OneShotConfig,
    vocabulary: Arc<Vocabulary>,
    tokens: Vec<u32>,
    agents: Vec<Agent>,
    step: usize,
}

impl OneShotWorld {
    /// The task over a vocabulary holding its cues.
    pub fn new(config: &OneShotConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let tokens = config
            .words()
            .iter()
            .map(|w| {
                vocabulary
                    .id(w)
                    .ok_or_else(|| Error::Run(format!("`{w}` is not in the vocabulary")))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut world = OneShotWorld {
            config: config.clone(),
            vocabulary,
            tokens,
            agents: Vec::new(),
            step: 0,
        };
        world.reset(&(0..population as u64).collect::<Vec<_>>());
        Ok(world)
    }

    fn schedule(config: &OneShotConfig, rng: &mut SimRng) -> Vec<(usize, bool)> {
        let mut order: Vec<usize> = (0..config.cues).collect();
        order.shuffle(rng);
        let mut schedule = Vec::with_capacity(2 * config.cues);
        for block in order.chunks(config.block) {
            schedule.extend(block.iter().map(|&c| (c, false)));
            let mut test = block.to_vec();
            test.shuffle(rng);
            schedule.extend(test.into_iter().map(|c| (c, true)));
        }
        schedule
    }
}

impl World for OneShotWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        let config = &self.config;
        self.agents = seeds
            .iter()
            .map(|&s| {
                let mut rng = SimRng::seed_from_u64(s ^ 0x0005_407E);
                let signs = (0..config.cues)
                    .map(|i| match config.signs {
                        Signs::Alternate => {
                            if i % 2 == 0 {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                        Signs::Random => {
                            if rng.r#gen::<bool>() {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                    })
                    .collect();
                let schedule = Self::schedule(config, &mut rng);
                Agent {
                    rng,
                    signs,
                    schedule,
                    shown: None,
                    correct: 0,
                    tests: 0,
                    error: 0.0,
                }
            })
            .collect();
        self.step = 0;
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.agents.len();
        let n = 2 * self.config.cues;
        let k = self.step % n;
        let mut out = Array2::<f32>::zeros((p, 5));
        for (i, agent) in self.agents.iter_mut().enumerate() {
            if k == 0 && self.step > 0 {
                agent.schedule = Self::schedule(&self.config, &mut agent.rng);
            }
            let (cue, test) = agent.schedule[k];
            agent.shown = Some((cue, test));
            out[[i, 0]] = self.tokens[cue] as f32;
            out[[i, 1]] = agent.signs[cue] * self.config.reward as f32;
            out[[i, 2]] = if test { 1.0 } else { 0.0 };
            let tests = f64::from(agent.tests);
            out[[i, 3]] = if agent.tests == 0 {
                f32::NAN
            } else {
                (f64::from(agent.correct) / tests) as f32
            };
            out[[i, 4]] = if agent.tests == 0 {
                f32::NAN
            } else {
                (agent.error / tests) as f32
            };
        }
        self.step += 1;
        let names = ["token", "reward", "test", "accuracy", "error"];
        Ok(names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                (
                    *name,
                    Signal::Host(out.slice(ndarray::s![.., c..c + 1]).to_owned()),
                )
            })
            .collect())
    }

    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        let Some(prediction) = inputs.get("prediction").map(Signal::to_host) else {
            return Ok(());
        };
        let magnitude = self.config.reward as f32;
        for (i, agent) in self.agents.iter_mut().enumerate() {
            if let Some((cue, true)) = agent.shown {
                let r = agent.signs[cue] * magnitude;
                let v = prediction[[i, 0]];
                agent.tests += 1;
                agent.correct += u32::from(v * r > 0.0);
                agent.error += f64::from((v - r).abs());
            }
        }
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        super::save_agents_and_step(out, &self.agents, &self.step);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        super::restore_agents_and_step(from, &mut self.agents, &mut self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cue_is_studied_then_tested_within_its_block_and_scored() {
        let config = OneShotConfig {
            cues: 12,
            block: 3,
            ..Default::default()
        };
        let vocab = Arc::new(Vocabulary::from_counts(
            config.words().into_iter().map(|w| (w, 1)).collect(),
        ));
        let mut w = OneShotWorld::new(&config, vocab, 1).unwrap();
        let mut studied = std::collections::HashSet::new();
        let mut tested = 0;
        for k in 0..24 {
            let out = w.step().unwrap();
            let token = out[0].1.to_host()[[0, 0]] as usize;
            let reward = out[1].1.to_host()[[0, 0]];
            assert_eq!(reward, if token.is_multiple_of(2) { 1.0 } else { -1.0 });
            if out[2].1.to_host()[[0, 0]] == 1.0 {
                assert!(
                    studied.contains(&token),
                    "cue {token} tested before it was studied"
                );
                assert!(k % 6 >= 3, "tests close each block of three");
                tested += 1;
            } else {
                assert!(studied.insert(token), "cue {token} studied twice");
            }
            // A predictor that is right on the even-numbered cues only.
            let mut i = Inputs::default();
            i.insert("prediction", Signal::Host(Array2::from_elem((1, 1), 0.5)));
            w.act(&i).unwrap();
        }
        assert_eq!((studied.len(), tested), (12, 12));
        let out = w.step().unwrap();
        assert_eq!(out[3].1.to_host()[[0, 0]], 0.5, "accuracy");
        assert_eq!(out[4].1.to_host()[[0, 0]], 1.0, "mean |0.5 − (±1)|");
    }
}
