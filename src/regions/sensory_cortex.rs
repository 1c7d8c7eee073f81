//! # SensoryCortex — an unsupervised latent space of the token stream
//!
//! Models the sensory/associative cortex as a predictive learner that, without any reward,
//! places tokens that occur in similar contexts near one another (Mikolov et al. 2013,
//! skip-gram with negative sampling, trained online as the tokens stream by).
//!
//! For each new token w_t and each earlier token c in the window (both directions), with k noise
//! tokens n_i drawn from the unigram distribution raised to 3/4:
//!
//! ```text
//! g_+   = η · (1 − σ(u_w · v_c))          g_i = η · (0 − σ(u_w · v_{n_i}))
//! u_w  += g_+ · v_c + Σ_i g_i · v_{n_i}   v_c += g_+ · u_w     v_{n_i} += g_i · u_w
//! ```
//!
//! The readout of a token is e(w) = u_w + v_w (the "w + c" embedding of Levy, Goldberg & Dagan
//! 2015, which keeps first-order co-occurrence in the geometry) or u_w alone. The latent state is
//! a decaying blend of recent readouts, c_t = β·c_{t−1} + (1 − β)·e(w_t), unit-normalised when
//! `normalize` is set; z_t = c_t.
//!
//! An optional `conditioning` input (e.g. from a prefrontal controller) is added to c_t before
//! normalisation: goal-conditioning of the world model's state.
//!
//! Ports: inputs `token` `[P, 1]` (Token, required), `conditioning` `[P, dim]` (Latent, optional);
//! output `latent` `[P, dim]` (Latent).
//!
//! Parameters (default; unit):
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `dim` | 32 | D, latent dimension |
//! | `window` | 2 | earlier tokens each new token is paired with (both directions) |
//! | `negatives` | 5 | k, noise tokens per pair |
//! | `lr` | 0.05 | η, learning rate per pair update |
//! | `lr_min`, `decay_steps` | 0.0001, 0 | linear decay η_t = max(lr_min, η(1 − t/decay_steps)); 0 = constant |
//! | `subsample` | 0 | t, frequent-word subsampling: keep with probability (√(f/t) + 1)·t/f |
//! | `context_decay` | 0 | β ∈ [0, 1), blend of the previous latent |
//! | `readout` | "sum" | "sum" (u + v) or "input" (u) |
//! | `normalize` | true | unit-normalise z |
//! | `center` | false | subtract the mean readout (Mu & Viswanath 2018) |
//! | `center_every` | 1024 | trained ticks between recomputations of that mean |
//! | `orthogonal` | false | orthogonal initial vectors: frozen, a tabular state code |
//! | `update` | "sequential" | "sequential" (each pair sees the pairs before it) or "tick" |
//! | `shared_negatives` | false | the population draws each tick's noise tokens once, for every agent |
//!
//! With `update = "tick"` every pair of a tick reads the tables as they stood at the tick's
//! start and the updates of all pairs are summed into the rows they touch (a minibatch of one
//! tick): on a GPU device (`wgpu`) the tables then live on the device as burn tensors, updated
//! by gather and scatter-add (`sgns_tables.rs`); on the CPU the same arithmetic runs on the
//! host. With `"sequential"` (word2vec's order) the tables are on the host on every device.
//!
//! `</s>` empties the window (no pair crosses a sentence); `<unk>` is never trained on.
//!
//! A concept is read as its readout, z(w) = e(w) (normalised, centred as the latent is); a
//! phrase `w₁ … w_n` as the blend the latent computes over it, c = e(w₁), then
//! c ← β·c + (1 − β)·e(w_i) for each later word (with β = 0: the last word's readout).
//!
//! Each agent has its own tables, initialised from its own seed. Tables live in host memory and
//! only the touched rows are updated, in place, agents in parallel: a dense gradient over a table
//! costs ~600× more (DESIGN.md §6).

use std::collections::VecDeque;

use crate::rng::SimRng;
use ndarray::Array2;
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Uniform;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fork::Helper;
use super::sgns_tables::DeviceTables;
use super::{
    BuildContext, Inputs, Outputs, PARALLEL_MIN_AGENTS, ParamError, PortSpec, Ports, Region, RegionParams,
    RegionSpec, Traffic, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};
use burn::prelude::{Device, Tensor};

/// How a token's latent point is read from the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// u_w + v_w: first- and second-order co-occurrence (Levy et al. 2015).
    Sum,
    /// u_w only: second-order similarity (shared contexts).
    Input,
}

/// How the pairs of a tick update the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Update {
    /// word2vec's order: each pair's update sees the pairs before it (host tables).
    Sequential,
    /// Every pair reads the tables as they stood at the tick's start; their updates are summed
    /// into the rows they touch. On a GPU device the tables live there (gather, scatter-add).
    Tick,
}

/// Hyperparameters of [`SensoryCortex`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensoryCortexConfig {
    /// Latent dimension D.
    pub dim: usize,
    /// How many earlier tokens each new token is paired with.
    pub window: usize,
    /// Noise tokens per pair (k).
    pub negatives: usize,
    /// Learning rate η.
    pub lr: f64,
    /// β in c_t = β·c_{t−1} + (1 − β)·e(w_t); 0 makes the latent the current token's readout.
    pub context_decay: f64,
    /// How a token's latent point is read from the tables.
    pub readout: Readout,
    /// Unit-normalise the latent (the geometry is then cosine geometry).
    pub normalize: bool,
    /// Frequent-word subsampling threshold t (Mikolov et al. 2013): a word of frequency f is
    /// kept for training with probability (√(f/t) + 1)·t/f; 0 keeps every word.
    pub subsample: f64,
    /// Linear learning-rate decay: η_t = max(lr_min, η·(1 − t/decay_steps)); 0 keeps η constant.
    pub decay_steps: u64,
    /// The floor of the decaying learning rate.
    pub lr_min: f64,
    /// Subtract the mean readout over the vocabulary before normalising ("all-but-the-top",
    /// Mu & Viswanath 2018): SGNS vectors share a large common direction, strongest in rare
    /// words, that otherwise dominates every cosine. The mean is refreshed every
    /// `center_every` trained ticks and whenever learning is switched.
    pub center: bool,
    /// Trained ticks between recomputations of the mean readout (with `center`). Each reads
    /// both tables whole (8·V·D bytes an agent): on a large vocabulary a longer interval spares
    /// most of that traffic, while the mean, an average over every word, barely moves.
    pub center_every: u64,
    /// Initialise the input vectors orthogonal (Gram–Schmidt on the random rows; when the
    /// vocabulary outnumbers `dim`, only the first `dim` words): with learning frozen, every
    /// token is then a state of its own, the tabular "complete serial compound" of classic TD
    /// models (Sutton & Barto 1990).
    pub orthogonal: bool,
    /// How a tick's pairs update the tables (and, on a GPU device, where the tables live).
    pub update: Update,
    /// Every agent trains a tick against the same noise tokens, drawn once a tick from one
    /// generator of the population's, instead of its own draws. Each agent's noise is still
    /// distributed as unigram^¾ and its tables, seed and subsampling stay its own; what changes is
    /// that the agents' noise is common, so their differences no longer include that part of
    /// SGNS's sampling variance (a spread across agents understates independent learners'). In
    /// exchange a tick's noise rows are the same words in every agent (and its window's too when
    /// the agents read one stream), which the host tables then store side by side for the agents
    /// one thread trains: faster for populations whose tables outgrow the cache (#22: ~2× P = 1
    /// at P = 32 on two cores). The layout is chosen when the region is built: a phase that
    /// switches the option changes the draws, not the layout (nor any result of the layout).
    pub shared_negatives: bool,
}

impl Default for SensoryCortexConfig {
    fn default() -> Self {
        SensoryCortexConfig {
            dim: 32,
            window: 2,
            negatives: 5,
            lr: 0.05,
            context_decay: 0.0,
            readout: Readout::Sum,
            normalize: true,
            subsample: 0.0,
            decay_steps: 0,
            lr_min: 0.0001,
            center: false,
            center_every: 1024,
            orthogonal: false,
            update: Update::Sequential,
            shared_negatives: false,
        }
    }
}

impl RegionParams for SensoryCortexConfig {
    const KIND: &'static str = "sensory_cortex";
    const CORTEX: bool = true;
    const SUMMARY: &'static str =
        "unsupervised latent space of the token stream (skip-gram with negative sampling)";
    const DETAIL: &'static str = include_str!("sensory_cortex.rs");

    /// The ports.
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
                    "added to the latent before normalisation (goal-conditioning)",
                ),
            ],
            outputs: vec![PortSpec::output(
                "latent",
                SignalKind::Latent,
                self.dim,
                "z_t, the blended readout of recent tokens",
            )],
        }
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        super::check_sizes(&[
            ("dim", self.dim, super::MAX_WIDTH),
            ("window", self.window, 10_000),
            ("negatives", self.negatives, 10_000),
        ])?;
        if self.dim == 0 {
            return Err(ParamError::new("dim", "an integer ≥ 1"));
        }
        if self.window == 0 {
            return Err(ParamError::new("window", "an integer ≥ 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ParamError::new("lr", "a number > 0"));
        }
        if !(self.subsample >= 0.0 && self.subsample.is_finite()) {
            return Err(ParamError::new("subsample", "a number ≥ 0"));
        }
        if !(self.lr_min >= 0.0 && self.lr_min <= self.lr) {
            return Err(ParamError::new("lr_min", "a number in [0, lr]"));
        }
        if !(0.0..1.0).contains(&self.context_decay) {
            return Err(ParamError::new("context_decay", "a number in [0, 1)"));
        }
        if self.center_every == 0 {
            return Err(ParamError::new("center_every", "an integer ≥ 1"));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(SensoryCortex::new(self, ctx)))
    }

    /// The input and output tables, `[V, D]` each.
    fn bytes_per_agent(&self, vocabulary: usize) -> u64 {
        8u64.saturating_mul(vocabulary as u64)
            .saturating_mul(self.dim as u64)
    }
}

