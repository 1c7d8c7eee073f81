//! # Pfc — a recurrent prefrontal controller that learns to learn (meta-RL)
//!
//! Prefrontal cortex as a meta-reinforcement-learning system (Wang et al. 2018; Duan et al.
//! 2016, RL²): a recurrent network trained by slow, dopamine-driven weight changes across many
//! episodes comes to run a fast learning algorithm of its own in its activity. A GRU (Cho et al.
//! 2014) reads, each tick,
//!
//! ```text
//! x_t      = [z_t, onehot(a_{t−1}), r_{t−1}, δ_t, m_t]      (absent inputs are left out)
//! h_t      = GRU(x_t, h_{t−1})
//! logits_t = W_π h_t + b_π          v_t = w_v · h_t + b_v
//! ```
//!
//! and is trained by advantage actor-critic (Mnih et al. 2016) with n-step returns,
//! back-propagated through time over each rollout (written out in burn ops, so each weight's
//! gradient is one batched matmul over the rollout; checked against burn's autodiff in the
//! unit tests) and optimised with Adam:
//!
//! ```text
//! R_t = r_t + γ (1 − done_t) R_{t+1}          (R after the rollout: v of the next state)
//! L   = mean_t [ −log π(a_t | h_t) (R_t − v_t) + β_v ½ (R_t − v_t)² − β_e H(π(· | h_t)) ]
//! ```
//!
//! r_t, the outcome of a_t, is the `reward` input of the next tick (the world pays a choice one
//! tick later). A rollout ends after `rollout` transitions or when any agent's episode ends.
//! The `reset` input (a world's `episode_start`) marks the first tick of a new episode: h is
//! zeroed, and so are the previous action and reward, which belong to the last episode.
//! Frozen (`freeze = ["pfc"]`), the weights stay fixed: whatever the agent still learns within
//! an episode lives in h alone — the test of meta-learning.
//!
//! The population is G controllers × `workers` agents each: a controller's workers play their
//! own episodes and pool their gradients (A2C's parallel workers), G = P / workers controllers
//! learn independently. Weights are burn tensors `[G, …]`; one batched matmul steps every agent.
//!
//! Ports: inputs `action` `[P, 1]` (Action, required: a_{t−1}, an edge with `delay = 1`),
//! `reward` `[P, 1]` (Reward, required), `latent` `[P, D]` (Latent), `rpe` `[P, 1]` (Rpe),
//! `memory` `[P, M]` (Memory), `reset` `[P, 1]` (Time) — all but the first two optional;
//! outputs `logits` `[P, actions]` (Logits, into `action_selection.pfc`), `value` `[P, 1]`
//! (Value).
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `actions` | 2 | A, the number of actions |
//! | `hidden` | 48 | GRU units |
//! | `workers` | 1 | agents sharing one controller's weights (divides P) |
//! | `lr` | 0.001 | Adam step size |
//! | `gamma` | 0.9 | γ, discount per tick |
//! | `entropy` | 0.05 | β_e, entropy bonus |
//! | `value_loss` | 0.05 | β_v, weight of the value loss |
//! | `rollout` | 100 | n, transitions per update (fewer at an episode's end) |
//! | `max_grad_norm` | 1.0 | each controller's gradient is rescaled to at most this norm |
//!
//! The conditioning vector of DESIGN §1 (PFC → cortex) is not built: no gradient crosses
//! between regions, so nothing would train it.

use crate::rng::SimRng;
use burn::prelude::{Device, Tensor, TensorData};
use burn::tensor::activation::{log_softmax, sigmoid};
use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Uniform};
use serde::{Deserialize, Serialize};

use super::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, RegionSpec, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};

