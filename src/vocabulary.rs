//! The vocabulary: token ↔ id, with each token's count (for noise distributions and
//! subsampling), shared by every world of a run and every region that reads tokens.

use std::collections::HashMap;

/// The unknown-word token.
pub const UNK: &str = "<unk>";
/// The end-of-sentence token.
pub const EOS: &str = "</s>";

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
