//! Model files (`models/*.toml`): who the agent is — regions, their hyperparameters and edges.
//!
//! ```toml
//! schema = 1
//! name = "mere_exposure"
//! [regions.cortex]
//! kind = "sensory_cortex"
//! dim = 32
//! [[edges]]
//! from = "world.token"
//! to = "cortex.token"
//! ```

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{check_schema, parse_document, table_entries};
use crate::brain::{EdgePart, EdgeSpec, Endpoint, GraphError, GraphSite, ModelSpec, Plan, plan};
use crate::error::{Error, ErrorKind, Result, SourceFile, did_you_mean};
use crate::regions::Ports;
use crate::regions::{ParamError, RegionSpec};

/// Where each part of a model file is, for locating later errors.
#[derive(Debug, Clone, Default)]
pub struct ModelSpans {
    /// Per region: its key, its `kind` value and each parameter's value.
    pub regions: HashMap<String, RegionSpans>,
    /// Per edge: its `from`, `to` and whole table.
    pub edges: Vec<[Range<usize>; 3]>,
}

/// Where one region is in its file.
#[derive(Debug, Clone, Default)]
pub struct RegionSpans {
    /// The region's name in `[regions.NAME]`.
    pub key: Range<usize>,
    /// Each parameter's value.
    pub params: HashMap<String, Range<usize>>,
}

