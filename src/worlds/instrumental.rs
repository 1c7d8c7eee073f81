//! # instrumental — choices whose outcomes are words (free-operant devaluation, in trials)
//!
//! Each choice trial the agent reads the `cue` word and acts; its action a earns the outcome
//! word `outcomes[a]` on the next tick (its reward, from `rewards`, arrives with it), then
//! `iti` ticks of `rest`:
//!
//! ```text
//! cue  →(a)→  outcomes[a]  →  rest × iti  →  cue …
//! ```
//!
//! With `extinction = true` the outcome is withheld: `rest` comes in its place (with rest's
//! reward, if `rewards` gives it one; none by default) (the test of outcome devaluation is run in extinction, so that it measures what the agent
//! *expects*, not what it is given). With `pairings` set the agent does not choose: each trial
//! is one of those word sequences (drawn uniformly, each agent from its own seed), then the
//! rest — e.g. `[["food", "sick"]]`, the Pavlovian devaluation of an outcome outside the
//! choice (Adams & Dickinson 1981; Colwill & Rescorla 1985). Any word in `rewards` carries its
//! reward wherever it is shown.
//!
//! Ports: input `action` `[P, 1]` (Action, required; read on the cue's tick); outputs `token`
//! `[P, 1]` (Token), `reward` `[P, 1]` (Reward), `share` `[P, 1]` (Value: the share of this
//! phase's choice trials so far on which the agent took action 0, i.e. chose `outcomes[0]`;
//! 0 before the first), `trial` `[P, 1]` (Time: the trials begun in this phase).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::rng::SimRng;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result, nearest};
use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::signal::{Signal, SignalKind};

/// Choice trials (or, with `pairings`, word sequences shown without a choice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstrumentalConfig {
    /// The word on which the agent chooses.
    pub cue: String,
    /// Action a earns the word `outcomes[a]`.
    pub outcomes: Vec<String>,
    /// Word → reward delivered with it.
    pub rewards: BTreeMap<String, f64>,
    /// Withhold the outcomes (`rest` in their place): a test in extinction.
    pub extinction: bool,
    /// Word sequences shown instead of choice trials (no choice while set).
    pub pairings: Vec<Vec<String>>,
    /// The word between trials.
    pub rest: String,
    /// Ticks of `rest` after each trial (≥ 1).
    pub iti: usize,
}

impl Default for InstrumentalConfig {
    fn default() -> Self {
        InstrumentalConfig {
            cue: "lever".into(),
            outcomes: vec!["food".into(), "water".into()],
            rewards: BTreeMap::new(),
            extinction: false,
            pairings: Vec::new(),
            rest: "rest".into(),
            iti: 2,
        }
    }
}

impl InstrumentalConfig {
    /// Every word, each once, in a stable order: cue, rest, outcomes, pairings' words.
    fn words(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        let all = [&self.cue, &self.rest]
            .into_iter()
            .chain(&self.outcomes)
            .chain(self.pairings.iter().flatten());
        for w in all {
            if !words.contains(w) {
                words.push(w.clone());
            }
        }
        words
    }
}

impl WorldParams for InstrumentalConfig {
    const KIND: &'static str = "instrumental";
    const SUMMARY: &'static str =
        "choice trials whose outcomes are words; pairings and extinction for outcome devaluation";

    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![PortSpec::input(
                "action",
                SignalKind::Action,
                Width::Fixed(1),
                "the choice (read on the cue's tick)",
            )],
            outputs: vec![
                PortSpec::output(
                    "token",
                    SignalKind::Token,
                    1,
                    "cue, an outcome, a pairing's word, or rest",
                ),
                PortSpec::output("reward", SignalKind::Reward, 1, "the reward of the word shown"),
                PortSpec::output(
                    "share",
                    SignalKind::Value,
                    1,
                    "share of this phase's choices that took action 0",
                ),
                PortSpec::output("trial", SignalKind::Time, 1, "trials begun in this phase"),
            ],
        }
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        let bad = |key: &str, msg: &str| Err(WorldError::invalid(key, msg));
        for (key, w) in [("cue", &self.cue), ("rest", &self.rest)] {
            if w.is_empty() || w.contains(char::is_whitespace) {
                return bad(key, "expected one word (no spaces)");
            }
        }
        if self.cue == self.rest {
            return bad("rest", "expected a word other than the cue");
        }
        if self.outcomes.len() < 2 || self.outcomes.len() > 256 {
            return bad("outcomes", "expected 2 to 256 words, one per action");
        }
        for (i, o) in self.outcomes.iter().enumerate() {
            if o.is_empty() || o.contains(char::is_whitespace) || *o == self.cue || *o == self.rest {
                return Err(WorldError::new(
                    vec!["outcomes".into(), i.to_string()],
                    ErrorKind::InvalidValue,
                    "expected one word, other than the cue and the rest".into(),
                ));
            }
        }
        if self.iti == 0 || self.iti > 1_000_000 {
            return bad("iti", "expected an integer in [1, 1000000]");
        }
        if self.pairings.len() > 10_000 {
            return bad("pairings", "expected at most 10000 sequences");
        }
        for (i, seq) in self.pairings.iter().enumerate() {
            if seq.is_empty()
                || seq.len() > 1000
                || seq
                    .iter()
                    .any(|w| w.is_empty() || w.contains(char::is_whitespace))
            {
                return Err(WorldError::new(
                    vec!["pairings".into(), i.to_string()],
                    ErrorKind::InvalidValue,
                    "expected 1 to 1000 words, each without spaces".into(),
                ));
            }
        }
        let words = self.words();
        for (word, reward) in &self.rewards {
            if !words.contains(word) {
                return Err(WorldError {
                    path: vec!["rewards".into(), word.clone()],
                    kind: ErrorKind::UnknownConcept,
                    message: format!("reward on `{word}`, which this world never shows"),
                    help: nearest(word, words.iter().map(String::as_str))
                        .map(|n| format!("did you mean `{n}`?")),
                });
            }
            if !super::holds_as_f32(*reward) {
                return Err(WorldError::new(
                    vec!["rewards".into(), word.clone()],
                    ErrorKind::InvalidValue,
                    "expected a finite reward".into(),
                ));
            }
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(self.words())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        // Per trial: the cue (or a pairing), an outcome, `iti` rests.
        Ok(self
            .words()
            .into_iter()
            .map(|w| {
                let n = if w == self.rest { self.iti as u64 } else { 1 };
                (w, n)
            })
            .collect())
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(InstrumentalWorld::new(self, vocabulary, population)?))
    }
}

