//! # text and wordnet — token streams from real language
//!
//! `text` reads UTF-8 plain-text files and folders (recursively, in name order), one sentence
//! per line. `wordnet` reads the glosses of WordNet 3.x (`data.noun|verb|adj|adv` of the Debian
//! package `wordnet-base`): each synset line is one sentence, its lemma names followed by its
//! gloss, the text after `|`. Prepending the lemmas is what ties a word to its definition.
//!
//! Both stream: a corpus is never loaded whole. A first pass counts words; words seen fewer than
//! `min_count` times become `<unk>`; each sentence is followed by `</s>`, which a cortex takes
//! as a boundary (its context window does not cross sentences). All agents read the same
//! stream (they differ by initialisation and by their own sampling of noise words and
//! subsampling); the stream starts over at the end of the corpus.
//!
//! Ports: `token` `[P, 1]` (Token), `reward` `[P, 1]` (Reward; from `rewards`, word → reward).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::ports::{Outputs, Ports};
use crate::signal::Signal;

pub use crate::vocabulary::{EOS, UNK};
/// Where Debian's `wordnet-base` puts the database.
pub const WORDNET_DIR: &str = "/usr/share/wordnet";

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Lowercased word tokens: runs of letters and digits, with inner apostrophes kept ("don't").
pub fn tokenize(text: &str, out: &mut Vec<String>) {
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let t = raw.trim_matches('\'');
        if !t.is_empty() {
            out.push(t.to_lowercase());
        }
    }
}

/// One WordNet data line as a sentence: lemma names (underscores split, syntactic markers such
/// as `(a)` dropped) followed by the gloss. License lines (starting with spaces) give `None`.
pub fn wordnet_sentence(line: &str, lemmas: bool, out: &mut Vec<String>) -> Option<()> {
    if line.starts_with(' ') || line.trim().is_empty() {
        return None;
    }
    let (head, gloss) = line.split_once('|')?;
    if lemmas {
        let fields: Vec<&str> = head.split_whitespace().collect();
        let count = usize::from_str_radix(fields.get(3)?, 16).ok()?;
        for k in 0..count {
            let lemma = fields.get(4 + 2 * k)?;
            let lemma = lemma.split('(').next().unwrap_or(lemma);
            tokenize(&lemma.replace('_', " "), out);
        }
    }
    tokenize(gloss, out);
    Some(())
}

/// Which files a text source reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// Files and folders (relative to the scenario file).
    pub paths: Vec<PathBuf>,
    /// Words seen fewer times become `<unk>`.
    pub min_count: u64,
    /// Keep at most this many words (most frequent first); 0 for no limit.
    pub max_vocab: usize,
    /// Read at most this many sentences per pass (a slice for quick runs); 0 for all.
    pub max_sentences: u64,
    /// Skip this many sentences first: with `max_sentences`, a held-out slice after a training
    /// slice (e.g. for the `perplexity` probe).
    #[serde(skip_serializing_if = "is_zero")]
    pub skip_sentences: u64,
    /// Hold out every n-th sentence read (0: none): it is never streamed, unless `held_out`.
    #[serde(skip_serializing_if = "is_zero")]
    pub holdout_every: u64,
    /// Stream only the held-out sentences (every `holdout_every`-th): text the model did not
    /// read, drawn from across the whole corpus (e.g. for the `perplexity` probe).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub held_out: bool,
    /// Word → primary reward delivered when it is read.
    pub rewards: BTreeMap<String, f64>,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            paths: vec![],
            min_count: 5,
            max_vocab: 0,
            max_sentences: 0,
            skip_sentences: 0,
            holdout_every: 0,
            held_out: false,
            rewards: BTreeMap::new(),
        }
    }
}