/// Hyperparameters of [`Pfc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PfcConfig {
    /// A, the number of actions.
    pub actions: usize,
    /// GRU units.
    pub hidden: usize,
    /// Agents sharing one controller (A2C workers); must divide the population.
    pub workers: usize,
    /// Adam step size.
    pub lr: f64,
    /// Discount per tick.
    pub gamma: f64,
    /// β_e, weight of the entropy bonus.
    pub entropy: f64,
    /// β_v, weight of the value loss.
    pub value_loss: f64,
    /// Transitions per update (a rollout also ends with an episode).
    pub rollout: usize,
    /// Largest gradient norm per controller (0: no clipping).
    pub max_grad_norm: f64,
}

impl Default for PfcConfig {
    fn default() -> Self {
        PfcConfig {
            actions: 2,
            hidden: 48,
            workers: 1,
            lr: 1e-3,
            gamma: 0.9,
            entropy: 0.05,
            value_loss: 0.05,
            rollout: 100,
            max_grad_norm: 1.0,
        }
    }
}

impl RegionParams for PfcConfig {
    const KIND: &'static str = "pfc";
    const SUMMARY: &'static str =
        "prefrontal GRU controller trained by A2C across episodes (meta-RL, Wang et al. 2018)";
    const DETAIL: &'static str = include_str!("pfc.rs");

    /// The ports.
    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![
                PortSpec::input(
                    "action",
                    SignalKind::Action,
                    Width::Fixed(1),
                    "a_{t−1} (delay = 1)",
                ),
                PortSpec::input(
                    "reward",
                    SignalKind::Reward,
                    Width::Fixed(1),
                    "r_{t−1}, a_{t−1}'s outcome",
                ),
                PortSpec::optional("latent", SignalKind::Latent, Width::Inferred, "z_t"),
                PortSpec::optional("rpe", SignalKind::Rpe, Width::Fixed(1), "δ from the critic"),
                PortSpec::optional("memory", SignalKind::Memory, Width::Inferred, "retrieved episode"),
                PortSpec::optional(
                    "reset",
                    SignalKind::Time,
                    Width::Fixed(1),
                    "1 on an episode's first tick",
                ),
            ],
            outputs: vec![
                PortSpec::output("logits", SignalKind::Logits, self.actions, "W_π h_t + b_π"),
                PortSpec::output("value", SignalKind::Value, 1, "v_t"),
            ],
        }
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        if self.actions < 2 {
            return Err(ParamError::new("actions", "an integer ≥ 2"));
        }
        for (name, v) in [
            ("hidden", self.hidden),
            ("workers", self.workers),
            ("rollout", self.rollout),
        ] {
            if v == 0 {
                return Err(ParamError::new(name, "an integer ≥ 1"));
            }
        }
        if !(self.gamma.is_finite() && (0.0..=1.0).contains(&self.gamma)) {
            return Err(ParamError::new("gamma", "a number in [0, 1]"));
        }
        for (name, v) in [
            ("lr", self.lr),
            ("entropy", self.entropy),
            ("value_loss", self.value_loss),
            ("max_grad_norm", self.max_grad_norm),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ParamError::new(name, "a number ≥ 0"));
            }
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(Pfc::new(self, ctx)?))
    }
}

/// Parameter order in [`Pfc::params`].
const WX: usize = 0;
const WH: usize = 1;
const BX: usize = 2;
const BH: usize = 3;
const WP: usize = 4;
const BP: usize = 5;
const WV: usize = 6;
const BV: usize = 7;
const PARAMS: usize = 8;

type Params = [Tensor<3>; PARAMS];

/// The GRU's gates at one step, kept for the backward pass: r, u (update), n (candidate), and
/// W_hn h + b_hn (what r multiplies), each `[G, W, H]`.
struct Gates {
    reset: Tensor<3>,
    update: Tensor<3>,
    candidate: Tensor<3>,
    hidden_candidate: Tensor<3>,
}

