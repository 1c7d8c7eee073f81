//! # corpora — several real corpora mixed into one stream, one vocabulary
//!
//! `sources` lists readers of real text (one file each under [`super::sources`]: WordNet,
//! GCIDE, dictd databases, news, State of the Union addresses, fortunes, plain text), each with a
//! `weight` (passes over it per pass over the mix) and a `fraction` (a share of its sentences,
//! spread evenly: a slice for quick runs). The sources are interleaved sentence by sentence so
//! that every part of the run sees every source: the next sentence comes from the source i with
//! the least `read_i / (weight_i · size_i)` (tokens streamed from it over its tokens per pass;
//! ties to the earlier source), and each source starts over at its own end. The stream is fixed
//! by the configuration alone (no random draws), the same for all agents.
//!
//! The vocabulary comes from one pass over every source, each word's count weighted by its
//! source's `weight`: words counted fewer than `min_count` times become `<unk>`, at most
//! `max_vocab` are kept; each sentence ends with `</s>`.
//!
//! ```toml
//! [world]
//! kind = "corpora"
//! min_count = 5
//! sources = [
//!   { kind = "wordnet" },
//!   { kind = "gcide", weight = 0.5 },
//!   { kind = "dictd", name = "foldoc", fraction = 0.1 },
//!   { kind = "news" }, { kind = "sotu" }, { kind = "fortunes" },
//! ]
//! ```
//!
//! Ports: `token` `[P, 1]` (Token), `reward` `[P, 1]` (Reward; from `rewards`, word → reward).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::sources::{SentenceSource, SourceConfig};
use super::text::{enqueue, keep_vocabulary, token_outputs};
use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::ports::{Outputs, Ports};

/// The sources and vocabulary settings of a `corpora` world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorporaConfig {
    /// The readers, in tie-breaking order.
    pub sources: Vec<SourceConfig>,
    /// Words counted fewer times (weighted) become `<unk>`.
    pub min_count: u64,
    /// Keep at most this many words (most frequent first); 0 for no limit.
    pub max_vocab: usize,
    /// Word → primary reward delivered when it is read.
    pub rewards: BTreeMap<String, f64>,
}

impl Default for CorporaConfig {
    fn default() -> Self {
        CorporaConfig {
            sources: vec![],
            min_count: 5,
            max_vocab: 0,
            rewards: BTreeMap::new(),
        }
    }
}

/// Each word's count in one source.
pub type WordCounts = HashMap<String, u64>;

/// What one pass over a source holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceSize {
    /// Sentences.
    pub sentences: u64,
    /// Tokens, `</s>` included.
    pub tokens: u64,
}

impl CorporaConfig {
    /// One pass over every source: each word's counts (unweighted) and each source's size.
    pub fn count(&self) -> Result<(Vec<WordCounts>, Vec<SourceSize>)> {
        let mut counts = Vec::new();
        let mut sizes = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            let mut reader = source.open(i)?;
            let mut words: HashMap<String, u64> = HashMap::new();
            let mut size = SourceSize::default();
            let mut sentence = Vec::new();
            while reader.next_sentence(&mut sentence)? {
                size.sentences += 1;
                size.tokens += sentence.len() as u64 + 1;
                for w in sentence.drain(..) {
                    *words.entry(w).or_insert(0) += 1;
                }
            }
            if size.sentences == 0 {
                return Err(Error::Run(format!(
                    "sources[{i}] ({}) has no sentences{}",
                    source.label(),
                    if source.fraction < 1.0 {
                        " at this `fraction`"
                    } else {
                        ""
                    }
                )));
            }
            counts.push(words);
            sizes.push(size);
        }
        Ok((counts, sizes))
    }
}

impl WorldParams for CorporaConfig {
    const KIND: &'static str = "corpora";
    const SUMMARY: &'static str =
        "real corpora mixed into one stream (WordNet, GCIDE, dictd, news, SOTU, fortunes, text)";

    fn ports(&self) -> Ports {
        Ports::outputs_only(super::corpus::ports())
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        if self.sources.is_empty() {
            return Err(WorldError::new(
                vec![],
                ErrorKind::MissingField,
                "a corpora world needs `sources = [{ kind = \"wordnet\" }, …]`".into(),
            ));
        }
        for (i, s) in self.sources.iter().enumerate() {
            s.check(i)?;
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        for s in &mut self.sources {
            super::resolve_path(&mut s.path, base);
        }
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        None
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        let (counts, sizes) = self.count()?;
        let mut total: HashMap<String, f64> = HashMap::new();
        for (source, words) in self.sources.iter().zip(counts) {
            for (w, c) in words {
                *total.entry(w).or_insert(0.0) += c as f64 * source.weight;
            }
        }
        let words = total.into_iter().map(|(w, c)| (w, c.round() as u64)).collect();
        let sentences: f64 = self
            .sources
            .iter()
            .zip(&sizes)
            .map(|(s, z)| z.sentences as f64 * s.weight)
            .sum();
        Ok(keep_vocabulary(
            words,
            sentences.round() as u64,
            self.min_count,
            self.max_vocab,
        ))
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(CorporaWorld::new(self, vocabulary, population)?))
    }
}

