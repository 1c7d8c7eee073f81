//! # analogy — a : b :: c : d, the rank of d among all words, per agent
//!
//! The rank of d by cos(e_b − e_a + e_c, ·) among every real word but a, b and c (1 = solved;
//! Mikolov et al. 2013). Key `a:b:c:d`.
//!
//! ```toml
//! [[probes]]
//! kind = "analogy"
//! analogies = [["man", "woman", "king", "queen"]]
//! cortex = "cortex"          # default: the model's first cortex (sensory_cortex or world_model)
//! ```

use std::sync::Arc;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{
    Probe, ProbeContext, ProbeParams, Readings, SpannedWords, candidate_words, id, latents, per_agent,
};
use crate::analysis::cosine;
use crate::brain::Brain;
use crate::error::{ErrorKind, Result};
use crate::vocabulary::Vocabulary;

/// The rank of d in a : b :: c : d.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalogyProbe {
    /// The quadruples.
    pub analogies: Vec<[String; 4]>,
    /// The cortex region.
    pub cortex: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    analogies: Option<Spanned<Vec<SpannedWords>>>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
}

impl ProbeParams for AnalogyProbe {
    const KIND: &'static str = "analogy";
    const SUMMARY: &'static str = "a : b :: c : d, the rank of d by cos(e_b − e_a + e_c, ·) (1 = solved)";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let list = f
            .analogies
            .as_ref()
            .ok_or_else(|| cx.required("analogies", "[[\"a\", \"b\", \"c\", \"d\"], …]"))?;
        let mut quads = Vec::new();
        for q in list.get_ref() {
            let w = cx.words(q.get_ref())?;
            let quad: [String; 4] = w.try_into().map_err(|_| {
                cx.error(
                    ErrorKind::InvalidValue,
                    q.span(),
                    "an analogy is four words: a, b, c, d for a : b :: c : d",
                )
            })?;
            quads.push(quad);
        }
        Ok(AnalogyProbe {
            analogies: quads,
            cortex: cx.cortex_or_default(&f.cortex)?,
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.analogies.iter().flatten().collect()
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        Ok(Box::new(Analogy {
            spec: self.clone(),
            quads: self
                .analogies
                .iter()
                .map(|q| q.clone().map(|w| id(vocabulary, &w)))
                .collect(),
            words: candidate_words(vocabulary),
        }))
    }
}

struct Analogy {
    spec: AnalogyProbe,
    quads: Vec<[u32; 4]>,
    words: Vec<u32>,
}

impl Probe for Analogy {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let cortex = &self.spec.cortex;
        let all = &self.words;
        let table = latents(brain, cortex, all, out)?;
        let p = brain.population();
        let per_agent_tables: Vec<Array2<f32>> = (0..p).map(|a| per_agent(&table, a)).collect();
        for (q, ids) in self.spec.analogies.iter().zip(&self.quads) {
            let quad = latents(brain, cortex, ids, out)?;
            let ranks: Array1<f32> = (0..p)
                .map(|agent| {
                    let target = &quad[1].row(agent) - &quad[0].row(agent) + quad[2].row(agent);
                    let m = &per_agent_tables[agent];
                    let answer = cosine(target.view(), quad[3].row(agent));
                    let better = all
                        .iter()
                        .zip(m.outer_iter())
                        .filter(|(id, _)| !ids[..3].contains(id) && **id != ids[3])
                        .filter(|(_, row)| cosine(target.view(), *row) > answer)
                        .count();
                    (better + 1) as f32
                })
                .collect();
            out.record(&q.join(":"), &ranks);
        }
        Ok(())
    }
}
