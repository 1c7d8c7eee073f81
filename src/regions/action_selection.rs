//! # ActionSelection — arbitration between the action systems
//!
//! Combines the action preferences of the basal ganglia (model-free values), the habit prior,
//! the prefrontal controller and a goal-directed system's worth of each action's predicted
//! outcome with configurable weights, and samples one action per agent from the softmax (Daw,
//! Niv & Dayan 2005 for the arbitration; here a fixed weighting):
//!
//! ```text
//! π(a) ∝ exp((w_bg · bg_a + w_habit · habit_a + w_pfc · pfc_a + w_goal · goal_a) / τ)
//! ```
//!
//! Ports: inputs `basal_ganglia`, `habit`, `pfc` `[P, actions]` (Logits, each optional), `goal`
//! `[P, actions]` (Value, optional: the reward model's `imagined_value` of the `goal_directed`
//! region's predicted outcomes); outputs `action` `[P, 1]` (Action), `logits` `[P, actions]`
//! (Logits: the combined logits).
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `actions` | 2 | A, the number of actions |
//! | `temperature` | 1.0 | τ > 0 |
//! | `bg_weight`, `habit_weight`, `pfc_weight` | 1.0, 0.0, 1.0 | weights of each system |
//! | `goal_weight` | 1.0 | weight of the goal-directed worths (an inverse temperature) |

use crate::regions::fork::Helper;
use crate::rng::SimRng;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, RegionSpec, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};

/// Hyperparameters of [`ActionSelection`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionSelectionConfig {
    /// A, the number of actions.
    pub actions: usize,
    /// τ, the softmax temperature.
    pub temperature: f64,
    /// Weight of the basal ganglia's logits.
    pub bg_weight: f64,
    /// Weight of the habit prior.
    pub habit_weight: f64,
    /// Weight of the prefrontal controller's logits.
    pub pfc_weight: f64,
    /// Weight of the goal-directed worths.
    #[serde(skip_serializing_if = "is_one")]
    pub goal_weight: f64,
}

fn is_one(w: &f64) -> bool {
    *w == 1.0
}

impl Default for ActionSelectionConfig {
    fn default() -> Self {
        ActionSelectionConfig {
            actions: 2,
            temperature: 1.0,
            bg_weight: 1.0,
            habit_weight: 0.0,
            pfc_weight: 1.0,
            goal_weight: 1.0,
        }
    }
}

impl RegionParams for ActionSelectionConfig {
    const KIND: &'static str = "action_selection";
    const SUMMARY: &'static str = "arbitration: weighted sum of BG, habit and PFC logits, sampled by softmax";
    const DETAIL: &'static str = include_str!("action_selection.rs");

    /// The ports.
    fn ports(&self) -> Ports {
        let a = Width::Fixed(self.actions);
        Ports {
            inputs: vec![
                PortSpec::optional("basal_ganglia", SignalKind::Logits, a, "model-free preferences"),
                PortSpec::optional("habit", SignalKind::Logits, a, "habit prior"),
                PortSpec::optional("pfc", SignalKind::Logits, a, "prefrontal controller"),
                PortSpec::optional(
                    "goal",
                    SignalKind::Value,
                    a,
                    "worth of each action's predicted outcome (goal-directed)",
                ),
            ],
            outputs: vec![
                PortSpec::output("action", SignalKind::Action, 1, "the sampled action"),
                PortSpec::output("logits", SignalKind::Logits, self.actions, "the combined logits"),
            ],
        }
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        super::check_sizes(&[("actions", self.actions, super::MAX_WIDTH)])?;
        if self.actions < 2 {
            return Err(ParamError::new("actions", "an integer ≥ 2"));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(ParamError::new("temperature", "a number > 0"));
        }
        for (name, w) in [
            ("bg_weight", self.bg_weight),
            ("habit_weight", self.habit_weight),
            ("pfc_weight", self.pfc_weight),
            ("goal_weight", self.goal_weight),
        ] {
            if !w.is_finite() {
                return Err(ParamError::new(name, "a finite number"));
            }
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(ActionSelection::new(self, ctx)))
    }
}

/// The arbiter for P agents; each agent samples from its own RNG.
pub struct ActionSelection {
    config: ActionSelectionConfig,
    rngs: Vec<SimRng>,
    /// Splits the agents in two ([`HELPER_MIN_AGENTS`] and more).
    helper: Option<Helper>,
}

impl ActionSelection {
    /// One sampler per agent, seeded from the agent's seed.
    pub fn new(config: &ActionSelectionConfig, ctx: &BuildContext<'_>) -> Self {
        ActionSelection {
            config: config.clone(),
            rngs: ctx.seeds.iter().map(|&s| SimRng::seed_from_u64(s)).collect(),
            helper: if ctx.seeds.len() >= HELPER_MIN_AGENTS {
                Helper::spawn()
            } else {
                None
            },
        }
    }
}

