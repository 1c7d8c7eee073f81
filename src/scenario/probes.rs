//! `[[probes]]`: each table's `kind`, `name`, `every`, and its figure's `title` and
//! `plot_phases` read here, the rest by the kind's own parser (`src/probes/`), checked against
//! the model, the world's ports and the worlds' words.

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::phases::{Phase, check_phase_name};
use crate::brain::ModelSpec;
use crate::error::{ErrorKind, Result, SourceFile, did_you_mean};
use crate::probes::{ProbeContext, ProbeSpec, positive};
use crate::worlds::WorldSpec;

/// Every word the worlds can emit, if every world's vocabulary is closed (grammars); `None` if
/// one is open (real text), whose words are known only when a run starts.
pub(super) fn closed_words(world: &WorldSpec, phases: &[Phase]) -> Option<Vec<String>> {
    let mut words: Option<Vec<String>> = Some(Vec::new());
    let mut seen = std::collections::HashSet::new();
    for w in std::iter::once(world).chain(phases.iter().map(|p| &p.world)) {
        match (w.closed_words(), words.as_mut()) {
            (Some(ws), Some(all)) => ws.into_iter().for_each(|t| {
                if seen.insert(t.clone()) {
                    all.push(t)
                }
            }),
            _ => words = None,
        }
    }
    words
}

/// Reads one `[[probes]]` table: its `kind` (a registered probe kind), `name` (default: the
/// kind) and `every` here, the rest by the kind's own parser, checked against the model, the
/// world's ports and (where they are closed) the worlds' words.
pub(super) fn read_probe(
    source: &SourceFile,
    probe: &Spanned<DeValue<'_>>,
    model: &ModelSpec,
    world: &WorldSpec,
    phases: &[Phase],
    words: &Option<Vec<String>>,
    read_world: &dyn Fn(&Spanned<DeValue<'_>>) -> Result<WorldSpec>,
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
    // A probe's name names its plots (`plots/<name>.svg`): a path must not come of it.
    let name_ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !name_ok {
        let span = t.get("name").map_or(probe.span(), |n| n.span());
        return Err(source.error_with_help(
            ErrorKind::InvalidValue,
            span,
            format!(
                "probe name `{}`: a probe's name names its plot files",
                name.escape_debug()
            ),
            Some("use 1–100 letters, digits, `_`, `-` or `.`, not starting with `.`".into()),
        ));
    }
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
    let title = t.get("title").map(|v| read_title(source, v)).transpose()?;
    let plot_phases = match t.get("plot_phases") {
        Some(v) => read_plot_phases(source, v, phases)?,
        None => Vec::new(),
    };
    let mut fields = probe.clone();
    if let DeValue::Table(t) = fields.get_mut() {
        for key in ["kind", "name", "every", "title", "plot_phases"] {
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
        read_world,
        kind: kind.name,
    };
    let mut spec = kind.parse(name, every, &fields, &cx)?;
    spec.title = title;
    spec.plot_phases = plot_phases;
    Ok(spec)
}

/// The longest figure title.
const MAX_TITLE_CHARS: usize = 200;

/// `title = "…"`: one line of at most 200 characters.
fn read_title(source: &SourceFile, v: &Spanned<DeValue<'_>>) -> Result<String> {
    let invalid = |what: &str| source.error(ErrorKind::InvalidValue, v.span(), format!("`title`: {what}"));
    let Some(title) = v.get_ref().as_str() else {
        return Err(invalid("expected a string"));
    };
    if title.trim().is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid("expected 1–200 characters"));
    }
    if title.chars().any(char::is_control) {
        return Err(invalid(
            "expected one line (no newline or other control character)",
        ));
    }
    Ok(title.to_string())
}

/// `plot_phases = ["…", …]`: names of the scenario's phases, each once, at least one.
fn read_plot_phases(source: &SourceFile, v: &Spanned<DeValue<'_>>, phases: &[Phase]) -> Result<Vec<String>> {
    let expected = || {
        source.error(
            ErrorKind::InvalidValue,
            v.span(),
            "`plot_phases`: expected a list of phase names, e.g. [\"conditioning\"]",
        )
    };
    let DeValue::Array(items) = v.get_ref() else {
        return Err(expected());
    };
    if items.is_empty() {
        return Err(expected());
    }
    let mut names: Vec<String> = Vec::new();
    for item in items {
        let Some(name) = item.get_ref().as_str() else {
            return Err(expected());
        };
        check_phase_name(source, phases, name, item.span(), "`plot_phases`: ")?;
        if names.iter().any(|n| n == name) {
            return Err(source.error(
                ErrorKind::Duplicate,
                item.span(),
                format!("`plot_phases`: phase `{name}` named twice"),
            ));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// A probe table's `kind`, if it is a string: its name when it has no `name`.
pub(super) fn kind_of(probe: &Spanned<DeValue<'_>>) -> Option<String> {
    probe
        .get_ref()
        .get("kind")?
        .get_ref()
        .as_str()
        .map(str::to_string)
}
