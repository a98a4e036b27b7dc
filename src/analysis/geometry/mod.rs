//! Geometry of point clouds (`spec/metrics.md` §2): PCA, intrinsic dimension, flatness, density, holes.
