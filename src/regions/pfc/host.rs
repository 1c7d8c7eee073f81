//! The controller on the host: the network of `gru.rs`, the A2C gradient of `a2c.rs`, the
//! clipping and Adam of `../adam.rs`, written as loops over each controller's contiguous `f32`
//! rows. This is the CPU device's path; the burn path (`device.rs`) serves the others.
//!
//! ```text
//! forward, per agent:   g_x = b_x + Σ_i x_i W_x[i,·]      g_h = b_h + Σ_k h₋₁,k W_h[k,·]
//!                       r, u, n, h′ as in gru.rs;  logits = b_π + Σ_k h′_k W_π[k,·];  v = b_v + h′·w_v
//! backward, per controller: a sweep t = T−1 … 0 over its workers (returns, heads, recurrence)
//!   R_t, A_t = R_t − v_t;  ∂logits, ∂v as in a2c.rs;  ∂h = ∂logits W_πᵀ + ∂v w_vᵀ + carry
//!   carry ← ∂h ⊙ u + W_h ∂g_h                 (each step's x, h₋₁, h, ∂g_x, ∂g_h, ∂logits, ∂v kept)
//! then the gradients from the kept rows:  ∂W_h = Σ h₋₁ ⊗ ∂g_h,  ∂W_x = Σ x ⊗ ∂g_x,  ∂W_π = Σ h ⊗ ∂logits, …
//! and the controller's gradient is clipped to `max_grad_norm` and Adam steps its weights.
//! ```
//!
//! Why a second path: a tick of the burn path is ~40 tensor operations on `[G, W, 3H]`-sized
//! tensors, and on the CPU each costs about a microsecond whatever its size, so at P = 1 the
//! PFC took ~30 µs a tick for ~7 000 multiply-adds (`valence bench --brain`). Here a tick is the
//! arithmetic itself. Every sum has one fixed order (no fused multiply-add), compiled for
//! baseline x86-64 and for AVX2 with the same bits, and controllers (or one controller's
//! workers) are split over two threads in fixed halves: one seed, the same bits.
//! The results agree with the burn path to rounding (unit test: forward, gradients and a
//! training run), not bit for bit: the two add in different orders.
//!
//! Layout: each parameter is `[G, rows, cols]` row-major, as the burn path's tensors and the
//! checkpoints; the rollout is step-major (`[T, P, …]`), so a tick appends one block.

use std::ops::Range;

use ndarray::Array2;

use super::{Dims, Hyper, Network, Outcome, Params, Recorded};
use crate::regions::adam;
use crate::regions::expf::exp_in_place;
use crate::regions::fork::Helper;
use crate::regions::prefetch_from;
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
    /// Empty (the arrays keep their length: a step writes its block in place).
    fn clear(&mut self) {
        self.len = 0;
        self.outcomes.clear();
    }

    /// The arrays at least `steps` steps long. They are never shortened, so a rollout after
    /// the first writes into memory it has written before (growing them a step at a time,
    /// zeros first, had cost a write of every step's ~1 MB at P = 1024 before the step's own).
    fn grow(&mut self, steps: usize, d: &Dims) {
        let (p, h) = (d.population(), d.hidden);
        for (v, width) in [
            (&mut self.x, d.input),
            (&mut self.h_prev, h),
            (&mut self.gates, 4 * h),
            (&mut self.h, h),
            (&mut self.logits, d.actions),
            (&mut self.value, 1),
        ] {
            if v.len() < steps * p * width {
                v.resize(steps * p * width, 0.0);
            }
        }
    }
}

/// Working arrays of one thread, kept between ticks (allocating them each tick cost a fifth of
/// a tick at P = 1): a controller's rows and gradients, and the working arrays of a pass.
#[derive(Default)]
struct Scratch {
    rows: Pool,
    work: Pool,
}

/// Arrays whose [`Pool::take`] hands out slices of the lengths asked for, not cleared.
#[derive(Default)]
struct Pool {
    arrays: Vec<Vec<f32>>,
}