/// WordNet glosses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WordnetConfig {
    /// The folder holding `data.noun` etc.
    pub dir: PathBuf,
    /// Which parts of speech, in reading order.
    pub parts: Vec<String>,
    /// Prepend each synset's lemma names to its gloss.
    pub lemmas: bool,
    /// Words seen fewer times become `<unk>`.
    pub min_count: u64,
    /// Keep at most this many words; 0 for no limit.
    pub max_vocab: usize,
    /// Read at most this many glosses per pass, taken evenly across the parts; 0 for all.
    pub max_sentences: u64,
    /// Skip this many glosses first, evenly across the parts: with `max_sentences`, a held-out
    /// slice after a training slice (e.g. for the `perplexity` probe).
    #[serde(skip_serializing_if = "is_zero")]
    pub skip_sentences: u64,
    /// Hold out every n-th sentence read (0: none): it is never streamed, unless `held_out`.
    #[serde(skip_serializing_if = "is_zero")]
    pub holdout_every: u64,
    /// Stream only the held-out sentences (every `holdout_every`-th): text the model did not
    /// read, drawn from across the whole corpus (e.g. for the `perplexity` probe).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub held_out: bool,
    /// Word → primary reward delivered when it is read.
    pub rewards: BTreeMap<String, f64>,
}

impl Default for WordnetConfig {
    fn default() -> Self {
        WordnetConfig {
            dir: PathBuf::from(WORDNET_DIR),
            parts: ["noun", "verb", "adj", "adv"].map(String::from).to_vec(),
            lemmas: true,
            min_count: 5,
            max_vocab: 0,
            max_sentences: 0,
            skip_sentences: 0,
            holdout_every: 0,
            held_out: false,
            rewards: BTreeMap::new(),
        }
    }
}

impl WorldParams for TextConfig {
    const KIND: &'static str = "text";
    const SUMMARY: &'static str = "plain-text files and folders, one sentence per line";

    fn ports(&self) -> Ports {
        Ports::outputs_only(super::corpus::ports())
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        check_split(self.holdout_every, self.held_out)?;
        text_files(self).map(|_| ())
    }

    fn resolve_paths(&mut self, base: &Path) {
        for p in &mut self.paths {
            super::resolve_path(p, base);
        }
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        None
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        count_vocabulary(&self.source()?, self.min_count, self.max_vocab)
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(TextWorld::new(
            self.source()?,
            &self.rewards,
            vocabulary,
            population,
        )?))
    }
}

impl TextConfig {
    /// The files to read, checked.
    pub fn source(&self) -> Result<Source> {
        Ok(Source::Text {
            files: text_files(self).map_err(|e| Error::Run(e.message))?,
            max_sentences: self.max_sentences,
            skip_sentences: self.skip_sentences,
            split: Split {
                every: self.holdout_every,
                held_out: self.held_out,
            },
        })
    }
}

impl WorldParams for WordnetConfig {
    const KIND: &'static str = "wordnet";
    const SUMMARY: &'static str = "WordNet glosses (Debian `wordnet-base`), lemmas first";

    fn ports(&self) -> Ports {
        Ports::outputs_only(super::corpus::ports())
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        check_split(self.holdout_every, self.held_out)?;
        wordnet_files(self).map(|_| ())
    }

    fn resolve_paths(&mut self, base: &Path) {
        super::resolve_path(&mut self.dir, base);
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        None
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        count_vocabulary(&self.source()?, self.min_count, self.max_vocab)
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(TextWorld::new(
            self.source()?,
            &self.rewards,
            vocabulary,
            population,
        )?))
    }
}

impl WordnetConfig {
    /// The data files to read, checked.
    pub fn source(&self) -> Result<Source> {
        Ok(Source::Wordnet {
            files: wordnet_files(self).map_err(|e| Error::Run(e.message))?,
            lemmas: self.lemmas,
            max_sentences: self.max_sentences,
            skip_sentences: self.skip_sentences,
            split: Split {
                every: self.holdout_every,
                held_out: self.held_out,
            },
        })
    }
}

