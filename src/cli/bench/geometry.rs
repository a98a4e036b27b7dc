//! Benchmarks of the geometry area: PCA of 1M × 64 f32, TwoNN on 20k × 64, H_void on 2k planar points
//! (targets from docs/science/performance.md). Inputs come from deterministic streams; setup is not timed; each figure
//! is the best of [`RUNS`] runs, as the machine is shared.

use super::{Bench, Figure, RUNS, best_of};
use crate::analysis::geometry::holes::persistent_voids;
use crate::analysis::geometry::intrinsic_dim::twonn;
use crate::analysis::geometry::knn::exact_knn;
use crate::analysis::geometry::plane::{PlaneIndex, SquareBox, as_points};
use crate::analysis::geometry::reference_clouds::Reference;
use crate::analysis::geometry::{MetricParams, PcaBasis, PointCloud};
use crate::rng::{self, Domain};
use rand_distr::{Distribution, StandardNormal};

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "pca_1m_64",
            run: pca_1m_64,
        },
        Bench {
            name: "twonn_20k_64",
            run: twonn_20k_64,
        },
        Bench {
            name: "hvoid_2k",
            run: hvoid_2k,
        },
    ]
}

/// Gaussian rows with a decaying spectrum (scale 1/√(j+1) on coordinate j), one stream per row.
fn gaussian_rows(n: usize, dim: usize) -> Vec<f64> {
    let mut data = Vec::with_capacity(n * dim);
    for i in 0..n {
        let mut r = rng::stream(1, Domain::Analysis, i as u64);
        data.extend((0..dim).map(|j| {
            let z: f64 = StandardNormal.sample(&mut r);
            z / ((j + 1) as f64).sqrt()
        }));
    }
    data
}

fn pca_1m_64() -> anyhow::Result<Figure> {
    let (n, dim) = (1_000_000, 64);
    let data: Vec<f32> = gaussian_rows(n, dim)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let (timing, projected) = best_of(|| {
        let basis = PcaBasis::fit(&data, n, dim, 3)?;
        Ok(basis.project(&data, 3))
    })?;
    anyhow::ensure!(projected.len() == n * 3);
    Ok(Figure {
        name: "pca_1m_64",
        inputs: format!("{n} x {dim} f32 -> 3 components + projection, best of {RUNS}"),
        seconds: timing.wall,
        target_seconds: Some(0.3),
    })
}

fn twonn_20k_64() -> anyhow::Result<Figure> {
    let (n, dim) = (20_000, 64);
    let cloud = PointCloud::new(n, dim, gaussian_rows(n, dim), "bench")?;
    let (timing, estimate) = best_of(|| {
        let neighbours = exact_knn(&cloud, 2)?;
        Ok(twonn(&neighbours, MetricParams::default().twonn_discard))
    })?;
    anyhow::ensure!(estimate.dimension.is_some());
    Ok(Figure {
        name: "twonn_20k_64",
        inputs: format!("{n} x {dim}, exact kNN (k = 2) + fit, best of {RUNS}"),
        seconds: timing.wall,
        target_seconds: Some(2.0),
    })
}

fn hvoid_2k() -> anyhow::Result<Figure> {
    let params = MetricParams::default();
    let cloud = Reference::Annulus.generate(2000, 0);
    let basis = PcaBasis::fit(cloud.data(), cloud.n(), cloud.dim(), 2)?;
    let plane = as_points(&basis.project(cloud.data(), 2));
    let (timing, voids) = best_of(|| {
        let square = SquareBox::anchored(&plane);
        let index = PlaneIndex::new(&plane);
        Ok(persistent_voids(
            &index,
            &square,
            params.raster,
            params.raster_padding,
            params.void_persistence,
        ))
    })?;
    anyhow::ensure!(voids.voids.len() == 1, "annulus should have one void");
    Ok(Figure {
        name: "hvoid_2k",
        inputs: format!(
            "2000 planar points (annulus), kd-tree + raster {0} x {0}, best of {RUNS}",
            params.raster
        ),
        seconds: timing.wall,
        target_seconds: Some(0.05),
    })
}
