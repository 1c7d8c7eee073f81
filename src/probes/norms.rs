//! # norms — Spearman ρ between learnt valence and human ratings on held-out words
//!
//! On the held-out words of the scenario's `lexicon` world (its split), per agent: ρ of the
//! reward model's V(e(w)) (`model`), of a ridge regression fitted on the same embeddings and
//! training words (`ridge`, penalty `ridge`), and of the same ridge fitted to the training
//! ratings in shuffled orders of the agent's own: the control, the mean ρ over `permutations`
//! permutations (`shuffled`, near 0) and their standard deviation (`shuffled_sd`). One
//! permutation swings by ±0.2–0.3 on a few thousand words; the mean of 20 cannot land there by
//! chance.
//!
//! ```toml
//! [[probes]]
//! kind = "norms"
//! ridge = 1.0                # default 1
//! permutations = 20          # default 20
//! cortex = "cortex"          # default: the model's first cortex (sensory_cortex or world_model)
//! reward_model = "vta"       # default: the model's first reward_model
//! ```

use std::sync::Arc;

use ndarray::Array1;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, latents, per_agent, region};
use crate::analysis::{Ridge, spearman};
use crate::brain::Brain;
use crate::error::{ErrorKind, Result};
use crate::rng::SimRng;
use crate::vocabulary::Vocabulary;
use crate::worlds::LexiconConfig;
use crate::worlds::lexicon::NormSplit;

/// ρ against human ratings on held-out words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NormsProbe {
    /// The lexicon and its split (taken from the scenario's `lexicon` world).
    pub lexicon: LexiconConfig,
    /// Ridge penalty λ of the baseline.
    pub ridge: f64,
    /// Permutations of the training ratings averaged in the shuffled control.
    pub permutations: usize,
    /// The cortex region.
    pub cortex: String,
    /// The reward-model region.
    pub reward_model: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    ridge: Option<Spanned<f64>>,
    #[serde(default)]
    permutations: Option<Spanned<i64>>,
    #[serde(default)]
    cortex: Option<Spanned<String>>,
    #[serde(default)]
    reward_model: Option<Spanned<String>>,
}

impl ProbeParams for NormsProbe {
    const KIND: &'static str = "norms";
    const SUMMARY: &'static str =
        "Spearman ρ of valence against a lexicon's held-out human ratings (with ridge and shuffled controls)";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let lexicon = cx
            .worlds
            .iter()
            .find_map(|w| w.get::<LexiconConfig>())
            .map(|l| LexiconConfig {
                shuffle: false,
                ..l.clone()
            })
            .ok_or_else(|| {
                cx.error(
                    ErrorKind::MissingField,
                    cx.span.clone(),
                    "a norms probe needs a phase whose world is a `lexicon`",
                )
            })?;
        let ridge = match &f.ridge {
            Some(r) if *r.get_ref() > 0.0 => *r.get_ref(),
            Some(r) => {
                return Err(cx.error(
                    ErrorKind::InvalidValue,
                    r.span(),
                    "`ridge`: expected a number > 0",
                ));
            }
            None => 1.0,
        };
        let permutations = match &f.permutations {
            Some(n) if (1..=10_000).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                return Err(cx.error(
                    ErrorKind::InvalidValue,
                    n.span(),
                    "`permutations`: expected an integer in [1, 10000]",
                ));
            }
            None => 20,
        };
        Ok(NormsProbe {
            lexicon,
            ridge,
            permutations,
            cortex: cx.cortex_or_default(&f.cortex)?,
            reward_model: cx.region_or_default(&f.reward_model, "reward_model")?,
        })
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        Ok(Box::new(Norms {
            spec: self.clone(),
            split: self.lexicon.split(vocabulary)?,
        }))
    }
}

struct Norms {
    spec: NormsProbe,
    split: NormSplit,
}

impl Probe for Norms {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let NormsProbe {
            ridge,
            permutations,
            cortex,
            reward_model,
            ..
        } = &self.spec;
        let (train_ids, train_y): (Vec<u32>, Vec<f64>) =
            self.split.train.iter().map(|(i, r)| (*i, *r as f64)).unzip();
        let (test_ids, test_y): (Vec<u32>, Vec<f64>) =
            self.split.held_out.iter().map(|(i, r)| (*i, *r as f64)).unzip();
        let train = latents(brain, cortex, &train_ids, out)?;
        let test = latents(brain, cortex, &test_ids, out)?;
        let rm = region(brain, reward_model, out)?;
        // V of every held-out word for all agents at once ([P] per word).
        let test_values: Vec<Array1<f32>> = test
            .iter()
            .map(|z| {
                rm.value_at(z).ok_or_else(|| {
                    out.fail(format!("region `{reward_model}` values no latent of this width"))
                })
            })
            .collect::<Result<_>>()?;
        let (mut model, mut baseline) = (Vec::new(), Vec::new());
        let (mut shuffled, mut shuffled_sd) = (Vec::new(), Vec::new());
        for agent in 0..brain.population() {
            let xtr = per_agent(&train, agent).mapv(f64::from);
            let xte = per_agent(&test, agent).mapv(f64::from);
            let values: Vec<f64> = test_values.iter().map(|v| f64::from(v[agent])).collect();
            model.push(spearman(&values, &test_y) as f32);
            // The baseline, and the control: the same ridge fitted to the training ratings in
            // orders of the agent's own (the first is the single permutation this probe used to
            // draw) — one XᵀX for all of them.
            let mut rng = SimRng::seed_from_u64(0x5eed ^ agent as u64);
            let mut targets = vec![Array1::from(train_y.clone())];
            for _ in 0..*permutations {
                let mut shuffled_y = train_y.clone();
                shuffled_y.shuffle(&mut rng);
                targets.push(Array1::from(shuffled_y));
            }
            let views: Vec<_> = targets.iter().map(Array1::view).collect();
            let rho =
                |fit: &Ridge| spearman(fit.predict(xte.view()).as_slice().expect("contiguous"), &test_y);
            let fits = Ridge::fit_each(xtr.view(), &views, *ridge);
            baseline.push(rho(&fits[0]) as f32);
            let rhos: Vec<f64> = fits[1..].iter().map(rho).collect();
            let mean = rhos.iter().sum::<f64>() / rhos.len() as f64;
            let var = rhos.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rhos.len() as f64;
            shuffled.push(mean as f32);
            shuffled_sd.push(var.sqrt() as f32);
        }
        out.record("model", &Array1::from(model));
        out.record("ridge", &Array1::from(baseline));
        out.record("shuffled", &Array1::from(shuffled));
        out.record("shuffled_sd", &Array1::from(shuffled_sd));
        Ok(())
    }
}
