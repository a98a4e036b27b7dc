//! Classifier-free guidance of a class-conditional ONNX graph (`inputs.class`, `null_class`;
//! `model::onnx`, `model::guidance`): the exact class-conditional two-Gaussian graph of
//! `python/onnx_models/make_guided_hidden.py`, run twice per step, follows the guided analytic mixture
//! of its reference along whole trajectories, and its speciation lab's t_mid moves with w as the
//! mixture's does; a float32 class input works as the int64 one; guidance without a class input,
//! `null_class` or `reference`, and a class input the graph lacks, are one error naming the key.

use diffscope::analysis::control::Control;
use diffscope::analysis::view_data::lab::{run_lab, speciation_settings};
use diffscope::diffusion::{
    GridSpacing, InitKind, SamplingSpec, StepKind, StoreSteps, Trajectories, run_trajectories,
};
use diffscope::model::{Denoiser, ExactModel, Guide};
use diffscope::scene::{GuidanceSpec, ModelSpec, Scene, SceneModel};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped guided ONNX scene (w = 2), with the guidance weight `w`.
fn guided_scene(w: f64) -> Scene {
    let mut scene =
        Scene::load(&root().join("assets/scenes/onnx-two-gaussians-guided.json")).unwrap();
    scene.sampler.guidance = Some(GuidanceSpec { w });
    scene
}

/// Its reference: ½ N(+m, I) + ½ N(−m, I), m = (1, …, 1), d = 16, with the same guidance weight.
fn reference_scene(w: f64) -> Scene {
    let mut scene = Scene::load(&root().join("assets/scenes/two-gaussians-d16.json")).unwrap();
    scene.sampler.guidance = Some(GuidanceSpec { w });
    scene
}

fn onnx_model(scene: &Scene) -> SceneModel {
    scene.model.build(Path::new("")).unwrap()
}

fn spec(w: f64, kind: StepKind) -> SamplingSpec {
    SamplingSpec {
        kind,
        steps: 200,
        t_max: 6.0,
        t_min: 0.01,
        grid: GridSpacing::Log,
        init: InitKind::Gaussian,
        store: StoreSteps::All,
        trajectories: 300,
        seed: 11,
        guidance: Some(w),
    }
}

/// Runs `model` with classes drawn from the exact `reference`'s weights.
fn run(model: &dyn Denoiser, reference: &dyn ExactModel, spec: &SamplingSpec) -> Trajectories {
    run_trajectories(
        model,
        Some(reference),
        spec,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap()
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn guided_onnx_follows_the_guided_mixture_over_whole_trajectories() {
    let reference = reference_scene(1.0).model.build_analytic().unwrap();
    let graph = onnx_model(&guided_scene(1.0));
    assert!(graph.denoiser().is_class_conditional());
    let mut finals = Vec::new();
    for (w, kind) in [
        (0.0, StepKind::Ancestral),
        (0.5, StepKind::Ode),
        (2.0, StepKind::Ancestral),
        (4.0, StepKind::Sde),
    ] {
        let spec = spec(w, kind);
        let exact = run(&reference, &reference, &spec);
        let onnx = run(graph.denoiser(), &reference, &spec);
        assert_eq!(onnx.initial_labels, exact.initial_labels);
        let difference = max_abs_difference(&onnx.states, &exact.states);
        println!("w = {w} ({kind:?}): max |x_onnx − x_exact| over 201 steps = {difference:.2e}");
        assert!(difference <= 1e-4, "w = {w}: {difference}");
        if kind == StepKind::Ancestral {
            finals.push(onnx.states);
        }
    }
    // Guidance is really applied: w = 2 ends far from the unguided run of the same noise.
    let moved = max_abs_difference(&finals[0], &finals[1]);
    assert!(moved > 1.0, "w = 0 and w = 2 end {moved} apart");
}

#[test]
fn one_guided_step_is_the_closed_form() {
    // D_w(x, t | k) = a x + Δ m ((1 − w) tanh(a m·x) + w s_k), s_0 = +1, s_1 = −1.
    let (n, d) = (6, 16);
    let x: Vec<f32> = (0..n * d)
        .map(|i| ((i * 37 % 23) as f32 / 23.0 - 0.5) * 0.6)
        .collect();
    let classes = [0, 1, 0, 1, 2, 0];
    for float_graph in [false, true] {
        let model = if float_graph {
            let mut scene = guided_scene(1.0);
            let ModelSpec::Onnx(o) = &mut scene.model else {
                unreachable!()
            };
            o.path = root().join("tests/data/onnx/two-gaussians-d16-class-float.onnx");
            onnx_model(&scene)
        } else {
            onnx_model(&guided_scene(1.0))
        };
        for (t, w) in [(0.3, 0.0), (1.0, 1.0), (2.5, 3.0)] {
            let mut out = vec![0f32; n * d];
            let guide = Guide {
                classes: &classes,
                w,
            };
            model
                .denoiser()
                .denoise_guided(&x, t, guide, &mut out, None)
                .unwrap();
            let (a, delta) = ((-t).exp(), -(-2.0 * t).exp_m1());
            for i in 0..n {
                let row = &x[i * d..(i + 1) * d];
                let mixture = (a * row.iter().map(|&v| f64::from(v)).sum::<f64>()).tanh();
                let class = [1.0, -1.0, mixture][classes[i] as usize];
                let coefficient = (1.0 - w) * mixture + w * class;
                for (j, &v) in row.iter().enumerate() {
                    let expected = a * f64::from(v) + delta * coefficient;
                    let got = f64::from(out[i * d + j]);
                    assert!(
                        (got - expected).abs() < 2e-6,
                        "float {float_graph}, t {t}, w {w}, row {i}: {got} vs {expected}"
                    );
                }
            }
        }
    }
}

/// The midpoint crossing of the speciation lab at guidance weight `w` for `scene`, with 1000 pairs.
fn t_mid(scene: &Scene) -> Option<f64> {
    let mut settings = speciation_settings(scene);
    settings.pairs = 1000;
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    run_lab(scene, &settings, &mut control)
        .unwrap()
        .headline
        .measured
        .t_mid
}

#[test]
fn t_mid_moves_with_w_as_the_mixtures_does() {
    // The same pairs and noise through the graph and through the exact mixture: at every w the guided
    // graph crosses the midpoint level where the guided mixture does (so it moves with w as the
    // mixture's does, by far more than the tolerance), until w = 1/2, past which the wrong-class
    // attractor is gone and φ no longer falls to the midpoint level: the decision is at the start.
    let mut crossings = Vec::new();
    for w in [0.0, 0.25, 0.4] {
        let onnx = t_mid(&guided_scene(w)).expect("the guided graph crosses the midpoint");
        let exact = t_mid(&reference_scene(w)).expect("the guided mixture crosses the midpoint");
        println!("w = {w}: t_mid ONNX {onnx:.4}, exact mixture {exact:.4}");
        assert!((onnx - exact).abs() < 0.01, "w = {w}: {onnx} vs {exact}");
        crossings.push(onnx);
    }
    assert!(
        (crossings[2] - crossings[0]).abs() > 0.05,
        "t_mid hardly moved: {crossings:?}"
    );
    assert_eq!(t_mid(&guided_scene(0.75)), None);
    assert_eq!(t_mid(&reference_scene(0.75)), None);
}

fn scene_error(model: &str, guided: bool) -> String {
    let guidance = if guided {
        r#", "guidance": {"w": 2}"#
    } else {
        ""
    };
    let json = format!(
        r#"{{"model": {model},
            "sampler": {{"kind": "ancestral", "steps": 20, "t_max": 5.0, "t_min": 0.01{guidance}}},
            "trajectories": 10, "seed": 1}}"#
    );
    let scene_path = root().join("assets/scenes/guided-test.json");
    match Scene::from_json_str(&json, &scene_path) {
        Err(e) => e.to_string(),
        Ok(scene) => match scene.model.build(&scene_path) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        },
    }
}