/// The sources interleaved: the next sentence from the source furthest behind its share.
pub struct Mixer {
    sources: Vec<Box<dyn SentenceSource>>,
    /// weight × tokens per pass, per source.
    shares: Vec<f64>,
    /// Tokens streamed from each source so far.
    read: Vec<u64>,
    /// Sentences read in each source's current pass (where a restored source skips to).
    in_pass: Vec<u64>,
}

impl Mixer {
    /// Opens every source, sized by one pass over each.
    pub fn new(config: &CorporaConfig) -> Result<Self> {
        let (_, sizes) = config.count()?;
        let n = config.sources.len();
        Ok(Mixer {
            sources: config
                .sources
                .iter()
                .enumerate()
                .map(|(i, s)| s.open(i))
                .collect::<Result<_>>()?,
            shares: config
                .sources
                .iter()
                .zip(&sizes)
                .map(|(s, z)| s.weight * z.tokens as f64)
                .collect(),
            read: vec![0; n],
            in_pass: vec![0; n],
        })
    }

    /// Tokens (with `</s>`) in one pass over the mix: Σ weight × size.
    pub fn pass_tokens(&self) -> f64 {
        self.shares.iter().sum()
    }

    /// The source that is furthest behind its share.
    fn next_source(&self) -> usize {
        let mut best = 0;
        for i in 1..self.sources.len() {
            if (self.read[i] as f64) / self.shares[i] < (self.read[best] as f64) / self.shares[best] {
                best = i;
            }
        }
        best
    }

    /// The next sentence of the mix into `out`.
    pub fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<()> {
        let i = self.next_source();
        if !self.sources[i].next_sentence(out)? {
            self.sources[i].rewind()?;
            self.in_pass[i] = 0;
            if !self.sources[i].next_sentence(out)? {
                return Err(Error::Run(format!("sources[{i}] has no sentences")));
            }
        }
        self.in_pass[i] += 1;
        self.read[i] += out.len() as u64 + 1;
        Ok(())
    }

    /// Back to the start of every source.
    pub fn rewind(&mut self) -> Result<()> {
        for s in &mut self.sources {
            s.rewind()?;
        }
        self.read.iter_mut().for_each(|r| *r = 0);
        self.in_pass.iter_mut().for_each(|r| *r = 0);
        Ok(())
    }
}

impl CorporaConfig {
    /// Writes one pass of the mix as the cortex reads it, one sentence a line, tokens joined by
    /// spaces (before `min_count` turns rare words into `<unk>`): the same token stream for a
    /// reference trainer such as gensim (`scripts/gensim_reference.py --sentences`). Returns
    /// the sentences and tokens written.
    pub fn write_stream(&self, out: &mut impl std::io::Write) -> Result<(u64, u64)> {
        let mut mixer = Mixer::new(self)?;
        let total = mixer.pass_tokens();
        let (mut sentences, mut tokens) = (0u64, 0u64);
        let mut sentence = Vec::new();
        while (tokens as f64) < total {
            mixer.next_sentence(&mut sentence)?;
            writeln!(out, "{}", sentence.join(" "))
                .map_err(|e| Error::Run(format!("writing the stream: {e}")))?;
            sentences += 1;
            tokens += sentence.len() as u64 + 1;
        }
        Ok((sentences, tokens))
    }
}

/// The mixed stream for P agents.
pub struct CorporaWorld {
    vocabulary: Arc<Vocabulary>,
    mixer: Mixer,
    queue: VecDeque<u32>,
    rewards: Vec<f32>,
    population: usize,
    sentence: Vec<String>,
}

impl CorporaWorld {
    /// Opens every source (after one pass over each to size it).
    pub fn new(config: &CorporaConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let mut rewards = vec![0.0; vocabulary.len()];
        for (w, v) in &config.rewards {
            if let Some(id) = vocabulary.id(w) {
                rewards[id as usize] = *v as f32;
            }
        }
        Ok(CorporaWorld {
            mixer: Mixer::new(config)?,
            queue: VecDeque::new(),
            rewards,
            population,
            sentence: Vec::new(),
            vocabulary,
        })
    }

    fn refill(&mut self) -> Result<()> {
        self.mixer.next_sentence(&mut self.sentence)?;
        enqueue(&self.vocabulary, &self.sentence, &mut self.queue)
    }
}

