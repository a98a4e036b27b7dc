//! The theory tab: speciation time against dimension for mean-separated classes (exact balance time and
//! the ½ ln d law) and covariance-only classes (exact and the ¼ ln d law), with the scene's current d
//! marked; below it the dendrogram of the pairwise speciation times of the scene's report. Calls the
//! closed forms and bisections of `analysis::speciation::gaussian` (cheap: O(d) per time); no sampling.

use crate::analysis::speciation::gaussian::{
    ClassCovariance, GaussianClass, leading_order, pair_balance_time, pair_separation,
};
use crate::analysis::speciation::hierarchy::Merge;
use crate::analysis::speciation::report::SpeciationReport;
use egui::{Align2, Color32, RichText, Ui};
use egui_plot::{Legend, Line, LineStyle, MarkerShape, Plot, PlotPoint, Points, Text, VLine};

const MEANS_COLOR: Color32 = Color32::from_rgb(86, 180, 233);
const COVARIANCES_COLOR: Color32 = Color32::from_rgb(230, 159, 0);
const CURRENT_COLOR: Color32 = Color32::from_rgb(239, 83, 80);

/// Dimensions of the drawn curves: 2 … 4096, log-spaced.
const CURVE_POINTS: usize = 33;
const D_MIN: f64 = 2.0;
const D_MAX: f64 = 4096.0;

/// The two families' speciation times (balance M = S, spec §2.2) at one dimension d.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LawPoint {
    pub d: usize,
    /// ½ N(+m, I) + ½ N(−m, I), m = (1, …, 1): exact finite-d balance time.
    pub means_exact: Option<f64>,
    /// Its leading-order law ½ ln(|m|²) = ½ ln d (spec §2.3).
    pub means_law: Option<f64>,
    /// ½ N(0, I) + ½ N(0, 2I): exact finite-d balance time.
    pub covariances_exact: Option<f64>,
    /// Its leading-order law ½ ln(‖ΔC‖_F / 2√2) = ¼ ln(d / 8) (spec §2.4 i).
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

/// The curves (computed once) and the marker at the last d asked for.
#[derive(Default)]
pub struct LawsView {
    curves: Vec<LawPoint>,
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

    fn curves(&mut self) -> &[LawPoint] {
        if self.curves.is_empty() {
            self.curves = (0..CURVE_POINTS)
                .map(|i| {
                    let f = i as f64 / (CURVE_POINTS - 1) as f64;
                    (D_MIN * (D_MAX / D_MIN).powf(f)).round() as usize
                })
                .map(laws_at)
                .collect();
        }
        &self.curves
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
        let has_dendrogram = report.is_some_and(|r| r.pairwise.dendrogram.len() > 1);
        let height = if has_dendrogram {
            ui.available_height() * 0.58
        } else {
            ui.available_height()
        };
        let curves = self.curves().to_vec();
        let series = |pick: fn(&LawPoint) -> Option<f64>| -> Vec<[f64; 2]> {
            curves
                .iter()
                .filter_map(|p| pick(p).map(|t| [(p.d as f64).ln(), t]))
                .collect()
        };
        Plot::new("speciation laws")
            .height(height.max(120.0))
            .legend(Legend::default().position(egui_plot::Corner::LeftTop))
            .x_axis_label("dimension d (log scale)")
            .y_axis_label("speciation time t_S (mean = std)")
            .x_axis_formatter(|mark, _| format!("{:.0}", mark.value.exp()))
            .include_y(0.0)
            .show(ui, |plot| {
                plot.line(
                    Line::new("means ±m: exact", series(|p| p.means_exact))
                        .color(MEANS_COLOR)
                        .width(3.0),
                );
                plot.line(
                    Line::new("½ ln d", series(|p| p.means_law))
                        .color(MEANS_COLOR)
                        .style(LineStyle::dashed_loose())
                        .width(1.5),
                );
                plot.line(
                    Line::new("variance 1 vs 2: exact", series(|p| p.covariances_exact))
                        .color(COVARIANCES_COLOR)
                        .width(3.0),
                );
                plot.line(
                    Line::new("¼ ln(d/8)", series(|p| p.covariances_law))
                        .color(COVARIANCES_COLOR)
                        .style(LineStyle::dashed_loose())
                        .width(1.5),
                );
                if let Some(p) = current {
                    let x = (p.d as f64).ln();
                    plot.vline(VLine::new(format!("d = {}", p.d), x).color(CURRENT_COLOR));
                    let marks: Vec<[f64; 2]> = [p.means_exact, p.covariances_exact]
                        .into_iter()
                        .flatten()
                        .map(|t| [x, t])
                        .collect();
                    plot.points(
                        Points::new(format!("d = {}", p.d), marks)
                            .shape(MarkerShape::Circle)
                            .filled(true)
                            .radius(6.0)
                            .color(CURRENT_COLOR),
                    );
                }
            });
        if let Some(report) = report.filter(|_| has_dendrogram) {
            dendrogram_ui(ui, &report.pairwise.dendrogram, class_labels);
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

/// The dendrogram: classes along x, each merge drawn at its speciation time (y = t).
fn dendrogram_ui(ui: &mut Ui, merges: &[Merge], class_labels: &[String]) {
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
    Plot::new("speciation dendrogram")
        .height((ui.available_height() - 4.0).max(100.0))
        .x_axis_label("classes")
        .y_axis_label("speciation time t (pairwise mean = std)")
        .show_x(false)
        .include_y(0.0)
        .include_x(-0.5)
        .include_x(leaves.len() as f64 - 0.5)
        .show(ui, |plot| {
            for merge in merges.iter().filter(|m| m.time.is_finite()) {
                let (xl, xr) = (centre(&merge.left), centre(&merge.right));
                let (hl, hr) = (formed(&merge.left), formed(&merge.right));
                // Three separate segments: a joined path is drawn as a filled shape here.
                let segments = [
                    [[xl, hl], [xl, merge.time]],
                    [[xl, merge.time], [xr, merge.time]],
                    [[xr, merge.time], [xr, hr]],
                ];
                for segment in segments {
                    plot.line(
                        Line::new("dendrogram", segment.to_vec())
                            .color(Color32::from_rgb(0, 158, 115))
                            .width(2.5),
                    );
                }
                plot.text(
                    Text::new(
                        "dendrogram",
                        PlotPoint::new(0.5 * (xl + xr), merge.time),
                        RichText::new(format!("t = {:.2}", merge.time))
                            .size(14.0)
                            .strong(),
                    )
                    .anchor(Align2::CENTER_BOTTOM),
                );
            }
            for (x, &class) in leaves.iter().enumerate() {
                let name = class_labels
                    .get(class)
                    .filter(|l| !l.is_empty())
                    .cloned()
                    .unwrap_or_else(|| format!("class {class}"));
                plot.text(
                    Text::new(
                        "dendrogram",
                        PlotPoint::new(x as f64, 0.0),
                        RichText::new(name).size(14.0).strong(),
                    )
                    .anchor(Align2::CENTER_BOTTOM),
                );
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_of_a_two_level_hierarchy_are_contiguous() {
        let merges = vec![
            Merge {
                time: 1.4,
                left: vec![0],
                right: vec![2],
            },
            Merge {
                time: 1.5,
                left: vec![1],
                right: vec![3],
            },
            Merge {
                time: 2.8,
                left: vec![0, 2],
                right: vec![1, 3],
            },
        ];
        assert_eq!(leaf_order(&merges), vec![0, 2, 1, 3]);
    }
}
