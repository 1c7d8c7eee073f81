//! # society — agents whose words are other agents' input
//!
//! The population is a society of `groups` communities of consecutive agents (agent i belongs
//! to group ⌊i·k/P⌋); the first agent of each group is its **speaker**, the others are
//! **listeners**. Every agent reads its own stream from the grammar `rules` (as in `corpus`).
//! Time runs in windows of `window` ticks; at each window's start every listener draws whom it
//! hears until the next, by the `network`:
//!
//! | `network` | whom agent i hears, per window |
//! |---|---|
//! | `communities` (default) | (listeners only) its group's speaker with probability `contact`, the speaker of another group (uniformly) with probability `between` |
//! | `all` | any other agent, uniformly, with probability `contact` |
//! | `pairs` | its partner (agents 2j and 2j + 1) with probability `contact` |
//! | `ring` | i − 1 or i + 1 (around the ring), with probability `contact` |
//! | `random` | one of `degree` agents drawn once from `graph_seed` (the same graph in every phase), with probability `contact` |
//!
//! else its own stream. An agent that hears another receives the other's token of each tick:
//! what that agent *says* (its own stream, with its evaluations), not what it hears. Each phase
//! builds its world anew, so a phase's `[phases.world]` can change the network and its rates
//! (contact between communities that opens in a later phase).
//!
//! **Evaluative speech** (`[world.speech]`): when a speaker's own stream gives it the `topic`,
//! the word after it is replaced by an evaluation, `positive` or `negative`, drawn from the
//! speaker's *own* learnt valence of the topic:
//!
//! ```text
//! v       = the speaker's `valence` input on the tick it read the topic
//!           (wire `vta.value`: V(z_t), its reward model's value of the latent of the topic)
//! P(pos)  = σ(2 v / τ)        (a softmax over {positive: v/τ, negative: −v/τ}; τ = `temperature`)
//! ```
//!
//! so what a speaker has learnt is what its listeners hear. `speakers = "all"` makes every
//! agent evaluate (in a network of peers); the default, `"first"`, only each group's speaker
//! (the `speaker` role of stakes is always the group's first agent). With `speak = false` (a phase of
//! upbringing, say) speakers read their streams like everyone else. Rewards: `rewards` (word →
//! reward) for every agent on the word it receives, and `[[world.stakes]]` for some agents only
//! — a group's (`group = g`, else every group's) `speaker`, `listeners` or `all` (`role`) —
//! so that agents have stakes of their own (a pain–comfort axis that differs between them); a
//! reward written into the grammar (`word{r}`) comes only with an agent's own stream.
//!
//! **Polarisation** (in `summary.json` and the figure `polarisation`, from the probe named
//! `valence`): for a concept, the spread of the groups' mean valences over the spread within
//! them,
//!
//! ```text
//! polarisation = sd_g(mean valence in g) / √(mean_g var(valence in g))
//! ```
//!
//! (population spreads, every group counted alike: for two groups, |m₀ − m₁| / 2 over the
//! root-mean-square of the two within-group sds), at the probe's last reading (none if that
//! reading has no spread within the groups).
//! **Agreement** (`agreement` in `summary.json`): the mean, over pairs of agents, of the
//! Pearson correlation of their valences across the probe's concepts (pairs with no spread
//! left out) — 1 when every agent orders the concepts alike.
//!
//! Ports: input `valence` `[P, 1]` (Value; required with `speech`, else unused); outputs `token` `[P, 1]`
//! (Token), `reward` `[P, 1]` (Reward), `source` `[P, 1]` (Value: the agent whose words this
//! agent receives this tick, itself when alone), `speaker` `[P, 1]` (Value: 1 for speakers),
//! `group` `[P, 1]` (Value).

use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::corpus::{CorpusConfig, CorpusWorld};
use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result, nearest};
use crate::metrics::{Chart, Curve, Row, SummaryEntry};
use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::rng::SimRng;
use crate::signal::{Signal, SignalKind};

/// A society of speakers and listeners reading one grammar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocietyConfig {
    /// The grammar's start symbol.
    pub start: String,
    /// The grammar: non-terminal → alternatives (as in `corpus`).
    pub rules: BTreeMap<String, Vec<String>>,
    /// Word → reward for every agent, on the word it receives.
    pub rewards: BTreeMap<String, f64>,
    /// Rewards that only some agents receive.
    pub stakes: Vec<Stake>,
    /// k, the number of groups (each with one speaker, its first agent).
    pub groups: usize,
    /// Per window, the probability that a listener hears its own group's speaker.
    pub contact: f64,
    /// Per window, the probability that it hears another group's speaker instead.
    pub between: f64,
    /// Ticks a listener keeps to what it drew.
    pub window: usize,
    /// Evaluative speech, if any.
    pub speech: Option<Speech>,
    /// Whether speakers evaluate the topic now (`speech` set); false: they only read.
    pub speak: bool,
    /// Who hears whom: `communities` (each group's listeners hear its speaker), or `all`,
    /// `pairs`, `ring`, `random` (every agent hears one of its neighbours).
    pub network: Network,
    /// The number of agents each agent hears from in a `random` network.
    pub degree: usize,
    /// The seed of a `random` network's graph (the same graph in every phase).
    pub graph_seed: u64,
    /// Who evaluates the topic: each group's `first` agent (its speaker), or `all` agents.
    pub speakers: Speakers,
}

