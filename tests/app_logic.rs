//! The app's behaviour through its widgets (egui_kittest, headless wgpu): a scene runs to the end, a job
//! is cancelled, clicking a point selects its trajectory, a bad file gives one readable error.

mod app_support;

use app_support::{harness, settle, settle_tokens, small_scene, small_token_scene, step_until};
use diffscope::app::RightTab;
use egui_kittest::kittest::Queryable;

#[test]
fn a_scene_runs_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    let app = h.state();
    let cloud = app.results.cloud.as_ref().expect("cloud");
    assert_eq!(cloud.trajectories.n, 300);
    // 61 grid points, all kept (below the app's cap of 101).
    assert_eq!(cloud.trajectories.stored_steps, 61);
    assert_eq!(cloud.per_time.len(), 61 * 300 * 3);
    assert!(app.results.speciation.is_some(), "speciation report");
    assert!(app.results.metrics.is_some(), "metric report");
    assert!(app.results.references.is_some(), "reference clouds");
    assert!(
        app.jobs.errors().is_empty(),
        "errors: {:?}",
        app.jobs.errors()
    );
    // The time bar starts at the end of the run (t_min).
    assert_eq!(app.views.timeline.step, 60);
    h.get_by_label("Idle: all results are up to date.");
    // A save says where it went, in the status line.
    let saved = dir.path().join("after.json");
    assert!(h.state_mut().save_session(&saved));
    h.run_steps(2);
    h.get_by_label(&format!(
        "Idle: all results are up to date. saved the session to {}.",
        saved.display()
    ));
}

#[test]
fn cancelling_the_speciation_lab_stops_it_without_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Enough clone pairs that the lab cannot finish before the click lands: with the small scene's 200
    // it sometimes did under a loaded CI machine, and then rightly delivered.
    let scene = dir.path().join("many-pairs.json");
    let text = app_support::SMALL_SCENE.replace("\"pairs\": 200", "\"pairs\": 100000");
    assert_ne!(text, app_support::SMALL_SCENE);
    std::fs::write(&scene, text).unwrap();
    let mut h = harness(&scene, [1280.0, 800.0]);
    h.step();
    h.get_by_label("Cancel speciation lab").click();
    step_until(&mut h, "the sampling", |app| {
        app.results.cloud.is_some() && app.jobs.idle()
    });
    let app = h.state();
    assert!(
        app.results.speciation.is_none(),
        "a cancelled job must not deliver"
    );
    assert!(
        app.jobs.errors().is_empty(),
        "errors: {:?}",
        app.jobs.errors()
    );
    assert!(h.query_by_label("Cancel speciation lab").is_none());
}

#[test]
fn clicking_a_point_selects_its_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    let target = 17;
    let pos = {
        let app = h.state();
        let cloud = app.results.cloud.as_ref().unwrap();
        app.views
            .manifold
            .screen_position(cloud, app.views.timeline.step, target)
            .expect("point on screen")
    };
    h.hover_at(pos);
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Default::default(),
        });
        h.step();
    }
    h.step();
    let app = h.state();
    let selected = app.views.manifold.settings.selected.expect("a selection");
    // Another point may sit under the cursor too; the selected one must be drawn within the pick radius.
    let cloud = app.results.cloud.as_ref().unwrap();
    let at = app
        .views
        .manifold
        .screen_position(cloud, app.views.timeline.step, selected)
        .unwrap();
    assert!(
        at.distance(pos) <= 8.0,
        "selected {selected} drawn at {at:?}, clicked {pos:?}"
    );
    assert_eq!(app.views.right_tab, RightTab::Inspector);
    h.get_by_label_contains(&format!("Trajectory {selected} of 300"));
    h.get_by_label_contains("Commitment time");
}

/// A file dropped on the window, as the native integration reports it.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// While a changed scene samples, the previous cloud stays drawn (dimmed, with the progress) instead
/// of a blank view; the new cloud replaces it when it arrives.
#[test]
fn the_previous_cloud_stays_while_the_next_one_samples() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    let before = h.state().results.cloud.clone().unwrap();
    let mut scene = h.state().scene.current.clone();
    scene.seed += 1;
    // Enough trajectories that sampling is still running a frame later.
    scene.trajectories = 20_000;
    h.state_mut().apply_scene(scene);
    h.step();
    assert!(
        h.state()
            .jobs
            .is_running(diffscope::app::jobs::JobKind::Sample)
    );
    assert!(
        h.state()
            .results
            .cloud
            .as_ref()
            .is_some_and(|c| std::sync::Arc::ptr_eq(c, &before))
    );
    h.get_by_label_contains("(showing the previous cloud)");
    settle(&mut h);
    let after = h.state().results.cloud.clone().unwrap();
    assert!(!std::sync::Arc::ptr_eq(&before, &after));
    assert_eq!(after.trajectories.n, 20_000);
    assert!(
        h.query_by_label_contains("(showing the previous cloud)")
            .is_none()
    );
}

