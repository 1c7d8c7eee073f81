//! `[[phases]]`: steps, frozen regions, the phase's world (its own, or changes to the
//! scenario's), its parameter overrides and interventions, and replay.

use std::path::Path;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::document::array_at;
use super::interventions::{Intervention, InterventionDe, read_intervention};
use super::model::ModelSource;
use super::overrides::apply_overrides;
use super::world::read_world;
use crate::brain::{ModelSpec, WORLD};
use crate::error::{ErrorKind, Result, SourceFile, did_you_mean};
use crate::probes::positive;
use crate::regions::RegionSpec;
use crate::worlds::WorldSpec;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PhaseDe {
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

/// The scenario's world as read: its kind, its merged TOML value and where it is in the file,
/// against which a phase's changes are merged and located.
/// Checks that `name`, written at `span` (in a field `what` refers to: "", or "`plot_phases`: "),
/// names one of `phases`; else a located error with the nearest name, or the names there are.
pub(super) fn check_phase_name(
    source: &SourceFile,
    phases: &[Phase],
    name: &str,
    span: std::ops::Range<usize>,
    what: &str,
) -> Result<()> {
    if phases.iter().any(|ph| ph.name == name) {
        return Ok(());
    }
    let names = phases.iter().map(|ph| ph.name.as_str());
    let list = || {
        let all: Vec<String> = phases.iter().map(|p| format!("`{}`", p.name)).collect();
        format!("phases: {}", all.join(", "))
    };
    Err(source.error_with_help(
        ErrorKind::InvalidValue,
        span,
        format!("{what}no phase named `{name}`"),
        did_you_mean(name, names).or_else(|| Some(list())),
    ))
}

pub(super) type BaseWorld<'a, 'i> = (&'a str, &'a toml::Value, &'a Spanned<DeValue<'i>>);

/// Reads every phase, checked against the model and the scenario's world.
pub(super) fn read_phases(
    source: &SourceFile,
    base_dir: &Path,
    de_phases: &Spanned<Vec<Spanned<PhaseDe>>>,
    root_value: &Spanned<DeValue<'_>>,
    model: &ModelSource,
    base: BaseWorld<'_, '_>,
    world: &WorldSpec,
) -> Result<Vec<Phase>> {
    let region_names: Vec<&str> = model.spec.regions.iter().map(|(n, _)| n.as_str()).collect();
    let unknown_region = |s: &Spanned<String>| {
        source.error_with_help(
            ErrorKind::UnknownRegion,
            s.span(),
            format!("`{}` names no region of model `{}`", s.get_ref(), model.spec.name),
            did_you_mean(s.get_ref(), region_names.iter().copied()),
        )
    };
    if de_phases.get_ref().is_empty() {
        return Err(source.error(
            ErrorKind::MissingField,
            de_phases.span(),
            "a scenario needs at least one `[[phases]]`",
        ));
    }
    let phase_values = array_at(root_value, "phases");
    let mut phases = Vec::new();
    for (i, phase) in de_phases.get_ref().iter().enumerate() {
        let p = phase.get_ref();
        let steps = positive(source, &p.steps, "steps")?;
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
                        "`{}` is a `{}` region, which stores no episodes; replay needs a `hippocampus` \
                         (or another region that replays)",
                        r.get_ref(),
                        spec.kind()
                    ),
                ));
            }
        }
        let patch = phase_values.get(i).and_then(|v| v.get_ref().get("world"));
        let phase_world = match patch {
            Some(patch) => {
                let w = read_world(source, base_dir, patch, Some(base))?.2;
                check_world_ports(source, &model.spec, &w, patch)?;
                w
            }
            None => world.clone(),
        };
        let mut phase_regions = Vec::new();
        if let Some(ov) = phase_values.get(i).and_then(|v| v.get_ref().get("overrides")) {
            let mut regions = model.spec.regions.clone();
            for name in apply_overrides(source, ov, &mut regions, model)? {
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
            interventions.push(read_intervention(source, iv.get_ref(), &model.spec)?);
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
    Ok(phases)
}

/// A phase's own world must have every port the model's edges use: the outputs they read and
/// the inputs they send (the model was planned against the scenario's world).
fn check_world_ports(
    source: &SourceFile,
    model: &ModelSpec,
    world: &WorldSpec,
    at: &Spanned<DeValue<'_>>,
) -> Result<()> {
    let ports = world.ports();
    let span = at.get_ref().get("kind").map_or(at.span(), |k| k.span());
    for e in &model.edges {
        let missing = if e.from.region == WORLD && ports.output(&e.from.port).is_none() {
            Some(("output", &e.from.port))
        } else if e.to.region == WORLD && ports.input(&e.to.port).is_none() {
            Some(("input", &e.to.port))
        } else {
            None
        };
        if let Some((side, port)) = missing {
            return Err(source.error(
                ErrorKind::UnknownPort,
                span,
                format!(
                    "this phase's `{}` world has no {side} `{port}`, which the model's edge `{} -> {}` uses",
                    world.kind(),
                    e.from,
                    e.to
                ),
            ));
        }
    }
    Ok(())
}
