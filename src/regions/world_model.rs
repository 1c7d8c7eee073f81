//! # WorldModel — a predictive recurrent model of the token stream
//!
//! The sensory cortex as an unsupervised *world model*: it reads the stream one token at a time
//! and learns, without reward, to predict the next token. Its latent is its contextual state, so
//! one word form in two contexts lands at two points ("river bank", "money bank"), which a table
//! of word vectors cannot do.
//!
//! Per agent: an input table E `[V, E]`, a GRU core (the shared cell of `regions/gru.rs`) and an
//! output table O `[V, H + 1]` (a row o_w and a bias per token; the biases start at the
//! unigram's log-probabilities, the rows at 0). With `</s>` the stream starts a
//! new sentence and the state starts afresh:
//!
//! ```text
//! x_t = [E_{w_t} ; c_t]                       (c_t: the `conditioning` input, when connected)
//! h_t = GRU(x_t, h_{t−1})                     h_{t−1} := 0 when w_t = </s>
//! z_t = h_t / ‖h_t‖                           (z_t = h_t without `normalize`)
//!   or z_t = [h_t/‖h_t‖ ; o_{w_t}/‖o_{w_t}‖] / √2   (`readout = "state_and_output"`: the word as
//!   a prediction beside its context)
//! s(w | h) = o_w · [h ; 1]                    (the score of w as the next token)
//! ```
//!
//! Learning, online: when w_{t+1} arrives, the target and k noise tokens n_i drawn from
//! q ∝ unigram^¾ (the candidates C) score the state h_t. With `objective = "sampled_softmax"`
//! (the default; Jean et al. 2015, with the log-q correction)
//!
//! ```text
//! L_t = −log softmax_{j ∈ C}(s(j | h_t) − log(k q_j))[w_{t+1}]
//! ```
//!
//! whose optimum is the full softmax of s, p̂(w | h) = softmax_w(s(w | h)); with
//! `"negative_sampling"` (Mikolov et al. 2013)
//!
//! ```text
//! L_t = −log σ(s(w_{t+1} | h_t)) − Σ_i log σ(−s(n_i | h_t))
//! ```
//!
//! whose optimum is s = log p − log(k q), so p̂(w | h) = softmax_w(s(w | h) + log q(w)). Either
//! way only the candidates' output rows move, o_j ← o_j − η_tab ∂L_t/∂o_j, and ∂L_t/∂h_t is
//! kept. Every `bptt` ticks (and at every sentence start) the kept gradients flow back through
//! the window's GRU steps (truncated back-propagation through time, written out in burn ops and
//! held to burn's autodiff by a unit test): the GRU weights take one clipped Adam step of size
//! `lr`; the input rows E_w of the window's tokens take one lazy Adam step each (`embed_lr`:
//! only the touched rows and their moments move, so a rare word moves as far as a common one).
//! No gradient is ever formed over a whole table (DESIGN.md §6). The `perplexity` probe reads
//! p̂ over the whole vocabulary.
//!
//! A concept (a word or a phrase) is read as the state after the phrase from a sentence start:
//! z(`w₁ … w_n`) = z after reading `</s> w₁ … w_n` from h = 0 (without `</s>` in the vocabulary,
//! from h = 0), the conditioning input zero.
//!
//! Ports: inputs `token` `[P, 1]` (Token, required), `conditioning` `[P, dim]` (Latent,
//! optional); output `latent` `[P, dim]` (Latent; `[P, 2·dim]` with `state_and_output`).
//!
//! Parameters (default; unit):
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `dim` | 64 | H, the GRU state and latent dimension |
//! | `embed` | 32 | E, the input table's width |
//! | `embed_init` | 0.1 | the input rows start uniform in ±`embed_init` |
//! | `bptt` | 8 | T, steps back-propagated through (the truncation length) |
//! | `negatives` | 5 | k, noise tokens per prediction |
//! | `lr` | 0.003 | Adam's step size for the GRU weights |
//! | `table_lr` | 0.05 | η_tab, the SGD step of the output rows |
//! | `embed_lr` | 0.003 | Adam's step for the input rows (lazy: touched rows only) |
//! | `max_grad_norm` | 5 | largest gradient norm per agent and window (0: no clipping) |
//! | `normalize` | true | unit-normalise z |
//! | `readout` | "state" | or "state_and_output": the word's output row beside the state (width 2·dim) |
//! | `objective` | "sampled_softmax" | or "negative_sampling" |
//! | `decay_steps`, `lr_min_fraction` | 0, 0.01 | both step sizes × max(f, 1 − t/decay_steps) after t trained ticks; 0 = constant |
//!
//! `<unk>` is never a target, and its input row never moves. Each agent has its own tables,
//! weights (`[P, …]` burn tensors on the run's device: `flex` on the CPU, or `wgpu`) and noise
//! generator, all from its own seed. On the CPU the tables live in host memory; on a GPU device
//! (`wgpu`) they live there as burn tensors (`world_tables.rs`: the same arithmetic as gathers
//! and scatters over the touched rows), and the noise tokens are still drawn on the host from
//! each agent's generator, so both devices train on the same candidates. Either way only touched
//! rows move.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::prelude::{Device, Tensor, TensorData};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Uniform};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::adam::{self, Adam};
use super::device_tables::{TINY, to_vec};
use super::gru::{self, Cell, Gates, Trace};
use super::world_tables::{Candidates, MASKED, WorldTables};
use super::{
    BuildContext, Inputs, Outputs, PARALLEL_MIN_AGENTS, ParamError, PortSpec, Ports, Region, RegionParams,
    RegionSpec, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::rng::SimRng;
use crate::signal::{Signal, SignalKind};

/// Hyperparameters of [`WorldModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldModelConfig {
    /// H: the recurrent state's and the latent's dimension.
    pub dim: usize,
    /// E: the width of the input table.
    pub embed: usize,
    /// The input rows start uniform in ±`embed_init`.
    pub embed_init: f64,
    /// T: how many steps the gradient flows back through (truncated BPTT).
    pub bptt: usize,
    /// k: noise tokens per prediction.
    pub negatives: usize,
    /// Adam's step size for the GRU weights.
    pub lr: f64,
    /// SGD step size of the output table's rows.
    pub table_lr: f64,
    /// Adam's step size for the input table's rows (lazy Adam: only touched rows).
    pub embed_lr: f64,
    /// Largest gradient norm of one agent's GRU weights per window; 0 turns clipping off.
    pub max_grad_norm: f64,
    /// Unit-normalise the latent.
    pub normalize: bool,
    /// What the latent holds: the state, or the state beside the current token's input row.
    pub readout: Readout,
    /// The sampled training objective.
    pub objective: Objective,
    /// Linear decay of both step sizes over this many trained ticks, to `lr_min_fraction` of
    /// their start; 0 keeps them constant. An online learner on a corpus sorted by topic (WordNet
    /// is, by lexicographer file) otherwise tracks the latest topic and forgets the rest.
    pub decay_steps: u64,
    /// The floor of the decaying step sizes, as a fraction of `lr`, `embed_lr` and `table_lr`.
    pub lr_min_fraction: f64,
}

/// What the world model's latent holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// z = h (width `dim`).
    State,
    /// z = [h ; o_w] (width `2 dim`), each half unit-normalised and scaled by 1/√2 when
    /// `normalize`: the state beside the current token's output row (the word as a prediction:
    /// words predicted in similar states have similar rows).
    StateAndOutput,
}

/// How the next token is learnt from k sampled noise tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Sampled softmax with the log-q correction (Jean et al. 2015): a softmax over the target
    /// and the noise tokens of s_j − log(k q_j); its optimum is the full softmax of s.
    SampledSoftmax,
    /// Negative sampling (Mikolov et al. 2013): a logistic target-vs-noise loss; its optimum is
    /// s = log p − log(k q).
    NegativeSampling,
}

