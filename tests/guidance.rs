//! Classifier-free guidance (`model::guidance`, `docs/science/speciation.md` §7) on two Gaussians ±m:
//! the guided denoiser against its closed form; conditional sampling (w = 1) gives each class's exact
//! marginal; w = 0 is the unconditional mixture with the final class independent of the conditioned
//! one; w > 1 pushes the class means apart; guidance moves the cloning decision to the start; guided
//! runs are bit-identical for any thread count; scenes read and check `sampler.guidance`; the scene
//! panel's guidance switch re-runs the speciation lab guided and the tab says what its curves mean.

mod app_support;

use diffscope::analysis::control::Control;
use diffscope::analysis::speciation::cloning::{ReverseSettings, bootstrap_crossing, run_cloning};
use diffscope::analysis::speciation::labeller::{ExactLabeller, LabelRule};
use diffscope::base::ou::{noise_var, signal};
use diffscope::diffusion::{
    GridSpacing, InitKind, SamplingSpec, StepKind, StoreSteps, Trajectories, run_trajectories,
};
use diffscope::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use diffscope::model::ising::{Boundary, IsingComponentSpec, IsingMixture};
use diffscope::model::{Denoiser, Guide};
use diffscope::scene::Scene;
use std::path::Path;
use std::sync::atomic::AtomicBool;

const DIM: usize = 8;
/// Per-coordinate mean of class 0 (class 1 has −M) and the common variance.
const M: f64 = 1.0;
const VAR: f64 = 0.25;

fn mixture(weights: [f64; 2]) -> GaussianMixture {
    let component = |k: usize| ComponentSpec {
        weight: weights[k],
        mean: vec![if k == 0 { M } else { -M }; DIM],
        cov: Covariance::Isotropic(VAR),
        label: ["+", "-"][k].into(),
    };
    GaussianMixture::new(DIM, vec![component(0), component(1)]).unwrap()
}

fn spec(w: f64, kind: StepKind, init: InitKind, trajectories: usize) -> SamplingSpec {
    SamplingSpec {
        kind,
        steps: 400,
        t_max: 6.0,
        t_min: 0.01,
        grid: GridSpacing::Log,
        init,
        store: StoreSteps::Final,
        trajectories,
        seed: 7,
        guidance: Some(w),
    }
}

fn run(model: &GaussianMixture, spec: &SamplingSpec) -> Trajectories {
    run_trajectories(
        model,
        Some(model),
        spec,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap()
}

/// Each row's mean coordinate (the projection on the class axis, per coordinate).
fn row_means(out: &Trajectories) -> Vec<f64> {
    out.final_states()
        .chunks(DIM)
        .map(|r| r.iter().map(|&v| f64::from(v)).sum::<f64>() / DIM as f64)
        .collect()
}

#[test]
fn guided_denoiser_matches_its_closed_form() {
    let model = mixture([0.3, 0.7]);
    let t = 0.7;
    let (a, delta) = (signal(t), noise_var(t));
    let gain = a * VAR / (a * a * VAR + delta);
    let rows = 6;
    let x: Vec<f32> = (0..rows * DIM)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 9.0)
        .collect();
    let classes: Vec<u32> = (0..rows as u32).map(|i| i % 2).collect();
    let mut unguided = vec![0f32; x.len()];
    model.denoise(&x, t, &mut unguided, None).unwrap();
    for w in [0.0, 1.0, 2.5] {
        let mut guided = vec![0f32; x.len()];
        let mut posterior = vec![0f32; rows * 2];
        let guide = Guide {
            classes: &classes,
            w,
        };
        model
            .denoise_guided(&x, t, guide, &mut guided, Some(&mut posterior))
            .unwrap();
        for (i, &class) in classes.iter().enumerate() {
            let mean = if class == 0 { M } else { -M };
            for j in 0..DIM {
                let at = i * DIM + j;
                // Component k's posterior mean: m_k + g (x − a m_k).
                let conditional = mean + gain * (f64::from(x[at]) - a * mean);
                let free = f64::from(unguided[at]);
                let expected = free + w * (conditional - free);
                assert!(
                    (f64::from(guided[at]) - expected).abs() < 1e-5,
                    "w = {w}, row {i}, coordinate {j}: {} vs {expected}",
                    guided[at]
                );
            }
        }
        // The posterior stays the unconditional p(k | x_t).
        let mut plain = vec![0f32; rows * 2];
        model
            .denoise(&x, t, &mut unguided.clone(), Some(&mut plain))
            .unwrap();
        for (p, q) in posterior.iter().zip(&plain) {
            assert!((p - q).abs() < 1e-6, "posterior {p} vs {q}");
        }
    }
}