impl Pool {
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
    /// W_x and W_h of every controller in column blocks ([`pack`]), controller after
    /// controller (its W_x, then its W_h), refreshed whenever the weights change: what the
    /// forward step streams when a controller has fewer than four workers (at P = 1024 every
    /// controller's weights are read once a tick, from memory, as one stream a thread).
    packed: Vec<f32>,
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
        let mut net = HostNet {
            first: zeros(),
            second: zeros(),
            packed: if reads_blocks(&dims) {
                vec![0.0; params[W_X].len() + params[W_H].len()]
            } else {
                Vec::new()
            },
            params,
            adam_step: 0,
            hidden: vec![0.0; dims.population() * dims.hidden],
            rollout: Rollout::default(),
            // Controllers split between the threads, or one controller's workers (8 or more).
            helper: if (dims.groups >= 2 || dims.workers >= 8) && work >= HELPER_MIN_WORK {
                Helper::spawn()
            } else {
                None
            },
            scratch: Default::default(),
            spare: Scratch::default(),
            dims,
        };
        net.repack();
        net
    }

    /// [`HostNet::packed`] from the weights (nothing when no controller reads it).
    fn repack(&mut self) {
        if !reads_blocks(&self.dims) {
            return;
        }
        let sizes = self.dims.sizes();
        let cols = 3 * self.dims.hidden;
        let each = sizes[W_X] + sizes[W_H];
        for (g, out) in self.packed.chunks_mut(each).enumerate() {
            let (x, h) = out.split_at_mut(sizes[W_X]);
            for (out, k) in [(x, W_X), (h, W_H)] {
                pack(&self.params[k][g * sizes[k]..(g + 1) * sizes[k]], cols, out);
            }
        }
    }

    /// The lengths of the spare arrays: gates, h′, logits, v.
    fn spare_lengths(&self) -> [usize; 4] {
        let (p, h) = (self.dims.population(), self.dims.hidden);
        [p * 4 * h, p * h, p * self.dims.actions, p]
    }

    /// A forward step from h with x `[P, I]` into the spare arrays (gates, h′, logits, v), h
    /// unchanged.
    fn forward_untracked(&mut self, x: &[f32]) {
        let d = self.dims;
        let [gates, h, logits, value] = self.spare.work.take(self.spare_lengths());
        let out = Out {
            gates,
            h,
            logits,
            value,
        };
        let helper = self.helper.as_mut();
        let weights = (&self.params, &self.packed[..]);
        forward(&d, weights, x, &self.hidden, out, helper, &mut self.scratch);
    }

    /// One step from h with x `[P, I]`, kept in the rollout (with an outcome to be filled in)
    /// when `track`; h ← h′. Returns the logits `[P, A]` and v `[P]`.
    fn forward_step(&mut self, x: &[f32], track: bool) -> (Vec<f32>, Vec<f32>) {
        let d = self.dims;
        let p = d.population();
        let (h, a) = (d.hidden, d.actions);
        if !track {
            self.forward_untracked(x);
            let [_, next, logits, value] = self.spare.work.take(self.spare_lengths());
            self.hidden.copy_from_slice(next);
            return (logits.to_vec(), value.to_vec());
        }
        let r = &mut self.rollout;
        let t = r.len;
        r.grow(t + 1, &d);
        /// Step t's block `[P, width]` of v.
        fn block(v: &mut [f32], t: usize, p: usize, width: usize) -> &mut [f32] {
            &mut v[t * p * width..(t + 1) * p * width]
        }
        block(&mut r.x, t, p, d.input).copy_from_slice(x);
        block(&mut r.h_prev, t, p, h).copy_from_slice(&self.hidden);
        r.outcomes.push(Outcome::none(p));
        r.len += 1;
        let out = Out {
            gates: block(&mut r.gates, t, p, 4 * h),
            h: block(&mut r.h, t, p, h),
            logits: block(&mut r.logits, t, p, a),
            value: block(&mut r.value, t, p, 1),
        };
        forward(
            &d,
            (&self.params, &self.packed[..]),
            x,
            &self.hidden,
            out,
            self.helper.as_mut(),
            &mut self.scratch,
        );
        self.hidden.copy_from_slice(&r.h[t * p * h..(t + 1) * p * h]);
        (
            r.logits[t * p * a..(t + 1) * p * a].to_vec(),
            r.value[t * p..(t + 1) * p].to_vec(),
        )
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
        self.repack();
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
        self.forward_untracked(x);
        let [.., value] = self.spare.work.take(self.spare_lengths());
        value.to_vec()
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
        self.adam_step += 1;
        let corrections = adam::corrections(self.adam_step);
        let sizes = d.sizes();
        let rollout = &self.rollout;
        let learn = |groups: Range<usize>,
                     p: Vec<&mut [f32]>,
                     m: Vec<&mut [f32]>,
                     v: Vec<&mut [f32]>,
                     scratch: &mut Scratch,
                     split: Option<(&mut Helper, &mut Scratch)>| {
            learn_groups(
                &d,
                groups,
                rollout,
                bootstrap,
                hyper,
                corrections,
                [p, m, v],
                scratch,
                split,
            );
        };
        let [here, there] = &mut self.scratch;
        match self.helper.as_mut() {
            Some(helper) if d.groups >= 2 => {
                let mid = d.groups / 2;
                let (p_lo, p_hi) = split(&mut self.params, &sizes, mid);
                let (m_lo, m_hi) = split(&mut self.first, &sizes, mid);
                let (v_lo, v_hi) = split(&mut self.second, &sizes, mid);
                helper.join(
                    || learn(0..mid, p_lo, m_lo, v_lo, here, None),
                    || learn(mid..d.groups, p_hi, m_hi, v_hi, there, None),
                );
            }
            helper => learn(
                0..d.groups,
                whole(&mut self.params),
                whole(&mut self.first),
                whole(&mut self.second),
                here,
                helper.map(|helper| (helper, there)),
            ),
        }
        self.rollout.clear();
        self.repack();
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
    params: (&Params, &[f32]),
    x: &[f32],
    h_prev: &[f32],
    out: Out<'_>,
    helper: Option<&mut Helper>,
    [here, there]: &mut [Scratch; 2],
) {
    let Some(helper) = helper else {
        return forward_groups(d, 0..d.population(), params, x, h_prev, out, here);
    };
    // Whole controllers on each thread, or one controller's workers in two halves.
    let rows = if d.groups >= 2 {
        d.groups / 2 * d.workers
    } else {
        d.workers / 2
    };
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
        || forward_groups(d, 0..rows, params, x, h_prev, lo, here),
        || forward_groups(d, rows..d.population(), params, x, h_prev, hi, there),
    );
}