/// One forward step of a rollout (constants, no graph), awaiting its outcome.
struct Step {
    /// x_t `[G, W, I]` and h_{t−1} `[G, W, H]`.
    x: Tensor<3>,
    h_prev: Tensor<3>,
    gates: Gates,
    /// h_t `[G, W, H]`, the logits `[G, W, A]` and v_t `[G, W, 1]`.
    h: Tensor<3>,
    logits: Tensor<3>,
    value: Tensor<3>,
    /// a_t, r_t and whether the episode ended after them, per agent (filled in next tick).
    action: Vec<usize>,
    reward: Vec<f32>,
    done: Vec<bool>,
}

/// The controller for P agents. See the module documentation.
pub struct Pfc {
    config: PfcConfig,
    device: Device,
    population: usize,
    groups: usize,
    input_width: usize,
    params: Params,
    /// Adam's first and second moments, and its step count.
    moments: (Params, Params),
    adam_step: i32,
    /// h, `[G, W, H]`.
    hidden: Tensor<3>,
    /// The rollout under way. A checkpoint stores its inputs and first h; a restore replays
    /// its forward passes.
    rollout: Vec<Step>,
    learning: bool,
}

impl Pfc {
    /// Small random weights (uniform ±1/√H, the policy head ×0.01: a uniform first policy).
    pub fn new(config: &PfcConfig, ctx: &BuildContext<'_>) -> Result<Self> {
        let p = ctx.population;
        if !p.is_multiple_of(config.workers) {
            return Err(Error::Run(format!(
                "pfc: workers = {} must divide the population ({p})",
                config.workers
            )));
        }
        let groups = p / config.workers;
        let width = |port: &str| ctx.input_widths.get(port).copied().unwrap_or(0);
        let input_width = width("latent") + config.actions + 1 + width("rpe") + width("memory");
        let (h, a) = (config.hidden, config.actions);
        let bound = 1.0 / (h as f32).sqrt();
        let shapes: [([usize; 3], f32); PARAMS] = [
            ([groups, input_width, 3 * h], bound),
            ([groups, h, 3 * h], bound),
            ([groups, 1, 3 * h], bound),
            ([groups, 1, 3 * h], bound),
            ([groups, h, a], 0.01 * bound),
            ([groups, 1, a], 0.0),
            ([groups, h, 1], bound),
            ([groups, 1, 1], 0.0),
        ];
        // Each controller draws from the seed of its first worker.
        let mut rngs: Vec<SimRng> = (0..groups)
            .map(|g| SimRng::seed_from_u64(ctx.seeds[g * config.workers]))
            .collect();
        let params: Params = std::array::from_fn(|i| {
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
            Tensor::from_data(TensorData::new(values, shape), ctx.device)
        });
        let zeros = || std::array::from_fn(|i| params[i].zeros_like());
        Ok(Pfc {
            config: config.clone(),
            device: ctx.device.clone(),
            population: p,
            groups,
            input_width,
            moments: (zeros(), zeros()),
            params,
            adam_step: 0,
            hidden: Tensor::zeros([groups, config.workers, h], ctx.device),
            rollout: Vec::new(),
            learning: true,
        })
    }

    /// One GRU step and the heads: `x` `[G, W, I]`, `h` `[G, W, H]` → (h′, logits, v, gates).
    /// Generic over the tensors' graph: the unit tests run it on autodiff leaves to check
    /// [`Pfc::gradients`].
    fn forward(params: &Params, x: Tensor<3>, h: Tensor<3>) -> (Tensor<3>, Tensor<3>, Tensor<3>, Gates) {
        let gx = x.matmul(params[WX].clone()) + params[BX].clone();
        let gh = h.clone().matmul(params[WH].clone()) + params[BH].clone();
        let mut gx = gx.chunk(3, 2).into_iter();
        let mut gh = gh.chunk(3, 2).into_iter();
        let (xr, xz, xn) = (gx.next().unwrap(), gx.next().unwrap(), gx.next().unwrap());
        let (hr, hz, hn) = (gh.next().unwrap(), gh.next().unwrap(), gh.next().unwrap());
        let reset = sigmoid(xr + hr);
        let update = sigmoid(xz + hz);
        let candidate = (xn + reset.clone() * hn.clone()).tanh();
        let h = candidate.clone() + update.clone() * (h - candidate.clone());
        let logits = h.clone().matmul(params[WP].clone()) + params[BP].clone();
        let value = h.clone().matmul(params[WV].clone()) + params[BV].clone();
        let gates = Gates {
            reset,
            update,
            candidate,
            hidden_candidate: hn,
        };
        (h, logits, value, gates)
    }

