//! Principal components (docs/science/metrics.md §2.0): centring, covariance route (N > D) or Gram route (N ≤ D),
//! eigenvalues λ₁ ≥ … ≥ λ_m with m = min(N−1, D), and a cached basis that projects any cloud.
//! The covariance is accumulated over row blocks (GEMM in the input precision, summed in f64 in a
//! fixed block order), so the result does not depend on the thread count.

use super::GeometryError;
use crate::base::point_cloud::{CloudError, acceptable, value_error};
use nalgebra::{DMatrix, SymmetricEigen};
use rayon::prelude::*;
use serde::Serialize;

/// Rows per GEMM block: 2048 × 64 f32 is 512 KiB, which stays in L2 while it is multiplied.
const BLOCK_ROWS: usize = 2048;
/// Blocks summed sequentially per parallel task; tasks are then summed in order (deterministic).
const BLOCKS_PER_TASK: usize = 8;

/// Input precision of a PCA: f32 (model outputs) or f64.
pub trait Element: Copy + Send + Sync + 'static + private::Sealed {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

mod private {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl Element for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Element for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// Which matrix was diagonalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PcaRoute {
    /// D×D covariance XᵀX/(N−1), used when N > D.
    Covariance,
    /// N×N Gram matrix XXᵀ/(N−1), used when N ≤ D.
    Gram,
}

/// A fitted PCA basis: kept components plus the whole spectrum.
#[derive(Clone, Debug, PartialEq)]
pub struct PcaBasis {
    pub n: usize,
    pub dim: usize,
    pub route: PcaRoute,
    /// Mean of the fitted cloud, `[dim]`.
    pub mean: Vec<f64>,
    /// λ₁ ≥ … ≥ λ_m, m = min(N−1, D); tiny negative rounding is clamped to 0.
    pub eigenvalues: Vec<f64>,
    /// Leading unit components, `[kept, dim]`, each signed so its largest-magnitude entry is positive.
    pub components: Vec<f64>,
}

impl PcaBasis {
    /// Fits `data` (`[n, dim]`, row-major) keeping `keep` components (at most m).
    pub fn fit<T: Element>(
        data: &[T],
        n: usize,
        dim: usize,
        keep: usize,
    ) -> Result<Self, GeometryError> {
        if dim == 0 {
            return Err(CloudError::NoDimension.into());
        }
        if n.checked_mul(dim) != Some(data.len()) {
            return Err(CloudError::Shape {
                n,
                dim,
                values: data.len(),
            }
            .into());
        }
        if n < 2 {
            return Err(GeometryError::TooFewPoints {
                what: "PCA",
                needed: 2,
                n,
            });
        }
        let (mean, largest) = column_mean(data, n, dim);
        if !acceptable(largest) {
            // Searched again only on this error path, to name the value.
            let at = data
                .iter()
                .position(|v| !acceptable(v.to_f64()))
                .unwrap_or(0);
            return Err(value_error(at, dim, data[at].to_f64()).into());
        }
        let m = (n - 1).min(dim);
        let keep = keep.min(m);
        let (route, eigenvalues, components) = if n > dim {
            let cov = covariance(data, n, dim, &mean);
            let (values, vectors) = sorted_eigen(cov, dim);
            let components = (0..keep)
                .flat_map(|c| (0..dim).map(move |j| (c, j)))
                .map(|(c, j)| vectors[(j, c)])
                .collect();
            (PcaRoute::Covariance, values, components)
        } else {
            let centred: Vec<f64> = data
                .chunks_exact(dim)
                .flat_map(|row| row.iter().zip(&mean).map(|(v, m)| v.to_f64() - m))
                .collect();
            let x = DMatrix::from_row_slice(n, dim, &centred);
            let gram = (&x * x.transpose()) / (n as f64 - 1.0);
            let (values, vectors) = sorted_eigen(gram, n);
            let mut components = Vec::with_capacity(keep * dim);
            for c in 0..keep {
                let v = x.transpose() * vectors.column(c);
                let norm = v.norm();
                components.extend(v.iter().map(|x| if norm > 0.0 { x / norm } else { 0.0 }));
            }
            (PcaRoute::Gram, values, components)
        };
        let mut eigenvalues = eigenvalues;
        eigenvalues.truncate(m);
        eigenvalues.iter_mut().for_each(|v| *v = v.max(0.0));
        let mut basis = Self {
            n,
            dim,
            route,
            mean,
            eigenvalues,
            components,
        };
        basis.fix_signs();
        Ok(basis)
    }

