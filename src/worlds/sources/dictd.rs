//! # dictd — the entries of a dictd database, one a sentence
//!
//! A dictd database is `NAME.index` (`headword<TAB>offset<TAB>length`, numbers in dictd's
//! base 64, `A–Z a–z 0–9 + /`, most significant digit first) and `NAME.dict.dz` (the entries,
//! concatenated, in dictzip's gzip-compatible format). The reader takes the distinct
//! (offset, length) pairs of the index in file order, leaving out the database's own
//! `00-database-*` entries (under whatever other headwords point at them too), and streams the decompressed file once per pass: each entry is one
//! sentence, headword line first (it ties the word to its definition, as WordNet's lemmas do).
//! Markup is cleaned by a function per database: [`clean`] (FOLDOC, Jargon, Devil: `{links}` kept
//! as words, `<topic>` tags dropped), `gcide::clean` for GCIDE.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::SentenceSource;
use crate::error::{Error, Result};
use crate::worlds::text::tokenize;

/// `NAME.index` and `NAME.dict.dz` (or `NAME.dict`) in `dir`, when both exist.
pub fn files(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf)> {
    let index = dir.join(format!("{name}.index"));
    let dict = [format!("{name}.dict.dz"), format!("{name}.dict")]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())?;
    index.is_file().then_some((index, dict))
}

/// A number in dictd's base 64.
pub fn decode(digits: &str) -> Option<u64> {
    let mut n: u64 = 0;
    for c in digits.bytes() {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        n = n.checked_mul(64)?.checked_add(u64::from(d))?;
    }
    (!digits.is_empty()).then_some(n)
}

