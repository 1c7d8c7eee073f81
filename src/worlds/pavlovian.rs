//! # pavlovian — cue → delay → reward trials (Schultz, Dayan & Montague 1997)
//!
//! Each trial: an inter-trial interval of `iti` tokens (its length drawn uniformly from
//! `[iti_min, iti_max]`, so the cue's onset cannot be predicted), the `cue` token, then one
//! token per tick since the cue, `t1` … `t{delay}`, a complete serial compound (Sutton & Barto
//! 1990) that gives every moment of the delay a state of its own. On `t{delay}` the reward
//! `reward` arrives with probability `probability` (0: omission trials). Each agent draws its own
//! intervals and outcomes.
//!
//! Ports: `token` `[P, 1]` (Token), `reward` `[P, 1]` (Reward), `time` `[P, 1]` (Time: ticks
//! since the cue, −1 during the interval), `trial` `[P, 1]` (Time: trials begun so far).

use std::sync::Arc;

use crate::rng::SimRng;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Vocabulary, World, WorldError, WorldParams};
use crate::checkpoint::Snapshot;
use crate::error::Result;
use crate::metrics::{Chart, Curve, Row, percentile};
use crate::ports::Ports;
use crate::ports::{Outputs, PortSpec};
use crate::signal::{Signal, SignalKind};
use std::collections::BTreeMap;

/// The inter-trial token.
pub const ITI: &str = "iti";

/// A Pavlovian conditioning schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PavlovianConfig {
    /// The conditioned stimulus.
    pub cue: String,
    /// Ticks from the cue to the reward (≥ 1).
    pub delay: usize,
    /// Shortest inter-trial interval, in ticks.
    pub iti_min: usize,
    /// Longest inter-trial interval, in ticks.
    pub iti_max: usize,
    /// The reward's size.
    pub reward: f64,
    /// Probability that a trial is rewarded (0: every trial is an omission).
    pub probability: f64,
}

impl Default for PavlovianConfig {
    fn default() -> Self {
        PavlovianConfig {
            cue: "tone".into(),
            delay: 2,
            iti_min: 80,
            iti_max: 160,
            reward: 1.0,
            probability: 1.0,
        }
    }
}

impl PavlovianConfig {
    /// The words of this world, with their expected frequencies.
    pub fn word_counts(&self) -> Vec<(String, u64)> {
        let iti = ((self.iti_min + self.iti_max) / 2) as u64;
        let mut words = vec![(ITI.to_string(), iti), (self.cue.clone(), 1)];
        words.extend((1..=self.delay).map(|k| (format!("t{k}"), 1)));
        words
    }
}
impl WorldParams for PavlovianConfig {
    const KIND: &'static str = "pavlovian";
    const SUMMARY: &'static str = "cue → delay → reward trials (Schultz 1997: the RPE moves to the cue)";

    fn ports(&self) -> Ports {
        Ports::outputs_only(ports())
    }

    fn check(&self) -> std::result::Result<(), WorldError> {
        let bad = |key: &str, msg: &str| Err(WorldError::invalid(key, msg));
        // Each tick of the delay is a word (`t1`, `t2`, …): bounded like a vocabulary.
        if self.delay == 0 || self.delay > 100_000 {
            return bad(
                "delay",
                "expected an integer in [1, 100000] (each tick of it is a word)",
            );
        }
        if self.iti_min == 0 || self.iti_max < self.iti_min || self.iti_max > 1_000_000_000 {
            return bad("iti_max", "expected 1 ≤ iti_min ≤ iti_max ≤ 1000000000");
        }
        if !(0.0..=1.0).contains(&self.probability) {
            return bad("probability", "expected a probability in [0, 1]");
        }
        if !self.reward.is_finite() {
            return bad("reward", "expected a finite number");
        }
        if self.cue == ITI || self.cue.is_empty() {
            return bad("cue", "expected a word other than `iti`");
        }
        Ok(())
    }

