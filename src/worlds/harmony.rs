//! # harmony — the DJ party: two agents take turns choosing the songs of the stream they share
//!
//! Agents come in pairs (agents 2j and 2j + 1; partner 0 and partner 1), and each pair hears one
//! stream. On its turn an agent reads `turn` (its partner reads `wait`) and **speaks by acting**:
//! its action a plays the song `songs[a]`, which both hear. Then the partner who listened
//! **evaluates** the song, saying `positive` or `negative` by its *own* learnt valence of it
//! (with `speech = false` it says nothing: `rest`), and `iti` ticks of `rest` pass before the
//! other partner's turn:
//!
//! ```text
//! turn|wait →(a)→ songs[a] → positive|negative → rest × iti → wait|turn →(a′)→ …
//! v        = the evaluator's `valence` input on the tick it heard the song
//!            (wire `vta.value`: V(z_song), its reward model's value of the song's latent)
//! P(pos)   = σ(2 v / τ)                     (as in `society`; τ = `temperature`)
//! r_k(w)   = rewards[w] + tastes[k][w]      (partner k's reward on hearing word w)
//! ```
//!
//! Each partner has its own pain–comfort axis over the songs (`tastes`, one map per partner),
//! which overlap partly: a song **rewards both** when r₀ > 0 and r₁ > 0. The **Harmony index**
//! is the share of this phase's songs that rewarded both; beside it, on the same turns, what
//! uniformly random choice would get (the share of songs that reward both) and what the
//! **selfish** policy would (each chooser plays its own favourite: the first song of highest
//! r_chooser). `choice = "random"` or `"selfish"` plays those policies instead of the agents'
//! actions (a phase in which tastes are learnt, say).
//!
//! **Partner correlation** (`partner_correlation/<phase>` in `summary.json`, the figure
//! `partner_correlation`, from the probe named `valence`): the mean over pairs of the Pearson
//! correlation of the two partners' valences of the songs, at each reading — do the partners'
//! values converge?
//!
//! Ports: inputs `action` `[P, 1]` (Action; read on the chooser's `turn` tick; required unless
//! `choice` is `random` or `selfish`), `valence` `[P, 1]` (Value; read on the song's tick;
//! required with `speech`); outputs `token` `[P, 1]` (Token), `reward` `[P, 1]` (Reward),
//! `harmony`, `harmony_random`, `harmony_selfish` `[P, 1]` (Value: the pair's shares so far in
//! this phase, 0 before its first song).

use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result, nearest};
use crate::metrics::{Chart, Curve, Row, SummaryEntry};
use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::rng::SimRng;
use crate::signal::{Signal, SignalKind};

/// Who chooses the songs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// The chooser's action (its action selection).
    #[default]
    Agents,
    /// A song drawn uniformly.
    Random,
    /// The chooser's favourite.
    Selfish,
}

/// Pairs of agents taking turns at choosing the songs they both hear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HarmonyConfig {
    /// The speech vocabulary of the turn: action a plays `songs[a]`.
    pub songs: Vec<String>,
    /// Per partner (0: even agents, 1: odd agents), song → reward on hearing it.
    pub tastes: Vec<BTreeMap<String, f64>>,
    /// Word → reward for both partners (e.g. on the evaluations).
    pub rewards: BTreeMap<String, f64>,
    /// Who chooses: the agents, or a random or selfish policy.
    pub choice: Choice,
    /// Whether the listening partner evaluates each song.
    pub speech: bool,
    /// The word said of a song valued positively.
    pub positive: String,
    /// The word said of a song valued negatively.
    pub negative: String,
    /// τ > 0: how sharply the evaluation follows the valence.
    pub temperature: f64,
    /// The word the chooser reads on its turn.
    pub turn: String,
    /// The word its partner reads meanwhile.
    pub wait: String,
    /// The word between turns (and in place of an evaluation without speech).
    pub rest: String,
    /// Ticks of `rest` after each evaluation.
    pub iti: usize,
}

impl Default for HarmonyConfig {
    fn default() -> Self {
        HarmonyConfig {
            songs: Vec::new(),
            tastes: Vec::new(),
            rewards: BTreeMap::new(),
            choice: Choice::Agents,
            speech: true,
            positive: "good".into(),
            negative: "bad".into(),
            temperature: 0.1,
            turn: "turn".into(),
            wait: "wait".into(),
            rest: "rest".into(),
            iti: 1,
        }
    }
}

