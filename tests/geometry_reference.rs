//! Spec §2.7 test contract on the §5 reference clouds (N = 2000, seed 0, embedded in ℝ⁶⁴), measured
//! with the default parameters and the documented tolerances. TwoNN's sampling spread at N = 2000 is
//! about 0.06 (measured over 12 seeds), so ±0.15 is ~2.5σ for one seed: seed 0's sphere (2.145) sits
//! near the edge. The averaged test below checks the estimator's bias far more tightly.

use diffscope::analysis::geometry::intrinsic_dim::twonn;
use diffscope::analysis::geometry::knn::exact_knn;
use diffscope::analysis::geometry::reference_clouds::Reference;
use diffscope::analysis::geometry::{MetricParams, MetricReport, measure};

const N: usize = 2000;
const SEED: u64 = 0;

fn report(cloud: Reference) -> MetricReport {
    let report = measure(&cloud.generate(N, SEED), &MetricParams::default()).unwrap();
    eprintln!("{report}");
    report
}

#[test]
fn reference_clouds_meet_the_spec_contract() {
    for cloud in Reference::ALL {
        let r = report(cloud);
        let id = &r.intrinsic_dim;
        let true_id = match cloud {
            Reference::Line => Some(1.0),
            Reference::PlaneSquare | Reference::Sphere | Reference::Annulus => Some(2.0),
            _ => None,
        };
        if let Some(expected) = true_id {
            let twonn = id.twonn.unwrap();
            assert!(
                (twonn - expected).abs() <= 0.15,
                "{}: TwoNN {twonn}",
                cloud.name()
            );
        }
        let pca95 = match cloud {
            Reference::Line => Some(1),
            Reference::PlaneSquare | Reference::Annulus => Some(2),
            _ => None,
        };
        if let Some(expected) = pca95 {
            assert_eq!(id.pca95, expected, "{}: PCA95", cloud.name());
        }
        let voids = match cloud {
            Reference::Annulus | Reference::Torus => Some(1),
            Reference::Line
            | Reference::PlaneSquare
            | Reference::Sphere
            | Reference::GaussBlob10 => Some(0),
            _ => None,
        };
        if let Some(expected) = voids {
            assert_eq!(r.holes.void, expected, "{}: H_void", cloud.name());
        }
        // Exactly low-rank clouds (everything but the noisy plane and mock DiT) sit at the floor.
        let low_rank = !matches!(cloud, Reference::PlaneNoise | Reference::MockDit);
        if low_rank {
            let f = r.flatness.spectral.unwrap();
            assert!(f < 1e-9, "{}: F_spec {f}", cloud.name());
            assert!(
                r.flatness.rank_deficient.is_some(),
                "{}: not flagged",
                cloud.name()
            );
        } else {
            assert!(
                r.flatness.rank_deficient.is_none(),
                "{}: flagged",
                cloud.name()
            );
        }
    }
}

#[test]
fn line_saturates_probes_and_fills_a_twentieth_of_the_grid() {
    let r = report(Reference::Line);
    assert_eq!(r.holes.probe, 400);
    // A uniform line along PC1 fills 20 of 400 cells evenly: ln 20 / ln 400 = 0.5 exactly, less
    // the multinomial shortfall of ~N/20 = 100 points per cell (≈ 0.002).
    assert!((r.density.entropy_uniformity - 0.50).abs() <= 0.01);
    let blob = report(Reference::GaussBlob10);
    assert!(blob.holes.probe <= 5, "blob H_probe {}", blob.holes.probe);
}

#[test]
fn twonn_is_unbiased_over_seeds() {
    // Mean of 8 independent clouds: standard error ≈ 0.06/√8 ≈ 0.02, so ±0.06 is a 3σ bound that a
    // biased estimator or generator (e.g. a wrong F_j offset, or a non-uniform sphere) would break.
    for (cloud, truth) in [
        (Reference::Line, 1.0),
        (Reference::PlaneSquare, 2.0),
        (Reference::Sphere, 2.0),
        (Reference::Annulus, 2.0),
    ] {
        let mean = (0..8)
            .map(|seed| {
                let neighbours = exact_knn(&cloud.generate(N, 100 + seed), 2).unwrap();
                twonn(&neighbours, 0.1).dimension.unwrap()
            })
            .sum::<f64>()
            / 8.0;
        assert!(
            (mean - truth).abs() < 0.06,
            "{}: mean TwoNN {mean}",
            cloud.name()
        );
    }
}
