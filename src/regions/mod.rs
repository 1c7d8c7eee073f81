//! Brain regions. A region kind is one file: its parameters (a serde struct implementing
//! [`RegionParams`]: name, summary, ports, range checks, construction) and the region it builds
//! (implementing [`Region`]), plus one line in [`registry`]'s table — or one call of
//! [`register`] from outside the crate, which goes through the same path. A region declares its
//! ports (Nengo's `size_in`/`size_out`), is built for a population of P agents with per-agent
//! parameters, and steps all P agents at once.

pub mod action_selection;
pub(crate) mod adam;
pub mod basal_ganglia;
pub(crate) mod device_tables;
pub(crate) mod expf;
pub(crate) mod fork;
pub mod goal_directed;
pub(crate) mod gru;
pub mod habit;
pub mod hippocampus;
pub mod pfc;
pub mod reward_model;
pub(crate) mod rows;
pub mod self_reward;
pub mod sensory_cortex;
pub(crate) mod sgns_tables;
pub mod world_model;
pub(crate) mod world_tables;

use burn::prelude::Device;
use ndarray::{Array1, Array2};
use std::any::Any;
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Snapshot;
use crate::error::Result;
pub use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::registry::{Named, Registry};
use crate::vocabulary::Vocabulary;

/// Below this many agents a region's per-agent host loop runs on one thread. Measured with
/// `valence bench` on the 2-core machine (the cortex on WordNet, dim 64): at P = 4, 135 k
/// agent-tokens/s in parallel vs 273 k on one thread; at P = 8 about even (217 k vs 233 k);
/// at P = 16, 233 k vs 198 k.
pub(crate) const PARALLEL_MIN_AGENTS: usize = 16;

/// Asks the first-level cache for every line of `data` (one address in every 64 bytes, and the
/// last where no step reached it), so that rows a tick will touch load in parallel rather than
/// one after another. Only a hint: it changes no value.
#[inline]
pub(crate) fn prefetch(data: &[f32]) {
    prefetch_from(data.as_ptr(), data.len());
}

