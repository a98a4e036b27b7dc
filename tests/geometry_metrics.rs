//! Closed-form checks of the individual measurements (PCA against a direct eigendecomposition,
//! spectral flatness, participation ratio, U_ent, H_void on rings, H_encl) and degenerate clouds
//! that must give defined answers, never a panic.

use diffscope::analysis::geometry::density::entropy_uniformity;
use diffscope::analysis::geometry::flatness::spectral_flatness;
use diffscope::analysis::geometry::holes::{enclosed_empty_components, persistent_voids};
use diffscope::analysis::geometry::intrinsic_dim::{participation_ratio, pca_count};
use diffscope::analysis::geometry::plane::{PlaneIndex, SquareBox};
use diffscope::analysis::geometry::{
    CloudError, GeometryError, MetricParams, PcaBasis, PointCloud, measure,
};
use diffscope::rng::{self, Domain};
use nalgebra::{DMatrix, SymmetricEigen};
use rand_distr::{Distribution, StandardNormal};

/// 5000 × 16 Gaussian rows with scale 16 − j on coordinate j (well-separated eigenvalues),
/// rotated by a fixed mixing so the components are not coordinate axes, plus an offset of 10.
fn anisotropic() -> (Vec<f64>, usize, usize) {
    let (n, d) = (5000, 16);
    let mut data = Vec::with_capacity(n * d);
    for i in 0..n {
        let mut r = rng::stream(9, Domain::Analysis, i as u64);
        let z: Vec<f64> = (0..d)
            .map(|j| {
                let g: f64 = StandardNormal.sample(&mut r);
                (16 - j) as f64 * g
            })
            .collect();
        // Rotation in the (j, j+1) planes by 0.3 rad, applied to consecutive pairs.
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        for j in 0..d {
            let pair = j ^ 1;
            let sign = if j % 2 == 0 { -1.0 } else { 1.0 };
            data.push(10.0 + c * z[j] + sign * s * z[pair]);
        }
    }
    (data, n, d)
}

#[test]
fn pca_matches_a_direct_eigendecomposition() {
    let (data, n, d) = anisotropic();
    let x = DMatrix::from_row_slice(n, d, &data);
    let mean = x.row_mean();
    let centred = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - mean[j]);
    let cov = centred.transpose() * &centred / (n as f64 - 1.0);
    let eigen = SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| {
        eigen.eigenvalues[b]
            .partial_cmp(&eigen.eigenvalues[a])
            .unwrap()
    });

    let basis = PcaBasis::fit(&data, n, d, 3).unwrap();
    let top = eigen.eigenvalues[order[0]];
    for (k, &o) in order.iter().enumerate() {
        assert!(
            (basis.eigenvalues[k] - eigen.eigenvalues[o]).abs() < 1e-10 * top,
            "λ{k}"
        );
    }
    // f32 input: inputs rounded at 6e-8 relative, block sums of ≤ 2048 terms in f32 add ~√2048 ×
    // 6e-8 ≈ 3e-6 relative; the offset of 10 is removed before rounding. 2e-5 leaves margin.
    let data32: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    let basis32 = PcaBasis::fit(&data32, n, d, 3).unwrap();
    for k in 0..d {
        assert!(
            (basis32.eigenvalues[k] - basis.eigenvalues[k]).abs() < 2e-5 * top,
            "f32 λ{k}"
        );
    }
    for (c, &o) in order.iter().enumerate().take(3) {
        let direct: Vec<f64> = (0..d).map(|j| eigen.eigenvectors[(j, o)]).collect();
        let dot64: f64 = direct
            .iter()
            .zip(basis.component(c))
            .map(|(a, b)| a * b)
            .sum();
        let dot32: f64 = direct
            .iter()
            .zip(basis32.component(c))
            .map(|(a, b)| a * b)
            .sum();
        assert!(
            dot64.abs() > 1.0 - 1e-9 && dot32.abs() > 1.0 - 1e-6,
            "component {c}"
        );
    }
    // Projection of another cloud uses this basis' mean and components.
    let other = [1.0f64; 16];
    let projected = basis.project(&other, 3);
    for (c, value) in projected.iter().enumerate() {
        let expected: f64 = (0..d)
            .map(|j| (1.0 - mean[j]) * basis.component(c)[j])
            .sum();
        assert!((value - expected).abs() < 1e-9);
    }
}

