//! The controller as burn tensors on a device (`wgpu`): the network of `gru.rs`, the A2C
//! gradient of `a2c.rs` and the clipping and Adam of `../adam.rs` as batched tensor operations
//! (`[G, W, …]`: one batched matmul steps every agent). The CPU device uses `host.rs` instead,
//! the same computation as loops (a unit test holds the two together).

use burn::prelude::{Device, Tensor, TensorData};

use super::gru::{self, Gates, Weights};
use super::{Dims, Hyper, Network, Outcome, Params, Recorded, a2c};
use crate::regions::adam::{self, Adam};
use crate::signal::Signal;

/// One forward step of a rollout (constants, no graph), awaiting its outcome.
pub(super) struct Step {
    /// x_t `[G, W, I]` and h_{t−1} `[G, W, H]`.
    pub x: Tensor<3>,
    pub h_prev: Tensor<3>,
    pub gates: Gates,
    /// h_t `[G, W, H]`, the logits `[G, W, A]` and v_t `[G, W, 1]`.
    pub h: Tensor<3>,
    pub logits: Tensor<3>,
    pub value: Tensor<3>,
    /// a_t, r_t and whether the episode ended after them (filled in next tick).
    pub outcome: Outcome,
}

/// P agents' controllers as burn tensors on `device`.
pub(super) struct DeviceNet {
    dims: Dims,
    device: Device,
    pub(super) params: Weights,
    /// Adam's moments and step count.
    adam: Adam,
    /// h, `[G, W, H]`.
    pub(super) hidden: Tensor<3>,
    /// The rollout under way.
    pub(super) rollout: Vec<Step>,
}

impl DeviceNet {
    /// A network with these weights (in the order of `Weights::NAMES`), zero moments and h.
    pub fn new(dims: Dims, params: Params, device: &Device) -> Self {
        let params = Weights::from_host(&dims, params, device);
        DeviceNet {
            dims,
            device: device.clone(),
            adam: Adam::new(&params.as_array()),
            params,
            hidden: Tensor::zeros([dims.groups, dims.workers, dims.hidden], device),
            rollout: Vec::new(),
        }
    }

    fn tensor(&self, values: Vec<f32>, last: usize) -> Tensor<3> {
        let d = self.dims;
        Tensor::from_data(TensorData::new(values, [d.groups, d.workers, last]), &self.device)
    }

    /// One forward step from h, kept in the rollout; returns h′, the logits and v.
    pub(super) fn track(&mut self, x: Tensor<3>, outcome: Outcome) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let h_prev = self.hidden.clone();
        let (h, logits, value, gates) = gru::forward(&self.params, x.clone(), h_prev.clone());
        self.rollout.push(Step {
            x,
            h_prev,
            gates,
            h: h.clone(),
            logits: logits.clone(),
            value: value.clone(),
            outcome,
        });
        (h, logits, value)
    }

    pub(super) fn shape(&self) -> a2c::Shape {
        a2c::Shape {
            groups: self.dims.groups,
            workers: self.dims.workers,
            actions: self.dims.actions,
        }
    }

    /// The A2C loss's gradient with respect to each parameter over a rollout: at the heads
    /// ([`a2c::head_gradients`]), then through the network ([`gru::backward`]).
    pub(super) fn gradients(&self, steps: &[Step], bootstrap: &[f32], hyper: Hyper) -> Weights {
        let values = a2c::values(steps);
        let targets = a2c::targets(self.shape(), hyper.gamma, steps, &values, bootstrap, &self.device);
        let (d_logits, d_value) = a2c::head_gradients(
            steps,
            values,
            targets,
            self.dims.workers,
            (hyper.entropy, hyper.value_loss),
        );
        gru::backward(&self.params, steps, d_logits, d_value, self.dims.workers)
    }
}

fn read(t: &Tensor<3>) -> Vec<f32> {
    t.clone().into_data().try_to_vec::<f32>().expect("f32 tensor")
}

impl Network for DeviceNet {
    fn state(&self) -> (Params, Params, Params, i32) {
        let all = |ts: [&Tensor<3>; 8]| ts.map(read);
        let moments = |v: &[Tensor<3>]| std::array::from_fn(|i| read(&v[i]));
        (
            all(self.params.as_array()),
            moments(&self.adam.first),
            moments(&self.adam.second),
            self.adam.step,
        )
    }

    fn set_state(&mut self, params: Params, first: Params, second: Params, step: i32) {
        let d = self.dims;
        self.params = Weights::from_host(&d, params, &self.device);
        let up = |v: Params| Weights::from_host(&d, v, &self.device).into_vec();
        self.adam.first = up(first);
        self.adam.second = up(second);
        self.adam.step = step;
    }

