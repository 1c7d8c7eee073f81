//! Plots of a run's probes: for each probe, each key's median across agents over steps with the
//! 10–90% band; dose–response curves (valence against co-occurrences); RPE rasters. Every figure
//! is written as SVG and PNG. Text uses the bundled Liberation Sans (`assets/fonts`, SIL OFL), so
//! no system font is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A rendered figure.
#[derive(Debug, Clone)]
pub struct Figure {
    /// SVG text.
    pub svg: String,
    /// PNG bytes.
    pub png: Vec<u8>,
}

impl Figure {
    /// Writes `<stem>.svg` and `<stem>.png`, atomically; returns both paths. A dot in the
    /// stem stays (`v1.5` → `v1.5.svg`).
    pub fn write(&self, stem: &Path) -> Result<Vec<PathBuf>> {
        let with = |ext: &str| {
            let mut name = stem.as_os_str().to_owned();
            name.push(ext);
            PathBuf::from(name)
        };
        let (svg, png) = (with(".svg"), with(".png"));
        write_atomic(&svg, self.svg.as_bytes())?;
        write_atomic(&png, &self.png)?;
        Ok(vec![svg, png])
    }
}

impl Figure {
    /// Shows the figure in a Jupyter notebook run by the evcxr Rust kernel (prints the PNG in
    /// evcxr's content markers; elsewhere it is a line of base64 on stdout).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT",
            base64(&self.png)
        );
    }
}

/// Standard base64 (RFC 4648) with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A tick label as a person writes it (#23): integers without `.0` (`3`, not `3.0`),
/// thousands and millions as `20k`, `1.5M`, never `-0` (nor a rounding error's `-1e-16`),
/// other numbers with at most three decimals (trailing zeros dropped), and very small ones in
/// scientific notation.
pub fn tick_label(v: &f64) -> String {
    let v = *v;
    if !v.is_finite() {
        return v.to_string();
    }
    // Below 1e-3 the scientific branch takes over, so no rounding here reaches `-0`.
    let trim = |s: String| match s.contains('.') {
        true => s.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => s,
    };
    let a = v.abs();
    // 0 and −0, and a tick at 0 computed as 0.1 × k that comes out as −1e−16.
    if a < 1e-9 {
        return "0".to_string();
    }
    if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e3 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 1e-3 {
        trim(format!("{v:.3}"))
    } else {
        format!("{v:.0e}")
    }
}

/// The colours of categories (series, bars): Okabe & Ito's colour-blind-safe set (2008), each
/// with a contrast of at least 3:1 against white (WCAG 2.1's figure for graphics): blue,
/// vermillion, bluish green, reddish purple as published, their orange darkened from `#E69F00`
/// (2.25:1) to `#B07800` (3.8:1), and black. Their sky blue (2.31:1) and yellow (1.32:1) are
/// left out: too faint on white. Beyond six series the line style is a second cue (solid,
/// dashed, dotted: see [`series_style`]).
pub const PALETTE: [(&str, RGBColor); 6] = [
    ("blue", RGBColor(0x00, 0x72, 0xB2)),
    ("vermillion", RGBColor(0xD5, 0x5E, 0x00)),
    ("bluish green", RGBColor(0x00, 0x9E, 0x73)),
    ("reddish purple", RGBColor(0xCC, 0x79, 0xA7)),
    ("dark orange", RGBColor(0xB0, 0x78, 0x00)),
    ("black", RGBColor(0x00, 0x00, 0x00)),
];

/// How a series is drawn: its colour, and its dash (`None` solid, else (dash, gap) in pixels).
pub type SeriesStyle = (RGBColor, Option<(u32, u32)>);

/// The dashes: solid, dashed, dotted.
const DASHES: [Option<(u32, u32)>; 3] = [None, Some((9, 5)), Some((2, 4))];

/// How series `i` is drawn: the first six solid in the six colours, the next six dashed, then
/// dotted.
pub fn series_style(i: usize) -> SeriesStyle {
    (PALETTE[i % PALETTE.len()].1, DASHES[(i / PALETTE.len()) % 3])
}

/// The grey of phase boundaries and names.
const PHASE_GREY: RGBColor = RGBColor(0x6E, 0x6E, 0x6E);
/// The light background of every other phase.
const PHASE_SHADE: RGBColor = RGBColor(0xF3, 0xF3, 0xF3);

/// The x axis of figures over a run's steps (one step is one tick of the world and the brain).
pub const STEP_AXIS: &str = "step (ticks)";

/// A phase on the step axis: its readings lie at steps `start < step ≤ end` (a run's steps
/// count from 0 at its start; the first tick is step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSpan {
    /// The phase's name.
    pub name: String,
    /// The step before its first tick (the previous phase's last step).
    pub start: u64,
    /// Its last step.
    pub end: u64,
}

/// Phase spans from the phases' names and lengths in ticks, in run order.
pub fn phase_spans<'a>(phases: impl IntoIterator<Item = (&'a str, u64)>) -> Vec<PhaseSpan> {
    let mut start = 0u64;
    phases
        .into_iter()
        .map(|(name, steps)| {
            let end = start.saturating_add(steps);
            let span = PhaseSpan {
                name: name.to_string(),
                start,
                end,
            };
            start = end;
            span
        })
        .collect()
}

/// Phase spans as a `metrics.csv` shows them, when the scenario is not at hand: each phase
/// ends at its last reading (every probe reads at a phase's last step), in order of the steps.
/// A phase with no readings is not seen.
pub fn phase_spans_from_rows(rows: &[Row]) -> Vec<PhaseSpan> {
    let mut ends: Vec<(u64, &str)> = Vec::new();
    for r in rows {
        match ends.iter_mut().find(|(_, name)| *name == r.phase) {
            Some(e) => e.0 = e.0.max(r.step),
            None => ends.push((r.step, &r.phase)),
        }
    }
    ends.sort();
    let mut start = 0;
    phase_spans(ends.into_iter().map(|(end, name)| {
        let steps = end - start;
        start = end;
        (name, steps)
    }))
}

/// How one probe's figure is drawn: its title (`title = "…"` in the probe's table; default the
/// probe's name) and the phases it shows (`plot_phases = [...]`; default all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeLook {
    /// The figure's title: the question it answers.
    pub title: Option<String>,
    /// The phases the figure's x axis spans (from the first's start to the last's end).
    pub phases: Vec<String>,
}

/// What a run's figures show beyond its readings: its phases and how each probe is drawn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunLayout {
    /// The phases, marked on every step axis.
    pub phases: Vec<PhaseSpan>,
    /// Probe name → look (a probe not here: its name as the title, every phase).
    pub probes: BTreeMap<String, ProbeLook>,
}

impl RunLayout {
    /// A layout from the phases' names and lengths in ticks, in run order, and each probe's
    /// (name, title, plot_phases).
    pub fn new<'a>(
        phases: impl IntoIterator<Item = (&'a str, u64)>,
        probes: impl IntoIterator<Item = (String, Option<String>, Vec<String>)>,
    ) -> Self {
        RunLayout {
            phases: phase_spans(phases),
            probes: probes
                .into_iter()
                .map(|(name, title, phases)| (name, ProbeLook { title, phases }))
                .collect(),
        }
    }

