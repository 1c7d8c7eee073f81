//! # GoalDirected — an action–outcome model: what will each action lead to?
//!
//! The goal-directed system of dual-process accounts of instrumental behaviour (Dickinson &
//! Balleine 1994; Daw, Niv & Dayan 2005: prefrontal/dorsomedial striatum, "model-based"): it
//! learns, per agent and action, where in the latent space an action leads, and imagines each
//! action's outcome. It holds no values: the reward model values the imagined outcomes with
//! its current, learnt valence (its `imagined` ports), and action selection weighs those worths
//! (`goal`). So a choice follows an outcome's value as it is *now*: when the outcome loses its
//! value elsewhere (devaluation), the choice changes before the action is tried again, which a
//! cached action value (`basal_ganglia`) or an action prior (`habit`) cannot do.
//!
//! ```text
//! ẑ_a,t = M_a · z_t                                      (per agent: M_a ∈ R^{D×D}, a = 1…A)
//! M_a  ← M_a + η · (z_t − M_a z_{t−1}) ⊗ z_{t−1}         for a = a_{t−1}, the action just taken
//! ```
//!
//! The delta rule regresses the next latent on the current one for the action taken, so ẑ is
//! the expected outcome: under stochastic outcomes, and with the reward model's value linear in
//! z, the worth of ẑ is the expected worth. It is stable for η‖z‖² < 2 — always, with unit
//! latents (the cortex's `normalize`) and η ≤ 1.
//!
//! Ports: inputs `latent` `[P, D]` (Latent, required), `action` `[P, 1]` (Action, required: the
//! action taken last tick, an edge with `delay = 1`); output `imagined` `[P, A·D]` (Latent:
//! [ẑ_1; …; ẑ_A], into the reward model's `imagined`, whose `imagined = A`).
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `actions` | 2 | A, the number of actions |
//! | `dim` | 32 | D, the latent's width |
//! | `lr` | 0.1 | η, the model's learning rate (per tick) |

use ndarray::{Array2, Array4, Axis};
use serde::{Deserialize, Serialize};

use super::{BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, Width};
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::signal::{Signal, SignalKind};

/// Hyperparameters of [`GoalDirected`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoalDirectedConfig {
    /// A, the number of actions.
    pub actions: usize,
    /// D, the latent's width.
    pub dim: usize,
    /// η, the learning rate of the action–outcome model.
    pub lr: f64,
}

impl Default for GoalDirectedConfig {
    fn default() -> Self {
        GoalDirectedConfig {
            actions: 2,
            dim: 32,
            lr: 0.1,
        }
    }
}

