//! The app's behaviour through its widgets (egui_kittest, headless wgpu): a scene runs to the end, a job
//! is cancelled, clicking a point selects its trajectory, a bad file gives one readable error.

mod app_support;

use app_support::{harness, settle, small_scene, step_until};
use diffscope::app::RightTab;
use egui_kittest::kittest::Queryable;

#[test]
fn a_scene_runs_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    let app = h.state();
    let cloud = app.cloud.as_ref().expect("cloud");
    assert_eq!(cloud.trajectories.n, 300);
    // 61 grid points, all kept (below the app's cap of 101).
    assert_eq!(cloud.trajectories.stored_steps, 61);
    assert_eq!(cloud.per_time.len(), 61 * 300 * 3);
    assert!(app.speciation.is_some(), "speciation report");
    assert!(app.metrics.is_some(), "metric report");
    assert!(app.references.is_some(), "reference clouds");
    assert!(
        app.jobs.errors().is_empty(),
        "errors: {:?}",
        app.jobs.errors()
    );
    // The time bar starts at the end of the run (t_min).
    assert_eq!(app.timeline.step, 60);
    h.get_by_label("Idle: all results are up to date.");
}

#[test]
fn cancelling_the_speciation_lab_stops_it_without_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    h.step();
    h.get_by_label("Cancel speciation lab").click();
    step_until(&mut h, "the sampling", |app| {
        app.cloud.is_some() && app.jobs.idle()
    });
    let app = h.state();
    assert!(app.speciation.is_none(), "a cancelled job must not deliver");
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
        let cloud = app.cloud.as_ref().unwrap();
        app.manifold
            .screen_position(cloud, app.timeline.step, target)
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
    let selected = app.manifold.selected.expect("a selection");
    // Another point may sit under the cursor too; the selected one must be drawn within the pick radius.
    let cloud = app.cloud.as_ref().unwrap();
    let at = app
        .manifold
        .screen_position(cloud, app.timeline.step, selected)
        .unwrap();
    assert!(
        at.distance(pos) <= 8.0,
        "selected {selected} drawn at {at:?}, clicked {pos:?}"
    );
    assert_eq!(app.right_tab, RightTab::Inspector);
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

#[test]
fn a_bad_point_file_is_one_readable_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
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
    assert!(errors[0].starts_with("loading points failed"), "{errors:?}");
    assert!(
        errors[0].contains("broken.npy"),
        "the message names the file: {errors:?}"
    );
    h.get_by_label_contains("loading points failed");
    // More frames do not repeat it.
    h.run_steps(3);
    assert_eq!(h.state().jobs.errors().len(), 1);
}
