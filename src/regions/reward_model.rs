//! # RewardModel — the dopaminergic nuclei (VTA/SNc) as a learned value function
//!
//! Learns, from sparse primary reward, the value of points of the cortex's latent space and emits
//! the reward prediction error (Schultz, Dayan & Montague 1997; Sutton & Barto 2018, ch. 9):
//!
//! ```text
//! V(z)  = w · z + b                                    (per agent: w ∈ R^D, b ∈ R; b = 0 unless `bias`)
//! δ_t   = r_t + γ · V(z_{t+1}) − V(z_t)                (the reward r_t is received in state z_t)
//! w    ← (1 − ηλ) · w + η · δ_t · z_t       b ← b + η · δ_t
//! ```
//!
//! The value includes the reward received in the state itself, so a rewarded concept is
//! valuable in its own right. δ_t needs z_{t+1}, so it is emitted one tick late (δ_{t−1} at
//! tick t); with γ = 0 it is exactly r − V(z). Because V is a function of z, value generalises
//! over the latent geometry: a concept near a rewarded one is valued too (geometric bleed).
//!
//! **Valence of a concept c** := V(e(c)), the value at the cortex's readout of c.
//!
//! Ports: inputs `latent` `[P, D]` (Latent, required), `reward` `[P, 1]` (Reward, required);
//! outputs `value` `[P, 1]` = V(z_t) (Value), `rpe` `[P, 1]` = δ_{t−1} (Rpe).
//!
//! Parameters (default; unit):
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `lr` | 0.1 | η, learning rate (per tick) |
//! | `gamma` | 0.0 | γ ∈ `[0, 1]`, discount per tick; 0 turns off TD (second-order) learning |
//! | `weight_decay` | 0.0 | λ ≥ 0, L2 shrinkage per update (scaled by η); a ridge prior on w |
//! | `bias` | false | learn b, a baseline value of every state |
//!
//! Weights are burn tensors `[P, D]` on the brain's device: every agent has its own, and one
//! batched expression steps them all.

use burn::prelude::{Device, Tensor};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, Width};
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind, array_to_tensor, tensor_to_array};

/// Hyperparameters of [`RewardModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardModelConfig {
    /// Learning rate η.
    pub lr: f64,
    /// Discount γ in `[0, 1]`; 0 turns off second-order (TD) conditioning.
    pub gamma: f64,
    /// L2 weight decay λ (per update, scaled by η).
    pub weight_decay: f64,
    /// Learn a bias b (a baseline value of every state). Off, a concept orthogonal to every
    /// valued one is neutral (V = 0) instead of inheriting the baseline.
    pub bias: bool,
}

impl Default for RewardModelConfig {
    fn default() -> Self {
        RewardModelConfig {
            lr: 0.1,
            gamma: 0.0,
            weight_decay: 0.0,
            bias: false,
        }
    }
}

impl RewardModelConfig {
    /// The ports.
    pub fn ports(&self) -> Ports {
        Ports {
            inputs: vec![
                PortSpec::input("latent", SignalKind::Latent, Width::Inferred, "z_t, the state"),
                PortSpec::input(
                    "reward",
                    SignalKind::Reward,
                    Width::Fixed(1),
                    "r_t, primary reward",
                ),
            ],
            outputs: vec![
                PortSpec::output("value", SignalKind::Value, 1, "V(z_t)"),
                PortSpec::output("rpe", SignalKind::Rpe, 1, "δ_{t−1}, the reward prediction error"),
            ],
        }
    }

    /// Checks ranges.
    pub fn check(&self) -> Result<(), ParamError> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ParamError::new("lr", "a number > 0"));
        }
        if !(0.0..=1.0).contains(&self.gamma) {
            return Err(ParamError::new("gamma", "a number in [0, 1]"));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay * self.lr < 1.0) {
            return Err(ParamError::new(
                "weight_decay",
                "a number ≥ 0 with weight_decay · lr < 1",
            ));
        }
        Ok(())
    }
}

/// TD value learner for P agents. See the module documentation.
pub struct RewardModel {
    config: RewardModelConfig,
    device: Device,
    /// w, `[P, D]`.
    weights: Tensor<2>,
    /// b, `[P, 1]`.
    bias: Tensor<2>,
    /// (z_{t−1}, r_{t−1}) awaiting V(z_t) to form δ_{t−1}.
    previous: Option<(Tensor<2>, Tensor<2>)>,
    learning: bool,
}

impl RewardModel {
    /// Zero weights: nothing is valued before it is rewarded.
    pub fn new(config: &RewardModelConfig, ctx: &BuildContext<'_>) -> Self {
        let d = ctx.input_widths.get("latent").copied().unwrap_or(1);
        let p = ctx.population;
        RewardModel {
            config: config.clone(),
            device: ctx.device.clone(),
            weights: Tensor::zeros([p, d], ctx.device),
            bias: Tensor::zeros([p, 1], ctx.device),
            previous: None,
            learning: true,
        }
    }

