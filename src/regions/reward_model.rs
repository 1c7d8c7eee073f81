//! # RewardModel — the dopaminergic nuclei (VTA/SNc) as a learned value function
//!
//! Learns, from sparse primary reward, the value of points of the cortex's latent space and emits
//! the reward prediction error (Schultz, Dayan & Montague 1997; TD(λ): Sutton & Barto 2018, §12.2):
//!
//! ```text
//! V(z)  = w · z + b                    (per agent: w ∈ R^D, b ∈ R; b = 0 unless `bias`)
//! δ_t   = r_t + γ · V(z_{t+1}) − V(z_t)        timing = "state": r_t is received in z_t
//! δ_t   = r_t + γ · V(z_t) − V(z_{t−1})        timing = "transition": r_t arrives on entering z_t
//! e    ← γλ · e + z_s     e_b ← γλ · e_b + 1   (z_s: the state δ corrects; traces of w and b)
//! w    ← (1 − η·κ) · w + η · δ · e      b ← b + η · δ · e_b   (κ: `weight_decay`)
//! r̂(z) = u · z + c,  u ← u + η (r_t − r̂(z_t)) z_t   (the immediate-reward head)
//! ```
//!
//! r_t is the primary reward plus the optional `cortical` input: a pseudo-reward through which
//! the cortex can mark an abstract concept as good.
//!
//! The value includes the reward received in the state itself, so a rewarded concept is
//! valuable in its own right. δ_t needs z_{t+1}, so it is emitted one tick late (δ_{t−1} at
//! tick t) under "state" timing; with γ = 0 it is exactly r − V(z). Because V is a function of
//! z, value generalises over the latent geometry: a concept near a rewarded one is valued too
//! (geometric bleed).
//!
//! **Valence of a concept c** := V(e(c)), the value at the cortex's readout of c.
//!
//! Ports: inputs `latent` `[P, D]` (Latent, required), `reward` `[P, 1]` (Reward, required),
//! `cortical` `[P, 1]` (Reward, optional), `memory` `[P, M]` (Memory, optional: content recalled
//! by the hippocampus, appended to the features, V([z; m]) — a concept's valence is read with
//! m = 0); outputs `value` `[P, 1]` = V(z_t) (Value), `rpe`
//! `[P, 1]` = δ (Rpe), `reward_prediction` `[P, 1]` = r̂(z_t) (Value).
//!
//! **Imagined outcomes.** With `imagined = k > 0` the reward model also values k latents it did
//! not visit — a model-based system's predictions (e.g. the `goal_directed` region's outcome of
//! each action) — on the optional input `imagined` `[P, k·D]`, and emits their worth on
//! `imagined_value` `[P, k]` (Value): what arriving at ẑ is worth now,
//!
//! ```text
//! worth(ẑ) = r̂(ẑ) + γ · V(ẑ)     timing = "transition" (the reward on arrival, then what follows)
//! worth(ẑ) = V(ẑ)                 timing = "state"      (V already holds the reward received in ẑ)
//! ```
//!
//! with nothing recalled (m = 0). Learning never sees imagined latents: this is how the current,
//! learnt valence of an outcome reaches a choice (outcome devaluation).
//!
//! Parameters (default; unit):
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `lr` | 0.1 | η, learning rate (per tick) |
//! | `gamma` | 0.0 | γ ∈ `[0, 1]`, discount per tick; 0 turns off TD (second-order) learning |
//! | `weight_decay` | 0.0 | κ ≥ 0, L2 shrinkage per update (scaled by η); a ridge prior on w |
//! | `bias` | false | learn b, a baseline value of every state |
//! | `lambda` | 0.0 | λ ∈ `[0, 1]`, eligibility-trace decay (TD(λ)) |
//! | `timing` | "state" | "state" or "transition" (see above) |
//! | `imagined` | 0 | k, latents valued on `imagined` per tick (0: no such ports) |
//!
//! Weights are rows `[P, D]`, every agent its own, and one batched expression steps them all: on
//! the CPU device host arrays, elsewhere burn tensors on the brain's device — the equations are
//! written once over `Rows` (`src/regions/rows.rs`) and give the same bits either way on the CPU.

use burn::prelude::{Device, Tensor};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::rows::Rows;
use super::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, RegionSpec, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};

