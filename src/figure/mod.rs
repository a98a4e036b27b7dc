//! UI-free figure and table models: what a plot or a table shows (series, axes, column groups,
//! captions, warnings), written to SVG, CSV, JSON and Markdown. The app draws the same models on screen,
//! so an export shows what the screen shows. Knows no egui, no reports: the views build these.

pub mod svg;
pub mod text;

use crate::io::{IoError, atomic};
use serde::Serialize;
use std::path::Path;

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// How an axis maps values to positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    #[default]
    Linear,
    /// Position ∝ log10(value); ticks at decades (and 2, 5 when fewer than two decades show). Only
    /// positive values are drawn; the data keep their own values (not their logarithms).
    Log,
    /// Linear positions that carry no value (e.g. the leaf order of a dendrogram): no ticks, no numbers.
    Unmarked,
}

/// One axis: its label, the range shown and its scale.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Axis {
    pub label: String,
    /// `[lo, hi]` with lo < hi (and lo > 0 on a log axis).
    pub range: [f64; 2],
    pub scale: Scale,
}

impl Axis {
    pub fn linear(label: impl Into<String>, range: [f64; 2]) -> Self {
        Axis {
            label: label.into(),
            range,
            scale: Scale::Linear,
        }
    }

    pub fn log(label: impl Into<String>, range: [f64; 2]) -> Self {
        Axis {
            label: label.into(),
            range,
            scale: Scale::Log,
        }
    }

    pub fn unmarked(label: impl Into<String>, range: [f64; 2]) -> Self {
        Axis {
            label: label.into(),
            range,
            scale: Scale::Unmarked,
        }
    }
}

impl Scale {
    /// The value in the axis's linear drawing coordinate: itself, or log10 (NaN for v ≤ 0).
    pub fn forward(self, v: f64) -> f64 {
        match self {
            Scale::Linear | Scale::Unmarked => v,
            Scale::Log if v > 0.0 => v.log10(),
            Scale::Log => f64::NAN,
        }
    }

    /// The value at drawing coordinate `u` (inverse of [`Scale::forward`]).
    pub fn inverse(self, u: f64) -> f64 {
        match self {
            Scale::Linear | Scale::Unmarked => u,
            Scale::Log => 10f64.powf(u),
        }
    }
}

/// Where a figure's legend sits inside its plot area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegendPlace {
    #[default]
    LeftBottom,
    LeftTop,
    RightTop,
    RightBottom,
}

/// A text placed at data coordinates: centred on `at[0]`, its baseline just above `at[1]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Label {
    pub at: [f64; 2],
    pub text: String,
}

/// A marker shape for points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Marker {
    Circle,
    Diamond,
}

/// What one series draws.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// A polyline through `points` (`[x, y]`), dashed or solid.
    Line { points: Vec<[f64; 2]>, dashed: bool },
    /// Markers at `points`, with symmetric vertical error bars `± errors[i]` when given (same length).
    Points {
        points: Vec<[f64; 2]>,
        errors: Option<Vec<f64>>,
        marker: Marker,
    },
    /// A vertical line at `x`; its name is written beside it when `labelled`.
    VLine { x: f64, labelled: bool },
    /// A horizontal line at `y`, dashed.
    HLine { y: f64 },
    /// A histogram: bin `i` spans `[edges[i], edges[i + 1]]` with height `counts[i]`.
    Bars { edges: Vec<f64>, counts: Vec<f64> },
    /// Separate straight segments `[[x0, y0], [x1, y1]]` (e.g. the arms of a dendrogram).
    Segments { segments: Vec<[[f64; 2]; 2]> },
    /// Texts at data coordinates, in the series' colour (e.g. dendrogram leaves, law names).
    Labels { labels: Vec<Label> },
    /// A filled band between `lower[i]` and `upper[i]` at `x[i]` (same lengths); a stacked area plot
    /// is one band per layer, each starting where the one below ends.
    Band {
        x: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
    },
}

impl Shape {
    /// Whether the series is named in the legend: lines, points, bars, bands and unlabelled vertical
    /// lines are; labelled vertical lines, horizontal lines and labels carry their text in place,
    /// segments are a drawing (a dendrogram).
    pub fn in_legend(&self) -> bool {
        match self {
            Shape::Line { .. } | Shape::Points { .. } | Shape::Bars { .. } | Shape::Band { .. } => {
                true
            }
            Shape::VLine { labelled, .. } => !labelled,
            Shape::HLine { .. } | Shape::Segments { .. } | Shape::Labels { .. } => false,
        }
    }
}

/// One named series in one colour.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Series {
    pub name: String,
    pub color: Rgb,
    /// In JSON its fields sit beside the name: `{"name", "color", "kind", "points", …}`.
    #[serde(flatten)]
    pub shape: Shape,
}

/// One plot panel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub legend: LegendPlace,
}

/// How a legend entry shows its series: a short line (dashed like the series) or a filled box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swatch {
    Line { dashed: bool },
    Box,
}

/// One legend row: a distinct series name, its colour and swatch.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendEntry<'a> {
    pub name: &'a str,
    pub color: Rgb,
    pub swatch: Swatch,
}

impl Figure {
    /// The legend's rows, in series order: one per distinct name among the shapes that belong in a
    /// legend ([`Shape::in_legend`]). The SVG writer and the app draw the same rows.
    pub fn legend_entries(&self) -> Vec<LegendEntry<'_>> {
        let mut entries: Vec<LegendEntry<'_>> = Vec::new();
        for s in &self.series {
            if s.shape.in_legend() && !entries.iter().any(|e| e.name == s.name) {
                let swatch = match &s.shape {
                    Shape::Line { dashed, .. } => Swatch::Line { dashed: *dashed },
                    _ => Swatch::Box,
                };
                entries.push(LegendEntry {
                    name: &s.name,
                    color: s.color,
                    swatch,
                });
            }
        }
        entries
    }
}

/// A group of columns from one source of numbers (never combined with another group).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnGroup {
    pub caption: String,
    pub columns: Vec<String>,
}

/// A table row: its name, the index of its warning (into [`Table::warnings`]) and one cell per column
/// of each group, `cells[group][column]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub name: String,
    pub warning: Option<usize>,
    pub cells: Vec<Vec<String>>,
}

/// A table of text cells in captioned column groups, with numbered warnings and plain notes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    pub caption: String,
    /// The header of the row-name column.
    pub row_header: String,
    pub groups: Vec<ColumnGroup>,
    pub rows: Vec<Row>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

impl Table {
    /// The cell of `row` in column `column` of group `group`, or "" when the row has none.
    pub fn cell(&self, row: &Row, group: usize, column: usize) -> String {
        row.cells
            .get(group)
            .and_then(|cells| cells.get(column))
            .cloned()
            .unwrap_or_default()
    }

    /// The row name with its warning mark, e.g. "Flatness F_spec [2]".
    pub fn row_label(&self, row: &Row) -> String {
        match row.warning {
            Some(w) => format!("{} [{}]", row.name, w + 1),
            None => row.name.clone(),
        }
    }
}

/// The letter that names column group `g` in headers and captions ("A", "B", …).
pub fn group_letter(g: usize) -> char {
    char::from(b'A' + (g % 26) as u8)
}

/// Writes `text` to `path` atomically (a failed write leaves the previous file).
pub fn write_text(path: &Path, text: &str) -> Result<(), IoError> {
    atomic::write_bytes_atomic(path, text.as_bytes())
}
