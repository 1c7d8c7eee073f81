//! # fortunes — fortune cookies, one a sentence
//!
//! The files of Debian's `fortunes` (`/usr/share/games/fortunes`: quotations, jokes, riddles,
//! literature; each file's fortunes separated by lines holding only `%`). Each fortune, its lines
//! joined, is one sentence (attributions `-- Author` included). Files are read in name order,
//! leaving out the `strfile` indexes (`*.dat`) and the `*.u8` links; text that is not UTF-8 is
//! read lossily.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::Files;
use crate::worlds::text::tokenize;

/// The fortune files in `dir`, in name order.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_none_or(|e| e != "dat" && e != "u8")
                && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
        })
        .collect();
    files.sort();
    files
}

/// Fortunes from a list of files.
pub fn source(files: Vec<PathBuf>) -> Files {
    Files::new(files, "fortune file", split)
}

/// The fortunes of one file's text, tokenised.
pub fn split(text: &str, out: &mut VecDeque<Vec<String>>) {
    let mut tokens = Vec::new();
    for line in text.lines() {
        if line.trim_end() == "%" {
            if !tokens.is_empty() {
                out.push_back(std::mem::take(&mut tokens));
            }
        } else {
            tokenize(line, &mut tokens);
        }
    }
    if !tokens.is_empty() {
        out.push_back(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worlds::sources::SentenceSource;

    #[test]
    fn fortunes_split_on_percent_lines_and_indexes_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("wisdom"),
            "Look before\nyou leap.\n\t\t-- Proverb\n%\n%\nHaste makes waste.\n%\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("wisdom.dat"), [0u8, 1, 2]).unwrap();
        std::fs::write(dir.path().join("art"), "Art is long.").unwrap();
        let found = files(dir.path());
        assert_eq!(found.len(), 2, "{found:?}");
        let mut f = source(found);
        let mut all = Vec::new();
        let mut s = Vec::new();
        while f.next_sentence(&mut s).unwrap() {
            all.push(s.join(" "));
        }
        assert_eq!(
            all,
            ["art is long", "look before you leap proverb", "haste makes waste"]
        );
        f.rewind().unwrap();
        assert!(f.next_sentence(&mut s).unwrap());
        assert_eq!(s.join(" "), "art is long");
    }
}