    /// The input x_t `[G, W, I]`, previous action and reward zeroed where an episode starts.
    fn input(
        &self,
        inputs: &Inputs,
        action: &Array2<f32>,
        reward: &Array2<f32>,
        reset: &[bool],
    ) -> Tensor<3> {
        let (p, a) = (self.population, self.config.actions);
        let mut x = Array2::<f32>::zeros((p, self.input_width));
        let mut col = 0;
        let mut put = |x: &mut Array2<f32>, block: &Array2<f32>| {
            x.slice_mut(ndarray::s![.., col..col + block.ncols()])
                .assign(block);
            col += block.ncols();
        };
        if let Some(z) = inputs.get("latent") {
            put(&mut x, &z.to_host());
        }
        let mut prev = Array2::<f32>::zeros((p, a + 1));
        for i in 0..p {
            if !reset[i] {
                prev[[i, (action[[i, 0]] as usize).min(a - 1)]] = 1.0;
                prev[[i, a]] = reward[[i, 0]];
            }
        }
        put(&mut x, &prev);
        for port in ["rpe", "memory"] {
            if let Some(s) = inputs.get(port) {
                put(&mut x, &s.to_host());
            }
        }
        debug_assert_eq!(col, self.input_width);
        let values: Vec<f32> = x.iter().copied().collect();
        Tensor::from_data(
            TensorData::new(values, [self.groups, self.config.workers, self.input_width]),
            &self.device,
        )
    }

