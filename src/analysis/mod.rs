//! Measurements: manifold geometry of point clouds and speciation of trajectories, and the view data
//! the fronts show (`view_data`), and parameter sweeps of the speciation lab (`sweep`, which reads scenes
//! as the view data do). No UI.

pub mod compare;
pub mod control;
pub mod geometry;
pub mod speciation;
pub mod view_data;
