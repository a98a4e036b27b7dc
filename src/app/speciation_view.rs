//! The speciation plot (egui_plot): φ(t) from cloning with ±1 standard-error bars, the exact φ_post(t)
//! curve, the midpoint level, vertical lines for ½ ln Λ, the balance and the midpoint times, and the
//! commitment-time histogram below on the same time axis. One hierarchy level at a time. The plots are
//! built as `figure::Figure`s (pure, [`figures`]) and drawn from them, so exports show the same series.
//! Imported data has no scene: its tab shows what the file holds and the commitment times measured from
//! its posterior ([`imported_ui`]). A token scene's tab shows the discrete lab: φ_post and the cloning
//! curve against OU time with their t_mid crossings ([`discrete_figure`]).

use super::figure_plot::{color, rgb, show};
use super::timeline::{BALANCE_COLOR, BBDM_COLOR, MID_COLOR, Marker};
use crate::analysis::speciation::commitment::Histogram;
use crate::analysis::speciation::report::{LevelReport, SpeciationReport};
use crate::analysis::view_data::Imported;
use crate::analysis::view_data::discrete_lab::{DiscreteLabReport, DiscretePoint};
use crate::figure::{Axis, Figure, LegendPlace, Marker as PointMarker, Rgb, Series, Shape};
use egui::{Color32, Ui};

const CLONING_COLOR: Rgb = [86, 180, 233];
const POSTERIOR_COLOR: Rgb = [230, 159, 0];
const COMMITMENT_COLOR: Rgb = [0, 158, 115];

/// The level chosen for display.
#[derive(Default)]
pub struct SpeciationView {
    pub level: usize,
    /// A cursor at this time on both plots (films: the time shown), drawn where it falls in the
    /// plotted range.
    pub now: Option<f64>,
}

/// The theory times of a level as scrubber markers.
pub fn markers(level: &LevelReport) -> Vec<Marker> {
    let theory = &level.theory;
    known_markers(
        [
            (theory.t_bbdm, "½ ln Λ", BBDM_COLOR),
            (theory.t_balance, "balance", BALANCE_COLOR),
            (theory.t_mid, "midpoint", MID_COLOR),
        ],
        2,
    )
}

/// The grey line at the level φ crosses at the midpoint time.
fn midpoint_level(y: f64) -> Series {
    Series {
        name: "midpoint level".into(),
        color: rgb(Color32::GRAY),
        shape: Shape::HLine { y },
    }
}

/// Markers of the times that are known and finite, labelled with `decimals` decimals.
fn known_markers<const N: usize>(
    times: [(Option<f64>, &str, Color32); N],
    decimals: usize,
) -> Vec<Marker> {
    times
        .into_iter()
        .filter_map(|(t, label, color)| {
            t.filter(|t| t.is_finite()).map(|t| Marker {
                t,
                label: format!("{label} {t:.decimals$}"),
                color,
            })
        })
        .collect()
}

