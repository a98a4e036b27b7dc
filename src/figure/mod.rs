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

/// One axis: its label and the range shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Axis {
    pub label: String,
    /// `[lo, hi]` with lo < hi.
    pub range: [f64; 2],
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