    fn closed_words(&self) -> Option<Vec<String>> {
        Some(self.word_counts().into_iter().map(|(w, _)| w).collect())
    }

    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        Ok(PavlovianConfig::word_counts(self))
    }

    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        Ok(Box::new(PavlovianWorld::new(self, vocabulary, population)?))
    }

    /// `rpe_raster` (trial × time from the cue, median δ across agents) and `rpe_transfer` (δ at
    /// the cue and at the reward's time over trials, median and 10–90% band), for runs that
    /// probe an `rpe` port and `world.time` every tick.
    fn figures(&self, rows: &[Row]) -> Vec<Chart> {
        let (before, delay) = (2, self.delay);
        let Some(trials) = trial_rpes(rows, before, delay + 2) else {
            return Vec::new();
        };
        let n = trials.iter().map(Vec::len).min().unwrap_or(0);
        let width = before + delay + 3;
        let cell = |t: usize, k: usize| -> Vec<f32> {
            let mut v: Vec<f32> = trials.iter().map(|a| a[t][k]).collect();
            v.sort_by(f32::total_cmp);
            v
        };
        let medians: Vec<Vec<f32>> = (0..n)
            .map(|t| (0..width).map(|k| percentile(&cell(t, k), 0.5)).collect())
            .collect();
        let mut transfer: BTreeMap<String, Curve> = BTreeMap::new();
        for (name, k) in [("δ at cue", before), ("δ at reward time", before + delay)] {
            let curve = (0..n)
                .map(|t| {
                    let v = cell(t, k);
                    (
                        t as u64 + 1,
                        (percentile(&v, 0.1), percentile(&v, 0.5), percentile(&v, 0.9)),
                    )
                })
                .collect();
            transfer.insert(name.to_string(), curve);
        }
        vec![
            Chart::Raster {
                stem: "rpe_raster".into(),
                title: "RPE around the cue, trial by trial (median δ across agents)".into(),
                x_label: "ticks from the cue".into(),
                cells: medians,
                before,
            },
            Chart::Curves {
                stem: "rpe_transfer".into(),
                title: "does the RPE move from the reward to the cue over trials?".into(),
                x_label: "trial".into(),
                y_label: "δ: median across agents (band: 10–90%)".into(),
                curves: transfer,
            },
        ]
    }
}

/// One tick of one agent: (δ, time since the cue).
type RpeTick = (Option<f32>, Option<f32>);

/// Trial-aligned RPEs: for each agent, for each trial (a tick whose `time` is 0), δ at offsets
/// `-before ..= after` from the cue. Needs a `signal` probe on an `rpe` port and one on
/// `world.time`, both taken every tick.
pub fn trial_rpes(rows: &[Row], before: usize, after: usize) -> Option<Vec<Vec<Vec<f32>>>> {
    let rpe_key = rows.iter().find(|r| r.key.ends_with(".rpe"))?.key.clone();
    let mut by_agent: BTreeMap<usize, BTreeMap<u64, RpeTick>> = BTreeMap::new();
    for r in rows {
        let slot = if r.key == rpe_key {
            0
        } else if r.key == "world.time" {
            1
        } else {
            continue;
        };
        let e = by_agent
            .entry(r.agent)
            .or_default()
            .entry(r.step)
            .or_insert((None, None));
        if slot == 0 {
            e.0 = Some(r.value)
        } else {
            e.1 = Some(r.value)
        }
    }
    let mut out = Vec::new();
    for steps in by_agent.values() {
        let ticks: Vec<(u64, f32, f32)> = steps
            .iter()
            .filter_map(|(&s, &(d, t))| Some((s, d?, t?)))
            .collect();
        let mut trials = Vec::new();
        for (i, &(_, _, t)) in ticks.iter().enumerate() {
            if t == 0.0 && i >= before && i + after < ticks.len() {
                trials.push(ticks[i - before..=i + after].iter().map(|x| x.1).collect());
            }
        }
        out.push(trials);
    }
    (!out.is_empty() && out.iter().all(|t: &Vec<Vec<f32>>| !t.is_empty())).then_some(out)
}

/// The ports of a Pavlovian world.
pub fn ports() -> Vec<PortSpec> {
    vec![
        PortSpec::output("token", SignalKind::Token, 1, "iti, the cue, or t1 … t{delay}"),
        PortSpec::output(
            "reward",
            SignalKind::Reward,
            1,
            "the reward, on t{delay} of rewarded trials",
        ),
        PortSpec::output(
            "time",
            SignalKind::Time,
            1,
            "ticks since the cue; −1 in the interval",
        ),
        PortSpec::output("trial", SignalKind::Time, 1, "trials begun so far"),
    ]
}

#[derive(Serialize, Deserialize)]
struct Agent {
    rng: SimRng,
    /// Ticks left in the interval; when 0 the next tick is the cue.
    iti_left: usize,
    /// Ticks since the cue, if in a trial.
    time: Option<usize>,
    trials: u64,
    rewarded: bool,
}

