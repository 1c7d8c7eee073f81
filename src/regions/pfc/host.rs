//! The controller on the host: the network of `gru.rs`, the A2C gradient of `a2c.rs`, the
//! clipping and Adam of `../adam.rs`, written as loops over each controller's contiguous `f32`
//! rows. This is the CPU device's path; the burn path (`device.rs`) serves the others.
//!
//! ```text
//! forward, per agent:   g_x = b_x + Σ_i x_i W_x[i,·]      g_h = b_h + Σ_k h₋₁,k W_h[k,·]   (axpy rows)
//!                       r, u, n, h′ as in gru.rs;  logits = b_π + Σ_k h′_k W_π[k,·];  v = b_v + h′·w_v
//! backward, per controller, t = T−1 … 0, per worker (one pass: returns, heads, recurrence):
//!   R_t, A_t = R_t − v_t;  ∂logits, ∂v as in a2c.rs;  ∂h = ∂logits W_πᵀ + ∂v w_vᵀ + carry
//!   carry ← ∂h ⊙ u + W_h ∂g_h;   ∂W_h[k,·] += h₋₁,k ∂g_h;   ∂W_x[i,·] += x_i ∂g_x
//! then the controller's gradient is clipped to `max_grad_norm` and Adam steps its weights.
//! ```
//!
//! Why a second path: a tick of the burn path is ~40 tensor operations on `[G, W, 3H]`-sized
//! tensors, and on the CPU each costs about a microsecond whatever its size, so at P = 1 the
//! PFC took ~30 µs a tick for ~7 000 multiply-adds (`valence bench --brain`). Here a tick is the
//! arithmetic itself. The rows are added in a fixed order (no fused multiply-add), compiled for baseline x86-64 and for AVX2 with the same
//! bits, and controllers are split over two threads in fixed halves: one seed, the same bits.
//! The results agree with the burn path to rounding (unit test: forward, gradients and a
//! training run), not bit for bit: the two add in different orders.
//!
//! Layout: each parameter is `[G, rows, cols]` row-major, as the burn path's tensors and the
//! checkpoints; the rollout is step-major (`[T, P, …]`), so a tick appends one block.

use std::ops::Range;

use ndarray::Array2;

use super::{Dims, Hyper, Network, Outcome, Params, Recorded};
use crate::regions::fork::Helper;
use crate::signal::Signal;

/// Indices into [`Params`].
const W_X: usize = 0;
const W_H: usize = 1;
const B_X: usize = 2;
const B_H: usize = 3;
const W_P: usize = 4;
const B_P: usize = 5;
const W_V: usize = 6;
const B_V: usize = 7;

/// Multiply-adds a tick (P · (I + H) · 3H) from which the controllers are split over two
/// threads: below it a tick is a few microseconds, about what a hand-over costs.
const HELPER_MIN_WORK: usize = 100_000;

/// The rollout under way, step-major: step t's block of each array is `[P, …]`.
#[derive(Default)]
struct Rollout {
    len: usize,
    /// x `[T, P, I]`, h₋₁ and h `[T, P, H]`, the gates r, u, n, ĥ_n `[T, P, 4H]`, the logits
    /// `[T, P, A]` and v `[T, P]`.
    x: Vec<f32>,
    h_prev: Vec<f32>,
    gates: Vec<f32>,
    h: Vec<f32>,
    logits: Vec<f32>,
    value: Vec<f32>,
    outcomes: Vec<Outcome>,
}

impl Rollout {
    fn clear(&mut self) {
        self.len = 0;
        for v in [
            &mut self.x,
            &mut self.h_prev,
            &mut self.gates,
            &mut self.h,
            &mut self.logits,
            &mut self.value,
        ] {
            v.clear();
        }
        self.outcomes.clear();
    }
}

/// Working arrays of one thread, kept between ticks (allocating them each tick cost a fifth of
/// a tick at P = 1). [`Scratch::take`] hands out a slice of the length asked for, not cleared.
#[derive(Default)]
struct Scratch {
    arrays: Vec<Vec<f32>>,
}

impl Scratch {
    /// Slices of these lengths, in order.
    fn take<const N: usize>(&mut self, lengths: [usize; N]) -> [&mut [f32]; N] {
        if self.arrays.len() < N {
            self.arrays.resize_with(N, Vec::new);
        }
        let mut arrays = self.arrays.iter_mut();
        lengths.map(|n| {
            let v = arrays.next().expect("N arrays");
            v.resize(n, 0.0);
            &mut v[..]
        })
    }
}

/// P agents' controllers on the host. See the module documentation.
pub(super) struct HostNet {
    dims: Dims,
    params: Params,
    first: Params,
    second: Params,
    adam_step: i32,
    /// h `[P, H]`.
    hidden: Vec<f32>,
    rollout: Rollout,
    helper: Option<Helper>,
    /// One per thread: the caller's and the helper's.
    scratch: [Scratch; 2],
    /// The outputs of a step that is not kept: gates, h′, logits, v.
    spare: Scratch,
}

