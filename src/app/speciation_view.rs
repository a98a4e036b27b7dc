//! The speciation plot (egui_plot): φ(t) from cloning with ±1 standard-error bars, the exact φ_post(t)
//! curve, the midpoint level, vertical lines for ½ ln Λ, the balance and the midpoint times, and the
//! commitment-time histogram below on the same time axis. One hierarchy level at a time. The plots are
//! built as `figure::Figure`s (pure, [`figures`]) and drawn from them, so exports show the same series.

use super::timeline::{BALANCE_COLOR, BBDM_COLOR, MID_COLOR, Marker};
use crate::analysis::speciation::report::{LevelReport, SpeciationReport};
use crate::figure::{Axis, Figure, Marker as PointMarker, Rgb, Series, Shape};
use egui::{Color32, Ui};
use egui_plot::{
    Bar, BarChart, Corner, HLine, Legend, Line, LineStyle, MarkerShape, Plot, PlotPoint, PlotUi,
    Points, Text, VLine,
};

const CLONING_COLOR: Rgb = [86, 180, 233];
const POSTERIOR_COLOR: Rgb = [230, 159, 0];
const COMMITMENT_COLOR: Rgb = [0, 158, 115];

/// The level chosen for display.
#[derive(Default)]
pub struct SpeciationView {
    pub level: usize,
}

/// The theory times of a level as scrubber markers.
pub fn markers(level: &LevelReport) -> Vec<Marker> {
    let theory = &level.theory;
    [
        (theory.t_bbdm, "½ ln Λ", BBDM_COLOR),
        (theory.t_balance, "balance", BALANCE_COLOR),
        (theory.t_mid, "midpoint", MID_COLOR),
    ]
    .into_iter()
    .filter_map(|(t, label, color)| {
        t.filter(|t| t.is_finite()).map(|t| Marker {
            t,
            label: format!("{label} {t:.2}"),
            color,
        })
    })
    .collect()
}

impl SpeciationView {
    pub fn ui(&mut self, ui: &mut Ui, report: Option<&SpeciationReport>, running: bool) {
        let Some(report) = report else {
            ui.label(if running {
                "The speciation lab is running (see the jobs strip)."
            } else {
                "No speciation result for this scene."
            });
            return;
        };
        if report.levels.len() > 1 {
            ui.horizontal(|ui| {
                ui.label("Hierarchy level");
                for (index, level) in report.levels.iter().enumerate() {
                    ui.selectable_value(&mut self.level, index, &level.name);
                }
            });
        }
        let level = self.level_of(report);
        summary(ui, level);
        let [phi, commitment] = figures(level);
        let link = ui.scope_id().with("speciation time axis");
        let total = ui.available_height();
        let plot_height = (total * 0.64).max(120.0);
        plot(&phi, "speciation phi", Corner::LeftBottom, link)
            .height(plot_height)
            .show(ui, |plot_ui| draw(plot_ui, &phi));
        plot(&commitment, "speciation commitment", Corner::LeftTop, link)
            .height((ui.available_height() - 4.0).max(80.0))
            .show(ui, |plot_ui| draw(plot_ui, &commitment));
    }

    /// The level on display (the headline when the chosen index no longer exists).
    pub fn level_of<'a>(&self, report: &'a SpeciationReport) -> &'a LevelReport {
        report.levels.get(self.level).unwrap_or(&report.headline)
    }
}

fn rgb(color: Color32) -> Rgb {
    [color.r(), color.g(), color.b()]
}

fn color(rgb: Rgb) -> Color32 {
    Color32::from_rgb(rgb[0], rgb[1], rgb[2])
}

