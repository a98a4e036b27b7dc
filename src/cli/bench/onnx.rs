//! Benchmark of the ONNX path (issue #15): one denoiser step of the shipped MLP denoiser through tract
//! (its ONNX export) against the same step through candle, on the same batch. The target is ONNX
//! within 1.5× of candle.

use super::{Bench, Figure, best_of};
use crate::assets::shipped;
use crate::model::Denoiser;
use crate::model::learned::load;
use crate::scene::Scene;
use anyhow::ensure;

const ROWS: usize = 2000;
/// Denoiser calls per timed run (one call is a few milliseconds).
const CALLS: usize = 20;
/// The ONNX step may take this many times candle's.
const RATIO_TARGET: f64 = 1.5;

pub fn benches() -> Vec<Bench> {
    vec![Bench {
        name: "onnx_mlp_step",
        run: mlp_step,
    }]
}

/// Seconds per call of `model` on `x`, fastest of the runs, and its last output.
fn per_call(model: &dyn Denoiser, x: &[f32]) -> anyhow::Result<(f64, Vec<f32>)> {
    let mut out = vec![0f32; x.len()];
    let (timing, ()) = best_of(|| {
        for call in 0..CALLS {
            let t = 0.05 + 0.25 * call as f64;
            model.denoise(x, t, &mut out, None)?;
        }
        Ok(())
    })?;
    Ok((timing.wall / CALLS as f64, out))
}

fn mlp_step() -> anyhow::Result<Figure> {
    let scene_path = shipped("assets/scenes/onnx-mlp-two-gaussians.json");
    let scene = Scene::load(&scene_path)?;
    let onnx = scene.model.build(&scene_path)?;
    let candle = load(&shipped("assets/models/denoiser-two-gaussians.safetensors"))?;
    let dim = candle.dim();
    ensure!(
        onnx.denoiser().dim() == dim,
        "the ONNX export's dim differs"
    );
    let x: Vec<f32> = (0..ROWS * dim)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 4.0)
        .collect();
    let (onnx_seconds, a) = per_call(onnx.denoiser(), &x)?;
    let (candle_seconds, b) = per_call(&candle, &x)?;
    let difference = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    ensure!(
        difference <= 1e-4,
        "ONNX and candle disagree by {difference}"
    );
    Ok(Figure {
        name: "onnx_mlp_step",
        inputs: format!(
            "one denoiser call, N={ROWS} x d={dim}, MLP via tract; candle {:.3} ms, ratio {:.2}",
            candle_seconds * 1e3,
            onnx_seconds / candle_seconds
        ),
        seconds: onnx_seconds,
        target_seconds: Some(RATIO_TARGET * candle_seconds),
    })
}
