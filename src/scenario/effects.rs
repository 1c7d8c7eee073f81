//! `[[effects]]`: what the scenario claims (see [`crate::effects`]), each name, probe, key and
//! phase checked against the scenario, errors located with "did you mean".

use serde::Deserialize;
use toml::Spanned;

use super::phases::{Phase, check_phase_name};
use crate::effects::{EffectSpec, Side};
use crate::error::{ErrorKind, Result, SourceFile, did_you_mean};
use crate::probes::ProbeSpec;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EffectDe {
    name: Spanned<String>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    claim: String,
    probe: Spanned<String>,
    a: SideDe,
    b: SideDe,
    min: Spanned<f64>,
    #[serde(default)]
    mechanism: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SideDe {
    key: Spanned<String>,
    phase: Spanned<String>,
    #[serde(default)]
    per: Option<Spanned<String>>,
    #[serde(default)]
    mean_of: Vec<Spanned<String>>,
}

/// Checks the scenario's effects (their names' uniqueness is checked with the phases' and
/// probes'): a probe of the scenario, a key it reads (where
/// its keys are its concepts: `valence`), phases of the scenario, `min` ≥ 0.
pub(super) fn read_effects(
    source: &SourceFile,
    effects: &[Spanned<EffectDe>],
    probes: &[ProbeSpec],
    phases: &[Phase],
) -> Result<Vec<EffectSpec>> {
    let mut out: Vec<EffectSpec> = Vec::new();
    for e in effects.iter().map(Spanned::get_ref) {
        let name = e.name.get_ref();
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(source.error(
                ErrorKind::InvalidValue,
                e.name.span(),
                "`name`: expected 1–100 characters",
            ));
        }
        let Some(probe) = probes.iter().find(|p| &p.name == e.probe.get_ref()) else {
            return Err(source.error_with_help(
                ErrorKind::InvalidValue,
                e.probe.span(),
                format!("no probe named `{}`", e.probe.get_ref()),
                did_you_mean(e.probe.get_ref(), probes.iter().map(|p| p.name.as_str())),
            ));
        };
        let phase = |p: &Spanned<String>| -> Result<String> {
            check_phase_name(source, phases, p.get_ref(), p.span(), "")?;
            Ok(p.get_ref().clone())
        };
        let concept = |k: &Spanned<String>| -> Result<String> {
            if probe.kind() == "valence" && !probe.concepts().contains(&k.get_ref()) {
                return Err(source.error_with_help(
                    ErrorKind::UnknownConcept,
                    k.span(),
                    format!("probe `{}` reads no concept `{}`", probe.name, k.get_ref()),
                    did_you_mean(k.get_ref(), probe.concepts().into_iter().map(String::as_str)),
                ));
            }
            Ok(k.get_ref().clone())
        };
        let side = |s: &SideDe| -> Result<Side> {
            // With `mean_of`, `key` is the group's label; each member must be read.
            let mean_of = s.mean_of.iter().map(concept).collect::<Result<Vec<_>>>()?;
            Ok(Side {
                key: match mean_of.is_empty() {
                    true => concept(&s.key)?,
                    false => s.key.get_ref().clone(),
                },
                phase: phase(&s.phase)?,
                per: s.per.as_ref().map(phase).transpose()?,
                mean_of,
            })
        };
        let min = *e.min.get_ref();
        if !(min.is_finite() && (0.0..=1e6).contains(&min)) {
            return Err(source.error(
                ErrorKind::InvalidValue,
                e.min.span(),
                "`min`: expected a number in [0, 1e6]",
            ));
        }
        out.push(EffectSpec {
            name: name.clone(),
            source: e.source.clone(),
            claim: e.claim.clone(),
            probe: probe.name.clone(),
            a: side(&e.a)?,
            b: side(&e.b)?,
            min: min as f32,
            mechanism: e.mechanism.clone(),
        });
    }
    Ok(out)
}
