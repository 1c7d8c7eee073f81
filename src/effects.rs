//! # Effects — what a scenario claims, measured in every agent and judged by its published direction
//!
//! An effect compares two readings of one probe, each a key's last reading within a phase,
//! optionally as a fraction of the same key's last reading within an earlier phase:
//!
//! ```text
//! x(key, phase)              the key's reading at the phase's last probe step, per agent
//! side = x(key, phase)   or  x(key, phase) / x(key, per)          (`per = "…"`: retention)
//!        or the mean of x(k, phase) over k in `mean_of` (a group of keys, `key` its label)
//! effect_i = a_i − b_i                                            (agent i)
//! verdict  = reproduced      if median_i effect_i ≥  min
//!            opposite        if median_i effect_i ≤ −min
//!            not reproduced  otherwise
//! ```
//!
//! The published direction is always written as a > b (blocking: the control cue's valence
//! above the blocked cue's); `min` is the smallest median effect that counts. The spread across
//! agents (10th–90th percentiles) and the share of agents with a > b are reported beside it.
//!
//! ```toml
//! [[effects]]
//! name = "blocking"
//! source = "Kamin (1969)"
//! claim = "a cue added to a cue that already predicts the outcome gains less value"
//! probe = "valence"
//! a = { key = "y", phase = "test" }          # the control: a novel compound's cue
//! b = { key = "x", phase = "test" }          # the blocked cue
//! min = 0.02
//! mechanism = "a latent that sums the cues present, so that they share one prediction"
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::{Row, percentile};

/// One side of an effect: a key's reading at the end of a phase, or its retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    /// The probe's key (a concept, for a `valence` probe).
    pub key: String,
    /// The phase whose last reading counts.
    pub phase: String,
    /// If set, the reading is divided by the key's last reading in this phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<String>,
    /// If not empty, the side is the mean of these keys' readings (per agent), and `key` is
    /// the group's label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean_of: Vec<String>,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.mean_of.is_empty() {
            return write!(
                f,
                "mean of {} ({}) at the end of {}",
                self.key,
                self.mean_of.join(" "),
                self.phase
            );
        }
        match &self.per {
            None => write!(f, "{} at the end of {}", self.key, self.phase),
            Some(per) => write!(
                f,
                "{} at the end of {} / at the end of {per}",
                self.key, self.phase
            ),
        }
    }
}

/// A claim of a scenario: the published direction of an effect, a > b.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectSpec {
    /// Its name (unique in the scenario).
    pub name: String,
    /// Where the effect was published.
    #[serde(default)]
    pub source: String,
    /// The claim in words.
    #[serde(default)]
    pub claim: String,
    /// The probe read.
    pub probe: String,
    /// The side expected higher.
    pub a: Side,
    /// The side expected lower.
    pub b: Side,
    /// The smallest median a − b counted as the effect (≥ 0).
    pub min: f32,
    /// What the model would need to show the effect, where it does not.
    #[serde(default)]
    pub mechanism: String,
}

/// How a measured effect stands against its published direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The median effect is at least `min` in the published direction.
    Reproduced,
    /// Neither way by `min`.
    NotReproduced,
    /// At least `min` the other way.
    Opposite,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::Opposite => "opposite",
        })
    }
}

/// An effect measured in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// What was claimed.
    #[serde(flatten)]
    pub spec: EffectSpec,
    /// Median across agents of a − b.
    pub median: f32,
    /// 10th percentile.
    pub p10: f32,
    /// 90th percentile.
    pub p90: f32,
    /// The share of agents with a > b.
    pub share: f32,
    /// Agents measured.
    pub agents: usize,
    /// The verdict.
    pub verdict: Verdict,
}

/// Each agent's last reading of `probe`/`key` within `phase`.
pub fn at_phase_end(rows: &[Row], probe: &str, key: &str, phase: &str) -> BTreeMap<usize, f32> {
    let mut last: BTreeMap<usize, (u64, f32)> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.probe == probe && r.key == key && r.phase == phase)
    {
        let e = last.entry(r.agent).or_insert((r.step, r.value));
        if r.step >= e.0 {
            *e = (r.step, r.value);
        }
    }
    last.into_iter().map(|(a, (_, v))| (a, v)).collect()
}

