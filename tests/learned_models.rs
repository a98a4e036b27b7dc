//! Learned models: training lowers the loss and is deterministic, hidden states have the configured
//! shapes, the DiT's OU-time denoiser follows the time/scale map, and the shipped models do their task.

use diffscope::model::learned::config::{DitConfig, EulerStackConfig, StackKind};
use diffscope::model::learned::dit::{Dit, DitTraining, TimeSampling, ou_to_rectified_flow};
use diffscope::model::learned::dyck;
use diffscope::model::learned::euler_stack::{EulerStack, EulerStackTraining};
use diffscope::model::learned::train::{DyckData, Objective, TrainOptions, TrainReport, train};
use diffscope::model::learned::{LearnedError, LearnedModel, load};
use diffscope::model::{Denoiser, ExactModel};
use diffscope::rng::{self, Domain};
use diffscope::scene::Scene;
use rand::Rng;
use rand_distr::StandardNormal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cancel flag that is never set.
fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn tiny_dit_config() -> DitConfig {
    DitConfig {
        seq_len: 8,
        channels: 4,
        width: 16,
        blocks: 2,
        heads: 2,
        mlp_ratio: 2,
        ..DitConfig::default()
    }
}

fn tiny_stack_config() -> EulerStackConfig {
    EulerStackConfig {
        seq_len: 8,
        state: 16,
        hidden: 32,
        slots: 6,
        slot_width: 8,
        ..EulerStackConfig::default()
    }
}

