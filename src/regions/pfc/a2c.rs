//! Advantage actor-critic (Mnih et al. 2016) over a rollout: n-step returns cut at episode ends,
//! advantages, and the loss's gradient at the policy and value heads.
//!
//! ```text
//! R_t = r_t + γ (1 − done_t) R_{t+1}          (R after the rollout: v of the next state)
//! L   = mean_t [ −log π(a_t | h_t) (R_t − v_t) + β_v ½ (R_t − v_t)² − β_e H(π(· | h_t)) ]
//! ∂L/∂logits = ((π − onehot(a)) A + β_e π (log π + H)) / n      ∂L/∂v = β_v (v − R) / n
//! ```

use burn::prelude::{Device, Tensor, TensorData};
use burn::tensor::activation::log_softmax;

use super::device::Step;

/// A rollout's values `[G, T·W, 1]`: its steps' `value`s concatenated along the worker axis.
pub(super) fn values(steps: &[Step]) -> Tensor<3> {
    Tensor::cat(steps.iter().map(|s| s.value.clone()).collect(), 1)
}

/// The shape of a population of controllers: G controllers × W workers, A actions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub groups: usize,
    pub workers: usize,
    pub actions: usize,
}

/// Returns, advantages and the chosen actions of a rollout (host side), as `[G, T·W, 1]`,
/// `[G, T·W, 1]` and `[G, T·W, A]`; `values` as [`values`] gives them, `bootstrap` is v of the
/// state after the rollout, per agent.
pub(super) fn targets(
    shape: Shape,
    gamma: f32,
    steps: &[Step],
    values: &Tensor<3>,
    bootstrap: &[f32],
    device: &Device,
) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
    let Shape {
        groups: g,
        workers: w,
        actions: a,
    } = shape;
    let t_len = steps.len();
    let values = values
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32 values");
    let mut returns = vec![0.0f32; g * t_len * w];
    let mut onehot = vec![0.0f32; g * t_len * w * a];
    for agent in 0..g * w {
        let (gi, wi) = (agent / w, agent % w);
        let mut ret = bootstrap[agent];
        for (t, s) in steps.iter().enumerate().rev() {
            ret = s.outcome.reward[agent] + if s.outcome.done[agent] { 0.0 } else { gamma * ret };
            let idx = gi * t_len * w + t * w + wi;
            returns[idx] = ret;
            onehot[idx * a + s.outcome.action[agent]] = 1.0;
        }
    }
    let advantages: Vec<f32> = returns.iter().zip(&values).map(|(r, v)| r - v).collect();
    let constant =
        |v: Vec<f32>, last: usize| Tensor::<3>::from_data(TensorData::new(v, [g, t_len * w, last]), device);
    (constant(returns, 1), constant(advantages, 1), constant(onehot, a))
}

/// The loss's gradient at the heads: (∂L/∂logits `[G, T·W, A]`, ∂L/∂v `[G, T·W, 1]`), the
/// advantages held constant; n = T·W.
pub(super) fn head_gradients(
    steps: &[Step],
    values: Tensor<3>,
    (returns, advantages, onehot): (Tensor<3>, Tensor<3>, Tensor<3>),
    workers: usize,
    (entropy, value_loss): (f32, f32),
) -> (Tensor<3>, Tensor<3>) {
    let n = (steps.len() * workers) as f32;
    let logits = Tensor::cat(steps.iter().map(|s| s.logits.clone()).collect(), 1);
    let logp = log_softmax(logits, 2);
    let pi = logp.clone().exp();
    let h = -(pi.clone() * logp.clone()).sum_dim(2);
    let d_logits = (pi.clone() - onehot) * advantages * (1.0 / n) + pi * (logp + h) * (entropy / n);
    let d_value = (values - returns) * (value_loss / n);
    (d_logits, d_value)
}