/// A source of sentences that can be read from the start any number of times.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Plain text, one sentence per line.
    Text {
        /// The files, in reading order.
        files: Vec<PathBuf>,
        /// Sentence limit per pass (0: none).
        max_sentences: u64,
        /// Sentences skipped at the start of each pass.
        skip_sentences: u64,
        /// Which of the sentences read are streamed.
        split: Split,
    },
    /// WordNet glosses.
    Wordnet {
        /// The data files, in reading order.
        files: Vec<PathBuf>,
        /// Prepend lemma names.
        lemmas: bool,
        /// Sentence limit per pass, split evenly across the files (0: none).
        max_sentences: u64,
        /// Sentences skipped at the start of each pass, split evenly across the files.
        skip_sentences: u64,
        /// Which of the sentences read are streamed.
        split: Split,
    },
}

/// Every n-th sentence held out of a source: streamed only when reading the held-out part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Split {
    /// n (0: nothing is held out).
    pub every: u64,
    /// Stream the held-out sentences instead of the others.
    pub held_out: bool,
}

impl Split {
    /// Whether the `index`-th sentence read (1-based) is streamed.
    pub fn streams(&self, index: u64) -> bool {
        let held = self.every > 0 && index.is_multiple_of(self.every);
        held == self.held_out
    }
}

/// `held_out = true` streams the held-out sentences: there must be some.
fn check_split(every: u64, held_out: bool) -> std::result::Result<(), WorldError> {
    if held_out && every == 0 {
        return Err(WorldError::new(
            vec!["held_out".into()],
            ErrorKind::InvalidValue,
            "`held_out = true` streams the held-out sentences, and `holdout_every = 0` holds \
             none out: set `holdout_every` (e.g. 50)"
                .into(),
        ));
    }
    Ok(())
}

fn missing(path: &Path, hint: &str) -> Error {
    Error::Run(format!("corpus file `{}` cannot be read: {hint}", path.display()))
}

/// The WordNet data files of a configuration, each checked to exist.
pub fn wordnet_files(config: &WordnetConfig) -> std::result::Result<Vec<PathBuf>, WorldError> {
    let mut files = Vec::new();
    for (i, part) in config.parts.iter().enumerate() {
        if !["noun", "verb", "adj", "adv"].contains(&part.as_str()) {
            return Err(WorldError::new(
                vec!["parts".into(), i.to_string()],
                ErrorKind::InvalidValue,
                format!("unknown part of speech `{part}`; expected noun, verb, adj or adv"),
            ));
        }
        let f = config.dir.join(format!("data.{part}"));
        if !f.is_file() {
            return Err(WorldError::new(
                vec!["dir".into()],
                ErrorKind::MissingFile,
                format!(
                    "WordNet data file `{}` not found: install the Debian package `wordnet-base` \
                     (apt-get install wordnet-base) or set `dir` to a WordNet 3 `dict` folder",
                    f.display()
                ),
            ));
        }
        files.push(f);
    }
    Ok(files)
}

/// The files under the paths of a text configuration, folders walked in name order.
pub fn text_files(config: &TextConfig) -> std::result::Result<Vec<PathBuf>, WorldError> {
    if config.paths.is_empty() {
        return Err(WorldError::new(
            vec![],
            ErrorKind::MissingField,
            "a text world needs `paths = [\"…\"]`".into(),
        ));
    }
    let mut files = Vec::new();
    for (i, p) in config.paths.iter().enumerate() {
        let before = files.len();
        walk(p, &mut files);
        if files.len() == before {
            return Err(WorldError::new(
                vec!["paths".into(), i.to_string()],
                ErrorKind::MissingFile,
                format!(
                    "`{}` is neither a readable file nor a folder with files",
                    p.display()
                ),
            ));
        }
    }
    Ok(files)
}

/// Regular files under `p` (special files skipped), folders in name order, each folder once
/// (by its canonical path: a link that loops back is not followed again) and at most 32 deep.
fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    walk_to(p, out, 32, &mut std::collections::HashSet::new())
}

