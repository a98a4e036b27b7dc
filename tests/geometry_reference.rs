//! Spec §2.7 test contract on the §5 reference clouds (N = 2000, embedded in ℝ⁶⁴), measured with the
//! default parameters. Tolerances are the spec's; they hold for any seed at N = 2000 because the
//! estimators' sampling spread there is a few hundredths (TwoNN on the plane varies by ~0.05).

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
