//! Intrinsic dimension estimators (docs/science/metrics.md §2.1): PCA90/PCA95 and the participation ratio from the
//! spectrum; TwoNN (Facco et al. 2017, as scikit-dimension) and Levina–Bickel MLE with
//! MacKay–Ghahramani averaging from exact neighbours. Points with r₁ = 0 are dropped and counted.

use super::knn::Neighbours;
use serde::Serialize;

/// Smallest k with Σ_{i≤k} λ_i / Σλ ≥ `fraction` (0 for a cloud without variance).
pub fn pca_count(eigenvalues: &[f64], fraction: f64) -> usize {
    let total: f64 = eigenvalues.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut running = 0.0;
    for (i, v) in eigenvalues.iter().enumerate() {
        running += v;
        if running / total >= fraction {
            return i + 1;
        }
    }
    eigenvalues.len()
}

/// (Σλ)² / Σλ²; `None` without variance.
pub fn participation_ratio(eigenvalues: &[f64]) -> Option<f64> {
    let sum: f64 = eigenvalues.iter().sum();
    let squares: f64 = eigenvalues.iter().map(|v| v * v).sum();
    (squares > 0.0).then(|| sum * sum / squares)
}

/// An estimate with the number of points it used and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NeighbourEstimate {
    /// `None` when fewer than 3 points are usable.
    pub dimension: Option<f64>,
    pub used: usize,
    /// Points with r₁ = 0 (an exact duplicate), left out.
    pub duplicates_dropped: usize,
}

/// TwoNN: μ_i = r₂/r₁ sorted ascending, F_j = j/N for j = 0, 1, … (scikit-dimension's empirical
/// CDF), the smallest ⌊(1−f)N⌋ kept, d = Σ x y / Σ x² with x = ln μ, y = −ln(1 − F).
pub fn twonn(neighbours: &Neighbours, discard: f64) -> NeighbourEstimate {
    let mut mu: Vec<f64> = (0..neighbours.n())
        .filter_map(|i| {
            let r = neighbours.row_distances(i);
            (r[0] > 0.0).then(|| r[1] / r[0])
        })
        .collect();
    let dropped = neighbours.n() - mu.len();
    mu.sort_unstable_by(f64::total_cmp);
    let n = mu.len();
    let kept = ((n as f64) * (1.0 - discard)).floor() as usize;
    let (mut xy, mut xx) = (0.0, 0.0);
    for (j, m) in mu.iter().take(kept).enumerate() {
        let x = m.ln();
        let y = -(1.0 - j as f64 / n as f64).ln();
        xy += x * y;
        xx += x * x;
    }
    NeighbourEstimate {
        dimension: (n >= 3 && xx > 0.0).then(|| xy / xx),
        used: n,
        duplicates_dropped: dropped,
    }
}

/// Levina–Bickel MLE with k neighbours: m̂_i⁻¹ = (1/(k−1)) Σ_{j<k} ln(T_k/T_j), d = 1 / mean m̂_i⁻¹.
/// `neighbours` must hold at least `k` per point.
pub fn mle(neighbours: &Neighbours, k: usize) -> NeighbourEstimate {
    debug_assert!(k >= 2 && k <= neighbours.k);
    let inverse: Vec<f64> = (0..neighbours.n())
        .filter_map(|i| {
            let r = neighbours.row_distances(i);
            (r[0] > 0.0).then(|| {
                let log_tk = r[k - 1].ln();
                r[..k - 1].iter().map(|t| log_tk - t.ln()).sum::<f64>() / (k - 1) as f64
            })
        })
        .collect();
    let dropped = neighbours.n() - inverse.len();
    let mean = inverse.iter().sum::<f64>() / inverse.len().max(1) as f64;
    NeighbourEstimate {
        dimension: (inverse.len() >= 3 && mean > 0.0).then(|| 1.0 / mean),
        used: inverse.len(),
        duplicates_dropped: dropped,
    }
}
