//! The token view on its own (egui_kittest on headless wgpu): built from a small exact run of an
//! Ising mixture under mask noise, it draws (snapshots on the light and the dark theme, references in
//! tests/snapshots/), a click on a row of either grid selects that sequence, and the scrubber moves
//! the step. The view only returns commands; the test applies them as the app will. The view data are
//! checked too: one-hot marginals at t = 0, commitment at the reveal. In the whole app: a token scene
//! file opens into this view over the time bar, its Speciation tab shows the discrete lab's t_mid (the
//! closed form of case M1), a malformed token scene changes nothing but one error, and a continuous
//! scene replaces the token scene; `render` draws and exports a token scene.

mod app_support;

use app_support::{small_scene, step_until};
use diffscope::analysis::view_data::token_view::{TokenViewData, token_view_data};
use diffscope::app::token_view::{
    COMMITMENT_LABEL, TOKENS_LABEL, TokenViewCommand, TokenViewState, ui,
};
use diffscope::app::{DiffscopeApp, RightTab};
use diffscope::diffusion::discrete::{DiscreteSampler, TokenSpec, run_token_trajectories};
use diffscope::diffusion::{GridSpacing, StoreSteps};
use diffscope::model::discrete::ising_chain::{IsingChainClass, IsingChainTokens};
use diffscope::model::discrete::{DiscreteNoise, MASK};
use diffscope::model::ising::Boundary;
use diffscope::scene::SceneTokenModel;
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use std::sync::atomic::AtomicBool;

const SIZE: [f32; 2] = [1100.0, 760.0];

/// 20 sequences of a two-class chain (K = 0.3 and 0.8, fields ±0.3), L = 32, exact sampler, 40 steps.
fn data() -> TokenViewData {
    let class = |coupling: f64, field: f64, label: &str| IsingChainClass {
        weight: 0.5,
        coupling,
        field,
        label: label.into(),
    };
    let model = IsingChainTokens::new(
        32,
        Boundary::Open,
        vec![
            class(0.3, 0.3, "weak, up"),
            class(0.8, -0.3, "strong, down"),
        ],
    )
    .unwrap();
    let spec = TokenSpec {
        noise: DiscreteNoise::Mask,
        sampler: DiscreteSampler::Exact,
        steps: 40,
        t_max: 8.0,
        t_min: 0.01,
        grid: GridSpacing::Log,
        trajectories: 20,
        seed: 4,
        store: StoreSteps::All,
    };
    let run =
        run_token_trajectories(&model, &spec, &mut |_, _| {}, &AtomicBool::new(false)).unwrap();
    token_view_data(&SceneTokenModel::Ising(model), DiscreteNoise::Mask, &run)
}

struct Fixture {
    data: TokenViewData,
    state: TokenViewState,
    commands: Vec<TokenViewCommand>,
}

fn harness(theme: egui::Theme, state: TokenViewState) -> Harness<'static, Fixture> {
    let fixture = Fixture {
        data: data(),
        state,
        commands: Vec::new(),
    };
    Harness::builder()
        .with_size(SIZE)
        .with_theme(theme)
        .wgpu()
        .build_ui_state(
            |ui_, f: &mut Fixture| {
                let commands = ui(ui_, &f.data, &f.state);
                for &c in &commands {
                    f.state.apply(c);
                }
                f.commands.extend(commands);
            },
            fixture,
        )
}

/// As in tests/app_snapshots.rs: anti-aliasing may move between Mesa builds, a wrong layer cannot hide.
fn options() -> SnapshotOptions {
    let pixels = (SIZE[0] * SIZE[1]) as i32 as usize;
    SnapshotOptions::new()
        .threshold(2.0)
        .max_failed_pixels(pixels / 200)
}

/// Draws the view at step 30 of 41 with sequence 3 selected and checks it asked for nothing.
fn snapshot(theme: egui::Theme, name: &str) {
    let mut h = harness(
        theme,
        TokenViewState {
            selected: 2,
            step: 30,
        },
    );
    h.run_steps(3);
    h.snapshot_options(name, &options());
    assert!(h.state().commands.is_empty(), "{:?}", h.state().commands);
}