    /// A layout with the phases of `rows` (see [`phase_spans_from_rows`]) and default looks.
    pub fn from_rows(rows: &[Row]) -> Self {
        RunLayout {
            phases: phase_spans_from_rows(rows),
            probes: BTreeMap::new(),
        }
    }

    /// Probe `probe`'s figure's title: its `title`, else its name.
    fn title<'s>(&'s self, probe: &'s str) -> &'s str {
        let look = self.probes.get(probe).and_then(|l| l.title.as_deref());
        look.unwrap_or(probe)
    }

    /// The figure of `keys` over steps for probe `probe` (its own, or an overlay of runs):
    /// the layout's phases marked, the probe's `plot_phases` zooming it, each series in
    /// `styles` (where given).
    fn probe_figure(
        &self,
        probe: &str,
        title: &str,
        keys: &BTreeMap<String, Curve>,
        styles: Vec<SeriesStyle>,
    ) -> Result<Figure> {
        let zoom = self.zoom(probe);
        let shown = zoomed(keys, zoom);
        let mut figure = CurvesFigure::new(title, STEP_AXIS, &shown).with_phases(&self.phases);
        figure.y_label = format!("{probe}: median across agents (band: 10–90%)");
        figure.x_range = zoom;
        figure.styles = styles;
        figure.draw()
    }

    /// The range of steps probe `probe`'s figure shows, if it names phases.
    fn zoom(&self, probe: &str) -> Option<(u64, u64)> {
        let look = self.probes.get(probe)?;
        let spans = self.phases.iter().filter(|s| look.phases.contains(&s.name));
        spans.fold(None, |r, s| match r {
            None => Some((s.start, s.end)),
            Some((a, b)) => Some((a.min(s.start), b.max(s.end))),
        })
    }
}

/// A diverging colour scale on [−1, 1]: near-white at 0, red toward +1, blue toward −1 —
/// ColorBrewer's RdBu ends (`#B2182B`, `#2166AC`) through its near-white middle (`#F7F7F7`),
/// linearly: a diverging map that colour-blind readers see as dark–light–dark in two hues.
fn diverging(x: f64) -> RGBColor {
    const MID: (f64, f64, f64) = (247.0, 247.0, 247.0);
    let x = if x.is_finite() { x.clamp(-1.0, 1.0) } else { 0.0 };
    let end = if x >= 0.0 {
        (178.0, 24.0, 43.0)
    } else {
        (33.0, 102.0, 172.0)
    };
    let t = x.abs();
    let mix = |m: f64, e: f64| (m + (e - m) * t).round() as u8;
    RGBColor(mix(MID.0, end.0), mix(MID.1, end.1), mix(MID.2, end.2))
}

/// WCAG 2.1's relative luminance of an sRGB colour (0 black, 1 white); the contrast of two
/// colours is (L₁ + 0.05) / (L₂ + 0.05), the lighter over the darker.
fn relative_luminance(c: RGBColor) -> f64 {
    let linear = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(c.0) + 0.7152 * linear(c.1) + 0.0722 * linear(c.2)
}

/// Black or white, whichever reads better on `background`.
fn ink_on(background: RGBColor) -> RGBColor {
    let l = relative_luminance(background);
    // Contrast with black (l + 0.05) / 0.05 against white 1.05 / (l + 0.05).
    if (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) {
        BLACK
    } else {
        WHITE
    }
}

/// The width in pixels of `text` in the bundled font at `size`.
fn text_width(text: &str, size: u32) -> u32 {
    FontDesc::from(("sans-serif", size))
        .box_size(text)
        .map_or(size * text.chars().count() as u32 / 2, |(w, _)| w)
}

static FONT: Once = Once::new();

/// Registers the bundled font as "sans-serif" (once per process).
fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/fonts/LiberationSans-Regular.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the bundled font is a valid TrueType file"));
    });
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let err = |e: png::EncodingError| Error::Run(format!("PNG encoding: {e}"));
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// Draws the same figure on the SVG and the bitmap backend: `$draw` is called with a
/// `&DrawingArea` of each (a generic function, so one drawing routine serves both).
macro_rules! render {
    ($size:expr, $draw:expr) => {{
        register_font();
        let size: (u32, u32) = $size;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            $draw(&root)?;
            root.present().map_err(|e| Error::Run(format!("plot: {e}")))?;
        }
        let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
            $draw(&root)?;
            root.present().map_err(|e| Error::Run(format!("plot: {e}")))?;
        }
        Figure {
            svg,
            png: encode_png(&rgb, size)?,
        }
    }};
}

use crate::effects::Verdict;
use crate::error::{Error, Result};
use crate::metrics::{Chart, Row, write_atomic};
pub use crate::metrics::{Curve, RunCurves, curves};

/// At most this many keys per plot (a `neighbours` probe has many; it is not plotted).
pub const MAX_KEYS: usize = 10;

/// Draws one probe's curves against steps.
pub fn plot_probe(title: &str, keys: &BTreeMap<String, Curve>) -> Result<Figure> {
    plot_curves(title, STEP_AXIS, keys)
}

/// Draws curves (x → p10, median, p90): median lines and 10–90% bands.
pub fn plot_curves(title: &str, x_label: &str, keys: &BTreeMap<String, Curve>) -> Result<Figure> {
    CurvesFigure::new(title, x_label, keys).draw()
}

/// A figure of curves: each key's median line and 10–90% band, its legend beside the plotting
/// area (never on the data), and on a step axis the run's phases: a thin line at each
/// boundary, the name of each phase above the plot, every other phase lightly shaded.
#[derive(Debug, Clone)]
pub struct CurvesFigure<'a> {
    /// The title: the question the figure answers.
    pub title: &'a str,
    /// The x axis: what and in which unit ([`STEP_AXIS`] for a run's steps).
    pub x_label: &'a str,
    /// The y axis.
    pub y_label: String,
    /// Label → curve; at most [`MAX_KEYS`] are drawn.
    pub keys: &'a BTreeMap<String, Curve>,
    /// The phases to mark (those the readings, or `x_range`, reach; none: nothing marked).
    pub phases: &'a [PhaseSpan],
    /// The steps the x axis shows (default: the readings' and their phases' range).
    pub x_range: Option<(u64, u64)>,
    /// Each series' style, in the keys' order (default, or where it runs short:
    /// [`series_style`] of its index).
    pub styles: Vec<SeriesStyle>,
}

impl<'a> CurvesFigure<'a> {
    /// Curves without phases, the y axis "median across agents (band: 10–90%)".
    pub fn new(title: &'a str, x_label: &'a str, keys: &'a BTreeMap<String, Curve>) -> Self {
        CurvesFigure {
            title,
            x_label,
            y_label: "median across agents (band: 10–90%)".into(),
            keys,
            phases: &[],
            x_range: None,
            styles: Vec::new(),
        }
    }

    /// Marks `phases` on the x axis.
    pub fn with_phases(mut self, phases: &'a [PhaseSpan]) -> Self {
        self.phases = phases;
        self
    }

    /// Renders the figure: 820 pixels of plot and as many more as its legend needs.
    pub fn draw(&self) -> Result<Figure> {
        register_font();
        let legend_w = legend_width(self.keys.keys().take(MAX_KEYS));
        Ok(render!((820 + legend_w, 520), |root| draw_curves(
            root, self, legend_w
        )))
    }
}

