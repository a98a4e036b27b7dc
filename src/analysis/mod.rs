//! Measurements: manifold geometry of point clouds and speciation of trajectories. No UI.

pub mod compare;
pub mod geometry;
pub mod speciation;