fn walk_to(p: &Path, out: &mut Vec<PathBuf>, depth: usize, seen: &mut std::collections::HashSet<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
    } else if depth > 0
        && std::fs::canonicalize(p).is_ok_and(|c| seen.insert(c))
        && let Ok(entries) = std::fs::read_dir(p)
    {
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for q in paths {
            walk_to(&q, out, depth - 1, seen);
        }
    }
}

impl Source {
    /// Calls `f` on every sentence of one pass, in order.
    pub fn for_each_sentence(&self, mut f: impl FnMut(&[String])) -> Result<()> {
        let mut reader = SentenceReader::new(self.clone())?;
        let mut sentence = Vec::new();
        while reader.next_sentence(&mut sentence)? {
            f(&sentence);
        }
        Ok(())
    }
}

/// Reads sentences from a source one at a time; `next_sentence` gives `false` at the end of a pass.
pub struct SentenceReader {
    source: Source,
    file: usize,
    reader: Option<BufReader<File>>,
    read_in_file: u64,
    read_total: u64,
    /// Bytes read from the current file (where a restored reader seeks to).
    offset: u64,
    line: String,
}

impl SentenceReader {
    /// A reader at the start of the source.
    pub fn new(source: Source) -> Result<Self> {
        Ok(SentenceReader {
            source,
            file: 0,
            reader: None,
            read_in_file: 0,
            read_total: 0,
            offset: 0,
            line: String::new(),
        })
    }

    /// Where the reader stands: file index, whether it is open, byte offset in it, sentences
    /// read in the file and in all.
    fn position(&self) -> (usize, bool, u64, u64, u64) {
        (
            self.file,
            self.reader.is_some(),
            self.offset,
            self.read_in_file,
            self.read_total,
        )
    }

    /// Moves the reader to a saved [`SentenceReader::position`].
    fn seek(
        &mut self,
        (file, open, offset, read_in_file, read_total): (usize, bool, u64, u64, u64),
    ) -> Result<()> {
        use std::io::Seek;
        self.rewind();
        self.file = file;
        if open {
            let path = self.source_file();
            let mut f = File::open(&path).map_err(|e| missing(&path, &e.to_string()))?;
            f.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| missing(&path, &e.to_string()))?;
            self.reader = Some(BufReader::new(f));
        }
        (self.offset, self.read_in_file, self.read_total) = (offset, read_in_file, read_total);
        Ok(())
    }

    fn files(&self) -> &[PathBuf] {
        match &self.source {
            Source::Text { files, .. } | Source::Wordnet { files, .. } => files,
        }
    }

    /// The next non-empty sentence into `out`; `false` when the pass is over.
    pub fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        loop {
            out.clear();
            // Skipped sentences count towards the positions: the limits lie past them.
            let (skip_total, skip_file, limit_total, limit_file) = match &self.source {
                Source::Text {
                    max_sentences,
                    skip_sentences,
                    ..
                } => (
                    *skip_sentences,
                    0,
                    if *max_sentences == 0 {
                        0
                    } else {
                        skip_sentences + max_sentences
                    },
                    0,
                ),
                Source::Wordnet {
                    max_sentences,
                    skip_sentences,
                    files,
                    ..
                } => {
                    let per_file = |n: u64| n.div_ceil(files.len().max(1) as u64);
                    let skip = per_file(*skip_sentences);
                    (
                        0,
                        skip,
                        0,
                        if *max_sentences == 0 {
                            0
                        } else {
                            skip + per_file(*max_sentences)
                        },
                    )
                }
            };
            if limit_total > 0 && self.read_total >= limit_total {
                return Ok(false);
            }
            if self.reader.is_none() || (limit_file > 0 && self.read_in_file >= limit_file) {
                if self.reader.is_some() {
                    self.file += 1;
                }
                let Some(path) = self.files().get(self.file).cloned() else {
                    return Ok(false);
                };
                let f = File::open(&path).map_err(|e| missing(&path, &e.to_string()))?;
                self.reader = Some(BufReader::new(f));
                self.read_in_file = 0;
                self.offset = 0;
            }
            self.line.clear();
            let reader = self.reader.as_mut().expect("opened above");
            let n = reader.read_line(&mut self.line).map_err(|e| {
                let path = self.source_file();
                missing(&path, &format!("{e} (expected UTF-8 text)"))
            })?;
            self.offset += n as u64;
            if n == 0 {
                // End of this file: move on by forcing the limit check.
                self.file += 1;
                self.reader = None;
                if self.file >= self.files().len() {
                    return Ok(false);
                }
                continue;
            }
            let split = match &self.source {
                Source::Text { split, .. } | Source::Wordnet { split, .. } => *split,
            };
            match &self.source {
                Source::Text { .. } => tokenize(&self.line, out),
                Source::Wordnet { lemmas, .. } => {
                    let _ = wordnet_sentence(&self.line, *lemmas, out);
                }
            }
            if !out.is_empty() {
                self.read_in_file += 1;
                self.read_total += 1;
                if self.read_total <= skip_total
                    || self.read_in_file <= skip_file
                    || !split.streams(self.read_total)
                {
                    continue;
                }
                return Ok(true);
            }
        }
    }

    fn source_file(&self) -> PathBuf {
        self.files().get(self.file).cloned().unwrap_or_default()
    }

    /// Back to the start of the source.
    pub fn rewind(&mut self) {
        self.file = 0;
        self.reader = None;
        self.read_in_file = 0;
        self.read_total = 0;
    }
}

