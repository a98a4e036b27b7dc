//! Scene files: every shipped scene parses, builds and round-trips; every kind of bad scene gives one
//! clear error that names the offending key path and the file.

use std::path::{Path, PathBuf};

use diffscope::model::analytic::AnalyticModel;
use diffscope::model::{Denoiser, ExactModel};
use diffscope::scene::caption::PENDING;
use diffscope::scene::{
    CloneTimes, ModelSpec, SamplerKind, Scene, SceneError, SceneFile, StoreSpec,
};

fn shipped() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_scene_parses_builds_and_round_trips() {
    let files = shipped();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "two-gaussians.json",
        "two-gaussians-d256.json",
        "variance-1-vs-2.json",
        "ising-0.3-vs-0.8.json",
        "hierarchy-4class.json",
        "spiked-vs-isotropic.json",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing shipped scene {expected}"
        );
    }
    for file in &files {
        // Token scenes (mask or flip noise) are checked in tests/discrete_scenes.rs.
        let scene = match SceneFile::load(file).unwrap_or_else(|e| panic!("{e}")) {
            SceneFile::Diffusion(scene) => scene,
            SceneFile::Tokens(tokens) => {
                tokens.build_model().unwrap();
                let again = SceneFile::from_json_str(&tokens.to_json_pretty().unwrap(), file);
                assert_eq!(again.unwrap(), SceneFile::Tokens(tokens));
                continue;
            }
        };
        // A hidden-state scene drives no diffusion: it only round-trips here (tests/onnx_hidden_states.rs
        // opens the shipped one).
        if let ModelSpec::HiddenStates(_) = scene.model {
            let again = Scene::from_json_str(&scene.to_json_pretty().unwrap(), file).unwrap();
            assert_eq!(scene, again, "{} does not round-trip", file.display());
            continue;
        }
        let built = scene
            .model
            .build(file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let ModelSpec::Learned(_) | ModelSpec::Onnx(_) = scene.model {
            assert!(built.exact().is_none());
            assert!(scene.model.build_analytic().is_err());
        } else {
            let model = scene.model.build_analytic().unwrap();
            assert_eq!(Some(model.dim()), scene.model.dim());
            assert_eq!(Some(model.weights().len()), scene.model.class_count());
            assert_eq!(Some(built.denoiser().dim()), scene.model.dim());
        }
        let text = scene.to_json_pretty().unwrap();
        let again = Scene::from_json_str(&text, file).unwrap();
        assert_eq!(scene, again, "{} does not round-trip", file.display());
    }
}

#[test]
fn shipped_scenes_have_the_spec_parameters() {
    let load = |name: &str| {
        Scene::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/scenes")
                .join(name),
        )
        .unwrap()
    };
    // Case E: the first group split is the sign of the m1 component (coordinates 0..192), and
    // |m1|² = 256, |m2|² = 16.
    let e = load("hierarchy-4class.json");
    let Ok(AnalyticModel::Gaussian(g)) = e.model.build_analytic() else {
        panic!("E is a Gaussian mixture")
    };
    let groups = e.speciation.as_ref().unwrap().groups.clone().unwrap();
    assert_eq!(groups, vec![vec![0, 1], vec![2, 3]]);
    let m1_sign = |k: usize| g.components()[k].mean()[0].signum();
    for group in &groups {
        assert!(group.iter().all(|&k| m1_sign(k) == m1_sign(group[0])));
    }
    assert_ne!(m1_sign(groups[0][0]), m1_sign(groups[1][0]));
    let mean = g.components()[0].mean();
    let m1: f64 = mean[..192].iter().map(|v| v * v).sum();
    let m2: f64 = mean[192..].iter().map(|v| v * v).sum();
    assert!(
        (m1 - 256.0).abs() < 1e-9 && (m2 - 16.0).abs() < 1e-9,
        "|m1|² = {m1}, |m2|² = {m2}"
    );
    // Case D: β 0.3 vs 0.8, J = 1, open, d = 100.
    let d = load("ising-0.3-vs-0.8.json");
    let Ok(AnalyticModel::Ising(m)) = d.model.build_analytic() else {
        panic!("D is an Ising mixture")
    };
    assert_eq!(
        (m.dim(), m.betas(), m.coupling()),
        (100, &[0.3, 0.8][..], 1.0)
    );
}