/// One side's value per agent.
fn side(rows: &[Row], probe: &str, s: &Side) -> Result<BTreeMap<usize, f32>> {
    if !s.mean_of.is_empty() {
        let mut sum: BTreeMap<usize, (f32, usize)> = BTreeMap::new();
        for key in &s.mean_of {
            let one = Side {
                key: key.clone(),
                mean_of: Vec::new(),
                ..s.clone()
            };
            for (agent, v) in side(rows, probe, &one)? {
                let e = sum.entry(agent).or_insert((0.0, 0));
                *e = (e.0 + v, e.1 + 1);
            }
        }
        let n = s.mean_of.len();
        return Ok(sum
            .into_iter()
            .filter(|(_, (_, k))| *k == n)
            .map(|(a, (total, _))| (a, total / n as f32))
            .collect());
    }
    let x = at_phase_end(rows, probe, &s.key, &s.phase);
    if x.is_empty() {
        return Err(Error::Run(format!(
            "effect: no `{probe}` reading of `{}` in phase `{}`",
            s.key, s.phase
        )));
    }
    let Some(per) = &s.per else {
        return Ok(x);
    };
    let base = at_phase_end(rows, probe, &s.key, per);
    Ok(x.into_iter()
        .filter_map(|(a, v)| base.get(&a).map(|b| (a, v / b)))
        .collect())
}

impl EffectSpec {
    /// The effect in a run's readings: a − b per agent, its spread and verdict. An error if
    /// a side has no readings.
    pub fn measure(&self, rows: &[Row]) -> Result<Measured> {
        let (a, b) = (
            side(rows, &self.probe, &self.a)?,
            side(rows, &self.probe, &self.b)?,
        );
        let mut d: Vec<f32> = a
            .iter()
            .filter_map(|(agent, x)| Some(x - b.get(agent)?))
            .filter(|d| d.is_finite())
            .collect();
        d.sort_by(f32::total_cmp);
        let median = percentile(&d, 0.5);
        let verdict = if median >= self.min {
            Verdict::Reproduced
        } else if median <= -self.min {
            Verdict::Opposite
        } else {
            Verdict::NotReproduced
        };
        Ok(Measured {
            spec: self.clone(),
            median,
            p10: percentile(&d, 0.1),
            p90: percentile(&d, 0.9),
            share: d.iter().filter(|&&x| x > 0.0).count() as f32 / d.len().max(1) as f32,
            agents: d.len(),
            verdict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(phase: &str, step: u64, agent: usize, key: &str, value: f32) -> Row {
        Row {
            phase: phase.into(),
            step,
            agent,
            probe: "valence".into(),
            key: key.into(),
            value,
        }
    }

    fn spec(a: Side, b: Side, min: f32) -> EffectSpec {
        EffectSpec {
            name: "e".into(),
            source: String::new(),
            claim: String::new(),
            probe: "valence".into(),
            a,
            b,
            min,
            mechanism: String::new(),
        }
    }

    fn at(key: &str, phase: &str) -> Side {
        Side {
            key: key.into(),
            phase: phase.into(),
            per: None,
            mean_of: Vec::new(),
        }
    }

    #[test]
    fn an_effect_is_the_difference_at_each_phase_end_and_its_verdict_follows_the_median() {
        let mut rows = Vec::new();
        for agent in 0..5 {
            let k = agent as f32;
            rows.push(row("acq", 5, agent, "x", 9.0)); // not the phase's last reading
            rows.push(row("acq", 10, agent, "x", 1.0 + k));
            rows.push(row("acq", 10, agent, "y", 0.5));
            rows.push(row("ext", 20, agent, "x", 0.5 + 0.5 * k));
        }
        let m = spec(at("x", "acq"), at("y", "acq"), 0.1).measure(&rows).unwrap();
        assert_eq!((m.median, m.p10, m.agents), (2.5, 0.9, 5));
        assert_eq!((m.share, m.verdict), (1.0, Verdict::Reproduced));
        let m = spec(at("y", "acq"), at("x", "acq"), 0.1).measure(&rows).unwrap();
        assert_eq!(m.verdict, Verdict::Opposite);
        let m = spec(at("x", "acq"), at("y", "acq"), 3.0).measure(&rows).unwrap();
        assert_eq!(m.verdict, Verdict::NotReproduced);
        // Retention: x at the end of ext as a fraction of x at the end of acq, 0.5 in every
        // agent, against a constant 0.5.
        let kept = Side {
            per: Some("acq".into()),
            ..at("x", "ext")
        };
        let m = spec(kept, at("y", "acq"), 0.01).measure(&rows).unwrap();
        assert_eq!((m.median, m.verdict), (0.0, Verdict::NotReproduced));
        // A group: the mean of x (1 + k) and y (0.5) at the end of acq, less y: k / 2 + 0.25.
        let group = Side {
            mean_of: vec!["x".into(), "y".into()],
            ..at("xy", "acq")
        };
        let m = spec(group, at("y", "acq"), 0.1).measure(&rows).unwrap();
        assert_eq!(m.median, 1.25);
        let e = spec(at("x", "test"), at("y", "acq"), 0.1)
            .measure(&rows)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("no `valence` reading of `x` in phase `test`"),
            "{e}"
        );
    }
}
