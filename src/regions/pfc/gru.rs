//! The controller's network: a GRU cell (Cho et al. 2014) with a policy and a value head,
//! batched per controller (`[G, …]`), its forward step and its back-propagation through time
//! written out in burn ops.
//!
//! ```text
//! [r, u, n̂] = x W_x + b_x + (h₋₁ W_h + b_h) split in three: g_x = [x_r, x_u, x_n], g_h = [h_r, h_u, h_n]
//! r = σ(x_r + h_r)    u = σ(x_u + h_u)    n = tanh(x_n + r ⊙ h_n)    h = n + u ⊙ (h₋₁ − n)
//! logits = h W_π + b_π    v = h w_v + b_v
//! ```

use burn::prelude::{Device, Tensor, TensorData};
use burn::tensor::activation::sigmoid;
use rand_distr::{Distribution, Uniform};

use super::Step;
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

    /// Each parameter mapped.
    pub fn map(&self, mut f: impl FnMut(&Tensor<3>) -> Tensor<3>) -> Self {
        Weights::from_array(self.as_array().map(&mut f))
    }

    /// Small random weights, uniform ±1/√H (the policy head ×0.01: a uniform first policy;
    /// biases of the heads 0), drawn per controller from its generator in parameter order.
    pub fn random(
        groups: usize,
        input_width: usize,
        hidden: usize,
        actions: usize,
        rngs: &mut [SimRng],
        device: &Device,
    ) -> Self {
        let (h, a) = (hidden, actions);
        let bound = 1.0 / (h as f32).sqrt();
        let shapes: [([usize; 3], f32); 8] = [
            ([groups, input_width, 3 * h], bound),
            ([groups, h, 3 * h], bound),
            ([groups, 1, 3 * h], bound),
            ([groups, 1, 3 * h], bound),
            ([groups, h, a], 0.01 * bound),
            ([groups, 1, a], 0.0),
            ([groups, h, 1], bound),
            ([groups, 1, 1], 0.0),
        ];
        Weights::from_array(std::array::from_fn(|i| {
            let (shape, scale) = shapes[i];
            let per_group = shape[1] * shape[2];
            let mut values = Vec::with_capacity(shape[0] * per_group);
            for rng in rngs.iter_mut() {
                if scale > 0.0 {
                    let u = Uniform::new_inclusive(-scale, scale);
                    values.extend((0..per_group).map(|_| u.sample(rng)));
                } else {
                    values.extend(std::iter::repeat_n(0.0, per_group));
                }
            }
            Tensor::from_data(TensorData::new(values, shape), device)
        }))
    }
}

/// The GRU's gates at one step, kept for the backward pass: r, u (update), n (candidate), and
/// W_hn h + b_hn (what r multiplies), each `[G, W, H]`.
pub(super) struct Gates {
    pub reset: Tensor<3>,
    pub update: Tensor<3>,
    pub candidate: Tensor<3>,
    pub hidden_candidate: Tensor<3>,
}

/// One GRU step and the heads: `x` `[G, W, I]`, `h` `[G, W, H]` → (h′, logits, v, gates).
/// Generic over the tensors' graph: the unit tests run it on autodiff leaves to check
/// [`backward`].
pub(super) fn forward(w: &Weights, x: Tensor<3>, h: Tensor<3>) -> (Tensor<3>, Tensor<3>, Tensor<3>, Gates) {
    let gx = x.matmul(w.w_x.clone()) + w.b_x.clone();
    let gh = h.clone().matmul(w.w_h.clone()) + w.b_h.clone();
    let mut gx = gx.chunk(3, 2).into_iter();
    let mut gh = gh.chunk(3, 2).into_iter();
    let (xr, xz, xn) = (gx.next().unwrap(), gx.next().unwrap(), gx.next().unwrap());
    let (hr, hz, hn) = (gh.next().unwrap(), gh.next().unwrap(), gh.next().unwrap());
    let reset = sigmoid(xr + hr);
    let update = sigmoid(xz + hz);
    let candidate = (xn + reset.clone() * hn.clone()).tanh();
    let h = candidate.clone() + update.clone() * (h - candidate.clone());
    let logits = h.clone().matmul(w.w_policy.clone()) + w.b_policy.clone();
    let value = h.clone().matmul(w.w_value.clone()) + w.b_value.clone();
    let gates = Gates {
        reset,
        update,
        candidate,
        hidden_candidate: hn,
    };
    (h, logits, value, gates)
}