#[test]
fn missing_class_keys_are_one_error_naming_the_key() {
    let graph = root().join("assets/models/onnx-two-gaussians-d16-class.onnx");
    let plain = root().join("assets/models/onnx-two-gaussians-d16.onnx");
    let reference = r#""reference": "assets/scenes/two-gaussians-d16.json""#;
    let model = |path: &Path, extra: &str| {
        format!(
            r#"{{"kind": "onnx", "path": {:?}, "dim": 16, "prediction": "x0"{extra}}}"#,
            path.display().to_string()
        )
    };
    let cases = [
        // Guidance of a graph without a class input.
        (
            model(&plain, &format!(", {reference}")),
            true,
            "model.inputs.class",
        ),
        // A class input without its null label, and a null label without a class input.
        (
            model(&graph, r#", "inputs": {"x": "x", "t": "t", "class": "y"}"#),
            false,
            "model.null_class",
        ),
        (
            model(&plain, r#", "null_class": 2"#),
            false,
            "model.null_class",
        ),
        // Guidance without a reference to draw the classes from.
        (
            model(
                &graph,
                r#", "inputs": {"x": "x", "t": "t", "class": "y"}, "null_class": 2"#,
            ),
            true,
            "model.reference",
        ),
        // A class input the graph does not have.
        (
            model(
                &graph,
                r#", "inputs": {"x": "x", "t": "t", "class": "label"}, "null_class": 2"#,
            ),
            false,
            "model.inputs.class",
        ),
        // The graph's class input named as its time.
        (
            model(
                &graph,
                r#", "inputs": {"x": "x", "t": "t", "class": "t"}, "null_class": 2"#,
            ),
            false,
            "model.inputs.class",
        ),
    ];
    for (model, guided, key) in &cases {
        let error = scene_error(model, *guided);
        println!("{error}");
        assert!(error.contains(key), "{error:?} should name {key}");
        assert_eq!(error.lines().count(), 1, "{error}");
    }
    // The graph input missing: the message names the file too.
    let error = scene_error(&cases[4].0, false);
    assert!(
        error.contains("onnx-two-gaussians-d16-class.onnx") && error.contains("\"label\""),
        "{error}"
    );
    // A class-conditional graph run unguided is the mixture (its null class).
    let ok = model(
        &graph,
        &format!(
            r#", "inputs": {{"x": "x", "t": "t", "class": "y"}}, "null_class": 2, {reference}"#
        ),
    );
    assert_eq!(scene_error(&ok, false), "");
    assert_eq!(scene_error(&ok, true), "");
}

#[test]
fn an_unguided_class_conditional_graph_is_the_mixture() {
    let reference = reference_scene(1.0).model.build_analytic().unwrap();
    let graph = onnx_model(&guided_scene(1.0));
    let mut unguided = spec(0.0, StepKind::Ancestral);
    unguided.guidance = None;
    unguided.trajectories = 100;
    let exact = run(&reference, &reference, &unguided);
    let onnx = run(graph.denoiser(), &reference, &unguided);
    let difference = max_abs_difference(&onnx.states, &exact.states);
    assert!(difference <= 1e-4, "{difference}");
}
