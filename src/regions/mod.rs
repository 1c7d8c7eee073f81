//! Brain regions. Each region is one file implementing [`Region`], plus one variant of
//! [`RegionSpec`] (its hyperparameters, read from a model file by `kind`). A region declares its
//! ports (Nengo's `size_in`/`size_out`), is built for a population of P agents with per-agent
//! parameters, and steps all P agents at once.

pub mod action_selection;
pub mod basal_ganglia;
pub mod extension;
pub mod habit;
pub mod hippocampus;
pub mod pfc;
pub mod reward_model;
pub mod sensory_cortex;

use std::collections::BTreeMap;

use burn::prelude::Device;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Snapshot;
use crate::error::Result;
pub use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::vocabulary::Vocabulary;

/// Below this many agents a region's per-agent host loop runs on one thread. Measured with
/// `valence bench` on the 2-core machine (the cortex on WordNet, dim 64): at P = 4, 135 k
/// agent-tokens/s in parallel vs 273 k on one thread; at P = 8 about even (217 k vs 233 k);
/// at P = 16, 233 k vs 198 k.
pub(crate) const PARALLEL_MIN_AGENTS: usize = 16;

pub use action_selection::{ActionSelection, ActionSelectionConfig};
pub use basal_ganglia::{BasalGanglia, BasalGangliaConfig};
pub use extension::{Extension, RegionFactory, register};
pub use habit::{Habit, HabitConfig};
pub use hippocampus::{Eviction, Hippocampus, HippocampusConfig, StorePolicy};
pub use pfc::{Pfc, PfcConfig};
pub use reward_model::{RewardModel, RewardModelConfig, RewardTiming};
pub use sensory_cortex::{SensoryCortex, SensoryCortexConfig};

/// What a region is built with.
pub struct BuildContext<'a> {
    /// P, the number of agents stepped together.
    pub population: usize,
    /// The device for burn tensors.
    pub device: &'a Device,
    /// One seed per agent for this region, derived from the scenario seed.
    pub seeds: Vec<u64>,
    /// The world's vocabulary, for regions that read tokens.
    pub vocabulary: &'a Vocabulary,
    /// The width of each connected input port (inferred ports resolved).
    pub input_widths: BTreeMap<&'static str, usize>,
}

/// A brain region stepping P agents at once.
///
/// A minimal region — an "opponent" that turns the reward it receives into punishment:
///
/// ```
/// use ndarray::Array2;
/// use valence::regions::{Inputs, Outputs, Region};
/// use valence::Signal;
///
/// struct Opponent {
///     learning: bool,
/// }
///
/// impl Region for Opponent {
///     fn step(&mut self, inputs: &Inputs) -> valence::Result<Outputs> {
///         let r = inputs.get("reward").map(Signal::to_host).unwrap_or_else(|| Array2::zeros((1, 1)));
///         Ok(vec![("punishment", Signal::Host(-r))])
///     }
///
///     fn set_learning(&mut self, learning: bool) {
///         self.learning = learning;
///     }
/// }
///
/// // Two agents, stepped together: every signal is population-first, `[P, width]`.
/// let mut region = Opponent { learning: true };
/// let mut inputs = Inputs::default();
/// inputs.insert("reward", Signal::Host(Array2::from_elem((2, 1), 0.5)));
/// let out = region.step(&inputs)?;
/// assert_eq!(out[0].0, "punishment");
/// assert_eq!(out[0].1.to_host()[[1, 0]], -0.5);
/// # Ok::<(), valence::Error>(())
/// ```
///
/// To use it from model files, register it with [`register`] and an [`Extension`] that
/// declares its ports and parameters (`examples/custom_region.rs`).
pub trait Region: Send {
    /// One tick for all agents: read inputs, learn (unless frozen), emit outputs.
    ///
    /// # Shapes
    /// Every input and output signal is `[P, width]`.
    fn step(&mut self, inputs: &Inputs) -> Result<Outputs>;

    /// Turns learning on or off (a frozen region still computes its outputs).
    fn set_learning(&mut self, learning: bool);

    /// Takes new parameters between phases (`[phases.overrides.REGION]`), keeping what it has
    /// learnt. Regions that cannot, say so.
    fn configure(&mut self, spec: &RegionSpec) -> Result<()> {
        Err(crate::Error::Run(format!(
            "a `{}` region cannot change its parameters during a run",
            spec.kind()
        )))
    }

    /// The latent point of a concept (token id) for each agent, `[P, D]`, if this region is a
    /// cortex; the valence probe reads it.
    fn concept_latent(&self, _token: u32) -> Option<Array2<f32>> {
        None
    }

    /// The value at latent points `[P, D]` for each agent, `[P]`, if this region values states.
    fn value_at(&self, _latent: &Array2<f32>) -> Option<Array1<f32>> {
        None
    }

    /// World-like outputs (`token`, `reward`, `[P, 1]` each) replaying stored experience, one
    /// episode per agent per call, if this region stores episodes: a phase with
    /// `replay = "<region>"` feeds them to the brain in place of the world.
    fn replay(&mut self) -> Option<Result<Outputs>> {
        None
    }

