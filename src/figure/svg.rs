//! A small SVG writer for [`Figure`]s and tables: figure panels stacked top to bottom, each with a
//! frame, ticks on "nice" values, axis labels, a legend and its series clipped to the plot area. Each
//! series is one `<g class="series" data-series="…">` so a reader (or a test) finds it by name; each
//! table column group one `<g class="group">`. Text is escaped; no layout engine, widths are estimated.

use super::{Figure, LegendPlace, Marker, Rgb, Scale, Series, Shape, Swatch};
use std::fmt::Write;

/// Margins of a panel's plot area inside its box (left, right, top, bottom), in SVG units.
const MARGIN: [f64; 4] = [70.0, 20.0, 30.0, 46.0];
const FONT: f64 = 12.0;

/// `s` with the five XML special characters escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Tick positions on 1–2–5 multiples of a power of ten, about `target` of them inside `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // Labels are printed to the step's precision (`tick_label`); only −0 needs care here.
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

fn tick_label(v: f64, step: f64) -> String {
    let digits = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil().max(0.0) as usize
    };
    format!("{v:.digits$}")
}

/// Tick values of a log axis over `[lo, hi]` (lo > 0): the powers of ten inside, with 2× and 5×
/// multiples added when fewer than two decades would be marked.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
    let decades: Vec<f64> = (first..=last)
        .map(|k| 10f64.powi(k))
        .filter(inside)
        .collect();
    if decades.len() >= 2 {
        return decades;
    }
    (first..=last)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .filter(inside)
        .collect()
}

/// A log-axis tick label: the value in its shortest form ("10", "200", "0.05").
pub fn log_tick_label(v: f64) -> String {
    // Round to 12 significant digits so 10^k computed in floating point prints as itself.
    let digits = 11 - v.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits.clamp(-300, 300));
    ((v * scale).round() / scale).to_string()
}

/// Maps data coordinates to the SVG coordinates of one plot area. `x` and `y` are the ranges in the
/// axes' drawing coordinates ([`Scale::forward`]).
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x: [f64; 2],
    y: [f64; 2],
    x_scale: Scale,
    y_scale: Scale,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let u = self.x_scale.forward(x);
        self.left + (u - self.x[0]) / (self.x[1] - self.x[0]) * self.width
    }
    fn py(&self, y: f64) -> f64 {
        let u = self.y_scale.forward(y);
        self.top + self.height - (u - self.y[0]) / (self.y[1] - self.y[0]) * self.height
    }
    fn bottom(&self) -> f64 {
        self.top + self.height
    }
    fn right(&self) -> f64 {
        self.left + self.width
    }
}

/// A valid `[lo, hi]` range in drawing coordinates: non-finite or empty ranges become `[0, 1]` or are
/// widened around the value.
fn usable(range: [f64; 2], scale: Scale) -> [f64; 2] {
    let [lo, hi] = range.map(|v| scale.forward(v));
    if !(lo.is_finite() && hi.is_finite()) {
        [0.0, 1.0]
    } else if hi > lo {
        [lo, hi]
    } else {
        [lo - 0.5, lo + 0.5]
    }
}

/// One SVG document of `panels` (`(figure, panel height)`), stacked, `width` wide, with an optional
/// `caption` line under them (what the figure shows: the scene and its parameters), wrapped to the width.
pub fn document(panels: &[(&Figure, f64)], width: f64, caption: Option<&str>) -> String {
    let caption_lines = caption.map_or_else(Vec::new, |c| wrap(c, width - 2.0 * CAPTION_INSET));
    let caption_height = if caption_lines.is_empty() {
        0.0
    } else {
        caption_lines.len() as f64 * CAPTION_LINE + 12.0
    };
    let plots: f64 = panels.iter().map(|(_, h)| h).sum();
    let height = plots + caption_height;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{FONT}">
<rect width="{width}" height="{height}" fill="white"/>"#
    );
    let mut top = 0.0;
    for (index, (figure, panel_height)) in panels.iter().enumerate() {
        panel(&mut out, figure, index, top, width, *panel_height);
        top += panel_height;
    }
    for (k, line) in caption_lines.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text class="caption" x="{CAPTION_INSET}" y="{y}" font-size="{size}" fill="#444">{text}</text>"##,
            y = plots + 4.0 + CAPTION_LINE * (k as f64 + 1.0),
            size = FONT - 1.0,
            text = escape(line),
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Left inset and line height of the caption.
const CAPTION_INSET: f64 = 10.0;
const CAPTION_LINE: f64 = 15.0;