/// Generic dictd markup: `<topic>` tags dropped, `{links}` kept as their words.
pub fn clean(entry: &str) -> String {
    let mut out = String::with_capacity(entry.len());
    let mut in_tag = false;
    for c in entry.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            '{' | '}' => out.push(' '),
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The entries of one dictd database.
pub struct Dictd {
    dict: PathBuf,
    /// Distinct (offset, length) of the entries, in file order.
    entries: Vec<(u64, u64)>,
    next: usize,
    reader: Option<Box<dyn Read + Send>>,
    /// Bytes of the decompressed file consumed so far.
    position: u64,
    clean: fn(&str) -> String,
    buffer: Vec<u8>,
}

impl Dictd {
    /// Reads the index; the dictionary is opened at the first sentence.
    pub fn new(index: &Path, dict: &Path, clean: fn(&str) -> String) -> Result<Self> {
        let bad = |e: String| Error::Run(format!("dictd index `{}`: {e}", index.display()));
        let file = File::open(index).map_err(|e| bad(e.to_string()))?;
        let mut entries = Vec::new();
        let mut info = Vec::new();
        for (n, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line.map_err(|e| bad(e.to_string()))?;
            let line = String::from_utf8_lossy(&line);
            let mut fields = line.trim_end_matches('\r').rsplitn(3, '\t');
            let (Some(length), Some(offset), Some(word)) = (fields.next(), fields.next(), fields.next())
            else {
                if line.trim().is_empty() {
                    continue;
                }
                return Err(bad(format!(
                    "line {}: expected `headword<TAB>offset<TAB>length`, found `{line}`",
                    n + 1
                )));
            };
            match (decode(offset), decode(length)) {
                (Some(o), Some(_)) if word.starts_with("00-database") || word.starts_with("00database") => {
                    info.push(o);
                }
                (Some(o), Some(l)) => entries.push((o, l)),
                _ => {
                    return Err(bad(format!(
                        "line {}: `{offset}`/`{length}` are not dictd base-64 numbers",
                        n + 1
                    )));
                }
            }
        }
        // The database's own entries, under any other headword too (GCIDE's `00-gcide-url`).
        entries.retain(|(o, _)| !info.contains(o));
        entries.sort_unstable();
        entries.dedup();
        Ok(Dictd {
            dict: dict.to_path_buf(),
            entries,
            next: 0,
            reader: None,
            position: 0,
            clean,
            buffer: Vec::new(),
        })
    }

    fn open(&self) -> Result<Box<dyn Read + Send>> {
        let file = File::open(&self.dict)
            .map_err(|e| Error::Run(format!("dictd file `{}`: {e}", self.dict.display())))?;
        let file = BufReader::with_capacity(1 << 16, file);
        let gz = self.dict.extension().is_some_and(|e| e == "dz" || e == "gz");
        Ok(if gz {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        })
    }
}

impl SentenceSource for Dictd {
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        out.clear();
        while out.is_empty() {
            let Some(&(offset, length)) = self.entries.get(self.next) else {
                return Ok(false);
            };
            self.next += 1;
            if offset < self.position {
                continue; // inside an entry already read
            }
            if self.reader.is_none() {
                self.reader = Some(self.open()?);
            }
            let reader = self.reader.as_mut().expect("opened above");
            let what = |e: std::io::Error| {
                Error::Run(format!(
                    "dictd file `{}` at byte {offset}: {e} (index and dictionary disagree?)",
                    self.dict.display()
                ))
            };
            std::io::copy(&mut reader.take(offset - self.position), &mut std::io::sink()).map_err(what)?;
            self.buffer.clear();
            let got = reader.take(length).read_to_end(&mut self.buffer).map_err(what)?;
            self.position = offset + got as u64;
            if (got as u64) < length {
                // The file ended early: no later entry can be read either.
                self.next = self.entries.len();
            }
            tokenize(&(self.clean)(&String::from_utf8_lossy(&self.buffer)), out);
        }
        Ok(true)
    }

    fn rewind(&mut self) -> Result<()> {
        self.next = 0;
        self.reader = None;
        self.position = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn encode(mut n: u64) -> String {
        const DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = Vec::new();
        loop {
            s.push(DIGITS[(n % 64) as usize]);
            n /= 64;
            if n == 0 {
                break;
            }
        }
        s.reverse();
        String::from_utf8(s).unwrap()
    }

    /// A gzipped dictd database of `entries` (headword, text), with a database-info entry and
    /// a second headword pointing at the first entry.
    pub(crate) fn fixture(dir: &Path, name: &str, entries: &[(&str, &str)]) -> (PathBuf, PathBuf) {
        let mut dict = String::from("00-database-short\n   A test dictionary\n");
        let mut index = format!("00-database-short\tA\t{}\n", encode(dict.len() as u64));
        let mut first = None;
        for (word, text) in entries {
            let offset = dict.len() as u64;
            dict.push_str(text);
            let length = dict.len() as u64 - offset;
            first.get_or_insert((offset, length));
            index.push_str(&format!("{word}\t{}\t{}\n", encode(offset), encode(length)));
        }
        let (o, l) = first.unwrap();
        index.push_str(&format!("alias\t{}\t{}\n", encode(o), encode(l)));
        index.push_str(&format!("00-{name}-short\tA\t{}\n", encode(l)));
        let index_path = dir.join(format!("{name}.index"));
        std::fs::write(&index_path, index).unwrap();
        let dict_path = dir.join(format!("{name}.dict.dz"));
        let mut gz =
            flate2::write::GzEncoder::new(File::create(&dict_path).unwrap(), flate2::Compression::fast());
        gz.write_all(dict.as_bytes()).unwrap();
        gz.finish().unwrap();
        (index_path, dict_path)
    }

    #[test]
    fn base64_numbers_decode_as_dictd_writes_them() {
        assert_eq!(decode("A"), Some(0));
        assert_eq!(decode("BA"), Some(64));
        assert_eq!(decode("5I"), Some(57 * 64 + 8));
        assert_eq!(decode(&encode(39_952_321)), Some(39_952_321));
        assert_eq!(decode("a-b"), None);
        assert_eq!(decode(""), None);
    }

    #[test]
    fn entries_stream_once_each_in_file_order_and_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let (index, dict) = fixture(
            dir.path(),
            "foldoc",
            &[
                ("Ada", "Ada\n\n   <language> A {programming language}.\n\n"),
                ("Babel", "Babel\n\n   A tower.\n\n"),
            ],
        );
        let mut d = Dictd::new(&index, &dict, clean).unwrap();
        let mut read = || {
            let mut all = Vec::new();
            let mut s = Vec::new();
            while d.next_sentence(&mut s).unwrap() {
                all.push(s.join(" "));
            }
            d.rewind().unwrap();
            all
        };
        let first = read();
        assert_eq!(first, ["ada a programming language", "babel a tower"]);
        assert_eq!(read(), first, "a second pass reads the same");
        let bad = dir.path().join("bad.index");
        std::fs::write(&bad, "word\tA\n").unwrap();
        let e = Dictd::new(&bad, &dict, clean).err().unwrap().to_string();
        assert!(
            e.contains("line 1") && e.contains("headword<TAB>offset<TAB>length"),
            "{e}"
        );
    }
}
