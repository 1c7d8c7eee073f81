//! Environments, Gymnasium-style: a world is reset with per-agent seeds and stepped for all P
//! agents at once. A world's outputs are ports like a region's (`world.token`, `world.reward`),
//! and so are its inputs (`world.action`), so model files wire them with ordinary edges.
//!
//! A world kind is one file: its configuration (a serde struct implementing [`WorldParams`]:
//! name, ports, checks, vocabulary, construction, and the analysis of its own outputs — derived
//! summary figures and special plots) and the world it builds (implementing [`World`]), plus one
//! line in [`registry`]'s table — or one call of [`register`] from outside the crate, which goes
//! through the same path (Gymnasium's `register(id, entry_point)`).

pub mod bandit;
pub mod corpora;
pub mod corpus;
pub mod harmony;
pub mod instrumental;
pub mod lexicon;
pub mod one_shot;
pub mod pavlovian;
pub mod society;
pub mod sources;
pub mod text;
pub mod two_step;

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Chart, Row, SummaryEntry};
use crate::ports::{Inputs, Outputs, Ports};
use crate::registry::{Named, Registry};
pub use crate::vocabulary::Vocabulary;

pub use bandit::{ArmDistribution, BanditConfig, BanditWorld};
pub use corpora::{CorporaConfig, CorporaWorld};
pub use corpus::{CorpusConfig, CorpusWorld};
pub use harmony::{HarmonyConfig, HarmonyWorld};
pub use instrumental::{InstrumentalConfig, InstrumentalWorld};
pub use lexicon::{LexiconConfig, LexiconWorld};
pub use one_shot::{OneShotConfig, OneShotWorld, Signs};
pub use pavlovian::{PavlovianConfig, PavlovianWorld};
pub use society::{SocietyConfig, SocietyWorld};
pub use text::{Source, TextConfig, TextWorld, WordnetConfig};
pub use two_step::{RewardProcess, TwoStepConfig, TwoStepWorld};

/// An environment stepping P agents.
///
/// A minimal world — every agent sees token 0 and is rewarded on every step:
///
/// ```
/// use ndarray::Array2;
/// use valence::ports::Outputs;
/// use valence::worlds::{Vocabulary, World};
/// use valence::Signal;
///
/// struct Bliss {
///     vocabulary: Vocabulary,
///     population: usize,
/// }
///
/// impl World for Bliss {
///     fn vocabulary(&self) -> &Vocabulary {
///         &self.vocabulary
///     }
///     fn reset(&mut self, seeds: &[u64]) {
///         self.population = seeds.len();
///     }
///     fn step(&mut self) -> valence::Result<Outputs> {
///         let p = self.population;
///         Ok(vec![
///             ("token", Signal::Host(Array2::zeros((p, 1)))),
///             ("reward", Signal::Host(Array2::ones((p, 1)))),
///         ])
///     }
/// }
///
/// let mut world = Bliss { vocabulary: Vocabulary::from_counts(vec![("bliss".into(), 1)]), population: 0 };
/// world.reset(&[7, 8, 9]);
/// let out = world.step()?;
/// assert_eq!(out[1].1.shape(), [3, 1]);
/// # Ok::<(), valence::Error>(())
/// ```
///
/// Its ports, and everything else a scenario needs before the world is built, come from its
/// configuration's [`WorldParams`] (`tests/extension/custom_kinds.rs` defines a complete kind
/// outside the crate).
pub trait World: Send {
    /// The tokens this world can emit.
    fn vocabulary(&self) -> &Vocabulary;

    /// Starts every agent's stream afresh from its own seed.
    fn reset(&mut self, seeds: &[u64]);

    /// One step for every agent: the outputs by port, each `[P, width]`.
    fn step(&mut self) -> Result<Outputs>;

    /// What the brain sends the world at the end of a tick (its input ports, e.g. `action`),
    /// taking effect on the next step. A world that declares input ports must take them here:
    /// the default refuses any input, so that no action is dropped silently.
    fn act(&mut self, inputs: &Inputs) -> Result<()> {
        match inputs.names().next() {
            None => Ok(()),
            Some(port) => Err(Error::Run(format!(
                "the world received `{port}` but takes no inputs (it has no `act`)"
            ))),
        }
    }