/// Counts the words of one pass and keeps those seen `min_count` times or more (at most
/// `max_vocab`, most frequent first; ties by word), then `</s>` and `<unk>`.
pub fn count_vocabulary(source: &Source, min_count: u64, max_vocab: usize) -> Result<Vec<(String, u64)>> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut sentences = 0u64;
    source.for_each_sentence(|s| {
        sentences += 1;
        for w in s {
            *counts.entry(w.clone()).or_insert(0) += 1;
        }
    })?;
    Ok(keep_vocabulary(
        counts.into_iter().collect(),
        sentences,
        min_count,
        max_vocab,
    ))
}

/// The words counted `min_count` times or more (at most `max_vocab`, most frequent first; ties
/// by word), then `</s>` (counted once per sentence) and `<unk>` (what was dropped).
pub fn keep_vocabulary(
    mut words: Vec<(String, u64)>,
    sentences: u64,
    min_count: u64,
    max_vocab: usize,
) -> Vec<(String, u64)> {
    words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let keep = words.iter().take_while(|(_, c)| *c >= min_count.max(1)).count();
    let keep = if max_vocab > 0 { keep.min(max_vocab) } else { keep };
    let unknown: u64 = words[keep..].iter().map(|(_, c)| c).sum();
    words.truncate(keep);
    words.push((EOS.to_string(), sentences.max(1)));
    words.push((UNK.to_string(), unknown.max(1)));
    words
}

/// Queues a sentence's token ids (words outside the vocabulary as `<unk>`), then `</s>`.
pub fn enqueue(vocabulary: &Vocabulary, sentence: &[String], queue: &mut VecDeque<u32>) -> Result<()> {
    let id = |w: &str| {
        vocabulary
            .id(w)
            .ok_or_else(|| Error::Run(format!("vocabulary has no {w}")))
    };
    let (unk, eos) = (id(UNK)?, id(EOS)?);
    queue.extend(sentence.iter().map(|w| vocabulary.id(w).unwrap_or(unk)));
    queue.push_back(eos);
    Ok(())
}

/// One step of a text stream read by all P agents alike: the next queued token and its reward.
pub fn token_outputs(population: usize, token: u32, rewards: &[f32]) -> Outputs {
    let p = population;
    vec![
        ("token", Signal::Host(Array2::from_elem((p, 1), token as f32))),
        (
            "reward",
            Signal::Host(Array2::from_elem((p, 1), rewards[token as usize])),
        ),
    ]
}

