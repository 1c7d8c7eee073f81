//! # lexicon — primary rewards from human valence norms
//!
//! Presents, one per step, words of a valence lexicon that the cortex knows, each with its human
//! rating as primary reward (VADER: Hutto & Gilbert 2014, mean of 10 ratings in −4..+4, scaled
//! by `scale` to −1..+1). Only a random `train_fraction` of the known words is ever presented;
//! the rest is held out, so their valence can come only from the latent geometry. The split is
//! fixed by `split_seed`, the order of presentation by each agent's seed. With `shuffle`, the
//! ratings are permuted among the training words: the control that must value nothing.
//!
//! The lexicon file defaults to `vader_lexicon.txt` of the installed PyPI package
//! `vaderSentiment`, located by asking `python3`.
//!
//! Ports: `token` `[P, 1]` (Token), `reward` `[P, 1]` (Reward).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::rng::SimRng;
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::text::{EOS, UNK};
use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::ports::Outputs;
use crate::ports::Ports;
use crate::signal::Signal;

/// Which lexicon, and how it is split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LexiconConfig {
    /// A VADER-format file (`word<TAB>mean<TAB>sd<TAB>[ratings]`); empty: the installed
    /// `vaderSentiment` package's `vader_lexicon.txt`.
    pub path: PathBuf,
    /// Share of the known rated words used for training (the rest is held out).
    pub train_fraction: f64,
    /// Seed of the train/held-out split.
    pub split_seed: u64,
    /// Ratings are divided by this (VADER's 4 maps −4..+4 to −1..+1).
    pub scale: f64,
    /// Permute the ratings among the training words (a control).
    pub shuffle: bool,
    /// Present each word as a sentence of its own: `</s>` (no reward) before it, so that a
    /// contextual cortex (`world_model`) reads it from a sentence start, as the probes read
    /// concepts. Needs `</s>` in the vocabulary (the text worlds have it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sentences: bool,
}

impl Default for LexiconConfig {
    fn default() -> Self {
        LexiconConfig {
            path: PathBuf::new(),
            train_fraction: 0.7,
            split_seed: 0,
            scale: 4.0,
            shuffle: false,
            sentences: false,
        }
    }
}

/// Finds `vader_lexicon.txt` in the installed `vaderSentiment` package.
pub fn locate_vader() -> Result<PathBuf> {
    let hint = "install it with `pip install vaderSentiment`, or set `path` to a vader_lexicon.txt";
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import vaderSentiment, os; print(os.path.join(os.path.dirname(vaderSentiment.__file__), 'vader_lexicon.txt'))",
        ])
        .output()
        .map_err(|e| Error::Run(format!("cannot run python3 to locate the VADER lexicon ({e}); {hint}")))?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !path.is_file() {
        return Err(Error::Run(format!(
            "the PyPI package `vaderSentiment` is not installed; {hint}"
        )));
    }
    Ok(path)
}

/// (word, mean rating) from a VADER-format file; a malformed line is a located error.
pub fn read_vader(path: &Path) -> Result<Vec<(String, f64)>> {
    let text = crate::error::SourceFile::read_at_most(path, 1 << 30)?.text;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t');
        let word = fields.next().unwrap_or("");
        let mean = fields
            .next()
            .and_then(|m| m.trim().parse::<f64>().ok())
            .filter(|&m| super::holds_as_f32(m))
            .ok_or_else(|| {
                Error::Run(format!(
                    "{}:{}:1: expected `word<TAB>mean rating<TAB>…` (a finite number)",
                    path.display(),
                    i + 1
                ))
            })?;
        out.push((word.to_string(), mean));
    }
    Ok(out)
}

/// The rated words the vocabulary knows, split into training and held-out sets.
#[derive(Debug, Clone, PartialEq)]
pub struct NormSplit {
    /// (token id, scaled rating) presented with reward.
    pub train: Vec<(u32, f32)>,
    /// (token id, scaled rating) never presented.
    pub held_out: Vec<(u32, f32)>,
}
impl WorldParams for LexiconConfig {
    const KIND: &'static str = "lexicon";
    const SUMMARY: &'static str = "rated words of a valence lexicon (VADER), the rating as primary reward";

