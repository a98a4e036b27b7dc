//! Speciation times (`spec/speciation.md` §2–§3): theory and measurement.
//!
//! Theory: exact closed forms and quadratures (`universal`, `gaussian`, `ising`), Monte Carlo of the
//! free-entropy difference and of φ_post for any exact model (`free_entropy`, `posterior_curve`), class
//! hierarchies (`hierarchy`). Measurement along reverse dynamics: `cloning`, `uturn`, `commitment`.
//! `report` assembles everything for a scene. No UI, no file formats.

pub mod free_entropy;
pub mod gaussian;
pub mod hierarchy;
pub mod ising;
pub mod posterior_curve;
pub mod universal;

use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// Range of OU times searched for crossings: (first, last, log-spaced scan points).
pub(crate) const TIME_SEARCH: (f64, f64, usize) = (1e-3, 12.0, 48);

/// What can go wrong in a speciation computation.
#[derive(Debug, Error)]
pub enum SpeciationError {
    #[error("invalid speciation settings: {0}")]
    Invalid(String),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error("cancelled")]
    Cancelled,
}

/// Progress reporting and cancellation for long computations (fraction in [0, 1] and a stage text).
pub struct Control<'a> {
    progress: &'a (dyn Fn(f64, &str) + Sync),
    cancel: &'a AtomicBool,
}

impl<'a> Control<'a> {
    pub fn new(progress: &'a (dyn Fn(f64, &str) + Sync), cancel: &'a AtomicBool) -> Self {
        Control { progress, cancel }
    }

    /// Reports progress, then returns `Cancelled` if the cancel flag is set.
    pub fn step(&self, fraction: f64, stage: &str) -> Result<(), SpeciationError> {
        (self.progress)(fraction.clamp(0.0, 1.0), stage);
        if self.cancel.load(Ordering::Relaxed) {
            return Err(SpeciationError::Cancelled);
        }
        Ok(())
    }
}
