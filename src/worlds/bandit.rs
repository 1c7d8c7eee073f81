//! # bandit — k-armed Bernoulli bandits: stationary, reversing, or new arms every episode
//!
//! Each step the agent sees the `cue` token and, as reward, the outcome of the arm it chose on
//! the previous step: 1 with that arm's probability, else 0. The probabilities are
//!
//! - `distribution = "fixed"`: the list `arms`; with `reversal_every = N` it is read backwards
//!   every N steps, so the better arm becomes the worse one (reversal learning);
//! - `"independent"`: each arm's probability drawn uniformly from [0, 1] at every episode's
//!   start (Wang et al. 2018, "independent bandits");
//! - `"correlated"`: two arms, p₁ ~ U[0, 1] and p₂ = 1 − p₁ (Wang et al. 2018, "correlated").
//!
//! With `episode_length = L > 0`, step t starts an episode when t is a multiple of L
//! (`episode_start` = 1); a meta-learner resets its memory there.
//!
//! **Baselines on the same episodes.** Alongside the agent, three reference policies play every
//! episode with the agent's arm probabilities (their own outcome draws): Thompson sampling
//! (Beta(1, 1) priors), ε-greedy (each arm once, then the best sample mean, a random arm with
//! probability `epsilon`) and a uniformly random policy. Their memory is cleared at each
//! episode's start. Regret is expected regret, max_a p_a − p_chosen, summed over an episode.
//!
//! Ports: input `action` `[P, 1]` (Action, required); outputs `token` `[P, 1]` (Token),
//! `reward` `[P, 1]` (Reward), `best_arm` `[P, 1]` (Action: the arm that is best now),
//! `episode_start` `[P, 1]` (Time), and `regret`, `thompson_regret`, `egreedy_regret`,
//! `random_regret` `[P, 1]` (Value): the mean cumulative regret per episode over the episodes
//! completed in this phase (the last `window` of them if `window > 0`; with L = 0, the
//! cumulative regret so far).

use std::sync::Arc;

use crate::regions::fork::Helper;
use crate::rng::SimRng;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Chart, Row, SummaryEntry, curves, last_reading};
use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::signal::{Signal, SignalKind};

/// A Bernoulli bandit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BanditConfig {
    /// Each arm's reward probability.
    pub arms: Vec<f64>,
    /// Reverse the arms every this many steps; 0 for a stationary bandit.
    pub reversal_every: u64,
    /// The token shown on every step.
    pub cue: String,
    /// How the arms' probabilities are chosen: fixed, or drawn anew every episode.
    pub distribution: ArmDistribution,
    /// Steps per episode; 0 for one endless episode.
    pub episode_length: u64,
    /// ε of the ε-greedy baseline.
    pub epsilon: f64,
    /// The regret outputs average the last this many episodes; 0 for all of the phase's.
    pub window: usize,
}

/// How a bandit's arm probabilities are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmDistribution {
    /// The list `arms` (with reversals if `reversal_every` is set).
    Fixed,
    /// Each arm uniform in [0, 1], drawn anew every episode.
    Independent,
    /// Two arms, p and 1 − p, p uniform in [0, 1], drawn anew every episode.
    Correlated,
}

impl Default for BanditConfig {
    fn default() -> Self {
        BanditConfig {
            arms: vec![0.8, 0.2],
            reversal_every: 0,
            cue: "choose".into(),
            distribution: ArmDistribution::Fixed,
            episode_length: 0,
            epsilon: 0.1,
            window: 0,
        }
    }
}

impl BanditConfig {
    /// The arms' probabilities at a step (reversed every `reversal_every` steps).
    pub fn probabilities(&self, step: u64) -> Vec<f64> {
        let reversed = self.reversal_every > 0 && (step / self.reversal_every) % 2 == 1;
        if reversed {
            self.arms.iter().rev().copied().collect()
        } else {
            self.arms.clone()
        }
    }
}
impl WorldParams for BanditConfig {
    const KIND: &'static str = "bandit";
    const SUMMARY: &'static str =
        "k-armed Bernoulli bandits: fixed, reversing, or new arms every episode, with baselines";

