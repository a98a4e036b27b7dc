//! The token view of a discrete scene (`docs/science/discrete.md` §4): the shown sequences as rows of
//! coloured cells at the scrubbed step (one colour per symbol, masked cells grey), their token
//! commitment times as a heat map on the same rows, and for the selected sequence its per-token
//! marginals over time and its class posterior. It paints an `analysis::view_data::token_view`
//! result and returns what the user asked for as [`TokenViewCommand`]s; it computes nothing itself.

use super::figure_plot::{color, rgb, show};
use super::manifold::colour_bar;
use crate::analysis::view_data::token_view::TokenViewData;
use crate::figure::{Axis, Figure, LegendPlace, Series, Shape};
use crate::model::discrete::MASK;
use crate::render::colormap::{Colormap, ColormapSpan, class_rgb8};
use egui::{Color32, Rect, Response, Sense, Stroke, Ui, Vec2, pos2, vec2};
use std::sync::Arc;

/// Symbol colours: Okabe–Ito without its yellow and grey (yellow fades on white, grey is the mask).
const SYMBOL_COLORS: [[u8; 3]; 6] = [
    [0, 114, 178],
    [213, 94, 0],
    [0, 158, 115],
    [204, 121, 167],
    [230, 159, 0],
    [86, 180, 233],
];

/// Accessible names of the two row grids (tests click them).
pub const TOKENS_LABEL: &str = "token rows at this step";
pub const COMMITMENT_LABEL: &str = "token commitment heat map";

/// Which sequence is selected and which stored step is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenViewState {
    pub selected: usize,
    pub step: usize,
}

/// What the user asked for this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenViewCommand {
    Select(usize),
    Step(usize),
}

impl TokenViewState {
    pub fn apply(&mut self, command: TokenViewCommand) {
        match command {
            TokenViewCommand::Select(row) => self.selected = row,
            TokenViewCommand::Step(step) => self.step = step,
        }
    }
}

/// The colour of symbol `v`.
pub fn symbol_color(v: u8) -> Color32 {
    color(SYMBOL_COLORS[usize::from(v) % SYMBOL_COLORS.len()])
}

/// The grey of a masked (or undecided) cell: visible on the theme's background, apart from every
/// symbol colour.
pub fn mask_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_gray(88)
    } else {
        Color32::from_gray(205)
    }
}

