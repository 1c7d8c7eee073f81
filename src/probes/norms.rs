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
//! With `also`, other sets of norms are scored against the same valence, in one run: for each,
//! on the words it rates that the reward model was never given (`<set>/model`), beside a ridge
//! fitted to that set's ratings of the words the reward model was given (`<set>/ridge`, and its
//! control `<set>/shuffled`, `<set>/shuffled_sd`); and `common/<set>`, ρ of valence against each
//! set (the conditioned one too) on the held-out words that **every** set rates, so that the sets
//! are compared on the same words (`common_words` counts them).
//!
//! With the lexicon's `split_per_agent`, agent a is scored on its own split (seed
//! `split_seed + a`): a population is then a sample of splits as well as of initialisations.
//!
//! ```toml
//! [[probes]]
//! kind = "norms"
//! also = ["vader", "labmt"]  # default none: other norm sets scored on the same valence
//! ridge = 1.0                # default 1
//! permutations = 20          # default 20
//! cortex = "cortex"          # default: the model's first cortex (sensory_cortex or world_model)
//! reward_model = "vta"       # default: the model's first reward_model
//! ```

use std::collections::HashSet;
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
use crate::worlds::lexicon::{NormSet, NormSplit};

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
    /// Other norm sets scored against the same valence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<LexiconConfig>,
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
    #[serde(default)]
    also: Option<Spanned<Vec<Spanned<String>>>>,
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
        let mut also: Vec<LexiconConfig> = Vec::new();
        for name in f.also.iter().flat_map(|a| a.get_ref()) {
            let sets = ["vader", "warriner", "labmt"];
            let norms: NormSet =
                match serde_json::from_value(serde_json::Value::String(name.get_ref().clone())) {
                    Ok(n) => n,
                    Err(_) => {
                        return Err(cx.source.error_with_help(
                            ErrorKind::InvalidValue,
                            name.span(),
                            format!(
                                "`also`: unknown norms `{}`; expected vader, warriner or labmt",
                                name.get_ref()
                            ),
                            crate::error::did_you_mean(name.get_ref(), sets),
                        ));
                    }
                };
            if norms == lexicon.norms || also.iter().any(|a| a.norms == norms) {
                return Err(cx.error(
                    ErrorKind::InvalidValue,
                    name.span(),
                    format!(
                        "`also`: `{}` is named twice (the conditioned set counts)",
                        name.get_ref()
                    ),
                ));
            }
            also.push(LexiconConfig {
                norms,
                column: None,
                path: Default::default(),
                shuffle: false,
                ..lexicon.clone()
            });
        }
        Ok(NormsProbe {
            also,
            lexicon,
            ridge,
            permutations,
            cortex: cx.cortex_or_default(&f.cortex)?,
            reward_model: cx.region_or_default(&f.reward_model, "reward_model")?,
        })
    }

    fn build(&self, _name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        // One split for all agents, or (`split_per_agent`) agent a's from split_seed + a: the
        // first agent's is drawn here (so that errors show before the run), the others' when
        // the population is known.
        let also: Vec<Vec<(u32, f32)>> = self
            .also
            .iter()
            .map(|set| set.known(vocabulary))
            .collect::<Result<_>>()?;
        let rated = self.lexicon.known(vocabulary)?;
        let first = self.lexicon.split_known(rated.clone(), 0)?;
        let agent = self.lexicon.split_per_agent.then_some(0);
        Ok(Box::new(Norms {
            spec: self.clone(),
            groups: vec![Group::new(agent, first, &also)],
            also,
            rated,
        }))
    }
}

struct Norms {
    spec: NormsProbe,
    /// The agents that share a split, with what is scored on it.
    groups: Vec<Group>,
    /// Each `also` set's rated words that the vocabulary knows.
    also: Vec<Vec<(u32, f32)>>,
    /// The conditioned set's (each agent's split is drawn from them).
    rated: Vec<(u32, f32)>,
}