impl HostNet {
    /// A network with these weights (in the order of `Weights::NAMES`), zero moments and h.
    pub fn new(dims: Dims, params: Params) -> Self {
        let zeros = || params.each_ref().map(|p| vec![0.0; p.len()]);
        let work = dims.population() * (dims.input + dims.hidden) * 3 * dims.hidden;
        HostNet {
            first: zeros(),
            second: zeros(),
            params,
            adam_step: 0,
            hidden: vec![0.0; dims.population() * dims.hidden],
            rollout: Rollout::default(),
            helper: if dims.groups >= 2 && work >= HELPER_MIN_WORK {
                Helper::spawn()
            } else {
                None
            },
            scratch: Default::default(),
            spare: Scratch::default(),
            dims,
        }
    }

    /// One step from h with x `[P, I]`, kept in the rollout (with an outcome to be filled in)
    /// when `track`; h ← h′. Returns the logits `[P, A]` and v `[P]`.
    fn forward_step(&mut self, x: &[f32], track: bool) -> (Vec<f32>, Vec<f32>) {
        let d = self.dims;
        let p = d.population();
        let (h, a) = (d.hidden, d.actions);
        if !track {
            let [gates, next, logits, value] = self.spare.take([p * 4 * h, p * h, p * a, p]);
            let out = Out {
                gates,
                h: next,
                logits,
                value,
            };
            forward(&d, &self.params, x, &self.hidden, out, self.helper.as_mut(), &mut self.scratch);
            let [_, next, logits, value] = self.spare.take([p * 4 * h, p * h, p * a, p]);
            self.hidden.copy_from_slice(next);
            return (logits.to_vec(), value.to_vec());
        }
        let r = &mut self.rollout;
        let t = r.len;
        r.x.extend_from_slice(x);
        r.h_prev.extend_from_slice(&self.hidden);
        r.gates.resize((t + 1) * p * 4 * h, 0.0);
        r.h.resize((t + 1) * p * h, 0.0);
        r.logits.resize((t + 1) * p * a, 0.0);
        r.value.resize((t + 1) * p, 0.0);
        r.outcomes.push(Outcome::none(p));
        r.len += 1;
        let out = Out {
            gates: &mut r.gates[t * p * 4 * h..],
            h: &mut r.h[t * p * h..],
            logits: &mut r.logits[t * p * a..],
            value: &mut r.value[t * p..],
        };
        forward(&d, &self.params, x, &self.hidden, out, self.helper.as_mut(), &mut self.scratch);
        self.hidden.copy_from_slice(&r.h[t * p * h..]);
        (r.logits[t * p * a..].to_vec(), r.value[t * p..].to_vec())
    }
}

impl Network for HostNet {
    fn state(&self) -> (Params, Params, Params, i32) {
        (
            self.params.clone(),
            self.first.clone(),
            self.second.clone(),
            self.adam_step,
        )
    }

    fn set_state(&mut self, params: Params, first: Params, second: Params, step: i32) {
        (self.params, self.first, self.second, self.adam_step) = (params, first, second, step);
    }

    fn hidden(&self) -> Vec<f32> {
        self.hidden.clone()
    }

    fn set_hidden(&mut self, h: Vec<f32>) {
        self.hidden = h;
    }

    fn rollout_len(&self) -> usize {
        self.rollout.len
    }

    fn clear_rollout(&mut self) {
        self.rollout.clear();
    }

    fn recorded(&self) -> Recorded {
        let (p, i, h) = (self.dims.population(), self.dims.input, self.dims.hidden);
        let r = &self.rollout;
        Recorded {
            start: (r.len > 0).then(|| r.h_prev[..p * h].to_vec()),
            steps: (0..r.len)
                .map(|t| (r.x[t * p * i..(t + 1) * p * i].to_vec(), r.outcomes[t].clone()))
                .collect(),
        }
    }

    fn complete(&mut self, outcome: Outcome) {
        if let Some(last) = self.rollout.outcomes.last_mut() {
            *last = outcome;
        }
    }

    fn reset(&mut self, reset: &[bool]) {
        let h = self.dims.hidden;
        for (row, &r) in self.hidden.chunks_mut(h).zip(reset) {
            if r {
                row.fill(0.0);
            }
        }
    }

    fn values(&mut self, x: &[f32]) -> Vec<f32> {
        let d = self.dims;
        let p = d.population();
        let [gates, h, logits, value] = self.spare.take([p * 4 * d.hidden, p * d.hidden, p * d.actions, p]);
        let out = Out {
            gates,
            h,
            logits,
            value,
        };
        forward(&d, &self.params, x, &self.hidden, out, self.helper.as_mut(), &mut self.scratch);
        self.spare.take([0, 0, 0, p])[3].to_vec()
    }

