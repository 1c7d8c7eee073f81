//! # corpus — a token stream from a grammar, with primary rewards attached to tokens
//!
//! The scenario gives a small context-free grammar: `rules` maps a non-terminal to its
//! alternatives, each a space-separated list of symbols; a symbol that names a rule is expanded
//! (uniformly among its alternatives; repeat an alternative to weight it), any other symbol is a
//! word. Every agent reads its own stream of sentences, drawn from its own seed. When a word
//! listed in `rewards` is emitted, that primary reward is delivered on the same step.
//!
//! A word in an alternative may carry its own reward in braces, `snake{-1}`: the token is
//! `snake`, and the reward −1 comes with it only where this alternative emits it — a reward
//! that depends on the context a word appears in (a real snake, not a photograph of one).
//! It adds to any reward `rewards` attaches to the word.
//!
//! Ports: `token` `[P, 1]` (Token), `reward` `[P, 1]` (Reward).

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::rng::SimRng;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result, nearest};
use crate::ports::{Outputs, PortSpec, Ports};
use crate::signal::{Signal, SignalKind};

/// Deepest expansion allowed before a grammar is declared runaway.
const MAX_DEPTH: usize = 64;
/// The most words one sentence may expand to.
const MAX_SENTENCE: usize = 100_000;
/// Sentences sampled per phase grammar to estimate word frequencies.
const FREQUENCY_SAMPLE: usize = 2000;

/// The grammar and rewards of a corpus world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorpusConfig {
    /// The start symbol.
    pub start: String,
    /// Non-terminal → alternatives ("word word NONTERMINAL …").
    pub rules: BTreeMap<String, Vec<String>>,
    /// Word → primary reward delivered when it is emitted.
    pub rewards: BTreeMap<String, f64>,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            start: "S".into(),
            rules: BTreeMap::new(),
            rewards: BTreeMap::new(),
        }
    }
}

impl CorpusConfig {
    /// Every word the grammar can emit, in a stable order.
    pub fn terminals(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for alternatives in self.rules.values() {
            for alt in alternatives {
                for sym in alt.split_whitespace() {
                    let sym = split_reward(sym).0;
                    if !self.rules.contains_key(sym) && !seen.iter().any(|s| s == sym) {
                        seen.push(sym.to_string());
                    }
                }
            }
        }
        seen
    }
}

