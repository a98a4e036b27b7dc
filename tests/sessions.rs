//! Sessions: the app's state survives save → load into a fresh app (same picture), a token scene with
//! its token view too, a damaged, newer or foreign session (or token part) is refused with one clear
//! error and changes nothing, a failed save keeps the old file, the autosave restores the last run, and
//! `diffscope render --session` rebuilds a figure headless.

mod fs_support;
use fs_support::modes_are_ignored;

mod app_support;

use app_support::{SMALL_SCENE, harness, settle, settle_tokens, small_scene, small_token_scene};
use diffscope::app::manifold::{ColorBy, Dimensions};
use diffscope::app::{AppOptions, DiffscopeApp, RightTab};
use diffscope::scene::Scene;
use diffscope::session::{self, Session};
use egui_kittest::Harness;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The app in a headless harness started with `options` (1280×800).
fn harness_with(options: AppOptions) -> Harness<'static, DiffscopeApp> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .wgpu()
        .build_eframe(move |cc| {
            DiffscopeApp::with_render_state(cc.wgpu_render_state.as_ref(), options)
        })
}

/// Share of pixels whose largest channel difference exceeds 8 of 255 (anti-aliasing and lavapipe's
/// rounding move edges by a step or two; a different camera, step or colouring moves most points).
fn differing_share(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let differing = a
        .pixels()
        .zip(b.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > 8))
        .count();
    differing as f64 / f64::from(a.width() * a.height())
}

/// Tolerance of "the same image": 0.2 % of the pixels (2 048 of 1280×800). Re-rendering one state in
/// one process differs in no pixel; the margin is for text hinting and point rims. Changing the view
/// (checked below) changes more than 5 % of the pixels.
const SAME_IMAGE: f64 = 0.002;

/// A view far from the defaults: 3-D orbit moved by hand, pooled basis, time colours in magma, trails,
/// a selected trajectory at a middle step, the inspector open.
fn change_view(app: &mut DiffscopeApp) {
    let m = &mut app.views.manifold.settings;
    m.dims = Dimensions::Three;
    m.pooled = true;
    m.color_by = ColorBy::Time;
    m.colormap = diffscope::render::colormap::Colormap::Magma;
    m.trail_steps = 6;
    m.radius_px = 3.5;
    m.follow = false;
    m.orbit.yaw = 1.3;
    m.orbit.pitch = -0.4;
    m.orbit.distance *= 0.8;
    m.selected = Some(17);
    app.views.timeline.step = 30;
    app.views.right_tab = RightTab::Inspector;
}

#[test]
fn save_then_load_into_a_fresh_app_draws_the_same_picture() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut a);
    // Fit the orbit camera to the cloud once (3-D, following), then take over by hand.
    a.state_mut().views.manifold.settings.dims = Dimensions::Three;
    a.run_steps(2);
    let before = a.render().unwrap();
    change_view(a.state_mut());
    a.run_steps(3);
    let original = a.render().unwrap();
    let path = dir.path().join("figure.session.json");
    assert!(a.state_mut().save_session(&path));
    let saved = a.state().session();

    let mut b = harness_with(AppOptions {
        session: Some(path.clone()),
        ..AppOptions::default()
    });
    settle(&mut b);
    b.run_steps(3);
    let restored = b.render().unwrap();
    let app = b.state();
    assert!(app.jobs.errors().is_empty(), "{:?}", app.jobs.errors());
    assert_eq!(app.session(), saved, "restored state");
    assert_eq!(
        (
            app.views.timeline.step,
            app.views.manifold.settings.selected
        ),
        (30, Some(17))
    );
    let changed = differing_share(&before, &original);
    let same = differing_share(&original, &restored);
    eprintln!("pixels changed by the view change: {changed:.4}; original vs restored: {same:.6}");
    assert!(changed > 0.05, "the view change must show: {changed}");
    assert!(
        same <= SAME_IMAGE,
        "restored picture differs in {same} of the pixels"
    );
    // And the file itself round-trips exactly.
    assert_eq!(Session::load(&path).unwrap(), saved);
}

