//! Reverse samplers under discrete noise (`docs/science/discrete.md` §3) on the exact Dyck model (L = 8,
//! B = 2: 224 words, listed here by brute force): the exact and autoregressive samplers end on the data
//! law (total variation against the uniform law over all words), the class posterior is a martingale,
//! the factorized sampler breaks words when many sites change per step and mends them as steps grow,
//! autoregression reveals strictly left to right, and samplers that order reveals refuse flip noise.

use diffscope::diffusion::discrete::{
    DiscreteSampler, TokenSpec, TokenTrajectories, run_token_trajectories,
};
use diffscope::diffusion::{DiffusionError, GridSpacing, StoreSteps};
use diffscope::model::discrete::dyck::{DyckClasses, DyckModel, is_balanced};
use diffscope::model::discrete::{DiscreteNoise, MASK, TokenModel};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

const LENGTH: usize = 8;

fn model() -> DyckModel {
    DyckModel::new(LENGTH, 2, DyckClasses::FirstBracket).unwrap()
}

/// Every balanced word of length 8 over two bracket pairs, by brute force over 4⁸ strings.
fn all_words() -> Vec<Vec<u8>> {
    (0..4usize.pow(LENGTH as u32))
        .map(|code| {
            (0..LENGTH)
                .map(|i| ((code >> (2 * i)) & 3) as u8)
                .collect::<Vec<u8>>()
        })
        .filter(|w| is_balanced(w))
        .collect()
}

fn spec(noise: DiscreteNoise, sampler: DiscreteSampler, steps: usize, n: usize) -> TokenSpec {
    TokenSpec {
        noise,
        sampler,
        steps,
        t_max: 12.0,
        t_min: 0.01,
        grid: GridSpacing::Log,
        trajectories: n,
        seed: 7,
        store: StoreSteps::All,
    }
}

fn run(spec: &TokenSpec) -> Result<TokenTrajectories, DiffusionError> {
    run_token_trajectories(&model(), spec, &mut |_, _| {}, &AtomicBool::new(false))
}

fn final_words(run: &TokenTrajectories) -> Vec<&[u8]> {
    (0..run.n)
        .map(|i| run.state(i, run.stored_steps - 1).unwrap())
        .collect()
}

/// Total variation between the empirical law of `words` and the uniform law over the 224 words.
fn distance_to_uniform(words: &[&[u8]]) -> f64 {
    let all = all_words();
    assert_eq!(all.len(), 14 * 16, "Catalan(4) · 2⁴");
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for w in words {
        *counts.entry(w).or_default() += 1;
    }
    let uniform = 1.0 / all.len() as f64;
    let n = words.len() as f64;
    let on_words: f64 = all
        .iter()
        .map(|w| (counts.get(w.as_slice()).copied().unwrap_or(0) as f64 / n - uniform).abs())
        .sum();
    let off_words = counts
        .iter()
        .filter(|(w, _)| !is_balanced(w))
        .map(|(_, &c)| c as f64 / n)
        .sum::<f64>();
    0.5 * (on_words + off_words)
}

// With n = 20,000 draws over 224 equally likely words, the expected empirical TV is
// ½ Σ E|p̂ − p| ≈ ½ · 224 · sqrt(2/π) · sqrt(p(1 − p)/n) ≈ 0.042, and its spread is ≈ 0.003 (McDiarmid:
// one draw moves TV by at most 1/n). 0.06 is six spreads above the mean; a sampler off by one site's
// law per word gives TV > 0.15.
const SAMPLES: usize = 20_000;
const TV_BOUND: f64 = 0.06;

#[test]
fn exact_sampling_ends_on_the_data_law_under_mask_and_flip() {
    for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
        // 6 steps: the exact sampler is exact at any step count, so a coarse grid must do.
        let result = run(&spec(noise, DiscreteSampler::Exact, 6, SAMPLES)).unwrap();
        assert_eq!(result.times.last(), Some(&0.0));
        let words = final_words(&result);
        assert!(words.iter().all(|w| is_balanced(w)), "{noise:?}");
        let tv = distance_to_uniform(&words);
        assert!(tv < TV_BOUND, "{noise:?}: TV {tv}");
    }
}

