//! # two_step — the two-step task (Daw et al. 2011), as used by Wang et al. (2018)
//!
//! Each trial takes two steps. First the agent sees the `stage1` token and chooses action 0 or
//! 1; with probability `common` (0.8) the choice leads to "its" second-stage state (0 → first
//! of `stage2`, 1 → second), otherwise to the other one (a rare transition). There it sees that
//! state's token and acts (the second action has no consequence, as in Wang et al. 2018); the
//! state pays 1 with its reward probability, delivered with the next trial's first step.
//!
//! Reward probabilities change during an episode:
//!
//! - `rewards = "switch"` (Wang et al. 2018): one state pays `high` (0.9), the other `low`
//!   (0.1), assigned at random each episode and swapped with probability `switch` per trial;
//! - `rewards = "drift"` (Daw et al. 2011): each state's probability starts uniform in
//!   [0.25, 0.75] and takes a Gaussian random-walk step (sd `drift`) per trial, reflected at
//!   the bounds.
//!
//! A model-free learner repeats a first-stage choice that was rewarded, whatever the
//! transition; a model-based one repeats it after a reward through a common transition but
//! switches after a reward through a rare one (the reward says the *other* choice's common
//! state is good). The world records, per agent, the probability of repeating the first-stage
//! choice after each kind of trial (consecutive trials of one episode, over the phase).
//!
//! Ports: input `action` `[P, 1]` (Action, required); outputs `token`, `reward`, `stage`
//! (Time: 1 or 2), `episode_start` (Time: 1 on an episode's first step), and the stay
//! probabilities `stay_rewarded_common`, `stay_rewarded_rare`, `stay_unrewarded_common`,
//! `stay_unrewarded_rare` (Value; NaN until a trial of that kind has been followed by another),
//! all `[P, 1]`.

use std::sync::Arc;

use crate::rng::SimRng;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::metrics::{Chart, Row, SummaryEntry, last_reading};
use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::signal::{Signal, SignalKind};

/// How the second-stage reward probabilities change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardProcess {
    /// High/low, swapped at random (Wang et al. 2018).
    Switch,
    /// Independent Gaussian random walks in [0.25, 0.75] (Daw et al. 2011).
    Drift,
}

/// The two-step task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwoStepConfig {
    /// Probability of the common transition.
    pub common: f64,
    /// How the reward probabilities change.
    pub rewards: RewardProcess,
    /// The paying state's probability (switch).
    pub high: f64,
    /// The other state's probability (switch).
    pub low: f64,
    /// Probability per trial that the two states swap (switch).
    pub switch: f64,
    /// Standard deviation of the random-walk step per trial (drift).
    pub drift: f64,
    /// Trials per episode (two steps each); 0 for one endless episode.
    pub episode_length: u64,
    /// The first-stage token.
    pub stage1: String,
    /// The two second-stage tokens.
    pub stage2: [String; 2],
}

impl Default for TwoStepConfig {
    fn default() -> Self {
        TwoStepConfig {
            common: 0.8,
            rewards: RewardProcess::Switch,
            high: 0.9,
            low: 0.1,
            switch: 0.025,
            drift: 0.025,
            episode_length: 100,
            stage1: "fixation".into(),
            stage2: ["planet_a".into(), "planet_b".into()],
        }
    }
}

impl TwoStepConfig {
    /// The three state tokens: first stage, then the two second-stage states.
    pub fn words(&self) -> Vec<String> {
        vec![
            self.stage1.clone(),
            self.stage2[0].clone(),
            self.stage2[1].clone(),
        ]
    }
}

/// The stay-probability outputs, by the last trial: rewarded or not × common or rare transition.
pub const STAY_PORTS: [&str; 4] = [
    "stay_rewarded_common",
    "stay_rewarded_rare",
    "stay_unrewarded_common",
    "stay_unrewarded_rare",
];
impl WorldParams for TwoStepConfig {
    const KIND: &'static str = "two_step";
    const SUMMARY: &'static str =
        "the two-step task (Daw et al. 2011): model-based vs model-free stay signatures";

