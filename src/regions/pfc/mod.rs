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
//!
//! Files: this one (parameters, ports, the region's tick, checkpoints); `gru.rs` (the network,
//! its named weights, forward and written-out backward); `a2c.rs` (returns, advantages, the
//! loss's gradient at the heads); `adam.rs` (clipping and Adam).

mod a2c;
mod gru;

use crate::rng::SimRng;
use burn::prelude::{Device, Tensor, TensorData};
use ndarray::Array2;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::regions::adam::{self, Adam};
use gru::{Gates, Weights};

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
    const DETAIL: &'static str = include_str!("mod.rs");

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
        crate::regions::check_sizes(&[
            ("actions", self.actions, crate::regions::MAX_WIDTH),
            ("hidden", self.hidden, crate::regions::MAX_WIDTH),
            ("workers", self.workers, 10_000),
            ("rollout", self.rollout, 1_000_000),
        ])?;
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

    fn check_population(&self, population: usize) -> Result<(), ParamError> {
        if !population.is_multiple_of(self.workers) {
            return Err(ParamError::new(
                "workers",
                format!(
                    "a divisor of the population ({population}): agents share a controller in groups of `workers`"
                ),
            ));
        }
        Ok(())
    }
}

/// One forward step of a rollout (constants, no graph), awaiting its outcome.
pub(super) struct Step {
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
    params: Weights,
    /// Adam's moments and step count.
    adam: Adam,
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
        // Each controller draws from the seed of its first worker.
        let mut rngs: Vec<SimRng> = (0..groups)
            .map(|g| SimRng::seed_from_u64(ctx.seeds[g * config.workers]))
            .collect();
        let params = Weights::random(
            groups,
            input_width,
            config.hidden,
            config.actions,
            &mut rngs,
            ctx.device,
        );
        let h = config.hidden;
        Ok(Pfc {
            config: config.clone(),
            device: ctx.device.clone(),
            population: p,
            groups,
            input_width,
            adam: Adam::new(&params.as_array()),
            params,
            hidden: Tensor::zeros([groups, config.workers, h], ctx.device),
            rollout: Vec::new(),
            learning: true,
        })
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
        let (h, logits, value, gates) = gru::forward(&self.params, x.clone(), h_prev.clone());
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

    /// The A2C loss's gradient with respect to each parameter over a rollout: at the heads
    /// ([`a2c::head_gradients`]), then through the network ([`gru::backward`]).
    fn gradients(&self, steps: &[Step], bootstrap: &[f32]) -> Weights {
        let values = a2c::values(steps);
        let targets = a2c::targets(
            self.shape(),
            self.config.gamma as f32,
            steps,
            &values,
            bootstrap,
            &self.device,
        );
        let (d_logits, d_value) = a2c::head_gradients(
            steps,
            values,
            targets,
            self.config.workers,
            (self.config.entropy, self.config.value_loss),
        );
        gru::backward(&self.params, steps, d_logits, d_value, self.config.workers)
    }

    fn shape(&self) -> a2c::Shape {
        a2c::Shape {
            groups: self.groups,
            workers: self.config.workers,
            actions: self.config.actions,
        }
    }