#[test]
fn a_bad_point_file_is_one_readable_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    let before = h.state().results.cloud.clone().expect("the scene's cloud");
    let scene = h.state().scene.current.clone();
    let bad = dir.path().join("broken.npy");
    std::fs::write(&bad, b"this is not an npy file").unwrap();
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedPath(bad.clone())));
    // The next frame takes the drop and starts the load.
    h.step();
    step_until(&mut h, "the failed load", |app| app.jobs.idle());
    let errors = h.state().jobs.errors().to_vec();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("loading data failed"), "{errors:?}");
    assert!(
        errors[0].contains("broken.npy"),
        "the message names the file: {errors:?}"
    );
    h.get_by_label_contains("loading data failed");
    // The failed load changed nothing: the same cloud (not a copy) and scene are shown.
    let after = h
        .state()
        .results
        .cloud
        .clone()
        .expect("the previous cloud stays");
    assert!(std::sync::Arc::ptr_eq(&before, &after));
    assert_eq!(h.state().scene.current, scene);
    assert!(
        h.state().results.metrics.is_some(),
        "its measurements stay too"
    );
    // More frames do not repeat it.
    h.run_steps(3);
    assert_eq!(h.state().jobs.errors().len(), 1);
}

/// The small scene with another seed and dimension: a second tour stop.
fn second_scene() -> diffscope::scene::Scene {
    let text = app_support::SMALL_SCENE
        .replace(r#""dim": 8"#, r#""dim": 6"#)
        .replace(r#""seed": 11"#, r#""seed": 12"#);
    diffscope::scene::Scene::from_json_str(&text, std::path::Path::new("second.json")).unwrap()
}

fn press(h: &mut egui_kittest::Harness<'static, diffscope::app::DiffscopeApp>, key: egui::Key) {
    h.key_press(key);
    h.step();
}

#[test]
fn the_tour_keeps_each_stops_results_and_view() {
    use diffscope::app::manifold::Dimensions;
    use diffscope::app::tour::Tour;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let first = diffscope::scene::Scene::load(&small_scene(dir.path())).unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    h.state_mut()
        .start_tour(Tour::new(vec![first.clone().into(), second_scene().into()]));
    settle(&mut h);
    let (cloud, report) = {
        let app = h.state_mut();
        app.views.manifold.settings.dims = Dimensions::Three;
        app.views.timeline.step = 5;
        (
            Arc::clone(app.results.cloud.as_ref().unwrap()),
            Arc::clone(app.results.speciation.as_ref().unwrap()),
        )
    };
    h.get_by_label("Next").click();
    h.step();
    assert_eq!(h.state().views.tour.as_ref().unwrap().current(), 1);
    settle(&mut h);
    assert_eq!(
        h.state().results.cloud.as_ref().unwrap().trajectories.dim,
        6
    );
    assert_eq!(
        h.state().views.manifold.settings.dims,
        Dimensions::Two,
        "a first visit opens with defaults"
    );
    press(&mut h, egui::Key::PageUp);
    let app = h.state();
    assert_eq!(app.views.tour.as_ref().unwrap().current(), 0);
    assert!(
        app.jobs.idle(),
        "coming back must not restart a job: {:?}",
        app.jobs.rows()
    );
    assert!(Arc::ptr_eq(app.results.cloud.as_ref().unwrap(), &cloud));
    assert!(Arc::ptr_eq(
        app.results.speciation.as_ref().unwrap(),
        &report
    ));
    assert!(app.results.metrics.is_some());
    assert_eq!(app.scene.current, first);
    assert_eq!(app.views.manifold.settings.dims, Dimensions::Three);
    assert_eq!(app.views.timeline.step, 5);
    // PageUp at the first stop stays there.
    press(&mut h, egui::Key::PageUp);
    assert_eq!(h.state().views.tour.as_ref().unwrap().current(), 0);
}

#[test]
fn presentation_mode_hides_the_chrome_and_keys_drive_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    assert!(h.query_by_label("Teaching tour").is_some());
    press(&mut h, egui::Key::F5);
    h.step();
    assert!(h.state().views.presentation.active);
    assert!(
        h.query_by_label("Teaching tour").is_none(),
        "scene panel hidden"
    );
    assert!(
        h.query_by_label("Idle: all results are up to date.")
            .is_none(),
        "jobs strip hidden"
    );
    assert!(h.query_by_label("Leave (Esc)").is_some());
    for control in ["Fit", "pooled basis", "2-D"] {
        assert!(
            h.query_by_label(control).is_none(),
            "toolbar hidden: {control}"
        );
    }
    // The time bar has t growing to the right: → moves the handle towards t_max (back in the run), ←
    // towards t_min (a step of denoising), and ← at t_min stays there.
    let last = h.state().views.timeline.step;
    press(&mut h, egui::Key::ArrowRight);
    press(&mut h, egui::Key::ArrowRight);
    assert_eq!(h.state().views.timeline.step, last - 2);
    press(&mut h, egui::Key::ArrowLeft);
    assert_eq!(h.state().views.timeline.step, last - 1);
    press(&mut h, egui::Key::ArrowLeft);
    press(&mut h, egui::Key::ArrowLeft);
    assert_eq!(h.state().views.timeline.step, last);
    // Play from the start so that playback does not reach the end (and stop) within a frame.
    h.state_mut().views.timeline.step = 0;
    press(&mut h, egui::Key::Space);
    assert!(h.state().views.timeline.playing);
    press(&mut h, egui::Key::Space);
    assert!(!h.state().views.timeline.playing);
    let size = h.ctx.style_of(egui::Theme::Light).text_styles[&egui::TextStyle::Body].size;
    press(&mut h, egui::Key::Escape);
    h.step();
    assert!(!h.state().views.presentation.active);
    assert!(h.query_by_label("Teaching tour").is_some());
    let restored = h.ctx.style_of(egui::Theme::Light).text_styles[&egui::TextStyle::Body].size;
    assert!(
        (size / restored - diffscope::app::presentation::FONT_SCALE).abs() < 1e-4,
        "large type in presentation mode, the old size after it: {size} vs {restored}"
    );
}

/// The theory tab's numbers are the library's: for ±m with |m|² = d the exact balance time and the
/// law are both ½ ln d (docs/science/speciation.md §2.3, σ² = 1); for variance 1 vs 2 the law is ¼ ln(d/8) and the exact
/// time solves d(λ − 1 − ln λ)/2 = √(d/2)(1 − λ), λ = s₁²/s₂², s_k² = 1 + a²(σ_k² − 1) (docs/science/speciation.md §2.4 i),
/// solved here by an independent bisection in a².
#[test]
fn the_laws_view_shows_the_theory_at_the_scenes_d() {
    use diffscope::app::laws_view::reference_families;
    let [(_, means), (_, covariances)] = reference_families();
    for d in [16usize, 100, 1000] {
        let half_ln_d = 0.5 * (d as f64).ln();
        // The library bisects to ~1e-6·t.
        assert!((means.exact(d).unwrap() - half_ln_d).abs() < 1e-5, "{d}");
        assert!((means.law(d).unwrap() - half_ln_d).abs() < 1e-12, "{d}");
        assert!((covariances.law(d).unwrap() - 0.25 * (d as f64 / 8.0).ln()).abs() < 1e-12);
        let gap = |a2: f64| {
            let lambda = 1.0 / (1.0 + a2);
            let n = d as f64;
            n * (lambda - 1.0 - lambda.ln()) / 2.0 - (n / 2.0).sqrt() * (1.0 - lambda)
        };
        // gap < 0 at small a² (little signal), > 0 at a² = 1 for these d.
        let (mut lo, mut hi) = (1e-9, 1.0);
        for _ in 0..80 {
            let mid = 0.5 * (lo + hi);
            if gap(mid) < 0.0 { lo = mid } else { hi = mid }
        }
        let t = -0.5 * (0.5 * (lo + hi)).ln();
        let exact = covariances.exact(d).unwrap();
        assert!((exact - t).abs() < 1e-4, "{exact} vs {t}");
    }
    // The case C number of the documented table (exact mean = std, d = 100): 0.586.
    assert!((covariances.exact(100).unwrap() - 0.586).abs() < 0.005);
}

/// The manifold toolbar stays inside the central view at every window width ≥ 1024 px and whatever
/// colouring adds a chooser: at 1280 px in rows, at 1024 px folded into menus. No control reaches into
/// the right panel (at 1280 px the colormap row used to push "trail steps" and the time bar's end under it).
#[test]
fn the_manifold_toolbar_fits_the_view_at_any_width() {
    use diffscope::app::manifold::ColorBy;
    for (width, visible) in [
        (
            1280.0,
            &["Fit", "2-D", "pooled basis", "holes", "drawn as"][..],
        ),
        (1024.0, &["Fit", "2-D", "Colour…", "View…"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(&small_scene(dir.path()), [width, 800.0]);
        settle(&mut h);
        for color_by in [ColorBy::Class, ColorBy::Time, ColorBy::Posterior(1)] {
            h.state_mut().views.manifold.settings.color_by = color_by;
            h.run_steps(3);
            let right_panel = h.get_by_label("Speciation").rect().left();
            let mut labels: Vec<String> = visible.iter().map(|l| l.to_string()).collect();
            labels.extend(["steps/s", "t_min"].map(String::from));
            if width > 1100.0 {
                labels.extend(["trail steps", "point px", "viridis"].map(String::from));
            }
            for label in labels {
                // A slider and its value carry the same label: check every node.
                let rect = h
                    .query_all_by_label_contains(&label)
                    .map(|n| n.rect())
                    .reduce(|a, b| a.union(b));
                let Some(rect) = rect else {
                    // The colormap shows only when the colouring uses one.
                    assert!(label == "viridis", "no \"{label}\" at {width} px");
                    continue;
                };
                assert!(
                    rect.right() < right_panel,
                    "{width} px, {color_by:?}: \"{label}\" at {rect:?} reaches the right panel at x = {right_panel}"
                );
            }
        }
    }
}

/// The view's cap on stored steps is said beside the control, not applied silently: the default scene
/// stores all 401 steps and the view keeps 101; a 60-step scene is shown whole.
#[test]
fn the_stored_step_cap_is_stated() {
    use diffscope::app::scene_panel::display_cap_note;
    let note = display_cap_note(&diffscope::scene::Scene::default_scene()).expect("capped");
    assert!(note.contains("101 of the 401"), "{note}");
    let dir = tempfile::tempdir().unwrap();
    let small = diffscope::scene::Scene::load(&small_scene(dir.path())).unwrap();
    assert_eq!(display_cap_note(&small), None);
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenes/two-gaussians.json");
    let mut h = harness(&shipped, [1280.0, 800.0]);
    h.step();
    h.get_by_label_contains("the view keeps 101 of the 401 stored steps");
}

/// A caption quotes the live computation through placeholders: before the lab reports it says "…",
/// after it the report's own numbers; an edit in the scene panel changes `{d}` and the caption says
/// the scene was edited. (Before placeholders the caption showed the braces, or pasted numbers that
/// drifted from the plots.)
#[test]
fn caption_placeholders_follow_the_live_scene() {
    use diffscope::app::caption::EDITED_NOTE;
    use diffscope::scene::ModelSpec;
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::SMALL_SCENE.replacen(
        "\"title\"",
        "\"caption\": \"In d = {d} the exact crossing is t_mid = {t_mid:3}; measured {measured_t_mid}.\",\n  \"title\"",
        1,
    );
    let path = dir.path().join("captioned.json");
    std::fs::write(&path, scene).unwrap();
    let mut h = harness(&path, [1280.0, 800.0]);
    h.run_steps(2);
    h.get_by_label_contains("In d = 8 the exact crossing is t_mid = …; measured ….");
    settle(&mut h);
    step_until(&mut h, "the speciation report", |app| {
        app.results.speciation.is_some()
    });
    let report = h.state().results.speciation.clone().unwrap();
    let level = &report.levels[0];
    let expected = format!(
        "In d = 8 the exact crossing is t_mid = {:.3}; measured {:.2} ± {:.2}.",
        level.theory.t_mid.unwrap(),
        level.measured.t_mid.unwrap(),
        level.measured.t_mid_stderr.unwrap()
    );
    h.get_by_label(&expected);
    assert!(h.query_by_label_contains(EDITED_NOTE).is_none());

    let ModelSpec::GaussianMixture(mixture) = &mut h.state_mut().scene.draft.model else {
        panic!("the small scene is a Gaussian mixture");
    };
    mixture.dim = 16;
    step_until(&mut h, "the edit to apply", |app| {
        app.scene.current.model.dim() == Some(16)
    });
    h.get_by_label_contains("In d = 16 the exact crossing");
    h.get_by_label(EDITED_NOTE);
}

/// Without a system file dialog (no XDG portal, no zenity) Save session still saves: into the Export
/// menu's folder, and the status line names the file and says why; Open session says what to do
/// instead. (Before, both did nothing but log a line.)
#[test]
fn without_a_file_dialog_sessions_save_into_the_export_folder() {
    diffscope::app::file_dialog::disable_system_dialogs();
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    let folder = dir.path().join("exports");
    h.state_mut().set_export_folder(&folder);
    h.get_by_label("Save session…").click();
    h.run_steps(2);
    let saved = folder.join("session.json");
    assert!(saved.is_file(), "no session written at {}", saved.display());
    h.get_by_label_contains(&format!("saved the session to {}", saved.display()));
    h.get_by_label("Open session…").click();
    h.run_steps(2);
    h.get_by_label_contains("drop the session file on the window");
}

/// Present mode (large type, projector sizes) keeps every legend off the data: each legend name of
/// the speciation plots is drawn outside its plot's area, inside the window, and the plots keep a fair
/// share of the width.
#[test]
fn present_mode_keeps_legends_off_the_plots() {
    let dir = tempfile::tempdir().unwrap();
    let scene = small_scene(dir.path());
    for size in [[1280.0, 720.0], [1920.0, 1080.0]] {
        let mut h = harness(&scene, size);
        settle(&mut h);
        h.state_mut().views.right_tab = RightTab::Speciation;
        press(&mut h, egui::Key::F5);
        for _ in 0..4 {
            h.step();
        }
        let report = h
            .state()
            .results
            .speciation
            .clone()
            .expect("speciation report");
        let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(size[0], size[1]));
        for figure in diffscope::app::speciation_view::figures(&report.headline) {
            let area = h.get_by_label(&figure.title).rect();
            assert!(
                area.width() >= 0.25 * size[0],
                "{size:?}: the plot '{}' is only {} px wide",
                figure.title,
                area.width()
            );
            let entries = figure.legend_entries();
            assert!(!entries.is_empty(), "{} has a legend", figure.title);
            for entry in entries {
                let label = h.get_by_label(entry.name).rect();
                assert!(
                    !label.intersects(area) && window.contains_rect(label),
                    "{size:?}: legend '{}' at {label:?} over the plot '{}' at {area:?}",
                    entry.name,
                    figure.title
                );
            }
        }
    }
}

/// The tour holds token scenes too: from a continuous stop to a token stop the token view and its
/// lab replace the cloud, and coming back to either stop restores its results (the same ones, no job
/// started) and its view (the token view's sequence and step). The teaching tour ends with the three
/// token scenes 9–11, each stop saying what to look at and opening on its tab.
#[test]
fn the_tour_moves_between_continuous_and_token_stops() {
    use diffscope::app::token_view::TOKENS_LABEL;
    use diffscope::app::tour::Tour;
    use diffscope::scene::{Scene, SceneFile};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let first = Scene::load(&small_scene(dir.path())).unwrap();
    let Ok(SceneFile::Tokens(tokens)) = SceneFile::load(&small_token_scene(dir.path())) else {
        panic!("the small token scene is a token scene");
    };
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    h.state_mut()
        .start_tour(Tour::new(vec![first.clone().into(), tokens.clone().into()]));
    settle(&mut h);
    let cloud = Arc::clone(h.state().results.cloud.as_ref().unwrap());
    h.get_by_label("Next").click();
    h.step();
    settle_tokens(&mut h);
    let (run, lab) = {
        let app = h.state_mut();
        assert_eq!(app.scene.tokens.as_ref(), Some(&tokens));
        assert!(app.results.cloud.is_none() && app.results.speciation.is_none());
        assert!(app.jobs.errors().is_empty(), "{:?}", app.jobs.errors());
        app.views.token.selected = 3;
        app.views.timeline.step = 4;
        (
            Arc::clone(app.results.tokens.as_ref().unwrap()),
            Arc::clone(app.results.discrete_lab.as_ref().unwrap()),
        )
    };
    h.run_steps(2);
    h.get_by_label(TOKENS_LABEL);
    // Its title in the tour bar and in the panel.
    assert_eq!(
        h.query_all_by_label("Biased spins under masking (test)")
            .count(),
        2
    );
    press(&mut h, egui::Key::PageUp);
    h.step();
    {
        let app = h.state();
        assert_eq!(app.views.tour.as_ref().unwrap().current(), 0);
        assert!(
            app.jobs.idle(),
            "coming back restarts nothing: {:?}",
            app.jobs.rows()
        );
        assert!(Arc::ptr_eq(app.results.cloud.as_ref().unwrap(), &cloud));
        assert!(app.scene.tokens.is_none() && app.results.tokens.is_none());
        assert!(app.results.discrete_lab.is_none());
        assert_eq!(app.scene.current, first);
    }
    assert!(
        h.query_by_label(TOKENS_LABEL).is_none(),
        "the manifold view is back"
    );
    press(&mut h, egui::Key::PageDown);
    h.step();
    let app = h.state();
    assert_eq!(app.views.tour.as_ref().unwrap().current(), 1);
    assert!(
        app.jobs.idle(),
        "coming back restarts nothing: {:?}",
        app.jobs.rows()
    );
    assert!(Arc::ptr_eq(app.results.tokens.as_ref().unwrap(), &run));
    assert!(Arc::ptr_eq(
        app.results.discrete_lab.as_ref().unwrap(),
        &lab
    ));
    assert!(app.results.cloud.is_none());
    assert_eq!((app.views.token.selected, app.views.timeline.step), (3, 4));
    h.get_by_label(TOKENS_LABEL);

    // The teaching tour: eleven stops, the last three the token scenes, each saying what to look at.
    assert_eq!(Tour::teaching().unwrap().len(), 11);
    h.state_mut().start_teaching_tour();
    h.step();
    h.get_by_label_contains("Look at: Watch the cloud split");
    for (stop, title, look, tab) in [
        (
            8,
            "9. Mask vs flip vs Gaussian noise",
            "Grey cells are masked",
            RightTab::Speciation,
        ),
        (
            9,
            "10. Diffusion vs autoregression",
            "Factorized reveals",
            RightTab::Speciation,
        ),
        (
            10,
            "11. The class decides late for correlations",
            "No single token",
            RightTab::Theory,
        ),
    ] {
        let from = h.state().views.tour.as_ref().unwrap().current() as isize;
        h.state_mut().tour_step(stop - from);
        h.run_steps(2);
        let app = h.state();
        assert_eq!(app.views.tour.as_ref().unwrap().current(), stop as usize);
        let shown = app.scene.tokens.as_ref().and_then(|t| t.title.as_deref());
        assert_eq!(shown, Some(title));
        assert_eq!(app.views.right_tab, tab, "{title}");
        h.get_by_label_contains(&format!("Look at: {look}"));
    }
    h.state_mut().end_tour();
}

/// The number field labelled `label` (its label is a node of the same name).
fn number_field<'a>(
    h: &'a egui_kittest::Harness<'static, diffscope::app::DiffscopeApp>,
    label: &'a str,
) -> egui_kittest::Node<'a> {
    h.query_all_by_label(label)
        .find(|n| {
            use egui_kittest::kittest::NodeT;
            n.accesskit_node().role() == egui::accesskit::Role::SpinButton
        })
        .unwrap_or_else(|| panic!("no number field \"{label}\""))
}