impl Default for WorldModelConfig {
    fn default() -> Self {
        WorldModelConfig {
            dim: 64,
            embed: 32,
            embed_init: 0.1,
            bptt: 8,
            negatives: 5,
            lr: 0.003,
            table_lr: 0.05,
            embed_lr: 0.003,
            max_grad_norm: 5.0,
            normalize: true,
            readout: Readout::State,
            objective: Objective::SampledSoftmax,
            decay_steps: 0,
            lr_min_fraction: 0.01,
        }
    }
}

impl WorldModelConfig {
    /// The latent's width: `dim`, or `dim + embed` with the input row beside the state.
    pub fn latent_width(&self) -> usize {
        match self.readout {
            Readout::State => self.dim,
            Readout::StateAndOutput => 2 * self.dim,
        }
    }
}

impl RegionParams for WorldModelConfig {
    const KIND: &'static str = "world_model";
    const CORTEX: bool = true;
    const SUMMARY: &'static str =
        "predictive world model of the token stream (GRU next-token model); latent = contextual state";
    const DETAIL: &'static str = include_str!("world_model.rs");

    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![
                PortSpec::input(
                    "token",
                    SignalKind::Token,
                    Width::Fixed(1),
                    "the current token id",
                ),
                PortSpec::optional(
                    "conditioning",
                    SignalKind::Latent,
                    Width::Fixed(self.dim),
                    "read with each token, beside its input row (goal-conditioning)",
                ),
            ],
            outputs: vec![PortSpec::output(
                "latent",
                SignalKind::Latent,
                self.latent_width(),
                "z_t, the recurrent state after the tokens so far",
            )],
        }
    }

    fn check(&self) -> Result<(), ParamError> {
        super::check_sizes(&[
            ("dim", self.dim, super::MAX_WIDTH),
            ("embed", self.embed, super::MAX_WIDTH),
            ("bptt", self.bptt, 100_000),
            ("negatives", self.negatives, 100_000),
        ])?;
        for (name, v) in [("dim", self.dim), ("embed", self.embed), ("bptt", self.bptt)] {
            if v == 0 {
                return Err(ParamError::new(name, "an integer ≥ 1"));
            }
        }
        for (name, v) in [
            ("lr", self.lr),
            ("table_lr", self.table_lr),
            ("embed_init", self.embed_init),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ParamError::new(name, "a number > 0"));
            }
        }
        if !(0.0..=1.0).contains(&self.lr_min_fraction) {
            return Err(ParamError::new("lr_min_fraction", "a number in [0, 1]"));
        }
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm >= 0.0) {
            return Err(ParamError::new("max_grad_norm", "a number ≥ 0"));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(WorldModel::new(self, ctx)))
    }

    /// The input table with its two Adam moments `[V, E]` ×3, the output table `[V, D + 1]`,
    /// and the GRU with its moments (as [`WorldModel::bytes_per_agent`], without conditioning).
    fn bytes_per_agent(&self, vocabulary: usize) -> u64 {
        state_bytes(vocabulary, self.embed, self.embed, self.dim)
    }
}

/// Bytes of state per agent with `v` words, input rows of `e`, a GRU input of width `i` (`e`
/// plus any conditioning) and hidden width `h`: the input table with its two Adam moments
/// (`[V, E]` ×3), the output table with its biases (`[V, H + 1]`), and the GRU's weights and
/// biases with their two moments. Saturating: a size past `u64` reads as `u64::MAX`.
fn state_bytes(v: usize, e: usize, i: usize, h: usize) -> u64 {
    let (v, e, i, h) = (v as u64, e as u64, i as u64, h as u64);
    let tables = (3 * e).saturating_add(h + 1).saturating_mul(v);
    let gru = i.saturating_mul(3 * h).saturating_add(h.saturating_mul(3 * h)) + 6 * h;
    4u64.saturating_mul(tables.saturating_add(3u64.saturating_mul(gru)))
}

/// One agent's tables and noise generator (host memory; the tables are empty while they are on a
/// GPU device).
struct Agent {
    /// E, `[V·E]` row-major.
    input: Vec<f32>,
    /// Adam's moments of E (lazy: only touched rows move).
    input_first: Vec<f32>,
    input_second: Vec<f32>,
    /// O, `[V·(H+1)]` row-major: o_w then the bias.
    output: Vec<f32>,
    rng: SimRng,
    /// Scratch: the candidates of one prediction (token, label, score or gradient).
    candidates: Vec<(usize, f32, f32)>,
}

/// One step of the window being learnt.
struct Step {
    /// x_t `[P, 1, I]` and h_{t−1} `[P, 1, H]` as read.
    x: Tensor<3>,
    h_prev: Tensor<3>,
    gates: Gates,
    /// w_t per agent.
    tokens: Vec<u32>,
    /// ∂L_t/∂h_t `[P, H]`, once w_{t+1} has arrived.
    d_h: Option<Tensor<2>>,
}

/// The GRU weights' names, in the order kept (checkpoint keys).
const NAMES: [&str; 4] = ["w_x", "w_h", "b_x", "b_h"];

/// The recurrent next-token model for P agents. See the module documentation.
pub struct WorldModel {
    config: WorldModelConfig,
    device: Device,
    population: usize,
    vocab_size: usize,
    /// C, the conditioning input's width (0 when unconnected).
    conditioning: usize,
    agents: Vec<Agent>,
    /// Every agent's tables on a GPU device (the agents' host tables are then empty).
    tables: Option<WorldTables>,
    /// W_x `[P, E + C, 3H]`, W_h `[P, H, 3H]`, b_x, b_h `[P, 1, 3H]`.
    weights: Vec<Tensor<3>>,
    adam: Adam,
    /// h `[P, 1, H]`, and the same on the host (kept while the tables are on the host).
    hidden: Tensor<3>,
    hidden_host: Vec<f32>,
    window: Vec<Step>,
    /// Cumulative q ∝ unigram^¾ (for drawing noise tokens) and log q.
    noise_cdf: Vec<f64>,
    log_noise: Vec<f32>,
    boundary: Option<u32>,
    unknown: Option<u32>,
    learning: bool,
    /// Ticks trained so far (for the step-size schedule).
    trained: u64,
    /// Seconds spent in the forward step, the predictions and the window updates (`valence
    /// bench`).
    seconds: [f64; 3],
}

/// One agent's prediction: its tables, its ∂L/∂h row, its state and its target.
type PredictArgs<'a> = ((&'a mut Agent, &'a mut [f32]), (&'a [f32], &'a u32));

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// An agent's candidates for `target` into `out`: the target (label 1), then k noise tokens
/// drawn from q with `rng` (label 0), accidental hits dropped; scores 0.
fn draw_candidates(
    rng: &mut SimRng,
    (target, k): (usize, usize),
    noise_cdf: &[f64],
    out: &mut Vec<(usize, f32, f32)>,
) {
    out.clear();
    out.push((target, 1.0, 0.0));
    for _ in 0..k {
        let u: f64 = rng.r#gen();
        let n = noise_cdf.partition_point(|&c| c <= u).min(noise_cdf.len() - 1);
        if n != target {
            out.push((n, 0.0, 0.0));
        }
    }
}

