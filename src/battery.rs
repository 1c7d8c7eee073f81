//! `valence battery`: the conditioning battery. Every scenario of `scenarios/battery/` (or those
//! named) is run — with its own model, or with one model file given for all, so that any
//! architecture can be scored — and each of its `[[effects]]` is measured against its published
//! direction (see [`crate::effects`]). The result is one table, written as Markdown, CSV and
//! JSON, and one figure: each effect's median across agents with its 10–90% band, coloured by
//! verdict, beside the smallest effect that counts.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::effects::Measured;
use crate::error::{Error, Result, SourceFile};
use crate::experiment::{RunOptions, run};
use crate::metrics::write_atomic;
use crate::scenario::{Scenario, parse_scenario};

/// How to run the battery.
#[derive(Debug, Clone, Default)]
pub struct BatteryOptions {
    /// One model for every paradigm (its regions must have the names the paradigms use:
    /// `cortex`, `vta`); default each scenario's own.
    pub model: Option<PathBuf>,
    /// Where the runs and the table go.
    pub out: PathBuf,
    /// Show progress.
    pub progress: bool,
}

/// One row of the table: an effect of a paradigm, measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatteryRow {
    /// The paradigm (its scenario's name).
    pub paradigm: String,
    /// The model's name.
    pub model: String,
    /// The effect.
    #[serde(flatten)]
    pub effect: Measured,
}

/// The battery's scenarios in `dir`, sorted by file name; `only`, when not empty, keeps those
/// whose file stem it names (an unknown name is an error with the names there are).
pub fn paradigms(dir: &Path, only: &[String]) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let stem = |p: &PathBuf| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for name in only {
        if !files.iter().any(|f| &stem(f) == name) {
            let names: Vec<String> = files.iter().map(stem).collect();
            let hint = crate::error::did_you_mean(name, names.iter().map(String::as_str))
                .unwrap_or_else(|| format!("paradigms: {}", names.join(", ")));
            return Err(Error::Run(format!(
                "no paradigm `{name}` in {}: {hint}",
                dir.display()
            )));
        }
    }
    Ok(files
        .into_iter()
        .filter(|f| only.is_empty() || only.contains(&stem(f)))
        .collect())
}

/// A paradigm's scenario, with its `model = "…"` line replaced by `model` when given (the
/// other lines as written, so errors keep their places).
pub fn load_paradigm(path: &Path, model: Option<&Path>) -> Result<Scenario> {
    let mut source = SourceFile::read(path)?;
    if let Some(model) = model {
        // Said of the model given, not of the paradigm's line it replaces.
        crate::error::regular_file(model)?;
        let model = std::path::absolute(model).map_err(|e| Error::io(model, e))?;
        let line = format!(
            "model = {}",
            toml::Value::String(model.to_string_lossy().into_owned())
        );
        let mut found = false;
        let text: Vec<String> = source
            .text
            .lines()
            .map(|l| match l.split_once('=') {
                Some((k, _)) if !found && k.trim() == "model" => {
                    found = true;
                    line.clone()
                }
                _ => l.to_string(),
            })
            .collect();
        if !found {
            return Err(Error::Run(format!(
                "{}: no `model = …` line to replace",
                path.display()
            )));
        }
        source = SourceFile::new(path, text.join("\n") + "\n");
    }
    parse_scenario(source)
}

/// A battery's result: the effects measured, and the paradigms the model could not take part in.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Battery {
    /// One row an effect.
    pub rows: Vec<BatteryRow>,
    /// Paradigms not run, with why.
    pub skipped: Vec<Skipped>,
}

/// A paradigm not run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The paradigm (its file's stem).
    pub paradigm: String,
    /// Why.
    pub why: String,
}

/// The world's required inputs (an instrumental world's `action`) that `model` sends nothing to:
/// a model that does not act cannot be scored on a paradigm whose world waits for actions.
fn unfed_world_inputs(file: &Path, given: &crate::scenario::ModelSource) -> Result<Vec<String>> {
    let own = load_paradigm(file, None)?;
    Ok(own
        .world
        .ports()
        .inputs
        .iter()
        .filter(|p| p.required)
        .filter(|p| {
            !given
                .spec
                .edges
                .iter()
                .any(|e| e.to.region == crate::brain::WORLD && e.to.port == p.name)
        })
        .map(|p| format!("world.{}", p.name))
        .collect())
}