impl SpeciationView {
    pub fn ui(&mut self, ui: &mut Ui, report: Option<&SpeciationReport>, running: bool) {
        let Some(report) = report else {
            ui.label(if running {
                "The speciation lab is running (its progress bar is with the other jobs)."
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
        summary(ui, level, report.settings.guidance);
        if let Some(w) = report.settings.guidance {
            ui.add(egui::Label::new(egui::RichText::new(guidance_note(w)).small()).wrap());
        }
        let [phi, commitment] = figures(level);
        let link = ui.scope_id().with("speciation time axis");
        let total = ui.available_height();
        let phi_share = (total * 0.64).max(120.0);
        let cursor_color = ui.visuals().strong_text_color();
        let cursor = |plot_ui: &mut egui_plot::PlotUi, figure: &Figure| {
            if let Some(t) = self.now
                && t >= figure.x.range[0]
                && t <= figure.x.range[1]
            {
                // Unnamed: no legend entry.
                plot_ui.vline(
                    egui_plot::VLine::new("", t)
                        .color(cursor_color)
                        .width(2.0)
                        .style(egui_plot::LineStyle::dashed_dense()),
                );
            }
        };
        show(
            ui,
            &phi,
            "speciation phi",
            phi_share,
            |plot| plot.link_axis(link, [true, false]),
            |plot_ui| cursor(plot_ui, &phi),
        );
        show(
            ui,
            &commitment,
            "speciation commitment",
            ui.available_height() - 4.0,
            |plot| plot.link_axis(link, [true, false]),
            |plot_ui| cursor(plot_ui, &commitment),
        );
    }

    /// The level on display (the headline when the chosen index no longer exists).
    pub fn level_of<'a>(&self, report: &'a SpeciationReport) -> &'a LevelReport {
        report.levels.get(self.level).unwrap_or(&report.headline)
    }
}

/// The t_mid crossings of a token scene's discrete lab as scrubber markers (exact / Monte Carlo
/// posterior, and cloning).
pub fn discrete_markers(report: &DiscreteLabReport) -> Vec<Marker> {
    known_markers(
        [
            (report.t_mid_posterior, "t_mid φ_post", MID_COLOR),
            (report.t_mid_cloning, "t_mid cloning", color(CLONING_COLOR)),
        ],
        3,
    )
}

/// The discrete lab's curves on a log time axis (its clone times spread geometrically around t_mid):
/// the cloning φ with ±1 s.e., φ_post (with its Monte Carlo s.e. when not exact), the midpoint level
/// and both t_mid crossings.
pub fn discrete_figure(report: &DiscreteLabReport) -> Figure {
    let curve = &report.curve;
    let positive = curve.iter().map(|p| p.t).filter(|&t| t > 0.0);
    let (lo, hi) = positive.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
        (lo.min(t), hi.max(t))
    });
    let range = if lo < hi { [lo, hi] } else { [1e-3, 10.0] };
    let exact = report.posterior_method == "exact";
    let posterior_name = if exact {
        "φ_post exact (E Σ p(k|x_t)²)".to_string()
    } else {
        format!(
            "φ_post Monte Carlo, {} samples ± 1 s.e.",
            report.posterior_samples.unwrap_or_default()
        )
    };
    let on_axis = |p: &&DiscretePoint| p.t > 0.0;
    let mut series = vec![
        Series {
            name: format!("φ cloning, {} pairs ± 1 s.e.", report.pairs),
            color: CLONING_COLOR,
            shape: Shape::Points {
                points: curve
                    .iter()
                    .filter(on_axis)
                    .map(|p| [p.t, p.phi_clone])
                    .collect(),
                errors: Some(
                    curve
                        .iter()
                        .filter(on_axis)
                        .map(|p| p.phi_clone_std_error)
                        .collect(),
                ),
                marker: PointMarker::Circle,
            },
        },
        Series {
            name: posterior_name,
            color: POSTERIOR_COLOR,
            shape: Shape::Line {
                points: curve
                    .iter()
                    .filter(on_axis)
                    .map(|p| [p.t, p.phi_post])
                    .collect(),
                dashed: false,
            },
        },
        midpoint_level(report.midpoint_level),
    ];
    series.extend(discrete_markers(report).into_iter().map(|marker| Series {
        name: marker.label,
        color: rgb(marker.color),
        shape: Shape::VLine {
            x: marker.t,
            labelled: true,
        },
    }));
    Figure {
        title: format!(
            "Speciation of tokens: {} noise, {} sampler, L = {}",
            report.noise, report.sampler, report.length
        ),
        x: Axis::log("OU time t", range),
        y: Axis::linear("φ(t): clones in the same class", [0.0, 1.05]),
        series,
        legend: LegendPlace::LeftBottom,
    }
}

