//! Plots of a run's probes: for each probe, each key's median across agents over steps with the
//! 10–90% band, as SVG (text is laid out by plotters without system fonts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::experiment::recorder::percentile;
use crate::experiment::{Row, write_atomic};

/// At most this many keys per plot (a `neighbours` probe has many; it is not plotted).
const MAX_KEYS: usize = 10;

/// One key's curve: step → (p10, median, p90) across agents.
pub type Curve = BTreeMap<u64, (f32, f32, f32)>;

/// probe → key → curve, from a run's rows.
pub fn curves(rows: &[Row]) -> BTreeMap<String, BTreeMap<String, Curve>> {
    let mut values: BTreeMap<(&str, &str, u64), Vec<f32>> = BTreeMap::new();
    for r in rows {
        values
            .entry((&r.probe, &r.key, r.step))
            .or_default()
            .push(r.value);
    }
    let mut out: BTreeMap<String, BTreeMap<String, Curve>> = BTreeMap::new();
    for ((probe, key, step), mut v) in values {
        v.sort_by(f32::total_cmp);
        let point = (percentile(&v, 0.1), percentile(&v, 0.5), percentile(&v, 0.9));
        out.entry(probe.into())
            .or_default()
            .entry(key.into())
            .or_default()
            .insert(step, point);
    }
    out
}

/// Draws one probe's curves as SVG text, against steps.
pub fn plot_probe(title: &str, keys: &BTreeMap<String, Curve>) -> Result<String> {
    plot_curves(title, "step", keys)
}