/// A parsed model file: the spec and where everything is in the file.
#[derive(Debug, Clone)]
pub struct ModelSource {
    /// The file.
    pub source: SourceFile,
    /// What it says.
    pub spec: ModelSpec,
    /// Where it says it.
    pub spans: ModelSpans,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFileDe {
    schema: Spanned<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[allow(dead_code)]
    regions: IgnoredAny,
    #[serde(default)]
    edges: Vec<Spanned<EdgeDe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeDe {
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    delay: u32,
}

/// Reads and checks a model file (everything but the wiring, which needs the world: see
/// [`ModelSource::plan`]).
pub fn load_model(path: impl AsRef<Path>) -> Result<ModelSource> {
    parse_model(SourceFile::read(path)?)
}

/// Parses a model from a source held in memory.
pub fn parse_model(source: SourceFile) -> Result<ModelSource> {
    let root = parse_document(&source)?;
    let de = ModelFileDe::deserialize(toml::de::Deserializer::from(root.clone()))
        .map_err(|e| source.toml_error(&e))?;
    check_schema(&source, &de.schema)?;
    let mut spans = ModelSpans::default();
    let mut regions = Vec::new();
    let regions_table = root
        .get_ref()
        .get("regions")
        .expect("`regions` is required by the schema");
    for (name, value) in table_entries(&source, regions_table, "regions")? {
        let (spec, region_spans) = parse_region(&source, name, value)?;
        regions.push((name.get_ref().to_string(), spec));
        spans.regions.insert(name.get_ref().to_string(), region_spans);
    }
    let mut edges = Vec::new();
    for edge in &de.edges {
        let e = edge.get_ref();
        let endpoint = |s: &Spanned<String>| {
            Endpoint::parse(s.get_ref()).ok_or_else(|| {
                source.error(
                    ErrorKind::InvalidValue,
                    s.span(),
                    format!(
                        "`{}` is not an endpoint; expected `region.port`, e.g. `cortex.latent`",
                        s.get_ref()
                    ),
                )
            })
        };
        let (from, to) = (endpoint(&e.from)?, endpoint(&e.to)?);
        let same = |x: &EdgeSpec| x.from == from && x.to == to && x.delay == e.delay;
        if let Some(i) = edges.iter().position(same) {
            let line = source.locate(spans.edges[i][2].start).line;
            return Err(source.error_with_help(
                ErrorKind::Duplicate,
                edge.span(),
                format!("a second edge `{from}` -> `{to}` (the first is on line {line})"),
                Some("remove one: two edges between the same ports would add the signal twice".into()),
            ));
        }
        edges.push(EdgeSpec {
            from,
            to,
            delay: e.delay,
        });
        spans.edges.push([e.from.span(), e.to.span(), edge.span()]);
    }
    let name = de.name.unwrap_or_else(|| {
        source
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(ModelSource {
        spec: ModelSpec { name, regions, edges },
        spans,
        source,
    })
}

/// Reads one `[regions.NAME]` table: its kind, then its parameters with unknown keys rejected.
fn parse_region(
    source: &SourceFile,
    name: &Spanned<toml::de::DeString<'_>>,
    value: &Spanned<DeValue<'_>>,
) -> Result<(RegionSpec, RegionSpans)> {
    let DeValue::Table(table) = value.get_ref() else {
        return Err(source.error(
            ErrorKind::InvalidValue,
            value.span(),
            format!("region `{}` must be a table with a `kind`", name.get_ref()),
        ));
    };
    let kind = table.get("kind").ok_or_else(|| {
        source.error_with_help(
            ErrorKind::MissingField,
            name.span(),
            format!("region `{}` has no `kind`", name.get_ref()),
            Some(format!("kinds: {}", kind_names().join(", "))),
        )
    })?;
    let Some(kind_name) = kind.get_ref().as_str() else {
        return Err(source.error(
            ErrorKind::InvalidValue,
            kind.span(),
            "expected `kind` to be a string",
        ));
    };
    let unknown_kind = || {
        let names = kind_names();
        source.error_with_help(
            ErrorKind::UnknownRegionKind,
            kind.span(),
            format!("unknown region kind `{kind_name}`"),
            did_you_mean(kind_name, names.iter().map(String::as_str))
                .or_else(|| Some(format!("kinds: {}", names.join(", ")))),
        )
    };
    let mut params = DeTable::new();
    let mut spans = RegionSpans {
        key: name.span(),
        params: HashMap::new(),
    };
    for (k, v) in table.iter() {
        if k.get_ref() != "kind" {
            spans.params.insert(k.get_ref().to_string(), v.span());
            params.insert(k.clone(), v.clone());
        }
    }
    let de = toml::de::ValueDeserializer::from(Spanned::new(value.span(), DeValue::Table(params)));
    let spec = RegionSpec::parse(kind_name, de)
        .ok_or_else(unknown_kind)?
        .map_err(|e| source.toml_error(&e))?;
    if let Err(e) = spec.check() {
        return Err(param_error(source, &spans, &e));
    }
    Ok((spec, spans))
}

fn param_error(source: &SourceFile, spans: &RegionSpans, e: &ParamError) -> Error {
    let span = spans
        .params
        .get(e.param.as_str())
        .cloned()
        .unwrap_or(spans.key.clone());
    source.error(
        ErrorKind::InvalidValue,
        span,
        format!("`{}`: expected {}", e.param, e.expected),
    )
}

/// The registered kind names.
pub fn kind_names() -> Vec<String> {
    RegionSpec::kind_names()
}

/// The ports that any world kind offers, for checking a model on its own.
pub fn any_world_ports() -> Ports {
    let mut ports = Ports::default();
    for kind in crate::worlds::registry() {
        let p = kind.defaults().ports();
        for q in p.outputs {
            if !ports.outputs.iter().any(|o| o.name == q.name) {
                ports.outputs.push(q);
            }
        }
        for mut q in p.inputs {
            q.required = false;
            if !ports.inputs.iter().any(|o| o.name == q.name) {
                ports.inputs.push(q);
            }
        }
    }
    ports
}

impl ModelSource {
    /// Checks the wiring against a world's ports and computes the schedule; errors are located.
    pub fn plan(&self, world: (&str, Ports)) -> Result<Plan> {
        plan(&self.spec, world).map_err(|e| self.locate(e))
    }

    /// Turns a graph error into a located one.
    pub fn locate(&self, e: GraphError) -> Error {
        let span = match &e.site {
            GraphSite::Edge(i, part) => {
                let [from, to, whole] = &self.spans.edges[*i];
                match part {
                    EdgePart::From => from.clone(),
                    EdgePart::To => to.clone(),
                    EdgePart::Whole => whole.clone(),
                }
            }
            GraphSite::Region(name) => self
                .spans
                .regions
                .get(name)
                .map(|r| r.key.clone())
                .unwrap_or(0..0),
        };
        self.source.error_with_help(e.kind, span, e.message, e.help)
    }

    /// Re-checks a region's parameters after a scenario changed some; errors in parameters the
    /// scenario did not touch are located here.
    pub fn param_error(&self, region: &str, e: &ParamError) -> Error {
        let spans = self.spans.regions.get(region).cloned().unwrap_or_default();
        param_error(&self.source, &spans, e)
    }
}