/// `text` broken at spaces into lines of at most `width` points (at ≈ 0.55 em per character).
fn wrap(text: &str, width: f64) -> Vec<String> {
    let per_line = ((width / (0.55 * (FONT - 1.0))) as usize).max(20);
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= per_line => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

fn panel(out: &mut String, figure: &Figure, index: usize, top: f64, width: f64, height: f64) {
    let frame = Frame {
        left: MARGIN[0],
        top: top + MARGIN[2],
        width: (width - MARGIN[0] - MARGIN[1]).max(10.0),
        height: (height - MARGIN[2] - MARGIN[3]).max(10.0),
        x: usable(figure.x.range, figure.x.scale),
        y: usable(figure.y.range, figure.y.scale),
        x_scale: figure.x.scale,
        y_scale: figure.y.scale,
    };
    let clip = format!("plot-area-{index}");
    let _ = writeln!(
        out,
        r#"<g class="figure" data-title="{title}">
<text x="{cx}" y="{ty}" text-anchor="middle" font-weight="bold">{title}</text>
<clipPath id="{clip}"><rect x="{l}" y="{t}" width="{w}" height="{h}"/></clipPath>"#,
        title = escape(&figure.title),
        cx = frame.left + frame.width / 2.0,
        ty = top + 18.0,
        l = frame.left,
        t = frame.top,
        w = frame.width,
        h = frame.height,
    );
    axes(out, figure, &frame);
    let _ = writeln!(out, r#"<g clip-path="url(#{clip})">"#);
    let mut vlines = 0;
    for series in &figure.series {
        draw_series(out, series, &frame, vlines);
        vlines += usize::from(matches!(series.shape, Shape::VLine { .. }));
    }
    out.push_str("</g>\n");
    legend(out, figure, &frame);
    out.push_str("</g>\n");
}

/// Tick values and labels of an axis whose drawing range is `range`.
fn axis_ticks(range: [f64; 2], scale: Scale, target: usize) -> Vec<(f64, String)> {
    match scale {
        Scale::Linear => {
            let values = ticks(range[0], range[1], target);
            let step = values.windows(2).next().map_or(1.0, |w| w[1] - w[0]);
            values
                .into_iter()
                .map(|v| (v, tick_label(v, step)))
                .collect()
        }
        Scale::Log => log_ticks(scale.inverse(range[0]), scale.inverse(range[1]))
            .into_iter()
            .map(|v| (v, log_tick_label(v)))
            .collect(),
        Scale::Unmarked => Vec::new(),
    }
}

fn axes(out: &mut String, figure: &Figure, f: &Frame) {
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
        f.left, f.top, f.width, f.height
    );
    for (v, label) in axis_ticks(f.x, f.x_scale, 8) {
        let x = f.px(v);
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{b}" x2="{x}" y2="{b6}" stroke="#444"/><text class="x-tick" x="{x}" y="{ty}" text-anchor="middle">{label}</text>"##,
            b = f.bottom(),
            b6 = f.bottom() + 5.0,
            ty = f.bottom() + 18.0,
        );
    }
    for (v, label) in axis_ticks(f.y, f.y_scale, 5) {
        let y = f.py(v);
        let _ = writeln!(
            out,
            r##"<line x1="{l5}" y1="{y}" x2="{l}" y2="{y}" stroke="#444"/><text class="y-tick" x="{tx}" y="{ty}" text-anchor="end">{label}</text>"##,
            l5 = f.left - 5.0,
            l = f.left,
            tx = f.left - 8.0,
            ty = y + FONT / 3.0,
        );
    }
    let _ = writeln!(
        out,
        r#"<text class="x-label" x="{cx}" y="{by}" text-anchor="middle">{x}</text>
<text class="y-label" transform="translate({lx},{cy}) rotate(-90)" text-anchor="middle">{y}</text>"#,
        cx = f.left + f.width / 2.0,
        by = f.bottom() + 36.0,
        x = escape(&figure.x.label),
        lx = f.left - 50.0,
        cy = f.top + f.height / 2.0,
        y = escape(&figure.y.label),
    );
}

