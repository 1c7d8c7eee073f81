//! # Hippocampus — an episodic store: one-shot storage, similarity recall, offline replay
//!
//! Complementary learning systems (McClelland, McNaughton & O'Reilly 1995; Lengyel & Dayan
//! 2007): the hippocampus stores each experience at once, where the cortex and the reward
//! model learn slowly. Per agent, a bounded store of episodes
//!
//! ```text
//! key = z (the latent context), value = (z, token, a_{t−1}, r)
//! ```
//!
//! Under `timing = "state"` the tick's reward is stored with the tick's latent (the reward is
//! received in that state); under `"transition"`, with the previous tick's latent (the reward
//! is the outcome of what was done there). Every tick, before storing, it recalls: for the
//! query z_t each stored episode scores
//!
//! ```text
//! s_i = cos(key_i, z_t) · recency^(t − t_i)          (only episodes with cos ≥ `threshold`)
//! ```
//!
//! and the `k` best are averaged with weights s_i / Σ s. Recall refreshes an episode's last
//! use. When the store is full, a new episode evicts the least recently used one
//! (`eviction = "least_recently_used"`: stored or recalled longest ago) or the oldest
//! (`"oldest"`). With `store = "rewarded"` only ticks with r ≠ 0 are stored.
//!
//! **Replay.** In a phase with `replay = "<this region>"`, the world is silent and the brain
//! receives the stored episodes instead — each agent's token and reward, oldest first, cycling
//! — so the cortex and the reward model train offline on remembered experience (nothing is
//! stored while replaying).
//!
//! Ports: inputs `latent` `[P, D]` (Latent, required), `reward` `[P, 1]` (Reward, required),
//! `action` `[P, 1]` (Action, optional, `delay = 1`), `token` `[P, 1]` (Token, optional: what
//! replay re-presents); outputs (Memory) `recalled_reward` `[P, 1]`, `recalled_latent`
//! `[P, D]`, `recalled_action` `[P, actions]` (the recalled actions' one-hot average) and
//! `match` `[P, 1]` (the best score; all 0 when nothing passes the threshold).
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `capacity` | 256 | episodes per agent |
//! | `k` | 1 | episodes averaged per recall |
//! | `threshold` | 0.5 | least cosine similarity recalled |
//! | `recency` | 0.999 | score factor per tick of age, in (0, 1] |
//! | `eviction` | "least_recently_used" | or "oldest" |
//! | `store` | "all" | or "rewarded" |
//! | `timing` | "state" | "state" or "transition" (which latent a reward is stored with) |
//! | `actions` | 2 | width of `recalled_action` |
//! | `dim` | 16 | D, width of the `latent` input and of `recalled_latent` |
//!
//! The store is host memory (`[P, capacity, D]` keys, unit-normalised, in one array); each
//! tick is one pass over the agents, each recalling and then storing.

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fork::Helper;
use super::prefetch_from;
use super::{
    BuildContext, Inputs, Outputs, PARALLEL_MIN_AGENTS, ParamError, PortSpec, Ports, Region, RegionParams,
    RegionSpec, RewardTiming, Width,
};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};

/// Which episode a full store drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eviction {
    /// The one stored or recalled longest ago.
    LeastRecentlyUsed,
    /// The one stored longest ago.
    Oldest,
}

/// Which ticks are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorePolicy {
    /// Every tick.
    All,
    /// Ticks with a reward ≠ 0.
    Rewarded,
}

/// Hyperparameters of [`Hippocampus`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HippocampusConfig {
    /// Episodes per agent.
    pub capacity: usize,
    /// Episodes averaged per recall.
    pub k: usize,
    /// Least cosine similarity recalled.
    pub threshold: f64,
    /// Score factor per tick of an episode's age, in (0, 1].
    pub recency: f64,
    /// Which episode a full store drops.
    pub eviction: Eviction,
    /// Which ticks are stored.
    pub store: StorePolicy,
    /// Which latent a reward is stored with.
    pub timing: RewardTiming,
    /// Width of `recalled_action`.
    pub actions: usize,
    /// D, the width of the latent input (and of `recalled_latent`).
    pub dim: usize,
}

impl Default for HippocampusConfig {
    fn default() -> Self {
        HippocampusConfig {
            capacity: 256,
            k: 1,
            threshold: 0.5,
            recency: 0.999,
            eviction: Eviction::LeastRecentlyUsed,
            store: StorePolicy::All,
            timing: RewardTiming::State,
            actions: 2,
            dim: 16,
        }
    }
}

impl RegionParams for HippocampusConfig {
    const KIND: &'static str = "hippocampus";
    const SUMMARY: &'static str =
        "episodic store: one-shot storage, similarity recall with recency, offline replay";
    const DETAIL: &'static str = include_str!("hippocampus.rs");
    const REPLAYS: bool = true;

    /// The ports.
    fn ports(&self) -> Ports {
        let d = self.dim;
        Ports {
            inputs: vec![
                PortSpec::input(
                    "latent",
                    SignalKind::Latent,
                    Width::Fixed(d),
                    "z_t, key and content",
                ),
                PortSpec::input("reward", SignalKind::Reward, Width::Fixed(1), "r_t"),
                PortSpec::optional(
                    "action",
                    SignalKind::Action,
                    Width::Fixed(1),
                    "a_{t−1} (delay = 1)",
                ),
                PortSpec::optional(
                    "token",
                    SignalKind::Token,
                    Width::Fixed(1),
                    "the token, for replay",
                ),
            ],
            outputs: vec![
                PortSpec::output("recalled_reward", SignalKind::Memory, 1, "recalled reward"),
                PortSpec::output("recalled_latent", SignalKind::Memory, d, "recalled latent"),
                PortSpec::output(
                    "recalled_action",
                    SignalKind::Memory,
                    self.actions,
                    "recalled action (one-hot average)",
                ),
                PortSpec::output("match", SignalKind::Memory, 1, "best recall score (0: none)"),
            ],
        }
    }

    /// Checks ranges.
    fn check(&self) -> Result<(), ParamError> {
        super::check_sizes(&[
            ("capacity", self.capacity, 10_000_000),
            ("actions", self.actions, super::MAX_WIDTH),
            ("dim", self.dim, super::MAX_WIDTH),
        ])?;
        if self.capacity == 0 {
            return Err(ParamError::new("capacity", "an integer ≥ 1"));
        }
        if self.k == 0 || self.k > self.capacity {
            return Err(ParamError::new("k", "an integer in [1, capacity]"));
        }
        if !(self.threshold.is_finite() && (-1.0..=1.0).contains(&self.threshold)) {
            return Err(ParamError::new("threshold", "a cosine in [-1, 1]"));
        }
        if !(self.recency > 0.0 && self.recency <= 1.0) {
            return Err(ParamError::new("recency", "a number in (0, 1]"));
        }
        if self.actions == 0 {
            return Err(ParamError::new("actions", "an integer ≥ 1"));
        }
        if self.dim == 0 {
            return Err(ParamError::new("dim", "an integer ≥ 1 (the latent's width)"));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(Hippocampus::new(self, ctx)))
    }

