//! The discrete lab's measurements along reverse dynamics (`docs/science/discrete.md` §4) against
//! independent computations: token commitment times (hand-built trajectories; mask reveal times; the
//! autoregressive order), class commitment of a first-bracket Dyck model, the U-turn against the exact
//! φ_post, and the token-change correlations C(r), χ, ξ against closed forms.

use diffscope::analysis::control::Control;
use diffscope::analysis::speciation::discrete_cloning::DiscreteCloningSettings;
use diffscope::analysis::speciation::discrete_posterior::phi_posterior_independent;
use diffscope::analysis::speciation::discrete_uturn::{
    TokenUTurnPoint, change_correlations, run_discrete_uturn, susceptibility,
};
use diffscope::analysis::speciation::labeller::LabelRule;
use diffscope::analysis::speciation::token_commitment::{token_commitment, token_commitment_times};
use diffscope::diffusion::discrete::{
    DiscreteSampler, TokenSpec, TokenTrajectories, run_token_trajectories,
};
use diffscope::diffusion::{GridSpacing, StoreSteps};
use diffscope::model::discrete::dyck::{DyckClasses, DyckModel};
use diffscope::model::discrete::ising_chain::{IsingChainClass, IsingChainTokens};
use diffscope::model::discrete::{DiscreteNoise, MASK, TokenModel};
use diffscope::model::ising::Boundary;
use std::sync::atomic::AtomicBool;

/// P(s = +1) = 0.6 for h = atanh 0.2.
const FIELD: f64 = 0.202733;

/// Chains of independent sites (K = 0) with the given fields, equal weights.
fn independent(length: usize, fields: &[f64]) -> IsingChainTokens {
    let classes = fields
        .iter()
        .enumerate()
        .map(|(k, &field)| IsingChainClass {
            weight: 1.0 / fields.len() as f64,
            coupling: 0.0,
            field,
            label: format!("class {k}"),
        })
        .collect();
    IsingChainTokens::new(length, Boundary::Open, classes).unwrap()
}

fn run(
    model: &dyn TokenModel,
    noise: DiscreteNoise,
    sampler: DiscreteSampler,
    n: usize,
) -> TokenTrajectories {
    let spec = TokenSpec {
        noise,
        sampler,
        steps: 24,
        t_max: 8.0,
        t_min: 0.01,
        grid: GridSpacing::Log,
        trajectories: n,
        seed: 5,
        store: StoreSteps::All,
    };
    run_token_trajectories(model, &spec, &mut |_, _| {}, &AtomicBool::new(false)).unwrap()
}

fn uturn(
    model: &dyn TokenModel,
    noise: DiscreteNoise,
    times: &[f64],
    points: usize,
) -> Vec<TokenUTurnPoint> {
    let settings = DiscreteCloningSettings {
        noise,
        sampler: DiscreteSampler::Exact,
        // The exact sampler's path law is exact at any step count.
        steps: 12,
        t_max: 8.0,
        t_min: 0.01,
        grid: GridSpacing::Log,
        clone_times: times.to_vec(),
        pairs: points,
        labels: LabelRule::Sampled,
        seed: 9,
    };
    let cancel = AtomicBool::new(false);
    let mut progress = |_: f32, _: &str| {};
    run_discrete_uturn(model, &settings, &mut Control::new(&mut progress, &cancel)).unwrap()
}

#[test]
fn token_commitment_is_the_start_of_the_final_run_of_each_token() {
    // One row, three sites, four stored times: site 0 ends 1 from step 1 on (it was 0 before), site
    // 1 changes at the last step, site 2 never changes (commits at t_max), under flip-like paths.
    let run = TokenTrajectories {
        n: 1,
        length: 3,
        vocab: 2,
        stored_steps: 4,
        times: vec![4.0, 2.0, 1.0, 0.0],
        tokens: vec![0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1],
        posterior: vec![0.5, 0.5, 0.6, 0.4, 0.95, 0.05, 0.97, 0.03],
        class_labels: vec!["a".into(), "b".into()],
        initial_labels: vec![0],
    };
    // Site 0: 0,1,1,1 → from step 1 (t = 2). Site 1: 1,1,1,0 → step 3 (t = 0). Site 2: 1 throughout.
    assert_eq!(token_commitment_times(&run), vec![2.0, 0.0, 4.0]);
    let c = token_commitment(&run, "test");
    assert_eq!(c.mean_by_site, vec![2.0, 0.0, 4.0]);
    assert_eq!(c.median, Some(2.0));
    assert_eq!(c.histogram.counts.iter().sum::<usize>(), 3);
    // Class a's posterior reaches 0.9 at t = 1 and stays: class commitment at t = 1.
    let class = c.class_commitment.unwrap();
    assert_eq!(class.times, vec![1.0]);
}