/// Draws the view of `data` as `state` says and returns the user's commands.
pub fn ui(ui: &mut Ui, data: &TokenViewData, state: &TokenViewState) -> Vec<TokenViewCommand> {
    let mut commands = Vec::new();
    let steps = data.steps();
    if data.rows == 0 || steps == 0 || data.length == 0 {
        ui.label("This token run holds no sequence to show.");
        return commands;
    }
    let (step, selected) = (state.step.min(steps - 1), state.selected.min(data.rows - 1));
    let dark = ui.visuals().dark_mode;
    ui.label(format!(
        "{} sequences of L = {} under {} noise, the first {} shown · step {} of {} (t = {:.3})",
        data.total,
        data.length,
        data.noise,
        data.rows,
        step + 1,
        steps,
        data.times[step]
    ));
    ui.horizontal_wrapped(|ui| {
        let mut scrubbed = step;
        let slider = egui::Slider::new(&mut scrubbed, 0..=steps - 1)
            .text("step")
            .show_value(false);
        if ui.add(slider).changed() {
            commands.push(TokenViewCommand::Step(scrubbed));
        }
        ui.add_space(12.0);
        for (v, name) in data.symbols.iter().enumerate() {
            swatch(ui, symbol_color(v as u8), name);
        }
        swatch(ui, mask_color(dark), "masked");
    });
    let gap = 16.0;
    // Two columns, the gap and the item spacing on either side of it.
    let spacing = 2.0 * ui.spacing().item_spacing.x;
    let half = ((ui.available_width() - gap - spacing) / 2.0).max(40.0);
    // The rows take a fixed share and every label's height is measured, not assumed: in large type
    // (Present mode) labels wrap, and the sequence's plots below must keep the rest of the height.
    let top_height = (ui.available_height() * TOP_SHARE).max(60.0);
    let row_height = ui.text_style_height(&egui::TextStyle::Body);
    let item_gap = ui.spacing().item_spacing.y;
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            let used = measured(ui, |ui| {
                ui.label(format!("Tokens at t = {:.3}", data.times[step]));
            });
            let response = grid(
                ui,
                vec2(half, (top_height - used - item_gap).max(MIN_GRID_HEIGHT)),
                data.rows,
                data.length,
                |r, c| match data.token(r, step, c) {
                    MASK => mask_color(dark),
                    v => symbol_color(v),
                },
                selected,
                TOKENS_LABEL,
            );
            commands.extend(clicked_row(&response, data.rows).map(TokenViewCommand::Select));
            cell_tooltip(&response, data, step);
        });
        ui.add_space(gap);
        ui.vertical(|ui| {
            let used = measured(ui, |ui| {
                // Short enough for one line over a narrow column (Present mode).
                ui.label("Commitment times").on_hover_text(
                    "The last time each token changes, coloured by stored step: under mask \
                     noise its reveal time",
                );
            });
            let span = ColormapSpan::on_background(dark);
            let last = (steps - 1).max(1) as f32;
            // Below the grid: the colour bar and its row of times.
            let below = COLOUR_BAR_HEIGHT + row_height + 3.0 * item_gap;
            let response = grid(
                ui,
                vec2(half, (top_height - used - below).max(MIN_GRID_HEIGHT)),
                data.rows,
                data.length,
                |r, c| {
                    let [red, green, blue] =
                        Colormap::Viridis.rgb8(span.at(data.commitment(r, c) as f32 / last));
                    Color32::from_rgb(red, green, blue)
                },
                selected,
                COMMITMENT_LABEL,
            );
            commands.extend(clicked_row(&response, data.rows).map(TokenViewCommand::Select));
            cell_tooltip(&response, data, step);
            let (bar, _) = ui.allocate_exact_size(vec2(half, COLOUR_BAR_HEIGHT), Sense::hover());
            colour_bar(ui.painter(), bar, Colormap::Viridis, span);
            let (labels, _) = ui.allocate_exact_size(vec2(half, row_height), Sense::hover());
            let (font, text) = (
                egui::TextStyle::Body.resolve(ui.style()),
                ui.visuals().text_color(),
            );
            let middle = (steps - 1) / 2;
            let label = |step: usize, prefix: &str| {
                ui.painter().layout_no_wrap(
                    format!("{prefix}{:.2}", data.times[step]),
                    font.clone(),
                    text,
                )
            };
            let ends_with = |prefix: &str| {
                [
                    (egui::Align2::LEFT_TOP, labels.left_top(), label(0, prefix)),
                    (
                        egui::Align2::RIGHT_TOP,
                        labels.right_top(),
                        label(steps - 1, prefix),
                    ),
                ]
            };
            let width = |ends: &[(egui::Align2, egui::Pos2, Arc<egui::Galley>); 2]| {
                ends.iter().map(|(_, _, g)| g.size().x).sum::<f32>()
            };
            // In a column too narrow for "t = …" at both ends (large type), the times alone.
            let mut ends = ends_with("t = ");
            if width(&ends) + 16.0 > half {
                ends = ends_with("");
            }
            let centre = label(middle, "t = ");
            // The middle time only where the three labels fit side by side (large type, narrow columns).
            let room = width(&ends) + centre.size().x;
            let shown = if room + 16.0 <= half {
                vec![(egui::Align2::CENTER_TOP, labels.center_top(), centre)]
            } else {
                Vec::new()
            };
            for (anchor, pos, galley) in ends.into_iter().chain(shown) {
                let at = anchor.anchor_size(pos, galley.size()).min;
                ui.painter().galley(at, galley, text);
            }
        });
    });
    ui.separator();
    ui.label(format!(
        "Sequence {} over time (t = {:.2} at the top, {:.2} at the bottom)",
        selected + 1,
        data.times[0],
        data.times[steps - 1]
    ))
    .on_hover_text(
        "Left: the most likely symbol of each token (colour; grey = undecided), the line at the \
         shown step. Right: the class posterior.",
    );
    let bottom = (ui.available_height() - 4.0).max(60.0);
    // In a narrow column (Present mode) the class posterior needs more than half for its axes and
    // legend; the marginals stay readable in less.
    let (marginals_width, posterior_width) = if half < NARROW_HALF {
        let both = 2.0 * half;
        (both * 0.4, both * 0.6)
    } else {
        (half, half)
    };
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(vec2(marginals_width, bottom), Sense::hover());
        let v = data.vocab();
        paint_cells(ui, rect, steps, data.length, |j, c| {
            marginal_color(data.marginal(selected, j, c), v, dark)
        });
        let y = rect.top() + rect.height() * (step as f32 + 0.5) / steps as f32;
        ui.painter().hline(
            rect.x_range(),
            y,
            Stroke::new(2.0, ui.visuals().strong_text_color()),
        );
        ui.add_space(gap);
        ui.vertical(|ui| {
            // The last decade's label is centred on the plot's right edge: keep room for its half
            // inside the view, which clips.
            ui.set_width(posterior_width - row_height);
            let figure = posterior_figure(data, selected, step);
            show(ui, &figure, "token class posterior", bottom, |p| p, |_| {});
        });
    });
    commands
}