/// A stream of real text for P agents.
pub struct TextWorld {
    vocabulary: Arc<Vocabulary>,
    reader: SentenceReader,
    queue: VecDeque<u32>,
    rewards: Vec<f32>,
    population: usize,
    sentence: Vec<String>,
}

impl TextWorld {
    /// Opens the source; words outside the vocabulary read as `<unk>`.
    pub fn new(
        source: Source,
        rewards: &BTreeMap<String, f64>,
        vocabulary: Arc<Vocabulary>,
        population: usize,
    ) -> Result<Self> {
        let mut r = vec![0.0; vocabulary.len()];
        for (w, v) in rewards {
            if let Some(id) = vocabulary.id(w) {
                r[id as usize] = *v as f32;
            }
        }
        Ok(TextWorld {
            reader: SentenceReader::new(source)?,
            vocabulary,
            queue: VecDeque::new(),
            rewards: r,
            population,
            sentence: Vec::new(),
        })
    }

    fn refill(&mut self) -> Result<()> {
        let mut rewound = false;
        while !self.reader.next_sentence(&mut self.sentence)? {
            if rewound {
                return Err(Error::Run("the corpus has no sentences".into()));
            }
            self.reader.rewind();
            rewound = true;
        }
        enqueue(&self.vocabulary, &self.sentence, &mut self.queue)
    }
}