#[test]
fn default_scene_is_the_two_gaussian_teaching_scene() {
    let s = Scene::default_scene();
    assert_eq!(s.trajectories, 2000);
    assert_eq!(s.sampler.kind, SamplerKind::Sde);
    let Ok(AnalyticModel::Gaussian(g)) = s.model.build_analytic() else {
        panic!()
    };
    assert_eq!(g.dim(), 64);
    assert_eq!(g.components()[0].mean(), &[1.0; 64][..]);
    assert_eq!(g.components()[1].mean(), &[-1.0; 64][..]);
    assert_eq!(g.components()[0].isotropic_variance(), Some(1.0));
}

const GOOD: &str = r#"{
  "model": {"kind": "gaussian_mixture", "dim": 3, "components": [
    {"weight": 0.25, "mean": [1, 2, 3], "cov": {"isotropic": 1.0}},
    {"weight": 0.75, "mean": {"axis": 2, "value": -1}, "cov": {"full": [[2, 0.5, 0], [0.5, 1, 0], [0, 0, 0]]}, "label": "b"}]},
  "sampler": {"kind": "ancestral", "steps": 100, "t_max": 6, "t_min": 0.01, "store": {"every": 5}},
  "trajectories": 10, "seed": 1,
  "speciation": {"clone_times": [0.5, 1.0], "groups": [[1], [0]]}
}"#;

fn parse(text: &str) -> Result<Scene, SceneError> {
    Scene::from_json_str(text, Path::new("scenes/bad.json"))
}

#[test]
fn defaults_and_optional_keys() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.sampler.store, StoreSpec::Every(5));
    let sp = s.speciation.unwrap();
    assert_eq!(
        (sp.pairs, sp.clone_times),
        (2000, CloneTimes::Times(vec![0.5, 1.0]))
    );
    let ModelSpec::GaussianMixture(g) = &s.model else {
        panic!()
    };
    assert!(g.components[0].label.is_none());
    let minimal = r#"{"model": {"kind": "ising_mixture", "dim": 5, "coupling": -1, "boundary": "periodic",
        "components": [{"weight": 1, "beta": 0.5}]},
        "sampler": {"kind": "ode", "steps": 10, "t_max": 3, "t_min": 0.1}, "trajectories": 1, "seed": 0,
        "speciation": {}}"#;
    let s = parse(minimal).unwrap();
    assert_eq!(s.speciation.unwrap().clone_times, CloneTimes::Auto);
    assert_eq!(s.sampler.store, StoreSpec::All);
}

/// `GOOD` with one textual replacement, expected to fail with a message containing every `needle`.
fn assert_bad(from: &str, to: &str, needles: &[&str]) {
    assert!(GOOD.contains(from), "test setup: {from:?} not in GOOD");
    let text = GOOD.replacen(from, to, 1);
    let err = parse(&text)
        .expect_err(&format!("{to:?} should be rejected"))
        .to_string();
    for needle in needles.iter().chain(&["scenes/bad.json"]) {
        assert!(
            err.contains(needle),
            "error {err:?} should mention {needle:?}"
        );
    }
}