/// Below this width of a column the bottom row gives the class posterior 60 % of the width.
const NARROW_HALF: f32 = 320.0;

/// Share of the view's height (below its header) that the token and commitment rows take.
const TOP_SHARE: f32 = 0.42;
/// The rows never shrink below this height.
const MIN_GRID_HEIGHT: f32 = 30.0;
const COLOUR_BAR_HEIGHT: f32 = 10.0;

/// The height `add` took in `ui`.
fn measured(ui: &mut Ui, add: impl FnOnce(&mut Ui)) -> f32 {
    let top = ui.cursor().top();
    add(ui);
    ui.cursor().top() - top
}

/// A colour square and its name, for the symbol legend.
fn swatch(ui: &mut Ui, fill: Color32, name: &str) {
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(12.0), Sense::hover());
    ui.painter().rect_filled(rect, 2.0, fill);
    ui.label(name);
}

/// Paints `rows × cols` cells into `rect` with `fill(row, col)`, one point of gap between cells when
/// they are large enough to spare it.
fn paint_cells(
    ui: &Ui,
    rect: Rect,
    rows: usize,
    cols: usize,
    fill: impl Fn(usize, usize) -> Color32,
) {
    let (w, h) = (rect.width() / cols as f32, rect.height() / rows as f32);
    let inset = |size: f32| if size >= 5.0 { 0.5 } else { 0.0 };
    let (ix, iy) = (inset(w), inset(h));
    let painter = ui.painter_at(rect);
    for r in 0..rows {
        for c in 0..cols {
            let min = pos2(
                rect.left() + c as f32 * w + ix,
                rect.top() + r as f32 * h + iy,
            );
            let cell = Rect::from_min_max(min, pos2(min.x + w - 2.0 * ix, min.y + h - 2.0 * iy));
            painter.rect_filled(cell, 0.0, fill(r, c));
        }
    }
}

/// A clickable grid of one row per sequence, the selected row outlined; `label` names it for
/// assistive technology (and tests).
fn grid(
    ui: &mut Ui,
    size: Vec2,
    rows: usize,
    cols: usize,
    fill: impl Fn(usize, usize) -> Color32,
    selected: usize,
    label: &str,
) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click());
    paint_cells(ui, rect, rows, cols, fill);
    let h = rect.height() / rows as f32;
    let row = Rect::from_min_size(
        pos2(rect.left(), rect.top() + selected as f32 * h),
        vec2(rect.width(), h),
    );
    ui.painter().rect_stroke(
        row.expand(1.0),
        0.0,
        Stroke::new(2.0, ui.visuals().strong_text_color()),
        egui::StrokeKind::Outside,
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Grid, true, label));
    response
}