    /// The store: per episode a latent of `dim`, its token, action, reward and times.
    fn bytes_per_agent(&self, _vocabulary: usize) -> u64 {
        (self.capacity as u64).saturating_mul(4 * self.dim as u64 + 48)
    }
}

/// One agent's store (its keys are a block of [`Hippocampus::keys`]).
struct Store {
    /// The episodes' latents `[capacity, D]` and the rest of their contents.
    latents: Array2<f32>,
    tokens: Vec<f32>,
    actions: Vec<usize>,
    rewards: Vec<f32>,
    stored_at: Vec<u64>,
    used_at: Vec<u64>,
    len: usize,
    /// The next episode to replay (index into the episodes in storage order).
    replay_cursor: usize,
    /// Slots in storage order (oldest first), computed when replay starts; emptied by storing.
    replay_order: Vec<usize>,
    /// Recall's working arrays, kept between ticks: the unit query and the scores that pass.
    query: Vec<f32>,
    scored: Vec<(f32, usize)>,
}

impl Store {
    fn new(capacity: usize, d: usize) -> Self {
        Store {
            latents: Array2::zeros((capacity, d)),
            tokens: vec![0.0; capacity],
            actions: vec![0; capacity],
            rewards: vec![0.0; capacity],
            stored_at: vec![0; capacity],
            used_at: vec![0; capacity],
            len: 0,
            replay_cursor: 0,
            replay_order: Vec::new(),
            query: Vec::new(),
            scored: Vec::new(),
        }
    }
}

/// The episodic store for P agents. See the module documentation.
pub struct Hippocampus {
    config: HippocampusConfig,
    stores: Vec<Store>,
    /// Every agent's unit keys, `[P, capacity, D]` in one array: recall reads them in one
    /// stream, and prefetches the next agent's first keys while it scores an agent's last.
    keys: Vec<f32>,
    dim: usize,
    tick: u64,
    /// The previous tick's latent and token (for `timing = "transition"`).
    previous: Option<(Array2<f32>, Option<Array2<f32>>)>,
    learning: bool,
    /// The second thread for half the agents on a two-thread machine ([`HELPER_MIN_STORES`]).
    helper: Option<Helper>,
    /// recency^age for ages 0, 1, … (up to [`DECAY_TABLE_LEN`]), the same `powf` values the
    /// scores would compute, shared by every agent's recall instead of one `powf` per episode.
    decay: Vec<f64>,
}

/// What one agent's tick works on: its store and output row, its latent and keys.
type Agent<'a> = ((&'a mut Store, &'a mut [f32]), (&'a [f32], &'a mut [f32]));

/// The episodes a tick stores, one per agent: latents `[P, D]` (standard layout), tokens and
/// actions `[P, 1]` (0 when absent), rewards `[P, 1]`.
struct Episodes<'a> {
    z: ndarray::CowArray<'a, f32, ndarray::Ix2>,
    token: Option<&'a Array2<f32>>,
    action: Option<&'a Array2<f32>>,
    reward: &'a Array2<f32>,
}

/// On machines with other than two threads (two split from [`HELPER_MIN_STORES`] over the
/// helper), below this many agents recall and storage run on one thread, and from it on rayon's
/// workers. An agent's recall is 1–2 µs, less
/// than waking rayon's workers costs: `valence bench --brain` (the full brain, 2026-12-05) gave
/// P = 32 156 k agent-ticks/s in parallel against 200 k on one thread, P = 128 184 k against
/// 200 k, P = 256 205 k against 177 k, P = 1024 151 k against 125 k (the regions' shared
/// `PARALLEL_MIN_AGENTS`, 16, is the cortex's, whose agents each do far more a tick).
const PARALLEL_MIN_STORES: usize = 256;

/// From this many agents a two-thread machine recalls and stores half of them on the
/// [`Helper`] thread, the first half always on the caller, instead of waking rayon (whose
/// workers and the helper, still spinning after the PFC's job, were three threads on two
/// cores). `valence bench --brain` (millidge, 2026-12-06, three interleaved runs): P = 32
/// 0.125–0.127 → 0.108–0.115 ms a tick against one thread (a threshold of 64 or 256 would
/// leave P = 32 on one thread).
const HELPER_MIN_STORES: usize = PARALLEL_MIN_AGENTS;

/// Ages with a precomputed recency factor (older episodes' factors are computed as needed).
const DECAY_TABLE_LEN: usize = 1 << 16;

/// Keys between the one recall scores and the one it asks the cache for (16: 2 KB at D = 32;
/// measured at P = 1024 in the full brain, where the PFC's stream has evicted every key; again
/// with eight keys at a time, 2026-12-06: 16, 32 and 64 alike, 128 slower).
const AHEAD: usize = 16;

/// What k = 1 recall scores a store's keys with: the unit query, the threshold, the tick, the
/// keys' storage ticks and recency^age by age (past the table, `recency.powf(age)`).
struct Scan<'a> {
    q: &'a [f32],
    threshold: f32,
    tick: u64,
    stored_at: &'a [u64],
    decay: &'a [f64],
    recency: f64,
}

