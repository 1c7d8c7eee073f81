//! Probes: measurements of the brain taken on schedule, one value per agent and key, written
//! to `metrics.csv`. A probe kind is one file: its parameters (a struct implementing
//! [`ProbeParams`]: name, how it reads its `[[probes]]` table with located errors, the words it
//! names, what it keeps while a run goes on) and what it measures (implementing [`Probe`]),
//! plus one line in [`registry`]'s table — or one call of [`register`] from outside the crate,
//! which goes through the same path.
//!
//! This module sits below `scenario` (which parses probes through it) and above `brain` (which
//! probes read), so the scenario parser and the run loop share one definition of each kind.

pub mod analogy;
pub mod cooccurrence;
pub mod cosine;
pub mod event;
pub mod neighbours;
pub mod norms;
pub mod perplexity;
pub mod signal;
pub mod valence;
pub mod weat;

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use ndarray::{Array1, Array2, Axis};
use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::DeValue;

use crate::brain::{Brain, Endpoint, ModelSpec, WORLD};
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result, SourceFile, did_you_mean};
use crate::metrics::Recorder;
use crate::ports::PortSpec;
use crate::regions::RegionSpec;
use crate::registry::{Named, Registry};
use crate::signal::Signal;
use crate::vocabulary::{EOS, UNK, Vocabulary};
use crate::worlds::WorldSpec;

pub use analogy::AnalogyProbe;
pub use cooccurrence::CooccurrenceProbe;
pub use cosine::CosineProbe;
pub use event::EventProbe;
pub use neighbours::NeighboursProbe;
pub use norms::NormsProbe;
pub use perplexity::PerplexityProbe;
pub use signal::SignalProbe;
pub use valence::ValenceProbe;
pub use weat::WeatProbe;

/// A probe kind's parameters: what a `[[probes]]` table says, checked. A new kind implements
/// this and [`Probe`] in one file and adds one line to [`registry`]'s table (or calls
/// [`register`] from outside the crate).
pub trait ProbeParams: Serialize + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// The `kind = "…"` name.
    const KIND: &'static str;
    /// One line: what it measures.
    const SUMMARY: &'static str;

    /// Reads the probe's own fields: its table without `kind`, `name` and `every`. Errors are
    /// located in the scenario file ([`ProbeContext::fields`] does the typing and rejects
    /// unknown fields; the other helpers check words, regions and signals).
    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self>;

    /// Every word it names, checked against the vocabulary when a run starts (open corpora's
    /// words are known only then).
    fn concepts(&self) -> Vec<&String> {
        Vec::new()
    }

    /// Whether it reads one of the world's outputs (silent, and so not read, during replay).
    fn reads_world(&self) -> bool {
        false
    }

    /// What it measures during a run, with the state it keeps, over the run's vocabulary.
    fn build(&self, name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>>;
}

/// A probe during a run.
pub trait Probe: Send {
    /// Whether it needs to see every tick ([`Probe::observe`]).
    fn observes(&self) -> bool {
        false
    }

    /// Called after every tick when [`Probe::observes`]: running counts and sums.
    fn observe(&mut self, _brain: &Brain) -> Result<()> {
        Ok(())
    }

    /// Takes its reading for every agent.
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()>;

    /// Saves its running state (checkpoints). Every probe of a run saves into one snapshot, so
    /// keys must carry the probe's name (`events/NAME/sums`), as the built-in kinds' do.
    fn save(&self, _out: &mut Snapshot) {}

    /// Restores what [`Probe::save`] wrote.
    fn restore(&mut self, _from: &Snapshot) -> Result<()> {
        Ok(())
    }
}

/// Where a probe's readings go: the recorder, at this phase and step, under the probe's name.
pub struct Readings<'a> {
    recorder: &'a mut Recorder,
    phase: &'a str,
    step: u64,
    probe: &'a str,
}

impl<'a> Readings<'a> {
    /// Readings of probe `probe` at `step` of `phase`.
    pub fn new(recorder: &'a mut Recorder, phase: &'a str, step: u64, probe: &'a str) -> Self {
        Readings {
            recorder,
            phase,
            step,
            probe,
        }
    }