/// Hyperparameters of [`RewardModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardModelConfig {
    /// Learning rate η.
    pub lr: f64,
    /// Discount γ in `[0, 1]`; 0 turns off second-order (TD) conditioning.
    pub gamma: f64,
    /// L2 weight decay λ (per update, scaled by η).
    pub weight_decay: f64,
    /// Learn a bias b (a baseline value of every state). Off, a concept orthogonal to every
    /// valued one is neutral (V = 0) instead of inheriting the baseline.
    pub bias: bool,
    /// λ ∈ [0, 1], eligibility-trace decay of TD(λ); 0 is TD(0).
    pub lambda: f64,
    /// When a reward counts: "state" (r_t is received *in* z_t, so V(z) includes it and a
    /// rewarded concept is valuable itself) or "transition" (r_t arrives on the transition into
    /// z_t, the textbook convention; V(z) predicts only later rewards, and δ at a reward's
    /// arrival is emitted on the same tick).
    pub timing: RewardTiming,
    /// k, the number of imagined latents valued per tick (0: no `imagined` ports).
    #[serde(skip_serializing_if = "is_zero")]
    pub imagined: usize,
}

fn is_zero(k: &usize) -> bool {
    *k == 0
}

/// When a primary reward counts for the value function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardTiming {
    /// r_t is received in state z_t: δ_t = r_t + γV(z_{t+1}) − V(z_t), emitted at t + 1.
    State,
    /// r_t arrives on entering z_t: δ_t = r_t + γV(z_t) − V(z_{t−1}), emitted at t.
    Transition,
}

impl Default for RewardModelConfig {
    fn default() -> Self {
        RewardModelConfig {
            lr: 0.1,
            gamma: 0.0,
            weight_decay: 0.0,
            bias: false,
            lambda: 0.0,
            timing: RewardTiming::State,
            imagined: 0,
        }
    }
}

impl RegionParams for RewardModelConfig {
    const KIND: &'static str = "reward_model";
    const SUMMARY: &'static str =
        "dopaminergic VTA/SNc: TD value over the latent, emits the reward prediction error";
    const DETAIL: &'static str = include_str!("reward_model.rs");

    /// The ports.
    fn ports(&self) -> Ports {
        let mut ports = Ports {
            inputs: vec![
                PortSpec::input("latent", SignalKind::Latent, Width::Inferred, "z_t, the state"),
                PortSpec::input(
                    "reward",
                    SignalKind::Reward,
                    Width::Fixed(1),
                    "r_t, primary reward",
                ),
                PortSpec::optional(
                    "cortical",
                    SignalKind::Reward,
                    Width::Fixed(1),
                    "pseudo-reward from the cortex, added to r_t",
                ),
                PortSpec::optional(
                    "memory",
                    SignalKind::Memory,
                    Width::Inferred,
                    "recalled content (hippocampus), appended to z",
                ),
            ],
            outputs: vec![
                PortSpec::output("value", SignalKind::Value, 1, "V(z_t)"),
                PortSpec::output("rpe", SignalKind::Rpe, 1, "δ, the reward prediction error"),
                PortSpec::output(
                    "reward_prediction",
                    SignalKind::Value,
                    1,
                    "r̂(z_t), the immediate reward expected",
                ),
            ],
        };
        if self.imagined > 0 {
            ports.inputs.push(PortSpec::optional(
                "imagined",
                SignalKind::Latent,
                Width::Inferred,
                "k imagined latents [ẑ_1; …; ẑ_k], each as wide as `latent`",
            ));
            ports.outputs.push(PortSpec::output(
                "imagined_value",
                SignalKind::Value,
                self.imagined,
                "worth(ẑ_i): what arriving at each imagined latent is worth now",
            ));
        }
        ports
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ParamError::new("lr", "a number > 0"));
        }
        if !(0.0..=1.0).contains(&self.lambda) {
            return Err(ParamError::new("lambda", "a number in [0, 1]"));
        }
        if !(0.0..=1.0).contains(&self.gamma) {
            return Err(ParamError::new("gamma", "a number in [0, 1]"));
        }
        super::check_sizes(&[("imagined", self.imagined, super::MAX_WIDTH)])?;
        if !(self.weight_decay >= 0.0 && self.weight_decay * self.lr < 1.0) {
            return Err(ParamError::new(
                "weight_decay",
                "a number ≥ 0 with weight_decay · lr < 1",
            ));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        if let Some(&w) = ctx.input_widths.get("imagined") {
            let d = ctx.input_widths.get("latent").copied().unwrap_or(1);
            if w != self.imagined * d {
                return Err(Error::Run(format!(
                    "reward_model: `imagined` is {w} wide, expected imagined × latent = {} × {d} = {}",
                    self.imagined,
                    self.imagined * d
                )));
            }
        }
        Ok(Box::new(RewardModel::new(self, ctx)))
    }
}

/// TD(λ) value learner for P agents. See the module documentation.
pub struct RewardModel {
    config: RewardModelConfig,
    device: Device,
    learning: bool,
    /// The rows: in host arrays on the CPU device, burn tensors on another.
    rows: Store,
}

/// Where a [`RewardModel`]'s rows live; one set of equations ([`Learner`]) serves both.
enum Store {
    Host(Box<Learner<Array2<f32>>>),
    Device(Box<Learner<Tensor<2>>>),
}