/// Damaged and foreign session files, each with the words its error must contain.
fn bad_sessions(dir: &Path, valid: &str) -> Vec<(PathBuf, &'static str)> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // (file, text replaced in the valid session, its replacement, expected error)
    let edits = [
        (
            "newer.json",
            "\"diffscope_session\": 1",
            "\"diffscope_session\": 2",
            "newer diffscope (format version 2; this one reads versions up to 1)",
        ),
        (
            "old.json",
            "\"diffscope_session\": 1",
            "\"diffscope_session\": 0",
            "unsupported format version 0",
        ),
        (
            "wrong-type.json",
            "\"radius_px\": 3.5",
            "\"radius_px\": \"big\"",
            "view.manifold.radius_px: invalid type",
        ),
        (
            "unknown-key.json",
            "\"show_path\"",
            "\"zoom\": 2, \"show_path\"",
            "unknown field `zoom`",
        ),
        (
            "bad-camera.json",
            "\"pitch\": -0.4",
            "\"pitch\": 9.0",
            "view.manifold.camera.pitch: pitch must be in [-1.5, 1.5]",
        ),
        (
            "bad-scene.json",
            "\"trajectories\": 300",
            "\"trajectories\": 0",
            "scene.trajectories: trajectories must be in 1..=",
        ),
    ];
    let mut cases: Vec<(PathBuf, &'static str)> = edits
        .iter()
        .map(|&(name, from, to, expected)| {
            assert!(valid.contains(from), "the valid session has no `{from}`");
            (write(name, &valid.replacen(from, to, 1)), expected)
        })
        .collect();
    cases.extend([
        (
            write("truncated.json", &valid[..valid.len() / 2]),
            "invalid JSON",
        ),
        (write("scene.json", SMALL_SCENE), "this is a scene file"),
        (write("list.json", "[1, 2]"), "not a JSON object"),
    ]);
    cases
}

#[test]
fn a_bad_session_gives_one_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    change_view(h.state_mut());
    h.run_steps(2);
    let valid = h.state().session().to_json_pretty().unwrap();
    let before = h.state().session();
    for (path, expected) in bad_sessions(dir.path(), &valid) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let app = h.state_mut();
        assert!(!app.open_session(&path), "{name} should be refused");
        let errors = app.jobs.errors().to_vec();
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        let error = &errors[0];
        assert!(
            error.contains(expected) && error.contains(&name) && !error.contains('\n'),
            "{name}: {error}"
        );
        app.jobs.dismiss_error(0);
        h.run_steps(2);
        let app = h.state();
        assert!(app.jobs.idle(), "{name}: no job may restart");
        assert_eq!(app.session(), before, "{name}: state changed");
    }
    // Dropped on the window, a damaged session is still reported as a session, a scene as a scene.
    let truncated = dir.path().join("truncated.json");
    h.state_mut().open_path(&truncated);
    let errors = h.state().jobs.errors().to_vec();
    assert!(
        errors.len() == 1 && errors[0].starts_with("could not open the session"),
        "{errors:?}"
    );
}

#[test]
fn a_dropped_session_file_opens_as_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    let mut session = h.state().session();
    session.scene.seed = 12;
    session.view.manifold.dimensions = session::Dimensions::Three;
    session.view.manifold.selected = Some(5);
    session.view.timeline.step = Some(10_000);
    let path = dir.path().join("dropped.json");
    session.save(&path).unwrap();
    h.state_mut().open_path(&path);
    settle(&mut h);
    let app = h.state();
    assert!(app.jobs.errors().is_empty(), "{:?}", app.jobs.errors());
    assert_eq!(app.scene.current.seed, 12, "the new seed resamples");
    assert_eq!(app.views.manifold.settings.dims, Dimensions::Three);
    assert_eq!(app.views.manifold.settings.selected, Some(5));
    // A step beyond the run is clamped to its last stored step.
    assert_eq!(app.views.timeline.step, 60);
}