    /// One key's value for every agent (`[P]`).
    pub fn record(&mut self, key: &str, values: &Array1<f32>) {
        self.recorder
            .record(self.phase, self.step, self.probe, key, values);
    }

    /// One key's value for one agent.
    pub fn record_one(&mut self, agent: usize, key: &str, value: f32) {
        self.recorder
            .record_one(self.phase, self.step, agent, self.probe, key, value);
    }

    /// A run-time error naming the probe.
    pub fn fail(&self, message: impl std::fmt::Display) -> Error {
        Error::Probe {
            probe: self.probe.to_string(),
            message: message.to_string(),
        }
    }
}

/// What a [`ProbeSpec`] holds: [`ProbeParams`] with the type erased.
trait DynProbe: erased_serde::Serialize + std::fmt::Debug + Send + Sync {
    fn kind(&self) -> &'static str;
    fn concepts(&self) -> Vec<&String>;
    fn reads_world(&self) -> bool;
    fn build(&self, name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>>;
    fn clone_box(&self) -> Box<dyn DynProbe>;
    fn eq_dyn(&self, other: &dyn DynProbe) -> bool;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

erased_serde::serialize_trait_object!(DynProbe);

impl<C: ProbeParams> DynProbe for C {
    fn kind(&self) -> &'static str {
        C::KIND
    }
    fn concepts(&self) -> Vec<&String> {
        ProbeParams::concepts(self)
    }
    fn reads_world(&self) -> bool {
        ProbeParams::reads_world(self)
    }
    fn build(&self, name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        ProbeParams::build(self, name, vocabulary)
    }
    fn clone_box(&self) -> Box<dyn DynProbe> {
        Box::new(self.clone())
    }
    fn eq_dyn(&self, other: &dyn DynProbe) -> bool {
        other.as_any().downcast_ref::<C>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A probe of any kind and its schedule, written back (name, schedule, `kind`, parameters)
/// into a run's `scenario.toml`.
pub struct ProbeSpec {
    /// The name written in the `probe` column.
    pub name: String,
    /// Every this many steps within a phase, and always at a phase's last step.
    pub every: u64,
    /// Its figure's title (`title = "…"`): the question it answers; default its name.
    pub title: Option<String>,
    /// The phases its figure shows (`plot_phases = [...]`); default every phase.
    pub plot_phases: Vec<String>,
    params: Box<dyn DynProbe>,
}

impl ProbeSpec {
    /// A probe from a kind's parameters.
    pub fn new<C: ProbeParams>(name: impl Into<String>, every: u64, params: C) -> Self {
        ProbeSpec {
            name: name.into(),
            every,
            title: None,
            plot_phases: Vec::new(),
            params: Box::new(params),
        }
    }

    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        self.params.kind()
    }

    /// The parameters, if this probe is of kind `C`.
    pub fn get<C: ProbeParams>(&self) -> Option<&C> {
        self.params.as_any().downcast_ref()
    }

    /// The parameters, mutably, if this probe is of kind `C`.
    pub fn get_mut<C: ProbeParams>(&mut self) -> Option<&mut C> {
        self.params.as_any_mut().downcast_mut()
    }

    /// Every word the probe names.
    pub fn concepts(&self) -> Vec<&String> {
        self.params.concepts()
    }

    /// Whether it reads one of the world's outputs (not taken during replay).
    pub fn reads_world(&self) -> bool {
        self.params.reads_world()
    }

    /// What it measures during a run.
    pub fn build(&self, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        self.params.build(&self.name, vocabulary)
    }
}

impl Clone for ProbeSpec {
    fn clone(&self) -> Self {
        ProbeSpec {
            name: self.name.clone(),
            every: self.every,
            title: self.title.clone(),
            plot_phases: self.plot_phases.clone(),
            params: self.params.clone_box(),
        }
    }
}

impl PartialEq for ProbeSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.every == other.every
            && self.title == other.title
            && self.plot_phases == other.plot_phases
            && self.params.eq_dyn(&*other.params)
    }
}