/// Legend text.
const LEGEND_FONT: (&str, u32) = ("sans-serif", 15);
/// The sample line in a legend entry, and the gap after it.
const LEGEND_SAMPLE: u32 = 28;
/// The longest legend label drawn whole (longer ones end in `…`).
const LEGEND_MAX_CHARS: usize = 40;

fn legend_label(label: &str) -> String {
    match label.chars().count() > LEGEND_MAX_CHARS {
        true => label.chars().take(LEGEND_MAX_CHARS - 1).chain(['…']).collect(),
        false => label.to_string(),
    }
}

/// The pixels a legend of `labels` needs (the bundled font's own measure).
fn legend_width<'s>(labels: impl Iterator<Item = &'s String>) -> u32 {
    let widest = labels
        .map(|l| text_width(&legend_label(l), LEGEND_FONT.1))
        .max()
        .unwrap_or(0);
    LEGEND_SAMPLE + widest + 24
}

/// Draws a line in a series' style.
fn styled_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: Vec<(i32, i32)>,
    (color, dash): SeriesStyle,
) -> std::result::Result<(), String> {
    let style = color.stroke_width(2);
    match dash {
        None => area.draw(&PathElement::new(points, style)),
        Some((on, off)) => area.draw(&DashedPathElement::new(points, on, off, style)),
    }
    .map_err(|e| e.to_string())
}

fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &CurvesFigure<'_>,
    legend_w: u32,
) -> Result<()> {
    let title = fig.title;
    let err = |e: String| Error::Run(format!("plot `{title}`: {e}"));
    let keys: Vec<(&String, &Curve)> = fig.keys.iter().take(MAX_KEYS).collect();
    let style = |i: usize| fig.styles.get(i).copied().unwrap_or_else(|| series_style(i));
    let points = keys.iter().flat_map(|(_, c)| c.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (u64::MAX, 0u64, f32::INFINITY, f32::NEG_INFINITY);
    for (&x, &(lo, _, hi)) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(lo);
        y1 = y1.max(hi);
    }
    if x0 > x1 || !y0.is_finite() || !y1.is_finite() {
        return Err(Error::NothingToDraw(format!(
            "plot `{title}`: no finite readings"
        )));
    }
    // The phases shown, marked when there are two or more. Zoomed, the axis is the range and
    // the phases are those within it; otherwise the axis spans every phase a reading falls in
    // (`start < step ≤ end`), whole: a phase read only at its last step keeps its width.
    let phases: Vec<&PhaseSpan> = match fig.x_range {
        Some((a, b)) => {
            (x0, x1) = (a, b);
            fig.phases.iter().filter(|s| s.end > a && s.start < b).collect()
        }
        None => {
            let reached: Vec<&PhaseSpan> = fig
                .phases
                .iter()
                .filter(|s| s.end >= x0 && s.start < x1)
                .collect();
            if let (Some(first), Some(last)) = (reached.first(), reached.last()) {
                x0 = x0.min(first.start);
                x1 = x1.max(last.end);
            }
            reached
        }
    };
    if x0 == x1 {
        x1 = x0 + 1;
    }
    // A zoomed figure names even a single phase: the reader must know which part of the run it is.
    let marked = phases.len() >= 2 || (fig.x_range.is_some() && !phases.is_empty());
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let (ylo, yhi) = ((y0 - pad) as f64, (y1 + pad) as f64);
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let area = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(e.to_string()))?;
    let (w, _) = area.dim_in_pixel();
    let (plot, legend) = area.split_horizontally(w.saturating_sub(legend_w));
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        // Room above the plot for the phases' names (two rows where they crowd).
        .margin_top(if marked { 44 } else { 8 })
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(x0 as f64..x1 as f64, ylo..yhi)
        .map_err(|e| err(e.to_string()))?;
    if marked {
        for (i, s) in phases.iter().enumerate() {
            let (a, b) = (s.start.max(x0) as f64, s.end.min(x1) as f64);
            if i % 2 == 1 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a, ylo), (b, yhi)],
                        PHASE_SHADE.filled(),
                    )))
                    .map_err(|e| err(e.to_string()))?;
            }
        }
    }
    chart
        .configure_mesh()
        .x_desc(fig.x_label)
        .y_desc(fig.y_label.as_str())
        .x_labels(8)
        .y_labels(8)
        .light_line_style(RGBColor(0xEB, 0xEB, 0xEB))
        .bold_line_style(RGBColor(0xD6, 0xD6, 0xD6))
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    if marked {
        draw_phase_marks(root, &chart, &phases, (x0, x1), (ylo, yhi)).map_err(err)?;
    }
    for (i, (_, curve)) in keys.iter().enumerate() {
        let color = style(i).0;
        let upper = curve.iter().map(|(&x, &(_, _, hi))| (x as f64, hi as f64));
        let lower = curve.iter().rev().map(|(&x, &(lo, _, _))| (x as f64, lo as f64));
        chart
            .draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                color.mix(0.15).filled(),
            )))
            .map_err(|e| err(e.to_string()))?;
    }
    for (i, (_, curve)) in keys.iter().enumerate() {
        let line: Vec<(i32, i32)> = curve
            .iter()
            .map(|(&x, &(_, m, _))| chart.backend_coord(&(x as f64, m as f64)))
            .collect();
        let clip = chart.plotting_area().strip_coord_spec();
        let (px, py) = clip.get_base_pixel();
        let local = line.into_iter().map(|(x, y)| (x - px, y - py)).collect();
        styled_line(&clip, local, style(i)).map_err(err)?;
    }
    // The legend, beside the plot: a sample of each line and its label.
    let top = chart.plotting_area().get_pixel_range().1.start;
    let labels = keys.iter().map(|(key, _)| legend_label(key));
    draw_legend(&legend, top, labels, LEGEND_SAMPLE as i32 + 2, |i, y| {
        let sample = vec![(4, y), (4 + LEGEND_SAMPLE as i32 - 6, y)];
        styled_line(&legend, sample, style(i))
    })
    .map_err(err)
}

