//! # valence — V(e(c)): the reward model's value at the cortex's readout of each concept
//!
//! For each concept c and agent, the cortex's latent point e(c) (`Region::concept_latent`) is
//! valued by the reward model (`Region::value_at`): the concept's learnt valence. A concept is a
//! word or a phrase (`"money bank"`), read as its cortex kind documents. Keys: the concepts.
//!
//! ```toml
//! [[probes]]
//! kind = "valence"
//! concepts = ["apple", "stone", "river bank"]
//! cortex = "cortex"          # default: the model's first cortex (sensory_cortex or world_model)
//! reward_model = "vta"       # default: the model's first reward_model
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, SpannedWords, phrase, phrase_latents, region};
use crate::brain::Brain;
use crate::error::Result;
use crate::vocabulary::Vocabulary;

/// V(e(c)) for each concept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValenceProbe {
    /// The concepts (words).
    pub concepts: Vec<String>,
    /// The cortex region.
    pub cortex: String,
    /// The reward-model region.
    pub reward_model: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    concepts: Option<SpannedWords>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
    #[serde(default)]
    reward_model: Option<Spanned<String>>,
}

impl ProbeParams for ValenceProbe {
    const KIND: &'static str = "valence";
    const SUMMARY: &'static str = "V(e(c)): the reward model's value at each concept's latent point";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let concepts = f
            .concepts
            .as_ref()
            .ok_or_else(|| cx.required("concepts", "[\"word\", …]"))?;
        Ok(ValenceProbe {
            concepts: cx.words(concepts.get_ref())?,
            cortex: cx.cortex_or_default(&f.cortex)?,
            reward_model: cx.region_or_default(&f.reward_model, "reward_model")?,
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.concepts.iter().collect()
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        Ok(Box::new(Valence {
            spec: self.clone(),
            phrases: self.concepts.iter().map(|c| phrase(vocabulary, c)).collect(),
        }))
    }
}

struct Valence {
    spec: ValenceProbe,
    phrases: Vec<Vec<u32>>,
}

impl Probe for Valence {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let ValenceProbe {
            concepts,
            cortex,
            reward_model,
        } = &self.spec;
        let latents = phrase_latents(brain, cortex, &self.phrases, out)?;
        for (c, z) in concepts.iter().zip(&latents) {
            let v = region(brain, reward_model, out)?
                .value_at(z)
                .ok_or_else(|| out.fail(format!("region `{reward_model}` values no latent of this width")))?;
            out.record(c, &v);
        }
        Ok(())
    }
}