impl std::fmt::Debug for ProbeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeSpec")
            .field("name", &self.name)
            .field("every", &self.every)
            .field("title", &self.title)
            .field("plot_phases", &self.plot_phases)
            .field("params", &self.params)
            .finish()
    }
}

impl Serialize for ProbeSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            name: &'a str,
            every: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            title: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            plot_phases: Option<&'a [String]>,
            kind: &'a str,
            #[serde(flatten)]
            params: &'a dyn DynProbe,
        }
        Tagged {
            name: &self.name,
            every: self.every,
            title: self.title.as_deref(),
            plot_phases: Some(&self.plot_phases[..]).filter(|p| !p.is_empty()),
            kind: self.kind(),
            params: &*self.params,
        }
        .serialize(s)
    }
}

/// A list of words as written, each with its place in the file: `["a", "b"]`.
pub type SpannedWords = Spanned<Vec<Spanned<String>>>;

/// Pairs of words as written: `[["a", "b"], …]`.
pub type SpannedPairs = Spanned<Vec<Spanned<(String, String)>>>;

/// Reads a kind's table into its erased parameters.
type ParseFn = for<'a, 'b> fn(&Spanned<DeValue<'a>>, &ProbeContext<'b>) -> Result<Box<dyn DynProbe>>;

/// A registered probe kind: its name, summary and how to read its table. Made from the kind's
/// [`ProbeParams`] by [`ProbeKind::of`].
#[derive(Clone, Copy)]
pub struct ProbeKind {
    /// The `kind = "…"` name.
    pub name: &'static str,
    /// One line: what it measures.
    pub summary: &'static str,
    parse: ParseFn,
}

fn parse_as<C: ProbeParams>(
    table: &Spanned<DeValue<'_>>,
    cx: &ProbeContext<'_>,
) -> Result<Box<dyn DynProbe>> {
    Ok(Box::new(C::parse(table, cx)?))
}

impl ProbeKind {
    /// The registry entry of the kind whose parameters are `C`.
    pub const fn of<C: ProbeParams>() -> Self {
        ProbeKind {
            name: C::KIND,
            summary: C::SUMMARY,
            parse: parse_as::<C>,
        }
    }

    /// Reads a probe of this kind from its table (without `kind`, `name`, `every`, `title` and
    /// `plot_phases`).
    pub fn parse(
        &self,
        name: String,
        every: u64,
        table: &Spanned<DeValue<'_>>,
        cx: &ProbeContext<'_>,
    ) -> Result<ProbeSpec> {
        Ok(ProbeSpec {
            name,
            every,
            title: None,
            plot_phases: Vec::new(),
            params: (self.parse)(table, cx)?,
        })
    }
}

/// Every probe kind: the built-in ones, one line each, and those added with [`register`].
static KINDS: Registry<ProbeKind> = Registry::new(
    "probe",
    &[
        ProbeKind::of::<ValenceProbe>(),
        ProbeKind::of::<CosineProbe>(),
        ProbeKind::of::<NeighboursProbe>(),
        ProbeKind::of::<WeatProbe>(),
        ProbeKind::of::<AnalogyProbe>(),
        ProbeKind::of::<NormsProbe>(),
        ProbeKind::of::<SignalProbe>(),
        ProbeKind::of::<EventProbe>(),
        ProbeKind::of::<CooccurrenceProbe>(),
        ProbeKind::of::<PerplexityProbe>(),
    ],
);

impl Named for ProbeKind {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Every probe kind: the built-in ones, then those registered with [`register`].
pub fn registry() -> Vec<ProbeKind> {
    KINDS.all()
}

/// A registered kind by name.
pub fn kind_named(name: &str) -> Option<ProbeKind> {
    KINDS.named(name)
}

/// Every registered kind's name, built-in first.
pub fn kind_names() -> Vec<&'static str> {
    KINDS.names()
}

/// Registers a probe kind defined outside the crate, so that scenarios may name it like a
/// built-in. A later registration of the same name replaces the earlier one; built-in names
/// cannot be replaced.
pub fn register<C: ProbeParams>() -> Result<()> {
    KINDS.register(ProbeKind::of::<C>())
}