    fn ports(&self) -> Ports {
        ports()
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        if self.arms.len() < 2 {
            return Err(WorldError::invalid("arms", "expected at least two arms"));
        }
        if self.distribution == ArmDistribution::Correlated && self.arms.len() != 2 {
            return Err(WorldError::invalid(
                "arms",
                "correlated bandits have exactly two arms (p and 1 − p); give `arms` two entries",
            ));
        }
        if !(0.0..=1.0).contains(&self.epsilon) {
            return Err(WorldError::invalid("epsilon", "expected a probability in [0, 1]"));
        }
        if let Some(i) = self.arms.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(WorldError::new(
                vec!["arms".into(), i.to_string()],
                ErrorKind::InvalidValue,
                "expected a probability in [0, 1]".into(),
            ));
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(vec![self.cue.clone()])
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        Ok(vec![(self.cue.clone(), 1)])
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(BanditWorld::new(self, vocabulary, population)?))
    }

    /// The regret ratios `regret/thompson`, `regret/egreedy`, `regret/random`: the ratio of the
    /// means across agents at the last reading (one number: median = p10 = p90).
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        let mut out = BTreeMap::new();
        let mean =
            |v: &BTreeMap<usize, f32>| v.values().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
        let Some((step, phase, values)) = last_reading(rows, "world.regret") else {
            return out;
        };
        let agent = mean(&values);
        for (key, name) in [
            ("world.thompson_regret", "regret/thompson"),
            ("world.egreedy_regret", "regret/egreedy"),
            ("world.random_regret", "regret/random"),
        ] {
            if let Some(base) = last_reading(rows, key)
                .map(|(_, _, v)| mean(&v))
                .filter(|b| *b > 0.0)
            {
                let mut entry = SummaryEntry::of(phase, step, vec![(agent / base) as f32]);
                entry.agents = values.len();
                out.insert(name.to_string(), entry);
            }
        }
        out
    }

    /// `regret_curves`: the agent's regret beside the baselines', over meta-training (from any
    /// probe that reads the regret outputs).
    fn figures(&self, rows: &[Row]) -> Vec<Chart> {
        let mut labelled = BTreeMap::new();
        for keys in curves(rows).values() {
            for (key, label) in REGRET_KEYS {
                if let Some(c) = keys.get(key) {
                    labelled.insert(label.to_string(), c.clone());
                }
            }
        }
        if labelled.len() < 2 {
            return Vec::new();
        }
        vec![Chart::Curves {
            stem: "regret_curves".into(),
            title: "does the agent's regret fall below the baselines'? (same episodes)".into(),
            x_label: crate::plot::STEP_AXIS.into(),
            y_label: "regret per episode: median across agents (band: 10–90%)".into(),
            curves: labelled,
        }]
    }
}

/// The world's regret outputs and their legend labels.
const REGRET_KEYS: [(&str, &str); 4] = [
    ("world.regret", "agent"),
    ("world.thompson_regret", "Thompson sampling"),
    ("world.egreedy_regret", "ε-greedy"),
    ("world.random_regret", "random"),
];

/// The ports of a bandit world.
pub fn ports() -> Ports {
    Ports {
        inputs: vec![PortSpec::input(
            "action",
            SignalKind::Action,
            Width::Fixed(1),
            "the arm pulled",
        )],
        outputs: vec![
            PortSpec::output("token", SignalKind::Token, 1, "the cue"),
            PortSpec::output("reward", SignalKind::Reward, 1, "the last pull's outcome"),
            PortSpec::output("best_arm", SignalKind::Action, 1, "the arm that is best now"),
            PortSpec::output(
                "episode_start",
                SignalKind::Time,
                1,
                "1 on an episode's first step",
            ),
            PortSpec::output("regret", SignalKind::Value, 1, "the agent's regret per episode"),
            PortSpec::output("thompson_regret", SignalKind::Value, 1, "Thompson sampling's"),
            PortSpec::output("egreedy_regret", SignalKind::Value, 1, "ε-greedy's"),
            PortSpec::output("random_regret", SignalKind::Value, 1, "a random policy's"),
        ],
    }
}

