//! # gcide — GCIDE's entries cleaned of their markup
//!
//! The GNU Collaborative International Dictionary of English (Webster's 1913 with later
//! additions; GPL-2+; Debian `dict-gcide`) is a dictd database (read by [`super::dictd`]). An
//! entry reads
//!
//! ```text
//! Abacist \Ab"a*cist\ ([a^]b"[.a]*s[i^]st), n. [LL abacista, fr. abacus.] (Math.)
//!    One who uses an abacus in casting accounts; a {calculator}. --W. Smith.
//!    [1913 Webster]
//! ```
//!
//! and [`clean`] keeps `Abacist One who uses an abacus in casting accounts; a calculator.`:
//! pronunciations `\…\` and the respelling in parentheses after them, every bracketed group
//! (etymologies, sources, `[R.]`, accent markup; nested), subject tags such as `(Math.)`,
//! `--Author.` citations (to the end of their line), parts of speech on the headword line
//! (`n.`, `v. t.`, `a.`, …), and the braces of cross-references (their words stay).

/// Parts of speech and grammatical labels dropped from an entry's first line.
const LABELS: &[&str] = &[
    "n", "v", "t", "i", "a", "adv", "prep", "conj", "interj", "pl", "p", "pr", "imp", "pron", "adj", "sing",
    "obs", "vb", "superl", "compar",
];

/// One GCIDE entry as plain text.
pub fn clean(entry: &str) -> String {
    let chars: Vec<char> = entry.chars().collect();
    let mut out = String::with_capacity(entry.len());
    let mut i = 0;
    let mut first_line = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                // A pronunciation, and the respelling that follows it in parentheses.
                let close = chars[i + 1..].iter().position(|&d| d == '\\' || d == '\n');
                i = match close {
                    Some(k) if chars[i + 1 + k] == '\\' => i + k + 2,
                    _ => i + 1,
                };
                let mut j = i;
                while j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                if chars.get(j) == Some(&'(') {
                    i = skip_group(&chars, j, '(', ')');
                }
                out.push(' ');
            }
            '[' => {
                i = skip_group(&chars, i, '[', ']');
                out.push(' ');
            }
            '(' => {
                let end = skip_group(&chars, i, '(', ')');
                let inner: String = chars[i + 1..end.saturating_sub(1).max(i + 1)].iter().collect();
                if is_tag(&inner) {
                    out.push(' ');
                } else {
                    out.extend(&chars[i..end]);
                }
                i = end;
            }
            '-' if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|d| !d.is_whitespace()) => {
                // A citation: to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' | '}' => {
                out.push(' ');
                i += 1;
            }
            '\n' => {
                if first_line {
                    out = drop_labels(&out);
                    first_line = false;
                }
                out.push('\n');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if first_line {
        out = drop_labels(&out);
    }
    out
}

/// The index just past the group opened at `chars[start]` (nested; to the end if unclosed).
fn skip_group(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 0usize;
    for (k, &c) in chars.iter().enumerate().skip(start) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return k + 1;
            }
        }
    }
    chars.len()
}

/// `Math.`, `Zool. & Bot.`, `Naut.`: capitalised abbreviations only.
fn is_tag(inner: &str) -> bool {
    let words: Vec<&str> = inner.split_whitespace().filter(|w| *w != "&").collect();
    !words.is_empty()
        && words.len() <= 3
        && words
            .iter()
            .all(|w| w.ends_with('.') && w.chars().next().is_some_and(char::is_uppercase) && w.len() <= 12)
}

/// The headword line without parts of speech (`n.`, `v. t.`, …).
fn drop_labels(line: &str) -> String {
    line.split_whitespace()
        .filter(|w| {
            let bare = w.trim_end_matches([',', ';']);
            !(bare.ends_with('.') && LABELS.contains(&bare.trim_end_matches('.')))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worlds::text::tokenize;

    fn words(entry: &str) -> String {
        let mut out = Vec::new();
        tokenize(&clean(entry), &mut out);
        out.join(" ")
    }

    #[test]
    fn markup_pronunciations_etymologies_tags_and_citations_go() {
        let entry = "Abacist \\Ab\"a*cist\\ ([a^]b\"[.a]*s[i^]st), n. [LL abacista, fr.\n   abacus.] (Math.)\n   One who uses an abacus in casting accounts; a {calculator}. --W. Smith.\n   [1913 Webster]\n";
        assert_eq!(
            words(entry),
            "abacist one who uses an abacus in casting accounts a calculator"
        );
        let verb = "Abacinate \\A*bac\"i*nate\\, v. t. [LL.\n   abacinatus [nested [x]].]\n   To blind (as with a hot plate) by heat.";
        assert_eq!(words(verb), "abacinate to blind as with a hot plate by heat");
        // Unclosed markup never loses the entry's start or panics.
        assert_eq!(words("Odd \\unclosed"), "odd unclosed");
        assert_eq!(words("Open [etymology"), "open");
        assert_eq!(words(""), "");
    }
}