/// The φ(t) plot and the commitment histogram of `level`, on one time range: every clone time, curve
/// point and histogram bin. The screen and the exports draw these.
pub fn figures(level: &LevelReport) -> [Figure; 2] {
    let histogram = &level.commitment.histogram;
    // Occupied bins only: the histogram spans [0, t_max], and empty tails would squeeze the data
    // into a corner of both panels.
    let occupied = histogram
        .counts
        .iter()
        .zip(histogram.edges.windows(2))
        .filter(|(count, _)| **count > 0)
        .flat_map(|(_, bin)| bin.iter());
    let times = level
        .phi_cloning
        .t
        .iter()
        .chain(&level.phi_posterior.t)
        .chain(occupied)
        .copied()
        .filter(|t| t.is_finite());
    let (t_lo, t_hi) = times.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
        (lo.min(t), hi.max(t))
    });
    let time_range = if t_lo < t_hi {
        [t_lo, t_hi]
    } else {
        [0.0, 1.0]
    };
    let cloning = &level.phi_cloning;
    let mut phi_series = vec![
        Series {
            name: "φ cloning ± 1 s.e.".into(),
            color: CLONING_COLOR,
            shape: Shape::Points {
                points: cloning
                    .t
                    .iter()
                    .zip(&cloning.phi)
                    .map(|(&t, &p)| [t, p])
                    .collect(),
                errors: Some(cloning.stderr.clone()),
                marker: PointMarker::Circle,
            },
        },
        Series {
            name: "φ_post exact (E Σ p(k|x)²)".into(),
            color: POSTERIOR_COLOR,
            shape: Shape::Line {
                points: level
                    .phi_posterior
                    .t
                    .iter()
                    .zip(&level.phi_posterior.phi)
                    .map(|(&t, &p)| [t, p])
                    .collect(),
                dashed: false,
            },
        },
        Series {
            name: "midpoint level".into(),
            color: rgb(Color32::GRAY),
            shape: Shape::HLine {
                y: level.midpoint_level,
            },
        },
    ];
    let theory_lines = |labelled: bool| {
        markers(level).into_iter().map(move |marker| Series {
            name: marker.label,
            color: rgb(marker.color),
            shape: Shape::VLine {
                x: marker.t,
                labelled,
            },
        })
    };
    phi_series.extend(theory_lines(true));
    if let Some(t) = level.measured.t_mid {
        phi_series.push(Series {
            name: "measured midpoint crossing".into(),
            color: rgb(MID_COLOR),
            shape: Shape::Points {
                points: vec![[t, level.midpoint_level]],
                errors: None,
                marker: PointMarker::Diamond,
            },
        });
    }
    let phi = Figure {
        title: format!("Speciation: {}", level.name),
        x: Axis {
            label: "OU time t".into(),
            range: time_range,
        },
        y: Axis {
            label: "φ(t): clones in the same class".into(),
            range: [0.0, 1.05],
        },
        series: phi_series,
    };
    let counts: Vec<f64> = histogram.counts.iter().map(|&c| c as f64).collect();
    let top = counts.iter().copied().fold(0.0, f64::max);
    let mut commitment_series = vec![Series {
        name: "commitment times".into(),
        color: COMMITMENT_COLOR,
        shape: Shape::Bars {
            edges: histogram.edges.clone(),
            counts,
        },
    }];
    commitment_series.extend(theory_lines(false));
    let commitment = Figure {
        title: format!("Commitment times: {}", level.name),
        x: Axis {
            label: "commitment time (final class posterior ≥ 1 − ε from then on)".into(),
            range: time_range,
        },
        y: Axis {
            label: "trajectories".into(),
            range: [0.0, (1.1 * top).max(1.0)],
        },
        series: commitment_series,
    };
    [phi, commitment]
}

/// An egui plot showing `figure`'s axes and ranges, its time axis linked to the other panel's.
fn plot<'a>(figure: &'a Figure, id: &str, legend: Corner, link: egui::Id) -> Plot<'a> {
    Plot::new(id)
        .legend(Legend::default().position(legend))
        .x_axis_label(figure.x.label.as_str())
        .y_axis_label(figure.y.label.as_str())
        .include_x(figure.x.range[0])
        .include_x(figure.x.range[1])
        .include_y(figure.y.range[0])
        .include_y(figure.y.range[1])
        .link_axis(link, [true, false])
}

/// Draws `figure`'s series with egui_plot (the SVG writer draws the same series).
fn draw(plot: &mut PlotUi, figure: &Figure) {
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
                        Line::new(name, vec![[p[0], p[1] - e], [p[0], p[1] + e]])
                            .color(c)
                            .width(1.5),
                    );
                }
                let (shape, radius) = match marker {
                    PointMarker::Circle => (MarkerShape::Circle, 3.5),
                    PointMarker::Diamond => (MarkerShape::Diamond, 6.0),
                };
                plot.points(
                    Points::new(name, points.clone())
                        .color(c)
                        .shape(shape)
                        .filled(true)
                        .radius(radius),
                );
            }
            Shape::Line { points, dashed } => {
                let line = Line::new(name, points.clone()).color(c).width(2.0);
                plot.line(if *dashed {
                    line.style(LineStyle::dashed_loose())
                } else {
                    line
                });
            }
            Shape::HLine { y } => {
                plot.hline(
                    HLine::new(name, *y)
                        .color(c)
                        .style(LineStyle::dashed_loose()),
                );
            }
            Shape::VLine { x, labelled } => {
                plot.vline(
                    VLine::new(name, *x)
                        .color(c)
                        .width(if *labelled { 1.5 } else { 1.0 }),
                );
                if *labelled {
                    // Labels are staggered vertically: the times are often close together.
                    let y = figure.y.range[1] - 0.01 - 0.07 * vlines as f64;
                    plot.text(Text::new(name, PlotPoint::new(*x, y), name).color(c));
                }
                vlines += 1;
            }
            Shape::Bars { edges, counts } => {
                let bars: Vec<Bar> = edges
                    .windows(2)
                    .zip(counts)
                    // Empty bins draw nothing but would stretch the linked time axis to t_max.
                    .filter(|(_, count)| **count > 0.0)
                    .map(|(edge, &count)| {
                        Bar::new(0.5 * (edge[0] + edge[1]), count).width(edge[1] - edge[0])
                    })
                    .collect();
                plot.bar_chart(BarChart::new(name, bars).color(c));
            }
        }
    }
}

fn summary(ui: &mut Ui, level: &LevelReport) {
    let fmt = |t: Option<f64>| t.map_or("—".to_string(), |t| format!("{t:.3}"));
    let measured = match (level.measured.t_mid, level.measured.t_mid_stderr) {
        (Some(t), Some(se)) => format!("{t:.3} ± {se:.3}"),
        (Some(t), None) => format!("{t:.3}"),
        _ => "—".into(),
    };
    ui.label(format!(
        "{}: theory t_mid {} · t_balance {} · ½ ln Λ {} · measured t_mid {} · {} uncommitted",
        level.name,
        fmt(level.theory.t_mid),
        fmt(level.theory.t_balance),
        fmt(level.theory.t_bbdm),
        measured,
        level.commitment.uncommitted,
    ));
}
