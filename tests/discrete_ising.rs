//! The Ising-chain token model under discrete noise checked against brute force: every quantity it
//! computes in O(L) (class posterior, site marginals, the laws of its posterior and prior draws) is
//! compared with a sum over all 2^L spin words for small L, and the φ_post curves with the reference
//! cases of `docs/science/discrete.md` §6.

use diffscope::analysis::speciation::discrete_posterior::{
    DiscreteForwardSamples, phi_crossing, phi_posterior_independent,
};
use diffscope::analysis::speciation::gaussian::bisect_down;
use diffscope::model::discrete::ising_chain::{IsingChainClass, IsingChainError, IsingChainTokens};
use diffscope::model::discrete::{DiscreteNoise, MASK, TokenModel};
use diffscope::model::ising::Boundary;
use diffscope::rng::{Domain, stream};

fn class(weight: f64, coupling: f64, field: f64) -> IsingChainClass {
    IsingChainClass {
        weight,
        coupling,
        field,
        label: String::new(),
    }
}

/// Three classes that differ in coupling sign and strength and in field.
fn three_classes() -> Vec<IsingChainClass> {
    vec![
        class(0.3, 0.7, 0.3),
        class(0.5, -0.4, -0.5),
        class(0.2, 1.5, 0.1),
    ]
}

/// p(k, s | x_t) for every class k and word s (bit i of s is token i), `[K, 2^L]`, by enumeration with
/// the emissions of `DiscreteNoise` (an implementation independent of the model's fields and pins).
fn brute_force_joint(
    classes: &[IsingChainClass],
    boundary: Boundary,
    l: usize,
    noise: DiscreteNoise,
    t: f64,
    x_t: &[u8],
) -> Vec<f64> {
    let states = 1usize << l;
    let bonds: Vec<(usize, usize)> = match boundary {
        Boundary::Open => (0..l - 1).map(|i| (i, i + 1)).collect(),
        Boundary::Periodic => (0..l).map(|i| (i, (i + 1) % l)).collect(),
    };
    let total_weight: f64 = classes.iter().map(|c| c.weight).sum();
    let mut joint = Vec::with_capacity(classes.len() * states);
    for c in classes {
        let mut z = 0.0;
        let start = joint.len();
        for bits in 0..states {
            let spin = |i: usize| if bits >> i & 1 == 1 { 1.0 } else { -1.0 };
            let energy = c.coupling * bonds.iter().map(|&(i, j)| spin(i) * spin(j)).sum::<f64>()
                + c.field * (0..l).map(spin).sum::<f64>();
            let prior = energy.exp();
            z += prior;
            let emission: f64 = (0..l)
                .map(|i| noise.emission(x_t[i], (bits >> i & 1) as u8, 2, t))
                .product();
            joint.push(prior * emission);
        }
        for v in &mut joint[start..] {
            *v *= c.weight / total_weight / z;
        }
    }
    let norm: f64 = joint.iter().sum();
    joint.iter().map(|v| v / norm).collect()
}

/// Observations of several kinds for one (noise, t): corrupted model draws, plus a hand-made word that
/// fights the couplings.
fn observations(
    model: &IsingChainTokens,
    noise: DiscreteNoise,
    t: f64,
    count: usize,
) -> Vec<Vec<u8>> {
    let l = model.length();
    let clean = model.sample_x0(count, 11);
    let mut out: Vec<Vec<u8>> = clean
        .tokens
        .chunks_exact(l)
        .enumerate()
        .map(|(i, x0)| {
            let mut x = vec![0; l];
            let mut rng = stream(5, Domain::ForwardNoise, i as u64);
            noise.corrupt(x0, 2, t, &mut rng, &mut x);
            x
        })
        .collect();
    let mut odd: Vec<u8> = (0..l).map(|i| (i % 2) as u8).collect();
    if noise == DiscreteNoise::Mask {
        odd[1] = MASK;
        odd[l - 2] = MASK;
    }
    out.push(odd);
    if noise == DiscreteNoise::Mask {
        out.push(vec![MASK; l]);
    }
    out
}

