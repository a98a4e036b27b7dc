//! Measurements: manifold geometry of point clouds and speciation of trajectories. No UI.

pub mod geometry;
pub mod speciation;