fn run(objective: &dyn Objective, steps: usize) -> TrainReport {
    let options = TrainOptions {
        steps,
        lr_start: 3e-3,
        lr_end: 1e-3,
        ..TrainOptions::default()
    };
    train(objective, &options, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

/// A short run lowers the loss clearly: the mean of the last 10 steps is below 80% of the first 10
/// (per-batch noise of these losses is a few percent at batch 64).
#[test]
fn training_loss_falls_and_is_deterministic() {
    let dit = Dit::seeded(tiny_dit_config(), 1).unwrap();
    let report = run(
        &DitTraining {
            model: &dit,
            data: DyckData::new(8, 1),
            seed: 1,
            batch: 64,
            time_sampling: TimeSampling::Uniform,
        },
        120,
    );
    let (first, last) = (mean(&report.losses[..10]), mean(&report.losses[110..]));
    assert!(last < 0.8 * first, "DiT loss {first} -> {last}");

    let stack = EulerStack::seeded(tiny_stack_config(), 1).unwrap();
    let report = run(
        &EulerStackTraining {
            model: &stack,
            data: DyckData::new(8, 1),
            seed: 1,
            batch: 64,
        },
        120,
    );
    let (first, last) = (mean(&report.losses[..10]), mean(&report.losses[110..]));
    assert!(last < 0.8 * first, "Euler-Stack loss {first} -> {last}");

    // Same seed, same losses bit for bit; another seed differs.
    let losses = |seed: u64| {
        let m = Dit::seeded(tiny_dit_config(), seed).unwrap();
        let o = DitTraining {
            model: &m,
            data: DyckData::new(8, seed),
            seed,
            batch: 16,
            time_sampling: TimeSampling::Uniform,
        };
        run(&o, 4).losses
    };
    assert_eq!(losses(3), losses(3));
    assert_ne!(losses(3), losses(4));
}

#[test]
fn cancel_flag_stops_training_before_the_next_step() {
    let dit = Dit::seeded(tiny_dit_config(), 2).unwrap();
    let objective = DitTraining {
        model: &dit,
        data: DyckData::new(8, 2),
        seed: 2,
        batch: 8,
        time_sampling: TimeSampling::Uniform,
    };
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let report = train(
        &objective,
        &TrainOptions {
            steps: 50,
            ..TrainOptions::default()
        },
        &mut |p| {
            seen = p.step;
            if p.step == 3 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap();
    assert!(report.cancelled);
    assert_eq!((report.steps_done, seen), (3, 3));
}

/// A cancel set while any stage reports progress (both samplers, both metric stages, the baseline)
/// ends the comparison with a cancellation, and only after that stage began: each stage checks it.
#[test]
fn compare_stops_at_every_stage_when_cancelled() {
    use diffscope::analysis::compare::{CompareError, CompareOptions, compare};
    let dit = Dit::seeded(tiny_dit_config(), 3).unwrap();
    let stack = EulerStack::seeded(tiny_stack_config(), 3).unwrap();
    let mut hard_config = tiny_stack_config();
    hard_config.stack = StackKind::Hard;
    let hard = EulerStack::seeded(hard_config, 3).unwrap();
    let options = CompareOptions {
        task_samples: 40,
        dit_sequences: 40,
        dit_steps: 5,
        euler_stack_sequences: 40,
        ..CompareOptions::default()
    };
    let run = |cancel_at: Option<usize>| {
        let cancel = AtomicBool::new(false);
        let mut stages = Vec::new();
        let result = compare(
            &dit,
            &stack,
            Some(&hard),
            &options,
            &mut |_, stage| {
                stages.push(stage.to_string());
                if Some(stages.len()) == cancel_at {
                    cancel.store(true, Ordering::Relaxed);
                }
            },
            &cancel,
        );
        (result, stages)
    };
    let (full, all_stages) = run(None);
    full.unwrap();
    assert_eq!(all_stages.len(), 5, "{all_stages:?}");
    for at in 1..=all_stages.len() {
        let (result, stages) = run(Some(at));
        assert!(
            matches!(
                result,
                Err(CompareError::Cancelled | CompareError::Model(LearnedError::Cancelled))
            ),
            "cancelled during stage {at} ({}): the comparison went on",
            all_stages[at - 1]
        );
        assert_eq!(stages, all_stages[..at], "no stage runs after the cancel");
    }
}

#[test]
fn hidden_state_shapes_match_the_config() {
    let config = tiny_dit_config();
    let dit = Dit::seeded(config.clone(), 3).unwrap();
    let run = dit.sample(5, 7, 0, Some(1), &never()).unwrap();
    assert_eq!(run.tokens.len(), 5 * config.seq_len);
    let hidden = run.hidden.unwrap();
    assert_eq!(
        (hidden.sequences, hidden.steps, hidden.dim),
        (5, 7, config.width)
    );
    assert_eq!(hidden.states.len(), 5 * 7 * config.width);
    assert_eq!(hidden.times.len(), 7);
    assert_eq!(hidden.times[0], 1.0);
    let cloud = hidden.cloud(|t| t > 0.5, "τ > 0.5").unwrap();
    // τ_k = 1 − k/7 > 0.5 for k = 0..3.
    assert_eq!((cloud.n(), cloud.dim()), (5 * 4, config.width));
    assert!(
        dit.sample(2, 3, 0, Some(2), &never()).is_err(),
        "block 2 of 2 does not exist"
    );

    let stack_config = tiny_stack_config();
    let stack = EulerStack::seeded(stack_config.clone(), 3).unwrap();
    let run = stack.sample(6, 0, &never()).unwrap();
    assert_eq!(run.tokens.len(), 6 * stack_config.seq_len);
    let h = run.hidden;
    assert_eq!(
        (h.sequences, h.steps, h.dim),
        (6, stack_config.seq_len, stack_config.state)
    );
    assert_eq!(
        h.states.len(),
        6 * stack_config.seq_len * stack_config.state
    );
    assert_eq!(
        h.first_sequences(2).states.len(),
        2 * stack_config.seq_len * stack_config.state
    );
}

/// The OU ↔ rectified-flow map: for x_t = a x₀ + sqrt(Δ) z, c·x_t = (1 − τ) x₀ + τ z exactly (same
/// SNR), and an exact velocity z − x₀ turns into E[x₀ | x_t] = x₀.
#[test]
fn ou_time_map_matches_direct_computation() {
    for &t in &[1e-3f64, 0.05, 0.5, 1.0, 2.08, 5.0] {
        let (c, tau) = ou_to_rectified_flow(t);
        let (a, sigma) = ((-t).exp(), (1.0 - (-2.0 * t).exp()).sqrt());
        assert!((c * a - (1.0 - tau)).abs() < 1e-12, "t = {t}");
        assert!((c * sigma - tau).abs() < 1e-12, "t = {t}");
        let snr_ou = a * a / (sigma * sigma);
        let snr_rf = (1.0 - tau).powi(2) / (tau * tau);
        assert!((snr_ou / snr_rf - 1.0).abs() < 1e-9, "t = {t}");
        for (x0, z) in [(0.7, -1.3), (-2.0, 0.4)] {
            let x_t = a * x0 + sigma * z;
            let x_tau = c * x_t;
            assert!((x_tau - ((1.0 - tau) * x0 + tau * z)).abs() < 1e-12);
            assert!((x_tau - tau * (z - x0) - x0).abs() < 1e-12);
        }
    }
}

/// The `Denoiser` face of a (briefly trained, so non-zero) DiT equals c·x − τ·v̂(c·x, τ) computed
/// directly from the network.
#[test]
fn dit_denoiser_is_the_converted_velocity() {
    let config = tiny_dit_config();
    let dit = Dit::seeded(config.clone(), 4).unwrap();
    run(
        &DitTraining {
            model: &dit,
            data: DyckData::new(8, 4),
            seed: 4,
            batch: 16,
            time_sampling: TimeSampling::Uniform,
        },
        5,
    );
    let model = LearnedModel::Dit(dit);
    let LearnedModel::Dit(dit) = &model else {
        unreachable!()
    };
    let n = 3;
    let x: Vec<f32> = (0..n * model.dim())
        .map(|i| (i as f32 * 0.71).sin() * 1.5)
        .collect();
    for &t in &[0.01, 0.4, 1.7] {
        let (c, tau) = ou_to_rectified_flow(t);
        let mut denoised = vec![0.0; x.len()];
        model.denoise(&x, t, &mut denoised, None).unwrap();
        let scaled: Vec<f32> = x.iter().map(|&v| (f64::from(v) * c) as f32).collect();
        let input = candle_core::Tensor::from_vec(
            scaled.clone(),
            (n, config.seq_len, config.channels),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let (v, _) = dit
            .forward(&input, &vec![tau as f32; n], None, None)
            .unwrap();
        let v = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(
            v.iter().any(|&v| v.abs() > 1e-4),
            "velocity must be non-trivial"
        );
        for i in 0..x.len() {
            let direct = f64::from(scaled[i]) - tau * f64::from(v[i]);
            assert!(
                (f64::from(denoised[i]) - direct).abs() < 1e-5,
                "t = {t}, i = {i}"
            );
        }
    }
    let stack = LearnedModel::EulerStack(EulerStack::seeded(tiny_stack_config(), 0).unwrap());
    assert!(!stack.is_denoiser());
    let mut out = vec![0.0; 8];
    assert!(stack.denoise(&[0.0; 8], 1.0, &mut out, None).is_err());
}

/// The self-condition layer is zero-initialised and built last: a fresh self-conditioned DiT draws the
/// same weights as a plain one and computes exactly its output, whatever estimate it reads. Training
/// (which feeds the estimate to half the batches) then makes the output depend on the estimate.
#[test]
fn self_conditioning_starts_as_the_plain_model_and_learns_to_read_its_estimate() {
    let config = DitConfig {
        self_conditioning: true,
        ..tiny_dit_config()
    };
    let conditioned = Dit::seeded(config.clone(), 6).unwrap();
    let (n, l, ch) = (5, config.seq_len, config.channels);
    let values = |phase: f32| -> Vec<f32> {
        (0..n * l * ch)
            .map(|i| (i as f32 * 0.37 + phase).sin())
            .collect()
    };
    let tensor = |v: Vec<f32>| {
        candle_core::Tensor::from_vec(v, (n, l, ch), &candle_core::Device::Cpu).unwrap()
    };
    let (x, estimate) = (tensor(values(0.0)), tensor(values(1.0)));
    let tau = vec![0.6; n];
    let output = |dit: &Dit, estimate: Option<&candle_core::Tensor>| {
        let (out, _) = dit.forward(&x, &tau, estimate, None).unwrap();
        out.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    let fresh = Dit::seeded(config.clone(), 6).unwrap();
    let untrained_plain = Dit::seeded(tiny_dit_config(), 6).unwrap();
    assert_eq!(
        output(&fresh, Some(&estimate)),
        output(&untrained_plain, None)
    );
    assert_eq!(output(&fresh, None), output(&untrained_plain, None));

    run(
        &DitTraining {
            model: &conditioned,
            data: DyckData::new(8, 6),
            seed: 6,
            batch: 32,
            time_sampling: TimeSampling::Uniform,
        },
        20,
    );
    let (with, without) = (
        output(&conditioned, Some(&estimate)),
        output(&conditioned, None),
    );
    let change = with
        .iter()
        .zip(&without)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        change > 1e-4,
        "the trained model ignores its estimate ({change})"
    );
}

fn asset(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Chance is 1430·256/4¹⁶ ≈ 8.5·10⁻⁵, so 1000 strings at chance hold Poisson(0.085) valid ones: any
/// threshold of a few percent is far above chance. The shipped DiT reaches 65.0% and the Euler-Stack
/// 82% (release build, seed 0; PROVENANCE.md). With 1000 strings at p = 0.65 the binomial standard
/// deviation is sqrt(p(1 − p)/1000) = 1.5 percentage points, so the DiT's 0.58 is 4.6σ below its
/// figure: it allows the float differences of another build or machine, yet fails for every other
/// model of the search but one (1.5–5% at 1500 steps, 31–40% at 4000–5000 steps × 64, 48% at
/// 6500 × 48 and 8000 × 32; only 7500 × 40 reached 61%).
#[test]
fn shipped_dyck_models_are_well_above_chance() {
    let chance = dyck::chance_validity(16);
    assert!((chance - 8.52e-5).abs() < 1e-7);
    let Ok(LearnedModel::Dit(dit)) = load(&asset("assets/models/dit-dyck2.safetensors")) else {
        panic!("shipped DiT missing or not a DiT");
    };
    let run = dit.sample(1000, 20, 0, None, &never()).unwrap();
    let dit_valid = dyck::validity(&run.tokens, 16);
    let Ok(LearnedModel::EulerStack(stack)) =
        load(&asset("assets/models/euler-stack-dyck2.safetensors"))
    else {
        panic!("shipped Euler-Stack missing or not an Euler-Stack");
    };
    let stack_valid = dyck::validity(&stack.sample(1000, 0, &never()).unwrap().tokens, 16);
    // The hard-stack baseline (docs/science/metrics.md §3.2) reaches 98.2%: 1000 strings at p = 0.98 have a standard
    // deviation of 0.4 percentage points, so 0.95 is ~8 of them below, and still far above the soft
    // model's 82%, which is what the baseline is there to show.
    let Ok(LearnedModel::EulerStack(hard)) =
        load(&asset("assets/models/euler-stack-hard-dyck2.safetensors"))
    else {
        panic!("shipped hard-stack baseline missing or not an Euler-Stack");
    };
    assert_eq!(hard.config().stack, StackKind::Hard);
    let hard_valid = dyck::validity(&hard.sample(1000, 0, &never()).unwrap().tokens, 16);
    println!(
        "validity: DiT {dit_valid}, Euler-Stack {stack_valid}, hard stack {hard_valid}, chance {chance:.2e}"
    );
    assert!(dit_valid >= 0.58, "DiT validity {dit_valid}");
    assert!(stack_valid >= 0.5, "Euler-Stack validity {stack_valid}");
    assert!(hard_valid >= 0.95, "hard-stack validity {hard_valid}");
}

/// The shipped two-Gaussian denoiser imitates the exact one: over 2000 noised data points per time,
/// the mean squared error of D is below 10% of the exact D's own spread around the data (the
/// tolerance is loose because the MLP is small; the measured ratios are printed).
#[test]
fn shipped_denoiser_imitates_its_scene() {
    let scene = Scene::load(&asset("assets/scenes/two-gaussians.json")).unwrap();
    let exact = scene.model.build_analytic().unwrap();
    let learned = load(&asset("assets/models/denoiser-two-gaussians.safetensors")).unwrap();
    assert_eq!(learned.dim(), exact.dim());
    let d = exact.dim();
    let n = 2000;
    let x0 = exact.sample_x0(n, 99).points;
    for &t in &[0.1f64, 1.0, 2.08, 4.0] {
        let (a, sigma) = ((-t).exp(), (1.0 - (-2.0 * t).exp()).sqrt());
        let mut noise = rng::stream(7, Domain::ForwardNoise, 0);
        let x_t: Vec<f32> = x0
            .iter()
            .map(|&x| (a * f64::from(x) + sigma * noise.sample::<f64, _>(StandardNormal)) as f32)
            .collect();
        let (mut de, mut dl) = (vec![0.0; n * d], vec![0.0; n * d]);
        exact.denoise(&x_t, t, &mut de, None).unwrap();
        learned.denoise(&x_t, t, &mut dl, None).unwrap();
        let err: f64 = de
            .iter()
            .zip(&dl)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        let spread: f64 = de
            .iter()
            .zip(&x0)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        println!(
            "t = {t}: |D_learned - D_exact|^2 / |D_exact - x0|^2 = {:.4}",
            err / spread
        );
        assert!(err < 0.1 * spread, "t = {t}: {err} vs {spread}");
    }
}