/// `$name` runs `$body` compiled for AVX2 where the CPU has it (`$wide`), else for baseline
/// x86-64: the same operations in the same order, so the same bits (unit test).
macro_rules! with_avx2 {
    (fn $name:ident / $wide:ident = $body:ident ($($arg:ident: $ty:ty),* $(,)?)) => {
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: the CPU has AVX2 (`avx2`).
                return unsafe { $wide($($arg),*) };
            }
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        fn $wide($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}

with_avx2!(fn forward_groups / forward_groups_avx2 = forward_groups_body(
    d: &Dims,
    agents: Range<usize>,
    params: (&Params, &[f32]),
    x: &[f32],
    h_prev: &[f32],
    out: Out<'_>,
    scratch: &mut Scratch,
));

/// The forward step of `agents` (`out` starts at the first of them).
#[inline(always)]
fn forward_groups_body(
    d: &Dims,
    agents: Range<usize>,
    (params, packed): (&Params, &[f32]),
    x: &[f32],
    h_prev: &[f32],
    out: Out<'_>,
    scratch: &mut Scratch,
) {
    let (i_w, h, a, wk) = (d.input, d.hidden, d.actions, d.workers);
    let sizes = d.sizes();
    let [gxs, ghs, exps] = scratch.work.take([wk * 3 * h, wk * 3 * h, 3 * h]);
    let first = agents.start;
    if agents.is_empty() {
        return;
    }
    for g in agents.start / wk..=(agents.end - 1) / wk {
        let p = |k: usize| &params[k][g * sizes[k]..(g + 1) * sizes[k]];
        let (w_x, w_h, b_x, b_h) = (p(W_X), p(W_H), p(B_X), p(B_H));
        let (w_p, b_p, w_v, b_v) = (p(W_P), p(B_P), p(W_V), p(B_V)[0]);
        // This controller's agents among `agents`.
        let rows = (g * wk).max(agents.start)..((g + 1) * wk).min(agents.end);
        // Fewer than four workers read W_x and W_h in column blocks, one stream each; more share
        // each load of the row-major weights four rows at a time. The same sums either way.
        let columns = reads_blocks(d);
        let n = rows.len() * 3 * h;
        if columns {
            let own = &packed[g * (sizes[W_X] + sizes[W_H])..(g + 1) * (sizes[W_X] + sizes[W_H])];
            let (packed_x, packed_h) = own.split_at(sizes[W_X]);
            for (w, agent) in rows.clone().enumerate() {
                let (gx, gh) = (
                    &mut gxs[w * 3 * h..(w + 1) * 3 * h],
                    &mut ghs[w * 3 * h..(w + 1) * 3 * h],
                );
                matvec_in(
                    gx,
                    b_x,
                    &x[agent * i_w..(agent + 1) * i_w],
                    packed_x,
                    Layout::Blocks,
                );
                matvec_in(
                    gh,
                    b_h,
                    &h_prev[agent * h..(agent + 1) * h],
                    packed_h,
                    Layout::Blocks,
                );
            }
        } else {
            matmul_rows(
                &mut gxs[..n],
                b_x,
                &x[rows.start * i_w..rows.end * i_w],
                w_x,
                3 * h,
            );
            matmul_rows(
                &mut ghs[..n],
                b_h,
                &h_prev[rows.start * h..rows.end * h],
                w_h,
                3 * h,
            );
        }
        for agent in rows.clone() {
            let hp = &h_prev[agent * h..(agent + 1) * h];
            let w = agent - rows.start;
            let (gx, gh) = (&gxs[w * 3 * h..(w + 1) * 3 * h], &ghs[w * 3 * h..(w + 1) * 3 * h]);
            let local = agent - first;
            let gates = &mut out.gates[local * 4 * h..(local + 1) * 4 * h];
            let next = &mut out.h[local * h..(local + 1) * h];
            // r = σ(x_r + ĥ_r) and u = σ(x_u + ĥ_u), σ(x) = 1 / (1 + exp(−x)), and n = tanh(x_n
            // + r ⊙ ĥ_n) ([`tanh`]), their exponentials taken in two runs (r's and u's, then
            // n's, which needs r) rather than one between each gate's arithmetic, each run four
            // lanes at a time with `f32::exp`'s bits ([`exp_in_place`]), the gates' arithmetic
            // in vector loops ([`reset_gate`], [`update_gate`]): the same operations, so the
            // same bits. (At P = 1024 with 32 workers a controller, the runs alone gave ~10%
            // more agent-ticks/s in `meta_bandit`.)
            let (e_ru, e_n) = exps.split_at_mut(2 * h);
            for ((e, &x), &y) in e_ru.iter_mut().zip(&gx[..2 * h]).zip(&gh[..2 * h]) {
                *e = -(x + y);
            }
            exp_in_place(e_ru);
            let [e_r, e_u] = parts(e_ru, h);
            let [_, _, x_n] = parts(gx, h);
            let [_, _, h_n] = parts(gh, h);
            let [g_r, g_u, g_n, g_hn] = parts_mut(gates, h);
            let e_n = &mut e_n[..h];
            reset_gate(g_r, g_hn, e_n, [e_r, h_n, x_n]);
            exp_in_place(e_n);
            update_gate(&mut next[..h], g_u, g_n, [e_u, e_n, &hp[..h]]);
            let logits = &mut out.logits[local * a..(local + 1) * a];
            out.value[local] = match a {
                2 => heads::<2>(logits, next, (w_p, b_p), (w_v, b_v)),
                3 => heads::<3>(logits, next, (w_p, b_p), (w_v, b_v)),
                4 => heads::<4>(logits, next, (w_p, b_p), (w_v, b_v)),
                _ => {
                    matvec(logits, b_p, next, w_p);
                    let mut v = b_v;
                    for (&hk, &wv) in next.iter().zip(w_v) {
                        v += hk * wv;
                    }
                    v
                }
            };
        }
    }
}

/// The forward step's r = σ(x_r + ĥ_r) (from e_r = exp(−(x_r + ĥ_r))), ĥ_n kept, and the
/// argument of n's `exp` ([`tanh_argument`] of x_n + r ⊙ ĥ_n). A function of its own so that
/// the compiler knows its slices apart (no checks for overlap): vector instructions.
#[inline(always)]
fn reset_gate(g_r: &mut [f32], g_hn: &mut [f32], e_n: &mut [f32], [e_r, h_n, x_n]: [&[f32]; 3]) {
    let h = g_r.len();
    let (g_hn, e_n, e_r, h_n, x_n) = (&mut g_hn[..h], &mut e_n[..h], &e_r[..h], &h_n[..h], &x_n[..h]);
    for k in 0..h {
        let r = 1.0 / (1.0 + e_r[k]);
        let hn = h_n[k];
        g_r[k] = r;
        g_hn[k] = hn;
        e_n[k] = tanh_argument(x_n[k] + r * hn);
    }
}

/// The forward step's u = σ(x_u + ĥ_u) (from e_u), n ([`tanh_of_exp`] of e_n) and h′ = n +
/// u ⊙ (h₋₁ − n), as [`reset_gate`].
#[inline(always)]
fn update_gate(next: &mut [f32], g_u: &mut [f32], g_n: &mut [f32], [e_u, e_n, hp]: [&[f32]; 3]) {
    let h = next.len();
    let (g_u, g_n, e_u, e_n, hp) = (&mut g_u[..h], &mut g_n[..h], &e_u[..h], &e_n[..h], &hp[..h]);
    for k in 0..h {
        let u = 1.0 / (1.0 + e_u[k]);
        let n = tanh_of_exp(e_n[k]);
        next[k] = n + u * (hp[k] - n);
        g_u[k] = u;
        g_n[k] = n;
    }
}

/// The heads of h′ with A actions: logits = b_π + h′ W_π (`logits`) and v = b_v + h′ · w_v
/// (returned), each summed over h′ in order as [`matvec`] and a dot product do, but the A + 1
/// sums side by side in registers (one after another, each waits on its own additions).
#[inline(always)]
fn heads<const A: usize>(
    logits: &mut [f32],
    next: &[f32],
    (w_p, b_p): (&[f32], &[f32]),
    (w_v, b_v): (&[f32], f32),
) -> f32 {
    let mut acc: [f32; A] = b_p[..A].try_into().expect("A biases");
    let mut v = b_v;
    for ((&hk, w), &wv) in next.iter().zip(w_p.chunks_exact(A)).zip(w_v) {
        for (acc, &w) in acc.iter_mut().zip(w) {
            *acc += hk * w;
        }
        v += hk * wv;
    }
    logits[..A].copy_from_slice(&acc);
    v
}

/// `v`'s first N·n values as N slices of n.
#[inline(always)]
fn parts<const N: usize>(v: &[f32], n: usize) -> [&[f32]; N] {
    std::array::from_fn(|i| &v[i * n..(i + 1) * n])
}

/// [`parts`], to write.
#[inline(always)]
fn parts_mut<const N: usize>(v: &mut [f32], n: usize) -> [&mut [f32]; N] {
    let mut rest = &mut v[..N * n];
    std::array::from_fn(|_| {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        part
    })
}

/// The update of `groups`: `[params, first moments, second moments]`, each eight slices that
/// start at the first of these controllers. With `split` (one controller, a helper and its
/// scratch) the controller's workers are swept in two halves and its weight gradients summed
/// in two parts on the two threads: the same sums in the same order, so the same bits.
#[allow(clippy::too_many_arguments)]
fn learn_groups(
    d: &Dims,
    groups: Range<usize>,
    rollout: &Rollout,
    bootstrap: &[f32],
    hyper: Hyper,
    (c1, c2): (f32, f32),
    [mut params, mut first, mut second]: [Vec<&mut [f32]>; 3],
    scratch: &mut Scratch,
    mut split: Option<(&mut Helper, &mut Scratch)>,
) {
    let (i_w, h, a, wk) = (d.input, d.hidden, d.actions, d.workers);
    let sizes = d.sizes();
    let t_len = rollout.len;
    let rows = t_len * wk;
    let first_group = groups.start;
    for g in groups {
        let local = g - first_group;
        let range = |k: usize| local * sizes[k]..(local + 1) * sizes[k];
        let [
            g_wx,
            g_wh,
            g_bx,
            g_bh,
            g_wp,
            g_bp,
            g_wv,
            g_bv,
            w_h_t,
            w_p_t,
            g_wp_t,
            xs,
            hps,
            hs,
            gxs,
            ghs,
            dls,
            dvs,
        ] = scratch.rows.take([
            sizes[W_X],
            sizes[W_H],
            sizes[B_X],
            sizes[B_H],
            sizes[W_P],
            sizes[B_P],
            sizes[W_V],
            sizes[B_V],
            3 * h * h,
            a * h,
            a * h,
            rows * i_w,
            rows * h,
            rows * h,
            rows * 3 * h,
            rows * 3 * h,
            rows * a,
            rows,
        ]);
        transpose(&params[W_H][range(W_H)], 3 * h, w_h_t);
        transpose(&params[W_P][range(W_P)], a, w_p_t);
        let weights = SweepWeights {
            w_h_t,
            w_p_t,
            w_v: &params[W_V][range(W_V)],
        };
        let mut all = RowsMut {
            x: xs,
            h_prev: hps,
            h: hs,
            gx: gxs,
            gh: ghs,
            dl: dls,
            dv: dvs,
        };
        let sweep_workers = |workers: Range<usize>, rows: RowsMut<'_>, work: &mut Pool| {
            sweep(d, g, workers, rollout, bootstrap, hyper, &weights, rows, work);
        };
        match split.as_mut() {
            Some((helper, other)) if wk >= 8 => {
                let mid = wk / 2;
                let (lo, hi) = all.reborrow().split_at(mid * t_len, d);
                let (here, there) = (&mut scratch.work, &mut other.work);
                helper.join(
                    || sweep_workers(0..mid, lo, here),
                    || sweep_workers(mid..wk, hi, there),
                );
                let rows = all.read();
                let (wh_lo, wh_hi) = g_wh.split_at_mut(h / 2 * 3 * h);
                helper.join(
                    || sums(d, &rows, wh_lo, 0..h / 2, Some(g_wx), None),
                    || {
                        sums(
                            d,
                            &rows,
                            wh_hi,
                            h / 2..h,
                            None,
                            Some([g_wp_t, g_bp, g_wv, g_bv, g_bx, g_bh]),
                        )
                    },
                );
            }
            _ => {
                sweep_workers(0..wk, all.reborrow(), &mut scratch.work);
                let rows = all.read();
                sums(
                    d,
                    &rows,
                    g_wh,
                    0..h,
                    Some(g_wx),
                    Some([g_wp_t, g_bp, g_wv, g_bv, g_bx, g_bh]),
                );
            }
        }
        transpose(g_wp_t, h, g_wp);
        let grads = [g_wx, g_wh, g_bx, g_bh, g_wp, g_bp, g_wv, g_bv];
        let state = [
            own(&mut params, &sizes, local),
            own(&mut first, &sizes, local),
            own(&mut second, &sizes, local),
        ];
        adam_step(grads, state, hyper, (c1, c2));
    }
}