#[test]
fn ising_guidance_is_affine_in_w_and_unguided_at_zero() {
    let chain = |weight, beta: f64| IsingComponentSpec {
        weight,
        beta,
        label: String::new(),
    };
    let model = IsingMixture::new(
        6,
        1.0,
        Boundary::Open,
        1.0,
        vec![chain(0.4, 0.2), chain(0.6, 1.5)],
    )
    .unwrap();
    let x: Vec<f32> = (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let classes = [0, 1, 0];
    let guided = |w| {
        let mut out = vec![0f32; x.len()];
        let guide = Guide {
            classes: &classes,
            w,
        };
        model
            .denoise_guided(&x, 0.4, guide, &mut out, None)
            .unwrap();
        out
    };
    let mut plain = vec![0f32; x.len()];
    model.denoise(&x, 0.4, &mut plain, None).unwrap();
    let (zero, one, three) = (guided(0.0), guided(1.0), guided(3.0));
    for i in 0..x.len() {
        assert!((zero[i] - plain[i]).abs() < 1e-5);
        let affine = zero[i] + 3.0 * (one[i] - zero[i]);
        assert!((three[i] - affine).abs() < 1e-4, "{} vs {affine}", three[i]);
    }
}

#[test]
fn conditional_sampling_gives_each_class_its_exact_marginal() {
    // w = 1: the trajectories of class k end in N(a m_k, (a² σ² + Δ) I) at t_min (closed form).
    let model = mixture([0.5, 0.5]);
    let out = run(&model, &spec(1.0, StepKind::Sde, InitKind::Data, 4000));
    let t = *out.times.last().unwrap();
    let (a, delta) = (signal(t), noise_var(t));
    let var = a * a * VAR + delta;
    let classes = out.initial_labels.clone().unwrap();
    let finals = out.final_states();
    for k in 0..2u32 {
        let sign = if k == 0 { 1.0 } else { -1.0 };
        let values: Vec<f64> = finals
            .chunks(DIM)
            .zip(&classes)
            .filter(|(_, c)| **c == k)
            .flat_map(|(r, _)| r.iter().map(|&v| f64::from(v)))
            .collect();
        // The coordinates of one row are independent given the class: N_k · d draws.
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let sample_var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
        let mean_se = (var / count).sqrt();
        let var_se = var * (2.0 / (count - 1.0)).sqrt();
        assert!(
            (mean - sign * a * M).abs() < 4.0 * mean_se,
            "class {k}: mean {mean} vs {} (s.e. {mean_se})",
            sign * a * M
        );
        assert!(
            (sample_var - var).abs() < 4.0 * var_se,
            "class {k}: variance {sample_var} vs {var} (s.e. {var_se})"
        );
    }
}

#[test]
fn no_guidance_weight_is_the_unconditional_mixture() {
    // w = 0 from N(0, I): the class a row is conditioned on must not matter. The final class (the sign
    // of the row mean: the classes are 2 m sqrt(d) / σ ≈ 11 standard deviations apart) has the mixture
    // weights, and it disagrees with the conditioned class with probability 2 p (1 − p).
    let p = 0.3;
    let model = mixture([p, 1.0 - p]);
    let n = 4000;
    let out = run(&model, &spec(0.0, StepKind::Sde, InitKind::Gaussian, n));
    let classes = out.initial_labels.clone().unwrap();
    let finals: Vec<u32> = row_means(&out)
        .iter()
        .map(|&m| u32::from(m < 0.0))
        .collect();
    let share = finals.iter().filter(|&&c| c == 0).count() as f64 / n as f64;
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!((share - p).abs() < 4.0 * se, "class 0 share {share} vs {p}");
    // The conditioned classes themselves are drawn from the weights too.
    let drawn = classes.iter().filter(|&&c| c == 0).count() as f64 / n as f64;
    assert!((drawn - p).abs() < 4.0 * se, "drawn class 0 share {drawn}");
    let mismatch = finals.iter().zip(&classes).filter(|(a, b)| a != b).count() as f64 / n as f64;
    let q = 2.0 * p * (1.0 - p);
    let q_se = (q * (1.0 - q) / n as f64).sqrt();
    assert!(
        (mismatch - q).abs() < 4.0 * q_se,
        "mismatch {mismatch} vs {q} (s.e. {q_se})"
    );
}

#[test]
fn stronger_guidance_pushes_the_class_means_apart() {
    // The distance between the two classes' mean row-means, for w = 1, 3, 9 (probability-flow ODE and
    // SDE). Each difference must exceed 4 standard errors of the two estimates it compares.
    let model = mixture([0.5, 0.5]);
    for kind in [StepKind::Ode, StepKind::Sde] {
        let separation = |w: f64| {
            let out = run(&model, &spec(w, kind, InitKind::Data, 4000));
            let classes = out.initial_labels.clone().unwrap();
            let means = row_means(&out);
            let class_stats = |k: u32| {
                let v: Vec<f64> = means
                    .iter()
                    .zip(&classes)
                    .filter(|(_, c)| **c == k)
                    .map(|(m, _)| *m)
                    .collect();
                let n = v.len() as f64;
                let mean = v.iter().sum::<f64>() / n;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
                (mean, var / n)
            };
            let ((m0, v0), (m1, v1)) = (class_stats(0), class_stats(1));
            (m0 - m1, (v0 + v1).sqrt())
        };
        let seps: Vec<(f64, f64)> = [1.0, 3.0, 9.0].into_iter().map(separation).collect();
        // w = 1 is conditional sampling: separation 2 a m (a ≈ 1 at t_min).
        assert!(
            (seps[0].0 - 2.0 * signal(0.01) * M).abs() < 4.0 * seps[0].1,
            "{kind:?}: w = 1 separation {:?}",
            seps[0]
        );
        for pair in seps.windows(2) {
            let margin = 4.0 * (pair[0].1.powi(2) + pair[1].1.powi(2)).sqrt();
            assert!(
                pair[1].0 - pair[0].0 > margin,
                "{kind:?}: separations {seps:?} do not grow by 4 s.e."
            );
        }
    }
}

/// The cloning curve φ at `times` (`[C]`) with `pairs` pairs, each pair conditioned on one class.
fn cloning_phi(model: &GaussianMixture, w: f64, times: &[f64], pairs: usize) -> Vec<bool> {
    let mut settings = ReverseSettings::new(times.to_vec(), pairs, LabelRule::Argmax, 11);
    settings.guidance = Some(w);
    let (mut progress, cancel) = (|_: f32, _: &str| {}, AtomicBool::new(false));
    let mut control = Control::new(&mut progress, &cancel);
    let run = run_cloning(model, model, &ExactLabeller(model), &settings, &mut control).unwrap();
    let base: Vec<u32> = times.iter().flat_map(|_| run.base_labels.clone()).collect();
    base.iter()
        .zip(&run.clone_labels)
        .map(|(a, b)| a == b)
        .collect()
}

#[test]
fn guidance_moves_the_moment_of_decision_to_the_start() {
    // Under guidance part of the decision is made at the start, by the class k a pair is conditioned
    // on: the plateau φ(t → ∞) = Σ_k π_k Σ_j P(j | k)² rises from Σ π² = 1/2 (w = 0) towards 1. For
    // two symmetric classes the wrong-class attractor (2w − 1) m of the guided flow disappears at
    // w = 1/2, so at w = 0.6 every pair ends in its class and φ never falls to the midpoint level 3/4:
    // t_mid has moved to the start. Unguided, φ crosses 3/4 inside the window of clone times.
    let model = mixture([0.5, 0.5]);
    let times: Vec<f64> = (1..=20).map(|i| 0.15 * i as f64).collect();
    let pairs = 1500;
    let last = |matches: &[bool]| {
        let tail = &matches[(times.len() - 1) * pairs..];
        let phi = tail.iter().filter(|&&m| m).count() as f64 / pairs as f64;
        (
            phi,
            (phi * (1.0 - phi) / pairs as f64)
                .sqrt()
                .max(1.0 / pairs as f64),
        )
    };
    let runs: Vec<Vec<bool>> = [0.0, 0.3, 0.6]
        .into_iter()
        .map(|w| cloning_phi(&model, w, &times, pairs))
        .collect();
    let plateaus: Vec<(f64, f64)> = runs.iter().map(|m| last(m)).collect();
    assert!(
        (plateaus[0].0 - 0.5).abs() < 4.0 * plateaus[0].1,
        "unguided plateau {:?} vs 1/2",
        plateaus[0]
    );
    for pair in plateaus.windows(2) {
        let margin = 4.0 * (pair[0].1.powi(2) + pair[1].1.powi(2)).sqrt();
        assert!(
            pair[1].0 - pair[0].0 > margin,
            "plateaus (w = 0, 0.3, 0.6) {plateaus:?} do not rise by 4 s.e."
        );
    }
    let unguided = bootstrap_crossing(&times, &runs[0], pairs, 0.75, 11).expect("w = 0 crosses");
    assert!(
        unguided.t > times[1] && unguided.t < times[times.len() - 2],
        "unguided t_mid {unguided:?}"
    );
    assert!(
        bootstrap_crossing(&times, &runs[2], pairs, 0.75, 11).is_none(),
        "w = 0.6 should be decided at the start"
    );
}

#[test]
fn guided_runs_are_identical_for_any_thread_count() {
    let model = mixture([0.3, 0.7]);
    let spec = spec(2.0, StepKind::Ode, InitKind::Gaussian, 300);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(&model, &spec))
    };
    let (one, four) = (on(1), on(4));
    assert_eq!(one.states, four.states);
    assert_eq!(one.initial_labels, four.initial_labels);
}

