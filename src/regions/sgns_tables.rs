//! The skip-gram cortex's tables on a burn device (`update = "tick"` on a GPU): both tables of
//! every agent as two `[P·V, D]` tensors (agent a's token w is row a·V + w), the latent blend as
//! `[P, D]`, and the tick-batched update as gathers and scatter-adds over the touched rows.
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

use burn::prelude::{Device, Int, Tensor, TensorData};
use burn::tensor::IndexingUpdateOp;
use burn::tensor::activation::sigmoid;

use super::sensory_cortex::Readout;

/// Smallest norm a latent is divided by: a zero latent stays zero (the host skips the division).
const TINY: f32 = 1e-30;

/// P agents' skip-gram tables on a burn device.
pub(crate) struct DeviceTables {
    /// u, `[P·V, D]`.
    input: Tensor<2>,
    /// v, `[P·V, D]`.
    output: Tensor<2>,
    /// c_t, `[P, D]`.
    context: Tensor<2>,
    /// The mean readout, `[P, D]` (zeros unless centring).
    mean: Tensor<2>,
    device: Device,
    population: usize,
    vocab_size: usize,
    dim: usize,
}

/// Row indices as a tensor on `device`.
pub(crate) fn rows(ids: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = ids.len();
    Tensor::from_data(TensorData::new(ids, [n]), device)
}

pub(crate) fn floats<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// Takes a table out of its field (an empty tensor stays behind) so that a scatter into it
/// owns its only handle and updates it in place: a scatter into a table whose handle is shared
/// (`self.table.clone().select_assign(..)`) copies the whole table first (measured on lavapipe:
/// P = 1's tick update 6× slower).
pub(crate) fn take(table: &mut Tensor<2>, device: &Device) -> Tensor<2> {
    let width = table.dims()[1];
    std::mem::replace(table, Tensor::empty([0, width], device))
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

    /// Uploads host tables (`[P·V·D]` each, agent-major) and the `[P·D]` context and mean.
    pub fn upload(
        [population, vocab_size, dim]: [usize; 3],
        input: Vec<f32>,
        output: Vec<f32>,
        context: Vec<f32>,
        mean: Vec<f32>,
        device: &Device,
    ) -> Self {
        let (p, v, d) = (population, vocab_size, dim);
        DeviceTables {
            input: floats(input, [p * v, d], device),
            output: floats(output, [p * v, d], device),
            context: floats(context, [p, d], device),
            mean: floats(mean, [p, d], device),
            device: device.clone(),
            population,
            vocab_size,
            dim,
        }
    }

    /// The tables, context and mean read back to the host (the layout `upload` takes).
    pub fn download(&self) -> [Vec<f32>; 4] {
        [
            to_vec(self.input.clone()),
            to_vec(self.output.clone()),
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
        let (centres, targets) = (rows(centres, &self.device), rows(targets, &self.device));
        let labels = floats(labels, [n, 1], &self.device);
        let u = self.input.clone().select(0, centres.clone());
        let v = self.output.clone().select(0, targets.clone());
        let score = (u.clone() * v.clone()).sum_dim(1);
        let g = (labels - sigmoid(score)) * lr;
        let input = take(&mut self.input, &self.device);
        self.input = input.select_assign(0, centres, v * g.clone(), IndexingUpdateOp::Add);
        let output = take(&mut self.output, &self.device);
        self.output = output.select_assign(0, targets, u * g, IndexingUpdateOp::Add);
    }

    /// Every agent's readout of its token (`rows`: a·V + token, one per agent), less its mean:
    /// `[P, D]`.
    fn readouts(&self, rows_: Vec<i64>, readout: Readout) -> Tensor<2> {
        let rows_ = rows(rows_, &self.device);
        let u = self.input.clone().select(0, rows_.clone());
        let e = match readout {
            Readout::Input => u,
            Readout::Sum => u + self.output.clone().select(0, rows_),
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
        let (p, v, d) = (self.population, self.vocab_size, self.dim);
        let e = match readout {
            Readout::Input => self.input.clone(),
            Readout::Sum => self.input.clone() + self.output.clone(),
        };
        let mut weights = vec![1.0f32; v];
        skip.iter().for_each(|&w| weights[w] = 0.0);
        let n = weights.iter().filter(|&&w| w > 0.0).count().max(1);
        let weights = floats(weights, [1, v, 1], &self.device);
        self.mean = (e.reshape([p, v, d]) * weights).sum_dim(1).reshape([p, d]) / n as f32;
    }

    /// Sets every mean to zero (centring switched off).
    pub fn clear_means(&mut self) {
        self.mean = Tensor::zeros([self.population, self.dim], &self.device);
    }
}
