//! # weat — the WEAT effect size d of targets X, Y on attributes A, B, per agent
//!
//! Caliskan, Bryson & Narayanan (2017): d = (mean_x s(x) − mean_y s(y)) / sd_{w ∈ X ∪ Y} s(w),
//! with s(w) = mean_a cos(w, a) − mean_b cos(w, b), on the cortex's latent points (a member may
//! be a phrase). Key `d`.
//!
//! ```toml
//! [[probes]]
//! kind = "weat"
//! targets = [["flower", "rose"], ["insect", "wasp"]]
//! attributes = [["love", "peace"], ["hate", "war"]]
//! cortex = "cortex"          # default: the model's first cortex (sensory_cortex or world_model)
//! ```

use std::sync::Arc;

use ndarray::Array1;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, per_agent, phrase, phrase_latents};
use crate::analysis::weat_effect_size;
use crate::brain::Brain;
use crate::error::{ErrorKind, Result};
use crate::vocabulary::Vocabulary;

/// WEAT effect size of targets X, Y on attributes A, B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeatProbe {
    /// X and Y.
    pub targets: [Vec<String>; 2],
    /// A and B.
    pub attributes: [Vec<String>; 2],
    /// The cortex region.
    pub cortex: String,
}

type WordSets = Vec<Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    targets: Option<Spanned<WordSets>>,
    #[serde(default)]
    attributes: Option<Spanned<WordSets>>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
}

/// Two non-empty word lists, every word checked.
fn two_sets(cx: &ProbeContext<'_>, sets: &Option<Spanned<WordSets>>, what: &str) -> Result<[Vec<String>; 2]> {
    let sets = sets
        .as_ref()
        .ok_or_else(|| cx.required(what, "[[\"…\"], [\"…\"]]"))?;
    match sets.get_ref().as_slice() {
        [x, y] if !x.get_ref().is_empty() && !y.get_ref().is_empty() => {
            Ok([cx.words(x.get_ref())?, cx.words(y.get_ref())?])
        }
        _ => Err(cx.error(
            ErrorKind::InvalidValue,
            sets.span(),
            format!("`{what}` must be two non-empty word lists"),
        )),
    }
}

impl ProbeParams for WeatProbe {
    const KIND: &'static str = "weat";
    const SUMMARY: &'static str =
        "WEAT effect size d of targets X, Y on attributes A, B (Caliskan et al. 2017)";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        Ok(WeatProbe {
            targets: two_sets(cx, &f.targets, "targets")?,
            attributes: two_sets(cx, &f.attributes, "attributes")?,
            cortex: cx.cortex_or_default(&f.cortex)?,
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.targets.iter().chain(&self.attributes).flatten().collect()
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        let ids = |ws: &Vec<String>| ws.iter().map(|w| phrase(vocabulary, w)).collect::<Vec<_>>();
        Ok(Box::new(Weat {
            cortex: self.cortex.clone(),
            sets: [
                &self.targets[0],
                &self.targets[1],
                &self.attributes[0],
                &self.attributes[1],
            ]
            .map(ids),
        }))
    }
}

struct Weat {
    cortex: String,
    /// X, Y, A, B, each concept as token ids.
    sets: [Vec<Vec<u32>>; 4],
}

impl Probe for Weat {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let [x, y, a, b] = [0, 1, 2, 3].map(|i| phrase_latents(brain, &self.cortex, &self.sets[i], out));
        let (x, y, a, b) = (x?, y?, a?, b?);
        let d: Array1<f32> = (0..brain.population())
            .map(|i| {
                weat_effect_size(
                    &per_agent(&x, i),
                    &per_agent(&y, i),
                    &per_agent(&a, i),
                    &per_agent(&b, i),
                ) as f32
            })
            .collect();
        out.record("d", &d);
        Ok(())
    }
}