#[test]
fn a_failed_save_keeps_the_previous_session_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("out");
    std::fs::create_dir(&folder).unwrap();
    let path = folder.join("last.json");
    let old = Session {
        scene: Scene::from_json_str(SMALL_SCENE, Path::new("small.json")).unwrap(),
        view: Default::default(),
        tokens: None,
    };
    old.save(&path).unwrap();
    let old_bytes = std::fs::read(&path).unwrap();
    let mut new = old.clone();
    new.scene.seed = 99;
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    let target = if modes_are_ignored(&folder) {
        // Running as root: make the rename fail instead (the target is a non-empty folder).
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        let blocked = folder.join("blocked.json");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("inside"), b"x").unwrap();
        blocked
    } else {
        path.clone()
    };
    let error = new.save(&target).unwrap_err().to_string();
    assert!(
        error.contains("cannot write") && error.contains("json"),
        "{error}"
    );
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
    let leftovers: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_autosave_restores_the_last_run_and_is_written_on_exit() {
    let dir = tempfile::tempdir().unwrap();
    let autosave = dir.path().join("state/diffscope/last-session.json");
    // First run: nothing saved yet, so the built-in scene; leave it on the small scene, then exit.
    let mut first = harness_with(AppOptions {
        autosave: Some(autosave.clone()),
        ..AppOptions::default()
    });
    assert_eq!(first.state().scene.current, Scene::default_scene());
    let small = Scene::load(&small_scene(dir.path())).unwrap();
    first.state_mut().apply_scene(small.clone());
    settle(&mut first);
    first.state_mut().views.manifold.settings.dims = Dimensions::Three;
    first.state_mut().views.timeline.step = 12;
    // A frame refits the following camera to the 3-D view of step 12, as the restored app will.
    first.run_steps(2);
    let left = first.state().session();
    eframe::App::on_exit(first.state_mut());
    drop(first);
    assert_eq!(Session::load(&autosave).unwrap(), left);

    // Second run: restored.
    let mut second = harness_with(AppOptions {
        autosave: Some(autosave.clone()),
        ..AppOptions::default()
    });
    settle(&mut second);
    assert_eq!(second.state().session(), left);
    drop(second);

    // A damaged autosave: one error, the built-in scene.
    std::fs::write(&autosave, "{\"diffscope_session\": 1, \"scene\": ").unwrap();
    let damaged = harness_with(AppOptions {
        autosave: Some(autosave.clone()),
        ..AppOptions::default()
    });
    let app = damaged.state();
    assert_eq!(app.scene.current, Scene::default_scene());
    let errors = app.jobs.errors();
    assert!(
        errors.len() == 1
            && errors[0].starts_with("could not restore the last session")
            && errors[0].contains("last-session.json"),
        "{errors:?}"
    );
}

