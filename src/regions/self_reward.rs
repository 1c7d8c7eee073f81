//! # SelfReward — learnt valence that rewards itself (the "should" loop)
//!
//! The essay's reflexive loop between the reward model and the cortex: "the cortex \[can\] create
//! new pseudo-primary rewards which are then fed back into the basal ganglia RL system …
//! Essentially the cortex can influence the rewards it uses to train itself … cortical inputs
//! being a key part of the reward model as both the input and, to an extent, the supervised
//! target" (Millidge 2023, `../shared/reading/002_*.txt`, the section on the feedback from the
//! world model into reward evaluation). Here what the cortex feeds back is the reward model's
//! own value of the concept just read: a concept whose learnt valence is strong becomes a
//! source of reward in its own right, after its primary rewards have stopped.
//!
//! ```text
//! v_t  = V(z_{t−1})                                  the reward model's `value`, one tick late
//! r̃_t = clip( g · sign(v_t) · max(0, |v_t| − θ), −c, c )        → the reward model's `cortical`
//! ```
//!
//! Why this form: a dead zone θ keeps the loop off for the many weakly valued words (only
//! concepts valued beyond θ reward themselves, as the essay's "values" are the strongly valenced
//! concepts, not every word); a gain g sets how strongly; the clip c is the bound that keeps a
//! runaway loop finite. With the reward model's `timing = "transition"`, r̃_t arrives on the
//! transition out of the valued state and so credits that state: in extinction its value then
//! tends to g·(v − θ)·… instead of 0, decaying more slowly for g < 1 and — where g and the
//! discount together exceed 1 — growing until c stops the reward, so V is bounded by about
//! c / (1 − γ). The edge into `value` needs `delay = 1` (the loop is a cycle).
//!
//! Ports: input `value` `[P, 1]` (Value, required: `vta.value`, `delay = 1`); output `reward`
//! `[P, 1]` (Reward: to `vta.cortical`). No learnt state: ablate the loop by ablating an edge.
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `gain` | 0.5 | g ≥ 0, pseudo-reward per unit of value beyond θ |
//! | `threshold` | 0.1 | θ ≥ 0, the value below which a concept does not reward itself |
//! | `limit` | 1.0 | c > 0, the largest pseudo-reward of one tick |

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, Width};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};

/// Hyperparameters of [`SelfReward`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelfRewardConfig {
    /// g, pseudo-reward per unit of value beyond the threshold.
    pub gain: f64,
    /// θ, the dead zone.
    pub threshold: f64,
    /// c, the clip.
    pub limit: f64,
}

impl Default for SelfRewardConfig {
    fn default() -> Self {
        SelfRewardConfig {
            gain: 0.5,
            threshold: 0.1,
            limit: 1.0,
        }
    }
}

impl RegionParams for SelfRewardConfig {
    const KIND: &'static str = "self_reward";
    const SUMMARY: &'static str =
        "the \"should\" loop: a concept's learnt value, past a threshold, fed back as pseudo-reward";
    const DETAIL: &'static str = include_str!("self_reward.rs");

    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![PortSpec::input(
                "value",
                SignalKind::Value,
                Width::Fixed(1),
                "V(z_{t−1}) (delay = 1)",
            )],
            outputs: vec![PortSpec::output(
                "reward",
                SignalKind::Reward,
                1,
                "r̃_t, the pseudo-reward",
            )],
        }
    }

    fn check(&self) -> Result<(), ParamError> {
        let finite = |x: f64| x.is_finite() && x <= 1e6;
        if !(finite(self.gain) && self.gain >= 0.0) {
            return Err(ParamError::new("gain", "a number in [0, 1e6]"));
        }
        if !(finite(self.threshold) && self.threshold >= 0.0) {
            return Err(ParamError::new("threshold", "a number in [0, 1e6]"));
        }
        if !(finite(self.limit) && self.limit > 0.0) {
            return Err(ParamError::new("limit", "a number in (0, 1e6]"));
        }
        Ok(())
    }

    fn build(&self, _ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(SelfReward { config: self.clone() }))
    }
}

/// The loop for P agents (no state: a function of the value it reads).
pub struct SelfReward {
    config: SelfRewardConfig,
}

impl SelfReward {
    /// r̃ for one value.
    fn pseudo_reward(&self, v: f32) -> f32 {
        let c = &self.config;
        let beyond = (v.abs() - c.threshold as f32).max(0.0);
        (c.gain as f32 * v.signum() * beyond).clamp(-c.limit as f32, c.limit as f32)
    }
}

impl Region for SelfReward {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let v = inputs
            .get("value")
            .ok_or_else(|| Error::Run("self_reward: no `value` input".into()))?
            .to_host();
        // A non-finite value is the reward model's divergence, caught where it arises; here it
        // gives no reward rather than spreading.
        let r = Array2::from_shape_fn((v.nrows(), 1), |(i, _)| match v[[i, 0]].is_finite() {
            true => self.pseudo_reward(v[[i, 0]]),
            false => 0.0,
        });
        Ok(vec![("reward", Signal::Host(r))])
    }

    fn set_learning(&mut self, _learning: bool) {}

    fn configure(&mut self, spec: &super::RegionSpec) -> Result<()> {
        match spec.get::<SelfRewardConfig>() {
            Some(c) => {
                self.config = c.clone();
                Ok(())
            }
            None => Err(Error::Run(format!(
                "self_reward cannot become a `{}`",
                spec.kind()
            ))),
        }
    }

    fn save(&self, _out: &mut Snapshot) -> Result<()> {
        Ok(())
    }

    fn restore(&mut self, _from: &Snapshot) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_beyond_the_threshold_reward_themselves_and_the_clip_bounds_them() {
        let r = SelfReward {
            config: SelfRewardConfig {
                gain: 2.0,
                threshold: 0.1,
                limit: 1.0,
            },
        };
        assert_eq!(r.pseudo_reward(0.05), 0.0);
        assert_eq!(r.pseudo_reward(-0.1), 0.0);
        assert!((r.pseudo_reward(0.3) - 0.4).abs() < 1e-6);
        assert!((r.pseudo_reward(-0.3) + 0.4).abs() < 1e-6);
        assert_eq!(r.pseudo_reward(5.0), 1.0);
        assert_eq!(r.pseudo_reward(-5.0), -1.0);
    }
}