    fn step(&mut self, x: &[f32], track: bool) -> (Signal, Signal) {
        let (p, a) = (self.dims.population(), self.dims.actions);
        let (logits, value) = self.forward_step(x, track);
        let host =
            |v: Vec<f32>, width| Signal::Host(Array2::from_shape_vec((p, width), v).expect("[P, width]"));
        (host(logits, a), host(value, 1))
    }

    fn update(&mut self, bootstrap: &[f32], hyper: Hyper) {
        let d = self.dims;
        if self.rollout.len == 0 {
            return;
        }
        let (b1, b2) = (0.9f32, 0.999f32);
        self.adam_step += 1;
        let corrections = (1.0 - b1.powi(self.adam_step), 1.0 - b2.powi(self.adam_step));
        let sizes = d.sizes();
        let rollout = &self.rollout;
        let learn = |groups: Range<usize>, p: Vec<&mut [f32]>, m: Vec<&mut [f32]>, v: Vec<&mut [f32]>, scratch: &mut Scratch| {
            learn_groups(&d, groups, rollout, bootstrap, hyper, corrections, [p, m, v], scratch);
        };
        let [here, there] = &mut self.scratch;
        match self.helper.as_mut() {
            Some(helper) => {
                let mid = d.groups / 2;
                let (p_lo, p_hi) = split(&mut self.params, &sizes, mid);
                let (m_lo, m_hi) = split(&mut self.first, &sizes, mid);
                let (v_lo, v_hi) = split(&mut self.second, &sizes, mid);
                helper.join(
                    || learn(0..mid, p_lo, m_lo, v_lo, here),
                    || learn(mid..d.groups, p_hi, m_hi, v_hi, there),
                );
            }
            None => learn(
                0..d.groups,
                whole(&mut self.params),
                whole(&mut self.first),
                whole(&mut self.second),
                here,
            ),
        }
        self.rollout.clear();
    }
}

/// Every array of `arrays` as one slice.
fn whole(arrays: &mut Params) -> Vec<&mut [f32]> {
    arrays.iter_mut().map(|v| v.as_mut_slice()).collect()
}

/// Each of `arrays` (per-controller blocks of `sizes`) split after controller `mid`.
fn split<'a>(
    arrays: &'a mut Params,
    sizes: &[usize; 8],
    mid: usize,
) -> (Vec<&'a mut [f32]>, Vec<&'a mut [f32]>) {
    arrays
        .iter_mut()
        .zip(sizes)
        .map(|(v, &n)| v.split_at_mut(mid * n))
        .unzip()
}

/// Where a forward step writes, `[P, …]` (or from the first agent of a range of controllers).
struct Out<'a> {
    gates: &'a mut [f32],
    h: &'a mut [f32],
    logits: &'a mut [f32],
    value: &'a mut [f32],
}

/// One forward step of every agent, the controllers in two halves when there is a helper.
fn forward(
    d: &Dims,
    params: &Params,
    x: &[f32],
    h_prev: &[f32],
    out: Out<'_>,
    helper: Option<&mut Helper>,
    [here, there]: &mut [Scratch; 2],
) {
    let Some(helper) = helper else {
        return forward_groups(d, 0..d.groups, params, x, h_prev, out, here);
    };
    let mid = d.groups / 2;
    let rows = mid * d.workers;
    let (h, a) = (d.hidden, d.actions);
    let (g_lo, g_hi) = out.gates.split_at_mut(rows * 4 * h);
    let (h_lo, h_hi) = out.h.split_at_mut(rows * h);
    let (l_lo, l_hi) = out.logits.split_at_mut(rows * a);
    let (v_lo, v_hi) = out.value.split_at_mut(rows);
    let lo = Out {
        gates: g_lo,
        h: h_lo,
        logits: l_lo,
        value: v_lo,
    };
    let hi = Out {
        gates: g_hi,
        h: h_hi,
        logits: l_hi,
        value: v_hi,
    };
    helper.join(
        || forward_groups(d, 0..mid, params, x, h_prev, lo, here),
        || forward_groups(d, mid..d.groups, params, x, h_prev, hi, there),
    );
}