/// The Speciation tab of a token scene: the discrete lab's headline and [`discrete_figure`].
pub fn discrete_ui(ui: &mut Ui, report: Option<&DiscreteLabReport>, running: bool) {
    let Some(report) = report else {
        ui.label(if running {
            "The discrete lab is running (its progress bar is with the other jobs)."
        } else {
            "No discrete lab result for this token scene."
        });
        return;
    };
    let time = |t: Option<f64>| t.map_or_else(|| "not crossed".into(), |t| format!("{t:.3}"));
    let cloning_error = report
        .t_mid_cloning_std_error
        .map(|e| format!(" ± {e:.3}"))
        .unwrap_or_default();
    ui.label(format!(
        "t_mid: φ_post {} ({}), cloning {}{cloning_error} · level {:.3} · classes {}",
        time(report.t_mid_posterior),
        report.posterior_method.replace('_', " "),
        time(report.t_mid_cloning),
        report.midpoint_level,
        report.class_labels.join(", ")
    ));
    let figure = discrete_figure(report);
    let plot = |ui: &mut Ui| {
        show(
            ui,
            &figure,
            "discrete speciation phi",
            ui.available_height() - 4.0,
            |plot| plot,
            |_| {},
        );
    };
    match sampler_note(report.sampler) {
        // The note is laid out first, from the bottom up, so the plot takes what it leaves.
        Some(note) => {
            ui.with_layout(egui::Layout::bottom_up(egui::Align::Min), |ui| {
                ui.label(note);
                ui.with_layout(egui::Layout::top_down(egui::Align::Min), plot);
            });
        }
        None => plot(ui),
    }
}

/// Why the cloning crossing of a sampler other than `exact` differs from φ_post's (one sentence
/// under the plot), or `None` for the exact sampler, whose E φ_clone(t) is φ_post(t).
pub fn sampler_note(sampler: &str) -> Option<String> {
    let how = match sampler {
        "exact" => return None,
        "factorized" => {
            "draws each token from its own marginal, blind to the others revealed in the same step"
        }
        "confidence" => "reveals the most confident tokens first, each from its own marginal",
        "autoregressive" => "reveals tokens left to right instead of at random sites",
        _ => "is not the exact reverse process",
    };
    Some(format!(
        "The {sampler} sampler {how}, so its state at time t is not forward-noised data and its \
         cloning curve measures when this sampler commits, not φ_post: only the exact sampler makes \
         E φ_clone(t) = φ_post(t), and its crossing may differ from t_mid."
    ))
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
        midpoint_level(level.midpoint_level),
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
    // A level without theory (a model labelled without a reference) has no φ_post curve: its legend
    // entry would name a line that is not there.
    phi_series
        .retain(|series| !matches!(&series.shape, Shape::Line { points, .. } if points.is_empty()));
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
        x: Axis::linear("OU time t", time_range),
        y: Axis::linear("φ(t): clones in the same class", [0.0, 1.05]),
        series: phi_series,
        legend: LegendPlace::LeftBottom,
    };
    let commitment = commitment_figure(
        format!("Commitment times: {}", level.name),
        histogram,
        "commitment time t",
        "posterior ≥ 1 − ε after it",
        time_range,
        theory_lines(false),
    );
    [phi, commitment]
}

/// The histogram of commitment times over `time_range`, with `lines` (theory times) drawn over it;
/// `definition` (what commitment means) is named in the legend.
fn commitment_figure(
    title: String,
    histogram: &Histogram,
    x_label: &str,
    definition: &str,
    time_range: [f64; 2],
    lines: impl IntoIterator<Item = Series>,
) -> Figure {
    let counts: Vec<f64> = histogram.counts.iter().map(|&c| c as f64).collect();
    let top = counts.iter().copied().fold(0.0, f64::max);
    let mut series = vec![Series {
        // The definition sits in the legend, which wraps; an axis title is clipped at the plot's width.
        name: format!("commitment times ({definition})"),
        color: COMMITMENT_COLOR,
        shape: Shape::Bars {
            edges: histogram.edges.clone(),
            counts,
        },
    }];
    series.extend(lines);
    Figure {
        title,
        x: Axis::linear(x_label, time_range),
        y: Axis::linear("trajectories", [0.0, (1.1 * top).max(1.0)]),
        series,
        legend: LegendPlace::LeftTop,
    }
}

