//! # bandit — k-armed bandits, stationary or with reversals
//!
//! Each step the agent sees the `cue` token and, as reward, the outcome of the arm it chose on
//! the previous step: 1 with that arm's probability in `arms`, else 0 (Bernoulli bandits).
//! With `reversal_every = N`, the arms' probabilities are reversed (the list read backwards)
//! every N steps, so the better arm becomes the worse one (reversal learning).
//!
//! Ports: input `action` `[P, 1]` (Action, required); outputs `token` `[P, 1]` (Token),
//! `reward` `[P, 1]` (Reward), `best_arm` `[P, 1]` (Action: the arm that is best now).

use std::sync::Arc;

use ndarray::Array2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Vocabulary, World, WorldError};
use crate::error::{Error, ErrorKind, Result};
use crate::regions::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::signal::{Signal, SignalKind};

/// A Bernoulli bandit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BanditConfig {
    /// Each arm's reward probability.
    pub arms: Vec<f64>,
    /// Reverse the arms every this many steps; 0 for a stationary bandit.
    pub reversal_every: u64,
    /// The token shown on every step.
    pub cue: String,
}

impl Default for BanditConfig {
    fn default() -> Self {
        BanditConfig {
            arms: vec![0.8, 0.2],
            reversal_every: 0,
            cue: "choose".into(),
        }
    }
}

impl BanditConfig {
    /// Checks ranges.
    pub fn check(&self) -> std::result::Result<(), WorldError> {
        if self.arms.len() < 2 {
            return Err(WorldError::new(
                vec!["arms".into()],
                ErrorKind::InvalidValue,
                "expected at least two arms".into(),
            ));
        }
        if let Some(i) = self.arms.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(WorldError::new(
                vec!["arms".into(), i.to_string()],
                ErrorKind::InvalidValue,
                "expected a probability in [0, 1]".into(),
            ));
        }
        Ok(())
    }

    /// The arms' probabilities at a step (reversed every `reversal_every` steps).
    pub fn probabilities(&self, step: u64) -> Vec<f64> {
        let reversed = self.reversal_every > 0 && (step / self.reversal_every) % 2 == 1;
        if reversed {
            self.arms.iter().rev().copied().collect()
        } else {
            self.arms.clone()
        }
    }
}

/// The ports of a bandit world.
pub fn ports() -> Ports {
    Ports {
        inputs: vec![PortSpec::input(
            "action",
            SignalKind::Action,
            Width::Fixed(1),
            "the arm pulled",
        )],
        outputs: vec![
            PortSpec::output("token", SignalKind::Token, 1, "the cue"),
            PortSpec::output("reward", SignalKind::Reward, 1, "the last pull's outcome"),
            PortSpec::output("best_arm", SignalKind::Action, 1, "the arm that is best now"),
        ],
    }
}

/// Bernoulli bandits for P agents.
pub struct BanditWorld {
    config: BanditConfig,
    vocabulary: Arc<Vocabulary>,
    cue: u32,
    rngs: Vec<SmallRng>,
    pending: Option<Vec<usize>>,
    step: u64,
}

impl BanditWorld {
    /// A bandit over a vocabulary holding its cue.
    pub fn new(config: &BanditConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let cue = vocabulary
            .id(&config.cue)
            .ok_or_else(|| Error::Run(format!("`{}` is not in the vocabulary", config.cue)))?;
        let rngs = (0..population as u64).map(SmallRng::seed_from_u64).collect();
        Ok(BanditWorld {
            config: config.clone(),
            vocabulary,
            cue,
            rngs,
            pending: None,
            step: 0,
        })
    }
}

impl World for BanditWorld {
    fn ports(&self) -> Vec<PortSpec> {
        ports().outputs
    }

    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        self.rngs = seeds.iter().map(|&s| SmallRng::seed_from_u64(s)).collect();
        self.pending = None;
        self.step = 0;
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.rngs.len();
        // The outcome of the pull chosen last step, under the probabilities of that step.
        let probabilities = self.config.probabilities(self.step.saturating_sub(1));
        let mut reward = Array2::zeros((p, 1));
        if let Some(actions) = self.pending.take() {
            for (i, (&a, rng)) in actions.iter().zip(&mut self.rngs).enumerate() {
                let prob = probabilities.get(a).copied().unwrap_or(0.0);
                if rng.r#gen::<f64>() < prob {
                    reward[[i, 0]] = 1.0;
                }
            }
        }
        let now = self.config.probabilities(self.step);
        let best = (0..now.len())
            .max_by(|&a, &b| now[a].total_cmp(&now[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        self.step += 1;
        Ok(vec![
            ("token", Signal::Host(Array2::from_elem((p, 1), self.cue as f32))),
            ("reward", Signal::Host(reward)),
            ("best_arm", Signal::Host(Array2::from_elem((p, 1), best as f32))),
        ])
    }

    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        let actions = inputs
            .get("action")
            .ok_or_else(|| Error::Run("bandit: no `action` input".into()))?
            .to_host();
        let arms = self.config.arms.len();
        let chosen = actions
            .column(0)
            .iter()
            .map(|&a| {
                let a = a as usize;
                if a < arms {
                    Ok(a)
                } else {
                    Err(Error::Run(format!("bandit: arm {a} of {arms}")))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        self.pending = Some(chosen);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pays_the_chosen_arm_at_its_rate_and_reverses() {
        let config = BanditConfig {
            arms: vec![0.9, 0.1],
            reversal_every: 1000,
            ..Default::default()
        };
        let vocab = Arc::new(Vocabulary::from_counts(vec![("choose".into(), 1)]));
        let mut w = BanditWorld::new(&config, vocab, 1).unwrap();
        let mut paid = [0.0f32; 2];
        for step in 0..2000 {
            let out = w.step().unwrap();
            let best = out[2].1.to_host()[[0, 0]];
            assert_eq!(best, if step < 1000 { 0.0 } else { 1.0 });
            if step > 0 && step < 1000 {
                paid[(step % 2) as usize ^ 1] += out[1].1.to_host()[[0, 0]];
            }
            let mut i = Inputs::default();
            i.insert(
                "action",
                Signal::Host(Array2::from_elem((1, 1), (step % 2) as f32)),
            );
            w.act(&i).unwrap();
        }
        // ~500 pulls each before the reversal: arm 0 pays ~90%, arm 1 ~10%.
        assert!(paid[0] > 400.0 && paid[1] < 100.0, "{paid:?}");
    }
}
