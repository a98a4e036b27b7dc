//! Image snapshots of the app's views (egui_kittest on headless wgpu, 1280×800): the manifold view with
//! the speciation plot, with the metric table, and with the inspector of a selected trajectory. References
//! live in tests/snapshots/ (regenerate with UPDATE_SNAPSHOTS=1 on the CI image: lavapipe output can
//! change with the Mesa version).

mod app_support;

use app_support::{harness, settle, small_scene};
use diffscope::app::RightTab;
use egui_kittest::SnapshotOptions;

/// Per-pixel colour distance below which pixels count as equal (kittest's default is 0.6), and the share
/// of pixels allowed to differ beyond it: anti-aliased text and point rims can shift by one
/// step between Mesa builds, a wrong or missing layer changes tens of thousands of pixels.
fn options() -> SnapshotOptions {
    let pixels = 1280 * 800;
    SnapshotOptions::new()
        .threshold(2.0)
        .max_failed_pixels(pixels / 200)
}

fn snapshot_with(tab: RightTab, name: &str, select: Option<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    h.state_mut().views.right_tab = tab;
    if let Some(i) = select {
        h.state_mut().views.manifold.settings.selected = Some(i);
    }
    h.run_steps(3);
    h.snapshot_options(name, &options());
}

#[test]
fn manifold_and_speciation() {
    snapshot_with(RightTab::Speciation, "app_speciation", None);
}

#[test]
fn manifold_and_metric_table() {
    snapshot_with(RightTab::Metrics, "app_metrics", None);
}

#[test]
fn manifold_and_inspector() {
    snapshot_with(RightTab::Inspector, "app_inspector", Some(17));
}

/// The manifold view mid-run in 3-D with fading trails, coloured by the class posterior.
#[test]
fn manifold_3d_with_trails() {
    use diffscope::app::manifold::{ColorBy, Dimensions};
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    {
        let app = h.state_mut();
        app.views.manifold.settings.dims = Dimensions::Three;
        app.views.manifold.settings.trail_steps = 12;
        app.views.manifold.settings.color_by = ColorBy::Posterior(0);
        app.views.timeline.step = 40;
    }
    h.run_steps(3);
    h.snapshot_options("app_manifold_3d_trails", &options());
}

/// The density layer in place of the sprites (forced; it takes over by itself above 150k points).
#[test]
fn manifold_density_layer() {
    use diffscope::app::manifold::DrawMode;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    {
        let app = h.state_mut();
        app.views.manifold.settings.draw_mode = DrawMode::Density;
        app.views.manifold.settings.show_path = true;
    }
    h.run_steps(3);
    h.snapshot_options("app_manifold_density", &options());
}