    fn ports(&self) -> Ports {
        ports()
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        for (name, v) in [
            ("common", self.common),
            ("high", self.high),
            ("low", self.low),
            ("switch", self.switch),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(WorldError::invalid(name, "expected a probability in [0, 1]"));
            }
        }
        if !(self.drift.is_finite() && self.drift >= 0.0) {
            return Err(WorldError::invalid("drift", "expected a number ≥ 0"));
        }
        let tokens = self.words();
        if tokens[0] == tokens[1] || tokens[0] == tokens[2] || tokens[1] == tokens[2] {
            return Err(WorldError::invalid(
                "stage2",
                "expected three different state tokens",
            ));
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(self.words())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        Ok(self.words().into_iter().map(|w| (w, 1)).collect())
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(TwoStepWorld::new(self, vocabulary, population)?))
    }

    /// The stay signature per agent: `stay: rewarded common − rare` and
    /// `stay: reward × transition` = (RC − RR) − (UC − UR), summarised across agents.
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        let mut out = BTreeMap::new();
        let stay = STAY_KEYS.map(|(k, _)| last_reading(rows, k));
        let [Some(rc), Some(rr), Some(uc), Some(ur)] = stay else {
            return out;
        };
        let mut main = Vec::new();
        let mut interaction = Vec::new();
        for (agent, &a) in &rc.2 {
            if let (Some(&b), Some(&c), Some(&d)) = (rr.2.get(agent), uc.2.get(agent), ur.2.get(agent))
                && [a, b, c, d].iter().all(|x| x.is_finite())
            {
                main.push(a - b);
                interaction.push((a - b) - (c - d));
            }
        }
        for (name, v) in [
            ("stay: rewarded common − rare", main),
            ("stay: reward × transition", interaction),
        ] {
            if !v.is_empty() {
                out.insert(name.to_string(), SummaryEntry::of(rc.1, rc.0, v));
            }
        }
        out
    }

    /// `stay_probability`: stay probabilities by trial kind at the last reading.
    fn figures(&self, rows: &[Row]) -> Vec<Chart> {
        let bars = stay_bars(rows);
        if bars.is_empty() {
            return Vec::new();
        }
        vec![Chart::Bars {
            stem: "stay_probability".into(),
            title: "model-based? P(repeat the first-stage choice) by the last trial".into(),
            y_label: "stay probability: median across agents (whiskers: 10–90%)".into(),
            bars,
        }]
    }
}

/// The stay outputs, in plotting order, and their labels.
const STAY_KEYS: [(&str, &str); 4] = [
    ("world.stay_rewarded_common", "rewarded, common"),
    ("world.stay_rewarded_rare", "rewarded, rare"),
    ("world.stay_unrewarded_common", "unrewarded, common"),
    ("world.stay_unrewarded_rare", "unrewarded, rare"),
];

/// Stay probability per trial kind at the last step it was read: (label, (p10, median, p90)).
pub fn stay_bars(rows: &[Row]) -> Vec<(String, (f32, f32, f32))> {
    let mut out = Vec::new();
    for (key, label) in STAY_KEYS {
        let Some(last) = rows.iter().filter(|r| r.key == key).map(|r| r.step).max() else {
            continue;
        };
        let v: Vec<f32> = rows
            .iter()
            .filter(|r| r.key == key && r.step == last && r.value.is_finite())
            .map(|r| r.value)
            .collect();
        if !v.is_empty() {
            let e = SummaryEntry::of(label, last, v);
            out.push((label.to_string(), (e.p10, e.median, e.p90)));
        }
    }
    out
}