    /// Saves where every agent's stream stands (position, generators, running scores) so that
    /// [`World::restore`] on a freshly built and reset world continues exactly (checkpoints).
    fn save(&self, _out: &mut Snapshot) -> Result<()> {
        Err(Error::Run("this world cannot be checkpointed (no `save`)".into()))
    }

    /// Restores what [`World::save`] wrote.
    fn restore(&mut self, _from: &Snapshot) -> Result<()> {
        Err(Error::Run(
            "this world cannot be checkpointed (no `restore`)".into(),
        ))
    }
}

/// Whether a number read as `f64` (a reward, a rating) holds as the `f32` it is used as:
/// finite, with |x| ≤ f32's largest.
pub fn holds_as_f32(x: f64) -> bool {
    x.is_finite() && x.abs() <= f32::MAX as f64
}

/// A word's id in a world's vocabulary; `world` (the kind) names who asked in the error. The
/// vocabulary is built from the worlds' own words, so a miss is a bug, not a user's mistake.
pub(crate) fn word_id(vocabulary: &Vocabulary, world: &str, word: &str) -> Result<u32> {
    vocabulary
        .id(word)
        .ok_or_else(|| Error::Run(format!("{world}: `{word}` missing from the vocabulary")))
}

/// Reward per token id, from a world's word → reward map.
pub(crate) fn reward_table(
    vocabulary: &Vocabulary,
    world: &str,
    rewards: &BTreeMap<String, f64>,
) -> Result<Vec<f32>> {
    let mut table = vec![0.0; vocabulary.len()];
    for (word, r) in rewards {
        table[word_id(vocabulary, world, word)? as usize] = *r as f32;
    }
    Ok(table)
}

/// The number of agents that have rows (the highest agent index + 1): what a world's
/// `derived` entries were read from.
pub(crate) fn agents_in(rows: &[Row]) -> usize {
    rows.iter().map(|r| r.agent + 1).max().unwrap_or(0)
}

/// Makes a configured path relative to `base` (the scenario's folder) unless it is empty or
/// absolute: what every world that reads files does in [`WorldParams::resolve_paths`].
pub(crate) fn resolve_path(path: &mut PathBuf, base: &Path) {
    if !path.as_os_str().is_empty() && path.is_relative() {
        *path = base.join(&*path);
    }
}

/// Restores a per-agent state vector saved under `key`, checking the population.
pub(crate) fn restore_agents<T: serde::de::DeserializeOwned>(
    from: &Snapshot,
    key: &str,
    into: &mut Vec<T>,
) -> Result<()> {
    let saved: Vec<T> = from.get(key)?;
    if saved.len() != into.len() {
        return Err(Error::Run(format!(
            "checkpoint: `{key}` saved for {} agents, not {}",
            saved.len(),
            into.len()
        )));
    }
    *into = saved;
    Ok(())
}

/// Saves per-agent state under `agents` and the world's step counter under `step`: what a
/// world that keeps one state per agent and one clock needs in a checkpoint.
pub(crate) fn save_agents_and_step<T: serde::Serialize, S: serde::Serialize>(
    out: &mut Snapshot,
    agents: &[T],
    step: &S,
) {
    out.put("agents", agents);
    out.put("step", step);
}

/// Restores what [`save_agents_and_step`] wrote, checking the population.
pub(crate) fn restore_agents_and_step<T: serde::de::DeserializeOwned, S: serde::de::DeserializeOwned>(
    from: &Snapshot,
    agents: &mut Vec<T>,
    step: &mut S,
) -> Result<()> {
    restore_agents(from, "agents", agents)?;
    *step = from.get("step")?;
    Ok(())
}

/// A problem in a world's configuration, with the key path (below the world table) that
/// locates it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldError {
    /// Keys from the world table down to the offending value, e.g. `["rewards", "aple"]`.
    pub path: Vec<String>,
    /// The kind of problem.
    pub kind: ErrorKind,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    pub help: Option<String>,
}

impl WorldError {
    /// An out-of-range value at one key of the world table.
    pub fn invalid(key: &str, message: &str) -> Self {
        WorldError::new(vec![key.into()], ErrorKind::InvalidValue, message.into())
    }

