//! The controller's network: the shared GRU cell ([`crate::regions::gru`]) with a policy and a
//! value head, batched per controller (`[G, …]`), its forward step and its back-propagation
//! through time written out in burn ops.
//!
//! ```text
//! h = GRU(x, h₋₁)    logits = h W_π + b_π    v = h w_v + b_v
//! ```

use burn::prelude::{Device, Tensor, TensorData};
use rand_distr::{Distribution, Uniform};

use super::device::Step;
use super::{Dims, Params};
pub(super) use crate::regions::gru::Gates;
use crate::regions::gru::{self, Cell, Trace};
use crate::rng::SimRng;

/// The controller's parameters by name, each `[G, …]` (one slice per controller), as burn's
/// `GruConfig`/`GateController` name theirs. Checkpoints store them under these names.
#[derive(Clone)]
pub(super) struct Weights {
    /// W_x `[G, I, 3H]`: the input's weights into the reset, update and candidate gates.
    pub w_x: Tensor<3>,
    /// W_h `[G, H, 3H]`: the hidden state's.
    pub w_h: Tensor<3>,
    /// b_x `[G, 1, 3H]`.
    pub b_x: Tensor<3>,
    /// b_h `[G, 1, 3H]`.
    pub b_h: Tensor<3>,
    /// W_π `[G, H, A]`: the policy head.
    pub w_policy: Tensor<3>,
    /// b_π `[G, 1, A]`.
    pub b_policy: Tensor<3>,
    /// w_v `[G, H, 1]`: the value head.
    pub w_value: Tensor<3>,
    /// b_v `[G, 1, 1]`.
    pub b_value: Tensor<3>,
}

impl Weights {
    /// The names, in the order of [`Weights::as_array`] (checkpoints before the names were
    /// used stored them as `params/0` … `params/7` in this order).
    pub const NAMES: [&'static str; 8] = [
        "w_x", "w_h", "b_x", "b_h", "w_policy", "b_policy", "w_value", "b_value",
    ];

    /// Every parameter, in the order of [`Weights::NAMES`].
    pub fn as_array(&self) -> [&Tensor<3>; 8] {
        [
            &self.w_x,
            &self.w_h,
            &self.b_x,
            &self.b_h,
            &self.w_policy,
            &self.b_policy,
            &self.w_value,
            &self.b_value,
        ]
    }

    /// Every parameter, mutably, in the order of [`Weights::NAMES`].
    pub fn as_array_mut(&mut self) -> [&mut Tensor<3>; 8] {
        [
            &mut self.w_x,
            &mut self.w_h,
            &mut self.b_x,
            &mut self.b_h,
            &mut self.w_policy,
            &mut self.b_policy,
            &mut self.w_value,
            &mut self.b_value,
        ]
    }

    /// Parameters from an array in the order of [`Weights::NAMES`].
    pub fn from_array([w_x, w_h, b_x, b_h, w_policy, b_policy, w_value, b_value]: [Tensor<3>; 8]) -> Self {
        Weights {
            w_x,
            w_h,
            b_x,
            b_h,
            w_policy,
            b_policy,
            w_value,
            b_value,
        }
    }

    /// Every parameter, in the order of [`Weights::NAMES`], by value.
    pub fn into_vec(self) -> Vec<Tensor<3>> {
        vec![
            self.w_x,
            self.w_h,
            self.b_x,
            self.b_h,
            self.w_policy,
            self.b_policy,
            self.w_value,
            self.b_value,
        ]
    }

    /// Parameters from a vector in the order of [`Weights::NAMES`].
    pub fn from_vec(v: Vec<Tensor<3>>) -> Self {
        Weights::from_array(v.try_into().unwrap_or_else(|_| unreachable!("eight parameters")))
    }

    /// Each parameter mapped.
    #[cfg(test)]
    pub fn map(&self, mut f: impl FnMut(&Tensor<3>) -> Tensor<3>) -> Self {
        Weights::from_array(self.as_array().map(&mut f))
    }

