//! The time bar under the manifold view: play/pause, a scrubber over the stored steps with the speciation
//! times marked. OU time grows to the right (log-spaced), as on every plot of the app, so a marker sits
//! at the same side of the bar as on the φ plot; denoising, and playback, run right to left.

use super::typography::{painted_font, type_scale};
use egui::{Color32, Pos2, Rect, Sense, Stroke, Ui};

/// Narrower columns put the speed control on a row of its own.
const ONE_ROW_WIDTH: f32 = 440.0;

/// The bar under the controls: marker labels, the track and its end labels.
const BAR_HEIGHT: f32 = 62.0;

/// A labelled time to mark on the scrubber.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub t: f64,
    pub label: String,
    pub color: Color32,
}

/// Playback state.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub step: usize,
    pub playing: bool,
    /// Stored steps advanced per second while playing.
    pub steps_per_second: f32,
    progress: f32,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            step: 0,
            playing: false,
            steps_per_second: 20.0,
            progress: 0.0,
        }
    }
}

/// Fractional position in [0, 1] of time `t` along decreasing, log-spaced `times`.
pub fn position_of(times: &[f64], t: f64) -> Option<f32> {
    let (&first, &last) = (times.first()?, times.last()?);
    let log = |v: f64| v.max(1e-12).ln();
    let span = log(first) - log(last);
    if !(t.is_finite() && t > 0.0) || span.abs() < 1e-12 || t > first || t < last {
        return None;
    }
    Some(((log(first) - log(t)) / span) as f32)
}

impl Timeline {
    /// Advances playback by the frame time; stops at the last step.
    pub fn tick(&mut self, ctx: &egui::Context, steps: usize) {
        if !self.playing || steps == 0 {
            return;
        }
        self.progress += ctx.input(|i| i.stable_dt).min(0.1) * self.steps_per_second;
        while self.progress >= 1.0 {
            self.progress -= 1.0;
            if self.step + 1 >= steps {
                self.playing = false;
                break;
            }
            self.step += 1;
        }
        ctx.request_repaint();
    }

    /// Play / pause; playing from the last of `steps` starts again at the first.
    pub fn toggle_play(&mut self, steps: usize) {
        if steps == 0 {
            return;
        }
        if !self.playing && self.step + 1 >= steps {
            self.step = 0;
        }
        self.playing = !self.playing;
    }

    /// Moves `delta` stored steps (clamped to the `steps` stored) and pauses.
    pub fn step_by(&mut self, delta: isize, steps: usize) {
        if steps == 0 {
            return;
        }
        self.playing = false;
        self.step = self.step.saturating_add_signed(delta).min(steps - 1);
    }

    fn speed_ui(&mut self, ui: &mut Ui) {
        ui.add(egui::Slider::new(&mut self.steps_per_second, 2.0..=120.0).text("steps/s"));
    }

    /// The height the time bar takes in a column `width` points wide with `ui`'s style (Present mode's
    /// large type makes its control rows taller): its control rows and the bar.
    pub fn height(ui: &Ui, width: f32) -> f32 {
        let spacing = ui.spacing();
        let button =
            ui.text_style_height(&egui::TextStyle::Button) + 2.0 * spacing.button_padding.y;
        let row = button.max(spacing.interact_size.y) + spacing.item_spacing.y;
        let rows = if width >= ONE_ROW_WIDTH { 1.0 } else { 2.0 };
        rows * row + BAR_HEIGHT * type_scale(ui) + spacing.item_spacing.y + 4.0
    }

