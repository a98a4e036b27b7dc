//! Exact finite-d free-entropy statistics for Gaussian classes (`docs/science/speciation.md` §2.1–§2.4): mean M
//! and std S of ΔΦ_kl under class k for any two Gaussian classes (means and covariances), balance times by
//! bisection, the BBDM time ½ ln Λ and the leading-order laws. Pure math: no models, no sampling.

use super::TIME_SEARCH;
use super::universal::constants;
use crate::base::ou::{noise_var, signal};
use crate::model::ExactModel;
use crate::model::gaussian_mixture::{EigenBasis, GaussianMixture};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Covariance of one Gaussian class: diagonal (the common case, O(d)) or full.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassCovariance {
    /// `[d]` variances along the coordinate axes.
    Diagonal(Vec<f64>),
    /// `[d, d]` symmetric positive semi-definite.
    Full(DMatrix<f64>),
}

impl ClassCovariance {
    fn to_full(&self) -> DMatrix<f64> {
        match self {
            ClassCovariance::Diagonal(v) => DMatrix::from_diagonal(&DVector::from_column_slice(v)),
            ClassCovariance::Full(m) => m.clone(),
        }
    }

    /// Σ(t) = a_t² C + Δ_t I as a full matrix.
    fn noised_full(&self, t: f64) -> DMatrix<f64> {
        let (a2, delta) = (signal(t).powi(2), noise_var(t));
        let mut m = self.to_full() * a2;
        for i in 0..m.nrows() {
            m[(i, i)] += delta;
        }
        m
    }
}

/// One Gaussian class of the data law: weight, mean μ and covariance C.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianClass {
    pub weight: f64,
    /// `[d]`
    pub mean: Vec<f64>,
    pub cov: ClassCovariance,
}

/// Mean and standard deviation of one free-entropy difference at one time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FreeEntropyMoments {
    /// M = E_k[ΔΦ_kl] = KL(P_t^k ‖ P_t^l).
    pub mean: f64,
    /// S = Std_k[ΔΦ_kl].
    pub std: f64,
}

/// Exact M and S of ΔΦ_kl = ln P_t(x|k) − ln P_t(x|l) for x_t from class k. With λ_j the generalised
/// eigenvalues of Σ_l(t)⁻¹Σ_k(t) and δ = a_t(μ_k − μ_l):
/// M = ½Σ(λ_j − 1 − ln λ_j) + ½ δᵀΣ_l⁻¹δ,  S² = ½Σ(λ_j − 1)² + δᵀΣ_l⁻¹Σ_kΣ_l⁻¹δ
/// (ΔΦ is a quadratic form in a standard normal vector; §2.3 and §2.4 are its special cases).
pub fn pair_moments(k: &GaussianClass, l: &GaussianClass, t: f64) -> FreeEntropyMoments {
    let (a2, delta) = (signal(t).powi(2), noise_var(t));
    let a = a2.sqrt();
    match (&k.cov, &l.cov) {
        (ClassCovariance::Diagonal(ck), ClassCovariance::Diagonal(cl)) => {
            let (mut mean, mut var) = (0.0, 0.0);
            for j in 0..k.mean.len() {
                let sk = a2 * ck[j] + delta;
                let sl = a2 * cl[j] + delta;
                let lambda = sk / sl;
                let shift = a * (k.mean[j] - l.mean[j]);
                mean += 0.5 * (lambda - 1.0 - lambda.ln()) + 0.5 * shift * shift / sl;
                var += 0.5 * (lambda - 1.0).powi(2) + shift * shift * sk / (sl * sl);
            }
            FreeEntropyMoments {
                mean,
                std: var.max(0.0).sqrt(),
            }
        }
        _ => full_pair_moments(k, l, t),
    }
}

fn full_pair_moments(k: &GaussianClass, l: &GaussianClass, t: f64) -> FreeEntropyMoments {
    let a2 = signal(t).powi(2);
    let sigma_k = k.cov.noised_full(t);
    let sigma_l = l.cov.noised_full(t);
    // Σ_l(t) ⪰ Δ_t I is positive definite for t > 0.
    let Some(chol) = sigma_l.clone().cholesky() else {
        return FreeEntropyMoments {
            mean: f64::NAN,
            std: f64::NAN,
        };
    };
    let l_inv = chol
        .l()
        .try_inverse()
        .unwrap_or_else(|| DMatrix::zeros(0, 0));
    let whitened = &l_inv * &sigma_k * l_inv.transpose();
    let lambdas = SymmetricEigen::new(whitened).eigenvalues;
    let shift = DVector::from_iterator(
        k.mean.len(),
        k.mean.iter().zip(&l.mean).map(|(a, b)| a2.sqrt() * (a - b)),
    );
    let v = chol.solve(&shift);
    let mut mean = 0.5 * shift.dot(&v);
    let mut var = v.dot(&(&sigma_k * &v));
    for &lambda in lambdas.iter() {
        mean += 0.5 * (lambda - 1.0 - lambda.ln());
        var += 0.5 * (lambda - 1.0).powi(2);
    }
    FreeEntropyMoments {
        mean,
        std: var.max(0.0).sqrt(),
    }
}