/// The ports of a two-step world.
pub fn ports() -> Ports {
    let mut outputs = vec![
        PortSpec::output("token", SignalKind::Token, 1, "the state"),
        PortSpec::output("reward", SignalKind::Reward, 1, "the last trial's outcome"),
        PortSpec::output("stage", SignalKind::Time, 1, "1 or 2"),
        PortSpec::output(
            "episode_start",
            SignalKind::Time,
            1,
            "1 on an episode's first step",
        ),
    ];
    for name in STAY_PORTS {
        outputs.push(PortSpec::output(
            name,
            SignalKind::Value,
            1,
            "P(repeat the first choice)",
        ));
    }
    Ports {
        inputs: vec![PortSpec::input(
            "action",
            SignalKind::Action,
            Width::Fixed(1),
            "the choice",
        )],
        outputs,
    }
}

/// One agent's task.
#[derive(Serialize, Deserialize)]
struct Agent {
    task: SimRng,
    outcomes: SimRng,
    /// Reward probability of each second-stage state.
    probabilities: [f64; 2],
    /// This trial's first choice, whether its transition was common, and its state.
    choice: usize,
    common: bool,
    state: usize,
    pending: f32,
    /// The previous trial of this episode: its kind (index into [`STAY_PORTS`]) and choice.
    previous: Option<(usize, usize)>,
    /// Stays and trials, per kind.
    stays: [(u32, u32); 4],
}

/// The two-step task for P agents.
pub struct TwoStepWorld {
    config: TwoStepConfig,
    vocabulary: Arc<Vocabulary>,
    tokens: [u32; 3],
    agents: Vec<Agent>,
    /// The step about to be shown.
    step: u64,
}

impl TwoStepWorld {
    /// The task over a vocabulary holding its three tokens.
    pub fn new(config: &TwoStepConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let id = |w: &String| {
            vocabulary
                .id(w)
                .ok_or_else(|| Error::Run(format!("`{w}` is not in the vocabulary")))
        };
        let tokens = [
            id(&config.stage1)?,
            id(&config.stage2[0])?,
            id(&config.stage2[1])?,
        ];
        let mut world = TwoStepWorld {
            config: config.clone(),
            vocabulary,
            tokens,
            agents: Vec::new(),
            step: 0,
        };
        world.reset(&(0..population as u64).collect::<Vec<_>>());
        Ok(world)
    }

    fn trial(&self, step: u64) -> u64 {
        step / 2
    }

    fn starts_episode(&self, trial: u64) -> bool {
        let l = self.config.episode_length;
        trial == 0 || (l > 0 && trial.is_multiple_of(l))
    }

    fn new_probabilities(&self, rng: &mut SimRng) -> [f64; 2] {
        match self.config.rewards {
            RewardProcess::Switch => {
                if rng.r#gen::<bool>() {
                    [self.config.high, self.config.low]
                } else {
                    [self.config.low, self.config.high]
                }
            }
            RewardProcess::Drift => [rng.gen_range(0.25..=0.75), rng.gen_range(0.25..=0.75)],
        }
    }

    fn evolve(&self, p: &mut [f64; 2], rng: &mut SimRng) {
        match self.config.rewards {
            RewardProcess::Switch => {
                if rng.r#gen::<f64>() < self.config.switch {
                    p.swap(0, 1);
                }
            }
            RewardProcess::Drift => {
                let step = Normal::new(0.0, self.config.drift).expect("sd ≥ 0");
                for q in p.iter_mut() {
                    let mut v = *q + step.sample(rng);
                    // Reflect at the bounds.
                    if v > 0.75 {
                        v = 1.5 - v;
                    }
                    if v < 0.25 {
                        v = 0.5 - v;
                    }
                    *q = v.clamp(0.25, 0.75);
                }
            }
        }
    }
}