/// A grammar with words resolved to vocabulary ids.
#[derive(Debug, Clone)]
struct Compiled {
    start: usize,
    /// Per rule, its alternatives as symbols.
    rules: Vec<Vec<Vec<Symbol>>>,
    /// Reward per token id.
    rewards: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
enum Symbol {
    /// A token and the reward its alternative attaches to it (`word{r}`), else 0.
    Word(u32, f32),
    Rule(usize),
}

/// `word{r}` → (`word`, Some(Some(r))); `word{junk}` → (`word`, Some(None)); `word` → (`word`, None).
fn split_reward(sym: &str) -> (&str, Option<Option<f64>>) {
    match sym.split_once('{') {
        Some((word, rest)) => (
            word,
            Some(
                rest.strip_suffix('}')
                    .and_then(|r| r.trim().parse::<f64>().ok())
                    .filter(|&r| super::holds_as_f32(r)),
            ),
        ),
        None => (sym, None),
    }
}

impl Compiled {
    fn new(config: &CorpusConfig, vocab: &Vocabulary) -> Self {
        let names: HashMap<&str, usize> = config
            .rules
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let rules = config
            .rules
            .values()
            .map(|alts| {
                alts.iter()
                    .map(|a| {
                        a.split_whitespace()
                            .map(|s| match names.get(s) {
                                Some(&r) => Symbol::Rule(r),
                                None => {
                                    let (word, reward) = split_reward(s);
                                    Symbol::Word(
                                        vocab.id(word).expect("vocabulary covers every grammar"),
                                        reward.flatten().unwrap_or(0.0) as f32,
                                    )
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut rewards = vec![0.0; vocab.len()];
        for (word, r) in &config.rewards {
            if let Some(id) = vocab.id(word) {
                rewards[id as usize] = *r as f32;
            }
        }
        Compiled {
            start: names[config.start.as_str()],
            rules,
            rewards,
        }
    }

    /// One sentence, appended to `out` as (token, total reward).
    fn sentence(&self, rng: &mut SimRng, out: &mut VecDeque<(u32, f32)>) -> Result<()> {
        let mut stack: Vec<(Symbol, usize)> = vec![(Symbol::Rule(self.start), 0)];
        let mut words = 0usize;
        while let Some((sym, depth)) = stack.pop() {
            match sym {
                Symbol::Word(w, r) => {
                    words += 1;
                    if words > MAX_SENTENCE {
                        return Err(Error::Run(format!(
                            "corpus grammar expanded one sentence to more than {MAX_SENTENCE} \
                             words (a rule that repeats itself more than once per alternative \
                             grows exponentially)"
                        )));
                    }
                    out.push_back((w, self.rewards[w as usize] + r))
                }
                Symbol::Rule(r) => {
                    if depth > MAX_DEPTH {
                        return Err(Error::Run(format!(
                            "corpus grammar expanded deeper than {MAX_DEPTH} levels"
                        )));
                    }
                    let alts = &self.rules[r];
                    let alt = &alts[rng.gen_range(0..alts.len())];
                    stack.extend(alt.iter().rev().map(|&s| (s, depth + 1)));
                }
            }
        }
        Ok(())
    }
}

impl WorldParams for CorpusConfig {
    const KIND: &'static str = "corpus";
    const SUMMARY: &'static str =
        "sentences from a grammar given in the scenario, rewards attached to tokens";

    fn ports(&self) -> Ports {
        Ports::outputs_only(ports())
    }

    /// Checks that the grammar is usable: a start rule, no empty alternatives, every rule able
    /// to finish, rewards only on words the grammar emits and finite.
    fn check(&self) -> Result<(), WorldError> {
        let err = |path: Vec<String>, kind, message: String, help| WorldError {
            path,
            kind,
            message,
            help,
        };
        if !self.rules.contains_key(&self.start) {
            let help = nearest(&self.start, self.rules.keys().map(String::as_str))
                .map(|n| format!("did you mean `{n}`?"));
            return Err(err(
                vec!["start".into()],
                ErrorKind::InvalidValue,
                format!(
                    "start symbol `{}` has no rule; expected one of the keys of `rules`",
                    self.start
                ),
                help,
            ));
        }
        for (name, alternatives) in &self.rules {
            for sym in alternatives.iter().flat_map(|a| a.split_whitespace()) {
                let (word, reward) = split_reward(sym);
                let bad = match reward {
                    Some(Some(r)) => !r.is_finite(),
                    Some(None) => true,
                    None => false,
                };
                if bad || word.is_empty() || (reward.is_some() && self.rules.contains_key(word)) {
                    return Err(err(
                        vec!["rules".into(), name.clone()],
                        ErrorKind::InvalidValue,
                        format!(
                            "`{sym}` in rule `{name}`: expected `word{{reward}}` with a finite number, e.g. `snake{{-1}}`, on a word (not a rule)"
                        ),
                        None,
                    ));
                }
            }
            if alternatives.is_empty() || alternatives.iter().any(|a| a.split_whitespace().next().is_none()) {
                return Err(err(
                    vec!["rules".into(), name.clone()],
                    ErrorKind::InvalidValue,
                    format!("rule `{name}` needs non-empty alternatives"),
                    None,
                ));
            }
        }
        // A rule is productive when some alternative has only words and productive rules.
        let mut productive: Vec<&str> = Vec::new();
        loop {
            let before = productive.len();
            for (name, alternatives) in &self.rules {
                if productive.contains(&name.as_str()) {
                    continue;
                }
                let ok = alternatives.iter().any(|a| {
                    a.split_whitespace()
                        .all(|s| !self.rules.contains_key(s) || productive.contains(&s))
                });
                if ok {
                    productive.push(name);
                }
            }
            if productive.len() == before {
                break;
            }
        }
        if let Some(name) = self.rules.keys().find(|k| !productive.contains(&k.as_str())) {
            return Err(err(
                vec!["rules".into(), name.clone()],
                ErrorKind::InvalidValue,
                format!("rule `{name}` never finishes: every alternative expands into itself"),
                None,
            ));
        }
        let terminals = self.terminals();
        for (word, reward) in &self.rewards {
            if !terminals.contains(word) {
                return Err(err(
                    vec!["rewards".into(), word.clone()],
                    ErrorKind::UnknownConcept,
                    format!("reward on `{word}`, which the grammar never emits"),
                    nearest(word, terminals.iter().map(String::as_str))
                        .map(|n| format!("did you mean `{n}`?")),
                ));
            }
            if !reward.is_finite() {
                return Err(err(
                    vec!["rewards".into(), word.clone()],
                    ErrorKind::InvalidValue,
                    "expected a finite reward".into(),
                    None,
                ));
            }
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(self.terminals())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        Ok(corpus_counts(self))
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(CorpusWorld::new(self, vocabulary, population)))
    }
}

/// The ports of a corpus world.
pub fn ports() -> Vec<PortSpec> {
    vec![
        PortSpec::output("token", SignalKind::Token, 1, "the current word's id"),
        PortSpec::output(
            "reward",
            SignalKind::Reward,
            1,
            "primary reward attached to the word",
        ),
    ]
}

/// Word frequencies of a grammar, estimated by sampling it (plus one, so that no word has zero
/// noise mass), words in a stable order.
pub fn corpus_counts(config: &CorpusConfig) -> Vec<(String, u64)> {
    let words = config.terminals();
    let provisional = Vocabulary::from_counts(words.iter().map(|w| (w.clone(), 1)).collect());
    let mut counts = vec![1u64; words.len()];
    let compiled = Compiled::new(config, &provisional);
    let mut rng = SimRng::seed_from_u64(0);
    let mut buffer = VecDeque::new();
    for _ in 0..FREQUENCY_SAMPLE {
        buffer.clear();
        if compiled.sentence(&mut rng, &mut buffer).is_err() {
            break;
        }
        for &(w, _) in &buffer {
            counts[w as usize] += 1;
        }
    }
    words.into_iter().zip(counts).collect()
}

/// Grammar-generated sentences for P agents.
pub struct CorpusWorld {
    vocabulary: Arc<Vocabulary>,
    grammar: Compiled,
    streams: Vec<(SimRng, VecDeque<(u32, f32)>)>,
}

impl CorpusWorld {
    /// A world for `population` agents over a vocabulary that covers the grammar.
    pub fn new(config: &CorpusConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Self {
        let grammar = Compiled::new(config, &vocabulary);
        let streams = (0..population)
            .map(|i| (SimRng::seed_from_u64(i as u64), VecDeque::new()))
            .collect();
        CorpusWorld {
            vocabulary,
            grammar,
            streams,
        }
    }
}

impl World for CorpusWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        self.streams = seeds
            .iter()
            .map(|&s| (SimRng::seed_from_u64(s), VecDeque::new()))
            .collect();
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.streams.len();
        let mut tokens = Array2::zeros((p, 1));
        let mut rewards = Array2::zeros((p, 1));
        for (i, (rng, queue)) in self.streams.iter_mut().enumerate() {
            while queue.is_empty() {
                self.grammar.sentence(rng, queue)?;
            }
            let (w, r) = queue.pop_front().expect("queue refilled above");
            tokens[[i, 0]] = w as f32;
            rewards[[i, 0]] = r;
        }
        Ok(vec![
            ("token", Signal::Host(tokens)),
            ("reward", Signal::Host(rewards)),
        ])
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put("streams", &self.streams);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        super::restore_agents(from, "streams", &mut self.streams)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grammar(rules: &[(&str, &[&str])], rewards: &[(&str, f64)]) -> CorpusConfig {
        CorpusConfig {
            start: "S".into(),
            rules: rules
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            rewards: rewards.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn emits_sentences_and_attached_rewards() {
        let g = grammar(&[("S", &["the X"]), ("X", &["cake", "stone"])], &[("cake", 1.0)]);
        g.check().unwrap();
        let mut w = CorpusWorld::new(&g, Arc::new(Vocabulary::from_counts(corpus_counts(&g))), 2);
        w.reset(&[1, 2]);
        let vocab = w.vocabulary().clone();
        let mut seen_cake = false;
        for step in 0..40 {
            let out = w.step().unwrap();
            let tokens = out[0].1.to_host();
            let rewards = out[1].1.to_host();
            for agent in 0..2 {
                let word = vocab.word(tokens[[agent, 0]] as u32).unwrap();
                if step % 2 == 0 {
                    assert_eq!(word, "the");
                }
                assert_eq!(rewards[[agent, 0]], if word == "cake" { 1.0 } else { 0.0 });
                seen_cake |= word == "cake";
            }
        }
        assert!(seen_cake);
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let g = grammar(&[("S", &["a", "b", "c", "d"])], &[]);
        let run = |seed| {
            let mut w = CorpusWorld::new(&g, Arc::new(Vocabulary::from_counts(corpus_counts(&g))), 1);
            w.reset(&[seed]);
            (0..50)
                .map(|_| w.step().unwrap()[0].1.to_host()[[0, 0]])
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn an_inline_reward_comes_only_with_its_alternative() {
        // `snake` is punished after `forest`, not after `photo`; the token is the same.
        let g = grammar(&[("S", &["forest snake{-1}", "photo snake"])], &[]);
        g.check().unwrap();
        assert_eq!(g.terminals(), vec!["forest", "snake", "photo"]);
        let mut w = CorpusWorld::new(&g, Arc::new(Vocabulary::from_counts(corpus_counts(&g))), 1);
        w.reset(&[3]);
        let vocab = w.vocabulary().clone();
        let (mut previous, mut seen) = (String::new(), [false; 2]);
        for _ in 0..60 {
            let out = w.step().unwrap();
            let word = vocab.word(out[0].1.to_host()[[0, 0]] as u32).unwrap().to_string();
            let reward = out[1].1.to_host()[[0, 0]];
            let expected = if word == "snake" && previous == "forest" {
                -1.0
            } else {
                0.0
            };
            assert_eq!(reward, expected, "{previous} {word}");
            if word == "snake" {
                seen[usize::from(previous == "photo")] = true;
            }
            previous = word;
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn a_malformed_inline_reward_is_an_error() {
        for bad in ["snake{x}", "snake{-1", "{1}", "S{1}"] {
            let g = grammar(&[("S", &[bad, "a"])], &[]);
            let e = g.check().unwrap_err();
            assert_eq!(
                (e.kind, e.path),
                (ErrorKind::InvalidValue, vec!["rules".into(), "S".into()]),
                "{bad}"
            );
        }
    }

    #[test]
    fn check_finds_missing_start_runaway_rules_and_unknown_reward_words() {
        let e = grammar(&[("T", &["a"])], &[]).check().unwrap_err();
        assert_eq!(e.path, vec!["start"]);
        let e = grammar(&[("S", &["a R"]), ("R", &["R b"])], &[])
            .check()
            .unwrap_err();
        assert_eq!(e.path, vec!["rules", "R"]);
        let e = grammar(&[("S", &["apple"])], &[("aple", 1.0)])
            .check()
            .unwrap_err();
        assert_eq!(
            (e.kind, e.help.as_deref()),
            (ErrorKind::UnknownConcept, Some("did you mean `apple`?"))
        );
    }

    #[test]
    fn frequencies_follow_the_grammar() {
        let g = grammar(&[("S", &["a", "a", "a", "b"])], &[]);
        let v = Vocabulary::from_counts(corpus_counts(&g));
        let (a, b) = (
            v.counts()[v.id("a").unwrap() as usize],
            v.counts()[v.id("b").unwrap() as usize],
        );
        assert!(a > 2 * b, "{a} vs {b}");
    }
}