#[test]
fn under_mask_a_token_commits_when_it_is_revealed() {
    let model = independent(16, &[FIELD, -FIELD]);
    for sampler in [DiscreteSampler::Exact, DiscreteSampler::Factorized] {
        let r = run(&model, DiscreteNoise::Mask, sampler, 200);
        let commit = token_commitment_times(&r);
        for i in 0..r.n {
            for site in 0..r.length {
                // The reveal time: the first stored time at which the site holds a symbol.
                let reveal = (0..r.stored_steps)
                    .find(|&j| r.state(i, j).unwrap()[site] != MASK)
                    .map(|j| r.times[j])
                    .unwrap();
                assert_eq!(commit[i * r.length + site], reveal, "row {i} site {site}");
            }
        }
    }
}

/// Whether every row's token commitment times are non-increasing along the sequence.
fn left_to_right(run: &TokenTrajectories) -> bool {
    token_commitment_times(run)
        .chunks(run.length)
        .all(|row| row.windows(2).all(|w| w[0] >= w[1]))
}

#[test]
fn autoregressive_sampling_commits_left_to_right_and_factorized_does_not() {
    let model = DyckModel::new(8, 2, DyckClasses::FirstBracket).unwrap();
    let ar = run(
        &model,
        DiscreteNoise::Mask,
        DiscreteSampler::Autoregressive,
        200,
    );
    assert!(left_to_right(&ar));
    let c = token_commitment(&ar, "autoregressive");
    assert!(c.mean_by_site.windows(2).all(|w| w[0] >= w[1]));
    // The factorized sampler reveals sites in random order: some row breaks the order (a row of 8
    // sites revealed in a random order is sorted with probability far below 1/200).
    let factorized = run(
        &model,
        DiscreteNoise::Mask,
        DiscreteSampler::Factorized,
        200,
    );
    assert!(!left_to_right(&factorized));
}

#[test]
fn a_first_bracket_class_commits_when_the_first_bracket_is_revealed_autoregressively() {
    // Before site 0 is revealed every site is masked, so p(k | x_t) = ½; revealing it makes the
    // posterior one-hot. So each row's class commitment time is its site 0's token commitment time.
    let model = DyckModel::new(8, 2, DyckClasses::FirstBracket).unwrap();
    let r = run(
        &model,
        DiscreteNoise::Mask,
        DiscreteSampler::Autoregressive,
        300,
    );
    let commit = token_commitment_times(&r);
    let mut first: Vec<f64> = commit.chunks(r.length).map(|row| row[0]).collect();
    let class = token_commitment(&r, "autoregressive")
        .class_commitment
        .unwrap();
    assert_eq!(class.uncommitted, 0);
    let mut times = class.times.clone();
    first.sort_by(f64::total_cmp);
    times.sort_by(f64::total_cmp);
    assert_eq!(times, first);
}

#[test]
fn the_exact_uturn_keeps_the_class_with_probability_phi_post() {
    // Start class k ~ p(k | x_t), end class sampled from p(k | x'_0) with x'_0 ~ p(x_0 | x_t): given
    // x_t the two are independent draws from p(k | x_t), so P(kept) = E Σ_k p(k | x_t)² = φ_post(t),
    // exact for case M1 by binomial sums.
    let model = independent(64, &[FIELD, -FIELD]);
    let times = [0.5, 1.0, 2.0];
    for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
        for p in uturn(&model, noise, &times, 3000) {
            let exact = phi_posterior_independent(&model, noise, p.t).unwrap();
            // Binomial s.e. ≤ 0.0091 at n = 3000; 4 of them.
            assert!(
                (p.kept - exact).abs() < 4.0 * p.kept_std_error.max(0.005),
                "{} t = {}: kept {} ± {} vs φ_post {exact}",
                noise.name(),
                p.t,
                p.kept,
                p.kept_std_error
            );
        }
    }
}