impl WorldModel {
    /// Builds P agents: E ~ U(±`embed_init`), GRU weights ~ U(±1/√H), output rows 0 (as word2vec's)
    /// with biases at the unigram's log-probabilities, each agent from its own seed.
    pub fn new(config: &WorldModelConfig, ctx: &BuildContext<'_>) -> Self {
        let (v, e, h) = (ctx.vocabulary.len(), config.embed, config.dim);
        let p = ctx.seeds.len();
        let conditioning = ctx.input_widths.get("conditioning").copied().unwrap_or(0);
        let i = e + conditioning;
        let bound = 1.0 / (h as f32).sqrt();
        let shapes = [[i, 3 * h], [h, 3 * h], [1, 3 * h], [1, 3 * h]];
        let mut weights: Vec<Vec<f32>> = shapes
            .iter()
            .map(|s| Vec::with_capacity(p * s[0] * s[1]))
            .collect();
        let mut agents: Vec<Agent> = ctx
            .seeds
            .iter()
            .map(|&seed| {
                let mut rng = SimRng::seed_from_u64(seed);
                let a = config.embed_init as f32;
                let unit = Uniform::new_inclusive(-a, a);
                let input = (0..v * e).map(|_| unit.sample(&mut rng)).collect();
                let u = Uniform::new_inclusive(-bound, bound);
                for (w, s) in weights.iter_mut().zip(&shapes) {
                    w.extend((0..s[0] * s[1]).map(|_| u.sample(&mut rng)));
                }
                Agent {
                    input,
                    input_first: vec![0.0; v * e],
                    input_second: vec![0.0; v * e],
                    output: vec![0.0; v * (h + 1)],
                    rng,
                    candidates: Vec::new(),
                }
            })
            .collect();
        let weights: Vec<Tensor<3>> = weights
            .into_iter()
            .zip(&shapes)
            .map(|(w, s)| Tensor::from_data(TensorData::new(w, [p, s[0], s[1]]), ctx.device))
            .collect();
        let powered: Vec<f64> = ctx
            .vocabulary
            .counts()
            .iter()
            .map(|&c| (c as f64).powf(0.75))
            .collect();
        let total: f64 = powered.iter().sum();
        let mut acc = 0.0;
        let noise_cdf = powered
            .iter()
            .map(|q| {
                acc += q;
                if total > 0.0 { acc / total } else { 0.0 }
            })
            .collect();
        let log_noise: Vec<f32> = powered
            .iter()
            .map(|q| {
                if total > 0.0 && *q > 0.0 {
                    (q / total).ln() as f32
                } else {
                    f32::MIN / 4.0
                }
            })
            .collect();
        // The output biases start at the unigram's log-probabilities (add-½), the optimum of
        // each objective for a state that says nothing: a tail of rare words, seldom drawn as
        // noise, would otherwise keep too much probability for a long time.
        let counts = ctx.vocabulary.counts();
        let n = counts.iter().sum::<u64>() as f64 + 0.5 * v as f64;
        let bias: Vec<f32> = counts
            .iter()
            .zip(&log_noise)
            .map(|(&c, &lq): (&u64, &f32)| {
                let log_p = ((c as f64 + 0.5) / n).ln() as f32;
                match config.objective {
                    Objective::SampledSoftmax => log_p,
                    Objective::NegativeSampling => {
                        log_p - (config.negatives.max(1) as f32).ln() - lq.max(-30.0)
                    }
                }
            })
            .collect();
        for agent in &mut agents {
            for (w, b) in bias.iter().enumerate() {
                agent.output[w * (h + 1) + h] = *b;
            }
        }
        let mut model = WorldModel {
            config: config.clone(),
            device: ctx.device.clone(),
            population: p,
            vocab_size: v,
            conditioning,
            agents,
            tables: None,
            adam: Adam::new(&weights.iter().collect::<Vec<_>>()),
            weights,
            hidden: Tensor::zeros([p, 1, h], ctx.device),
            hidden_host: vec![0.0; p * h],
            window: Vec::new(),
            noise_cdf,
            log_noise,
            boundary: ctx.vocabulary.id(crate::vocabulary::EOS),
            unknown: ctx.vocabulary.id(crate::vocabulary::UNK),
            learning: true,
            trained: 0,
            seconds: [0.0; 3],
        };
        if *ctx.device != Device::flex() {
            // Initialised on the host from the same seeds, so both devices start alike.
            model.move_tables_to(ctx.device);
        }
        model
    }

    /// Moves every agent's tables to `device` (the host copies are emptied), in blocks of as many
    /// agents as fit the device's largest buffer.
    fn move_tables_to(&mut self, device: &Device) {
        let width = self.config.embed.max(self.config.dim + 1);
        let limit = crate::device::max_tensor_bytes(device);
        let agents = super::device_tables::agents_per_block(limit, self.vocab_size, width);
        self.move_tables_in_blocks(device, agents);
    }

    /// [`WorldModel::move_tables_to`] in blocks of `agents` agents.
    fn move_tables_in_blocks(&mut self, device: &Device, agents: usize) {
        let mut take = |f: fn(&mut Agent) -> &mut Vec<f32>| {
            let mut all = Vec::new();
            for agent in &mut self.agents {
                all.extend_from_slice(&std::mem::take(f(agent)));
            }
            all
        };
        let tables = [
            take(|a| &mut a.input),
            take(|a| &mut a.input_first),
            take(|a| &mut a.input_second),
            take(|a| &mut a.output),
        ];
        let shape = [
            self.population,
            self.vocab_size,
            self.config.embed,
            self.config.dim,
        ];
        self.tables = Some(WorldTables::upload(shape, tables, agents, device));
    }

    /// Every agent's tables, agent-major (E, its two moments, O), read from wherever they live.
    fn host_tables(&self) -> [Vec<f32>; 4] {
        if let Some(tables) = &self.tables {
            return tables.download();
        }
        let gather =
            |f: fn(&Agent) -> &Vec<f32>| self.agents.iter().flat_map(|a| f(a).iter().copied()).collect();
        [
            gather(|a| &a.input),
            gather(|a| &a.input_first),
            gather(|a| &a.input_second),
            gather(|a| &a.output),
        ]
    }

    /// Agent a's output row o_w (without its bias) in host memory where the latent reads it
    /// (`readout = "state_and_output"`), else empty.
    fn host_output_row(&self, a: usize, w: u32) -> &[f32] {
        let (h, w) = (self.config.dim, w as usize);
        match self.config.readout {
            Readout::State => &[],
            Readout::StateAndOutput => &self.agents[a].output[w * (h + 1)..w * (h + 1) + h],
        }
    }

