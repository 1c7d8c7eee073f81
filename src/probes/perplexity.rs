//! # perplexity — next-token prediction on held-out text, beside unigram and bigram baselines
//!
//! The cortex's perplexity e^H on `tokens` tokens of held-out text, where H is its mean
//! next-token cross-entropy in nats (`Region::cross_entropy`: read from a fresh state, full
//! softmax over the vocabulary), and, on the same tokens, two count-based models estimated from
//! every token the world has streamed to the agent so far in this run:
//!
//! ```text
//! unigram   p(w)     = (c(w) + 1) / (N + V)                                (add-one)
//! bigram    p(w | v) = (c(v, w) + T(v) · p(w)) / (c(v) + T(v))            (Witten–Bell; T(v): distinct successors of v)
//! ```
//!
//! Positions whose next token is `<unk>` are counted by no model. Keys: `model` (absent for a
//! cortex that predicts nothing, such as `sensory_cortex`), `unigram`, `bigram`, each a
//! perplexity (lower is better; V for a uniform guess).
//!
//! The held-out text is a world: `heldout` holds changes to the scenario's `[world]` (or a whole
//! world with its own `kind`), built over the run's vocabulary and streamed from a seed of the
//! probe's own. For a grammar (`corpus`), the scenario's world itself is the default: new
//! sentences from the same grammar. A file corpus (`text`, `wordnet`) has no default: give the
//! slice after the training slice, e.g. `heldout = { skip_sentences = 20000, max_sentences = 500 }`.
//!
//! ```toml
//! [[probes]]
//! kind = "perplexity"
//! tokens = 2000          # held-out tokens (default 2000)
//! cortex = "cortex"      # default: the model's first cortex
//! heldout = { skip_sentences = 20000, max_sentences = 500 }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::Array1;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, region, world_tokens};
use crate::brain::Brain;
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::rng::name_hash;
use crate::vocabulary::{UNK, Vocabulary};
use crate::worlds::WorldSpec;

/// Perplexity of the cortex and of the baselines on held-out text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerplexityProbe {
    /// Held-out tokens.
    pub tokens: usize,
    /// The cortex region.
    pub cortex: String,
    /// The world the held-out text comes from.
    pub heldout: WorldSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    tokens: Option<Spanned<i64>>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
    /// Read by the scenario's world reader, from the spanned table.
    #[serde(default, rename = "heldout")]
    _heldout: Option<serde::de::IgnoredAny>,
}

impl ProbeParams for PerplexityProbe {
    const KIND: &'static str = "perplexity";
    const SUMMARY: &'static str =
        "next-token perplexity of the cortex on held-out text, beside unigram and bigram baselines";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let tokens = match &f.tokens {
            Some(t) => cx.positive(t, "tokens")? as usize,
            None => 2000,
        };
        if !(2..=1_000_000).contains(&tokens) {
            let span = f.tokens.as_ref().map_or(cx.span.clone(), |t| t.span());
            return Err(cx.error(
                ErrorKind::InvalidValue,
                span,
                "`tokens`: expected an integer in [2, 1000000]",
            ));
        }
        let heldout_de = table.get_ref().get("heldout");
        let heldout = match heldout_de {
            Some(patch) => (cx.read_world)(patch)?,
            None => {
                let world = cx
                    .worlds
                    .first()
                    .copied()
                    .cloned()
                    .ok_or_else(|| cx.required("heldout", "{ … }"))?;
                if world.closed_words().is_none() {
                    return Err(cx.error(
                        ErrorKind::MissingField,
                        cx.span.clone(),
                        format!(
                            "a perplexity probe on a `{}` world needs `heldout`: text the cortex did not \
                             read, e.g. `heldout = {{ skip_sentences = 20000, max_sentences = 500 }}` after \
                             a training slice of 20000 sentences",
                            world.kind()
                        ),
                    ));
                }
                world
            }
        };
        if heldout.ports().output("token").is_none() {
            return Err(cx.error(
                ErrorKind::InvalidValue,
                heldout_de.map_or(cx.span.clone(), |h| h.span()),
                format!("a `{}` world emits no tokens to hold out", heldout.kind()),
            ));
        }
        Ok(PerplexityProbe {
            tokens,
            cortex: cx.cortex_or_default(&f.cortex)?,
            heldout,
        })
    }

    fn reads_world(&self) -> bool {
        true
    }

    fn build(&self, name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        let mut world = self.heldout.build(vocabulary.clone(), 1)?;
        world.reset(&[name_hash(&format!("perplexity/{name}"))]);
        let mut stream = Vec::with_capacity(self.tokens);
        for _ in 0..self.tokens {
            let out = world.step()?;
            let token = out
                .iter()
                .find(|(port, _)| *port == "token")
                .ok_or_else(|| Error::Run(format!("probe `{name}`: the held-out world emits no `token`")))?;
            stream.push(token.1.to_host()[[0, 0]] as u32);
        }
        Ok(Box::new(Perplexity {
            name: name.to_string(),
            cortex: self.cortex.clone(),
            stream,
            unknown: vocabulary.id(UNK),
            vocab_size: vocabulary.len(),
            counts: Vec::new(),
        }))
    }
}

