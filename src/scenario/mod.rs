//! Scenario files (`scenarios/*.toml`): what happens to an agent — which model (with parameter
//! overrides), the world, the phases, the probes and their schedule, the seed and the
//! population. Everything is checked before anything runs, and every error names the file,
//! line and column.
//!
//! ```toml
//! schema = 1
//! model = "../models/mere_exposure.toml"   # relative to this file
//! seed = 7
//! population = 32
//! [overrides.vta]
//! lr = 0.05
//! [world]
//! kind = "corpus"
//! [world.rules]
//! S = ["a b", "c d"]
//! [[phases]]
//! name = "exposure"
//! steps = 10000
//! freeze = ["vta"]
//! [[probes]]
//! kind = "valence"
//! concepts = ["a", "b", "c"]
//! every = 1000
//! ```

mod document;
mod effects;
mod interventions;
pub mod model;
mod overrides;
mod phases;
mod probes;
mod world;

use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::brain::{ModelSpec, Plan};
use crate::error::{ErrorKind, Result, SourceFile};
use crate::probes::positive;
pub use crate::probes::{ProbeSpec, SignalSource};
use crate::regions::RegionSpec;
use crate::worlds::WorldSpec;

use document::{array_at, check_schema, parse_document, table_entries};
use interventions::InterventionDe;
pub use interventions::{Intervention, InterventionAction};
pub use model::{ModelSource, load_model, parse_model};
use overrides::apply_overrides;
pub use phases::Phase;
use phases::PhaseDe;
use world::read_world;

/// The file-format version this build reads.
pub const SCHEMA: i64 = 1;

/// A checked scenario, ready to run.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// The file-format version.
    pub schema: i64,
    /// Its name (default: the file stem).
    pub name: String,
    /// One paragraph: what question it answers.
    pub description: String,
    /// The master seed; every agent's streams derive from it.
    pub seed: u64,
    /// P, agents run in parallel.
    pub population: usize,
    /// Save a checkpoint (`checkpoint.bin` in the run directory) every this many steps, counted
    /// over the whole run; 0: never. `valence run --resume RUN_DIR` continues from it.
    pub checkpoint_every: u64,
    /// The model, with the scenario's overrides applied.
    #[serde(serialize_with = "serialize_model")]
    pub model: ModelSpec,
    /// The world's base configuration.
    pub world: WorldSpec,
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// The probes.
    pub probes: Vec<ProbeSpec>,
    /// What it claims (`[[effects]]`): measured at the end of a run, in `summary.json`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<crate::effects::EffectSpec>,
    /// Where it was read from.
    #[serde(skip)]
    pub path: PathBuf,
    /// The wiring, checked against the world.
    #[serde(skip)]
    pub plan: Option<Plan>,
}

impl Scenario {
    /// The fully resolved scenario as TOML (the model inlined, every default written out).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("scenarios serialise to TOML")
    }

    /// The checked wiring.
    pub fn plan(&self) -> &Plan {
        self.plan.as_ref().expect("a loaded scenario is planned")
    }
}

#[derive(Serialize)]
struct ResolvedModel<'a> {
    name: &'a str,
    regions: std::collections::BTreeMap<&'a str, &'a RegionSpec>,
    edges: Vec<ResolvedEdge>,
}

#[derive(Serialize)]
struct ResolvedEdge {
    from: String,
    to: String,
    delay: u32,
}