/// out = mᵀ: m row-major `[len / cols, cols]`, out `[cols, len / cols]`.
fn transpose(m: &[f32], cols: usize, out: &mut [f32]) {
    let rows = m.len() / cols.max(1);
    for (k, row) in m.chunks_exact(cols).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            out[j * rows + k] = x;
        }
    }
}

/// Controller `local`'s block of each of `arrays` (blocks of `sizes`).
fn own<'a>(arrays: &'a mut [&mut [f32]], sizes: &[usize; 8], local: usize) -> Vec<&'a mut [f32]> {
    arrays
        .iter_mut()
        .zip(sizes)
        .map(|(v, &n)| &mut v[local * n..(local + 1) * n])
        .collect()
}

/// A controller's weights as the backward sweep reads them.
struct SweepWeights<'a> {
    /// W_hᵀ `[3H, H]`.
    w_h_t: &'a [f32],
    /// W_πᵀ `[A, H]`.
    w_p_t: &'a [f32],
    w_v: &'a [f32],
}

/// A controller's rollout as rows, worker-major (row w·T + s holds step t = T − 1 − s of worker
/// w: the order the sweep meets them): x, h₋₁, h, ∂g_x, ∂g_h, ∂logits, ∂v. The weights'
/// gradients are summed from these after the sweep, in row order.
struct RowsMut<'a> {
    x: &'a mut [f32],
    h_prev: &'a mut [f32],
    h: &'a mut [f32],
    gx: &'a mut [f32],
    gh: &'a mut [f32],
    dl: &'a mut [f32],
    dv: &'a mut [f32],
}

impl<'a> RowsMut<'a> {
    /// The same rows, borrowed for a while.
    fn reborrow(&mut self) -> RowsMut<'_> {
        RowsMut {
            x: self.x,
            h_prev: self.h_prev,
            h: self.h,
            gx: self.gx,
            gh: self.gh,
            dl: self.dl,
            dv: self.dv,
        }
    }

    /// The rows, to read.
    fn read(&self) -> Rows<'_> {
        Rows {
            x: self.x,
            h_prev: self.h_prev,
            h: self.h,
            gx: self.gx,
            gh: self.gh,
            dl: self.dl,
            dv: self.dv,
        }
    }

    /// Rows before `at` and from it.
    fn split_at(self, at: usize, d: &Dims) -> (RowsMut<'a>, RowsMut<'a>) {
        let (i, h, a) = (d.input, d.hidden, d.actions);
        let (x0, x1) = self.x.split_at_mut(at * i);
        let (p0, p1) = self.h_prev.split_at_mut(at * h);
        let (h0, h1) = self.h.split_at_mut(at * h);
        let (gx0, gx1) = self.gx.split_at_mut(at * 3 * h);
        let (gh0, gh1) = self.gh.split_at_mut(at * 3 * h);
        let (l0, l1) = self.dl.split_at_mut(at * a);
        let (v0, v1) = self.dv.split_at_mut(at);
        (
            RowsMut {
                x: x0,
                h_prev: p0,
                h: h0,
                gx: gx0,
                gh: gh0,
                dl: l0,
                dv: v0,
            },
            RowsMut {
                x: x1,
                h_prev: p1,
                h: h1,
                gx: gx1,
                gh: gh1,
                dl: l1,
                dv: v1,
            },
        )
    }
}

/// [`RowsMut`], read.
struct Rows<'a> {
    x: &'a [f32],
    h_prev: &'a [f32],
    h: &'a [f32],
    gx: &'a [f32],
    gh: &'a [f32],
    dl: &'a [f32],
    dv: &'a [f32],
}

