//! The metric table view: draws the `analysis::view_data::metric_table` model (three column groups
//! that are never mixed) in grids that fit the panel, with its warnings and notes, and offers to
//! measure the DiT and Euler-Stack.

use super::command::Command;
use crate::analysis::view_data::metric_table::{MEASURED, NOT_APPLICABLE, REFERENCES, REPORTED};
use crate::figure::{Row as TableRow, Table, group_letter};
use egui::{RichText, Ui};

/// Draws `table` in a scroll area (both directions: the reference group is wide).
/// The measure button shows until the models are measured or being measured.
pub fn ui(ui: &mut Ui, table: &Table, show_measure_button: bool, commands: &mut Vec<Command>) {
    // The caption names the time step the current column measures.
    ui.label(RichText::new(&table.caption).strong());
    ui.horizontal_wrapped(|ui| {
        ui.label(
            "Three column groups from different data and definitions. Ratios are never taken across \
             groups; the paper's own ratio stays in its group.",
        );
        if show_measure_button && ui.button("Measure DiT and Euler-Stack (≈ 5 s)").clicked() {
            commands.push(Command::MeasureModels);
        }
    });
    // egui's grid has no column spans: groups are captioned above their grids and lettered in their
    // headers. Each group is cut into grids as wide as the view, every one with the metric names, so
    // the names never scroll away and nothing needs a sideways scroll. The measured group leads (the
    // current cloud first); the paper's numbers follow in a block that folds away.
    // Both directions: a grid that still overflows must not widen the side panel.
    egui::ScrollArea::both().show(ui, |ui| {
        // egui's grid adds padding the text measure does not see.
        let width = ui.available_width() - 24.0;
        group_grids(ui, table, MEASURED, width);
        ui.add_space(8.0);
        let reported = table
            .groups
            .get(REPORTED)
            .map_or("", |g| g.caption.as_str());
        egui::CollapsingHeader::new(
            RichText::new(format!("[{}] {reported}", group_letter(REPORTED))).strong(),
        )
        .id_salt("reported group")
        .default_open(true)
        .show(ui, |ui| group_grids(ui, table, REPORTED, width));
        ui.add_space(8.0);
        group_grids(ui, table, REFERENCES, width);
        ui.add_space(6.0);
        for (index, warning) in table.warnings.iter().enumerate() {
            ui.small(format!("[{}] {warning}", index + 1));
        }
        for note in &table.notes {
            ui.small(note);
        }
    });
}

/// The columns of group `g` in as many grids as it takes to fit `width` (at least one column each).
/// The reported group's caption is its collapsing header's; the others are captioned here.
fn group_grids(ui: &mut Ui, table: &Table, g: usize, width: f32) {
    let columns = table.groups.get(g).map_or(0, |group| group.columns.len());
    let mut start = 0;
    while start < columns {
        let mut end = start + 1;
        while end < columns && grid_width(ui, table, &[(g, start..end + 1)]) <= width {
            end += 1;
        }
        grid(
            ui,
            table,
            &format!("metric table {g} {start}"),
            &[(g, start..end)],
            g != REPORTED,
        );
        ui.add_space(6.0);
        start = end;
    }
}

/// Horizontal space between grid columns.
const COLUMN_SPACING: f32 = 14.0;

/// The width `grid` needs for `parts`: the widest text of each column plus the spacing.
fn grid_width(ui: &Ui, table: &Table, parts: &[(usize, std::ops::Range<usize>)]) -> f32 {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let text_width = |text: String| {
        ui.painter()
            .layout_no_wrap(text, font.clone(), egui::Color32::WHITE)
            .size()
            .x
    };
    let lettered = parts.len() > 1;
    let names = std::iter::once(table.row_header.clone())
        .chain(table.rows.iter().map(|row| table.row_label(row)));
    let mut width = names.map(text_width).fold(0.0, f32::max);
    for (g, columns) in parts {
        for c in columns.clone() {
            let header = header_text(table, *g, c, lettered);
            let cells = table.rows.iter().map(|row| table.cell(row, *g, c));
            width += COLUMN_SPACING
                + std::iter::once(header)
                    .chain(cells)
                    .map(text_width)
                    .fold(0.0, f32::max);
        }
    }
    width
}

/// A column's header, with its group's letter where a grid mixes groups.
fn header_text(table: &Table, g: usize, c: usize, lettered: bool) -> String {
    let column = table.groups[g].columns.get(c).cloned().unwrap_or_default();
    if lettered {
        format!("[{}] {column}", group_letter(g))
    } else {
        column
    }
}

/// One grid: the row names and the given columns of each group, under the groups' captions (the first
/// grid of a group only). Headers carry the group's letter where a grid mixes groups.
fn grid(
    ui: &mut Ui,
    table: &Table,
    id: &str,
    parts: &[(usize, std::ops::Range<usize>)],
    captioned: bool,
) {
    for (g, columns) in parts.iter().filter(|_| captioned) {
        if columns.start == 0 {
            let caption = &table.groups[*g].caption;
            ui.label(RichText::new(format!("[{}] {caption}", group_letter(*g))).strong());
        }
    }
    ui.add_space(4.0);
    let lettered = parts.len() > 1;
    egui::Grid::new(id)
        .striped(true)
        .spacing([COLUMN_SPACING, 4.0])
        .show(ui, |ui| {
            ui.label(RichText::new(&table.row_header).italics());
            for (g, columns) in parts {
                for c in columns.clone() {
                    ui.label(RichText::new(header_text(table, *g, c, lettered)).italics());
                }
            }
            ui.end_row();
            // A row with nothing to say here (the task row among reference clouds) is left out.
            let applies = |row: &TableRow| {
                parts.iter().any(|(g, columns)| {
                    columns
                        .clone()
                        .any(|c| table.cell(row, *g, c) != NOT_APPLICABLE)
                })
            };
            for row in table.rows.iter().filter(|row| applies(row)) {
                ui.label(table.row_label(row));
                for (g, columns) in parts {
                    for c in columns.clone() {
                        let text = RichText::new(table.cell(row, *g, c));
                        ui.label(if *g == MEASURED { text.strong() } else { text });
                    }
                }
                ui.end_row();
            }
        });
}