/// What a probe's parser may check its table against, with located errors: the scenario file,
/// the model, the phases' worlds and (where every world's vocabulary is closed) their words.
pub struct ProbeContext<'a> {
    /// The scenario file.
    pub source: &'a SourceFile,
    /// The model, with the scenario's overrides.
    pub model: &'a ModelSpec,
    /// The world's output ports (what `world.PORT` may name).
    pub world_outputs: Vec<PortSpec>,
    /// Each phase's world.
    pub worlds: Vec<&'a WorldSpec>,
    /// Every word the worlds can emit, if all their vocabularies are closed (grammars).
    pub words: Option<Vec<String>>,
    /// The span of the probe's whole table (for "missing" errors).
    pub span: Range<usize>,
    /// Reads a world table as a phase's `[phases.world]` is read (changes merged into the
    /// scenario's `[world]`, or a whole world with a `kind`), errors located.
    pub read_world: &'a dyn Fn(&Spanned<DeValue<'_>>) -> Result<WorldSpec>,
    /// The probe's kind, for messages.
    pub kind: &'a str,
}

impl ProbeContext<'_> {
    /// The table typed as `T` (serde, `deny_unknown_fields`): unknown fields ("did you mean")
    /// and wrong types are located.
    pub fn fields<T: DeserializeOwned>(&self, table: &Spanned<DeValue<'_>>) -> Result<T> {
        T::deserialize(toml::de::ValueDeserializer::from(table.clone()))
            .map_err(|e| self.source.toml_error(&e))
    }

    /// An error at `span`.
    pub fn error(&self, kind: ErrorKind, span: Range<usize>, message: impl Into<String>) -> Error {
        self.source.error(kind, span, message)
    }

    /// "a KIND probe needs `what = example`", at the probe's table.
    pub fn required(&self, what: &str, example: &str) -> Error {
        self.source.error(
            ErrorKind::MissingField,
            self.span.clone(),
            format!("a {} probe needs `{what} = {example}`", self.kind),
        )
    }

    /// A concept: a word of the worlds, or a phrase of such words separated by spaces (each
    /// checked where the worlds' vocabulary is closed).
    pub fn concept(&self, c: &Spanned<String>) -> Result<String> {
        if c.get_ref().split_whitespace().next().is_none() {
            return Err(self.source.error(
                ErrorKind::UnknownConcept,
                c.span(),
                "a concept is a word or a phrase, not an empty string",
            ));
        }
        let Some(words) = &self.words else {
            return Ok(c.get_ref().clone());
        };
        match c
            .get_ref()
            .split_whitespace()
            .find(|w| !words.iter().any(|k| k == w))
        {
            None => Ok(c.get_ref().clone()),
            Some(w) => Err(self.source.error_with_help(
                ErrorKind::UnknownConcept,
                c.span(),
                if w == c.get_ref() {
                    format!("concept `{w}` is not a word of the world")
                } else {
                    format!("concept `{}`: `{w}` is not a word of the world", c.get_ref())
                },
                did_you_mean(w, words.iter().map(String::as_str)),
            )),
        }
    }

    /// A list of words, each checked.
    pub fn words(&self, list: &[Spanned<String>]) -> Result<Vec<String>> {
        list.iter().map(|c| self.concept(c)).collect()
    }

    /// `pairs = [["a", "b"], …]`, every word checked.
    pub fn word_pairs(&self, pairs: &[Spanned<(String, String)>]) -> Result<Vec<(String, String)>> {
        pairs
            .iter()
            .map(|pair| {
                let (a, b) = pair.get_ref();
                let at = |w: &String| Spanned::new(pair.span(), w.clone());
                Ok((self.concept(&at(a))?, self.concept(&at(b))?))
            })
            .collect()
    }

    /// A positive integer.
    pub fn positive(&self, v: &Spanned<i64>, what: &str) -> Result<u64> {
        positive(self.source, v, what)
    }

    /// "`NAME` names no region of model `M`", with a suggestion.
    pub fn unknown_region(&self, s: &Spanned<String>) -> Error {
        unknown_region(self.source, self.model, s)
    }

    /// The region given, which must exist, or the model's first region of `kind`.
    pub fn region_or_default(&self, given: &Option<Spanned<String>>, kind: &str) -> Result<String> {
        self.region_where(given, &format!("a `{kind}` region"), |spec| spec.kind() == kind)
    }

    /// The region named (checked), or else the model's first cortex (a kind with
    /// [`crate::regions::RegionParams::CORTEX`]: `sensory_cortex`, `world_model`, …).
    pub fn cortex_or_default(&self, given: &Option<Spanned<String>>) -> Result<String> {
        let kinds: Vec<String> = crate::regions::registry()
            .iter()
            .filter(|k| k.defaults().is_cortex())
            .map(|k| format!("`{}`", k.name))
            .collect();
        let wanted = format!("a cortex region ({})", kinds.join(" or "));
        self.region_where(given, &wanted, RegionSpec::is_cortex)
    }

    /// The region named (checked), or else the model's first region that `matches`; `wanted`
    /// says what was looked for ("a `reward_model` region").
    fn region_where(
        &self,
        given: &Option<Spanned<String>>,
        wanted: &str,
        matches: impl Fn(&RegionSpec) -> bool,
    ) -> Result<String> {
        match given {
            Some(s) if self.model.regions.iter().any(|(n, _)| n == s.get_ref()) => Ok(s.get_ref().clone()),
            Some(s) => Err(self.unknown_region(s)),
            None => self
                .model
                .regions
                .iter()
                .find(|(_, spec)| matches(spec))
                .map(|(n, _)| n.clone())
                .ok_or_else(|| {
                    self.source.error(
                        ErrorKind::UnknownRegion,
                        self.span.clone(),
                        format!("this probe needs {wanted} and the model has none"),
                    )
                }),
        }
    }

    /// `"region.port"` (an output port of a region or the world) or `"from.port -> to.port"`
    /// (an edge of the model), checked.
    pub fn signal_source(&self, sig: &Spanned<String>) -> Result<SignalSource> {
        if sig.get_ref().contains("->") {
            let index = find_edge(self.source, sig, self.model)?;
            let e = &self.model.edges[index];
            return Ok(SignalSource::Edge {
                edge: format!("{} -> {}", e.from, e.to),
                index,
            });
        }
        let end = Endpoint::parse(sig.get_ref()).ok_or_else(|| {
            self.source.error(
                ErrorKind::InvalidValue,
                sig.span(),
                "expected `region.port` (e.g. `vta.rpe`) or an edge `region.port -> region.port`",
            )
        })?;
        let ports = if end.region == WORLD {
            Some(self.world_outputs.clone())
        } else {
            self.model
                .regions
                .iter()
                .find(|(n, _)| *n == end.region)
                .map(|(_, r)| r.ports().outputs)
        };
        let Some(ports) = ports else {
            return Err(self.unknown_region(&Spanned::new(sig.span(), end.region.clone())));
        };
        if !ports.iter().any(|q| q.name == end.port) {
            let names: Vec<&str> = ports.iter().map(|q| q.name).collect();
            return Err(self.source.error_with_help(
                ErrorKind::UnknownPort,
                sig.span(),
                format!("`{}` has no output port `{}`", end.region, end.port),
                did_you_mean(&end.port, names.iter().copied())
                    .or_else(|| Some(format!("ports: {}", names.join(", ")))),
            ));
        }
        Ok(SignalSource::Port {
            region: end.region,
            port: end.port,
        })
    }
}