/// The grid cell (row, column) under `pos` in a grid of `rows × cols` cells filling `rect`.
fn cell_at(rect: Rect, pos: egui::Pos2, rows: usize, cols: usize) -> (usize, usize) {
    let fraction = |v: f32, lo: f32, size: f32| ((v - lo) / size).clamp(0.0, 1.0);
    let row = (fraction(pos.y, rect.top(), rect.height()) * rows as f32) as usize;
    let col = (fraction(pos.x, rect.left(), rect.width()) * cols as f32) as usize;
    (row.min(rows - 1), col.min(cols - 1))
}

/// Under the pointer: which sequence and site, its token at the shown step and when it commits.
fn cell_tooltip(response: &Response, data: &TokenViewData, step: usize) {
    let Some(pos) = response.hover_pos() else {
        return;
    };
    let (row, site) = cell_at(response.rect, pos, data.rows, data.length);
    let token = match data.token(row, step, site) {
        MASK => "masked".to_string(),
        v => data
            .symbols
            .get(usize::from(v))
            .cloned()
            .unwrap_or_else(|| v.to_string()),
    };
    let commit = data.commitment(row, site);
    response.clone().on_hover_text_at_pointer(format!(
        "sequence {}, site {}: {token} at t = {:.3}; commits at t = {:.3} (step {})",
        row + 1,
        site + 1,
        data.times[step],
        data.times[commit],
        commit + 1
    ));
}

/// The row under a click on a grid of `rows` rows.
fn clicked_row(response: &Response, rows: usize) -> Option<usize> {
    let pos = response
        .interact_pointer_pos()
        .filter(|_| response.clicked())?;
    Some(cell_at(response.rect, pos, rows, 1).0)
}

/// A marginal `[V]` as a colour: its most likely symbol's, mixed with the undecided grey by how far
/// its probability is above the uniform 1/V.
fn marginal_color(marginal: &[f32], vocab: usize, dark: bool) -> Color32 {
    let (best, p) = marginal
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
    let uniform = 1.0 / vocab.max(1) as f32;
    let strength = ((p - uniform) / (1.0 - uniform).max(1e-6)).clamp(0.0, 1.0);
    mask_color(dark).lerp_to_gamma(symbol_color(best as u8), strength)
}

/// The class posterior p(k | x_t) of sequence `row` against OU time (log axis, so t = 0 is left
/// out), with the shown step's time marked.
pub fn posterior_figure(data: &TokenViewData, row: usize, step: usize) -> Figure {
    let positive: Vec<f64> = data.times.iter().copied().filter(|&t| t > 0.0).collect();
    let range = match (positive.last(), positive.first()) {
        (Some(&lo), Some(&hi)) if lo < hi => [lo, hi],
        _ => [1e-3, 1.0],
    };
    let mut series: Vec<Series> = data
        .class_labels
        .iter()
        .enumerate()
        // The y axis says p(k | x_t): the legend names the classes only, which keeps it short.
        .map(|(k, label)| Series {
            name: label.clone(),
            color: class_rgb8(k),
            shape: Shape::Line {
                points: data
                    .times
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| **t > 0.0)
                    .map(|(j, &t)| [t, f64::from(data.posterior(row, j)[k])])
                    .collect(),
                dashed: false,
            },
        })
        .collect();
    let t = data.times[step];
    if t > 0.0 {
        series.push(Series {
            name: format!("shown step, t = {t:.3}"),
            color: rgb(Color32::GRAY),
            shape: Shape::VLine {
                x: t,
                labelled: false,
            },
        });
    }
    Figure {
        title: format!("Class posterior of sequence {}", row + 1),
        x: Axis::log("OU time t", range),
        y: Axis::linear("p(k | x_t)", [0.0, 1.02]),
        series,
        legend: LegendPlace::LeftTop,
    }
}