/// `$body` with `$l` the learner, wherever it lives.
macro_rules! each {
    ($store:expr, $l:ident => $body:expr) => {
        match $store {
            Store::Host($l) => $body,
            Store::Device($l) => $body,
        }
    };
}

/// The learned rows of P agents and the equations over them.
struct Learner<T> {
    /// w, `[P, D]`.
    weights: T,
    /// b, `[P, 1]`.
    bias: T,
    /// Eligibility traces of w and b.
    trace: T,
    trace_bias: T,
    /// The immediate-reward head r̂(z) = u·z + c.
    reward_weights: T,
    reward_bias: T,
    /// (z_{t−1}, r_{t−1}) awaiting V(z_t).
    previous: Option<(T, T)>,
    /// D, the latent's width (the weights cover [z; m], D + M).
    latent_width: usize,
}

impl RewardModel {
    /// Zero weights: nothing is valued before it is rewarded.
    pub fn new(config: &RewardModelConfig, ctx: &BuildContext<'_>) -> Self {
        let latent_width = ctx.input_widths.get("latent").copied().unwrap_or(1);
        let d = latent_width + ctx.input_widths.get("memory").copied().unwrap_or(0);
        let rows = if *ctx.device == Device::flex() {
            Store::Host(Box::new(Learner::new(
                ctx.population,
                d,
                latent_width,
                ctx.device,
            )))
        } else {
            Store::Device(Box::new(Learner::new(
                ctx.population,
                d,
                latent_width,
                ctx.device,
            )))
        };
        RewardModel {
            config: config.clone(),
            device: ctx.device.clone(),
            learning: true,
            rows,
        }
    }
}

impl<T: Rows> Learner<T> {
    fn new(p: usize, d: usize, latent_width: usize, device: &Device) -> Self {
        let zeros = |w| T::zeros([p, w], device);
        Learner {
            weights: zeros(d),
            bias: zeros(1),
            trace: zeros(d),
            trace_bias: zeros(1),
            reward_weights: zeros(d),
            reward_bias: zeros(1),
            previous: None,
            latent_width,
        }
    }

    /// V(z) for each agent.
    ///
    /// # Shapes
    /// `z`: `[P, D]` → `[P, 1]`.
    fn value(&self, z: T) -> T {
        (self.weights.clone() * z).row_sum() + self.bias.clone()
    }

    /// r̂(z) for each agent, `[P, D]` → `[P, 1]`.
    fn reward_prediction(&self, z: T) -> T {
        (self.reward_weights.clone() * z).row_sum() + self.reward_bias.clone()
    }

