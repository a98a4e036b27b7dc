//! The shipped MLP denoiser exported to ONNX (`python/onnx_models/export_mlp.py`) against the candle
//! model it was exported from: the same network in two runtimes must denoise alike and, from the same
//! seed, sample the same trajectories (issue #15: max abs difference ≤ 1e-4 over every stored step).

use diffscope::diffusion::run_trajectories;
use diffscope::model::Denoiser;
use diffscope::model::learned;
use diffscope::scene::{ModelSpec, Scene, SceneModel};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

const TOLERANCE: f32 = 1e-4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn onnx_scene() -> Scene {
    Scene::load(&root().join("assets/scenes/onnx-mlp-two-gaussians.json")).unwrap()
}

fn models() -> (SceneModel, learned::LearnedModel) {
    let scene = onnx_scene();
    assert!(matches!(scene.model, ModelSpec::Onnx(_)));
    let onnx = scene.model.build(&root()).unwrap();
    let candle =
        learned::load(&root().join("assets/models/denoiser-two-gaussians.safetensors")).unwrap();
    (onnx, candle)
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn one_denoiser_call_agrees_with_candle_at_every_time_scale() {
    let (onnx, candle) = models();
    let (onnx, candle) = (onnx.denoiser(), &candle as &dyn Denoiser);
    assert_eq!(onnx.dim(), 64);
    assert_eq!(candle.dim(), 64);
    // A deterministic spread of states, some far out, at times from t_min to past the sampler's t_max.
    let rows = 257;
    let x: Vec<f32> = (0..rows * 64)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 6.0)
        .collect();
    for t in [0.001, 0.01, 0.1, 0.5, 1.0, 2.0, 6.0, 8.0] {
        let (mut a, mut b) = (vec![0f32; x.len()], vec![0f32; x.len()]);
        onnx.denoise(&x, t, &mut a, None).unwrap();
        candle.denoise(&x, t, &mut b, None).unwrap();
        let difference = max_abs_difference(&a, &b);
        println!("t = {t}: max |D_onnx − D_candle| = {difference:.2e}");
        assert!(
            difference <= TOLERANCE,
            "t = {t}: max |D_onnx − D_candle| = {difference}"
        );
        // Not the trivial D = a_t x: the network's residual is there and both runtimes see it.
        let plain = x.iter().map(|&v| v * (-t as f32).exp());
        let residual = a
            .iter()
            .zip(plain)
            .map(|(d, p)| (d - p).abs())
            .fold(0.0, f32::max);
        assert!(residual > 1e-3, "t = {t}: the residual is {residual}");
    }
}

#[test]
fn trajectories_from_one_seed_agree_with_candle_at_every_stored_step() {
    let (onnx, candle) = models();
    let mut spec = onnx_scene().sampling_spec();
    spec.trajectories = 200;
    let cancel = AtomicBool::new(false);
    let run = |model: &dyn Denoiser| {
        run_trajectories(model, None, &spec, &mut |_, _| {}, &cancel).unwrap()
    };
    let (a, b) = (run(onnx.denoiser()), run(&candle));
    assert_eq!(a.stored_steps, spec.steps + 1);
    assert_eq!(a.times, b.times);
    let difference = max_abs_difference(&a.states, &b.states);
    println!("trajectories: max |x_onnx − x_candle| = {difference:.2e}");
    assert!(
        difference <= TOLERANCE,
        "max |x_onnx − x_candle| over {} trajectories × {} steps = {difference}",
        a.n,
        a.stored_steps
    );
    // The runs went somewhere: the final states are the two classes (|mean| near 1), not the prior.
    let last = a.stored_steps - 1;
    let class_means: Vec<f32> = (0..a.n)
        .map(|i| a.state(i, last).unwrap().iter().sum::<f32>() / 64.0)
        .collect();
    let separated = class_means.iter().filter(|m| m.abs() > 0.5).count();
    assert!(
        separated * 10 >= a.n * 9,
        "{separated} of {} rows separated",
        a.n
    );
}