/// Cue–reward trials for P agents.
pub struct PavlovianWorld {
    config: PavlovianConfig,
    vocabulary: Arc<Vocabulary>,
    ids: Vec<u32>,
    agents: Vec<Agent>,
}

impl PavlovianWorld {
    /// A world over a vocabulary that holds its words.
    pub fn new(config: &PavlovianConfig, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Self> {
        let ids = config
            .word_counts()
            .iter()
            .map(|(w, _)| super::word_id(&vocabulary, "pavlovian", w))
            .collect::<Result<_>>()?;
        let mut world = PavlovianWorld {
            config: config.clone(),
            vocabulary,
            ids,
            agents: Vec::new(),
        };
        world.reset(&(0..population as u64).collect::<Vec<_>>());
        Ok(world)
    }
}

impl World for PavlovianWorld {
    fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn reset(&mut self, seeds: &[u64]) {
        let c = &self.config;
        self.agents = seeds
            .iter()
            .map(|&s| {
                let mut rng = SimRng::seed_from_u64(s);
                let iti_left = rng.gen_range(c.iti_min..=c.iti_max);
                Agent {
                    rng,
                    iti_left,
                    time: None,
                    trials: 0,
                    rewarded: false,
                }
            })
            .collect();
    }

    fn step(&mut self) -> Result<Outputs> {
        let p = self.agents.len();
        let c = &self.config;
        let (mut token, mut reward) = (Array2::zeros((p, 1)), Array2::zeros((p, 1)));
        let (mut time, mut trial) = (Array2::from_elem((p, 1), -1.0), Array2::zeros((p, 1)));
        for (i, a) in self.agents.iter_mut().enumerate() {
            let word = match a.time {
                None if a.iti_left > 0 => {
                    a.iti_left -= 1;
                    0
                }
                None => {
                    a.time = Some(0);
                    a.trials += 1;
                    a.rewarded = a.rng.r#gen::<f64>() < c.probability;
                    1
                }
                Some(t) => {
                    let t = t + 1;
                    a.time = Some(t);
                    if t == c.delay && a.rewarded {
                        reward[[i, 0]] = c.reward as f32;
                    }
                    1 + t
                }
            };
            token[[i, 0]] = self.ids[word] as f32;
            if let Some(t) = a.time {
                time[[i, 0]] = t as f32;
                if t == c.delay {
                    a.time = None;
                    a.iti_left = a.rng.gen_range(c.iti_min..=c.iti_max);
                }
            }
            trial[[i, 0]] = a.trials as f32;
        }
        Ok(vec![
            ("token", Signal::Host(token)),
            ("reward", Signal::Host(reward)),
            ("time", Signal::Host(time)),
            ("trial", Signal::Host(trial)),
        ])
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put("agents", &self.agents);
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        super::restore_agents(from, "agents", &mut self.agents)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_run_iti_cue_delay_reward_with_the_set_probability() {
        let config = PavlovianConfig {
            delay: 3,
            iti_min: 2,
            iti_max: 4,
            probability: 0.5,
            ..Default::default()
        };
        config.check().unwrap();
        let vocab = Arc::new(Vocabulary::from_counts(config.word_counts()));
        let mut w = PavlovianWorld::new(&config, vocab.clone(), 1).unwrap();
        let (mut trials, mut rewarded, mut last_time) = (0, 0, -1.0);
        for _ in 0..4000 {
            let out = w.step().unwrap();
            let word = vocab.word(out[0].1.to_host()[[0, 0]] as u32).unwrap().to_string();
            let r = out[1].1.to_host()[[0, 0]];
            let t = out[2].1.to_host()[[0, 0]];
            match t as i64 {
                -1 => assert_eq!(word, ITI),
                0 => {
                    assert_eq!(word, "tone");
                    trials += 1;
                }
                k => {
                    assert_eq!(t, last_time + 1.0, "time runs on within a trial");
                    assert_eq!(word, format!("t{k}"));
                }
            }
            if r != 0.0 {
                assert_eq!((t, r), (3.0, 1.0), "reward only at the delay");
                rewarded += 1;
            }
            last_time = t;
        }
        let share = rewarded as f64 / trials as f64;
        assert!(
            trials > 400 && (share - 0.5).abs() < 0.08,
            "{trials} trials, {share} rewarded"
        );
    }
}
