//! Environments, Gymnasium-style: a world is reset with per-agent seeds and stepped for all P
//! agents at once. A world's outputs are ports like a region's (`world.token`, `world.reward`),
//! so model files wire them with ordinary edges.

pub mod bandit;
pub mod corpus;
pub mod lexicon;
pub mod one_shot;
pub mod pavlovian;
pub mod text;
pub mod two_step;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::ports::{Inputs, Outputs, PortSpec, Ports};
pub use crate::vocabulary::Vocabulary;

pub use bandit::{ArmDistribution, BanditConfig, BanditWorld};
pub use corpus::{CorpusConfig, CorpusWorld};
pub use lexicon::{LexiconConfig, LexiconWorld};
pub use one_shot::{OneShotConfig, OneShotWorld, Signs};
pub use pavlovian::{PavlovianConfig, PavlovianWorld};
pub use text::{Source, TextConfig, TextWorld, WordnetConfig};
pub use two_step::{RewardProcess, TwoStepConfig, TwoStepWorld};

/// An environment stepping P agents.
///
/// A minimal world — every agent sees token 0 and is rewarded on every step:
///
/// ```
/// use ndarray::Array2;
/// use valence::ports::{Outputs, PortSpec};
/// use valence::worlds::{Vocabulary, World};
/// use valence::{Signal, SignalKind};
///
/// struct Bliss {
///     vocabulary: Vocabulary,
///     population: usize,
/// }
///
/// impl World for Bliss {
///     fn ports(&self) -> Vec<PortSpec> {
///         vec![
///             PortSpec::output("token", SignalKind::Token, 1, "always `bliss`"),
///             PortSpec::output("reward", SignalKind::Reward, 1, "always 1"),
///         ]
///     }
///     fn vocabulary(&self) -> &Vocabulary {
///         &self.vocabulary
///     }
///     fn reset(&mut self, seeds: &[u64]) {
///         self.population = seeds.len();
///     }
///     fn step(&mut self) -> valence::Result<Outputs> {
///         let p = self.population;
///         Ok(vec![
///             ("token", Signal::Host(Array2::zeros((p, 1)))),
///             ("reward", Signal::Host(Array2::ones((p, 1)))),
///         ])
///     }
/// }
///
/// let mut world = Bliss { vocabulary: Vocabulary::from_counts(vec![("bliss".into(), 1)]), population: 0 };
/// world.reset(&[7, 8, 9]);
/// let out = world.step()?;
/// assert_eq!(out[1].1.shape(), [3, 1]);
/// # Ok::<(), valence::Error>(())
/// ```
pub trait World: Send {
    /// The world's output ports (what `world.<port>` edges may read).
    fn ports(&self) -> Vec<PortSpec>;

    /// The tokens this world can emit.
    fn vocabulary(&self) -> &Vocabulary;

    /// Starts every agent's stream afresh from its own seed.
    fn reset(&mut self, seeds: &[u64]);

    /// One step for every agent: the outputs by port, each `[P, width]`.
    fn step(&mut self) -> Result<Outputs>;

    /// What the brain sends the world at the end of a tick (its input ports, e.g. `action`),
    /// taking effect on the next step. Worlds without inputs ignore it.
    fn act(&mut self, _inputs: &Inputs) -> Result<()> {
        Ok(())
    }

    /// Saves where every agent's stream stands (position, generators, running scores) so that
    /// [`World::restore`] on a freshly built and reset world continues exactly (checkpoints).
    fn save(&self, _out: &mut Snapshot) -> Result<()> {
        Err(Error::Run("this world cannot be checkpointed (no `save`)".into()))
    }

    /// Restores what [`World::save`] wrote.
    fn restore(&mut self, _from: &Snapshot) -> Result<()> {
        Err(Error::Run(
            "this world cannot be checkpointed (no `restore`)".into(),
        ))
    }
}

/// Restores a per-agent state vector saved under `key`, checking the population.
pub(crate) fn restore_agents<T: serde::de::DeserializeOwned>(
    from: &Snapshot,
    key: &str,
    into: &mut Vec<T>,
) -> Result<()> {
    let saved: Vec<T> = from.get(key)?;
    if saved.len() != into.len() {
        return Err(Error::Run(format!(
            "checkpoint: `{key}` saved for {} agents, not {}",
            saved.len(),
            into.len()
        )));
    }
    *into = saved;
    Ok(())
}

/// A problem in a world's configuration, with the key path (below the world table) that
/// locates it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldError {
    /// Keys from the world table down to the offending value, e.g. `["rewards", "aple"]`.
    pub path: Vec<String>,
    /// The kind of problem.
    pub kind: ErrorKind,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    pub help: Option<String>,
}

impl WorldError {
    /// An out-of-range value at one key of the world table.
    pub fn invalid(key: &str, message: &str) -> Self {
        WorldError::new(vec![key.into()], ErrorKind::InvalidValue, message.into())
    }

