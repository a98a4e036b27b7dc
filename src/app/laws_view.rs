//! The theory tab: speciation time against dimension for the scene's own classes (the exact finite-d
//! balance time, solid, and its leading-order law, dashed), with the scene's exact times marked at its
//! d — one per split of its dendrogram; below it the dendrogram of the pairwise speciation times of the
//! scene's report. A Gaussian-mixture scene is scaled with d keeping its separation per coordinate
//! (|μ_k − μ_l|²/d) and its variances; an Ising scene draws its leading-order law (its exact time is a
//! Monte Carlo, marked from the speciation run); other scenes draw two reference Gaussian families and
//! say so. Calls the closed forms and bisections of `analysis::speciation::gaussian` (cheap: O(d) per
//! time); no sampling. Both plots are `figure::Figure`s built by pure functions ([`figures`]).

use super::figure_plot::show;
use super::file_dialog::{self, Picked};
use super::{DiffscopeApp, RightTab};
use crate::analysis::speciation::gaussian::{
    ClassCovariance, GaussianClass, classes_of, pair_balance_time, pair_separation,
};
use crate::analysis::speciation::hierarchy::{Merge, dendrogram};
pub use crate::analysis::speciation::laws::{Family, reference_families};
use crate::analysis::speciation::report::SpeciationReport;
use crate::analysis::view_data::sweep::{self, PointRecord, SweepError};
use crate::figure::{Axis, Figure, Label, LegendPlace, Marker, Rgb, Series, Shape};
use crate::model::analytic::AnalyticModel;
use crate::model::ising::Boundary;
use crate::scene::ModelSpec;
use egui::Ui;
use std::path::{Path, PathBuf};

/// Colours of the families, in order (the first split first).
const FAMILY_COLORS: [Rgb; 4] = [
    [86, 180, 233],
    [230, 159, 0],
    [204, 121, 167],
    [0, 114, 178],
];
const CURRENT_COLOR: Rgb = [239, 83, 80];
const DENDROGRAM_COLOR: Rgb = [0, 158, 115];
/// Readable on the light SVG background and on the dark screen theme.
const LEAF_COLOR: Rgb = [86, 140, 233];

/// Dimensions of the drawn curves: 2 … 4096, log-spaced (plus the scene's d).
const CURVE_POINTS: usize = 33;
const D_MIN: f64 = 2.0;
const D_MAX: f64 = 4096.0;

/// The y axis of the laws plot: short, because a short plot (720 p in Present mode) must hold it
/// upright; the figure's title says what t_S is.
pub const TIME_AXIS: &str = "t_S";

/// What the solid and the dashed lines are, for the tab's note.
pub const LINES_EXPLAINED: &str = "Solid: the exact speciation time at each d — the time at which \
the log-likelihood ratio between the two classes, seen from a noisy sample, is as large on average as \
its spread (mean = standard deviation, docs/science/speciation.md §2.2): later in the reverse process \
the classes can be told apart, earlier they cannot. Dashed: its leading-order law for weak signal \
(§2.3–§2.5), e.g. ½ ln d for means ±1.";

/// One point of a family's curves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub d: usize,
    /// Exact finite-d balance time (solid line).
    pub exact: Option<f64>,
    /// Leading-order law (dashed line).
    pub law: Option<f64>,
}

/// A family with its name in the legend and its curves.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyCurve {
    pub name: String,
    pub family: Family,
    pub points: Vec<CurvePoint>,
}

/// An exact time of the scene itself at its d: one split of its dendrogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub t: f64,
    /// The classes on each side of the split, in words.
    pub split: String,
}

/// Everything the laws plot draws for one scene.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneLaws {
    /// The scene's dimension, when it fixes one.
    pub d: Option<usize>,
    pub families: Vec<FamilyCurve>,
    /// The scene's exact speciation times at `d`, latest (first split) first.
    pub marks: Vec<Mark>,
    /// What is drawn, in words (the tab's note and the figure's title).
    pub what: String,
    /// Whether the families are the scene's own classes (else reference families).
    pub own: bool,
}