/// What is scored for the agents of one split.
struct Group {
    /// The one agent of a per-agent split; `None`: all agents.
    agent: Option<usize>,
    split: NormSplit,
    /// Per `also` set: its ratings of the words the reward model was given (ridge training)
    /// and of the others (scored).
    others: Vec<NormSplit>,
    /// Per set (the conditioned one first): its ratings of the held-out words every set rates,
    /// in one order; empty without `also`.
    common: Vec<Vec<(u32, f32)>>,
}

impl Group {
    fn new(agent: Option<usize>, split: NormSplit, also: &[Vec<(u32, f32)>]) -> Self {
        let trained: HashSet<u32> = split.train.iter().map(|(id, _)| *id).collect();
        let mut common: HashSet<u32> = split.held_out.iter().map(|(id, _)| *id).collect();
        let mut others = Vec::new();
        for rated in also {
            let ids: HashSet<u32> = rated.iter().map(|(id, _)| *id).collect();
            common.retain(|id| ids.contains(id));
            let (train, held_out) = rated.iter().partition(|(id, _)| trained.contains(id));
            others.push(NormSplit { train, held_out });
        }
        let common = if also.is_empty() {
            vec![]
        } else {
            std::iter::once(&split.held_out)
                .chain(others.iter().map(|o| &o.held_out))
                .map(|ratings| {
                    let mut on: Vec<(u32, f32)> = ratings
                        .iter()
                        .filter(|(id, _)| common.contains(id))
                        .copied()
                        .collect();
                    on.sort_by_key(|(id, _)| *id);
                    on
                })
                .collect()
        };
        Group {
            agent,
            split,
            others,
            common,
        }
    }

    fn agents(&self, population: usize) -> Vec<usize> {
        match self.agent {
            Some(a) => vec![a],
            None => (0..population).collect(),
        }
    }
}

/// V of every word's latent for all agents at once (`[P]` per word).
fn values_at(
    rm: &dyn crate::regions::Region,
    latents: &[ndarray::Array2<f32>],
    name: &str,
    out: &Readings<'_>,
) -> Result<Vec<Array1<f32>>> {
    latents
        .iter()
        .map(|z| {
            rm.value_at(z)
                .ok_or_else(|| out.fail(format!("region `{name}` values no latent of this width")))
        })
        .collect()
}

/// ρ of the reward model, of a ridge fitted on the training words and of its shuffled control
/// (mean and sd over permutations), for one agent.
struct Scores {
    model: f64,
    ridge: f64,
    shuffled: f64,
    shuffled_sd: f64,
}

#[allow(clippy::too_many_arguments)]
fn score(
    xtr: ndarray::ArrayView2<'_, f64>,
    train_y: &[f64],
    xte: ndarray::ArrayView2<'_, f64>,
    test_y: &[f64],
    values: &[f64],
    ridge: f64,
    permutations: usize,
    seed: u64,
) -> Scores {
    // The baseline, and the control: the same ridge fitted to the training ratings in orders of
    // the agent's own (the first is the single permutation this probe used to draw) — one XᵀX
    // for all of them.
    let mut rng = SimRng::seed_from_u64(seed);
    let mut targets = vec![Array1::from(train_y.to_vec())];
    for _ in 0..permutations {
        let mut shuffled_y = train_y.to_vec();
        shuffled_y.shuffle(&mut rng);
        targets.push(Array1::from(shuffled_y));
    }
    let views: Vec<_> = targets.iter().map(Array1::view).collect();
    let rho = |fit: &Ridge| spearman(fit.predict(xte).as_slice().expect("contiguous"), test_y);
    let fits = Ridge::fit_each(xtr, &views, ridge);
    let rhos: Vec<f64> = fits[1..].iter().map(rho).collect();
    let mean = rhos.iter().sum::<f64>() / rhos.len() as f64;
    let var = rhos.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rhos.len() as f64;
    Scores {
        model: spearman(values, test_y),
        ridge: rho(&fits[0]),
        shuffled: mean,
        shuffled_sd: var.sqrt(),
    }
}

