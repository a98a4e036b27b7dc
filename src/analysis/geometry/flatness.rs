//! Flatness (docs/science/metrics.md §2.2): spectral flatness F_spec of the PCA spectrum with its ε floor and the
//! rank-deficiency flag, and the local-PCA curvature proxy K_loc (per point and averaged).

use super::PointCloud;
use super::knn::Neighbours;
use nalgebra::DMatrix;
use rayon::prelude::*;
use serde::Serialize;

/// Rank of the clamped spectrum when more than half of it sits on the floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RankDeficiency {
    pub rank: usize,
    pub of: usize,
}

/// F_spec = geometric mean / arithmetic mean of λ̃_i = max(λ_i, ε λ₁).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SpectralFlatness {
    /// `None` when the cloud has no variance (λ₁ = 0).
    pub value: Option<f64>,
    /// Set when more than half the λ̃ are clamped: then `value` is the floor, not a measurement,
    /// and must be shown as "< floor (rank r of m)" and never used in a ratio.
    pub rank_deficient: Option<RankDeficiency>,
}

pub fn spectral_flatness(eigenvalues: &[f64], floor: f64) -> SpectralFlatness {
    let m = eigenvalues.len();
    let top = eigenvalues.first().copied().unwrap_or(0.0);
    if m == 0 || top <= 0.0 {
        return SpectralFlatness {
            value: None,
            rank_deficient: None,
        };
    }
    let clamp = floor * top;
    let clamped = eigenvalues.iter().filter(|&&v| v < clamp).count();
    let floored = eigenvalues.iter().map(|&v| v.max(clamp));
    let mean_log = floored.clone().map(f64::ln).sum::<f64>() / m as f64;
    let mean = floored.sum::<f64>() / m as f64;
    SpectralFlatness {
        value: Some(mean_log.exp() / mean),
        rank_deficient: (2 * clamped > m).then_some(RankDeficiency {
            rank: m - clamped,
            of: m,
        }),
    }
}

/// ρ_i = Σ_{j>d} μ_j / Σ_j μ_j of the local covariance of point i and its `k_local − 1` nearest
/// neighbours; `d` is the tangent dimension. `neighbours` must hold at least `k_local − 1` per point.
pub fn local_residuals(
    cloud: &PointCloud,
    neighbours: &Neighbours,
    k_local: usize,
    d: usize,
) -> Vec<f64> {
    let dim = cloud.dim();
    (0..cloud.n())
        .into_par_iter()
        .map(|i| {
            let members: Vec<&[f64]> = std::iter::once(cloud.row(i))
                .chain(
                    neighbours.row_indices(i)[..k_local - 1]
                        .iter()
                        .map(|&j| cloud.row(j as usize)),
                )
                .collect();
            let mut centre = vec![0.0; dim];
            for p in &members {
                centre.iter_mut().zip(*p).for_each(|(c, v)| *c += v);
            }
            centre.iter_mut().for_each(|c| *c /= k_local as f64);
            let centred: Vec<Vec<f64>> = members
                .iter()
                .map(|p| p.iter().zip(&centre).map(|(v, c)| v - c).collect())
                .collect();
            // The k×k Gram matrix has the same nonzero spectrum as the D×D local covariance.
            let gram = DMatrix::from_fn(k_local, k_local, |a, b| {
                centred[a]
                    .iter()
                    .zip(&centred[b])
                    .map(|(x, y)| x * y)
                    .sum::<f64>()
            });
            let mut mu: Vec<f64> = gram
                .symmetric_eigenvalues()
                .iter()
                .map(|v: &f64| v.max(0.0))
                .collect();
            mu.sort_unstable_by(|a, b| b.total_cmp(a));
            // fold from +0.0: an empty f64 `sum()` is −0.0, which would print as "-0.0000".
            let total = mu.iter().fold(0.0, |a, b| a + b);
            if total > 0.0 {
                mu.iter().skip(d).fold(0.0, |a, b| a + b) / total
            } else {
                0.0
            }
        })
        .collect()
}

/// The tangent dimension used by K_loc: round(TwoNN) clamped to [1, D−1] (1 when D = 1).
pub fn tangent_dimension(twonn: Option<f64>, dim: usize) -> usize {
    let upper = dim.saturating_sub(1).max(1);
    twonn
        .map(|t| t.round().clamp(1.0, upper as f64) as usize)
        .unwrap_or(1)
}