#[test]
fn render_session_rebuilds_the_figure_headless() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = Session {
        scene: Scene::from_json_str(SMALL_SCENE, Path::new("small.json")).unwrap(),
        view: Default::default(),
        tokens: None,
    };
    session.view.manifold.dimensions = session::Dimensions::Three;
    session.view.manifold.selected = Some(3);
    let path = dir.path().join("figure.json");
    session.save(&path).unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_diffscope"))
            .arg("render")
            .args(args)
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    };
    let png = dir.path().join("figure.png");
    let output = run(&[
        "--session".as_ref(),
        path.as_os_str(),
        "--view".as_ref(),
        "manifold".as_ref(),
        "--png".as_ref(),
        png.as_os_str(),
        "--width".as_ref(),
        "640".as_ref(),
        "--height".as_ref(),
        "400".as_ref(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let image = image::open(&png).unwrap().to_rgba8();
    assert_eq!(image.dimensions(), (640, 400));
    // The rendered view saved as a session (the app's own writer) holds the same state and draws the
    // same figure again.
    let saved = dir.path().join("saved.json");
    let again = dir.path().join("again.png");
    let render_saving = |input: &Path, output: &Path, save: &Path| {
        run(&[
            "--session".as_ref(),
            input.as_os_str(),
            "--view".as_ref(),
            "manifold".as_ref(),
            "--png".as_ref(),
            output.as_os_str(),
            "--width".as_ref(),
            "640".as_ref(),
            "--height".as_ref(),
            "400".as_ref(),
            "--save-session".as_ref(),
            save.as_os_str(),
        ])
    };
    let output = render_saving(&path, &again, &saved);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reloaded = Session::load(&saved).unwrap();
    assert_eq!(reloaded.scene, session.scene);
    assert_eq!(
        reloaded.view.manifold.dimensions,
        session::Dimensions::Three
    );
    assert_eq!(reloaded.view.manifold.selected, Some(3));
    let redrawn = dir.path().join("redrawn.png");
    let output = render_saving(&saved, &redrawn, &dir.path().join("saved-twice.json"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let redrawn = image::open(&redrawn).unwrap().to_rgba8();
    assert!(
        differing_share(&image, &redrawn) <= SAME_IMAGE,
        "the saved session draws another figure"
    );
    // A session that cannot be written is one clear error naming the file.
    let unwritable = dir.path().join("no-such-dir").join("s.json");
    let output = render_saving(&path, &again, &unwritable);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.trim().lines().count() == 1 && stderr.contains("s.json"),
        "{stderr}"
    );
    // A bad session is refused before anything is drawn, naming the file.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"diffscope_session\": 7}").unwrap();
    let output = run(&[
        "--session".as_ref(),
        bad.as_os_str(),
        "--view".as_ref(),
        "manifold".as_ref(),
        "--png".as_ref(),
        dir.path().join("no.png").as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && stderr.contains("newer diffscope")
            && stderr.contains("bad.json"),
        "{stderr}"
    );
    // A scene and a session at once is a usage error.
    let output = run(&[
        path.as_os_str(),
        "--session".as_ref(),
        path.as_os_str(),
        "--view".as_ref(),
        "manifold".as_ref(),
        "--png".as_ref(),
        png.as_os_str(),
    ]);
    assert!(!output.status.success());
}

/// A token scene on display is saved with its token view (selected sequence, step) and comes back in
/// a fresh app with the same run; a continuous session written without a token part still opens (and
/// closes the token scene). A malformed token part is one error naming its key and changes nothing.
#[test]
fn a_token_scene_session_round_trips_and_a_bad_token_part_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = harness(&small_token_scene(dir.path()), [1280.0, 800.0]);
    settle_tokens(&mut a);
    {
        let app = a.state_mut();
        app.views.token.selected = 7;
        app.views.timeline.step = 12;
    }
    a.run_steps(2);
    let path = dir.path().join("tokens.session.json");
    assert!(a.state_mut().save_session(&path));
    let saved = a.state().session();
    let tokens = saved.tokens.as_ref().expect("the token scene is saved");
    assert_eq!(Some(&tokens.scene), a.state().scene.tokens.as_ref());
    assert_eq!((tokens.selected, saved.view.timeline.step), (7, Some(12)));
    assert_eq!(Session::load(&path).unwrap(), saved);

    let mut b = harness_with(AppOptions {
        session: Some(path.clone()),
        ..AppOptions::default()
    });
    settle_tokens(&mut b);
    b.run_steps(2);
    let app = b.state();
    assert!(app.jobs.errors().is_empty(), "{:?}", app.jobs.errors());
    assert_eq!(app.session(), saved, "restored state");
    assert_eq!((app.views.token.selected, app.views.timeline.step), (7, 12));
    // The same seed draws the same run.
    let (run_a, run_b) = (
        a.state().results.tokens.clone().unwrap(),
        app.results.tokens.clone().unwrap(),
    );
    assert_eq!(run_a.times, run_b.times);
    assert!(
        (0..run_a.rows)
            .all(|r| (0..run_a.length).all(|c| run_a.token(r, 12, c) == run_b.token(r, 12, c)))
    );

    let valid = saved.to_json_pretty().unwrap();
    let before = b.state().session();
    // (text replaced in the valid session, its replacement, the key the error names)
    let edits = [
        (
            "\"steps\": 24",
            "\"steps\": 0",
            "tokens.scene.sampler.steps",
        ),
        ("\"dim\": 24", "\"dim\": \"long\"", "tokens.scene.model.dim"),
        (
            "\"kind\": \"mask\"",
            "\"kind\": \"gaussian\"",
            "tokens.scene.sampler.kind",
        ),
        ("\"selected\": 7", "\"selected\": -7", "tokens.selected"),
        (
            "\"selected\": 7",
            "\"selected\": 7, \"zoom\": 2",
            "unknown field `zoom`",
        ),
    ];
    for (i, (from, to, expected)) in edits.into_iter().enumerate() {
        assert_eq!(valid.matches(from).count(), 1, "`{from}` is not unique");
        let bad = dir.path().join(format!("bad-tokens-{i}.json"));
        std::fs::write(&bad, valid.replacen(from, to, 1)).unwrap();
        let app = b.state_mut();
        assert!(!app.open_session(&bad), "{expected}: should be refused");
        let errors = app.jobs.errors().to_vec();
        assert!(
            errors.len() == 1
                && errors[0].contains(expected)
                && errors[0].contains(&format!("bad-tokens-{i}.json"))
                && !errors[0].contains('\n'),
            "{errors:?}"
        );
        app.jobs.dismiss_error(0);
        b.run_steps(2);
        let app = b.state();
        assert!(app.jobs.idle(), "{expected}: no job may restart");
        assert_eq!(app.session(), before, "{expected}: state changed");
    }

    // A continuous session (no token part, as every session before token scenes) opens and
    // replaces the token scene.
    let continuous = Session {
        scene: Scene::from_json_str(SMALL_SCENE, Path::new("small.json")).unwrap(),
        view: Default::default(),
        tokens: None,
    };
    let text = continuous.to_json_pretty().unwrap();
    assert!(!text.contains("\"tokens\""), "{text}");
    let old = dir.path().join("continuous.json");
    std::fs::write(&old, text).unwrap();
    assert!(b.state_mut().open_session(&old));
    settle(&mut b);
    let app = b.state();
    assert!(app.scene.tokens.is_none() && app.results.tokens.is_none());
    assert_eq!(app.session().scene, continuous.scene);
}
