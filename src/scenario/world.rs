//! `[world]` and a phase's `[phases.world]`: a world of a registered kind, or changes merged
//! into the scenario's world, checked by the kind with errors located at the key.

use std::path::Path;

use toml::Spanned;
use toml::de::DeValue;

use super::document::{merge, span_at, world_value};
use crate::error::{ErrorKind, Result, SourceFile, did_you_mean};
use crate::worlds::WorldSpec;

/// Reads a `[world]` table, or a phase's `[phases.world]`: with a `kind`, a world of its own;
/// without, changes merged into the scenario's world. Errors are located in `source`; problems
/// with a merged key found only after merging point at the base world's key.
pub(super) fn read_world(
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
        // The key itself, in this table or the base it changes; else the deepest key above it
        // (a missing `name` locates at its source's line).
        let base = base.filter(|_| !fresh).map(|(_, _, b)| b);
        let span = (0..=e.path.len())
            .rev()
            .find_map(|n| {
                span_at(value, &e.path[..n]).or_else(|| base.and_then(|b| span_at(b, &e.path[..n])))
            })
            .unwrap_or(value.span());
        source.error_with_help(e.kind, span, e.message, e.help)
    })?;
    Ok((kind, merged, spec))
}
