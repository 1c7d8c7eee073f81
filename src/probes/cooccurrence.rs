//! # cooccurrence — how often each pair of words has co-occurred in each agent's stream
//!
//! The second word within `window` tokens before or after the first (by default 2, the
//! cortex's own window), counted once when the later of the two arrives, over the whole run:
//! the dose of a valence-bleed curve (`plots/dose_*`). Key `x~y`.
//!
//! ```toml
//! [[probes]]
//! kind = "cooccurrence"
//! pairs = [["b4", "a"]]
//! window = 2
//! ```

use std::collections::VecDeque;
use std::sync::Arc;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, SpannedPairs, id, world_tokens};
use crate::brain::Brain;
use crate::checkpoint::Snapshot;
use crate::error::Result;
use crate::vocabulary::Vocabulary;

/// Co-occurrence counts of word pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CooccurrenceProbe {
    /// The pairs (x, y).
    pub pairs: Vec<(String, String)>,
    /// Tokens either side.
    pub window: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    pairs: Option<SpannedPairs>,
    #[serde(default)]
    window: Option<Spanned<i64>>,
}

impl ProbeParams for CooccurrenceProbe {
    const KIND: &'static str = "cooccurrence";
    const SUMMARY: &'static str = "co-occurrence counts of word pairs in each agent's stream (a dose)";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let pairs = f
            .pairs
            .as_ref()
            .ok_or_else(|| cx.required("pairs", "[[\"a\", \"b\"], …]"))?;
        Ok(CooccurrenceProbe {
            pairs: cx.word_pairs(pairs.get_ref())?,
            window: match &f.window {
                Some(w) => cx.positive(w, "window")? as usize,
                None => 2,
            },
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.pairs.iter().flat_map(|(a, b)| [a, b]).collect()
    }

    fn build(&self, name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        Ok(Box::new(Cooccurrences {
            name: name.to_string(),
            keys: self.pairs.iter().map(|(x, y)| format!("{x}~{y}")).collect(),
            pairs: self
                .pairs
                .iter()
                .map(|(x, y)| (id(vocabulary, x), id(vocabulary, y)))
                .collect(),
            window: self.window,
            history: Vec::new(),
            counts: Vec::new(),
        }))
    }
}

/// The running co-occurrence counts of one probe.
struct Cooccurrences {
    name: String,
    keys: Vec<String>,
    /// (x, y) as token ids.
    pairs: Vec<(u32, u32)>,
    window: usize,
    /// The last `window` tokens of each agent's stream, newest last.
    history: Vec<VecDeque<u32>>,
    /// [pair][agent].
    counts: Vec<Vec<u64>>,
}

impl Cooccurrences {
    fn count(&mut self, tokens: &Array2<f32>) {
        let p = tokens.nrows();
        if self.history.len() != p {
            self.history = vec![VecDeque::with_capacity(self.window + 1); p];
            self.counts = vec![vec![0; p]; self.pairs.len()];
        }
        for (agent, history) in self.history.iter_mut().enumerate() {
            let t = tokens[[agent, 0]] as u32;
            // Each co-occurrence is counted once, when the later of the two words arrives.
            for (k, &(x, y)) in self.pairs.iter().enumerate() {
                let partner = if t == x {
                    Some(y)
                } else if t == y {
                    Some(x)
                } else {
                    None
                };
                if let Some(partner) = partner {
                    self.counts[k][agent] += history.iter().filter(|&&h| h == partner).count() as u64;
                }
            }
            history.push_back(t);
            if history.len() > self.window {
                history.pop_front();
            }
        }
    }
}

impl Probe for Cooccurrences {
    fn observes(&self) -> bool {
        true
    }

    fn observe(&mut self, brain: &Brain) -> Result<()> {
        let tokens = world_tokens(brain)?;
        self.count(&tokens);
        Ok(())
    }

    fn take(&mut self, _brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        for (key, per_agent) in self.keys.iter().zip(&self.counts) {
            let values: Array1<f32> = per_agent.iter().map(|&n| n as f32).collect();
            out.record(key, &values);
        }
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) {
        out.put(&format!("cooccurrences/{}/history", self.name), &self.history);
        out.put(&format!("cooccurrences/{}/counts", self.name), &self.counts);
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        self.history = from.get(&format!("cooccurrences/{}/history", self.name))?;
        self.counts = from.get(&format!("cooccurrences/{}/counts", self.name))?;
        Ok(())
    }
}