/// Draws a legend down `legend`, its first row level with `top` (the plotting area's top, in
/// the backend's pixels): for each label, `sample(i, y)` draws the entry's sample at row `y`
/// (in `legend`'s pixels), then the label follows at `text_x`.
fn draw_legend<DB: DrawingBackend>(
    legend: &DrawingArea<DB, Shift>,
    top: i32,
    labels: impl IntoIterator<Item = String>,
    text_x: i32,
    mut sample: impl FnMut(usize, i32) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let (_, ly) = legend.get_base_pixel();
    for (i, label) in labels.into_iter().enumerate() {
        let y = top - ly + 10 + 22 * i as i32;
        sample(i, y)?;
        let style = TextStyle::from(LEGEND_FONT.into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        legend
            .draw(&Text::new(label, (text_x, y), style))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Marks phases on a chart over steps: a thin grey line at each boundary inside the x range,
/// and each phase's name centred over its part of the range, above the plot (on a second row
/// where it would run into its neighbour's; left out only where neither row has room).
fn draw_phase_marks<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    phases: &[&PhaseSpan],
    (x0, x1): (u64, u64),
    (ylo, yhi): (f64, f64),
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    for s in phases {
        if s.start > x0 && s.start < x1 {
            let (a, b) = (
                chart.backend_coord(&(s.start as f64, ylo)),
                chart.backend_coord(&(s.start as f64, yhi)),
            );
            root.draw(&PathElement::new(vec![a, b], PHASE_GREY.stroke_width(1)))
                .map_err(e)?;
        }
    }
    let (px, py) = chart.plotting_area().get_pixel_range();
    let font = TextStyle::from(("sans-serif", 14).into_font());
    // The right edge of the last name on each row.
    let mut rows = [i32::MIN, i32::MIN];
    for s in phases {
        let (a, b) = (s.start.max(x0) as f64, s.end.min(x1) as f64);
        let mid = chart.backend_coord(&((a + b) / 2.0, yhi)).0;
        let (w, _) = root.estimate_text_size(&s.name, &font).map_err(e)?;
        let w = w as i32;
        let left = (mid - w / 2).clamp(px.start, (px.end - w).max(px.start));
        let Some(row) = (0..2).find(|&r| left > rows[r] + 6) else {
            continue;
        };
        rows[row] = left + w;
        let y = py.start - 6 - 18 * row as i32;
        let style = font.color(&PHASE_GREY).pos(Pos::new(HPos::Left, VPos::Bottom));
        root.draw(&Text::new(s.name.clone(), (left, y), style))
            .map_err(e)?;
    }
    Ok(())
}

/// Bars (median) with 10–90% whiskers across agents.
pub fn plot_bars(title: &str, y_label: &str, bars: &[(String, (f32, f32, f32))]) -> Result<Figure> {
    Ok(render!((720, 480), |root| draw_bars(root, title, y_label, bars)))
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    bars: &[(String, (f32, f32, f32))],
) -> Result<()> {
    let err = |e: String| Error::Run(format!("plot `{title}`: {e}"));
    let top = bars.iter().map(|b| b.1.2).fold(1.0f32, f32::max) as f64;
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let n = bars.len();
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..top * 1.05)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .y_label_formatter(&tick_label)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (i, (_, (lo, mid, hi))) in bars.iter().enumerate() {
        let x = i as f64;
        // Alternating, so neighbours differ without a legend.
        let color = PALETTE[i % 2].1;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - 0.3, 0.0), (x + 0.3, *mid as f64)],
                color.filled(),
            )))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, *lo as f64), (x, *hi as f64)],
                BLACK.stroke_width(2),
            )))
            .map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// One effect of a battery, as drawn: its median a − b across agents with the 10–90% band,
/// the smallest effect that counts, and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectBar {
    /// "paradigm: effect".
    pub label: String,
    /// (p10, median, p90) of a − b.
    pub band: (f32, f32, f32),
    /// The smallest median counted (> 0 to scale by).
    pub min: f32,
    /// The verdict, which colours the bar.
    pub verdict: Verdict,
}

/// How far the effects' axis reaches, in units of each effect's `min`.
const EFFECT_REACH: f64 = 5.0;

/// The battery's figure: one row per effect, its median a − b in units of its own `min` (so
/// ≥ 1 is reproduced and ≤ −1 opposite for every effect alike) as a bar with the 10–90% band,
/// clipped at ±5 with the true value written beside it; bars coloured by verdict.
pub fn plot_effects(title: &str, bars: &[EffectBar]) -> Result<Figure> {
    register_font();
    let label_w = bars.iter().map(|b| text_width(&b.label, 13)).max().unwrap_or(0) + 16;
    let height = 130 + 26 * bars.len() as u32;
    let width = (label_w + 700).max(text_width(title, 20) + 40);
    Ok(render!((width, height), |root| draw_effects(
        root, title, bars, label_w
    )))
}

fn draw_effects<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bars: &[EffectBar],
    label_w: u32,
) -> Result<()> {
    let err = |e: String| Error::Run(format!("plot `{title}`: {e}"));
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| err(x.to_string());
    if bars.is_empty() {
        return Err(Error::NothingToDraw(format!("plot `{title}`: no effects")));
    }
    let colour_of = |v: Verdict| match v {
        Verdict::Reproduced => PALETTE[2].1,
        Verdict::NotReproduced => PHASE_GREY,
        Verdict::Opposite => PALETTE[1].1,
    };
    let verdicts = [Verdict::Reproduced, Verdict::NotReproduced, Verdict::Opposite];
    let n = bars.len();
    root.fill(&WHITE).map_err(e)?;
    let area = root.titled(title, ("sans-serif", 20)).map_err(e)?;
    let (w, _) = area.dim_in_pixel();
    let (plot, legend) = area.split_horizontally(w.saturating_sub(150));
    let r = EFFECT_REACH + 0.6;
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(label_w)
        .build_cartesian_2d(-r..r, -0.5..n as f64 - 0.5)
        .map_err(|x| err(x.to_string()))?;
    let labels: Vec<&str> = bars.iter().rev().map(|b| b.label.as_str()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| {
            let i = y.round();
            match (y - i).abs() < 1e-6 && i >= 0.0 {
                true => labels.get(i as usize).map(|s| s.to_string()).unwrap_or_default(),
                false => String::new(),
            }
        })
        .x_labels(11)
        .x_label_formatter(&tick_label)
        .x_desc("median a − b across agents, in units of the effect's `min` (band: 10–90%)")
        .light_line_style(RGBColor(0xEB, 0xEB, 0xEB))
        .draw()
        .map_err(|x| err(x.to_string()))?;
    let guide = |x: f64, style: ShapeStyle| PathElement::new(vec![(x, -0.5), (x, n as f64 - 0.5)], style);
    chart
        .draw_series([
            guide(0.0, BLACK.stroke_width(1)),
            guide(1.0, PALETTE[2].1.stroke_width(1)),
            guide(-1.0, PALETTE[1].1.stroke_width(1)),
        ])
        .map_err(|x| err(x.to_string()))?;
    for (i, b) in bars.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let unit = if b.min > 0.0 { f64::from(b.min) } else { 1.0 };
        let scaled = |v: f32| (f64::from(v) / unit).clamp(-EFFECT_REACH, EFFECT_REACH);
        let (lo, mid, hi) = (scaled(b.band.0), scaled(b.band.1), scaled(b.band.2));
        let colour = colour_of(b.verdict);
        chart
            .draw_series([Rectangle::new([(0.0, y - 0.3), (mid, y + 0.3)], colour.filled())])
            .map_err(|x| err(x.to_string()))?;
        chart
            .draw_series([PathElement::new(vec![(lo, y), (hi, y)], BLACK.stroke_width(2))])
            .map_err(|x| err(x.to_string()))?;
        let true_value = f64::from(b.band.1) / unit;
        if true_value.abs() > EFFECT_REACH {
            let at = if true_value > 0.0 {
                EFFECT_REACH - 0.1
            } else {
                -EFFECT_REACH + 0.1
            };
            let pos = if true_value > 0.0 { HPos::Right } else { HPos::Left };
            let style = TextStyle::from(("sans-serif", 12).into_font())
                .color(&WHITE)
                .pos(Pos::new(pos, VPos::Center));
            chart
                .draw_series([Text::new(format!("{true_value:.0}×"), (at, y), style)])
                .map_err(|x| err(x.to_string()))?;
        }
    }
    let top = chart.plotting_area().get_pixel_range().1.start;
    let labels = verdicts.iter().map(Verdict::to_string);
    draw_legend(&legend, top, labels, 28, |k, y| {
        let swatch = Rectangle::new([(6, y - 6), (22, y + 6)], colour_of(verdicts[k]).filled());
        legend.draw(&swatch).map_err(|x| x.to_string())
    })
    .map_err(err)
}