#[test]
fn spectrum_summaries_have_their_closed_forms() {
    assert_eq!(spectral_flatness(&[4.0; 4], 1e-12).value, Some(1.0));
    // √(2·1) / 1.5
    let two = spectral_flatness(&[2.0, 1.0], 1e-12);
    assert!((two.value.unwrap() - 2f64.sqrt() / 1.5).abs() < 1e-15);
    assert!(two.rank_deficient.is_none());
    // λ̃ = [1, 1e-12 ×3]: geometric mean 1e-9, arithmetic (1 + 3e-12)/4.
    let low = spectral_flatness(&[1.0, 1e-20, 0.0, 1e-30], 1e-12);
    assert!((low.value.unwrap() - 4e-9 / (1.0 + 3e-12)).abs() < 1e-22);
    let flag = low.rank_deficient.unwrap();
    assert_eq!((flag.rank, flag.of), (1, 4));
    // Exactly half clamped is not "more than half".
    assert!(
        spectral_flatness(&[1.0, 1.0, 0.0, 0.0], 1e-12)
            .rank_deficient
            .is_none()
    );
    assert_eq!(spectral_flatness(&[0.0, 0.0], 1e-12).value, None);

    assert_eq!(participation_ratio(&[1.0, 1.0, 1.0]), Some(3.0));
    assert_eq!(participation_ratio(&[2.0, 0.0]), Some(1.0));
    assert_eq!(participation_ratio(&[0.0]), None);
    let spectrum = [5.0, 3.0, 1.5, 0.5];
    assert_eq!(pca_count(&spectrum, 0.90), 3);
    assert_eq!(pca_count(&spectrum, 0.99), 4);
    assert_eq!(pca_count(&spectrum, 0.5), 1);
}

#[test]
fn occupancy_entropy_closed_forms() {
    let grid = 20;
    // One point per cell (lattice of cell centres): every cell equally filled → 1.
    let lattice: Vec<[f64; 2]> = (0..grid * grid)
        .map(|c| [(c % grid) as f64, (c / grid) as f64])
        .collect();
    let square = SquareBox::anchored(&lattice);
    assert!((entropy_uniformity(&lattice, &square, grid) - 1.0).abs() < 1e-12);
    // Six equal clusters in six distinct cells → ln 6 / ln 400.
    let clusters: Vec<[f64; 2]> = (0..600).map(|i| [(i % 6) as f64 * 3.5, 0.0]).collect();
    let square = SquareBox::anchored(&clusters);
    let expected = 6f64.ln() / 400f64.ln();
    assert!((entropy_uniformity(&clusters, &square, grid) - expected).abs() < 1e-12);
}

fn ring(centre: [f64; 2], radius: f64, count: usize) -> Vec<[f64; 2]> {
    (0..count)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / count as f64;
            [centre[0] + radius * a.cos(), centre[1] + radius * a.sin()]
        })
        .collect()
}