fn serialize_model<S: serde::Serializer>(m: &ModelSpec, s: S) -> std::result::Result<S::Ok, S::Error> {
    ResolvedModel {
        name: &m.name,
        regions: m.regions.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        edges: m
            .edges
            .iter()
            .map(|e| ResolvedEdge {
                from: e.from.to_string(),
                to: e.to.to_string(),
                delay: e.delay,
            })
            .collect(),
    }
    .serialize(s)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioDe {
    schema: Spanned<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: String,
    model: Spanned<String>,
    #[serde(default)]
    seed: u64,
    population: Spanned<i64>,
    #[serde(default)]
    checkpoint_every: Option<Spanned<i64>>,
    #[serde(default)]
    #[allow(dead_code)]
    overrides: IgnoredAny,
    #[allow(dead_code)]
    world: IgnoredAny,
    phases: Spanned<Vec<Spanned<PhaseDe>>>,
    #[serde(default)]
    interventions: Vec<Spanned<InterventionDe>>,
    #[serde(default)]
    #[allow(dead_code)]
    probes: IgnoredAny,
    #[serde(default)]
    effects: Vec<Spanned<effects::EffectDe>>,
}

/// Reads and checks a scenario file and the model it names.
pub fn load_scenario(path: impl AsRef<Path>) -> Result<Scenario> {
    parse_scenario(SourceFile::read(path)?)
}

/// Parses a scenario from a source held in memory; `model` paths are relative to its path.
pub fn parse_scenario(source: SourceFile) -> Result<Scenario> {
    let root = parse_document(&source)?;
    let de = ScenarioDe::deserialize(toml::de::Deserializer::from(root.clone()))
        .map_err(|e| source.toml_error(&e))?;
    check_schema(&source, &de.schema)?;
    let root_value = Spanned::new(root.span(), DeValue::Table(root.get_ref().clone()));

    let base_dir = source.path.parent().unwrap_or(Path::new("."));
    let model_path = base_dir.join(de.model.get_ref());
    if let Err(e) = crate::error::regular_file(&model_path) {
        let why = match model_path.exists() {
            true => e.to_string(),
            false => format!("model file `{}` not found", model_path.display()),
        };
        return Err(source.error(
            ErrorKind::MissingFile,
            de.model.span(),
            format!("{why} (paths are relative to the scenario file)"),
        ));
    }
    let mut model = load_model(&model_path)?;

    let population = positive(&source, &de.population, "population")? as usize;
    let checkpoint_every = match &de.checkpoint_every {
        Some(v) => positive(&source, v, "checkpoint_every")?,
        None => 0,
    };

    // Overrides: [overrides.REGION] key = value, checked against the region's parameters.
    if let Some(overrides) = root_value.get_ref().get("overrides") {
        let mut regions = model.spec.regions.clone();
        apply_overrides(&source, overrides, &mut regions, &model)?;
        model.spec.regions = regions;
    }

    // The world, and each phase's version of it.
    let world_de = root_value
        .get_ref()
        .get("world")
        .expect("`world` is required by the schema");
    // Data paths (a corpus, a lexicon) are relative to the scenario file and kept absolute, so
    // the resolved scenario is the same from any working directory (`--resume` compares it).
    let data_dir = match base_dir.as_os_str().is_empty() {
        true => Path::new("."),
        false => base_dir,
    };
    let data_dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let base_dir = data_dir.as_path();
    let (base_kind, base_world, world) = read_world(&source, base_dir, world_de, None)?;
    let phases = phases::read_phases(
        &source,
        base_dir,
        &de.phases,
        &root_value,
        &model,
        (&base_kind, &base_world, world_de),
        &world,
    )?;
    let phases = interventions::add_top_level(&source, &de.interventions, &model.spec, phases)?;

    // Probes: kinds, regions and concepts checked against the model and, where every world's
    // vocabulary is closed (grammars), against the words; open corpora are checked at run start.
    // Parameters that depend on the population (a PFC's `workers` must divide it), in the
    // model and in every phase's changes to it.
    let phase_regions = phases.iter().flat_map(|ph| ph.regions.iter());
    for (name, spec) in model.spec.regions.iter().chain(phase_regions) {
        if let Err(e) = spec.check_population(population) {
            return Err(source.error(
                ErrorKind::InvalidValue,
                de.population.span(),
                format!(
                    "region `{name}`: `{}` must be {} (population = {population})",
                    e.param, e.expected
                ),
            ));
        }
    }
    // And the worlds' (pairs need an even population, groups enough agents).
    let phase_worlds = phases
        .iter()
        .map(|ph| (format!("phase `{}`'s world", ph.name), &ph.world));
    for (whose, w) in std::iter::once(("the world".to_string(), &world)).chain(phase_worlds) {
        if let Err(e) = w.check_population(population) {
            let key = match e.path.is_empty() {
                true => String::new(),
                false => format!(" (`{}`)", e.path.join(".")),
            };
            return Err(source.error_with_help(
                e.kind,
                de.population.span(),
                format!("{whose}{key}: {}", e.message),
                e.help,
            ));
        }
    }
    let words = probes::closed_words(&world, &phases);
    if let Some(p) = root_value.get_ref().get("probes")
        && !matches!(p.get_ref(), DeValue::Array(_))
    {
        return Err(source.error(
            ErrorKind::InvalidValue,
            p.span(),
            "expected `[[probes]]` tables (an array of tables), one per probe",
        ));
    }
    let mut read = Vec::new();
    let read_heldout = |patch: &Spanned<DeValue<'_>>| {
        read_world(
            &source,
            base_dir,
            patch,
            Some((&base_kind, &base_world, world_de)),
        )
        .map(|w| w.2)
    };
    check_unique_names(&source, &root_value, "phases", None)?;
    check_unique_names(&source, &root_value, "probes", Some(probes::kind_of))?;
    for probe in array_at(&root_value, "probes") {
        read.push(probes::read_probe(
            &source,
            probe,
            &model.spec,
            &world,
            &phases,
            &words,
            &read_heldout,
        )?);
    }

    check_unique_names(&source, &root_value, "effects", None)?;
    let effects = effects::read_effects(&source, &de.effects, &read, &phases)?;

    // Where every word is known now, what the model and its readings will take is too.
    if let Some(words) = &words {
        // The vocabulary: the words, `</s>` and `<unk>`.
        let limit = crate::resources::memory_limit(None).map_err(crate::error::Error::Run)?;
        check_memory((&model.spec, &phases, &read), population, words.len() + 2, limit)
            .map_err(|e| source.error(ErrorKind::InvalidValue, de.population.span(), e))?;
    }
    let plan = model.plan((world.kind(), world.ports()))?;
    let name = de.name.unwrap_or_else(|| {
        source
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(Scenario {
        schema: SCHEMA,
        name,
        description: de.description,
        seed: de.seed,
        population,
        checkpoint_every,
        model: model.spec,
        world,
        phases,
        probes: read,
        effects,
        path: source.path.clone(),
        plan: Some(plan),
    })
}

/// What names a table that has no `name` (a probe: its kind).
type DefaultName = fn(&Spanned<DeValue<'_>>) -> Option<String>;

/// Each table of the array of tables `key` (`phases`, `probes`, `effects`) has a name no other has: its
/// `name`, or (`default`) what stands for it when absent (a probe's kind). The second of two
/// is a located error.
fn check_unique_names(
    source: &SourceFile,
    root: &Spanned<DeValue<'_>>,
    key: &str,
    default: Option<DefaultName>,
) -> Result<()> {
    let mut seen: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for table in array_at(root, key) {
        let (name, span) = match table.get_ref().get("name") {
            Some(n) => match n.get_ref().as_str() {
                Some(s) => (s.to_string(), n.span()),
                None => continue, // a type error, reported where the table is read
            },
            None => match default.and_then(|d| d(table)) {
                Some(s) => (s, table.span()),
                None => continue,
            },
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let line = source.locate(first.start).line;
            let what = &key[..key.len() - 1];
            return Err(source.error_with_help(
                ErrorKind::Duplicate,
                span,
                format!("a second {what} named `{name}` (the first is on line {line})"),
                Some(format!("give each {what} its own `name`")),
            ));
        }
        seen.push((name, span));
    }
    Ok(())
}

/// Whether `population` agents of `model` with `vocabulary` words, and the readings `probes`
/// keep over `phases`, fit in `limit` ([`crate::resources::memory_limit`]): the check
/// `validate` makes where the words are known and a run makes before it builds the brain
/// ([`crate::resources`]). The message says why not.
pub fn check_memory(
    (model, phases, probes): (&ModelSpec, &[Phase], &[ProbeSpec]),
    population: usize,
    vocabulary: usize,
    limit: Option<(u64, &str)>,
) -> std::result::Result<(), String> {
    let sizes = per_agent(model, phases, probes, vocabulary);
    crate::resources::check_memory(&sizes, population, vocabulary, limit)
}

/// What an agent of `model` holds with `vocabulary` words, and the readings `probes` keep of
/// it over `phases` (at least one per probe and schedule point: a probe's keys count once).
fn per_agent<'a>(
    model: &'a ModelSpec,
    phases: &[Phase],
    probes: &[ProbeSpec],
    vocabulary: usize,
) -> crate::resources::PerAgent<'a> {
    // Each region at its largest: as the model has it, or as a phase changes it.
    let regions = model
        .regions
        .iter()
        .map(|(n, s)| {
            let changed = phases
                .iter()
                .flat_map(|ph| ph.regions.iter())
                .filter(|(m, _)| m == n)
                .map(|(_, s)| s.bytes_per_agent(vocabulary));
            let most = changed.fold(s.bytes_per_agent(vocabulary), u64::max);
            (n.as_str(), most)
        })
        .collect();
    let readings = probes
        .iter()
        .flat_map(|p| {
            let every = p.every.max(1);
            phases.iter().map(move |ph| ph.steps.div_ceil(every))
        })
        .fold(0u64, u64::saturating_add);
    crate::resources::PerAgent { regions, readings }
}

/// What a file is: a model (has `[regions]`) or a scenario (has `model = …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A model file.
    Model,
    /// A scenario file.
    Scenario,
    /// A sweep file (has `scenario = …`).
    Sweep,
}