/// The dimensions of the curves: log-spaced over 2 … 4096 and `extra` (the scene's d), sorted.
fn curve_dims(extra: Option<usize>) -> Vec<usize> {
    let mut dims: Vec<usize> = (0..CURVE_POINTS)
        .map(|i| {
            let f = i as f64 / (CURVE_POINTS - 1) as f64;
            (D_MIN * (D_MAX / D_MIN).powf(f)).round() as usize
        })
        .chain(extra)
        .collect();
    dims.sort_unstable();
    dims.dedup();
    dims
}

/// `family`'s curves at `dims`.
pub fn family_curve(name: &str, family: Family, dims: &[usize]) -> FamilyCurve {
    let points = dims
        .iter()
        .map(|&d| CurvePoint {
            d,
            exact: family.exact(d),
            law: family.law(d),
        })
        .collect();
    FamilyCurve {
        name: name.into(),
        family,
        points,
    }
}

/// The reference families' laws with `d` marked (no exact times: they are not the scene), `why`
/// saying why the scene's own classes are not drawn.
pub fn reference_laws(d: Option<usize>, why: &str) -> SceneLaws {
    let dims = curve_dims(d);
    SceneLaws {
        d,
        families: reference_families()
            .into_iter()
            .map(|(name, f)| family_curve(name, f, &dims))
            .collect(),
        marks: Vec::new(),
        what: format!(
            "{why}: the curves are two reference Gaussian families (means ±1, and variances 1 vs 2), \
             not this scene{}.",
            d.map_or(String::new(), |d| format!(
                "; the red line marks its d = {d}"
            ))
        ),
        own: false,
    }
}

/// Above this d, classes with full (rotated) covariances are not solved here (d × d eigenproblems per
/// time); their exact times come from the speciation run.
const FULL_COVARIANCE_MAX_D: usize = 128;

/// The laws of `model`'s own classes: one family per distinct split of the dendrogram of its exact
/// pairwise balance times, the split's times marked. `report` supplies the exact times the closed forms
/// cannot give (Ising: Monte Carlo). Pure: no files, no sampling.
pub fn scene_laws(model: &ModelSpec, report: Option<&SpeciationReport>) -> SceneLaws {
    let d = model.dim();
    let labels = component_labels(model);
    let report_merges = report.map(|r| r.pairwise.dendrogram.as_slice());
    let reference = |why: &str| reference_laws(d, why);
    let Some(d) = d else {
        return reference(&format!(
            "This scene's model is {} (no closed-form theory in d)",
            match model {
                ModelSpec::Learned(_) => "learned",
                _ => "a sequence model's hidden states",
            }
        ));
    };
    match model.build_analytic() {
        Ok(AnalyticModel::Gaussian(mixture)) => {
            let classes = classes_of(&mixture);
            let full = classes
                .iter()
                .any(|c| matches!(c.cov, ClassCovariance::Full(_)));
            let times = if full && d > FULL_COVARIANCE_MAX_D {
                report
                    .filter(|r| r.pairwise.t.len() == classes.len())
                    .map(|r| flat_times(&r.pairwise.t))
            } else {
                Some(pair_times(classes.len(), |k, l| {
                    pair_balance_time(&classes[k], &classes[l])
                }))
            };
            let Some(times) = times else {
                return reference(&format!(
                    "This scene's classes have full covariances at d = {d} (exact times come from the \
                     speciation run, not in yet)"
                ));
            };
            let family = |k: usize, l: usize| {
                let (a, b) = (&classes[k], &classes[l]);
                Family::Gaussian {
                    gap_per_coordinate: pair_separation(a, b).mean_gap_sq / d as f64,
                    variances: [mean_variance(a), mean_variance(b)],
                }
            };
            let mut laws = own_laws(d, classes.len(), &times, &labels, family);
            laws.what = format!(
                "The curves are this scene's classes scaled with d: the same mean gap per coordinate \
                 |μ_k − μ_l|²/d and the same variances as the pair that defines each split. The red \
                 points are this scene's exact times at d = {d}{}.",
                if full {
                    " (the curves use the mean variance per coordinate)"
                } else {
                    ""
                }
            );
            laws
        }
        Ok(AnalyticModel::Ising(chains)) => {
            let u: Vec<f64> = chains.bonds().iter().map(|b| b.tanh()).collect();
            let periodic = chains.boundary() == Boundary::Periodic;
            let scale = chains.scale();
            let family = |k: usize, l: usize| Family::Ising {
                u: [u[k], u[l]],
                periodic,
                scale,
            };
            // The splits: the report's exact (Monte Carlo) dendrogram when it is in, else the
            // leading-order one.
            let k_count = u.len();
            let times = match report.filter(|r| r.pairwise.t.len() == k_count) {
                Some(r) => flat_times(&r.pairwise.t),
                None => pair_times(k_count, |k, l| family(k, l).law(d)),
            };
            let mut laws = own_laws(d, k_count, &times, &labels, family);
            if report_merges.is_none() {
                laws.marks.clear();
            }
            laws.what = format!(
                "Ising chains: the dashed curves are the leading-order law of this scene's chains \
                 (same β) at each d. The exact time needs a Monte Carlo of the log-likelihood ratio: \
                 {}",
                if laws.marks.is_empty() {
                    "no solid curve; run the speciation lab to mark it at this d.".to_string()
                } else {
                    format!("the red points are those of the speciation run at d = {d}.")
                }
            );
            laws
        }
        Err(e) => reference(&format!("This scene's model is not valid ({e})")),
    }
}