    /// An error without a suggestion.
    pub fn new(path: Vec<String>, kind: ErrorKind, message: String) -> Self {
        WorldError {
            path,
            kind,
            message,
            help: None,
        }
    }
}

/// A world kind's configuration: the struct a scenario's `[world]` table is read into
/// (`#[serde(default, deny_unknown_fields)]`), and everything else the simulator needs to know of
/// the kind. A new kind implements this and [`World`] in one file and adds one line to
/// [`registry`]'s table (or calls [`register`] from outside the crate).
pub trait WorldParams:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    /// The `kind = "…"` name.
    const KIND: &'static str;
    /// One line: what it is.
    const SUMMARY: &'static str;

    /// Its ports: outputs (`world.token`, …) and inputs (`world.action`, …).
    fn ports(&self) -> Ports;

    /// Checks the configuration, including that the files it reads exist; errors carry the key
    /// path that locates them in the scenario file.
    fn check(&self) -> std::result::Result<(), WorldError> {
        Ok(())
    }

    /// Checks what depends on the population (pairs need an even one, groups enough agents);
    /// the scenario loader locates an error at `population`.
    fn check_population(&self, _population: usize) -> std::result::Result<(), WorldError> {
        Ok(())
    }

    /// Makes relative paths in the configuration relative to `base` (the scenario's folder).
    fn resolve_paths(&mut self, _base: &Path) {}

    /// The words of a closed vocabulary (a grammar's), known before anything is read; `None`
    /// for open corpora whose words are known only after reading them.
    fn closed_words(&self) -> Option<Vec<String>>;

    /// This world's words and counts for the shared vocabulary.
    fn word_counts(&self) -> Result<Vec<(String, u64)>>;

    /// Builds the world for P agents over the shared vocabulary.
    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>>;

    /// Summary figures that combine several of this world's outputs (`summary.json`'s
    /// `derived`), computed from a run's readings.
    fn derived(&self, _rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        BTreeMap::new()
    }

    /// Figures special to this world (drawn by `plot` beside every probe's curves), computed
    /// from a run's readings; none where its outputs were not probed.
    fn figures(&self, _rows: &[Row]) -> Vec<Chart> {
        Vec::new()
    }
}