/// Polyline segments through the finite points (a non-finite point breaks the line).
fn segments(points: &[[f64; 2]], f: &Frame) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    for p in points {
        let (x, y) = (f.px(p[0]), f.py(p[1]));
        if x.is_finite() && y.is_finite() {
            let _ = write!(current, "{x:.2},{y:.2} ");
        } else if !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// `vline_index`: how many vertical lines came before this series (their labels are staggered).
fn draw_series(out: &mut String, series: &Series, f: &Frame, vline_index: usize) {
    let color = hex(series.color);
    let _ = writeln!(
        out,
        r#"<g class="series" data-series="{}" data-kind="{}">"#,
        escape(&series.name),
        kind(&series.shape)
    );
    match &series.shape {
        Shape::Line { points, dashed } => {
            let dash = if *dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            for segment in segments(points, f) {
                let _ = writeln!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                    segment.trim_end()
                );
            }
        }
        Shape::Points {
            points,
            errors,
            marker,
        } => {
            for (i, p) in points.iter().enumerate() {
                if !(p[0].is_finite() && p[1].is_finite()) {
                    continue;
                }
                let (x, y) = (f.px(p[0]), f.py(p[1]));
                if let Some(e) = errors
                    .as_ref()
                    .and_then(|e| e.get(i))
                    .filter(|e| e.is_finite())
                {
                    let _ = writeln!(
                        out,
                        r#"<line class="error-bar" x1="{x:.2}" y1="{:.2}" x2="{x:.2}" y2="{:.2}" stroke="{color}" stroke-width="1.5"/>"#,
                        f.py(p[1] - e),
                        f.py(p[1] + e)
                    );
                }
                let _ = match marker {
                    Marker::Circle => writeln!(
                        out,
                        r#"<circle cx="{x:.2}" cy="{y:.2}" r="3.5" fill="{color}"/>"#
                    ),
                    Marker::Diamond => writeln!(
                        out,
                        r#"<path class="diamond" d="M {x:.2} {:.2} L {:.2} {y:.2} L {x:.2} {:.2} L {:.2} {y:.2} Z" fill="none" stroke="{color}" stroke-width="2"/>"#,
                        y - 6.0,
                        x + 6.0,
                        y + 6.0,
                        x - 6.0
                    ),
                };
            }
        }
        Shape::VLine { x, labelled } if x.is_finite() => {
            let px = f.px(*x);
            let _ = writeln!(
                out,
                r#"<line x1="{px:.2}" y1="{}" x2="{px:.2}" y2="{}" stroke="{color}" stroke-width="1.5"/>"#,
                f.top,
                f.bottom(),
            );
            if *labelled {
                // Labels are staggered: theory times often lie close together.
                let ty = f.top + 14.0 + 14.0 * (vline_index % 4) as f64;
                let _ = writeln!(
                    out,
                    r#"<text x="{:.2}" y="{ty}" fill="{color}">{}</text>"#,
                    px + 3.0,
                    escape(&series.name)
                );
            }
        }
        Shape::HLine { y } if y.is_finite() => {
            let py = f.py(*y);
            let _ = writeln!(
                out,
                r#"<line x1="{}" y1="{py:.2}" x2="{}" y2="{py:.2}" stroke="{color}" stroke-dasharray="6 4"/><text x="{}" y="{:.2}" fill="{color}" text-anchor="end">{}</text>"#,
                f.left,
                f.right(),
                f.right() - 4.0,
                py - 4.0,
                escape(&series.name)
            );
        }
        Shape::VLine { .. } | Shape::HLine { .. } => {}
        Shape::Bars { edges, counts } => {
            for (edge, &count) in edges.windows(2).zip(counts) {
                if !(edge[0].is_finite() && edge[1].is_finite() && count.is_finite()) {
                    continue;
                }
                let (x0, x1) = (f.px(edge[0]), f.px(edge[1]));
                let (y0, y1) = (f.py(count), f.py(0.0));
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{color}" fill-opacity="0.6" stroke="{color}"/>"#,
                    x0.min(x1),
                    y0.min(y1),
                    (x1 - x0).abs(),
                    (y1 - y0).abs()
                );
            }
        }
        Shape::Segments { segments } => {
            for [a, b] in segments {
                let (x1, y1, x2, y2) = (f.px(a[0]), f.py(a[1]), f.px(b[0]), f.py(b[1]));
                if [x1, y1, x2, y2].iter().all(|v| v.is_finite()) {
                    let _ = writeln!(
                        out,
                        r#"<line class="segment" x1="{x1:.2}" y1="{y1:.2}" x2="{x2:.2}" y2="{y2:.2}" stroke="{color}" stroke-width="2.5"/>"#
                    );
                }
            }
        }
        Shape::Labels { labels } => {
            for label in labels {
                let (x, y) = (f.px(label.at[0]), f.py(label.at[1]));
                if x.is_finite() && y.is_finite() {
                    let _ = writeln!(
                        out,
                        r#"<text class="label" x="{x:.2}" y="{:.2}" text-anchor="middle" font-weight="bold" fill="{color}">{}</text>"#,
                        y - 4.0,
                        escape(&label.text)
                    );
                }
            }
        }
        Shape::Band { x, lower, upper } => {
            // Upper edge left to right, lower edge back: one closed outline per run of finite values.
            let corners = |i: usize| -> Option<[f64; 3]> {
                let (px, lo, hi) = (f.px(*x.get(i)?), f.py(*lower.get(i)?), f.py(*upper.get(i)?));
                [px, lo, hi]
                    .iter()
                    .all(|v| v.is_finite())
                    .then_some([px, lo, hi])
            };
            let mut runs: Vec<Vec<[f64; 3]>> = vec![Vec::new()];
            for i in 0..x.len() {
                match (corners(i), runs.last_mut()) {
                    (Some(c), Some(run)) => run.push(c),
                    (None, Some(run)) if !run.is_empty() => runs.push(Vec::new()),
                    _ => {}
                }
            }
            for run in runs.iter().filter(|r| r.len() >= 2) {
                let mut d = String::new();
                for (k, [px, _, hi]) in run.iter().enumerate() {
                    let _ = write!(d, "{}{px:.2},{hi:.2} ", if k == 0 { "M" } else { "L" });
                }
                for [px, lo, _] in run.iter().rev() {
                    let _ = write!(d, "L{px:.2},{lo:.2} ");
                }
                let _ = writeln!(
                    out,
                    r#"<path class="band" d="{}Z" fill="{color}" fill-opacity="0.8" stroke="none"/>"#,
                    d
                );
            }
        }
    }
    out.push_str("</g>\n");
}