impl RegionParams for GoalDirectedConfig {
    const KIND: &'static str = "goal_directed";
    const SUMMARY: &'static str =
        "action–outcome model: imagines each action's outcome for the reward model to value";
    const DETAIL: &'static str = include_str!("goal_directed.rs");

    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![
                PortSpec::input("latent", SignalKind::Latent, Width::Fixed(self.dim), "z_t"),
                PortSpec::input(
                    "action",
                    SignalKind::Action,
                    Width::Fixed(1),
                    "a_{t−1} (delay = 1)",
                ),
            ],
            outputs: vec![PortSpec::output(
                "imagined",
                SignalKind::Latent,
                self.actions.saturating_mul(self.dim),
                "[ẑ_1; …; ẑ_A], ẑ_a = M_a z_t",
            )],
        }
    }

    fn check(&self) -> Result<(), ParamError> {
        // The output is A·D wide; M is A·D² floats an agent.
        super::check_sizes(&[
            ("actions", self.actions, 256),
            ("dim", self.dim, 4096),
            // Saturating: a huge `dim` is refused, not an overflow.
            ("dim", self.actions.saturating_mul(self.dim), super::MAX_WIDTH),
            (
                "dim",
                self.actions.saturating_mul(self.dim).saturating_mul(self.dim),
                1 << 24,
            ),
        ])?;
        if self.actions < 2 {
            return Err(ParamError::new("actions", "an integer ≥ 2"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 1.0) {
            return Err(ParamError::new("lr", "a number in (0, 1]"));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(Box::new(GoalDirected::new(self, ctx)))
    }
}

/// The action–outcome model of P agents (host memory: a rank-one update per agent a tick).
pub struct GoalDirected {
    config: GoalDirectedConfig,
    /// M of every agent and action, `[P, A, D, D]`.
    model: Array4<f32>,
    previous: Option<Array2<f32>>,
    learning: bool,
}

impl GoalDirected {
    /// An empty model: every action is imagined to lead to ẑ = 0 (worth nothing) at first.
    pub fn new(config: &GoalDirectedConfig, ctx: &BuildContext<'_>) -> Self {
        let d = config.dim;
        GoalDirected {
            config: config.clone(),
            model: Array4::zeros((ctx.population, config.actions, d, d)),
            previous: None,
            learning: true,
        }
    }
}

impl Region for GoalDirected {
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs> {
        let get = |port: &str| {
            inputs
                .get(port)
                .ok_or_else(|| Error::Run(format!("goal_directed: no `{port}` input")))
        };
        let z = get("latent")?.to_host();
        let (p, d) = z.dim();
        if d != self.config.dim {
            return Err(Error::Run(format!(
                "goal_directed: `latent` is {d} wide, expected dim = {}",
                self.config.dim
            )));
        }
        if let (true, Some(z_prev)) = (self.learning, self.previous.take()) {
            let action = get("action")?.to_host();
            let lr = self.config.lr as f32;
            for (i, mut m) in self.model.outer_iter_mut().enumerate() {
                let x = action[[i, 0]];
                let a = x as usize;
                if x.is_nan() || x < 0.0 || a >= self.config.actions {
                    return Err(Error::Run(format!(
                        "goal_directed: action {x} of {} (its `actions` must be the model's)",
                        self.config.actions
                    )));
                }
                let mut m_a = m.index_axis_mut(Axis(0), a);
                let x = z_prev.row(i);
                let error = &z.row(i) - &m_a.dot(&x);
                // M_a += η (z_t − M_a x) xᵀ
                for (mut row, e) in m_a.rows_mut().into_iter().zip(error.iter()) {
                    row.scaled_add(lr * e, &x);
                }
            }
        }
        let a = self.config.actions;
        let mut imagined = Array2::zeros((p, a * d));
        for (i, m) in self.model.outer_iter().enumerate() {
            for k in 0..a {
                let z_hat = m.index_axis(Axis(0), k).dot(&z.row(i));
                imagined
                    .row_mut(i)
                    .slice_mut(ndarray::s![k * d..(k + 1) * d])
                    .assign(&z_hat);
            }
        }
        self.previous = Some(z);
        Ok(vec![("imagined", Signal::Host(imagined))])
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
        if !learning {
            self.previous = None;
        }
    }

    fn save(&self, out: &mut Snapshot) -> Result<()> {
        out.put_array("model", self.model.shape(), self.model.iter().copied().collect());
        out.put_optional_host("previous", self.previous.as_ref());
        Ok(())
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        let all = from.array("model", self.model.shape())?;
        // `array` checked the shape, so the data fills it exactly.
        self.model.iter_mut().zip(all).for_each(|(x, v)| *x = v);
        let (p, d) = (self.model.dim().0, self.config.dim);
        self.previous = from.optional_host("previous", [p, d])?;
        Ok(())
    }

    fn divergent_agent(&self) -> Option<usize> {
        self.model
            .outer_iter()
            .position(|m| !m.iter().all(|x| x.is_finite()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(z: &[f32], a: f32) -> Inputs<'static> {
        let mut inputs = Inputs::default();
        inputs.insert(
            "latent",
            Signal::Host(Array2::from_shape_vec((1, z.len()), z.to_vec()).unwrap()),
        );
        inputs.insert("action", Signal::Host(Array2::from_elem((1, 1), a)));
        inputs
    }

    #[test]
    fn each_action_learns_where_it_leads() {
        // From state s = e₁, action 0 leads to e₂ and action 1 to e₃; then back to s.
        let device = burn::prelude::Device::flex();
        let config = GoalDirectedConfig {
            actions: 2,
            dim: 3,
            lr: 0.5,
        };
        let mut g = crate::regions::with_context(1, &[("latent", 3)], &device, |ctx| {
            GoalDirected::new(&config, ctx)
        });
        let (s, o0, o1) = ([1., 0., 0.], [0., 1., 0.], [0., 0., 1.]);
        let mut last = Array2::zeros((1, 6));
        for trial in 0..40 {
            // s (entered after action 1 in the last outcome), then the outcome of action a,
            // which arrives with a as the action taken last tick (delay = 1).
            let a = (trial % 2) as f32;
            last = match &g.step(&inputs(&s, 1.0)).unwrap()[0].1 {
                Signal::Host(x) => x.clone(),
                _ => unreachable!(),
            };
            g.step(&inputs(if a == 0.0 { &o0 } else { &o1 }, a)).unwrap();
        }
        // Imagined from s: action 0 → o0, action 1 → o1 (to within the delta rule's error).
        let want = [0., 1., 0., 0., 0., 1.];
        for (got, want) in last.row(0).iter().zip(want) {
            assert!((got - want).abs() < 1e-3, "{last:?}");
        }
        g.set_learning(false);
        let before = g.model.clone();
        g.step(&inputs(&o0, 1.0)).unwrap();
        g.step(&inputs(&s, 1.0)).unwrap();
        assert_eq!(g.model, before, "frozen, the model does not move");
        // An action the model does not have is an error, not a clamp.
        g.set_learning(true);
        g.step(&inputs(&s, 0.0)).unwrap();
        let e = g.step(&inputs(&o0, 5.0)).err().unwrap().to_string();
        assert!(e.contains("action 5 of 2"), "{e}");
    }
}
