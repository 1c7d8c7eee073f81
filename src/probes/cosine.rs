//! # cosine — cos(e(a), e(b)) for each pair of concepts, per agent
//!
//! How close two concepts lie in the cortex's latent space; a concept may be a phrase
//! (`"river bank"`), read as the cortex kind documents. Keys: `a~b`.
//!
//! ```toml
//! [[probes]]
//! kind = "cosine"
//! pairs = [["dog", "cat"], ["dog", "tax"]]
//! cortex = "cortex"          # default: the model's first cortex (sensory_cortex or world_model)
//! ```

use std::sync::Arc;

use ndarray::Array1;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, SpannedPairs, phrase, phrase_latents};
use crate::analysis::cosine;
use crate::brain::Brain;
use crate::error::Result;
use crate::vocabulary::Vocabulary;

/// cos(e(a), e(b)) for each pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CosineProbe {
    /// The pairs.
    pub pairs: Vec<(String, String)>,
    /// The cortex region.
    pub cortex: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    pairs: Option<SpannedPairs>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
}

impl ProbeParams for CosineProbe {
    const KIND: &'static str = "cosine";
    const SUMMARY: &'static str = "cos(e(a), e(b)) for each pair of concepts";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let pairs = f
            .pairs
            .as_ref()
            .ok_or_else(|| cx.required("pairs", "[[\"a\", \"b\"], …]"))?;
        Ok(CosineProbe {
            pairs: cx.word_pairs(pairs.get_ref())?,
            cortex: cx.cortex_or_default(&f.cortex)?,
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.pairs.iter().flat_map(|(a, b)| [a, b]).collect()
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        Ok(Box::new(Cosine {
            spec: self.clone(),
            ids: self
                .pairs
                .iter()
                .map(|(a, b)| vec![phrase(vocabulary, a), phrase(vocabulary, b)])
                .collect(),
        }))
    }
}

struct Cosine {
    spec: CosineProbe,
    /// Each pair's two concepts as token ids.
    ids: Vec<Vec<Vec<u32>>>,
}

impl Probe for Cosine {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let p = brain.population();
        for ((a, b), pair) in self.spec.pairs.iter().zip(&self.ids) {
            let l = phrase_latents(brain, &self.spec.cortex, pair, out)?;
            let cos: Array1<f32> = (0..p).map(|i| cosine(l[0].row(i), l[1].row(i))).collect();
            out.record(&format!("{a}~{b}"), &cos);
        }
        Ok(())
    }
}