impl HarmonyConfig {
    /// Every word, in a stable order: the cues, rest, the songs, the evaluations.
    fn words(&self) -> Vec<String> {
        let mut words = vec![self.turn.clone(), self.wait.clone(), self.rest.clone()];
        words.extend(self.songs.iter().cloned());
        words.extend([self.positive.clone(), self.negative.clone()]);
        words
    }

    /// Partner k's reward on hearing word `w`.
    fn reward(&self, k: usize, w: &str) -> f64 {
        self.rewards.get(w).copied().unwrap_or(0.0)
            + self.tastes.get(k).and_then(|t| t.get(w)).copied().unwrap_or(0.0)
    }

    /// Per song, whether it rewards both partners.
    fn rewards_both(&self) -> Vec<bool> {
        self.songs
            .iter()
            .map(|s| self.reward(0, s) > 0.0 && self.reward(1, s) > 0.0)
            .collect()
    }

    /// Partner k's favourite song: the first of highest reward.
    fn favourite(&self, k: usize) -> usize {
        let mut best = 0;
        for (i, s) in self.songs.iter().enumerate() {
            if self.reward(k, s) > self.reward(k, &self.songs[best]) {
                best = i;
            }
        }
        best
    }
}

impl WorldParams for HarmonyConfig {
    const KIND: &'static str = "harmony";
    const SUMMARY: &'static str =
        "pairs taking turns at choosing the songs they both hear, each partner evaluating the other's";

    fn ports(&self) -> Ports {
        let action = "the chooser's song (read on its `turn` tick)";
        let valence = "the value of the latent just read (vta.value): the evaluator's valence";
        Ports {
            inputs: vec![
                match self.choice {
                    Choice::Agents => PortSpec::input("action", SignalKind::Action, Width::Fixed(1), action),
                    _ => PortSpec::optional("action", SignalKind::Action, Width::Fixed(1), action),
                },
                match self.speech {
                    true => PortSpec::input("valence", SignalKind::Value, Width::Fixed(1), valence),
                    false => PortSpec::optional("valence", SignalKind::Value, Width::Fixed(1), valence),
                },
            ],
            outputs: vec![
                PortSpec::output("token", SignalKind::Token, 1, "the word this agent hears"),
                PortSpec::output("reward", SignalKind::Reward, 1, "its reward for this agent"),
                PortSpec::output(
                    "harmony",
                    SignalKind::Value,
                    1,
                    "share of this phase's songs that rewarded both partners",
                ),
                PortSpec::output(
                    "harmony_random",
                    SignalKind::Value,
                    1,
                    "what uniformly random choice would get on the same turns",
                ),
                PortSpec::output(
                    "harmony_selfish",
                    SignalKind::Value,
                    1,
                    "what each chooser playing its favourite would get on the same turns",
                ),
            ],
        }
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        let bad =
            |key: Vec<String>, msg: &str| Err(WorldError::new(key, ErrorKind::InvalidValue, msg.into()));
        let one_word = |w: &str| !w.is_empty() && !w.contains(char::is_whitespace);
        if self.songs.len() < 2 || self.songs.len() > 256 {
            return bad(vec!["songs".into()], "expected 2 to 256 songs, one per action");
        }
        let named = [
            ("turn", &self.turn),
            ("wait", &self.wait),
            ("rest", &self.rest),
            ("positive", &self.positive),
            ("negative", &self.negative),
        ];
        let mut seen: Vec<&str> = Vec::new();
        for (key, w) in named {
            if !one_word(w) {
                return bad(vec![key.into()], "expected one word (no spaces)");
            }
            if seen.contains(&w.as_str()) {
                return bad(
                    vec![key.into()],
                    "expected a word of its own (turn, wait, rest, positive and negative differ)",
                );
            }
            seen.push(w);
        }
        for (i, s) in self.songs.iter().enumerate() {
            if !one_word(s) || seen.contains(&s.as_str()) {
                return bad(
                    vec!["songs".into(), i.to_string()],
                    "expected one word, each song once, none of turn, wait, rest, positive, negative",
                );
            }
            seen.push(s);
        }
        if self.tastes.len() != 2 {
            return bad(
                vec!["tastes".into()],
                "expected two tables, one per partner (song → reward)",
            );
        }
        for (k, taste) in self.tastes.iter().enumerate() {
            for (song, r) in taste {
                let key = vec!["tastes".into(), k.to_string(), song.clone()];
                if !self.songs.contains(song) {
                    return Err(WorldError {
                        path: key,
                        kind: ErrorKind::UnknownConcept,
                        message: format!("a taste for `{song}`, which is not one of the `songs`"),
                        help: nearest(song, self.songs.iter().map(String::as_str))
                            .map(|n| format!("did you mean `{n}`?")),
                    });
                }
                if !super::holds_as_f32(*r) {
                    return bad(key, "expected a finite reward");
                }
            }
        }
        let words = self.words();
        for (word, r) in &self.rewards {
            let key = vec!["rewards".into(), word.clone()];
            if !words.contains(word) {
                return Err(WorldError {
                    path: key,
                    kind: ErrorKind::UnknownConcept,
                    message: format!("reward on `{word}`, which this world never shows"),
                    help: nearest(word, words.iter().map(String::as_str))
                        .map(|n| format!("did you mean `{n}`?")),
                });
            }
            if !super::holds_as_f32(*r) {
                return bad(key, "expected a finite reward");
            }
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return bad(vec!["temperature".into()], "expected a number > 0");
        }
        if self.iti > 1_000_000 {
            return bad(vec!["iti".into()], "expected an integer in [0, 1000000]");
        }
        Ok(())
    }

