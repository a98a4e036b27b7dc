//! One-dimensional exact curves of two-class speciation (`docs/science/speciation.md` §2.2–§2.4): Gauss–Hermite
//! quadrature, the universal cloning curve φ(D) for Gaussian ΔΦ (any weights), the spiked-covariance
//! curve φ(g), and their constants D* and g*, all computed here (never hard-coded). No models, no sampling.

use nalgebra::{DMatrix, SymmetricEigen};

/// Nodes used for every quadrature in this module (the documented reference uses 200).
pub const QUADRATURE_NODES: usize = 200;

/// Gauss–Hermite rule for the standard normal: E_z[f(z)] ≈ Σ_i weights_i f(nodes_i), z ~ N(0, 1).
#[derive(Clone, Debug)]
pub struct GaussHermite {
    pub nodes: Vec<f64>,
    /// Sum to 1.
    pub weights: Vec<f64>,
}

impl GaussHermite {
    /// The n-node rule by Golub–Welsch: nodes are the eigenvalues of the Jacobi matrix of the
    /// probabilists' Hermite polynomials (off-diagonal sqrt(i)), weights the squared first eigenvector
    /// components.
    pub fn new(n: usize) -> Self {
        let n = n.max(1);
        let jacobi = DMatrix::from_fn(n, n, |i, j| {
            if i + 1 == j || j + 1 == i {
                (i.max(j) as f64).sqrt()
            } else {
                0.0
            }
        });
        let eigen = SymmetricEigen::new(jacobi);
        let mut pairs: Vec<(f64, f64)> = (0..n)
            .map(|k| (eigen.eigenvalues[k], eigen.eigenvectors[(0, k)].powi(2)))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        GaussHermite {
            nodes: pairs.iter().map(|p| p.0).collect(),
            weights: pairs.iter().map(|p| p.1 / total).collect(),
        }
    }

    /// E_z[f(z)] for z ~ N(0, 1).
    pub fn expect(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&z, &w)| w * f(z))
            .sum()
    }
}

/// The shared 200-node rule, built once.
pub fn gauss_hermite() -> &'static GaussHermite {
    static RULE: std::sync::OnceLock<GaussHermite> = std::sync::OnceLock::new();
    RULE.get_or_init(|| GaussHermite::new(QUADRATURE_NODES))
}

/// The logistic function, stable for large |y|.
pub fn sigmoid(y: f64) -> f64 {
    if y >= 0.0 {
        1.0 / (1.0 + (-y).exp())
    } else {
        let e = y.exp();
        e / (1.0 + e)
    }
}

/// Universal curve (U): φ(D) = ½[1 + E tanh²(D/2 + sqrt(D/2) z)] for two equal-weight classes whose
/// log-likelihood ratio is N(±D, 2D).
pub fn universal_phi(d: f64) -> f64 {
    let d = d.max(0.0);
    let half = 0.5 * d;
    let spread = half.sqrt();
    0.5 * (1.0 + gauss_hermite().expect(|z| (half + spread * z).tanh().powi(2)))
}

/// φ = E Σ_k p(k|x_t)² for two classes with weights (w, 1 − w) whose log-likelihood ratio ΔΦ is
/// N(+D, 2D) under the first class and N(−D, 2D) under the second (§2.3, arbitrary weights).
pub fn weighted_gaussian_phi(d: f64, first_weight: f64) -> f64 {
    let d = d.max(0.0);
    let w = first_weight;
    let prior_log_odds = (w / (1.0 - w)).ln();
    let spread = (2.0 * d).sqrt();
    let rule = gauss_hermite();
    // By the tower property E Σ p_k² = Σ_k w_k E_k[p_k].
    let keep_first = rule.expect(|z| sigmoid(d + spread * z + prior_log_odds));
    let keep_second = rule.expect(|z| 1.0 - sigmoid(-d + spread * z + prior_log_odds));
    w * keep_first + (1.0 - w) * keep_second
}