    /// Number of kept components.
    pub fn kept(&self) -> usize {
        self.components.len() / self.dim
    }

    /// Component `c`, `[dim]`.
    pub fn component(&self, c: usize) -> &[f64] {
        &self.components[c * self.dim..(c + 1) * self.dim]
    }

    /// Fractions λ_i / Σλ (all zeros for a cloud of identical points).
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        let total: f64 = self.eigenvalues.iter().sum();
        self.eigenvalues
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect()
    }

    /// Projects `data` (`[rows, dim]`) on the first `dims` kept components: `[rows, dims]`.
    /// Centred by this basis' mean, so another cloud lands in the same coordinates.
    pub fn project<T: Element>(&self, data: &[T], dims: usize) -> Vec<f64> {
        let dims = dims.min(self.kept());
        let mut out = vec![0.0; data.len() / self.dim * dims];
        out.par_chunks_mut(dims.max(1) * 1024)
            .zip(data.par_chunks(self.dim * 1024))
            .for_each(|(out, rows)| {
                for (o, row) in out
                    .chunks_exact_mut(dims.max(1))
                    .zip(rows.chunks_exact(self.dim))
                {
                    for (c, slot) in o.iter_mut().enumerate().take(dims) {
                        *slot = row
                            .iter()
                            .zip(&self.mean)
                            .zip(self.component(c))
                            .map(|((v, m), w)| (v.to_f64() - m) * w)
                            .sum();
                    }
                }
            });
        out
    }

    fn fix_signs(&mut self) {
        let dim = self.dim;
        for component in self.components.chunks_exact_mut(dim) {
            let largest =
                component.iter().copied().fold(
                    0.0f64,
                    |best, v| if v.abs() > best.abs() { v } else { best },
                );
            if largest < 0.0 {
                component.iter_mut().for_each(|v| *v = -*v);
            }
        }
    }
}