impl World for CorporaWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, _seeds: &[u64]) {
        // Rewinding closes the readers; it cannot fail for the shipped sources.
        let _ = self.mixer.rewind();
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
        out.put("read", &self.mixer.read);
        out.put("in_pass", &self.mixer.in_pass);
        out.put("queue", &self.queue);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let read: Vec<u64> = from.get("read")?;
        let in_pass: Vec<u64> = from.get("in_pass")?;
        let m = &mut self.mixer;
        if read.len() != m.sources.len() || in_pass.len() != m.sources.len() {
            return Err(Error::Run(format!(
                "checkpoint: saved for {} sources, the world has {}",
                read.len(),
                m.sources.len()
            )));
        }
        // Compressed sources cannot seek: each is read again up to where it stood.
        for (i, (source, &n)) in m.sources.iter_mut().zip(&in_pass).enumerate() {
            source.rewind()?;
            for _ in 0..n {
                if !source.next_sentence(&mut self.sentence)? {
                    return Err(Error::Run(format!(
                        "checkpoint: sources[{i}] has fewer than the {n} sentences it had read"
                    )));
                }
            }
        }
        (m.read, m.in_pass) = (read, in_pass);
        self.queue = from.get("queue")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worlds::sources::SourceKind;

    fn text(dir: &Path, name: &str, lines: &str, weight: f64) -> SourceConfig {
        let path = dir.join(name);
        std::fs::write(&path, lines).unwrap();
        SourceConfig {
            kind: SourceKind::Text,
            path,
            weight,
            ..Default::default()
        }
    }

    fn words(world: &mut CorporaWorld, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let t = world.step().unwrap()[0].1.to_host()[[0, 0]] as u32;
                world.vocabulary.word(t).unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn sources_interleave_by_weight_and_size_with_one_vocabulary() {
        let dir = tempfile::tempdir().unwrap();
        let config = CorporaConfig {
            sources: vec![
                text(dir.path(), "a.txt", "a a a\na a a\n", 1.0), // 8 tokens a pass
                text(dir.path(), "b.txt", "b\n", 2.0),            // 2 tokens a pass, twice
            ],
            min_count: 1,
            ..Default::default()
        };
        config.check().unwrap();
        let counts = config.word_counts().unwrap();
        assert_eq!(counts[0], ("a".to_string(), 6));
        assert_eq!(counts[1], ("b".to_string(), 2), "weighted by 2");
        let vocab = Arc::new(Vocabulary::from_counts(counts));
        let mut w = CorporaWorld::new(&config, vocab.clone(), 2).unwrap();
        // Shares 8 and 4 (b's 2 tokens twice): a sentence of a (4 tokens) for each b (2).
        let got = words(&mut w, 16);
        assert_eq!(got.join(" "), "a a a </s> b </s> a a a </s> b </s> a a a </s>");
        // A checkpoint taken mid-sentence continues exactly.
        let mut w = CorporaWorld::new(&config, vocab.clone(), 2).unwrap();
        words(&mut w, 5);
        let mut snap = Snapshot::default();
        w.save(&mut snap).unwrap();
        let rest = words(&mut w, 20);
        let mut fresh = CorporaWorld::new(&config, vocab, 2).unwrap();
        fresh.reset(&[1, 2]);
        fresh.restore(&snap).unwrap();
        assert_eq!(words(&mut fresh, 20), rest);
    }

    #[test]
    fn the_written_stream_is_one_pass_of_the_mix_in_stream_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = CorporaConfig {
            sources: vec![
                text(dir.path(), "a.txt", "a a a\na a a\n", 1.0),
                text(dir.path(), "b.txt", "b\n", 2.0),
            ],
            min_count: 1,
            ..Default::default()
        };
        let mut out = Vec::new();
        assert_eq!(config.write_stream(&mut out).unwrap(), (4, 12));
        assert_eq!(String::from_utf8(out).unwrap(), "a a a\nb\na a a\nb\n");
    }

    #[test]
    fn an_empty_list_and_a_bad_source_are_located() {
        let e = CorporaConfig::default().check().unwrap_err();
        assert!(e.message.contains("sources"), "{}", e.message);
        let dir = tempfile::tempdir().unwrap();
        let config = CorporaConfig {
            sources: vec![
                text(dir.path(), "a.txt", "a\n", 1.0),
                SourceConfig {
                    kind: SourceKind::Text,
                    path: dir.path().join("a.txt"),
                    weight: -1.0,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let e = config.check().unwrap_err();
        assert_eq!(e.path, ["sources", "1", "weight"]);
        let empty = CorporaConfig {
            sources: vec![text(dir.path(), "e.txt", "\n\n", 1.0)],
            ..Default::default()
        };
        let e = empty.word_counts().unwrap_err().to_string();
        assert!(e.contains("no sentences"), "{e}");
    }
}