/// Who hears whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// A group's listeners hear its speaker (`contact`) or another group's (`between`).
    #[default]
    Communities,
    /// Every agent may hear any other.
    All,
    /// Agents 2j and 2j + 1 hear each other.
    Pairs,
    /// Agent i hears i − 1 or i + 1 (around the ring).
    Ring,
    /// Agent i hears one of `degree` agents drawn once, from `graph_seed`.
    Random,
}

/// Who evaluates the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speakers {
    /// Each group's first agent.
    #[default]
    First,
    /// Every agent.
    All,
}

/// Rewards for some agents only: a group's (or every group's) speakers, listeners or all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stake {
    /// The group (every group when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<usize>,
    /// Which of its agents.
    #[serde(default)]
    pub role: Role,
    /// Word → reward.
    pub rewards: BTreeMap<String, f64>,
}

/// Which agents of a group a stake is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Every agent.
    #[default]
    All,
    /// The group's speaker.
    Speaker,
    /// Every agent but the speaker.
    Listeners,
}

/// What a speaker says after the topic: an evaluation drawn from its own valence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Speech {
    /// The word spoken about.
    pub topic: String,
    /// The word said of a topic valued positively.
    pub positive: String,
    /// The word said of a topic valued negatively.
    pub negative: String,
    /// τ > 0: how sharply the evaluation follows the valence.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
}

fn default_temperature() -> f64 {
    0.1
}

impl Default for SocietyConfig {
    fn default() -> Self {
        SocietyConfig {
            start: "S".into(),
            rules: BTreeMap::new(),
            rewards: BTreeMap::new(),
            stakes: Vec::new(),
            groups: 1,
            contact: 0.0,
            between: 0.0,
            window: 8,
            speech: None,
            speak: true,
            network: Network::Communities,
            degree: 4,
            graph_seed: 0,
            speakers: Speakers::First,
        }
    }
}

impl SocietyConfig {
    /// The grammar alone, as a corpus (rewards are the society's to give).
    fn corpus(&self) -> CorpusConfig {
        CorpusConfig {
            start: self.start.clone(),
            rules: self.rules.clone(),
            rewards: BTreeMap::new(),
        }
    }

    /// Every word: the grammar's, then the evaluations.
    fn words(&self) -> Vec<String> {
        let mut words = self.corpus().terminals();
        if let Some(s) = &self.speech {
            for w in [&s.positive, &s.negative] {
                if !words.contains(w) {
                    words.push(w.clone());
                }
            }
        }
        words
    }
}

impl WorldParams for SocietyConfig {
    const KIND: &'static str = "society";
    const SUMMARY: &'static str =
        "groups of agents, each with a speaker whose words (and evaluations) its listeners hear";