/// A positive integer from a spanned field, or a located error.
pub fn positive(source: &SourceFile, v: &Spanned<i64>, what: &str) -> Result<u64> {
    u64::try_from(*v.get_ref())
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| {
            source.error(
                ErrorKind::InvalidValue,
                v.span(),
                format!("`{what}` = {}; expected an integer ≥ 1", v.get_ref()),
            )
        })
}

/// "`NAME` names no region of model `M`", located at the name, with a suggestion.
pub fn unknown_region(source: &SourceFile, model: &ModelSpec, s: &Spanned<String>) -> Error {
    source.error_with_help(
        ErrorKind::UnknownRegion,
        s.span(),
        format!("`{}` names no region of model `{}`", s.get_ref(), model.name),
        did_you_mean(s.get_ref(), model.regions.iter().map(|(n, _)| n.as_str())),
    )
}

/// The model edge that `from -> to` names, or a located error listing the edges.
pub fn find_edge(source: &SourceFile, text: &Spanned<String>, model: &ModelSpec) -> Result<usize> {
    let names: Vec<String> = model
        .edges
        .iter()
        .map(|e| format!("{} -> {}", e.from, e.to))
        .collect();
    let parsed = text
        .get_ref()
        .split_once("->")
        .and_then(|(a, b)| Some((Endpoint::parse(a.trim())?, Endpoint::parse(b.trim())?)));
    let Some((from, to)) = parsed else {
        return Err(source.error_with_help(
            ErrorKind::InvalidValue,
            text.span(),
            format!(
                "`{}`: expected an edge `region.port -> region.port`",
                text.get_ref()
            ),
            Some(format!("edges: {}", names.join(", "))),
        ));
    };
    model
        .edges
        .iter()
        .position(|e| e.from == from && e.to == to)
        .ok_or_else(|| {
            let wanted = format!("{from} -> {to}");
            source.error_with_help(
                ErrorKind::UnknownEdge,
                text.span(),
                format!("model `{}` has no edge `{wanted}`", model.name),
                did_you_mean(&wanted, names.iter().map(String::as_str))
                    .or_else(|| Some(format!("edges: {}", names.join(", ")))),
            )
        })
}