impl Scan<'_> {
    /// Key j's score: cos · recency^age, or −∞ below the threshold (a select, not a branch:
    /// its outcome varies from key to key).
    #[inline(always)]
    fn score(&self, j: usize, key: &[f32]) -> f32 {
        let c = dot(key, self.q);
        let s = c * self.factor(j) as f32;
        if c >= self.threshold { s } else { f32::NEG_INFINITY }
    }

    /// Key j's recency^age: from the table, or past it `recency.powf(age)`.
    #[inline(always)]
    fn factor(&self, j: usize) -> f64 {
        let age = self.tick - self.stored_at[j];
        self.decay
            .get(age as usize)
            .copied()
            .unwrap_or_else(|| self.recency.powf(age as f64))
    }

    /// [`Scan::factor`] of keys j…j + 7, some of them past the table: apart, so that the hot path
    /// of the eight-key scan has no call to `powf` in it.
    #[cold]
    #[inline(never)]
    fn factors_past_table(&self, j: usize) -> [f32; 8] {
        std::array::from_fn(|i| self.factor(j + i) as f32)
    }

    /// `best` becomes (key j's score, j) if that is greater in `f32::total_cmp` (ties keep the
    /// earlier slot).
    #[inline(always)]
    fn best_one(&self, j: usize, key: &[f32], best: &mut (f32, usize)) {
        let s = self.score(j, key);
        if s.total_cmp(&best.0).is_gt() {
            *best = (s, j);
        }
    }

    /// [`Scan::best_one`] of the whole eights of `keys` (D = `q.len()`, a multiple of eight), eight
    /// keys at a time (AVX2): each key's [`dot`] — its two four-lane running sums are the halves
    /// of one eight-lane sum, then added and summed in [`dot`]'s order for eight keys at once —
    /// times the recency factor, or −∞ below the threshold; `best` is compared lane by lane only
    /// where some lane exceeds it. Each key's `ahead` and the times' `ahead_times` are asked of the
    /// cache. Returns the number of keys scored.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn best_of_eights(
        &self,
        keys: &[f32],
        best: &mut (f32, usize),
        (ahead, ahead_times): (&impl Fn(usize) -> *const f32, &impl Fn(usize) -> [*const u64; 2]),
    ) -> usize {
        use std::arch::x86_64::*;
        let d = self.q.len();
        debug_assert!(
            d > 0 && d.is_multiple_of(8),
            "D = {d}: the eight-lane sums need a multiple of 8"
        );
        let n = keys.len() / d / 8 * 8;
        let chunks = d / 8;
        let zero = _mm256_setzero_ps();
        let below = _mm256_set1_ps(f32::NEG_INFINITY);
        let threshold = _mm256_set1_ps(self.threshold);
        // The total order's integer of a float (`f32::total_cmp`).
        let order = |s: __m256| {
            let b = _mm256_castps_si256(s);
            _mm256_xor_si256(b, _mm256_srli_epi32::<1>(_mm256_srai_epi32::<31>(b)))
        };
        for j in (0..n).step_by(8) {
            for t in ahead_times(j).into_iter().chain(ahead_times(j + 7)) {
                _mm_prefetch::<_MM_HINT_T0>(t.cast::<i8>());
            }
            for i in j..j + 8 {
                let at = ahead(i);
                for l in (0..d).step_by(16) {
                    // A hint that does not fault: the address need not be in bounds.
                    _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(l).cast::<i8>());
                }
            }
            // Each key's eight running sums: lanes 0–3 are `dot`'s `low`, 4–7 its `high`.
            let sums: [__m256; 8] = std::array::from_fn(|i| {
                let key = &keys[(j + i) * d..(j + i + 1) * d];
                let mut acc = zero;
                for c in 0..chunks {
                    // SAFETY: eight floats of `key` and of the query from 8c (c < D / 8).
                    let (x, y) = unsafe {
                        (
                            _mm256_loadu_ps(key[8 * c..8 * c + 8].as_ptr()),
                            _mm256_loadu_ps(self.q[8 * c..8 * c + 8].as_ptr()),
                        )
                    };
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(x, y));
                }
                acc
            });
            // low + high of keys i and i + 4 side by side, then transposed: lane i of t[m] is
            // key i's p[m].
            let p: [__m256; 4] = std::array::from_fn(|i| {
                _mm256_add_ps(
                    _mm256_permute2f128_ps::<0x20>(sums[i], sums[i + 4]),
                    _mm256_permute2f128_ps::<0x31>(sums[i], sums[i + 4]),
                )
            });
            let (a, b) = (_mm256_unpacklo_ps(p[0], p[1]), _mm256_unpackhi_ps(p[0], p[1]));
            let (c, e) = (_mm256_unpacklo_ps(p[2], p[3]), _mm256_unpackhi_ps(p[2], p[3]));
            let pd = _mm256_castps_pd;
            let t = [
                _mm256_castpd_ps(_mm256_unpacklo_pd(pd(a), pd(c))),
                _mm256_castpd_ps(_mm256_unpackhi_pd(pd(a), pd(c))),
                _mm256_castpd_ps(_mm256_unpacklo_pd(pd(b), pd(e))),
                _mm256_castpd_ps(_mm256_unpackhi_pd(pd(b), pd(e))),
            ];
            // `dot`'s sum = 0.0 + p[0], then += p[1], p[2], p[3].
            let cos = _mm256_add_ps(
                _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(zero, t[0]), t[1]), t[2]),
                t[3],
            );
            let ages: [u64; 8] = std::array::from_fn(|i| self.tick - self.stored_at[j + i]);
            let factors: [f32; 8] = if ages.iter().all(|&a| (a as usize) < self.decay.len()) {
                std::array::from_fn(|i| self.decay[ages[i] as usize] as f32)
            } else {
                self.factors_past_table(j)
            };
            // SAFETY: eight floats.
            let factors = unsafe { _mm256_loadu_ps(factors.as_ptr()) };
            let scored = _mm256_mul_ps(cos, factors);
            let passes = _mm256_cmp_ps::<_CMP_GE_OQ>(cos, threshold);
            let s = _mm256_blendv_ps(below, scored, passes);
            let better = _mm256_cmpgt_epi32(order(s), order(_mm256_set1_ps(best.0)));
            if _mm256_movemask_epi8(better) != 0 {
                let mut lanes = [0.0f32; 8];
                // SAFETY: eight floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
                for (i, &s) in lanes.iter().enumerate() {
                    if s.total_cmp(&best.0).is_gt() {
                        *best = (s, j + i);
                    }
                }
            }
        }
        n
    }
}

/// v / ‖v‖, or v itself when ‖v‖ = 0 (‖v‖² by [`dot`]).
fn unit(v: &[f32]) -> impl Iterator<Item = f32> + '_ {
    let n = dot(v, v).sqrt();
    v.iter().map(move |&x| if n > 0.0 { x / n } else { x })
}

