//! Shared set-up of the app tests: a small two-class scene (fast in the debug test profile), the app in
//! an egui_kittest harness on the wgpu renderer (lavapipe here; a missing adapter fails the test), and a
//! loop that steps the app until its jobs are done.

#![allow(dead_code)]

use diffscope::app::{AppOptions, DiffscopeApp};
use egui_kittest::Harness;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Two Gaussians ±1 in d = 8 (speciation near t = ½ ln 8 ≈ 1.04); 300 trajectories, 60 steps, 200
/// clone pairs: every job finishes in seconds in the test profile.
pub const SMALL_SCENE: &str = r#"{
  "title": "Two Gaussians, d = 8 (test)",
  "model": {
    "kind": "gaussian_mixture",
    "dim": 8,
    "components": [
      {"weight": 0.5, "mean": {"fill": 1.0}, "cov": {"isotropic": 1.0}, "label": "+"},
      {"weight": 0.5, "mean": {"fill": -1.0}, "cov": {"isotropic": 1.0}, "label": "-"}
    ]
  },
  "sampler": {"kind": "sde", "steps": 60, "t_max": 6.0, "t_min": 0.01, "grid": "log"},
  "trajectories": 300,
  "seed": 11,
  "speciation": {"clone_times": "auto", "pairs": 200, "labels": "argmax"}
}"#;

/// Writes the small scene into `dir` and returns its path.
pub fn small_scene(dir: &Path) -> PathBuf {
    let path = dir.join("small.json");
    std::fs::write(&path, SMALL_SCENE).expect("write the test scene");
    path
}

/// The real app in a headless wgpu harness of `size` points.
pub fn harness(scene: &Path, size: [f32; 2]) -> Harness<'static, DiffscopeApp> {
    let options = AppOptions {
        scene: Some(scene.to_path_buf()),
        ..AppOptions::default()
    };
    Harness::builder()
        .with_size(size)
        .wgpu()
        .build_eframe(move |cc| {
            DiffscopeApp::with_render_state(cc.wgpu_render_state.as_ref(), options)
        })
}

/// Steps the app until `done` holds; fails after a generous wall-clock guard (a hang, not a speed test).
pub fn step_until(
    harness: &mut Harness<'static, DiffscopeApp>,
    what: &str,
    done: impl Fn(&DiffscopeApp) -> bool,
) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    // A few more frames so the finished results are laid out and drawn.
    for _ in 0..3 {
        harness.step();
    }
}

/// Waits until every job is done and the cloud is shown.
pub fn settle(harness: &mut Harness<'static, DiffscopeApp>) {
    step_until(harness, "all jobs", |app| {
        app.jobs.idle() && app.results.cloud.is_some()
    });
}

/// A small token scene: two classes of 24 independent spins (P(+1) = 0.6 vs 0.4) under mask noise,
/// exact sampler, 24 steps, 40 sequences, 40 clone pairs: its run and lab finish in seconds.
pub const SMALL_TOKEN_SCENE: &str = r#"{
  "title": "Biased spins under masking (test)",
  "noise": {"kind": "mask"},
  "model": {
    "kind": "ising_mixture", "dim": 24, "coupling": 1.0, "boundary": "open",
    "components": [
      {"weight": 0.5, "beta": 0.0, "field": 0.202733, "label": "up"},
      {"weight": 0.5, "beta": 0.0, "field": -0.202733, "label": "down"}
    ]
  },
  "sampler": {"kind": "exact", "steps": 24, "t_max": 8.0, "t_min": 0.001, "grid": "log",
              "store": "all"},
  "trajectories": 40,
  "seed": 5,
  "speciation": {"clone_times": "auto", "pairs": 40, "labels": "sampled"}
}"#;

/// Writes the small token scene into `dir` and returns its path.
pub fn small_token_scene(dir: &Path) -> PathBuf {
    let path = dir.join("tokens.json");
    std::fs::write(&path, SMALL_TOKEN_SCENE).expect("write the test token scene");
    path
}

/// Waits until every job is done and a token scene's run and lab are shown.
pub fn settle_tokens(harness: &mut Harness<'static, DiffscopeApp>) {
    step_until(harness, "the token run and the discrete lab", |app| {
        app.jobs.idle() && app.results.tokens.is_some() && app.results.discrete_lab.is_some()
    });
}