#[test]
fn a_ring_has_one_void_from_its_gap_to_its_radius() {
    let points = ring([0.0, 0.0], 1.0, 400);
    let square = SquareBox::anchored(&points);
    let analysis = persistent_voids(&PlaneIndex::new(&points), &square, 128, 0.05, 0.05);
    let cell = analysis.raster.cell;
    assert_eq!(analysis.voids.len(), 1);
    let void = &analysis.voids[0];
    // The void is filled at the radius (the centre cell is at most half a diagonal off), and it
    // closes once disks cover the ring as sampled by the raster (within a cell of the gap).
    assert!(
        (void.bar.death - 1.0).abs() <= cell,
        "death {}",
        void.bar.death
    );
    assert!(void.bar.birth <= cell, "birth {}", void.bar.birth);
    // Its region is the inner disk where f > birth: every cell centre inside the ring, and about
    // π(1 − birth)² / cell² of them (f is within the sampling gap of the distance to the circle).
    for &c in &void.cells {
        let p = analysis.raster.centre(c as usize);
        assert!(p[0].hypot(p[1]) < 1.0);
    }
    let expected = std::f64::consts::PI * (1.0 - void.bar.birth).powi(2) / (cell * cell);
    assert!((void.cells.len() as f64 / expected - 1.0).abs() < 0.05);

    // Two rings side by side: two voids, the larger ring's more persistent.
    let mut two = ring([0.0, 0.0], 1.0, 400);
    two.extend(ring([3.0, 0.0], 0.6, 240));
    let square = SquareBox::anchored(&two);
    let analysis = persistent_voids(&PlaneIndex::new(&two), &square, 128, 0.05, 0.05);
    assert_eq!(analysis.voids.len(), 2);
    assert!(analysis.voids[0].bar.death > analysis.voids[1].bar.death);
    // A filled square lattice has no significant void.
    let lattice: Vec<[f64; 2]> = (0..900)
        .map(|c| [(c % 30) as f64, (c / 30) as f64])
        .collect();
    let square = SquareBox::anchored(&lattice);
    let analysis = persistent_voids(&PlaneIndex::new(&lattice), &square, 128, 0.05, 0.05);
    assert!(analysis.voids.is_empty());
}

#[test]
fn enclosed_components_ignore_the_border_and_small_ones() {
    // 5×5 grid, occupied everywhere except the centre cell and one border cell.
    let mut points = Vec::new();
    for y in 0..5 {
        for x in 0..5 {
            if (x, y) != (2, 2) && (x, y) != (0, 3) {
                points.push([x as f64, y as f64]);
            }
        }
    }
    let square = SquareBox::anchored(&points);
    assert_eq!(enclosed_empty_components(&points, &square, 5, 1), 1);
    assert_eq!(enclosed_empty_components(&points, &square, 5, 2), 0);
}

fn cloud(n: usize, dim: usize, data: Vec<f64>) -> PointCloud {
    PointCloud::new(n, dim, data, "test").unwrap()
}

#[test]
fn degenerate_clouds_give_defined_answers() {
    let params = MetricParams::default();
    let same = measure(&cloud(30, 3, vec![1.5; 90]), &params).unwrap();
    assert_eq!(same.intrinsic_dim.twonn, None);
    assert_eq!(same.intrinsic_dim.duplicates_dropped, 30);
    assert_eq!(same.flatness.spectral, None);
    assert_eq!(same.holes.void, 0);
    assert_eq!(same.density.entropy_uniformity, 0.0);

    // Evenly spaced: every μ = r₂/r₁ = 1, so ln μ = 0 and TwoNN is undefined, not a number.
    let lattice: Vec<f64> = (0..50).map(|i| i as f64).collect();
    let even = measure(&cloud(50, 1, lattice), &params).unwrap();
    assert_eq!(even.intrinsic_dim.twonn, None);
    assert_eq!(even.intrinsic_dim.pca95, 1);
    // Random on a line in D = 1 (the plane's second axis is zero): TwoNN ≈ 1 (sd ≈ 0.15 at N = 200).
    let mut r = rng::stream(2, Domain::Analysis, 0);
    let line: Vec<f64> = (0..200).map(|_| StandardNormal.sample(&mut r)).collect();
    let one_d = measure(&cloud(200, 1, line), &params).unwrap();
    assert!((one_d.intrinsic_dim.twonn.unwrap() - 1.0).abs() < 0.5);

    let pairs: Vec<f64> = (0..60).flat_map(|i| [(i % 2) as f64, 0.0]).collect();
    let two_points = measure(&cloud(60, 2, pairs), &params).unwrap();
    assert_eq!(two_points.intrinsic_dim.duplicates_dropped, 60);
    assert_eq!(two_points.intrinsic_dim.mle, None);

    let err = measure(&cloud(20, 2, vec![0.0; 40]), &params).unwrap_err();
    assert!(
        matches!(err, GeometryError::TooFewPoints { needed: 21, .. }),
        "{err}"
    );
}