/// One point of a dose–response curve: a concept, its dose and its valence, each as
/// (p10, median, p90) across agents.
#[derive(Debug, Clone, PartialEq)]
pub struct DosePoint {
    /// The concept.
    pub concept: String,
    /// Co-occurrences with the partner word.
    pub dose: (f32, f32, f32),
    /// Valence at the end of the run.
    pub valence: (f32, f32, f32),
}

/// The dose–response points of a run: for every `x~y` key of probe `cooccurrence` whose `x`
/// is a key of probe `valence`, the last readings of both.
pub fn dose_points(rows: &[Row], cooccurrence: &str, valence: &str) -> Vec<DosePoint> {
    let c = curves(rows);
    let (Some(doses), Some(values)) = (c.get(cooccurrence), c.get(valence)) else {
        return Vec::new();
    };
    let mut points: Vec<DosePoint> = doses
        .iter()
        .filter_map(|(key, dose)| {
            let (x, _) = key.split_once('~')?;
            let v = values.get(x)?;
            Some(DosePoint {
                concept: x.to_string(),
                dose: *dose.values().last()?,
                valence: *v.values().last()?,
            })
        })
        .collect();
    points.sort_by(|a, b| a.dose.1.total_cmp(&b.dose.1).then(a.concept.cmp(&b.concept)));
    points
}

/// A dose–response figure: valence (median, 10–90% bars) against co-occurrences (median).
pub fn plot_dose(title: &str, partner: &str, points: &[DosePoint]) -> Result<Figure> {
    Ok(render!((900, 520), |root| draw_dose(
        root, title, partner, points
    )))
}