/// What a [`WorldSpec`] holds: [`WorldParams`] with the type erased.
trait DynWorld: erased_serde::Serialize + std::fmt::Debug + Send + Sync {
    fn kind(&self) -> &'static str;
    fn ports(&self) -> Ports;
    fn check(&self) -> std::result::Result<(), WorldError>;
    fn check_population(&self, population: usize) -> std::result::Result<(), WorldError>;
    fn resolve_paths(&mut self, base: &Path);
    fn closed_words(&self) -> Option<Vec<String>>;
    fn word_counts(&self) -> Result<Vec<(String, u64)>>;
    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>>;
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry>;
    fn figures(&self, rows: &[Row]) -> Vec<Chart>;
    fn clone_box(&self) -> Box<dyn DynWorld>;
    fn eq_dyn(&self, other: &dyn DynWorld) -> bool;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

erased_serde::serialize_trait_object!(DynWorld);

impl<C: WorldParams> DynWorld for C {
    fn kind(&self) -> &'static str {
        C::KIND
    }
    fn ports(&self) -> Ports {
        WorldParams::ports(self)
    }
    fn check(&self) -> std::result::Result<(), WorldError> {
        WorldParams::check(self)
    }
    fn check_population(&self, population: usize) -> std::result::Result<(), WorldError> {
        WorldParams::check_population(self, population)
    }
    fn resolve_paths(&mut self, base: &Path) {
        WorldParams::resolve_paths(self, base)
    }
    fn closed_words(&self) -> Option<Vec<String>> {
        WorldParams::closed_words(self)
    }
    fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        WorldParams::word_counts(self)
    }
    fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        WorldParams::build(self, vocabulary, population)
    }
    fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        WorldParams::derived(self, rows)
    }
    fn figures(&self, rows: &[Row]) -> Vec<Chart> {
        WorldParams::figures(self, rows)
    }
    fn clone_box(&self) -> Box<dyn DynWorld> {
        Box::new(self.clone())
    }
    fn eq_dyn(&self, other: &dyn DynWorld) -> bool {
        other.as_any().downcast_ref::<C>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A world's configuration, of any kind: read from a scenario's `[world]` table by `kind`,
/// written back (`kind` first) into a run's `scenario.toml`.
///
/// ```
/// use valence::worlds::{BanditConfig, WorldSpec};
///
/// let mut world = WorldSpec::new(BanditConfig::default());
/// assert_eq!(world.kind(), "bandit");
/// assert!(world.ports().input("action").is_some());
/// world.get_mut::<BanditConfig>().unwrap().arms = vec![0.1, 0.9];
/// assert_eq!(world.get::<BanditConfig>().unwrap().arms, [0.1, 0.9]);
/// ```
pub struct WorldSpec(Box<dyn DynWorld>);

impl WorldSpec {
    /// A spec from a kind's configuration.
    pub fn new<C: WorldParams>(config: C) -> Self {
        WorldSpec(Box::new(config))
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// The configuration, if this world is of kind `C`.
    pub fn get<C: WorldParams>(&self) -> Option<&C> {
        self.0.as_any().downcast_ref()
    }

    /// The configuration, mutably, if this world is of kind `C`.
    pub fn get_mut<C: WorldParams>(&mut self) -> Option<&mut C> {
        self.0.as_any_mut().downcast_mut()
    }

    /// Reads a world of a registered kind from a table without `kind` (unknown keys rejected);
    /// `None` if no kind of that name is registered.
    pub fn parse(kind: &str, de: toml::de::ValueDeserializer<'_>) -> Option<Result<Self, toml::de::Error>> {
        kind_named(kind).map(|k| (k.parse)(de))
    }

    /// Reads a world of a registered kind from a TOML value without `kind`.
    pub fn from_value(kind: &str, value: toml::Value) -> Option<Result<Self, toml::de::Error>> {
        kind_named(kind).map(|k| (k.from_value)(value))
    }

    /// Paths in the configuration made relative to `base` (the scenario's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        self.0.resolve_paths(base)
    }

    /// Checks the configuration, including that the files it reads exist.
    pub fn check(&self) -> std::result::Result<(), WorldError> {
        self.0.check()
    }

    /// Checks what depends on the population.
    pub fn check_population(&self, population: usize) -> std::result::Result<(), WorldError> {
        self.0.check_population(population)
    }

    /// The words of a closed vocabulary (a grammar's), `None` for open corpora whose words are
    /// known only after reading them.
    pub fn closed_words(&self) -> Option<Vec<String>> {
        self.0.closed_words()
    }

    /// This world's words and counts for the shared vocabulary.
    pub fn word_counts(&self) -> Result<Vec<(String, u64)>> {
        self.0.word_counts()
    }

    /// Builds the world for P agents over the shared vocabulary.
    pub fn build(&self, vocabulary: Arc<Vocabulary>, population: usize) -> Result<Box<dyn World>> {
        self.0.build(vocabulary, population)
    }

    /// Its ports: outputs and inputs.
    pub fn ports(&self) -> Ports {
        self.0.ports()
    }

    /// Summary figures combining several of its outputs (see [`WorldParams::derived`]).
    pub fn derived(&self, rows: &[Row]) -> BTreeMap<String, SummaryEntry> {
        self.0.derived(rows)
    }

    /// Figures special to it (see [`WorldParams::figures`]).
    pub fn figures(&self, rows: &[Row]) -> Vec<Chart> {
        self.0.figures(rows)
    }
}

impl Clone for WorldSpec {
    fn clone(&self) -> Self {
        WorldSpec(self.0.clone_box())
    }
}

impl PartialEq for WorldSpec {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_dyn(&*other.0)
    }
}