#[test]
fn the_token_view_draws_on_the_light_theme() {
    snapshot(egui::Theme::Light, "token_view_light");
}

#[test]
fn the_token_view_draws_on_the_dark_theme() {
    snapshot(egui::Theme::Dark, "token_view_dark");
}

/// Presses and releases the primary button at `pos`.
fn click_at(h: &mut Harness<'static, Fixture>, pos: egui::Pos2) {
    h.drag_at(pos);
    h.step();
    h.drop_at(pos);
    h.run_steps(2);
}

#[test]
fn clicking_a_row_selects_its_sequence() {
    let mut h = harness(egui::Theme::Light, TokenViewState::default());
    h.run_steps(2);
    let rows = h.state().data.rows;
    assert_eq!(rows, 20);
    for (label, row) in [(TOKENS_LABEL, 7), (COMMITMENT_LABEL, 13)] {
        let rect = h.get_by_label(label).rect();
        let y = rect.top() + (row as f32 + 0.5) * rect.height() / rows as f32;
        click_at(&mut h, egui::pos2(rect.center().x, y));
        assert_eq!(h.state().state.selected, row, "{label}");
        // The pointer rests on the row: its tooltip names the sequence.
        h.hover_at(egui::pos2(rect.center().x, y));
        h.run();
        let name = format!("sequence {}, site", row + 1);
        assert!(
            h.query_by_label_contains(&name).is_some(),
            "{label}: no '{name}' tooltip"
        );
        assert_eq!(
            h.state().commands.last(),
            Some(&TokenViewCommand::Select(row))
        );
    }
}

#[test]
fn the_scrubber_sets_the_step() {
    let mut h = harness(egui::Theme::Light, TokenViewState::default());
    h.run_steps(2);
    h.get_by_label("step").set_value_accesskit(17.0);
    h.run_steps(2);
    assert_eq!(h.state().state.step, 17);
    assert_eq!(h.state().commands, vec![TokenViewCommand::Step(17)]);
}

#[test]
fn the_view_data_holds_exact_marginals_and_the_commitment_steps() {
    let data = data();
    let last = data.steps() - 1;
    assert_eq!(data.times[last], 0.0);
    for row in 0..data.rows {
        // At t = 0 every site is revealed: its marginal is one-hot at its token.
        for site in 0..data.length {
            let token = usize::from(data.token(row, last, site));
            let marginal = data.marginal(row, last, site);
            for (v, &p) in marginal.iter().enumerate() {
                let one_hot = if v == token { 1.0 } else { 0.0 };
                // The forward–backward pass normalises in f64: rounding at 1e-16.
                assert!(
                    (p - one_hot).abs() < 1e-6,
                    "row {row} site {site}: {marginal:?}"
                );
            }
            // A token commits at its reveal: masked just before its commitment step, fixed after.
            let j = data.commitment(row, site);
            assert!(j == 0 || data.token(row, j - 1, site) == MASK);
            assert!((j..=last).all(|k| data.token(row, k, site) == data.token(row, last, site)));
        }
        let posterior: f32 = data.posterior(row, last).iter().sum();
        assert!((posterior - 1.0).abs() < 1e-5);
    }
}

#[test]
fn a_token_scene_gives_its_view() {
    use diffscope::analysis::control::Control;
    use diffscope::analysis::view_data::token_view::scene_token_view;
    use diffscope::scene::SceneFile;
    let scene = r#"{
      "noise": {"kind": "mask"},
      "model": {"kind": "dyck", "length": 8, "brackets": 2},
      "sampler": {"kind": "autoregressive", "steps": 16, "t_max": 8.0, "t_min": 0.01,
                  "grid": "log", "store": "all"},
      "trajectories": 60,
      "seed": 2
    }"#;
    let SceneFile::Tokens(scene) =
        SceneFile::from_json_str(scene, std::path::Path::new("dyck.json")).unwrap()
    else {
        panic!("a mask scene is a token scene");
    };
    let cancel = AtomicBool::new(false);
    let mut progress = |_: f32, _: &str| {};
    let data = scene_token_view(&scene, &mut Control::new(&mut progress, &cancel)).unwrap();
    // 60 sequences, the first 48 shown; 16 grid steps, the start and t = 0 stored.
    assert_eq!((data.total, data.rows, data.length), (60, 48, 8));
    assert_eq!(data.steps(), 18);
    assert_eq!(data.symbols, ["(", ")", "[", "]"]);
    assert_eq!(data.noise, "mask");
    // Autoregressive: every row commits left to right.
    for row in 0..data.rows {
        assert!((1..8).all(|c| data.commitment(row, c - 1) <= data.commitment(row, c)));
    }
}