    /// The first agent whose learnable state is not finite (NaN or ±∞), if any: the run loop's
    /// divergence check, which stops the run naming region and agent.
    fn divergent_agent(&self) -> Option<usize> {
        None
    }

    /// Saves all the region's mutable state — weights, optimiser moments, traces, random
    /// generators, the previous tick's inputs — so that [`Region::restore`] on a freshly built
    /// region of the same spec continues exactly (checkpoints, `valence run --resume`). Regions
    /// that cannot, say so; a scenario with checkpoints then refuses to start.
    fn save(&self, _out: &mut Snapshot) -> Result<()> {
        Err(crate::Error::Run(
            "this region cannot be checkpointed (no `save`)".into(),
        ))
    }

    /// Restores what [`Region::save`] wrote.
    fn restore(&mut self, _from: &Snapshot) -> Result<()> {
        Err(crate::Error::Run(
            "this region cannot be checkpointed (no `restore`)".into(),
        ))
    }
}

/// A region's hyperparameters, read from a model file and tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RegionSpec {
    /// See [`SensoryCortex`].
    SensoryCortex(SensoryCortexConfig),
    /// See [`RewardModel`].
    RewardModel(RewardModelConfig),
    /// See [`BasalGanglia`].
    BasalGanglia(BasalGangliaConfig),
    /// See [`Habit`].
    Habit(HabitConfig),
    /// See [`Pfc`].
    Pfc(PfcConfig),
    /// See [`Hippocampus`].
    Hippocampus(HippocampusConfig),
    /// See [`ActionSelection`].
    ActionSelection(ActionSelectionConfig),
    /// A kind registered from outside the crate ([`register`]).
    #[serde(untagged)]
    Extension(ExtensionSpec),
}

/// The parameters of an extension region: its kind and a TOML table of parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionSpec {
    /// The registered name.
    pub kind: String,
    /// Every parameter (defaults filled in).
    #[serde(flatten)]
    pub params: toml::Table,
}

impl ExtensionSpec {
    fn factory(&self) -> Result<std::sync::Arc<dyn RegionFactory>> {
        extension::extension(&self.kind).ok_or_else(|| {
            crate::Error::Run(format!(
                "region kind `{}` is not registered in this program",
                self.kind
            ))
        })
    }
}

/// A parameter outside its valid range.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// The parameter's name.
    pub param: String,
    /// What was expected, e.g. "a number in [0, 1)".
    pub expected: String,
}

impl ParamError {
    /// A new parameter error.
    pub fn new(param: impl Into<String>, expected: impl Into<String>) -> Self {
        ParamError {
            param: param.into(),
            expected: expected.into(),
        }
    }
}

