//! A sweep folder in the app (issue 17): opened as the app's file (what `diffscope DIR` does), the
//! Theory tab shows the folder's measured t_mid ± s.e. and exact crossings (the point files' numbers)
//! over the leading-order laws (½ ln d, closed form), and "Close sweep" brings back the scene's laws;
//! a folder without point files is one error in the status bar.

mod app_support;

use app_support::{small_scene, step_until};
use diffscope::analysis::view_data::sweep::{self, Measure, Plan, Shard, Vary};
use diffscope::app::export::{Content, content};
use diffscope::app::{AppOptions, DiffscopeApp, RightTab, View};
use diffscope::figure::{Figure, Shape};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;

/// Two Gaussians ±1 in d = 4, tiny: 40 clone pairs at 6 times, ≈ 1 s a point in debug.
const SWEPT_SCENE: &str = include_str!("data/scenes/two-gaussians-tiny.json");

/// Measures a two-point sweep over model.dim into `dir/sweep` and returns the folder.
fn sweep_folder(dir: &Path) -> std::path::PathBuf {
    let scene = dir.join("swept.json");
    std::fs::write(&scene, SWEPT_SCENE).unwrap();
    let plan = Plan::new(&scene, &[Vary::parse("model.dim=4,16").unwrap()]).unwrap();
    let out = dir.join("sweep");
    sweep::run(
        &plan,
        Measure::Speciation,
        &out,
        Shard::WHOLE,
        &mut |_, _| {},
    )
    .unwrap();
    out
}

fn harness(options: AppOptions) -> Harness<'static, DiffscopeApp> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .wgpu()
        .build_eframe(move |cc| {
            DiffscopeApp::with_render_state(cc.wgpu_render_state.as_ref(), options)
        })
}

fn theory_figure(app: &DiffscopeApp) -> Figure {
    match content(app, View::Theory) {
        Some(Content::Figures(mut panels)) => panels.remove(0).0,
        _ => panic!("the Theory tab has no figure"),
    }
}

/// The points of the series named `name`, and their error bars.
fn series(figure: &Figure, name: &str) -> (Vec<[f64; 2]>, Option<Vec<f64>>) {
    let series = figure
        .series
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no series {name:?} in {:?}", figure.title));
    match &series.shape {
        Shape::Points { points, errors, .. } => (points.clone(), errors.clone()),
        Shape::Line { points, .. } => (points.clone(), None),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn the_theory_tab_shows_a_sweep_folders_points_over_the_laws() {
    let dir = tempfile::tempdir().unwrap();
    let folder = sweep_folder(dir.path());
    let mut h = harness(AppOptions {
        scene: Some(small_scene(dir.path())),
        data: Some(folder.clone()),
        ..AppOptions::default()
    });
    h.run_steps(3);
    assert_eq!(h.state().views.right_tab, RightTab::Theory);
    // The numbers of the point files, read here as plain JSON.
    let mut expected_points = Vec::new();
    let (mut exact, mut errors, mut within) = (Vec::new(), Vec::new(), 0);
    for (d, name) in [(4.0, "model.dim=0004.json"), (16.0, "model.dim=0016.json")] {
        let text = std::fs::read_to_string(folder.join(name)).unwrap();
        let point: serde_json::Value = serde_json::from_str(&text).unwrap();
        let t = point["measured"]["t_mid"].as_f64().unwrap();
        let se = point["measured"]["t_mid_stderr"].as_f64().unwrap();
        let theory = point["theory"]["t_mid"].as_f64().unwrap();
        expected_points.push([d, t]);
        errors.push(se);
        exact.push([d, theory]);
        within += usize::from(((t - theory) / se).abs() <= 2.0);
    }
    h.get_by_label(&format!(
        "Sweep {}: 2 points, 2 with a measured crossing; the measured t_mid of {within} of them \
         lies within 2 standard errors of its exact crossing.",
        folder.display()
    ));
    let figure = theory_figure(h.state());
    let (points, bars) = series(&figure, "measured t_mid ± s.e. (cloning)");
    assert_eq!(points, expected_points);
    assert_eq!(bars, Some(errors));
    assert_eq!(series(&figure, "theory t_mid (exact posterior)").0, exact);
    // The means ±1 law is ½ ln d at every drawn d, from d = 4 to 16.
    let (law, _) = series(&figure, "leading-order law ½ ln d (means ±1)");
    assert_eq!((law[0][0], law[law.len() - 1][0]), (4.0, 16.0));
    for [d, t] in law {
        assert!((t - 0.5 * d.ln()).abs() < 1e-12, "d = {d}: {t}");
    }
    // A slide shows the sweep's figure without the folder buttons.
    h.key_press(egui::Key::F5);
    h.run_steps(3);
    assert!(h.state().views.presentation.active);
    assert!(h.query_by_label("Close sweep").is_none());
    assert!(h.query_by_label("Open sweep folder…").is_none());
    h.get_by_label_contains("2 points, 2 with a measured crossing");
    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    // Closing the sweep brings back the scene's laws.
    h.get_by_label("Close sweep").click();
    h.run_steps(2);
    assert!(h.query_by_label("Close sweep").is_none());
    let laws = theory_figure(h.state());
    assert!(
        laws.title
            .starts_with("Speciation time t_S against dimension"),
        "{}",
        laws.title
    );
    // The scene's jobs ran as well: the other tabs are not empty.
    step_until(&mut h, "the scene's jobs", |app| {
        app.jobs.idle() && app.results.cloud.is_some()
    });
}

#[test]
fn a_folder_without_point_files_is_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let mut h = harness(AppOptions {
        scene: Some(small_scene(dir.path())),
        ..AppOptions::default()
    });
    h.state_mut().open_path(&empty);
    let errors = h.state().jobs.errors().to_vec();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("could not open the sweep folder")
            && errors[0].contains("no point files")
            && errors[0].contains("empty"),
        "{errors:?}"
    );
    assert_ne!(h.state().views.right_tab, RightTab::Theory);
}
