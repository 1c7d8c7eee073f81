//! # fortunes — fortune cookies, one a sentence
//!
//! The files of Debian's `fortunes` (`/usr/share/games/fortunes`: quotations, jokes, riddles,
//! literature; each file's fortunes separated by lines holding only `%`). Each fortune, its lines
//! joined, is one sentence (attributions `-- Author` included). Files are read in name order,
//! leaving out the `strfile` indexes (`*.dat`) and the `*.u8` links; text that is not UTF-8 is
//! read lossily.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::SentenceSource;
use crate::error::{Error, Result};
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
pub struct Fortunes {
    files: Vec<PathBuf>,
    next_file: usize,
    queue: VecDeque<Vec<String>>,
}

impl Fortunes {
    /// A pass over `files`.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Fortunes {
            files,
            next_file: 0,
            queue: VecDeque::new(),
        }
    }
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

impl SentenceSource for Fortunes {
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        while self.queue.is_empty() {
            let Some(path) = self.files.get(self.next_file) else {
                return Ok(false);
            };
            self.next_file += 1;
            let bytes = std::fs::read(path)
                .map_err(|e| Error::Run(format!("fortune file `{}`: {e}", path.display())))?;
            split(&String::from_utf8_lossy(&bytes), &mut self.queue);
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
        let mut f = Fortunes::new(found);
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