    /// The learned rows by checkpoint key.
    fn rows(&self) -> [(&'static str, &T); 6] {
        [
            ("weights", &self.weights),
            ("bias", &self.bias),
            ("trace", &self.trace),
            ("trace_bias", &self.trace_bias),
            ("reward_weights", &self.reward_weights),
            ("reward_bias", &self.reward_bias),
        ]
    }

    /// worth(ẑ_i) of k imagined latents per agent, with nothing recalled.
    ///
    /// # Shapes
    /// `imagined`: `[P, k·D]` → `[P, k]`.
    fn imagined_worth(&self, config: &RewardModelConfig, imagined: T, device: &Device) -> T {
        let d = self.latent_width;
        let [p, _] = imagined.dims();
        let memory = self.weights.dims()[1] - d;
        (0..config.imagined)
            .map(|i| {
                let mut z = imagined.column_range(i * d..(i + 1) * d);
                if memory > 0 {
                    z = z.beside(T::zeros([p, memory], device));
                }
                match config.timing {
                    RewardTiming::State => self.value(z),
                    RewardTiming::Transition => {
                        self.reward_prediction(z.clone()) + self.value(z) * config.gamma as f32
                    }
                }
            })
            .reduce(T::beside)
            .expect("imagined > 0")
    }

    /// One tick: δ, the TD(λ) and r̂ updates when `learning`, the outputs.
    fn step(
        &mut self,
        config: &RewardModelConfig,
        learning: bool,
        inputs: &Inputs,
        device: &Device,
    ) -> Result<Outputs> {
        let latent = inputs
            .get("latent")
            .ok_or_else(|| Error::Run("reward_model: no `latent` input".into()))?;
        let reward = inputs
            .get("reward")
            .ok_or_else(|| Error::Run("reward_model: no `reward` input".into()))?;
        let mut z = T::from_signal(latent, device);
        if let Some(m) = inputs.get("memory") {
            z = z.beside(T::from_signal(m, device));
        }
        let mut r = T::from_signal(reward, device);
        if let Some(c) = inputs.get("cortical") {
            r = r + T::from_signal(c, device);
        }
        let value = self.value(z.clone());
        let lr = config.lr as f32;
        let rpe = match self.previous.take() {
            Some((z_prev, r_prev)) => {
                let gamma = config.gamma as f32;
                let received = match config.timing {
                    RewardTiming::State => r_prev,
                    RewardTiming::Transition => r.clone(),
                };
                let delta = received + value.clone() * gamma - self.value(z_prev.clone());
                if learning {
                    // TD(λ), accumulating traces (Sutton & Barto 2018, §12.2).
                    let decay = gamma * config.lambda as f32;
                    self.trace = self.trace.clone() * decay + z_prev;
                    self.trace_bias = self.trace_bias.clone() * decay + 1.0;
                    let keep = 1.0 - (config.lr * config.weight_decay) as f32;
                    self.weights = self.weights.clone() * keep + self.trace.clone() * delta.clone() * lr;
                    if config.bias {
                        self.bias = self.bias.clone() + self.trace_bias.clone() * delta.clone() * lr;
                    }
                }
                delta
            }
            None => T::zeros(value.dims(), device),
        };
        let r_hat = self.reward_prediction(z.clone());
        if learning {
            let error = r.clone() - r_hat.clone();
            self.reward_weights = self.reward_weights.clone() + z.clone() * error.clone() * lr;
            self.reward_bias = self.reward_bias.clone() + error * lr;
        }
        // After learning, V(z_t) reflects the update just made; emit the value the agent holds now.
        let value = if learning { self.value(z.clone()) } else { value };
        let p = z.dims()[0];
        self.previous = Some((z, r));
        let mut out = vec![
            ("value", value.into_signal()),
            ("rpe", rpe.into_signal()),
            ("reward_prediction", r_hat.into_signal()),
        ];
        if config.imagined > 0 {
            let worth = match inputs.get("imagined") {
                Some(i) => self.imagined_worth(config, T::from_signal(i, device), device),
                None => T::zeros([p, config.imagined], device),
            };
            out.push(("imagined_value", worth.into_signal()));
        }
        Ok(out)
    }

    fn save(&self, out: &mut Snapshot) {
        for (key, rows) in self.rows() {
            rows.save(out, key);
        }
        T::save_optional(self.previous.as_ref().map(|(z, _)| z), out, "previous_latent");
        T::save_optional(self.previous.as_ref().map(|(_, r)| r), out, "previous_reward");
    }

    /// Reads every row back before replacing any: a checkpoint that does not fit changes nothing.
    fn restore(&mut self, from: &Snapshot, device: &Device) -> Result<()> {
        let [p, d] = self.weights.dims();
        let restored: Vec<T> = self
            .rows()
            .iter()
            .map(|(key, rows)| T::load(from, key, rows.dims(), device))
            .collect::<Result<_>>()?;
        let z = T::load_optional(from, "previous_latent", [p, d], device)?;
        let previous = z.zip(T::load_optional(from, "previous_reward", [p, 1], device)?);
        let Ok([w, b, tr, trb, rw, rb]) = <[T; 6]>::try_from(restored) else {
            unreachable!("six rows")
        };
        (self.weights, self.bias, self.trace, self.trace_bias) = (w, b, tr, trb);
        (self.reward_weights, self.reward_bias) = (rw, rb);
        self.previous = previous;
        Ok(())
    }

    /// The value of each concept itself: nothing recalled (m = 0).
    fn value_at(&self, latent: &Array2<f32>, device: &Device) -> Array1<f32> {
        let mut z = Array2::zeros((latent.nrows(), self.weights.dims()[1]));
        z.slice_mut(ndarray::s![.., ..self.latent_width]).assign(latent);
        let v = self.value(T::from_host(z, device)).to_host();
        v.column(0).to_owned()
    }

    fn divergent_agent(&self) -> Option<usize> {
        let (w, u) = (self.weights.to_host(), self.reward_weights.to_host());
        (0..w.nrows()).find(|&a| !w.row(a).iter().chain(u.row(a).iter()).all(|x| x.is_finite()))
    }
}

/// Σ_k w_k · z_k with the row sum of [`Rows`]: the products written to `products`, then summed by
/// the kernel the tensors' `sum_dim` runs (so the bits of `(w * z).row_sum()`).
fn dot(w: &[f32], z: &[f32], products: &mut [f32]) -> f32 {
    for ((p, &w), &z) in products.iter_mut().zip(w).zip(z) {
        *p = w * z;
    }
    let mut sum = [0.0];
    burn::backend::flex::simd::kernels::sum_rows_f32(products, &mut sum, 1, products.len());
    sum[0]
}

impl Learner<Array2<f32>> {
    /// [`Learner::step`] on host rows, scheduled one agent at a time in one pass over its rows:
    /// every element meets the same operations in the same order (so the same bits; a test holds
    /// the two to it) without a `[P, D]` temporary per operation, which at P = 1024 made the
    /// generic step three times slower than burn's.
    fn step_host(&mut self, config: &RewardModelConfig, learning: bool, inputs: &Inputs) -> Result<Outputs> {
        let get = |port: &str| {
            inputs
                .get(port)
                .map(Signal::host)
                .ok_or_else(|| Error::Run(format!("reward_model: no `{port}` input")))
        };
        let (latent, reward) = (get("latent")?, get("reward")?);
        let cortical = inputs.get("cortical").map(Signal::host);
        let (p, d, dz) = (self.weights.nrows(), self.weights.ncols(), self.latent_width);
        let fits = |s: &Array2<f32>, w: usize| s.dim() == (p, w);
        if !fits(&latent, dz) || !fits(&reward, 1) || cortical.as_ref().is_some_and(|c| !fits(c, 1)) {
            return Err(Error::Run(format!(
                "reward_model: expected `latent` [{p}, {dz}] and `reward` (and `cortical`) [{p}, 1]"
            )));
        }
        let imagined = inputs
            .get("imagined")
            .filter(|_| config.imagined > 0)
            .map(Signal::host);
        if imagined.as_ref().is_some_and(|i| !fits(i, config.imagined * dz)) {
            return Err(Error::Run(format!(
                "reward_model: expected `imagined` [{p}, {}]",
                config.imagined * dz
            )));
        }
        // z = [latent; memory], as wide as the weights.
        let mut z = Array2::zeros((p, d));
        z.slice_mut(ndarray::s![.., ..dz]).assign(&latent);
        match inputs.get("memory").map(Signal::host) {
            Some(m) if m.dim() == (p, d - dz) => z.slice_mut(ndarray::s![.., dz..]).assign(&m),
            None if d == dz => {}
            _ => {
                return Err(Error::Run(format!(
                    "reward_model: `memory` must be {} wide",
                    d - dz
                )));
            }
        }
        let r = match &cortical {
            Some(c) => &*reward + &**c,
            None => reward.into_owned(),
        };
        let (lr, gamma) = (config.lr as f32, config.gamma as f32);
        let decay = gamma * config.lambda as f32;
        let keep = 1.0 - (config.lr * config.weight_decay) as f32;
        let mut value = Array2::zeros((p, 1));
        let mut rpe = Array2::zeros((p, 1));
        let mut r_hat = Array2::zeros((p, 1));
        let previous = self.previous.take();
        let mut products = vec![0.0; d];
        for i in 0..p {
            let zi = z.row(i);
            let zi = zi.as_slice().expect("standard layout");
            let w = self.weights.row_mut(i).into_slice().expect("standard layout");
            let b = &mut self.bias[[i, 0]];
            let v = dot(w, zi, &mut products) + *b;
            value[[i, 0]] = v;
            if let Some((z_prev, r_prev)) = &previous {
                let zp = z_prev.row(i);
                let zp = zp.as_slice().expect("standard layout");
                let received = match config.timing {
                    RewardTiming::State => r_prev[[i, 0]],
                    RewardTiming::Transition => r[[i, 0]],
                };
                let delta = received + v * gamma - (dot(w, zp, &mut products) + *b);
                if learning {
                    let trace = self.trace.row_mut(i).into_slice().expect("standard layout");
                    for ((e, &zp), w) in trace.iter_mut().zip(zp).zip(w.iter_mut()) {
                        *e = *e * decay + zp;
                        *w = *w * keep + *e * delta * lr;
                    }
                    let e_b = &mut self.trace_bias[[i, 0]];
                    *e_b = *e_b * decay + 1.0;
                    if config.bias {
                        *b += *e_b * delta * lr;
                    }
                }
                rpe[[i, 0]] = delta;
            }
            let u = self
                .reward_weights
                .row_mut(i)
                .into_slice()
                .expect("standard layout");
            let c = &mut self.reward_bias[[i, 0]];
            let predicted = dot(u, zi, &mut products) + *c;
            r_hat[[i, 0]] = predicted;
            if learning {
                let error = r[[i, 0]] - predicted;
                for (u, &z) in u.iter_mut().zip(zi) {
                    *u += z * error * lr;
                }
                *c += error * lr;
                value[[i, 0]] = dot(
                    self.weights.row(i).as_slice().expect("standard layout"),
                    zi,
                    &mut products,
                ) + self.bias[[i, 0]];
            }
        }
        let mut out = vec![
            ("value", Signal::Host(value)),
            ("rpe", Signal::Host(rpe)),
            ("reward_prediction", Signal::Host(r_hat)),
        ];
        if config.imagined > 0 {
            let mut worth = Array2::zeros((p, config.imagined));
            if let Some(imagined) = imagined {
                let mut zhat = vec![0.0; d];
                for ((mut worth, imagined), i) in worth.outer_iter_mut().zip(imagined.outer_iter()).zip(0..) {
                    let (w, u) = (self.weights.row(i), self.reward_weights.row(i));
                    let (w, u) = (
                        w.as_slice().expect("standard layout"),
                        u.as_slice().expect("standard layout"),
                    );
                    let (b, c) = (self.bias[[i, 0]], self.reward_bias[[i, 0]]);
                    for (j, worth) in worth.iter_mut().enumerate() {
                        // ẑ_j with nothing recalled (m = 0).
                        for (k, x) in zhat[..dz].iter_mut().enumerate() {
                            *x = imagined[j * dz + k];
                        }
                        let v = dot(w, &zhat, &mut products) + b;
                        *worth = match config.timing {
                            RewardTiming::State => v,
                            RewardTiming::Transition => (dot(u, &zhat, &mut products) + c) + v * gamma,
                        };
                    }
                }
            }
            out.push(("imagined_value", Signal::Host(worth)));
        }
        self.previous = Some((z, r));
        Ok(out)
    }
}

impl Region for RewardModel {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let (config, learning, device) = (&self.config, self.learning, &self.device);
        match &mut self.rows {
            Store::Host(l) => l.step_host(config, learning, inputs),
            Store::Device(l) => l.step(config, learning, inputs, device),
        }
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<RewardModelConfig>() {
            Some(c) if c.imagined != self.config.imagined => Err(Error::Run(
                "reward_model: `imagined` cannot change during a run (it sets the ports' widths)".into(),
            )),
            Some(c) => {
                self.config = c.clone();
                Ok(())
            }
            None => Err(Error::Run(format!(
                "reward_model cannot become a `{}`",
                spec.kind()
            ))),
        }
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        each!(&self.rows, l => l.save(out));
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let device = &self.device;
        each!(&mut self.rows, l => l.restore(from, device))
    }

