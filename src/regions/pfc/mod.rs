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
//! learn independently. Weights are `[G, …]` arrays. On the CPU device they are host arrays and a
//! tick is loops over each controller's contiguous rows (`host.rs`; burn's fixed cost per tensor
//! operation made the ~40 operations of a tick cost more than their arithmetic); on other devices
//! they are burn tensors and one batched matmul steps every agent (`device.rs`). The two agree to
//! rounding (unit test), not bit for bit.
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
//! Files: this one (parameters, ports, the region's tick, checkpoints); `host.rs` (the CPU's
//! network, gradient and Adam as loops); `device.rs` (the same as burn tensors); `gru.rs` (the
//! burn network, its named weights, forward and written-out backward); `a2c.rs` (returns,
//! advantages, the loss's gradient at the heads in burn); `../adam.rs` (clipping and Adam in burn).

mod a2c;
mod device;
mod gru;
mod host;

use crate::rng::SimRng;
use burn::prelude::Device;
use ndarray::Array2;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use device::DeviceNet;
use gru::Weights;
use host::HostNet;

use super::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, RegionSpec, Traffic,
    Width,
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

/// The sizes of a population of controllers: G controllers × W workers, I inputs, H units,
/// A actions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dims {
    pub groups: usize,
    pub workers: usize,
    pub input: usize,
    pub hidden: usize,
    pub actions: usize,
}

impl Dims {
    pub fn population(&self) -> usize {
        self.groups * self.workers
    }

    /// Each parameter's shape `[G, rows, cols]`, in the order of `Weights::NAMES`.
    pub fn shapes(&self) -> [[usize; 3]; 8] {
        let (g, i, h, a) = (self.groups, self.input, self.hidden, self.actions);
        [
            [g, i, 3 * h],
            [g, h, 3 * h],
            [g, 1, 3 * h],
            [g, 1, 3 * h],
            [g, h, a],
            [g, 1, a],
            [g, h, 1],
            [g, 1, 1],
        ]
    }

    /// Each parameter's size per controller.
    pub fn sizes(&self) -> [usize; 8] {
        self.shapes().map(|[_, r, c]| r * c)
    }
}

/// The eight parameters (or moments, or gradients) as host arrays `[G, rows, cols]`, in the
/// order of `Weights::NAMES`.
pub(super) type Params = [Vec<f32>; 8];

/// A step's outcome, per agent: a_t, r_t and whether the episode ended after them.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    pub action: Vec<usize>,
    pub reward: Vec<f32>,
    pub done: Vec<bool>,
}

impl Outcome {
    /// The placeholder of a step whose outcome comes next tick.
    pub fn none(population: usize) -> Self {
        Outcome {
            action: vec![0; population],
            reward: vec![0.0; population],
            done: vec![false; population],
        }
    }
}

/// What a checkpoint keeps of the rollout under way: h₋₁ of its first step `[P·H]`, and each
/// step's input `[P·I]` and outcome (the rest is rebuilt by replaying the forward passes).
pub(super) struct Recorded {
    pub start: Option<Vec<f32>>,
    pub steps: Vec<(Vec<f32>, Outcome)>,
}

/// The training constants of one update.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hyper {
    pub gamma: f32,
    pub entropy: f32,
    pub value_loss: f32,
    pub max_grad_norm: f32,
    pub lr: f32,
}

/// What the controller's tick asks of its network: loops over host arrays on the CPU
/// ([`host::HostNet`]) or burn tensors on another device ([`device::DeviceNet`]). Inputs and
/// states cross as host arrays, agent-major (`[P, …]`, agent a = controller a / W).
trait Network: Send {
    /// The parameters, Adam's first and second moments and its step count.
    fn state(&self) -> (Params, Params, Params, i32);
    fn set_state(&mut self, params: Params, first: Params, second: Params, step: i32);
    /// h `[P·H]`.
    fn hidden(&self) -> Vec<f32>;
    fn set_hidden(&mut self, h: Vec<f32>);
    fn rollout_len(&self) -> usize;
    fn clear_rollout(&mut self);
    fn recorded(&self) -> Recorded;
    /// Fills in the outcome of the last step kept.
    fn complete(&mut self, outcome: Outcome);
    /// Zeroes h where `reset`.
    fn reset(&mut self, reset: &[bool]);
    /// v of x `[P·I]` from the current h (nothing kept, h unchanged).
    fn values(&mut self, x: &[f32]) -> Vec<f32>;
    /// One step from h with x `[P·I]`, kept in the rollout when `track`; h ← h′. Returns the
    /// logits `[P, A]` and v `[P, 1]`.
    fn step(&mut self, x: &[f32], track: bool) -> (Signal, Signal);
    /// The A2C update over the rollout (`bootstrap`: v of the state after it, per agent), which
    /// then starts empty.
    fn update(&mut self, bootstrap: &[f32], hyper: Hyper);
}

