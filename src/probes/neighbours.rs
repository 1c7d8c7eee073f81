//! # neighbours — the k nearest words of each concept by cosine, per agent
//!
//! Among every real word of the vocabulary (`</s>` and `<unk>` left out), the k with the
//! highest cos(e(c), e(w)), ties broken by id. Key `concept#rank:word`, value the cosine; too
//! many keys to plot. A concept may be a phrase (`"river bank"`); the candidates are words.
//!
//! ```toml
//! [[probes]]
//! kind = "neighbours"
//! concepts = ["dog"]
//! k = 5                      # default 5
//! cortex = "cortex"          # default: the model's first cortex (sensory_cortex or world_model)
//! ```

use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{
    Probe, ProbeContext, ProbeParams, Readings, SpannedWords, candidate_words, latents, per_agent, phrase,
    phrase_latents,
};
use crate::analysis::cosine;
use crate::brain::Brain;
use crate::error::Result;
use crate::vocabulary::Vocabulary;

/// The k nearest words of each concept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeighboursProbe {
    /// The concepts.
    pub concepts: Vec<String>,
    /// How many neighbours.
    pub k: usize,
    /// The cortex region.
    pub cortex: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    concepts: Option<SpannedWords>,
    #[serde(default)]
    k: Option<Spanned<i64>>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
}

impl ProbeParams for NeighboursProbe {
    const KIND: &'static str = "neighbours";
    const SUMMARY: &'static str = "the k nearest words of each concept by cosine";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let concepts = f
            .concepts
            .as_ref()
            .ok_or_else(|| cx.required("concepts", "[\"word\", …]"))?;
        Ok(NeighboursProbe {
            concepts: cx.words(concepts.get_ref())?,
            k: match &f.k {
                Some(k) => cx.positive(k, "k")? as usize,
                None => 5,
            },
            cortex: cx.cortex_or_default(&f.cortex)?,
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.concepts.iter().collect()
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        Ok(Box::new(Neighbours {
            spec: self.clone(),
            vocabulary: vocabulary.clone(),
            words: candidate_words(vocabulary),
        }))
    }
}

struct Neighbours {
    spec: NeighboursProbe,
    vocabulary: Arc<Vocabulary>,
    words: Vec<u32>,
}

impl Probe for Neighbours {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let NeighboursProbe { concepts, k, cortex } = &self.spec;
        let all = &self.words;
        let table = latents(brain, cortex, all, out)?;
        let p = brain.population();
        let per_agent_tables: Vec<Array2<f32>> = (0..p).map(|a| per_agent(&table, a)).collect();
        for c in concepts {
            let target = phrase(&self.vocabulary, c);
            let targets = phrase_latents(brain, cortex, std::slice::from_ref(&target), out)?;
            for (agent, m) in per_agent_tables.iter().enumerate() {
                let z = targets[0].row(agent);
                let mut scored: Vec<(f32, u32)> = all
                    .iter()
                    .zip(m.outer_iter())
                    .filter(|(id, _)| target != [**id])
                    .map(|(id, row)| (cosine(z, row), *id))
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                for (rank, (cos, id)) in scored.into_iter().take(*k).enumerate() {
                    let word = self.vocabulary.word(id).unwrap_or("?");
                    out.record_one(agent, &format!("{c}#{}:{word}", rank + 1), cos);
                }
            }
        }
        Ok(())
    }
}
