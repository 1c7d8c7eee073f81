//! A GRU cell (Cho et al. 2014) shared by the recurrent regions (the PFC's controller, the world
//! model's core): batched `[G, W, …]` (G independent networks, W rows each), its forward step
//! and its back-propagation through time written out in burn ops.
//!
//! ```text
//! g_x = x W_x + b_x = [x_r, x_u, x_n]      g_h = h₋₁ W_h + b_h = [h_r, h_u, h_n]
//! r = σ(x_r + h_r)    u = σ(x_u + h_u)    n = tanh(x_n + r ⊙ h_n)    h = n + u ⊙ (h₋₁ − n)
//! ```

use burn::prelude::Tensor;
use burn::tensor::activation::sigmoid;

/// The cell's weights: W_x `[G, I, 3H]`, W_h `[G, H, 3H]`, b_x and b_h `[G, 1, 3H]` (gates in
/// the order reset, update, candidate, as burn's `GateController`s).
pub(crate) struct Cell<'a> {
    pub w_x: &'a Tensor<3>,
    pub w_h: &'a Tensor<3>,
    pub b_x: &'a Tensor<3>,
    pub b_h: &'a Tensor<3>,
}

/// The gates at one step, kept for the backward pass: r, u (update), n (candidate), and
/// h₋₁ W_hn + b_hn (what r multiplies), each `[G, W, H]`.
pub(crate) struct Gates {
    pub reset: Tensor<3>,
    pub update: Tensor<3>,
    pub candidate: Tensor<3>,
    pub hidden_candidate: Tensor<3>,
}

/// One step: `x` `[G, W, I]`, `h` `[G, W, H]` → (h′, gates). Generic over the tensors' graph:
/// unit tests run it on autodiff leaves to check [`backward`].
pub(crate) fn forward(cell: &Cell<'_>, x: Tensor<3>, h: Tensor<3>) -> (Tensor<3>, Gates) {
    let gx = x.matmul(cell.w_x.clone()) + cell.b_x.clone();
    let gh = h.clone().matmul(cell.w_h.clone()) + cell.b_h.clone();
    let mut gx = gx.chunk(3, 2).into_iter();
    let mut gh = gh.chunk(3, 2).into_iter();
    let (xr, xz, xn) = (gx.next().unwrap(), gx.next().unwrap(), gx.next().unwrap());
    let (hr, hz, hn) = (gh.next().unwrap(), gh.next().unwrap(), gh.next().unwrap());
    let reset = sigmoid(xr + hr);
    let update = sigmoid(xz + hz);
    let candidate = (xn + reset.clone() * hn.clone()).tanh();
    let h = candidate.clone() + update.clone() * (h - candidate.clone());
    let gates = Gates {
        reset,
        update,
        candidate,
        hidden_candidate: hn,
    };
    (h, gates)
}

/// One step of a sequence as the backward pass needs it.
pub(crate) struct Trace<'a> {
    /// x_t `[G, W, I]`.
    pub x: &'a Tensor<3>,
    /// h_{t−1} `[G, W, H]` as the step read it.
    pub h_prev: &'a Tensor<3>,
    pub gates: &'a Gates,
}

/// The cell's gradients over a sequence.
pub(crate) struct Gradients {
    pub w_x: Tensor<3>,
    pub w_h: Tensor<3>,
    pub b_x: Tensor<3>,
    pub b_h: Tensor<3>,
    /// The loss's gradient at the input gates, `[G, T·W, 3H]` (steps concatenated along the
    /// row axis): d x_t = d g_x,t W_xᵀ for a caller that trains its inputs.
    pub d_gates_x: Tensor<3>,
}

/// Back-propagation through time over `steps`, given the loss's gradient at each step's output
/// h_t from outside the recurrence (`d_h` `[G, T·W, H]`, the steps concatenated along the row
/// axis; `rows` = W). The recurrence is stepped backwards through the kept gates (no gradient
/// flows into the state before the first step: truncation), and each weight's gradient is one
/// batched matmul over the whole sequence (Σ_t x_tᵀ g_t as `[G, I, T·W] × [G, T·W, 3H]`),
/// never a weight-sized tensor per step.
pub(crate) fn backward(cell: &Cell<'_>, steps: &[Trace<'_>], d_h: Tensor<3>, rows: usize) -> Gradients {
    let t_len = steps.len();
    let [g, hd, _] = cell.w_h.dims();
    let transpose = |t: &Tensor<3>| t.clone().swap_dims(1, 2);
    // Backwards through the recurrence h = n + u ⊙ (h₋₁ − n), n = tanh(x_n + r ⊙ ĥ_n).
    let wh_t = transpose(cell.w_h);
    let mut d_gx = Vec::with_capacity(t_len);
    let mut d_gh = Vec::with_capacity(t_len);
    let mut carry: Option<Tensor<3>> = None;
    for (t, s) in steps.iter().enumerate().rev() {
        let mut dh = d_h.clone().slice([0..g, t * rows..(t + 1) * rows, 0..hd]);
        if let Some(c) = carry.take() {
            dh = dh + c;
        }
        let Gates {
            reset: r,
            update: u,
            candidate: c,
            hidden_candidate: hn,
        } = s.gates;
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
    let x_all = Tensor::cat(steps.iter().map(|s| s.x.clone()).collect(), 1);
    let h_prev_all = Tensor::cat(steps.iter().map(|s| s.h_prev.clone()).collect(), 1);
    let d_wx = transpose(&x_all).matmul(d_gx.clone());
    let d_wh = transpose(&h_prev_all).matmul(d_gh.clone());
    Gradients {
        w_x: d_wx,
        w_h: d_wh,
        b_x: d_gx.clone().sum_dim(1),
        b_h: d_gh.sum_dim(1),
        d_gates_x: d_gx,
    }
}