/// Each parameter's gradient, given the loss's gradient at the heads over a rollout
/// (`d_logits` `[G, T·W, A]`, `d_value` `[G, T·W, 1]`, laid out like the steps concatenated
/// along the worker axis), by back-propagation through time written out: the recurrence is
/// stepped backwards through the kept gates, and each weight's gradient is one batched matmul
/// over the whole rollout (Σ_t x_tᵀ g_t as `[G, I, T·W] × [G, T·W, 3H]`), never a weight-sized
/// tensor per step.
pub(super) fn backward(
    w: &Weights,
    steps: &[Step],
    d_logits: Tensor<3>,
    d_value: Tensor<3>,
    workers: usize,
) -> Weights {
    let t_len = steps.len();
    let [g, hd, _] = w.w_h.dims();
    let wk = workers;
    let cat = |f: fn(&Step) -> &Tensor<3>| Tensor::cat(steps.iter().map(|s| f(s).clone()).collect(), 1);
    let h_all = cat(|s| &s.h);
    let transpose = |t: &Tensor<3>| t.clone().swap_dims(1, 2);
    let d_wp = transpose(&h_all).matmul(d_logits.clone());
    let d_wv = transpose(&h_all).matmul(d_value.clone());
    let d_heads =
        d_logits.clone().matmul(transpose(&w.w_policy)) + d_value.clone().matmul(transpose(&w.w_value));
    // Backwards through the recurrence h = n + u ⊙ (h₋₁ − n), n = tanh(x_n + r ⊙ ĥ_n).
    let wh_t = transpose(&w.w_h);
    let mut d_gx = Vec::with_capacity(t_len);
    let mut d_gh = Vec::with_capacity(t_len);
    let mut carry: Option<Tensor<3>> = None;
    for (t, s) in steps.iter().enumerate().rev() {
        let mut dh = d_heads.clone().slice([0..g, t * wk..(t + 1) * wk, 0..hd]);
        if let Some(c) = carry.take() {
            dh = dh + c;
        }
        let Gates {
            reset: r,
            update: u,
            candidate: c,
            hidden_candidate: hn,
        } = &s.gates;
        let dc = dh.clone() - dh.clone() * u.clone();
        let du = dh.clone() * (s.h_prev.clone() - c.clone());
        let direct = dh * u.clone();
        let dc_pre = dc.clone() - dc * c.clone().square();
        let dr = dc_pre.clone() * hn.clone();
        let dhn = dc_pre.clone() * r.clone();
        let dr_pre = dr * (r.clone() - r.clone().square());
        let du_pre = du * (u.clone() - u.clone().square());
        let gh = Tensor::cat(vec![dr_pre.clone(), du_pre.clone(), dhn], 2);
        carry = Some(direct + gh.clone().matmul(wh_t.clone()));
        d_gx.push(Tensor::cat(vec![dr_pre, du_pre, dc_pre], 2));
        d_gh.push(gh);
    }
    d_gx.reverse();
    d_gh.reverse();
    let (d_gx, d_gh) = (Tensor::cat(d_gx, 1), Tensor::cat(d_gh, 1));
    let d_wx = transpose(&cat(|s| &s.x)).matmul(d_gx.clone());
    let d_wh = transpose(&cat(|s| &s.h_prev)).matmul(d_gh.clone());
    Weights {
        w_x: d_wx,
        w_h: d_wh,
        b_x: d_gx.sum_dim(1),
        b_h: d_gh.sum_dim(1),
        w_policy: d_wp,
        b_policy: d_logits.sum_dim(1),
        w_value: d_wv,
        b_value: d_value.sum_dim(1),
    }
}