/// The backward sweep of controller `g`'s `workers` over the rollout (t = T − 1 … 0): returns,
/// advantages, the loss's gradient at the heads, back through the recurrence; writes their rows
/// (`rows` starts at the first of these workers).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sweep_body(
    d: &Dims,
    g: usize,
    workers: Range<usize>,
    rollout: &Rollout,
    bootstrap: &[f32],
    hyper: Hyper,
    weights: &SweepWeights<'_>,
    rows: RowsMut<'_>,
    work: &mut Pool,
) {
    let (i_w, h, a, wk, pop) = (d.input, d.hidden, d.actions, d.workers, d.population());
    let t_len = rollout.len;
    let n = (t_len * wk) as f32;
    let count = workers.len();
    let [carry, ret, dh, direct, logp, probs, step_gh] =
        work.take([count * h, count, h, count * h, a, a, count * 3 * h]);
    carry.fill(0.0);
    ret.copy_from_slice(&bootstrap[g * wk + workers.start..g * wk + workers.end]);
    let SweepWeights { w_h_t, w_p_t, w_v } = *weights;
    for (s, t) in (0..t_len).rev().enumerate() {
        let outcome = &rollout.outcomes[t];
        for (w, worker) in workers.clone().enumerate() {
            let agent = g * wk + worker;
            let step = t * pop + agent;
            let r = w * t_len + s;
            if t > 0 {
                prefetch_step(rollout, d, step - pop, agent, t - 1);
            }
            // The n-step return and advantage, then the loss's gradient at the heads.
            ret[w] = outcome.reward[agent]
                + if outcome.done[agent] {
                    0.0
                } else {
                    hyper.gamma * ret[w]
                };
            let value = rollout.value[step];
            let advantage = ret[w] - value;
            let logits = &rollout.logits[step * a..(step + 1) * a];
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
            let lse = max + sum.ln();
            let mut entropy = 0.0;
            for ((lp, pi), l) in logp.iter_mut().zip(probs.iter_mut()).zip(logits) {
                *lp = l - lse;
                *pi = lp.exp();
                entropy -= *pi * *lp;
            }
            let dl = &mut rows.dl[r * a..(r + 1) * a];
            for (k, ((out, lp), &pi)) in dl.iter_mut().zip(logp.iter()).zip(probs.iter()).enumerate() {
                let chosen = if k == outcome.action[agent] { 1.0 } else { 0.0 };
                *out = (pi - chosen) * advantage * (1.0 / n) + pi * (lp + entropy) * (hyper.entropy / n);
            }
            let dv = (value - ret[w]) * (hyper.value_loss / n);
            rows.dv[r] = dv;
            // Back through h = n + u ⊙ (h₋₁ − n), n = tanh(x_n + r ⊙ ĥ_n).
            let dh = &mut dh[..h];
            hidden_gradient(dh, w_p_t, dl, dv, [&w_v[..h], &carry[w * h..(w + 1) * h]]);
            let gates = parts(&rollout.gates[step * 4 * h..], h);
            let hp = &rollout.h_prev[step * h..(step + 1) * h];
            let [gx_r, gx_u, gx_c] = parts_mut(&mut rows.gx[r * 3 * h..], h);
            let [gh_r, gh_u, gh_c] = parts_mut(&mut step_gh[w * 3 * h..], h);
            let direct = &mut direct[w * h..(w + 1) * h];
            gate_gradients(direct, gh_r, gh_u, gh_c, gx_r, gx_u, gx_c, (dh, hp), gates);
            let gh = &step_gh[w * 3 * h..(w + 1) * 3 * h];
            rows.gh[r * 3 * h..(r + 1) * 3 * h].copy_from_slice(gh);
            rows.h_prev[r * h..(r + 1) * h].copy_from_slice(hp);
            rows.h[r * h..(r + 1) * h].copy_from_slice(&rollout.h[step * h..(step + 1) * h]);
            rows.x[r * i_w..(r + 1) * i_w].copy_from_slice(&rollout.x[step * i_w..(step + 1) * i_w]);
        }
        // carry = ∂h ⊙ u + W_h ∂g_h, as Σ_j ∂g_h,j W_hᵀ[j,·], every worker's row at once.
        matmul_rows(carry, direct, step_gh, w_h_t, h);
    }
}

/// ∂h = W_π ∂logits + w_v ∂v + carry: the heads' products summed over the actions in order,
/// every k at once (W_πᵀ's rows `[A, H]`). Functions of their own (this and
/// [`gate_gradients`]) so that the compiler knows their slices apart (no checks for overlap,
/// which had sent these loops to their scalar versions): vector instructions.
#[inline(always)]
fn hidden_gradient(dh: &mut [f32], w_p_t: &[f32], dl: &[f32], dv: f32, [w_v, carried]: [&[f32]; 2]) {
    let h = dh.len();
    dh.fill(0.0);
    for (w_p_j, &dl_j) in w_p_t.chunks_exact(h).zip(dl) {
        for (d, &wp) in dh.iter_mut().zip(w_p_j) {
            *d += wp * dl_j;
        }
    }
    let (w_v, carried) = (&w_v[..h], &carried[..h]);
    for k in 0..h {
        dh[k] = dh[k] + dv * w_v[k] + carried[k];
    }
}

/// Back through h = n + u ⊙ (h₋₁ − n), n = tanh(x_n + r ⊙ ĥ_n) from ∂h: the direct part ∂h ⊙ u
/// and the gates' pre-activation gradients, as ĥ (∂g_h: r, u, r ⊙ n's) and x (∂g_x) see them.
/// (Each slice written is a parameter of its own: the compiler takes a reference inside an
/// array for one that may overlap the others.)
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gate_gradients(
    direct: &mut [f32],
    gh_r: &mut [f32],
    gh_u: &mut [f32],
    gh_c: &mut [f32],
    gx_r: &mut [f32],
    gx_u: &mut [f32],
    gx_c: &mut [f32],
    (dh, hp): (&[f32], &[f32]),
    [g_r, g_u, g_c, g_hn]: [&[f32]; 4],
) {
    let h = direct.len();
    let (gh_r, gh_u, gh_c) = (&mut gh_r[..h], &mut gh_u[..h], &mut gh_c[..h]);
    let (gx_r, gx_u, gx_c) = (&mut gx_r[..h], &mut gx_u[..h], &mut gx_c[..h]);
    let (dh, hp) = (&dh[..h], &hp[..h]);
    let (g_r, g_u, g_c, g_hn) = (&g_r[..h], &g_u[..h], &g_c[..h], &g_hn[..h]);
    for k in 0..h {
        let (rg, u, c, hn) = (g_r[k], g_u[k], g_c[k], g_hn[k]);
        let dc = dh[k] - dh[k] * u;
        let du = dh[k] * (hp[k] - c);
        direct[k] = dh[k] * u;
        let dc_pre = dc - dc * (c * c);
        let dr_pre = dc_pre * hn * (rg - rg * rg);
        let du_pre = du * (u - u * u);
        gh_r[k] = dr_pre;
        gh_u[k] = du_pre;
        gh_c[k] = dc_pre * rg;
        gx_r[k] = dr_pre;
        gx_u[k] = du_pre;
        gx_c[k] = dc_pre;
    }
}