impl std::fmt::Debug for WorldSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for WorldSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            kind: &'a str,
            #[serde(flatten)]
            config: &'a dyn DynWorld,
        }
        Tagged {
            kind: self.kind(),
            config: &*self.0,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for WorldSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let kind = match table.remove("kind") {
            Some(toml::Value::String(k)) => k,
            _ => return Err(D::Error::missing_field("kind")),
        };
        WorldSpec::from_value(&kind, toml::Value::Table(table))
            .ok_or_else(|| D::Error::custom(format!("unknown world kind `{kind}`")))?
            .map_err(D::Error::custom)
    }
}

/// A registered world kind: its name, summary and how to read its configuration. Made from the
/// kind's [`WorldParams`] by [`WorldKind::of`].
#[derive(Clone, Copy)]
pub struct WorldKind {
    /// The `kind = "…"` name.
    pub name: &'static str,
    /// One line: what it is.
    pub summary: &'static str,
    defaults: fn() -> WorldSpec,
    parse: fn(toml::de::ValueDeserializer<'_>) -> Result<WorldSpec, toml::de::Error>,
    from_value: fn(toml::Value) -> Result<WorldSpec, toml::de::Error>,
}

fn defaults_of<C: WorldParams>() -> WorldSpec {
    WorldSpec::new(C::default())
}

fn parse_as<C: WorldParams>(de: toml::de::ValueDeserializer<'_>) -> Result<WorldSpec, toml::de::Error> {
    C::deserialize(de).map(WorldSpec::new)
}

fn from_value_as<C: WorldParams>(value: toml::Value) -> Result<WorldSpec, toml::de::Error> {
    value.try_into::<C>().map(WorldSpec::new)
}

impl WorldKind {
    /// The registry entry of the kind whose configuration is `C`.
    pub const fn of<C: WorldParams>() -> Self {
        WorldKind {
            name: C::KIND,
            summary: C::SUMMARY,
            defaults: defaults_of::<C>,
            parse: parse_as::<C>,
            from_value: from_value_as::<C>,
        }
    }

    /// The world with its default configuration.
    pub fn defaults(&self) -> WorldSpec {
        (self.defaults)()
    }
}

/// Every world kind: the built-in ones, one line each, and those added with [`register`].
static KINDS: Registry<WorldKind> = Registry::new(
    "world",
    &[
        WorldKind::of::<CorpusConfig>(),
        WorldKind::of::<TextConfig>(),
        WorldKind::of::<WordnetConfig>(),
        WorldKind::of::<CorporaConfig>(),
        WorldKind::of::<LexiconConfig>(),
        WorldKind::of::<PavlovianConfig>(),
        WorldKind::of::<InstrumentalConfig>(),
        WorldKind::of::<SocietyConfig>(),
        WorldKind::of::<HarmonyConfig>(),
        WorldKind::of::<BanditConfig>(),
        WorldKind::of::<TwoStepConfig>(),
        WorldKind::of::<OneShotConfig>(),
    ],
);

impl Named for WorldKind {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Every world kind: the built-in ones, then those registered with [`register`].
pub fn registry() -> Vec<WorldKind> {
    KINDS.all()
}

/// A registered kind by name.
pub fn kind_named(name: &str) -> Option<WorldKind> {
    KINDS.named(name)
}

/// Every registered kind's name, built-in first.
pub fn kind_names() -> Vec<&'static str> {
    KINDS.names()
}

/// Registers a world kind defined outside the crate, so that scenarios may name it like a
/// built-in. A later registration of the same name replaces the earlier one; built-in names
/// cannot be replaced.
pub fn register<C: WorldParams>() -> Result<()> {
    KINDS.register(WorldKind::of::<C>())
}

/// One vocabulary for every phase: each world's words in phase order, counts summed.
pub fn build_vocabulary(worlds: &[&WorldSpec]) -> Result<Vocabulary> {
    let mut order: Vec<String> = Vec::new();
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut seen: Vec<&WorldSpec> = Vec::new();
    for w in worlds {
        if seen.contains(w) {
            continue;
        }
        seen.push(w);
        for (word, c) in w.word_counts()? {
            let e = counts.entry(word.clone()).or_insert_with(|| {
                order.push(word.clone());
                0
            });
            *e += c;
        }
    }
    Ok(Vocabulary::from_counts(
        order
            .into_iter()
            .map(|w| {
                let c = counts[&w];
                (w, c)
            })
            .collect(),
    ))
}
