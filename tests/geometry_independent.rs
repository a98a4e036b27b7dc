//! Independent cross-checks on the §5 reference clouds (N = 2000):
//! · TwoNN and MLE against plain O(N²) f64 implementations written here from the formulas
//!   (the same estimator on the same points, so the only allowed difference is rounding; the documented
//!   0.1 is far looser than needed and the check uses it as stated);
//! · H_void against Vietoris–Rips H1 persistence of the same 2-D points, computed here by a Z/2
//!   column reduction on farthest-point landmarks, bars kept when longer than 0.10 × (2 · max
//!   distance to the centroid) (docs/science/metrics.md §2.4, β₁ cross-check).

use diffscope::analysis::geometry::reference_clouds::Reference;
use diffscope::analysis::geometry::{MetricParams, PointCloud, measure};

const N: usize = 2000;

/// Sorted distances from every point to all others, in f64.
fn sorted_neighbour_distances(cloud: &PointCloud, k: usize) -> Vec<Vec<f64>> {
    (0..cloud.n())
        .map(|i| {
            let mut d: Vec<f64> = (0..cloud.n())
                .filter(|&j| j != i)
                .map(|j| {
                    let (a, b) = (cloud.row(i), cloud.row(j));
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| (x - y).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            d.sort_by(|a, b| a.partial_cmp(b).unwrap());
            d.truncate(k);
            d
        })
        .collect()
}

/// Facco et al.: μ = r2/r1 (r1 > 0 only), sorted; F_j = j/N; keep ⌊0.9 N⌋; slope through 0.
fn naive_twonn(r: &[Vec<f64>]) -> f64 {
    let mut mu: Vec<f64> = r
        .iter()
        .filter(|d| d[0] > 0.0)
        .map(|d| d[1] / d[0])
        .collect();
    mu.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = mu.len() as f64;
    let keep = (n * 0.9).floor() as usize;
    let x: Vec<f64> = mu[..keep].iter().map(|m| m.ln()).collect();
    let y: Vec<f64> = (0..keep).map(|j| -(1.0 - j as f64 / n).ln()).collect();
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    let sxx: f64 = x.iter().map(|a| a * a).sum();
    sxy / sxx
}

/// Levina–Bickel with k = 20, MacKay–Ghahramani: average the inverse estimates, then invert.
fn naive_mle(r: &[Vec<f64>], k: usize) -> f64 {
    let inverses: Vec<f64> = r
        .iter()
        .filter(|d| d[0] > 0.0)
        .map(|d| (0..k - 1).map(|j| (d[k - 1] / d[j]).ln()).sum::<f64>() / (k - 1) as f64)
        .collect();
    inverses.len() as f64 / inverses.iter().sum::<f64>()
}

#[test]
fn twonn_and_mle_match_plain_implementations() {
    for cloud in Reference::ALL {
        let points = cloud.generate(N, 0);
        let report = measure(&points, &MetricParams::default()).unwrap();
        let r = sorted_neighbour_distances(&points, 20);
        let (twonn, mle) = (naive_twonn(&r), naive_mle(&r, 20));
        let fast_twonn = report.intrinsic_dim.twonn.unwrap();
        let fast_mle = report.intrinsic_dim.mle.unwrap();
        eprintln!(
            "{}: TwoNN {fast_twonn:.4} vs {twonn:.4}, MLE {fast_mle:.4} vs {mle:.4}",
            cloud.name()
        );
        assert!((fast_twonn - twonn).abs() < 0.1, "{}: TwoNN", cloud.name());
        assert!((fast_mle - mle).abs() < 0.1, "{}: MLE", cloud.name());
    }
}

/// Greedy farthest-point landmarks, starting from point 0.
fn landmarks(points: &[[f64; 2]], count: usize) -> Vec<[f64; 2]> {
    let dist = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
    let mut chosen = vec![points[0]];
    let mut nearest: Vec<f64> = points.iter().map(|&p| dist(p, points[0])).collect();
    while chosen.len() < count.min(points.len()) {
        let (far, _) =
            nearest.iter().enumerate().fold(
                (0, -1.0),
                |best, (i, &d)| if d > best.1 { (i, d) } else { best },
            );
        chosen.push(points[far]);
        for (d, &p) in nearest.iter_mut().zip(points) {
            *d = d.min(dist(p, points[far]));
        }
    }
    chosen
}

/// Vietoris–Rips H1 bars (birth, death) of `points`, by reducing the triangle boundary matrix over
/// Z/2 in filtration order (edges ordered by length, triangles by their longest edge).
fn rips_h1(points: &[[f64; 2]]) -> Vec<(f64, f64)> {
    let n = points.len();
    let mut edges: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let d = (points[i][0] - points[j][0]).hypot(points[i][1] - points[j][1]);
            edges.push((d, i, j));
        }
    }
    edges.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut edge_id = vec![0u32; n * n];
    for (e, &(_, i, j)) in edges.iter().enumerate() {
        edge_id[i * n + j] = e as u32;
        edge_id[j * n + i] = e as u32;
    }
    let mut triangles: Vec<[u32; 3]> = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                let mut t = [edge_id[a * n + b], edge_id[a * n + c], edge_id[b * n + c]];
                t.sort();
                triangles.push(t);
            }
        }
    }
    triangles.sort_by_key(|t| (t[2], t[1], t[0]));
    let mut owner: Vec<Option<Vec<u32>>> = vec![None; edges.len()];
    let mut bars = Vec::new();
    for t in triangles {
        let mut column: Vec<u32> = t.to_vec();
        while let Some(&pivot) = column.last() {
            let Some(reduced) = &owner[pivot as usize] else {
                break;
            };
            column = symmetric_difference(&column, reduced);
        }
        if let Some(&pivot) = column.last() {
            bars.push((edges[pivot as usize].0, edges[t[2] as usize].0));
            owner[pivot as usize] = Some(column);
        }
    }
    bars
}

fn symmetric_difference(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(a.len() + b.len()));
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && a[i] < b[j]) {
            out.push(a[i]);
            i += 1;
        } else if i == a.len() || b[j] < a[i] {
            out.push(b[j]);
            j += 1;
        } else {
            i += 1;
            j += 1;
        }
    }
    out
}

#[test]
fn persistent_voids_match_rips_h1_of_the_plane() {
    let expected = [
        (Reference::Line, 0),
        (Reference::PlaneSquare, 0),
        (Reference::Sphere, 0),
        (Reference::Annulus, 1),
        (Reference::Torus, 1),
        (Reference::GaussBlob10, 0),
    ];
    for (cloud, holes) in expected {
        let report = measure(&cloud.generate(N, 0), &MetricParams::default()).unwrap();
        let plane = &report.detail.plane;
        let marks = landmarks(plane, 120);
        let centroid = [0, 1].map(|a| marks.iter().map(|p| p[a]).sum::<f64>() / marks.len() as f64);
        let radius = plane
            .iter()
            .map(|p| (p[0] - centroid[0]).hypot(p[1] - centroid[1]))
            .fold(0.0, f64::max);
        let threshold = 0.10 * 2.0 * radius;
        let significant = rips_h1(&marks)
            .iter()
            .filter(|(birth, death)| death - birth > threshold)
            .count();
        eprintln!(
            "{}: H_void {} vs Rips {significant}",
            cloud.name(),
            report.holes.void
        );
        assert_eq!(significant, holes, "{}: Rips H1", cloud.name());
        assert_eq!(report.holes.void, holes, "{}: H_void", cloud.name());
    }
}
