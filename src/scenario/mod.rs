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

pub mod model;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::brain::{ModelSpec, Plan};
use crate::error::{ErrorKind, Result, SourceFile, did_you_mean};
use crate::probes::{ProbeContext, find_edge, positive};
pub use crate::probes::{ProbeSpec, SignalSource};
use crate::regions::RegionSpec;
use crate::worlds::WorldSpec;

pub use model::{ModelSource, load_model, parse_model};

/// The file-format version this build reads.
pub const SCHEMA: i64 = 1;

/// One phase of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    /// Its name, used in metrics.
    pub name: String,
    /// Ticks.
    pub steps: u64,
    /// Regions whose learning is off during this phase.
    pub freeze: Vec<String>,
    /// The world during this phase (the scenario's world with this phase's changes).
    pub world: WorldSpec,
    /// Regions whose parameters differ in this phase (`[phases.overrides.REGION]`), with their
    /// full parameters for the phase; the others run with the model's.
    pub regions: Vec<(String, RegionSpec)>,
    /// Edges whose signal is ablated or clamped during this phase (`[[phases.interventions]]`).
    pub interventions: Vec<Intervention>,
    /// A replay phase: this (hippocampus) region's stored episodes stand in for the world,
    /// which is silent; the region stores nothing meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}

/// An intervention on one edge for one phase: its target receives a constant instead of the
/// source's signal (the source still runs, other edges from it are untouched).
///
/// ```toml
/// [[phases.interventions]]
/// edge = "cortex.latent -> vta.cortical"
/// action = "ablate"            # or: action = "clamp", value = 0.5
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intervention {
    /// `from -> to`, as in the model.
    pub edge: String,
    /// The edge's index in the model's edge list.
    #[serde(skip)]
    pub index: usize,
    /// `ablate` (0) or `clamp` (`value`).
    pub action: InterventionAction,
    /// The constant the target receives.
    pub value: f32,
}