    fn cell(&self) -> Cell<'_> {
        Cell {
            w_x: &self.weights[0],
            w_h: &self.weights[1],
            b_x: &self.weights[2],
            b_h: &self.weights[3],
        }
    }

    /// Seconds spent so far in the forward steps, the predictions (output rows) and the window
    /// updates (BPTT, Adam, input rows): what `valence bench` reports.
    pub fn seconds(&self) -> [f64; 3] {
        self.seconds
    }

    /// Bytes of state per agent: the input table with its two Adam moments, the output table
    /// with its biases, and the GRU's weights and biases with their two moments.
    pub fn bytes_per_agent(&self) -> usize {
        let (v, e, h) = (self.vocab_size, self.config.embed, self.config.dim);
        state_bytes(v, e, self.input_width(), h) as usize
    }

    /// The factor on both step sizes after the ticks trained so far.
    fn decay(&self) -> f64 {
        let c = &self.config;
        if c.decay_steps == 0 {
            1.0
        } else {
            (1.0 - self.trained as f64 / c.decay_steps as f64).max(c.lr_min_fraction)
        }
    }

    fn input_width(&self) -> usize {
        self.config.embed + self.conditioning
    }

    /// x `[P, N, I]`: row n of agent a is the input row of `tokens[n][a]` (or of `tokens[n][0]`
    /// when the row holds one id, the same for every agent), followed by `conditioning`
    /// (`[P, C]`, or zeros).
    fn inputs_of(&self, tokens: &[Vec<u32>], conditioning: Option<&Signal>) -> Tensor<3> {
        let (e, i, p) = (self.config.embed, self.input_width(), self.population);
        let n = tokens.len();
        if let Some(tables) = &self.tables {
            let rows = (0..p)
                .flat_map(|a| tokens.iter().map(move |ids| (a, ids[a.min(ids.len() - 1)])))
                .map(|(a, w)| tables.row(a, w))
                .collect();
            let x = tables.inputs(rows);
            if self.conditioning == 0 {
                return x;
            }
            let c = match conditioning {
                Some(c) => c.to_tensor(&self.device).reshape([p, 1, i - e]).repeat_dim(1, n),
                None => Tensor::zeros([p, n, i - e], &self.device),
            };
            return Tensor::cat(vec![x, c], 2);
        }
        let conditioning = conditioning.map(Signal::host);
        let conditioning = conditioning.as_deref();
        let mut x = vec![0.0f32; p * n * i];
        for (a, agent) in self.agents.iter().enumerate() {
            for (k, ids) in tokens.iter().enumerate() {
                let w = ids[a.min(ids.len() - 1)] as usize;
                let row = &mut x[(a * n + k) * i..(a * n + k + 1) * i];
                row[..e].copy_from_slice(&agent.input[w * e..(w + 1) * e]);
                if let Some(c) = conditioning {
                    row[e..].iter_mut().zip(c.row(a)).for_each(|(x, c)| *x = *c);
                }
            }
        }
        Tensor::from_data(TensorData::new(x, [p, n, i]), &self.device)
    }

    /// ∂L/∂h `[P, H]` of each agent's prediction of `targets` from its current state, the
    /// output rows updated on the way (see the module documentation for the two objectives).
    fn predict(&mut self, targets: &[u32]) -> Tensor<2> {
        if self.tables.is_some() {
            return self.predict_on_device(targets);
        }
        let h = self.config.dim;
        let (k, eta) = (
            self.config.negatives,
            (self.config.table_lr * self.decay()) as f32,
        );
        let softmax = self.config.objective == Objective::SampledSoftmax;
        let (noise_cdf, log_noise, unknown) = (&self.noise_cdf, &self.log_noise, self.unknown);
        let log_k = (k.max(1) as f32).ln();
        let mut d_h = vec![0.0f32; self.population * h];
        let one = |((agent, d), (state, &target)): PredictArgs<'_>| {
            if Some(target) == unknown {
                return;
            }
            let target = target as usize;
            // The candidates: the target, then k noise tokens (accidental hits dropped), each
            // with its label and score.
            let mut cands = std::mem::take(&mut agent.candidates);
            draw_candidates(&mut agent.rng, (target, k), noise_cdf, &mut cands);
            for c in cands.iter_mut() {
                let o = &agent.output[c.0 * (h + 1)..(c.0 + 1) * (h + 1)];
                c.2 = o[..h].iter().zip(state).map(|(a, b)| a * b).sum::<f32>() + o[h];
            }
            if softmax {
                // p_j = softmax_j(s_j − log(k q_j)) over the candidates; g_j = [j = t] − p_j.
                let adjusted = |c: &(usize, f32, f32)| c.2 - log_k - log_noise[c.0];
                let max = cands.iter().map(adjusted).fold(f32::MIN, f32::max);
                let z: f32 = cands.iter().map(|c| (adjusted(c) - max).exp()).sum();
                for c in cands.iter_mut() {
                    c.2 = c.1 - (adjusted(c) - max).exp() / z;
                }
            } else {
                for c in cands.iter_mut() {
                    c.2 = c.1 - sigmoid(c.2);
                }
            }
            // c.2 now holds g = −∂L/∂s: rows move along g·[h; 1], and ∂L/∂h = −Σ g·o.
            for &(w, _, g) in cands.iter() {
                let o = &mut agent.output[w * (h + 1)..(w + 1) * (h + 1)];
                for ((di, oi), hi) in d.iter_mut().zip(o[..h].iter_mut()).zip(state) {
                    *di -= g * *oi;
                    *oi += eta * g * hi;
                }
                o[h] += eta * g;
            }
            agent.candidates = cands;
        };
        let states = self.hidden_host.chunks(h);
        if self.population >= PARALLEL_MIN_AGENTS {
            let states: Vec<&[f32]> = states.collect();
            self.agents
                .par_iter_mut()
                .zip(d_h.par_chunks_mut(h))
                .zip(states.into_par_iter().zip(targets.par_iter()))
                .for_each(one);
        } else {
            self.agents
                .iter_mut()
                .zip(d_h.chunks_mut(h))
                .zip(states.zip(targets.iter()))
                .for_each(one);
        }
        Tensor::from_data(TensorData::new(d_h, [self.population, h]), &self.device)
    }

    /// [`WorldModel::predict`] with the tables on a device: the host draws each agent's
    /// candidates (as the host path does, from the same generators) and lists them, padded to
    /// k + 1 an agent; the device scores them and moves their rows.
    fn predict_on_device(&mut self, targets: &[u32]) -> Tensor<2> {
        let (p, h, k) = (self.population, self.config.dim, self.config.negatives);
        let c = k + 1;
        let eta = (self.config.table_lr * self.decay()) as f32;
        let softmax = self.config.objective == Objective::SampledSoftmax;
        let log_k = (k.max(1) as f32).ln();
        let tables = self.tables.as_mut().expect("tables on the device");
        let mut list = Candidates {
            rows: Vec::with_capacity(p * c),
            labels: Vec::with_capacity(p * c),
            mask: Vec::with_capacity(p * c),
            log_q: Vec::with_capacity(p * c),
            earlier: None,
        };
        let mut earlier = vec![0.0f32; p * c * c];
        let mut repeats = false;
        for (a, (agent, &target)) in self.agents.iter_mut().zip(targets).enumerate() {
            let mut drawn = std::mem::take(&mut agent.candidates);
            drawn.clear();
            if Some(target) != self.unknown {
                draw_candidates(&mut agent.rng, (target as usize, k), &self.noise_cdf, &mut drawn);
            }
            for l in 0..c {
                let (row, label, mask, log_q) = match drawn.get(l) {
                    Some(&(w, label, _)) => {
                        for j in (0..l).filter(|&j| drawn[j].0 == w) {
                            earlier[(a * c + l) * c + j] = 1.0;
                            repeats = true;
                        }
                        (tables.row(a, w as u32), label, 1.0, self.log_noise[w])
                    }
                    None => (tables.row(a, target), 0.0, 0.0, MASKED),
                };
                list.rows.push(row);
                list.labels.push(label);
                list.mask.push(mask);
                list.log_q.push(log_q);
            }
            agent.candidates = drawn;
        }
        if repeats {
            list.earlier = Some(earlier);
        }
        let state = self.hidden.clone().reshape([p, h]);
        tables.predict(state, list, (softmax, log_k, eta))
    }

    /// Back-propagates the window's kept gradients: one Adam step on the GRU weights, SGD on the
    /// input rows of the window's tokens. Steps whose outcome has not arrived are dropped.
    fn flush(&mut self) {
        let mut steps = std::mem::take(&mut self.window);
        steps.retain(|s| s.d_h.is_some());
        if steps.is_empty() {
            return;
        }
        let (p, h, e, i) = (
            self.population,
            self.config.dim,
            self.config.embed,
            self.input_width(),
        );
        let n = steps.len();
        let d_h = steps
            .iter()
            .map(|s| s.d_h.clone().expect("kept").reshape([p, 1, h]))
            .collect();
        let d_h = Tensor::cat(d_h, 1);
        let traces: Vec<Trace<'_>> = steps
            .iter()
            .map(|s| Trace {
                x: &s.x,
                h_prev: &s.h_prev,
                gates: &s.gates,
            })
            .collect();
        let g = gru::backward(&self.cell(), &traces, d_h, 1);
        let d_x = g.d_gates_x.matmul(self.weights[0].clone().swap_dims(1, 2));
        let mut grads = vec![g.w_x, g.w_h, g.b_x, g.b_h];
        if self.config.max_grad_norm > 0.0 {
            grads = adam::clip(grads, self.config.max_grad_norm, p);
        }
        let decay = self.decay();
        self.adam
            .apply(self.weights.iter_mut(), grads, (self.config.lr * decay) as f32);
        // The input rows: each touched row's gradient summed over the window, then one lazy
        // Adam step on it (only touched rows' moments move; bias correction by the GRU's step).
        let unknown = self.unknown;
        let lr = (self.config.embed_lr * decay) as f32;
        let (b1, b2, eps) = (adam::BETA1, adam::BETA2, adam::EPSILON);
        let (c1, c2) = adam::corrections(self.adam.step);
        if let Some(tables) = self.tables.as_mut() {
            // One slot per distinct (agent, token); every step's gradient adds into its slot.
            let (mut rows, mut entries, mut slots) = (Vec::new(), Vec::new(), Vec::new());
            for a in 0..p {
                let mut seen: BTreeMap<u32, i64> = BTreeMap::new();
                for (t, s) in steps.iter().enumerate() {
                    let w = s.tokens[a];
                    if Some(w) == unknown {
                        continue;
                    }
                    let slot = *seen.entry(w).or_insert_with(|| {
                        rows.push(tables.row(a, w));
                        rows.len() as i64 - 1
                    });
                    entries.push((a * n + t) as i64);
                    slots.push(slot);
                }
            }
            let m = entries.len();
            if m == 0 {
                return;
            }
            let entries = Tensor::from_data(TensorData::new(entries, [m]), &self.device);
            let d_x = d_x
                .slice([0..p, 0..n, 0..e])
                .reshape([p * n, e])
                .select(0, entries);
            tables.adam(rows, slots, d_x, lr, (c1, c2));
            return;
        }
        let d_x = to_vec(d_x);
        for (a, agent) in self.agents.iter_mut().enumerate() {
            let mut rows: BTreeMap<usize, Vec<f32>> = BTreeMap::new();
            for (t, s) in steps.iter().enumerate() {
                let w = s.tokens[a];
                if Some(w) == unknown {
                    continue;
                }
                let dx = &d_x[(a * n + t) * i..(a * n + t) * i + e];
                let g = rows.entry(w as usize).or_insert_with(|| vec![0.0; e]);
                g.iter_mut().zip(dx).for_each(|(g, d)| *g += d);
            }
            for (w, g) in rows {
                let range = w * e..(w + 1) * e;
                let moments = agent.input_first[range.clone()]
                    .iter_mut()
                    .zip(&mut agent.input_second[range.clone()]);
                for ((x, (m, v)), g) in agent.input[range].iter_mut().zip(moments).zip(g) {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *x -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                }
            }
        }
    }

    /// The states `[P, N, H]` (host, row-major) after reading each of N phrases of one length
    /// from h = 0, `</s>` first where the vocabulary has it.
    fn read(&self, phrases: &[&[u32]]) -> Vec<f32> {
        let n = phrases.len();
        let len = phrases.first().map_or(0, |p| p.len());
        let mut h = Tensor::<3>::zeros([self.population, n, self.config.dim], &self.device);
        let lead = self.boundary.into_iter().map(|b| vec![b; n]);
        for tokens in lead.chain((0..len).map(|k| phrases.iter().map(|p| p[k]).collect())) {
            // One row per phrase, its token the same for every agent.
            let x = self.inputs_of(&tokens.iter().map(|&t| vec![t]).collect::<Vec<_>>(), None);
            h = gru::forward(&self.cell(), x, h).0;
        }
        to_vec(h)
    }

    /// One agent's latent row for a state (`[H]`) after reading a token whose output row o_w
    /// (`[H]`, read with `readout = "state_and_output"` only) is `output_row`.
    fn latent_row(&self, state: &[f32], output_row: &[f32], out: &mut [f32]) {
        let h = self.config.dim;
        let normalize = |z: &mut [f32], scale: f32| {
            if self.config.normalize {
                let norm = z.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 {
                    z.iter_mut().for_each(|x| *x *= scale / norm);
                }
            }
        };
        out[..h].copy_from_slice(state);
        match self.config.readout {
            Readout::State => normalize(&mut out[..h], 1.0),
            Readout::StateAndOutput => {
                out[h..].copy_from_slice(output_row);
                normalize(&mut out[..h], std::f32::consts::FRAC_1_SQRT_2);
                normalize(&mut out[h..], std::f32::consts::FRAC_1_SQRT_2);
            }
        }
    }

    /// Every agent's latent on the device from its state `[P, 1, H]` after reading `tokens`
    /// (the arithmetic of [`WorldModel::latent_row`]).
    fn device_latent(&self, tables: &WorldTables, state: Tensor<3>, tokens: &[u32]) -> Tensor<2> {
        let (p, h) = (self.population, self.config.dim);
        let unit = |z: Tensor<2>, scale: f32| {
            if self.config.normalize {
                let norm = (z.clone() * z.clone()).sum_dim(1).sqrt().clamp_min(TINY);
                z * (Tensor::<2>::full([p, 1], scale, &self.device) / norm)
            } else {
                z
            }
        };
        let state = state.reshape([p, h]);
        match self.config.readout {
            Readout::State => unit(state, 1.0),
            Readout::StateAndOutput => {
                let rows = tokens
                    .iter()
                    .enumerate()
                    .map(|(a, &w)| tables.row(a, w))
                    .collect();
                let half = std::f32::consts::FRAC_1_SQRT_2;
                Tensor::cat(vec![unit(state, half), unit(tables.output_rows(rows), half)], 1)
            }
        }
    }
}