    fn check_population(&self, population: usize) -> std::result::Result<(), WorldError> {
        if !population.is_multiple_of(2) {
            return Err(WorldError::new(
                vec![],
                ErrorKind::InvalidValue,
                format!("agents come in pairs: the population must be even (it is {population})"),
            ));
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(self.words())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        // Per turn: a cue each, a song, an evaluation (or rest), `iti` rests.
        let n = self.songs.len() as u64;
        Ok(self
            .words()
            .into_iter()
            .map(|w| {
                let c = if w == self.rest {
                    2 * n * (self.iti as u64 + 1)
                } else if w == self.turn || w == self.wait {
                    2 * n
                } else if w == self.positive || w == self.negative {
                    n
                } else {
                    2
                };
                (w, c)
            })
            .collect())
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(HarmonyWorld::new(self, vocabulary, population)?))
    }

    /// `partner_correlation/<phase>`: the partners' correlation of song valences at each
    /// phase's last reading of the `valence` probe (one number: median = p10 = p90).
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        let agents = super::agents_in(rows);
        let mut last: BTreeMap<&str, (u64, f32)> = BTreeMap::new();
        for (step, (value, phase)) in partner_correlations(rows, &self.songs) {
            last.insert(phase, (step, value));
        }
        last.into_iter()
            .map(|(phase, (step, value))| {
                let entry = SummaryEntry {
                    agents,
                    ..SummaryEntry::of(phase, step, vec![value])
                };
                (format!("partner_correlation/{phase}"), entry)
            })
            .collect()
    }

    /// `harmony`: the Harmony index and its two baselines over the run (medians over agents, of
    /// the probes reading `world.harmony`, `world.harmony_random`, `world.harmony_selfish`);
    /// `partner_correlation`: the partners' correlation of song valences.
    fn figures(&self, rows: &[Row]) -> Vec<Chart> {
        let mut charts = Vec::new();
        let read = crate::metrics::curves(rows);
        let mut curves: BTreeMap<String, Curve> = BTreeMap::new();
        for (key, label) in [
            ("world.harmony", "the agents"),
            ("world.harmony_random", "random choice"),
            ("world.harmony_selfish", "selfish choice"),
        ] {
            if let Some(curve) = read.values().find_map(|keys| keys.get(key)) {
                curves.insert(label.into(), curve.clone());
            }
        }
        if !curves.is_empty() {
            charts.push(Chart::Curves {
                stem: "harmony".into(),
                title: "Harmony: the share of songs that reward both partners".into(),
                x_label: crate::plot::STEP_AXIS.into(),
                y_label: "Harmony index (cumulative in each phase)".into(),
                curves,
            });
        }
        let correlation = partner_correlations(rows, &self.songs);
        if !correlation.is_empty() {
            let curve = correlation
                .into_iter()
                .map(|(t, (v, _))| (t, (v, v, v)))
                .collect();
            charts.push(Chart::Curves {
                stem: "partner_correlation".into(),
                title: "do the partners' valences of the songs converge?".into(),
                x_label: crate::plot::STEP_AXIS.into(),
                y_label: "correlation of partners' song valences (mean over pairs)".into(),
                curves: [("partners".to_string(), curve)].into(),
            });
        }
        charts
    }
}