/// Column means in f64 (summed per block, then over blocks in order) and the largest magnitude,
/// NaN if any value is NaN, so one pass both centres and validates.
fn column_mean<T: Element>(data: &[T], n: usize, dim: usize) -> (Vec<f64>, f64) {
    let partial: Vec<(Vec<f64>, f64)> = data
        .par_chunks(BLOCK_ROWS * dim)
        .map(|block| {
            let mut sum = vec![0.0; dim];
            let mut largest = 0.0f64;
            for row in block.chunks_exact(dim) {
                for (s, v) in sum.iter_mut().zip(row) {
                    let v = v.to_f64();
                    *s += v;
                    // Written so that NaN propagates (f64::max would drop it).
                    largest = if v.abs() > largest || v.is_nan() {
                        v.abs()
                    } else {
                        largest
                    };
                }
            }
            (sum, largest)
        })
        .collect();
    let mut mean = vec![0.0; dim];
    let mut largest = 0.0f64;
    for (sum, block_largest) in partial {
        mean.iter_mut().zip(sum).for_each(|(m, s)| *m += s);
        largest = if block_largest > largest || block_largest.is_nan() {
            block_largest
        } else {
            largest
        };
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    (mean, largest)
}

/// XᵀX/(N−1) of the centred data. Each block is centred into a buffer of the input precision and
/// multiplied by GEMM; the block sums (at most 2048 terms each) are accumulated in f64.
fn covariance<T: Element>(data: &[T], n: usize, dim: usize, mean: &[f64]) -> DMatrix<f64> {
    let partial: Vec<Vec<f64>> = data
        .par_chunks(BLOCK_ROWS * BLOCKS_PER_TASK * dim)
        .map(|task| {
            let mut total = vec![0.0f64; dim * dim];
            let mut centred: Vec<T> = Vec::with_capacity(BLOCK_ROWS * dim);
            let mut product = vec![T::from_f64(0.0); dim * dim];
            for block in task.chunks(BLOCK_ROWS * dim) {
                centred.clear();
                for row in block.chunks_exact(dim) {
                    centred.extend(
                        row.iter()
                            .zip(mean)
                            .map(|(v, m)| T::from_f64(v.to_f64() - m)),
                    );
                }
                gram_of_columns(&centred, block.len() / dim, dim, &mut product);
                total
                    .iter_mut()
                    .zip(&product)
                    .for_each(|(t, p)| *t += p.to_f64());
            }
            total
        })
        .collect();
    let mut cov = vec![0.0f64; dim * dim];
    for p in partial {
        cov.iter_mut().zip(p).for_each(|(c, v)| *c += v);
    }
    let scale = 1.0 / (n as f64 - 1.0);
    DMatrix::from_row_slice(dim, dim, &cov) * scale
}

/// `out = Xᵀ X` for `x` = `[rows, dim]` row-major, `out` = `[dim, dim]` row-major.
fn gram_of_columns<T: Element>(x: &[T], rows: usize, dim: usize, out: &mut [T]) {
    debug_assert_eq!(x.len(), rows * dim);
    debug_assert_eq!(out.len(), dim * dim);
    // SAFETY: lhs = xᵀ ([dim, rows]: column stride dim, row stride 1), rhs = x ([rows, dim]: column
    // stride 1, row stride dim) and out ([dim, dim] row-major) are in bounds for these strides, as
    // the asserted lengths show; T is f32 or f64 (sealed), both supported by gemm.
    unsafe {
        gemm::gemm(
            dim,
            dim,
            rows,
            out.as_mut_ptr(),
            1,
            dim as isize,
            false,
            x.as_ptr(),
            dim as isize,
            1,
            x.as_ptr(),
            1,
            dim as isize,
            T::from_f64(0.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Eigenvalues in decreasing order with their eigenvectors as matching columns.
fn sorted_eigen(matrix: DMatrix<f64>, size: usize) -> (Vec<f64>, DMatrix<f64>) {
    let eigen = SymmetricEigen::new(matrix);
    let mut order: Vec<usize> = (0..size).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let values = order.iter().map(|&i| eigen.eigenvalues[i]).collect();
    let vectors = DMatrix::from_fn(size, size, |r, c| eigen.eigenvectors[(r, order[c])]);
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_routes_agree_on_a_small_cloud() {
        // 5 points in 3-D fitted directly (covariance) and as 5 points padded to 8-D (Gram route):
        // the nonzero spectrum is the same, so the routes must agree to rounding.
        let pts = [
            [1.0, 2.0, 0.5],
            [-1.0, 0.3, 2.0],
            [0.2, -1.5, 1.0],
            [2.0, 0.0, -1.0],
            [0.7, 1.1, 0.1],
        ];
        let flat3: Vec<f64> = pts.iter().flatten().copied().collect();
        let flat8: Vec<f64> = pts
            .iter()
            .flat_map(|p| p.iter().copied().chain([0.0; 5]))
            .collect();
        let a = PcaBasis::fit(&flat3, 5, 3, 2).unwrap();
        let b = PcaBasis::fit(&flat8, 5, 8, 2).unwrap();
        assert_eq!(a.route, PcaRoute::Covariance);
        assert_eq!(b.route, PcaRoute::Gram);
        assert_eq!(a.eigenvalues.len(), 3);
        assert_eq!(b.eigenvalues.len(), 4);
        for i in 0..3 {
            assert!((a.eigenvalues[i] - b.eigenvalues[i]).abs() < 1e-12);
        }
        assert!(b.eigenvalues[3].abs() < 1e-12);
        for c in 0..2 {
            for j in 0..3 {
                assert!((a.component(c)[j] - b.component(c)[j]).abs() < 1e-9);
            }
        }
        let pa = a.project(&flat3, 2);
        let pb = b.project(&flat8, 2);
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).abs() < 1e-9);
        }
    }
}
