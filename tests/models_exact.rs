//! Exact analytic models against independent computations: finite differences of the exact
//! log-density, softmax identities, the f64 formula for the batched f32 path, brute-force enumeration
//! (Ising) and sample moments with tolerances of 4 standard errors.

// Index loops mirror the formulas (coordinates j, classes k) and read better than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use diffscope::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use diffscope::model::{Denoiser, ExactModel};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

const TIMES: [f64; 4] = [0.05, 0.3, 1.0, 2.5];

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn normals(rng: &mut impl Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

fn ou(t: f64) -> (f64, f64) {
    ((-t).exp(), 1.0 - (-2.0 * t).exp())
}

/// Noisy states x_t = a x_0 + √Δ z from the model itself, rounded to f32 so the f32 batch path and the
/// f64 formulas see the same input.
fn noisy_states(model: &dyn ExactModel, t: f64, n: usize, seed: u64) -> Vec<f64> {
    let (a, delta) = ou(t);
    let x0 = model.sample_x0(n, seed);
    let mut r = rng(seed ^ 0xabc);
    x0.points
        .iter()
        .map(|&v| {
            (a * f64::from(v) + delta.sqrt() * r.sample::<f64, _>(StandardNormal)) as f32 as f64
        })
        .collect()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Central differences of ln P_t with step h = 1e-4: truncation error h²|f'''|/6 ~ 1e-9 for the O(1)
/// curvatures here, rounding error ε|ln P|/h ~ 1e-16·1e2/1e-4 = 1e-10; both far below the 1e-6 bound.
fn check_score_matches_finite_differences(model: &dyn ExactModel, name: &str) {
    let d = model.dim();
    let h = 1e-4;
    for &t in &TIMES {
        let xs = noisy_states(model, t, 4, 11);
        for x in xs.chunks_exact(d) {
            let mut score = vec![0.0; d];
            model.score(x, t, &mut score);
            let mut fd = vec![0.0; d];
            let mut xp = x.to_vec();
            for j in 0..d {
                xp[j] = x[j] + h;
                let up = model.log_density(&xp, t);
                xp[j] = x[j] - h;
                let down = model.log_density(&xp, t);
                xp[j] = x[j];
                fd[j] = (up - down) / (2.0 * h);
            }
            let diff: Vec<f64> = fd.iter().zip(&score).map(|(a, b)| a - b).collect();
            let rel = norm(&diff) / norm(&score).max(1e-3);
            assert!(
                rel < 1e-6,
                "{name}, t = {t}: score vs finite differences, relative error {rel}"
            );
        }
    }
}

/// Posterior from `denoise` = softmax of `class_log_joint`; D from `denoise` = the f64 Tweedie
/// formula D = (x + Δ s)/a. The f32 path rounds coefficients and outputs (ε = 6e-8) and mixes K terms,
/// so agreement within 2e-5 relative (plus 2e-5 absolute) leaves ample room yet catches any formula slip.
fn check_batch_against_exact(model: &dyn ExactModel, name: &str) {
    let d = model.dim();
    let k = model.weights().len();
    let n = 40;
    for &t in &TIMES {
        let (a, delta) = ou(t);
        let xs = noisy_states(model, t, n, 5);
        let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
        let mut den = vec![0.0_f32; n * d];
        let mut post = vec![0.0_f32; n * k];
        model.denoise(&x32, t, &mut den, Some(&mut post)).unwrap();
        // The batched class log-joint is the single-row one, bit for bit.
        let mut batched = vec![f64::NAN; n * k];
        model.class_log_joint_batch(&xs, t, &mut batched);
        for i in 0..n {
            let x = &xs[i * d..(i + 1) * d];
            let mut ell = vec![0.0; k];
            model.class_log_joint(x, t, &mut ell);
            assert_eq!(
                &batched[i * k..(i + 1) * k],
                &ell[..],
                "{name}, t = {t}, row {i}"
            );
            let max = ell.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = ell.iter().map(|l| (l - max).exp()).sum();
            let soft: Vec<f64> = ell.iter().map(|l| (l - max).exp() / z).collect();
            assert!((soft.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let psum: f32 = post[i * k..(i + 1) * k].iter().sum();
            assert!(
                (psum - 1.0).abs() < 1e-5,
                "{name}: posterior sums to {psum}"
            );
            for c in 0..k {
                let got = f64::from(post[i * k + c]);
                assert!(
                    (got - soft[c]).abs() < 2e-5,
                    "{name}, t={t}: posterior {got} vs {}",
                    soft[c]
                );
            }
            let mut score = vec![0.0; d];
            model.score(x, t, &mut score);
            for j in 0..d {
                let exact = (x[j] + delta * score[j]) / a;
                let got = f64::from(den[i * d + j]);
                assert!(
                    (got - exact).abs() < 2e-5 * (1.0 + exact.abs()),
                    "{name}, t={t}, row {i}, coord {j}: batched D {got} vs exact {exact}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- Gaussian mixtures

fn gmm(dim: usize, comps: Vec<(f64, Vec<f64>, Covariance)>) -> GaussianMixture {
    GaussianMixture::new(
        dim,
        comps
            .into_iter()
            .map(|(weight, mean, cov)| ComponentSpec {
                weight,
                mean,
                cov,
                label: String::new(),
            })
            .collect(),
    )
    .unwrap()
}

fn random_spd(d: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    let g = normals(&mut r, d * d);
    (0..d)
        .map(|i| {
            (0..d)
                .map(|j| {
                    (0..d).map(|l| g[i * d + l] * g[j * d + l]).sum::<f64>() / d as f64
                        + if i == j { 0.2 } else { 0.0 }
                })
                .collect()
        })
        .collect()
}

fn gaussian_cases() -> Vec<(&'static str, GaussianMixture)> {
    let d = 6;
    let mut r = rng(3);
    let mu = |r: &mut Xoshiro256PlusPlus| normals(r, d);
    vec![
        (
            "isotropic fill",
            gmm(
                d,
                vec![
                    (0.5, vec![1.0; d], Covariance::Isotropic(1.0)),
                    (0.5, vec![-1.0; d], Covariance::Isotropic(1.0)),
                ],
            ),
        ),
        (
            "isotropic variance 1 vs 2, uniform means",
            gmm(
                d,
                vec![
                    (0.3, vec![0.0; d], Covariance::Isotropic(1.0)),
                    (0.7, vec![0.5; d], Covariance::Isotropic(2.0)),
                ],
            ),
        ),
        (
            "isotropic K=3 unequal",
            gmm(
                d,
                vec![
                    (0.2, mu(&mut r), Covariance::Isotropic(0.5)),
                    (0.3, mu(&mut r), Covariance::Isotropic(2.0)),
                    (0.5, vec![0.0; d], Covariance::Isotropic(0.0)),
                ],
            ),
        ),
        (
            "diagonal",
            gmm(
                d,
                vec![
                    (
                        0.7,
                        mu(&mut r),
                        Covariance::Diagonal(vec![0.1, 1.0, 2.0, 0.0, 3.0, 0.5]),
                    ),
                    (0.3, mu(&mut r), Covariance::Isotropic(1.0)),
                ],
            ),
        ),
        (
            "spiked",
            gmm(
                d,
                vec![
                    (
                        0.5,
                        vec![0.0; d],
                        Covariance::Spiked {
                            base: 1.0,
                            spike: 9.0,
                            axis: 2,
                        },
                    ),
                    (0.5, vec![0.0; d], Covariance::Isotropic(1.0)),
                ],
            ),
        ),
        (
            "full K=3",
            gmm(
                d,
                vec![
                    (0.25, mu(&mut r), Covariance::Full(random_spd(d, 17))),
                    (0.35, mu(&mut r), Covariance::Full(random_spd(d, 18))),
                    (
                        0.4,
                        mu(&mut r),
                        Covariance::Diagonal(vec![1.0, 0.5, 2.0, 1.0, 0.3, 0.0]),
                    ),
                ],
            ),
        ),
    ]
}

#[test]
fn gaussian_score_matches_finite_differences() {
    for (name, m) in gaussian_cases() {
        check_score_matches_finite_differences(&m, name);
    }
}

#[test]
fn gaussian_batch_matches_exact_formulas() {
    for (name, m) in gaussian_cases() {
        check_batch_against_exact(&m, name);
    }
}

#[test]
fn gaussian_tweedie_denoiser_matches_score() {
    for (name, m) in gaussian_cases() {
        let d = m.dim();
        for &t in &TIMES {
            let (a, delta) = ou(t);
            let xs = noisy_states(&m, t, 3, 2);
            for x in xs.chunks_exact(d) {
                let (mut den, mut score) = (vec![0.0; d], vec![0.0; d]);
                m.denoise_exact(x, t, &mut den);
                m.score(x, t, &mut score);
                for j in 0..d {
                    let tweedie = (a * den[j] - x[j]) / delta;
                    assert!(
                        (tweedie - score[j]).abs() < 1e-9 * (1.0 + score[j].abs()),
                        "{name}: {tweedie} vs {}",
                        score[j]
                    );
                }
            }
        }
    }
}

#[test]
fn gaussian_samples_have_the_right_moments() {
    // K = 3, unequal weights, full + diagonal covariances; 4 standard errors on each statistic.
    let (_, m) = gaussian_cases().pop().unwrap();
    let d = m.dim();
    let n = 30_000;
    let s = m.sample_x0(n, 99);
    for (k, comp) in m.components().iter().enumerate() {
        let w = m.weights()[k];
        let rows: Vec<&[f32]> = s
            .points
            .chunks_exact(d)
            .zip(&s.labels)
            .filter(|(_, l)| **l as usize == k)
            .map(|(r, _)| r)
            .collect();
        let nk = rows.len() as f64;
        let se_p = (w * (1.0 - w) / n as f64).sqrt();
        assert!(
            (nk / n as f64 - w).abs() < 4.0 * se_p,
            "class {k}: proportion {} vs {w}",
            nk / n as f64
        );
        // Covariance from the stored eigen-structure: C = U diag(λ) Uᵀ.
        let cov = |i: usize, j: usize| -> f64 {
            match comp.basis() {
                diffscope::model::gaussian_mixture::EigenBasis::AxisAligned => {
                    if i == j {
                        comp.eigenvalues()[i]
                    } else {
                        0.0
                    }
                }
                diffscope::model::gaussian_mixture::EigenBasis::Rotated(u) => (0..d)
                    .map(|l| u[(i, l)] * u[(j, l)] * comp.eigenvalues()[l])
                    .sum(),
            }
        };
        for j in 0..d {
            let mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / nk;
            let var = rows
                .iter()
                .map(|r| (f64::from(r[j]) - mean).powi(2))
                .sum::<f64>()
                / (nk - 1.0);
            let (mu, c) = (comp.mean()[j], cov(j, j));
            assert!(
                (mean - mu).abs() < 4.0 * (c / nk).sqrt() + 1e-6,
                "class {k} coord {j}: mean {mean} vs {mu}"
            );
            assert!(
                (var - c).abs() < 4.0 * c * (2.0 / (nk - 1.0)).sqrt() + 1e-6,
                "class {k} coord {j}: var {var} vs {c}"
            );
        }
        // One off-diagonal check through the variance of x_0 + x_1.
        let target = cov(0, 0) + cov(1, 1) + 2.0 * cov(0, 1);
        let sums: Vec<f64> = rows
            .iter()
            .map(|r| f64::from(r[0]) + f64::from(r[1]))
            .collect();
        let mean = sums.iter().sum::<f64>() / nk;
        let var = sums.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nk - 1.0);
        assert!(
            (var - target).abs() < 4.0 * target * (2.0 / (nk - 1.0)).sqrt(),
            "class {k}: var(x0+x1) {var} vs {target}"
        );
    }
}

#[test]
fn gaussian_rejects_bad_covariances() {
    let bad = |cov| {
        GaussianMixture::new(
            2,
            vec![ComponentSpec {
                weight: 1.0,
                mean: vec![0.0; 2],
                cov,
                label: String::new(),
            }],
        )
        .unwrap_err()
        .to_string()
    };
    assert!(bad(Covariance::Full(vec![vec![1.0, 0.5], vec![0.4, 1.0]])).contains("not symmetric"));
    assert!(
        bad(Covariance::Full(vec![vec![1.0, 2.0], vec![2.0, 1.0]]))
            .contains("not positive semidefinite")
    );
    assert!(bad(Covariance::Full(vec![vec![1.0, 0.0]])).contains("must be 2 x 2"));
    assert!(bad(Covariance::Isotropic(-1.0)).contains(">= 0"));
    // A zero eigenvalue is allowed.
    GaussianMixture::new(
        2,
        vec![ComponentSpec {
            weight: 1.0,
            mean: vec![0.0; 2],
            cov: Covariance::Full(vec![vec![1.0, 1.0], vec![1.0, 1.0]]),
            label: String::new(),
        }],
    )
    .unwrap();
}

// ---------------------------------------------------------------- Ising chains

use diffscope::model::ising::{Boundary, IsingComponentSpec, IsingMixture};

fn ising(dim: usize, boundary: Boundary, scale: f64, classes: &[(f64, f64)]) -> IsingMixture {
    IsingMixture::new(
        dim,
        1.0,
        boundary,
        scale,
        classes
            .iter()
            .map(|&(weight, beta)| IsingComponentSpec {
                weight,
                beta,
                label: String::new(),
            })
            .collect(),
    )
    .unwrap()
}

fn ising_cases() -> Vec<(&'static str, IsingMixture)> {
    vec![
        (
            "open",
            ising(8, Boundary::Open, 1.0, &[(0.5, 0.3), (0.5, 0.8)]),
        ),
        (
            "periodic",
            ising(8, Boundary::Periodic, 1.0, &[(0.4, 0.3), (0.6, 1.2)]),
        ),
        (
            "open scale 0.7",
            ising(7, Boundary::Open, 0.7, &[(0.3, 0.1), (0.7, 0.9)]),
        ),
        (
            "periodic scale 1.8",
            ising(5, Boundary::Periodic, 1.8, &[(0.5, 0.2), (0.5, 0.6)]),
        ),
    ]
}

/// (ln Z(h), ⟨σ⟩) by summing all 2^d configurations of exp(K H(σ) + h·σ) in log space. Field terms are
/// taken relative to Σ|h_i| (each h_i σ_i − |h_i| is exactly 0 or −2|h_i|) so huge fields lose no digits.
fn brute_force(k: f64, h: &[f64], boundary: Boundary) -> (f64, Vec<f64>) {
    let d = h.len();
    let configs: Vec<(f64, Vec<f64>)> = (0..1u32 << d)
        .map(|bits| {
            let s: Vec<f64> = (0..d)
                .map(|i| if bits >> i & 1 == 1 { 1.0 } else { -1.0 })
                .collect();
            let mut energy: f64 = (0..d.saturating_sub(1)).map(|i| s[i] * s[i + 1]).sum();
            if boundary == Boundary::Periodic {
                energy += s[d - 1] * s[0];
            }
            (
                k * energy + s.iter().zip(h).map(|(a, b)| a * b - b.abs()).sum::<f64>(),
                s,
            )
        })
        .collect();
    let max = configs
        .iter()
        .map(|c| c.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = configs.iter().map(|c| (c.0 - max).exp()).sum();
    let mut m = vec![0.0; d];
    for (e, s) in &configs {
        let p = (e - max).exp() / z;
        for i in 0..d {
            m[i] += p * s[i];
        }
    }
    (h.iter().map(|v| v.abs()).sum::<f64>() + max + z.ln(), m)
}

#[test]
fn ising_forward_backward_matches_enumeration() {
    let mut r = rng(8);
    for boundary in [Boundary::Open, Boundary::Periodic] {
        for d in [1, 2, 3, 7, 10] {
            // (J, β): ferro- and antiferromagnets (β ≥ 0, so the sign is in J), and K = 400, where
            // e^{−2K} underflows and the solver must fall back to its log-space pass.
            for (j, b) in [
                (1.0, 0.0),
                (1.0, 0.3),
                (1.0, 1.5),
                (-1.0, 0.8),
                (100.0, 4.0),
            ] {
                let model = IsingMixture::new(
                    d,
                    j,
                    boundary,
                    1.0,
                    vec![IsingComponentSpec {
                        weight: 1.0,
                        beta: b,
                        label: String::new(),
                    }],
                )
                .unwrap();
                let k = j * b;
                let (z0, _) = brute_force(k, &vec![0.0; d], boundary);
                assert!(
                    (model.log_partition_zero_field(0) - z0).abs() < 1e-12 * z0.abs().max(1.0),
                    "{boundary:?} d={d} K={k}: ln Z(0)"
                );
                for huge in [false, true] {
                    let h: Vec<f64> = normals(&mut r, d)
                        .into_iter()
                        .map(|v| {
                            if huge && v.abs() > 0.3 {
                                v.signum() * 1e6 * (1.0 + v.abs())
                            } else {
                                1.5 * v
                            }
                        })
                        .collect();
                    let (lz, m) = brute_force(k, &h, boundary);
                    let mut got_m = vec![0.0; d];
                    let got = model.magnetisations(0, &h, &mut got_m);
                    assert!(got.is_finite() && got_m.iter().all(|v| v.is_finite()));
                    // Both sides are sums/log-sum-exps of O(1e7)-sized terms when huge: relative 1e-12.
                    assert!(
                        (got - lz).abs() < 1e-12 * lz.abs().max(1.0),
                        "{boundary:?} d={d} K={k}: ln Z {got} vs {lz}"
                    );
                    assert!((model.log_partition(0, &h) - got).abs() == 0.0);
                    for i in 0..d {
                        assert!(
                            (got_m[i] - m[i]).abs() < 1e-10,
                            "{boundary:?} d={d} K={k} site {i}: m {} vs {}",
                            got_m[i],
                            m[i]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn ising_class_posterior_matches_enumeration() {
    // ℓ_k is defined up to a class-independent constant: compare ℓ_k − ℓ_0 and the posterior.
    let mut r = rng(21);
    for (name, model) in ising_cases() {
        let d = model.dim();
        for t in [0.4, 1e-5] {
            let (a, delta) = ou(t);
            let x = normals(&mut r, d);
            let h: Vec<f64> = x.iter().map(|v| model.scale() * a * v / delta).collect();
            let mut ell = vec![0.0; 2];
            model.class_log_joint(&x, t, &mut ell);
            let expected: Vec<f64> = (0..2)
                .map(|k| {
                    let kk = model.bonds()[k];
                    model.weights()[k].ln() + brute_force(kk, &h, model.boundary()).0
                        - brute_force(kk, &vec![0.0; d], model.boundary()).0
                })
                .collect();
            // At t = 1e-5 the fields are ~1e5 and each brute-force ln Z carries ~1e-11 of rounding.
            let gap = ell[1] - ell[0];
            let expected_gap = expected[1] - expected[0];
            assert!(
                (gap - expected_gap).abs() < 1e-9,
                "{name}, t = {t}: ℓ_1 − ℓ_0 = {gap} vs {expected_gap}"
            );
        }
    }
}

#[test]
fn ising_score_matches_finite_differences() {
    for (name, m) in ising_cases() {
        check_score_matches_finite_differences(&m, name);
    }
}

#[test]
fn ising_batch_matches_exact_formulas() {
    for (name, m) in ising_cases() {
        check_batch_against_exact(&m, name);
    }
}

#[test]
fn ising_huge_fields_stay_finite() {
    let m = ising(50, Boundary::Periodic, 1.0, &[(0.5, 0.3), (0.5, 0.8)]);
    let x: Vec<f32> = (0..50)
        .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    let mut out = vec![0.0_f32; 50];
    let mut post = vec![0.0_f32; 2];
    m.denoise(&x, 1e-7, &mut out, Some(&mut post)).unwrap();
    assert!(
        out.iter().zip(&x).all(|(o, xi)| (o - xi).abs() < 1e-5),
        "D must return the spins at tiny t"
    );
    assert!(post.iter().all(|p| p.is_finite()));
}

/// Mean over samples of the per-sample site average of σ_i σ_{i+r}, with its standard error from the
/// spread of the per-sample averages (sites of one chain are correlated, samples are independent).
fn correlation(points: &[f32], d: usize, r: usize, periodic: bool, scale: f64) -> (f64, f64) {
    let pairs = if periodic { d } else { d - r };
    let per_sample: Vec<f64> = points
        .chunks_exact(d)
        .map(|s| {
            (0..pairs)
                .map(|i| f64::from(s[i]) * f64::from(s[(i + r) % d]))
                .sum::<f64>()
                / (pairs as f64 * scale * scale)
        })
        .collect();
    let n = per_sample.len() as f64;
    let mean = per_sample.iter().sum::<f64>() / n;
    let var = per_sample.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn ising_samples_have_exact_correlations() {
    let n = 20_000;
    // Open chain: ⟨σ_i σ_{i+1}⟩ = tanh K; spins are exactly ±c.
    let open = ising(30, Boundary::Open, 1.3, &[(0.5, 0.4), (0.5, 1.0)]);
    for k in 0..2 {
        let pts = open.sample_class_x0(k, n, 3);
        assert!(pts.iter().all(|&v| (v.abs() - 1.3).abs() < 1e-6));
        let (c, se) = correlation(&pts, 30, 1, false, 1.3);
        let u = open.bonds()[k].tanh();
        assert!(
            (c - u).abs() < 4.0 * se,
            "open class {k}: {c} vs {u} (se {se})"
        );
    }
    // Periodic chain, short enough that u^d matters: (u^r + u^{d−r}) / (1 + u^d).
    let d = 6;
    let periodic = ising(d, Boundary::Periodic, 1.0, &[(0.3, 0.8), (0.7, 0.5)]);
    let s = periodic.sample_x0(n, 4);
    for k in 0..2 {
        let rows: Vec<f32> = s
            .points
            .chunks_exact(d)
            .zip(&s.labels)
            .filter(|(_, l)| **l as usize == k)
            .flat_map(|(r, _)| r.to_vec())
            .collect();
        let nk = rows.len() as f64 / d as f64;
        let w = periodic.weights()[k];
        assert!(
            (nk / n as f64 - w).abs() < 4.0 * (w * (1.0 - w) / n as f64).sqrt(),
            "class {k} proportion"
        );
        let u = periodic.bonds()[k].tanh();
        for r in 1..=3 {
            let (c, se) = correlation(&rows, d, r, true, 1.0);
            let exact = (u.powi(r as i32) + u.powi((d - r) as i32)) / (1.0 + u.powi(d as i32));
            assert!(
                (c - exact).abs() < 4.0 * se,
                "periodic class {k}, r = {r}: {c} vs {exact} (se {se})"
            );
        }
    }
}

/// ∫ P_t = 1 in d = 2 by the midpoint rule on [−L, L]² (step 0.04; the integrand is smooth and its
/// tails beyond L = 14 are below e^{−40}, so the rule is accurate far beyond the 1e-6 asserted). This
/// checks the constant terms of `log_density` that finite differences cannot see.
fn check_normalised(model: &dyn ExactModel, name: &str) {
    let (l, step) = (14.0, 0.04);
    let n = (2.0 * l / step) as usize;
    for &t in &[0.2, 1.0] {
        let mut total = 0.0;
        for i in 0..n {
            for j in 0..n {
                let x = [-l + (i as f64 + 0.5) * step, -l + (j as f64 + 0.5) * step];
                total += model.log_density(&x, t).exp();
            }
        }
        total *= step * step;
        assert!(
            (total - 1.0).abs() < 1e-6,
            "{name}, t = {t}: ∫ P_t = {total}"
        );
    }
}

#[test]
fn log_densities_are_normalised() {
    check_normalised(
        &ising(2, Boundary::Periodic, 1.5, &[(0.3, 0.2), (0.7, 1.1)]),
        "ising periodic c=1.5",
    );
    check_normalised(
        &ising(2, Boundary::Open, 0.6, &[(0.5, 0.5), (0.5, 0.0)]),
        "ising open c=0.6",
    );
    check_normalised(
        &gmm(
            2,
            vec![
                (
                    0.2,
                    vec![1.0, -2.0],
                    Covariance::Full(vec![vec![2.0, 0.8], vec![0.8, 1.0]]),
                ),
                (
                    0.5,
                    vec![0.0, 1.0],
                    Covariance::Spiked {
                        base: 0.5,
                        spike: 3.0,
                        axis: 1,
                    },
                ),
                (0.3, vec![-1.0, 0.0], Covariance::Isotropic(0.0)),
            ],
        ),
        "gaussian K=3",
    );
}
