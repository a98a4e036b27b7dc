//! Geometry of point clouds (`spec/metrics.md` §2): PCA, intrinsic dimension, flatness, density, holes
//! and the boundary-curvature proxy, gathered into one [`MetricReport`]. Pure computation on in-memory
//! clouds: no file formats (see `io`), no drawing (the view renders the rasters and regions given here).

pub mod cloud;
pub mod density;
pub mod flatness;
pub mod holes;
pub mod intrinsic_dim;
pub mod knn;
pub mod params;
pub mod pca;
pub mod plane;
pub mod reference_clouds;
pub mod report;
pub mod wall;

pub use cloud::PointCloud;
pub use params::MetricParams;
pub use pca::PcaBasis;
pub use report::{MetricReport, measure};

/// Largest accepted magnitude: squares and sums of squares of 1e150 stay far from f64 overflow.
pub const MAX_MAGNITUDE: f64 = 1e150;

/// Finite and within ±[`MAX_MAGNITUDE`] (false for NaN).
fn acceptable(value: f64) -> bool {
    value.abs() <= MAX_MAGNITUDE
}

/// The error for an unacceptable value at `index` of a row-major `[_, dim]` array.
fn value_error(index: usize, dim: usize, value: f64) -> GeometryError {
    let (point, coordinate) = (index / dim, index % dim);
    if value.is_finite() {
        GeometryError::TooLarge {
            point,
            coordinate,
            value,
        }
    } else {
        GeometryError::NotFinite {
            point,
            coordinate,
            value,
        }
    }
}

use thiserror::Error;

/// Why a cloud cannot be measured.
#[derive(Debug, Error, PartialEq)]
pub enum GeometryError {
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
    #[error("{what} needs at least {needed} points, the cloud has {n}")]
    TooFewPoints {
        what: &'static str,
        needed: usize,
        n: usize,
    },
    #[error("parameter {name} = {value} is out of range ({expected})")]
    Parameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
}