/// The policies whose regret a bandit reports: the agent and the three baselines.
const POLICIES: [&str; 4] = ["regret", "thompson_regret", "egreedy_regret", "random_regret"];

/// One reference policy's memory within an episode: pulls and successes per arm.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Tally {
    pulls: Vec<u32>,
    wins: Vec<u32>,
}

impl Tally {
    fn new(arms: usize) -> Self {
        Tally {
            pulls: vec![0; arms],
            wins: vec![0; arms],
        }
    }

    fn record(&mut self, arm: usize, won: bool) {
        self.pulls[arm] += 1;
        self.wins[arm] += u32::from(won);
    }
}

/// Thompson sampling with Beta(1, 1) priors.
fn thompson(t: &Tally, rng: &mut SimRng) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for a in 0..t.pulls.len() {
        let (w, l) = (t.wins[a], t.pulls[a] - t.wins[a]);
        let draw = Beta::new(f64::from(w) + 1.0, f64::from(l) + 1.0)
            .expect("positive shape parameters")
            .sample(rng);
        if draw > best.1 {
            best = (a, draw);
        }
    }
    best.0
}

/// ε-greedy: each arm once, then the best sample mean (ties at random), a random arm w.p. ε.
fn epsilon_greedy(t: &Tally, epsilon: f64, rng: &mut SimRng) -> usize {
    let arms = t.pulls.len();
    if rng.r#gen::<f64>() < epsilon {
        return rng.gen_range(0..arms);
    }
    let untried = |a: &usize| t.pulls[*a] == 0;
    let n = (0..arms).filter(untried).count();
    if n > 0 {
        return nth(arms, untried, rng.gen_range(0..n));
    }
    let mean = |a: usize| f64::from(t.wins[a]) / f64::from(t.pulls[a]);
    let top = (0..arms).map(mean).fold(f64::NEG_INFINITY, f64::max);
    let best = |a: &usize| mean(*a) == top;
    nth(arms, best, rng.gen_range(0..(0..arms).filter(best).count()))
}

/// The `k`-th of the arms `0..arms` that pass `keep` (without a list of them: this runs for
/// every agent every trial).
fn nth(arms: usize, keep: impl FnMut(&usize) -> bool, k: usize) -> usize {
    (0..arms).filter(keep).nth(k).expect("k below the count")
}

/// One agent's bandit: its episodes, its outcome draws, and the baselines beside it.
#[derive(Serialize, Deserialize)]
struct Agent {
    /// Draws the arms of each episode (independent of every choice).
    episodes: SimRng,
    /// Draws the agent's outcomes.
    outcomes: SimRng,
    /// Draws the baselines' choices and outcomes.
    baselines: SimRng,
    probabilities: Vec<f64>,
    pending: Option<f32>,
    thompson: Tally,
    greedy: Tally,
    /// This episode's regret so far, per policy.
    running: [f64; 4],
    /// Completed episodes' regrets, per policy (the last `window`, or all).
    completed: std::collections::VecDeque<[f64; 4]>,
    sums: [f64; 4],
}

impl Agent {
    fn new(seed: u64, arms: usize) -> Self {
        let rng = |salt: u64| SimRng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Agent {
            episodes: rng(1),
            outcomes: rng(2),
            baselines: rng(3),
            probabilities: Vec::new(),
            pending: None,
            thompson: Tally::new(arms),
            greedy: Tally::new(arms),
            running: [0.0; 4],
            completed: Default::default(),
            sums: [0.0; 4],
        }
    }
}

/// One trial's settings, as every agent plays it.
#[derive(Clone, Copy)]
struct Trial {
    /// The trial ends an episode.
    ends: bool,
    epsilon: f64,
    window: usize,
    arms: usize,
}

