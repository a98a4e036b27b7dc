//! The inspector: the selected trajectory's class posterior over time (stacked bands), its final class
//! and its commitment time, and for an image model its x_t and x̂_0 as a strip of small pictures over
//! the stored steps. Reads the finished trajectories only; the plot is a `figure::Figure` built by
//! [`posterior_figure`] (pure) and drawn from it, so the exports show the same bands, and the strip's
//! picture is `analysis::view_data::image_strip::strip` (pure), uploaded once per trajectory.

use super::figure_plot::show;
use crate::analysis::speciation::commitment::EPSILON;
use crate::analysis::view_data::Cloud;
use crate::analysis::view_data::image_strip::{self, ImageSteps};
use crate::figure::{Axis, Figure, LegendPlace, Rgb, Series, Shape};
use crate::render::colormap::class_rgb8;
use egui::Ui;

/// Commitment time of trajectory `i`: the largest stored t such that the posterior of its final class
/// stays ≥ 1 − ε at every stored time from t_min up to t (the rule of `analysis::speciation::commitment`).
/// `None` when it ends uncommitted or has no posterior.
pub fn commitment_time(cloud: &Cloud, i: usize) -> Option<f64> {
    let t = &cloud.trajectories;
    let last = t.stored_steps.checked_sub(1)?;
    let final_posterior = t.posterior_at(i, last)?;
    let (k, &p) = final_posterior
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if f64::from(p) < 1.0 - EPSILON {
        return None;
    }
    let mut committed = last;
    for j in (0..last).rev() {
        match t.posterior_at(i, j).and_then(|p| p.get(k)) {
            Some(&p) if f64::from(p) >= 1.0 - EPSILON => committed = j,
            _ => break,
        }
    }
    t.times.get(committed).copied()
}

pub fn ui(ui: &mut Ui, cloud: Option<&Cloud>, selected: Option<usize>, current_t: Option<f64>) {
    let (Some(cloud), Some(i)) = (cloud, selected) else {
        ui.label("Click a point in the manifold view to inspect its trajectory.");
        return;
    };
    let t = &cloud.trajectories;
    let labels = &t.class_labels;
    ui.label(format!("Trajectory {i} of {}", t.n));
    if let Some(images) = &cloud.images {
        image_strip_ui(ui, cloud, images, i, current_t);
    }
    if t.posterior.is_none() {
        ui.label("This cloud has no class posterior (a loaded point file).");
        return;
    }
    let last = t.stored_steps.saturating_sub(1);
    if let Some(p) = t.posterior_at(i, last)
        && let Some((k, &pk)) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))
    {
        let name = labels
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("class {k}"));
        ui.label(format!("Final class: {name} (p = {pk:.3} at t_min)"));
    }
    match commitment_time(cloud, i) {
        Some(tc) => ui.label(format!(
            "Commitment time t = {tc:.3} (posterior ≥ {:.2} from then on)",
            1.0 - EPSILON
        )),
        None => ui.label("Not committed at t_min."),
    };
    if let Some(figure) = posterior_figure(cloud, i, current_t) {
        show(
            ui,
            &figure,
            "inspector posterior",
            ui.available_height().max(160.0),
            |plot| plot,
            |_| {},
        );
    }
}

/// Mid grey: readable on the app's dark plot, on the white SVG page and over both class bands.
const SELECTED_TIME_COLOR: Rgb = [128, 128, 128];
const COMMITMENT_COLOR: Rgb = [239, 83, 80];

/// Trajectory `i`'s class posterior over time as stacked bands (one per class, in class order, from
/// 0 up to 1), with the selected time `current_t` and its commitment time as vertical lines (named in
/// the legend: a label over the coloured bands would be hard to read). `None`
/// when the cloud has no posterior or no trajectory `i`.
pub fn posterior_figure(cloud: &Cloud, i: usize, current_t: Option<f64>) -> Option<Figure> {
    let t = &cloud.trajectories;
    if t.posterior.is_none() || i >= t.n {
        return None;
    }
    let times = &t.times;
    let mut lower = vec![0.0f64; times.len()];
    let mut series = Vec::with_capacity(t.class_labels.len() + 2);
    for (k, label) in t.class_labels.iter().enumerate() {
        let upper: Vec<f64> = (0..times.len())
            .map(|j| {
                lower[j]
                    + t.posterior_at(i, j)
                        .and_then(|p| p.get(k))
                        .map_or(0.0, |&v| f64::from(v))
            })
            .collect();
        series.push(Series {
            name: format!("p({label} | x_t)"),
            color: class_rgb8(k),
            shape: Shape::Band {
                x: times.clone(),
                lower: std::mem::replace(&mut lower, upper.clone()),
                upper,
            },
        });
    }
    if let Some(now) = current_t {
        series.push(Series {
            name: format!("selected time {now:.2}"),
            color: SELECTED_TIME_COLOR,
            shape: Shape::VLine {
                x: now,
                labelled: false,
            },
        });
    }
    if let Some(tc) = commitment_time(cloud, i) {
        series.push(Series {
            name: format!("commitment {tc:.2}"),
            color: COMMITMENT_COLOR,
            shape: Shape::VLine {
                x: tc,
                labelled: false,
            },
        });
    }
    let (lo, hi) = times
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // A little room on both sides: the selected time is often t_min (or t_max), and a line on the
    // frame's edge would be lost in the axis.
    let pad = 0.02 * (hi - lo);
    Some(Figure {
        title: format!("Class posterior of trajectory {i}"),
        x: Axis::linear(
            "OU time t",
            if lo < hi {
                [lo - pad, hi + pad]
            } else {
                [0.0, 1.0]
            },
        ),
        y: Axis::linear("p(k | x_t), stacked", [0.0, 1.0]),
        series,
        legend: LegendPlace::RightTop,
    })
}