    fn ports(&self) -> Ports {
        Ports::outputs_only(super::corpus::ports())
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return Err(WorldError::invalid(
                "train_fraction",
                "expected a number in (0, 1)",
            ));
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(WorldError::invalid("scale", "expected a number > 0"));
        }
        if !self.path.as_os_str().is_empty() && !self.path.is_file() {
            return Err(WorldError::new(
                vec!["path".into()],
                ErrorKind::MissingFile,
                format!("lexicon file `{}` not found", self.path.display()),
            ));
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        super::resolve_path(&mut self.path, base);
    }

    /// Its words are the rated ones the other worlds' vocabulary knows: it adds none.
    fn closed_words(&self) -> Option<Vec<String>> {
        Some(Vec::new())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        Ok(Vec::new())
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(LexiconWorld::new(self, vocabulary, population)?))
    }
}

impl LexiconConfig {
    /// The lexicon file: `path`, or the installed package's.
    pub fn file(&self) -> Result<PathBuf> {
        if self.path.as_os_str().is_empty() {
            locate_vader()
        } else {
            Ok(self.path.clone())
        }
    }

    /// Reads the lexicon and splits the words the vocabulary knows.
    pub fn split(&self, vocabulary: &Vocabulary) -> Result<NormSplit> {
        let ratings = read_vader(&self.file()?)?;
        let mut known: Vec<(u32, f32)> = ratings
            .iter()
            .filter(|(w, _)| w.as_str() != UNK && w.as_str() != EOS)
            .filter_map(|(w, r)| vocabulary.id(w).map(|id| (id, (*r / self.scale) as f32)))
            .collect();
        known.sort_by_key(|(id, _)| *id);
        known.dedup_by_key(|(id, _)| *id);
        let mut rng = SimRng::seed_from_u64(self.split_seed);
        known.shuffle(&mut rng);
        let n_train = ((known.len() as f64) * self.train_fraction).round() as usize;
        let held_out = known.split_off(n_train.min(known.len()));
        let mut train = known;
        if self.shuffle {
            let mut ratings: Vec<f32> = train.iter().map(|(_, r)| *r).collect();
            ratings.shuffle(&mut rng);
            for ((_, r), s) in train.iter_mut().zip(ratings) {
                *r = s;
            }
        }
        if train.is_empty() || held_out.is_empty() {
            return Err(Error::Run(format!(
                "the lexicon shares only {} words with the vocabulary: too few to split",
                train.len() + held_out.len()
            )));
        }
        Ok(NormSplit { train, held_out })
    }
}

/// Rated words presented one per step, each agent in its own order.
pub struct LexiconWorld {
    vocabulary: Arc<Vocabulary>,
    train: Vec<(u32, f32)>,
    rngs: Vec<SimRng>,
    /// `</s>`, when each word is a sentence of its own.
    boundary: Option<u32>,
    /// Steps taken (the boundary comes on even steps).
    steps: u64,
}

impl LexiconWorld {
    /// Reads and splits the lexicon against the vocabulary.
    pub fn new(config: &LexiconConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let split = config.split(&vocabulary)?;
        let rngs = (0..population).map(|i| SimRng::seed_from_u64(i as u64)).collect();
        let boundary = match config.sentences {
            false => None,
            true => Some(vocabulary.id(EOS).ok_or_else(|| {
                Error::Run(format!(
                    "lexicon: `sentences = true` needs `{EOS}` in the vocabulary (a text or wordnet world has it)"
                ))
            })?),
        };
        Ok(LexiconWorld {
            vocabulary,
            train: split.train,
            rngs,
            boundary,
            steps: 0,
        })
    }
}