/// One agent's stream state (its tables are rows of a [`Tables`] block).
#[derive(Clone)]
struct Agent {
    history: VecDeque<u32>,
    context: Vec<f32>,
    rng: SimRng,
    /// The mean readout over the vocabulary (zeros unless `center`).
    mean: Vec<f32>,
    /// Scratch buffers of length D, kept to spare the tick an allocation.
    grad: Vec<f32>,
    readout: Vec<f32>,
    /// A tick's noise tokens, drawn before any pair is trained (scratch).
    negatives: Vec<u32>,
    /// The tick update's scratch (boxed: the sequential update's agents stay as small).
    tick: Box<TickScratch>,
    /// Whether this tick's token trains and enters the window (set by `prepare`).
    kept: bool,
}

/// A tick's (centre, target, label) triples and their row updates (`update = "tick"`).
#[derive(Clone, Default)]
struct TickScratch {
    triples: Vec<(u32, u32, f32)>,
    deltas: Vec<f32>,
}

/// The host tables u and v of a block of `width` agents, interleaved by word (`[V][width][D]`):
/// agent `slot`'s row of word w starts at (w·width + slot)·D, so the rows that one word has in
/// every agent of the block are adjacent. With `shared_negatives` a block is a run of agents
/// one thread trains in order, whose noise rows (and, when they read one stream, their window's
/// rows) are then the same words: a tick's rows are a few contiguous stretches instead of P
/// scattered ones. With private noise tokens the layout changes no value but measured 7% slower
/// at P = 32 (#22), so then each block is one agent's: a table of its own.
#[derive(Clone)]
struct Tables {
    input: Vec<f32>,
    output: Vec<f32>,
    width: usize,
    dim: usize,
}

/// One of an agent's two tables.
#[derive(Clone, Copy)]
enum Table {
    /// u, the input (centre) vectors.
    Input,
    /// v, the output (context) vectors.
    Output,
}

impl Tables {
    /// P agents' zero tables in blocks of `width` (the last may hold fewer).
    fn blocks(p: usize, width: usize, vocab_size: usize, dim: usize) -> Vec<Tables> {
        (0..p.div_ceil(width))
            .map(|b| {
                let width = width.min(p - b * width);
                let n = width * vocab_size * dim;
                Tables {
                    input: vec![0.0; n],
                    output: vec![0.0; n],
                    width,
                    dim,
                }
            })
            .collect()
    }

    /// Where agent `slot`'s row of word `w` starts.
    #[inline(always)]
    fn at(&self, slot: usize, w: usize) -> usize {
        (w * self.width + slot) * self.dim
    }

    fn u(&self, slot: usize, w: usize) -> &[f32] {
        let i = self.at(slot, w);
        &self.input[i..i + self.dim]
    }

    fn v(&self, slot: usize, w: usize) -> &[f32] {
        let i = self.at(slot, w);
        &self.output[i..i + self.dim]
    }

    /// Agent `slot`'s table `which`, `[V·D]` row-major, appended to `out`.
    fn gather(&self, which: Table, slot: usize, out: &mut Vec<f32>) {
        let table = match which {
            Table::Input => &self.input,
            Table::Output => &self.output,
        };
        let vocab_size = table.len() / (self.width * self.dim);
        (0..vocab_size).for_each(|w| out.extend_from_slice(&table[self.at(slot, w)..][..self.dim]));
    }

    /// Writes agent `slot`'s table `which` from `[V·D]` row-major rows.
    fn scatter(&mut self, which: Table, slot: usize, rows: &[f32]) {
        for (w, row) in rows.chunks_exact(self.dim).enumerate() {
            let i = self.at(slot, w);
            let table = match which {
                Table::Input => &mut self.input,
                Table::Output => &mut self.output,
            };
            table[i..i + row.len()].copy_from_slice(row);
        }
    }

    fn finite(&self, slot: usize) -> bool {
        let vocab_size = self.input.len() / (self.width * self.dim);
        (0..vocab_size).all(|w| {
            self.u(slot, w)
                .iter()
                .chain(self.v(slot, w))
                .all(|x| x.is_finite())
        })
    }
}

/// Skip-gram cortex for P agents. See the module documentation.
pub struct SensoryCortex {
    config: SensoryCortexConfig,
    agents: Vec<Agent>,
    /// The agents' host tables in blocks of `width` (agent a is slot a mod `width` of block
    /// a / `width`); empty on a GPU device.
    tables: Vec<Tables>,
    /// Agents per block of the tables (the last may have fewer): a run's worth with
    /// `shared_negatives`, whose rows are then the same words side by side; else 1, one table
    /// per agent (measured 7% faster at P = 32 when each agent draws its own noise).
    width: usize,
    /// Agents per run, the unit one thread trains in order (a multiple of `width`).
    run_len: usize,
    /// The population's generator for `shared_negatives`.
    noise_rng: SimRng,
    /// The unigram^0.75 distribution for drawing noise tokens.
    noise: NoiseTable,
    vocab_size: usize,
    learning: bool,
    /// Per token, the probability of being kept for training (subsampling).
    keep: Vec<f32>,
    /// `</s>`: a sentence boundary empties the context window.
    boundary: Option<u32>,
    /// `<unk>`: never trained on.
    unknown: Option<u32>,
    /// Ticks trained so far (for the learning-rate schedule).
    trained: u64,
    /// A second thread for half the agents, where the tables outgrow the cache and the
    /// population is too small for rayon or the machine has two threads to give (see
    /// [`HELPER_MIN_BYTES`]).
    helper: Option<Helper>,
    /// The tables, context and means on a GPU device (`update = "tick"` there); `tables` and
    /// the agents' contexts and means are then empty.
    device: Option<DeviceTables>,
}

/// Tables per agent (8·V·D bytes) from which a population of two or more agents is split over
/// two threads with a [`Helper`], the first half of the agents always on the calling thread and
/// the second always on the helper: below it a tick's work is a few microseconds an agent,
/// cache-resident, and one thread is as fast (`PARALLEL_MIN_AGENTS`'s measurement). Above it
/// each thread's cache keeps its own agents' hot rows from tick to tick, which rayon's
/// work-stealing (any thread may take any run of agents) does not: on two threads,
/// `valence bench` on WordNet (13.8 MB an agent) measured P = 32 at 1.09× P = 1 with rayon
/// and 1.43–1.64× (median 1.53 over nine runs) with fixed halves. A two-thread machine also
/// splits populations of `PARALLEL_MIN_AGENTS` or more with small tables over the helper, not
/// rayon (whose two workers and the helper, still spinning after the PFC's job, were three
/// threads on two cores): `valence bench --brain` (millidge, 2026-12-06, three interleaved
/// pairs) P = 32 0.105–0.107 → 0.080–0.083 ms a tick, P = 1024 4.13–4.30 → 3.80–4.07 ms. With
/// more than two threads, populations of `PARALLEL_MIN_AGENTS` or more go to rayon (more cores,
/// no affinity); a team of sticky threads, one per core, would generalise the helper.
pub(crate) const HELPER_MIN_BYTES: u64 = 4 << 20;

/// How many agents ahead a run of agents prepares (draws and prefetches) before it trains
/// (P = 32 on two threads: 1, 2 and 4 measured within each other's noise).
const AHEAD: usize = 1;