/// Case M1 of `docs/science/discrete.md` §6 (independent sites, P(+1) = 0.6 vs 0.4, L = 64, mask
/// noise) with a small run: φ_post is exact by binomial sums whatever the run's size.
const M1_SMALL: &str = r#"{
  "title": "M1, small run (test)",
  "noise": {"kind": "mask"},
  "model": {
    "kind": "ising_mixture", "dim": 64, "coupling": 1.0, "boundary": "open",
    "components": [
      {"weight": 0.5, "beta": 0.0, "field": 0.202733, "label": "up"},
      {"weight": 0.5, "beta": 0.0, "field": -0.202733, "label": "down"}
    ]
  },
  "sampler": {"kind": "exact", "steps": 30, "t_max": 8.0, "t_min": 0.001, "grid": "log",
              "store": "all"},
  "trajectories": 60,
  "seed": 3,
  "speciation": {"clone_times": "auto", "pairs": 40, "labels": "sampled"}
}"#;

/// t_mid of φ_post for M1 (`docs/science/discrete.md` §6 table).
const M1_T_MID: f64 = 1.1149;

/// The app with the small M1 scene opened, stepped until its token run and lab are in.
fn app_with_m1(dir: &std::path::Path) -> Harness<'static, DiffscopeApp> {
    let path = dir.join("m1.json");
    std::fs::write(&path, M1_SMALL).unwrap();
    let mut h = app_support::harness(&path, [1400.0, 900.0]);
    step_until(&mut h, "the token run and the discrete lab", |app| {
        app.jobs.idle() && app.results.tokens.is_some() && app.results.discrete_lab.is_some()
    });
    h
}

#[test]
fn the_app_shows_a_token_scene_and_its_discrete_lab() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with_m1(dir.path());
    let app = h.state();
    assert!(app.jobs.errors().is_empty(), "{:?}", app.jobs.errors());
    assert!(app.scene.tokens.is_some() && app.results.cloud.is_none());
    assert_eq!(app.views.right_tab, RightTab::Speciation);
    let report = app.results.discrete_lab.clone().unwrap();
    let t_mid = report.t_mid_posterior.unwrap();
    assert!((t_mid - M1_T_MID).abs() < 2e-3, "t_mid = {t_mid}");
    // The token view is in the centre (not the manifold view), at the run's last step (t = 0).
    h.get_by_label(TOKENS_LABEL);
    let steps = app.results.tokens.as_ref().unwrap().steps();
    assert_eq!(app.views.timeline.step, steps - 1);
    // The Speciation tab names the crossing and the panel summarises the scene.
    h.get_by_label_contains(&format!("t_mid: φ_post {t_mid:.3} (exact)"));
    h.get_by_label("mixture of 2 Ising chains");
    // The view's scrubber moves the time bar (and so the step every view shows).
    h.get_by_label("step").set_value_accesskit(5.0);
    h.run_steps(3);
    assert_eq!(h.state().views.timeline.step, 5);
    for tab in ["Metrics", "Inspector"] {
        h.get_by_label(tab).click();
        h.run_steps(2);
        assert!(
            h.query_by_label_contains("token scene").is_some(),
            "{tab}: no sentence about token scenes ({:?})",
            h.state().views.right_tab
        );
    }
    // The Theory tab marks the scene's cell of the law table and names its L.
    h.get_by_label("Theory").click();
    h.run_steps(2);
    h.get_by_label_contains("ln L + c\n(this scene, L = 64)");
    h.get_by_label_contains(&format!(
        "Exact crossing t_mid (φ_post = midpoint level) = {t_mid:.3}"
    ));
}