impl World for TwoStepWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        self.agents = seeds
            .iter()
            .map(|&s| Agent {
                task: SimRng::seed_from_u64(s ^ 0x7E57_0001),
                outcomes: SimRng::seed_from_u64(s ^ 0x7E57_0002),
                probabilities: [0.5; 2],
                choice: 0,
                common: true,
                state: 0,
                pending: 0.0,
                previous: None,
                stays: [(0, 0); 4],
            })
            .collect();
        self.step = 0;
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.agents.len();
        let first = self.step.is_multiple_of(2);
        let trial = self.trial(self.step);
        let start = first && self.starts_episode(trial);
        let mut token = Array2::zeros((p, 1));
        let mut reward = Array2::zeros((p, 1));
        let mut stays = Array2::<f32>::zeros((p, 4));
        let mut agents = std::mem::take(&mut self.agents);
        for (i, agent) in agents.iter_mut().enumerate() {
            if first {
                reward[[i, 0]] = std::mem::take(&mut agent.pending);
                if start {
                    agent.probabilities = self.new_probabilities(&mut agent.task);
                    agent.previous = None;
                }
                token[[i, 0]] = self.tokens[0] as f32;
            } else {
                token[[i, 0]] = self.tokens[1 + agent.state] as f32;
            }
            for (k, &(stay, n)) in agent.stays.iter().enumerate() {
                stays[[i, k]] = if n == 0 { f32::NAN } else { stay as f32 / n as f32 };
            }
        }
        self.agents = agents;
        let fill = |v: f32| Signal::Host(Array2::from_elem((p, 1), v));
        let mut out = vec![
            ("token", Signal::Host(token)),
            ("reward", Signal::Host(reward)),
            ("stage", fill(if first { 1.0 } else { 2.0 })),
            ("episode_start", fill(if start { 1.0 } else { 0.0 })),
        ];
        for (k, name) in STAY_PORTS.iter().enumerate() {
            out.push((
                name,
                Signal::Host(stays.slice(ndarray::s![.., k..k + 1]).to_owned()),
            ));
        }
        self.step += 1;
        Ok(out)
    }

    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        let actions = inputs
            .get("action")
            .ok_or_else(|| Error::Run("two_step: no `action` input".into()))?
            .to_host();
        let shown = self.step.saturating_sub(1);
        let first = shown.is_multiple_of(2);
        let ends = {
            let l = self.config.episode_length;
            l > 0 && self.trial(shown) % l == l - 1
        };
        let mut agents = std::mem::take(&mut self.agents);
        for (agent, &a) in agents.iter_mut().zip(actions.column(0)) {
            let a = a as usize;
            if a > 1 {
                return Err(Error::Run(format!("two_step: action {a} of 2")));
            }
            if first {
                if let Some((kind, choice)) = agent.previous {
                    agent.stays[kind].0 += u32::from(a == choice);
                    agent.stays[kind].1 += 1;
                }
                agent.choice = a;
                agent.common = agent.task.r#gen::<f64>() < self.config.common;
                agent.state = if agent.common { a } else { 1 - a };
            } else {
                let won = agent.outcomes.r#gen::<f64>() < agent.probabilities[agent.state];
                agent.pending = if won { 1.0 } else { 0.0 };
                let kind = match (won, agent.common) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, true) => 2,
                    (false, false) => 3,
                };
                agent.previous = (!ends).then_some((kind, agent.choice));
                self.evolve(&mut agent.probabilities, &mut agent.task);
            }
        }
        self.agents = agents;
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        super::save_agents_and_step(out, &self.agents, &self.step);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        super::restore_agents_and_step(from, &mut self.agents, &mut self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(config: &TwoStepConfig, p: usize) -> TwoStepWorld {
        let vocab = Arc::new(Vocabulary::from_counts(
            config.words().into_iter().map(|w| (w, 1)).collect(),
        ));
        TwoStepWorld::new(config, vocab, p).unwrap()
    }

    /// Plays `trials` trials with a policy of (last reward, last state, last choice) → choice; returns the stay probabilities and the share of common transitions.
    fn play(
        config: &TwoStepConfig,
        trials: u64,
        policy: impl Fn(f32, usize, usize) -> usize,
    ) -> ([f32; 4], f64) {
        let mut w = world(config, 1);
        let (mut last_state, mut last_choice) = (0, 0);
        let mut common = 0;
        let mut stays = [0.0; 4];
        for _ in 0..trials {
            let out = w.step().unwrap();
            assert_eq!(out[0].1.to_host()[[0, 0]], w.tokens[0] as f32);
            let last_reward = out[1].1.to_host()[[0, 0]];
            let choice = policy(last_reward, last_state, last_choice);
            let mut i = Inputs::default();
            i.insert("action", Signal::Host(Array2::from_elem((1, 1), choice as f32)));
            w.act(&i).unwrap();
            let out = w.step().unwrap();
            let state = if out[0].1.to_host()[[0, 0]] == w.tokens[1] as f32 {
                0
            } else {
                1
            };
            common += usize::from(state == choice);
            for (k, s) in stays.iter_mut().enumerate() {
                *s = out[4 + k].1.to_host()[[0, 0]];
            }
            w.act(&i).unwrap();
            (last_state, last_choice) = (state, choice);
        }
        (stays, common as f64 / trials as f64)
    }

    #[test]
    fn transitions_are_common_at_their_rate_and_stay_counts_follow_the_policy() {
        let config = TwoStepConfig::default();
        // Model-free "win-stay, lose-shift": stays after every reward, common or rare.
        let (stays, common) = play(&config, 4000, |r, _, c| if r > 0.0 { c } else { 1 - c });
        assert!((common - 0.8).abs() < 0.03, "{common}");
        assert!(
            stays[0] == 1.0 && stays[1] == 1.0 && stays[2] == 0.0 && stays[3] == 0.0,
            "{stays:?}"
        );
        // Model-based: choose the action whose common state was rewarded last (or not).
        let (stays, _) = play(&config, 4000, |r, s, _| if r > 0.0 { s } else { 1 - s });
        assert!(stays[0] == 1.0 && stays[1] == 0.0, "{stays:?}");
        assert!(stays[2] == 0.0 && stays[3] == 1.0, "{stays:?}");
    }

    #[test]
    fn drifting_probabilities_stay_in_bounds() {
        let config = TwoStepConfig {
            rewards: RewardProcess::Drift,
            drift: 0.2,
            ..Default::default()
        };
        let w = world(&config, 1);
        let mut rng = SimRng::seed_from_u64(3);
        let mut p = w.new_probabilities(&mut rng);
        for _ in 0..10_000 {
            w.evolve(&mut p, &mut rng);
            assert!(p.iter().all(|q| (0.25..=0.75).contains(q)), "{p:?}");
        }
    }

    #[test]
    fn derived_stay_signature_is_computed_per_agent() {
        let row = |agent: usize, key: &str, value: f32| Row {
            phase: "test".into(),
            step: 10,
            agent,
            probe: key.trim_start_matches("world.").into(),
            key: key.into(),
            value,
        };
        let mut rows = Vec::new();
        for agent in 0..2 {
            for (key, v) in [
                ("rewarded_common", 0.9),
                ("rewarded_rare", 0.6),
                ("unrewarded_common", 0.5),
            ] {
                rows.push(row(agent, &format!("world.stay_{key}"), v));
            }
            rows.push(row(agent, "world.stay_unrewarded_rare", 0.7 + agent as f32 * 0.1));
        }
        let d = TwoStepConfig::default().derived(&rows);
        assert!((d["stay: rewarded common − rare"].median - 0.3).abs() < 1e-6);
        // (0.9 − 0.6) − (0.5 − 0.7) = 0.5 and (0.9 − 0.6) − (0.5 − 0.8) = 0.6.
        let i = &d["stay: reward × transition"];
        assert!((i.median - 0.55).abs() < 1e-6 && i.agents == 2, "{i:?}");
        // One trial kind missing: no signature, and the bars show the three there are.
        let three: Vec<Row> = rows
            .iter()
            .filter(|r| !r.key.ends_with("unrewarded_rare"))
            .cloned()
            .collect();
        assert!(TwoStepConfig::default().derived(&three).is_empty());
        assert_eq!(stay_bars(&three).len(), 3);
    }
}