fn draw_dose<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    partner: &str,
    points: &[DosePoint],
) -> Result<()> {
    let err = |e: String| Error::Run(format!("plot `{title}`: {e}"));
    if points.is_empty() {
        return Err(Error::NothingToDraw(format!("plot `{title}`: no points")));
    }
    let x1 = points.iter().map(|p| p.dose.2).fold(1.0f32, f32::max) as f64 * 1.08;
    let y0 = points.iter().map(|p| p.valence.0).fold(f32::INFINITY, f32::min) as f64;
    let y1 = points
        .iter()
        .map(|p| p.valence.2)
        .fold(f32::NEG_INFINITY, f32::max) as f64;
    let pad = ((y1 - y0) * 0.1).max(1e-3);
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.04 * x1..x1, (y0 - pad)..(y1 + pad))
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc(format!("co-occurrences with `{partner}` (median across agents)"))
        .y_desc("valence: median, 10–90% across agents")
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let color = PALETTE[0].1;
    chart
        .draw_series(points.iter().map(|p| {
            ErrorBar::new_vertical(
                p.dose.1 as f64,
                p.valence.0 as f64,
                p.valence.1 as f64,
                p.valence.2 as f64,
                color.stroke_width(2),
                8,
            )
        }))
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(points.iter().map(|p| {
            Text::new(
                p.concept.clone(),
                (p.dose.1 as f64, p.valence.2 as f64 + pad * 0.3),
                ("sans-serif", 16),
            )
        }))
        .map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Draws a figure described by its data (a world's special figures); curves over
/// [`STEP_AXIS`] get `phases` marked.
pub fn draw_chart(chart: &Chart, phases: &[PhaseSpan]) -> Result<Figure> {
    Ok(match chart {
        Chart::Curves {
            title,
            x_label,
            y_label,
            curves,
            ..
        } => {
            let mut figure = CurvesFigure::new(title, x_label, curves);
            figure.y_label = y_label.clone();
            if x_label == STEP_AXIS {
                figure.phases = phases;
            }
            figure.draw()?
        }
        Chart::Bars {
            title, y_label, bars, ..
        } => plot_bars(title, y_label, bars)?,
        Chart::Raster {
            title,
            x_label,
            cells,
            before,
            ..
        } => render!((700, 640), |root| draw_raster(
            root, title, x_label, cells, *before
        )),
    })
}

/// Keeps the points of a curve within `zoom` (all without one).
fn zoomed(keys: &BTreeMap<String, Curve>, zoom: Option<(u64, u64)>) -> BTreeMap<String, Curve> {
    let Some((a, b)) = zoom else {
        return keys.clone();
    };
    keys.iter()
        .map(|(k, c)| (k.clone(), c.range(a..=b).map(|(&x, &v)| (x, v)).collect()))
        .collect()
}

/// Writes `plots/<probe>.{svg,png}` for every probe of a run with at most a handful of keys,
/// `plots/dose_<valence>.{svg,png}` for every co-occurrence probe whose words a valence probe
/// also reads (the valence-bleed dose–response curve), and `plots/<stem>.{svg,png}` for each of
/// `charts` (the figures the run's worlds make of their own outputs; the first of a stem wins).
/// Every figure over steps marks `layout`'s phases; a probe's figure has its title and shows
/// its phases (see [`ProbeLook`]).
///
/// Names become file names through [`file_stem`]: a name read from a hand-edited
/// `metrics.csv` (`../x`, `a/b`) cannot write outside `plots/`.
pub fn plot_run(dir: &Path, rows: &[Row], charts: &[Chart], layout: &RunLayout) -> Result<Vec<PathBuf>> {
    let plots_dir = dir.join("plots");
    let plots = PlotDir(&plots_dir);
    std::fs::create_dir_all(&plots_dir).map_err(|e| Error::io(&plots_dir, e))?;
    let mut written = Vec::new();
    let all = curves(rows);
    for (probe, keys) in &all {
        if keys.len() > MAX_KEYS {
            continue;
        }
        let figure = layout.probe_figure(probe, layout.title(probe), keys, Vec::new());
        keep(&mut written, figure, &plots.join(probe))?;
    }
    // The worlds' own figures (regret curves, stay bars, RPE rasters, …).
    let mut stems: Vec<&str> = Vec::new();
    for chart in charts {
        let stem = chart.stem();
        if !stems.contains(&stem) {
            stems.push(stem);
            keep(&mut written, draw_chart(chart, &layout.phases), &plots.join(stem))?;
        }
    }
    // Across-agent correlations of a probe's keys (does a cluster of concepts move together?).
    for (probe, keys) in &all {
        if (4..=MAX_KEYS).contains(&keys.len())
            && let Some((names, r)) = correlations(rows, probe)
        {
            let title = format!("{} (r across agents)", layout.title(probe));
            let figure = plot_correlations(&title, &names, &r);
            keep(&mut written, figure, &plots.join(format!("{probe}_correlation")))?;
        }
    }
    // A probe whose keys are all `x~y` is a co-occurrence count.
    for (cooc, keys) in &all {
        let partners: Vec<&str> = keys
            .keys()
            .filter_map(|k| k.split_once('~').map(|(_, y)| y))
            .collect();
        if partners.len() != keys.len() || partners.is_empty() {
            continue;
        }
        for valence in all.keys().filter(|v| *v != cooc) {
            let points = dose_points(rows, cooc, valence);
            if points.len() >= 2 {
                let title = format!(
                    "does {valence} follow co-occurrence with `{}`? (the valence-bleed curve)",
                    partners[0]
                );
                let stem = plots.join(format!("dose_{valence}"));
                keep(&mut written, plot_dose(&title, partners[0], &points), &stem)?;
            }
        }
    }
    Ok(written)
}

/// Writes a figure, or — when its data has nothing to draw (every reading NaN, no points) —
/// says so on stderr and goes on: a run's other figures and its summary are not lost to one
/// probe that read NaN. Any other error (drawing, encoding, writing) is an error.
fn keep(written: &mut Vec<PathBuf>, figure: Result<Figure>, stem: &Path) -> Result<()> {
    match figure {
        Ok(f) => written.extend(f.write(stem)?),
        Err(e @ Error::NothingToDraw(_)) => {
            eprintln!("valence: warning: {e}; {} not drawn", stem.display())
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// `plots/`, joined only with names made safe as file names.
struct PlotDir<'a>(&'a Path);

impl PlotDir<'_> {
    fn join(&self, name: impl AsRef<str>) -> PathBuf {
        self.0.join(file_stem(name.as_ref()))
    }
}

/// A name as a file stem: letters, digits, `_`, `-` and `.` kept, anything else (a path
/// separator, a space) made `_`, a leading `.` made `_`, at most 128 characters; a name that is
/// already safe is unchanged, with its prefix or suffix (a probe's name, at most 100
/// characters, as `dose_<name>` or `<name>_correlation`).
pub fn file_stem(name: &str) -> String {
    let mut stem: String = name
        .chars()
        .take(128)
        .map(|c| match c.is_ascii_alphanumeric() || "_-.".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    if stem.is_empty() || stem.starts_with('.') {
        stem.insert(0, '_');
    }
    stem
}

/// Pearson r across agents between every two keys of a probe, at each key's last reading; keys
/// in order. `None` if fewer than 3 agents share the readings.
pub fn correlations(rows: &[Row], probe: &str) -> Option<(Vec<String>, Vec<Vec<f64>>)> {
    let mut last: BTreeMap<&str, (u64, BTreeMap<usize, f64>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.probe == probe) {
        let e = last.entry(&r.key).or_insert((r.step, BTreeMap::new()));
        if r.step > e.0 {
            *e = (r.step, BTreeMap::new());
        }
        if r.step == e.0 {
            e.1.insert(r.agent, f64::from(r.value));
        }
    }
    let keys: Vec<String> = last.keys().map(|k| k.to_string()).collect();
    let agents: Vec<usize> = last.values().next()?.1.keys().copied().collect();
    if agents.len() < 3 || last.values().any(|(_, v)| v.keys().ne(agents.iter())) {
        return None;
    }
    let series: Vec<Vec<f64>> = last
        .values()
        .map(|(_, v)| v.values().copied().collect())
        .collect();
    let r = series
        .iter()
        .map(|a| series.iter().map(|b| crate::analysis::pearson(a, b)).collect())
        .collect();
    Some((keys, r))
}

/// A correlation as written in its cell: two decimals, never `-0.00`.
fn correlation_label(r: f64) -> String {
    match format!("{r:.2}") {
        z if z == "-0.00" => "0.00".to_string(),
        s => s,
    }
}

/// A heat map of [`correlations`]: r on a diverging scale (red > 0, blue < 0), each cell's
/// value written in it, the keys along both axes.
pub fn plot_correlations(title: &str, keys: &[String], r: &[Vec<f64>]) -> Result<Figure> {
    register_font();
    let width = (text_width(title, 20) + 40).max(640);
    Ok(render!((width, 620), |root| draw_correlations(
        root, title, keys, r
    )))
}

fn draw_correlations<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[String],
    r: &[Vec<f64>],
) -> Result<()> {
    let err = |e: String| Error::Run(format!("plot `{title}`: {e}"));
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| err(x.to_string());
    let n = keys.len();
    root.fill(&WHITE).map_err(e)?;
    let area = root.titled(title, ("sans-serif", 20)).map_err(e)?;
    let label_font = TextStyle::from(("sans-serif", 14).into_font());
    let widest = keys.iter().map(|k| text_width(k, 14)).max().unwrap_or(0) as i32;
    let (w, h) = area.dim_in_pixel();
    // Square cells, the key names left of and below the grid, a line of explanation under it.
    let side = (w as i32 - widest - 60).min(h as i32 - 90).max(n as i32 * 12);
    let cell = side / n.max(1) as i32;
    let (x0, y0) = (
        area.get_base_pixel().0 + widest + 24 + (w as i32 - widest - 48 - cell * n as i32) / 2,
        area.get_base_pixel().1 + 8,
    );
    let at = |i: usize, j: usize| (x0 + cell * i as i32, y0 + cell * (n - 1 - j) as i32);
    for (i, row) in r.iter().enumerate().take(n) {
        for (j, &v) in row.iter().enumerate().take(n) {
            let fill = diverging(v);
            let (x, y) = at(i, j);
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], fill.filled()))
                .map_err(e)?;
            let ink = ink_on(fill);
            let style = TextStyle::from(("sans-serif", 13).into_font())
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(
                correlation_label(v),
                (x + cell / 2, y + cell / 2),
                style,
            ))
            .map_err(e)?;
        }
    }
    let bottom = y0 + cell * n as i32;
    // Key names: left of each row; below each column, on two rows where they crowd.
    let mut rows = [i32::MIN, i32::MIN];
    for (i, key) in keys.iter().enumerate() {
        let (_, y) = at(0, i);
        let style = label_font.pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(key.clone(), (x0 - 6, y + cell / 2), style))
            .map_err(e)?;
        let kw = text_width(key, 14) as i32;
        let centre = x0 + cell * i as i32 + cell / 2;
        let row = (0..2).find(|&r| centre - kw / 2 > rows[r] + 4).unwrap_or(1);
        rows[row] = centre + kw / 2;
        let style = label_font.pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(
            key.clone(),
            (centre, bottom + 6 + 18 * row as i32),
            style,
        ))
        .map_err(e)?;
    }
    let note = "Pearson r across agents at the last reading: red r > 0, blue r < 0";
    let style = TextStyle::from(("sans-serif", 13).into_font())
        .color(&PHASE_GREY)
        .pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(note, (x0 + cell * n as i32 / 2, bottom + 48), style))
        .map_err(e)?;
    Ok(())
}