/// Per reading of the `valence` probe, the mean over pairs of the partners' correlation of their
/// valences of the songs (pairs where a partner's valences are all equal left out), with the
/// reading's phase.
fn partner_correlations<'a>(rows: &'a [Row], songs: &[String]) -> BTreeMap<u64, (f32, &'a str)> {
    // step → (phase, agent → song → value)
    type Agents<'r> = BTreeMap<usize, BTreeMap<&'r str, f64>>;
    let mut readings: BTreeMap<u64, (&str, Agents<'_>)> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.probe == "valence" && songs.contains(&r.key))
    {
        readings
            .entry(r.step)
            .or_insert_with(|| (&r.phase, BTreeMap::new()))
            .1
            .entry(r.agent)
            .or_default()
            .insert(&r.key, f64::from(r.value));
    }
    let mut out = BTreeMap::new();
    for (step, (phase, agents)) in readings {
        let vector = |a: usize| -> Option<Vec<f64>> {
            let v = agents.get(&a)?;
            let x: Vec<f64> = songs
                .iter()
                .map(|s| v.get(s.as_str()).copied())
                .collect::<Option<_>>()?;
            (x.iter().all(|v| v.is_finite()) && x.iter().any(|&v| v != x[0])).then_some(x)
        };
        let (mut sum, mut n) = (0.0, 0usize);
        for &a in agents.keys().filter(|a| *a % 2 == 0) {
            if let (Some(x), Some(y)) = (vector(a), vector(a + 1)) {
                sum += crate::analysis::pearson(&x, &y);
                n += 1;
            }
        }
        if n > 0 {
            out.insert(step, ((sum / n as f64) as f32, phase));
        }
    }
    out
}

/// Where a pair stands in its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Beat {
    /// The chooser reads `turn`, its partner `wait`.
    Cue,
    /// The song chosen plays.
    Song,
    /// The partner's evaluation (or rest).
    Evaluation,
    /// Rests still to show.
    Rest(usize),
}

/// One pair's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pair {
    /// Random choice, and the evaluators' draws.
    rng: SimRng,
    beat: Beat,
    /// The partner (0 or 1) whose turn it is.
    chooser: usize,
    /// The song chosen, shown next.
    song: Option<usize>,
    /// The evaluator's valence of the song just played.
    valence: f32,
    songs: u64,
    both: u64,
    selfish: u64,
}

/// P / 2 pairs of DJs.
pub struct HarmonyWorld {
    config: HarmonyConfig,
    vocabulary: Arc<Vocabulary>,
    /// Per partner, reward per token id.
    rewards: [Vec<f32>; 2],
    /// turn, wait, rest, positive, negative.
    cues: [u32; 5],
    songs: Vec<u32>,
    both: Vec<bool>,
    favourite: [usize; 2],
    /// The share of songs that reward both: random choice's expected Harmony.
    random: f32,
    pairs: Vec<Pair>,
}

impl HarmonyWorld {
    /// A world of `population / 2` pairs (the population must be even).
    pub fn new(config: &HarmonyConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        if let Err(e) = config.check_population(population) {
            return Err(Error::Run(format!("harmony: {}", e.message)));
        }
        let id = |w: &str| super::word_id(&vocabulary, "harmony", w);
        let table = |k: usize| -> Result<Vec<f32>> {
            let mut t = vec![0.0; vocabulary.len()];
            for w in config.words() {
                t[id(&w)? as usize] = config.reward(k, &w) as f32;
            }
            Ok(t)
        };
        let both = config.rewards_both();
        let mut world = HarmonyWorld {
            rewards: [table(0)?, table(1)?],
            cues: [
                id(&config.turn)?,
                id(&config.wait)?,
                id(&config.rest)?,
                id(&config.positive)?,
                id(&config.negative)?,
            ],
            songs: config.songs.iter().map(|s| id(s)).collect::<Result<_>>()?,
            random: both.iter().filter(|&&b| b).count() as f32 / both.len() as f32,
            both,
            favourite: [config.favourite(0), config.favourite(1)],
            config: config.clone(),
            vocabulary,
            pairs: Vec::new(),
        };
        world.reset(&(0..population as u64).collect::<Vec<_>>());
        Ok(world)
    }
}