/// The speciation tab for imported data: what the file holds, and the commitment times measured from
/// its posterior (no scene, so no theory and no cloning).
pub fn imported_ui(ui: &mut Ui, imported: &Imported) {
    ui.label(egui::RichText::new(imported.summary()).strong());
    let Some(commitment) = &imported.commitment else {
        ui.label(
            "Commitment: not available (the file has no 'posterior' [N, S, K]). Cloning and the \
             theory times need a scene: open one to measure them.",
        );
        return;
    };
    let class = if imported.labels_in_file {
        "its label"
    } else {
        "the argmax of its posterior at the last step"
    };
    let unit = if imported.times_in_file {
        "OU time"
    } else {
        "step index, counted from the last step (times not in file)"
    };
    let median = median(&commitment.times).map_or("—".into(), |t| format!("{t:.3}"));
    ui.label(format!(
        "Commitment measured from the file's posterior (ε = {}, each trajectory's class: {class}): \
         {} of {} trajectories commit, median commitment time {median} ({unit}). {}",
        commitment.epsilon,
        commitment.times.len(),
        commitment.total(),
        commitment.uncommitted_phrase()
    ));
    let edges = &commitment.histogram.edges;
    let range = match (edges.first(), edges.last()) {
        (Some(&lo), Some(&hi)) if lo < hi => [lo, hi],
        _ => [0.0, 1.0],
    };
    let figure = commitment_figure(
        "Commitment times (imported posterior)".into(),
        &commitment.histogram,
        if imported.times_in_file {
            "commitment time t"
        } else {
            "commitment step index"
        },
        "class posterior ≥ 1 − ε after it",
        range,
        [],
    );
    show(
        ui,
        &figure,
        "imported commitment",
        ui.available_height() - 4.0,
        |plot| plot,
        |_| {},
    );
}

/// The median of `values` (the upper one of an even count), `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// What the tab's curves mean under guidance (`docs/science/speciation.md` §7).
fn guidance_note(w: f64) -> String {
    format!(
        "Guidance w = {w}: the measured curves run the guided sampler, each pair conditioned on its \
         class k (clones keep k). The theory curve and times are for unguided sampling (w = 0). The \
         class decides part of the outcome at the start: φ's plateau rises above Σπ², and once the \
         guided flow has no wrong-class attractor (w > ½ for two balanced classes) φ never falls to \
         the midpoint: the decision has moved to the start."
    )
}

fn summary(ui: &mut Ui, level: &LevelReport, guidance: Option<f64>) {
    let fmt = |t: Option<f64>| t.map_or("—".to_string(), |t| format!("{t:.3}"));
    let measured = match (level.measured.t_mid, level.measured.t_mid_stderr, guidance) {
        (Some(t), Some(se), _) => format!("{t:.3} ± {se:.3}"),
        (Some(t), None, _) => format!("{t:.3}"),
        (None, _, Some(_)) => "— (decided at the start)".into(),
        _ => "—".into(),
    };
    let uncommitted = level.commitment.uncommitted_phrase();
    ui.label(format!(
        "{}: theory t_mid {} · t_balance {} · ½ ln Λ {} · measured t_mid {}{}",
        level.name,
        fmt(level.theory.t_mid),
        fmt(level.theory.t_balance),
        fmt(level.theory.t_bbdm),
        measured,
        if uncommitted.is_empty() {
            String::new()
        } else {
            format!(" · {uncommitted}")
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a sampler other than `exact` gets the note, and it names the sampler and φ_post.
    #[test]
    fn a_non_exact_sampler_says_why_its_crossing_differs() {
        assert_eq!(sampler_note("exact"), None);
        for sampler in ["factorized", "confidence", "autoregressive"] {
            let note = sampler_note(sampler).unwrap();
            assert!(
                note.starts_with(&format!("The {sampler} sampler")),
                "{note}"
            );
            assert!(note.contains("E φ_clone(t) = φ_post(t)"), "{note}");
        }
    }
}