#[test]
fn class_posteriors_and_marginals_match_enumeration() {
    let mut checked = 0;
    for boundary in [Boundary::Open, Boundary::Periodic] {
        for l in [6, 9] {
            let model = IsingChainTokens::new(l, boundary, three_classes()).unwrap();
            for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
                for t in [0.0, 0.3, 1.5, 6.0] {
                    for x_t in observations(&model, noise, t, 4) {
                        let joint =
                            brute_force_joint(&three_classes(), boundary, l, noise, t, &x_t);
                        let states = 1usize << l;
                        let (mut marg, mut classes) = (vec![0.0; 2 * l], vec![0.0; 3]);
                        model.posterior(noise, t, &x_t, &mut marg, &mut classes);
                        let mut ell = vec![0.0; 3];
                        model.class_log_joint(noise, t, &x_t, &mut ell);
                        let norm = ell.iter().map(|e| e.exp()).sum::<f64>();
                        for k in 0..3 {
                            let exact: f64 = joint[k * states..(k + 1) * states].iter().sum();
                            assert!(
                                (classes[k] - exact).abs() < 1e-10,
                                "{boundary:?} L={l} {noise:?} t={t} {x_t:?} class {k}: {} vs {exact}",
                                classes[k]
                            );
                            assert!((ell[k].exp() / norm - exact).abs() < 1e-10);
                        }
                        for i in 0..l {
                            let up: f64 = joint
                                .iter()
                                .enumerate()
                                .filter(|(idx, _)| (idx % states) >> i & 1 == 1)
                                .map(|(_, p)| p)
                                .sum();
                            assert!(
                                (marg[2 * i + 1] - up).abs() < 1e-10
                                    && (marg[2 * i] - (1.0 - up)).abs() < 1e-10,
                                "{boundary:?} L={l} {noise:?} t={t} {x_t:?} site {i}: {:?} vs {up}",
                                &marg[2 * i..2 * i + 2]
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 100);
}

/// Pearson's statistic of `counts` against `probabilities` (cells with expected count < 5 pooled) and
/// its degrees of freedom.
fn chi_square(counts: &[u64], probabilities: &[f64]) -> (f64, usize) {
    let n: u64 = counts.iter().sum();
    let (mut stat, mut cells) = (0.0, 0usize);
    let (mut pooled_count, mut pooled_expected) = (0.0, 0.0);
    for (&c, &p) in counts.iter().zip(probabilities) {
        let expected = p * n as f64;
        if expected < 5.0 {
            pooled_count += c as f64;
            pooled_expected += expected;
        } else {
            stat += (c as f64 - expected).powi(2) / expected;
            cells += 1;
        }
    }
    if pooled_expected > 0.0 {
        stat += (pooled_count - pooled_expected).powi(2) / pooled_expected.max(1e-300);
        cells += 1;
    }
    (stat, cells.saturating_sub(1))
}

/// χ² with `df` degrees of freedom has mean df and standard deviation √(2 df); 5 of them above the mean
/// is a false alarm rate below 1e-4 at these df, while a wrong law (a missing bond, a wrong field)
/// gives statistics in the thousands at these sample sizes.
fn assert_chi_square(counts: &[u64], probabilities: &[f64], what: &str) {
    let (stat, df) = chi_square(counts, probabilities);
    assert!(df >= 10, "{what}: too few cells ({df})");
    let limit = df as f64 + 5.0 * (2.0 * df as f64).sqrt();
    assert!(
        stat < limit,
        "{what}: chi2 = {stat:.1} with {df} df (limit {limit:.1})"
    );
}

fn word_index(tokens: &[u8]) -> usize {
    tokens
        .iter()
        .enumerate()
        .map(|(i, &v)| usize::from(v) << i)
        .sum()
}

#[test]
fn posterior_draws_follow_the_exact_law() {
    let l = 6;
    let n = 60_000;
    let cases = [
        // Periodic, nothing pinned: s_1 is drawn first from its pinned partition functions.
        (
            Boundary::Periodic,
            DiscreteNoise::Flip,
            0.4,
            vec![1, 1, 0, 1, 0, 0],
        ),
        (
            Boundary::Periodic,
            DiscreteNoise::Mask,
            0.5,
            vec![MASK, 1, MASK, MASK, 0, MASK],
        ),
        (Boundary::Periodic, DiscreteNoise::Mask, 2.0, vec![MASK; 6]),
        (
            Boundary::Open,
            DiscreteNoise::Mask,
            0.7,
            vec![1, MASK, MASK, 0, MASK, MASK],
        ),
        (
            Boundary::Open,
            DiscreteNoise::Flip,
            1.0,
            vec![0, 1, 1, 0, 1, 1],
        ),
    ];
    for (boundary, noise, t, x_t) in cases {
        let model = IsingChainTokens::new(l, boundary, three_classes()).unwrap();
        let joint = brute_force_joint(&three_classes(), boundary, l, noise, t, &x_t);
        let mut counts = vec![0u64; joint.len()];
        let mut out = vec![0u8; l];
        for i in 0..n {
            let mut rng = stream(21, Domain::ReverseNoise, i);
            let k = model.sample_posterior(noise, t, &x_t, &mut rng, &mut out);
            counts[(k << l) + word_index(&out)] += 1;
        }
        assert_chi_square(&counts, &joint, &format!("{boundary:?} {noise:?} t={t}"));
    }
}

#[test]
fn draws_at_t_zero_return_the_observation() {
    for boundary in [Boundary::Open, Boundary::Periodic] {
        let model = IsingChainTokens::new(9, boundary, three_classes()).unwrap();
        let x_t = vec![1, 0, 0, 1, 1, 1, 0, 1, 0];
        let mut out = vec![MASK; 9];
        for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
            for i in 0..50 {
                model.sample_posterior(
                    noise,
                    0.0,
                    &x_t,
                    &mut stream(2, Domain::Clone, i),
                    &mut out,
                );
                assert_eq!(out, x_t, "{boundary:?} {noise:?}");
            }
        }
    }
}

#[test]
fn prior_draws_follow_the_mixture() {
    let l = 6;
    let n = 60_000;
    for boundary in [Boundary::Open, Boundary::Periodic] {
        let model = IsingChainTokens::new(l, boundary, three_classes()).unwrap();
        let prior = brute_force_joint(
            &three_classes(),
            boundary,
            l,
            DiscreteNoise::Mask,
            1.0,
            &[MASK; 6],
        );
        let samples = model.sample_x0(n, 4);
        let mut counts = vec![0u64; prior.len()];
        for (row, &k) in samples.tokens.chunks_exact(l).zip(&samples.labels) {
            counts[((k as usize) << l) + word_index(row)] += 1;
        }
        assert_chi_square(&counts, &prior, &format!("prior {boundary:?}"));
        // Row i depends on (seed, i) only.
        let few = model.sample_x0(10, 4);
        assert_eq!(few.tokens[..], samples.tokens[..10 * l]);
        assert_eq!(few.labels[..], samples.labels[..10]);
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let build = |l: usize, classes: Vec<IsingChainClass>| {
        IsingChainTokens::new(l, Boundary::Open, classes).err()
    };
    assert_eq!(build(0, three_classes()), Some(IsingChainError::EmptyChain));
    assert_eq!(build(4, vec![]), Some(IsingChainError::NoClasses));
    assert!(matches!(
        build(4, vec![class(0.0, 0.1, 0.0), class(1.0, 0.1, 0.0)]),
        Some(IsingChainError::BadWeight { class: 0, .. })
    ));
    assert!(matches!(
        build(4, vec![class(0.5, 0.1, 0.0), class(-0.5, 0.1, 0.0)]),
        Some(IsingChainError::BadWeight { class: 1, .. })
    ));
    assert!(matches!(
        build(4, vec![class(0.5, 0.1, 0.0), class(0.4, 0.1, 0.0)]),
        Some(IsingChainError::WeightSum { .. })
    ));
    for bad in [f64::NAN, f64::INFINITY, 100.5] {
        assert!(matches!(
            build(4, vec![class(1.0, bad, 0.0)]),
            Some(IsingChainError::BadCoupling { class: 0, .. })
        ));
        assert!(matches!(
            build(4, vec![class(1.0, 0.0, -bad)]),
            Some(IsingChainError::BadField { class: 0, .. })
        ));
    }
    assert!(build(1, vec![class(1.0, 100.0, -100.0)]).is_none());
}

#[test]
fn malformed_observations_give_nan_not_panics() {
    let model = IsingChainTokens::new(5, Boundary::Periodic, three_classes()).unwrap();
    let mut ell = vec![0.0; 3];
    let (mut marg, mut classes) = (vec![0.0; 10], vec![0.0; 3]);
    let mut out = vec![0u8; 5];
    let bad: [(DiscreteNoise, f64, Vec<u8>); 4] = [
        (DiscreteNoise::Mask, 1.0, vec![0, 1, 0]),
        (DiscreteNoise::Flip, 1.0, vec![0, 1, MASK, 1, 0]),
        (DiscreteNoise::Mask, 1.0, vec![0, 1, 2, 1, 0]),
        (DiscreteNoise::Mask, -1.0, vec![0, 1, 1, 1, 0]),
    ];
    for (noise, t, x_t) in bad {
        model.class_log_joint(noise, t, &x_t, &mut ell);
        assert!(ell.iter().all(|v| v.is_nan()));
        model.posterior(noise, t, &x_t, &mut marg, &mut classes);
        assert!(marg.iter().chain(&classes).all(|v| v.is_nan()));
        let k = model.sample_posterior(noise, t, &x_t, &mut stream(1, Domain::Clone, 0), &mut out);
        assert_eq!(k, 3);
        assert!(out.iter().all(|&v| v == MASK));
    }
}

#[test]
fn long_chains_stay_finite_and_consistent() {
    let l = 16_384;
    let classes = vec![
        class(0.25, 0.3, 0.0),
        class(0.25, 0.8, 0.2),
        class(0.25, -2.0, -1.0),
        class(0.25, 100.0, 100.0),
    ];
    for boundary in [Boundary::Open, Boundary::Periodic] {
        let model = IsingChainTokens::new(l, boundary, classes.clone()).unwrap();
        let clean = model.sample_x0(2, 8);
        for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
            let mut previous: Option<Vec<f64>> = None;
            for t in [0.0, 1e-12, 1e-3, 1.0, 10.0] {
                let x0 = &clean.tokens[..l];
                let mut x_t = vec![0u8; l];
                noise.corrupt(x0, 2, t, &mut stream(9, Domain::ForwardNoise, 0), &mut x_t);
                let (mut marg, mut post) = (vec![0.0; 2 * l], vec![0.0; 4]);
                model.posterior(noise, t, &x_t, &mut marg, &mut post);
                let what = format!("{boundary:?} {noise:?} t={t}");
                assert!(
                    post.iter().all(|p| p.is_finite() && *p >= 0.0),
                    "{what} {post:?}"
                );
                assert!((post.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{what}");
                assert!(
                    marg.chunks_exact(2)
                        .all(|r| r.iter().all(|p| (0.0..=1.0).contains(p))
                            && (r[0] + r[1] - 1.0).abs() < 1e-12),
                    "{what}"
                );
                // Revealed sites are certain.
                for (i, &x) in x_t.iter().enumerate() {
                    if noise == DiscreteNoise::Mask && x != MASK || t == 0.0 {
                        assert_eq!(marg[2 * i + usize::from(x)], 1.0, "{what} site {i}");
                    }
                }
                let mut out = vec![MASK; l];
                let k = model.sample_posterior(
                    noise,
                    t,
                    &x_t,
                    &mut stream(3, Domain::Clone, 0),
                    &mut out,
                );
                assert!(k < 4 && out.iter().all(|&v| v < 2), "{what}");
                if noise == DiscreteNoise::Mask || t == 0.0 {
                    assert!(
                        out.iter().zip(&x_t).all(|(&o, &x)| x == MASK || o == x),
                        "{what}"
                    );
                }
                // Under flip, t = 1e-12 differs from pinning every site by emissions of relative size
                // ~t/2 per site; for a word drawn from the model that moves the class posterior by
                // ~L t, so a jump here means the pinned and the field paths disagree.
                if let (Some(p), true) = (&previous, t == 1e-12) {
                    for (a, b) in p.iter().zip(&post) {
                        assert!((a - b).abs() < 1e-6, "{what}: {p:?} vs {post:?}");
                    }
                }
                previous = Some(post);
            }
        }
    }
}

/// Every observation of an L-site word with its probability, by enumeration, for φ_post by brute force.
#[test]
fn exact_independent_phi_matches_enumeration() {
    let l = 5;
    let classes = vec![
        class(0.2, 0.0, 0.9),
        class(0.5, 0.0, -0.3),
        class(0.3, 0.0, 0.05),
    ];
    for boundary in [Boundary::Open, Boundary::Periodic] {
        let model = IsingChainTokens::new(l, boundary, classes.clone()).unwrap();
        for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
            let symbols: Vec<u8> = match noise {
                DiscreteNoise::Mask => vec![0, 1, MASK],
                DiscreteNoise::Flip => vec![0, 1],
            };
            for t in [0.0f64, 0.4, 2.5] {
                let mut phi = 0.0;
                let count = symbols.len().pow(l as u32);
                for code in 0..count {
                    let x_t: Vec<u8> = (0..l)
                        .map(|i| symbols[code / symbols.len().pow(i as u32) % symbols.len()])
                        .collect();
                    // P(x_t) = Σ_k w_k Π_i Σ_s P_k(s_i = s) P(x_t,i | s), with exact observation laws.
                    let keep = (-t).exp();
                    let site_law = |h: f64, y: u8| -> f64 {
                        let p_up = 0.5 * (1.0 + f64::tanh(h));
                        let law = |s: u8| match (noise, y) {
                            (DiscreteNoise::Mask, MASK) => 1.0 - keep,
                            (DiscreteNoise::Mask, y) => keep * f64::from(u8::from(y == s)),
                            (DiscreteNoise::Flip, y) => {
                                keep * f64::from(u8::from(y == s)) + (1.0 - keep) / 2.0
                            }
                        };
                        p_up * law(1) + (1.0 - p_up) * law(0)
                    };
                    let probability: f64 = classes
                        .iter()
                        .map(|c| {
                            c.weight * x_t.iter().map(|&y| site_law(c.field, y)).product::<f64>()
                        })
                        .sum();
                    if probability == 0.0 {
                        continue;
                    }
                    let mut ell = vec![0.0; 3];
                    model.class_log_joint(noise, t, &x_t, &mut ell);
                    let norm: f64 = ell.iter().map(|e| e.exp()).sum();
                    phi += probability * ell.iter().map(|e| (e.exp() / norm).powi(2)).sum::<f64>();
                }
                let exact = phi_posterior_independent(&model, noise, t).unwrap();
                assert!(
                    (exact - phi).abs() < 1e-12,
                    "{noise:?} t={t}: {exact} vs {phi}"
                );
            }
        }
    }
    let chain = IsingChainTokens::new(l, Boundary::Open, vec![class(1.0, 0.2, 0.0)]).unwrap();
    assert!(phi_posterior_independent(&chain, DiscreteNoise::Mask, 1.0).is_err());
}

fn two_fields(l: usize) -> IsingChainTokens {
    let h = 0.202733;
    IsingChainTokens::new(
        l,
        Boundary::Open,
        vec![class(0.5, 0.0, h), class(0.5, 0.0, -h)],
    )
    .unwrap()
}

fn two_chains(l: usize) -> IsingChainTokens {
    IsingChainTokens::new(
        l,
        Boundary::Open,
        vec![class(0.5, 0.3, 0.0), class(0.5, 0.8, 0.0)],
    )
    .unwrap()
}

#[test]
fn reference_cases_m1_and_f1_are_exact() {
    let model = two_fields(64);
    let cases = [
        (DiscreteNoise::Mask, [0.8484, 0.7680, 0.6337], 1.1149),
        (DiscreteNoise::Flip, [0.7672, 0.6332, 0.5224], 0.5550),
    ];
    for (noise, phis, t_mid) in cases {
        for (t, reference) in [0.5, 1.0, 2.0].into_iter().zip(phis) {
            let phi = phi_posterior_independent(&model, noise, t).unwrap();
            assert!(
                (phi - reference).abs() < 1e-4,
                "{noise:?} t={t}: {phi} vs {reference}"
            );
        }
        let crossing = phi_crossing(
            |t| phi_posterior_independent(&model, noise, t).unwrap(),
            0.75,
        )
        .unwrap();
        assert!(
            (crossing - t_mid).abs() < 1e-3,
            "{noise:?}: t_mid {crossing} vs {t_mid}"
        );
    }
}

/// The Monte Carlo estimator is unbiased: on independent sites it must agree with the exact sums
/// within its own standard error.
#[test]
fn monte_carlo_phi_agrees_with_the_exact_sums() {
    let model = two_fields(64);
    for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
        let samples = DiscreteForwardSamples::draw(&model, noise, 4000, 17);
        for t in [0.3, 1.0, 3.0] {
            let mc = samples.phi_posterior(&model, t);
            let exact = phi_posterior_independent(&model, noise, t).unwrap();
            assert!(
                (mc.mean - exact).abs() < 4.0 * mc.std_error && mc.std_error < 0.01,
                "{noise:?} t={t}: {mc:?} vs {exact}"
            );
        }
    }
}

/// M2 and F2: chains that differ only in correlations. The references carry Monte Carlo error 0.0008
/// in φ and 0.005 in t_mid; ours adds its standard error (φ) and that error divided by the slope of
/// the curve (t_mid). Both are allowed four combined standard deviations.
#[test]
fn reference_cases_m2_and_f2_by_monte_carlo() {
    let model = two_chains(256);
    let cases = [
        (
            DiscreteNoise::Mask,
            [0.9886, 0.9256, 0.6625],
            1.664,
            (1.0, 2.0),
        ),
        (
            DiscreteNoise::Flip,
            [0.8648, 0.6288, 0.5040],
            0.723,
            (0.5, 1.0),
        ),
    ];
    for (noise, phis, t_mid, (lo, hi)) in cases {
        let samples = DiscreteForwardSamples::draw(&model, noise, 6000, 29);
        for (t, reference) in [0.5, 1.0, 2.0].into_iter().zip(phis) {
            let mc = samples.phi_posterior(&model, t);
            let tolerance = 4.0 * (mc.std_error.powi(2) + 0.0008f64.powi(2)).sqrt();
            assert!(
                (mc.mean - reference).abs() < tolerance,
                "{noise:?} t={t}: {mc:?} vs {reference} (tolerance {tolerance})"
            );
        }
        let phi = |t: f64| samples.phi_posterior(&model, t).mean;
        let crossing = bisect_down(lo, hi, |t| phi(t) - 0.75);
        let at = samples.phi_posterior(&model, crossing);
        let slope = (phi(crossing - 0.05) - phi(crossing + 0.05)) / 0.1;
        let tolerance = 4.0 * ((at.std_error / slope).powi(2) + 0.005f64.powi(2)).sqrt();
        assert!(
            (crossing - t_mid).abs() < tolerance,
            "{noise:?}: t_mid {crossing} vs {t_mid} (tolerance {tolerance})"
        );
    }
}