impl Probe for Norms {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let NormsProbe {
            ridge,
            permutations,
            cortex,
            reward_model,
            also,
            lexicon,
            ..
        } = &self.spec;
        let p = brain.population();
        if lexicon.split_per_agent {
            for agent in self.groups.len()..p {
                let split = lexicon.split_known(self.rated.clone(), agent as u64)?;
                self.groups.push(Group::new(Some(agent), split, &self.also));
            }
        }
        let rm = region(brain, reward_model, out)?;
        // Per key, one value per agent, filled group by group.
        let mut keys: Vec<String> = vec![];
        for prefix in
            std::iter::once(String::new()).chain(also.iter().map(|s| format!("{}/", s.norms.name())))
        {
            for key in ["model", "ridge", "shuffled", "shuffled_sd"] {
                keys.push(format!("{prefix}{key}"));
            }
        }
        if !also.is_empty() {
            for set in std::iter::once(lexicon).chain(also) {
                keys.push(format!("common/{}", set.norms.name()));
            }
            keys.push("common_words".into());
        }
        let mut table = vec![vec![f32::NAN; p]; keys.len()];
        for group in &self.groups {
            let agents = group.agents(p);
            let mut row = 0;
            for (k, split) in std::iter::once(&group.split).chain(&group.others).enumerate() {
                let (train_ids, train_y): (Vec<u32>, Vec<f64>) =
                    split.train.iter().map(|(i, r)| (*i, *r as f64)).unzip();
                let (test_ids, test_y): (Vec<u32>, Vec<f64>) =
                    split.held_out.iter().map(|(i, r)| (*i, *r as f64)).unzip();
                if k > 0 && (train_ids.len() < 2 || test_ids.len() < 2) {
                    return Err(out.fail(format!(
                        "`{}` rates {} of the conditioned words and {} others the cortex knows: too few to score",
                        also[k - 1].norms.name(),
                        train_ids.len(),
                        test_ids.len()
                    )));
                }
                let train = latents(brain, cortex, &train_ids, out)?;
                let test = latents(brain, cortex, &test_ids, out)?;
                // V of every scored word for all agents at once ([P] per word).
                let test_values = values_at(rm, &test, reward_model, out)?;
                for &agent in &agents {
                    let xtr = per_agent(&train, agent).mapv(f64::from);
                    let xte = per_agent(&test, agent).mapv(f64::from);
                    let values: Vec<f64> = test_values.iter().map(|v| f64::from(v[agent])).collect();
                    let seed = 0x5eed ^ agent as u64 ^ ((k as u64) << 32);
                    let s = score(
                        xtr.view(),
                        &train_y,
                        xte.view(),
                        &test_y,
                        &values,
                        *ridge,
                        *permutations,
                        seed,
                    );
                    for (j, x) in [s.model, s.ridge, s.shuffled, s.shuffled_sd]
                        .into_iter()
                        .enumerate()
                    {
                        table[row + j][agent] = x as f32;
                    }
                }
                row += 4;
            }
            if let Some(first) = group.common.first() {
                let ids: Vec<u32> = first.iter().map(|(id, _)| *id).collect();
                let values = values_at(rm, &latents(brain, cortex, &ids, out)?, reward_model, out)?;
                for (j, ratings) in group.common.iter().enumerate() {
                    let y: Vec<f64> = ratings.iter().map(|(_, r)| *r as f64).collect();
                    for &agent in &agents {
                        let v: Vec<f64> = values.iter().map(|v| f64::from(v[agent])).collect();
                        // Fewer than two words: no ρ (NaN).
                        table[row + j][agent] = if ids.len() >= 2 {
                            spearman(&v, &y) as f32
                        } else {
                            f32::NAN
                        };
                    }
                }
                for &agent in &agents {
                    table[row + group.common.len()][agent] = ids.len() as f32;
                }
            }
        }
        for (key, values) in keys.iter().zip(table) {
            out.record(key, &Array1::from(values));
        }
        Ok(())
    }
}