/// Screen pixels per image pixel at least, and tiles at most, of the image strip.
const MIN_ZOOM: f32 = 2.0;
const MAX_COLUMNS: usize = 12;
/// Height of the row of times under the strip.
const TIME_ROW: f32 = 14.0;

/// The selected trajectory's x_t (top) and x̂_0 (bottom) at up to [`MAX_COLUMNS`] stored steps, as
/// wide as the panel allows; the column nearest the selected time is framed.
fn image_strip_ui(
    ui: &mut Ui,
    cloud: &Cloud,
    images: &ImageSteps,
    i: usize,
    current_t: Option<f64>,
) {
    let w = images.shape[2];
    let room = ui.available_width().max(1.0);
    let per_column = (w + image_strip::GAP) as f32 * MIN_ZOOM;
    let columns = ((room / per_column) as usize).clamp(2, MAX_COLUMNS);
    let Some(strip) = image_strip::strip(&cloud.trajectories, images, i, columns) else {
        return;
    };
    // Written out: egui's fonts have no combining circumflex (x̂_0 showed as "x_0").
    ui.label("x_t (top) and the model's estimate of x_0, D(x_t, t) (bottom), from t_max to t_min:");
    // One upload per trajectory and column count: the cloud's address tells a new run apart.
    let key = (std::ptr::from_ref(cloud) as usize, i, strip.steps.len());
    let id = ui.scope_id().with("inspector image strip");
    let cached: Option<((usize, usize, usize), egui::TextureHandle)> =
        ui.ctx().data(|d| d.get_temp(id));
    let texture = match cached {
        Some((k, texture)) if k == key => texture,
        _ => {
            let picture = egui::ColorImage::from_rgb([strip.width, strip.height], &strip.rgb);
            let texture = ui.ctx().load_texture(
                "inspector image strip",
                picture,
                egui::TextureOptions::NEAREST,
            );
            ui.ctx()
                .data_mut(|d| d.insert_temp(id, (key, texture.clone())));
            texture
        }
    };
    let zoom = (room / strip.width as f32).clamp(1.0, 8.0).floor();
    let size = egui::vec2(strip.width as f32, strip.height as f32) * zoom;
    let (rect, _) = ui.allocate_exact_size(size + egui::vec2(0.0, TIME_ROW), egui::Sense::hover());
    let picture = egui::Rect::from_min_size(rect.min, size);
    let painter = ui.painter_at(rect);
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    painter.image(texture.id(), picture, uv, egui::Color32::WHITE);
    let column_width = (w + image_strip::GAP) as f32 * zoom;
    let selected = current_t.and_then(|now| {
        (0..strip.times.len()).min_by(|&a, &b| {
            (strip.times[a] - now)
                .abs()
                .total_cmp(&(strip.times[b] - now).abs())
        })
    });
    let [r, g, b] = SELECTED_TIME_COLOR;
    let frame = egui::Stroke::new(1.5, egui::Color32::from_rgb(r, g, b).gamma_multiply(1.6));
    for (column, &t) in strip.times.iter().enumerate() {
        let left = picture.left() + column as f32 * column_width;
        if selected == Some(column) {
            let tile = egui::Rect::from_min_size(
                egui::pos2(left, picture.top()),
                egui::vec2(w as f32 * zoom, picture.height()),
            );
            painter.rect_stroke(tile, 0.0, frame, egui::StrokeKind::Outside);
        }
        painter.text(
            egui::pos2(left + 0.5 * w as f32 * zoom, picture.bottom() + 1.0),
            egui::Align2::CENTER_TOP,
            format!("{t:.2}"),
            egui::FontId::proportional(10.0),
            ui.visuals().weak_text_color(),
        );
    }
}