/// A registered region kind: its name, a summary and how to read its parameters.
pub struct RegionKind {
    /// The `kind = "…"` name.
    pub name: &'static str,
    /// One line: what it models.
    pub summary: &'static str,
    /// The spec with every parameter at its default.
    pub defaults: fn() -> RegionSpec,
    /// Reads the parameters (without `kind`) from a TOML table, unknown keys rejected.
    pub parse: fn(toml::de::ValueDeserializer<'_>) -> Result<RegionSpec, toml::de::Error>,
    /// The equation sheet (the region file's `//!` header).
    pub detail: fn() -> String,
}

/// The leading `//!` lines of a source file, without the markers.
pub fn doc_header(source: &str) -> String {
    source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.trim_start_matches("//!")
                .strip_prefix(' ')
                .unwrap_or(l.trim_start_matches("//!"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

macro_rules! region_kind {
    ($name:literal, $variant:ident, $config:ty, $file:literal, $summary:literal) => {
        RegionKind {
            name: $name,
            summary: $summary,
            defaults: || RegionSpec::$variant(<$config>::default()),
            parse: |de| <$config as Deserialize>::deserialize(de).map(RegionSpec::$variant),
            detail: || doc_header(include_str!($file)),
        }
    };
}

/// Every built-in region kind.
pub fn registry() -> &'static [RegionKind] {
    static KINDS: &[RegionKind] = &[
        region_kind!(
            "sensory_cortex",
            SensoryCortex,
            SensoryCortexConfig,
            "sensory_cortex.rs",
            "unsupervised latent space of the token stream (skip-gram with negative sampling)"
        ),
        region_kind!(
            "reward_model",
            RewardModel,
            RewardModelConfig,
            "reward_model.rs",
            "dopaminergic VTA/SNc: TD value over the latent, emits the reward prediction error"
        ),
        region_kind!(
            "basal_ganglia",
            BasalGanglia,
            BasalGangliaConfig,
            "basal_ganglia.rs",
            "striatal actor: action preferences over the latent, trained by δ (Go/NoGo rates)"
        ),
        region_kind!(
            "habit",
            Habit,
            HabitConfig,
            "habit.rs",
            "value-free action prior: repeats what was done before in similar states"
        ),
        region_kind!(
            "pfc",
            Pfc,
            PfcConfig,
            "pfc.rs",
            "prefrontal GRU controller trained by A2C across episodes (meta-RL, Wang et al. 2018)"
        ),
        region_kind!(
            "hippocampus",
            Hippocampus,
            HippocampusConfig,
            "hippocampus.rs",
            "episodic store: one-shot storage, similarity recall with recency, offline replay"
        ),
        region_kind!(
            "action_selection",
            ActionSelection,
            ActionSelectionConfig,
            "action_selection.rs",
            "arbitration: weighted sum of BG, habit and PFC logits, sampled by softmax"
        ),
    ];
    KINDS
}

/// A registered kind by name.
pub fn kind_named(name: &str) -> Option<&'static RegionKind> {
    registry().iter().find(|k| k.name == name)
}

impl RegionSpec {
    /// The `kind` name.
    pub fn kind(&self) -> &str {
        match self {
            RegionSpec::SensoryCortex(_) => "sensory_cortex",
            RegionSpec::RewardModel(_) => "reward_model",
            RegionSpec::BasalGanglia(_) => "basal_ganglia",
            RegionSpec::Habit(_) => "habit",
            RegionSpec::Pfc(_) => "pfc",
            RegionSpec::Hippocampus(_) => "hippocampus",
            RegionSpec::ActionSelection(_) => "action_selection",
            RegionSpec::Extension(e) => &e.kind,
        }
    }

    /// The ports this region has with these parameters.
    pub fn ports(&self) -> Ports {
        match self {
            RegionSpec::SensoryCortex(c) => c.ports(),
            RegionSpec::RewardModel(c) => c.ports(),
            RegionSpec::BasalGanglia(c) => c.ports(),
            RegionSpec::Habit(c) => c.ports(),
            RegionSpec::Pfc(c) => c.ports(),
            RegionSpec::Hippocampus(c) => c.ports(),
            RegionSpec::ActionSelection(c) => c.ports(),
            RegionSpec::Extension(e) => e.factory().map(|f| f.ports(&e.params)).unwrap_or_default(),
        }
    }

    /// Checks every parameter's range.
    pub fn check(&self) -> Result<(), ParamError> {
        match self {
            RegionSpec::SensoryCortex(c) => c.check(),
            RegionSpec::RewardModel(c) => c.check(),
            RegionSpec::BasalGanglia(c) => c.check(),
            RegionSpec::Habit(c) => c.check(),
            RegionSpec::Pfc(c) => c.check(),
            RegionSpec::Hippocampus(c) => c.check(),
            RegionSpec::ActionSelection(c) => c.check(),
            RegionSpec::Extension(e) => match e.factory() {
                Ok(f) => f.check(&e.params),
                Err(_) => Err(ParamError::new(
                    "kind",
                    format!("a registered region kind, not `{}`", e.kind),
                )),
            },
        }
    }

    /// Builds the region for a population.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        Ok(match self {
            RegionSpec::SensoryCortex(c) => Box::new(SensoryCortex::new(c, ctx)),
            RegionSpec::RewardModel(c) => Box::new(RewardModel::new(c, ctx)),
            RegionSpec::BasalGanglia(c) => Box::new(BasalGanglia::new(c, ctx)),
            RegionSpec::Habit(c) => Box::new(Habit::new(c, ctx)),
            RegionSpec::Pfc(c) => Box::new(Pfc::new(c, ctx)?),
            RegionSpec::Hippocampus(c) => Box::new(Hippocampus::new(c, ctx)),
            RegionSpec::ActionSelection(c) => Box::new(ActionSelection::new(c, ctx)),
            RegionSpec::Extension(e) => e.factory()?.build(&e.params, ctx)?,
        })
    }

    /// The parameters as a TOML table (without `kind`), e.g. for listing defaults.
    pub fn params(&self) -> toml::Table {
        if let RegionSpec::Extension(e) = self {
            return e.params.clone();
        }
        let mut table = toml::Table::try_from(self).expect("region specs serialise to TOML");
        table.remove("kind");
        table
    }

    /// Reads a spec of any kind, built-in or registered, from a table without `kind`.
    pub fn parse(
        kind: &str,
        de: toml::de::ValueDeserializer<'_>,
    ) -> Option<Result<RegionSpec, toml::de::Error>> {
        if let Some(k) = kind_named(kind) {
            return Some((k.parse)(de));
        }
        let f = extension::extension(kind)?;
        Some(f.parse(de).map(|params| {
            RegionSpec::Extension(ExtensionSpec {
                kind: kind.to_string(),
                params,
            })
        }))
    }

    /// The equation sheet of a kind, built-in or registered.
    pub fn detail(kind: &str) -> Option<String> {
        if let Some(k) = kind_named(kind) {
            return Some((k.detail)());
        }
        extension::extension(kind).map(|f| f.detail().to_string())
    }

    /// Every kind name, built-in and registered.
    pub fn kind_names() -> Vec<String> {
        registry()
            .iter()
            .map(|k| k.name.to_string())
            .chain(extension::extension_names())
            .collect()
    }
}