/// Hints the cache to fetch what the sweep reads of `agent`'s step `t` (row `step` of the
/// rollout's `[T, P, …]` arrays): one step ahead, as the sweep walks back through a rollout
/// one agent at a time, a stride of P rows that the prefetchers do not follow (P = 1024, one
/// controller an agent: ~4% off the whole tick, four interleaved pairs).
#[inline(always)]
fn prefetch_step(rollout: &Rollout, d: &Dims, step: usize, agent: usize, t: usize) {
    let row = |v: &[f32], width: usize| prefetch_from(v.as_ptr().wrapping_add(step * width), width);
    row(&rollout.gates, 4 * d.hidden);
    row(&rollout.h_prev, d.hidden);
    row(&rollout.h, d.hidden);
    row(&rollout.x, d.input);
    row(&rollout.logits, d.actions);
    row(&rollout.value, 1);
    let outcome = &rollout.outcomes[t];
    prefetch_from(outcome.reward.as_ptr().wrapping_add(agent), 1);
    prefetch_from(outcome.action.as_ptr().wrapping_add(agent).cast(), 1);
    prefetch_from(outcome.done.as_ptr().wrapping_add(agent).cast(), 1);
}

with_avx2!(fn sweep / sweep_avx2 = sweep_body(
    d: &Dims,
    g: usize,
    workers: Range<usize>,
    rollout: &Rollout,
    bootstrap: &[f32],
    hyper: Hyper,
    weights: &SweepWeights<'_>,
    rows: RowsMut<'_>,
    work: &mut Pool,
));

with_avx2!(fn sums / sums_avx2 = sums_body(
    d: &Dims,
    rows: &Rows<'_>,
    g_wh: &mut [f32],
    wh_rows: Range<usize>,
    g_wx: Option<&mut [f32]>,
    heads: Option<[&mut [f32]; 6]>,
));

with_avx2!(fn adam_step / adam_step_avx2 = adam_step_body(
    grads: [&mut [f32]; 8],
    state: [Vec<&mut [f32]>; 3],
    hyper: Hyper,
    corrections: (f32, f32),
));

/// A controller's weight gradients from its rows: rows `wh_rows` of ∂W_h, and where asked ∂W_x
/// and the heads' and biases' (∂W_πᵀ `[A, H]`, ∂b_π, ∂w_v, ∂b_v, ∂b_x, ∂b_h).
#[inline(always)]
fn sums_body(
    d: &Dims,
    rows: &Rows<'_>,
    g_wh: &mut [f32],
    wh_rows: Range<usize>,
    g_wx: Option<&mut [f32]>,
    heads: Option<[&mut [f32]; 6]>,
) {
    let (i_w, h, a) = (d.input, d.hidden, d.actions);
    g_wh.fill(0.0);
    outer_sum(g_wh, rows.h_prev, rows.gh, h, wh_rows);
    if let Some(g_wx) = g_wx {
        g_wx.fill(0.0);
        outer_sum(g_wx, rows.x, rows.gx, i_w, 0..i_w);
    }
    if let Some([g_wp_t, g_bp, g_wv, g_bv, g_bx, g_bh]) = heads {
        g_wp_t.fill(0.0);
        outer_sum(g_wp_t, rows.dl, rows.h, a, 0..a);
        g_wv.fill(0.0);
        outer_sum(g_wv, rows.dv, rows.h, 1, 0..1);
        for (b, out) in [(g_bp, rows.dl), (g_bv, rows.dv), (g_bx, rows.gx), (g_bh, rows.gh)] {
            b.fill(0.0);
            for row in out.chunks_exact(b.len()) {
                add(b, row);
            }
        }
    }
}

/// One controller's gradient clipped to `max_grad_norm` (over all its parameters), then Adam
/// on its `[params, first moments, second moments]`.
#[inline(always)]
fn adam_step_body(
    mut grads: [&mut [f32]; 8],
    [mut params, mut first, mut second]: [Vec<&mut [f32]>; 3],
    hyper: Hyper,
    (c1, c2): (f32, f32),
) {
    if hyper.max_grad_norm > 0.0 {
        let sq: f32 = grads.iter().map(|gr| gr.iter().map(|v| v * v).sum::<f32>()).sum();
        let scale = ((1.0 / (sq.sqrt() + 1e-6)) * hyper.max_grad_norm).min(1.0);
        for gr in grads.iter_mut() {
            for v in gr.iter_mut() {
                *v *= scale;
            }
        }
    }
    let (b1, b2, eps) = (adam::BETA1, adam::BETA2, adam::EPSILON);
    for (k, gr) in grads.iter().enumerate() {
        let (p, m, v) = (&mut *params[k], &mut *first[k], &mut *second[k]);
        for (((p, m), v), &gr) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(gr.iter()) {
            *m = *m * b1 + gr * (1.0 - b1);
            *v = *v * b2 + gr * gr * (1.0 - b2);
            let step = (*m / c1) / ((*v / c2).sqrt() + eps);
            *p -= step * hyper.lr;
        }
    }
}

/// Whether to run the AVX2 build: the CPU has AVX2 (and, in unit tests, this thread has not
/// asked for the portable build).
#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    #[cfg(test)]
    if tests::PORTABLE.with(|p| p.get()) {
        return false;
    }
    std::is_x86_feature_detected!("avx2")
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
    matvec_in(y, b, v, m, Layout::Rows);
}

/// How a weight matrix `[K, n]` lies in memory.
#[derive(Clone, Copy)]
enum Layout {
    /// Row-major.
    Rows,
    /// In column blocks ([`pack`]).
    Blocks,
}

/// [`matvec`] of m in either layout: the same sums in the same order.
#[inline(always)]
fn matvec_in(y: &mut [f32], b: &[f32], v: &[f32], m: &[f32], layout: Layout) {
    let (n, k_len) = (y.len(), v.len());
    // Where the columns j.. of row 0 start, and the step from one row to the next.
    let place = |j: usize, width: usize| match layout {
        Layout::Rows => (j, n),
        Layout::Blocks => (j * k_len, width),
    };
    let mut j = 0;
    while j + ROW_BLOCK <= n {
        let (start, stride) = place(j, ROW_BLOCK);
        let mut acc: [f32; ROW_BLOCK] = b[j..j + ROW_BLOCK].try_into().expect("a block");
        for (k, &vk) in v.iter().enumerate() {
            let at = start + k * stride;
            let row: &[f32; ROW_BLOCK] = m[at..at + ROW_BLOCK].try_into().expect("a block");
            for l in 0..ROW_BLOCK {
                acc[l] += vk * row[l];
            }
        }
        y[j..j + ROW_BLOCK].copy_from_slice(&acc);
        j += ROW_BLOCK;
    }
    let (start, stride) = place(j, n - j);
    for (t, y) in y[j..].iter_mut().enumerate() {
        let mut acc = b[j + t];
        for (k, &vk) in v.iter().enumerate() {
            acc += vk * m[start + k * stride + t];
        }
        *y = acc;
    }
}