/// The controller for P agents. See the module documentation.
pub struct Pfc {
    config: PfcConfig,
    dims: Dims,
    net: Box<dyn Network>,
    learning: bool,
}

impl Pfc {
    /// Small random weights (uniform ±1/√H, the policy head ×0.01: a uniform first policy), on
    /// the host for the CPU device and as burn tensors for the others.
    pub fn new(config: &PfcConfig, ctx: &BuildContext<'_>) -> Result<Self> {
        let p = ctx.population;
        if !p.is_multiple_of(config.workers) {
            return Err(Error::Run(format!(
                "pfc: workers = {} must divide the population ({p})",
                config.workers
            )));
        }
        let width = |port: &str| ctx.input_widths.get(port).copied().unwrap_or(0);
        let dims = Dims {
            groups: p / config.workers,
            workers: config.workers,
            input: width("latent") + config.actions + 1 + width("rpe") + width("memory"),
            hidden: config.hidden,
            actions: config.actions,
        };
        // Each controller draws from the seed of its first worker.
        let mut rngs: Vec<SimRng> = (0..dims.groups)
            .map(|g| SimRng::seed_from_u64(ctx.seeds[g * config.workers]))
            .collect();
        let params = gru::random(&dims, &mut rngs);
        let net: Box<dyn Network> = if *ctx.device == Device::flex() {
            Box::new(HostNet::new(dims, params))
        } else {
            Box::new(DeviceNet::new(dims, params, ctx.device))
        };
        Ok(Pfc {
            config: config.clone(),
            dims,
            net,
            learning: true,
        })
    }