/// Tells a model from a scenario by its top-level keys.
pub fn file_kind(source: &SourceFile) -> Result<FileKind> {
    let root = parse_document(source)?;
    let t = root.get_ref();
    if t.get("model").is_some() {
        Ok(FileKind::Scenario)
    } else if t.get("scenario").is_some() {
        Ok(FileKind::Sweep)
    } else if t.get("regions").is_some() {
        Ok(FileKind::Model)
    } else {
        Err(source.error(
            ErrorKind::MissingField,
            0..0,
            "neither a model (no `[regions]`), a scenario (no `model = \"…\"`) nor a sweep (no `scenario = \"…\"`)",
        ))
    }
}

/// Checks a model or scenario file; for a model, the wiring is checked against any world's
/// ports. A sweep file is checked one layer up, by `valence::sweep::check_sweep` (the CLI's
/// `valence validate` takes all three kinds).
pub fn validate(path: impl AsRef<Path>) -> Result<FileKind> {
    let source = SourceFile::read(path.as_ref())?;
    match file_kind(&source)? {
        FileKind::Sweep => Err(source.error(
            ErrorKind::InvalidValue,
            0..0,
            "a sweep file (it has `scenario = …`): check it with `valence validate` or `sweep::check_sweep`",
        )),
        FileKind::Scenario => parse_scenario(source).map(|_| FileKind::Scenario),
        FileKind::Model => {
            let model = parse_model(source)?;
            model.plan(("world", model::any_world_ports()))?;
            Ok(FileKind::Model)
        }
    }
}