    fn ports(&self) -> Ports {
        // Needed only by speakers that evaluate; without `speech` it is read by no one.
        let valence = "the value of the latent just read (vta.value): a speaker's own valence";
        let inputs = vec![match self.speech {
            Some(_) => PortSpec::input("valence", SignalKind::Value, Width::Fixed(1), valence),
            None => PortSpec::optional("valence", SignalKind::Value, Width::Fixed(1), valence),
        }];
        Ports {
            inputs,
            outputs: vec![
                PortSpec::output("token", SignalKind::Token, 1, "the word this agent receives"),
                PortSpec::output("reward", SignalKind::Reward, 1, "its reward for this agent"),
                PortSpec::output("source", SignalKind::Value, 1, "whose words it receives"),
                PortSpec::output("speaker", SignalKind::Value, 1, "1 for a group's speaker"),
                PortSpec::output("group", SignalKind::Value, 1, "the agent's group"),
            ],
        }
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        self.corpus().check()?;
        let bad = |key: &str, msg: &str| Err(WorldError::invalid(key, msg));
        if self.groups == 0 || self.groups > 1 << 16 {
            return bad("groups", "expected an integer in [1, 65536]");
        }
        for (key, p) in [("contact", self.contact), ("between", self.between)] {
            if !(0.0..=1.0).contains(&p) {
                return bad(key, "expected a probability in [0, 1]");
            }
        }
        if self.contact + self.between > 1.0 {
            return bad("between", "expected contact + between ≤ 1");
        }
        if self.between > 0.0 && self.network != Network::Communities {
            return bad(
                "between",
                "expected 0 outside `communities` (every other network is heard at `contact`)",
            );
        }
        if self.degree == 0 || self.degree > 1 << 16 {
            return bad("degree", "expected an integer in [1, 65536]");
        }
        if self.between > 0.0 && self.groups < 2 {
            return bad(
                "between",
                "expected 0 with one group (there is no other group to hear)",
            );
        }
        if self.window == 0 || self.window > 1_000_000 {
            return bad("window", "expected an integer in [1, 1000000]");
        }
        let words = self.words();
        let unknown = |key: Vec<String>, word: &str, what: &str| WorldError {
            path: key,
            kind: ErrorKind::UnknownConcept,
            message: format!("{what} `{word}`, which this world never shows"),
            help: nearest(word, words.iter().map(String::as_str)).map(|n| format!("did you mean `{n}`?")),
        };
        let mut tables: Vec<(Vec<String>, &BTreeMap<String, f64>)> =
            vec![(vec!["rewards".into()], &self.rewards)];
        for (i, stake) in self.stakes.iter().enumerate() {
            let at = vec!["stakes".into(), i.to_string()];
            if let Some(g) = stake.group.filter(|&g| g >= self.groups) {
                return Err(WorldError::new(
                    [at, vec!["group".into()]].concat(),
                    ErrorKind::InvalidValue,
                    format!("group {g} of {} (groups are numbered from 0)", self.groups),
                ));
            }
            tables.push(([at, vec!["rewards".into()]].concat(), &stake.rewards));
        }
        for (at, map) in tables {
            for (word, reward) in map {
                let key = [at.clone(), vec![word.clone()]].concat();
                if !words.contains(word) {
                    return Err(unknown(key, word, "reward on"));
                }
                if !super::holds_as_f32(*reward) {
                    return Err(WorldError::new(
                        key,
                        ErrorKind::InvalidValue,
                        "expected a finite reward".into(),
                    ));
                }
            }
        }
        if let Some(s) = &self.speech {
            let terminals = self.corpus().terminals();
            if !terminals.contains(&s.topic) {
                let mut e = unknown(vec!["speech".into(), "topic".into()], &s.topic, "topic");
                e.help = nearest(&s.topic, terminals.iter().map(String::as_str))
                    .map(|n| format!("did you mean `{n}`?"));
                return Err(e);
            }
            for (key, w) in [("positive", &s.positive), ("negative", &s.negative)] {
                if w.is_empty() || w.contains(char::is_whitespace) || *w == s.topic {
                    return Err(WorldError::new(
                        vec!["speech".into(), key.into()],
                        ErrorKind::InvalidValue,
                        "expected one word (no spaces), other than the topic".into(),
                    ));
                }
            }
            if s.positive == s.negative {
                return Err(WorldError::new(
                    vec!["speech".into(), "negative".into()],
                    ErrorKind::InvalidValue,
                    "expected a word other than `positive`".into(),
                ));
            }
            if !(s.temperature.is_finite() && s.temperature > 0.0) {
                return Err(WorldError::new(
                    vec!["speech".into(), "temperature".into()],
                    ErrorKind::InvalidValue,
                    "expected a number > 0".into(),
                ));
            }
        }
        Ok(())
    }

    fn check_population(&self, population: usize) -> std::result::Result<(), WorldError> {
        let bad =
            |key: &str, msg: String| Err(WorldError::new(vec![key.into()], ErrorKind::InvalidValue, msg));
        let p = population;
        if self.groups > p {
            return bad(
                "groups",
                format!(
                    "{} groups need at least {} agents, the population is {p}",
                    self.groups, self.groups
                ),
            );
        }
        match self.network {
            Network::Pairs if !p.is_multiple_of(2) => {
                bad("network", format!("`pairs` needs an even population (it is {p})"))
            }
            Network::Ring if p < 3 => bad(
                "network",
                format!("a `ring` needs at least 3 agents (the population is {p})"),
            ),
            Network::All if p < 2 => bad("network", "`all` needs at least 2 agents".into()),
            Network::Random if self.degree >= p => bad(
                "degree",
                format!(
                    "a `random` network of degree {} needs more than {} agents (the population is {p})",
                    self.degree, self.degree
                ),
            ),
            _ => Ok(()),
        }
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(self.words())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut counts = super::corpus::corpus_counts(&self.corpus());
        if let Some(s) = &self.speech {
            // An evaluation takes the place of the word after each topic.
            let topic = counts.iter().find(|(w, _)| *w == s.topic).map_or(1, |(_, c)| *c);
            for w in [&s.positive, &s.negative] {
                match counts.iter_mut().find(|(x, _)| x == w) {
                    Some((_, c)) => *c += topic.div_ceil(2),
                    None => counts.push((w.clone(), topic.div_ceil(2).max(1))),
                }
            }
        }
        Ok(counts)
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(SocietyWorld::new(self, vocabulary, population)?))
    }

    /// `polarisation/<concept>`: the polarisation of each concept of the `valence` probe at its
    /// last reading, and `agreement` at the last reading of all of them (one number each:
    /// median = p10 = p90).
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        let mut out = BTreeMap::new();
        let population = super::agents_in(rows);
        let entry = |phase: &str, step, value| SummaryEntry {
            agents: population,
            ..SummaryEntry::of(phase, step, vec![value])
        };
        if let Some((step, phase, a)) = last_agreement(rows) {
            out.insert("agreement".into(), entry(phase, step, a));
        }
        let last = rows.iter().filter(|r| r.probe == "valence").map(|r| r.step).max();
        for (key, curve) in polarisation_curves(rows, self.groups) {
            if let Some((&step, &(value, phase))) =
                curve.iter().next_back().filter(|(s, _)| Some(**s) == last)
            {
                out.insert(format!("polarisation/{key}"), entry(phase, step, value));
            }
        }
        out
    }

    /// `polarisation`: each concept's polarisation over the run.
    fn figures(&self, rows: &[Row]) -> Vec<Chart> {
        let curves: BTreeMap<String, Curve> = polarisation_curves(rows, self.groups)
            .into_iter()
            .map(|(key, c)| (key, c.into_iter().map(|(t, (v, _))| (t, (v, v, v))).collect()))
            .collect();
        if curves.is_empty() || self.groups < 2 {
            return Vec::new();
        }
        vec![Chart::Curves {
            stem: "polarisation".into(),
            title: "do the groups' valences part? (between-group over within-group spread)".into(),
            x_label: crate::plot::STEP_AXIS.into(),
            y_label: "polarisation".into(),
            curves,
        }]
    }
}