#[test]
fn autoregression_is_exact_and_reveals_left_to_right() {
    let result = run(&spec(
        DiscreteNoise::Mask,
        DiscreteSampler::Autoregressive,
        6,
        SAMPLES,
    ))
    .unwrap();
    let tv = distance_to_uniform(&final_words(&result));
    assert!(tv < TV_BOUND, "TV {tv}");
    // At t_max = 12 a site is revealed by the forward noise with probability 6·10⁻⁶, so every row
    // starts fully masked (the chance that one of 160,000 sites is not: 1 %; such a row is skipped).
    let mut checked = 0;
    for i in 0..result.n {
        if result.state(i, 0).unwrap().iter().any(|&v| v != MASK) {
            continue;
        }
        checked += 1;
        for j in 0..result.stored_steps {
            let state = result.state(i, j).unwrap();
            let revealed = state.iter().take_while(|&&v| v != MASK).count();
            assert!(
                state[revealed..].iter().all(|&v| v == MASK),
                "row {i} step {j}: {state:?} is not a revealed prefix"
            );
        }
    }
    assert!(checked > SAMPLES * 9 / 10);
}

#[test]
fn the_class_posterior_is_a_martingale_along_exact_paths() {
    // p(first bracket "(" | x_t) averaged over 4,000 rows: its standard deviation is at most 0.5, so the
    // standard error of the mean is ≤ 0.008; 4 standard errors = 0.032 at every stored step.
    let m = model();
    let w0 = m.weights()[0];
    for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
        let result = run(&spec(noise, DiscreteSampler::Exact, 12, 4_000)).unwrap();
        for j in 0..result.stored_steps {
            let mean = (0..result.n)
                .map(|i| f64::from(result.posterior_at(i, j).unwrap()[0]))
                .sum::<f64>()
                / result.n as f64;
            assert!(
                (mean - w0).abs() < 0.032,
                "{noise:?} step {j} (t = {}): mean p = {mean}, prior {w0}",
                result.times[j]
            );
        }
        // At t = 0 the posterior is the class of the clean word: one-hot.
        let last = result.stored_steps - 1;
        assert!((0..result.n).all(|i| {
            let p = result.posterior_at(i, last).unwrap();
            p.iter().all(|&v| v == 0.0 || v == 1.0)
        }));
    }
}

#[test]
fn factorized_sampling_breaks_words_on_coarse_grids_and_mends_them_on_fine_ones() {
    let validity = |steps: usize| {
        let result = run(&spec(
            DiscreteNoise::Mask,
            DiscreteSampler::Factorized,
            steps,
            4_000,
        ))
        .unwrap();
        let words = final_words(&result);
        words.iter().filter(|w| is_balanced(w)).count() as f64 / words.len() as f64
    };
    // One step reveals all 8 sites independently from their marginals: most words break. With 400
    // log-spaced steps two sites rarely change in one step. Binomial standard errors ≤ 0.008.
    let (coarse, fine) = (validity(1), validity(400));
    assert!(coarse < 0.5, "one step: {coarse} valid");
    assert!(fine > 0.95, "400 steps: {fine} valid");
}

#[test]
fn samplers_that_order_reveals_refuse_flip_noise() {
    for sampler in [DiscreteSampler::Confidence, DiscreteSampler::Autoregressive] {
        let err = run(&spec(DiscreteNoise::Flip, sampler, 4, 10)).unwrap_err();
        assert!(err.to_string().contains("needs mask noise"), "{err}");
    }
    let err = run(&spec(DiscreteNoise::Mask, DiscreteSampler::Exact, 4, 0)).unwrap_err();
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn confidence_sampling_reveals_every_site_with_valid_symbols() {
    let result = run(&spec(
        DiscreteNoise::Mask,
        DiscreteSampler::Confidence,
        8,
        500,
    ))
    .unwrap();
    for w in final_words(&result) {
        assert!(w.iter().all(|&v| v < 4), "{w:?}");
    }
}
