//! `[[interventions]]` (top level, for the phases they name or all) and a phase's own: an edge
//! ablated or clamped to a constant for a phase.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::phases::{Phase, check_phase_name};
use crate::brain::ModelSpec;
use crate::error::{ErrorKind, Result, SourceFile, did_you_mean};
use crate::probes::find_edge;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InterventionDe {
    pub(super) edge: Spanned<String>,
    pub(super) action: Spanned<String>,
    #[serde(default)]
    pub(super) value: Option<Spanned<f64>>,
    /// Top level only: the phases it applies to (default: all).
    #[serde(default)]
    pub(super) phases: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Checks one `[[interventions]]` entry against the model.
pub(super) fn read_intervention(
    source: &SourceFile,
    iv: &InterventionDe,
    model: &ModelSpec,
) -> Result<Intervention> {
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

/// Adds the top-level interventions to the phases they name (or all); a phase's own come after
/// (and win on the same edge).
pub(super) fn add_top_level(
    source: &SourceFile,
    top: &[Spanned<InterventionDe>],
    model: &ModelSpec,
    mut phases: Vec<Phase>,
) -> Result<Vec<Phase>> {
    // Top-level interventions: on the phases they name, or all; a phase's own come after (and
    // win on the same edge).
    let mut lists: Vec<Vec<Intervention>> = vec![Vec::new(); phases.len()];
    for iv in top {
        let checked = read_intervention(source, iv.get_ref(), model)?;
        let names: Option<Vec<&Spanned<String>>> = iv
            .get_ref()
            .phases
            .as_ref()
            .map(|ps| ps.get_ref().iter().collect());
        if let Some(names) = &names {
            for n in names {
                check_phase_name(source, &phases, n.get_ref(), n.span(), "")?;
            }
        }
        for (ph, list) in phases.iter().zip(lists.iter_mut()) {
            if names
                .as_ref()
                .is_none_or(|ns| ns.iter().any(|n| *n.get_ref() == ph.name))
            {
                list.push(checked.clone());
            }
        }
    }
    for (ph, mut list) in phases.iter_mut().zip(lists) {
        list.append(&mut ph.interventions);
        ph.interventions = list;
    }
    Ok(phases)
}
