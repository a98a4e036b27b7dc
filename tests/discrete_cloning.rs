//! Cloning under discrete noise against the exact posterior curve (`docs/science/discrete.md` §4, §6):
//! with the exact sampler and sampled labels E φ_clone(t) = φ_post(t), checked on reference case M1
//! (mask) and F1 (flip) at the documented values, and on the Dyck model against a Monte Carlo φ_post.

use diffscope::analysis::control::Control;
use diffscope::analysis::speciation::discrete_cloning::{
    DiscreteCloningSettings, run_discrete_cloning,
};
use diffscope::analysis::speciation::discrete_posterior::DiscreteForwardSamples;
use diffscope::analysis::speciation::labeller::LabelRule;
use diffscope::diffusion::GridSpacing;
use diffscope::diffusion::discrete::DiscreteSampler;
use diffscope::model::discrete::DiscreteNoise;
use diffscope::model::discrete::TokenModel;
use diffscope::model::discrete::dyck::{DyckClasses, DyckModel};
use diffscope::model::discrete::ising_chain::{IsingChainClass, IsingChainTokens};
use diffscope::model::ising::Boundary;
use std::sync::atomic::AtomicBool;

/// Reference case M1/F1: two classes of independent sites, P(s = +1) = 0.6 vs 0.4, L = 64.
fn two_fields() -> IsingChainTokens {
    let class = |field: f64, label: &str| IsingChainClass {
        weight: 0.5,
        coupling: 0.0,
        field,
        label: label.into(),
    };
    IsingChainTokens::new(
        64,
        Boundary::Open,
        vec![class(0.202733, "up"), class(-0.202733, "down")],
    )
    .unwrap()
}

fn settings(
    noise: DiscreteNoise,
    times: &[f64],
    pairs: usize,
    labels: LabelRule,
) -> DiscreteCloningSettings {
    DiscreteCloningSettings {
        noise,
        sampler: DiscreteSampler::Exact,
        // The exact sampler is exact at any step count: a coarse grid suffices.
        steps: 12,
        t_max: 8.0,
        t_min: 0.01,
        grid: GridSpacing::Log,
        clone_times: times.to_vec(),
        pairs,
        labels,
        seed: 3,
    }
}

fn clone(model: &dyn TokenModel, s: &DiscreteCloningSettings) -> Vec<(f64, f64)> {
    let cancel = AtomicBool::new(false);
    let mut progress = |_: f32, _: &str| {};
    let mut control = Control::new(&mut progress, &cancel);
    let run = run_discrete_cloning(model, s, &mut control).unwrap();
    run.phi.iter().map(|e| (e.mean, e.std_error)).collect()
}

// 4,000 pairs: the binomial standard error of φ ≈ 0.75 is 0.0068; 4 of them (0.027) is the tolerance,
// while a sampler that forgot the class (φ → ½) or never changed it (φ → 1) misses by > 0.1.
const PAIRS: usize = 4_000;

#[test]
fn cloning_meets_the_exact_posterior_on_the_reference_cases() {
    let model = two_fields();
    // docs/science/discrete.md §6: M1 (mask) and F1 (flip) φ_post at t = 0.5, 1, 2.
    let cases = [
        (DiscreteNoise::Mask, [0.8484, 0.7680, 0.6337]),
        (DiscreteNoise::Flip, [0.7672, 0.6332, 0.5224]),
    ];
    for (noise, expected) in cases {
        let phi = clone(
            &model,
            &settings(noise, &[0.5, 1.0, 2.0], PAIRS, LabelRule::Sampled),
        );
        for ((mean, se), want) in phi.into_iter().zip(expected) {
            assert!(
                (mean - want).abs() < 4.0 * se.max(0.005),
                "{noise:?}: φ_clone {mean} ± {se} vs φ_post {want}"
            );
        }
    }
}

#[test]
fn cloning_meets_the_posterior_curve_of_dyck_words() {
    // First-bracket classes are a function of the word, so argmax and sampled labels agree.
    let model = DyckModel::new(8, 2, DyckClasses::FirstBracket).unwrap();
    let times = [0.3, 1.0, 2.5];
    let phi = clone(
        &model,
        &settings(DiscreteNoise::Mask, &times, PAIRS, LabelRule::Argmax),
    );
    let forward = DiscreteForwardSamples::draw(&model, DiscreteNoise::Mask, 20_000, 9);
    for ((mean, se), &t) in phi.into_iter().zip(&times) {
        let post = forward.phi_posterior(&model, t);
        let tolerance = 4.0 * (se * se + post.std_error * post.std_error).sqrt();
        assert!(
            (mean - post.mean).abs() < tolerance.max(0.01),
            "t = {t}: φ_clone {mean} ± {se} vs φ_post {} ± {}",
            post.mean,
            post.std_error
        );
    }
}

#[test]
fn bad_settings_are_refused() {
    let model = two_fields();
    let cancel = AtomicBool::new(false);
    let mut progress = |_: f32, _: &str| {};
    let mut control = Control::new(&mut progress, &cancel);
    let mut s = settings(DiscreteNoise::Mask, &[9.0], 10, LabelRule::Sampled);
    let err = run_discrete_cloning(&model, &s, &mut control).unwrap_err();
    assert!(err.to_string().contains("outside (0, t_max"), "{err}");
    s.clone_times = vec![1.0];
    s.noise = DiscreteNoise::Flip;
    s.sampler = DiscreteSampler::Autoregressive;
    let err = run_discrete_cloning(&model, &s, &mut control).unwrap_err();
    assert!(err.to_string().contains("needs mask noise"), "{err}");
}
