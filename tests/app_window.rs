//! End-to-end smoke test of the real window: `diffscope --scene S --screenshot F` under Xvfb
//! (`xvfb-run`, installed by `.ci/run`) opens the eframe/wgpu window, waits for the scene's jobs, saves
//! a screenshot and exits 0. The picture must not be blank. Fails, never skips, without Xvfb or an adapter.

mod app_support;

use std::process::Command;

#[test]
fn the_real_window_saves_a_screenshot_that_is_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let png = dir.path().join("window.png");
    let output = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x1024x24"])
        .arg(env!("CARGO_BIN_EXE_diffscope"))
        .arg("--scene")
        .arg(&scene)
        .arg("--screenshot")
        .arg(&png)
        .output()
        .expect("xvfb-run must be installed (package xvfb; .ci/run installs it)");
    assert!(
        output.status.success(),
        "diffscope exited with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let image = image::open(&png).expect("a PNG screenshot").to_rgba8();
    assert!(
        image.width() >= 800 && image.height() >= 600,
        "{}×{}",
        image.width(),
        image.height()
    );
    // Not blank: many distinct colours (UI text, plot lines, coloured points), and the two class colours
    // of the scene are present in the manifold view.
    let mut colours: Vec<[u8; 3]> = image.pixels().map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 200,
        "only {} distinct colours",
        colours.len()
    );
    for k in 0..2 {
        let want = diffscope::render::colormap::class_rgb8(k);
        // Sprites are drawn at 85 % opacity over the dark view, so allow the blend (within 40 per channel).
        let found = image
            .pixels()
            .filter(|p| (0..3).all(|c| p[c].abs_diff(want[c]) <= 40))
            .count();
        assert!(found >= 20, "class {k} colour {want:?} on {found} pixels");
    }
}

/// `diffscope ARGS --screenshot F` under Xvfb: its exit status, stderr, and whether F was written.
fn screenshot_run(args: &[&std::ffi::OsStr], png: &std::path::Path) -> (bool, String, bool) {
    let output = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x1024x24"])
        .arg(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .arg("--screenshot")
        .arg(png)
        .output()
        .expect("xvfb-run must be installed (package xvfb; .ci/run installs it)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        png.exists(),
    )
}

/// A screenshot of a scene that cannot be read, or whose model cannot be loaded once the window is
/// open, fails with the error and writes nothing (it used to save the default scene and exit 0).
#[test]
fn a_failed_screenshot_run_exits_non_zero_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("never.png");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"model\": ").unwrap();
    let (ok, stderr, written) = screenshot_run(&["--scene".as_ref(), bad.as_os_str()], &png);
    assert!(!ok && !written, "{stderr}");
    assert!(stderr.contains("bad.json"), "{stderr}");

    // Parses, but its weights are nowhere: the sampling job fails inside the window.
    let missing = dir.path().join("missing-model.json");
    std::fs::write(
        &missing,
        r#"{"model": {"kind": "learned", "path": "gone.safetensors"},
            "sampler": {"kind": "ancestral", "steps": 10, "t_max": 4.0, "t_min": 0.01, "init": "gaussian"},
            "trajectories": 4, "seed": 1}"#,
    )
    .unwrap();
    let (ok, stderr, written) = screenshot_run(&["--scene".as_ref(), missing.as_os_str()], &png);
    assert!(!ok && !written, "{stderr}");
    assert!(stderr.contains("gone.safetensors"), "{stderr}");
}