/// Agent i's group: groups of consecutive agents, ⌊i·k/P⌋ (every group non-empty for P ≥ k).
fn group_of(agent: usize, groups: usize, population: usize) -> usize {
    agent * groups / population
}

/// The polarisation of a set of per-agent readings, agent i in group ⌊i·k/P⌋: the spread of the
/// groups' means over the root-mean-square spread within them (population spreads); `None`
/// with fewer than two groups or no spread within them.
pub fn polarisation(values: &BTreeMap<usize, f32>, groups: usize, population: usize) -> Option<f32> {
    if groups < 2 || population < groups {
        return None;
    }
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); groups];
    for (&agent, &v) in values {
        members[group_of(agent, groups, population)].push(f64::from(v));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
    };
    if members.iter().any(Vec::is_empty) {
        return None;
    }
    let means: Vec<f64> = members.iter().map(|g| mean(g)).collect();
    let within = members.iter().map(|g| var(g)).sum::<f64>() / groups as f64;
    (within > 0.0).then(|| (var(&means).sqrt() / within.sqrt()) as f32)
}

/// The mean over pairs of agents of the correlation of their valences across concepts
/// (`values[c][agent]`); pairs where either agent's valences are all equal are left out.
pub fn agreement(values: &[Vec<f32>]) -> Option<f32> {
    let p = values.first()?.len();
    if values.len() < 2 || values.iter().any(|c| c.len() != p) {
        return None;
    }
    // Each agent's valences across concepts; one whose valences are all equal orders nothing.
    let agents: Vec<Vec<f64>> = (0..p)
        .map(|a| values.iter().map(|c| f64::from(c[a])).collect::<Vec<f64>>())
        .filter(|v| v.iter().any(|&x| x != v[0]))
        .collect();
    let (mut sum, mut pairs) = (0.0, 0usize);
    for (i, x) in agents.iter().enumerate() {
        for y in &agents[i + 1..] {
            sum += crate::analysis::pearson(x, y);
            pairs += 1;
        }
    }
    (pairs > 0).then(|| (sum / pairs as f64) as f32)
}

/// Agreement at the last step at which the `valence` probe read every agent, with that step
/// and its phase.
fn last_agreement(rows: &[Row]) -> Option<(u64, &str, f32)> {
    let step = rows
        .iter()
        .filter(|r| r.probe == "valence")
        .map(|r| r.step)
        .max()?;
    let population = super::agents_in(rows);
    let mut by_key: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    let mut phase = "";
    for r in rows.iter().filter(|r| r.probe == "valence" && r.step == step) {
        by_key.entry(&r.key).or_insert_with(|| vec![f32::NAN; population])[r.agent] = r.value;
        phase = &r.phase;
    }
    let values: Vec<Vec<f32>> = by_key
        .into_values()
        .filter(|v| v.iter().all(|x| x.is_finite()))
        .collect();
    agreement(&values).map(|a| (step, phase, a))
}

/// A concept's readings at one step: the phase, and each agent's value.
type Reading<'a> = (&'a str, BTreeMap<usize, f32>);

/// Per concept of the `valence` probe, its polarisation at each step it was read (and the phase).
fn polarisation_curves(rows: &[Row], groups: usize) -> BTreeMap<String, BTreeMap<u64, (f32, &str)>> {
    let population = super::agents_in(rows);
    let mut readings: BTreeMap<(&str, u64), Reading<'_>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.probe == "valence") {
        readings
            .entry((&r.key, r.step))
            .or_insert_with(|| (&r.phase, BTreeMap::new()))
            .1
            .insert(r.agent, r.value);
    }
    let mut out: BTreeMap<String, BTreeMap<u64, (f32, &str)>> = BTreeMap::new();
    for ((key, step), (phase, values)) in readings {
        if let Some(p) = polarisation(&values, groups, population) {
            out.entry(key.to_string()).or_default().insert(step, (p, phase));
        }
    }
    out
}

/// A random directed graph: each agent hears from `degree` others, drawn without replacement
/// from a generator seeded by `seed` (so every phase, and every run, has the same graph).
fn random_graph(population: usize, degree: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = SimRng::seed_from_u64(seed ^ 0x6A2F_4E7B_D11C_0B5E);
    (0..population)
        .map(|i| {
            let mut others: Vec<usize> = rand::seq::index::sample(&mut rng, population - 1, degree)
                .into_iter()
                .map(|j| if j >= i { j + 1 } else { j })
                .collect();
            others.sort_unstable();
            others
        })
        .collect()
}

