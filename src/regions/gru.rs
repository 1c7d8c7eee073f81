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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::{Device, TensorData};

    fn tensor(dims: [usize; 3], salt: usize, device: &Device) -> Tensor<3> {
        let n = dims.iter().product::<usize>();
        let v = (0..n)
            .map(|k| (((k * 7 + salt * 13) % 17) as f32 / 8.0 - 1.0) * 0.7)
            .collect();
        Tensor::from_data(TensorData::new(v, dims), device)
    }

    fn close(a: Tensor<3>, b: Tensor<3>, what: &str) {
        let (a, b) = (
            a.into_data().try_to_vec::<f32>().unwrap(),
            b.into_data().try_to_vec::<f32>().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{what}");
        let norm = a.iter().map(|v| v * v).sum::<f32>().sqrt();
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt();
        assert!(norm > 1e-6, "{what} has a zero gradient: a weak check");
        assert!(diff <= 1e-4 * norm, "{what}: |Δ| {diff} vs |∇| {norm}");
    }

    /// The written-out BPTT against burn's autodiff: 2 networks × 3 rows, 4 steps, the loss
    /// Σ_t ⟨d_h_t, h_t⟩ (so d_h is its gradient at each output); every weight and the inputs.
    #[test]
    fn written_out_bptt_matches_autodiff_for_weights_and_inputs() {
        let device = Device::flex();
        let (g, w, i, h, t_len) = (2, 3, 5, 4, 4);
        let (w_x, w_h) = (
            tensor([g, i, 3 * h], 1, &device),
            tensor([g, h, 3 * h], 2, &device),
        );
        let (b_x, b_h) = (
            tensor([g, 1, 3 * h], 3, &device),
            tensor([g, 1, 3 * h], 4, &device),
        );
        let xs: Vec<Tensor<3>> = (0..t_len).map(|t| tensor([g, w, i], 10 + t, &device)).collect();
        let d_h = tensor([g, t_len * w, h], 20, &device);
        let cell = Cell {
            w_x: &w_x,
            w_h: &w_h,
            b_x: &b_x,
            b_h: &b_h,
        };
        let mut state = tensor([g, w, h], 30, &device);
        let mut kept = Vec::new();
        for x in &xs {
            let (next, gates) = forward(&cell, x.clone(), state.clone());
            kept.push((x.clone(), state, gates));
            state = next;
        }
        let traces: Vec<Trace<'_>> = kept
            .iter()
            .map(|(x, h_prev, gates)| Trace { x, h_prev, gates })
            .collect();
        let ours = backward(&cell, &traces, d_h.clone(), w);
        let d_x = ours.d_gates_x.clone().matmul(w_x.clone().swap_dims(1, 2));

        let leaf = |t: &Tensor<3>| t.clone().autodiff().require_grad();
        let (ax, ah, abx, abh) = (leaf(&w_x), leaf(&w_h), leaf(&b_x), leaf(&b_h));
        let auto_cell = Cell {
            w_x: &ax,
            w_h: &ah,
            b_x: &abx,
            b_h: &abh,
        };
        let x_leaves: Vec<Tensor<3>> = xs.iter().map(leaf).collect();
        let mut state = kept[0].1.clone().autodiff();
        let mut outs = Vec::new();
        for x in &x_leaves {
            state = forward(&auto_cell, x.clone(), state).0;
            outs.push(state.clone());
        }
        let loss = (Tensor::cat(outs, 1) * d_h.autodiff()).sum();
        let grads = loss.backward();
        let grad = |t: &Tensor<3>| t.grad(&grads).expect("used");
        close(grad(&ax), ours.w_x, "W_x");
        close(grad(&ah), ours.w_h, "W_h");
        close(grad(&abx), ours.b_x, "b_x");
        close(grad(&abh), ours.b_h, "b_h");
        let auto_dx = Tensor::cat(x_leaves.iter().map(grad).collect(), 1);
        close(auto_dx, d_x, "x");
    }
}
