//! Per-network gradient-norm clipping and Adam (Kingma & Ba 2015) on batched weights
//! (`[G, …]`: G independent networks), shared by the recurrent regions.
//!
//! ```text
//! g ← g · min(1, c / (‖g‖ + 10⁻⁶))          (‖g‖ over all of one controller's parameters)
//! m ← β₁ m + (1 − β₁) g     v ← β₂ v + (1 − β₂) g²     θ ← θ − η (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
//! ```
//! with β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸.

use burn::prelude::Tensor;

/// β₁, β₂ and ε, for every Adam in the crate (burn tensors here, host loops in the PFC's and the
/// world model's tables).
pub(crate) const BETA1: f32 = 0.9;
pub(crate) const BETA2: f32 = 0.999;
pub(crate) const EPSILON: f32 = 1e-8;

/// The bias corrections (1 − β₁ᵗ, 1 − β₂ᵗ) of step `step`.
pub(crate) fn corrections(step: i32) -> (f32, f32) {
    (1.0 - BETA1.powi(step), 1.0 - BETA2.powi(step))
}

/// Adam's state: first and second moments of every parameter (in the caller's order), and the
/// step count.
#[derive(Clone)]
pub(crate) struct Adam {
    pub first: Vec<Tensor<3>>,
    pub second: Vec<Tensor<3>>,
    pub step: i32,
}

impl Adam {
    /// Zero moments for these parameters.
    pub fn new(params: &[&Tensor<3>]) -> Self {
        Adam {
            first: params.iter().map(|t| t.zeros_like()).collect(),
            second: params.iter().map(|t| t.zeros_like()).collect(),
            step: 0,
        }
    }

    /// One step of size `lr` on `params` along `grads` (both in the order given to [`Adam::new`]).
    pub fn apply<'a>(
        &mut self,
        params: impl IntoIterator<Item = &'a mut Tensor<3>>,
        grads: Vec<Tensor<3>>,
        lr: f32,
    ) {
        let (b1, b2, eps) = (BETA1, BETA2, EPSILON);
        self.step += 1;
        let (c1, c2) = corrections(self.step);
        for (((param, gr), m_old), v_old) in params
            .into_iter()
            .zip(grads)
            .zip(&mut self.first)
            .zip(&mut self.second)
        {
            let m = m_old.clone() * b1 + gr.clone() * (1.0 - b1);
            let v = v_old.clone() * b2 + gr.square() * (1.0 - b2);
            let step = (m.clone() / c1) / ((v.clone() / c2).sqrt() + eps);
            *param = param.clone() - step * lr;
            *m_old = m;
            *v_old = v;
        }
    }
}

/// Each network's gradient rescaled to a norm of at most `max_norm` (over all its parameters);
/// `groups` networks.
pub(crate) fn clip(grads: Vec<Tensor<3>>, max_norm: f64, groups: usize) -> Vec<Tensor<3>> {
    let sq = grads
        .iter()
        .map(|gr| {
            let [_, r, c] = gr.dims();
            gr.clone().reshape([groups, r * c]).square().sum_dim(1)
        })
        .reduce(|x, y| x + y)
        .expect("parameters");
    let scale = (sq.sqrt() + 1e-6).recip().mul_scalar(max_norm).clamp_max(1.0);
    let scale = scale.reshape([groups, 1, 1]);
    grads.into_iter().map(|gr| gr * scale.clone()).collect()
}