    /// One forward step from h, kept in the rollout with its outcome where already known
    /// (`action`, `reward`, `done`); returns h′, the logits and v.
    fn track(
        &mut self,
        x: Tensor<3>,
        action: Vec<usize>,
        reward: Vec<f32>,
        done: Vec<bool>,
    ) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let h_prev = self.hidden.clone();
        let (h, logits, value, gates) = Self::forward(&self.params, x.clone(), h_prev.clone());
        self.rollout.push(Step {
            x,
            h_prev,
            gates,
            h: h.clone(),
            logits: logits.clone(),
            value: value.clone(),
            action,
            reward,
            done,
        });
        (h, logits, value)
    }

    /// The A2C loss's gradient with respect to each parameter, by back-propagation through
    /// time written out: the recurrence is stepped backwards through the kept gates, and each
    /// weight's gradient is one batched matmul over the whole rollout (Σ_t x_tᵀ g_t as
    /// `[G, I, T·W] × [G, T·W, 3H]`), never a weight-sized tensor per step.
    ///
    /// `values`, `returns` and `advantages` are `[G, T·W, 1]` and `onehot` `[G, T·W, A]`, laid
    /// out like the rollout's steps concatenated along the worker axis.
    fn gradients(
        &self,
        steps: &[Step],
        values: Tensor<3>,
        returns: Tensor<3>,
        advantages: Tensor<3>,
        onehot: Tensor<3>,
    ) -> Params {
        let (t_len, g, w, hd) = (steps.len(), self.groups, self.config.workers, self.config.hidden);
        let n = (t_len * w) as f32;
        let cat = |f: fn(&Step) -> &Tensor<3>| Tensor::cat(steps.iter().map(|s| f(s).clone()).collect(), 1);
        // L = mean[−log π(a) A + β_v ½ (R − v)² − β_e H(π)], A constant:
        // ∂L/∂logits = (π − onehot) A / n + β_e π (log π + H) / n;  ∂L/∂v = β_v (v − R) / n.
        let logp = log_softmax(cat(|s| &s.logits), 2);
        let pi = logp.clone().exp();
        let entropy = -(pi.clone() * logp.clone()).sum_dim(2);
        let d_logits = (pi.clone() - onehot) * advantages * (1.0 / n)
            + pi * (logp + entropy) * (self.config.entropy as f32 / n);
        let d_value = (values - returns) * (self.config.value_loss as f32 / n);
        let h_all = cat(|s| &s.h);
        let transpose = |t: &Tensor<3>| t.clone().swap_dims(1, 2);
        let d_wp = transpose(&h_all).matmul(d_logits.clone());
        let d_wv = transpose(&h_all).matmul(d_value.clone());
        let d_heads = d_logits.clone().matmul(transpose(&self.params[WP]))
            + d_value.clone().matmul(transpose(&self.params[WV]));
        // Backwards through the recurrence h = n + u ⊙ (h₋₁ − n), n = tanh(x_n + r ⊙ ĥ_n).
        let wh_t = transpose(&self.params[WH]);
        let mut d_gx = Vec::with_capacity(t_len);
        let mut d_gh = Vec::with_capacity(t_len);
        let mut carry: Option<Tensor<3>> = None;
        for (t, s) in steps.iter().enumerate().rev() {
            let mut dh = d_heads.clone().slice([0..g, t * w..(t + 1) * w, 0..hd]);
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
        [
            d_wx,
            d_wh,
            d_gx.sum_dim(1),
            d_gh.sum_dim(1),
            d_wp,
            d_logits.sum_dim(1),
            d_wv,
            d_value.sum_dim(1),
        ]
    }

    /// The rollout's values `[G, T·W, 1]`: its steps' `value`s concatenated along the worker axis.
    fn values(steps: &[Step]) -> Tensor<3> {
        Tensor::cat(steps.iter().map(|s| s.value.clone()).collect(), 1)
    }

    /// Returns, advantages and the chosen actions of a rollout (host side), as
    /// `[G, T·W, 1]`, `[G, T·W, 1]` and `[G, T·W, A]`; `values` as [`Pfc::values`] gives them,
    /// `bootstrap` is v of the state after the rollout.
    fn targets(
        &self,
        steps: &[Step],
        values: &Tensor<3>,
        bootstrap: &[f32],
    ) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let (t_len, g, w, a) = (steps.len(), self.groups, self.config.workers, self.config.actions);
        let gamma = self.config.gamma as f32;
        let values = values
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 values");
        let mut returns = vec![0.0f32; g * t_len * w];
        let mut onehot = vec![0.0f32; g * t_len * w * a];
        for agent in 0..self.population {
            let (gi, wi) = (agent / w, agent % w);
            let mut ret = bootstrap[agent];
            for (t, s) in steps.iter().enumerate().rev() {
                ret = s.reward[agent] + if s.done[agent] { 0.0 } else { gamma * ret };
                let idx = gi * t_len * w + t * w + wi;
                returns[idx] = ret;
                onehot[idx * a + s.action[agent]] = 1.0;
            }
        }
        let advantages: Vec<f32> = returns.iter().zip(&values).map(|(r, v)| r - v).collect();
        let constant = |v: Vec<f32>, last: usize| {
            Tensor::<3>::from_data(TensorData::new(v, [g, t_len * w, last]), &self.device)
        };
        (constant(returns, 1), constant(advantages, 1), constant(onehot, a))
    }

    /// The A2C update over the rollout; `bootstrap` is v of the state after it, per agent.
    fn update(&mut self, bootstrap: &[f32]) {
        let steps = std::mem::take(&mut self.rollout);
        let g = self.groups;
        let values = Self::values(&steps);
        let (returns, advantages, onehot) = self.targets(&steps, &values, bootstrap);
        let mut grads = self.gradients(&steps, values, returns, advantages, onehot);
        drop(steps);
        if self.config.max_grad_norm > 0.0 {
            let sq = grads
                .iter()
                .map(|gr| {
                    let [_, r, c] = gr.dims();
                    gr.clone().reshape([g, r * c]).square().sum_dim(1)
                })
                .reduce(|x, y| x + y)
                .expect("parameters");
            let scale = (sq.sqrt() + 1e-6)
                .recip()
                .mul_scalar(self.config.max_grad_norm)
                .clamp_max(1.0);
            let scale = scale.reshape([g, 1, 1]);
            grads = grads.map(|gr| gr * scale.clone());
        }
        // Adam (Kingma & Ba 2015).
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        self.adam_step += 1;
        let c1 = 1.0 - b1.powi(self.adam_step);
        let c2 = 1.0 - b2.powi(self.adam_step);
        let lr = self.config.lr as f32;
        for (i, gr) in grads.into_iter().enumerate() {
            let m = self.moments.0[i].clone() * b1 + gr.clone() * (1.0 - b1);
            let v = self.moments.1[i].clone() * b2 + gr.square() * (1.0 - b2);
            let step = (m.clone() / c1) / ((v.clone() / c2).sqrt() + eps);
            self.params[i] = self.params[i].clone() - step * lr;
            self.moments.0[i] = m;
            self.moments.1[i] = v;
        }
    }
}