#[test]
fn out_of_range_values_are_refused() {
    let err = PointCloud::new(2, 1, vec![0.0, 1e200], "big").unwrap_err();
    assert_eq!(
        err.to_string(),
        "value at point 1, coordinate 0 is 1e200, beyond ±1e150 where squared distances overflow"
    );
    let err = PointCloud::new(1, 2, vec![0.0, f64::NAN], "nan").unwrap_err();
    assert!(matches!(err, CloudError::NotFinite { coordinate: 1, .. }));
    let err = PcaBasis::fit(&[0.0, 1.0, f64::NAN, 2.0], 2, 2, 1).unwrap_err();
    assert!(matches!(
        err,
        GeometryError::Cloud(CloudError::NotFinite {
            point: 1,
            coordinate: 0,
            ..
        })
    ));
    let err = PcaBasis::fit(&[1.0, -1e300], 2, 1, 1).unwrap_err();
    assert!(matches!(
        err,
        GeometryError::Cloud(CloudError::TooLarge { point: 1, .. })
    ));
}

#[test]
fn wall_points_line_the_annulus_hole() {
    use diffscope::analysis::geometry::reference_clouds::Reference;
    use diffscope::analysis::geometry::wall::wall_ratio;
    let report = measure(
        &Reference::Annulus.generate(2000, 0),
        &MetricParams::default(),
    )
    .unwrap();
    let detail = &report.detail;
    let cell = detail.voids.raster.cell;
    assert!(!detail.boundary.is_empty());
    // The plane is centred, so the hole is the disk of radius 0.5 around the origin. By the documented
    // definition the void's region is its component of {f > birth}; birth (≈ 0.019) is below the
    // sampling gaps of the band, so the region also takes in pores of the band connected at that
    // level. What must hold: it contains the hole's core, and every point on the inner edge of
    // the annulus is a boundary point.
    let voids = &detail.voids;
    let region: std::collections::HashSet<u32> = voids.voids[0].cells.iter().copied().collect();
    for c in 0..voids.raster.size * voids.raster.size {
        let p = voids.raster.centre(c);
        if p[0].hypot(p[1]) < 0.4 {
            assert!(region.contains(&(c as u32)), "core cell {c} at {p:?}");
        }
    }
    let radius = |p: [f64; 2]| p[0].hypot(p[1]);
    for (i, &p) in detail.plane.iter().enumerate() {
        if radius(p) < 0.5 + cell {
            assert!(detail.boundary.contains(&i), "edge point {i} at {p:?}");
        }
    }
    // Median of [4, 5] over median of [1..5].
    assert_eq!(wall_ratio(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3, 4]), Some(1.5));
    assert_eq!(wall_ratio(&[0.0; 5], &[3, 4]), None);
    assert_eq!(wall_ratio(&[1.0; 5], &[]), None);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    use diffscope::analysis::geometry::reference_clouds::Reference;
    // Fixed block boundaries and ordered reductions: 1 and 3 worker threads give identical bits.
    let cloud = Reference::Torus.generate(2500, 4);
    let (data, n, d) = anisotropic();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let report = measure(&cloud, &MetricParams::default()).unwrap();
            let basis = PcaBasis::fit(&data, n, d, 3).unwrap();
            (serde_json::to_string(&report).unwrap(), basis)
        })
    };
    assert_eq!(run(1), run(3));
}
