//! The speciation plot (egui_plot): φ(t) from cloning with ±1 standard-error bars, the exact φ_post(t)
//! curve, the midpoint level, vertical lines for ½ ln Λ, the balance and the midpoint times, and the
//! commitment-time histogram below on the same time axis. One hierarchy level at a time.

use super::timeline::{BALANCE_COLOR, BBDM_COLOR, MID_COLOR, Marker};
use crate::analysis::speciation::report::{LevelReport, SpeciationReport};
use egui::{Color32, Ui};
use egui_plot::{
    Bar, BarChart, Corner, HLine, Legend, Line, LineStyle, MarkerShape, Plot, PlotPoint, Points,
    Text, VLine,
};

const CLONING_COLOR: Color32 = Color32::from_rgb(86, 180, 233);
const POSTERIOR_COLOR: Color32 = Color32::from_rgb(230, 159, 0);

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
        let level = report.levels.get(self.level).unwrap_or(&report.headline);
        summary(ui, level);
        let link = ui.scope_id().with("speciation time axis");
        // Both plots show the same time range: every clone time, curve point and histogram bin.
        let histogram = &level.commitment.histogram;
        let times = level
            .phi_cloning
            .t
            .iter()
            .chain(&level.phi_posterior.t)
            .chain(&histogram.edges)
            .copied()
            .filter(|t| t.is_finite());
        let (t_lo, t_hi) = times.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        });
        let (t_lo, t_hi) = if t_lo <= t_hi {
            (t_lo, t_hi)
        } else {
            (0.0, 1.0)
        };
        let total = ui.available_height();
        let plot_height = (total * 0.64).max(120.0);
        Plot::new("speciation phi")
            .height(plot_height)
            .legend(Legend::default().position(Corner::LeftBottom))
            .x_axis_label("OU time t")
            .y_axis_label("φ(t): clones in the same class")
            .include_y(0.0)
            .include_y(1.05)
            .include_x(t_lo)
            .include_x(t_hi)
            .link_axis(link, [true, false])
            .show(ui, |plot| {
                let cloning = &level.phi_cloning;
                let bars_name = "φ cloning ± 1 s.e.";
                for ((&t, &phi), &se) in cloning.t.iter().zip(&cloning.phi).zip(&cloning.stderr) {
                    plot.line(
                        Line::new(bars_name, vec![[t, phi - se], [t, phi + se]])
                            .color(CLONING_COLOR)
                            .width(1.5),
                    );
                }
                let points: Vec<[f64; 2]> = cloning
                    .t
                    .iter()
                    .zip(&cloning.phi)
                    .map(|(&t, &p)| [t, p])
                    .collect();
                plot.points(
                    Points::new(bars_name, points)
                        .color(CLONING_COLOR)
                        .shape(MarkerShape::Circle)
                        .filled(true)
                        .radius(3.5),
                );
                let exact: Vec<[f64; 2]> = level
                    .phi_posterior
                    .t
                    .iter()
                    .zip(&level.phi_posterior.phi)
                    .map(|(&t, &p)| [t, p])
                    .collect();
                plot.line(
                    Line::new("φ_post exact (E Σ p(k|x)²)", exact)
                        .color(POSTERIOR_COLOR)
                        .width(2.0),
                );
                plot.hline(
                    HLine::new("midpoint level", level.midpoint_level)
                        .color(Color32::GRAY)
                        .style(LineStyle::dashed_loose()),
                );
                // Labels are staggered vertically: the times are often close together.
                for (index, marker) in markers(level).into_iter().enumerate() {
                    plot.vline(
                        VLine::new(&marker.label, marker.t)
                            .color(marker.color)
                            .width(1.5),
                    );
                    let y = 1.04 - 0.07 * index as f64;
                    plot.text(
                        Text::new(
                            &marker.label,
                            PlotPoint::new(marker.t, y),
                            marker.label.clone(),
                        )
                        .color(marker.color),
                    );
                }
                if let Some(t) = level.measured.t_mid {
                    plot.points(
                        Points::new(
                            "measured midpoint crossing",
                            vec![[t, level.midpoint_level]],
                        )
                        .shape(MarkerShape::Diamond)
                        .radius(6.0)
                        .color(MID_COLOR),
                    );
                }
            });
        let bars: Vec<Bar> = histogram
            .edges
            .windows(2)
            .zip(&histogram.counts)
            .map(|(edge, &count)| {
                Bar::new(0.5 * (edge[0] + edge[1]), count as f64).width(edge[1] - edge[0])
            })
            .collect();
        Plot::new("speciation commitment")
            .height((ui.available_height() - 4.0).max(80.0))
            .x_axis_label("commitment time (final class posterior ≥ 1 − ε from then on)")
            .y_axis_label("trajectories")
            .include_x(t_lo)
            .include_x(t_hi)
            .link_axis(link, [true, false])
            .legend(Legend::default().position(Corner::LeftTop))
            .show(ui, |plot| {
                plot.bar_chart(
                    BarChart::new("commitment times", bars).color(Color32::from_rgb(0, 158, 115)),
                );
                for marker in markers(level) {
                    plot.vline(
                        VLine::new(&marker.label, marker.t)
                            .color(marker.color)
                            .width(1.0),
                    );
                }
            });
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
