//! # BasalGanglia — a model-free actor over the latent state, trained by dopamine
//!
//! The striatum as the actor of an actor-critic (Barto 1995; Joel, Niv & Ruppin 2002): action
//! preferences are linear in the cortical state, and the reward prediction error δ from the
//! dopaminergic critic (the `reward_model`) reinforces the action just taken. Direct ("Go",
//! D1) and indirect ("NoGo", D2) pathways learn from positive and negative δ at their own rates
//! (Frank, Seeberger & O'Reilly 2004):
//!
//! ```text
//! logits_t = W · z_t                              (per agent: W ∈ R^{A×D})
//! W       ← W + η± · δ_t · onehot(a_{t−1}) ⊗ z_{t−1},   η± = lr_go if δ_t > 0 else lr_nogo
//! ```
//!
//! This is the actor of Sutton & Barto (1998, §6.6): the chosen action's preference moves by
//! δ, without the policy-gradient factor (1 − π), so a well-learnt preference can still be
//! unlearnt quickly when its outcomes turn bad (reversal learning).
//!
//! δ_t is the critic's error on the transition that followed a_{t−1} (use the reward model's
//! "transition" timing, so that it arrives on the same tick as the outcome).
//!
//! Ports: inputs `latent` `[P, D]` (Latent, required), `rpe` `[P, 1]` (Rpe, required), `action`
//! `[P, 1]` (Action, required: the action taken last tick, an edge with `delay = 1`); output
//! `logits` `[P, actions]` (Logits).
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `actions` | 2 | A, the number of actions |
//! | `lr_go` | 0.1 | η for δ > 0 (direct pathway) |
//! | `lr_nogo` | 0.1 | η for δ < 0 (indirect pathway) |
//!
//! Weights are `[P, A, D]`, one batched product for all agents: host arrays on the CPU device
//! (through burn's own CPU kernel, so the bits are burn's), burn tensors on another.

use burn::prelude::{Device, Tensor};
use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};

use super::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, RegionSpec, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind, array_to_tensor, tensor_to_array};

/// Hyperparameters of [`BasalGanglia`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasalGangliaConfig {
    /// A, the number of actions.
    pub actions: usize,
    /// Learning rate for positive δ (Go).
    pub lr_go: f64,
    /// Learning rate for negative δ (NoGo).
    pub lr_nogo: f64,
}

impl Default for BasalGangliaConfig {
    fn default() -> Self {
        BasalGangliaConfig {
            actions: 2,
            lr_go: 0.1,
            lr_nogo: 0.1,
        }
    }
}

impl RegionParams for BasalGangliaConfig {
    const KIND: &'static str = "basal_ganglia";
    const SUMMARY: &'static str =
        "striatal actor: action preferences over the latent, trained by δ (Go/NoGo rates)";
    const DETAIL: &'static str = include_str!("basal_ganglia.rs");

    /// The ports.
    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![
                PortSpec::input("latent", SignalKind::Latent, Width::Inferred, "z_t"),
                PortSpec::input("rpe", SignalKind::Rpe, Width::Fixed(1), "δ_t from the critic"),
                PortSpec::input(
                    "action",
                    SignalKind::Action,
                    Width::Fixed(1),
                    "a_{t−1} (delay = 1)",
                ),
            ],
            outputs: vec![PortSpec::output(
                "logits",
                SignalKind::Logits,
                self.actions,
                "W · z_t",
            )],
        }
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        super::check_sizes(&[("actions", self.actions, super::MAX_WIDTH)])?;
        if self.actions < 2 {
            return Err(ParamError::new("actions", "an integer ≥ 2"));
        }
        for (name, v) in [("lr_go", self.lr_go), ("lr_nogo", self.lr_nogo)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ParamError::new(name, "a number ≥ 0"));
            }
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(BasalGanglia::new(self, ctx)))
    }
}