/// Mean variance per coordinate of a class (trace / d).
fn mean_variance(class: &GaussianClass) -> f64 {
    let d = class.mean.len().max(1) as f64;
    match &class.cov {
        ClassCovariance::Diagonal(v) => v.iter().sum::<f64>() / d,
        ClassCovariance::Full(m) => m.trace() / d,
    }
}

/// `[K, K]` row-major symmetric times of every pair (NaN when unknown).
fn pair_times(k: usize, time: impl Fn(usize, usize) -> Option<f64>) -> Vec<f64> {
    let mut flat = vec![f64::NAN; k * k];
    for a in 0..k {
        for b in (a + 1)..k {
            let t = time(a, b).unwrap_or(f64::NAN);
            flat[a * k + b] = t;
            flat[b * k + a] = t;
        }
    }
    flat
}

fn flat_times(rows: &[Vec<Option<f64>>]) -> Vec<f64> {
    rows.iter()
        .flat_map(|row| row.iter().map(|t| t.unwrap_or(f64::NAN)))
        .collect()
}

/// The scene's own laws from its `[K, K]` pairwise times: each dendrogram split (first split first)
/// marked at its time, and one family per distinct defining pair (the pair across the split whose time
/// is the split's).
fn own_laws(
    d: usize,
    classes: usize,
    times: &[f64],
    labels: &[String],
    family_of: impl Fn(usize, usize) -> Family,
) -> SceneLaws {
    let merges = dendrogram(classes, times);
    let dims = curve_dims(Some(d));
    let name = |k: usize| {
        labels
            .get(k)
            .filter(|l| !l.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("class {k}"))
    };
    let side = |set: &[usize]| set.iter().map(|&k| name(k)).collect::<Vec<_>>().join(", ");
    let splits = merges.len();
    let mut families: Vec<FamilyCurve> = Vec::new();
    let mut marks = Vec::new();
    for merge in merges.iter().rev() {
        marks.push(Mark {
            t: merge.time,
            split: format!("{{{}}} | {{{}}}", side(&merge.left), side(&merge.right)),
        });
        let defining = merge
            .left
            .iter()
            .flat_map(|&k| merge.right.iter().map(move |&l| (k, l)))
            .min_by(|a, b| times[a.0 * classes + a.1].total_cmp(&times[b.0 * classes + b.1]));
        let Some((k, l)) = defining else { continue };
        let family = family_of(k.min(l), k.max(l));
        if families.iter().any(|f| same_family(&f.family, &family)) {
            continue;
        }
        let name = match (splits, families.len()) {
            (1, _) => "this scene's classes".to_string(),
            (_, 0) => "first split".to_string(),
            (_, 1) => "second split".to_string(),
            (_, n) => format!("split {}", n + 1),
        };
        families.push(family_curve(&name, family, &dims));
    }
    SceneLaws {
        d: Some(d),
        families,
        marks,
        what: String::new(),
        own: true,
    }
}