impl SensoryCortex {
    /// Builds P agents' tables, u ~ U(−0.5/D, 0.5/D) and v = 0 as in word2vec.
    pub fn new(config: &SensoryCortexConfig, ctx: &BuildContext<'_>) -> Self {
        let vocab_size = ctx.vocabulary.len();
        let d = config.dim;
        let p = ctx.seeds.len();
        // Who trains which agents decides the blocks of the tables (one per run of agents).
        let on_device = config.update == Update::Tick && *ctx.device != Device::flex();
        let two_threads = rayon::current_num_threads() == 2;
        let large = config.bytes_per_agent(vocab_size) >= HELPER_MIN_BYTES;
        let helper = if !on_device
            && p >= 2
            && (p < PARALLEL_MIN_AGENTS && large || p >= PARALLEL_MIN_AGENTS && two_threads)
        {
            Helper::spawn()
        } else {
            None
        };
        let run_len = if helper.is_some() {
            p.div_ceil(2)
        } else if p >= PARALLEL_MIN_AGENTS {
            (p / (8 * rayon::current_num_threads())).max(1)
        } else {
            p.max(1)
        };
        // Blocks of a run's agents with shared draws on the host (a device takes the tables
        // agent by agent, and one table per agent is faster with private draws).
        let width = if config.shared_negatives && !on_device {
            run_len
        } else {
            1
        };
        let mut tables = Tables::blocks(p, width, vocab_size, d);
        let agents = ctx
            .seeds
            .iter()
            .enumerate()
            .map(|(a, &seed)| {
                let mut rng = SimRng::seed_from_u64(seed);
                let bound = 0.5 / d as f32;
                let mut input = Array2::random_using((vocab_size, d), Uniform::new(-bound, bound), &mut rng)
                    .into_raw_vec_and_offset()
                    .0;
                if config.orthogonal {
                    orthogonalise(&mut input, vocab_size.min(d), d, bound);
                }
                tables[a / width].scatter(Table::Input, a % width, &input);
                Agent {
                    history: VecDeque::with_capacity(config.window + 1),
                    context: vec![0.0; d],
                    rng,
                    mean: vec![0.0; d],
                    grad: vec![0.0; d],
                    readout: vec![0.0; d],
                    negatives: Vec::with_capacity(2 * config.window * config.negatives),
                    tick: Box::default(),
                    kept: false,
                }
            })
            .collect();
        let mut total = 0.0;
        let noise_cdf = ctx
            .vocabulary
            .counts()
            .iter()
            .map(|&c| {
                total += (c as f64).powf(0.75);
                total
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|c| if total > 0.0 { c / total } else { 0.0 })
            .collect();
        let counts = ctx.vocabulary.counts();
        let total = counts.iter().sum::<u64>().max(1) as f64;
        let keep = counts
            .iter()
            .map(|&c| {
                let f = c as f64 / total;
                let t = config.subsample;
                if t <= 0.0 || f <= 0.0 {
                    1.0
                } else {
                    (((f / t).sqrt() + 1.0) * t / f).min(1.0) as f32
                }
            })
            .collect();
        let mut cortex = SensoryCortex {
            config: config.clone(),
            agents,
            tables,
            width,
            run_len,
            noise_rng: SimRng::seed_from_u64(crate::rng::derive_seed(
                ctx.seeds.first().copied().unwrap_or(0),
                &[crate::rng::name_hash("shared_negatives")],
            )),
            noise: NoiseTable::new(noise_cdf),
            vocab_size,
            learning: true,
            keep,
            boundary: ctx.vocabulary.id(crate::vocabulary::EOS),
            unknown: ctx.vocabulary.id(crate::vocabulary::UNK),
            trained: 0,
            helper,
            device: None,
        };
        if on_device {
            // Initialised on the host from the same seeds, so both devices start alike.
            cortex.move_tables_to(ctx.device);
        }
        cortex.refresh_means();
        cortex
    }

    /// Moves the host tables, contexts and means to `device` (the host copies are emptied), in
    /// blocks of as many agents as fit the device's largest buffer.
    fn move_tables_to(&mut self, device: &Device) {
        let limit = crate::device::max_tensor_bytes(device);
        let agents = super::device_tables::agents_per_block(limit, self.vocab_size, self.config.dim);
        self.move_tables_in_blocks(device, agents);
    }

    /// [`SensoryCortex::move_tables_to`] in blocks of `agents` agents.
    fn move_tables_in_blocks(&mut self, device: &Device, agents: usize) {
        // Each block (one agent's tables: see `new`) is freed once copied.
        let size = self.agents.len() * self.vocab_size * self.config.dim;
        let (mut input, mut output) = (Vec::with_capacity(size), Vec::with_capacity(size));
        for block in std::mem::take(&mut self.tables) {
            for slot in 0..block.width {
                block.gather(Table::Input, slot, &mut input);
                block.gather(Table::Output, slot, &mut output);
            }
        }
        let mut take = |f: fn(&mut Agent) -> &mut Vec<f32>| {
            let mut all = Vec::new();
            self.agents
                .iter_mut()
                .for_each(|a| all.extend_from_slice(&std::mem::take(f(a))));
            all
        };
        let (context, mean) = (take(|a| &mut a.context), take(|a| &mut a.mean));
        let shape = [self.agents.len(), self.vocab_size, self.config.dim];
        let tables = [input, output, context, mean];
        self.device = Some(DeviceTables::upload(shape, tables, agents, device));
    }

    /// η at the current training tick: linear decay to `lr_min` over `decay_steps`.
    pub fn learning_rate(&self) -> f32 {
        let c = &self.config;
        if c.decay_steps == 0 {
            c.lr as f32
        } else {
            (c.lr * (1.0 - self.trained as f64 / c.decay_steps as f64)).max(c.lr_min) as f32
        }
    }

    /// Recomputes each agent's mean readout (when `center`).
    fn refresh_means(&mut self) {
        if !self.config.center {
            return;
        }
        let (config, v) = (&self.config, self.vocab_size);
        let skip = [self.boundary, self.unknown];
        if let Some(tables) = self.device.as_mut() {
            let skip: Vec<usize> = skip.iter().flatten().map(|&w| w as usize).collect();
            return tables.refresh_means(config.readout, &skip);
        }
        let (tables, width) = (&self.tables, self.width);
        self.agents.par_iter_mut().enumerate().for_each(|(a, agent)| {
            let d = config.dim;
            let mut mean = vec![0.0f64; d];
            let mut e = vec![0.0f32; d];
            let mut n = 0usize;
            agent.mean.iter_mut().for_each(|m| *m = 0.0);
            for w in (0..v).filter(|w| !skip.contains(&Some(*w as u32))) {
                SensoryCortex::readout(config, &tables[a / width], a % width, &agent.mean, w, &mut e);
                mean.iter_mut().zip(&e).for_each(|(m, x)| *m += f64::from(*x));
                n += 1;
            }
            agent.mean = mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect();
        });
    }

    /// A tick with the tables on the device: the host makes each agent's draws and lists the
    /// tick's triples (rows a·V + token), the device trains them and blends the latent.
    fn step_on_device(
        tables: &mut DeviceTables,
        agents: &mut [Agent],
        tokens: &[f32],
        (config, learning, lr): (&SensoryCortexConfig, bool, f32),
        draw: impl Fn(&mut Agent, usize),
        conditioning: Option<Tensor<2>>,
    ) -> Result<Tensor<2>> {
        let vocab_size = tables.vocab_size();
        let mut words = Vec::with_capacity(agents.len());
        let (mut centres, mut targets, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for (a, (agent, &token)) in agents.iter_mut().zip(tokens).enumerate() {
            let w = token as usize;
            if w >= vocab_size {
                return Err(out_of_vocabulary(w, vocab_size));
            }
            draw(agent, w);
            if agent.kept {
                if learning {
                    agent.list_triples(w, config.negatives);
                    let offset = (a * vocab_size) as i64;
                    for &(c, t, label) in &agent.tick.triples {
                        centres.push(offset + i64::from(c));
                        targets.push(offset + i64::from(t));
                        labels.push(label);
                    }
                }
                agent.remember(w, config.window);
            }
            words.push(w);
        }
        tables.train(centres, targets, labels, lr);
        let beta = config.context_decay as f32;
        Ok(tables.latent(&words, config.readout, beta, conditioning, config.normalize))
    }

    /// Every agent's readout e(w) of token `w`, `[P·D]`: from the device's tables or the host's.
    fn readouts_of(&self, w: usize) -> Vec<f32> {
        if let Some(tables) = &self.device {
            return tables.readouts_of(w, self.config.readout);
        }
        let d = self.config.dim;
        let mut out = vec![0.0f32; self.agents.len() * d];
        for (a, (agent, e)) in self.agents.iter().zip(out.chunks_exact_mut(d)).enumerate() {
            let (tables, slot) = self.block_of(a);
            SensoryCortex::readout(&self.config, tables, slot, &agent.mean, w, e);
        }
        out
    }

    /// Agent a's block of the host tables and its slot there.
    fn block_of(&self, a: usize) -> (&Tables, usize) {
        (&self.tables[a / self.width], a % self.width)
    }

    /// Every agent's host table `which`, `[P·V·D]` agent-major.
    fn host_table(&self, which: Table) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.agents.len() * self.vocab_size * self.config.dim);
        for tables in &self.tables {
            (0..tables.width).for_each(|slot| tables.gather(which, slot, &mut out));
        }
        out
    }

    /// Writes every agent's host tables from `[P·V·D]` agent-major arrays.
    fn set_host_tables(&mut self, input: &[f32], output: &[f32]) {
        let size = self.vocab_size * self.config.dim;
        for a in 0..self.agents.len() {
            let (tables, slot) = (&mut self.tables[a / self.width], a % self.width);
            let rows = a * size..(a + 1) * size;
            tables.scatter(Table::Input, slot, &input[rows.clone()]);
            tables.scatter(Table::Output, slot, &output[rows]);
        }
    }

    /// Regroups the host tables into blocks of `width` agents and the agents into runs of
    /// `run_len` (a multiple of `width`) on the calling thread or rayon's (no helper): the
    /// layout and schedule, not the values.
    #[cfg(test)]
    fn reblock(&mut self, width: usize, run_len: usize) {
        assert!(run_len.is_multiple_of(width));
        let (input, output) = (self.host_table(Table::Input), self.host_table(Table::Output));
        let (p, v, d) = (self.agents.len(), self.vocab_size, self.config.dim);
        (self.width, self.run_len, self.helper) = (width, run_len, None);
        self.tables = Tables::blocks(p, width, v, d);
        self.set_host_tables(&input, &output);
    }

    /// Recomputes the means when this tick trained and `center_every` ticks have passed.
    fn recentre_if_due(&mut self) {
        if self.learning && self.trained.is_multiple_of(self.config.center_every) {
            self.refresh_means();
        }
    }

    /// The readout e(w) of agent `slot` of a block's token into `out`, less `mean` (the
    /// agent's mean readout: zeros unless centring).
    fn readout(
        config: &SensoryCortexConfig,
        tables: &Tables,
        slot: usize,
        mean: &[f32],
        token: usize,
        out: &mut [f32],
    ) {
        let u = tables.u(slot, token);
        match config.readout {
            Readout::Input => out.copy_from_slice(u),
            Readout::Sum => {
                let v = tables.v(slot, token);
                for ((o, a), b) in out.iter_mut().zip(u).zip(v) {
                    *o = a + b;
                }
            }
        }
        out.iter_mut().zip(mean).for_each(|(o, m)| *o -= m);
    }

    fn normalize(config: &SensoryCortexConfig, z: &mut [f32]) {
        if config.normalize {
            let norm = z.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                z.iter_mut().for_each(|x| *x /= norm);
            }
        }
    }
}