impl Trial {
    /// `agents` play their `chosen` arms, and the baselines theirs.
    fn play(self, agents: &mut [Agent], chosen: &[usize]) {
        let arms = self.arms;
        for (agent, &a) in agents.iter_mut().zip(chosen) {
            let probs = &agent.probabilities;
            let top = probs.iter().copied().fold(0.0, f64::max);
            let won = agent.outcomes.r#gen::<f64>() < probs[a];
            agent.pending = Some(if won { 1.0 } else { 0.0 });
            // The baselines play the same trial.
            let rng = &mut agent.baselines;
            let ts = thompson(&agent.thompson, rng);
            let eg = epsilon_greedy(&agent.greedy, self.epsilon, rng);
            let rn = rng.gen_range(0..arms);
            let ts_won = rng.r#gen::<f64>() < probs[ts];
            let eg_won = rng.r#gen::<f64>() < probs[eg];
            agent.thompson.record(ts, ts_won);
            agent.greedy.record(eg, eg_won);
            for (k, chosen) in [a, ts, eg, rn].into_iter().enumerate() {
                agent.running[k] += top - probs[chosen];
            }
            if self.ends {
                let done = std::mem::take(&mut agent.running);
                agent.completed.push_back(done);
                (0..POLICIES.len()).for_each(|k| agent.sums[k] += done[k]);
                if self.window > 0 && agent.completed.len() > self.window {
                    let old = agent.completed.pop_front().expect("longer than window");
                    (0..POLICIES.len()).for_each(|k| agent.sums[k] -= old[k]);
                }
            }
        }
    }
}

/// Populations from which a trial's agents play in two halves, one on the helper thread (each
/// agent's trial is ~0.2 µs, mostly the Thompson baseline's Beta draws, and the helper is
/// usually still awake from the PFC's step: `meta_bandit` at P = 32 ~10% faster split than
/// not, 2026-12-05).
const HELPER_MIN_AGENTS: usize = 16;

/// Bernoulli bandits for P agents.
pub struct BanditWorld {
    config: BanditConfig,
    vocabulary: Arc<Vocabulary>,
    cue: u32,
    agents: Vec<Agent>,
    /// The step about to be shown (the trial index).
    step: u64,
    /// Splits a trial's agents in two ([`HELPER_MIN_AGENTS`] and more).
    helper: Option<Helper>,
}

impl BanditWorld {
    /// A bandit over a vocabulary holding its cue.
    pub fn new(config: &BanditConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let cue = vocabulary
            .id(&config.cue)
            .ok_or_else(|| Error::Run(format!("`{}` is not in the vocabulary", config.cue)))?;
        let mut world = BanditWorld {
            config: config.clone(),
            vocabulary,
            cue,
            agents: Vec::new(),
            step: 0,
            helper: None,
        };
        world.reset(&(0..population as u64).collect::<Vec<_>>());
        Ok(world)
    }

    fn starts_episode(&self, step: u64) -> bool {
        let l = self.config.episode_length;
        l > 0 && step.is_multiple_of(l)
    }

    fn ends_episode(&self, step: u64) -> bool {
        let l = self.config.episode_length;
        l > 0 && step % l == l - 1
    }
}

