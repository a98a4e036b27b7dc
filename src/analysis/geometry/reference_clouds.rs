//! The reference clouds of docs/science/metrics.md §5 (line, square, sphere, annulus, torus, 10-D blob, swiss roll,
//! noisy plane, mock DiT, mock Euler-Stack), generated from deterministic streams and embedded
//! isometrically into ℝ⁶⁴ by a random orthonormal map. Shared by tests and benchmarks.

use super::PointCloud;
use crate::rng::{self, Domain};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::PI;

/// Ambient dimension of the embedded clouds.
pub const AMBIENT: usize = 64;

/// A named reference cloud and what it is known to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    Line,
    PlaneSquare,
    Sphere,
    Annulus,
    Torus,
    GaussBlob10,
    SwissRoll,
    PlaneNoise,
    MockDit,
    MockEulerStack,
}

impl Reference {
    pub const ALL: [Reference; 10] = [
        Reference::Line,
        Reference::PlaneSquare,
        Reference::Sphere,
        Reference::Annulus,
        Reference::Torus,
        Reference::GaussBlob10,
        Reference::SwissRoll,
        Reference::PlaneNoise,
        Reference::MockDit,
        Reference::MockEulerStack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reference::Line => "line",
            Reference::PlaneSquare => "plane(square)",
            Reference::Sphere => "2-sphere",
            Reference::Annulus => "annulus r=.5-1",
            Reference::Torus => "torus R2 r.7",
            Reference::GaussBlob10 => "gauss blob 10D",
            Reference::SwissRoll => "swiss roll",
            Reference::PlaneNoise => "plane+noise.01",
            Reference::MockDit => "mock DiT (1/i spec)",
            Reference::MockEulerStack => "mock EulerStack",
        }
    }

    /// `n` points of this cloud under `seed`.
    pub fn generate(self, n: usize, seed: u64) -> PointCloud {
        let intrinsic: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut r = rng::stream(seed, Domain::Analysis, i as u64);
                self.sample(&mut r)
            })
            .collect();
        let data = match self {
            // 256-D Gaussian with variance 1/i: not embedded.
            Reference::MockDit => intrinsic.concat(),
            _ => {
                let k = intrinsic.first().map_or(1, Vec::len);
                let basis = orthonormal_columns(AMBIENT, k, seed);
                let mut data: Vec<f64> = intrinsic.iter().flat_map(|p| embed(&basis, p)).collect();
                let noise = match self {
                    Reference::PlaneNoise => 0.01,
                    Reference::MockEulerStack => 1e-7,
                    _ => 0.0,
                };
                if noise > 0.0 {
                    for (i, row) in data.chunks_exact_mut(AMBIENT).enumerate() {
                        let mut r = rng::stream(seed, Domain::ForwardNoise, i as u64);
                        for v in row {
                            *v += noise * gaussian(&mut r);
                        }
                    }
                }
                data
            }
        };
        let dim = data.len() / n.max(1);
        PointCloud::new(n, dim.max(1), data, self.name())
            .expect("reference clouds are finite and well shaped")
    }

    /// One point in intrinsic coordinates.
    fn sample(self, r: &mut rng::Stream) -> Vec<f64> {
        let u = |r: &mut rng::Stream| r.random::<f64>();
        match self {
            Reference::Line => vec![u(r)],
            Reference::PlaneSquare | Reference::PlaneNoise => vec![u(r), u(r)],
            Reference::Sphere => {
                let g: Vec<f64> = (0..3).map(|_| gaussian(r)).collect();
                let norm = g
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    .sqrt()
                    .max(f64::MIN_POSITIVE);
                g.iter().map(|v| v / norm).collect()
            }
            Reference::Annulus => {
                // Uniform in area: r² uniform on [0.25, 1].
                let radius = (0.25 + 0.75 * u(r)).sqrt();
                let angle = 2.0 * PI * u(r);
                vec![radius * angle.cos(), radius * angle.sin()]
            }
            Reference::Torus => {
                let (big, small) = (2.0, 0.7);
                let (theta, phi) = (2.0 * PI * u(r), 2.0 * PI * u(r));
                let ring = big + small * theta.cos();
                vec![ring * phi.cos(), ring * phi.sin(), small * theta.sin()]
            }
            Reference::GaussBlob10 => (0..10).map(|_| gaussian(r)).collect(),
            Reference::SwissRoll => {
                // scikit-learn's make_swiss_roll: t = 1.5π(1 + 2u), height 21v.
                let t = 1.5 * PI * (1.0 + 2.0 * u(r));
                vec![t * t.cos(), 21.0 * u(r), t * t.sin()]
            }
            Reference::MockDit => (1..=256).map(|i| gaussian(r) / (i as f64).sqrt()).collect(),
            Reference::MockEulerStack => vec![STACK_LEVELS[r.random_range(0..STACK_LEVELS.len())]],
        }
    }
}

/// Depth levels of the mock Euler-Stack. Interior levels sit mid-cell of the G = 20 grid (at 4.2,
/// 7.8, 12.2 and 15.8 cells of the 5-unit side): equally spaced levels would lie exactly on cell
/// edges and be split in two by the 1e-7 jitter (pitfall P2), giving more than the documented
/// 6 occupied cells (U_ent = ln 6 / ln 400 = 0.299).
const STACK_LEVELS: [f64; 6] = [0.0, 1.05, 1.95, 3.05, 3.95, 5.0];

fn gaussian(r: &mut rng::Stream) -> f64 {
    StandardNormal.sample(r)
}

/// `k` orthonormal columns in ℝ^`ambient` (Gram–Schmidt of Gaussian vectors), `[k][ambient]`.
pub fn orthonormal_columns(ambient: usize, k: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut r = rng::stream(seed, Domain::Analysis, u64::MAX);
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(k);
    while columns.len() < k {
        let mut v: Vec<f64> = (0..ambient).map(|_| gaussian(&mut r)).collect();
        for _ in 0..2 {
            for c in &columns {
                let dot: f64 = v.iter().zip(c).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(c).for_each(|(a, b)| *a -= dot * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            columns.push(v.iter().map(|a| a / norm).collect());
        }
    }
    columns
}

fn embed(columns: &[Vec<f64>], point: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; AMBIENT];
    for (c, x) in columns.iter().zip(point) {
        out.iter_mut().zip(c).for_each(|(o, v)| *o += x * v);
    }
    out
}
