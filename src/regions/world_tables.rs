//! The world model's tables on a burn device (a run on a GPU): every agent's input table E, its
//! two lazy-Adam moments and its output table O as `[P·V, ·]` tables (agent a's token w is row
//! a·V + w; in blocks of agents below the device's largest buffer: `device_tables.rs`), trained
//! by gathers and scatters over the rows a tick touches.
//!
//! A prediction scores C = k + 1 candidates an agent (the target, then the noise tokens; a
//! dropped accidental hit, and every candidate of an agent whose target is `<unk>`, has mask
//! m = 0 and pads the row out):
//!
//! ```text
//! R = O[candidates]  [P, C, H+1]          s = R · [h ; 1]                         [P, C]
//! sampled softmax:   g = m ⊙ (label − softmax_C(s − log k − log q − ∞·(1 − m)))
//! negative sampling: g = m ⊙ (label − σ(s))
//! ∂L/∂h = −Σ_C g ⊙ R[.., ..H]  −  η Σ_l g_l Σ_{j<l, row j = row l} g_j · h
//! O[candidates] += η g [h ; 1]                                       (scatter-add: repeats sum)
//! ```
//!
//! The last term is the host's order (`world_model.rs` updates each candidate's row before it
//! reads the next): a noise token drawn twice is read the second time after its first update.
//! At a window's end the input rows take their lazy Adam step: each touched row's gradient
//! summed over the window (a scatter-add into one slot per distinct row), then m, v and E at
//! those rows replaced (a scatter that assigns: the rows are distinct). Random draws stay on the
//! host, from each agent's own generator, so both paths train on the same candidates; they
//! differ by float rounding (summation orders, and a GPU's atomic adds).

use burn::prelude::{Device, Tensor};
use burn::tensor::IndexingUpdateOp;
use burn::tensor::activation::sigmoid;

use super::adam;
use super::device_tables::{Blocked, floats, ints};

/// What masks a candidate out of a sampled softmax (its log q): exp(s − this) is 0.
pub(crate) const MASKED: f32 = 1e30;

/// One tick's candidates, C an agent, agent-major (`[P·C]` each).
pub(crate) struct Candidates {
    /// Rows a·V + w.
    pub rows: Vec<i64>,
    /// 1 for the target, 0 for noise and padding.
    pub labels: Vec<f32>,
    /// 1 for a candidate scored, 0 for padding.
    pub mask: Vec<f32>,
    /// log q_w (the noise distribution's), [`MASKED`] for padding.
    pub log_q: Vec<f32>,
    /// `[P·C·C]`: entry (a, l, j) is 1 when candidate j < l of agent a is the same row as l
    /// (both scored); `None` when no row repeats this tick.
    pub earlier: Option<Vec<f32>>,
}

/// P agents' world-model tables on a burn device.
pub(crate) struct WorldTables {
    /// E `[P·V, E]`.
    input: Blocked,
    /// Adam's moments of E, `[P·V, E]` each.
    first: Blocked,
    second: Blocked,
    /// O `[P·V, H + 1]`: o_w, then the bias. All four in blocks of the same agents.
    output: Blocked,
    device: Device,
    population: usize,
    vocab_size: usize,
    embed: usize,
    dim: usize,
}

impl WorldTables {
    /// Uploads host tables (agent-major: E, its two moments `[P·V·E]`, O `[P·V·(H+1)]`) in
    /// blocks of `agents` agents.
    pub fn upload(
        [population, vocab_size, embed, dim]: [usize; 4],
        [input, first, second, output]: [Vec<f32>; 4],
        agents: usize,
        device: &Device,
    ) -> Self {
        let (p, v) = (population, vocab_size);
        let blocked = |values, width| Blocked::upload(values, [p, v, width], agents, device);
        WorldTables {
            input: blocked(input, embed),
            first: blocked(first, embed),
            second: blocked(second, embed),
            output: blocked(output, dim + 1),
            device: device.clone(),
            population,
            vocab_size,
            embed,
            dim,
        }
    }

    /// Agents a block holds.
    pub fn agents_per_block(&self) -> usize {
        self.input.agents()
    }

    /// The tables read back to the host, in the layout `upload` takes.
    pub fn download(&self) -> [Vec<f32>; 4] {
        [
            self.input.download(),
            self.first.download(),
            self.second.download(),
            self.output.download(),
        ]
    }

    /// Row a·V + w of agent a's token w.
    pub fn row(&self, agent: usize, token: u32) -> i64 {
        (agent * self.vocab_size) as i64 + i64::from(token)
    }