    fn value_at(&self, latent: &Array2<f32>) -> Option<Array1<f32>> {
        let device = &self.device;
        each!(&self.rows, l => (latent.ncols() == l.latent_width).then(|| l.value_at(latent, device)))
    }

    fn divergent_agent(&self) -> Option<usize> {
        each!(&self.rows, l => l.divergent_agent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_weight_names_its_agent() {
        let device = crate::device::DeviceChoice::Cpu.make(0).unwrap();
        let mut vta = model(RewardModelConfig::default(), 3, 2, &device);
        assert_eq!(vta.divergent_agent(), None);
        host_rows(&mut vta).weights[[2, 1]] = f32::NAN;
        assert_eq!(vta.divergent_agent(), Some(2));
    }

    /// The rows of a model on the CPU device.
    fn host_rows(m: &mut RewardModel) -> &mut Learner<Array2<f32>> {
        match &mut m.rows {
            Store::Host(l) => l,
            Store::Device(_) => panic!("the CPU device keeps the rows on the host"),
        }
    }

    /// The host rows and burn's CPU tensors step through the same equations to the same bits:
    /// every option on (memory, cortical input, bias, λ, weight decay, imagined latents), both
    /// timings, 40 random ticks with a frozen stretch and a checkpoint moved between the two.
    #[test]
    fn host_rows_and_tensors_give_the_same_bits() {
        use rand::{Rng, SeedableRng, rngs::SmallRng};
        let device = Device::flex();
        let (p, d, m_width) = (3, 37, 5);
        for timing in [RewardTiming::State, RewardTiming::Transition] {
            let config = RewardModelConfig {
                lr: 0.07,
                gamma: 0.9,
                weight_decay: 0.01,
                bias: true,
                lambda: 0.6,
                timing,
                imagined: 2,
            };
            let widths = [("latent", d), ("memory", m_width), ("imagined", 2 * d)];
            let new =
                || crate::regions::with_context(p, &widths, &device, |ctx| RewardModel::new(&config, ctx));
            let mut host = new();
            assert!(matches!(host.rows, Store::Host(_)));
            let mut burn = new();
            burn.rows = Store::Device(Box::new(Learner::new(p, d + m_width, d, &device)));
            let mut rng = SmallRng::seed_from_u64(3);
            let mut random =
                |w: usize| Signal::Host(Array2::from_shape_fn((p, w), |_| rng.gen_range(-1.0f32..1.0)));
            let bits = |out: &Outputs| -> Vec<Vec<u32>> {
                out.iter()
                    .map(|(_, s)| s.to_host().iter().map(|v| v.to_bits()).collect())
                    .collect()
            };
            for tick in 0..40 {
                let mut inputs = Inputs::default();
                for (port, w) in [
                    ("latent", d),
                    ("reward", 1),
                    ("cortical", 1),
                    ("memory", m_width),
                    ("imagined", 2 * d),
                ] {
                    inputs.insert(port, random(w));
                }
                let learning = !(20..25).contains(&tick);
                host.set_learning(learning);
                burn.set_learning(learning);
                if tick == 30 {
                    // A checkpoint of the host rows restored into the tensors, and back.
                    let mut snap = Snapshot::default();
                    host.save(&mut snap).unwrap();
                    burn.restore(&snap).unwrap();
                    host.restore(&snap).unwrap();
                }
                assert_eq!(
                    bits(&host.step(&inputs).unwrap()),
                    bits(&burn.step(&inputs).unwrap()),
                    "{timing:?}, tick {tick}"
                );
            }
            let probe = Array2::from_shape_fn((p, d), |(i, j)| ((i * d + j) as f32).sin());
            let v = |m: &RewardModel| m.value_at(&probe).unwrap().map(|v| v.to_bits());
            assert_eq!(v(&host), v(&burn));
            assert_ne!(v(&host), Array1::<u32>::zeros(p), "it learned something");
        }
    }

    fn model(config: RewardModelConfig, p: usize, d: usize, device: &Device) -> RewardModel {
        crate::regions::with_context(p, &[("latent", d)], device, |ctx| RewardModel::new(&config, ctx))
    }

    fn inputs(z: &[f32], r: f32) -> Inputs<'static> {
        let mut inputs = Inputs::default();
        inputs.insert(
            "latent",
            Signal::Host(Array2::from_shape_vec((1, z.len()), z.to_vec()).unwrap()),
        );
        inputs.insert("reward", Signal::Host(Array2::from_elem((1, 1), r)));
        inputs
    }

    #[test]
    fn td_error_matches_a_hand_computation() {
        // Python, the same two ticks by hand:
        //   w = [0, 0]; b = 0; lr = 0.5; gamma = 0.9
        //   tick 1: z = [1, 0], r = 1 → no δ yet
        //   tick 2: z' = [0, 1], r = 0: δ = 1 + 0.9·V(z') − V(z) = 1 + 0 − 0 = 1
        //           w = [0.5, 0], b = 0.5
        //   tick 3: z'' = [0, 0]: δ = 0 + 0.9·V(z'') − V(z') = 0.9·0.5 − 0.5 = −0.05
        let device = Device::flex();
        let mut m = model(
            RewardModelConfig {
                lr: 0.5,
                gamma: 0.9,
                weight_decay: 0.0,
                bias: true,
                ..Default::default()
            },
            1,
            2,
            &device,
        );
        let rpe = |out: &Outputs| out[1].1.to_host()[[0, 0]];
        assert_eq!(rpe(&m.step(&inputs(&[1., 0.], 1.)).unwrap()), 0.0);
        assert_eq!(rpe(&m.step(&inputs(&[0., 1.], 0.)).unwrap()), 1.0);
        let v = m
            .value_at(&Array2::from_shape_vec((1, 2), vec![1., 0.]).unwrap())
            .unwrap();
        assert_eq!(v[0], 1.0);
        let delta = rpe(&m.step(&inputs(&[0., 0.], 0.)).unwrap());
        assert!((delta - (-0.05)).abs() < 1e-6, "{delta}");
    }

    #[test]
    fn td_lambda_with_transition_timing_matches_a_hand_computation() {
        // By hand: λ = 0.5, γ = 1, η = 0.5, no bias; "transition" timing.
        //   tick 1: z = [1, 0], r = 0 → nothing to correct yet
        //   tick 2: z = [0, 1], r = 0: δ = 0 + V([0,1]) − V([1,0]) = 0; e = [1, 0]
        //   tick 3: z = [0, 0], r = 1: δ = 1 + V([0,0]) − V([0,1]) = 1 (emitted on this tick);
        //           e = 0.5·[1, 0] + [0, 1] = [0.5, 1]; w = 0.5·1·e = [0.25, 0.5]
        //   r̂: c = 0.5·(1 − 0) = 0.5 after tick 3, so r̂([0, 0]) = 0.5 on tick 4.
        let device = Device::flex();
        let config = RewardModelConfig {
            lr: 0.5,
            gamma: 1.0,
            lambda: 0.5,
            timing: RewardTiming::Transition,
            ..Default::default()
        };
        let mut m = model(config, 1, 2, &device);
        let out = |o: &Outputs, k: usize| o[k].1.to_host()[[0, 0]];
        m.step(&inputs(&[1., 0.], 0.)).unwrap();
        assert_eq!(out(&m.step(&inputs(&[0., 1.], 0.)).unwrap(), 1), 0.0);
        assert_eq!(out(&m.step(&inputs(&[0., 0.], 1.)).unwrap(), 1), 1.0);
        let v1 = m
            .value_at(&Array2::from_shape_vec((1, 2), vec![1., 0.]).unwrap())
            .unwrap()[0];
        let v2 = m
            .value_at(&Array2::from_shape_vec((1, 2), vec![0., 1.]).unwrap())
            .unwrap()[0];
        assert_eq!((v1, v2), (0.25, 0.5));
        assert_eq!(out(&m.step(&inputs(&[0., 0.], 0.)).unwrap(), 2), 0.5);
    }

    #[test]
    fn imagined_latents_are_worth_their_reward_and_what_follows() {
        // By hand, "transition" timing, γ = 0.5: w = [1, 0] (V), u = [0, 2] (r̂), no biases.
        //   worth([1, 0]) = r̂ + γ·V = 0 + 0.5·1 = 0.5;  worth([0, 1]) = 2 + 0.5·0 = 2.
        // Under "state" timing the worth is V alone: 1 and 0.
        let device = Device::flex();
        for (timing, want) in [
            (RewardTiming::Transition, [0.5, 2.0]),
            (RewardTiming::State, [1.0, 0.0]),
        ] {
            let config = RewardModelConfig {
                gamma: 0.5,
                timing,
                imagined: 2,
                ..Default::default()
            };
            assert!(config.ports().output("imagined_value").is_some());
            let mut m = model(config, 1, 2, &device);
            host_rows(&mut m).weights = ndarray::array![[1.0, 0.0]];
            host_rows(&mut m).reward_weights = ndarray::array![[0.0, 2.0]];
            m.set_learning(false);
            let mut i = inputs(&[0., 0.], 0.);
            i.insert(
                "imagined",
                Signal::Host(Array2::from_shape_vec((1, 4), vec![1., 0., 0., 1.]).unwrap()),
            );
            let out = m.step(&i).unwrap();
            let (name, worth) = &out[3];
            assert_eq!(*name, "imagined_value");
            assert_eq!(worth.to_host().row(0).to_vec(), want, "{timing:?}");
        }
        let plain = RewardModelConfig::default();
        assert!(
            plain.ports().output("imagined_value").is_none(),
            "no ports unless asked"
        );
        // A phase may not change how many latents are imagined: it sets the ports' widths.
        let mut m = model(plain.clone(), 1, 2, &device);
        let wider = RegionSpec::new(RewardModelConfig { imagined: 3, ..plain });
        let e = m.configure(&wider).unwrap_err().to_string();
        assert!(e.contains("`imagined` cannot change"), "{e}");
    }

    #[test]
    fn cortical_pseudo_reward_trains_like_primary_reward() {
        let device = Device::flex();
        let mut m = model(
            RewardModelConfig {
                lr: 0.5,
                ..Default::default()
            },
            1,
            2,
            &device,
        );
        for _ in 0..20 {
            let mut i = inputs(&[1., 0.], 0.);
            i.insert("cortical", Signal::Host(Array2::from_elem((1, 1), 1.0)));
            m.step(&i).unwrap();
        }
        let v = m
            .value_at(&Array2::from_shape_vec((1, 2), vec![1., 0.]).unwrap())
            .unwrap()[0];
        assert!((v - 1.0).abs() < 1e-3, "{v}");
    }

    #[test]
    fn frozen_model_does_not_learn() {
        let device = Device::flex();
        let mut m = model(RewardModelConfig::default(), 1, 2, &device);
        m.set_learning(false);
        for _ in 0..5 {
            m.step(&inputs(&[1., 0.], 1.)).unwrap();
        }
        let v = m
            .value_at(&Array2::from_shape_vec((1, 2), vec![1., 0.]).unwrap())
            .unwrap();
        assert_eq!(v[0], 0.0);
    }

    /// Inputs of the wrong shape are an error that names the ports, before anything is learned.
    #[test]
    fn misshapen_inputs_are_an_error_not_a_panic() {
        let device = Device::flex();
        let mut m = model(RewardModelConfig::default(), 1, 2, &device);
        let e = m.step(&inputs(&[1., 0., 0.], 1.)).unwrap_err().to_string();
        assert!(e.contains("`latent` [1, 2]"), "{e}");
        let mut wide = inputs(&[1., 0.], 1.);
        wide.insert("reward", Signal::Host(Array2::zeros((1, 2))));
        assert!(m.step(&wide).is_err());
        assert_eq!(host_rows(&mut m).previous, None, "nothing was taken in");
    }

    #[test]
    fn check_rejects_gamma_out_of_range() {
        let c = RewardModelConfig {
            gamma: 1.5,
            ..Default::default()
        };
        assert_eq!(c.check().unwrap_err().param, "gamma");
    }
}