fn kind(shape: &Shape) -> &'static str {
    match shape {
        Shape::Line { .. } => "line",
        Shape::Points { .. } => "points",
        Shape::VLine { .. } => "vline",
        Shape::HLine { .. } => "hline",
        Shape::Bars { .. } => "bars",
        Shape::Segments { .. } => "segments",
        Shape::Labels { .. } => "labels",
        Shape::Band { .. } => "band",
    }
}

/// A legend box in the figure's legend corner: one row per distinct series name of the shapes that
/// belong in a legend ([`Shape::in_legend`]). A line's swatch is a short line, dashed like it; other
/// shapes get a filled box.
fn legend(out: &mut String, figure: &Figure, f: &Frame) {
    let entries = figure.legend_entries();
    if entries.is_empty() {
        return;
    }
    let row = FONT + 6.0;
    let longest = entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0);
    let (w, h) = (
        30.0 + longest as f64 * FONT * 0.6,
        row * entries.len() as f64 + 8.0,
    );
    let (x, y) = match figure.legend {
        LegendPlace::LeftBottom => (f.left + 8.0, f.bottom() - h - 8.0),
        LegendPlace::LeftTop => (f.left + 8.0, f.top + 8.0),
        LegendPlace::RightTop => (f.right() - w - 8.0, f.top + 8.0),
        LegendPlace::RightBottom => (f.right() - w - 8.0, f.bottom() - h - 8.0),
    };
    let _ = writeln!(
        out,
        r##"<g class="legend"><rect x="{x}" y="{y}" width="{w:.1}" height="{h}" fill="white" fill-opacity="0.85" stroke="#999"/>"##
    );
    for (i, entry) in entries.iter().enumerate() {
        let ry = y + 4.0 + row * i as f64 + row / 2.0;
        let swatch = match entry.swatch {
            Swatch::Line { dashed } => format!(
                r#"<line x1="{}" y1="{ry:.1}" x2="{}" y2="{ry:.1}" stroke="{}" stroke-width="2"{}/>"#,
                x + 4.0,
                x + 22.0,
                hex(entry.color),
                if dashed {
                    r#" stroke-dasharray="5 3""#
                } else {
                    ""
                }
            ),
            Swatch::Box => format!(
                r#"<rect x="{}" y="{:.1}" width="14" height="8" fill="{}"/>"#,
                x + 6.0,
                ry - 4.0,
                hex(entry.color)
            ),
        };
        let _ = writeln!(
            out,
            r#"{swatch}<text x="{}" y="{:.1}">{}</text>"#,
            x + 26.0,
            ry + FONT / 3.0,
            escape(entry.name)
        );
    }
    out.push_str("</g>\n");
}

