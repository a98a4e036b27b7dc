//! The fast exact kNN (f32 GEMM candidates + f64 re-ranking) against a naive O(N²) f64 scan: the same
//! indices in the same order (ties broken by the lower index) and bit-equal distances, on data built
//! to defeat the candidate stage: duplicates, lattice ties, tight clusters, a large common offset.

use diffscope::analysis::geometry::PointCloud;
use diffscope::analysis::geometry::knn::exact_knn;
use diffscope::rng::{self, Domain};
use rand::Rng;

/// Plain reference: every distance in f64, sorted by (squared distance, index).
fn naive(points: &[Vec<f64>], k: usize) -> (Vec<u32>, Vec<f64>) {
    let mut indices = Vec::new();
    let mut distances = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let mut all: Vec<(f64, usize)> = points
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, q)| {
                (
                    p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f64>(),
                    j,
                )
            })
            .collect();
        all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
        for &(d2, j) in &all[..k] {
            indices.push(j as u32);
            distances.push(d2.sqrt());
        }
    }
    (indices, distances)
}

fn check(name: &str, points: Vec<Vec<f64>>, k: usize) {
    let dim = points[0].len();
    let cloud = PointCloud::new(points.len(), dim, points.concat(), name).unwrap();
    let fast = exact_knn(&cloud, k).unwrap();
    let (indices, distances) = naive(&points, k);
    assert_eq!(fast.indices, indices, "{name}: indices");
    assert_eq!(fast.distances, distances, "{name}: distances");
}

fn uniform(n: usize, dim: usize, seed: u64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let mut r = rng::stream(seed, Domain::Analysis, i as u64);
            (0..dim).map(|_| r.random::<f64>()).collect()
        })
        .collect()
}

#[test]
fn random_points_with_duplicates() {
    let mut points = uniform(700, 16, 1);
    // 60 exact copies (some copied twice) scattered through the index range.
    for c in 0..60 {
        let source = (c * 37) % 500;
        points[600 + c % 100] = points[source].clone();
    }
    check("duplicates", points, 5);
}

#[test]
fn lattice_points_have_many_exact_ties() {
    // Integer lattice in 3-D (embedded in 8-D with zero padding): every point has up to 6
    // neighbours at distance exactly 1, so the index tie-break decides.
    let points: Vec<Vec<f64>> = (0..7 * 7 * 7)
        .map(|i| {
            let mut p = vec![(i % 7) as f64, ((i / 7) % 7) as f64, (i / 49) as f64];
            p.resize(8, 0.0);
            p
        })
        .collect();
    check("lattice", points, 7);
}

#[test]
fn tight_clusters_far_from_the_origin() {
    // Six clusters of jitter 1e-7 around points 1e4 away: differences far below f32 resolution of
    // the coordinates, so the f32 candidates cannot separate them and the exact scan must.
    let points: Vec<Vec<f64>> = (0..600)
        .map(|i| {
            let mut r = rng::stream(3, Domain::Analysis, i as u64);
            (0..12)
                .map(|j| 1e4 + if j == 0 { (i % 6) as f64 } else { 0.0 } + 1e-7 * r.random::<f64>())
                .collect()
        })
        .collect();
    check("clusters", points, 20);
}

#[test]
fn block_edges_and_the_smallest_cloud() {
    // More rows than one candidate block (2048) and a ragged last query block.
    check("blocks", uniform(2100, 3, 4), 3);
    check("minimal", uniform(4, 2, 5), 3);
}

#[test]
fn too_few_points_is_an_error() {
    let cloud = PointCloud::new(3, 2, vec![0.0; 6], "tiny").unwrap();
    assert!(exact_knn(&cloud, 3).is_err());
}
