//! Environments, Gymnasium-style: a world is reset with per-agent seeds and stepped for all P
//! agents at once. A world's outputs are ports like a region's (`world.token`, `world.reward`),
//! so model files wire them with ordinary edges.

pub mod corpus;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::regions::{Outputs, PortSpec};

pub use corpus::{CorpusConfig, CorpusWorld};

/// Token ↔ id, with the count of each token (for noise distributions and subsampling).
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    words: Vec<String>,
    counts: Vec<u64>,
    index: HashMap<String, u32>,
}

impl Vocabulary {
    /// A vocabulary from (word, count) pairs, ids in the given order.
    pub fn from_counts(pairs: Vec<(String, u64)>) -> Self {
        let mut v = Vocabulary::default();
        for (word, count) in pairs {
            v.index.insert(word.clone(), v.words.len() as u32);
            v.words.push(word);
            v.counts.push(count);
        }
        v
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of a word.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// The word of an id.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// All words, by id.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Each word's count, by id.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

/// An environment stepping P agents.
pub trait World: Send {
    /// The world's output ports (what `world.<port>` edges may read).
    fn ports(&self) -> Vec<PortSpec>;

    /// The tokens this world can emit.
    fn vocabulary(&self) -> &Vocabulary;

    /// Starts every agent's stream afresh from its own seed.
    fn reset(&mut self, seeds: &[u64]);

    /// Reconfigures the world for a phase, keeping every agent's stream position and RNG.
    fn set_phase(&mut self, spec: &WorldSpec) -> Result<()>;

    /// One step for every agent: the outputs by port, each `[P, width]`.
    fn step(&mut self) -> Result<Outputs>;
}

/// A world's configuration, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorldSpec {
    /// Sentences from a grammar given in the scenario, rewards attached to tokens.
    Corpus(CorpusConfig),
}

/// The world kinds a scenario may name.
pub const WORLD_KINDS: &[&str] = &["corpus"];

impl WorldSpec {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            WorldSpec::Corpus(_) => "corpus",
        }
    }

    /// Builds the world for P agents. `phases` are every phase's configuration, so that the
    /// vocabulary covers all of them from the first step.
    pub fn build(&self, phases: &[WorldSpec], population: usize) -> Result<Box<dyn World>> {
        match self {
            WorldSpec::Corpus(c) => {
                let grammars: Vec<&CorpusConfig> = phases
                    .iter()
                    .map(|p| match p {
                        WorldSpec::Corpus(c) => c,
                    })
                    .collect();
                Ok(Box::new(CorpusWorld::new(c, &grammars, population)))
            }
        }
    }

    /// Ports of this world kind.
    pub fn ports(&self) -> Vec<PortSpec> {
        match self {
            WorldSpec::Corpus(_) => corpus::ports(),
        }
    }
}