    /// The input x_t `[P·I]`, previous action and reward zeroed where an episode starts.
    fn input(&self, inputs: &Inputs, action: &Array2<f32>, reward: &Array2<f32>, reset: &[bool]) -> Vec<f32> {
        let (p, a) = (self.dims.population(), self.config.actions);
        let mut x = Array2::<f32>::zeros((p, self.dims.input));
        let mut col = 0;
        let mut put = |x: &mut Array2<f32>, block: &Array2<f32>| {
            x.slice_mut(ndarray::s![.., col..col + block.ncols()])
                .assign(block);
            col += block.ncols();
        };
        if let Some(z) = inputs.get("latent") {
            put(&mut x, &z.host());
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
                put(&mut x, &s.host());
            }
        }
        debug_assert_eq!(col, self.dims.input);
        x.into_raw_vec_and_offset().0
    }

    fn hyper(&self) -> Hyper {
        let c = &self.config;
        Hyper {
            gamma: c.gamma as f32,
            entropy: c.entropy as f32,
            value_loss: c.value_loss as f32,
            max_grad_norm: c.max_grad_norm as f32,
            lr: c.lr as f32,
        }
    }

    /// How many weights all controllers hold together.
    fn weights_numel(&self) -> u64 {
        self.dims.sizes().iter().sum::<usize>() as u64 * self.dims.groups as u64
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
        let (p, a) = (self.dims.population(), self.config.actions);
        let action = get("action")?;
        let reward = get("reward")?;
        let reset: Vec<bool> = match inputs.get("reset") {
            Some(s) => s.host().column(0).iter().map(|&v| v > 0.5).collect(),
            None => vec![false; p],
        };
        let any_reset = reset.iter().any(|&r| r);
        // Complete the last transition with its outcome.
        if self.net.rollout_len() > 0 {
            self.net.complete(Outcome {
                action: (0..p).map(|i| (action[[i, 0]] as usize).min(a - 1)).collect(),
                reward: reward.column(0).to_vec(),
                done: reset.clone(),
            });
        }
        let x = self.input(inputs, &action, &reward, &reset);
        let rollout = self.net.rollout_len();
        if self.learning && rollout > 0 && (rollout >= self.config.rollout || any_reset) {
            let bootstrap = if reset.iter().all(|&r| r) {
                vec![0.0; p]
            } else {
                self.net.values(&x)
            };
            let hyper = self.hyper();
            self.net.update(&bootstrap, hyper);
        }
        if any_reset {
            self.net.reset(&reset);
        }
        let (logits, value) = self.net.step(&x, self.learning);
        Ok(vec![("logits", logits), ("value", value)])
    }

    fn set_learning(&mut self, learning: bool) {
        if !learning {
            // An unfinished rollout is dropped: its outcomes will never arrive as training data.
            self.net.clear_rollout();
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

    /// Per tick the forward pass reads every weight (W bytes), reads and writes h and reads
    /// its input and writes it into the rollout; while learning, each update (every `rollout`
    /// transitions at most: a lower bound where episodes end sooner) reads the weights and the
    /// rollout's inputs and writes gradients (W read, W written), then Adam reads gradients,
    /// weights and both moments and writes weights and moments (4W read, 3W written): 5W and 4W
    /// more a tick, over `rollout`.
    fn bytes_per_tick(&self) -> Option<Traffic> {
        let weights = 4 * self.weights_numel();
        let hidden = 4 * (self.dims.population() * self.dims.hidden) as u64;
        let input = 4 * (self.dims.population() * self.dims.input) as u64;
        let rollout = self.config.rollout.max(1) as u64;
        let (read, written) = if self.learning {
            ((5 * weights + rollout * input) / rollout, 4 * weights / rollout)
        } else {
            (0, 0)
        };
        Some(Traffic {
            read: weights + hidden + input + read,
            written: hidden + input + written,
        })
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        let d = self.dims;
        let (params, first, second, step) = self.net.state();
        let shapes = d.shapes();
        for (i, ((p, m), v)) in params.into_iter().zip(first).zip(second).enumerate() {
            let name = Weights::NAMES[i];
            out.put_array(&format!("params/{name}"), &shapes[i], p);
            out.put_array(&format!("first_moment/{name}"), &shapes[i], m);
            out.put_array(&format!("second_moment/{name}"), &shapes[i], v);
        }
        out.put("adam_step", &step);
        let [g, w, h, i] = [d.groups, d.workers, d.hidden, d.input];
        out.put_array("hidden", &[g, w, h], self.net.hidden());
        // The rollout under way: its inputs and outcomes (the rest is rebuilt on restore).
        let recorded = self.net.recorded();
        out.put("rollout_start.present", &recorded.start.is_some());
        if let Some(start) = recorded.start {
            out.put_array("rollout_start", &[g, w, h], start);
        }
        out.put("rollout_length", &recorded.steps.len());
        for (t, (x, o)) in recorded.steps.into_iter().enumerate() {
            out.put_array(&format!("rollout/{t}/input"), &[g, w, i], x);
            out.put(&format!("rollout/{t}/action"), &o.action);
            out.put(&format!("rollout/{t}/reward"), &o.reward);
            out.put(&format!("rollout/{t}/done"), &o.done);
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
        let shapes = self.dims.shapes();
        let read = |what: &str| -> Result<Params> {
            let arrays = (0..8)
                .map(|i| from.array(&key(what, i), &shapes[i]))
                .collect::<Result<Vec<_>>>()?;
            Ok(arrays
                .try_into()
                .unwrap_or_else(|_| unreachable!("eight parameters")))
        };
        let (params, first, second) = (read("params")?, read("first_moment")?, read("second_moment")?);
        self.net.set_state(params, first, second, from.get("adam_step")?);
        let d = self.dims;
        let [g, w, h, i] = [d.groups, d.workers, d.hidden, d.input];
        self.net.clear_rollout();
        let start = if from.get::<bool>("rollout_start.present")? {
            from.array("rollout_start", &[g, w, h])?
        } else {
            vec![0.0; g * w * h]
        };
        self.net.set_hidden(start);
        for t in 0..from.get::<usize>("rollout_length")? {
            let x = from.array(&format!("rollout/{t}/input"), &[g, w, i])?;
            self.net.step(&x, true);
            self.net.complete(Outcome {
                action: from.get(&format!("rollout/{t}/action"))?,
                reward: from.get(&format!("rollout/{t}/reward"))?,
                done: from.get(&format!("rollout/{t}/done"))?,
            });
        }
        self.net.set_hidden(from.array("hidden", &[g, w, h])?);
        Ok(())
    }

    fn divergent_agent(&self) -> Option<usize> {
        // The first controller with a non-finite weight.
        let sizes = self.dims.sizes();
        let (params, ..) = self.net.state();
        params
            .iter()
            .zip(sizes)
            .filter_map(|(p, n)| p.chunks(n).position(|c| !c.iter().all(|v| v.is_finite())))
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
        let stored: u64 = own.net.state().0.iter().map(|p| p.len() as u64).sum();
        assert_eq!(own.weights_numel(), stored);
        assert_eq!(own.weights_numel(), 4 * shared.weights_numel());
        own.set_learning(false);
        shared.set_learning(false);
        let (frozen_own, frozen_shared) = (own.bytes_per_tick().unwrap(), shared.bytes_per_tick().unwrap());
        assert_eq!(
            frozen_own.read - frozen_shared.read,
            4 * 3 * shared.weights_numel(),
            "only the weights differ"
        );
        assert_eq!(
            frozen_own.written, frozen_shared.written,
            "h and the input, alike"
        );
        own.set_learning(true);
        let input = 4 * 4 * own.dims.input as u64;
        let weights = 4 * own.weights_numel();
        let learning = own.bytes_per_tick().unwrap();
        assert_eq!(learning.read - frozen_own.read, (5 * weights + 10 * input) / 10);
        assert_eq!(learning.written - frozen_own.written, 4 * weights / 10);
    }

    /// |a − b| ≤ tol · |a| over the whole vector (and |a| not 0: a weak check otherwise).
    fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        let norm = a.iter().map(|v| v * v).sum::<f32>().sqrt();
        let diff = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt();
        assert!(norm > 1e-6, "{what} is zero: a weak check");
        assert!(diff <= tol * norm, "{what}: |Δ| {diff} vs |a| {norm}");
    }

    /// The host's loops against the burn path (on the CPU's flex backend) from the same
    /// weights, inputs and outcomes: 2 controllers × 3 workers, 3 actions, 12 ticks with two
    /// updates (the first after an episode end and a reset of half the agents), Adam's moments
    /// and all. They add in different orders, so they agree to rounding.
    #[test]
    fn the_host_network_computes_what_the_burn_network_does() {
        let dims = Dims {
            groups: 2,
            workers: 3,
            input: 5,
            hidden: 6,
            actions: 3,
        };
        let p = dims.population();
        let mut rngs: Vec<SimRng> = (0..2).map(SimRng::seed_from_u64).collect();
        let mut params = gru::random(&dims, &mut rngs);
        // A policy head large enough for the policy and entropy terms to matter.
        params[4].iter_mut().for_each(|v| *v *= 100.0);
        let mut host = HostNet::new(dims, params.clone());
        let mut burn = DeviceNet::new(dims, params, &Device::flex());
        let hyper = Hyper {
            gamma: 0.9,
            entropy: 0.3,
            value_loss: 0.7,
            max_grad_norm: 1.0,
            lr: 0.01,
        };
        for t in 0..12 {
            let x: Vec<f32> = (0..p * dims.input)
                .map(|k| ((k * 7 + t * 13) % 11) as f32 / 5.0 - 1.0)
                .collect();
            if t == 5 || t == 11 {
                let (ours, theirs) = (host.values(&x), burn.values(&x));
                close(&theirs, &ours, 1e-5, "bootstrap values");
                host.update(&theirs, hyper);
                burn.update(&theirs, hyper);
                assert_eq!((host.rollout_len(), burn.rollout_len()), (0, 0));
            }
            if t == 5 {
                let reset: Vec<bool> = (0..p).map(|i| i % 2 == 0).collect();
                host.reset(&reset);
                burn.reset(&reset);
            }
            let (l_host, v_host) = host.step(&x, true);
            let (l_burn, v_burn) = burn.step(&x, true);
            let flat = |s: Signal| s.to_host().into_raw_vec_and_offset().0;
            close(&flat(l_burn), &flat(l_host), 1e-5, &format!("logits at tick {t}"));
            close(&flat(v_burn), &flat(v_host), 1e-5, &format!("values at tick {t}"));
            let outcome = Outcome {
                action: (0..p).map(|i| (i + t) % 3).collect(),
                reward: (0..p).map(|i| ((i * t) % 3) as f32 - 0.5).collect(),
                done: (0..p).map(|i| t == 4 && i % 2 == 0).collect(),
            };
            host.complete(outcome.clone());
            burn.complete(outcome);
        }
        let (ours, theirs) = (host.state(), burn.state());
        assert_eq!((ours.3, theirs.3), (2, 2), "two Adam steps");
        for (k, name) in Weights::NAMES.iter().enumerate() {
            close(
                &theirs.0[k],
                &ours.0[k],
                1e-5,
                &format!("{name} after two updates"),
            );
            close(&theirs.1[k], &ours.1[k], 1e-4, &format!("{name}'s first moment"));
            close(&theirs.2[k], &ours.2[k], 1e-4, &format!("{name}'s second moment"));
        }
        close(&burn.hidden(), &host.hidden(), 1e-5, "h");
    }

    /// The same at `meta_bandit`'s size (2 controllers × 32 workers, 48 units, inputs one-hot
    /// a₋₁ and r₋₁): a whole rollout of 100 ticks, an update, 20 ticks more. After Adam's first
    /// step (≈ lr · sign ∂, so a gradient of the wrong sign would show as 2 · lr = 0.01) every
    /// weight is within 1e-6 of the burn path's (1.5e-8 measured), and so are the logits.
    #[test]
    fn the_host_network_trains_as_the_burn_network_does_at_meta_bandit_size() {
        let dims = Dims {
            groups: 2,
            workers: 32,
            input: 3,
            hidden: 48,
            actions: 2,
        };
        let p = dims.population();
        let mut rngs: Vec<SimRng> = [0, 32].map(SimRng::seed_from_u64).into();
        let params = gru::random(&dims, &mut rngs);
        let mut host = HostNet::new(dims, params.clone());
        let mut burn = DeviceNet::new(dims, params, &Device::flex());
        let hyper = Hyper {
            gamma: 0.9,
            entropy: 0.05,
            value_loss: 0.05,
            max_grad_norm: 1.0,
            lr: 0.005,
        };
        let mut rng = SimRng::seed_from_u64(7);
        use rand::Rng;
        let mut largest = 0.0f32;
        for t in 0..120 {
            let action: Vec<usize> = (0..p).map(|_| rng.gen_range(0..2)).collect();
            let reward: Vec<f32> = (0..p).map(|_| f32::from(rng.r#gen::<bool>())).collect();
            let x: Vec<f32> = (0..p)
                .flat_map(|i| [f32::from(action[i] == 0), f32::from(action[i] == 1), reward[i]])
                .collect();
            if t == 100 {
                let bootstrap = host.values(&x);
                host.update(&bootstrap, hyper);
                burn.update(&bootstrap, hyper);
                let (ours, theirs) = (host.state(), burn.state());
                for (k, name) in Weights::NAMES.iter().enumerate() {
                    let gap = ours.0[k]
                        .iter()
                        .zip(&theirs.0[k])
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0f32, f32::max);
                    assert!(gap < 1e-6, "{name}: largest difference {gap} after the update");
                }
            }
            let (l_host, _) = host.step(&x, true);
            let (l_burn, _) = burn.step(&x, true);
            let (l_host, l_burn) = (l_host.to_host(), l_burn.to_host());
            largest = l_host
                .iter()
                .zip(&l_burn)
                .map(|(a, b)| (a - b).abs())
                .fold(largest, f32::max);
            let outcome = Outcome {
                action,
                reward,
                done: vec![false; p],
            };
            host.complete(outcome.clone());
            burn.complete(outcome);
        }
        assert!(largest < 1e-6, "logits differ by up to {largest}");
    }

    #[test]
    fn a_non_finite_weight_names_its_controllers_first_agent() {
        let config = PfcConfig {
            workers: 2,
            hidden: 4,
            ..Default::default()
        };
        let mut pfc = build(&config, 6, &[]);
        assert_eq!(pfc.divergent_agent(), None);
        // Controller 1 (agents 2 and 3) gets a NaN in its value head.
        let (mut params, first, second, step) = pfc.net.state();
        params[6][config.hidden + 1] = f32::NAN;
        pfc.net.set_state(params, first, second, step);
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
        let (p, m, v, _) = trained.net.state();
        let shapes = trained.dims.shapes();
        for i in 0..Weights::NAMES.len() {
            let doubled = p[i].iter().map(|x| x * 2.0).collect();
            old.put_array(&format!("params/{i}"), &shapes[i], doubled);
            old.put_array(&format!("first_moment/{i}"), &shapes[i], m[i].clone());
            old.put_array(&format!("second_moment/{i}"), &shapes[i], v[i].clone());
        }
        old.put("adam_step", &3);
        old.put_array("hidden", &[2, 2, 4], trained.net.hidden());
        old.put("rollout_start.present", &false);
        old.put("rollout_length", &0usize);
        let mut fresh = build(&config, 4, &[("latent", 3)]);
        fresh.restore(&old).unwrap();
        let (restored, _, _, step) = fresh.net.state();
        assert_eq!(step, 3);
        let doubled: Vec<f32> = p[4].iter().map(|x| x * 2.0).collect();
        assert_eq!(restored[4], doubled);
        // And the new layout names them.
        let mut new = Snapshot::default();
        trained.save(&mut new).unwrap();
        assert!(new.contains("params/w_policy") && !new.contains("params/4"));
    }

    /// A checkpoint taken in the middle of a rollout, restored into a fresh controller, goes on
    /// exactly as the original does (the rollout's forward passes are replayed).
    #[test]
    fn a_restored_controller_continues_bit_for_bit() {
        let config = PfcConfig {
            workers: 2,
            hidden: 5,
            rollout: 4,
            ..Default::default()
        };
        let (p, widths) = (4, [("latent", 3)]);
        let tick = |pfc: &mut Pfc, t: usize| {
            let mut inputs = Inputs::default();
            let col = |f: &dyn Fn(usize) -> f32| Signal::Host(Array2::from_shape_fn((p, 1), |(i, _)| f(i)));
            inputs.insert("action", col(&|i| ((i + t) % 2) as f32));
            inputs.insert("reward", col(&|i| ((i * t) % 3) as f32 * 0.5));
            inputs.insert("reset", col(&|_| if t.is_multiple_of(7) { 1.0 } else { 0.0 }));
            inputs.insert(
                "latent",
                Signal::Host(Array2::from_shape_fn((p, 3), |(i, j)| {
                    ((i + j * t) % 5) as f32 * 0.2
                })),
            );
            let out = pfc.step(&inputs).unwrap();
            out[0].1.to_host().into_raw_vec_and_offset().0
        };
        let mut original = build(&config, p, &widths);
        for t in 1..11 {
            tick(&mut original, t);
        }
        assert!(original.net.rollout_len() > 0, "mid-rollout");
        let mut snapshot = Snapshot::default();
        original.save(&mut snapshot).unwrap();
        let mut restored = build(&config, p, &widths);
        restored.restore(&snapshot).unwrap();
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        for t in 11..20 {
            assert_eq!(
                bits(tick(&mut original, t)),
                bits(tick(&mut restored, t)),
                "tick {t}"
            );
        }
        assert_eq!(original.net.state().0, restored.net.state().0);
    }
}