/// Bisection steps after the scan: the bracket (≤ 40 % of t) shrinks below 1e-6·t.
const BISECTIONS: usize = 20;

/// Solves g(t) = 0 for a function that is positive at small t and negative at large t, by a scan of
/// `TIME_SEARCH` then bisection of the first sign change. `None` when there is none in the range.
pub fn first_sign_change(g: impl Fn(f64) -> f64) -> Option<f64> {
    let times = scan_times();
    let mut previous = (times[0], g(times[0]));
    if previous.1 <= 0.0 {
        return None;
    }
    for &t in &times[1..] {
        if g(t) <= 0.0 {
            return Some(bisect_down(previous.0, t, &g));
        }
        previous.0 = t;
    }
    None
}

/// The log-spaced scan times of `TIME_SEARCH`.
pub fn scan_times() -> Vec<f64> {
    let (lo, hi, steps) = TIME_SEARCH;
    (0..=steps)
        .map(|i| lo * (hi / lo).powf(i as f64 / steps as f64))
        .collect()
}

/// Bisection of g on [a, b] with g(a) > 0 ≥ g(b).
pub fn bisect_down(mut a: f64, mut b: f64, g: impl Fn(f64) -> f64) -> f64 {
    for _ in 0..BISECTIONS {
        let mid = 0.5 * (a + b);
        if g(mid) > 0.0 {
            a = mid;
        } else {
            b = mid;
        }
    }
    0.5 * (a + b)
}

/// Exact balance time M_kl(t) = S_kl(t) of two Gaussian classes.
pub fn pair_balance_time(k: &GaussianClass, l: &GaussianClass) -> Option<f64> {
    first_sign_change(|t| {
        let m = pair_moments(k, l, t);
        m.mean - m.std
    })
}

/// Whether ΔΦ of the pair is exactly Gaussian N(D, 2D) at every t: equal isotropic covariances (all
/// variances equal in both classes). Then the two-class φ(t) is the (weighted) universal curve.
pub fn exactly_gaussian_pair(k: &GaussianClass, l: &GaussianClass) -> bool {
    match (&k.cov, &l.cov) {
        (ClassCovariance::Diagonal(ck), ClassCovariance::Diagonal(cl)) => {
            let first = ck.first().copied().unwrap_or(0.0);
            ck.iter().chain(cl).all(|&v| v == first)
        }
        _ => false,
    }
}

/// The mixture covariance Σ_k w_k (C_k + μ_k μ_kᵀ) − μ̄ μ̄ᵀ, applied to a vector (matrix-free).
fn mixture_covariance_apply(classes: &[GaussianClass], v: &[f64], out: &mut [f64]) {
    let d = v.len();
    out.iter_mut().for_each(|o| *o = 0.0);
    let mut mean_bar = vec![0.0; d];
    for class in classes {
        let w = class.weight;
        match &class.cov {
            ClassCovariance::Diagonal(c) => {
                for j in 0..d {
                    out[j] += w * c[j] * v[j];
                }
            }
            ClassCovariance::Full(c) => {
                for (i, o) in out.iter_mut().enumerate() {
                    let row: f64 = (0..d).map(|j| c[(i, j)] * v[j]).sum();
                    *o += w * row;
                }
            }
        }
        let proj: f64 = class.mean.iter().zip(v).map(|(m, x)| m * x).sum();
        for j in 0..d {
            out[j] += w * class.mean[j] * proj;
            mean_bar[j] += w * class.mean[j];
        }
    }
    let proj: f64 = mean_bar.iter().zip(v).map(|(m, x)| m * x).sum();
    for j in 0..d {
        out[j] -= mean_bar[j] * proj;
    }
}

