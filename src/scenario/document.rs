//! Reading scenario TOML with spans: the document, its schema, tables, and merging one value
//! into another (a phase's world into the scenario's, overrides into a region's parameters).

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::error::{ErrorKind, Result, SourceFile};

use super::SCHEMA;

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
pub(super) fn span_at(value: &Spanned<DeValue<'_>>, path: &[String]) -> Option<Range<usize>> {
    let mut v = value;
    for key in path {
        v = v.get_ref().get(key.as_str())?;
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
