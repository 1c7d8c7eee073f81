//! # Habit — an action prior that repeats what was done before in similar states
//!
//! A model-free, value-free habit system (Miller, Shenhav & Ludvig 2019): a decaying
//! association between states and the actions taken in them, which biases choice towards past
//! actions regardless of their outcomes.
//!
//! ```text
//! H      ← (1 − α) · H + α · onehot(a_{t−1}) ⊗ z_{t−1}      (per agent: H ∈ R^{A×D})
//! logits_t = H · z_t
//! ```
//!
//! Ports: inputs `latent` `[P, D]` (Latent, required), `action` `[P, 1]` (Action, required: the
//! action taken last tick, an edge with `delay = 1`); output `logits` `[P, actions]` (Logits).
//! Its weight in the choice is set in `action_selection` (`habit_weight`).
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `actions` | 2 | A, the number of actions |
//! | `rate` | 0.02 | α, how fast the association tracks recent actions (per tick) |

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, Width};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};

/// Hyperparameters of [`Habit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HabitConfig {
    /// A, the number of actions.
    pub actions: usize,
    /// α, the association's learning (and forgetting) rate.
    pub rate: f64,
}

impl Default for HabitConfig {
    fn default() -> Self {
        HabitConfig {
            actions: 2,
            rate: 0.02,
        }
    }
}

impl RegionParams for HabitConfig {
    const KIND: &'static str = "habit";
    const SUMMARY: &'static str = "value-free action prior: repeats what was done before in similar states";
    const DETAIL: &'static str = include_str!("habit.rs");

    /// The ports.
    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![
                PortSpec::input("latent", SignalKind::Latent, Width::Inferred, "z_t"),
                PortSpec::input(
                    "action",
                    SignalKind::Action,
                    Width::Fixed(1),
                    "a_{t−1} (delay = 1)",
                ),
            ],
            outputs: vec![PortSpec::output(
                "logits",
                SignalKind::Logits,
                self.actions,
                "H · z_t",
            )],
        }
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        super::check_sizes(&[("actions", self.actions, super::MAX_WIDTH)])?;
        if self.actions < 2 {
            return Err(ParamError::new("actions", "an integer ≥ 2"));
        }
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(ParamError::new("rate", "a number in [0, 1]"));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(Habit::new(self, ctx)))
    }
}

/// The habit prior for P agents (host memory: its update is a rank-one decay per agent).
pub struct Habit {
    config: HabitConfig,
    /// Per agent, H as `[A, D]`.
    strength: Vec<Array2<f32>>,
    previous: Option<Array2<f32>>,
    learning: bool,
}

impl Habit {
    /// No habits yet.
    pub fn new(config: &HabitConfig, ctx: &BuildContext<'_>) -> Self {
        let d = ctx.input_widths.get("latent").copied().unwrap_or(1);
        Habit {
            config: config.clone(),
            strength: vec![Array2::zeros((config.actions, d)); ctx.population],
            previous: None,
            learning: true,
        }
    }
}

impl Region for Habit {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let get = |port: &str| {
            inputs
                .get(port)
                .ok_or_else(|| Error::Run(format!("habit: no `{port}` input")))
        };
        let z = get("latent")?.to_host();
        if let (true, Some(z_prev)) = (self.learning, self.previous.take()) {
            let action = get("action")?.to_host();
            let alpha = self.config.rate as f32;
            for (i, h) in self.strength.iter_mut().enumerate() {
                h.mapv_inplace(|x| x * (1.0 - alpha));
                let a = (action[[i, 0]] as usize).min(self.config.actions - 1);
                h.row_mut(a).scaled_add(alpha, &z_prev.row(i));
            }
        }
        let logits = Array2::from_shape_fn((z.nrows(), self.config.actions), |(i, a)| {
            self.strength[i].row(a).dot(&z.row(i))
        });
        self.previous = Some(z);
        Ok(vec![("logits", Signal::Host(logits))])
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
        if !learning {
            self.previous = None;
        }
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        let (a, d) = self.strength[0].dim();
        let all = self.strength.iter().flat_map(|h| h.iter().copied()).collect();
        out.put_array("strength", &[self.strength.len(), a, d], all);
        out.put_optional_host("previous", self.previous.as_ref());
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let (p, (a, d)) = (self.strength.len(), self.strength[0].dim());
        let all = from.array("strength", &[p, a, d])?;
        for (h, chunk) in self.strength.iter_mut().zip(all.chunks_exact(a * d)) {
            h.iter_mut().zip(chunk).for_each(|(x, &v)| *x = v);
        }
        self.previous = from.optional_host("previous", [p, d])?;
        Ok(())
    }
}
