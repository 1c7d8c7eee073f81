//! A new brain region in one file, outside `src/`: a count-based novelty (curiosity) bonus that
//! feeds the reward model (Kakade & Dayan 2002, "Dopamine: generalization and bonuses";
//! Bellemare et al. 2016). It is registered at start-up, wired in `examples/novelty/model.toml`,
//! run from `examples/novelty/scenario.toml`, probed (`valence`, and the `signal` probe on
//! `novelty.bonus`) and plotted (`plots/*.svg` and `*.png` in the run directory).
//!
//! ```sh
//! cargo run --release --example custom_region            # writes runs/custom_region
//! cargo run --example custom_region -- --quick /tmp/out  # the reduced run CI makes
//! ```
//!
//! The example checks its own claim and exits with an error if it fails: with no primary
//! reward at all, rare words end up more valued than common ones.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use valence::experiment::{RunOptions, run};
use valence::regions::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, Width, register,
};
use valence::scenario::load_scenario;
use valence::{Signal, SignalKind};

/// Hyperparameters of the novelty region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NoveltyConfig {
    /// β, the bonus for a never-seen token.
    beta: f64,
}

impl Default for NoveltyConfig {
    fn default() -> Self {
        NoveltyConfig { beta: 0.5 }
    }
}

/// The kind: its name, summary, equation sheet, ports, range checks and construction.
impl RegionParams for NoveltyConfig {
    const KIND: &'static str = "novelty";
    const SUMMARY: &'static str = "count-based novelty bonus, a pseudo-reward for the unfamiliar";
    const DETAIL: &'static str = DETAIL;

    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![PortSpec::input(
                "token",
                SignalKind::Token,
                Width::Fixed(1),
                "the current token",
            )],
            outputs: vec![PortSpec::output(
                "bonus",
                SignalKind::Reward,
                1,
                "β / √(1 + n(w))",
            )],
        }
    }

    fn check(&self) -> Result<(), ParamError> {
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(ParamError::new("beta", "a number ≥ 0"));
        }
        Ok(())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> valence::Result<Box<dyn Region>> {
        Ok(Box::new(Novelty {
            beta: self.beta as f32,
            counts: vec![vec![0; ctx.vocabulary.len()]; ctx.population],
            learning: true,
        }))
    }
}

/// b_t = β / √(1 + n_t(w_t)), with n_t(w) the times this agent has seen w before.
struct Novelty {
    beta: f32,
    /// Per agent, per token: times seen.
    counts: Vec<Vec<u32>>,
    learning: bool,
}

impl Region for Novelty {
    fn step(&mut self, inputs: &Inputs) -> valence::Result<Outputs> {
        let tokens = inputs.get("token").expect("required input").to_host();
        let mut bonus = Array2::zeros((self.counts.len(), 1));
        for (agent, counts) in self.counts.iter_mut().enumerate() {
            let w = tokens[[agent, 0]] as usize;
            bonus[[agent, 0]] = self.beta / (1.0 + counts[w] as f32).sqrt();
            if self.learning {
                counts[w] += 1;
            }
        }
        Ok(vec![("bonus", Signal::Host(bonus))])
    }

    fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
    }
}

const DETAIL: &str = "# novelty — a count-based curiosity bonus (defined in examples/custom_region.rs)

b_t = β / √(1 + n_t(w_t)),  n_{t+1}(w_t) = n_t(w_t) + 1   (per agent; Kakade & Dayan 2002)

Ports: input `token` [P, 1] (Token); output `bonus` [P, 1] (Reward).
Parameters: `beta` (0.5), the bonus of a never-seen token, in reward units.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or("runs/custom_region".into());

    // One call makes model files able to name `kind = "novelty"`.
    register::<NoveltyConfig>()?;

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/novelty/scenario.toml");
    let mut scenario = load_scenario(&path)?;
    if quick {
        scenario.population = 8;
        scenario.phases[0].steps = 6000;
    }
    let output = run(
        &scenario,
        &RunOptions {
            out: Some(out),
            ..Default::default()
        },
    )?;
    let median = |key: &str| output.summary["valence"][key].median;
    println!("run written to {} (plots in plots/)", output.dir.display());
    for key in ["apple", "bread", "zebra", "yacht"] {
        println!("valence({key}) = {:.4}", median(key));
    }
    let (common, rare) = (
        median("apple").max(median("bread")),
        median("zebra").min(median("yacht")),
    );
    if rare <= common {
        return Err(
            format!("expected rare words to gain more valence: rare {rare} ≤ common {common}").into(),
        );
    }
    println!("rare words gained more valence than common ones, from novelty alone");
    Ok(())
}
