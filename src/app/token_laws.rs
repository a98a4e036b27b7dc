//! The Theory tab of a token scene (`docs/science/discrete.md` §5): the law table (Gaussian, flip and
//! mask noise × classes that differ in marginals or only in correlations) with the scene's cell
//! marked, its length L, exact φ_post crossing t_mid, balance time t_balance and leading-order law in
//! words, and a figure of the law against L for the scene's classes under mask and flip noise with the
//! scene's numbers at its L. Draws [`TokenTheory`] (`analysis::view_data::token_laws`); computes
//! nothing.

use super::figure_plot::show;
use crate::analysis::speciation::discrete_laws::{ClassDifference, LawNoise, law_text};
use crate::analysis::view_data::token_laws::{L_MAX, L_MIN, TokenTheory, token_theory};
use crate::figure::{Axis, Figure, LegendPlace, Marker, Rgb, Series, Shape};
use crate::model::discrete::DiscreteNoise;
use egui::{RichText, Ui};

const MASK_COLOR: Rgb = [230, 159, 0];
const FLIP_COLOR: Rgb = [86, 180, 233];
const CURRENT_COLOR: Rgb = [239, 83, 80];
const BALANCE_COLOR: Rgb = [0, 158, 115];

fn noise_color(noise: DiscreteNoise) -> Rgb {
    match noise {
        DiscreteNoise::Mask => MASK_COLOR,
        DiscreteNoise::Flip => FLIP_COLOR,
    }
}

/// A time, or "—" when there is none.
fn time(t: Option<f64>) -> String {
    t.map_or("—".into(), |t| format!("{t:.3}"))
}

/// What the scene's numbers are, in words: its cell of the table, then t_mid, t_balance and the law
/// at its L.
pub fn summary(theory: &TokenTheory) -> String {
    let noise = theory.noise.name();
    let cell = match &theory.law {
        Ok(law) => format!(
            "This scene: {noise} noise, {}, L = {}: the law {} with c = {:.3} gives t = {} at this L.",
            law.difference.name(),
            theory.length,
            law_text(law.noise, law.difference),
            law.constant,
            time(theory.law_at_length()),
        ),
        Err(why) => format!(
            "This scene: {noise} noise, L = {}: no law of the table ({why}).",
            theory.length
        ),
    };
    let balance = match (theory.t_balance, theory.balance_exact) {
        (Some(t), true) => format!("{t:.3} (closed form: independent sites)"),
        (Some(t), false) => format!("{t:.3} (Monte Carlo of the speciation lab)"),
        (None, _) if theory.law.is_ok() => "— (the speciation lab computes it)".into(),
        (None, _) => "— (not defined: a revealed token can decide the class)".into(),
    };
    format!(
        "{cell} Exact crossing t_mid (φ_post = midpoint level) = {}; balance time t_balance (M = S) \
         = {balance}.",
        match theory.t_mid {
            Some(t) => format!("{t:.3}"),
            None => "— (the speciation lab computes it)".into(),
        },
    )
}

/// What the lines are, for the tab's note.
pub const LINES_EXPLAINED: &str = "Dashed: the leading-order law slope · ln L + c of this scene's \
two classes under mask and under flip noise (the slope is the table's, c is the scene's own). Solid: \
the exact balance time M = S where it has a closed form (independent sites). Points: this scene's \
exact t_mid and t_balance at its L. Mask returns information in proportion to α = e^{−t}, flip in \
proportion to α², so under mask the classes separate later and their time grows twice as fast with \
ln L. Times below 0 are not drawn (the classes are apart at every t there).";

/// The law against L: both noises' laws (dashed) and closed-form balance times (solid), the scene's L
/// marked and its exact t_mid and t_balance as points.
pub fn figure(theory: &TokenTheory) -> Figure {
    let mut series = Vec::new();
    let mut top: f64 = 0.5;
    for curve in &theory.curves {
        let color = noise_color(curve.noise);
        let name = curve.noise.name();
        // A time below 0 is no time of the process.
        let positive = |points: &[[f64; 2]]| -> Vec<[f64; 2]> {
            points.iter().copied().filter(|p| p[1] >= 0.0).collect()
        };
        let (law_points, balance_points) =
            (positive(&curve.law_points), positive(&curve.balance_points));
        for p in law_points.iter().chain(&balance_points) {
            top = top.max(p[1]);
        }
        if !balance_points.is_empty() {
            series.push(Series {
                name: format!("{name}: exact balance"),
                color,
                shape: Shape::Line {
                    points: balance_points,
                    dashed: false,
                },
            });
        }
        series.push(Series {
            name: format!(
                "{name}: law {}",
                law_text(curve.law.noise, curve.law.difference)
            ),
            color,
            shape: Shape::Line {
                points: law_points,
                dashed: true,
            },
        });
    }
    let x = theory.length as f64;
    series.push(Series {
        name: format!("this scene: L = {}", theory.length),
        color: CURRENT_COLOR,
        shape: Shape::VLine { x, labelled: false },
    });
    let mut point = |name: &str, t: Option<f64>, color: Rgb, marker: Marker| {
        if let Some(t) = t {
            top = top.max(t);
            series.push(Series {
                name: format!("{name} = {t:.3}"),
                color,
                shape: Shape::Points {
                    points: vec![[x, t]],
                    errors: None,
                    marker,
                },
            });
        }
    };
    point("exact t_mid", theory.t_mid, CURRENT_COLOR, Marker::Circle);
    point(
        "exact t_balance",
        theory.t_balance,
        BALANCE_COLOR,
        Marker::Diamond,
    );
    Figure {
        title: "Speciation time against sequence length: this scene's classes".into(),
        x: Axis::log(
            "sequence length L (log scale)",
            [L_MIN.min(x), L_MAX.max(x)],
        ),
        y: Axis::linear("t", [0.0, 1.08 * top]),
        series,
        legend: LegendPlace::LeftTop,
    }
}