    /// The bar over `times`; when `times_known` is false (an imported file without times) they are step
    /// indices, and the bar shows step numbers and says the times are not in the file.
    pub fn ui(&mut self, ui: &mut Ui, times: &[f64], times_known: bool, markers: &[Marker]) {
        let steps = times.len();
        if steps == 0 {
            ui.label("No trajectories yet.");
            return;
        }
        self.step = self.step.min(steps - 1);
        // A narrow view puts the speed on its own row: a row wider than the view would widen the
        // whole column, and the time bar with it, under the side panel.
        let one_row = ui.available_width() >= ONE_ROW_WIDTH;
        ui.horizontal(|ui| {
            let play = if self.playing { "Pause" } else { "Play" };
            if ui.button(play).clicked() {
                self.toggle_play(steps);
            }
            ui.label(if times_known {
                format!(
                    "t = {:.4}  (step {} of {})",
                    times[self.step],
                    self.step + 1,
                    steps
                )
            } else {
                format!("step {} of {}  (times not in file)", self.step + 1, steps)
            });
            if one_row {
                self.speed_ui(ui);
            }
        });
        if !one_row {
            ui.horizontal(|ui| self.speed_ui(ui));
        }
        // The marker labels and end labels are painted: they and the bar grow with the type.
        let scale = type_scale(ui);
        let (rect, response) = ui.allocate_exact_size(
            egui::vec2(ui.available_width(), BAR_HEIGHT * scale),
            Sense::click_and_drag(),
        );
        let painter = ui.painter_at(rect);
        let track = Rect::from_min_max(
            Pos2::new(rect.left() + 8.0, rect.top() + 40.0 * scale),
            Pos2::new(rect.right() - 8.0, rect.top() + 48.0 * scale),
        );
        painter.rect_filled(track, 3.0, ui.visuals().widgets.inactive.bg_fill);
        let x_of = |f: f32| x_of_run_fraction(track, f);
        let step_fraction = |j: usize| {
            if steps > 1 {
                j as f32 / (steps - 1) as f32
            } else {
                0.0
            }
        };
        // Steps are stored on the sampler's grid; map each marker time to its fractional step.
        // Labels closer than this (pixels) go on separate rows.
        let min_gap = 90.0 * scale;
        let mut placed: Vec<f32> = Vec::new();
        for marker in markers {
            let Some(f) = fractional_step(times, marker.t).map(|s| s / (steps.max(2) - 1) as f32)
            else {
                continue;
            };
            let x = x_of(f);
            let row = placed
                .iter()
                .filter(|&&other| (other - x).abs() < min_gap)
                .count();
            placed.push(x);
            painter.line_segment(
                [
                    Pos2::new(x, track.top() - 6.0),
                    Pos2::new(x, track.bottom() + 6.0),
                ],
                Stroke::new(2.0, marker.color),
            );
            painter.text(
                Pos2::new(x, rect.top() + 2.0 + 12.0 * scale * row as f32),
                egui::Align2::CENTER_TOP,
                &marker.label,
                painted_font(ui, 11.0),
                marker.color,
            );
        }
        let handle = Pos2::new(x_of(step_fraction(self.step)), track.center().y);
        painter.circle_filled(handle, 7.0, ui.visuals().selection.bg_fill);
        painter.circle_stroke(handle, 7.0, Stroke::new(1.0, ui.visuals().text_color()));
        let weak = ui.visuals().weak_text_color();
        let small = painted_font(ui, 10.0);
        let (left, right) = if times_known {
            (
                format!("t_min {:.3}", times[steps - 1]),
                format!("t_max {:.2}", times[0]),
            )
        } else {
            (format!("step {steps}"), "step 1".to_string())
        };
        painter.text(
            Pos2::new(track.left(), track.bottom() + 2.0),
            egui::Align2::LEFT_TOP,
            left,
            small.clone(),
            weak,
        );
        painter.text(
            Pos2::new(track.right(), track.bottom() + 2.0),
            egui::Align2::RIGHT_TOP,
            right,
            small.clone(),
            weak,
        );
        // Which way the run goes: an arrow from noise (t_max) towards data (t_min).
        let arrow_y = track.bottom() + 8.0 * scale;
        let label = painter.text(
            Pos2::new(track.center().x + 24.0, arrow_y),
            egui::Align2::LEFT_CENTER,
            "denoising",
            small,
            weak,
        );
        painter.arrow(
            Pos2::new(label.left() - 4.0, arrow_y),
            egui::vec2(-40.0, 0.0),
            Stroke::new(1.0, weak),
        );
        if (response.dragged() || response.clicked())
            && let Some(p) = response.interact_pointer_pos()
        {
            let f = run_fraction_at(track, p.x);
            self.step = (f * (steps - 1) as f32).round() as usize;
            self.playing = false;
        }
    }
}

/// Where on `track` the run is a fraction `f` done: t_max (f = 0) at the right end, t_min (f = 1) at
/// the left, so that t grows to the right as on every plot.
fn x_of_run_fraction(track: Rect, f: f32) -> f32 {
    track.right() - f * track.width()
}

/// The fraction of the run done at `x` on `track` (inverse of [`x_of_run_fraction`], clamped).
fn run_fraction_at(track: Rect, x: f32) -> f32 {
    ((track.right() - x) / track.width().max(1.0)).clamp(0.0, 1.0)
}

/// The fractional stored-step index where decreasing `times` pass `t` (linear in log t between
/// neighbours), or `None` outside the stored range.
pub fn fractional_step(times: &[f64], t: f64) -> Option<f32> {
    position_of(times, t)?;
    let j = times.windows(2).position(|w| w[0] >= t && t >= w[1])?;
    let (a, b) = (times[j].max(1e-12).ln(), times[j + 1].max(1e-12).ln());
    let within = if (a - b).abs() < 1e-15 {
        0.0
    } else {
        (a - t.ln()) / (a - b)
    };
    Some(j as f32 + within as f32)
}

/// Marker colours: theory midpoint, balance, ½ ln Λ (distinct from the class palette's first entries).
pub const MID_COLOR: Color32 = Color32::from_rgb(239, 83, 80);
pub const BALANCE_COLOR: Color32 = Color32::from_rgb(171, 71, 188);
pub const BBDM_COLOR: Color32 = Color32::from_rgb(120, 144, 156);

#[cfg(test)]
mod tests {
    use super::*;

    /// t grows to the right on the bar, as on the plots: t_min at the left end, t_max at the right.
    #[test]
    fn time_grows_to_the_right() {
        let track = Rect::from_min_max(Pos2::new(10.0, 0.0), Pos2::new(110.0, 8.0));
        let times = [8.0, 4.0, 2.0, 1.0, 0.5];
        let x_of_t = |t: f64| x_of_run_fraction(track, fractional_step(&times, t).unwrap() / 4.0);
        assert_eq!(x_of_t(0.5), 10.0);
        assert_eq!(x_of_t(8.0), 110.0);
        assert!(x_of_t(1.0) < x_of_t(2.0));
        assert_eq!(run_fraction_at(track, 10.0), 1.0);
        assert_eq!(run_fraction_at(track, 200.0), 0.0);
    }

    #[test]
    fn marker_lands_between_its_neighbouring_steps() {
        let times = [8.0, 4.0, 2.0, 1.0, 0.5];
        assert_eq!(fractional_step(&times, 4.0), Some(1.0));
        // Halfway in log time between 2 and 1.
        let f = fractional_step(&times, 2f64.sqrt()).unwrap();
        assert!((f - 2.5).abs() < 1e-6);
        assert_eq!(fractional_step(&times, 9.0), None);
        assert_eq!(fractional_step(&times, 0.1), None);
    }
}