/// Largest eigenvalue Λ of the data covariance of a Gaussian mixture, by power iteration (matrix-free,
/// so large d costs O(K d) per iteration for diagonal classes). The Rayleigh quotient converges even
/// when the top eigenvalue is degenerate.
pub fn top_data_eigenvalue(classes: &[GaussianClass]) -> f64 {
    let d = classes.first().map_or(0, |c| c.mean.len());
    if d == 0 {
        return 0.0;
    }
    // A fixed, non-symmetric start so no eigen-direction is missed by symmetry.
    let mut v: Vec<f64> = (0..d)
        .map(|j| 1.0 + 0.37 * ((j * 7919) % 13) as f64)
        .collect();
    let mut w = vec![0.0; d];
    let mut lambda = 0.0;
    for _ in 0..5000 {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        mixture_covariance_apply(classes, &v, &mut w);
        let next: f64 = v.iter().zip(&w).map(|(a, b)| a * b).sum();
        std::mem::swap(&mut v, &mut w);
        if (next - lambda).abs() <= 1e-13 * next.abs() {
            return next;
        }
        lambda = next;
    }
    lambda
}

/// Biroli–Mézard time t_S = ½ ln Λ; defined when the class means differ (first-moment separation)
/// and Λ > 1.
pub fn bbdm_time(classes: &[GaussianClass]) -> Option<f64> {
    let means_differ = classes.windows(2).any(|p| p[0].mean != p[1].mean);
    let lambda = top_data_eigenvalue(classes);
    (means_differ && lambda > 1.0).then(|| 0.5 * lambda.ln())
}

/// Leading-order (small a_t) ingredients of a pair: |δμ|² and ‖ΔC‖_F².
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairSeparation {
    pub mean_gap_sq: f64,
    pub cov_gap_frobenius_sq: f64,
}

pub fn pair_separation(k: &GaussianClass, l: &GaussianClass) -> PairSeparation {
    let mean_gap_sq = k
        .mean
        .iter()
        .zip(&l.mean)
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    let cov_gap_frobenius_sq = match (&k.cov, &l.cov) {
        (ClassCovariance::Diagonal(a), ClassCovariance::Diagonal(b)) => {
            a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
        }
        _ => (k.cov.to_full() - l.cov.to_full()).norm_squared(),
    };
    PairSeparation {
        mean_gap_sq,
        cov_gap_frobenius_sq,
    }
}

/// Leading-order times of a pair: D_LO(t) = ½ a_t² |δμ|² + ¼ a_t⁴ ‖ΔC‖_F² (§2.3–§2.5), balance at
/// D_LO = 2 and midpoint at D_LO = D*. Covers the ½ ln d (means) and ¼ ln d (covariances) laws.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct LeadingOrder {
    pub t_balance: Option<f64>,
    pub t_mid: Option<f64>,
}

pub fn leading_order(sep: PairSeparation) -> LeadingOrder {
    // Solve ¼ F² y² + ½ m² y = D for y = a_t² ∈ (0, 1].
    let solve = |target: f64| -> Option<f64> {
        let (q, p) = (0.25 * sep.cov_gap_frobenius_sq, 0.5 * sep.mean_gap_sq);
        let y = if q > 0.0 {
            (-p + (p * p + 4.0 * q * target).sqrt()) / (2.0 * q)
        } else if p > 0.0 {
            target / p
        } else {
            return None;
        };
        (y > 0.0 && y < 1.0).then(|| -0.5 * y.ln())
    };
    LeadingOrder {
        t_balance: solve(2.0),
        t_mid: solve(constants().d_star),
    }
}

/// Exact two-class φ(t) = E Σ p² restricted to the pair when ΔΦ is exactly Gaussian (equal isotropic
/// covariances): the weighted universal curve at D = M_kl(t). `None` for other pairs.
pub fn gaussian_pair_phi(k: &GaussianClass, l: &GaussianClass, t: f64) -> Option<f64> {
    exactly_gaussian_pair(k, l).then(|| {
        let d = pair_moments(k, l, t).mean;
        super::universal::weighted_gaussian_phi(d, k.weight / (k.weight + l.weight))
    })
}

/// The classes of a Gaussian-mixture model in the form the theory uses.
pub fn classes_of(mixture: &GaussianMixture) -> Vec<GaussianClass> {
    mixture
        .components()
        .iter()
        .zip(mixture.weights())
        .map(|(c, &weight)| GaussianClass {
            weight,
            mean: c.mean().to_vec(),
            cov: match c.basis() {
                EigenBasis::AxisAligned => ClassCovariance::Diagonal(c.eigenvalues().to_vec()),
                EigenBasis::Rotated(u) => ClassCovariance::Full(
                    u * DMatrix::from_diagonal(&DVector::from_column_slice(c.eigenvalues()))
                        * u.transpose(),
                ),
            },
        })
        .collect()
}