/// Approximate width of `text` in SVG units at the document's font size (no font metrics here).
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * FONT * 0.58
}

/// One SVG document of `table`: caption, a row of group captions over their columns, the column
/// headers, one line per row, then the numbered warnings and the notes. Each group's columns are one
/// `<g class="group" data-group="…">`.
pub fn table(table: &super::Table) -> String {
    let row_height = FONT + 10.0;
    let pad = 14.0;
    let name_width = table
        .rows
        .iter()
        .map(|r| text_width(&table.row_label(r)))
        .chain([text_width(&table.row_header)])
        .fold(0.0, f64::max)
        + pad;
    // Column widths: the widest of header and cells; a group is at least as wide as its caption.
    let mut widths: Vec<Vec<f64>> = Vec::new();
    for (g, group) in table.groups.iter().enumerate() {
        let mut columns: Vec<f64> = (0..group.columns.len())
            .map(|c| {
                table
                    .rows
                    .iter()
                    .map(|r| text_width(&table.cell(r, g, c)))
                    .chain([text_width(&group.columns[c])])
                    .fold(0.0, f64::max)
                    + pad
            })
            .collect();
        let total: f64 = columns.iter().sum();
        let caption = text_width(&group.caption) + pad;
        if total < caption && !columns.is_empty() {
            let extra = (caption - total) / columns.len() as f64;
            columns.iter_mut().for_each(|w| *w += extra);
        }
        widths.push(columns);
    }
    let margin = 16.0;
    let table_width: f64 = name_width + widths.iter().flatten().sum::<f64>();
    let footer: Vec<String> = table
        .warnings
        .iter()
        .enumerate()
        .map(|(i, w)| format!("[{}] {w}", i + 1))
        .chain(table.notes.iter().cloned())
        .collect();
    let width =
        2.0 * margin + table_width.max(footer.iter().map(|f| text_width(f)).fold(0.0, f64::max));
    let body_rows = table.rows.len() as f64 + 3.0;
    let height = 2.0 * margin + row_height * (body_rows + footer.len() as f64 + 0.5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="{FONT}">
<rect width="100%" height="100%" fill="white"/>
<text class="caption" x="{margin}" y="{cy}" font-weight="bold">{caption}</text>"#,
        cy = margin + FONT,
        caption = escape(&table.caption),
    );
    let line_y = |line: f64| margin + row_height * (line + 1.0) + FONT;
    let _ = writeln!(
        out,
        r#"<text x="{margin}" y="{:.1}" font-style="italic">{}</text>"#,
        line_y(1.0),
        escape(&table.row_header)
    );
    for (r, row) in table.rows.iter().enumerate() {
        let y = line_y(2.0 + r as f64);
        if r % 2 == 0 {
            let _ = writeln!(
                out,
                r##"<rect x="{margin}" y="{:.1}" width="{table_width:.1}" height="{row_height}" fill="#f2f2f2"/>"##,
                y - FONT - 4.0
            );
        }
        let _ = writeln!(
            out,
            r#"<text class="row-name" x="{margin}" y="{y:.1}">{}</text>"#,
            escape(&table.row_label(row))
        );
    }
    let mut x = margin + name_width;
    for (g, group) in table.groups.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<g class="group" data-group="{caption}">
<text x="{x:.1}" y="{:.1}" font-weight="bold">{caption}</text>
<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/>"##,
            line_y(0.0),
            x - pad / 2.0,
            line_y(0.0) - FONT - 4.0,
            x - pad / 2.0,
            line_y(1.0 + table.rows.len() as f64) + 6.0,
            caption = escape(&group.caption),
        );
        for (c, column) in group.columns.iter().enumerate() {
            let _ = writeln!(
                out,
                r#"<text x="{x:.1}" y="{:.1}" font-style="italic">{}</text>"#,
                line_y(1.0),
                escape(column)
            );
            for (r, row) in table.rows.iter().enumerate() {
                let _ = writeln!(
                    out,
                    r#"<text x="{x:.1}" y="{:.1}">{}</text>"#,
                    line_y(2.0 + r as f64),
                    escape(&table.cell(row, g, c))
                );
            }
            x += widths.get(g).and_then(|w| w.get(c)).copied().unwrap_or(0.0);
        }
        out.push_str("</g>\n");
    }
    for (i, line) in footer.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text class="note" x="{margin}" y="{:.1}" font-size="{}">{}</text>"#,
            line_y(body_rows + i as f64),
            FONT - 1.0,
            escape(line)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_round_values_inside_the_range() {
        let unit = ticks(0.0, 1.0, 5);
        assert_eq!(unit.len(), 6, "{unit:?}");
        for (k, v) in unit.iter().enumerate() {
            assert!((v - 0.2 * k as f64).abs() < 1e-12, "{unit:?}");
        }
        assert_eq!(ticks(-3.0, 17.0, 4), vec![0.0, 5.0, 10.0, 15.0]);
        assert!(ticks(1.0, 1.0, 5).is_empty());
        assert!(ticks(f64::NAN, 1.0, 5).is_empty());
    }

    fn figure(series: Vec<Series>) -> Figure {
        let axis = |label: &str| super::super::Axis::linear(label, [0.0, 1.0]);
        Figure {
            title: "t & <title>".into(),
            x: axis("x"),
            y: axis("y"),
            series,
            legend: LegendPlace::LeftBottom,
        }
    }

    #[test]
    fn a_gap_splits_a_line_and_unlabelled_lines_are_named_in_the_legend() {
        let series = vec![
            Series {
                name: "curve".into(),
                color: [1, 2, 3],
                shape: Shape::Line {
                    points: vec![[0.0, 0.0], [0.5, f64::NAN], [0.6, 0.5], [1.0, 1.0]],
                    dashed: false,
                },
            },
            Series {
                name: "shown".into(),
                color: [0, 0, 0],
                shape: Shape::VLine {
                    x: 0.5,
                    labelled: true,
                },
            },
            Series {
                name: "hidden".into(),
                color: [0, 0, 0],
                shape: Shape::VLine {
                    x: 0.7,
                    labelled: false,
                },
            },
        ];
        let out = document(&[(&figure(series), 300.0)], 400.0, None);
        assert_eq!(out.matches("<polyline").count(), 2, "{out}");
        assert!(out.contains(">shown</text>"));
        // An unlabelled line is named in the legend only, a labelled one on the line only.
        let (plot, legend) = out.split_once(r#"<g class="legend">"#).unwrap();
        assert!(!plot.contains(">hidden</text>"));
        assert!(legend.contains(">hidden</text>"));
        assert!(!legend.contains(">shown</text>"));
        assert!(out.contains("t &amp; &lt;title&gt;"));
        assert!(out.contains("#010203"));
    }

    #[test]
    fn log_ticks_mark_decades_or_their_round_multiples() {
        assert_eq!(log_ticks(2.0, 4096.0), vec![10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(0.01, 1.0), vec![0.01, 0.1, 1.0]);
        // Under two decades inside: 2× and 5× multiples join in.
        assert_eq!(log_ticks(3.0, 60.0), vec![5.0, 10.0, 20.0, 50.0]);
        assert!(log_ticks(0.0, 10.0).is_empty());
        let labels: Vec<String> = [0.01, 0.1, 10.0, 1000.0, 200.0]
            .map(log_tick_label)
            .to_vec();
        assert_eq!(labels, ["0.01", "0.1", "10", "1000", "200"]);
        assert_eq!(log_tick_label(10f64.powi(-3)), "0.001");
    }

    #[test]
    fn bands_segments_and_labels_are_drawn_where_their_data_say() {
        let series = vec![
            Series {
                name: "lower".into(),
                color: [10, 20, 30],
                shape: Shape::Band {
                    x: vec![0.0, 0.5, 1.0],
                    lower: vec![0.0, 0.0, 0.0],
                    upper: vec![0.5, f64::NAN, 0.5],
                },
            },
            Series {
                name: "tree".into(),
                color: [0, 0, 0],
                shape: Shape::Segments {
                    segments: vec![[[0.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 1.0]]],
                },
            },
            Series {
                name: "names".into(),
                color: [0, 0, 0],
                shape: Shape::Labels {
                    labels: vec![super::super::Label {
                        at: [0.5, 0.5],
                        text: "a < b".into(),
                    }],
                },
            },
        ];
        let out = document(&[(&figure(series), 300.0)], 400.0, None);
        // The NaN splits the band into two runs of one point: nothing to fill.
        assert_eq!(out.matches(r#"class="band""#).count(), 0, "{out}");
        assert_eq!(out.matches(r#"class="segment""#).count(), 2);
        assert!(out.contains(">a &lt; b</text>"));
        // Plot area: x from 70 to 380, y from 30 to 254 (300 − 46); the label sits 4 above its point.
        assert!(
            out.contains(r#"class="label" x="225.00" y="138.00""#),
            "{out}"
        );
        let whole = Series {
            name: "whole".into(),
            color: [1, 1, 1],
            shape: Shape::Band {
                x: vec![0.0, 1.0],
                lower: vec![0.0, 0.0],
                upper: vec![1.0, 1.0],
            },
        };
        let out = document(&[(&figure(vec![whole]), 300.0)], 400.0, None);
        assert!(
            out.contains(r#"d="M70.00,30.00 L380.00,30.00 L380.00,254.00 L70.00,254.00 Z""#),
            "{out}"
        );
    }

    /// The caption line goes under the plots, escaped, wrapped to the width, and the page grows by it.
    #[test]
    fn a_caption_line_is_wrapped_under_the_plots() {
        let caption = "Two Gaussians <test> — Gaussian mixture of 2 classes, d = 64 · sde sampler, 400 \
                       steps, t from 8 to 0.001 · 2000 trajectories · seed 7";
        let out = document(&[(&figure(Vec::new()), 300.0)], 400.0, Some(caption));
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| l.contains(r#"class="caption""#))
            .collect();
        assert!(lines.len() >= 2, "{out}");
        assert!(lines[0].contains("Two Gaussians &lt;test&gt;"), "{out}");
        assert!(lines.last().unwrap().contains("7</text>"), "{out}");
        let height = 300.0 + lines.len() as f64 * CAPTION_LINE + 12.0;
        assert!(out.contains(&format!(r#"height="{height}""#)), "{out}");
        assert!(!document(&[(&figure(Vec::new()), 300.0)], 400.0, None).contains("caption"));
    }

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(
            escape(r#"a<b & "c">'d'"#),
            "a&lt;b &amp; &quot;c&quot;&gt;&apos;d&apos;"
        );
    }
}