/// Runs each paradigm into `out/<paradigm>/` and measures its effects. With a model given, a
/// paradigm whose world needs an input the model does not send (a choice) is skipped, with why.
pub fn run_battery(files: &[PathBuf], options: &BatteryOptions) -> Result<Battery> {
    let mut battery = Battery::default();
    // Said of the model given, once, before any paradigm is read with it.
    let given = match &options.model {
        Some(model) => Some(crate::scenario::load_model(model)?),
        None => None,
    };
    for file in files {
        if let Some(given) = &given {
            let unfed = unfed_world_inputs(file, given)?;
            if !unfed.is_empty() {
                let paradigm = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                battery.skipped.push(Skipped {
                    paradigm,
                    why: format!("the model does not act: no edge into {}", unfed.join(", ")),
                });
                continue;
            }
        }
        let scenario = load_paradigm(file, options.model.as_deref())?;
        if scenario.effects.is_empty() {
            return Err(Error::Run(format!(
                "{}: a paradigm needs `[[effects]]` to be scored",
                file.display()
            )));
        }
        // A run directory from an earlier battery is taken over as any run's is (its lock
        // respected, its checkpoint and summary replaced), not deleted from here.
        let run_options = RunOptions {
            out: Some(options.out.join(&scenario.name)),
            progress: options.progress,
            ..Default::default()
        };
        let output = run(&scenario, &run_options)?;
        for effect in output.effects {
            battery.rows.push(BatteryRow {
                paradigm: scenario.name.clone(),
                model: scenario.model.name.clone(),
                effect,
            });
        }
    }
    Ok(battery)
}

/// The table as Markdown: paradigm, effect, source, median a − b [10%, 90%], share of agents
/// in the published direction, the smallest effect counted, verdict; then the paradigms
/// skipped, with why.
pub fn markdown(battery: &Battery) -> String {
    let rows = &battery.rows;
    let mut s = String::from(
        "| paradigm | effect (a > b) | source | a − b: median [10%, 90%] | agents a > b | min | verdict |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let e = &r.effect;
        s.push_str(&format!(
            "| {} | {} | {} | {:.3} [{:.3}, {:.3}] | {:.0}% | {} | **{}** |\n",
            r.paradigm,
            e.spec.name,
            e.spec.source,
            e.median,
            e.p10,
            e.p90,
            100.0 * e.share,
            e.spec.min,
            e.verdict
        ));
    }
    for skip in &battery.skipped {
        s.push_str(&format!("\nNot run: {} ({}).\n", skip.paradigm, skip.why));
    }
    s
}

/// The table as CSV (one row an effect; text fields quoted).
pub fn csv(rows: &[BatteryRow]) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut s = String::from("paradigm,model,effect,source,a,b,median,p10,p90,share,agents,min,verdict\n");
    for r in rows {
        let e = &r.effect;
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            q(&r.paradigm),
            q(&r.model),
            q(&e.spec.name),
            q(&e.spec.source),
            q(&e.spec.a.to_string()),
            q(&e.spec.b.to_string()),
            e.median,
            e.p10,
            e.p90,
            e.share,
            e.agents,
            e.spec.min,
            e.verdict
        ));
    }
    s
}

/// Writes `battery.md`, `battery.csv`, `battery.json` and the figure `battery.{svg,png}` into
/// `out`; returns the paths. The JSON holds `rows` and `skipped`.
pub fn write(battery: &Battery, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let rows = &battery.rows;
    let json = serde_json::to_string_pretty(battery).map_err(|e| Error::Run(e.to_string()))? + "\n";
    let mut written = Vec::new();
    for (name, text) in [
        ("battery.md", markdown(battery)),
        ("battery.csv", csv(rows)),
        ("battery.json", json),
    ] {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    let bars: Vec<crate::plot::EffectBar> = rows
        .iter()
        .map(|r| crate::plot::EffectBar {
            label: format!("{}: {}", r.paradigm, r.effect.spec.name),
            band: (r.effect.p10, r.effect.median, r.effect.p90),
            min: r.effect.spec.min,
            verdict: r.effect.verdict,
        })
        .collect();
    let mut models: Vec<&str> = Vec::new();
    for r in rows {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let models = models
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let title = format!("the conditioning battery ({models}): effects in their published direction");
    let figure = crate::plot::plot_effects(&title, &bars)?;
    written.extend(figure.write(&out.join("battery"))?);
    Ok(written)
}