/// Where an agent stands in its trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Agent {
    rng: SimRng,
    /// A pairing's words still to show (front first), after the current one.
    queue: VecDeque<u32>,
    /// Ticks of `rest` still to show after the trial's words.
    rests: usize,
    /// Whether the token shown last was the cue (its action decides the outcome).
    chose: bool,
    /// The outcome earned, shown on the next tick.
    pending: Option<usize>,
    trials: u64,
    choices: u64,
    first: u64,
}

/// Choice trials for P agents.
pub struct InstrumentalWorld {
    config: InstrumentalConfig,
    vocabulary: Arc<Vocabulary>,
    /// Reward per token id.
    rewards: Vec<f32>,
    cue: u32,
    rest: u32,
    outcomes: Vec<u32>,
    pairings: Vec<Vec<u32>>,
    agents: Vec<Agent>,
}

impl InstrumentalWorld {
    /// A world over a vocabulary that holds its words.
    pub fn new(config: &InstrumentalConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let id = |w: &str| super::word_id(&vocabulary, "instrumental", w);
        let mut world = InstrumentalWorld {
            config: config.clone(),
            rewards: super::reward_table(&vocabulary, "instrumental", &config.rewards)?,
            cue: id(&config.cue)?,
            rest: id(&config.rest)?,
            outcomes: config.outcomes.iter().map(|w| id(w)).collect::<Result<_>>()?,
            pairings: config
                .pairings
                .iter()
                .map(|s| s.iter().map(|w| id(w)).collect::<Result<_>>())
                .collect::<Result<_>>()?,
            vocabulary,
            agents: Vec::new(),
        };
        world.reset(&(0..population as u64).collect::<Vec<_>>());
        Ok(world)
    }

    /// The next token of one agent.
    fn next(&self, a: &mut Agent) -> u32 {
        if let Some(o) = a.pending.take() {
            a.rests = self.config.iti;
            return if self.config.extinction {
                self.rest
            } else {
                self.outcomes[o]
            };
        }
        if let Some(w) = a.queue.pop_front() {
            if a.queue.is_empty() {
                a.rests = self.config.iti;
            }
            return w;
        }
        if a.rests > 0 {
            a.rests -= 1;
            return self.rest;
        }
        a.trials += 1;
        if self.pairings.is_empty() {
            a.chose = true;
            return self.cue;
        }
        let seq = &self.pairings[a.rng.gen_range(0..self.pairings.len())];
        a.queue.extend(seq[1..].iter().copied());
        if a.queue.is_empty() {
            a.rests = self.config.iti;
        }
        seq[0]
    }
}