#[test]
fn a_malformed_token_scene_changes_nothing_and_a_continuous_scene_replaces_a_token_scene() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with_m1(dir.path());
    let (scene, view) = {
        let app = h.state();
        (app.scene.tokens.clone(), app.results.tokens.clone())
    };
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, M1_SMALL.replace(r#""steps": 30"#, r#""steps": 0"#)).unwrap();
    h.state_mut().open_path(&bad);
    h.run_steps(2);
    let app = h.state();
    assert_eq!(app.jobs.errors().len(), 1, "{:?}", app.jobs.errors());
    assert!(
        app.jobs.errors()[0].contains("sampler.steps"),
        "{:?}",
        app.jobs.errors()
    );
    assert_eq!(app.scene.tokens, scene);
    assert!(std::sync::Arc::ptr_eq(
        app.results.tokens.as_ref().unwrap(),
        view.as_ref().unwrap()
    ));
    assert!(app.jobs.idle(), "a refused file starts no job");
    // A continuous scene closes the token scene and brings the manifold view back.
    let continuous = small_scene(dir.path());
    h.state_mut().open_path(&continuous);
    step_until(&mut h, "the continuous scene", |app| {
        app.jobs.idle() && app.results.cloud.is_some() && app.results.speciation.is_some()
    });
    let app = h.state();
    assert!(app.scene.tokens.is_none() && app.results.tokens.is_none());
    assert!(app.results.discrete_lab.is_none());
    assert!(h.query_by_label(TOKENS_LABEL).is_none());
}

#[test]
fn the_windows_png_export_of_a_token_view_is_the_rendered_view() {
    use diffscope::app::View;
    use diffscope::app::export::{PngSettings, Shown};
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with_m1(dir.path());
    h.get_by_label("step").set_value_accesskit(10.0);
    h.run_steps(3);
    let exported = dir.path().join("exported.png");
    let settings = PngSettings {
        width: 900,
        height: 600,
        scale: 1,
    };
    Shown::of(h.state(), View::Manifold)
        .render_png(settings, &exported)
        .unwrap();
    let rendered = dir.path().join("rendered.png");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .arg("render")
        .arg(dir.path().join("m1.json"))
        .args([
            "--view", "manifold", "--step", "10", "--width", "900", "--height", "600",
        ])
        .arg("--png")
        .arg(&rendered)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (
        image::open(&exported).unwrap().to_rgba8(),
        image::open(&rendered).unwrap().to_rgba8(),
    );
    assert_eq!(a.dimensions(), b.dimensions());
    // The same run (scene and seed), step and renderer: the same picture up to the caption's
    // wording; the continuous scene's manifold view, drawn before, differed almost everywhere.
    let differing = a
        .pixels()
        .zip(b.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > 8))
        .count();
    let share = differing as f64 / f64::from(a.width() * a.height());
    assert!(share < 0.02, "{:.1} % of the pixels differ", 100.0 * share);
}

#[test]
fn render_draws_a_token_scene_and_exports_its_speciation_figure() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("m1.json");
    std::fs::write(&scene, M1_SMALL).unwrap();
    let (csv, png) = (dir.path().join("phi.csv"), dir.path().join("tokens.png"));
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_diffscope"))
            .arg("render")
            .arg(&scene)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "--view".as_ref(),
        "speciation".as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
    ]);
    // The figure's t_mid line of φ_post is case M1's closed form.
    let text = std::fs::read_to_string(&csv).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("t_mid φ_post") && l.contains(",vline,"))
        .unwrap_or_else(|| panic!("no t_mid line in\n{text}"));
    let x: f64 = line
        .split(",vline,")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((x - M1_T_MID).abs() < 2e-3, "{line}");
    run(&[
        "--view".as_ref(),
        "manifold".as_ref(),
        "--step".as_ref(),
        "10".as_ref(),
        "--png".as_ref(),
        png.as_os_str(),
    ]);
    assert!(image::open(&png).is_ok());
    // 30 grid steps, the start and t = 0 stored: step 32 is past the run.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args([
            "render".as_ref(),
            scene.as_os_str(),
            "--view".as_ref(),
            "manifold".as_ref(),
            "--step".as_ref(),
            "32".as_ref(),
        ])
        .args(["--png".as_ref(), png.as_os_str()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("32 stored steps"),
        "{stderr}"
    );
}