/// [`prefetch`] of the `len` floats from `start`, which need not lie in any allocation (the hint
/// for a row past the end of an array is harmless: a prefetch neither reads nor faults).
#[inline(always)]
pub(crate) fn prefetch_from(start: *const f32, len: usize) {
    #[cfg(target_arch = "x86_64")]
    // The last float is asked for apart only where the steps missed it (a float, or 16k + 1
    // of them, would otherwise hint one address twice).
    for i in (0..len)
        .step_by(16)
        .chain(len.checked_sub(1).filter(|last| last % 16 != 0))
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: `_mm_prefetch` only hints the cache (SSE, which every x86-64 has) and does not
        // fault, whatever the address; `wrapping_add` computes the address without assuming it
        // is in bounds.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(i).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

pub use action_selection::{ActionSelection, ActionSelectionConfig};
pub use basal_ganglia::{BasalGanglia, BasalGangliaConfig};
pub use goal_directed::{GoalDirected, GoalDirectedConfig};
pub use habit::{Habit, HabitConfig};
pub use hippocampus::{Eviction, Hippocampus, HippocampusConfig, StorePolicy};
pub use pfc::{Pfc, PfcConfig};
pub use reward_model::{RewardModel, RewardModelConfig, RewardTiming};
pub use self_reward::{SelfReward, SelfRewardConfig};
pub use sensory_cortex::{SensoryCortex, SensoryCortexConfig};
pub use world_model::{WorldModel, WorldModelConfig};

/// `build` with a context for unit tests: P agents, zero seeds, an empty vocabulary and these
/// input widths.
#[cfg(test)]
pub(crate) fn with_context<R>(
    population: usize,
    input_widths: &[(&'static str, usize)],
    device: &Device,
    build: impl FnOnce(&BuildContext<'_>) -> R,
) -> R {
    let vocabulary = Vocabulary::from_counts(vec![]);
    build(&BuildContext {
        population,
        device,
        seeds: vec![0; population],
        vocabulary: &vocabulary,
        input_widths: input_widths.iter().copied().collect(),
    })
}

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

/// The bytes of memory one tick moves for all agents ([`Region::bytes_per_tick`]): what a
/// tick reads and what it writes, which stream at different rates (`valence bench --brain`'s
/// memory roofline measures both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Bytes read.
    pub read: u64,
    /// Bytes written.
    pub written: u64,
}

impl Traffic {
    /// Read plus written.
    pub fn total(&self) -> u64 {
        self.read + self.written
    }
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
/// To use it from model files, give it a parameter struct implementing [`RegionParams`] and
/// [`register`] that (`examples/custom_region.rs`).
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

    /// The latent point of a concept for each agent, `[P, D]`, if this region is a cortex; the
    /// probes read it. A concept is a word or a phrase: its token ids in reading order (a
    /// contextual cortex reads the phrase; each kind documents how).
    fn concept_latent(&self, _phrase: &[u32]) -> Option<Array2<f32>> {
        None
    }

    /// [`Region::concept_latent`] of several concepts (a contextual cortex reads them in one
    /// batch).
    fn concept_latents(&self, phrases: &[&[u32]]) -> Option<Vec<Array2<f32>>> {
        phrases.iter().map(|p| self.concept_latent(p)).collect()
    }

    /// Each agent's mean next-token cross-entropy (nats per predicted token) on a token stream
    /// read from a fresh state, `[P]`, if this region predicts tokens; positions whose next
    /// token is `<unk>` are not counted.
    fn cross_entropy(&self, _stream: &[u32]) -> Option<Array1<f64>> {
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

    /// The bytes of memory one tick moves for all agents, read and written, where the region
    /// knows better than the brain's estimate — a region that touches only some rows of its
    /// tables (the skip-gram cortex). `None`: the brain counts every array [`Region::save`]
    /// writes, read once a tick and, while learning, written once (`valence bench --brain`'s
    /// memory roofline).
    fn bytes_per_tick(&self) -> Option<Traffic> {
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

/// A region kind's parameters: the struct a model file's `[regions.NAME]` table is read into
/// (`#[serde(default, deny_unknown_fields)]`, every field with a default), and everything else
/// the simulator needs to know of the kind. A new kind implements this and [`Region`] in one
/// file and adds one line to [`registry`]'s table (or calls [`register`] from outside the crate).
pub trait RegionParams:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    /// The `kind = "…"` name.
    const KIND: &'static str;
    /// One line: what it models (`valence regions`).
    const SUMMARY: &'static str;
    /// The equation sheet (`valence regions --detail KIND`): the kind's source file, of which
    /// the leading `//!` lines are shown (`include_str!("this_file.rs")`), or plain text.
    const DETAIL: &'static str;
    /// Whether the region stores episodes it can replay in place of the world
    /// ([`Region::replay`]): a phase's `replay = "NAME"` must name such a region.
    const REPLAYS: bool = false;
    /// Whether the region is a cortex: it reads concepts ([`Region::concept_latent`]), and the
    /// probes take the model's first such region when none is named.
    const CORTEX: bool = false;

    /// The ports these parameters give.
    fn ports(&self) -> Ports;

    /// Checks every parameter's range.
    fn check(&self) -> Result<(), ParamError> {
        Ok(())
    }

    /// Builds the region for a population.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>>;

    /// Checks the parameters against the population they will be built for (e.g. a group size
    /// that must divide it).
    fn check_population(&self, _population: usize) -> Result<(), ParamError> {
        Ok(())
    }

    /// About what one agent of the region allocates, in bytes, with a vocabulary of
    /// `vocabulary` words: the tables and buffers that grow with its sizes (0: a few kB). What
    /// the memory check before a run (`resources`) adds up over the model and population.
    fn bytes_per_agent(&self, _vocabulary: usize) -> u64 {
        0
    }
}

/// What a [`RegionSpec`] holds: [`RegionParams`] with the type erased.
trait DynParams: erased_serde::Serialize + std::fmt::Debug + Send + Sync {
    fn kind(&self) -> &'static str;
    fn replays(&self) -> bool;
    fn is_cortex(&self) -> bool;
    fn ports(&self) -> Ports;
    fn check(&self) -> Result<(), ParamError>;
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>>;
    fn bytes_per_agent(&self, vocabulary: usize) -> u64;
    fn check_population(&self, population: usize) -> Result<(), ParamError>;
    fn clone_box(&self) -> Box<dyn DynParams>;
    fn eq_dyn(&self, other: &dyn DynParams) -> bool;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

erased_serde::serialize_trait_object!(DynParams);

impl<C: RegionParams> DynParams for C {
    fn kind(&self) -> &'static str {
        C::KIND
    }
    fn replays(&self) -> bool {
        C::REPLAYS
    }
    fn is_cortex(&self) -> bool {
        C::CORTEX
    }
    fn ports(&self) -> Ports {
        RegionParams::ports(self)
    }
    fn check(&self) -> Result<(), ParamError> {
        RegionParams::check(self)
    }
    fn bytes_per_agent(&self, vocabulary: usize) -> u64 {
        RegionParams::bytes_per_agent(self, vocabulary)
    }
    fn check_population(&self, population: usize) -> Result<(), ParamError> {
        RegionParams::check_population(self, population)
    }
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        RegionParams::build(self, ctx)
    }
    fn clone_box(&self) -> Box<dyn DynParams> {
        Box::new(self.clone())
    }
    fn eq_dyn(&self, other: &dyn DynParams) -> bool {
        other.as_any().downcast_ref::<C>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A region's hyperparameters, of any kind: read from a model file by `kind`, written back
/// (`kind` first, then the parameters) into a run's `scenario.toml`.
///
/// ```
/// use valence::regions::{RegionSpec, RewardModelConfig};
///
/// let mut spec = RegionSpec::new(RewardModelConfig::default());
/// assert_eq!(spec.kind(), "reward_model");
/// spec.get_mut::<RewardModelConfig>().unwrap().lr = 0.5;
/// assert_eq!(spec.params()["lr"].as_float(), Some(0.5));
/// ```
pub struct RegionSpec(Box<dyn DynParams>);

impl RegionSpec {
    /// A spec from a kind's parameters.
    pub fn new<C: RegionParams>(params: C) -> Self {
        RegionSpec(Box::new(params))
    }

    /// Checks the parameters against a population ([`RegionParams::check_population`]).
    pub fn check_population(&self, population: usize) -> Result<(), ParamError> {
        self.0.check_population(population)
    }

    /// About what one agent of the region allocates with `vocabulary` words
    /// ([`RegionParams::bytes_per_agent`]).
    pub fn bytes_per_agent(&self, vocabulary: usize) -> u64 {
        self.0.bytes_per_agent(vocabulary)
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// Whether the region can replay stored episodes ([`RegionParams::REPLAYS`]).
    pub fn replays(&self) -> bool {
        self.0.replays()
    }

    /// Whether the region is a cortex ([`RegionParams::CORTEX`]).
    pub fn is_cortex(&self) -> bool {
        self.0.is_cortex()
    }

    /// The parameters, if this spec is of kind `C`.
    pub fn get<C: RegionParams>(&self) -> Option<&C> {
        self.0.as_any().downcast_ref()
    }

    /// The parameters, mutably, if this spec is of kind `C`.
    pub fn get_mut<C: RegionParams>(&mut self) -> Option<&mut C> {
        self.0.as_any_mut().downcast_mut()
    }

    /// The ports this region has with these parameters.
    pub fn ports(&self) -> Ports {
        self.0.ports()
    }

    /// Checks every parameter's range.
    pub fn check(&self) -> Result<(), ParamError> {
        self.0.check()
    }

    /// Builds the region for a population.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        self.0.build(ctx)
    }

    /// The parameters as a TOML table (without `kind`), e.g. for listing defaults.
    pub fn params(&self) -> toml::Table {
        toml::Table::try_from(&*self.0).expect("region parameters serialise to a TOML table")
    }

    /// Reads a spec of any registered kind from a table without `kind`; `None` if no kind of
    /// that name is registered.
    pub fn parse(
        kind: &str,
        de: toml::de::ValueDeserializer<'_>,
    ) -> Option<Result<RegionSpec, toml::de::Error>> {
        kind_named(kind).map(|k| (k.parse)(de))
    }

    /// The equation sheet of a registered kind.
    pub fn detail(kind: &str) -> Option<String> {
        kind_named(kind).map(|k| k.detail())
    }

    /// Every registered kind's name, built-in first.
    pub fn kind_names() -> Vec<String> {
        registry().iter().map(|k| k.name.to_string()).collect()
    }
}

impl Clone for RegionSpec {
    fn clone(&self) -> Self {
        RegionSpec(self.0.clone_box())
    }
}

impl PartialEq for RegionSpec {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_dyn(&*other.0)
    }
}

impl std::fmt::Debug for RegionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for RegionSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            kind: &'a str,
            #[serde(flatten)]
            params: &'a dyn DynParams,
        }
        Tagged {
            kind: self.kind(),
            params: &*self.0,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RegionSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let kind = match table.remove("kind") {
            Some(toml::Value::String(k)) => k,
            _ => return Err(D::Error::missing_field("kind")),
        };
        let k = kind_named(&kind).ok_or_else(|| D::Error::custom(format!("unknown region kind `{kind}`")))?;
        (k.from_table)(table).map_err(D::Error::custom)
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

/// The widest a latent, hidden state or action set may be (widths and counts of one agent).
pub const MAX_WIDTH: usize = 1 << 16;

/// Each `(name, value, max)` at most `max`: sizes beyond which an agent could not be allocated
/// or a tick would not end (`negatives = 1e9`), refused before anything is built.
pub fn check_sizes(sizes: &[(&str, usize, usize)]) -> Result<(), ParamError> {
    for &(name, value, max) in sizes {
        if value > max {
            return Err(ParamError::new(name, format!("an integer ≤ {max}")));
        }
    }
    Ok(())
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

/// A registered region kind: its name, summary and how to read its parameters. Made from the
/// kind's [`RegionParams`] by [`RegionKind::of`].
#[derive(Clone, Copy)]
pub struct RegionKind {
    /// The `kind = "…"` name.
    pub name: &'static str,
    /// One line: what it models.
    pub summary: &'static str,
    detail: &'static str,
    defaults: fn() -> RegionSpec,
    parse: fn(toml::de::ValueDeserializer<'_>) -> Result<RegionSpec, toml::de::Error>,
    from_table: fn(toml::Table) -> Result<RegionSpec, toml::de::Error>,
}

fn defaults_of<C: RegionParams>() -> RegionSpec {
    RegionSpec::new(C::default())
}

fn parse_as<C: RegionParams>(de: toml::de::ValueDeserializer<'_>) -> Result<RegionSpec, toml::de::Error> {
    C::deserialize(de).map(RegionSpec::new)
}

fn from_table_as<C: RegionParams>(table: toml::Table) -> Result<RegionSpec, toml::de::Error> {
    toml::Value::Table(table).try_into::<C>().map(RegionSpec::new)
}

impl RegionKind {
    /// The registry entry of the kind whose parameters are `C`.
    pub const fn of<C: RegionParams>() -> Self {
        RegionKind {
            name: C::KIND,
            summary: C::SUMMARY,
            detail: C::DETAIL,
            defaults: defaults_of::<C>,
            parse: parse_as::<C>,
            from_table: from_table_as::<C>,
        }
    }

    /// The spec with every parameter at its default.
    pub fn defaults(&self) -> RegionSpec {
        (self.defaults)()
    }

    /// Reads the parameters (without `kind`) from a TOML table, unknown keys rejected.
    pub fn parse(&self, de: toml::de::ValueDeserializer<'_>) -> Result<RegionSpec, toml::de::Error> {
        (self.parse)(de)
    }

    /// The equation sheet: the `//!` header of the kind's file, or its text as given.
    pub fn detail(&self) -> String {
        if self.detail.starts_with("//!") {
            doc_header(self.detail)
        } else {
            self.detail.to_string()
        }
    }
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

/// Every region kind: the built-in ones, one line each, and those added with [`register`].
static KINDS: Registry<RegionKind> = Registry::new(
    "region",
    &[
        RegionKind::of::<SensoryCortexConfig>(),
        RegionKind::of::<RewardModelConfig>(),
        RegionKind::of::<BasalGangliaConfig>(),
        RegionKind::of::<HabitConfig>(),
        RegionKind::of::<PfcConfig>(),
        RegionKind::of::<HippocampusConfig>(),
        RegionKind::of::<ActionSelectionConfig>(),
        RegionKind::of::<WorldModelConfig>(),
        RegionKind::of::<SelfRewardConfig>(),
        RegionKind::of::<GoalDirectedConfig>(),
    ],
);

impl Named for RegionKind {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Every region kind: the built-in ones, then those registered with [`register`].
pub fn registry() -> Vec<RegionKind> {
    KINDS.all()
}

/// A registered kind by name.
pub fn kind_named(name: &str) -> Option<RegionKind> {
    KINDS.named(name)
}

/// Registers a region kind defined outside the crate, so that model files may name it like a
/// built-in, with the same checks (unknown parameters rejected with a "did you mean", wrong
/// types located, ports wired and size-checked). A later registration of the same name replaces
/// the earlier one; built-in names cannot be replaced.
pub fn register<C: RegionParams>() -> Result<()> {
    KINDS.register(RegionKind::of::<C>())
}