    fn hidden(&self) -> Vec<f32> {
        read(&self.hidden)
    }

    fn set_hidden(&mut self, h: Vec<f32>) {
        self.hidden = self.tensor(h, self.dims.hidden);
    }

    fn rollout_len(&self) -> usize {
        self.rollout.len()
    }

    fn clear_rollout(&mut self) {
        self.rollout.clear();
    }

    fn recorded(&self) -> Recorded {
        Recorded {
            start: self.rollout.first().map(|s| read(&s.h_prev)),
            steps: self
                .rollout
                .iter()
                .map(|s| (read(&s.x), s.outcome.clone()))
                .collect(),
        }
    }

    fn complete(&mut self, outcome: Outcome) {
        if let Some(last) = self.rollout.last_mut() {
            last.outcome = outcome;
        }
    }

    fn reset(&mut self, reset: &[bool]) {
        let keep: Vec<f32> = reset.iter().map(|&r| if r { 0.0 } else { 1.0 }).collect();
        self.hidden = self.hidden.clone() * self.tensor(keep, 1);
    }

    fn values(&mut self, x: &[f32]) -> Vec<f32> {
        let x = self.tensor(x.to_vec(), self.dims.input);
        let (_, _, v, _) = gru::forward(&self.params, x, self.hidden.clone());
        read(&v)
    }

    fn step(&mut self, x: &[f32], track: bool) -> (Signal, Signal) {
        let (p, a) = (self.dims.population(), self.dims.actions);
        let x = self.tensor(x.to_vec(), self.dims.input);
        let (h, logits, value) = if track {
            self.track(x, Outcome::none(p))
        } else {
            let (h, logits, value, _) = gru::forward(&self.params, x, self.hidden.clone());
            (h, logits, value)
        };
        self.hidden = h;
        (
            Signal::device(logits.reshape([p, a])),
            Signal::device(value.reshape([p, 1])),
        )
    }

    fn update(&mut self, bootstrap: &[f32], hyper: Hyper) {
        let steps = std::mem::take(&mut self.rollout);
        let mut grads = self.gradients(&steps, bootstrap, hyper);
        drop(steps);
        if hyper.max_grad_norm > 0.0 {
            grads = Weights::from_vec(adam::clip(
                grads.into_vec(),
                f64::from(hyper.max_grad_norm),
                self.dims.groups,
            ));
        }
        self.adam
            .apply(self.params.as_array_mut(), grads.into_vec(), hyper.lr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SimRng;
    use burn::tensor::activation::log_softmax;
    use rand::SeedableRng;

    /// The written-out BPTT of [`DeviceNet::gradients`] against burn's autodiff of the same
    /// loss, on a small rollout (2 controllers × 2 workers, 3 actions, 5 steps, one episode end).
    #[test]
    fn written_out_gradients_match_autodiff() {
        let device = Device::flex();
        let dims = Dims {
            groups: 2,
            workers: 2,
            input: 3 + 3 + 1,
            hidden: 4,
            actions: 3,
        };
        let mut rngs: Vec<SimRng> = [0, 2].map(SimRng::seed_from_u64).into();
        let mut net = DeviceNet::new(dims, super::super::gru::random(&dims, &mut rngs), &device);
        // A policy head large enough for the policy and entropy terms to matter.
        net.params.w_policy = net.params.w_policy.clone() * 100.0;
        let width = dims.input;
        for t in 0..5 {
            let x: Vec<f32> = (0..4 * width)
                .map(|k| ((k * 7 + t * 13) % 11) as f32 / 5.0 - 1.0)
                .collect();
            let x = Tensor::from_data(TensorData::new(x, [2, 2, width]), &device);
            let outcome = Outcome {
                action: (0..4).map(|i| (i + t) % 3).collect(),
                reward: (0..4).map(|i| ((i * t) % 3) as f32 - 0.5).collect(),
                done: (0..4).map(|i| t == 2 && i % 2 == 0).collect(),
            };
            let (h, _, _) = net.track(x, outcome);
            net.hidden = h;
        }
        let steps = std::mem::take(&mut net.rollout);
        let bootstrap = [0.3, -0.2, 0.1, 0.5];
        let hyper = Hyper {
            gamma: 0.9,
            entropy: 0.3,
            value_loss: 0.7,
            max_grad_norm: 1.0,
            lr: 1e-3,
        };
        let written = net.gradients(&steps, &bootstrap, hyper);
        let values = a2c::values(&steps);
        let (returns, advantages, onehot) =
            a2c::targets(net.shape(), hyper.gamma, &steps, &values, &bootstrap, &device);

        let leaves = net.params.map(|t| t.clone().autodiff().require_grad());
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
            let ours = read(written.as_array()[k]);
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
}