#[test]
fn independent_sites_change_independently_chi_equals_c0() {
    // One class of independent sites with P(+1) = p: a masked site (probability 1 − e^{−t}) is redrawn
    // from p by the exact sampler, so it changes with probability q = (1 − e^{−t}) 2p(1 − p),
    // independently of every other site: C(0) = q(1 − q) and C(r ≥ 1) = 0.
    let (length, n, t, p): (usize, usize, f64, f64) = (32, 4000, 1.0, 0.6);
    let model = independent(length, &[FIELD]);
    let point = uturn(&model, DiscreteNoise::Mask, &[t], n).remove(0);
    let q = (1.0 - (-t).exp()) * 2.0 * p * (1.0 - p);
    let flags = (n * length) as f64;
    // Independent Bernoulli flags: s.e. of their mean √(q(1−q)/(nL)), of C(0) √(q(1−q)) |1 − 2q| / √(nL).
    let se_mean = (q * (1.0 - q) / flags).sqrt();
    assert!(
        (point.changed - q).abs() < 5.0 * se_mean,
        "{} vs {q}",
        point.changed
    );
    let c0 = q * (1.0 - q);
    let se_c0 = c0.sqrt() * (1.0 - 2.0 * q).abs() / flags.sqrt();
    assert!(
        (point.correlation[0] - c0).abs() < 5.0 * se_c0 + 1e-4,
        "C(0) = {} vs {c0}",
        point.correlation[0]
    );
    // χ − C(0) = Σ_{r≥1} C(r): each sample covariance has s.e. q(1−q)/√n and they are uncorrelated, so
    // the sum of site means has s.e. q(1−q) √(H_{L−1}/n) (H the harmonic number).
    let harmonic: f64 = (1..length).map(|r| 1.0 / r as f64).sum();
    let se_cross = c0 * (harmonic / n as f64).sqrt();
    let cross = point.susceptibility - point.correlation[0];
    assert!(
        cross.abs() < 4.0 * se_cross,
        "Σ_(r≥1) C(r) = {cross} ± {se_cross}"
    );
    // The batch estimate of s.e.(χ) agrees with the closed form within its own spread (10 batches:
    // relative spread ≈ 24%).
    let se_chi = (se_c0.powi(2) + se_cross.powi(2)).sqrt();
    assert!(
        point.susceptibility_std_error > 0.4 * se_chi
            && point.susceptibility_std_error < 2.0 * se_chi,
        "batch s.e. {} vs {se_chi}",
        point.susceptibility_std_error
    );
}

#[test]
fn a_shared_change_gives_flat_correlations_and_half_the_length() {
    // Every site of a word changes together (c_i = z): C(r) = var z for every r, so χ = L var z and
    // ξ = Σ_r r / L = (L − 1)/2.
    let (length, words) = (10, [true, false, false, true, true, false, true, false]);
    let changes: Vec<bool> = words
        .iter()
        .flat_map(|&z| std::iter::repeat_n(z, length))
        .collect();
    let n = words.len() as f64;
    let mean = words.iter().filter(|&&z| z).count() as f64 / n;
    let var = words
        .iter()
        .map(|&z| (f64::from(u8::from(z)) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    let c = change_correlations(&changes, words.len(), length);
    assert!(c.iter().all(|&v| (v - var).abs() < 1e-12), "{c:?}");
    let (chi, xi) = susceptibility(&c);
    assert!((chi - length as f64 * var).abs() < 1e-12);
    assert!((xi.unwrap() - (length as f64 - 1.0) / 2.0).abs() < 1e-12);
}