/// One agent's counts of the stream it has read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counts {
    unigram: BTreeMap<u32, u64>,
    /// c(v, w) under the key v·2³² + w.
    bigram: BTreeMap<u64, u64>,
    /// Per predecessor v: c(v, ·) and T(v).
    successors: BTreeMap<u32, (u64, u64)>,
    total: u64,
    last: Option<u32>,
}

impl Counts {
    fn add(&mut self, w: u32) {
        *self.unigram.entry(w).or_default() += 1;
        self.total += 1;
        if let Some(v) = self.last {
            let c = self.bigram.entry(pair_key(v, w)).or_default();
            *c += 1;
            let s = self.successors.entry(v).or_default();
            s.0 += 1;
            if *c == 1 {
                s.1 += 1;
            }
        }
        self.last = Some(w);
    }

    /// Perplexities of the unigram and the bigram on `stream`, skipping `<unk>` targets.
    fn perplexities(&self, stream: &[u32], vocab_size: usize, unknown: Option<u32>) -> (f64, f64) {
        let uni = |w: u32| {
            (self.unigram.get(&w).copied().unwrap_or(0) as f64 + 1.0)
                / (self.total + vocab_size as u64) as f64
        };
        let (mut h_uni, mut h_bi, mut n) = (0.0, 0.0, 0usize);
        for pair in stream.windows(2) {
            let (v, w) = (pair[0], pair[1]);
            if Some(w) == unknown {
                continue;
            }
            let pu = uni(w);
            let pb = match self.successors.get(&v) {
                Some(&(c, t)) => {
                    let cvw = self.bigram.get(&pair_key(v, w)).copied().unwrap_or(0) as f64;
                    (cvw + t as f64 * pu) / (c + t) as f64
                }
                None => pu,
            };
            h_uni -= pu.ln();
            h_bi -= pb.ln();
            n += 1;
        }
        let n = n.max(1) as f64;
        ((h_uni / n).exp(), (h_bi / n).exp())
    }
}

fn pair_key(v: u32, w: u32) -> u64 {
    (u64::from(v) << 32) | u64::from(w)
}

struct Perplexity {
    name: String,
    cortex: String,
    stream: Vec<u32>,
    unknown: Option<u32>,
    vocab_size: usize,
    /// Per agent.
    counts: Vec<Counts>,
}

impl Probe for Perplexity {
    fn observes(&self) -> bool {
        true
    }

    fn observe(&mut self, brain: &Brain) -> Result<()> {
        let tokens = world_tokens(brain)?;
        if self.counts.len() != tokens.nrows() {
            self.counts = vec![Counts::default(); tokens.nrows()];
        }
        for (c, t) in self.counts.iter_mut().zip(tokens.column(0)) {
            c.add(*t as u32);
        }
        Ok(())
    }

    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let cortex = region(brain, &self.cortex, out)?;
        if let Some(ce) = cortex.cross_entropy(&self.stream) {
            out.record("model", &ce.mapv(|h| h.exp() as f32));
        }
        let p = brain.population();
        if self.counts.len() != p {
            self.counts = vec![Counts::default(); p];
        }
        let (uni, bi): (Vec<f32>, Vec<f32>) = self
            .counts
            .iter()
            .map(|c| {
                let (u, b) = c.perplexities(&self.stream, self.vocab_size, self.unknown);
                (u as f32, b as f32)
            })
            .unzip();
        out.record("unigram", &Array1::from(uni));
        out.record("bigram", &Array1::from(bi));
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) {
        out.put(&format!("perplexity/{}/counts", self.name), &self.counts);
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        self.counts = from.get(&format!("perplexity/{}/counts", self.name))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed: stream a b a b a (counts), held-out a b: unigram p(b) = (2 + 1)/(5 + 3);
    /// bigram p(b | a) = (c(a,b) + T(a) p(b)) / (c(a) + T(a)) = (2 + 1 · 3/8) / (2 + 1).
    #[test]
    fn baselines_match_hand_computed_probabilities() {
        let mut c = Counts::default();
        for w in [0, 1, 0, 1, 0] {
            c.add(w);
        }
        let (u, b) = c.perplexities(&[0, 1], 3, None);
        assert!((u - 8.0 / 3.0).abs() < 1e-9, "{u}");
        assert!((b - 3.0 / (2.0 + 3.0 / 8.0)).abs() < 1e-9, "{b}");
        // An <unk> target is not counted.
        let (u2, _) = c.perplexities(&[0, 1, 2], 3, Some(2));
        assert_eq!(u, u2);
    }
}
