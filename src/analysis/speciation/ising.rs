//! Leading-order theory of two Ising-chain classes (`docs/science/speciation.md` §2.5): spin correlations,
//! ‖C₁ − C₂‖_F² (exact finite d) and the per-site constant S. The exact finite-d balance time comes from
//! the transfer-matrix Monte Carlo of ΔΦ in `free_entropy` (the model's own ln Z_k(h)).

use super::gaussian::{LeadingOrder, PairSeparation, leading_order};

/// Spin correlation at distance r of a chain of d spins with u = tanh(βJ).
pub fn correlation(u: f64, r: usize, d: usize, periodic: bool) -> f64 {
    if periodic {
        (u.powi(r as i32) + u.powi((d - r) as i32)) / (1.0 + u.powi(d as i32))
    } else {
        u.powi(r as i32)
    }
}

/// ‖C₁ − C₂‖_F² of two chains: open 2 Σ_r (d − r)(u₁^r − u₂^r)², periodic d Σ_r (c₁(r) − c₂(r))².
pub fn correlation_gap_frobenius_sq(u1: f64, u2: f64, d: usize, periodic: bool) -> f64 {
    (1..d)
        .map(|r| {
            let gap = correlation(u1, r, d, periodic) - correlation(u2, r, d, periodic);
            let multiplicity = if periodic { d } else { 2 * (d - r) };
            multiplicity as f64 * gap * gap
        })
        .sum()
}

/// Per-site constant S with ‖C₁ − C₂‖_F² ≈ 2 d S (open chain, large d).
pub fn per_site_gap(u1: f64, u2: f64) -> f64 {
    u1 * u1 / (1.0 - u1 * u1) + u2 * u2 / (1.0 - u2 * u2) - 2.0 * u1 * u2 / (1.0 - u1 * u2)
}

/// Leading-order times ¼ ln(F²/8) (balance) and ¼ ln(F²/(4D*)) (midpoint) with the exact finite-d
/// F² = ‖C₁ − C₂‖_F² of spins scaled to ±`scale`.
pub fn leading_order_times(u1: f64, u2: f64, d: usize, periodic: bool, scale: f64) -> LeadingOrder {
    leading_order(PairSeparation {
        mean_gap_sq: 0.0,
        cov_gap_frobenius_sq: scale.powi(4) * correlation_gap_frobenius_sq(u1, u2, d, periodic),
    })
}

/// The same times with the large-d form F² ≈ 2 d S: ¼ ln(dS/4) and ¼ ln(dS/(2D*)) (§2.5).
pub fn large_d_leading_order_times(u1: f64, u2: f64, d: usize, scale: f64) -> LeadingOrder {
    leading_order(PairSeparation {
        mean_gap_sq: 0.0,
        cov_gap_frobenius_sq: scale.powi(4) * 2.0 * d as f64 * per_site_gap(u1, u2),
    })
}