impl World for LexiconWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        self.rngs = seeds.iter().map(|&s| SimRng::seed_from_u64(s)).collect();
        self.steps = 0;
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.rngs.len();
        let mut tokens = Array2::zeros((p, 1));
        let mut rewards = Array2::zeros((p, 1));
        self.steps += 1;
        if let Some(b) = self.boundary
            && self.steps % 2 == 1
        {
            tokens.fill(b as f32);
            return Ok(vec![
                ("token", Signal::Host(tokens)),
                ("reward", Signal::Host(rewards)),
            ]);
        }
        for (i, rng) in self.rngs.iter_mut().enumerate() {
            let (id, r) = self.train[rng.gen_range(0..self.train.len())];
            tokens[[i, 0]] = id as f32;
            rewards[[i, 0]] = r;
        }
        Ok(vec![
            ("token", Signal::Host(tokens)),
            ("reward", Signal::Host(rewards)),
        ])
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put("rngs", &self.rngs);
        if self.boundary.is_some() {
            out.put("steps", &self.steps);
        }
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        super::restore_agents(from, "rngs", &mut self.rngs)?;
        if self.boundary.is_some() {
            self.steps = from.get("steps")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(dir: &Path) -> LexiconConfig {
        let path = dir.join("lex.txt");
        std::fs::write(&path, "good\t2.0\t0.5\t[2, 2]\nbad\t-2.5\t0.5\t[-2]\nmeh\t0.0\t0\t[0]\nzzz\t1.0\t0\t[1]\nok\t1.2\t0\t[1]\n").unwrap();
        LexiconConfig {
            path,
            train_fraction: 0.5,
            ..Default::default()
        }
    }

    fn vocab() -> Vocabulary {
        Vocabulary::from_counts(
            ["good", "bad", "meh", "ok", EOS, UNK]
                .iter()
                .map(|w| (w.to_string(), 1))
                .collect(),
        )
    }

    #[test]
    fn split_keeps_known_words_scaled_and_disjoint() {
        let dir = tempfile::tempdir().unwrap();
        let s = lexicon(dir.path()).split(&vocab()).unwrap();
        assert_eq!(
            s.train.len() + s.held_out.len(),
            4,
            "`zzz` is not in the vocabulary"
        );
        assert_eq!(s.train.len(), 2);
        let good = vocab().id("good").unwrap();
        let all: Vec<_> = s.train.iter().chain(&s.held_out).collect();
        assert!(all.iter().any(|(id, r)| *id == good && *r == 0.5));
        assert!(s.train.iter().all(|t| !s.held_out.iter().any(|h| h.0 == t.0)));
    }

    #[test]
    fn world_presents_only_training_words_with_their_rating() {
        let dir = tempfile::tempdir().unwrap();
        let config = lexicon(dir.path());
        let split = config.split(&vocab()).unwrap();
        let mut w = LexiconWorld::new(&config, Arc::new(vocab()), 3).unwrap();
        w.reset(&[1, 2, 3]);
        for _ in 0..30 {
            let out = w.step().unwrap();
            let (t, r) = (out[0].1.to_host(), out[1].1.to_host());
            for a in 0..3 {
                let pair = (t[[a, 0]] as u32, r[[a, 0]]);
                assert!(split.train.contains(&pair), "{pair:?}");
            }
        }
    }

    #[test]
    fn as_sentences_each_word_follows_a_boundary_without_reward() {
        let dir = tempfile::tempdir().unwrap();
        let config = LexiconConfig {
            sentences: true,
            ..lexicon(dir.path())
        };
        let split = config.split(&vocab()).unwrap();
        let eos = vocab().id(EOS).unwrap() as f32;
        let mut w = LexiconWorld::new(&config, Arc::new(vocab()), 2).unwrap();
        w.reset(&[1, 2]);
        for step in 0..20 {
            let out = w.step().unwrap();
            let (t, r) = (out[0].1.to_host(), out[1].1.to_host());
            for a in 0..2 {
                if step % 2 == 0 {
                    assert_eq!((t[[a, 0]], r[[a, 0]]), (eos, 0.0), "step {step}");
                } else {
                    assert!(split.train.contains(&(t[[a, 0]] as u32, r[[a, 0]])));
                }
            }
        }
        let without_boundary = Vocabulary::from_counts(
            ["good", "bad", "meh", "ok"]
                .iter()
                .map(|w| (w.to_string(), 1))
                .collect(),
        );
        let e = LexiconWorld::new(&config, Arc::new(without_boundary), 1)
            .err()
            .unwrap();
        assert!(e.to_string().contains("</s>"), "{e}");
    }

    #[test]
    fn malformed_line_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        std::fs::write(&path, "good\t2.0\nbad\tnot-a-number\n").unwrap();
        let e = read_vader(&path).unwrap_err().to_string();
        assert!(e.contains("bad.txt:2:1"), "{e}");
        // Ratings that are not finite, or do not hold as f32, are malformed too (#17, item 6).
        for rating in ["nan", "inf", "-inf", "1e39"] {
            std::fs::write(&path, format!("good\t2.0\nbad\t{rating}\t0.5\n")).unwrap();
            let e = read_vader(&path).unwrap_err().to_string();
            assert!(e.contains("bad.txt:2:1") && e.contains("finite"), "{rating}: {e}");
        }
    }
}