impl World for InstrumentalWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        self.agents = seeds
            .iter()
            .map(|&s| Agent {
                rng: SimRng::seed_from_u64(s),
                queue: VecDeque::new(),
                rests: 0,
                chose: false,
                pending: None,
                trials: 0,
                choices: 0,
                first: 0,
            })
            .collect();
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.agents.len();
        let mut out = [(); 4].map(|_| Array2::zeros((p, 1)));
        let mut agents = std::mem::take(&mut self.agents);
        for (i, a) in agents.iter_mut().enumerate() {
            let token = self.next(a);
            let [t, r, share, trial] = &mut out;
            t[[i, 0]] = token as f32;
            r[[i, 0]] = self.rewards[token as usize];
            share[[i, 0]] = if a.choices == 0 {
                0.0
            } else {
                a.first as f32 / a.choices as f32
            };
            trial[[i, 0]] = a.trials as f32;
        }
        self.agents = agents;
        let [t, r, share, trial] = out;
        Ok(vec![
            ("token", Signal::Host(t)),
            ("reward", Signal::Host(r)),
            ("share", Signal::Host(share)),
            ("trial", Signal::Host(trial)),
        ])
    }

    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        let actions = inputs
            .get("action")
            .ok_or_else(|| Error::Run("instrumental: no `action` input".into()))?
            .to_host();
        let n = self.outcomes.len();
        for (a, &x) in self.agents.iter_mut().zip(actions.column(0)) {
            if !std::mem::take(&mut a.chose) {
                continue;
            }
            let choice = x as usize;
            if x.is_nan() || x < 0.0 || choice >= n {
                return Err(Error::Run(format!(
                    "instrumental: action {x} of {n} outcomes (the model's `actions` must be {n})"
                )));
            }
            a.pending = Some(choice);
            a.choices += 1;
            a.first += u64::from(choice == 0);
        }
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put("agents", &self.agents);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        super::restore_agents(from, "agents", &mut self.agents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(config: &InstrumentalConfig) -> (InstrumentalWorld, Arc<Vocabulary>) {
        config.check().unwrap();
        let vocab = Arc::new(Vocabulary::from_counts(config.word_counts().unwrap()));
        (InstrumentalWorld::new(config, vocab.clone(), 1).unwrap(), vocab)
    }

    /// Runs `ticks` ticks, acting `choose(tick)`; returns the words and rewards shown.
    fn run(
        w: &mut InstrumentalWorld,
        vocab: &Vocabulary,
        ticks: usize,
        choose: impl Fn(usize) -> f32,
    ) -> Vec<(String, f32)> {
        (0..ticks)
            .map(|t| {
                let out = w.step().unwrap();
                let mut inputs = Inputs::default();
                inputs.insert("action", Signal::Host(Array2::from_elem((1, 1), choose(t))));
                w.act(&inputs).unwrap();
                let word = vocab.word(out[0].1.to_host()[[0, 0]] as u32).unwrap().to_string();
                (word, out[1].1.to_host()[[0, 0]])
            })
            .collect()
    }

    #[test]
    fn an_action_earns_its_outcome_and_its_reward_on_the_next_tick() {
        let config = InstrumentalConfig {
            rewards: [("food".to_string(), 1.0)].into(),
            ..Default::default()
        };
        let (mut w, vocab) = world(&config);
        // Trials are 4 ticks (cue, outcome, rest, rest); choose 0, then 1, alternately.
        let shown = run(&mut w, &vocab, 16, |t| ((t / 4) % 2) as f32);
        let words: Vec<&str> = shown.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(
            words[..8],
            ["lever", "food", "rest", "rest", "lever", "water", "rest", "rest"]
        );
        let rewards: Vec<f32> = shown.iter().map(|x| x.1).collect();
        assert_eq!(rewards[..8], [0., 1., 0., 0., 0., 0., 0., 0.]);
        let share = w.step().unwrap()[2].1.to_host()[[0, 0]];
        assert_eq!(share, 0.5, "two of four choices took action 0");
    }

    #[test]
    fn extinction_withholds_outcomes_and_pairings_replace_choices() {
        let config = InstrumentalConfig {
            rewards: [("food".to_string(), 1.0)].into(),
            extinction: true,
            ..Default::default()
        };
        let (mut w, vocab) = world(&config);
        let shown = run(&mut w, &vocab, 8, |_| 0.0);
        assert!(
            shown
                .iter()
                .all(|(w, r)| (w == "lever" || w == "rest") && *r == 0.0),
            "{shown:?}"
        );
        let config = InstrumentalConfig {
            pairings: vec![vec!["food".into(), "sick".into()]],
            rewards: [("food".to_string(), 1.0), ("sick".to_string(), -1.0)].into(),
            extinction: false,
            ..config
        };
        let (mut w, vocab) = world(&config);
        let shown = run(&mut w, &vocab, 8, |_| 1.0);
        let words: Vec<&str> = shown.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(
            words,
            ["food", "sick", "rest", "rest", "food", "sick", "rest", "rest"]
        );
        assert_eq!(shown[1].1, -1.0);
        assert_eq!(w.step().unwrap()[2].1.to_host()[[0, 0]], 0.0, "no choices");
    }

    #[test]
    fn an_action_beyond_the_outcomes_is_a_located_error() {
        let (mut w, _) = world(&InstrumentalConfig::default());
        w.step().unwrap();
        let mut inputs = Inputs::default();
        inputs.insert("action", Signal::Host(Array2::from_elem((1, 1), 2.0)));
        let e = w.act(&inputs).unwrap_err().to_string();
        assert!(e.contains("action 2 of 2 outcomes"), "{e}");
    }

    #[test]
    fn rewards_on_words_it_never_shows_are_refused_with_a_suggestion() {
        let config = InstrumentalConfig {
            rewards: [("fod".to_string(), 1.0)].into(),
            ..Default::default()
        };
        let e = config.check().unwrap_err();
        assert_eq!(e.path, ["rewards", "fod"]);
        assert_eq!(e.help.as_deref(), Some("did you mean `food`?"));
    }
}