    /// The input rows at `rows` (`[P·N]`, agent-major) as `[P, N, E]`.
    pub fn inputs(&self, rows: Vec<i64>) -> Tensor<3> {
        let (p, e) = (self.population, self.embed);
        let n = rows.len() / p;
        self.input.select(&rows).reshape([p, n, e])
    }

    /// The output rows o_w at `rows`, without their biases: `[N, H]`.
    pub fn output_rows(&self, rows: Vec<i64>) -> Tensor<2> {
        let n = rows.len();
        self.output.select(&rows).slice([0..n, 0..self.dim])
    }

    /// Scores the candidates from each agent's state h (`[P, H]`), moves their output rows and
    /// returns ∂L/∂h `[P, H]` (see the module documentation).
    pub fn predict(
        &mut self,
        state: Tensor<2>,
        candidates: Candidates,
        (softmax, log_k, eta): (bool, f32, f32),
    ) -> Tensor<2> {
        let (p, h, dev) = (self.population, self.dim, &self.device);
        let c = candidates.labels.len() / p;
        let state1 = Tensor::cat(vec![state.clone(), Tensor::ones([p, 1], dev)], 1).reshape([p, 1, h + 1]);
        let rows = self.output.select(&candidates.rows).reshape([p, c, h + 1]);
        let scores = (rows.clone() * state1.clone()).sum_dim(2).reshape([p, c]);
        let labels = floats(candidates.labels, [p, c], dev);
        let mask = floats(candidates.mask, [p, c], dev);
        let g = if softmax {
            let adjusted = scores - log_k - floats(candidates.log_q, [p, c], dev);
            let e = (adjusted.clone() - adjusted.max_dim(1)).exp();
            (labels - e.clone() / e.sum_dim(1)) * mask
        } else {
            (labels - sigmoid(scores)) * mask
        };
        let g = g.reshape([p, c, 1]);
        let mut d_h = -(rows * g.clone())
            .sum_dim(1)
            .reshape([p, h + 1])
            .slice([0..p, 0..h]);
        if let Some(earlier) = candidates.earlier {
            // Σ_l g_l · (the gradients of the same row's earlier candidates): [P, 1].
            let before = floats(earlier, [p, c, c], dev).matmul(g.clone());
            let repeat = (before * g.clone()).sum_dim(1).reshape([p, 1]);
            d_h = d_h - state * (repeat * eta);
        }
        let delta = ((g * eta) * state1).reshape([p * c, h + 1]);
        self.output.update(&candidates.rows, delta, IndexingUpdateOp::Add);
        d_h
    }

    /// One lazy Adam step on the input rows `rows` (distinct): entry i of `grads` (`[M, E]`)
    /// adds into the gradient of `rows[slots[i]]`; corrections (c₁, c₂) as the GRU's step.
    pub fn adam(&mut self, rows: Vec<i64>, slots: Vec<i64>, grads: Tensor<2>, lr: f32, (c1, c2): (f32, f32)) {
        let (u, dev) = (rows.len(), &self.device);
        if u == 0 {
            return;
        }
        let (b1, b2, eps) = (adam::BETA1, adam::BETA2, adam::EPSILON);
        let g = Tensor::<2>::zeros([u, self.embed], dev).select_assign(
            0,
            ints(slots, dev),
            grads,
            IndexingUpdateOp::Add,
        );
        let m = self.first.select(&rows) * b1 + g.clone() * (1.0 - b1);
        let v = self.second.select(&rows) * b2 + (g.clone() * (1.0 - b2)) * g;
        let step = ((m.clone() / c1) * lr) / ((v.clone() / c2).sqrt() + eps);
        let x = self.input.select(&rows) - step;
        self.first.update(&rows, m, IndexingUpdateOp::Assign);
        self.second.update(&rows, v, IndexingUpdateOp::Assign);
        self.input.update(&rows, x, IndexingUpdateOp::Assign);
    }

    /// The first agent whose input or output table holds a value that is not finite.
    pub fn first_non_finite(&self) -> Option<usize> {
        let (v, e, h) = (self.vocab_size, self.embed, self.dim);
        let bad = |t: &Blocked, width: usize| {
            t.download()
                .chunks(v * width)
                .position(|c| !c.iter().all(|x| x.is_finite()))
        };
        [bad(&self.input, e), bad(&self.output, h + 1)]
            .into_iter()
            .flatten()
            .min()
    }
}