/// Overlays runs: for every probe all runs recorded, one figure (`out/<probe>.{svg,png}`) with
/// each run's keys as `run: key` curves (a key keeps its colour across runs, a run its line
/// style: solid, dashed, dotted), the first run's `layout` giving the phases marked, the
/// probes' titles and their `plot_phases`; `keys`, when not empty, keeps only those keys.
pub fn compare_runs(
    runs: &[(String, Vec<Row>)],
    keys: &[String],
    out: &Path,
    layout: &RunLayout,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let all: Vec<(&String, RunCurves)> = runs.iter().map(|(name, rows)| (name, curves(rows))).collect();
    let Some((_, first)) = all.first() else {
        return Ok(Vec::new());
    };
    let mut written = Vec::new();
    for probe in first.keys() {
        if !all.iter().all(|(_, c)| c.contains_key(probe)) {
            continue;
        }
        let mut overlay: BTreeMap<String, Curve> = BTreeMap::new();
        let mut styles: BTreeMap<String, SeriesStyle> = BTreeMap::new();
        let mut colours: Vec<&String> = Vec::new();
        for (r, (name, c)) in all.iter().enumerate() {
            for (key, curve) in &c[probe] {
                if keys.is_empty() || keys.contains(key) {
                    let k = colours.iter().position(|c| *c == key).unwrap_or_else(|| {
                        colours.push(key);
                        colours.len() - 1
                    });
                    let label = format!("{name}: {key}");
                    let style = (PALETTE[k % PALETTE.len()].1, DASHES[r % DASHES.len()]);
                    styles.insert(label.clone(), style);
                    overlay.insert(label, curve.clone());
                }
            }
        }
        if overlay.is_empty() || overlay.len() > MAX_KEYS {
            continue;
        }
        let title = format!(
            "{} ({})",
            layout.title(probe),
            all.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" vs ")
        );
        let figure = layout.probe_figure(probe, &title, &overlay, styles.into_values().collect())?;
        written.extend(figure.write(&out.join(file_stem(probe)))?);
    }
    Ok(written)
}