impl Region for Pfc {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let get = |port: &str| {
            inputs
                .get(port)
                .map(Signal::to_host)
                .ok_or_else(|| Error::Run(format!("pfc: no `{port}` input")))
        };
        let (p, a) = (self.population, self.config.actions);
        let action = get("action")?;
        let reward = get("reward")?;
        let reset: Vec<bool> = match inputs.get("reset") {
            Some(s) => s.to_host().column(0).iter().map(|&v| v > 0.5).collect(),
            None => vec![false; p],
        };
        let any_reset = reset.iter().any(|&r| r);
        // Complete the last transition with its outcome.
        if let Some(last) = self.rollout.last_mut() {
            last.action = (0..p).map(|i| (action[[i, 0]] as usize).min(a - 1)).collect();
            last.reward = reward.column(0).to_vec();
            last.done = reset.clone();
        }
        let x = self.input(inputs, &action, &reward, &reset);
        if self.learning
            && !self.rollout.is_empty()
            && (self.rollout.len() >= self.config.rollout || any_reset)
        {
            let bootstrap = if reset.iter().all(|&r| r) {
                vec![0.0; p]
            } else {
                let (_, _, v, _) = Self::forward(&self.params, x.clone(), self.hidden.clone());
                v.into_data().try_to_vec::<f32>().expect("f32 values")
            };
            self.update(&bootstrap);
        }
        if any_reset {
            let keep: Vec<f32> = reset.iter().map(|&r| if r { 0.0 } else { 1.0 }).collect();
            let keep = Tensor::<3>::from_data(
                TensorData::new(keep, [self.groups, self.config.workers, 1]),
                &self.device,
            );
            self.hidden = self.hidden.clone() * keep;
        }
        let (h, logits, value) = if self.learning {
            self.track(x, vec![0; p], vec![0.0; p], vec![false; p])
        } else {
            let (h, logits, value, _) = Self::forward(&self.params, x, self.hidden.clone());
            (h, logits, value)
        };
        self.hidden = h;
        Ok(vec![
            ("logits", Signal::Device(logits.reshape([p, a]))),
            ("value", Signal::Device(value.reshape([p, 1]))),
        ])
    }

    fn set_learning(&mut self, learning: bool) {
        if !learning {
            // An unfinished rollout is dropped: its outcomes will never arrive as training data.
            self.rollout.clear();
        }
        self.learning = learning;
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<PfcConfig>() {
            Some(c)
                if c.actions == self.config.actions
                    && c.hidden == self.config.hidden
                    && c.workers == self.config.workers =>
            {
                self.config = c.clone();
                Ok(())
            }
            _ => Err(Error::Run(
                "pfc: only training parameters can change (not actions, hidden or workers)".into(),
            )),
        }
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        for (i, t) in self.params.iter().enumerate() {
            out.put_tensor(&format!("params/{i}"), t);
            out.put_tensor(&format!("first_moment/{i}"), &self.moments.0[i]);
            out.put_tensor(&format!("second_moment/{i}"), &self.moments.1[i]);
        }
        out.put("adam_step", &self.adam_step);
        out.put_tensor("hidden", &self.hidden);
        // The rollout under way: its inputs and outcomes (its graph is rebuilt on restore).
        out.put_optional_tensor("rollout_start", self.rollout.first().map(|s| &s.h_prev));
        out.put("rollout_length", &self.rollout.len());
        for (t, e) in self.rollout.iter().enumerate() {
            out.put_tensor(&format!("rollout/{t}/input"), &e.x);
            out.put(&format!("rollout/{t}/action"), &e.action);
            out.put(&format!("rollout/{t}/reward"), &e.reward);
            out.put(&format!("rollout/{t}/done"), &e.done);
        }
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        for i in 0..PARAMS {
            let dims = self.params[i].dims();
            self.params[i] = from.tensor(&format!("params/{i}"), dims, &self.device)?;
            self.moments.0[i] = from.tensor(&format!("first_moment/{i}"), dims, &self.device)?;
            self.moments.1[i] = from.tensor(&format!("second_moment/{i}"), dims, &self.device)?;
        }
        self.adam_step = from.get("adam_step")?;
        let h_dims = self.hidden.dims();
        self.rollout.clear();
        self.hidden = from
            .optional_tensor("rollout_start", h_dims, &self.device)?
            .unwrap_or_else(|| self.hidden.zeros_like());
        let x_dims = [self.groups, self.config.workers, self.input_width];
        for t in 0..from.get::<usize>("rollout_length")? {
            let x = from.tensor(&format!("rollout/{t}/input"), x_dims, &self.device)?;
            let (h, _, _) = self.track(
                x,
                from.get(&format!("rollout/{t}/action"))?,
                from.get(&format!("rollout/{t}/reward"))?,
                from.get(&format!("rollout/{t}/done"))?,
            );
            self.hidden = h;
        }
        self.hidden = from.tensor("hidden", h_dims, &self.device)?;
        Ok(())
    }

    fn divergent_agent(&self) -> Option<usize> {
        // Each parameter read back once; the first controller with a non-finite weight.
        self.params
            .iter()
            .filter_map(|t| {
                let per_group = t.dims()[1] * t.dims()[2];
                let values = t.clone().into_data().try_to_vec::<f32>().expect("f32 weights");
                values
                    .chunks(per_group)
                    .position(|c| !c.iter().all(|v| v.is_finite()))
            })
            .min()
            .map(|g| g * self.config.workers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::Vocabulary;

    /// A controller for `population` agents on the CPU, agent i seeded with i.
    fn build(config: &PfcConfig, population: usize, widths: &[(&'static str, usize)]) -> Pfc {
        let ctx = BuildContext {
            population,
            device: &Device::flex(),
            seeds: (0..population as u64).collect(),
            vocabulary: &Vocabulary::default(),
            input_widths: widths.iter().copied().collect(),
        };
        Pfc::new(config, &ctx).unwrap()
    }

    /// The written-out BPTT of [`Pfc::gradients`] against burn's autodiff of the same loss,
    /// on a small rollout (2 controllers × 2 workers, 3 actions, 5 steps, one episode end).
    #[test]
    fn written_out_gradients_match_autodiff() {
        let device = Device::flex();
        let config = PfcConfig {
            workers: 2,
            hidden: 4,
            actions: 3,
            entropy: 0.3,
            value_loss: 0.7,
            ..Default::default()
        };
        let mut pfc = build(&config, 4, &[("latent", 3)]);
        // A policy head large enough for the policy and entropy terms to matter.
        pfc.params[WP] = pfc.params[WP].clone() * 100.0;
        let width = pfc.input_width;
        for t in 0..5 {
            let x: Vec<f32> = (0..4 * width)
                .map(|k| ((k * 7 + t * 13) % 11) as f32 / 5.0 - 1.0)
                .collect();
            let x = Tensor::from_data(TensorData::new(x, [2, 2, width]), &device);
            let actions = (0..4).map(|i| (i + t) % 3).collect();
            let rewards = (0..4).map(|i| ((i * t) % 3) as f32 - 0.5).collect();
            let done = (0..4).map(|i| t == 2 && i % 2 == 0).collect();
            let (h, _, _) = pfc.track(x, actions, rewards, done);
            pfc.hidden = h;
        }
        let steps = std::mem::take(&mut pfc.rollout);
        let values = Pfc::values(&steps);
        let (returns, advantages, onehot) = pfc.targets(&steps, &values, &[0.3, -0.2, 0.1, 0.5]);
        let written = pfc.gradients(
            &steps,
            values,
            returns.clone(),
            advantages.clone(),
            onehot.clone(),
        );

        let leaves: Params = std::array::from_fn(|i| pfc.params[i].clone().autodiff().require_grad());
        let mut h = steps[0].h_prev.clone().autodiff();
        let (mut logits, mut values) = (Vec::new(), Vec::new());
        for s in &steps {
            let (next, l, v, _) = Pfc::forward(&leaves, s.x.clone().autodiff(), h);
            h = next;
            logits.push(l);
            values.push(v);
        }
        let (logits, value) = (Tensor::cat(logits, 1), Tensor::cat(values, 1));
        let n = (steps.len() * 2) as f32;
        let logp = log_softmax(logits.clone(), 2);
        let chosen = (logp.clone() * onehot.autodiff()).sum_dim(2);
        let entropy = -(burn::tensor::activation::softmax(logits, 2) * logp).sum_dim(2);
        let loss = -(chosen * advantages.autodiff()).sum() / n
            + (returns.autodiff() - value).square().sum() * (0.5 * 0.7 / n)
            - entropy.sum() * (0.3 / n);
        let grads = loss.backward();
        for (i, leaf) in leaves.iter().enumerate() {
            let auto = leaf.grad(&grads).expect("every parameter is used");
            let auto = auto.into_data().try_to_vec::<f32>().unwrap();
            let ours = written[i].clone().into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(auto.len(), ours.len(), "parameter {i}");
            let norm = auto.iter().map(|v| v * v).sum::<f32>().sqrt();
            let diff = auto
                .iter()
                .zip(&ours)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f32>()
                .sqrt();
            assert!(norm > 1e-6, "parameter {i} has a zero gradient: a weak check");
            assert!(diff <= 1e-4 * norm, "parameter {i}: |Δ| {diff} vs |∇| {norm}");
        }
    }

    #[test]
    fn a_non_finite_weight_names_its_controllers_first_agent() {
        let device = Device::flex();
        let config = PfcConfig {
            workers: 2,
            hidden: 4,
            ..Default::default()
        };
        let mut pfc = build(&config, 6, &[]);
        assert_eq!(pfc.divergent_agent(), None);
        // Controller 1 (agents 2 and 3) gets a NaN in its value head.
        let [g, h, _] = pfc.params[WV].dims();
        let mut v = vec![0.0f32; g * h];
        v[h + 1] = f32::NAN;
        pfc.params[WV] = Tensor::from_data(TensorData::new(v, [g, h, 1]), &device);
        assert_eq!(pfc.divergent_agent(), Some(2));
    }
}