/// A signal that a probe reads: an output port or an edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SignalSource {
    /// `region.port` (or `world.port`).
    Port {
        /// The region (or `world`).
        region: String,
        /// Its output port.
        port: String,
    },
    /// `from.port -> to.port`: what the edge delivered, after any clamp.
    Edge {
        /// `from -> to`.
        edge: String,
        /// Its index in the model's edges.
        #[serde(skip)]
        index: usize,
    },
}

impl std::fmt::Display for SignalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalSource::Port { region, port } => write!(f, "{region}.{port}"),
            SignalSource::Edge { edge, .. } => f.write_str(edge),
        }
    }
}

impl SignalSource {
    /// What it carries after the last tick.
    pub fn read(&self, brain: &Brain) -> Option<Signal> {
        match self {
            SignalSource::Port { region, port } => brain.signal(region, port).cloned(),
            SignalSource::Edge { index, .. } => brain.edge_signal(*index),
        }
    }

    /// Whether it is one of the world's outputs.
    pub fn is_world(&self) -> bool {
        matches!(self, SignalSource::Port { region, .. } if region == WORLD)
    }
}

/// The world's latest tokens `[P, 1]`, for probes that follow each agent's stream.
pub(crate) fn world_tokens(brain: &Brain) -> Result<Array2<f32>> {
    brain
        .signal(WORLD, "token")
        .map(Signal::to_host)
        .ok_or_else(|| Error::Run("event and cooccurrence probes need a world with a `token` output".into()))
}

/// A region of the brain, or an error naming it.
pub(crate) fn region<'b>(
    brain: &'b Brain,
    name: &str,
    out: &Readings<'_>,
) -> Result<&'b dyn crate::regions::Region> {
    brain
        .region(name)
        .ok_or_else(|| out.fail(format!("no region `{name}`")))
}

/// `[P, D]` latents of each word (token id), from a cortex region.
pub(crate) fn latents(
    brain: &Brain,
    cortex: &str,
    ids: &[u32],
    out: &Readings<'_>,
) -> Result<Vec<Array2<f32>>> {
    let phrases: Vec<Vec<u32>> = ids.iter().map(|&id| vec![id]).collect();
    phrase_latents(brain, cortex, &phrases, out)
}

/// `[P, D]` latents of each concept (a word or a phrase, as token ids), from a cortex region,
/// read in one batch ([`crate::regions::Region::concept_latents`]).
pub(crate) fn phrase_latents(
    brain: &Brain,
    cortex: &str,
    phrases: &[Vec<u32>],
    out: &Readings<'_>,
) -> Result<Vec<Array2<f32>>> {
    let r = region(brain, cortex, out)?;
    let phrases: Vec<&[u32]> = phrases.iter().map(Vec::as_slice).collect();
    r.concept_latents(&phrases)
        .ok_or_else(|| out.fail(format!("region `{cortex}` has no latent space")))
}

