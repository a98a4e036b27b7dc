//! The theory tab: speciation time against dimension for mean-separated classes (exact balance time and
//! the ½ ln d law) and covariance-only classes (exact and the ¼ ln d law), with the scene's current d
//! marked; below it the dendrogram of the pairwise speciation times of the scene's report. Calls the
//! closed forms and bisections of `analysis::speciation::gaussian` (cheap: O(d) per time); no sampling.
//! Both plots are `figure::Figure`s built by pure functions ([`figures`]) and drawn from them.

use super::figure_plot::{draw, plot};
use crate::analysis::speciation::gaussian::{
    ClassCovariance, GaussianClass, leading_order, pair_balance_time, pair_separation,
};
use crate::analysis::speciation::hierarchy::Merge;
use crate::analysis::speciation::report::SpeciationReport;
use crate::figure::{Axis, Figure, Label, LegendPlace, Marker, Rgb, Series, Shape};
use egui::Ui;
use std::sync::OnceLock;

const MEANS_COLOR: Rgb = [86, 180, 233];
const COVARIANCES_COLOR: Rgb = [230, 159, 0];
const CURRENT_COLOR: Rgb = [239, 83, 80];
const DENDROGRAM_COLOR: Rgb = [0, 158, 115];
/// Readable on the light SVG background and on the dark screen theme.
const LEAF_COLOR: Rgb = [86, 140, 233];
const MEANS_LAW: &str = "½ ln d";
const COVARIANCES_LAW: &str = "¼ ln(d/8)";

/// Dimensions of the drawn curves: 2 … 4096, log-spaced.
const CURVE_POINTS: usize = 33;
const D_MIN: f64 = 2.0;
const D_MAX: f64 = 4096.0;

/// The two families' speciation times (balance M = S, docs/science/speciation.md §2.2) at one dimension d.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LawPoint {
    pub d: usize,
    /// ½ N(+m, I) + ½ N(−m, I), m = (1, …, 1): exact finite-d balance time.
    pub means_exact: Option<f64>,
    /// Its leading-order law ½ ln(|m|²) = ½ ln d (docs/science/speciation.md §2.3).
    pub means_law: Option<f64>,
    /// ½ N(0, I) + ½ N(0, 2I): exact finite-d balance time.
    pub covariances_exact: Option<f64>,
    /// Its leading-order law ½ ln(‖ΔC‖_F / 2√2) = ¼ ln(d / 8) (docs/science/speciation.md §2.4 i).
    pub covariances_law: Option<f64>,
}

fn class(d: usize, mean: f64, variance: f64) -> GaussianClass {
    GaussianClass {
        weight: 0.5,
        mean: vec![mean; d],
        cov: ClassCovariance::Diagonal(vec![variance; d]),
    }
}

/// Both families at dimension `d`, from the library's theory.
pub fn laws_at(d: usize) -> LawPoint {
    let (plus, minus) = (class(d, 1.0, 1.0), class(d, -1.0, 1.0));
    let (narrow, wide) = (class(d, 0.0, 1.0), class(d, 0.0, 2.0));
    LawPoint {
        d,
        means_exact: pair_balance_time(&plus, &minus),
        means_law: leading_order(pair_separation(&plus, &minus)).t_balance,
        covariances_exact: pair_balance_time(&narrow, &wide),
        covariances_law: leading_order(pair_separation(&narrow, &wide)).t_balance,
    }
}

/// The dimensions and values of the drawn curves, computed once per process.
pub fn curves() -> &'static [LawPoint] {
    static CURVES: OnceLock<Vec<LawPoint>> = OnceLock::new();
    CURVES.get_or_init(|| {
        (0..CURVE_POINTS)
            .map(|i| {
                let f = i as f64 / (CURVE_POINTS - 1) as f64;
                (D_MIN * (D_MAX / D_MIN).powf(f)).round() as usize
            })
            .map(laws_at)
            .collect()
    })
}

/// Where the laws' names are written: at this dimension, above their dashed curves.
const LAW_LABEL_D: f64 = 512.0;