/// Gram–Schmidt on the first `rows` rows of a row-major `[·, d]` table, each rescaled to the
/// typical norm of the random initialisation.
fn orthogonalise(table: &mut [f32], rows: usize, d: usize, bound: f32) {
    let scale = bound * (d as f32 / 3.0).sqrt();
    for i in 0..rows {
        let (done, rest) = table.split_at_mut(i * d);
        let row = &mut rest[..d];
        for j in 0..i {
            let prev = &done[j * d..(j + 1) * d];
            let dot: f32 = row.iter().zip(prev).map(|(a, b)| a * b).sum::<f32>() / (scale * scale);
            row.iter_mut().zip(prev).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x *= scale / norm);
        }
    }
}

/// One skip-gram update of `centre`'s input row against `context`'s output row (label 1) and
/// each noise token's (label 0; a noise token equal to `context` is skipped), in that order.
/// Compiled twice: for the baseline x86-64 (SSE2) and, chosen at run time, for AVX2 (wider
/// registers for the same operations in the same order: the same bits; no FMA, which would
/// round differently).
fn train_pair(
    lr: f32,
    (tables, slot): (&mut Tables, usize),
    centre: usize,
    context: usize,
    negatives: &[u32],
    grad: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked on the line above.
        return unsafe { train_pair_avx2(lr, (tables, slot), centre, context, negatives, grad) };
    }
    train_pair_portable(lr, (tables, slot), centre, context, negatives, grad)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn train_pair_avx2(
    lr: f32,
    (tables, slot): (&mut Tables, usize),
    centre: usize,
    context: usize,
    negatives: &[u32],
    grad: &mut [f32],
) {
    train_pair_portable(lr, (tables, slot), centre, context, negatives, grad)
}

#[inline(always)]
fn train_pair_portable(
    lr: f32,
    (tables, slot): (&mut Tables, usize),
    centre: usize,
    context: usize,
    negatives: &[u32],
    grad: &mut [f32],
) {
    let d = tables.dim;
    let at_centre = tables.at(slot, centre);
    grad.iter_mut().for_each(|g| *g = 0.0);
    let targets = std::iter::once((context, 1.0)).chain(
        negatives
            .iter()
            .map(|&n| n as usize)
            .filter(|&n| n != context)
            .map(|n| (n, 0.0)),
    );
    for (target, label) in targets {
        let at_target = tables.at(slot, target);
        let u = &tables.input[at_centre..at_centre + d];
        let v = &mut tables.output[at_target..at_target + d];
        let g = lr * (label - sigmoid(dot(u, v)));
        for ((gr, vi), ui) in grad.iter_mut().zip(v.iter_mut()).zip(u) {
            *gr += g * *vi;
            *vi += g * ui;
        }
    }
    let u = &mut tables.input[at_centre..at_centre + d];
    for (ui, gr) in u.iter_mut().zip(grad.iter()) {
        *ui += gr;
    }
}

/// The tick-batched update (`update = "tick"`): every (centre, target, label) triple is scored
/// against the tables as they stood at the tick's start, g = η(label − σ(u_centre · v_target)),
/// and then, in the triples' order, u_centre += g·v_target and v_target += g·u_centre (both
/// with the start-of-tick rows): a row that several triples touch sums their updates.
fn train_tick(lr: f32, (tables, slot): (&mut Tables, usize), scratch: &mut TickScratch) {
    let d = tables.dim;
    let TickScratch { triples, deltas } = scratch;
    deltas.clear();
    deltas.resize(2 * triples.len() * d, 0.0);
    let (du, dv) = deltas.split_at_mut(triples.len() * d);
    for (i, &(centre, target, label)) in triples.iter().enumerate() {
        let (c, t) = (centre as usize, target as usize);
        let (u, v) = (tables.u(slot, c), tables.v(slot, t));
        let g = lr * (label - sigmoid(dot(u, v)));
        for (((du, dv), ui), vi) in du[i * d..(i + 1) * d]
            .iter_mut()
            .zip(&mut dv[i * d..(i + 1) * d])
            .zip(u)
            .zip(v)
        {
            *du = g * vi;
            *dv = g * ui;
        }
    }
    for (i, &(centre, target, _)) in triples.iter().enumerate() {
        let (c, t) = (tables.at(slot, centre as usize), tables.at(slot, target as usize));
        let add = |row: &mut [f32], delta: &[f32]| row.iter_mut().zip(delta).for_each(|(r, x)| *r += x);
        add(&mut tables.input[c..c + d], &du[i * d..(i + 1) * d]);
        add(&mut tables.output[t..t + d], &dv[i * d..(i + 1) * d]);
    }
}

impl Agent {
    /// Lists in `triples` the (centre, target, label) triples of a tick in the order the
    /// sequential update trains them: for each earlier token c of the window, latest first, the
    /// pair (w, c) then (c, w), each the context (label 1) and then its `k` noise tokens (label
    /// 0; one equal to the context is skipped).
    fn list_triples(&mut self, w: usize, k: usize) {
        let triples = &mut self.tick.triples;
        triples.clear();
        let mut draws = self.negatives.chunks(k.max(1));
        for &c in self.history.iter().rev() {
            for (centre, context) in [(w as u32, c), (c, w as u32)] {
                triples.push((centre, context, 1.0));
                let negatives = draws.next().unwrap_or(&[]);
                triples.extend(
                    negatives
                        .iter()
                        .filter(|&&n| n != context)
                        .map(|&n| (centre, n, 0.0)),
                );
            }
        }
    }

    /// Puts a kept token into the window (the oldest leave a full one).
    fn remember(&mut self, w: usize, window: usize) {
        self.forget_beyond(window.saturating_sub(1));
        self.history.push_back(w as u32);
    }

    /// Keeps the latest `window` tokens of the history (a window made smaller mid-run, or a
    /// checkpoint saved with a larger one).
    fn forget_beyond(&mut self, window: usize) {
        while self.history.len() > window {
            self.history.pop_front();
        }
    }
}

/// u · v summed in a fixed order that SIMD units can follow: lane i of `LANES` partial sums takes
/// elements i, i + LANES, …; the lanes are then added pairwise (0 + 8, 1 + 9, …, then 0 + 4, …)
/// and the tail (D mod LANES) last. A chain of D dependent additions is latency-bound (≈ 4
/// cycles each); sixteen independent ones fill the vector units. The order is fixed in the
/// source (Rust never reassociates or fuses floating-point operations), so the result is the
/// same bits on every CPU.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + tail
}

/// Asks the first-level cache for a row that a tick will touch: the rows of one tick (a noise
/// token's is almost always a miss on a large vocabulary) then load in parallel rather than one
/// after another. Only a hint: it changes no value.
#[inline]
fn prefetch(row: &[f32]) {
    super::prefetch(row);
}

/// Draws noise tokens from a cumulative distribution: the token n is the first whose
/// cumulative probability exceeds u ~ U[0, 1). A guide of 2¹⁶ buckets (Chen & Asau 1974)
/// narrows the binary search to the few tokens whose cumulative probability crosses u's
/// bucket: the same token as a search over the whole table, with one or two cache misses
/// instead of one per level.
struct NoiseTable {
    cdf: Vec<f64>,
    /// guide[k]: the first token whose cumulative probability exceeds k / K (K + 1 entries).
    guide: Vec<u32>,
}

impl NoiseTable {
    const BUCKETS: usize = 1 << 16;

    fn new(cdf: Vec<f64>) -> Self {
        let k = Self::BUCKETS;
        // k / K is exact in binary, so bucket boundaries are exact.
        let guide = (0..=k)
            .map(|b| cdf.partition_point(|&c| c <= b as f64 / k as f64) as u32)
            .collect();
        NoiseTable { cdf, guide }
    }

    /// The token for u ∈ [0, 1): `cdf.partition_point(|c| c <= u)`, clamped to the last token.
    fn sample(&self, u: f64) -> usize {
        // u·K is exact (K a power of two), so b/K ≤ u < (b+1)/K: every token before
        // guide[b] has c ≤ u and every token from guide[b + 1] on has c > u.
        let b = ((u * Self::BUCKETS as f64) as usize).min(Self::BUCKETS - 1);
        let (lo, hi) = (self.guide[b] as usize, self.guide[b + 1] as usize);
        let n = lo + self.cdf[lo..hi].partition_point(|&c| c <= u);
        n.min(self.cdf.len().saturating_sub(1))
    }
}