/// One agent's place in the society.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    rng: SimRng,
    /// Whose words it receives in this window.
    source: usize,
    /// A speaker's valence input of the last tick.
    valence: f32,
    /// A speaker read the topic last tick: its next word is an evaluation.
    evaluate: bool,
}

/// A society of P agents.
pub struct SocietyWorld {
    config: SocietyConfig,
    streams: CorpusWorld,
    vocabulary: Arc<Vocabulary>,
    /// Per agent, its group.
    group: Vec<usize>,
    /// Per group, its speaker.
    speakers: Vec<usize>,
    /// The agents that evaluate the topic (`speakers`, or everyone).
    evaluators: Vec<usize>,
    /// A `random` network's graph: whom each agent may hear.
    neighbours: Vec<Vec<usize>>,
    /// Reward per token id: for everyone, and per stake.
    rewards: Vec<f32>,
    stakes: Vec<Vec<f32>>,
    /// Per agent, the stakes it holds.
    holds: Vec<Vec<usize>>,
    /// The speech's (topic, positive, negative) ids.
    speech: Option<(u32, u32, u32)>,
    members: Vec<Member>,
    tick: u64,
}

impl SocietyWorld {
    /// A society of `population` agents; every group needs at least one agent.
    pub fn new(config: &SocietyConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let k = config.groups;
        if let Err(e) = config.check_population(population) {
            return Err(Error::Run(format!("society: {}", e.message)));
        }
        let id = |w: &str| super::word_id(&vocabulary, "society", w);
        let table = |map| super::reward_table(&vocabulary, "society", map);
        let group: Vec<usize> = (0..population).map(|i| group_of(i, k, population)).collect();
        let speakers: Vec<usize> = (0..k)
            .map(|g| {
                group
                    .iter()
                    .position(|&x| x == g)
                    .expect("every group has an agent")
            })
            .collect();
        let holds = (0..population)
            .map(|i| {
                let speaker = speakers[group[i]] == i;
                config
                    .stakes
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.group.is_none_or(|g| g == group[i]))
                    .filter(|(_, s)| match s.role {
                        Role::All => true,
                        Role::Speaker => speaker,
                        Role::Listeners => !speaker,
                    })
                    .map(|(k, _)| k)
                    .collect()
            })
            .collect();
        let speech = match &config.speech {
            Some(s) => Some((id(&s.topic)?, id(&s.positive)?, id(&s.negative)?)),
            None => None,
        };
        let evaluators = match config.speakers {
            Speakers::First => speakers.clone(),
            Speakers::All => (0..population).collect(),
        };
        let neighbours = match config.network {
            Network::Random => random_graph(population, config.degree, config.graph_seed),
            _ => Vec::new(),
        };
        let mut world = SocietyWorld {
            evaluators,
            neighbours,
            streams: CorpusWorld::new(&config.corpus(), vocabulary.clone(), population),
            rewards: table(&config.rewards)?,
            stakes: config
                .stakes
                .iter()
                .map(|s| table(&s.rewards))
                .collect::<Result<_>>()?,
            holds,
            config: config.clone(),
            vocabulary,
            group,
            speakers,
            speech,
            members: Vec::new(),
            tick: 0,
        };
        world.reset(&(0..population as u64).collect::<Vec<_>>());
        Ok(world)
    }

    fn is_speaker(&self, i: usize) -> bool {
        self.speakers[self.group[i]] == i
    }

    /// Whom listener i hears in the window starting now.
    fn draw_source(&mut self, i: usize) -> usize {
        let (contact, between) = (self.config.contact, self.config.between);
        let k = self.speakers.len();
        let p = self.members.len();
        let own = self.group[i];
        let rng = &mut self.members[i].rng;
        let u: f64 = rng.r#gen();
        if self.config.network != Network::Communities {
            if u >= contact {
                return i;
            }
            return match self.config.network {
                Network::All => {
                    let j = rng.gen_range(0..p - 1);
                    if j >= i { j + 1 } else { j }
                }
                Network::Pairs => i ^ 1,
                Network::Ring if rng.r#gen::<bool>() => (i + 1) % p,
                Network::Ring => (i + p - 1) % p,
                _ => self.neighbours[i][rng.gen_range(0..self.neighbours[i].len())],
            };
        }
        if u < contact {
            self.speakers[own]
        } else if u < contact + between && k > 1 {
            // Another group, uniformly.
            let g = rng.gen_range(0..k - 1);
            self.speakers[if g >= own { g + 1 } else { g }]
        } else {
            i
        }
    }
}