impl Region for WorldModel {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let tokens = inputs
            .get("token")
            .ok_or_else(|| Error::Run("world_model: no `token` input".into()))?
            .to_host();
        let (p, h) = (self.population, self.config.dim);
        let tokens: Vec<u32> = tokens.column(0).iter().map(|&t| t as u32).collect();
        if let Some(&w) = tokens.iter().find(|&&w| w as usize >= self.vocab_size) {
            return Err(Error::Run(format!(
                "world_model: token id {w} is outside the vocabulary of {}",
                self.vocab_size
            )));
        }
        let starts: Vec<bool> = tokens.iter().map(|&t| Some(t) == self.boundary).collect();
        let any_start = starts.contains(&true);
        if self.learning {
            self.trained += 1;
            let clock = Instant::now();
            if self.window.last().is_some_and(|s| s.d_h.is_none()) {
                let d_h = self.predict(&tokens);
                self.window.last_mut().expect("checked").d_h = Some(d_h);
            }
            self.seconds[1] += clock.elapsed().as_secs_f64();
            if self.window.len() >= self.config.bptt || any_start {
                let clock = Instant::now();
                self.flush();
                self.seconds[2] += clock.elapsed().as_secs_f64();
            }
        }
        let clock = Instant::now();
        let x = self.inputs_of(std::slice::from_ref(&tokens), inputs.get("conditioning"));
        let h_prev = if any_start {
            let keep: Vec<f32> = starts.iter().map(|&s| if s { 0.0 } else { 1.0 }).collect();
            self.hidden.clone() * Tensor::<3>::from_data(TensorData::new(keep, [p, 1, 1]), &self.device)
        } else {
            self.hidden.clone()
        };
        let (next, gates) = gru::forward(&self.cell(), x.clone(), h_prev.clone());
        let z = if let Some(tables) = &self.tables {
            Signal::device(self.device_latent(tables, next.clone(), &tokens))
        } else {
            self.hidden_host = to_vec(next.clone());
            let mut z = Array2::zeros((p, self.config.latent_width()));
            for (a, mut row) in z.outer_iter_mut().enumerate() {
                let row = row.as_slice_mut().expect("contiguous rows");
                let state = &self.hidden_host[a * h..(a + 1) * h];
                self.latent_row(state, self.host_output_row(a, tokens[a]), row);
            }
            Signal::Host(z)
        };
        self.hidden = next;
        if self.learning {
            self.window.push(Step {
                x,
                h_prev,
                gates,
                tokens,
                d_h: None,
            });
        }
        self.seconds[0] += clock.elapsed().as_secs_f64();
        Ok(vec![("latent", z)])
    }

    fn set_learning(&mut self, learning: bool) {
        if !learning {
            // What has been predicted is learnt; the last step's outcome will not arrive.
            self.flush();
        }
        self.learning = learning;
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<WorldModelConfig>() {
            Some(c)
                if c.dim == self.config.dim
                    && c.embed == self.config.embed
                    && c.readout == self.config.readout =>
            {
                self.config = c.clone();
                Ok(())
            }
            Some(_) => Err(Error::Run(
                "world_model: `dim`, `embed` and `readout` cannot change during a run".into(),
            )),
            None => Err(Error::Run(format!(
                "world_model cannot become a `{}`",
                spec.kind()
            ))),
        }
    }

    fn concept_latent(&self, phrase: &[u32]) -> Option<Array2<f32>> {
        self.concept_latents(&[phrase]).map(|mut v| v.remove(0))
    }

    fn concept_latents(&self, phrases: &[&[u32]]) -> Option<Vec<Array2<f32>>> {
        let (p, h) = (self.population, self.config.dim);
        if phrases
            .iter()
            .any(|ph| ph.iter().any(|&w| w as usize >= self.vocab_size))
        {
            return None;
        }
        let mut out: Vec<Option<Array2<f32>>> = vec![None; phrases.len()];
        // Phrases of one length are read together, in batches of at most 4096.
        let mut lengths: Vec<usize> = phrases.iter().map(|ph| ph.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        for len in lengths {
            let idx: Vec<usize> = (0..phrases.len()).filter(|&i| phrases[i].len() == len).collect();
            for chunk in idx.chunks(4096) {
                let batch: Vec<&[u32]> = chunk.iter().map(|&i| phrases[i]).collect();
                let states = self.read(&batch);
                let n = batch.len();
                let last = |j: usize| *batch[j].last().or(self.boundary.as_ref()).unwrap_or(&0);
                // With the tables on a device, the output rows the latents read, [P, n, H].
                let rows = match (&self.tables, self.config.readout) {
                    (Some(tables), Readout::StateAndOutput) => {
                        let ids = (0..p).flat_map(|a| (0..n).map(move |j| (a, j)));
                        let ids = ids.map(|(a, j)| tables.row(a, last(j))).collect();
                        to_vec(tables.output_rows(ids))
                    }
                    _ => Vec::new(),
                };
                for (j, &i) in chunk.iter().enumerate() {
                    let mut z = Array2::zeros((p, self.config.latent_width()));
                    for (a, mut row) in z.outer_iter_mut().enumerate() {
                        let row = row.as_slice_mut().expect("contiguous rows");
                        let output_row = if rows.is_empty() {
                            self.host_output_row(a, last(j))
                        } else {
                            &rows[(a * n + j) * h..(a * n + j + 1) * h]
                        };
                        self.latent_row(&states[(a * n + j) * h..(a * n + j + 1) * h], output_row, row);
                    }
                    out[i] = Some(z);
                }
            }
        }
        out.into_iter().collect()
    }

    fn cross_entropy(&self, stream: &[u32]) -> Option<Array1<f64>> {
        let (p, h, v) = (self.population, self.config.dim, self.vocab_size);
        if stream.len() < 2 || stream.iter().any(|&w| w as usize >= v) {
            return None;
        }
        // The states before each prediction, [P, N−1, H+1] with the bias input 1.
        let n = stream.len() - 1;
        let mut states = vec![Array2::<f32>::ones((n, h + 1)); p];
        let mut state = Tensor::<3>::zeros([p, 1, h], &self.device);
        for (t, &w) in stream[..n].iter().enumerate() {
            if Some(w) == self.boundary {
                state = state.zeros_like();
            }
            let x = self.inputs_of(&[vec![w]], None);
            state = gru::forward(&self.cell(), x, state).0;
            let host = to_vec(state.clone());
            for (a, s) in states.iter_mut().enumerate() {
                s.row_mut(t)
                    .iter_mut()
                    .zip(&host[a * h..(a + 1) * h])
                    .for_each(|(x, y)| *x = *y);
            }
        }
        // Negative sampling's optimum is s = log p − log(k q): its distribution is softmax(s + log q).
        let log_q = match self.config.objective {
            Objective::NegativeSampling => Array1::from(self.log_noise.clone()),
            Objective::SampledSoftmax => Array1::zeros(v),
        };
        let targets = &stream[1..];
        // Every agent's output table (read back from a device, where the tables are there).
        let downloaded = self.tables.as_ref().map(|t| t.download()[3].clone());
        let outputs: Vec<&[f32]> = match &downloaded {
            Some(all) => all.chunks(v * (h + 1)).collect(),
            None => self.agents.iter().map(|a| &a.output[..]).collect(),
        };
        let ce = outputs
            .par_iter()
            .zip(states.par_iter())
            .map(|(output, s)| {
                let o = ndarray::ArrayView2::from_shape((v, h + 1), output).expect("V·(H+1)");
                let (mut total, mut count) = (0.0f64, 0usize);
                for start in (0..n).step_by(256) {
                    let end = (start + 256).min(n);
                    let logits = s.slice(ndarray::s![start..end, ..]).dot(&o.t()) + &log_q;
                    for (r, row) in logits.outer_iter().enumerate() {
                        let target = targets[start + r];
                        if Some(target) == self.unknown {
                            continue;
                        }
                        let max = row.fold(f32::MIN, |m, &x| m.max(x));
                        let lse =
                            max as f64 + row.iter().map(|&x| f64::from(x - max).exp()).sum::<f64>().ln();
                        total += lse - f64::from(row[target as usize]);
                        count += 1;
                    }
                }
                if count == 0 {
                    f64::NAN
                } else {
                    total / count as f64
                }
            })
            .collect::<Vec<_>>();
        Some(Array1::from(ce))
    }

    fn divergent_agent(&self) -> Option<usize> {
        let per_weight = self.weights.iter().filter_map(|t| {
            let per = t.dims()[1] * t.dims()[2];
            let values = to_vec(t.clone());
            values.chunks(per).position(|c| !c.iter().all(|v| v.is_finite()))
        });
        let tables = match &self.tables {
            Some(tables) => tables.first_non_finite(),
            None => self
                .agents
                .iter()
                .position(|a| !a.input.iter().chain(&a.output).all(|x| x.is_finite())),
        };
        per_weight.chain(tables).min()
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        let (p, v) = (self.population, self.vocab_size);
        let (e, h) = (self.config.embed, self.config.dim);
        for (i, name) in NAMES.iter().enumerate() {
            out.put_tensor(&format!("params/{name}"), &self.weights[i]);
            out.put_tensor(&format!("first_moment/{name}"), &self.adam.first[i]);
            out.put_tensor(&format!("second_moment/{name}"), &self.adam.second[i]);
        }
        out.put("adam_step", &self.adam.step);
        out.put("trained", &self.trained);
        out.put_tensor("hidden", &self.hidden);
        let [input, first, second, output] = self.host_tables();
        out.put_array("input", &[p, v, e], input);
        out.put_array("input_first_moment", &[p, v, e], first);
        out.put_array("input_second_moment", &[p, v, e], second);
        out.put_array("output", &[p, v, h + 1], output);
        out.put("rngs", &self.agents.iter().map(|a| &a.rng).collect::<Vec<_>>());
        // The window under way: its inputs and gradients (the gates are recomputed on restore:
        // the weights have not moved since).
        out.put("window_length", &self.window.len());
        for (t, s) in self.window.iter().enumerate() {
            out.put_tensor(&format!("window/{t}/x"), &s.x);
            out.put_tensor(&format!("window/{t}/h_prev"), &s.h_prev);
            out.put(&format!("window/{t}/tokens"), &s.tokens);
            let d_h = s.d_h.clone().map(to_vec);
            out.put(&format!("window/{t}/d_h"), &d_h);
        }
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let (p, v) = (self.population, self.vocab_size);
        let (e, h) = (self.config.embed, self.config.dim);
        let device = self.device.clone();
        for (i, name) in NAMES.iter().enumerate() {
            let dims = self.weights[i].dims();
            self.weights[i] = from.tensor(&format!("params/{name}"), dims, &device)?;
            self.adam.first[i] = from.tensor(&format!("first_moment/{name}"), dims, &device)?;
            self.adam.second[i] = from.tensor(&format!("second_moment/{name}"), dims, &device)?;
        }
        self.adam.step = from.get("adam_step")?;
        self.trained = from.get("trained")?;
        self.hidden = from.tensor("hidden", [p, 1, h], &device)?;
        self.hidden_host = to_vec(self.hidden.clone());
        let input = from.array("input", &[p, v, e])?;
        let first = from.array("input_first_moment", &[p, v, e])?;
        let second = from.array("input_second_moment", &[p, v, e])?;
        let output = from.array("output", &[p, v, h + 1])?;
        let rngs: Vec<SimRng> = from.get("rngs")?;
        if rngs.len() != p {
            return Err(Error::Run(format!(
                "checkpoint: saved for another population than {p}"
            )));
        }
        if let Some(tables) = self.tables.as_mut() {
            let (shape, agents) = ([p, v, e, h], tables.agents_per_block());
            *tables = WorldTables::upload(shape, [input, first, second, output], agents, &device);
            self.agents.iter_mut().zip(rngs).for_each(|(a, rng)| a.rng = rng);
        } else {
            for (a, (agent, rng)) in self.agents.iter_mut().zip(rngs).enumerate() {
                agent.rng = rng;
                agent.input.copy_from_slice(&input[a * v * e..(a + 1) * v * e]);
                agent
                    .input_first
                    .copy_from_slice(&first[a * v * e..(a + 1) * v * e]);
                agent
                    .input_second
                    .copy_from_slice(&second[a * v * e..(a + 1) * v * e]);
                agent
                    .output
                    .copy_from_slice(&output[a * v * (h + 1)..(a + 1) * v * (h + 1)]);
            }
        }
        self.window.clear();
        let i = self.input_width();
        for t in 0..from.get::<usize>("window_length")? {
            let x = from.tensor(&format!("window/{t}/x"), [p, 1, i], &device)?;
            let h_prev = from.tensor(&format!("window/{t}/h_prev"), [p, 1, h], &device)?;
            let gates = gru::forward(&self.cell(), x.clone(), h_prev.clone()).1;
            self.window.push(Step {
                x,
                h_prev,
                gates,
                tokens: from.get(&format!("window/{t}/tokens"))?,
                d_h: from
                    .get::<Option<Vec<f32>>>(&format!("window/{t}/d_h"))?
                    .map(|d| Tensor::from_data(TensorData::new(d, [p, h]), &device)),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{EOS, Vocabulary};

    fn model(vocab: &Vocabulary, config: &WorldModelConfig, p: usize) -> WorldModel {
        let device = Device::flex();
        let ctx = BuildContext {
            population: p,
            device: &device,
            seeds: (0..p as u64).map(|s| s + 100).collect(),
            vocabulary: vocab,
            input_widths: Default::default(),
        };
        WorldModel::new(config, &ctx)
    }

    fn tokens(ids: &[u32]) -> Inputs<'static> {
        let mut inputs = Inputs::default();
        let a = Array2::from_shape_vec((ids.len(), 1), ids.iter().map(|&t| t as f32).collect()).unwrap();
        inputs.insert("token", Signal::Host(a));
        inputs
    }

    fn small() -> WorldModelConfig {
        WorldModelConfig {
            dim: 8,
            embed: 4,
            bptt: 5,
            ..Default::default()
        }
    }

    /// `a b c d` repeated: a next-token model must get far below the unigram's ln 4 nats.
    #[test]
    fn learns_to_predict_a_deterministic_sequence() {
        let vocab = Vocabulary::from_counts((0..4).map(|i| (format!("w{i}"), 100)).collect());
        let mut m = model(&vocab, &small(), 2);
        let stream: Vec<u32> = (0..40).map(|t| t % 4).collect();
        let before = m.cross_entropy(&stream).unwrap();
        for t in 0..3000u32 {
            m.step(&tokens(&[t % 4, t % 4])).unwrap();
        }
        let after = m.cross_entropy(&stream).unwrap();
        for a in 0..2 {
            assert!((before[a] - 4f64.ln()).abs() < 0.1, "untrained: {}", before[a]);
            assert!(after[a] < 0.3, "agent {a}: {} nats after training", after[a]);
        }
    }

    /// Words that never occur (count 0: never drawn as noise) keep their input and output rows.
    #[test]
    fn only_the_rows_a_step_touches_move() {
        let vocab = Vocabulary::from_counts(vec![
            ("a".into(), 10),
            ("b".into(), 10),
            ("c".into(), 0),
            ("d".into(), 0),
        ]);
        let mut m = model(&vocab, &small(), 1);
        let (e, h) = (4, 8);
        let before = (m.agents[0].input.clone(), m.agents[0].output.clone());
        for t in 0..50u32 {
            m.step(&tokens(&[t % 2])).unwrap();
        }
        let agent = &m.agents[0];
        for w in 2..4 {
            assert_eq!(
                agent.input[w * e..(w + 1) * e],
                before.0[w * e..(w + 1) * e],
                "input row {w}"
            );
            assert_eq!(
                agent.output[w * (h + 1)..(w + 1) * (h + 1)],
                before.1[w * (h + 1)..(w + 1) * (h + 1)]
            );
        }
        for w in 0..2 {
            assert_ne!(
                agent.input[w * e..(w + 1) * e],
                before.0[w * e..(w + 1) * e],
                "input row {w}"
            );
            assert_ne!(
                agent.output[w * (h + 1)..(w + 1) * (h + 1)],
                before.1[w * (h + 1)..(w + 1) * (h + 1)]
            );
        }
    }

    /// A sentence start forgets the history: after `</s> w` the latent is the concept reading of
    /// `w`, whatever came before.
    #[test]
    fn a_concept_is_the_state_after_reading_it_from_a_sentence_start() {
        let mut words: Vec<(String, u64)> = (0..3).map(|i| (format!("w{i}"), 5)).collect();
        words.push((EOS.into(), 5));
        let vocab = Vocabulary::from_counts(words);
        let eos = vocab.id(EOS).unwrap();
        let mut m = model(&vocab, &small(), 2);
        for t in 0..40u32 {
            m.step(&tokens(&[t % 3, (t + 1) % 3])).unwrap();
        }
        m.set_learning(false);
        m.step(&tokens(&[1, 2])).unwrap();
        m.step(&tokens(&[eos, eos])).unwrap();
        let z = m.step(&tokens(&[0, 0])).unwrap()[0].1.to_host();
        let read = m.concept_latent(&[0]).unwrap();
        assert_eq!(z, read);
        let phrase = m.concept_latent(&[0, 1]).unwrap();
        let z = m.step(&tokens(&[1, 1])).unwrap()[0].1.to_host();
        assert_eq!(z, phrase);
        assert_ne!(read, phrase);
    }

    /// Save in the middle of a window, restore into a fresh model: the continuation is the
    /// same to the bit, and a frozen model still computes without learning.
    #[test]
    fn a_restore_mid_window_continues_exactly_and_frozen_learns_nothing() {
        let vocab = Vocabulary::from_counts((0..5).map(|i| (format!("w{i}"), 3 + i)).collect());
        let mut a = model(&vocab, &small(), 3);
        let feed = |m: &mut WorldModel, range: std::ops::Range<u32>| {
            range
                .map(|t| {
                    m.step(&tokens(&[t % 5, (t * 3) % 5, (t / 2) % 5])).unwrap()[0]
                        .1
                        .to_host()
                })
                .collect::<Vec<_>>()
        };
        feed(&mut a, 0..13);
        let mut snap = Snapshot::default();
        a.save(&mut snap).unwrap();
        assert_eq!(snap.get::<usize>("window_length").unwrap(), 3);
        let mut b = model(&vocab, &small(), 3);
        b.restore(&snap).unwrap();
        assert_eq!(feed(&mut a, 13..40), feed(&mut b, 13..40));
        let (mut sa, mut sb) = (Snapshot::default(), Snapshot::default());
        a.save(&mut sa).unwrap();
        b.save(&mut sb).unwrap();
        assert_eq!(sa.to_bytes(), sb.to_bytes());

        a.set_learning(false);
        let tables = (a.agents[1].input.clone(), a.agents[1].output.clone());
        let z = feed(&mut a, 40..60);
        assert_eq!(z.len(), 20);
        assert_eq!((a.agents[1].input.clone(), a.agents[1].output.clone()), tables);
        assert!(a.window.is_empty());
        assert_eq!(a.divergent_agent(), None);
    }

    #[test]
    fn a_non_finite_row_or_weight_names_its_agent() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1), ("b".into(), 1)]);
        let mut m = model(&vocab, &small(), 3);
        assert_eq!(m.divergent_agent(), None);
        m.agents[2].output[5] = f32::NAN;
        assert_eq!(m.divergent_agent(), Some(2));
        let [p, r, c] = m.weights[1].dims();
        let mut w = vec![0.0f32; p * r * c];
        w[r * c + 3] = f32::INFINITY;
        m.weights[1] = Tensor::from_data(TensorData::new(w, [p, r, c]), &m.device);
        assert_eq!(m.divergent_agent(), Some(1));
    }

    /// Step sizes fall linearly with the ticks trained, to their floor; frozen ticks do not count.
    #[test]
    fn step_sizes_decay_linearly_to_their_floor() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1), ("b".into(), 1)]);
        let config = WorldModelConfig {
            decay_steps: 10,
            lr_min_fraction: 0.2,
            ..small()
        };
        let mut m = model(&vocab, &config, 1);
        assert_eq!(m.decay(), 1.0);
        for t in 0..5 {
            m.step(&tokens(&[t % 2])).unwrap();
        }
        assert!((m.decay() - 0.5).abs() < 1e-12, "{}", m.decay());
        m.set_learning(false);
        m.step(&tokens(&[0])).unwrap();
        assert!((m.decay() - 0.5).abs() < 1e-12);
        m.set_learning(true);
        for t in 0..20 {
            m.step(&tokens(&[t % 2])).unwrap();
        }
        assert_eq!(m.decay(), 0.2);
    }

    /// The device path (`world_tables.rs`: gathers and scatters as burn ops, the three agents'
    /// tables in blocks of two as on a GPU whose largest buffer holds two) run on the CPU's
    /// flex device against the host path: the same draws, so every latent, table, concept
    /// reading, cross-entropy and checkpoint must agree up to float rounding. Both objectives and
    /// both readouts, a vocabulary with `</s>` and `<unk>` (never a target), a conditioning input
    /// on one of them, and few words, so a prediction often draws one noise token twice.
    #[test]
    fn device_tables_train_as_the_host_tables_do() {
        use crate::vocabulary::UNK;
        let mut words: Vec<(String, u64)> = (0..12).map(|i| (format!("w{i}"), 1 + i % 5)).collect();
        words.extend([(EOS.to_string(), 4), (UNK.to_string(), 2)]);
        let vocab = Vocabulary::from_counts(words);
        let cases = [
            (Objective::SampledSoftmax, Readout::State, 0),
            (Objective::NegativeSampling, Readout::StateAndOutput, 3),
        ];
        for (objective, readout, conditioning) in cases {
            let config = WorldModelConfig {
                objective,
                readout,
                table_lr: 0.2,
                embed_lr: 0.02,
                lr: 0.01,
                ..small()
            };
            let build = || {
                let device = Device::flex();
                let ctx = BuildContext {
                    population: 3,
                    device: &device,
                    seeds: vec![7, 8, 9],
                    vocabulary: &vocab,
                    input_widths: [("conditioning", conditioning)]
                        .into_iter()
                        .filter(|c| c.1 > 0)
                        .collect(),
                };
                WorldModel::new(&config, &ctx)
            };
            let (mut host, mut device) = (build(), build());
            device.move_tables_in_blocks(&Device::flex(), 2);
            let mut rng = SimRng::seed_from_u64(3);
            let mut feed = |m: &mut [&mut WorldModel], ticks: usize| {
                let mut worst = 0.0f32;
                for _ in 0..ticks {
                    let ids: Vec<u32> = (0..3).map(|_| rng.gen_range(0..vocab.len() as u32)).collect();
                    let mut inputs = tokens(&ids);
                    if conditioning > 0 {
                        let c = Array2::from_shape_fn((3, conditioning), |_| rng.gen_range(-1.0..1.0));
                        inputs.insert("conditioning", Signal::Host(c));
                    }
                    let z: Vec<Signal> = m
                        .iter_mut()
                        .map(|m| m.step(&inputs).unwrap().remove(0).1)
                        .collect();
                    assert!(
                        matches!(z[1], Signal::Device(_)),
                        "the device path returns a device latent"
                    );
                    let (a, b) = (z[0].to_host(), z[1].to_host());
                    worst = a.iter().zip(&b).fold(worst, |w, (x, y)| w.max((x - y).abs()));
                }
                worst
            };
            let worst = feed(&mut [&mut host, &mut device], 300);
            eprintln!("{objective:?}: latents differ by {worst:e}");
            assert!(worst < 1e-4, "{objective:?}: latents differ by {worst}");
            let (mut a, mut b) = (Snapshot::default(), Snapshot::default());
            host.save(&mut a).unwrap();
            device.save(&mut b).unwrap();
            let v = vocab.len();
            for (key, width) in [
                ("input", 4),
                ("input_first_moment", 4),
                ("input_second_moment", 4),
                ("output", 9),
            ] {
                let (x, y) = (
                    a.array(key, &[3, v, width]).unwrap(),
                    b.array(key, &[3, v, width]).unwrap(),
                );
                let scale = x.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let off = x.iter().zip(&y).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    off < 1e-4 * scale.max(1.0),
                    "{objective:?}: {key} differs by {off}"
                );
                assert!(scale > 0.0, "{key} is all zeros");
            }
            // `<unk>`'s input row never moved on either.
            let unk = vocab.id(UNK).unwrap() as usize;
            let before = build().agents[1].input[unk * 4..unk * 4 + 4].to_vec();
            assert_eq!(
                b.array("input", &[3, v, 4]).unwrap()[(v + unk) * 4..(v + unk) * 4 + 4],
                before[..]
            );
            let (x, y) = (
                host.concept_latent(&[3, 7]).unwrap(),
                device.concept_latent(&[3, 7]).unwrap(),
            );
            assert!(x.iter().zip(&y).all(|(x, y)| (x - y).abs() < 1e-4), "{x} vs {y}");
            let stream: Vec<u32> = (0..30).map(|t| (t * 5 % v) as u32).collect();
            let (x, y) = (
                host.cross_entropy(&stream).unwrap(),
                device.cross_entropy(&stream).unwrap(),
            );
            assert!(
                x.iter().zip(&y).all(|(x, y)| (x - y).abs() < 1e-4 * x.abs()),
                "{x} vs {y}"
            );
            assert_eq!(device.divergent_agent(), None);
            // A checkpoint taken mid-window restores into device tables and continues exactly.
            let mut again = build();
            again.move_tables_in_blocks(&Device::flex(), 2);
            again.restore(&b).unwrap();
            let rest = feed(&mut [&mut device, &mut again], 40);
            assert_eq!(rest, 0.0, "a restored device model continues as the original");
        }
    }

    #[test]
    fn out_of_vocabulary_token_is_an_error() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1)]);
        let mut m = model(&vocab, &small(), 1);
        assert!(m.step(&tokens(&[3])).is_err());
        assert!(m.concept_latent(&[3]).is_none());
    }
}