/// Draws curves (x → p10, median, p90) as SVG text.
pub fn plot_curves(title: &str, x_label: &str, keys: &BTreeMap<String, Curve>) -> Result<String> {
    let err = |e: String| Error::Run(format!("plot `{title}`: {e}"));
    let points = keys.values().flat_map(|c| c.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (u64::MAX, 0u64, f32::INFINITY, f32::NEG_INFINITY);
    for (&x, &(lo, _, hi)) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(lo);
        y1 = y1.max(hi);
    }
    if x0 > x1 || !y0.is_finite() || !y1.is_finite() {
        return Err(err("no finite readings".into()));
    }
    if x0 == x1 {
        x1 = x0 + 1;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x0 as f64..x1 as f64, (y0 - pad) as f64..(y1 + pad) as f64)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("median across agents (band: 10–90%)")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (i, (key, curve)) in keys.iter().take(MAX_KEYS).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let upper = curve.iter().map(|(&x, &(_, _, hi))| (x as f64, hi as f64));
            let lower = curve.iter().rev().map(|(&x, &(lo, _, _))| (x as f64, lo as f64));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    upper.chain(lower).collect::<Vec<_>>(),
                    color.mix(0.15).filled(),
                )))
                .map_err(|e| err(e.to_string()))?;
            chart
                .draw_series(LineSeries::new(
                    curve.iter().map(|(&x, &(_, m, _))| (x as f64, m as f64)),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(e.to_string()))?
                .label(key.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(svg)
}

/// Writes `plots/<probe>.svg` for every probe of a run with at most a handful of keys.
pub fn plot_run(dir: &Path, rows: &[Row]) -> Result<Vec<PathBuf>> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let mut written = Vec::new();
    for (probe, keys) in curves(rows) {
        if keys.len() > MAX_KEYS {
            continue;
        }
        let path = plots.join(format!("{probe}.svg"));
        write_atomic(&path, plot_probe(&probe, &keys)?.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// One tick of one agent: (δ, time since the cue).
type RpeTick = (Option<f32>, Option<f32>);

/// Trial-aligned RPEs: for each agent, for each trial (a tick whose `time` is 0), δ at offsets
/// `-before ..= after` from the cue. Needs a `signal` probe on an `rpe` port and one on
/// `world.time`, both taken every tick.
pub fn trial_rpes(rows: &[Row], before: usize, after: usize) -> Option<Vec<Vec<Vec<f32>>>> {
    let rpe_key = rows.iter().find(|r| r.key.ends_with(".rpe"))?.key.clone();
    let mut by_agent: BTreeMap<usize, BTreeMap<u64, RpeTick>> = BTreeMap::new();
    for r in rows {
        let slot = if r.key == rpe_key {
            0
        } else if r.key == "world.time" {
            1
        } else {
            continue;
        };
        let e = by_agent
            .entry(r.agent)
            .or_default()
            .entry(r.step)
            .or_insert((None, None));
        if slot == 0 {
            e.0 = Some(r.value)
        } else {
            e.1 = Some(r.value)
        }
    }
    let mut out = Vec::new();
    for steps in by_agent.values() {
        let ticks: Vec<(u64, f32, f32)> = steps
            .iter()
            .filter_map(|(&s, &(d, t))| Some((s, d?, t?)))
            .collect();
        let mut trials = Vec::new();
        for (i, &(_, _, t)) in ticks.iter().enumerate() {
            if t == 0.0 && i >= before && i + after < ticks.len() {
                trials.push(ticks[i - before..=i + after].iter().map(|x| x.1).collect());
            }
        }
        out.push(trials);
    }
    (!out.is_empty() && out.iter().all(|t: &Vec<Vec<f32>>| !t.is_empty())).then_some(out)
}

/// `plots/rpe_raster.svg` (trial × time from the cue, median δ across agents) and
/// `plots/rpe_transfer.svg` (δ at the cue and at `delay` over trials, median and 10–90% band),
/// for runs that probe an `rpe` port and `world.time` every tick.
pub fn plot_trials(dir: &Path, rows: &[Row], delay: usize) -> Result<Vec<PathBuf>> {
    let before = 2;
    let Some(trials) = trial_rpes(rows, before, delay + 2) else {
        return Ok(Vec::new());
    };
    let n = trials.iter().map(Vec::len).min().unwrap_or(0);
    let width = before + delay + 3;
    let cell = |t: usize, k: usize| -> Vec<f32> {
        let mut v: Vec<f32> = trials.iter().map(|a| a[t][k]).collect();
        v.sort_by(f32::total_cmp);
        v
    };
    let err = |e: String| Error::Run(format!("trial plots: {e}"));
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (700, 640)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let left = -(before as i32);
        let mut chart = ChartBuilder::on(&root)
            .caption("RPE raster: median δ across agents", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(left..(width as i32 + left), 0..n as i32)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("ticks from the cue")
            .y_desc("trial")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let color = |d: f32| {
            let x = d.clamp(-1.0, 1.0);
            if x >= 0.0 {
                RGBColor(255, (255.0 * (1.0 - x)) as u8, (255.0 * (1.0 - x)) as u8)
            } else {
                RGBColor((255.0 * (1.0 + x)) as u8, (255.0 * (1.0 + x)) as u8, 255)
            }
        };
        chart
            .draw_series(
                (0..n)
                    .flat_map(|t| (0..width).map(move |k| (t, k)))
                    .map(|(t, k)| {
                        let x = k as i32 + left;
                        Rectangle::new(
                            [(x, t as i32), (x + 1, t as i32 + 1)],
                            color(percentile(&cell(t, k), 0.5)).filled(),
                        )
                    }),
            )
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let raster = plots.join("rpe_raster.svg");
    write_atomic(&raster, svg.as_bytes())?;

    let mut keys: BTreeMap<String, Curve> = BTreeMap::new();
    for (name, k) in [("δ at cue", before), ("δ at reward time", before + delay)] {
        let curve = (0..n)
            .map(|t| {
                let v = cell(t, k);
                (
                    t as u64 + 1,
                    (percentile(&v, 0.1), percentile(&v, 0.5), percentile(&v, 0.9)),
                )
            })
            .collect();
        keys.insert(name.to_string(), curve);
    }
    let transfer = plots.join("rpe_transfer.svg");
    write_atomic(
        &transfer,
        plot_curves("RPE transfer over trials", "trial", &keys)?.as_bytes(),
    )?;
    Ok(vec![raster, transfer])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_take_percentiles_across_agents_and_the_plot_is_svg() {
        let row = |step, agent, value| Row {
            phase: "p".into(),
            step,
            agent,
            probe: "valence".into(),
            key: "a".into(),
            value,
        };
        let rows: Vec<Row> = (0..5)
            .flat_map(|a| [row(10, a, a as f32), row(20, a, 2.0 * a as f32)])
            .collect();
        let c = curves(&rows);
        let curve = &c["valence"]["a"];
        assert_eq!(curve[&10].1, 2.0);
        assert_eq!(curve[&20], (0.8, 4.0, 7.2));
        let svg = plot_probe("valence", &c["valence"]).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("valence") && svg.contains("<polyline"),
            "{}",
            &svg[..200]
        );
    }
}