/// ndarray's `dot` of two contiguous rows — its eight running sums, combined in its order — inlined
/// where recall scores every key, so the scores keep the bits `keys.dot(&q)` gave them. On
/// x86-64 the eight sums are two SSE registers (every x86-64 has SSE): the same additions, four
/// lanes at a time (ndarray's own loop compiles to two lanes at a time there).
#[inline(always)]
fn dot(xs: &[f32], ys: &[f32]) -> f32 {
    let ys = &ys[..xs.len()];
    let whole = xs.len() / 8 * 8;
    #[cfg(target_arch = "x86_64")]
    let mut sum = {
        use std::arch::x86_64::{_mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_setzero_ps, _mm_storeu_ps};
        // SAFETY: SSE is part of x86-64 (these intrinsics need no check at run time), and each
        // load reads four floats of an eight-float chunk of `xs` or `ys`.
        unsafe {
            let (mut low, mut high) = (_mm_setzero_ps(), _mm_setzero_ps());
            for i in (0..whole).step_by(8) {
                let (x, y) = (xs[i..i + 8].as_ptr(), ys[i..i + 8].as_ptr());
                low = _mm_add_ps(low, _mm_mul_ps(_mm_loadu_ps(x), _mm_loadu_ps(y)));
                high = _mm_add_ps(high, _mm_mul_ps(_mm_loadu_ps(x.add(4)), _mm_loadu_ps(y.add(4))));
            }
            let mut p = [0.0f32; 4];
            _mm_storeu_ps(p.as_mut_ptr(), _mm_add_ps(low, high));
            let mut sum = 0.0 + p[0];
            sum += p[1];
            sum += p[2];
            sum += p[3];
            sum
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let mut sum = {
        let mut p = [0.0f32; 8];
        for (x, y) in xs[..whole].chunks_exact(8).zip(ys.chunks_exact(8)) {
            for ((p, &x), &y) in p.iter_mut().zip(x).zip(y) {
                *p += x * y;
            }
        }
        let mut sum = 0.0 + (p[0] + p[4]);
        sum += p[1] + p[5];
        sum += p[2] + p[6];
        sum += p[3] + p[7];
        sum
    };
    for (&x, &y) in xs[whole..].iter().zip(&ys[whole..]) {
        sum += x * y;
    }
    sum
}

impl Hippocampus {
    /// An empty store per agent.
    pub fn new(config: &HippocampusConfig, ctx: &BuildContext<'_>) -> Self {
        let d = config.dim;
        Hippocampus {
            config: config.clone(),
            stores: (0..ctx.population)
                .map(|_| Store::new(config.capacity, d))
                .collect(),
            keys: vec![0.0; ctx.population * config.capacity * d],
            dim: d,
            tick: 0,
            decay: Vec::new(),
            previous: None,
            learning: true,
            helper: if ctx.population >= HELPER_MIN_STORES && rayon::current_num_threads() == 2 {
                Helper::spawn()
            } else {
                None
            },
        }
    }

    /// Recalls for every agent: (reward, latent, action one-hot, best score); then, with
    /// `episodes`, stores one episode per agent (unless `store = "rewarded"` and r = 0). Each
    /// agent recalls before it stores, in one pass over the agents (its store is still in the
    /// cache when it is written).
    fn recall_and_store(
        &mut self,
        z: &Array2<f32>,
        episodes: Option<Episodes<'_>>,
    ) -> (Array2<f32>, Array2<f32>, Array2<f32>, Array2<f32>) {
        let p = self.stores.len();
        let (d, a) = (self.dim, self.config.actions);
        // One row [reward, best, latent (D), action (A)] per agent, filled independently.
        let width = 2 + d + a;
        let mut rows = Array2::<f32>::zeros((p, width));
        // Ages run up to the tick: extend the table to cover them (one entry a tick, at most).
        let ages = (self.tick as usize).saturating_add(1).min(DECAY_TABLE_LEN);
        let recency = self.config.recency;
        let factor = |age: u64| recency.powf(age as f64);
        let known = self.decay.len();
        self.decay.extend((known as u64..ages as u64).map(factor));
        let (config, tick, decay) = (&self.config, self.tick, &self.decay);
        let threshold = config.threshold as f32;
        let block = config.capacity * d;
        // Where each agent's storage and use times lie (allocations of their own): the scan
        // asks the cache for them AHEAD keys on, as it does the keys, into the next agent's.
        let times: Vec<[usize; 2]> = (self.stores.iter().filter(|_| config.k == 1))
            .map(|s| [s.stored_at.as_ptr() as usize, s.used_at.as_ptr() as usize])
            .collect();
        let recall_one =
            |store: &mut Store, row: &mut [f32], z: &[f32], keys: &[f32], next: Option<&[usize; 2]>| {
                if store.len == 0 {
                    return;
                }
                let q = &mut store.query;
                q.clear();
                q.extend(unit(z));
                let scored = &mut store.scored;
                scored.clear();
                let used = &keys[..store.len * d];
                // The key AHEAD on from j: in this store, or past its last one, the next agent's
                // (an address past the array is only a hint that nothing reads).
                let ahead = |j: usize| {
                    let at = if j + AHEAD < store.len {
                        j + AHEAD
                    } else {
                        config.capacity + j + AHEAD - store.len
                    };
                    keys.as_ptr().wrapping_add(at * d)
                };
                // The same for the storage and use times (the next agent's from its first).
                // (Past the last agent, its own times again: hints at addresses in use.)
                let ahead_times = |j: usize| -> [*const u64; 2] {
                    let own = [store.stored_at.as_ptr(), store.used_at.as_ptr()];
                    if j + AHEAD < store.len {
                        own.map(|t| t.wrapping_add(j + AHEAD))
                    } else {
                        next.map_or(own, |addresses| {
                            addresses.map(|t| (t as *const u64).wrapping_add(j + AHEAD - store.len))
                        })
                    }
                };
                let scan = Scan {
                    q,
                    threshold,
                    tick,
                    stored_at: &store.stored_at,
                    decay,
                    recency,
                };
                if config.k == 1 {
                    // Only the head of the order below: the best score, ties to the earlier slot,
                    // in one pass with the threshold test as a select, not a branch (its outcome
                    // varies from key to key). Measured at P = 1024: ~10% of the region's time.
                    let mut best = (f32::NEG_INFINITY, usize::MAX);
                    // Eight keys at a time where the CPU has AVX2 and D is a multiple of eight
                    // ([`Scan::best_of_eights`]): the same sums and products, so the same bits.
                    let mut from = 0;
                    #[cfg(target_arch = "x86_64")]
                    if d.is_multiple_of(8) && std::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2 (checked above).
                        from = unsafe { scan.best_of_eights(used, &mut best, (&ahead, &ahead_times)) };
                    }
                    for (j, key) in used.chunks_exact(d).enumerate().skip(from) {
                        prefetch_from(ahead(j), d);
                        scan.best_one(j, key, &mut best);
                    }
                    if best.1 != usize::MAX {
                        scored.push(best);
                    }
                } else {
                    for (j, key) in used.chunks_exact(d).enumerate() {
                        prefetch_from(ahead(j), d);
                        let c = dot(key, q);
                        if c >= threshold {
                            scored.push((c * scan.factor(j) as f32, j));
                        }
                    }
                }
                if scored.is_empty() {
                    return;
                }
                // Best first, ties to the earlier slot: a strict total order, so selecting the k
                // best and sorting only those gives exactly the head of the full sort.
                let order = |x: &(f32, usize), y: &(f32, usize)| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1));
                if scored.len() > config.k {
                    scored.select_nth_unstable_by(config.k - 1, order);
                    scored.truncate(config.k);
                }
                scored.sort_by(order);
                let total: f32 = scored.iter().map(|s| s.0).sum();
                row[1] = scored[0].0;
                for &(s, j) in scored.iter() {
                    let w = if total > 0.0 {
                        s / total
                    } else {
                        1.0 / scored.len() as f32
                    };
                    row[0] += w * store.rewards[j];
                    for (r, &x) in row[2..2 + d].iter_mut().zip(store.latents.row(j)) {
                        *r += w * x;
                    }
                    row[2 + d + store.actions[j].min(a - 1)] += w;
                    store.used_at[j] = tick;
                }
            };
        let store_one = |i: usize, store: &mut Store, keys: &mut [f32], e: &Episodes<'_>| {
            let reward = e.reward[[i, 0]];
            if config.store == StorePolicy::Rewarded && reward == 0.0 {
                return;
            }
            let slot = if store.len < config.capacity {
                store.len += 1;
                store.len - 1
            } else {
                let age = match config.eviction {
                    Eviction::LeastRecentlyUsed => &store.used_at,
                    Eviction::Oldest => &store.stored_at,
                };
                (0..store.len).min_by_key(|&j| (age[j], j)).expect("a full store")
            };
            let zi = e.z.row(i);
            let zi = zi.as_slice().expect("standard layout");
            for (key, x) in keys[slot * d..(slot + 1) * d].iter_mut().zip(unit(zi)) {
                *key = x;
            }
            for (to, &x) in store.latents.row_mut(slot).iter_mut().zip(zi) {
                *to = x;
            }
            store.tokens[slot] = e.token.map_or(0.0, |t| t[[i, 0]]);
            store.actions[slot] = e.action.map_or(0, |a| a[[i, 0]].max(0.0) as usize);
            store.rewards[slot] = reward;
            store.stored_at[slot] = tick;
            store.used_at[slot] = tick;
            store.replay_order.clear();
        };
        let agent = |(i, ((store, row), (z, keys))): (usize, Agent<'_>)| {
            recall_one(store, row, z, keys, times.get(i + 1));
            if let Some(e) = &episodes {
                store_one(i, store, keys, e);
            }
        };
        // Each agent's recall and storage touch only its own store, keys and row, so the split
        // across threads changes nothing in the results.
        let z = z.as_standard_layout();
        let z = z.as_slice().expect("standard layout");
        let out = rows.as_slice_mut().expect("a fresh array");
        let keys = &mut self.keys;
        let run = |first: usize, stores: &mut [Store], out: &mut [f32], z: &[f32], keys: &mut [f32]| {
            (stores.iter_mut())
                .zip(out.chunks_mut(width))
                .zip(z.chunks(d).zip(keys.chunks_mut(block)))
                .enumerate()
                .for_each(|(i, agent_data)| agent((first + i, agent_data)))
        };
        if let Some(helper) = self.helper.as_mut() {
            let half = p.div_ceil(2);
            let (stores_here, stores_there) = self.stores.split_at_mut(half);
            let (out_here, out_there) = out.split_at_mut(half * width);
            let (z_here, z_there) = z.split_at(half * d);
            let (keys_here, keys_there) = keys.split_at_mut(half * block);
            helper.join(
                || run(0, stores_here, out_here, z_here, keys_here),
                || run(half, stores_there, out_there, z_there, keys_there),
            );
        } else if p >= PARALLEL_MIN_STORES {
            (self.stores.par_iter_mut())
                .zip(out.par_chunks_mut(width))
                .zip(z.par_chunks(d).zip(keys.par_chunks_mut(block)))
                .enumerate()
                .for_each(agent);
        } else {
            run(0, &mut self.stores, out, z, keys);
        }
        let column = |from: usize, to: usize| rows.slice(ndarray::s![.., from..to]).to_owned();
        (column(0, 1), column(2, 2 + d), column(2 + d, width), column(1, 2))
    }

    /// Agent i's keys, `[capacity, D]`.
    #[cfg(test)]
    fn keys_of(&self, i: usize) -> ndarray::ArrayView2<'_, f32> {
        let (c, d) = (self.config.capacity, self.dim);
        ndarray::ArrayView2::from_shape((c, d), &self.keys[i * c * d..(i + 1) * c * d]).expect("[C, D]")
    }

    /// The number of episodes each agent holds.
    pub fn sizes(&self) -> Vec<usize> {
        self.stores.iter().map(|s| s.len).collect()
    }
}