/// The law table as rows of cells, the scene's cell marked "(this scene, L = …)".
pub fn table_rows(theory: &TokenTheory) -> Vec<[String; 3]> {
    LawNoise::ALL
        .iter()
        .map(|&noise| {
            let cell = |difference: ClassDifference| {
                let text = law_text(noise, difference).to_string();
                if theory.is_scene_cell(noise, difference) {
                    // On its own line: the table must fit the Theory tab at Present mode's type size.
                    format!("{text}\n(this scene, L = {})", theory.length)
                } else {
                    text
                }
            };
            [
                noise.name().to_string(),
                cell(ClassDifference::Marginals),
                cell(ClassDifference::Correlations),
            ]
        })
        .collect()
}

/// The tab: the table, the scene's numbers, then the figure below.
pub fn ui(ui: &mut Ui, theory: &TokenTheory) {
    egui::ScrollArea::vertical()
        .id_salt("token laws text")
        .max_height(ui.available_height() / 2.5)
        .show(ui, |ui| {
            egui::Grid::new("token law table")
                .striped(true)
                .show(ui, |ui| {
                    ui.strong("noise");
                    for d in ClassDifference::ALL {
                        // "classes differ only in correlations" on two lines, for the same reason.
                        ui.strong(d.name().replacen(" in ", "\nin ", 1));
                    }
                    ui.end_row();
                    for (row, noise) in table_rows(theory).iter().zip(LawNoise::ALL) {
                        ui.label(&row[0]);
                        for (cell, d) in row[1..].iter().zip(ClassDifference::ALL) {
                            if theory.is_scene_cell(noise, d) {
                                ui.label(RichText::new(cell).strong().color(
                                    egui::Color32::from_rgb(
                                        CURRENT_COLOR[0],
                                        CURRENT_COLOR[1],
                                        CURRENT_COLOR[2],
                                    ),
                                ));
                            } else {
                                ui.label(cell);
                            }
                        }
                        ui.end_row();
                    }
                });
            ui.label(summary(theory));
            if !theory.curves.is_empty() {
                ui.label(LINES_EXPLAINED);
            }
        });
    show(
        ui,
        &figure(theory),
        "token laws",
        (ui.available_height() - 4.0).max(120.0),
        |plot| plot,
        |_| {},
    );
}

impl super::DiffscopeApp {
    /// The theory of the open token scene with its discrete lab's numbers, if a token scene is open.
    pub fn token_theory(&self) -> Option<TokenTheory> {
        let scene = self.scene.tokens.as_ref()?;
        Some(token_theory(scene, self.results.discrete_lab.as_deref()))
    }

    /// The Theory tab of the open token scene.
    pub(super) fn token_theory_ui(&mut self, ui: &mut Ui) {
        if let Some(theory) = self.token_theory() {
            self::ui(ui, &theory);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::{SceneFile, TokenScene};
    use std::path::Path;

    fn m1() -> TokenScene {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenes/ising-fields-mask-m1.json");
        match SceneFile::load(&path).unwrap() {
            SceneFile::Tokens(scene) => scene,
            SceneFile::Diffusion(_) => panic!("a token scene"),
        }
    }

    /// The figure marks the scene's L, draws no negative time, and its points are the theory's
    /// numbers; the table marks exactly the scene's cell.
    #[test]
    fn the_figure_and_table_mark_the_scene() {
        let theory = token_theory(&m1(), None);
        let figure = figure(&theory);
        assert!(figure.series.iter().any(|s| s.shape
            == Shape::VLine {
                x: 64.0,
                labelled: false
            }));
        for s in &figure.series {
            if let Shape::Line { points, .. } = &s.shape {
                assert!(points.iter().all(|p| p[1] >= 0.0), "{}", s.name);
            }
        }
        let balance = figure
            .series
            .iter()
            .find(|s| s.name.starts_with("exact t_balance"))
            .unwrap();
        assert_eq!(
            balance.shape,
            Shape::Points {
                points: vec![[64.0, theory.t_balance.unwrap()]],
                errors: None,
                marker: Marker::Diamond
            }
        );
        let marked: Vec<(usize, usize)> = table_rows(&theory)
            .iter()
            .enumerate()
            .flat_map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, c)| c.contains("this scene"))
                    .map(move |(c, _)| (r, c))
            })
            .collect();
        // Row "mask" (third), column "marginals" (second).
        assert_eq!(marked, [(2, 1)]);
        assert!(
            summary(&theory).contains("c = -3.219"),
            "{}",
            summary(&theory)
        );
    }
}