impl World for BanditWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        let arms = self.config.arms.len();
        self.agents = seeds.iter().map(|&s| Agent::new(s, arms)).collect();
        self.step = 0;
        self.helper = if seeds.len() >= HELPER_MIN_AGENTS {
            Helper::spawn()
        } else {
            None
        };
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.agents.len();
        let start = self.starts_episode(self.step) || self.step == 0;
        let mut reward = Array2::zeros((p, 1));
        let mut best = Array2::zeros((p, 1));
        let mut regrets = Array2::<f32>::zeros((p, POLICIES.len()));
        let fixed = (self.config.distribution == ArmDistribution::Fixed)
            .then(|| self.config.probabilities(self.step));
        for (i, agent) in self.agents.iter_mut().enumerate() {
            if let Some(r) = agent.pending.take() {
                reward[[i, 0]] = r;
            }
            if start {
                agent.probabilities = match self.config.distribution {
                    ArmDistribution::Fixed => fixed.clone().expect("fixed arms"),
                    ArmDistribution::Independent => (0..self.config.arms.len())
                        .map(|_| agent.episodes.r#gen::<f64>())
                        .collect(),
                    ArmDistribution::Correlated => {
                        let q = agent.episodes.r#gen::<f64>();
                        vec![q, 1.0 - q]
                    }
                };
                agent.thompson = Tally::new(self.config.arms.len());
                agent.greedy = Tally::new(self.config.arms.len());
            } else if let Some(fixed) = &fixed {
                agent.probabilities.clone_from(fixed);
            }
            let now = &agent.probabilities;
            best[[i, 0]] = (0..now.len())
                .max_by(|&a, &b| now[a].total_cmp(&now[b]).then(b.cmp(&a)))
                .unwrap_or(0) as f32;
            for k in 0..POLICIES.len() {
                regrets[[i, k]] = if self.config.episode_length == 0 {
                    agent.running[k] as f32
                } else if agent.completed.is_empty() {
                    0.0
                } else {
                    (agent.sums[k] / agent.completed.len() as f64) as f32
                };
            }
        }
        let episode_start = if self.starts_episode(self.step) { 1.0 } else { 0.0 };
        let mut out = vec![
            ("token", Signal::Host(Array2::from_elem((p, 1), self.cue as f32))),
            ("reward", Signal::Host(reward)),
            ("best_arm", Signal::Host(best)),
            (
                "episode_start",
                Signal::Host(Array2::from_elem((p, 1), episode_start)),
            ),
        ];
        for (k, name) in POLICIES.iter().enumerate() {
            out.push((
                name,
                Signal::Host(regrets.slice(ndarray::s![.., k..k + 1]).to_owned()),
            ));
        }
        self.step += 1;
        Ok(out)
    }

    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        let actions = inputs
            .get("action")
            .ok_or_else(|| Error::Run("bandit: no `action` input".into()))?
            .to_host();
        let arms = self.config.arms.len();
        let chosen: Vec<usize> = actions.column(0).iter().map(|&a| a as usize).collect();
        if let Some(a) = chosen.iter().find(|&&a| a >= arms) {
            return Err(Error::Run(format!("bandit: arm {a} of {arms}")));
        }
        let trial = Trial {
            ends: self.ends_episode(self.step.saturating_sub(1)),
            epsilon: self.config.epsilon,
            window: self.config.window,
            arms,
        };
        // Each agent draws from its own generators: the split changes nothing in the results.
        match self.helper.as_mut() {
            Some(helper) => {
                let mid = self.agents.len() / 2;
                let (here, there) = self.agents.split_at_mut(mid);
                let (chosen_here, chosen_there) = chosen.split_at(mid);
                helper.join(
                    || trial.play(here, chosen_here),
                    || trial.play(there, chosen_there),
                );
            }
            None => trial.play(&mut self.agents, &chosen),
        }
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

    #[test]
    fn pays_the_chosen_arm_at_its_rate_and_reverses() {
        let config = BanditConfig {
            arms: vec![0.9, 0.1],
            reversal_every: 1000,
            ..Default::default()
        };
        let vocab = Arc::new(Vocabulary::from_counts(vec![("choose".into(), 1)]));
        let mut w = BanditWorld::new(&config, vocab, 1).unwrap();
        let mut paid = [0.0f32; 2];
        for step in 0..2000 {
            let out = w.step().unwrap();
            let best = out[2].1.to_host()[[0, 0]];
            assert_eq!(best, if step < 1000 { 0.0 } else { 1.0 });
            if step > 0 && step < 1000 {
                paid[(step % 2) as usize ^ 1] += out[1].1.to_host()[[0, 0]];
            }
            let mut i = Inputs::default();
            i.insert(
                "action",
                Signal::Host(Array2::from_elem((1, 1), (step % 2) as f32)),
            );
            w.act(&i).unwrap();
        }
        // ~500 pulls each before the reversal: arm 0 pays ~90%, arm 1 ~10%.
        assert!(paid[0] > 400.0 && paid[1] < 100.0, "{paid:?}");
    }

    /// A population split over the helper thread plays as it does on one thread: every output
    /// of every step, and a bad arm is refused before any agent plays.
    #[test]
    fn agents_in_two_halves_play_as_on_one_thread() {
        let config = BanditConfig {
            distribution: ArmDistribution::Independent,
            episode_length: 10,
            window: 3,
            ..Default::default()
        };
        let p = HELPER_MIN_AGENTS + 3;
        let vocab = Arc::new(Vocabulary::from_counts(vec![("choose".into(), 1)]));
        let mut split = BanditWorld::new(&config, Arc::clone(&vocab), p).unwrap();
        let mut one = BanditWorld::new(&config, vocab, p).unwrap();
        one.helper = None;
        if split.helper.is_none() {
            split.helper = Some(Helper::idle());
        }
        for step in 0..95 {
            let (a, b) = (split.step().unwrap(), one.step().unwrap());
            for ((name, x), (_, y)) in a.iter().zip(&b) {
                assert_eq!(x.to_host(), y.to_host(), "{name} at step {step}");
            }
            let actions = Array2::from_shape_fn((p, 1), |(i, _)| ((i + step) % 3 % 2) as f32);
            let mut i = Inputs::default();
            i.insert("action", Signal::Host(actions));
            split.act(&i).unwrap();
            one.act(&i).unwrap();
        }
        let mut bad = Array2::zeros((p, 1));
        bad[[p - 1, 0]] = 2.0;
        let mut i = Inputs::default();
        i.insert("action", Signal::Host(bad));
        let before: Vec<_> = split.agents.iter().map(|a| a.running).collect();
        assert!(split.act(&i).unwrap_err().to_string().contains("arm 2 of 2"));
        assert_eq!(before, split.agents.iter().map(|a| a.running).collect::<Vec<_>>());
    }

    /// Plays `episodes` episodes always choosing arm 0; the regret outputs at the end.
    fn play_arm_zero(distribution: ArmDistribution, episodes: u64) -> Vec<f32> {
        let config = BanditConfig {
            distribution,
            episode_length: 100,
            ..Default::default()
        };
        let vocab = Arc::new(Vocabulary::from_counts(vec![("choose".into(), 1)]));
        let mut w = BanditWorld::new(&config, vocab, 2).unwrap();
        let mut starts = 0;
        for _ in 0..episodes * 100 {
            let out = w.step().unwrap();
            starts += out[3].1.to_host()[[0, 0]] as u64;
            let mut i = Inputs::default();
            i.insert("action", Signal::Host(Array2::zeros((2, 1))));
            w.act(&i).unwrap();
        }
        assert_eq!(starts, episodes);
        let out = w.step().unwrap();
        out[4..].iter().map(|(_, s)| s.to_host()[[0, 0]]).collect()
    }

    #[test]
    fn baselines_on_the_same_episodes_rank_thompson_greedy_random() {
        // Independent uniform arms: E[max(p₁, p₂) − p₁] = 1/6, so a fixed or random arm loses
        // 100/6 per episode of 100 trials; both learners do far better, Thompson best.
        let [fixed, thompson, greedy, random] = play_arm_zero(ArmDistribution::Independent, 400)[..] else {
            panic!("four policies")
        };
        assert!(
            (fixed - 16.7).abs() < 2.0 && (random - 16.7).abs() < 2.0,
            "{fixed} {random}"
        );
        assert!(
            thompson < greedy && greedy < 0.5 * random,
            "{thompson} {greedy} {random}"
        );
        // Correlated arms (p, 1 − p): E[max(2p − 1, 0)] = 1/4 → 25 per episode for a fixed arm.
        let correlated = play_arm_zero(ArmDistribution::Correlated, 400);
        assert!((correlated[0] - 25.0).abs() < 2.5, "{correlated:?}");
    }

    #[test]
    fn derived_regret_ratios_divide_the_means_across_agents() {
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
            rows.push(row(agent, "world.regret", 2.0));
            rows.push(row(agent, "world.thompson_regret", 4.0));
            rows.push(row(agent, "world.random_regret", 16.0));
        }
        let d = BanditConfig::default().derived(&rows);
        assert_eq!(d["regret/thompson"].median, 0.5);
        assert_eq!(d["regret/random"].median, 0.125);
        assert_eq!(d["regret/random"].agents, 2);
        assert!(!d.contains_key("regret/egreedy"), "no ε-greedy output, no ratio");
        // The figure needs the agent and at least one baseline.
        assert_eq!(BanditConfig::default().figures(&rows).len(), 1);
        assert!(BanditConfig::default().figures(&rows[..1]).is_empty());
    }
}
