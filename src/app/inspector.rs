//! The inspector: the selected trajectory's class posterior over time (stacked bands), its final class
//! and its commitment time. Reads the finished trajectories only.

use super::tasks::Cloud;
use crate::analysis::speciation::commitment::EPSILON;
use crate::render::colormap::class_rgb8;
use egui::{Color32, Ui};
use egui_plot::{FilledArea, Legend, Plot, VLine};

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
    if t.posterior.is_none() {
        ui.label("This cloud has no class posterior (a loaded point file).");
        return;
    }
    let last = t.stored_steps.saturating_sub(1);
    if let Some(p) = t.posterior_at(i, last)
        && let Some((k, &pk)) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))
    {
        let name = labels.get(k).cloned().unwrap_or_else(|| k.to_string());
        ui.label(format!("Ends in class {name} (p = {pk:.3} at t_min)"));
    }
    match commitment_time(cloud, i) {
        Some(tc) => ui.label(format!(
            "Commitment time t = {tc:.3} (posterior ≥ {:.2} from then on)",
            1.0 - EPSILON
        )),
        None => ui.label("Not committed at t_min."),
    };
    let times = &t.times;
    Plot::new("inspector posterior")
        .legend(Legend::default())
        .x_axis_label("OU time t")
        .y_axis_label("p(k | x_t), stacked")
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |plot| {
            let mut lower = vec![0.0f64; times.len()];
            for (k, label) in labels.iter().enumerate() {
                let upper: Vec<f64> = (0..times.len())
                    .map(|j| {
                        lower[j]
                            + t.posterior_at(i, j)
                                .and_then(|p| p.get(k))
                                .map_or(0.0, |&v| f64::from(v))
                    })
                    .collect();
                let [r, g, b] = class_rgb8(k);
                plot.add(
                    FilledArea::new(format!("p({label} | x_t)"), times, &lower, &upper)
                        .fill_color(Color32::from_rgba_unmultiplied(r, g, b, 200)),
                );
                lower = upper;
            }
            if let Some(now) = current_t {
                plot.vline(VLine::new("selected time", now).color(Color32::WHITE));
            }
            if let Some(tc) = commitment_time(cloud, i) {
                plot.vline(VLine::new("commitment", tc).color(Color32::from_rgb(239, 83, 80)));
            }
        });
}