/// What an intervention does to an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterventionAction {
    /// The target receives zeros.
    Ablate,
    /// The target receives `value` in every entry.
    Clamp,
}

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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseDe {
    name: String,
    steps: Spanned<i64>,
    #[serde(default)]
    freeze: Vec<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    world: IgnoredAny,
    #[serde(default)]
    #[allow(dead_code)]
    overrides: IgnoredAny,
    #[serde(default)]
    interventions: Vec<Spanned<InterventionDe>>,
    #[serde(default)]
    replay: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterventionDe {
    edge: Spanned<String>,
    action: Spanned<String>,
    #[serde(default)]
    value: Option<Spanned<f64>>,
    /// Top level only: the phases it applies to (default: all).
    #[serde(default)]
    phases: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Checks one `[[interventions]]` entry against the model.
fn read_intervention(source: &SourceFile, iv: &InterventionDe, model: &ModelSpec) -> Result<Intervention> {
    let index = find_edge(source, &iv.edge, model)?;
    let e = &model.edges[index];
    let (action, value) = match (iv.action.get_ref().as_str(), &iv.value) {
        ("ablate", None) => (InterventionAction::Ablate, 0.0),
        ("ablate", Some(v)) => {
            return Err(source.error(
                ErrorKind::InvalidValue,
                v.span(),
                "an ablation sends zeros: `value` is for `action = \"clamp\"`",
            ));
        }
        ("clamp", Some(v)) if (*v.get_ref() as f32).is_finite() => {
            (InterventionAction::Clamp, *v.get_ref() as f32)
        }
        ("clamp", Some(v)) => {
            return Err(source.error(
                ErrorKind::InvalidValue,
                v.span(),
                "`value`: expected a finite number within f32 range (|v| < 3.4e38)",
            ));
        }
        ("clamp", None) => {
            return Err(source.error(
                ErrorKind::MissingField,
                iv.action.span(),
                "a clamp needs `value = …`, the constant the target receives",
            ));
        }
        (other, _) => {
            return Err(source.error_with_help(
                ErrorKind::InvalidValue,
                iv.action.span(),
                format!("`action = \"{other}\"`: expected \"ablate\" or \"clamp\""),
                did_you_mean(other, ["ablate", "clamp"]),
            ));
        }
    };
    Ok(Intervention {
        edge: format!("{} -> {}", e.from, e.to),
        index,
        action,
        value,
    })
}

/// Parses TOML keeping spans; a syntax error is located.
pub(crate) fn parse_document(source: &SourceFile) -> Result<Spanned<DeTable<'_>>> {
    DeTable::parse(&source.text).map_err(|e| source.syntax_error(&e))
}

pub(crate) fn check_schema(source: &SourceFile, schema: &Spanned<i64>) -> Result<()> {
    if *schema.get_ref() != SCHEMA {
        return Err(source.error(
            ErrorKind::UnsupportedSchema,
            schema.span(),
            format!(
                "schema = {}; this build of valence reads schema = {SCHEMA}",
                schema.get_ref()
            ),
        ));
    }
    Ok(())
}

type Entry<'a, 'i> = (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>);

/// The entries of a value that must be a table.
pub(crate) fn table_entries<'a, 'i>(
    source: &SourceFile,
    value: &'a Spanned<DeValue<'i>>,
    what: &str,
) -> Result<Vec<Entry<'a, 'i>>> {
    match value.get_ref() {
        DeValue::Table(t) => Ok(t.iter().collect()),
        _ => Err(source.error(
            ErrorKind::InvalidValue,
            value.span(),
            format!("expected `{what}` to be a table"),
        )),
    }
}

/// The span of the value at `path` below `value`, if present.
fn span_at(value: &Spanned<DeValue<'_>>, path: &[String]) -> Option<Range<usize>> {
    let mut v = value;
    for key in path {
        v = v.get_ref().get(key.as_str())?;
    }
    Some(v.span())
}

/// Reads a world table (the scenario's, or a phase's changes to it).
fn world_value(source: &SourceFile, value: &Spanned<DeValue<'_>>) -> Result<toml::Value> {
    toml::Value::deserialize(toml::de::ValueDeserializer::from(value.clone()))
        .map_err(|e| source.toml_error(&e))
}

/// Merges `patch` into `base`: tables key by key (recursively), anything else replaced.
fn merge(base: &mut toml::Value, patch: toml::Value) {
    match (base, patch) {
        (toml::Value::Table(b), toml::Value::Table(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

/// Applies `[overrides.REGION] key = value` (top-level or a phase's) to `regions`, each key
/// checked against the region's parameters; returns the names of the regions changed.
fn apply_overrides(
    source: &SourceFile,
    overrides: &Spanned<DeValue<'_>>,
    regions: &mut [(String, RegionSpec)],
    model: &ModelSource,
) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for (region, table) in table_entries(source, overrides, "overrides")? {
        let names: Vec<String> = regions.iter().map(|(n, _)| n.clone()).collect();
        let Some(index) = names.iter().position(|n| n == region.get_ref()) else {
            return Err(source.error_with_help(
                ErrorKind::UnknownRegion,
                region.span(),
                format!(
                    "`{}` names no region of model `{}`",
                    region.get_ref(),
                    model.spec.name
                ),
                did_you_mean(region.get_ref(), names.iter().map(String::as_str)),
            ));
        };
        let spec = &regions[index].1;
        let mut params = toml::Value::Table(spec.params());
        let known: Vec<String> = spec.params().keys().cloned().collect();
        for (key, value) in table_entries(source, table, "overrides")? {
            if !known.iter().any(|k| k == key.get_ref()) {
                return Err(source.error_with_help(
                    ErrorKind::UnknownField,
                    key.span(),
                    format!(
                        "`{}` is not a parameter of {} `{}`",
                        key.get_ref(),
                        spec.kind(),
                        region.get_ref()
                    ),
                    did_you_mean(key.get_ref(), known.iter().map(String::as_str)),
                ));
            }
            let v = world_value(source, value)?;
            merge(
                &mut params,
                toml::Value::Table([(key.get_ref().to_string(), v)].into_iter().collect()),
            );
        }
        let mut merged = params.as_table().cloned().unwrap_or_default();
        merged.insert("kind".into(), toml::Value::String(spec.kind().into()));
        let new_spec: RegionSpec = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| {
                source.error(
                    ErrorKind::InvalidValue,
                    table.span(),
                    e.message().trim().to_string(),
                )
            })?;
        if let Err(e) = new_spec.check() {
            let span = table.get_ref().get(e.param.as_str()).map(|v| v.span());
            return Err(match span {
                Some(span) => source.error(
                    ErrorKind::InvalidValue,
                    span,
                    format!("`{}`: expected {}", e.param, e.expected),
                ),
                None => model.param_error(region.get_ref(), &e),
            });
        }
        regions[index].1 = new_spec;
        changed.push(region.get_ref().to_string());
    }
    Ok(changed)
}

/// Reads a `[world]` table, or a phase's `[phases.world]`: with a `kind`, a world of its own;
/// without, changes merged into the scenario's world. Errors are located in `source`; problems
/// with a merged key found only after merging point at the base world's key.
fn read_world(
    source: &SourceFile,
    base_dir: &Path,
    value: &Spanned<DeValue<'_>>,
    base: Option<(&str, &toml::Value, &Spanned<DeValue<'_>>)>,
) -> Result<(String, toml::Value, WorldSpec)> {
    let mut table = value.clone();
    let kind = match table.get_ref().get("kind") {
        Some(k) => {
            let name = k.get_ref().as_str().unwrap_or("");
            if crate::worlds::kind_named(name).is_none() {
                let kinds = crate::worlds::kind_names();
                return Err(source.error_with_help(
                    ErrorKind::UnknownWorldKind,
                    k.span(),
                    format!("unknown world kind `{name}`"),
                    did_you_mean(name, kinds.iter().copied())
                        .or_else(|| Some(format!("kinds: {}", kinds.join(", ")))),
                ));
            }
            name.to_string()
        }
        None => match base {
            Some((kind, _, _)) => kind.to_string(),
            None => {
                return Err(source.error(
                    ErrorKind::MissingField,
                    value.span(),
                    format!(
                        "`world` needs a `kind`: one of {}",
                        crate::worlds::kind_names().join(", ")
                    ),
                ));
            }
        },
    };
    let fresh = table.get_ref().get("kind").is_some();
    if let DeValue::Table(t) = table.get_mut() {
        t.remove("kind");
    }
    // Unknown keys and wrong types, located precisely in the spanned table.
    WorldSpec::parse(&kind, toml::de::ValueDeserializer::from(table.clone()))
        .expect("a registered kind")
        .map_err(|e| source.toml_error(&e))?;
    let mut merged = world_value(source, &table)?;
    if let (false, Some((_, base_value, _))) = (fresh, base) {
        let mut b = base_value.clone();
        merge(&mut b, merged);
        merged = b;
    }
    let mut spec = WorldSpec::from_value(&kind, merged.clone())
        .expect("a registered kind")
        .map_err(|e| {
            source.error(
                ErrorKind::InvalidValue,
                value.span(),
                e.message().trim().to_string(),
            )
        })?;
    spec.resolve_paths(base_dir);
    spec.check().map_err(|e| {
        let span = span_at(value, &e.path)
            .or_else(|| base.filter(|_| !fresh).and_then(|(_, _, b)| span_at(b, &e.path)))
            .unwrap_or(value.span());
        source.error_with_help(e.kind, span, e.message, e.help)
    })?;
    Ok((kind, merged, spec))
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
    if !model_path.is_file() {
        return Err(source.error(
            ErrorKind::MissingFile,
            de.model.span(),
            format!(
                "model file `{}` not found (paths are relative to the scenario file)",
                model_path.display()
            ),
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
    let (base_kind, base_world, world) = read_world(&source, base_dir, world_de, None)?;
    let region_names: Vec<&str> = model.spec.regions.iter().map(|(n, _)| n.as_str()).collect();
    let unknown_region = |s: &Spanned<String>| {
        source.error_with_help(
            ErrorKind::UnknownRegion,
            s.span(),
            format!("`{}` names no region of model `{}`", s.get_ref(), model.spec.name),
            did_you_mean(s.get_ref(), region_names.iter().copied()),
        )
    };
    if de.phases.get_ref().is_empty() {
        return Err(source.error(
            ErrorKind::MissingField,
            de.phases.span(),
            "a scenario needs at least one `[[phases]]`",
        ));
    }
    let phase_values: Vec<&Spanned<DeValue<'_>>> =
        match root_value.get_ref().get("phases").map(|p| p.get_ref()) {
            Some(DeValue::Array(a)) => a.iter().collect(),
            _ => Vec::new(),
        };
    let mut phases = Vec::new();
    for (i, phase) in de.phases.get_ref().iter().enumerate() {
        let p = phase.get_ref();
        let steps = positive(&source, &p.steps, "steps")?;
        for f in &p.freeze {
            if !region_names.contains(&f.get_ref().as_str()) {
                return Err(unknown_region(f));
            }
        }
        if let Some(r) = &p.replay {
            let Some((_, spec)) = model.spec.regions.iter().find(|(n, _)| n == r.get_ref()) else {
                return Err(unknown_region(r));
            };
            if !spec.replays() {
                return Err(source.error(
                    ErrorKind::InvalidValue,
                    r.span(),
                    format!(
                        "`{}` is a `{}` region; replay needs a `hippocampus`",
                        r.get_ref(),
                        spec.kind()
                    ),
                ));
            }
        }
        let patch = phase_values.get(i).and_then(|v| v.get_ref().get("world"));
        let phase_world = match patch {
            Some(patch) => {
                read_world(
                    &source,
                    base_dir,
                    patch,
                    Some((&base_kind, &base_world, world_de)),
                )?
                .2
            }
            None => world.clone(),
        };
        let mut phase_regions = Vec::new();
        if let Some(ov) = phase_values.get(i).and_then(|v| v.get_ref().get("overrides")) {
            let mut regions = model.spec.regions.clone();
            for name in apply_overrides(&source, ov, &mut regions, &model)? {
                let spec = regions
                    .iter()
                    .find(|(n, _)| *n == name)
                    .expect("changed above")
                    .1
                    .clone();
                phase_regions.push((name, spec));
            }
        }
        let mut interventions = Vec::new();
        for iv in &p.interventions {
            if let Some(ph) = &iv.get_ref().phases {
                return Err(source.error(
                    ErrorKind::UnknownField,
                    ph.span(),
                    "`phases` belongs to a top-level `[[interventions]]`; one under `[[phases]]` applies to its phase",
                ));
            }
            interventions.push(read_intervention(&source, iv.get_ref(), &model.spec)?);
        }
        phases.push(Phase {
            name: p.name.clone(),
            steps,
            freeze: p.freeze.iter().map(|f| f.get_ref().clone()).collect(),
            world: phase_world,
            regions: phase_regions,
            interventions,
            replay: p.replay.as_ref().map(|r| r.get_ref().clone()),
        });
    }

    // Top-level interventions: on the phases they name, or all; a phase's own come after (and
    // win on the same edge).
    let mut top: Vec<Vec<Intervention>> = vec![Vec::new(); phases.len()];
    for iv in &de.interventions {
        let checked = read_intervention(&source, iv.get_ref(), &model.spec)?;
        let names: Option<Vec<&Spanned<String>>> = iv
            .get_ref()
            .phases
            .as_ref()
            .map(|ps| ps.get_ref().iter().collect());
        if let Some(names) = &names {
            for n in names {
                if !phases.iter().any(|ph| ph.name == *n.get_ref()) {
                    return Err(source.error_with_help(
                        ErrorKind::InvalidValue,
                        n.span(),
                        format!("no phase named `{}`", n.get_ref()),
                        did_you_mean(n.get_ref(), phases.iter().map(|ph| ph.name.as_str())),
                    ));
                }
            }
        }
        for (ph, list) in phases.iter().zip(top.iter_mut()) {
            if names
                .as_ref()
                .is_none_or(|ns| ns.iter().any(|n| *n.get_ref() == ph.name))
            {
                list.push(checked.clone());
            }
        }
    }
    for (ph, mut list) in phases.iter_mut().zip(top) {
        list.append(&mut ph.interventions);
        ph.interventions = list;
    }

    // Probes: kinds, regions and concepts checked against the model and, where every world's
    // vocabulary is closed (grammars), against the words; open corpora are checked at run start.
    let mut words: Option<Vec<String>> = Some(Vec::new());
    for w in std::iter::once(&world).chain(phases.iter().map(|p| &p.world)) {
        match (w.closed_words(), words.as_mut()) {
            (Some(ws), Some(all)) => ws.into_iter().for_each(|t| {
                if !all.contains(&t) {
                    all.push(t)
                }
            }),
            _ => words = None,
        }
    }
    let probe_values: Vec<&Spanned<DeValue<'_>>> =
        match root_value.get_ref().get("probes").map(|p| p.get_ref()) {
            Some(DeValue::Array(a)) => a.iter().collect(),
            _ => Vec::new(),
        };
    let mut probes = Vec::new();
    for probe in probe_values {
        probes.push(read_probe(&source, probe, &model.spec, &world, &phases, &words)?);
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
        probes,
        path: source.path.clone(),
        plan: Some(plan),
    })
}

/// Reads one `[[probes]]` table: its `kind` (a registered probe kind), `name` (default: the
/// kind) and `every` here, the rest by the kind's own parser, checked against the model, the
/// world's ports and (where they are closed) the worlds' words.
fn read_probe(
    source: &SourceFile,
    probe: &Spanned<DeValue<'_>>,
    model: &ModelSpec,
    world: &WorldSpec,
    phases: &[Phase],
    words: &Option<Vec<String>>,
) -> Result<ProbeSpec> {
    let DeValue::Table(t) = probe.get_ref() else {
        return Err(source.error(
            ErrorKind::InvalidValue,
            probe.span(),
            "expected `[[probes]]` entries to be tables",
        ));
    };
    let kinds = crate::probes::kind_names();
    let kind_value = t.get("kind").ok_or_else(|| {
        source.error(
            ErrorKind::MissingField,
            probe.span(),
            format!("a probe needs a `kind`: one of {}", kinds.join(", ")),
        )
    })?;
    let Some(kind_name) = kind_value.get_ref().as_str() else {
        return Err(source.error(
            ErrorKind::InvalidValue,
            kind_value.span(),
            "`kind`: expected a string",
        ));
    };
    let Some(kind) = crate::probes::kind_named(kind_name) else {
        return Err(source.error_with_help(
            ErrorKind::UnknownProbeKind,
            kind_value.span(),
            format!("unknown probe kind `{kind_name}`"),
            did_you_mean(kind_name, kinds.iter().copied())
                .or_else(|| Some(format!("kinds: {}", kinds.join(", ")))),
        ));
    };
    let name =
        match t.get("name") {
            Some(n) => n.get_ref().as_str().map(str::to_string).ok_or_else(|| {
                source.error(ErrorKind::InvalidValue, n.span(), "`name`: expected a string")
            })?,
            None => kind_name.to_string(),
        };
    let every = match t.get("every") {
        Some(e) => {
            let n = i64::deserialize(toml::de::ValueDeserializer::from(e.clone())).map_err(|_| {
                source.error(
                    ErrorKind::InvalidValue,
                    e.span(),
                    "`every`: expected an integer ≥ 1",
                )
            })?;
            positive(source, &Spanned::new(e.span(), n), "every")?
        }
        None => u64::MAX,
    };
    let mut fields = probe.clone();
    if let DeValue::Table(t) = fields.get_mut() {
        for key in ["kind", "name", "every"] {
            t.remove(key);
        }
    }
    let cx = ProbeContext {
        source,
        model,
        world_outputs: world.ports().outputs,
        worlds: phases.iter().map(|p| &p.world).collect(),
        words: words.clone(),
        span: probe.span(),
        kind: kind.name,
    };
    kind.parse(name, every, &fields, &cx)
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