impl Region for Hippocampus {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let get = |port: &str| {
            inputs
                .get(port)
                .map(Signal::to_host)
                .ok_or_else(|| Error::Run(format!("hippocampus: no `{port}` input")))
        };
        let z = get("latent")?;
        let r = get("reward")?;
        let token = inputs.get("token").map(Signal::to_host);
        let action = inputs.get("action").map(Signal::to_host);
        self.tick += 1;
        let previous = self.previous.take();
        let (z_stored, token_stored) = match (self.config.timing, &previous) {
            (RewardTiming::State, _) => (Some(&z), token.as_ref()),
            (RewardTiming::Transition, Some((z_prev, token_prev))) => (Some(z_prev), token_prev.as_ref()),
            (RewardTiming::Transition, None) => (None, None),
        };
        let episodes = z_stored.filter(|_| self.learning).map(|z| Episodes {
            z: z.as_standard_layout(),
            token: token_stored,
            action: action.as_ref(),
            reward: &r,
        });
        let (reward, latent, recalled_action, best) = self.recall_and_store(&z, episodes);
        self.previous = Some((z, token));
        Ok(vec![
            ("recalled_reward", Signal::Host(reward)),
            ("recalled_latent", Signal::Host(latent)),
            ("recalled_action", Signal::Host(recalled_action)),
            ("match", Signal::Host(best)),
        ])
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
    }

    /// Per tick each agent's recall reads every stored key (C·D), then the k episodes it
    /// recalls (k·D), and storing writes one key and one latent (2·D).
    fn bytes_per_tick(&self) -> Option<super::Traffic> {
        let (p, c, d) = (
            self.stores.len() as u64,
            self.config.capacity as u64,
            self.dim as u64,
        );
        let store = if self.learning { 2 * d } else { 0 };
        Some(super::Traffic {
            read: 4 * p * (c * d + self.config.k as u64 * d),
            written: 4 * p * store,
        })
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        let (p, c, d) = (self.stores.len(), self.config.capacity, self.dim);
        let keys = self.keys.clone();
        let latents = self
            .stores
            .iter()
            .flat_map(|s| s.latents.iter().copied())
            .collect();
        out.put_array("keys", &[p, c, d], keys);
        out.put_array("latents", &[p, c, d], latents);
        let stores = &self.stores;
        out.put("tokens", &stores.iter().map(|s| &s.tokens).collect::<Vec<_>>());
        out.put("actions", &stores.iter().map(|s| &s.actions).collect::<Vec<_>>());
        out.put("rewards", &stores.iter().map(|s| &s.rewards).collect::<Vec<_>>());
        out.put(
            "stored_at",
            &stores.iter().map(|s| &s.stored_at).collect::<Vec<_>>(),
        );
        out.put("used_at", &stores.iter().map(|s| &s.used_at).collect::<Vec<_>>());
        out.put("len", &stores.iter().map(|s| s.len).collect::<Vec<_>>());
        out.put(
            "replay_cursor",
            &stores.iter().map(|s| s.replay_cursor).collect::<Vec<_>>(),
        );
        out.put(
            "replay_order",
            &stores.iter().map(|s| &s.replay_order).collect::<Vec<_>>(),
        );
        out.put("tick", &self.tick);
        out.put_optional_host("previous_latent", self.previous.as_ref().map(|(z, _)| z));
        out.put_optional_host(
            "previous_token",
            self.previous.as_ref().and_then(|(_, t)| t.as_ref()),
        );
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let (p, c, d) = (self.stores.len(), self.config.capacity, self.dim);
        let keys: Vec<f32> = from.array("keys", &[p, c, d])?;
        let latents = from.array("latents", &[p, c, d])?;
        let tokens: Vec<Vec<f32>> = from.get("tokens")?;
        let actions: Vec<Vec<usize>> = from.get("actions")?;
        let rewards: Vec<Vec<f32>> = from.get("rewards")?;
        let stored_at: Vec<Vec<u64>> = from.get("stored_at")?;
        let used_at: Vec<Vec<u64>> = from.get("used_at")?;
        let len: Vec<usize> = from.get("len")?;
        let cursor: Vec<usize> = from.get("replay_cursor")?;
        let order: Vec<Vec<usize>> = from.get("replay_order")?;
        let sizes = [
            tokens.len(),
            actions.len(),
            rewards.len(),
            stored_at.len(),
            used_at.len(),
        ];
        if sizes
            .iter()
            .chain([len.len(), cursor.len(), order.len()].iter())
            .any(|&n| n != p)
        {
            return Err(Error::Run(format!(
                "checkpoint: saved for another population than {p}"
            )));
        }
        for (i, store) in self.stores.iter_mut().enumerate() {
            let block =
                |all: &[f32]| Array2::from_shape_vec((c, d), all[i * c * d..(i + 1) * c * d].to_vec());
            store.latents = block(&latents).expect("shape checked");
            store.tokens = tokens[i].clone();
            store.actions = actions[i].clone();
            store.rewards = rewards[i].clone();
            store.stored_at = stored_at[i].clone();
            store.used_at = used_at[i].clone();
            store.len = len[i];
            store.replay_cursor = cursor[i];
            store.replay_order = order[i].clone();
        }
        self.keys = keys;
        self.tick = from.get("tick")?;
        let z = from.optional_host("previous_latent", [p, d])?;
        let token = from.optional_host("previous_token", [p, 1])?;
        self.previous = z.map(|z| (z, token));
        Ok(())
    }

    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        match spec.get::<HippocampusConfig>() {
            Some(c) if c.capacity == self.config.capacity && c.actions == self.config.actions => {
                self.config = c.clone();
                Ok(())
            }
            _ => Err(Error::Run(
                "hippocampus: capacity and actions cannot change during a run".into(),
            )),
        }
    }

    fn replay(&mut self) -> Option<Result<Outputs>> {
        let p = self.stores.len();
        let mut token = Array2::zeros((p, 1));
        let mut reward = Array2::zeros((p, 1));
        for (i, store) in self.stores.iter_mut().enumerate() {
            if store.len == 0 {
                return Some(Err(Error::Run(format!(
                    "hippocampus: agent {i} has no stored episode to replay"
                ))));
            }
            // Storage order: oldest first.
            if store.replay_order.len() != store.len {
                store.replay_order = (0..store.len).collect();
                store.replay_order.sort_by_key(|&j| (store.stored_at[j], j));
            }
            let j = store.replay_order[store.replay_cursor % store.len];
            store.replay_cursor = (store.replay_cursor + 1) % store.len;
            token[[i, 0]] = store.tokens[j];
            reward[[i, 0]] = store.rewards[j];
        }
        Some(Ok(vec![
            ("token", Signal::Host(token)),
            ("reward", Signal::Host(reward)),
        ]))
    }

    fn divergent_agent(&self) -> Option<usize> {
        self.stores
            .iter()
            .position(|s| !s.latents.iter().chain(s.rewards.iter()).all(|v| v.is_finite()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SimRng;
    use crate::vocabulary::Vocabulary;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Uniform};

    fn hippocampus(config: HippocampusConfig, dim: usize) -> Hippocampus {
        population(config, dim, 1)
    }

    fn population(config: HippocampusConfig, dim: usize, p: usize) -> Hippocampus {
        let device = burn::prelude::Device::flex();
        let vocabulary = Vocabulary::default();
        let ctx = BuildContext {
            population: p,
            device: &device,
            seeds: vec![0; p],
            vocabulary: &vocabulary,
            input_widths: [("latent", dim)].into_iter().collect(),
        };
        Hippocampus::new(&HippocampusConfig { dim, ..config }, &ctx)
    }

    /// The eight-key scan finds the (score, slot) the one-key scan finds, to the bit: keys with
    /// equal scores (ties to the earlier slot), scores under the threshold and exactly at it,
    /// keys of NaNs, ages past the recency table, negative thresholds and every D that is a
    /// multiple of eight up to 64.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn eight_keys_at_a_time_find_the_best_one_key_at_a_time_finds() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: nothing to compare");
            return;
        }
        let mut rng = SimRng::seed_from_u64(11);
        let u = Uniform::new(-1.0f32, 1.0);
        let recency = 0.97f64;
        let decay: Vec<f64> = (0..40).map(|a| recency.powf(a as f64)).collect();
        let mut vector_winners = 0;
        for trial in 0..400 {
            let d = 8 * (1 + trial % 8);
            let n = trial % 70;
            let mut keys: Vec<f32> = Vec::with_capacity(n * d);
            for j in 0..n {
                if j >= 3 && j.is_multiple_of(5) {
                    // A copy of an earlier key: an equal cosine.
                    let from = (j - 3) * d;
                    keys.extend_from_within(from..from + d);
                } else {
                    let v: Vec<f32> = (0..d).map(|_| u.sample(&mut rng)).collect();
                    keys.extend(unit(&v));
                }
            }
            let q: Vec<f32> = unit(&(0..d).map(|_| u.sample(&mut rng)).collect::<Vec<_>>()).collect();
            let tick = 60u64;
            // Copies share their original's storage tick (equal scores); some ages are past
            // the 40-entry table.
            let age = |j: usize| {
                if (j + trial).is_multiple_of(23) {
                    40 + j % 5
                } else {
                    (j * 7 + trial) % 40
                }
            };
            let mut stored_at: Vec<u64> = (0..n).map(|j| tick - age(j) as u64).collect();
            for j in (3..n).filter(|j| j.is_multiple_of(5)) {
                stored_at[j] = stored_at[j - 3];
            }
            if n >= 2 && trial % 7 == 3 {
                // A key of NaNs (a latent that had one): never recalled.
                keys[d..2 * d].fill(f32::NAN);
            }
            // Some thresholds are exactly key 0's cosine: it passes (c ≥ threshold).
            let threshold = if n > 0 && trial % 5 == 4 {
                dot(&keys[..d], &q)
            } else {
                [-0.5, 0.0, 0.1, 0.3][trial % 4]
            };
            let scan = Scan {
                q: &q,
                threshold,
                tick,
                stored_at: &stored_at,
                decay: &decay,
                recency,
            };
            let mut want = (f32::NEG_INFINITY, usize::MAX);
            for (j, key) in keys.chunks_exact(d).enumerate() {
                scan.best_one(j, key, &mut want);
            }
            let mut got = (f32::NEG_INFINITY, usize::MAX);
            let nowhere = |_: usize| std::ptr::null::<f32>();
            let no_times = |_: usize| [std::ptr::null::<u64>(); 2];
            // SAFETY: the CPU has AVX2 (checked above).
            let from = unsafe { scan.best_of_eights(&keys, &mut got, (&nowhere, &no_times)) };
            assert_eq!(from, n / 8 * 8);
            if want.1 < from {
                vector_winners += 1;
            }
            for (j, key) in keys.chunks_exact(d).enumerate().skip(from) {
                scan.best_one(j, key, &mut got);
            }
            assert_eq!(
                (got.0.to_bits(), got.1),
                (want.0.to_bits(), want.1),
                "trial {trial}, D = {d}, n = {n}"
            );
        }
        assert!(
            vector_winners > 100,
            "{vector_winners} trials won in an eight-key lane"
        );
    }

    #[test]
    fn a_tick_reads_every_key_and_writes_one_episode() {
        let config = HippocampusConfig {
            capacity: 16,
            k: 2,
            ..Default::default()
        };
        let mut h = hippocampus(config, 4);
        // 4 B · (16 keys · 4 + 2 recalled · 4 + a key and a latent stored, 2 · 4).
        let traffic = |read, written| Some(super::super::Traffic { read, written });
        assert_eq!(h.bytes_per_tick(), traffic(4 * (64 + 8), 4 * 8));
        h.set_learning(false);
        assert_eq!(
            h.bytes_per_tick(),
            traffic(4 * (64 + 8), 0),
            "frozen: recall only"
        );
    }

    fn tick(h: &mut Hippocampus, z: &[f32], r: f32) -> (f32, f32) {
        let mut i = Inputs::default();
        i.insert(
            "latent",
            Signal::Host(Array2::from_shape_vec((1, z.len()), z.to_vec()).unwrap()),
        );
        i.insert("reward", Signal::Host(Array2::from_elem((1, 1), r)));
        let out = h.step(&i).unwrap();
        (out[0].1.to_host()[[0, 0]], out[3].1.to_host()[[0, 0]])
    }

    /// The recalled reward as the module documentation defines it, by brute force: every
    /// episode scored with `powf`, the whole list sorted, the k best averaged by score.
    fn reference_reward(h: &Hippocampus, z: &[f32], tick: u64) -> f32 {
        let s = &h.stores[0];
        let z = ndarray::ArrayView1::from(z);
        let n = z.dot(&z).sqrt();
        let q = if n > 0.0 { &z / n } else { z.to_owned() };
        let mut scored: Vec<(f32, usize)> = (0..s.len)
            .map(|j| (h.keys_of(0).row(j).dot(&q), j))
            .filter(|(c, _)| *c >= h.config.threshold as f32)
            .map(|(c, j)| {
                (
                    c * h.config.recency.powf((tick - s.stored_at[j]) as f64) as f32,
                    j,
                )
            })
            .collect();
        scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        scored.truncate(h.config.k);
        let total: f32 = scored.iter().map(|s| s.0).sum();
        scored.iter().map(|&(c, j)| c / total * s.rewards[j]).sum()
    }

    /// The inlined dot product recall scores with is ndarray's, bit for bit, at lengths on both
    /// sides of its eight running sums (a different order would differ in the last place).
    #[test]
    fn the_inlined_dot_is_ndarrays() {
        use rand::{Rng, SeedableRng, rngs::SmallRng};
        let mut rng = SmallRng::seed_from_u64(11);
        for n in [0, 1, 7, 8, 9, 15, 16, 31, 32, 33, 64, 100] {
            for _ in 0..20 {
                let x = ndarray::Array1::from_shape_fn(n, |_| rng.gen_range(-2.0f32..2.0));
                let y = ndarray::Array1::from_shape_fn(n, |_| rng.gen_range(-2.0f32..2.0));
                let ours = dot(x.as_slice().unwrap(), y.as_slice().unwrap());
                assert_eq!(ours.to_bits(), x.dot(&y).to_bits(), "length {n}");
            }
        }
    }

    #[test]
    fn recall_matches_a_full_sort_with_powf_beyond_the_decay_table() {
        // k = 1 takes the best in one pass, k = 3 selects from the list; D = 32 scores in the
        // four-lane loop, D = 5 in its remainder.
        for (k, dim) in [(1, 5), (1, 32), (3, 5), (3, 32)] {
            let config = HippocampusConfig {
                k,
                threshold: 0.0,
                recency: 0.99999,
                ..Default::default()
            };
            let mut h = hippocampus(config, dim);
            let mut rng = SimRng::seed_from_u64(3);
            let u = Uniform::new(-1.0f32, 1.0);
            let mut z = || -> Vec<f32> { (0..dim).map(|_| u.sample(&mut rng)).collect() };
            let mut seen = Vec::new();
            for i in 0..40 {
                seen.push(z());
                tick(&mut h, &seen[i], i as f32 - 20.0);
            }
            // Half the episodes older than the table holds, half recent (recency^age 0.52
            // against ~1, so both halves are recalled).
            let late = DECAY_TABLE_LEN as u64 + 20;
            for (j, at) in h.stores[0].stored_at.iter_mut().take(40).enumerate() {
                *at = if j % 2 == 0 {
                    j as u64
                } else {
                    late - 100 + j as u64
                };
            }
            // Slot 9 holds slot 3's key, stored at the same tick: an exact tie, which goes to
            // the earlier slot (their rewards differ).
            let (c, d) = (h.config.capacity, h.dim);
            h.keys.copy_within(3 * d..4 * d, 9 * d);
            h.stores[0].stored_at[9] = h.stores[0].stored_at[3];
            assert!(c > 9);
            h.tick = late - 1;
            h.learning = false;
            for i in 0..20 {
                let q = if i % 4 == 0 { seen[3].clone() } else { z() };
                let want = reference_reward(&h, &q, h.tick + 1);
                let (got, _) = tick(&mut h, &q, 0.0);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "k {k}, D {dim}: {got} against {want}"
                );
            }
            assert_eq!(h.decay.len(), DECAY_TABLE_LEN);
        }
    }

    /// A population large enough to recall on both threads, its keys one array: each agent
    /// recalls what an agent alone with the same inputs recalls (the stores fill and evict; 20
    /// episodes, so the eight-key scan and its tail both run).
    #[test]
    fn each_agent_recalls_from_its_own_block_of_keys() {
        let (p, dim) = (PARALLEL_MIN_STORES + 3, 8);
        let config = HippocampusConfig {
            capacity: 20,
            threshold: 0.0,
            ..Default::default()
        };
        let mut all = population(config.clone(), dim, p);
        let watched = [0, 1, p / 2, p - 1];
        let mut alone: Vec<Hippocampus> = watched.iter().map(|_| hippocampus(config.clone(), dim)).collect();
        let mut rng = SimRng::seed_from_u64(5);
        let u = Uniform::new(-1.0f32, 1.0);
        for t in 0..30 {
            let z = Array2::from_shape_fn((p, dim), |_| u.sample(&mut rng));
            let r = Array2::from_shape_fn((p, 1), |(i, _)| (i + t) as f32 % 7.0 - 3.0);
            let mut inputs = Inputs::default();
            inputs.insert("latent", Signal::Host(z.clone()));
            inputs.insert("reward", Signal::Host(r.clone()));
            let out = all.step(&inputs).unwrap();
            let (reward, best) = (out[0].1.to_host(), out[3].1.to_host());
            for (&i, h) in watched.iter().zip(&mut alone) {
                let got = (reward[[i, 0]], best[[i, 0]]);
                let want = tick(h, z.row(i).as_slice().unwrap(), r[[i, 0]]);
                assert_eq!(got, want, "agent {i}, tick {t}");
            }
        }
        assert!(all.sizes().iter().all(|&n| n == 20), "every store full");
    }

    #[test]
    fn recalls_the_most_recent_similar_episode_and_nothing_dissimilar() {
        let mut h = hippocampus(HippocampusConfig::default(), 3);
        assert_eq!(tick(&mut h, &[1.0, 0.0, 0.0], 1.0), (0.0, 0.0), "empty store");
        tick(&mut h, &[0.0, 1.0, 0.0], -1.0);
        // Seen once with reward 1: recalled at the next presentation (scaled keys alike).
        let (r, score) = tick(&mut h, &[2.0, 0.0, 0.1], 0.0);
        assert_eq!(r, 1.0);
        assert!(score > 0.9 && score < 1.0, "{score}");
        // An orthogonal query recalls nothing.
        assert_eq!(tick(&mut h, &[0.0, 0.0, 1.0], 0.0), (0.0, 0.0));
        // Same key stored again with reward −0.5: recency prefers the newer episode.
        tick(&mut h, &[1.0, 0.0, 0.0], -0.5);
        assert_eq!(tick(&mut h, &[1.0, 0.0, 0.0], 0.0).0, -0.5);
    }

    #[test]
    fn a_full_store_evicts_by_its_rule() {
        let config = HippocampusConfig {
            capacity: 2,
            recency: 1.0,
            store: StorePolicy::Rewarded,
            ..Default::default()
        };
        for (eviction, a_survives) in [(Eviction::Oldest, false), (Eviction::LeastRecentlyUsed, true)] {
            let mut h = hippocampus(
                HippocampusConfig {
                    eviction,
                    ..config.clone()
                },
                2,
            );
            tick(&mut h, &[1.0, 0.0], 1.0); // a
            tick(&mut h, &[0.0, 1.0], 2.0); // b
            tick(&mut h, &[1.0, 0.0], 0.0); // recalls a (not stored: no reward)
            tick(&mut h, &[-1.0, 0.0], 3.0); // c evicts a (oldest) or b (least recently used)
            assert_eq!(h.sizes(), vec![2]);
            assert_eq!(
                tick(&mut h, &[1.0, 0.0], 0.0).0 == 1.0,
                a_survives,
                "{eviction:?}"
            );
        }
    }

    #[test]
    fn replay_presents_stored_episodes_oldest_first() {
        let mut h = hippocampus(HippocampusConfig::default(), 2);
        for (k, z) in [[1.0, 0.0], [0.0, 1.0]].iter().enumerate() {
            let mut i = Inputs::default();
            i.insert(
                "latent",
                Signal::Host(Array2::from_shape_vec((1, 2), z.to_vec()).unwrap()),
            );
            i.insert("reward", Signal::Host(Array2::from_elem((1, 1), k as f32 + 1.0)));
            i.insert("token", Signal::Host(Array2::from_elem((1, 1), 7.0 + k as f32)));
            h.step(&i).unwrap();
        }
        let seen: Vec<(f32, f32)> = (0..3)
            .map(|_| {
                let out = h.replay().unwrap().unwrap();
                (out[0].1.to_host()[[0, 0]], out[1].1.to_host()[[0, 0]])
            })
            .collect();
        assert_eq!(seen, vec![(7.0, 1.0), (8.0, 2.0), (7.0, 1.0)]);
    }
}