/// One agent's rows of a list of `[P, D]` latents, as `[n, D]`.
pub(crate) fn per_agent(l: &[Array2<f32>], agent: usize) -> Array2<f32> {
    let rows: Vec<_> = l.iter().map(|m| m.row(agent)).collect();
    ndarray::stack(Axis(0), &rows).expect("equal widths")
}

/// A word's id, checked when the run's probes were built.
pub(crate) fn id(vocabulary: &Vocabulary, word: &str) -> u32 {
    vocabulary.id(word).expect("checked in Probes::new")
}

/// A concept's token ids: a word, or a phrase of words separated by spaces (`"money bank"`),
/// each checked when the run's probes were built.
pub(crate) fn phrase(vocabulary: &Vocabulary, concept: &str) -> Vec<u32> {
    concept.split_whitespace().map(|w| id(vocabulary, w)).collect()
}

/// Every real word's id (`</s>` and `<unk>` left out): the candidates of `neighbours` and
/// `analogy`.
pub(crate) fn candidate_words(vocabulary: &Vocabulary) -> Vec<u32> {
    let skip = [vocabulary.id(EOS), vocabulary.id(UNK)];
    (0..vocabulary.len() as u32)
        .filter(|i| !skip.contains(&Some(*i)))
        .collect()
}

/// The probes of a run, each with the state it keeps (in the scenario's order).
pub struct Probes {
    probes: Vec<Box<dyn Probe>>,
}

impl Probes {
    /// Checks every concept against the vocabulary (for open corpora this is known only now) and
    /// prepares each probe.
    pub fn new(specs: &[ProbeSpec], vocabulary: Arc<Vocabulary>) -> Result<Self> {
        for probe in specs {
            let words = probe.concepts().into_iter().flat_map(|c| c.split_whitespace());
            if let Some(w) = words.into_iter().find(|w| vocabulary.id(w).is_none()) {
                return Err(Error::Run(format!(
                    "probe `{}`: concept `{w}` is not in the vocabulary ({} words; words rarer than \
                     `min_count` become {UNK})",
                    probe.name,
                    vocabulary.len()
                )));
            }
        }
        let probes = specs
            .iter()
            .map(|p| p.build(&vocabulary))
            .collect::<Result<_>>()?;
        Ok(Probes { probes })
    }

    /// Whether any probe needs to see every tick.
    pub fn observes(&self) -> bool {
        self.probes.iter().any(|p| p.observes())
    }

    /// Called after every tick: each observing probe updates its running state.
    pub fn observe(&mut self, brain: &Brain) -> Result<()> {
        for p in self.probes.iter_mut().filter(|p| p.observes()) {
            p.observe(brain)?;
        }
        Ok(())
    }

    /// Takes probe `index` (of the scenario's list) for every agent and records it.
    pub fn take(
        &mut self,
        index: usize,
        brain: &Brain,
        name: &str,
        phase: &str,
        step: u64,
        recorder: &mut Recorder,
    ) -> Result<()> {
        let mut out = Readings::new(recorder, phase, step, name);
        self.probes[index].take(brain, &mut out)
    }

    /// Every probe's running state (for checkpoints).
    pub fn save(&self, out: &mut Snapshot) {
        for p in &self.probes {
            p.save(out);
        }
    }

    /// Restores what [`Probes::save`] wrote for the probes marked in `kept` (one flag per
    /// probe, in order); the others keep their fresh state (a fork's new probes).
    pub fn restore_kept(&mut self, from: &Snapshot, kept: &[bool]) -> Result<()> {
        for (p, _) in self.probes.iter_mut().zip(kept).filter(|(_, k)| **k) {
            p.restore(from)?;
        }
        Ok(())
    }

    /// Restores what [`Probes::save`] wrote.
    pub fn restore(&mut self, from: &Snapshot) -> Result<()> {
        for p in &mut self.probes {
            p.restore(from)?;
        }
        Ok(())
    }
}