/// Whether the forward step reads W_x and W_h in column blocks ([`HostNet::packed`]): with
/// fewer than four workers a controller has no four rows to share each load of the row-major
/// weights (a controller's workers are split over the threads only from eight, in halves).
fn reads_blocks(d: &Dims) -> bool {
    d.workers < 4
}

/// m `[K, n]` (row-major) in column blocks: for each block of [`ROW_BLOCK`] columns its K rows
/// one after another, then the last n mod [`ROW_BLOCK`] columns the same way — the order in
/// which [`matvec`] reads them, so a [`Layout::Blocks`] product reads one stream.
fn pack(m: &[f32], n: usize, out: &mut [f32]) {
    let k_len = m.len() / n.max(1);
    let mut o = 0;
    let mut j = 0;
    while j < n {
        let width = ROW_BLOCK.min(n - j);
        for k in 0..k_len {
            out[o..o + width].copy_from_slice(&m[k * n + j..k * n + j + width]);
            o += width;
        }
        j += width;
    }
}

/// Each row of y `[R, n]` = b_r + Σ_k v[r,k] m[k,·] (v `[R, K]`; b one row for all, or `[R, n]`):
/// [`matvec`] row by row, the same sums in the same order, four rows at a time sharing each load
/// of m (workers that share a controller's weights).
#[inline(always)]
fn matmul_rows(y: &mut [f32], b: &[f32], v: &[f32], m: &[f32], n: usize) {
    let k_len = m.len() / n.max(1);
    let rows = y.len() / n.max(1);
    let bias = |r: usize| if b.len() == n { b } else { &b[r * n..(r + 1) * n] };
    let quads = rows / 4 * 4;
    let four =
        |r: usize| -> [&[f32]; 4] { std::array::from_fn(|q| &v[(r + q) * k_len..(r + q + 1) * k_len]) };
    // Blocks of columns outermost: a block of m (K rows of BLOCK columns) stays in L1 while
    // every group of four rows reads it, as in [`outer_sum`] (rows outermost read the whole of
    // m, 27 KB at H = 48, for each group; `meta_bandit` at P = 1024, W = 32 measured alike).
    let mut j = 0;
    while j + BLOCK <= n {
        for r in (0..quads).step_by(4) {
            let mut acc = [[0.0f32; BLOCK]; 4];
            for (q, a) in acc.iter_mut().enumerate() {
                a.copy_from_slice(&bias(r + q)[j..j + BLOCK]);
            }
            rows_block(&mut acc, four(r), &m[j..], n);
            for (q, a) in acc.iter().enumerate() {
                y[(r + q) * n + j..(r + q) * n + j + BLOCK].copy_from_slice(a);
            }
        }
        j += BLOCK;
    }
    for r in 0..quads {
        for jj in j..n {
            let mut acc = bias(r)[jj];
            for k in 0..k_len {
                acc += v[r * k_len + k] * m[k * n + jj];
            }
            y[r * n + jj] = acc;
        }
    }
    for r in quads..rows {
        matvec(
            &mut y[r * n..(r + 1) * n],
            bias(r),
            &v[r * k_len..(r + 1) * k_len],
            m,
        );
    }
}

/// acc[q] += Σ_k v_q[k] m[k, ..BLOCK] for four rows v_q `[K]`, each summed in k order (m starts
/// at the block's first column, rows `stride` apart): [`matmul_rows`]'s inner loop. Each row of
/// m's block is loaded once into registers and the four v_q[k] read from slices the loop knows
/// the length of (indexing v and m by k · stride had left the loop with eight bounds checks and
/// two spilled addresses an iteration, and each load of m repeated for every v_q).
#[inline(always)]
fn rows_block(acc: &mut [[f32; BLOCK]; 4], [v0, v1, v2, v3]: [&[f32]; 4], m: &[f32], stride: usize) {
    let k_len = v0.len();
    let (v1, v2, v3) = (&v1[..k_len], &v2[..k_len], &v3[..k_len]);
    assert!(k_len == 0 || (k_len - 1) * stride + BLOCK <= m.len());
    for k in 0..k_len {
        let row: [f32; BLOCK] = m[k * stride..k * stride + BLOCK].try_into().expect("a block");
        let s = [v0[k], v1[k], v2[k], v3[k]];
        for (a, &s) in acc.iter_mut().zip(&s) {
            for l in 0..BLOCK {
                a[l] += s * row[l];
            }
        }
    }
}

/// out[k,·] += Σ_r v[r,k] g[r,·] for k in `ks` (v `[R, K]`, g `[R, n]`; out holds rows `ks` of
/// the `[K, n]` result), each element summed in r order; [`TILE`] rows of out (then one at a
/// time) and a block of its columns in registers. (Blocks of columns outermost and six rows a
/// tile, was four rows and rows outermost: `meta_bandit` at P = 1024, 32 workers a controller,
/// ~5% faster.)
#[inline(always)]
fn outer_sum(out: &mut [f32], v: &[f32], g: &[f32], k_len: usize, ks: Range<usize>) {
    if ks.is_empty() {
        return;
    }
    let n = out.len() / ks.len();
    // Blocks of columns outermost: one block of g's columns stays in the cache across every k.
    let mut j = 0;
    while j + BLOCK <= n {
        let mut k = ks.start;
        while k + TILE <= ks.end {
            outer_sum_block::<TILE>(&mut out[(k - ks.start) * n..], v, g, k_len, (k, j), n);
            k += TILE;
        }
        for k in k..ks.end {
            outer_sum_block::<1>(&mut out[(k - ks.start) * n..], v, g, k_len, (k, j), n);
        }
        j += BLOCK;
    }
    for jj in j..n {
        for k in ks.clone() {
            let at = (k - ks.start) * n + jj;
            let mut acc = out[at];
            for (vr, gr) in v.chunks_exact(k_len).zip(g.chunks_exact(n)) {
                acc += vr[k] * gr[jj];
            }
            out[at] = acc;
        }
    }
}

/// Rows of the result [`outer_sum`] keeps in registers at a time (with [`BLOCK`] columns).
const TILE: usize = 6;