/// The actor for P agents. See the module documentation.
pub struct BasalGanglia {
    config: BasalGangliaConfig,
    device: Device,
    /// W, `[P, A, D]`.
    weights: Weights,
    /// z_{t−1}, as it came (host or device: [`Weights::learn`] reads either).
    previous: Option<Signal>,
    learning: bool,
}

/// W, in host memory on the CPU device (a burn operation's overhead is most of a small
/// population's tick) and as a burn tensor on another.
enum Weights {
    Host(Array3<f32>),
    Device(Box<Tensor<3>>),
}

impl BasalGanglia {
    /// Zero weights: every action equally likely at first.
    pub fn new(config: &BasalGangliaConfig, ctx: &BuildContext<'_>) -> Self {
        let d = ctx.input_widths.get("latent").copied().unwrap_or(1);
        let shape = [ctx.population, config.actions, d];
        let weights = if *ctx.device == Device::flex() {
            Weights::Host(Array3::zeros(shape))
        } else {
            Weights::Device(Box::new(Tensor::zeros(shape, ctx.device)))
        };
        BasalGanglia {
            config: config.clone(),
            device: ctx.device.clone(),
            weights,
            previous: None,
            learning: true,
        }
    }
}

impl Weights {
    fn dims(&self) -> [usize; 3] {
        match self {
            Weights::Host(w) => w.dim().into(),
            Weights::Device(w) => w.dims(),
        }
    }

    /// Logits `[P, A]` of latents `[P, D]`.
    fn logits(&self, z: &Signal, device: &Device) -> Signal {
        match self {
            Weights::Host(w) => Signal::Host(host_logits(w, &z.host())),
            Weights::Device(w) => {
                let [p, a, d] = w.dims();
                let z = z.to_tensor(device).reshape([p, d, 1]);
                Signal::device((**w).clone().matmul(z).reshape([p, a]))
            }
        }
    }

    /// W ← W + (η±·δ ⊙ onehot(a)) ⊗ z, with `step` = η±·δ ⊙ onehot(a), `[P, A]`.
    fn learn(&mut self, step: &Array2<f32>, z: &Signal, device: &Device) {
        match self {
            Weights::Host(w) => {
                let z = z.host();
                for ((mut w, step), z) in w.outer_iter_mut().zip(step.outer_iter()).zip(z.outer_iter()) {
                    for (mut row, &s) in w.outer_iter_mut().zip(step) {
                        row.zip_mut_with(&z, |w, &z| *w += s * z);
                    }
                }
            }
            Weights::Device(w) => {
                let [p, a, d] = w.dims();
                let step = array_to_tensor(step, device).reshape([p, a, 1]);
                **w = (**w).clone() + step.matmul(z.to_tensor(device).reshape([p, 1, d]));
            }
        }
    }
}