/// The laws plot: exact balance times and leading-order laws of both families against d on a log
/// axis, with `current` (the scene's d) marked.
pub fn laws_figure(curves: &[LawPoint], current: Option<LawPoint>) -> Figure {
    let series_of = |pick: fn(&LawPoint) -> Option<f64>| -> Vec<[f64; 2]> {
        curves
            .iter()
            .filter_map(|p| pick(p).map(|t| [p.d as f64, t]))
            .collect()
    };
    let line = |name: &str, color: Rgb, dashed: bool, pick: fn(&LawPoint) -> Option<f64>| Series {
        name: name.into(),
        color,
        shape: Shape::Line {
            points: series_of(pick),
            dashed,
        },
    };
    let law_name = |name: &str, color: Rgb, law: fn(f64) -> f64| Series {
        name: format!("{name} (label)"),
        color,
        shape: Shape::Labels {
            // A little above the curve, so the line does not run through the text.
            labels: vec![Label {
                at: [LAW_LABEL_D, law(LAW_LABEL_D) + 0.12],
                text: name.into(),
            }],
        },
    };
    let mut series = vec![
        line("means ±m: exact", MEANS_COLOR, false, |p| p.means_exact),
        line(MEANS_LAW, MEANS_COLOR, true, |p| p.means_law),
        line("variance 1 vs 2: exact", COVARIANCES_COLOR, false, |p| {
            p.covariances_exact
        }),
        line(COVARIANCES_LAW, COVARIANCES_COLOR, true, |p| {
            p.covariances_law
        }),
        law_name(MEANS_LAW, MEANS_COLOR, |d| 0.5 * d.ln()),
        law_name(COVARIANCES_LAW, COVARIANCES_COLOR, |d| {
            0.25 * (d / 8.0).ln()
        }),
    ];
    let mut d_range = [D_MIN, D_MAX];
    if let Some(p) = current {
        let d = p.d as f64;
        d_range = [d_range[0].min(d), d_range[1].max(d)];
        series.push(Series {
            name: format!("d = {}", p.d),
            color: CURRENT_COLOR,
            // Named in the legend, not at the top of the line: at small d the line runs under the
            // top-left legend, which would hide its label.
            shape: Shape::VLine {
                x: d,
                labelled: false,
            },
        });
        series.push(Series {
            name: format!("exact t_S at d = {}", p.d),
            color: CURRENT_COLOR,
            shape: Shape::Points {
                points: [p.means_exact, p.covariances_exact]
                    .into_iter()
                    .flatten()
                    .map(|t| [d, t])
                    .collect(),
                errors: None,
                marker: Marker::Circle,
            },
        });
    }
    let top = curves
        .iter()
        .chain(&current)
        .flat_map(|p| {
            [
                p.means_exact,
                p.means_law,
                p.covariances_exact,
                p.covariances_law,
            ]
        })
        .flatten()
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max);
    Figure {
        title: "Speciation time against dimension".into(),
        x: Axis::log("dimension d (log scale)", d_range),
        y: Axis::linear(
            "speciation time t_S (mean = std)",
            [0.0, 1.08 * top.max(0.5)],
        ),
        series,
        legend: LegendPlace::LeftTop,
    }
}

/// The dendrogram of `merges` (at least two, else `None`): classes along x in an order where every
/// cluster is contiguous, each merge drawn at its speciation time and labelled with it, the leaves
/// named by `class_labels` (or "class k").
pub fn dendrogram_figure(merges: &[Merge], class_labels: &[String]) -> Option<Figure> {
    if merges.len() < 2 {
        return None;
    }
    let leaves = leaf_order(merges);
    let x_of = |class: usize| leaves.iter().position(|&c| c == class).unwrap_or(0) as f64;
    // A cluster's x is the mean of its leaves; its height is the time it was formed (0 for a leaf).
    let centre =
        |set: &[usize]| set.iter().map(|&c| x_of(c)).sum::<f64>() / set.len().max(1) as f64;
    let formed = |set: &[usize]| -> f64 {
        if set.len() < 2 {
            return 0.0;
        }
        merges
            .iter()
            .find(|m| {
                m.left.len() + m.right.len() == set.len()
                    && m.left.iter().chain(&m.right).all(|c| set.contains(c))
            })
            .map_or(0.0, |m| m.time)
    };
    let mut segments = Vec::new();
    let mut times = Vec::new();
    for merge in merges.iter().filter(|m| m.time.is_finite()) {
        let (xl, xr) = (centre(&merge.left), centre(&merge.right));
        let (hl, hr) = (formed(&merge.left), formed(&merge.right));
        segments.extend([
            [[xl, hl], [xl, merge.time]],
            [[xl, merge.time], [xr, merge.time]],
            [[xr, merge.time], [xr, hr]],
        ]);
        // Halfway between the left arm and the middle: the parent's arm joins the bar at its middle
        // and would run through a centred label.
        times.push(Label {
            at: [0.75 * xl + 0.25 * xr, merge.time],
            text: format!("t = {:.2}", merge.time),
        });
    }
    let top = times.iter().map(|l| l.at[1]).fold(0.0, f64::max).max(0.1);
    // Leaf names sit under the tree (the arms end at t = 0), in a strip below the time axis's zero.
    let names = leaves
        .iter()
        .enumerate()
        .map(|(x, &class)| Label {
            at: [x as f64, -0.1 * top],
            text: class_labels
                .get(class)
                .filter(|l| !l.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("class {class}")),
        })
        .collect();
    Some(Figure {
        title: "Dendrogram of successive speciation".into(),
        x: Axis::unmarked("classes", [-0.5, leaves.len() as f64 - 0.5]),
        y: Axis::linear(
            "speciation time t (pairwise mean = std)",
            [-0.13 * top, 1.15 * top],
        ),
        series: vec![
            Series {
                name: "dendrogram".into(),
                color: DENDROGRAM_COLOR,
                shape: Shape::Segments { segments },
            },
            Series {
                name: "merge times".into(),
                color: DENDROGRAM_COLOR,
                shape: Shape::Labels { labels: times },
            },
            Series {
                name: "classes".into(),
                color: LEAF_COLOR,
                shape: Shape::Labels { labels: names },
            },
        ],
        legend: LegendPlace::LeftTop,
    })
}

