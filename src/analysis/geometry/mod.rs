//! Geometry of point clouds (`docs/science/metrics.md` §2): PCA, intrinsic dimension, flatness, density, holes
//! and the boundary-curvature proxy, gathered into one [`MetricReport`]. Pure computation on in-memory
//! clouds: no file formats (see `io`), no drawing (the view renders the rasters and regions given here).

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

pub use crate::base::point_cloud::{CloudError, MAX_MAGNITUDE, PointCloud};
pub use params::MetricParams;
pub use pca::PcaBasis;
pub use report::{MetricReport, measure};

use thiserror::Error;

/// Why a cloud cannot be measured.
#[derive(Debug, Error, PartialEq)]
pub enum GeometryError {
    #[error(transparent)]
    Cloud(#[from] CloudError),
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
