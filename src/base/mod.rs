//! The base layer: data types and arithmetic that every other layer shares and that import nothing
//! else from the crate. Models, samplers, file formats and measurements all sit above it.
//!
//! - [`ou`]: the one OU schedule (a_t, Δ_t) and the DDPM β-schedule conversion to OU time.

pub mod ou;