/// W·z for each agent on the host: burn's own CPU kernel (`gemm`, called per agent with the
/// shapes and strides burn's batched matmul gives it), so the logits have burn's bits.
fn host_logits(w: &Array3<f32>, z: &Array2<f32>) -> Array2<f32> {
    let (p, a, d) = w.dim();
    assert_eq!(z.dim(), (p, d), "basal_ganglia: latents [P, D]");
    let (w, z) = (w.as_standard_layout(), z.as_standard_layout());
    let mut logits = Array2::<f32>::zeros((p, a));
    for ((out, w), z) in logits.outer_iter_mut().zip(w.outer_iter()).zip(z.outer_iter()) {
        // SAFETY: `out` holds a values, `w` a × d in rows of d, `z` d (each contiguous: standard
        // layouts); gemm writes dst[i] = Σ_k lhs[i, k] · rhs[k] within those bounds.
        unsafe {
            gemm::gemm(
                a,
                1,
                d,
                out.as_ptr().cast_mut(),
                1,
                1,
                false,
                w.as_ptr(),
                1,
                d as isize,
                z.as_ptr(),
                1,
                1,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
    logits
}

impl Region for BasalGanglia {
    fn divergent_agent(&self) -> Option<usize> {
        let [p, a, d] = self.weights.dims();
        let w = match &self.weights {
            Weights::Host(w) => w.to_shape((p, a * d)).expect("standard layout").to_owned(),
            Weights::Device(w) => tensor_to_array((**w).clone().reshape([p, a * d])),
        };
        (0..p).find(|&i| !w.row(i).iter().all(|x| x.is_finite()))
    }

    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let get = |port: &str| {
            inputs
                .get(port)
                .ok_or_else(|| Error::Run(format!("basal_ganglia: no `{port}` input")))
        };
        let z = get("latent")?;
        let [p, _, d] = self.weights.dims();
        if z.shape() != [p, d] {
            return Err(Error::Run(format!("basal_ganglia: expected `latent` [{p}, {d}]")));
        }
        if self.learning && self.previous.is_some() {
            let delta = get("rpe")?.host();
            let action = get("action")?.host();
            if delta.dim() != (p, 1) || action.dim() != (p, 1) {
                return Err(Error::Run(format!(
                    "basal_ganglia: expected `rpe` and `action` [{p}, 1]"
                )));
            }
            let z_prev = self.previous.take().expect("checked above");
            let (p, a) = (delta.nrows(), self.config.actions);
            let mut step = Array2::<f32>::zeros((p, a));
            for i in 0..p {
                let chosen = (action[[i, 0]] as usize).min(a - 1);
                let d = delta[[i, 0]];
                let lr = if d > 0.0 {
                    self.config.lr_go
                } else {
                    self.config.lr_nogo
                } as f32;
                step[[i, chosen]] = lr * d;
            }
            self.weights.learn(&step, &z_prev, &self.device);
        }
        let logits = self.weights.logits(z, &self.device);
        self.previous = Some(z.clone());
        Ok(vec![("logits", logits)])
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
        if !learning {
            self.previous = None;
        }
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<BasalGangliaConfig>() {
            Some(c) if c.actions == self.config.actions => {
                self.config = c.clone();
                Ok(())
            }
            _ => Err(Error::Run("basal_ganglia: only learning rates can change".into())),
        }
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        match &self.weights {
            Weights::Host(w) => out.put_array("weights", w.shape(), w.iter().copied().collect()),
            Weights::Device(w) => out.put_tensor("weights", &**w),
        }
        out.put_optional_host("previous", self.previous.as_ref().map(|z| z.host()).as_deref());
        Ok(())
    }

    /// Reads both back before replacing either: a checkpoint that does not fit changes nothing.
    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let [p, a, d] = self.weights.dims();
        let weights = match &self.weights {
            Weights::Host(_) => Weights::Host(
                Array3::from_shape_vec((p, a, d), from.array("weights", &[p, a, d])?).expect("shape checked"),
            ),
            Weights::Device(_) => {
                Weights::Device(Box::new(from.tensor("weights", [p, a, d], &self.device)?))
            }
        };
        self.previous = from.optional_host("previous", [p, d])?.map(Signal::Host);
        self.weights = weights;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    fn actor(config: &BasalGangliaConfig, p: usize, d: usize, device: &Device) -> BasalGanglia {
        crate::regions::with_context(p, &[("latent", d)], device, |ctx| BasalGanglia::new(config, ctx))
    }

    fn inputs(z: Array2<f32>, rpe: Array2<f32>, action: Array2<f32>) -> Inputs<'static> {
        let mut inputs = Inputs::default();
        inputs.insert("latent", Signal::Host(z));
        inputs.insert("rpe", Signal::Host(rpe));
        inputs.insert("action", Signal::Host(action));
        inputs
    }

    /// By hand: A = 2, D = 2, η_go = 0.5, η_nogo = 0.25. Tick 1 sees z = [1, 0]; tick 2 is told
    /// δ = 2 for action 1: W₁ += 0.5·2·[1, 0] = [1, 0], so the logits of z = [1, 1] are [0, 1].
    /// Tick 3, δ = −4 for action 0 (NoGo) after z = [1, 1]: W₀ += 0.25·(−4)·[1, 1] = [−1, −1].
    #[test]
    fn go_and_nogo_move_the_chosen_action_by_their_rates() {
        let config = BasalGangliaConfig {
            actions: 2,
            lr_go: 0.5,
            lr_nogo: 0.25,
        };
        let mut bg = actor(&config, 1, 2, &Device::flex());
        let row = |v: &[f32]| Array2::from_shape_vec((1, v.len()), v.to_vec()).unwrap();
        let logits = |out: Outputs| out[0].1.to_host().row(0).to_vec();
        bg.step(&inputs(row(&[1., 0.]), row(&[0.]), row(&[0.]))).unwrap();
        let l = logits(bg.step(&inputs(row(&[1., 1.]), row(&[2.]), row(&[1.]))).unwrap());
        assert_eq!(l, [0.0, 1.0]);
        let l = logits(bg.step(&inputs(row(&[1., 0.]), row(&[-4.]), row(&[0.]))).unwrap());
        assert_eq!(l, [-1.0, 1.0]);
    }

    /// Inputs of the wrong shape are an error, and the latent awaiting its δ is kept.
    #[test]
    fn misshapen_inputs_are_an_error_not_a_panic() {
        let mut bg = actor(&BasalGangliaConfig::default(), 2, 3, &Device::flex());
        let e = bg.step(&inputs(
            Array2::zeros((2, 4)),
            Array2::zeros((2, 1)),
            Array2::zeros((2, 1)),
        ));
        assert!(e.unwrap_err().to_string().contains("`latent` [2, 3]"));
        bg.step(&inputs(
            Array2::ones((2, 3)),
            Array2::zeros((2, 1)),
            Array2::zeros((2, 1)),
        ))
        .unwrap();
        let e = bg.step(&inputs(
            Array2::ones((2, 3)),
            Array2::zeros((1, 1)),
            Array2::zeros((2, 1)),
        ));
        assert!(e.unwrap_err().to_string().contains("`rpe` and `action`"));
        assert!(bg.previous.is_some(), "z_{{t-1}} still waits for its δ");
    }

    /// The host arrays (burn's gemm called directly) and burn's CPU tensors give the same bits
    /// over 30 random ticks of 3 agents, widths on both sides of gemm's kernels, with a frozen
    /// stretch and a checkpoint moved from one to the other.
    #[test]
    fn host_weights_and_tensors_give_the_same_bits() {
        let device = Device::flex();
        for (a, d) in [(2, 32), (3, 37), (5, 2), (4, 129)] {
            let config = BasalGangliaConfig {
                actions: a,
                lr_go: 0.3,
                lr_nogo: 0.07,
            };
            let p = 3;
            let mut host = actor(&config, p, d, &device);
            assert!(matches!(host.weights, Weights::Host(_)));
            let mut burn = actor(&config, p, d, &device);
            burn.weights = Weights::Device(Box::new(Tensor::zeros([p, a, d], &device)));
            let mut rng = SmallRng::seed_from_u64(5);
            for tick in 0..30 {
                let z = Array2::from_shape_fn((p, d), |_| rng.gen_range(-1.0f32..1.0));
                let rpe = Array2::from_shape_fn((p, 1), |_| rng.gen_range(-1.0f32..1.0));
                let action = Array2::from_shape_fn((p, 1), |_| rng.gen_range(0..a) as f32);
                let learning = !(10..14).contains(&tick);
                host.set_learning(learning);
                burn.set_learning(learning);
                if tick == 20 {
                    let mut snap = Snapshot::default();
                    host.save(&mut snap).unwrap();
                    burn.restore(&snap).unwrap();
                }
                let i = inputs(z, rpe, action);
                let bits = |out: Outputs| out[0].1.to_host().map(|v| v.to_bits());
                let (h, b) = (bits(host.step(&i).unwrap()), bits(burn.step(&i).unwrap()));
                assert_eq!(h, b, "A = {a}, D = {d}, tick {tick}");
                if tick == 29 {
                    assert!(h.iter().any(|&v| v != 0), "it learned something");
                }
            }
        }
    }
}
