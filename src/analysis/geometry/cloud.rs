//! The point cloud every measurement takes: `n` points of dimension `dim`, row-major f64, all finite.
//! Construction validates shape and finiteness once, so the measurements never re-check user data.

use super::{GeometryError, acceptable, value_error};

/// `n` points in ℝ^`dim`, row-major (`data[i * dim + j]`), every value finite and within
/// ±[`super::MAX_MAGNITUDE`].
#[derive(Clone, Debug, PartialEq)]
pub struct PointCloud {
    n: usize,
    dim: usize,
    data: Vec<f64>, // [n, dim]
    /// Where the points came from (a file name, a tensor, a generator), carried into reports.
    pub source: String,
}

impl PointCloud {
    /// Checks the shape and that every value is finite and within ±[`super::MAX_MAGNITUDE`].
    pub fn new(
        n: usize,
        dim: usize,
        data: Vec<f64>,
        source: impl Into<String>,
    ) -> Result<Self, GeometryError> {
        if dim == 0 {
            return Err(GeometryError::NoDimension);
        }
        if n.checked_mul(dim) != Some(data.len()) {
            return Err(GeometryError::Shape {
                n,
                dim,
                values: data.len(),
            });
        }
        if let Some(at) = data.iter().position(|&v| !acceptable(v)) {
            return Err(value_error(at, dim, data[at]));
        }
        Ok(Self {
            n,
            dim,
            data,
            source: source.into(),
        })
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// All values, row-major `[n, dim]`.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Point `i` (panics if `i >= n`, which is a caller bug, never user data).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn into_data(self) -> Vec<f64> {
        self.data
    }
}