impl World for HarmonyWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        self.pairs = seeds
            .chunks(2)
            .map(|s| Pair {
                rng: SimRng::seed_from_u64(s[0] ^ 0x4A7D_0C5E_55A1_D00D),
                beat: Beat::Cue,
                chooser: 0,
                song: None,
                valence: 0.0,
                songs: 0,
                both: 0,
                selfish: 0,
            })
            .collect();
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = 2 * self.pairs.len();
        let [turn, wait, rest, positive, negative] = self.cues;
        let mut out = [(); 5].map(|_| Array2::<f32>::zeros((p, 1)));
        let n = self.songs.len();
        for (j, pair) in self.pairs.iter_mut().enumerate() {
            // The word each partner hears.
            let words: [u32; 2] = match pair.beat {
                Beat::Cue => {
                    pair.beat = Beat::Song;
                    let mut w = [wait; 2];
                    w[pair.chooser] = turn;
                    w
                }
                Beat::Song => {
                    let song = match (self.config.choice, pair.song.take()) {
                        (Choice::Random, _) => pair.rng.gen_range(0..n),
                        (Choice::Selfish, _) => self.favourite[pair.chooser],
                        (Choice::Agents, Some(s)) => s,
                        (Choice::Agents, None) => {
                            return Err(Error::Run(
                                "harmony: no song chosen (is `world.action` wired?)".into(),
                            ));
                        }
                    };
                    pair.songs += 1;
                    pair.both += u64::from(self.both[song]);
                    pair.selfish += u64::from(self.both[self.favourite[pair.chooser]]);
                    pair.beat = Beat::Evaluation;
                    [self.songs[song]; 2]
                }
                Beat::Evaluation => {
                    pair.beat = Beat::Rest(self.config.iti);
                    let word = if self.config.speech {
                        let tau = self.config.temperature as f32;
                        let p_positive = 1.0 / (1.0 + (-2.0 * pair.valence / tau).exp());
                        if pair.rng.r#gen::<f32>() < p_positive {
                            positive
                        } else {
                            negative
                        }
                    } else {
                        rest
                    };
                    [word; 2]
                }
                Beat::Rest(k) => {
                    if k <= 1 {
                        pair.beat = Beat::Cue;
                        pair.chooser = 1 - pair.chooser;
                    } else {
                        pair.beat = Beat::Rest(k - 1);
                    }
                    [rest; 2]
                }
            };
            // No rests: the next turn follows the evaluation directly.
            if pair.beat == Beat::Rest(0) {
                pair.beat = Beat::Cue;
                pair.chooser = 1 - pair.chooser;
            }
            let share = |x: f64| {
                if pair.songs == 0 {
                    0.0
                } else {
                    (x / pair.songs as f64) as f32
                }
            };
            let shares = [
                share(pair.both as f64),
                if pair.songs == 0 { 0.0 } else { self.random },
                share(pair.selfish as f64),
            ];
            for (k, &word) in words.iter().enumerate() {
                let i = 2 * j + k;
                let [t, r, h, hr, hs] = &mut out;
                t[[i, 0]] = word as f32;
                r[[i, 0]] = self.rewards[k][word as usize];
                h[[i, 0]] = shares[0];
                hr[[i, 0]] = shares[1];
                hs[[i, 0]] = shares[2];
            }
        }
        let [t, r, h, hr, hs] = out;
        Ok(vec![
            ("token", Signal::Host(t)),
            ("reward", Signal::Host(r)),
            ("harmony", Signal::Host(h)),
            ("harmony_random", Signal::Host(hr)),
            ("harmony_selfish", Signal::Host(hs)),
        ])
    }

    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        let n = self.songs.len();
        let actions = match self.config.choice {
            Choice::Agents => Some(
                inputs
                    .get("action")
                    .ok_or_else(|| Error::Run("harmony: no `action` input".into()))?
                    .to_host(),
            ),
            _ => None,
        };
        let valence = match self.config.speech {
            true => Some(
                inputs
                    .get("valence")
                    .ok_or_else(|| Error::Run("harmony: no `valence` input".into()))?
                    .to_host(),
            ),
            false => None,
        };
        for (j, pair) in self.pairs.iter_mut().enumerate() {
            match pair.beat {
                // The cue was just read: the chooser's action picks the song.
                Beat::Song => {
                    if let Some(a) = &actions {
                        let x = a[[2 * j + pair.chooser, 0]];
                        if x.is_nan() || x < 0.0 || x as usize >= n {
                            return Err(Error::Run(format!(
                                "harmony: action {x} of {n} songs (the model's `actions` must be {n})"
                            )));
                        }
                        pair.song = Some(x as usize);
                    }
                }
                // The song was just heard: the evaluator's valence of it.
                Beat::Evaluation => {
                    if let Some(v) = &valence {
                        let x = v[[2 * j + 1 - pair.chooser, 0]];
                        // A non-finite value is the reward model's divergence, caught there.
                        pair.valence = if x.is_finite() { x } else { 0.0 };
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put("pairs", &self.pairs);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        super::restore_agents(from, "pairs", &mut self.pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HarmonyConfig {
        let taste = |a: f64, s: f64, b: f64| -> BTreeMap<String, f64> {
            [
                ("mine".to_string(), a),
                ("ours".to_string(), s),
                ("yours".to_string(), b),
            ]
            .into()
        };
        HarmonyConfig {
            songs: vec!["mine".into(), "ours".into(), "yours".into()],
            tastes: vec![taste(1.0, 0.5, -1.0), taste(-1.0, 0.5, 1.0)],
            rewards: [("good".to_string(), 1.0), ("bad".to_string(), -1.0)].into(),
            ..Default::default()
        }
    }

    fn world(config: &HarmonyConfig, p: usize) -> (HarmonyWorld, Arc<Vocabulary>) {
        config.check().unwrap();
        let vocab = Arc::new(Vocabulary::from_counts(config.word_counts().unwrap()));
        (HarmonyWorld::new(config, vocab.clone(), p).unwrap(), vocab)
    }

    /// Runs `ticks` ticks with every agent acting `action(agent)` and valuing everything at
    /// `valence(agent)`; returns, per tick, the words and rewards of agents 0 and 1 and the
    /// three shares of agent 0.
    fn run(
        w: &mut HarmonyWorld,
        vocab: &Vocabulary,
        ticks: usize,
        action: impl Fn(usize) -> f32,
        valence: impl Fn(usize) -> f32,
    ) -> Vec<([String; 2], [f32; 2], [f32; 3])> {
        let p = 2 * w.pairs.len();
        (0..ticks)
            .map(|_| {
                let out = w.step().unwrap();
                let host: Vec<Array2<f32>> = out.iter().map(|(_, s)| s.to_host()).collect();
                let mut inputs = Inputs::default();
                inputs.insert(
                    "action",
                    Signal::Host(Array2::from_shape_fn((p, 1), |(i, _)| action(i))),
                );
                inputs.insert(
                    "valence",
                    Signal::Host(Array2::from_shape_fn((p, 1), |(i, _)| valence(i))),
                );
                w.act(&inputs).unwrap();
                let word = |i: usize| vocab.word(host[0][[i, 0]] as u32).unwrap().to_string();
                (
                    [word(0), word(1)],
                    [host[1][[0, 0]], host[1][[1, 0]]],
                    [host[2][[0, 0]], host[3][[0, 0]], host[4][[0, 0]]],
                )
            })
            .collect()
    }

    #[test]
    fn partners_take_turns_and_the_listener_evaluates_by_its_own_valence() {
        let (mut w, vocab) = world(&config(), 2);
        // Agent 0 plays `mine` (0), agent 1 `ours` (1); agent 0 values everything at −1,
        // agent 1 at +1.
        let ticks = run(
            &mut w,
            &vocab,
            8,
            |i| i as f32,
            |i| if i == 0 { -1.0 } else { 1.0 },
        );
        let words: Vec<[&str; 2]> = ticks.iter().map(|t| [t.0[0].as_str(), t.0[1].as_str()]).collect();
        assert_eq!(
            words,
            [
                ["turn", "wait"],
                ["mine", "mine"],
                ["good", "good"], // agent 1 evaluates agent 0's song: +1 → good
                ["rest", "rest"],
                ["wait", "turn"],
                ["ours", "ours"],
                ["bad", "bad"], // agent 0 evaluates: −1 → bad
                ["rest", "rest"],
            ]
        );
        // Each hears a song with its own taste; evaluations are worth the same to both.
        assert_eq!(ticks[1].1, [1.0, -1.0]);
        assert_eq!(ticks[5].1, [0.5, 0.5]);
        assert_eq!(ticks[2].1, [1.0, 1.0]);
        assert_eq!(ticks[6].1, [-1.0, -1.0]);
        // After two songs, one rewarded both (`ours`); random gets 1/3; selfish gets none.
        assert_eq!(ticks[7].2, [0.5, 1.0 / 3.0, 0.0]);
    }

    #[test]
    fn without_speech_the_evaluation_is_rest_and_policies_can_be_scripted() {
        let config = HarmonyConfig {
            speech: false,
            choice: Choice::Selfish,
            iti: 0,
            ..config()
        };
        let (mut w, vocab) = world(&config, 4);
        let ticks = run(&mut w, &vocab, 6, |_| f32::NAN, |_| 0.0);
        let words: Vec<&str> = ticks.iter().map(|t| t.0[0].as_str()).collect();
        // Each plays its own favourite; with iti = 0 the next turn follows at once.
        assert_eq!(words, ["turn", "mine", "rest", "wait", "yours", "rest"]);
        assert_eq!(
            ticks[5].2,
            [0.0, 1.0 / 3.0, 0.0],
            "selfish choice never rewards both"
        );
        let config = HarmonyConfig {
            choice: Choice::Random,
            ..config
        };
        let (mut w, vocab) = world(&config, 2);
        let ticks = run(&mut w, &vocab, 3000, |_| f32::NAN, |_| 0.0);
        let last = ticks.last().unwrap().2;
        assert!((last[0] - 1.0 / 3.0).abs() < 0.05, "random choice: {last:?}");
    }

    #[test]
    fn an_action_beyond_the_songs_is_an_error() {
        let (mut w, _) = world(&config(), 2);
        w.step().unwrap();
        let mut inputs = Inputs::default();
        inputs.insert("action", Signal::Host(Array2::from_elem((2, 1), 3.0)));
        inputs.insert("valence", Signal::Host(Array2::zeros((2, 1))));
        let e = w.act(&inputs).unwrap_err().to_string();
        assert!(e.contains("action 3 of 3 songs"), "{e}");
    }

    #[test]
    fn bad_settings_are_located_with_suggestions() {
        let mut c = config();
        c.tastes[1].insert("our".into(), 1.0);
        let e = c.check().unwrap_err();
        assert_eq!(e.path, ["tastes", "1", "our"]);
        assert_eq!(e.help.as_deref(), Some("did you mean `ours`?"));
        let mut c = config();
        c.rewards.insert("god".into(), 1.0);
        assert_eq!(
            c.check().unwrap_err().help.as_deref(),
            Some("did you mean `good`?")
        );
        let c = HarmonyConfig {
            songs: vec!["mine".into(), "rest".into()],
            ..config()
        };
        assert_eq!(c.check().unwrap_err().path, ["songs", "1"]);
        let c = HarmonyConfig {
            tastes: vec![BTreeMap::new()],
            ..config()
        };
        assert_eq!(c.check().unwrap_err().path, ["tastes"]);
        assert!(config().check_population(3).is_err());
        assert!(config().check_population(4).is_ok());
    }

    #[test]
    fn partner_correlation_is_the_mean_over_pairs() {
        let row = |agent: usize, key: &str, value: f32| Row {
            phase: "p".into(),
            step: 10,
            agent,
            probe: "valence".into(),
            key: key.into(),
            value,
        };
        let songs: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        // Pair 0 agrees exactly (r = 1), pair 1 disagrees exactly (r = −1): mean 0.
        let mut rows = Vec::new();
        for (agent, v) in [
            (0, [1.0, 2.0, 3.0]),
            (1, [2.0, 4.0, 6.0]),
            (2, [1.0, 2.0, 3.0]),
            (3, [3.0, 2.0, 1.0]),
        ] {
            for (s, x) in songs.iter().zip(v) {
                rows.push(row(agent, s, x));
            }
        }
        let c = partner_correlations(&rows, &songs);
        assert_eq!(c.get(&10).map(|x| x.0), Some(0.0));
        rows.retain(|r| r.agent < 2);
        assert_eq!(
            partner_correlations(&rows, &songs).get(&10).map(|x| x.0),
            Some(1.0)
        );
    }
}