impl World for SocietyWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        self.streams.reset(seeds);
        self.members = seeds
            .iter()
            .enumerate()
            .map(|(i, &s)| Member {
                // Its own generator, apart from its stream's.
                rng: SimRng::seed_from_u64(s ^ 0x5EED_50C1_E7E5_0C1E),
                source: i,
                valence: 0.0,
                evaluate: false,
            })
            .collect();
        self.tick = 0;
    }

    fn step(&mut self) -> Result<Outputs> {
        let own = self.streams.step()?;
        let (mut words, mut inline) = (own[0].1.to_host(), own[1].1.to_host());
        let p = self.members.len();
        // Speakers say their evaluations, and note a topic just read.
        if let (Some((topic, positive, negative)), Some(speech), true) =
            (self.speech, &self.config.speech, self.config.speak)
        {
            let tau = speech.temperature as f32;
            for &s in &self.evaluators {
                let m = &mut self.members[s];
                if std::mem::take(&mut m.evaluate) {
                    let p_positive = 1.0 / (1.0 + (-2.0 * m.valence / tau).exp());
                    let u: f32 = m.rng.r#gen();
                    words[[s, 0]] = (if u < p_positive { positive } else { negative }) as f32;
                    inline[[s, 0]] = 0.0;
                }
                m.evaluate = words[[s, 0]] as u32 == topic;
            }
        }
        if self.tick.is_multiple_of(self.config.window as u64) {
            for i in 0..p {
                let communities = self.config.network == Network::Communities;
                self.members[i].source = if communities && self.is_speaker(i) {
                    i
                } else {
                    self.draw_source(i)
                };
            }
        }
        self.tick += 1;
        let mut out = [(); 5].map(|_| Array2::<f32>::zeros((p, 1)));
        for i in 0..p {
            let source = self.members[i].source;
            let word = words[[source, 0]];
            let speaker = self.is_speaker(i);
            let w = word as usize;
            let mut r = self.rewards[w];
            for &k in &self.holds[i] {
                r += self.stakes[k][w];
            }
            if source == i {
                r += inline[[i, 0]];
            }
            let [token, reward, src, spk, grp] = &mut out;
            token[[i, 0]] = word;
            reward[[i, 0]] = r;
            src[[i, 0]] = source as f32;
            spk[[i, 0]] = f32::from(u8::from(speaker));
            grp[[i, 0]] = self.group[i] as f32;
        }
        let [token, reward, src, spk, grp] = out;
        Ok(vec![
            ("token", Signal::Host(token)),
            ("reward", Signal::Host(reward)),
            ("source", Signal::Host(src)),
            ("speaker", Signal::Host(spk)),
            ("group", Signal::Host(grp)),
        ])
    }

    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        let Some(v) = inputs.get("valence") else {
            return Ok(());
        };
        let v = v.to_host();
        for (m, &x) in self.members.iter_mut().zip(v.column(0)) {
            // A non-finite value is the reward model's divergence, caught there.
            m.valence = if x.is_finite() { x } else { 0.0 };
        }
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        self.streams.save(out)?;
        super::save_agents_and_step(out, &self.members, &self.tick);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        self.streams.restore(from)?;
        super::restore_agents_and_step(from, &mut self.members, &mut self.tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SocietyConfig {
        SocietyConfig {
            rules: [(
                "S".to_string(),
                vec!["one x two".to_string(), "one y two".to_string()],
            )]
            .into(),
            groups: 2,
            speech: Some(Speech {
                topic: "x".into(),
                positive: "good".into(),
                negative: "bad".into(),
                temperature: 0.1,
            }),
            ..Default::default()
        }
    }

    fn world(config: &SocietyConfig, p: usize) -> (SocietyWorld, Arc<Vocabulary>) {
        config.check().unwrap();
        let vocab = Arc::new(Vocabulary::from_counts(config.word_counts().unwrap()));
        (SocietyWorld::new(config, vocab.clone(), p).unwrap(), vocab)
    }

    fn valence(p: usize, of: impl Fn(usize) -> f32) -> Inputs<'static> {
        let mut inputs = Inputs::default();
        inputs.insert(
            "valence",
            Signal::Host(Array2::from_shape_fn((p, 1), |(i, _)| of(i))),
        );
        inputs
    }

    #[test]
    fn speakers_evaluate_the_topic_by_their_own_valence() {
        // Group 0's speaker (agent 0) values x at +1, group 1's (agent 2) at −1.
        let (mut w, vocab) = world(&config(), 4);
        assert_eq!(w.speakers, [0, 2]);
        let mut said = [Vec::new(), Vec::new()];
        for _ in 0..600 {
            let out = w.step().unwrap();
            let t = out[0].1.to_host();
            for (k, s) in [0, 2].into_iter().enumerate() {
                said[k].push(vocab.word(t[[s, 0]] as u32).unwrap().to_string());
            }
            w.act(&valence(4, |i| if i < 2 { 1.0 } else { -1.0 })).unwrap();
        }
        for (k, want, not) in [(0, "good", "bad"), (1, "bad", "good")] {
            let after_x: Vec<&String> = said[k]
                .windows(2)
                .filter(|p| p[0] == "x")
                .map(|p| &p[1])
                .collect();
            assert!(after_x.len() > 50, "{}", after_x.len());
            assert!(after_x.iter().all(|w| *w == want), "speaker {k}: {after_x:?}");
            assert!(!said[k].iter().any(|w| w == not));
            // Only the word after the topic is replaced: y is followed by `two`.
            assert!(said[k].windows(2).filter(|p| p[0] == "y").all(|p| p[1] == "two"));
        }
    }

    #[test]
    fn listeners_hear_their_speaker_at_the_contact_rate() {
        let config = SocietyConfig {
            contact: 0.5,
            between: 0.25,
            window: 4,
            ..config()
        };
        let (mut w, _) = world(&config, 8);
        let (mut own, mut others, mut alone, mut windows) = (0, 0, 0, 0);
        for t in 0..8000 {
            let out = w.step().unwrap();
            let (tokens, source) = (out[0].1.to_host(), out[2].1.to_host());
            for i in 0..8 {
                let s = source[[i, 0]] as usize;
                assert_eq!(tokens[[i, 0]], tokens[[s, 0]], "hears its source's word");
                if w.is_speaker(i) {
                    assert_eq!(s, i, "speakers hear themselves");
                } else if t % 4 == 0 {
                    windows += 1;
                    match s {
                        s if s == i => alone += 1,
                        s if s == w.speakers[w.group[i]] => own += 1,
                        _ => others += 1,
                    }
                }
            }
            w.act(&valence(8, |_| 0.0)).unwrap();
        }
        let share = |n: i32| f64::from(n) / f64::from(windows);
        assert!((share(own) - 0.5).abs() < 0.03, "own {}", share(own));
        assert!((share(others) - 0.25).abs() < 0.03, "others {}", share(others));
        assert!((share(alone) - 0.25).abs() < 0.03, "alone {}", share(alone));
    }

    /// Over many windows, whom each agent hears in a network other than communities.
    fn sources(config: &SocietyConfig, p: usize) -> Vec<BTreeMap<usize, usize>> {
        let (mut w, _) = world(config, p);
        let mut heard = vec![BTreeMap::new(); p];
        for t in 0..4000 {
            let out = w.step().unwrap();
            let (tokens, source) = (out[0].1.to_host(), out[2].1.to_host());
            for i in 0..p {
                let s = source[[i, 0]] as usize;
                if source[[s, 0]] as usize == s {
                    assert_eq!(tokens[[i, 0]], tokens[[s, 0]], "hears its source's word");
                }
                if t % config.window == 0 {
                    *heard[i].entry(s).or_insert(0) += 1;
                }
            }
            w.act(&valence(p, |_| 0.0)).unwrap();
        }
        heard
    }

    #[test]
    fn networks_decide_whom_each_agent_hears() {
        let base = SocietyConfig {
            groups: 1,
            contact: 0.8,
            window: 2,
            ..config()
        };
        let with = |network, degree| SocietyConfig {
            network,
            degree,
            ..base.clone()
        };
        // Pairs: 2j and 2j + 1 hear each other (or themselves), no one else.
        for (i, h) in sources(&with(Network::Pairs, 4), 6).iter().enumerate() {
            assert!(h.keys().all(|&s| s == i || s == (i ^ 1)), "agent {i}: {h:?}");
            let share = h[&(i ^ 1)] as f64 / h.values().sum::<usize>() as f64;
            assert!((share - 0.8).abs() < 0.05, "agent {i} hears its partner {share}");
        }
        // Ring: the two neighbours, about equally.
        for (i, h) in sources(&with(Network::Ring, 4), 5).iter().enumerate() {
            let (l, r) = ((i + 4) % 5, (i + 1) % 5);
            assert!(h.keys().all(|&s| s == i || s == l || s == r), "agent {i}: {h:?}");
            assert!(
                (h[&l] as f64 / h[&r] as f64 - 1.0).abs() < 0.2,
                "agent {i}: {h:?}"
            );
        }
        // All: everyone else, and no one twice as often as another.
        for (i, h) in sources(&with(Network::All, 4), 5).iter().enumerate() {
            assert_eq!(h.len(), 5, "agent {i} hears all 4 others and itself: {h:?}");
        }
        // Random: `degree` others, the same graph in every build from the same seed.
        let random = with(Network::Random, 2);
        let heard = sources(&random, 8);
        for (i, h) in heard.iter().enumerate() {
            let others: Vec<usize> = h.keys().copied().filter(|&s| s != i).collect();
            assert_eq!(others.len(), 2, "agent {i}: {h:?}");
        }
        assert_eq!(heard, sources(&random, 8), "deterministic");
        let other_graph = SocietyConfig {
            graph_seed: 1,
            ..random
        };
        assert_ne!(
            world(&other_graph, 8).0.neighbours,
            world(&with(Network::Random, 2), 8).0.neighbours
        );
    }

    #[test]
    fn with_speakers_all_every_agent_evaluates() {
        let config = SocietyConfig {
            groups: 1,
            speakers: Speakers::All,
            ..config()
        };
        let (mut w, vocab) = world(&config, 3);
        let mut evaluated = [false; 3];
        for _ in 0..300 {
            let out = w.step().unwrap();
            let t = out[0].1.to_host();
            for (i, e) in evaluated.iter_mut().enumerate() {
                *e |= vocab.word(t[[i, 0]] as u32) == Some("good");
            }
            w.act(&valence(3, |_| 1.0)).unwrap();
        }
        assert_eq!(evaluated, [true; 3]);
    }

    #[test]
    fn networks_check_the_population() {
        let with = |network, degree| SocietyConfig {
            groups: 1,
            network,
            degree,
            ..config()
        };
        assert_eq!(
            with(Network::Pairs, 4).check_population(5).unwrap_err().path,
            ["network"]
        );
        assert!(with(Network::Pairs, 4).check_population(6).is_ok());
        assert_eq!(
            with(Network::Ring, 4).check_population(2).unwrap_err().path,
            ["network"]
        );
        assert_eq!(
            with(Network::Random, 4).check_population(4).unwrap_err().path,
            ["degree"]
        );
        assert_eq!(config().check_population(1).unwrap_err().path, ["groups"]);
        let c = SocietyConfig {
            between: 0.2,
            ..with(Network::Ring, 4)
        };
        assert_eq!(c.check().unwrap_err().path, ["between"]);
    }

    #[test]
    fn rewards_follow_the_word_received_and_the_role() {
        let config = SocietyConfig {
            rewards: [("good".to_string(), 1.0)].into(),
            stakes: vec![Stake {
                group: None,
                role: Role::Speaker,
                rewards: [("x".to_string(), 2.0)].into(),
            }],
            contact: 1.0,
            ..config()
        };
        let (mut w, vocab) = world(&config, 4);
        for _ in 0..300 {
            let out = w.step().unwrap();
            let (t, r) = (out[0].1.to_host(), out[1].1.to_host());
            for i in 0..4 {
                let word = vocab.word(t[[i, 0]] as u32).unwrap();
                let want = match (word, w.is_speaker(i)) {
                    ("good", _) => 1.0,
                    ("x", true) => 2.0,
                    _ => 0.0,
                };
                assert_eq!(r[[i, 0]], want, "agent {i} hears `{word}`");
            }
            w.act(&valence(4, |_| 1.0)).unwrap();
        }
    }

    #[test]
    fn polarisation_is_the_spread_between_groups_over_the_spread_within() {
        // Python: groups [1, 3] and [-1, -3] → means 2, −2 (sd 2); variances 1, 1 → 2 / 1 = 2.
        let values: BTreeMap<usize, f32> = [(0, 1.0), (1, 3.0), (2, -1.0), (3, -3.0)].into();
        assert_eq!(polarisation(&values, 2, 4), Some(2.0));
        let mixed: BTreeMap<usize, f32> = [(0, 1.0), (1, -1.0), (2, 1.0), (3, -1.0)].into();
        assert_eq!(polarisation(&mixed, 2, 4), Some(0.0));
        assert_eq!(polarisation(&values, 1, 4), None, "one group");
        let flat: BTreeMap<usize, f32> = [(0, 1.0), (1, 1.0), (2, 2.0), (3, 2.0)].into();
        assert_eq!(polarisation(&flat, 2, 4), None, "no spread within");
    }

    #[test]
    fn agreement_is_the_mean_correlation_over_pairs_of_agents() {
        // Concepts × agents. Agents 0 and 1 order three concepts alike (r = 1), agent 2 the
        // other way (r = −1 with each): (1 − 1 − 1) / 3 = −1/3.
        let values = vec![vec![1.0, 2.0, 3.0], vec![2.0, 4.0, 2.0], vec![3.0, 6.0, 1.0]];
        let a = agreement(&values).unwrap();
        assert!((a + 1.0 / 3.0).abs() < 1e-6, "{a}");
        let alike = vec![vec![0.0, 1.0], vec![1.0, 3.0]];
        assert_eq!(agreement(&alike), Some(1.0));
        let flat = vec![vec![1.0, 0.0], vec![1.0, 1.0]];
        assert_eq!(agreement(&flat), None, "agent 0 has no spread: no pair left");
    }

    #[test]
    fn bad_settings_are_located_with_suggestions() {
        let mut c = config();
        c.speech.as_mut().unwrap().topic = "xx".into();
        let e = c.check().unwrap_err();
        assert_eq!(
            (e.path.clone(), e.help.as_deref()),
            (vec!["speech".into(), "topic".into()], Some("did you mean `x`?"))
        );
        let c = SocietyConfig {
            contact: 0.8,
            between: 0.4,
            ..config()
        };
        assert_eq!(c.check().unwrap_err().path, ["between"]);
        let stake = |group, word: &str| Stake {
            group,
            role: Role::All,
            rewards: [(word.to_string(), 1.0)].into(),
        };
        let c = SocietyConfig {
            stakes: vec![stake(None, "x"), stake(Some(1), "god")],
            ..config()
        };
        let e = c.check().unwrap_err();
        assert_eq!(e.path, ["stakes", "1", "rewards", "god"]);
        assert_eq!(e.help.as_deref(), Some("did you mean `good`?"));
        let c = SocietyConfig {
            stakes: vec![stake(Some(2), "x")],
            ..config()
        };
        assert_eq!(c.check().unwrap_err().path, ["stakes", "0", "group"]);
        let vocab = Arc::new(Vocabulary::from_counts(config().word_counts().unwrap()));
        let e = SocietyWorld::new(
            &SocietyConfig {
                groups: 5,
                ..config()
            },
            vocab,
            4,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("5 groups need at least 5 agents"), "{e}");
    }
}