/// Each agent's action drawn from softmax(logits / τ) with its generator (`logits` `[P, A]`).
fn sample(rngs: &mut [SimRng], logits: &[f32], action: &mut [f32], (a, tau): (usize, f32)) {
    let mut weights = Vec::with_capacity(a);
    for ((rng, row), action) in rngs.iter_mut().zip(logits.chunks_exact(a)).zip(action) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        weights.clear();
        weights.extend(row.iter().map(|l| ((l - max) / tau).exp()));
        let total: f32 = weights.iter().sum();
        let mut u = rng.r#gen::<f32>() * total;
        let mut chosen = a - 1;
        for (k, w) in weights.iter().enumerate() {
            if u < *w {
                chosen = k;
                break;
            }
            u -= w;
        }
        *action = chosen as f32;
    }
}

/// Populations from which the agents sample in two halves, one on the helper thread.
const HELPER_MIN_AGENTS: usize = 64;

impl Region for ActionSelection {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let (p, a) = (self.rngs.len(), self.config.actions);
        let mut logits = Array2::<f32>::zeros((p, a));
        let c = &self.config;
        for (port, w) in [
            ("basal_ganglia", c.bg_weight),
            ("habit", c.habit_weight),
            ("pfc", c.pfc_weight),
            ("goal", c.goal_weight),
        ] {
            if let Some(s) = inputs.get(port) {
                logits.scaled_add(w as f32, &s.to_host());
            }
        }
        let mut action = Array2::zeros((p, 1));
        let tau = c.temperature as f32;
        let flat = logits.as_slice().expect("a fresh array");
        let chosen = action.as_slice_mut().expect("a fresh array");
        // Each agent samples from its own generator: the split changes nothing in the results.
        match self.helper.as_mut() {
            Some(helper) => {
                let mid = p / 2;
                let (rngs_here, rngs_there) = self.rngs.split_at_mut(mid);
                let (logits_here, logits_there) = flat.split_at(mid * a);
                let (here, there) = chosen.split_at_mut(mid);
                helper.join(
                    || sample(rngs_here, logits_here, here, (a, tau)),
                    || sample(rngs_there, logits_there, there, (a, tau)),
                );
            }
            None => sample(&mut self.rngs, flat, chosen, (a, tau)),
        }
        Ok(vec![
            ("action", Signal::Host(action)),
            ("logits", Signal::Host(logits)),
        ])
    }

    fn set_learning(&mut self, _learning: bool) {}

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put("rngs", &self.rngs);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let rngs: Vec<SimRng> = from.get("rngs")?;
        if rngs.len() != self.rngs.len() {
            return Err(Error::Run(format!(
                "checkpoint: {} generators saved for {} agents",
                rngs.len(),
                self.rngs.len()
            )));
        }
        self.rngs = rngs;
        Ok(())
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<ActionSelectionConfig>() {
            Some(c) if c.actions == self.config.actions => {
                self.config = c.clone();
                Ok(())
            }
            _ => Err(crate::Error::Run(
                "action_selection: only weights and temperature can change".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::Vocabulary;

    /// A population split over the helper thread chooses as it does on one thread: each agent
    /// with its own generator and its own row of logits.
    #[test]
    fn agents_in_two_halves_choose_as_on_one_thread() {
        let p = HELPER_MIN_AGENTS + 5;
        let device = burn::prelude::Device::flex();
        let vocabulary = Vocabulary::default();
        let ctx = BuildContext {
            population: p,
            device: &device,
            seeds: (0..p as u64).collect(),
            vocabulary: &vocabulary,
            input_widths: [("pfc", 3)].into_iter().collect(),
        };
        let config = ActionSelectionConfig {
            actions: 3,
            ..Default::default()
        };
        let (mut split, mut one) = (
            ActionSelection::new(&config, &ctx),
            ActionSelection::new(&config, &ctx),
        );
        one.helper = None;
        if split.helper.is_none() {
            split.helper = Some(Helper::idle());
        }
        let mut counts = [0usize; 3];
        for tick in 0..50 {
            let logits = Array2::from_shape_fn((p, 3), |(i, k)| ((i * 7 + k * 3 + tick) % 5) as f32 * 0.4);
            let mut inputs = Inputs::default();
            inputs.insert("pfc", Signal::Host(logits));
            let (a, b) = (split.step(&inputs).unwrap(), one.step(&inputs).unwrap());
            let (a, b) = (a[0].1.to_host(), b[0].1.to_host());
            assert_eq!(a, b, "tick {tick}");
            a.iter().for_each(|&x| counts[x as usize] += 1);
        }
        assert!(counts.iter().all(|&c| c > 0), "every action drawn: {counts:?}");
    }
}