    /// The A2C update over the rollout; `bootstrap` is v of the state after it, per agent.
    fn update(&mut self, bootstrap: &[f32]) {
        let steps = std::mem::take(&mut self.rollout);
        let mut grads = self.gradients(&steps, bootstrap);
        drop(steps);
        if self.config.max_grad_norm > 0.0 {
            grads = Weights::from_vec(adam::clip(
                grads.into_vec(),
                self.config.max_grad_norm,
                self.groups,
            ));
        }
        self.adam.apply(
            self.params.as_array_mut(),
            grads.into_vec(),
            self.config.lr as f32,
        );
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
                let (_, _, v, _) = gru::forward(&self.params, x.clone(), self.hidden.clone());
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
            let (h, logits, value, _) = gru::forward(&self.params, x, self.hidden.clone());
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

    /// Per tick the forward pass reads every weight (W bytes), reads and writes h and keeps its
    /// input for the rollout; while learning, each update (every `rollout` transitions at most:
    /// a lower bound where episodes end sooner) reads the weights and the rollout's inputs and
    /// writes gradients (2W), then Adam reads gradients, weights and both moments and writes
    /// weights and moments (7W): 9W / `rollout` more a tick.
    fn bytes_per_tick(&self) -> Option<u64> {
        let numel = |dims: &[usize]| dims.iter().product::<usize>() as u64;
        let weights: u64 = 4 * self
            .params
            .as_array()
            .iter()
            .map(|t| numel(&t.dims()))
            .sum::<u64>();
        let hidden = 4 * numel(&self.hidden.dims());
        let input = 4 * (self.population * self.input_width) as u64;
        let update = if self.learning {
            (9 * weights + self.config.rollout as u64 * input) / self.config.rollout.max(1) as u64
        } else {
            0
        };
        Some(weights + 2 * hidden + 2 * input + update)
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        let (params, first, second) = (self.params.as_array(), &self.adam.first, &self.adam.second);
        for (i, name) in Weights::NAMES.iter().enumerate() {
            out.put_tensor(&format!("params/{name}"), params[i]);
            out.put_tensor(&format!("first_moment/{name}"), &first[i]);
            out.put_tensor(&format!("second_moment/{name}"), &second[i]);
        }
        out.put("adam_step", &self.adam.step);
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
        // By name; checkpoints written before the weights had names stored them by index.
        let key = |what: &str, i: usize| {
            let index = format!("{what}/{i}");
            if from.contains(&index) {
                index
            } else {
                format!("{what}/{}", Weights::NAMES[i])
            }
        };
        let device = self.device.clone();
        let params = self.params.as_array_mut();
        let first = self.adam.first.iter_mut();
        let second = self.adam.second.iter_mut();
        for (i, ((p, m), v)) in params.into_iter().zip(first).zip(second).enumerate() {
            let dims = p.dims();
            *p = from.tensor(&key("params", i), dims, &device)?;
            *m = from.tensor(&key("first_moment", i), dims, &device)?;
            *v = from.tensor(&key("second_moment", i), dims, &device)?;
        }
        self.adam.step = from.get("adam_step")?;
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
            .as_array()
            .into_iter()
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
    use burn::tensor::activation::log_softmax;

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

    #[test]
    fn a_tick_reads_the_weights_and_an_update_is_amortised_over_the_rollout() {
        let widths = [("latent", 6)];
        let config = |workers| PfcConfig {
            workers,
            rollout: 10,
            ..Default::default()
        };
        // Four agents with a controller each hold 4× the weights of four sharing one.
        let (mut own, mut shared) = (build(&config(1), 4, &widths), build(&config(4), 4, &widths));
        let numel = |p: &Pfc| -> u64 {
            p.params
                .as_array()
                .iter()
                .map(|t| t.dims().iter().product::<usize>() as u64)
                .sum()
        };
        assert_eq!(numel(&own), 4 * numel(&shared));
        own.set_learning(false);
        shared.set_learning(false);
        let (frozen_own, frozen_shared) = (own.bytes_per_tick().unwrap(), shared.bytes_per_tick().unwrap());
        assert_eq!(
            frozen_own - frozen_shared,
            4 * 3 * numel(&shared),
            "only the weights differ"
        );
        own.set_learning(true);
        let input = 4 * 4 * own.input_width as u64;
        let weights = 4 * numel(&own);
        assert_eq!(
            own.bytes_per_tick().unwrap() - frozen_own,
            (9 * weights + 10 * input) / 10
        );
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
        pfc.params.w_policy = pfc.params.w_policy.clone() * 100.0;
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
        let bootstrap = [0.3, -0.2, 0.1, 0.5];
        let written = pfc.gradients(&steps, &bootstrap);
        let values = a2c::values(&steps);
        let gamma = pfc.config.gamma as f32;
        let (returns, advantages, onehot) =
            a2c::targets(pfc.shape(), gamma, &steps, &values, &bootstrap, &device);

        let leaves = pfc.params.map(|t| t.clone().autodiff().require_grad());
        let mut h = steps[0].h_prev.clone().autodiff();
        let (mut logits, mut values) = (Vec::new(), Vec::new());
        for s in &steps {
            let (next, l, v, _) = gru::forward(&leaves, s.x.clone().autodiff(), h);
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
        for (k, leaf) in leaves.as_array().into_iter().enumerate() {
            let i = Weights::NAMES[k];
            let auto = leaf.grad(&grads).expect("every parameter is used");
            let auto = auto.into_data().try_to_vec::<f32>().unwrap();
            let ours = written.as_array()[k]
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
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
        let [g, h, _] = pfc.params.w_value.dims();
        let mut v = vec![0.0f32; g * h];
        v[h + 1] = f32::NAN;
        pfc.params.w_value = Tensor::from_data(TensorData::new(v, [g, h, 1]), &device);
        assert_eq!(pfc.divergent_agent(), Some(2));
    }

    #[test]
    fn checkpoints_from_before_the_weights_had_names_still_restore() {
        let config = PfcConfig {
            workers: 2,
            hidden: 4,
            ..Default::default()
        };
        let trained = build(&config, 4, &[("latent", 3)]);
        // The old layout: parameters and moments under their index.
        let mut old = Snapshot::default();
        let (p, m, v) = (
            trained.params.as_array(),
            &trained.adam.first,
            &trained.adam.second,
        );
        for i in 0..Weights::NAMES.len() {
            old.put_tensor(&format!("params/{i}"), &(p[i].clone() * 2.0));
            old.put_tensor(&format!("first_moment/{i}"), &m[i]);
            old.put_tensor(&format!("second_moment/{i}"), &v[i]);
        }
        old.put("adam_step", &3);
        old.put_tensor("hidden", &trained.hidden);
        old.put_optional_tensor::<3>("rollout_start", None);
        old.put("rollout_length", &0usize);
        let mut fresh = build(&config, 4, &[("latent", 3)]);
        fresh.restore(&old).unwrap();
        assert_eq!(fresh.adam.step, 3);
        let doubled = trained.params.w_policy.clone() * 2.0;
        assert_eq!(
            fresh.params.w_policy.into_data().try_to_vec::<f32>().unwrap(),
            doubled.into_data().try_to_vec::<f32>().unwrap()
        );
        // And the new layout names them.
        let mut new = Snapshot::default();
        trained.save(&mut new).unwrap();
        assert!(new.contains("params/w_policy") && !new.contains("params/4"));
    }
}
