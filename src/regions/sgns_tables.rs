//! The skip-gram cortex's tables on a burn device (`update = "tick"` on a GPU): both tables of
//! every agent as `[P·V, D]` tables (agent a's token w is row a·V + w; in blocks of agents below
//! the device's largest buffer: `device_tables.rs`), the latent blend as `[P, D]`, and the
//! tick-batched update as gathers and scatter-adds over the touched rows.
//!
//! For the N (centre, target, label) triples of a tick over all agents, with rows gathered from
//! the tables as they stood at the tick's start:
//!
//! ```text
//! U = input[centres]   V = output[targets]                       [N, D]
//! g = η · (label − σ(rowsum(U ⊙ V)))                              [N, 1]
//! input[centres] += g ⊙ V    output[targets] += g ⊙ U             (scatter-add: repeats sum)
//! ```
//!
//! the same arithmetic as the host's tick update (`sensory_cortex::train_tick`), in another
//! summation order: a GPU's atomic adds make repeated rows' sums differ in the last bits.
//! Random draws (subsampling, noise tokens) stay on the host, from each agent's own generator,
//! so both devices train on the same triples.

use burn::prelude::{Device, Tensor};
use burn::tensor::IndexingUpdateOp;
use burn::tensor::activation::sigmoid;

use super::device_tables::{Blocked, TINY, floats, to_vec};
use super::sensory_cortex::Readout;

/// P agents' skip-gram tables on a burn device.
pub(crate) struct DeviceTables {
    /// u, `[P·V, D]` in blocks of agents.
    input: Blocked,
    /// v, `[P·V, D]` in blocks of the same agents.
    output: Blocked,
    /// c_t, `[P, D]`.
    context: Tensor<2>,
    /// The mean readout, `[P, D]` (zeros unless centring).
    mean: Tensor<2>,
    device: Device,
    population: usize,
    vocab_size: usize,
    dim: usize,
}

impl DeviceTables {
    /// The device the tables are on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// V, the vocabulary's size.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Uploads host tables (`[P·V·D]` each, agent-major; in blocks of `agents` agents) and the
    /// `[P·D]` context and mean.
    pub fn upload(
        [population, vocab_size, dim]: [usize; 3],
        [input, output, context, mean]: [Vec<f32>; 4],
        agents: usize,
        device: &Device,
    ) -> Self {
        let (p, v, d) = (population, vocab_size, dim);
        DeviceTables {
            input: Blocked::upload(input, [p, v, d], agents, device),
            output: Blocked::upload(output, [p, v, d], agents, device),
            context: floats(context, [p, d], device),
            mean: floats(mean, [p, d], device),
            device: device.clone(),
            population,
            vocab_size,
            dim,
        }
    }

    /// Agents a block holds.
    pub fn agents_per_block(&self) -> usize {
        self.input.agents()
    }

    /// The tables, context and mean read back to the host (the layout `upload` takes).
    pub fn download(&self) -> [Vec<f32>; 4] {
        [
            self.input.download(),
            self.output.download(),
            to_vec(self.context.clone()),
            to_vec(self.mean.clone()),
        ]
    }

    /// One tick-batched update over the triples (rows as a·V + token; labels 1 or 0).
    pub fn train(&mut self, centres: Vec<i64>, targets: Vec<i64>, labels: Vec<f32>, lr: f32) {
        let n = labels.len();
        if n == 0 {
            return;
        }
        let labels = floats(labels, [n, 1], &self.device);
        let u = self.input.select(&centres);
        let v = self.output.select(&targets);
        let score = (u.clone() * v.clone()).sum_dim(1);
        let g = (labels - sigmoid(score)) * lr;
        self.input.update(&centres, v * g.clone(), IndexingUpdateOp::Add);
        self.output.update(&targets, u * g, IndexingUpdateOp::Add);
    }

    /// Every agent's readout of its token (`rows`: a·V + token, one per agent), less its mean:
    /// `[P, D]`.
    fn readouts(&self, rows: Vec<i64>, readout: Readout) -> Tensor<2> {
        let u = self.input.select(&rows);
        let e = match readout {
            Readout::Input => u,
            Readout::Sum => u + self.output.select(&rows),
        };
        e - self.mean.clone()
    }

    /// Every agent's readout of `token`, less its mean, on the host (`[P·D]`).
    pub fn readouts_of(&self, token: usize, readout: Readout) -> Vec<f32> {
        let v = self.vocab_size as i64;
        let ids = (0..self.population as i64)
            .map(|a| a * v + token as i64)
            .collect();
        to_vec(self.readouts(ids, readout))
    }

    /// The latent of this tick: c ← β·c + (1 − β)·e(w_t) for each agent's token, plus the
    /// conditioning, unit-normalised when `normalize`.
    pub fn latent(
        &mut self,
        tokens: &[usize],
        readout: Readout,
        beta: f32,
        conditioning: Option<Tensor<2>>,
        normalize: bool,
    ) -> Tensor<2> {
        let v = self.vocab_size as i64;
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(a, &w)| a as i64 * v + w as i64)
            .collect();
        let e = self.readouts(ids, readout);
        self.context = self.context.clone() * beta + e * (1.0 - beta);
        let mut z = self.context.clone();
        if let Some(c) = conditioning {
            z = z + c;
        }
        if normalize {
            let norm = (z.clone() * z.clone()).sum_dim(1).sqrt().clamp_min(TINY);
            z = z / norm;
        }
        z
    }

    /// Recomputes each agent's mean readout over the vocabulary, leaving out `skip` tokens.
    pub fn refresh_means(&mut self, readout: Readout, skip: &[usize]) {
        let (v, d) = (self.vocab_size, self.dim);
        let mut weights = vec![1.0f32; v];
        skip.iter().for_each(|&w| weights[w] = 0.0);
        let n = weights.iter().filter(|&&w| w > 0.0).count().max(1);
        let weights = floats(weights, [1, v, 1], &self.device);
        let blocks = self.input.blocks().iter().zip(self.output.blocks());
        let means = blocks
            .map(|(input, output)| {
                let e = match readout {
                    Readout::Input => input.clone(),
                    Readout::Sum => input.clone() + output.clone(),
                };
                let agents = e.dims()[0] / v;
                (e.reshape([agents, v, d]) * weights.clone())
                    .sum_dim(1)
                    .reshape([agents, d])
            })
            .collect();
        self.mean = Tensor::cat(means, 0) / n as f32;
    }

    /// Sets every mean to zero (centring switched off).
    pub fn clear_means(&mut self) {
        self.mean = Tensor::zeros([self.population, self.dim], &self.device);
    }
}
