//! The base layer: data types and arithmetic that every other layer shares and that import nothing
//! else from the crate. Models, samplers, file formats and measurements all sit above it.
//!
//! - [`grid`]: a raster over a rectangle, from measurements to the renderer.
//! - [`ou`]: the one OU schedule (a_t, Δ_t) and the DDPM β-schedule conversion to OU time.
//! - [`point_cloud`]: the validated `[n, d]` cloud that files produce and measurements take.

pub mod grid;
pub mod ou;
pub mod point_cloud;
