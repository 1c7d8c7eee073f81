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

/// Draws one probe's curves as SVG text.
pub fn plot_probe(title: &str, keys: &BTreeMap<String, Curve>) -> Result<String> {
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
            .x_desc("step")
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