/// Rows (trials) × time from an event, each cell on a diverging scale (red > 0, blue < 0).
fn draw_raster<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    medians: &[Vec<f32>],
    before: usize,
) -> Result<()> {
    let err = |e: String| Error::Run(format!("{title}: {e}"));
    let (n, width) = (medians.len(), medians.first().map_or(0, Vec::len));
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let left = -(before as i32);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(left..(width as i32 + left), 0..n as i32)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(x_label)
        .y_desc("trial")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    chart
        .draw_series(medians.iter().enumerate().flat_map(|(t, row)| {
            row.iter().enumerate().map(move |(k, &d)| {
                let x = k as i32 + left;
                Rectangle::new(
                    [(x, t as i32), (x + 1, t as i32 + 1)],
                    diverging(f64::from(d)).filled(),
                )
            })
        }))
        .map_err(|e| err(e.to_string()))?;
    Ok(())
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
        let figure = plot_probe("valence", &c["valence"]).unwrap();
        let svg = &figure.svg;
        assert!(
            svg.starts_with("<svg") && svg.contains("valence") && svg.contains("<polyline"),
            "{}",
            &svg[..200]
        );
        assert_eq!(&figure.png[..8], b"\x89PNG\r\n\x1a\n");
    }

    /// Tick labels a person would write: no `.0`, no `-0`, thousands as `k` (#23, item 3).
    #[test]
    fn tick_labels_read_as_a_person_writes_them() {
        let cases = [
            (20000.0, "20k"),
            (1500.0, "1.5k"),
            (2_500_000.0, "2.5M"),
            (3.0, "3"),
            (-0.0, "0"),
            (-0.0001, "-1e-4"),
            (0.25, "0.25"),
            (0.30000000000000004, "0.3"),
            (-0.0004, "-4e-4"),
            (-12.5, "-12.5"),
            (0.0, "0"),
        ];
        for (v, want) in cases {
            assert_eq!(tick_label(&v), want, "{v}");
        }
        // A curve's SVG: no label ends in `.0` or reads `-0`.
        let mut curve = Curve::new();
        for step in [0u64, 10_000, 20_000, 30_000] {
            curve.insert(step, (-0.5, 0.0, 0.5));
        }
        let fig = plot_probe("t", &[("k".to_string(), curve)].into()).unwrap();
        let labels: Vec<&str> = fig
            .svg
            .split("</text>")
            .filter_map(|t| t.rsplit('>').next())
            .map(str::trim)
            .collect();
        assert!(labels.contains(&"20k"), "{labels:?}");
        for l in &labels {
            assert!(
                !l.ends_with(".0") && *l != "-0" && !l.contains("e-16"),
                "tick label `{l}`"
            );
        }
        assert!(labels.contains(&"0") && labels.contains(&"-0.2"), "{labels:?}");
    }

    /// WCAG 2.1's contrast ratio of a colour against white.
    fn contrast_on_white(c: RGBColor) -> f64 {
        1.05 / (relative_luminance(c) + 0.05)
    }

    /// Every category colour is readable on white (#23, item 2), and ten series (the most a
    /// figure draws) differ in colour or line style.
    #[test]
    fn the_palette_has_contrast_and_series_are_told_apart() {
        // The published Okabe–Ito yellow fails: the check can fail.
        assert!(contrast_on_white(RGBColor(0xF0, 0xE4, 0x42)) < 1.5);
        assert!((contrast_on_white(BLACK) - 21.0).abs() < 1e-9);
        for (name, c) in PALETTE {
            let ratio = contrast_on_white(c);
            assert!(ratio >= 3.0, "{name}: contrast {ratio:.2}:1 against white");
        }
        let styles: Vec<_> = (0..MAX_KEYS).map(series_style).collect();
        for (i, a) in styles.iter().enumerate() {
            assert!(!styles[..i].contains(a), "series {i} looks like an earlier one");
        }
        assert!(
            styles[..6].iter().all(|s| s.1.is_none()),
            "the first six are solid"
        );
    }

    /// `(x, text)` of every `<text>` of an SVG, and the x of every vertical grey line.
    fn svg_parts(svg: &str) -> (Vec<(f64, String)>, Vec<f64>) {
        let attr = |tag: &str, name: &str| -> Option<String> {
            let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            Some(tag[at..].split('"').next()?.to_string())
        };
        let texts = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| {
                let (tag, rest) = t.split_once('>')?;
                let x = attr(tag, "x")?.parse().ok()?;
                Some((x, rest.split("</text>").next()?.trim().to_string()))
            })
            .collect();
        let grey = format!(
            "stroke=\"#{:02X}{:02X}{:02X}\"",
            PHASE_GREY.0, PHASE_GREY.1, PHASE_GREY.2
        );
        let lines = svg
            .split("<polyline")
            .skip(1)
            .filter(|t| t.contains(&grey))
            .filter_map(|t| {
                let points = attr(t, "points")?;
                let xs: Vec<f64> = points
                    .split_whitespace()
                    .filter_map(|p| p.split(',').next()?.parse().ok())
                    .collect();
                (xs.len() == 2 && xs[0] == xs[1]).then_some(xs[0])
            })
            .collect();
        (texts, lines)
    }

    fn two_phase_rows() -> Vec<Row> {
        (1..=30)
            .flat_map(|k| {
                let step = k * 1000;
                let phase = if step <= 12_000 { "warm-up" } else { "conditioning" };
                (0..3).map(move |agent| Row {
                    phase: phase.into(),
                    step,
                    agent,
                    probe: "valence".into(),
                    key: "a".into(),
                    value: (step as f32 / 30_000.0) * (1.0 + agent as f32),
                })
            })
            .collect()
    }

    /// The figure of a two-phase run names both phases and draws their boundary at its step
    /// (#23, item 1): the line's x is where the x axis puts step 12 000, read off the axis's
    /// own 10k and 20k ticks.
    #[test]
    fn a_two_phase_run_marks_its_boundary_at_the_right_step() {
        let rows = two_phase_rows();
        let layout = RunLayout {
            phases: phase_spans([("warm-up", 12_000), ("conditioning", 18_000)]),
            probes: [(
                "valence".to_string(),
                ProbeLook {
                    title: Some("does a gain value in conditioning?".into()),
                    phases: vec![],
                },
            )]
            .into(),
        };
        assert_eq!(
            layout.phases,
            phase_spans_from_rows(&rows),
            "the CSV shows the same"
        );
        let dir = tempfile::tempdir().unwrap();
        plot_run(dir.path(), &rows, &[], &layout).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("plots/valence.svg")).unwrap();
        let (texts, lines) = svg_parts(&svg);
        let x_of = |label: &str| {
            let found = texts.iter().find(|(_, t)| t == label);
            found
                .unwrap_or_else(|| panic!("no text `{label}` in {texts:?}"))
                .0
        };
        for name in ["warm-up", "conditioning", "does a gain value in conditioning?"] {
            x_of(name);
        }
        let (x10, x20) = (x_of("10k"), x_of("20k"));
        let want = x10 + 0.2 * (x20 - x10);
        assert_eq!(lines.len(), 1, "one boundary: {lines:?}");
        assert!(
            (lines[0] - want).abs() <= 1.0,
            "boundary at x = {}, step 12k at {want}",
            lines[0]
        );
        // The legend is beside the plot, right of its last tick.
        assert!(x_of("a") > x_of("30k"), "legend at {} on the data", x_of("a"));

        // Zoomed to conditioning: its steps only, named, nothing of warm-up marked.
        let mut zoomed = layout.clone();
        zoomed.probes.get_mut("valence").unwrap().phases = vec!["conditioning".into()];
        plot_run(dir.path(), &rows, &[], &zoomed).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("plots/valence.svg")).unwrap();
        let (texts, lines) = svg_parts(&svg);
        let labels: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        assert!(labels.contains(&"20k") && !labels.contains(&"10k"), "{labels:?}");
        assert!(
            !labels.contains(&"warm-up") && lines.is_empty(),
            "{labels:?} {lines:?}"
        );
        assert!(
            labels.contains(&"conditioning"),
            "a zoomed figure names its phase: {labels:?}"
        );
    }

    /// An overlay of two runs keeps a key's colour and tells the runs apart by line style, and
    /// marks the first run's phases.
    #[test]
    fn compared_runs_share_colours_per_key() {
        let rows = two_phase_rows();
        let runs = vec![
            ("learning".to_string(), rows.clone()),
            ("frozen".to_string(), rows.clone()),
        ];
        let dir = tempfile::tempdir().unwrap();
        let layout = RunLayout::from_rows(&rows);
        let written = compare_runs(&runs, &[], dir.path(), &layout).unwrap();
        assert_eq!(written.len(), 2, "{written:?}");
        let svg = std::fs::read_to_string(dir.path().join("valence.svg")).unwrap();
        let hex = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        assert!(svg.contains(&hex(PALETTE[0].1)), "the key's colour");
        assert!(
            !svg.contains(&hex(PALETTE[1].1)),
            "a second colour for the same key"
        );
        let (texts, lines) = svg_parts(&svg);
        assert!(
            texts.iter().any(|(_, t)| t == "warm-up") && lines.len() == 1,
            "{texts:?}"
        );
        // The dashed run is drawn in pieces: many more blue strokes than the solid run's one.
        let blue = format!("stroke=\"{}\"", hex(PALETTE[0].1));
        assert!(svg.matches(&blue).count() > 10, "no dashed line");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        // RFC 4648 §10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    /// Names read from a `metrics.csv` become safe file stems: nothing is written outside
    /// `plots/`, and a name with a dot keeps it.
    #[test]
    fn plot_names_cannot_leave_the_plots_directory() {
        assert_eq!(file_stem("../../ESCAPED"), "_.._.._ESCAPED");
        assert_eq!(file_stem("cos/ine"), "cos_ine");
        assert_eq!(file_stem(""), "_");
        assert_eq!(file_stem("v1.5_a-b"), "v1.5_a-b");
        assert_eq!(file_stem(&"x".repeat(1000)).len(), 128);
        let longest = "p".repeat(100);
        let correlation = format!("{longest}_correlation");
        assert_eq!(file_stem(&correlation), correlation, "a suffix is not cut off");
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        let rows: Vec<Row> = ["../../ESCAPED", "v1.5"]
            .iter()
            .flat_map(|probe| {
                (0..2).map(|step| Row {
                    phase: "p".into(),
                    step,
                    agent: 0,
                    probe: probe.to_string(),
                    key: "k".into(),
                    value: step as f32,
                })
            })
            .collect();
        let written = plot_run(&dir, &rows, &[], &RunLayout::default()).unwrap();
        assert_eq!(written.len(), 4, "{written:?}");
        for path in &written {
            assert!(path.starts_with(dir.join("plots")), "{}", path.display());
            assert!(path.is_file(), "{}", path.display());
        }
        assert!(dir.join("plots/v1.5.svg").is_file());
        let outside: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(outside.len(), 1, "only the run directory: {outside:?}");
    }

    #[test]
    fn dose_points_pair_each_count_with_its_concepts_valence() {
        let row = |probe: &str, key: &str, step, agent, value| Row {
            phase: "p".into(),
            step,
            agent,
            probe: probe.into(),
            key: key.into(),
            value,
        };
        let mut rows = Vec::new();
        for agent in 0..3 {
            let a = agent as f32;
            rows.push(row("exposure", "b~a", 10, agent, 100.0 + a));
            rows.push(row("exposure", "c~a", 10, agent, 0.0));
            rows.push(row("valence", "b", 5, agent, -1.0));
            rows.push(row("valence", "b", 10, agent, 0.5 + a));
            rows.push(row("valence", "c", 10, agent, -a));
        }
        let points = dose_points(&rows, "exposure", "valence");
        let summary: Vec<(&str, f32, f32)> = points
            .iter()
            .map(|p| (p.concept.as_str(), p.dose.1, p.valence.1))
            .collect();
        assert_eq!(summary, vec![("c", 0.0, -1.0), ("b", 101.0, 1.5)]);
        let dir = tempfile::tempdir().unwrap();
        // A world's chart is drawn too, once per stem (the first wins).
        let bars = |label: &str| Chart::Bars {
            stem: "stay".into(),
            title: "bars".into(),
            y_label: "p".into(),
            bars: vec![(label.into(), (0.1, 0.2, 0.3))],
        };
        let layout = RunLayout::default();
        let written = plot_run(dir.path(), &rows, &[bars("first"), bars("second")], &layout).unwrap();
        assert!(
            written.iter().any(|p| p.ends_with("plots/dose_valence.png")),
            "{written:?}"
        );
        assert_eq!(
            written.iter().filter(|p| p.ends_with("plots/stay.svg")).count(),
            1
        );
        let svg = std::fs::read_to_string(dir.path().join("plots/stay.svg")).unwrap();
        assert!(svg.contains("first") && !svg.contains("second"));
    }
}