impl World for TextWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, _seeds: &[u64]) {
        self.reader.rewind();
        self.queue.clear();
    }

    fn step(&mut self) -> Result<Outputs> {
        if self.queue.is_empty() {
            self.refill()?;
        }
        let w = self.queue.pop_front().expect("refilled");
        Ok(token_outputs(self.population, w, &self.rewards))
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put("position", &self.reader.position());
        out.put("queue", &self.queue);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        self.reader.seek(from.get("position")?)?;
        self.queue = from.get("queue")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_lowercases_and_keeps_inner_apostrophes() {
        let mut out = Vec::new();
        tokenize("Don't PANIC: it's 42 -- 'quoted'", &mut out);
        assert_eq!(out, ["don't", "panic", "it's", "42", "quoted"]);
    }

    #[test]
    fn wordnet_line_gives_lemmas_then_gloss() {
        // A real line of data.noun (WordNet 3.0), and one of data.adj with a syntactic marker.
        let line = "00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 | a general concept formed by extracting common features from specific examples  ";
        let mut out = Vec::new();
        wordnet_sentence(line, true, &mut out).unwrap();
        assert_eq!(&out[..4], ["abstraction", "abstract", "entity", "a"]);
        assert_eq!(out.last().unwrap(), "examples");
        out.clear();
        let adj = "00001740 00 a 01 able(a) 0 005 = 05207437 n 0000 | (usually followed by `to') having the necessary means";
        wordnet_sentence(adj, true, &mut out).unwrap();
        assert_eq!(&out[..3], ["able", "usually", "followed"]);
        out.clear();
        assert!(
            wordnet_sentence("  1 This software and database is being provided", true, &mut out).is_none()
        );
        wordnet_sentence(line, false, &mut out).unwrap();
        assert_eq!(out[0], "a");
    }

    fn fixture(dir: &Path) -> Source {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "The cat sat.\n\nThe dog sat!\n").unwrap();
        std::fs::write(dir.join("sub/b.txt"), "a cat and a dog\n").unwrap();
        let config = TextConfig {
            paths: vec![dir.to_path_buf()],
            ..Default::default()
        };
        Source::Text {
            files: text_files(&config).unwrap(),
            max_sentences: 0,
            skip_sentences: 0,
            split: Split::default(),
        }
    }

    #[test]
    fn folders_are_read_in_order_and_empty_lines_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let source = fixture(dir.path());
        let mut sentences = Vec::new();
        source.for_each_sentence(|s| sentences.push(s.join(" "))).unwrap();
        assert_eq!(sentences, ["the cat sat", "the dog sat", "a cat and a dog"]);
        let Source::Text { files, .. } = source else {
            unreachable!()
        };
        let read = |max_sentences, skip_sentences, split| {
            let source = Source::Text {
                files: files.clone(),
                max_sentences,
                skip_sentences,
                split,
            };
            let mut sentences = Vec::new();
            source.for_each_sentence(|s| sentences.push(s.join(" "))).unwrap();
            sentences
        };
        assert_eq!(read(1, 1, Split::default()), ["the dog sat"]);
        // Every second sentence held out: the training part and the held-out part.
        let split = |held_out| Split { every: 2, held_out };
        assert_eq!(read(0, 0, split(false)), ["the cat sat", "a cat and a dog"]);
        assert_eq!(read(0, 0, split(true)), ["the dog sat"]);
    }

    #[test]
    fn vocabulary_applies_min_count_and_adds_boundary_and_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let words = count_vocabulary(&fixture(dir.path()), 2, 0).unwrap();
        let names: Vec<&str> = words.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(names, ["a", "cat", "dog", "sat", "the", EOS, UNK]);
        assert_eq!(words.last().unwrap().1, 1, "`and` became <unk>");
        let capped = count_vocabulary(&fixture(dir.path()), 1, 2).unwrap();
        assert_eq!(capped.len(), 4);
    }

    #[test]
    fn stream_ends_sentences_maps_unknowns_and_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let source = fixture(dir.path());
        let vocab = Arc::new(Vocabulary::from_counts(count_vocabulary(&source, 2, 0).unwrap()));
        let mut w = TextWorld::new(source, &[("cat".to_string(), 1.0)].into(), vocab.clone(), 2).unwrap();
        let mut words = Vec::new();
        let mut rewards = 0.0;
        for _ in 0..20 {
            let out = w.step().unwrap();
            let t = out[0].1.to_host();
            assert_eq!(t[[0, 0]], t[[1, 0]], "agents read one stream");
            words.push(vocab.word(t[[0, 0]] as u32).unwrap().to_string());
            rewards += out[1].1.to_host()[[0, 0]];
        }
        assert_eq!(words[..4], ["the", "cat", "sat", EOS]);
        assert_eq!(words[8..14], ["a", "cat", UNK, "a", "dog", EOS]);
        assert_eq!(words[14], "the", "the stream starts over");
        assert_eq!(rewards, 3.0);
    }

    #[test]
    fn wordnet_slice_takes_glosses_from_every_part() {
        let dir = tempfile::tempdir().unwrap();
        for part in ["noun", "verb"] {
            let lines: String = (0..5)
                .map(|i| {
                    format!(
                        "0000000{i} 03 {} 01 {part}{i} 0 000 | gloss of {part} {i}\n",
                        &part[..1]
                    )
                })
                .collect();
            std::fs::write(
                dir.path().join(format!("data.{part}")),
                format!("  license line\n{lines}"),
            )
            .unwrap();
        }
        let config = WordnetConfig {
            dir: dir.path().into(),
            parts: vec!["noun".into(), "verb".into()],
            ..Default::default()
        };
        let files = wordnet_files(&config).unwrap();
        let slice = |max_sentences, skip_sentences| {
            let source = Source::Wordnet {
                files: files.clone(),
                lemmas: true,
                max_sentences,
                skip_sentences,
                split: Split::default(),
            };
            let mut firsts = Vec::new();
            source.for_each_sentence(|s| firsts.push(s[0].clone())).unwrap();
            firsts
        };
        assert_eq!(slice(4, 0), ["noun0", "noun1", "verb0", "verb1"]);
        // The held-out slice after it: the next glosses of every part.
        assert_eq!(slice(4, 4), ["noun2", "noun3", "verb2", "verb3"]);
        assert_eq!(slice(0, 8), ["noun4", "verb4"]);
        let missing = WordnetConfig {
            dir: dir.path().join("nope"),
            ..Default::default()
        };
        let e = wordnet_files(&missing).unwrap_err();
        assert!(e.message.contains("wordnet-base"), "{}", e.message);
    }
}