/// The forward step of `groups`' agents (`out` starts at the first of them).
fn forward_groups(
    d: &Dims,
    groups: Range<usize>,
    params: &Params,
    x: &[f32],
    h_prev: &[f32],
    out: Out<'_>,
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked on the line above.
        return unsafe { forward_groups_avx2(d, groups, params, x, h_prev, out, scratch) };
    }
    forward_groups_body(d, groups, params, x, h_prev, out, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_groups_avx2(
    d: &Dims,
    groups: Range<usize>,
    params: &Params,
    x: &[f32],
    h_prev: &[f32],
    out: Out<'_>,
    scratch: &mut Scratch,
) {
    forward_groups_body(d, groups, params, x, h_prev, out, scratch)
}

#[inline(always)]
fn forward_groups_body(
    d: &Dims,
    groups: Range<usize>,
    params: &Params,
    x: &[f32],
    h_prev: &[f32],
    out: Out<'_>,
    scratch: &mut Scratch,
) {
    let (i_w, h, a, wk) = (d.input, d.hidden, d.actions, d.workers);
    let sizes = d.sizes();
    let [gxs, ghs] = scratch.take([wk * 3 * h; 2]);
    let first = groups.start * wk;
    for g in groups {
        let p = |k: usize| &params[k][g * sizes[k]..(g + 1) * sizes[k]];
        let (w_x, w_h, b_x, b_h) = (p(W_X), p(W_H), p(B_X), p(B_H));
        let (w_p, b_p, w_v, b_v) = (p(W_P), p(B_P), p(W_V), p(B_V)[0]);
        let agents = g * wk..(g + 1) * wk;
        matmul_rows(gxs, b_x, &x[agents.start * i_w..agents.end * i_w], w_x, 3 * h);
        matmul_rows(ghs, b_h, &h_prev[agents.start * h..agents.end * h], w_h, 3 * h);
        for agent in agents {
            let hp = &h_prev[agent * h..(agent + 1) * h];
            let w = agent - g * wk;
            let (gx, gh) = (&gxs[w * 3 * h..(w + 1) * 3 * h], &ghs[w * 3 * h..(w + 1) * 3 * h]);
            let local = agent - first;
            let gates = &mut out.gates[local * 4 * h..(local + 1) * 4 * h];
            let next = &mut out.h[local * h..(local + 1) * h];
            for k in 0..h {
                let r = sigmoid(gx[k] + gh[k]);
                let u = sigmoid(gx[h + k] + gh[h + k]);
                let hn = gh[2 * h + k];
                let n = tanh(gx[2 * h + k] + r * hn);
                next[k] = n + u * (hp[k] - n);
                gates[k] = r;
                gates[h + k] = u;
                gates[2 * h + k] = n;
                gates[3 * h + k] = hn;
            }
            let logits = &mut out.logits[local * a..(local + 1) * a];
            matvec(logits, b_p, next, w_p);
            let mut v = b_v;
            for (&hk, &wv) in next.iter().zip(w_v) {
                v += hk * wv;
            }
            out.value[local] = v;
        }
    }
}

/// The update of `groups`: `[params, first moments, second moments]`, each eight slices that
/// start at the first of these controllers.
fn learn_groups(
    d: &Dims,
    groups: Range<usize>,
    rollout: &Rollout,
    bootstrap: &[f32],
    hyper: Hyper,
    corrections: (f32, f32),
    state: [Vec<&mut [f32]>; 3],
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked on the line above.
        return unsafe { learn_groups_avx2(d, groups, rollout, bootstrap, hyper, corrections, state, scratch) };
    }
    learn_groups_body(d, groups, rollout, bootstrap, hyper, corrections, state, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn learn_groups_avx2(
    d: &Dims,
    groups: Range<usize>,
    rollout: &Rollout,
    bootstrap: &[f32],
    hyper: Hyper,
    corrections: (f32, f32),
    state: [Vec<&mut [f32]>; 3],
    scratch: &mut Scratch,
) {
    learn_groups_body(d, groups, rollout, bootstrap, hyper, corrections, state, scratch)
}

#[inline(always)]
fn learn_groups_body(
    d: &Dims,
    groups: Range<usize>,
    rollout: &Rollout,
    bootstrap: &[f32],
    hyper: Hyper,
    (c1, c2): (f32, f32),
    [mut params, mut first, mut second]: [Vec<&mut [f32]>; 3],
    scratch: &mut Scratch,
) {
    let (i_w, h, a, wk, pop) = (d.input, d.hidden, d.actions, d.workers, d.population());
    let sizes = d.sizes();
    let t_len = rollout.len;
    let n = (t_len * wk) as f32;
    let rows = t_len * wk;
    let [g_wx, g_wh, g_bx, g_bh, g_wp, g_bp, g_wv, g_bv, carry, ret, dh, direct, logp, dl, w_h_t, xs, hps, gxs, ghs] =
        scratch.take([
            sizes[W_X],
            sizes[W_H],
            sizes[B_X],
            sizes[B_H],
            sizes[W_P],
            sizes[B_P],
            sizes[W_V],
            sizes[B_V],
            wk * h,
            wk,
            h,
            wk * h,
            a,
            a,
            3 * h * h,
            // Each step's rows in the order the pass meets them (t descending, then worker): x,
            // h₋₁, ∂g_x, ∂g_h; the weights' gradients are summed from these after the pass.
            rows * i_w,
            rows * h,
            rows * 3 * h,
            rows * 3 * h,
        ]);
    let mut grads = [g_wx, g_wh, g_bx, g_bh, g_wp, g_bp, g_wv, g_bv];
    let first_group = groups.start;
    for g in groups {
        let local = g - first_group;
        let range = |k: usize| local * sizes[k]..(local + 1) * sizes[k];
        for gr in grads.iter_mut() {
            gr.fill(0.0);
        }
        carry.fill(0.0);
        ret.copy_from_slice(&bootstrap[g * wk..(g + 1) * wk]);
        {
            let w_h = &params[W_H][range(W_H)];
            for k in 0..h {
                for j in 0..3 * h {
                    w_h_t[j * h + k] = w_h[k * 3 * h + j];
                }
            }
            let w_p = &params[W_P][range(W_P)];
            let w_v = &params[W_V][range(W_V)];
            let [g_wx, g_wh, g_bx, g_bh, g_wp, g_bp, g_wv, g_bv] = grads.each_mut();
            let mut r_i = 0;
            for t in (0..t_len).rev() {
                let outcome = &rollout.outcomes[t];
                for w in 0..wk {
                    let agent = g * wk + w;
                    let row = t * pop + agent;
                    // The n-step return and advantage, then the loss's gradient at the heads.
                    ret[w] = outcome.reward[agent]
                        + if outcome.done[agent] {
                            0.0
                        } else {
                            hyper.gamma * ret[w]
                        };
                    let value = rollout.value[row];
                    let advantage = ret[w] - value;
                    let logits = &rollout.logits[row * a..(row + 1) * a];
                    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
                    let lse = max + sum.ln();
                    let mut entropy = 0.0;
                    for (lp, l) in logp.iter_mut().zip(logits) {
                        *lp = l - lse;
                        entropy -= lp.exp() * *lp;
                    }
                    for (k, (out, lp)) in dl.iter_mut().zip(logp.iter()).enumerate() {
                        let pi = lp.exp();
                        let chosen = if k == outcome.action[agent] { 1.0 } else { 0.0 };
                        *out =
                            (pi - chosen) * advantage * (1.0 / n) + pi * (lp + entropy) * (hyper.entropy / n);
                    }
                    let dv = (value - ret[w]) * (hyper.value_loss / n);
                    let h_row = &rollout.h[row * h..(row + 1) * h];
                    for (k, &hk) in h_row.iter().enumerate() {
                        for (gw, &dlk) in g_wp[k * a..(k + 1) * a].iter_mut().zip(dl.iter()) {
                            *gw += hk * dlk;
                        }
                        g_wv[k] += hk * dv;
                    }
                    add(g_bp, &dl);
                    g_bv[0] += dv;
                    // Back through h = n + u ⊙ (h₋₁ − n), n = tanh(x_n + r ⊙ ĥ_n).
                    let carried = &carry[w * h..(w + 1) * h];
                    for k in 0..h {
                        let mut heads = 0.0;
                        for (&wp, &dlk) in w_p[k * a..(k + 1) * a].iter().zip(dl.iter()) {
                            heads += wp * dlk;
                        }
                        dh[k] = heads + dv * w_v[k] + carried[k];
                    }
                    let gates = &rollout.gates[row * 4 * h..(row + 1) * 4 * h];
                    let hp = &rollout.h_prev[row * h..(row + 1) * h];
                    let gx = &mut gxs[r_i * 3 * h..(r_i + 1) * 3 * h];
                    let gh = &mut ghs[r_i * 3 * h..(r_i + 1) * 3 * h];
                    for k in 0..h {
                        let (r, u, c, hn) = (gates[k], gates[h + k], gates[2 * h + k], gates[3 * h + k]);
                        let dc = dh[k] - dh[k] * u;
                        let du = dh[k] * (hp[k] - c);
                        direct[w * h + k] = dh[k] * u;
                        let dc_pre = dc - dc * (c * c);
                        let dr_pre = dc_pre * hn * (r - r * r);
                        let du_pre = du * (u - u * u);
                        gh[k] = dr_pre;
                        gh[h + k] = du_pre;
                        gh[2 * h + k] = dc_pre * r;
                        gx[k] = dr_pre;
                        gx[h + k] = du_pre;
                        gx[2 * h + k] = dc_pre;
                    }
                    hps[r_i * h..(r_i + 1) * h].copy_from_slice(hp);
                    xs[r_i * i_w..(r_i + 1) * i_w].copy_from_slice(&rollout.x[row * i_w..(row + 1) * i_w]);
                    r_i += 1;
                }
                // carry = ∂h ⊙ u + W_h ∂g_h, as Σ_j ∂g_h,j W_hᵀ[j,·], every worker's row at once.
                let step_rows = (r_i - wk) * 3 * h..r_i * 3 * h;
                matmul_rows(carry, direct, &ghs[step_rows], &w_h_t, h);
            }
            // ∂W_h = Σ_rows h₋₁ ⊗ ∂g_h, ∂W_x = Σ_rows x ⊗ ∂g_x, the biases Σ_rows ∂g.
            outer_sum(g_wh, &hps, &ghs, h);
            outer_sum(g_wx, &xs, &gxs, i_w);
            for (gx, gh) in gxs.chunks_exact(3 * h).zip(ghs.chunks_exact(3 * h)) {
                add(g_bx, gx);
                add(g_bh, gh);
            }
        }
        // Clip this controller's gradient, then Adam.
        if hyper.max_grad_norm > 0.0 {
            let sq: f32 = grads.iter().map(|gr| gr.iter().map(|v| v * v).sum::<f32>()).sum();
            let scale = ((1.0 / (sq.sqrt() + 1e-6)) * hyper.max_grad_norm).min(1.0);
            for gr in grads.iter_mut() {
                for v in gr.iter_mut() {
                    *v *= scale;
                }
            }
        }
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        for (k, gr) in grads.iter().enumerate() {
            let r = range(k);
            let (p, m, v) = (
                &mut params[k][r.clone()],
                &mut first[k][r.clone()],
                &mut second[k][r],
            );
            for (((p, m), v), &gr) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(gr.iter()) {
                *m = *m * b1 + gr * (1.0 - b1);
                *v = *v * b2 + gr * gr * (1.0 - b2);
                let step = (*m / c1) / ((*v / c2).sqrt() + eps);
                *p -= step * hyper.lr;
            }
        }
    }
}

/// Columns [`outer_sum`] keeps in registers per row (two AVX2 registers, four SSE ones).
const BLOCK: usize = 16;

/// Columns [`matvec`] keeps in registers (six AVX2 registers): each weight row is then read in
/// runs of three cache lines, which the prefetchers follow better than one line at a stride
/// (at P = 1024 the forward pass streams every controller's weights).
const ROW_BLOCK: usize = 48;

/// y = b + Σ_k v_k m[k,·] (m row-major `[len v, len y]`), each element summed in k order:
/// the sum of the axpy rows, with a block of y kept in registers across them.
#[inline(always)]
fn matvec(y: &mut [f32], b: &[f32], v: &[f32], m: &[f32]) {
    let n = y.len();
    let mut j = 0;
    while j + ROW_BLOCK <= n {
        let mut acc: [f32; ROW_BLOCK] = b[j..j + ROW_BLOCK].try_into().expect("a block");
        for (k, &vk) in v.iter().enumerate() {
            let row: &[f32; ROW_BLOCK] = m[k * n + j..k * n + j + ROW_BLOCK].try_into().expect("a block");
            for l in 0..ROW_BLOCK {
                acc[l] += vk * row[l];
            }
        }
        y[j..j + ROW_BLOCK].copy_from_slice(&acc);
        j += ROW_BLOCK;
    }
    for jj in j..n {
        let mut acc = b[jj];
        for (k, &vk) in v.iter().enumerate() {
            acc += vk * m[k * n + jj];
        }
        y[jj] = acc;
    }
}

/// Each row of y `[R, n]` = b_r + Σ_k v[r,k] m[k,·] (v `[R, K]`; b one row for all, or `[R, n]`): [`matvec`] row by row, the
/// same sums in the same order, four rows at a time sharing each load of m (workers that share
/// a controller's weights).
#[inline(always)]
fn matmul_rows(y: &mut [f32], b: &[f32], v: &[f32], m: &[f32], n: usize) {
    let k_len = m.len() / n.max(1);
    let rows = y.len() / n.max(1);
    let bias = |r: usize| if b.len() == n { b } else { &b[r * n..(r + 1) * n] };
    let mut r = 0;
    while r + 4 <= rows {
        let mut j = 0;
        while j + BLOCK <= n {
            let mut acc = [[0.0f32; BLOCK]; 4];
            for (q, a) in acc.iter_mut().enumerate() {
                a.copy_from_slice(&bias(r + q)[j..j + BLOCK]);
            }
            for k in 0..k_len {
                let row: &[f32; BLOCK] = m[k * n + j..k * n + j + BLOCK].try_into().expect("a block");
                for (q, a) in acc.iter_mut().enumerate() {
                    let s = v[(r + q) * k_len + k];
                    for l in 0..BLOCK {
                        a[l] += s * row[l];
                    }
                }
            }
            for (q, a) in acc.iter().enumerate() {
                y[(r + q) * n + j..(r + q) * n + j + BLOCK].copy_from_slice(a);
            }
            j += BLOCK;
        }
        for q in 0..4 {
            for jj in j..n {
                let mut acc = bias(r + q)[jj];
                for k in 0..k_len {
                    acc += v[(r + q) * k_len + k] * m[k * n + jj];
                }
                y[(r + q) * n + jj] = acc;
            }
        }
        r += 4;
    }
    for r in r..rows {
        matvec(&mut y[r * n..(r + 1) * n], bias(r), &v[r * k_len..(r + 1) * k_len], m);
    }
}

/// out[k,·] += Σ_r v[r,k] g[r,·] (v `[R, K]`, g `[R, n]`, out `[K, n]`), each element summed in
/// r order; four rows of out (then one at a time) and a block of its columns in registers.
#[inline(always)]
fn outer_sum(out: &mut [f32], v: &[f32], g: &[f32], k_len: usize) {
    let mut k = 0;
    while k + 4 <= k_len {
        outer_sum_rows::<4>(out, v, g, k_len, k);
        k += 4;
    }
    for k in k..k_len {
        outer_sum_rows::<1>(out, v, g, k_len, k);
    }
}

/// [`outer_sum`] for rows k..k + Q of out.
#[inline(always)]
fn outer_sum_rows<const Q: usize>(out: &mut [f32], v: &[f32], g: &[f32], k_len: usize, k: usize) {
    let n = out.len() / k_len;
    let rows = v.len() / k_len;
    let mut j = 0;
    while j + BLOCK <= n {
        let mut acc = [[0.0f32; BLOCK]; Q];
        for (q, a) in acc.iter_mut().enumerate() {
            a.copy_from_slice(&out[(k + q) * n + j..(k + q) * n + j + BLOCK]);
        }
        for r in 0..rows {
            let gr: &[f32; BLOCK] = g[r * n + j..r * n + j + BLOCK].try_into().expect("a block");
            let vr = &v[r * k_len + k..r * k_len + k + Q];
            for (a, &s) in acc.iter_mut().zip(vr) {
                for l in 0..BLOCK {
                    a[l] += s * gr[l];
                }
            }
        }
        for (q, a) in acc.iter().enumerate() {
            out[(k + q) * n + j..(k + q) * n + j + BLOCK].copy_from_slice(a);
        }
        j += BLOCK;
    }
    for jj in j..n {
        for q in 0..Q {
            let mut acc = out[(k + q) * n + jj];
            for r in 0..rows {
                acc += v[r * k_len + k + q] * g[r * n + jj];
            }
            out[(k + q) * n + jj] = acc;
        }
    }
}

/// y ← y + x.
#[inline(always)]
fn add(y: &mut [f32], x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// tanh x = (e^{2x} − 1) / (e^{2x} + 1), |x| clamped at 9 (where tanh is 1 in f32): one `exp`,
/// a third of libm's `tanhf` here; within 2·10⁻⁷ of it (unit test).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let e = (2.0 * x.clamp(-9.0, 9.0)).exp();
    (e - 1.0) / (e + 1.0)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regions::pfc::gru;
    use crate::rng::SimRng;
    use rand::SeedableRng;

    fn dims() -> Dims {
        Dims {
            groups: 4,
            workers: 5, // a block of four rows and one more
            input: 5,
            hidden: 11, // 3H = 33: four lanes of eight and a tail
            actions: 3,
        }
    }

    /// A network after `ticks` tracked steps with made-up inputs and outcomes.
    fn played(helper: bool, ticks: usize) -> HostNet {
        let d = dims();
        let p = d.population();
        let mut rngs: Vec<SimRng> = (0..d.groups as u64).map(SimRng::seed_from_u64).collect();
        let mut net = HostNet::new(d, gru::random(&d, &mut rngs));
        net.helper = if helper { Helper::spawn() } else { None };
        for t in 0..ticks {
            let x: Vec<f32> = (0..p * d.input)
                .map(|k| ((k * 5 + t * 3) % 7) as f32 / 3.0 - 1.0)
                .collect();
            net.step(&x, true);
            net.complete(Outcome {
                action: (0..p).map(|i| (i + t) % 3).collect(),
                reward: (0..p).map(|i| ((i + 2 * t) % 4) as f32 - 1.5).collect(),
                done: vec![false; p],
            });
        }
        net
    }

    #[test]
    fn the_one_exp_tanh_is_libms_to_rounding() {
        let worst = (-4000..=4000)
            .map(|i| i as f32 / 400.0)
            .chain([-1e-6, 1e-6, 30.0, -30.0, f32::MAX, f32::MIN])
            .map(|x| (tanh(x) - x.tanh()).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 2e-7, "largest difference {worst}");
        assert_eq!((tanh(100.0), tanh(-100.0), tanh(0.0)), (1.0, -1.0, 0.0));
    }

    /// The four-row kernel against the one-row kernel, row by row, with a shared bias row and
    /// with one bias row each: the same bits.
    #[test]
    fn four_rows_at_a_time_sum_as_one_row_does() {
        let (rows, k, n) = (7, 9, 37);
        let v: Vec<f32> = (0..rows * k).map(|i| ((i * 7) % 13) as f32 / 6.0 - 1.0).collect();
        let m: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 17) as f32 / 9.0 - 0.9).collect();
        let shared: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
        let each: Vec<f32> = (0..rows * n).map(|i| (i % 11) as f32 * 0.1).collect();
        for b in [&shared, &each] {
            let mut y = vec![0.0; rows * n];
            matmul_rows(&mut y, b, &v, &m, n);
            for r in 0..rows {
                let mut one = vec![0.0; n];
                let bias = if b.len() == n { &b[..] } else { &b[r * n..(r + 1) * n] };
                matvec(&mut one, bias, &v[r * k..(r + 1) * k], &m);
                assert_eq!(bits(&y[r * n..(r + 1) * n]), bits(&one), "row {r}");
            }
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn two_threads_give_the_bits_of_one() {
        let hyper = Hyper {
            gamma: 0.9,
            entropy: 0.05,
            value_loss: 0.5,
            max_grad_norm: 1.0,
            lr: 0.01,
        };
        let (mut one, mut two) = (played(false, 6), played(true, 6));
        if two.helper.is_none() {
            eprintln!("one thread in rayon's pool: nothing to compare");
            return;
        }
        let bootstrap: Vec<f32> = (0..dims().population()).map(|i| i as f32 * 0.1).collect();
        one.update(&bootstrap, hyper);
        two.update(&bootstrap, hyper);
        for k in 0..8 {
            assert_eq!(bits(&one.params[k]), bits(&two.params[k]), "parameter {k}");
        }
        assert_eq!(bits(&one.hidden), bits(&two.hidden));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_loops_give_the_portable_bits() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the portable path runs here");
            return;
        }
        let d = dims();
        let p = d.population();
        let net = played(false, 5);
        let x: Vec<f32> = (0..p * d.input).map(|k| (k % 9) as f32 * 0.3 - 1.2).collect();
        let run = |avx2: bool| {
            // Scratch left dirty by a larger run first: it is not cleared for the next.
            let mut scratch = Scratch::default();
            for v in scratch.take([1 << 16; 20]) {
                v.fill(f32::NAN);
            }
            let mut gates = vec![0.0; p * 4 * d.hidden];
            let mut h = vec![0.0; p * d.hidden];
            let (mut logits, mut value) = (vec![0.0; p * d.actions], vec![0.0; p]);
            let out = Out {
                gates: &mut gates,
                h: &mut h,
                logits: &mut logits,
                value: &mut value,
            };
            if avx2 {
                // SAFETY: AVX2 checked above.
                unsafe { forward_groups_avx2(&d, 0..d.groups, &net.params, &x, &net.hidden, out, &mut scratch) };
            } else {
                forward_groups_body(&d, 0..d.groups, &net.params, &x, &net.hidden, out, &mut scratch);
            }
            let mut state = [net.params.clone(), net.first.clone(), net.second.clone()];
            let hyper = Hyper {
                gamma: 0.9,
                entropy: 0.05,
                value_loss: 0.5,
                max_grad_norm: 0.5,
                lr: 0.01,
            };
            let bootstrap = vec![0.25; p];
            let [a, b, c] = &mut state;
            let slices = [whole(a), whole(b), whole(c)];
            if avx2 {
                // SAFETY: AVX2 checked above.
                unsafe {
                    learn_groups_avx2(
                        &d,
                        0..d.groups,
                        &net.rollout,
                        &bootstrap,
                        hyper,
                        (0.1, 0.001),
                        slices,
                        &mut scratch,
                    )
                };
            } else {
                learn_groups_body(
                    &d,
                    0..d.groups,
                    &net.rollout,
                    &bootstrap,
                    hyper,
                    (0.1, 0.001),
                    slices,
                    &mut scratch,
                );
            }
            (gates, h, logits, value, state)
        };
        let (wide, portable) = (run(true), run(false));
        assert_eq!(bits(&wide.0), bits(&portable.0), "gates");
        assert_eq!(bits(&wide.1), bits(&portable.1), "h");
        assert_eq!(bits(&wide.2), bits(&portable.2), "logits");
        assert_eq!(bits(&wide.3), bits(&portable.3), "values");
        for k in 0..8 {
            for (s, what) in ["weights", "first moments", "second moments"].iter().enumerate() {
                assert_eq!(
                    bits(&wide.4[s][k]),
                    bits(&portable.4[s][k]),
                    "{what} of parameter {k}"
                );
            }
        }
        assert_ne!(
            bits(&wide.4[0][0]),
            bits(&net.params[0]),
            "the update changed W_x"
        );
    }
}