#[test]
fn bad_scenes_name_the_offending_key() {
    // Unknown keys, at several depths.
    assert_bad(
        r#""seed": 1"#,
        r#""seed": 1, "sed": 2"#,
        &["sed", "unknown field"],
    );
    assert_bad(r#""dim": 3"#, r#""dim": 3, "colour": 1"#, &["model.colour"]);
    assert_bad(
        r#""label": "b""#,
        r#""label": "b", "lable": "c""#,
        &["model.components[1].lable"],
    );
    assert_bad(
        r#""steps": 100"#,
        r#""steps": 100, "stepz": 1"#,
        &["sampler.stepz"],
    );
    assert_bad(
        r#""mean": [1, 2, 3]"#,
        r#""mean": {"fill": 1, "x": 2}"#,
        &["model.components[0].mean", "fill"],
    );
    // Wrong types, strings for numbers.
    assert_bad(
        r#""isotropic": 1.0"#,
        r#""isotropic": "1.0""#,
        &["model.components[0].cov.isotropic", "invalid type"],
    );
    assert_bad(
        r#""trajectories": 10"#,
        r#""trajectories": "10""#,
        &["trajectories", "invalid type"],
    );
    assert_bad(r#""steps": 100"#, r#""steps": 1.5"#, &["sampler.steps"]);
    assert_bad(
        r#""kind": "ancestral""#,
        r#""kind": "euler""#,
        &["sampler.kind", "euler"],
    );
    assert_bad(
        r#""kind": "gaussian_mixture""#,
        r#""kind": "gmm""#,
        &["model.kind", "gmm"],
    );
    assert_bad(
        r#"{"isotropic": 1.0}"#,
        r#"{"isotropic": 1.0, "diagonal": [1, 1, 1]}"#,
        &["model.components[0].cov", "single key"],
    );
    // Out-of-range values.
    assert_bad(
        r#""isotropic": 1.0"#,
        r#""isotropic": -1"#,
        &["model.components[0].cov.isotropic", "variance", "-1"],
    );
    assert_bad(
        r#"[0, 0, 0]]"#,
        r#"[0, 0, -1]]"#,
        &["model.components[1].cov.full", "positive semidefinite"],
    );
    assert_bad(
        r#"[0.5, 1, 0]"#,
        r#"[0.4, 1, 0]"#,
        &["model.components[1].cov.full", "not symmetric"],
    );
    assert_bad(
        r#""weight": 0.25"#,
        r#""weight": 0.3"#,
        &["model.components", "sum to 1", "1.05"],
    );
    assert_bad(
        r#""weight": 0.25"#,
        r#""weight": -0.25"#,
        &["model.components[0].weight"],
    );
    assert_bad(
        r#""t_min": 0.01"#,
        r#""t_min": 7"#,
        &["sampler.t_min", "t_max"],
    );
    assert_bad(
        r#""t_max": 6"#,
        r#""t_max": 1e308"#,
        &["sampler.t_max", "1e308"],
    );
    assert_bad(
        r#""trajectories": 10"#,
        r#""trajectories": 0"#,
        &["trajectories", "1..=10000000"],
    );
    assert_bad(r#""dim": 3"#, r#""dim": 70000"#, &["model.dim"]);
    assert_bad(
        r#""clone_times": [0.5, 1.0]"#,
        r#""clone_times": [0.5, -1.0]"#,
        &["speciation.clone_times[1]"],
    );
    assert_bad(
        r#""clone_times": [0.5, 1.0]"#,
        r#""clone_times": "sometimes""#,
        &["speciation.clone_times", "auto"],
    );
    // Dimension mismatches.
    assert_bad(
        r#""mean": [1, 2, 3]"#,
        r#""mean": [1, 2]"#,
        &["model.components[0].mean", "expected dim = 3"],
    );
    assert_bad(
        r#"[0, 0, 0]]"#,
        r#"[0, 0]]"#,
        &["model.components[1].cov.full[2]", "expected 3"],
    );
    assert_bad(
        r#""axis": 2"#,
        r#""axis": 3"#,
        &["model.components[1].mean.axis", "< dim = 3"],
    );
    assert_bad(
        r#"{"isotropic": 1.0}"#,
        r#"{"spiked": {"base": 1, "spike": 2, "axis": 9}}"#,
        &["model.components[0].cov.spiked.axis"],
    );
    assert_bad(
        r#"{"isotropic": 1.0}"#,
        r#"{"diagonal": [1, 1]}"#,
        &["model.components[0].cov.diagonal", "dim = 3"],
    );
    // Not numbers at all.
    assert_bad(
        r#""isotropic": 1.0"#,
        r#""isotropic": NaN"#,
        &["NaN", "isotropic", "line 3"],
    );
    assert_bad(
        r#""t_max": 6"#,
        r#""t_max": 1e999"#,
        &["out of range", "t_max"],
    );
    // Missing required keys.
    assert_bad(r#""seed": 1,"#, "", &["missing field `seed`"]);
    assert_bad(
        r#""cov": {"isotropic": 1.0}"#,
        r#""cv": {"isotropic": 1.0}"#,
        &["model.components[0]", "cv"],
    );
    assert_bad(
        r#""kind": "gaussian_mixture", "#,
        "",
        &["model", "missing field `kind`"],
    );
    // Group maps.
    assert_bad(
        r#""groups": [[1], [0]]"#,
        r#""groups": [[1]]"#,
        &["speciation.groups", "class 0 is in no group"],
    );
    assert_bad(
        r#""groups": [[1], [0]]"#,
        r#""groups": [[1, 0], [0]]"#,
        &[
            "speciation.groups[1][0]",
            "class 0 is in more than one group",
        ],
    );
    assert_bad(
        r#""groups": [[1], [0]]"#,
        r#""groups": [[1, 2], [0]]"#,
        &["speciation.groups[0][1]", "class 2 does not exist"],
    );
}

#[test]
fn ising_and_learned_scenes_are_checked() {
    let base = r#"{"model": {"kind": "ising_mixture", "dim": 5, "coupling": 1, "boundary": "open",
        "components": [{"weight": 0.5, "beta": 0.5}, {"weight": 0.5, "beta": 1}]},
        "sampler": {"kind": "sde", "steps": 10, "t_max": 3, "t_min": 0.1}, "trajectories": 1, "seed": 0}"#;
    parse(base).unwrap();
    let bad = |from: &str, to: &str| parse(&base.replacen(from, to, 1)).unwrap_err().to_string();
    assert!(bad(r#""beta": 1"#, r#""beta": -1"#).contains("model.components[1].beta"));
    assert!(bad(r#""coupling": 1"#, r#""coupling": 101"#).contains("model.coupling"));
    assert!(bad(r#""boundary": "open""#, r#""boundary": "closed""#).contains("model.boundary"));
    let learned = r#"{"model": {"kind": "learned", "path": "assets/models/x.safetensors"},
        "sampler": {"kind": "ddim", "steps": 10, "t_max": 3, "t_min": 0.1}, "trajectories": 1, "seed": 0}"#;
    let scene = parse(learned).unwrap();
    let err = scene.model.build_analytic().unwrap_err().to_string();
    assert!(
        err.contains("needs an exact analytic model") && err.contains("x.safetensors"),
        "{err}"
    );
}

#[test]
fn unreadable_file_names_the_file() {
    let err = Scene::load(Path::new("/nonexistent/scene.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/scene.json"), "{err}");
}

fn learned_scene(path: &str) -> Scene {
    let text = format!(
        r#"{{"model": {{"kind": "learned", "path": "{path}"}},
            "sampler": {{"kind": "ancestral", "steps": 10, "t_max": 4.0, "t_min": 0.01, "init": "gaussian"}},
            "trajectories": 4, "seed": 1}}"#
    );
    Scene::from_json_str(&text, Path::new("learned.json")).unwrap()
}

#[test]
fn learned_scenes_build_from_shipped_weights_and_refuse_what_cannot_denoise() {
    let scene = learned_scene("assets/models/denoiser-two-gaussians.safetensors");
    let model = scene.model.build(Path::new("learned.json")).unwrap();
    assert_eq!(model.denoiser().dim(), 64);

    let sequence_model = learned_scene("assets/models/euler-stack-dyck2.safetensors");
    let err = sequence_model
        .model
        .build(Path::new("learned.json"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a denoiser"), "{err}");

    let missing = learned_scene("no/such/model.safetensors");
    let err = missing
        .model
        .build(Path::new("learned.json"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

/// A scene whose weights sit beside it, named by a relative path, opens the same model from any working
/// directory: `Scene::load` resolves the path against the scene's folder once, so the app and `render`
/// (which build with no scene file) find it as `diffscope sample` does.
#[test]
fn a_model_beside_its_scene_resolves_against_the_scene_folder() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/models/denoiser-two-gaussians.safetensors");
    std::fs::copy(&shipped, dir.path().join("beside.safetensors")).unwrap();
    let scene_file = dir.path().join("scene.json");
    std::fs::write(
        &scene_file,
        learned_scene("beside.safetensors")
            .to_json_pretty()
            .unwrap(),
    )
    .unwrap();
    let scene = Scene::load(&scene_file).unwrap();
    let ModelSpec::Learned(spec) = &scene.model else {
        panic!("a learned scene")
    };
    assert_eq!(
        spec.path,
        std::path::absolute(dir.path().join("beside.safetensors")).unwrap()
    );
    // The app's and render's call: no scene file to resolve against.
    let model = scene.model.build(Path::new("")).unwrap();
    assert_eq!(model.denoiser().dim(), 64);
    // A file found nowhere keeps the path as written, and the error names it.
    std::fs::write(
        &scene_file,
        learned_scene("gone.safetensors").to_json_pretty().unwrap(),
    )
    .unwrap();
    let scene = Scene::load(&scene_file).unwrap();
    let err = scene.model.build(Path::new("")).err().unwrap().to_string();
    assert!(err.contains("gone.safetensors"), "{err}");
}

/// The same through the fronts: `diffscope render` (the app's offscreen window) run from another
/// working directory opens a scene whose weights sit beside it by a relative path.
#[test]
fn render_opens_a_model_beside_its_scene_from_another_directory() {
    let scene_dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/models/denoiser-two-gaussians.safetensors");
    std::fs::copy(&shipped, scene_dir.path().join("beside.safetensors")).unwrap();
    let scene_file = scene_dir.path().join("scene.json");
    std::fs::write(
        &scene_file,
        r#"{"model": {"kind": "learned", "path": "beside.safetensors"},
            "sampler": {"kind": "ancestral", "steps": 10, "t_max": 4.0, "t_min": 0.01, "init": "gaussian"},
            "trajectories": 100, "seed": 1}"#,
    )
    .unwrap();
    let png = elsewhere.path().join("view.png");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .current_dir(elsewhere.path())
        .args(["render".as_ref(), scene_file.as_os_str(), "--view".as_ref()])
        .args([
            "manifold", "--width", "320", "--height", "240", "--scale", "1", "--png",
        ])
        .arg(&png)
        .env("XDG_RUNTIME_DIR", elsewhere.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(png.exists());
}

/// The eight teaching scenes: each parses, validates, round-trips, carries a title, a caption and a
/// view, and builds (analytic models, the learned denoiser with its exact reference of the same
/// dimension, the sequence model of the hidden-state scene). The embedded copies are the files.
#[test]
fn every_teaching_scene_parses_validates_and_builds() {
    use diffscope::builtin_scenes::{TEACHING, teaching_scene};
    use diffscope::model::learned::{LearnedModel, load};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenes/teaching");
    assert_eq!(TEACHING.len(), 8);
    for (index, (name, text)) in TEACHING.iter().enumerate() {
        let file = dir.join(name);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), *text, "{name}");
        let scene = teaching_scene(index).unwrap_or_else(|e| panic!("{e}"));
        assert!(scene.title.is_some() && scene.caption.is_some() && scene.view.is_some());
        let again = Scene::from_json_str(&scene.to_json_pretty().unwrap(), &file).unwrap();
        assert_eq!(scene, again, "{name} does not round-trip");
        match &scene.model {
            ModelSpec::HiddenStates(h) => {
                let path = diffscope::assets::resolve(&h.path, None);
                let model = load(&path).unwrap();
                assert!(matches!(model, LearnedModel::Dit(_)), "{name}");
                assert!(!scene.model.has_theory());
            }
            ModelSpec::Learned(_) => {
                let built = scene.model.build(&file).unwrap();
                let reference = scene.model.reference_model(&file).unwrap().unwrap();
                assert_eq!(built.denoiser().dim(), reference.dim(), "{name}");
                assert!(scene.model.has_theory());
            }
            _ => {
                let model = scene.model.build_analytic().unwrap();
                assert_eq!(Some(model.dim()), scene.model.dim());
                assert!(scene.model.reference_model(&file).unwrap().is_some());
            }
        }
    }
}

#[test]
fn view_blocks_and_hidden_state_scenes_are_checked() {
    let base = r#"{"model": {"kind": "gaussian_mixture", "dim": 2,
        "components": [{"weight": 1, "cov": {"isotropic": 1}}]},
        "sampler": {"kind": "sde", "steps": 10, "t_max": 3, "t_min": 0.1}, "trajectories": 1, "seed": 0,
        "view": {"dims": 3, "color": {"posterior": 0}, "tab": "theory", "basis": "pooled", "time": 1.5}}"#;
    let scene = parse(base).unwrap();
    let view = scene.view.clone().unwrap();
    assert_eq!(view.dims, Some(3));
    assert_eq!(view.time, Some(1.5));
    let bad = |from: &str, to: &str| parse(&base.replacen(from, to, 1)).unwrap_err().to_string();
    assert!(bad(r#""dims": 3"#, r#""dims": 4"#).contains("view.dims"));
    assert!(bad(r#""time": 1.5"#, r#""time": -1"#).contains("view.time"));
    assert!(bad(r#""tab": "theory""#, r#""tab": "laws""#).contains("view.tab"));
    assert!(bad(r#""dims": 3"#, r#""colour": "time""#).contains("colour"));
    let hidden = r#"{"model": {"kind": "hidden_states", "path": "m.safetensors", "block": 0},
        "sampler": {"kind": "ode", "steps": 10, "t_max": 1, "t_min": 0.1}, "trajectories": 1, "seed": 0}"#;
    assert!(
        parse(hidden)
            .unwrap_err()
            .to_string()
            .contains("model.block")
    );
    let scene = parse(&hidden.replace(r#", "block": 0"#, "")).unwrap();
    assert!(scene.model.build(Path::new("x.json")).is_err());
    assert!(!scene.model.has_theory());
}

/// Teaching captions quote no number the app computes: every decimal in a caption is an input written
/// elsewhere in its scene file (β = 0.3, …), and the computed ones are placeholders. Filled from the
/// lab's report they are the theory's: ½ ln Λ of scene 1 (Λ = |m|² + 1 = 65) and t_mid = ½ ln(θ/g*)
/// of scene 4 (g* computed by the library's universal curve, not copied).
#[test]
fn teaching_captions_quote_the_live_theory() {
    use diffscope::analysis::control::Control;
    use diffscope::analysis::speciation::universal::{solve_increasing, spiked_phi};
    use diffscope::analysis::view_data::lab::{run_lab, speciation_settings};
    use diffscope::builtin_scenes::{TEACHING, teaching_scene};
    use diffscope::scene::caption::{CaptionValues, fill};

    for (index, (name, text)) in TEACHING.iter().enumerate() {
        let caption = teaching_scene(index).unwrap().caption.unwrap();
        let mut inputs: serde_json::Value = serde_json::from_str(text).unwrap();
        inputs.as_object_mut().unwrap().remove("caption");
        let inputs = inputs.to_string();
        // The words without their placeholders.
        let words: String = caption
            .split('{')
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once('}').map_or(part, |(_, rest)| rest)
                }
            })
            .collect();
        // A placeholder the scene cannot fill (e.g. `{d}` of a learned model, whose dimension the scene
        // file does not fix) would read "n/a" to the class.
        let unfilled = fill(
            &caption,
            CaptionValues {
                dim: teaching_scene(index).unwrap().model.dim(),
                report: None,
            },
        );
        assert!(
            !unfilled.contains(diffscope::scene::caption::ABSENT),
            "{name}: a placeholder this scene cannot fill: {unfilled}"
        );
        for token in words.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            let number = token.trim_matches('.');
            assert!(
                !number.contains('.') || inputs.contains(number),
                "{name}: the caption quotes {number}, which is not an input of the scene: use a placeholder"
            );
        }
    }

    let filled = |index: usize| {
        let scene = teaching_scene(index).unwrap();
        let mut settings = speciation_settings(&scene);
        settings.pairs = 40;
        let (mut progress, cancel) = (
            |_: f32, _: &str| {},
            std::sync::atomic::AtomicBool::new(false),
        );
        let report = run_lab(&scene, &settings, &mut Control::new(&mut progress, &cancel)).unwrap();
        let values = CaptionValues {
            dim: scene.model.dim(),
            report: Some(&report),
        };
        fill(scene.caption.as_deref().unwrap(), values)
    };
    let t_bbdm = 0.5 * 65f64.ln();
    let first = filled(0);
    assert!(first.contains(&format!("½ ln Λ = {t_bbdm:.2}")), "{first}");
    assert!(
        first.contains("d = 64") && first.contains("Λ = |m|² + 1 = 65"),
        "{first}"
    );
    let g_star = solve_increasing(spiked_phi, 0.75, 1.0, 1e4).unwrap();
    let t_mid = 0.5 * (64.0 / g_star).ln();
    let fourth = filled(3);
    let quoted: f64 = fourth
        .split("½ ln(θ/g*) = ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no t_mid quoted: {fourth}"));
    // The report's φ_post is a Monte Carlo of 10⁴ forward samples: ±0.005 in φ over a slope of ≈ 0.3
    // per unit t near ¾ is ±0.015 in t; the quote is rounded to 0.005 more.
    assert!(
        (quoted - t_mid).abs() < 0.03,
        "{quoted} vs {t_mid}: {fourth}"
    );
    assert!(
        !fourth.contains('{') && !fourth.contains(PENDING),
        "{fourth}"
    );
}

/// A caption placeholder that names no known quantity is a scene error naming `caption`.
#[test]
fn unknown_caption_placeholders_are_refused() {
    let text = r#"{"caption": "t = {tmid}", "model": {"kind": "gaussian_mixture", "dim": 2, "components": [
        {"weight": 1, "mean": {"fill": 0}, "cov": {"isotropic": 1}}]},
        "sampler": {"kind": "ode", "steps": 10, "t_max": 1, "t_min": 0.1}, "trajectories": 1, "seed": 0}"#;
    let err = Scene::from_json_str(text, Path::new("c.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("caption") && err.contains("{tmid}"), "{err}");
}
