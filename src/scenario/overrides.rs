//! `[overrides.REGION] key = value` (top level, or a phase's `[phases.overrides.REGION]`):
//! each key checked against the region's parameters, each value against its range.

use toml::Spanned;
use toml::de::DeValue;

use super::document::{merge, table_entries, world_value};
use super::model::ModelSource;
use crate::error::{ErrorKind, Result, SourceFile, did_you_mean};
use crate::regions::RegionSpec;

/// Applies `[overrides.REGION] key = value` (top-level or a phase's) to `regions`, each key
/// checked against the region's parameters; returns the names of the regions changed.
pub(super) fn apply_overrides(
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