#[test]
fn scenes_read_and_check_guidance() {
    let scene = |guidance: &str, model: &str| {
        format!(
            r#"{{"model": {model}, "sampler": {{"kind": "sde", "steps": 10, "t_max": 3.0,
            "t_min": 0.01{guidance}}}, "trajectories": 10, "seed": 1}}"#
        )
    };
    let gaussian = r#"{"kind": "gaussian_mixture", "dim": 2, "components": [
        {"weight": 0.5, "mean": {"fill": 1.0}, "cov": {"isotropic": 1.0}},
        {"weight": 0.5, "mean": {"fill": -1.0}, "cov": {"isotropic": 1.0}}]}"#;
    let path = Path::new("guided.json");
    let read = Scene::from_json_str(&scene(r#", "guidance": {"w": 2.5}"#, gaussian), path).unwrap();
    assert_eq!(read.sampling_spec().guidance, Some(2.5));
    let again = Scene::from_json_str(&read.to_json_pretty().unwrap(), path).unwrap();
    assert_eq!(again, read);
    let unguided = Scene::from_json_str(&scene("", gaussian), path).unwrap();
    assert_eq!(unguided.sampling_spec().guidance, None);

    let error = |guidance: &str, model: &str| {
        Scene::from_json_str(&scene(guidance, model), path)
            .unwrap_err()
            .to_string()
    };
    let negative = error(r#", "guidance": {"w": -1}"#, gaussian);
    assert!(negative.contains("sampler.guidance.w"), "{negative}");
    let unknown = error(r#", "guidance": {"w": 1, "scale": 2}"#, gaussian);
    assert!(unknown.contains("sampler.guidance"), "{unknown}");
    let learned = error(
        r#", "guidance": {"w": 1}"#,
        r#"{"kind": "learned", "path": "x.safetensors"}"#,
    );
    assert!(
        learned.contains("sampler.guidance") && learned.contains("class-conditional"),
        "{learned}"
    );
}

#[test]
fn the_panel_switch_reruns_the_lab_guided() {
    use app_support::{harness, settle, small_scene, step_until};
    use diffscope::app::RightTab;
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    h.state_mut().views.right_tab = RightTab::Speciation;
    settle(&mut h);
    step_until(&mut h, "the unguided report", |app| {
        app.results.speciation.is_some()
    });
    let unguided = h.state().results.speciation.clone().unwrap();
    assert_eq!(unguided.settings.guidance, None);
    assert!(h.query_by_label_contains("Guidance w =").is_none());

    h.get_by_role_and_label(Role::CheckBox, "guidance").click();
    step_until(&mut h, "the guided scene to apply", |app| {
        app.scene.current.sampler.guidance.is_some()
    });
    step_until(&mut h, "the guided report", |app| {
        app.results
            .speciation
            .as_ref()
            .is_some_and(|r| r.settings.guidance == Some(1.0))
    });
    settle(&mut h);
    // w = 1 is conditional sampling: every pair ends in its class, so φ stays near 1 at every clone
    // time (200 pairs: a share of 0.9 is 7 s.e. below 1 − 1 % overlap).
    let guided = h.state().results.speciation.clone().unwrap();
    assert!(
        guided.headline.phi_cloning.phi.iter().all(|&p| p > 0.9),
        "{:?}",
        guided.headline.phi_cloning.phi
    );
    h.get_by_label_contains("Guidance w = 1");
}