/// Families equal up to rounding (splits of a symmetric hierarchy share one).
fn same_family(a: &Family, b: &Family) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    match (a, b) {
        (
            Family::Gaussian {
                gap_per_coordinate: g1,
                variances: v1,
            },
            Family::Gaussian {
                gap_per_coordinate: g2,
                variances: v2,
            },
        ) => {
            close(*g1, *g2)
                && ((close(v1[0], v2[0]) && close(v1[1], v2[1]))
                    || (close(v1[0], v2[1]) && close(v1[1], v2[0])))
        }
        (Family::Ising { u: u1, .. }, Family::Ising { u: u2, .. }) => {
            (close(u1[0], u2[0]) && close(u1[1], u2[1]))
                || (close(u1[0], u2[1]) && close(u1[1], u2[0]))
        }
        _ => false,
    }
}

/// The class names a scene gives its components ("" when none).
fn component_labels(model: &ModelSpec) -> Vec<String> {
    match model {
        ModelSpec::GaussianMixture(g) => g
            .components
            .iter()
            .map(|c| c.label.clone().unwrap_or_default())
            .collect(),
        ModelSpec::IsingMixture(m) => m
            .components
            .iter()
            .map(|c| c.label.clone().unwrap_or_default())
            .collect(),
        ModelSpec::Learned(_) | ModelSpec::Onnx(_) | ModelSpec::HiddenStates(_) => Vec::new(),
    }
}

/// Where the laws' formulas are written: at this dimension, above their dashed curves.
const LAW_LABEL_D: f64 = 512.0;

/// Legend name of a family's exact (solid) curve.
pub fn exact_name(family: &str) -> String {
    format!("{family}: exact")
}

/// Legend name of a family's leading-order (dashed) curve.
pub fn law_name(family: &str) -> String {
    format!("{family}: law")
}

