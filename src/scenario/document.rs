//! Reading scenario TOML with spans: the document, its schema, tables, and merging one value
//! into another (a phase's world into the scenario's, overrides into a region's parameters).

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::error::{ErrorKind, Result, SourceFile};

use super::SCHEMA;

/// Parses TOML keeping spans; a syntax error is located.
/// Every float in it must hold as an `f32`, the type parameters, rewards and ratings are used
/// in: finite, at most f32's largest (≈ 3.4e38) in magnitude, and 0 or at least its smallest
/// normal value (≈ 1.2e-38), else it would round to infinity or to zero where it is used, after
/// checks done in f64 had passed it.
pub(crate) fn parse_document(source: &SourceFile) -> Result<Spanned<DeTable<'_>>> {
    let doc = DeTable::parse(&source.text).map_err(|e| source.syntax_error(&e))?;
    for value in doc.get_ref().values() {
        check_floats(source, value)?;
    }
    Ok(doc)
}

fn check_floats(source: &SourceFile, value: &Spanned<DeValue<'_>>) -> Result<()> {
    match value.get_ref() {
        DeValue::Float(f) => {
            let x: f64 = f.as_str().replace('_', "").parse().unwrap_or(f64::NAN);
            let problem = if !x.is_finite() {
                Some("is not a finite number")
            } else if !crate::worlds::holds_as_f32(x) {
                Some("exceeds the range of the 32-bit floats it is used as (±3.4e38)")
            } else if x != 0.0 && x.abs() < f32::MIN_POSITIVE as f64 {
                Some(
                    "is too small for the 32-bit floats it is used as (it would round toward 0; write 0 or a value ≥ 1.2e-38)",
                )
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(source.error(
                    ErrorKind::InvalidValue,
                    value.span(),
                    format!("`{}` {problem}", f.as_str()),
                ));
            }
        }
        DeValue::Array(a) => a.iter().try_for_each(|v| check_floats(source, v))?,
        DeValue::Table(t) => t.values().try_for_each(|v| check_floats(source, v))?,
        _ => {}
    }
    Ok(())
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
pub(super) fn span_at(value: &Spanned<DeValue<'_>>, path: &[String]) -> Option<Range<usize>> {
    let mut v = value;
    for key in path {
        v = match v.get_ref() {
            // An element of an array (`tastes.1.ours`) by its index.
            DeValue::Array(a) => a.get(key.parse::<usize>().ok()?)?,
            other => other.get(key.as_str())?,
        };
    }
    Some(v.span())
}

/// Reads a world table (the scenario's, or a phase's changes to it).
pub(super) fn world_value(source: &SourceFile, value: &Spanned<DeValue<'_>>) -> Result<toml::Value> {
    toml::Value::deserialize(toml::de::ValueDeserializer::from(value.clone()))
        .map_err(|e| source.toml_error(&e))
}

/// Merges `patch` into `base`: tables key by key (recursively), anything else replaced.
pub(super) fn merge(base: &mut toml::Value, patch: toml::Value) {
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

/// The entries of an array of tables at `key` of the document (`[[phases]]`, `[[probes]]`).
pub(crate) fn array_at<'a, 'i>(root: &'a Spanned<DeValue<'i>>, key: &str) -> Vec<&'a Spanned<DeValue<'i>>> {
    match root.get_ref().get(key).map(|p| p.get_ref()) {
        Some(DeValue::Array(a)) => a.iter().collect(),
        _ => Vec::new(),
    }
}