    /// Parameters in the order of [`Weights::NAMES`] from host arrays of `dims`' shapes.
    pub fn from_host(dims: &Dims, params: Params, device: &Device) -> Self {
        let shapes = dims.shapes();
        let mut k = 0;
        Weights::from_array(params.map(|values| {
            let t = Tensor::from_data(TensorData::new(values, shapes[k]), device);
            k += 1;
            t
        }))
    }
}

/// Small random weights, uniform ±1/√H (the policy head ×0.01: a uniform first policy; biases
/// of the heads 0), drawn per controller from its generator in parameter order.
pub(super) fn random(dims: &Dims, rngs: &mut [SimRng]) -> Params {
    let bound = 1.0 / (dims.hidden as f32).sqrt();
    let scales = [bound, bound, bound, bound, 0.01 * bound, 0.0, bound, 0.0];
    let sizes = dims.sizes();
    std::array::from_fn(|i| {
        let mut values = Vec::with_capacity(dims.groups * sizes[i]);
        for rng in rngs.iter_mut() {
            if scales[i] > 0.0 {
                let u = Uniform::new_inclusive(-scales[i], scales[i]);
                values.extend((0..sizes[i]).map(|_| u.sample(rng)));
            } else {
                values.extend(std::iter::repeat_n(0.0, sizes[i]));
            }
        }
        values
    })
}

/// The GRU cell's part of the weights.
fn cell(w: &Weights) -> Cell<'_> {
    Cell {
        w_x: &w.w_x,
        w_h: &w.w_h,
        b_x: &w.b_x,
        b_h: &w.b_h,
    }
}

/// One GRU step and the heads: `x` `[G, W, I]`, `h` `[G, W, H]` → (h′, logits, v, gates).
/// Generic over the tensors' graph: the unit tests run it on autodiff leaves to check
/// [`backward`].
pub(super) fn forward(w: &Weights, x: Tensor<3>, h: Tensor<3>) -> (Tensor<3>, Tensor<3>, Tensor<3>, Gates) {
    let (h, gates) = gru::forward(&cell(w), x, h);
    let logits = h.clone().matmul(w.w_policy.clone()) + w.b_policy.clone();
    let value = h.clone().matmul(w.w_value.clone()) + w.b_value.clone();
    (h, logits, value, gates)
}

/// Each parameter's gradient, given the loss's gradient at the heads over a rollout
/// (`d_logits` `[G, T·W, A]`, `d_value` `[G, T·W, 1]`, laid out like the steps concatenated
/// along the worker axis): the heads' gradients here, the recurrence's by the shared
/// [`gru::backward`].
pub(super) fn backward(
    w: &Weights,
    steps: &[Step],
    d_logits: Tensor<3>,
    d_value: Tensor<3>,
    workers: usize,
) -> Weights {
    let h_all = Tensor::cat(steps.iter().map(|s| s.h.clone()).collect(), 1);
    let transpose = |t: &Tensor<3>| t.clone().swap_dims(1, 2);
    let d_wp = transpose(&h_all).matmul(d_logits.clone());
    let d_wv = transpose(&h_all).matmul(d_value.clone());
    let d_heads =
        d_logits.clone().matmul(transpose(&w.w_policy)) + d_value.clone().matmul(transpose(&w.w_value));
    let traces: Vec<Trace<'_>> = steps
        .iter()
        .map(|s| Trace {
            x: &s.x,
            h_prev: &s.h_prev,
            gates: &s.gates,
        })
        .collect();
    let g = gru::backward(&cell(w), &traces, d_heads, workers);
    Weights {
        w_x: g.w_x,
        w_h: g.w_h,
        b_x: g.b_x,
        b_h: g.b_h,
        w_policy: d_wp,
        b_policy: d_logits.sum_dim(1),
        w_value: d_wv,
        b_value: d_value.sum_dim(1),
    }
}