    /// An error without a suggestion.
    pub fn new(path: Vec<String>, kind: ErrorKind, message: String) -> Self {
        WorldError {
            path,
            kind,
            message,
            help: None,
        }
    }
}

/// A world's configuration, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorldSpec {
    /// Sentences from a grammar given in the scenario, rewards attached to tokens.
    Corpus(CorpusConfig),
    /// Plain-text files and folders.
    Text(TextConfig),
    /// WordNet glosses, lemmas first.
    Wordnet(WordnetConfig),
    /// Rated words of a valence lexicon, the rating as primary reward.
    Lexicon(LexiconConfig),
    /// Cue → delay → reward trials.
    Pavlovian(PavlovianConfig),
    /// k-armed Bernoulli bandits.
    Bandit(BanditConfig),
    /// The two-step task (Daw et al. 2011).
    TwoStep(TwoStepConfig),
    /// Cues seen once with a reward, then again (one-shot memory).
    OneShot(OneShotConfig),
}

/// The world kinds a scenario may name.
pub const WORLD_KINDS: &[&str] = &[
    "corpus",
    "text",
    "wordnet",
    "lexicon",
    "pavlovian",
    "bandit",
    "two_step",
    "one_shot",
];

impl WorldSpec {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            WorldSpec::Corpus(_) => "corpus",
            WorldSpec::Text(_) => "text",
            WorldSpec::Wordnet(_) => "wordnet",
            WorldSpec::Lexicon(_) => "lexicon",
            WorldSpec::Pavlovian(_) => "pavlovian",
            WorldSpec::Bandit(_) => "bandit",
            WorldSpec::TwoStep(_) => "two_step",
            WorldSpec::OneShot(_) => "one_shot",
        }
    }

    /// Reads a world of the given kind from a table without `kind` (unknown keys rejected).
    pub fn parse<'de, D: serde::Deserializer<'de>>(kind: &str, de: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        Ok(match kind {
            "corpus" => WorldSpec::Corpus(CorpusConfig::deserialize(de)?),
            "text" => WorldSpec::Text(TextConfig::deserialize(de)?),
            "wordnet" => WorldSpec::Wordnet(WordnetConfig::deserialize(de)?),
            "lexicon" => WorldSpec::Lexicon(LexiconConfig::deserialize(de)?),
            "pavlovian" => WorldSpec::Pavlovian(PavlovianConfig::deserialize(de)?),
            "bandit" => WorldSpec::Bandit(BanditConfig::deserialize(de)?),
            "two_step" => WorldSpec::TwoStep(TwoStepConfig::deserialize(de)?),
            "one_shot" => WorldSpec::OneShot(OneShotConfig::deserialize(de)?),
            other => return Err(D::Error::custom(format!("unknown world kind `{other}`"))),
        })
    }

    /// Paths in the configuration made relative to `base` (the scenario's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if !p.as_os_str().is_empty() && p.is_relative() {
                *p = base.join(&*p);
            }
        };
        match self {
            WorldSpec::Corpus(_)
            | WorldSpec::Pavlovian(_)
            | WorldSpec::Bandit(_)
            | WorldSpec::TwoStep(_)
            | WorldSpec::OneShot(_) => {}
            WorldSpec::Text(c) => c.paths.iter_mut().for_each(fix),
            WorldSpec::Wordnet(c) => fix(&mut c.dir),
            WorldSpec::Lexicon(c) => fix(&mut c.path),
        }
    }

    /// Checks the configuration, including that the files it reads exist.
    pub fn check(&self) -> std::result::Result<(), WorldError> {
        match self {
            WorldSpec::Corpus(c) => c.check(),
            WorldSpec::Pavlovian(c) => c.check(),
            WorldSpec::Bandit(c) => c.check(),
            WorldSpec::TwoStep(c) => c.check(),
            WorldSpec::OneShot(c) => c.check(),
            WorldSpec::Text(c) => text::text_files(c).map(|_| ()),
            WorldSpec::Wordnet(c) => text::wordnet_files(c).map(|_| ()),
            WorldSpec::Lexicon(c) => {
                if !(c.train_fraction > 0.0 && c.train_fraction < 1.0) {
                    return Err(WorldError::invalid(
                        "train_fraction",
                        "expected a number in (0, 1)",
                    ));
                }
                if !(c.scale.is_finite() && c.scale > 0.0) {
                    return Err(WorldError::invalid("scale", "expected a number > 0"));
                }
                if !c.path.as_os_str().is_empty() && !c.path.is_file() {
                    return Err(WorldError::new(
                        vec!["path".into()],
                        ErrorKind::MissingFile,
                        format!("lexicon file `{}` not found", c.path.display()),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The words of a closed vocabulary (a grammar's), `None` for open corpora whose words are
    /// known only after reading them.
    pub fn closed_words(&self) -> Option<Vec<String>> {
        match self {
            WorldSpec::Corpus(c) => Some(c.terminals()),
            WorldSpec::Lexicon(_) => Some(Vec::new()),
            WorldSpec::Pavlovian(c) => Some(c.word_counts().into_iter().map(|(w, _)| w).collect()),
            WorldSpec::Bandit(c) => Some(vec![c.cue.clone()]),
            WorldSpec::TwoStep(c) => Some(c.words()),
            WorldSpec::OneShot(c) => Some(c.words()),
            _ => None,
        }
    }

    /// This world's words and counts for the shared vocabulary.
    pub fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        match self {
            WorldSpec::Corpus(c) => Ok(corpus::corpus_counts(c)),
            WorldSpec::Text(_) | WorldSpec::Wordnet(_) => {
                let (min_count, max_vocab) = match self {
                    WorldSpec::Text(c) => (c.min_count, c.max_vocab),
                    WorldSpec::Wordnet(c) => (c.min_count, c.max_vocab),
                    _ => unreachable!(),
                };
                text::count_vocabulary(&self.source()?, min_count, max_vocab)
            }
            WorldSpec::Lexicon(_) => Ok(Vec::new()),
            WorldSpec::Pavlovian(c) => Ok(c.word_counts()),
            WorldSpec::Bandit(c) => Ok(vec![(c.cue.clone(), 1)]),
            WorldSpec::TwoStep(c) => Ok(c.words().into_iter().map(|w| (w, 1)).collect()),
            WorldSpec::OneShot(c) => Ok(c.words().into_iter().map(|w| (w, 1)).collect()),
        }
    }

    fn source(&self) -> Result<Source> {
        let err = |e: WorldError| Error::Run(e.message);
        match self {
            WorldSpec::Text(c) => Ok(Source::Text {
                files: text::text_files(c).map_err(err)?,
                max_sentences: c.max_sentences,
            }),
            WorldSpec::Wordnet(c) => Ok(Source::Wordnet {
                files: text::wordnet_files(c).map_err(err)?,
                lemmas: c.lemmas,
                max_sentences: c.max_sentences,
            }),
            _ => Err(Error::Run(format!(
                "a `{}` world has no text source",
                self.kind()
            ))),
        }
    }

    /// Builds the world for P agents over the shared vocabulary.
    pub fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(match self {
            WorldSpec::Corpus(c) => Box::new(CorpusWorld::new(c, vocabulary, population)),
            WorldSpec::Text(c) => Box::new(TextWorld::new(
                self.source()?,
                &c.rewards,
                vocabulary,
                population,
            )?),
            WorldSpec::Wordnet(c) => Box::new(TextWorld::new(
                self.source()?,
                &c.rewards,
                vocabulary,
                population,
            )?),
            WorldSpec::Lexicon(c) => Box::new(LexiconWorld::new(c, vocabulary, population)?),
            WorldSpec::Pavlovian(c) => Box::new(PavlovianWorld::new(c, vocabulary, population)?),
            WorldSpec::Bandit(c) => Box::new(BanditWorld::new(c, vocabulary, population)?),
            WorldSpec::TwoStep(c) => Box::new(TwoStepWorld::new(c, vocabulary, population)?),
            WorldSpec::OneShot(c) => Box::new(OneShotWorld::new(c, vocabulary, population)?),
        })
    }

    /// Ports of this world kind (every kind emits a token and a reward).
    pub fn ports(&self) -> Ports {
        Self::ports_of(self.kind())
    }

    /// Ports of a world kind by name.
    pub fn ports_of(kind: &str) -> Ports {
        match kind {
            "pavlovian" => Ports {
                inputs: vec![],
                outputs: pavlovian::ports(),
            },
            "bandit" => bandit::ports(),
            "two_step" => two_step::ports(),
            "one_shot" => one_shot::ports(),
            _ => Ports {
                inputs: vec![],
                outputs: corpus::ports(),
            },
        }
    }
}

/// One vocabulary for every phase: each world's words in phase order, counts summed.
pub fn build_vocabulary(worlds: &[&WorldSpec]) -> Result<Vocabulary> {
    let mut order: Vec<String> = Vec::new();
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut seen: Vec<&WorldSpec> = Vec::new();
    for w in worlds {
        if seen.contains(w) {
            continue;
        }
        seen.push(w);
        for (word, c) in w.word_counts()? {
            let e = counts.entry(word.clone()).or_insert_with(|| {
                order.push(word.clone());
                0
            });
            *e += c;
        }
    }
    Ok(Vocabulary::from_counts(
        order
            .into_iter()
            .map(|w| {
                let c = counts[&w];
                (w, c)
            })
            .collect(),
    ))
}