/// The Theory tab's figures: the laws plot with `d` marked, then the dendrogram of `report` when it
/// has one. The screen and the exports draw these.
pub fn figures(
    d: Option<usize>,
    report: Option<&SpeciationReport>,
    class_labels: &[String],
) -> Vec<Figure> {
    let mut figures = vec![laws_figure(curves(), d.map(laws_at))];
    figures.extend(report.and_then(|r| dendrogram_figure(&r.pairwise.dendrogram, class_labels)));
    figures
}

/// The marker at the last d asked for (the curves are shared, [`curves`]).
#[derive(Default)]
pub struct LawsView {
    current: Option<LawPoint>,
}

impl LawsView {
    /// The values at `d`, recomputed only when d changes.
    pub fn at(&mut self, d: usize) -> LawPoint {
        match self.current {
            Some(point) if point.d == d => point,
            _ => {
                let point = laws_at(d);
                self.current = Some(point);
                point
            }
        }
    }

    /// The laws plot with the scene's dimension `d` marked, then the report's dendrogram.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        d: Option<usize>,
        report: Option<&SpeciationReport>,
        class_labels: &[String],
    ) {
        let current = d.map(|d| self.at(d));
        let fmt = |t: Option<f64>| t.map_or("—".to_string(), |t| format!("{t:.3}"));
        if let Some(p) = current {
            ui.label(format!(
                "d = {}: means t_S = {} (½ ln d = {}); covariances t_S = {} (¼ ln(d/8) = {})",
                p.d,
                fmt(p.means_exact),
                fmt(p.means_law),
                fmt(p.covariances_exact),
                fmt(p.covariances_law)
            ));
        }
        let laws = laws_figure(curves(), current);
        let dendrogram =
            report.and_then(|r| dendrogram_figure(&r.pairwise.dendrogram, class_labels));
        let height = if dendrogram.is_some() {
            ui.available_height() * 0.58
        } else {
            ui.available_height()
        };
        plot(&laws, "speciation laws")
            .height(height.max(120.0))
            .show(ui, |plot_ui| draw(plot_ui, &laws));
        if let Some(dendrogram) = dendrogram {
            plot(&dendrogram, "speciation dendrogram")
                .height((ui.available_height() - 4.0).max(100.0))
                .show_x(false)
                .show(ui, |plot_ui| draw(plot_ui, &dendrogram));
        }
    }
}

/// Leaves in an order where every cluster of `merges` is contiguous (split from the last merge down).
fn leaf_order(merges: &[Merge]) -> Vec<usize> {
    fn order(set: &[usize], merges: &[Merge], out: &mut Vec<usize>) {
        if let [single] = set {
            out.push(*single);
            return;
        }
        let split = merges.iter().rev().find(|m| {
            m.left.len() + m.right.len() == set.len()
                && m.left.iter().chain(&m.right).all(|c| set.contains(c))
        });
        match split {
            Some(m) => {
                order(&m.left, merges, out);
                order(&m.right, merges, out);
            }
            None => out.extend_from_slice(set),
        }
    }
    let Some(last) = merges.last() else {
        return Vec::new();
    };
    let all: Vec<usize> = last.left.iter().chain(&last.right).copied().collect();
    let mut out = Vec::with_capacity(all.len());
    order(&all, merges, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_laws_figure_marks_the_current_dimension_on_a_log_axis() {
        let current = laws_at(10_000);
        let figure = laws_figure(curves(), Some(current));
        assert_eq!(figure.x.scale, crate::figure::Scale::Log);
        // A d beyond the curves widens the axis to show it.
        assert_eq!(figure.x.range, [D_MIN, 10_000.0]);
        let marked = figure.series.iter().any(|s| {
            s.shape
                == Shape::VLine {
                    x: 10_000.0,
                    labelled: false,
                }
        });
        assert!(marked);
        // The ½ ln d law is exactly ½ ln d on every curve point.
        for p in curves() {
            let law = p.means_law.unwrap();
            assert!((law - 0.5 * (p.d as f64).ln()).abs() < 1e-12, "{p:?}");
        }
    }
}