    /// V(z) for each agent.
    ///
    /// # Shapes
    /// `z`: `[P, D]` → `[P, 1]`.
    fn value(&self, z: Tensor<2>) -> Tensor<2> {
        (self.weights.clone() * z).sum_dim(1) + self.bias.clone()
    }
}

impl Region for RewardModel {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let latent = inputs
            .get("latent")
            .ok_or_else(|| Error::Run("reward_model: no `latent` input".into()))?;
        let reward = inputs
            .get("reward")
            .ok_or_else(|| Error::Run("reward_model: no `reward` input".into()))?;
        let z = latent.to_tensor(&self.device);
        let r = reward.to_tensor(&self.device);
        let value = self.value(z.clone());
        let rpe = match self.previous.take() {
            Some((z_prev, r_prev)) => {
                let gamma = self.config.gamma as f32;
                let delta = r_prev + value.clone() * gamma - self.value(z_prev.clone());
                if self.learning {
                    let lr = self.config.lr as f32;
                    let keep = 1.0 - (self.config.lr * self.config.weight_decay) as f32;
                    self.weights = self.weights.clone() * keep + z_prev * delta.clone() * lr;
                    if self.config.bias {
                        self.bias = self.bias.clone() + delta.clone() * lr;
                    }
                }
                delta
            }
            None => Tensor::zeros(value.dims(), &self.device),
        };
        // After learning, V(z_t) reflects the update just made; emit the value the agent holds now.
        let value = if self.learning {
            self.value(z.clone())
        } else {
            value
        };
        self.previous = Some((z, r));
        Ok(vec![
            ("value", Signal::Device(value)),
            ("rpe", Signal::Device(rpe)),
        ])
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
    }

    fn value_at(&self, latent: &Array2<f32>) -> Option<Array1<f32>> {
        if latent.ncols() != self.weights.dims()[1] {
            return None;
        }
        let v = tensor_to_array(self.value(array_to_tensor(latent, &self.device)));
        Some(v.column(0).to_owned())
    }

    fn is_finite(&self) -> bool {
        let w = tensor_to_array(self.weights.clone());
        w.iter().all(|x| x.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worlds::Vocabulary;

    fn model(config: RewardModelConfig, p: usize, d: usize, device: &Device) -> RewardModel {
        let vocab = Vocabulary::from_counts(vec![]);
        let ctx = BuildContext {
            population: p,
            device,
            seeds: vec![0; p],
            vocabulary: &vocab,
            input_widths: [("latent", d)].into_iter().collect(),
        };
        RewardModel::new(&config, &ctx)
    }

    fn inputs(z: &[f32], r: f32) -> Inputs {
        let mut inputs = Inputs::default();
        inputs.insert(
            "latent",
            Signal::Host(Array2::from_shape_vec((1, z.len()), z.to_vec()).unwrap()),
        );
        inputs.insert("reward", Signal::Host(Array2::from_elem((1, 1), r)));
        inputs
    }

    #[test]
    fn td_error_matches_a_hand_computation() {
        // Python, the same two ticks by hand:
        //   w = [0, 0]; b = 0; lr = 0.5; gamma = 0.9
        //   tick 1: z = [1, 0], r = 1 → no δ yet
        //   tick 2: z' = [0, 1], r = 0: δ = 1 + 0.9·V(z') − V(z) = 1 + 0 − 0 = 1
        //           w = [0.5, 0], b = 0.5
        //   tick 3: z'' = [0, 0]: δ = 0 + 0.9·V(z'') − V(z') = 0.9·0.5 − 0.5 = −0.05
        let device = Device::flex();
        let mut m = model(
            RewardModelConfig {
                lr: 0.5,
                gamma: 0.9,
                weight_decay: 0.0,
                bias: true,
            },
            1,
            2,
            &device,
        );
        let rpe = |out: &Outputs| out[1].1.to_host()[[0, 0]];
        assert_eq!(rpe(&m.step(&inputs(&[1., 0.], 1.)).unwrap()), 0.0);
        assert_eq!(rpe(&m.step(&inputs(&[0., 1.], 0.)).unwrap()), 1.0);
        let v = m
            .value_at(&Array2::from_shape_vec((1, 2), vec![1., 0.]).unwrap())
            .unwrap();
        assert_eq!(v[0], 1.0);
        let delta = rpe(&m.step(&inputs(&[0., 0.], 0.)).unwrap());
        assert!((delta - (-0.05)).abs() < 1e-6, "{delta}");
    }

    #[test]
    fn frozen_model_does_not_learn() {
        let device = Device::flex();
        let mut m = model(RewardModelConfig::default(), 1, 2, &device);
        m.set_learning(false);
        for _ in 0..5 {
            m.step(&inputs(&[1., 0.], 1.)).unwrap();
        }
        let v = m
            .value_at(&Array2::from_shape_vec((1, 2), vec![1., 0.]).unwrap())
            .unwrap();
        assert_eq!(v[0], 0.0);
    }

    #[test]
    fn check_rejects_gamma_out_of_range() {
        let c = RewardModelConfig {
            gamma: 1.5,
            ..Default::default()
        };
        assert_eq!(c.check().unwrap_err().param, "gamma");
    }
}
