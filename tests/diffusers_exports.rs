//! The diffusers exporter's committed output (`python/diffusers_export/`, made with PyPI torch 2.15.0
//! and diffusers 0.42.1 by `example_bars16.py`): its recordings of a DDIM and an Euler run open as
//! diffscope trajectory files with the OU times of an independent f64 computation of the DDPM table,
//! labels that match the final images, and class names.

use diffscope::io::recorded::load_recording;
use diffscope::model::onnx::{BetaSchedule, TimeConvention, TimeMap};
use std::path::{Path, PathBuf};
use torch_check::{floats, max_abs_difference};

mod torch_check;

const N: usize = 16;
const STEPS: usize = 20;
const SIDE: usize = 16;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/diffusers")
        .join(name)
}

/// The training table of the example (`DDPMScheduler`: linear β 1e-4 … 0.02 over 1000 steps).
fn training_table() -> TimeMap {
    TimeConvention::Ddpm {
        betas: BetaSchedule::Linear,
        beta_start: Some(1e-4),
        beta_end: Some(0.02),
        train_steps: 1000,
    }
    .prepare()
    .unwrap()
}

/// 0 for horizontal bars (row means vary more than column means), 1 for vertical.
fn orientation(image: &[f32]) -> u32 {
    let variance = |means: Vec<f64>| {
        let mean = means.iter().sum::<f64>() / means.len() as f64;
        means.iter().map(|m| (m - mean).powi(2)).sum::<f64>()
    };
    let rows = (0..SIDE)
        .map(|r| {
            image[r * SIDE..(r + 1) * SIDE]
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>()
        })
        .collect();
    let columns = (0..SIDE)
        .map(|c| {
            (0..SIDE)
                .map(|r| f64::from(image[r * SIDE + c]))
                .sum::<f64>()
        })
        .collect();
    u32::from(variance(columns) > variance(rows))
}

#[test]
fn recordings_open_with_the_ou_times_of_their_scheduler() {
    let table = training_table();
    for name in ["bars16-ddim.safetensors", "bars16-euler.safetensors"] {
        let recording = load_recording(&data(name)).unwrap();
        assert_eq!(
            (recording.n, recording.steps, recording.dim),
            (N, STEPS + 1, SIDE * SIDE),
            "{name}"
        );
        let times = recording.times.as_ref().expect("times");
        assert!(times.windows(2).all(|w| w[1] < w[0]), "{name}: {times:?}");
        // The first state is pure noise at the scheduler's first timestep; for DDIM ("leading"
        // spacing, 20 of 1000) the timesteps are 950, 900, …, 0, then the clean state (floored).
        if name.contains("ddim") {
            for (j, &t) in times[..STEPS].iter().enumerate() {
                let index = 950.0 - 50.0 * j as f64;
                // diffusers keeps ᾱ in float32: 1e-6 relative on ᾱ is ½·1e-6 on t.
                let expected = table.ou_time(index);
                assert!(
                    (t - expected).abs() < 2e-6,
                    "{name} step {j}: {t} vs {expected}"
                );
            }
        } else {
            // Euler ("linspace" spacing) starts at timestep 999, σ_max² = (1 − ᾱ)/ᾱ: t = −½ ln ᾱ_999.
            let expected = table.ou_time(999.0);
            assert!(
                (times[0] - expected).abs() < 2e-6,
                "{name}: {} vs {expected}",
                times[0]
            );
        }
        assert!(
            times[STEPS] > 0.0 && times[STEPS] <= 1e-4,
            "{name}: {times:?}"
        );
        // Labels are the orientation of each final image: the flattening is C, H, W row-major.
        let labels = recording.labels.as_ref().expect("labels");
        let d = recording.dim;
        for (i, &label) in labels.classes.iter().enumerate() {
            let last = (i * recording.steps + STEPS) * d;
            assert_eq!(
                orientation(&recording.states[last..last + d]),
                label,
                "{name} row {i}"
            );
        }
        assert_eq!(recording.class_labels, ["horizontal", "vertical"], "{name}");
    }
}

/// The exporter's UNet graph opens through the scene block it wrote itself (`scene_model` in the
/// check file: `[1, 16, 16]`, ε-prediction, the DDPM table) and tract gives torch's outputs on the
/// recorded inputs: three images at timesteps 10, 250.5 and 900, each run alone (one timestep per
/// batch). Within 1e-4, as for the project's own exports.
#[test]
fn the_exported_unet_opens_from_its_scene_block_and_gives_torchs_outputs() {
    let check: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("check.json")).unwrap()).unwrap();
    let scene = serde_json::json!({
        "model": check["scene_model"],
        "sampler": { "kind": "ancestral", "steps": 20, "t_max": 5.0, "t_min": 1e-3 },
        "trajectories": 16,
        "seed": 1,
    })
    .to_string();
    let origin = data("exported-unet.json");
    let scene = diffscope::scene::Scene::from_json_str(&scene, &origin).unwrap();
    let model = scene.model.build(&origin).unwrap_or_else(|e| panic!("{e}"));
    let diffscope::scene::SceneModel::Onnx(unet) = model else {
        panic!("the scene block builds an ONNX model");
    };
    assert_eq!(unet.options().dim, SIDE * SIDE);
    let (x, out) = (floats(&check["check"]["x"]), floats(&check["check"]["out"]));
    let steps = floats(&check["check"]["t"]);
    let d = SIDE * SIDE;
    assert_eq!((x.len(), out.len()), (steps.len() * d, steps.len() * d));
    for (i, &step) in steps.iter().enumerate() {
        let rows = i * d..(i + 1) * d;
        let got = unet.run_raw(&x[rows.clone()], step, 1.0).unwrap();
        let worst = max_abs_difference(&got, &out[rows.clone()]);
        println!("timestep {step}: max |tract − torch| = {worst:.2e}");
        assert!(worst <= 1e-4, "timestep {step}: {worst}");
        // Not trivially small outputs: the comparison can fail.
        assert!(out[rows].iter().map(|v| v.abs()).fold(0f32, f32::max) > 0.1);
    }
}