fn out_of_vocabulary(w: usize, vocab_size: usize) -> Error {
    Error::Run(format!(
        "sensory_cortex: token id {w} is outside the vocabulary of {vocab_size}"
    ))
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Region for SensoryCortex {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let tokens = inputs
            .get("token")
            .ok_or_else(|| Error::Run("sensory_cortex: no `token` input".into()))?
            .host();
        let d = self.config.dim;
        let p = self.agents.len();
        let mut latent = vec![0.0f32; p * d];
        let tokens: Vec<f32> = tokens.column(0).to_vec();
        let conditioning = inputs.get("conditioning").map(Signal::host);
        let conditioning = conditioning
            .as_ref()
            .map(|c| c.as_slice().expect("standard layout"));
        let noise = &self.noise;
        let learning = self.learning;
        let vocab_size = self.vocab_size;
        let (keep, boundary, unknown) = (&self.keep, self.boundary, self.unknown);
        let lr = self.learning_rate();
        let config = &self.config;
        if learning {
            self.trained += 1;
        }
        let beta = config.context_decay as f32;
        // With `shared_negatives`, the tick's noise tokens for a full window, drawn once.
        let shared: Option<Vec<u32>> = (learning && config.shared_negatives).then(|| {
            let rng = &mut self.noise_rng;
            (0..2 * config.window * config.negatives)
                .map(|_| noise.sample(rng.r#gen()) as u32)
                .collect()
        });
        // A tick of one agent in two stages. `prepare` reads the token, makes the agent's
        // random draws (subsampling, then every noise token of the tick, in the order the pairs
        // use them) and asks the cache for every row the update will touch; `finish` trains
        // the pairs and reads the latent out. Each agent's draws and arithmetic are the same
        // whichever way the stages interleave: a run of agents prepares agent i + AHEAD
        // before finishing agent i, so that its rows load while agent i computes.
        // The agent's random draws for its (in-vocabulary) token w: whether w is kept
        // (subsampling) and every noise token of the tick; a boundary empties the window.
        let draw = |agent: &mut Agent, w: usize| {
            agent.kept = false;
            let token = w as u32;
            if Some(token) == boundary {
                agent.history.clear();
            } else if Some(token) != unknown {
                // Subsampling draws only while learning, so a frozen cortex keeps every word.
                agent.kept = !learning || keep[w] >= 1.0 || agent.rng.r#gen::<f32>() < keep[w];
                if agent.kept && learning {
                    let (k, pairs) = (config.negatives, 2 * agent.history.len());
                    agent.negatives.clear();
                    if let Some(shared) = &shared {
                        // (A history never outgrows the window: `Agent::forget_beyond`.)
                        agent.negatives.extend_from_slice(&shared[..pairs * k]);
                    } else {
                        for _ in 0..pairs * k {
                            let n = noise.sample(agent.rng.r#gen()) as u32;
                            agent.negatives.push(n);
                        }
                    }
                }
            }
        };
        if let Some(tables) = self.device.as_mut() {
            let conditioning = inputs.get("conditioning").map(|c| c.to_tensor(tables.device()));
            let z = Self::step_on_device(
                tables,
                &mut self.agents,
                &tokens,
                (config, learning, lr),
                draw,
                conditioning,
            )?;
            self.recentre_if_due();
            return Ok(vec![("latent", Signal::device(z))]);
        }
        let prepare = |tables: &Tables, slot: usize, agent: &mut Agent, token: f32| -> Option<usize> {
            let w = token as usize;
            if w >= vocab_size {
                return Some(w);
            }
            draw(agent, w);
            if agent.kept && learning {
                for &c in &agent.history {
                    let c = c as usize;
                    prefetch(tables.u(slot, c));
                    prefetch(tables.v(slot, c));
                }
                for &n in &agent.negatives {
                    prefetch(tables.v(slot, n as usize));
                }
            }
            prefetch(tables.u(slot, w));
            prefetch(tables.v(slot, w));
            None
        };
        let finish =
            |i: usize, (tables, slot): (&mut Tables, usize), agent: &mut Agent, z: &mut [f32], token: f32| {
                let w = token as usize;
                if agent.kept {
                    if learning && config.update == Update::Tick {
                        agent.list_triples(w, config.negatives);
                        train_tick(lr, (tables, slot), &mut agent.tick);
                    } else if learning {
                        let k = config.negatives;
                        let mut draws = agent.negatives.chunks(k.max(1));
                        for &c in agent.history.iter().rev() {
                            let c = c as usize;
                            let grad = &mut agent.grad;
                            train_pair(lr, (tables, slot), w, c, draws.next().unwrap_or(&[]), grad);
                            train_pair(lr, (tables, slot), c, w, draws.next().unwrap_or(&[]), grad);
                        }
                    }
                    agent.remember(w, config.window);
                }
                let mut e = std::mem::take(&mut agent.readout);
                SensoryCortex::readout(config, tables, slot, &agent.mean, w, &mut e);
                for (c, ei) in agent.context.iter_mut().zip(&e) {
                    *c = beta * *c + (1.0 - beta) * ei;
                }
                agent.readout = e;
                z.copy_from_slice(&agent.context);
                if let Some(c) = conditioning {
                    z.iter_mut()
                        .zip(&c[i * d..(i + 1) * d])
                        .for_each(|(zi, ci)| *zi += ci);
                }
                SensoryCortex::normalize(config, z);
            };
        // A run of agents (agent `offset` first), pipelined; the first out-of-vocabulary token.
        let (width, run_len) = (self.width, self.run_len);
        let run = |offset: usize,
                   tables: &mut [Tables],
                   agents: &mut [Agent],
                   latent: &mut [f32],
                   tokens: &[f32]| {
            let n = agents.len();
            for i in 0..n + AHEAD {
                if i < n
                    && let Some(w) = prepare(&tables[i / width], i % width, &mut agents[i], tokens[i])
                {
                    return Some(w);
                }
                if let Some(j) = i.checked_sub(AHEAD) {
                    finish(
                        offset + j,
                        (&mut tables[j / width], j % width),
                        &mut agents[j],
                        &mut latent[j * d..(j + 1) * d],
                        tokens[j],
                    );
                }
            }
            None
        };
        // Waking rayon's worker threads costs more than a few agents' updates (a tick is ~2 µs
        // per agent on a small vocabulary): small populations run on the calling thread, or,
        // when the tables outgrow the cache, half of them on the helper thread (on a two-thread
        // machine large populations too, whatever their tables: see `HELPER_MIN_BYTES`); other
        // large ones in runs of agents over rayon's threads. Either way each agent's update is
        // independent, so results agree.
        // A run's agents and their blocks of the tables (`width` divides `run_len`).
        let blocks = run_len / width;
        let bad = if let Some(helper) = self.helper.as_mut() {
            let (here, there) = self.agents.split_at_mut(run_len);
            let (latent_here, latent_there) = latent.split_at_mut(run_len * d);
            let (tokens_here, tokens_there) = tokens.split_at(run_len);
            let (tables_here, tables_there) = self.tables.split_at_mut(blocks);
            let (mut bad_here, mut bad_there) = (None, None);
            helper.join(
                || bad_here = run(0, tables_here, here, latent_here, tokens_here),
                || bad_there = run(run_len, tables_there, there, latent_there, tokens_there),
            );
            bad_here.or(bad_there)
        } else if run_len < p {
            debug_assert_eq!(p.div_ceil(run_len), self.tables.len().div_ceil(blocks));
            self.agents
                .par_chunks_mut(run_len)
                .zip(latent.par_chunks_mut(run_len * d))
                .zip(tokens.par_chunks(run_len))
                .zip(self.tables.par_chunks_mut(blocks))
                .enumerate()
                .map(|(b, (((agents, latent), tokens), tables))| {
                    run(b * run_len, tables, agents, latent, tokens)
                })
                .find_any(Option::is_some)
                .flatten()
        } else {
            run(0, &mut self.tables, &mut self.agents, &mut latent, &tokens)
        };
        if let Some(w) = bad {
            return Err(out_of_vocabulary(w, vocab_size));
        }
        self.recentre_if_due();
        let latent = Array2::from_shape_vec((p, d), latent).expect("P·D values");
        Ok(vec![("latent", Signal::Host(latent))])
    }

    /// Only the touched rows move: per agent, the readout (u_w, v_w and the mean read, the
    /// context read and written: 4·D floats read, D written) and, while learning, for each of
    /// the 2·`window` pairs a token makes with its window (a full window; subsampling ignored),
    /// the centre's input row and 1 + k output rows, each read and written: (2 + k)·D floats
    /// read and as many written.
    fn bytes_per_tick(&self) -> Option<Traffic> {
        let (p, d) = (self.agents.len() as u64, self.config.dim as u64);
        let (w, k) = (self.config.window as u64, self.config.negatives as u64);
        let training = if self.learning { 2 * w * (2 + k) } else { 0 };
        Some(Traffic {
            read: 4 * p * d * (4 + training),
            written: 4 * p * d * (1 + training),
        })
    }

    /// The same arrays on every device (a checkpoint moves between CPU and GPU).
    fn save(&self, out: &mut Snapshot) -> Result<()> {
        let (p, v, d) = (self.agents.len(), self.vocab_size, self.config.dim);
        let gather =
            |f: fn(&Agent) -> &Vec<f32>| self.agents.iter().flat_map(|a| f(a).iter().copied()).collect();
        let [input, output, context, mean] = match &self.device {
            Some(tables) => tables.download(),
            None => [
                self.host_table(Table::Input),
                self.host_table(Table::Output),
                gather(|a| &a.context),
                gather(|a| &a.mean),
            ],
        };
        out.put_array("input", &[p, v, d], input);
        out.put_array("output", &[p, v, d], output);
        out.put_array("context", &[p, d], context);
        out.put_array("mean", &[p, d], mean);
        out.put(
            "history",
            &self.agents.iter().map(|a| &a.history).collect::<Vec<_>>(),
        );
        out.put("rngs", &self.agents.iter().map(|a| &a.rng).collect::<Vec<_>>());
        out.put("noise_rng", &self.noise_rng);
        out.put("trained", &self.trained);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let (p, v, d) = (self.agents.len(), self.vocab_size, self.config.dim);
        let input = from.array("input", &[p, v, d])?;
        let output = from.array("output", &[p, v, d])?;
        let context = from.array("context", &[p, d])?;
        let mean = from.array("mean", &[p, d])?;
        let history: Vec<VecDeque<u32>> = from.get("history")?;
        let rngs: Vec<SimRng> = from.get("rngs")?;
        if history.len() != p || rngs.len() != p {
            return Err(Error::Run(format!(
                "checkpoint: saved for another population than {p}"
            )));
        }
        for (agent, (history, rng)) in self.agents.iter_mut().zip(history.into_iter().zip(rngs)) {
            agent.history = history;
            agent.forget_beyond(self.config.window);
            agent.rng = rng;
        }
        self.trained = from.get("trained")?;
        if from.contains("noise_rng") {
            // (Checkpoints from before `shared_negatives` have none, and no use for one.)
            self.noise_rng = from.get("noise_rng")?;
        }
        if let Some(tables) = self.device.as_mut() {
            let (agents, device) = (tables.agents_per_block(), tables.device().clone());
            *tables = DeviceTables::upload([p, v, d], [input, output, context, mean], agents, &device);
            return Ok(());
        }
        self.set_host_tables(&input, &output);
        for (i, agent) in self.agents.iter_mut().enumerate() {
            agent.context.copy_from_slice(&context[i * d..(i + 1) * d]);
            agent.mean.copy_from_slice(&mean[i * d..(i + 1) * d]);
        }
        Ok(())
    }

    fn set_learning(&mut self, learning: bool) {
        if learning != self.learning {
            self.refresh_means();
        }
        self.learning = learning;
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<SensoryCortexConfig>() {
            Some(c) if self.device.is_some() && c.update != self.config.update => Err(Error::Run(
                "sensory_cortex: `update` cannot change during a run on a GPU device (with \
                 \"tick\" the tables live there)"
                    .into(),
            )),
            Some(c) if c.dim == self.config.dim => {
                let recentre = c.center != self.config.center || c.readout != self.config.readout;
                self.config = c.clone();
                self.agents.iter_mut().for_each(|a| a.forget_beyond(c.window));
                if recentre {
                    self.agents
                        .iter_mut()
                        .for_each(|a| a.mean.iter_mut().for_each(|m| *m = 0.0));
                    if let Some(tables) = self.device.as_mut() {
                        tables.clear_means();
                    }
                    self.refresh_means();
                }
                Ok(())
            }
            Some(_) => Err(Error::Run(
                "sensory_cortex: `dim` cannot change during a run".into(),
            )),
            None => Err(Error::Run(format!(
                "sensory_cortex cannot become a `{}`",
                spec.kind()
            ))),
        }
    }

    fn concept_latent(&self, phrase: &[u32]) -> Option<Array2<f32>> {
        let d = self.config.dim;
        if phrase.is_empty() || phrase.iter().any(|&w| w as usize >= self.vocab_size) {
            return None;
        }
        let beta = self.config.context_decay as f32;
        let readouts: Vec<Vec<f32>> = phrase.iter().map(|&w| self.readouts_of(w as usize)).collect();
        let mut out = Array2::zeros((self.agents.len(), d));
        for (a, mut row) in out.outer_iter_mut().enumerate() {
            let row = row.as_slice_mut().expect("row is contiguous");
            row.copy_from_slice(&readouts[0][a * d..(a + 1) * d]);
            for e in &readouts[1..] {
                row.iter_mut()
                    .zip(&e[a * d..(a + 1) * d])
                    .for_each(|(c, x)| *c = beta * *c + (1.0 - beta) * x);
            }
            SensoryCortex::normalize(&self.config, row);
        }
        Some(out)
    }

    fn divergent_agent(&self) -> Option<usize> {
        if let Some(tables) = &self.device {
            let [input, output, ..] = tables.download();
            let size = self.vocab_size * self.config.dim;
            let finite = |t: &[f32], a: usize| t[a * size..(a + 1) * size].iter().all(|x| x.is_finite());
            return (0..self.agents.len()).find(|&a| !(finite(&input, a) && finite(&output, a)));
        }
        (0..self.agents.len()).find(|&a| {
            let (tables, slot) = self.block_of(a);
            !tables.finite(slot)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::Vocabulary;

    fn cortex(vocab: &Vocabulary, config: SensoryCortexConfig, p: usize) -> SensoryCortex {
        let device = burn::prelude::Device::flex();
        let ctx = BuildContext {
            population: p,
            device: &device,
            seeds: (0..p as u64).collect(),
            vocabulary: vocab,
            input_widths: Default::default(),
        };
        SensoryCortex::new(&config, &ctx)
    }

    fn tokens(ids: &[u32]) -> Inputs<'static> {
        let mut inputs = Inputs::default();
        let a = Array2::from_shape_vec((ids.len(), 1), ids.iter().map(|&t| t as f32).collect()).unwrap();
        inputs.insert("token", Signal::Host(a));
        inputs
    }

    #[test]
    fn a_positive_pair_raises_its_score_by_the_sgns_gradient() {
        // One pair, no noise tokens, v starts at 0 so the first update moves only v:
        // g = η(1 − σ(0)) = 0.5·η; v_c += g·u_w. Hand-checked: score after = g·|u_w|².
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1), ("b".into(), 1)]);
        let config = SensoryCortexConfig {
            negatives: 0,
            window: 1,
            lr: 0.1,
            ..Default::default()
        };
        let mut c = cortex(&vocab, config, 1);
        let u_a: Vec<f32> = c.tables[0].u(0, 0).to_vec();
        c.step(&tokens(&[0])).unwrap();
        c.step(&tokens(&[1])).unwrap();
        // Pair (b, a): v_a += 0.05·u_b, then u_b += 0.05·v_a_old(=0). Pair (a, b): v_b += 0.05·u_a.
        let v_b = c.tables[0].v(0, 1);
        for (v, u) in v_b.iter().zip(&u_a) {
            assert!((v - 0.05 * u).abs() < 1e-7);
        }
    }

    #[test]
    fn latent_is_unit_norm_and_population_first() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 3), ("b".into(), 1)]);
        let mut c = cortex(&vocab, SensoryCortexConfig::default(), 4);
        let out = c.step(&tokens(&[0, 1, 0, 1])).unwrap();
        let z = out[0].1.to_host();
        assert_eq!(z.dim(), (4, 32));
        for row in z.outer_iter() {
            assert!((row.dot(&row) - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn subsampling_keeps_rare_words_and_thins_frequent_ones() {
        // word2vec's rule, by hand: f = 9000/10000 = 0.9, t = 0.01:
        // keep = (sqrt(0.9/0.01) + 1) · 0.01/0.9 = (9.4868 + 1) · 0.011111 = 0.116520
        let vocab = Vocabulary::from_counts(vec![("the".into(), 9000), ("rare".into(), 1000)]);
        let c = cortex(
            &vocab,
            SensoryCortexConfig {
                subsample: 0.01,
                ..Default::default()
            },
            1,
        );
        assert!((c.keep[0] - 0.116_520).abs() < 1e-5, "{}", c.keep[0]);
        // f = 0.1: (sqrt(10) + 1) · 0.1 = 0.416228
        assert!((c.keep[1] - 0.416_228).abs() < 1e-5, "{}", c.keep[1]);
        let off = cortex(&vocab, SensoryCortexConfig::default(), 1);
        assert_eq!(off.keep, [1.0, 1.0]);
    }

    #[test]
    fn no_pair_crosses_a_sentence_boundary_and_unknown_is_never_trained() {
        use crate::worlds::text::{EOS, UNK};
        let vocab =
            Vocabulary::from_counts(["a", "b", EOS, UNK].iter().map(|w| (w.to_string(), 1)).collect());
        let config = SensoryCortexConfig {
            negatives: 0,
            window: 2,
            ..Default::default()
        };
        let mut c = cortex(&vocab, config, 1);
        for t in [0, 2, 1, 3, 3] {
            c.step(&tokens(&[t])).unwrap();
        }
        // Output vectors move only through a positive pair: none may have formed.
        assert!(c.tables[0].output.iter().all(|&x| x == 0.0));
        c.step(&tokens(&[0])).unwrap();
        // `b` then `a` in one sentence (the <unk>s between are skipped): now they pair.
        assert!(c.tables[0].v(0, 0).iter().any(|&x| x != 0.0));
    }

    #[test]
    fn learning_rate_decays_linearly_to_its_floor() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1)]);
        let config = SensoryCortexConfig {
            lr: 0.1,
            lr_min: 0.01,
            decay_steps: 10,
            ..Default::default()
        };
        let mut c = cortex(&vocab, config, 1);
        assert_eq!(c.learning_rate(), 0.1);
        for _ in 0..5 {
            c.step(&tokens(&[0])).unwrap();
        }
        assert!((c.learning_rate() - 0.05).abs() < 1e-7);
        for _ in 0..20 {
            c.step(&tokens(&[0])).unwrap();
        }
        assert_eq!(c.learning_rate(), 0.01);
    }

    #[test]
    fn centring_removes_the_mean_readout() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]);
        let config = SensoryCortexConfig {
            center: true,
            normalize: false,
            ..Default::default()
        };
        let c = cortex(&vocab, config, 2);
        let sum = (0..3)
            .map(|t| c.concept_latent(&[t]).unwrap())
            .fold(Array2::<f32>::zeros((2, 32)), |acc, z| acc + z);
        assert!(sum.iter().all(|x| x.abs() < 1e-6), "{sum:?}");
    }

    #[test]
    fn orthogonal_initialisation_gives_orthogonal_latents() {
        let vocab = Vocabulary::from_counts((0..5).map(|i| (format!("w{i}"), 1)).collect());
        let config = SensoryCortexConfig {
            dim: 8,
            orthogonal: true,
            readout: Readout::Input,
            ..Default::default()
        };
        let c = cortex(&vocab, config, 2);
        for a in 0..5 {
            for b in 0..5 {
                let (za, zb) = (c.concept_latent(&[a]).unwrap(), c.concept_latent(&[b]).unwrap());
                let dot = za.row(1).dot(&zb.row(1));
                assert!(
                    (dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-5,
                    "{a}·{b} = {dot}"
                );
            }
        }
    }

    /// A phrase is the blend the latent computes over it: with β = 0 its last word's readout,
    /// with β = 0.5, normalise(½ e(a) + ½ e(b)).
    #[test]
    fn a_phrase_is_read_as_the_blend_of_its_words() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1), ("b".into(), 1)]);
        let c = cortex(&vocab, SensoryCortexConfig::default(), 2);
        assert_eq!(
            c.concept_latent(&[0, 1]).unwrap(),
            c.concept_latent(&[1]).unwrap()
        );
        let blend = SensoryCortexConfig {
            context_decay: 0.5,
            normalize: false,
            ..Default::default()
        };
        let c = cortex(&vocab, blend, 2);
        let (a, b) = (c.concept_latent(&[0]).unwrap(), c.concept_latent(&[1]).unwrap());
        let ab = c.concept_latent(&[0, 1]).unwrap();
        let expected = (&a + &b) * 0.5;
        assert!(ab.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-7));
        assert!(c.concept_latent(&[]).is_none());
    }

    #[test]
    fn the_guided_noise_draw_is_the_search_over_the_whole_table() {
        // A Zipfian table with ties (zero counts) and a last entry short of 1.
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..5000)
            .map(|r| {
                total += if r % 97 == 0 {
                    0.0
                } else {
                    (1.0 / r as f64).powf(0.75)
                };
                total
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= total * (1.0 + 1e-12));
        let table = NoiseTable::new(cdf.clone());
        let full = |u: f64| cdf.partition_point(|&c| c <= u).min(cdf.len() - 1);
        let mut rng = SimRng::seed_from_u64(3);
        let edges = [
            0.0,
            0.5,
            1.0 - f64::EPSILON,
            cdf[0],
            cdf[10],
            cdf[4000],
            1.0 / 8192.0,
        ];
        for u in edges.into_iter().chain((0..200_000).map(|_| rng.r#gen::<f64>())) {
            assert_eq!(table.sample(u), full(u), "u = {u}");
        }
    }

    #[test]
    fn out_of_vocabulary_token_is_an_error() {
        let vocab = Vocabulary::from_counts(vec![("a".into(), 1)]);
        let mut c = cortex(&vocab, SensoryCortexConfig::default(), 1);
        assert!(c.step(&tokens(&[7])).is_err());
    }

    #[test]
    fn dot_agrees_with_a_double_precision_sum_at_every_length() {
        let mut rng = SimRng::seed_from_u64(3);
        for d in [0, 1, 7, 15, 16, 17, 31, 64, 100] {
            let a: Vec<f32> = (0..d).map(|_| rng.r#gen::<f32>() - 0.5).collect();
            let b: Vec<f32> = (0..d).map(|_| rng.r#gen::<f32>() - 0.5).collect();
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            assert!((f64::from(dot(&a, &b)) - exact).abs() < 1e-5, "d = {d}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_update_is_bit_identical_to_the_portable_one() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the portable path runs here");
            return;
        }
        let vocab = Vocabulary::from_counts((0..50).map(|i| (format!("w{i}"), 1)).collect());
        let config = SensoryCortexConfig {
            dim: 67, // 4 lanes of 16 and a tail of 3
            ..Default::default()
        };
        let c = cortex(&vocab, config, 1);
        let (mut wide, mut portable) = (c.tables[0].clone(), c.tables[0].clone());
        let (mut g1, mut g2) = (vec![0.0; 67], vec![0.0; 67]);
        for (centre, context) in [(0, 1), (1, 0), (7, 49), (49, 7), (3, 3)] {
            let negatives = [2, 5, context as u32, 11, 48];
            // SAFETY: AVX2 checked above.
            unsafe { train_pair_avx2(0.5, (&mut wide, 0), centre, context, &negatives, &mut g1) };
            train_pair_portable(0.5, (&mut portable, 0), centre, context, &negatives, &mut g2);
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wide.input), bits(&portable.input));
        assert_eq!(bits(&wide.output), bits(&portable.output));
        assert_ne!(
            bits(&wide.output),
            bits(&c.tables[0].output),
            "the updates moved nothing"
        );
    }

    #[test]
    fn the_tick_update_scores_every_triple_against_the_start_of_the_tick() {
        let vocab = Vocabulary::from_counts((0..6).map(|i| (format!("w{i}"), 1)).collect());
        let d = 5;
        let config = SensoryCortexConfig {
            dim: d,
            ..Default::default()
        };
        let mut tables = cortex(&vocab, config, 1).tables[0].clone();
        let mut scratch = TickScratch::default();
        // Output rows start at zero: give them values so that every score matters.
        tables
            .output
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = ((i * 7 % 11) as f32 - 5.0) / 20.0);
        let (u0, v0) = (tables.input.clone(), tables.output.clone());
        // Row 0 is a centre three times and row 1 a target twice: their updates must sum.
        scratch.triples = vec![(0, 1, 1.0), (0, 2, 0.0), (1, 0, 1.0), (0, 1, 0.0), (3, 4, 0.0)];
        let lr = 0.3;
        train_tick(lr, (&mut tables, 0), &mut scratch);
        let (mut u, mut v): (Vec<f64>, Vec<f64>) = (
            u0.iter().map(|&x| f64::from(x)).collect(),
            v0.iter().map(|&x| f64::from(x)).collect(),
        );
        for &(c, t, label) in &scratch.triples {
            let (c, t) = (c as usize * d, t as usize * d);
            let score: f64 = (0..d).map(|j| f64::from(u0[c + j]) * f64::from(v0[t + j])).sum();
            let g = f64::from(lr) * (f64::from(label) - 1.0 / (1.0 + (-score).exp()));
            for j in 0..d {
                u[c + j] += g * f64::from(v0[t + j]);
                v[t + j] += g * f64::from(u0[c + j]);
            }
        }
        let worst = |got: &[f32], want: &[f64]| {
            got.iter()
                .zip(want)
                .map(|(&a, &b)| (f64::from(a) - b).abs())
                .fold(0.0, f64::max)
        };
        assert!(
            worst(&tables.input, &u) < 1e-6,
            "input off by {}",
            worst(&tables.input, &u)
        );
        assert!(
            worst(&tables.output, &v) < 1e-6,
            "output off by {}",
            worst(&tables.output, &v)
        );
        assert_ne!(tables.input, u0, "the update moved nothing");
        // Rows no triple touches stay as they were.
        assert_eq!(tables.input[5 * d..], u0[5 * d..]);
    }

    /// The tables' blocks are a layout: one block of five agents, five of one (one table per
    /// agent) in one run or in five, and blocks of 2, 2 and 1 in runs of as many train to the
    /// same bits, with either update and with private or shared noise.
    #[test]
    fn interleaved_blocks_train_as_one_table_per_agent() {
        use crate::worlds::text::EOS;
        let mut words: Vec<String> = (0..30).map(|i| format!("w{i}")).collect();
        words.push(EOS.to_string());
        let counts = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), 1 + i as u64 % 5))
            .collect();
        let vocab = Vocabulary::from_counts(counts);
        for (update, shared_negatives) in [
            (Update::Sequential, false),
            (Update::Tick, false),
            (Update::Sequential, true),
            (Update::Tick, true),
        ] {
            let config = SensoryCortexConfig {
                dim: 9,
                window: 3,
                subsample: 0.05,
                center: true,
                center_every: 11,
                update,
                shared_negatives,
                ..Default::default()
            };
            let p = 5;
            let mut cortices: Vec<SensoryCortex> = [(5, 5), (1, 5), (1, 1), (2, 2)]
                .into_iter()
                .map(|(width, run_len)| {
                    let mut c = cortex(&vocab, config.clone(), p);
                    c.reblock(width, run_len);
                    c
                })
                .collect();
            assert_eq!(
                cortices.iter().map(|c| c.tables.len()).collect::<Vec<_>>(),
                [1, 5, 5, 3]
            );
            let mut rng = SimRng::seed_from_u64(9);
            let bits = |s: &Signal| s.to_host().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for _ in 0..200 {
                let ids: Vec<u32> = (0..p).map(|_| rng.gen_range(0..vocab.len() as u32)).collect();
                let latents: Vec<_> = cortices
                    .iter_mut()
                    .map(|c| bits(&c.step(&tokens(&ids)).unwrap()[0].1))
                    .collect();
                for (i, other) in latents.iter().enumerate().skip(1) {
                    assert_eq!(
                        &latents[0], other,
                        "{update:?}, shared {shared_negatives}: layout {i}"
                    );
                }
            }
            let saved: Vec<Vec<u32>> = cortices
                .iter()
                .map(|c| {
                    let mut out = Snapshot::default();
                    c.save(&mut out).unwrap();
                    let input = out.array("input", &[p, vocab.len(), 9]).unwrap();
                    let output = out.array("output", &[p, vocab.len(), 9]).unwrap();
                    input.iter().chain(&output).map(|x| x.to_bits()).collect()
                })
                .collect();
            assert!(saved.iter().all(|s| *s == saved[0]));
            assert!(
                saved[0].iter().any(|&x| f32::from_bits(x).abs() > 1e-3),
                "nothing trained"
            );
        }
    }

    /// `shared_negatives`: every agent that trains a tick trains it against the same noise
    /// tokens (without it, each draws its own), and a checkpoint carries the population's
    /// generator, so a resumed run draws what an unbroken one does.
    #[test]
    fn shared_negatives_give_every_agent_the_tick_s_noise_tokens() {
        let vocab = Vocabulary::from_counts((0..40).map(|i| (format!("w{i}"), 1 + i % 6)).collect());
        let config = |shared_negatives| SensoryCortexConfig {
            dim: 6,
            window: 3,
            negatives: 4,
            shared_negatives,
            ..Default::default()
        };
        let p = 4;
        let mut rng = SimRng::seed_from_u64(3);
        let stream: Vec<u32> = (0..60).map(|_| rng.gen_range(0..40)).collect();
        for shared in [false, true] {
            let mut c = cortex(&vocab, config(shared), p);
            for &t in &stream[..10] {
                c.step(&tokens(&[t; 4])).unwrap();
            }
            let negatives: Vec<&Vec<u32>> = c.agents.iter().map(|a| &a.negatives).collect();
            assert_eq!(negatives[0].len(), 2 * 3 * 4, "a full window's pairs");
            let alike = negatives.iter().all(|n| *n == negatives[0]);
            assert_eq!(alike, shared, "shared {shared}: {negatives:?}");
        }
        // Resumed from a checkpoint at tick 30, the run goes on as an unbroken one.
        let mut unbroken = cortex(&vocab, config(true), p);
        let mut saved = Snapshot::default();
        let mut latents = Vec::new();
        for (i, &t) in stream.iter().enumerate() {
            if i == 30 {
                unbroken.save(&mut saved).unwrap();
            }
            latents.push(unbroken.step(&tokens(&[t; 4])).unwrap()[0].1.to_host());
        }
        let mut resumed = cortex(&vocab, config(true), p);
        resumed.restore(&saved).unwrap();
        for (i, &t) in stream.iter().enumerate().skip(30) {
            assert_eq!(
                resumed.step(&tokens(&[t; 4])).unwrap()[0].1.to_host(),
                latents[i],
                "tick {i}"
            );
        }
    }

    /// A window made smaller mid-run (a phase's override) keeps the latest tokens of each
    /// agent's history: it had kept them all, growing by one a tick, and with shared draws
    /// (a tick's noise is drawn for one full window) a longer history sliced past them.
    #[test]
    fn a_smaller_window_mid_run_keeps_the_latest_tokens() {
        let vocab = Vocabulary::from_counts((0..20).map(|i| (format!("w{i}"), 1)).collect());
        let config = SensoryCortexConfig {
            dim: 4,
            window: 4,
            shared_negatives: true,
            ..Default::default()
        };
        let mut c = cortex(&vocab, config.clone(), 2);
        for t in 0..6 {
            c.step(&tokens(&[t, t])).unwrap();
        }
        assert!(c.agents.iter().all(|a| a.history.len() == 4));
        c.configure(&RegionSpec::new(SensoryCortexConfig { window: 2, ..config }))
            .unwrap();
        assert!(c.agents.iter().all(|a| a.history == [4, 5]));
        for t in 6..10 {
            c.step(&tokens(&[t, t])).unwrap();
        }
        assert!(c.agents.iter().all(|a| a.history == [8, 9]));
    }

    /// On a two-thread machine a population of `PARALLEL_MIN_AGENTS` with small tables is split
    /// over the helper (half each): the bits of the same agents on one thread.
    #[test]
    fn a_two_thread_machine_splits_small_tables_over_the_helper() {
        let words = (0..40).map(|i| (format!("w{i}"), 1 + i as u64 % 7)).collect();
        let vocab = Vocabulary::from_counts(words);
        let config = SensoryCortexConfig {
            dim: 8,
            window: 2,
            ..Default::default()
        };
        assert!(config.bytes_per_agent(vocab.len()) < HELPER_MIN_BYTES);
        let p = PARALLEL_MIN_AGENTS;
        let mut split = cortex(&vocab, config.clone(), p);
        let two_threads = rayon::current_num_threads() == 2;
        assert_eq!(split.helper.is_some(), two_threads);
        if two_threads {
            assert_eq!(split.run_len, p / 2, "two halves");
        }
        let mut plain = cortex(&vocab, config, p);
        plain.reblock(1, p);
        let mut rng = SimRng::seed_from_u64(6);
        let bits = |s: &Signal| s.to_host().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for tick in 0..100 {
            let ids: Vec<u32> = (0..p).map(|_| rng.gen_range(0..vocab.len() as u32)).collect();
            let (a, b) = (
                split.step(&tokens(&ids)).unwrap(),
                plain.step(&tokens(&ids)).unwrap(),
            );
            assert_eq!(bits(&a[0].1), bits(&b[0].1), "tick {tick}");
        }
        assert_eq!(split.host_table(Table::Output), plain.host_table(Table::Output));
    }

    /// With `shared_negatives` and tables of 4 MB an agent, two threads train P = 3 as two
    /// blocks (2 + 1 agents, the second on the helper): the bits of one table per agent on one
    /// thread.
    #[test]
    fn the_helper_s_blocks_train_as_one_table_per_agent() {
        let words = (0..16_384).map(|i| (format!("w{i}"), 1 + i as u64 % 9)).collect();
        let vocab = Vocabulary::from_counts(words);
        let config = SensoryCortexConfig {
            dim: 32,
            window: 3,
            subsample: 0.001,
            shared_negatives: true,
            ..Default::default()
        };
        assert!(config.bytes_per_agent(vocab.len()) >= HELPER_MIN_BYTES);
        let p = 3;
        let mut split = cortex(&vocab, config.clone(), p);
        let two_threads = rayon::current_num_threads() >= 2;
        assert_eq!(split.helper.is_some(), two_threads);
        assert_eq!(split.tables.len(), if two_threads { 2 } else { 1 });
        let mut plain = cortex(&vocab, config, p);
        plain.reblock(1, 3);
        let mut rng = SimRng::seed_from_u64(4);
        let bits = |s: &Signal| s.to_host().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for tick in 0..200 {
            let ids = [rng.gen_range(0..vocab.len() as u32); 3];
            let (a, b) = (
                split.step(&tokens(&ids)).unwrap(),
                plain.step(&tokens(&ids)).unwrap(),
            );
            assert_eq!(bits(&a[0].1), bits(&b[0].1), "tick {tick}");
        }
        assert_eq!(split.host_table(Table::Output), plain.host_table(Table::Output));
        assert!(
            split.host_table(Table::Output).iter().any(|&x| x != 0.0),
            "nothing trained"
        );
    }

    /// The device path (`DeviceTables`: gathers and scatter-adds as burn ops, the three agents'
    /// tables in blocks of two as on a GPU whose largest buffer holds two) run on the CPU's flex
    /// device against the host's tick update: the same draws, the same triples, so every latent,
    /// table, concept reading and checkpoint must agree up to float rounding.
    #[test]
    fn device_tables_train_as_the_host_tick_update_does() {
        for shared_negatives in [false, true] {
            device_tables_agree(shared_negatives);
        }
    }

    /// [`device_tables_train_as_the_host_tick_update_does`] with noise draws of each agent's own or
    /// shared (then the host's tables are one block of three agents, the device's per agent).
    fn device_tables_agree(shared_negatives: bool) {
        use crate::worlds::text::{EOS, UNK};
        let mut words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        words.extend([EOS.to_string(), UNK.to_string()]);
        let vocab = Vocabulary::from_counts(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (w.clone(), 1 + i as u64 % 7))
                .collect(),
        );
        let config = SensoryCortexConfig {
            dim: 12,
            window: 3,
            negatives: 4,
            lr: 0.2,
            context_decay: 0.4,
            subsample: 0.02,
            center: true,
            center_every: 7,
            update: Update::Tick,
            shared_negatives,
            ..Default::default()
        };
        let p = 3;
        let mut host = cortex(&vocab, config.clone(), p);
        let mut device = cortex(&vocab, config, p);
        device.move_tables_in_blocks(&Device::flex(), 2);
        let mut rng = SimRng::seed_from_u64(5);
        let mut worst = 0.0f32;
        let mut compare = |a: &Signal, b: &Signal| {
            let (a, b) = (a.to_host(), b.to_host());
            a.iter()
                .zip(&b)
                .for_each(|(x, y)| worst = worst.max((x - y).abs()));
        };
        for _ in 0..300 {
            let ids: Vec<u32> = (0..p).map(|_| rng.gen_range(0..vocab.len() as u32)).collect();
            let (a, b) = (
                host.step(&tokens(&ids)).unwrap(),
                device.step(&tokens(&ids)).unwrap(),
            );
            assert!(
                matches!(b[0].1, Signal::Device(_)),
                "the device path returns a device latent"
            );
            compare(&a[0].1, &b[0].1);
        }
        assert!(worst < 1e-5, "latents differ by {worst}");
        let (mut a, mut b) = (Snapshot::default(), Snapshot::default());
        host.save(&mut a).unwrap();
        device.save(&mut b).unwrap();
        for (key, shape) in [
            ("input", vec![p, vocab.len(), 12]),
            ("output", vec![p, vocab.len(), 12]),
            ("mean", vec![p, 12]),
        ] {
            let (x, y) = (a.array(key, &shape).unwrap(), b.array(key, &shape).unwrap());
            let off = x.iter().zip(&y).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(off < 1e-5, "{key} differs by {off}");
            assert!(x.iter().any(|&v| v != 0.0), "{key} is all zeros");
        }
        let phrase = [3, 9];
        let (x, y) = (
            host.concept_latent(&phrase).unwrap(),
            device.concept_latent(&phrase).unwrap(),
        );
        assert!(x.iter().zip(&y).all(|(x, y)| (x - y).abs() < 1e-5), "{x} vs {y}");
        // A checkpoint restores into device tables.
        let mut again = cortex(&vocab, device.config.clone(), p);
        again.move_tables_in_blocks(&Device::flex(), 2);
        again.restore(&b).unwrap();
        let mut c = Snapshot::default();
        again.save(&mut c).unwrap();
        assert_eq!(
            c.array("input", &[p, vocab.len(), 12]).unwrap(),
            b.array("input", &[p, vocab.len(), 12]).unwrap()
        );
        assert_eq!(again.divergent_agent(), None);
    }
}