/// [`outer_sum`] for rows k..k + Q and columns j..j + [`BLOCK`] of the result (out starts at
/// row k), summed over v's and g's rows in order.
#[inline(always)]
fn outer_sum_block<const Q: usize>(
    out: &mut [f32],
    v: &[f32],
    g: &[f32],
    k_len: usize,
    (k, j): (usize, usize),
    n: usize,
) {
    assert!(k + Q <= k_len && j + BLOCK <= n);
    let mut acc = [[0.0f32; BLOCK]; Q];
    for (q, a) in acc.iter_mut().enumerate() {
        a.copy_from_slice(&out[q * n + j..q * n + j + BLOCK]);
    }
    for (r, (vr, gr)) in v.chunks_exact(k_len).zip(g.chunks_exact(n)).enumerate() {
        prefetch_from(g.as_ptr().wrapping_add((r + AHEAD) * n + j), 1);
        prefetch_from(v.as_ptr().wrapping_add((r + AHEAD) * k_len + k), 1);
        let gr: &[f32; BLOCK] = gr[j..j + BLOCK].try_into().expect("a block");
        let vr: &[f32; Q] = vr[k..k + Q].try_into().expect("Q values");
        for (a, &s) in acc.iter_mut().zip(vr) {
            for l in 0..BLOCK {
                a[l] += s * gr[l];
            }
        }
    }
    for (q, a) in acc.iter().enumerate() {
        out[q * n + j..q * n + j + BLOCK].copy_from_slice(a);
    }
}

/// Rows ahead that [`outer_sum_block`] asks the cache for.
const AHEAD: usize = 8;

/// y ← y + x.
#[inline(always)]
fn add(y: &mut [f32], x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// tanh x = (e^{2x} − 1) / (e^{2x} + 1), |x| clamped at 9 (where tanh is 1 in f32): one `exp`,
/// a third of libm's `tanhf` here; within 2·10⁻⁷ of it (unit test). The forward step takes it in
/// two parts, [`tanh_argument`] and [`tanh_of_exp`], with its `exp`s in one run.
#[cfg(test)]
fn tanh(x: f32) -> f32 {
    tanh_of_exp(tanh_argument(x).exp())
}

/// The exponent of [`tanh`]'s one `exp`: 2x, x clamped at ±9.
#[inline(always)]
fn tanh_argument(x: f32) -> f32 {
    2.0 * x.clamp(-9.0, 9.0)
}

/// [`tanh`] from e = exp([`tanh_argument`]).
#[inline(always)]
fn tanh_of_exp(e: f32) -> f32 {
    (e - 1.0) / (e + 1.0)
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
        played_with(dims(), helper, ticks)
    }

    fn played_with(d: Dims, helper: bool, ticks: usize) -> HostNet {
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

    /// The forward step's column-block copy of the weights gives [`matvec`]'s bits, for widths
    /// with and without a partial last block.
    #[test]
    fn packed_weights_sum_as_row_major_ones_do() {
        use rand::{Rng, SeedableRng, rngs::SmallRng};
        let mut rng = SmallRng::seed_from_u64(9);
        for (k_len, n) in [(51, 144), (73, 144), (7, 50), (12, 5), (3, 96 + 17)] {
            let mut random = |len: usize| (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect::<Vec<_>>();
            let (m, v, b) = (random(k_len * n), random(k_len), random(n));
            let mut packed = vec![f32::NAN; m.len()];
            pack(&m, n, &mut packed);
            let (mut want, mut got) = (vec![0.0; n], vec![0.0; n]);
            matvec(&mut want, &b, &v, &m);
            matvec_in(&mut got, &b, &v, &packed, Layout::Blocks);
            let bits = |y: &[f32]| y.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "K = {k_len}, n = {n}");
        }
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
                let bias = if b.len() == n {
                    &b[..]
                } else {
                    &b[r * n..(r + 1) * n]
                };
                matvec(&mut one, bias, &v[r * k..(r + 1) * k], &m);
                assert_eq!(bits(&y[r * n..(r + 1) * n]), bits(&one), "row {r}");
            }
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Controllers split between the threads (4 × 5 workers), and one controller's nine workers
    /// split between them: the bits of one thread, forward and update.
    #[test]
    fn two_threads_give_the_bits_of_one() {
        let hyper = Hyper {
            gamma: 0.9,
            entropy: 0.05,
            value_loss: 0.5,
            max_grad_norm: 1.0,
            lr: 0.01,
        };
        let one_controller = Dims {
            groups: 1,
            workers: 9,
            ..dims()
        };
        for d in [dims(), one_controller] {
            let (mut one, mut two) = (played_with(d, false, 6), played_with(d, true, 6));
            if two.helper.is_none() {
                eprintln!("one thread in rayon's pool: nothing to compare");
                return;
            }
            let bootstrap: Vec<f32> = (0..d.population()).map(|i| i as f32 * 0.1).collect();
            one.update(&bootstrap, hyper);
            two.update(&bootstrap, hyper);
            let x: Vec<f32> = (0..d.population() * d.input)
                .map(|k| (k % 5) as f32 * 0.2)
                .collect();
            assert_eq!(
                bits(&one.forward_step(&x, true).0),
                bits(&two.forward_step(&x, true).0)
            );
            for k in 0..8 {
                assert_eq!(bits(&one.params[k]), bits(&two.params[k]), "{d:?}: parameter {k}");
                assert_eq!(bits(&one.second[k]), bits(&two.second[k]), "{d:?}: moment {k}");
            }
            assert_eq!(bits(&one.hidden), bits(&two.hidden));
        }
    }

    thread_local! {
        /// Set: this thread runs the portable build even where the CPU has AVX2.
        pub(super) static PORTABLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// A forward step and an update (with clipping), from dirty scratch, in the AVX2 build
    /// and in the portable one: the same bits.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_loops_give_the_portable_bits() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the portable path runs here");
            return;
        }
        let run = |portable: bool| {
            PORTABLE.with(|p| p.set(portable));
            let mut net = played(false, 5);
            // Scratch left dirty by a larger run: it is not cleared for the next.
            for pool in [
                &mut net.scratch[0].rows,
                &mut net.scratch[0].work,
                &mut net.spare.work,
            ] {
                for v in pool.take([1 << 16; 20]) {
                    v.fill(f32::NAN);
                }
            }
            let p = dims().population();
            let x: Vec<f32> = (0..p * dims().input)
                .map(|k| (k % 9) as f32 * 0.3 - 1.2)
                .collect();
            let values = net.values(&x);
            let hyper = Hyper {
                gamma: 0.9,
                entropy: 0.05,
                value_loss: 0.5,
                max_grad_norm: 0.5,
                lr: 0.01,
            };
            let before = net.params.clone();
            net.update(&values, hyper);
            let (logits, _) = net.forward_step(&x, true);
            PORTABLE.with(|p| p.set(false));
            (values, logits, net.state(), before)
        };
        let (wide, portable) = (run(false), run(true));
        assert_eq!(bits(&wide.0), bits(&portable.0), "values");
        assert_eq!(bits(&wide.1), bits(&portable.1), "logits");
        for k in 0..8 {
            assert_eq!(bits(&wide.2.0[k]), bits(&portable.2.0[k]), "weights {k}");
            assert_eq!(bits(&wide.2.1[k]), bits(&portable.2.1[k]), "first moments {k}");
            assert_eq!(bits(&wide.2.2[k]), bits(&portable.2.2[k]), "second moments {k}");
        }
        assert_ne!(bits(&wide.2.0[0]), bits(&wide.3[0]), "the update changed W_x");
    }
}