/// A token scene is edited in the panel (noise, sampler, length, run settings). Apply refuses a bad
/// draft with one message naming its key, the scene on display and its results staying as they were;
/// a valid draft replaces the scene and runs it and its lab again, and is marked edited (its caption
/// says so).
#[test]
fn a_token_scene_is_edited_in_the_panel_and_applied() {
    use diffscope::model::discrete::DiscreteNoise;
    use diffscope::scene::{TokenModelSpec, TokenSamplerKind};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_token_scene(dir.path()), [1280.0, 800.0]);
    settle_tokens(&mut h);
    let (shown, run) = {
        let app = h.state();
        (
            app.scene.tokens.clone().unwrap(),
            Arc::clone(app.results.tokens.as_ref().unwrap()),
        )
    };
    assert!(!h.state().scene.edited);
    let refused = |h: &mut egui_kittest::Harness<'static, diffscope::app::DiffscopeApp>,
                   key: &str| {
        h.get_by_label("Apply").click();
        h.run_steps(2);
        h.get_by_label_contains(&format!("Not applied: {key}: "));
        let app = h.state();
        assert_eq!(app.scene.tokens.as_ref(), Some(&shown), "{key}");
        assert!(Arc::ptr_eq(app.results.tokens.as_ref().unwrap(), &run));
        assert!(app.jobs.idle() && app.jobs.errors().is_empty(), "{key}");
    };
    // The confidence order needs mask noise.
    h.get_by_label("flip").click();
    h.get_by_label("confidence").click();
    h.run_steps(2);
    refused(&mut h, "sampler.kind");
    // A chain of no site.
    h.get_by_label("mask").click();
    number_field(&h, "length L").set_value_accesskit(0.0);
    h.run_steps(2);
    refused(&mut h, "model.dim");
    number_field(&h, "length L").set_value_accesskit(32.0);
    number_field(&h, "steps").set_value_accesskit(12.0);
    number_field(&h, "sequences").set_value_accesskit(30.0);
    h.run_steps(2);
    h.get_by_label("Apply").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Not applied").is_none());
    settle_tokens(&mut h);
    let app = h.state();
    assert!(app.jobs.errors().is_empty(), "{:?}", app.jobs.errors());
    let scene = app.scene.tokens.as_ref().unwrap();
    assert_eq!(
        (
            scene.noise,
            scene.sampler.kind,
            scene.sampler.steps,
            scene.trajectories
        ),
        (DiscreteNoise::Mask, TokenSamplerKind::Confidence, 12, 30)
    );
    let TokenModelSpec::IsingMixture(model) = &scene.model else {
        panic!("still the Ising mixture");
    };
    assert_eq!(model.dim, 32);
    let data = app.results.tokens.as_ref().unwrap();
    // Twelve steps fewer than the 24 of the scene as opened: twelve stored steps fewer.
    assert_eq!(
        (data.length, data.steps(), data.total),
        (32, run.steps() - 12, 30)
    );
    assert!(app.scene.edited, "the caption says the scene was edited");
}

