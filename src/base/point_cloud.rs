//! The point cloud every measurement takes: `n` points of dimension `dim`, row-major f64, all finite.
//! Construction validates shape and finiteness once, so the measurements never re-check user data.
//! It lives in the base layer because file readers (`io`) and hidden-state capture (`model`) build
//! clouds that `analysis` measures.

use thiserror::Error;

/// Largest accepted magnitude: squares and sums of squares of 1e150 stay far from f64 overflow.
pub const MAX_MAGNITUDE: f64 = 1e150;

/// Why values cannot form a point cloud.
#[derive(Debug, Error, PartialEq)]
pub enum CloudError {
    #[error("point cloud has {values} values, which is not {n} points x {dim} dimensions")]
    Shape { n: usize, dim: usize, values: usize },
    #[error("point cloud has dimension 0")]
    NoDimension,
    #[error("value at point {point}, coordinate {coordinate} is not finite ({value})")]
    NotFinite {
        point: usize,
        coordinate: usize,
        value: f64,
    },
    #[error(
        "value at point {point}, coordinate {coordinate} is {value:e}, beyond ±1e150 where squared \
         distances overflow"
    )]
    TooLarge {
        point: usize,
        coordinate: usize,
        value: f64,
    },
}

/// Finite and within ±[`MAX_MAGNITUDE`] (false for NaN).
pub fn acceptable(value: f64) -> bool {
    value.abs() <= MAX_MAGNITUDE
}

/// The error for an unacceptable value at `index` of a row-major `[_, dim]` array.
pub fn value_error(index: usize, dim: usize, value: f64) -> CloudError {
    let (point, coordinate) = (index / dim, index % dim);
    if value.is_finite() {
        CloudError::TooLarge {
            point,
            coordinate,
            value,
        }
    } else {
        CloudError::NotFinite {
            point,
            coordinate,
            value,
        }
    }
}

/// `n` points in ℝ^`dim`, row-major (`data[i * dim + j]`), every value finite and within
/// ±[`MAX_MAGNITUDE`].
#[derive(Clone, Debug, PartialEq)]
pub struct PointCloud {
    n: usize,
    dim: usize,
    data: Vec<f64>, // [n, dim]
    /// Where the points came from (a file name, a tensor, a generator), carried into reports.
    pub source: String,
}

impl PointCloud {
    /// Checks the shape and that every value is finite and within ±[`MAX_MAGNITUDE`].
    pub fn new(
        n: usize,
        dim: usize,
        data: Vec<f64>,
        source: impl Into<String>,
    ) -> Result<Self, CloudError> {
        if dim == 0 {
            return Err(CloudError::NoDimension);
        }
        if n.checked_mul(dim) != Some(data.len()) {
            return Err(CloudError::Shape {
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