/// The laws plot: for every family its exact balance time (solid) and its leading-order law (dashed)
/// against d on a log axis, the scene's d marked and its exact times at d as points.
pub fn laws_figure(laws: &SceneLaws) -> Figure {
    let mut series = Vec::new();
    let mut top: f64 = 0.0;
    for (i, curve) in laws.families.iter().enumerate() {
        let color = FAMILY_COLORS[i % FAMILY_COLORS.len()];
        let pick = |exact: bool| -> Vec<[f64; 2]> {
            curve
                .points
                .iter()
                .filter_map(|p| if exact { p.exact } else { p.law }.map(|t| [p.d as f64, t]))
                .collect()
        };
        let (exact, law) = (pick(true), pick(false));
        top = exact
            .iter()
            .chain(&law)
            .map(|p| p[1])
            .filter(|t| t.is_finite())
            .fold(top, f64::max);
        // Its formula a little above the dashed curve, near d = 512.
        let label = law
            .iter()
            .min_by(|a, b| {
                (a[0].ln() - LAW_LABEL_D.ln())
                    .abs()
                    .total_cmp(&(b[0].ln() - LAW_LABEL_D.ln()).abs())
            })
            .map(|p| Label {
                at: [p[0], p[1] + 0.12],
                text: curve.family.law_text(),
            });
        if !exact.is_empty() {
            series.push(Series {
                name: exact_name(&curve.name),
                color,
                shape: Shape::Line {
                    points: exact,
                    dashed: false,
                },
            });
        }
        series.push(Series {
            name: law_name(&curve.name),
            color,
            shape: Shape::Line {
                points: law,
                dashed: true,
            },
        });
        series.push(Series {
            name: format!("{} (formula)", curve.name),
            color,
            shape: Shape::Labels {
                labels: label.into_iter().collect(),
            },
        });
    }
    let mut d_range = [D_MIN, D_MAX];
    if let Some(d) = laws.d {
        let x = d as f64;
        d_range = [d_range[0].min(x), d_range[1].max(x)];
        series.push(Series {
            name: format!("this scene: d = {d}"),
            color: CURRENT_COLOR,
            // Named in the legend, not at the top of the line: at small d the line runs under the
            // top-left legend, which would hide its label.
            shape: Shape::VLine { x, labelled: false },
        });
        if !laws.marks.is_empty() {
            top = laws.marks.iter().map(|m| m.t).fold(top, f64::max);
            let times: Vec<String> = laws.marks.iter().map(|m| format!("{:.2}", m.t)).collect();
            series.push(Series {
                name: format!("exact t_S here: {}", times.join(", ")),
                color: CURRENT_COLOR,
                shape: Shape::Points {
                    points: laws.marks.iter().map(|m| [x, m.t]).collect(),
                    errors: None,
                    marker: Marker::Circle,
                },
            });
        }
    }
    Figure {
        title: if laws.own {
            "Speciation time t_S against dimension: this scene's classes".into()
        } else {
            "Speciation time t_S against dimension: reference families".into()
        },
        x: Axis::log("dimension d (log scale)", d_range),
        y: Axis::linear(TIME_AXIS, [0.0, 1.08 * top.max(0.5)]),
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
        // Short enough to stand beside the plot at 720 p in Present mode; the legend says how the
        // times are made.
        y: Axis::linear("split time t", [-0.13 * top, 1.15 * top]),
        series: vec![
            Series {
                name: "dendrogram".into(),
                color: DENDROGRAM_COLOR,
                shape: Shape::Segments { segments },
            },
            Series {
                name: "split times (exact, pairwise speciation)".into(),
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

/// The Theory tab's figures: the laws plot of `model` ([`scene_laws`]), then the dendrogram of
/// `report` when it has one. The screen and the exports draw these.
pub fn figures(
    model: &ModelSpec,
    report: Option<&SpeciationReport>,
    class_labels: &[String],
) -> Vec<Figure> {
    let mut figures = vec![laws_figure(&scene_laws(model, report))];
    figures.extend(report.and_then(|r| dendrogram_figure(&r.pairwise.dendrogram, class_labels)));
    figures
}

/// A sweep folder (`diffscope sweep run`) opened in the Theory tab: its points and their figures, the
/// ones `diffscope sweep collect --svg` draws (measured t_mid ± s.e., the exact crossings, the laws; or
/// a metrics sweep's metrics against model size).
#[derive(Clone, Debug)]
pub struct OpenSweep {
    pub dir: PathBuf,
    pub records: Vec<PointRecord>,
    pub figures: Vec<Figure>,
}

impl OpenSweep {
    /// Collects the point files of `dir` and builds their figures.
    pub fn load(dir: &Path) -> Result<OpenSweep, SweepError> {
        let records = sweep::collect(dir)?;
        let figures = sweep::figures(&records)?;
        Ok(OpenSweep {
            dir: dir.to_path_buf(),
            records,
            figures,
        })
    }

    /// Whether the sweep measured speciation times (else only geometry metrics).
    fn speciation(&self) -> bool {
        self.records.iter().any(|r| r.theory.is_some())
    }

    /// What the tab says above the figures: the folder, its points and how far each lies from theory.
    pub fn summary(&self) -> String {
        if !self.speciation() {
            return format!(
                "Sweep {}: {} points of geometry metrics, each of the sampled cloud at its last \
                 stored step.",
                self.dir.display(),
                self.records.len()
            );
        }
        let within = self
            .records
            .iter()
            .filter_map(sweep::deviation)
            .filter(|z| z.abs() <= 2.0)
            .count();
        let measured = self
            .records
            .iter()
            .filter(|r| sweep::deviation(r).is_some())
            .count();
        format!(
            "Sweep {}: {} points, {measured} with a measured crossing; the measured t_mid of \
             {within} of them lies within 2 standard errors of its exact crossing.",
            self.dir.display(),
            self.records.len()
        )
    }
}

/// The laws of the last scene asked for, recomputed only when its model or the report's pairwise
/// times change, and the sweep folder shown instead of them, if one is open.
#[derive(Default)]
pub struct LawsView {
    cache: Option<(ModelSpec, Option<PairTimes>, SceneLaws)>,
    sweep: Option<OpenSweep>,
    /// Why the last folder chosen in the tab could not be opened.
    sweep_error: Option<String>,
}

/// A report's pairwise times `[K][K]` (part of the cache key).
type PairTimes = Vec<Vec<Option<f64>>>;

impl LawsView {
    /// The sweep folder on display, if any.
    pub fn sweep(&self) -> Option<&OpenSweep> {
        self.sweep.as_ref()
    }

    /// Shows `sweep` in place of the scene's laws until it is closed.
    pub fn show_sweep(&mut self, sweep: OpenSweep) {
        self.sweep = Some(sweep);
        self.sweep_error = None;
    }

    /// The button that opens a sweep folder, the open sweep's close button, and the chooser's error.
    fn sweep_bar(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Open sweep folder…")
                .on_hover_text("a folder of point files written by `diffscope sweep run`")
                .clicked()
            {
                let opened = match file_dialog::pick_folder() {
                    Picked::Path(dir) => Some(OpenSweep::load(&dir).map_err(|e| e.to_string())),
                    Picked::Cancelled => None,
                    Picked::Unavailable(why) => Some(Err(format!(
                        "{why}: open the folder from the command line, `diffscope DIR`"
                    ))),
                };
                match opened {
                    Some(Ok(sweep)) => self.show_sweep(sweep),
                    Some(Err(e)) => self.sweep_error = Some(e),
                    None => {}
                }
            }
            if self.sweep.is_some() && ui.button("Close sweep").clicked() {
                self.sweep = None;
            }
            if let Some(error) = &self.sweep_error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
        });
    }

    /// The laws of `model` (cached).
    pub fn laws(&mut self, model: &ModelSpec, report: Option<&SpeciationReport>) -> &SceneLaws {
        let key = report.map(|r| r.pairwise.t.clone());
        let fresh = matches!(&self.cache, Some((m, k, _)) if m == model && *k == key);
        if !fresh {
            self.cache = Some((model.clone(), key, scene_laws(model, report)));
        }
        let (_, _, laws) = self.cache.as_ref().expect("just filled");
        laws
    }

    /// The sweep bar (with `controls`: not on a slide or in an exported figure); then the open sweep's
    /// figure, or what is drawn and the scene's exact times in words, the laws plot, then the
    /// report's dendrogram.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        model: &ModelSpec,
        report: Option<&SpeciationReport>,
        class_labels: &[String],
        controls: bool,
    ) {
        if controls {
            self.sweep_bar(ui);
        }
        if let Some(sweep) = &self.sweep {
            ui.label(sweep.summary());
            if sweep.speciation() {
                ui.label(SWEEP_EXPLAINED);
            }
            let height = ui.available_height() / sweep.figures.len().max(1) as f32 - 4.0;
            for (i, figure) in sweep.figures.iter().enumerate() {
                show(
                    ui,
                    figure,
                    &format!("sweep {i}"),
                    height.max(120.0),
                    |plot| plot,
                    |_| {},
                );
            }
            return;
        }
        let laws = self.laws(model, report).clone();
        // The words scroll in at most a third of the tab, so the plots keep their height in large type
        // (Present mode) and short windows.
        egui::ScrollArea::vertical()
            .id_salt("laws text")
            .max_height(ui.available_height() / 3.0)
            .show(ui, |ui| {
                ui.label(&laws.what);
                for mark in &laws.marks {
                    ui.label(format!("t_S = {:.3}: {}", mark.t, mark.split));
                }
                ui.label(LINES_EXPLAINED);
            });
        let figure = laws_figure(&laws);
        let dendrogram =
            report.and_then(|r| dendrogram_figure(&r.pairwise.dendrogram, class_labels));
        let height = if dendrogram.is_some() {
            ui.available_height() * 0.58
        } else {
            ui.available_height()
        };
        show(
            ui,
            &figure,
            "speciation laws",
            height.max(120.0),
            |plot| plot,
            |_| {},
        );
        if let Some(dendrogram) = dendrogram {
            show(
                ui,
                &dendrogram,
                "speciation dendrogram",
                ui.available_height() - 4.0,
                |plot| plot.show_x(false),
                |_| {},
            );
        }
    }
}

/// What the sweep figure draws, for the tab's note.
pub const SWEEP_EXPLAINED: &str = "Points: the midpoint crossing t_mid measured by cloning at each \
point, ± its bootstrap standard error. Line: the exact-posterior crossing of each point. Dashed: the \
leading-order laws of the reference families (a sweep over model.dim only).";

impl DiffscopeApp {
    /// Opens a sweep folder in the Theory tab (a folder given to the app or its Open… path); its
    /// errors go to the status bar. An app with nothing on display also starts its scene's jobs, so
    /// the other tabs are not left empty.
    pub(super) fn open_sweep(&mut self, dir: &Path) {
        match OpenSweep::load(dir) {
            Ok(sweep) => {
                self.jobs.notify(format!(
                    "opened the sweep {} ({} points)",
                    dir.display(),
                    sweep.records.len()
                ));
                self.views.laws.show_sweep(sweep);
                self.views.right_tab = RightTab::Theory;
                if self.results.cloud.is_none() && self.jobs.idle() {
                    self.restart(true, true);
                }
            }
            Err(e) => self
                .jobs
                .report(format!("could not open the sweep folder: {e}")),
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
    use crate::figure::Swatch;
    use crate::scene::{CovSpec, GaussianComponent, GaussianMixtureSpec, MeanSpec, Scene};
    use std::path::Path;

    /// ½ N(m₁ 1, I) + ½ N(m₂ 1, I) at dimension d.
    fn two_gaussians(d: usize, m1: f64, m2: f64) -> ModelSpec {
        let component = |m: f64| GaussianComponent {
            weight: 0.5,
            mean: Some(MeanSpec::Fill { fill: m }),
            cov: CovSpec::Isotropic(1.0),
            label: None,
        };
        ModelSpec::GaussianMixture(GaussianMixtureSpec {
            dim: d,
            components: vec![component(m1), component(m2)],
        })
    }

    fn teaching_scene(name: &str) -> Scene {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/scenes/teaching")
            .join(name);
        Scene::load(&path).unwrap()
    }

    fn marked_points(figure: &Figure) -> Vec<[f64; 2]> {
        figure
            .series
            .iter()
            .filter(|s| s.color == CURRENT_COLOR)
            .find_map(|s| match &s.shape {
                Shape::Points { points, .. } => Some(points.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_laws_figure_marks_the_current_dimension_on_a_log_axis() {
        let laws = scene_laws(&two_gaussians(10_000, 1.0, -1.0), None);
        let figure = laws_figure(&laws);
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
        // For means ±1 the law is exactly ½ ln d on every curve point.
        let [family] = laws.families.as_slice() else {
            panic!("one split, one family: {:?}", laws.families);
        };
        assert_eq!(family.family.law_text(), "½ ln d");
        for p in &family.points {
            let law = p.law.unwrap();
            assert!((law - 0.5 * (p.d as f64).ln()).abs() < 1e-12, "{p:?}");
        }
    }

    /// Issue #14: means +0.5·1 and −1·1 at d = 600 are not the default ±1 family. The marked point is
    /// the exact balance time of the scene's own classes (≈ ½ ln Λ = 2.91), not ½ ln 600 = 3.198, and
    /// the solid curve passes through it.
    #[test]
    fn the_marked_point_is_the_scenes_own_balance_time() {
        let d = 600;
        let class = |m: f64| GaussianClass {
            weight: 0.5,
            mean: vec![m; d],
            cov: ClassCovariance::Diagonal(vec![1.0; d]),
        };
        let expected = pair_balance_time(&class(0.5), &class(-1.0)).unwrap();
        let laws = scene_laws(&two_gaussians(d, 0.5, -1.0), None);
        assert!(laws.own, "{}", laws.what);
        let figure = laws_figure(&laws);
        let points = marked_points(&figure);
        assert_eq!(points, vec![[d as f64, expected]]);
        // Independently: ½ a²|δμ|² = 2 at leading order, |δμ|² = 1.5² d, so t ≈ ½ ln(1.5² d / 4) = 2.91.
        assert!(
            (expected - 0.5 * (2.25 * d as f64 / 4.0).ln()).abs() < 0.02,
            "{expected}"
        );
        assert!((expected - 3.198).abs() > 0.2, "{expected}");
        let family = &laws.families[0];
        let at_d = family.points.iter().find(|p| p.d == d).unwrap();
        assert!((at_d.exact.unwrap() - expected).abs() < 1e-12);
        assert_eq!(
            family.family,
            Family::Gaussian {
                gap_per_coordinate: 2.25,
                variances: [1.0, 1.0]
            }
        );
    }

    /// Teaching scene 5 (four classes at ±m₁ ± m₂, |m₁|² = 256, |m₂|² = 16, d = 16): every split of
    /// its dendrogram is marked, the first (top) one at 2.77 — the smallest exact balance time between
    /// the classes of the two groups, computed here from the scene's classes.
    #[test]
    fn a_hierarchy_marks_every_split_of_its_dendrogram() {
        let scene = teaching_scene("05-hierarchy.json");
        let AnalyticModel::Gaussian(mixture) = scene.model.build_analytic().unwrap() else {
            panic!("a Gaussian mixture");
        };
        let classes = classes_of(&mixture);
        let groups = scene.speciation.as_ref().unwrap().groups.clone().unwrap();
        let across = groups[0]
            .iter()
            .flat_map(|&k| groups[1].iter().map(move |&l| (k, l)))
            .filter_map(|(k, l)| pair_balance_time(&classes[k], &classes[l]))
            .fold(f64::INFINITY, f64::min);
        let within = pair_balance_time(&classes[0], &classes[1]).unwrap();
        assert!((across - 2.77).abs() < 0.02, "{across}");
        let laws = scene_laws(&scene.model, None);
        let times: Vec<f64> = marked_points(&laws_figure(&laws))
            .iter()
            .map(|p| p[1])
            .collect();
        assert_eq!(times.len(), 3, "{times:?}");
        assert!((times[0] - across).abs() < 1e-12, "{times:?}");
        assert!((times[0] - 2.77).abs() < 0.02, "{times:?}");
        assert!(times[1..].iter().all(|t| (t - within).abs() < 1e-12));
        assert!((within - 0.5 * 16f64.ln()).abs() < 0.05, "{within}");
        // Two families (the splits of m₁ and of m₂), the first split first.
        let names: Vec<&str> = laws.families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["first split", "second split"]);
        assert!(laws.marks[0].split.contains("+m1 +m2"), "{:?}", laws.marks);
    }

    /// The legend names the exact line and the law, each drawn with its own swatch (solid, dashed), and
    /// the tab's words say which is which.
    #[test]
    fn the_legend_tells_solid_from_dashed() {
        let figure = laws_figure(&scene_laws(&two_gaussians(64, 1.0, -1.0), None));
        let entries = figure.legend_entries();
        let line = |dashed: bool| {
            entries
                .iter()
                .find(|e| e.swatch == Swatch::Line { dashed })
                .map(|e| e.name)
        };
        let solid = line(false).expect("a solid swatch in the legend");
        let dash = line(true).expect("a dashed swatch in the legend");
        assert!(solid.ends_with("exact"), "{solid}");
        assert!(dash.ends_with("law"), "{dash}");
        assert!(
            LINES_EXPLAINED.starts_with("Solid: the exact")
                && LINES_EXPLAINED.contains("Dashed: its leading-order law"),
            "{LINES_EXPLAINED}"
        );
        assert!(!figure.y.label.contains("mean = std"), "{}", figure.y.label);
        // The exported legend draws a line swatch for each, dashed for the law.
        let document = crate::figure::svg::document(&[(&figure, 400.0)], 600.0, None);
        let (_, legend) = document.split_once(r#"<g class="legend">"#).unwrap();
        let legend = &legend[..legend.find("</g>").unwrap()];
        let swatches: Vec<&str> = legend.lines().filter(|l| l.starts_with("<line")).collect();
        assert!(
            swatches.iter().any(|l| l.contains("stroke-dasharray")),
            "{legend}"
        );
        assert!(
            swatches.iter().any(|l| !l.contains("stroke-dasharray")),
            "{legend}"
        );
    }

    /// Scenes without closed forms say what is drawn: Ising chains their own leading-order law (no
    /// solid curve before the speciation run), learned models the reference families.
    #[test]
    fn other_scenes_say_what_is_drawn() {
        let ising = scene_laws(&teaching_scene("03-ising-chains.json").model, None);
        assert!(ising.own && ising.marks.is_empty());
        assert!(ising.what.contains("Monte Carlo"), "{}", ising.what);
        assert!(ising.families[0].points.iter().all(|p| p.exact.is_none()));
        // Case D of docs/science/speciation.md §4.1: leading-order balance 0.571 at d = 100.
        let at_100 = ising.families[0]
            .points
            .iter()
            .find(|p| p.d == 100)
            .unwrap();
        assert!((at_100.law.unwrap() - 0.571).abs() < 0.002, "{at_100:?}");
        let learned = teaching_scene("07-learned-vs-exact.json");
        let laws = scene_laws(&learned.model, None);
        assert!(
            !laws.own && laws.what.contains("reference"),
            "{}",
            laws.what
        );
        assert_eq!(laws.families.len(), 2);
    }
}
