//! Draws a `figure::Figure` with egui_plot: the one path from the UI-free plot models to the screen,
//! so what a view shows and what its SVG / CSV / JSON exports contain cannot drift. A log axis is drawn
//! in log10 coordinates with ticks at decades. The legend is a row above the plot ([`legend`]), never
//! a box over the data. Knows nothing of what a figure means.

use super::typography::type_scale;
use crate::figure::{Figure, Marker, Rgb, Scale, Shape, Swatch};
use egui::{Align2, Color32, RichText, Sense, Stroke, Ui, Vec2};
use egui_plot::{
    AxisHints, Bar, BarChart, FilledArea, GridInput, GridMark, HLine, Line, LineStyle, MarkerShape,
    Plot, PlotPoint, PlotUi, Points, Text, VLine,
};

pub fn rgb(color: Color32) -> Rgb {
    [color.r(), color.g(), color.b()]
}

pub fn color(rgb: Rgb) -> Color32 {
    Color32::from_rgb(rgb[0], rgb[1], rgb[2])
}

/// Grid marks of a log10 axis: decades (strong) and their 2…9 multiples (faint). When the axis spans
/// fewer than two decades the 2× and 5× marks carry labels ([`log_label`]); egui_plot fades a label by
/// its mark's step size on screen (and drops it below 60 points), so those get the spacing of the
/// labelled marks, 0.3 decade, and read as clearly as the decades.
fn log_grid(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi - lo > 300.0 {
        return Vec::new();
    }
    let few_decades = hi - lo < 2.0;
    let mut marks = Vec::new();
    for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
        let decade = f64::from(k);
        marks.push(GridMark {
            value: decade,
            step_size: 1.0,
        });
        for m in 2..10 {
            let labelled = few_decades && (m == 2 || m == 5);
            marks.push(GridMark {
                value: decade + f64::from(m).log10(),
                step_size: if labelled { 0.3 } else { 0.1 },
            });
        }
    }
    marks.retain(|m| m.value >= lo && m.value <= hi);
    marks
}

/// The label of a log10 grid mark: decades always, 2× and 5× only when the axis spans few decades.
fn log_label(mark: GridMark, range: &std::ops::RangeInclusive<f64>) -> String {
    let value = 10f64.powf(mark.value);
    let decade = (mark.value - mark.value.round()).abs() < 1e-9;
    let few_decades = range.end() - range.start() < 2.0;
    let mantissa = value / 10f64.powf(mark.value.floor());
    let round_multiple = [2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6);
    if decade || (few_decades && round_multiple) {
        crate::figure::svg::log_tick_label(value)
    } else {
        String::new()
    }
}

/// The figure's legend as a wrapped row of swatches and names (the rows of
/// [`Figure::legend_entries`]), to sit above its plot; returns the height it took (0 without entries).
fn legend(ui: &mut Ui, figure: &Figure) -> f32 {
    let entries = figure.legend_entries();
    if entries.is_empty() {
        return 0.0;
    }
    let top = ui.cursor().top();
    ui.horizontal_wrapped(|ui| {
        let height = ui.text_style_height(&egui::TextStyle::Body);
        let swatch = Vec2::new(1.8 * height, height);
        // An entry (swatch and name) is never split over two rows; a name longer than a whole row
        // wraps beside its swatch.
        let name_room = ui.max_rect().width() - swatch.x - ui.spacing().item_spacing.x;
        for (i, entry) in entries.iter().enumerate() {
            let layout = |mode| {
                egui::WidgetText::from(entry.name).into_galley(
                    ui,
                    Some(mode),
                    name_room,
                    egui::TextStyle::Body,
                )
            };
            // A wrapped galley is as wide as its wrap width: wrap only names that need it.
            let mut name = layout(egui::TextWrapMode::Extend);
            if name.size().x > name_room {
                name = layout(egui::TextWrapMode::Wrap);
            }
            let width = swatch.x + ui.spacing().item_spacing.x + name.size().x;
            if i > 0 && width > ui.available_size_before_wrap().x {
                ui.end_row();
            }
            let (rect, _) = ui.allocate_exact_size(swatch, Sense::hover());
            let c = color(entry.color);
            let painter = ui.painter();
            match entry.swatch {
                Swatch::Line { dashed } => {
                    let points = [rect.left_center(), rect.right_center()];
                    let stroke = Stroke::new(if dashed { 1.5 } else { 2.5 }, c);
                    if dashed {
                        painter.extend(egui::Shape::dashed_line(&points, stroke, 5.0, 3.0));
                    } else {
                        painter.line_segment(points, stroke);
                    }
                }
                Swatch::Box => {
                    painter.rect_filled(rect.shrink2(Vec2::new(2.0, 0.25 * height)), 1.0, c);
                }
            }
            ui.add(egui::Label::new(name));
            ui.add_space(0.5 * height);
        }
    });
    ui.cursor().top() - top
}