/// E_z[f(z)], z ~ N(0, 1), by composite Simpson on [−12, 12] with step 1e-3: for integrands with a
/// sharp step (the spiked curve at large g), where 200 Gauss–Hermite nodes are off in the third digit.
pub fn fine_normal_expect(f: impl Fn(f64) -> f64) -> f64 {
    const HALF_WIDTH: f64 = 12.0;
    const INTERVALS: usize = 24_000;
    let h = 2.0 * HALF_WIDTH / INTERVALS as f64;
    let density = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let total: f64 = (0..=INTERVALS)
        .map(|i| {
            let z = -HALF_WIDTH + h * i as f64;
            let simpson = if i == 0 || i == INTERVALS {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            simpson * density(z) * f(z)
        })
        .sum();
    total * h / 3.0
}

/// Exact two-class cloning curve for a rank-one spike (§2.4 ii): y | 1 ~ N(0, 1 + g), y | 2 ~ N(0, 1),
/// ΔΦ = (g/(1+g)) y²/2 − ½ ln(1+g), equal weights. Uses `fine_normal_expect`: the documented 200-node
/// Gauss–Hermite values drift from g ≈ 32 on (its g* = 25.6; the converged value is 25.75).
pub fn spiked_phi(g: f64) -> f64 {
    let g = g.max(0.0);
    let curvature = g / (1.0 + g) / 2.0;
    let offset = 0.5 * g.ln_1p();
    let log_ratio = |y: f64| curvature * y * y - offset;
    let wide = (1.0 + g).sqrt();
    let keep_spiked = fine_normal_expect(|z| sigmoid(log_ratio(wide * z)));
    let keep_plain = fine_normal_expect(|z| 1.0 - sigmoid(log_ratio(z)));
    0.5 * (keep_spiked + keep_plain)
}

/// The root of `f(x) = target` for an increasing `f` on [lo, hi] (bisection to full precision);
/// `None` when the target is not bracketed.
pub fn solve_increasing(f: impl Fn(f64) -> f64, target: f64, lo: f64, hi: f64) -> Option<f64> {
    let (mut lo, mut hi) = (lo, hi);
    if !(f(lo) <= target && f(hi) >= target) {
        return None;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi.abs().max(1.0) {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}

/// The D at which the universal curve crosses a level, by bisection (φ(D) is increasing).
pub fn universal_d_at(level: f64) -> Option<f64> {
    solve_increasing(universal_phi, level, 0.0, 1e3)
}

/// Constants of the two-class theory, computed from the curves above.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UniversalConstants {
    /// φ at the balance point D = 2 (spec: 0.7752).
    pub phi_at_balance: f64,
    /// D where φ = 0.75 (spec: 1.7017).
    pub d_star: f64,
    /// g where the spiked curve crosses 0.75 (spec: 25.6).
    pub g_star: f64,
}

/// The constants, computed once.
pub fn constants() -> UniversalConstants {
    static CONSTANTS: std::sync::OnceLock<UniversalConstants> = std::sync::OnceLock::new();
    *CONSTANTS.get_or_init(|| UniversalConstants {
        phi_at_balance: universal_phi(2.0),
        d_star: universal_d_at(0.75).unwrap_or(f64::NAN),
        g_star: solve_increasing(spiked_phi, 0.75, 0.0, 1e6).unwrap_or(f64::NAN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_hermite_integrates_normal_moments_exactly() {
        // An n-node rule is exact for polynomials of degree < 2n; E z^{2k} = (2k − 1)!!.
        let rule = GaussHermite::new(20);
        assert!((rule.expect(|_| 1.0) - 1.0).abs() < 1e-13);
        assert!(rule.expect(|z| z).abs() < 1e-12);
        assert!((rule.expect(|z| z.powi(2)) - 1.0).abs() < 1e-12);
        assert!((rule.expect(|z| z.powi(8)) - 105.0).abs() < 1e-9);
        assert!((rule.expect(|z| z.powi(20)) - 654_729_075.0).abs() < 1e-3);
    }

    #[test]
    fn equal_weight_curve_matches_universal_form() {
        // Two different expressions of the same expectation (Nishimori identity). Their quadrature
        // errors differ: ~1e-12 up to D = 5, ~1e-7 at D = 20, where the integrands vary by ~6 per unit z.
        for (d, tol) in [
            (0.1, 1e-10),
            (0.5, 1e-10),
            (1.0, 1e-10),
            (2.0, 1e-10),
            (5.0, 1e-10),
            (20.0, 1e-6),
        ] {
            let a = universal_phi(d);
            let b = weighted_gaussian_phi(d, 0.5);
            assert!((a - b).abs() < tol, "D={d}: {a} vs {b}");
        }
    }

    #[test]
    fn weighted_curve_runs_from_prior_to_one() {
        let w = 0.8;
        let prior = w * w + (1.0 - w) * (1.0 - w);
        assert!((weighted_gaussian_phi(0.0, w) - prior).abs() < 1e-12);
        assert!(weighted_gaussian_phi(200.0, w) > 0.999);
    }
}