/// Present mode at 1280×800 with a token scene (large type): the token view's column keeps the heat
/// map's title on one line, each token grid a fifth of the window, and the class posterior's plot
/// area (without its axes) nearly a grid's width, inside the view with room for its last tick. Before,
/// the column was a third of the window: the title wrapped, the grids were 200 px and the posterior's
/// plot area 70 % of one, its last tick cut.
#[test]
fn present_mode_gives_a_token_view_room() {
    use diffscope::app::token_view::{COMMITMENT_LABEL, TOKENS_LABEL};
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_token_scene(dir.path()), [1280.0, 800.0]);
    settle_tokens(&mut h);
    press(&mut h, egui::Key::F5);
    h.run_steps(4);
    assert!(h.state().views.presentation.active);
    let size = h.ctx.style_of(egui::Theme::Light).text_styles[&egui::TextStyle::Body].size;
    let title = h.get_by_label("Commitment times").rect();
    assert!(
        title.height() < 1.6 * size,
        "the title wraps: {title:?} at {size} pt"
    );
    let tokens = h.get_by_label(TOKENS_LABEL).rect();
    let commitment = h.get_by_label(COMMITMENT_LABEL).rect();
    let posterior = h.get_by_label("Class posterior of sequence 1").rect();
    assert!(
        posterior.width() >= 0.8 * tokens.width(),
        "posterior {posterior:?} beside token grid {tokens:?}"
    );
    assert!(
        posterior.right() + 0.5 * size <= commitment.right() + 1.0,
        "posterior {posterior:?} leaves no room for its last tick inside the view (right edge {})",
        commitment.right()
    );
    assert!(
        tokens.width() >= 0.19 * 1280.0,
        "token grid only {} px wide",
        tokens.width()
    );
}

/// A small window keeps the manifold view usable: the side panels give it at least 30 % of the width
/// (their default sizes once left it about 60 px at 800 px).
#[test]
fn a_small_window_keeps_room_for_the_manifold_view() {
    let dir = tempfile::tempdir().unwrap();
    for size in [[800.0, 600.0], [1280.0, 800.0]] {
        let mut h = harness(&small_scene(dir.path()), size);
        settle(&mut h);
        let scene_panel = h.get_by_label("Present (F5)").rect();
        let analysis_panel = h.get_by_label("Speciation").rect();
        let between = analysis_panel.left() - scene_panel.right();
        assert!(
            between >= 0.3 * size[0],
            "{size:?}: {between} px between the panels"
        );
    }
}