/// Draws `figure` in `height` points: its [`legend`] row, then the plot (`id` unique in the window,
/// `configure` adds linked axes…) with the figure's series and the caller's `extra` marks. The plot
/// area is labelled with the figure's title for screen readers and UI tests.
pub fn show(
    ui: &mut Ui,
    figure: &Figure,
    id: &str,
    height: f32,
    configure: impl FnOnce(Plot<'_>) -> Plot<'_>,
    extra: impl FnOnce(&mut PlotUi<'_>),
) -> egui::Response {
    let legend_height = legend(ui, figure);
    let response = configure(plot(figure, id))
        .height((height - legend_height).max(MIN_PLOT_HEIGHT * type_scale(ui)))
        .show(ui, |plot_ui| {
            draw(plot_ui, figure);
            extra(plot_ui);
        })
        .response;
    response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Figure, true, figure.title.as_str()));
    response
}

/// Plots keep at least this height in points (at the default type size; its axis labels grow with the
/// type), however little room is left.
const MIN_PLOT_HEIGHT: f32 = 80.0;

/// An egui plot with `figure`'s axis labels, ranges and scales (`id` must be unique in the window).
fn plot<'a>(figure: &'a Figure, id: &str) -> Plot<'a> {
    let (x, y) = (&figure.x, &figure.y);
    // egui_plot fades x tick labels in between 60 and 80 points apart, so a plot ~400 points wide
    // spanning 0–6 had near-invisible labels; numbers this short fit closer (a label that would
    // overlap its neighbour is still skipped).
    let x_axis = AxisHints::new_x()
        .label(x.label.as_str())
        .label_spacing(30.0..=40.0);
    let mut plot = Plot::new(id)
        .custom_x_axes(vec![x_axis])
        .y_axis_label(y.label.as_str())
        .include_x(x.scale.forward(x.range[0]))
        .include_x(x.scale.forward(x.range[1]))
        .include_y(y.scale.forward(y.range[0]))
        .include_y(y.scale.forward(y.range[1]));
    match x.scale {
        Scale::Linear => {}
        Scale::Log => plot = plot.x_grid_spacer(log_grid).x_axis_formatter(log_label),
        Scale::Unmarked => plot = plot.x_axis_formatter(|_, _| String::new()),
    }
    match y.scale {
        Scale::Linear => {}
        Scale::Log => plot = plot.y_grid_spacer(log_grid).y_axis_formatter(log_label),
        Scale::Unmarked => plot = plot.y_axis_formatter(|_, _| String::new()),
    }
    plot
}

