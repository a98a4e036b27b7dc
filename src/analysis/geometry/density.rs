//! Density uniformity on the 2-D PCA plane (docs/science/metrics.md §2.3): occupancy-entropy evenness U_ent on the
//! anchored square box, and the resolution-free k-NN density evenness U_knn.

use super::plane::{PlaneIndex, SquareBox};

/// U_ent = −Σ p_c ln p_c / ln(G²) over the G×G cells of `square`; 0 when G = 1.
pub fn entropy_uniformity(points: &[[f64; 2]], square: &SquareBox, grid: usize) -> f64 {
    let mut counts = vec![0usize; grid * grid];
    for &p in points {
        let (cx, cy) = square.cell(p, grid);
        counts[cy * grid + cx] += 1;
    }
    let n = points.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum();
    let max_entropy = ((grid * grid) as f64).ln();
    if max_entropy > 0.0 {
        entropy / max_entropy
    } else {
        0.0
    }
}

/// U_knn = 1 / (1 + CV(ρ)) with ρ_i = k / (N π r_k(i)²) and CV = std/mean (population std).
/// Points with r_k = 0 (k duplicates) have no finite density and are left out; `None` when fewer
/// than two points remain.
pub fn knn_uniformity(index: &PlaneIndex, points: &[[f64; 2]], k: usize) -> Option<f64> {
    let n = points.len() as f64;
    let density: Vec<f64> = index
        .kth_neighbour_distances(points, k)
        .into_iter()
        .filter(|r| *r > 0.0 && r.is_finite())
        .map(|r| k as f64 / (n * std::f64::consts::PI * r * r))
        .collect();
    if density.len() < 2 {
        return None;
    }
    let count = density.len() as f64;
    let mean = density.iter().sum::<f64>() / count;
    let variance = density.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
    Some(1.0 / (1.0 + variance.sqrt() / mean))
}
