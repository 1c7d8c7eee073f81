//! # BasalGanglia — a model-free actor over the latent state, trained by dopamine
//!
//! The striatum as the actor of an actor-critic (Barto 1995; Joel, Niv & Ruppin 2002): action
//! preferences are linear in the cortical state, and the reward prediction error δ from the
//! dopaminergic critic (the `reward_model`) reinforces the action just taken. Direct ("Go",
//! D1) and indirect ("NoGo", D2) pathways learn from positive and negative δ at their own rates
//! (Frank, Seeberger & O'Reilly 2004):
//!
//! ```text
//! logits_t = W · z_t                              (per agent: W ∈ R^{A×D})
//! W       ← W + η± · δ_t · onehot(a_{t−1}) ⊗ z_{t−1},   η± = lr_go if δ_t > 0 else lr_nogo
//! ```
//!
//! This is the actor of Sutton & Barto (1998, §6.6): the chosen action's preference moves by
//! δ, without the policy-gradient factor (1 − π), so a well-learnt preference can still be
//! unlearnt quickly when its outcomes turn bad (reversal learning).
//!
//! δ_t is the critic's error on the transition that followed a_{t−1} (use the reward model's
//! "transition" timing, so that it arrives on the same tick as the outcome).
//!
//! Ports: inputs `latent` `[P, D]` (Latent, required), `rpe` `[P, 1]` (Rpe, required), `action`
//! `[P, 1]` (Action, required: the action taken last tick, an edge with `delay = 1`); output
//! `logits` `[P, actions]` (Logits).
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `actions` | 2 | A, the number of actions |
//! | `lr_go` | 0.1 | η for δ > 0 (direct pathway) |
//! | `lr_nogo` | 0.1 | η for δ < 0 (indirect pathway) |
//!
//! Weights are burn tensors `[P, A, D]`: one batched matmul steps all agents.

use burn::prelude::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, RegionSpec, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind, array_to_tensor, tensor_to_array};

/// Hyperparameters of [`BasalGanglia`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasalGangliaConfig {
    /// A, the number of actions.
    pub actions: usize,
    /// Learning rate for positive δ (Go).
    pub lr_go: f64,
    /// Learning rate for negative δ (NoGo).
    pub lr_nogo: f64,
}

impl Default for BasalGangliaConfig {
    fn default() -> Self {
        BasalGangliaConfig {
            actions: 2,
            lr_go: 0.1,
            lr_nogo: 0.1,
        }
    }
}

impl RegionParams for BasalGangliaConfig {
    const KIND: &'static str = "basal_ganglia";
    const SUMMARY: &'static str =
        "striatal actor: action preferences over the latent, trained by δ (Go/NoGo rates)";
    const DETAIL: &'static str = include_str!("basal_ganglia.rs");

    /// The ports.
    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![
                PortSpec::input("latent", SignalKind::Latent, Width::Inferred, "z_t"),
                PortSpec::input("rpe", SignalKind::Rpe, Width::Fixed(1), "δ_t from the critic"),
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
                "W · z_t",
            )],
        }
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        super::check_sizes(&[("actions", self.actions, super::MAX_WIDTH)])?;
        if self.actions < 2 {
            return Err(ParamError::new("actions", "an integer ≥ 2"));
        }
        for (name, v) in [("lr_go", self.lr_go), ("lr_nogo", self.lr_nogo)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ParamError::new(name, "a number ≥ 0"));
            }
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(BasalGanglia::new(self, ctx)))
    }
}

/// The actor for P agents. See the module documentation.
pub struct BasalGanglia {
    config: BasalGangliaConfig,
    device: Device,
    /// W, `[P, A, D]`.
    weights: Tensor<3>,
    /// z_{t−1}.
    previous: Option<Tensor<2>>,
    learning: bool,
}

impl BasalGanglia {
    /// Zero weights: every action equally likely at first.
    pub fn new(config: &BasalGangliaConfig, ctx: &BuildContext<'_>) -> Self {
        let d = ctx.input_widths.get("latent").copied().unwrap_or(1);
        BasalGanglia {
            config: config.clone(),
            device: ctx.device.clone(),
            weights: Tensor::zeros([ctx.population, config.actions, d], ctx.device),
            previous: None,
            learning: true,
        }
    }

    /// Logits `[P, A]` of latents `[P, D]`.
    fn logits(&self, z: Tensor<2>) -> Tensor<2> {
        let [p, d] = z.dims();
        self.weights
            .clone()
            .matmul(z.reshape([p, d, 1]))
            .reshape([p, self.config.actions])
    }
}

impl Region for BasalGanglia {
    fn divergent_agent(&self) -> Option<usize> {
        let [p, a, d] = self.weights.dims();
        let w = tensor_to_array(self.weights.clone().reshape([p, a * d]));
        (0..p).find(|&i| !w.row(i).iter().all(|x| x.is_finite()))
    }

    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let get = |port: &str| {
            inputs
                .get(port)
                .ok_or_else(|| Error::Run(format!("basal_ganglia: no `{port}` input")))
        };
        let z = get("latent")?.to_tensor(&self.device);
        if let (true, Some(z_prev)) = (self.learning, self.previous.take()) {
            let delta = get("rpe")?.to_host();
            let action = get("action")?.to_host();
            let (p, a) = (delta.nrows(), self.config.actions);
            let mut onehot = ndarray::Array2::<f32>::zeros((p, a));
            let mut rate = ndarray::Array2::<f32>::zeros((p, 1));
            for i in 0..p {
                let chosen = (action[[i, 0]] as usize).min(a - 1);
                onehot[[i, chosen]] = 1.0;
                let d = delta[[i, 0]];
                let lr = if d > 0.0 {
                    self.config.lr_go
                } else {
                    self.config.lr_nogo
                } as f32;
                rate[[i, 0]] = lr * d;
            }
            let [_, dim] = z_prev.dims();
            let step = (array_to_tensor(&onehot, &self.device) * array_to_tensor(&rate, &self.device))
                .reshape([p, a, 1]);
            self.weights = self.weights.clone() + step.matmul(z_prev.reshape([p, 1, dim]));
        }
        let logits = self.logits(z.clone());
        self.previous = Some(z);
        Ok(vec![("logits", Signal::Device(logits))])
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
        if !learning {
            self.previous = None;
        }
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<BasalGangliaConfig>() {
            Some(c) if c.actions == self.config.actions => {
                self.config = c.clone();
                Ok(())
            }
            _ => Err(Error::Run("basal_ganglia: only learning rates can change".into())),
        }
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put_tensor("weights", &self.weights);
        out.put_optional_tensor("previous", self.previous.as_ref());
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let [p, a, d] = self.weights.dims();
        self.weights = from.tensor("weights", [p, a, d], &self.device)?;
        self.previous = from.optional_tensor("previous", [p, d], &self.device)?;
        Ok(())
    }
}