/// Draws `figure`'s series with egui_plot (the SVG writer draws the same series).
fn draw(plot: &mut PlotUi, figure: &Figure) {
    let (sx, sy) = (figure.x.scale, figure.y.scale);
    let at = |p: &[f64; 2]| [sx.forward(p[0]), sy.forward(p[1])];
    let [y_lo, y_hi] = figure.y.range.map(|v| sy.forward(v));
    let mut vlines = 0;
    for series in &figure.series {
        let name = series.name.as_str();
        let c = color(series.color);
        match &series.shape {
            Shape::Points {
                points,
                errors,
                marker,
            } => {
                for (p, e) in points.iter().zip(errors.iter().flatten()) {
                    plot.line(
                        Line::new(name, vec![at(&[p[0], p[1] - e]), at(&[p[0], p[1] + e])])
                            .color(c)
                            .width(1.5),
                    );
                }
                let (shape, radius) = match marker {
                    // Lone markers (a highlighted value) are drawn larger than a series of points.
                    Marker::Circle if points.len() <= 2 => (MarkerShape::Circle, 6.0),
                    Marker::Circle => (MarkerShape::Circle, 3.5),
                    Marker::Diamond => (MarkerShape::Diamond, 6.0),
                };
                plot.points(
                    Points::new(name, points.iter().map(at).collect::<Vec<_>>())
                        .color(c)
                        .shape(shape)
                        .filled(true)
                        .radius(radius),
                );
            }
            Shape::Line { points, dashed } => {
                let line = Line::new(name, points.iter().map(at).collect::<Vec<_>>())
                    .color(c)
                    .width(if *dashed { 1.5 } else { 2.5 });
                plot.line(if *dashed {
                    line.style(LineStyle::dashed_loose())
                } else {
                    line
                });
            }
            Shape::HLine { y } => {
                plot.hline(
                    HLine::new(name, sy.forward(*y))
                        .color(c)
                        .style(LineStyle::dashed_loose()),
                );
            }
            Shape::VLine { x, labelled } => {
                let x = sx.forward(*x);
                plot.vline(
                    VLine::new(name, x)
                        .color(c)
                        .width(if *labelled { 1.5 } else { 1.0 }),
                );
                if *labelled {
                    // Labels are staggered vertically: the times are often close together.
                    let y = y_hi - (0.01 + 0.07 * vlines as f64) * (y_hi - y_lo);
                    plot.text(
                        Text::new(name, PlotPoint::new(x, y), RichText::new(name).size(13.0))
                            .color(c)
                            .anchor(Align2::LEFT_TOP),
                    );
                }
                vlines += 1;
            }
            Shape::Bars { edges, counts } => {
                let bars: Vec<Bar> = edges
                    .windows(2)
                    .zip(counts)
                    // Empty bins draw nothing but would stretch a linked axis to their range.
                    .filter(|(_, count)| **count > 0.0)
                    .map(|(edge, &count)| {
                        let (a, b) = (sx.forward(edge[0]), sx.forward(edge[1]));
                        Bar::new(0.5 * (a + b), sy.forward(count)).width(b - a)
                    })
                    .collect();
                plot.bar_chart(BarChart::new(name, bars).color(c));
            }
            Shape::Segments { segments } => {
                // Separate lines (a joined path of a dendrogram would be filled as one shape), unnamed:
                // segments are not in the legend (`Shape::in_legend`).
                for [a, b] in segments {
                    plot.line(Line::new("", vec![at(a), at(b)]).color(c).width(2.5));
                }
            }
            Shape::Labels { labels } => {
                for label in labels {
                    let [x, y] = at(&label.at);
                    // Unnamed: texts placed in the plot need no legend entry.
                    plot.text(
                        Text::new(
                            "",
                            PlotPoint::new(x, y),
                            RichText::new(&label.text).size(14.0).strong().color(c),
                        )
                        .anchor(Align2::CENTER_BOTTOM),
                    );
                }
            }
            Shape::Band { x, lower, upper } => {
                let xs: Vec<f64> = x.iter().map(|&v| sx.forward(v)).collect();
                let lo: Vec<f64> = lower.iter().map(|&v| sy.forward(v)).collect();
                let hi: Vec<f64> = upper.iter().map(|&v| sy.forward(v)).collect();
                plot.add(FilledArea::new(name, &xs, &lo, &hi).fill_color(
                    Color32::from_rgba_unmultiplied(
                        series.color[0],
                        series.color[1],
                        series.color[2],
                        200,
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On an axis of about one decade (a token scene's clone times, 0.28 … 4.5) every labelled mark
    /// (1, 2, 5 …) has a step of at least 0.3 decade, so egui_plot paints its label at full strength
    /// on a plot of 400 points or more (its labels fade below 80 points of spacing), while the
    /// unlabelled 3×, 4×… marks stay faint.
    #[test]
    fn labelled_log_ticks_are_not_faint() {
        let bounds = (0.28f64.log10(), 4.5f64.log10());
        let marks = log_grid(GridInput {
            bounds,
            base_step_size: 0.01,
        });
        let range = bounds.0..=bounds.1;
        let labelled: Vec<&GridMark> = marks
            .iter()
            .filter(|m| !log_label(**m, &range).is_empty())
            .collect();
        let values: Vec<String> = labelled.iter().map(|m| log_label(**m, &range)).collect();
        assert_eq!(values, ["0.5", "1", "2"], "{values:?}");
        let per_decade = 400.0 / (bounds.1 - bounds.0);
        for m in &labelled {
            assert!(m.step_size * per_decade >= 80.0, "{:?}", m.value);
        }
        assert!(
            marks
                .iter()
                .filter(|m| log_label(**m, &range).is_empty())
                .all(|m| m.step_size == 0.1)
        );
    }
}
