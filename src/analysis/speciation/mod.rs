//! Speciation times (`spec/speciation.md` §2–§3): theory and measurement.
//!
//! Theory: exact closed forms and quadratures (`universal`, `gaussian`, `ising`), Monte Carlo of the
//! free-entropy difference and of φ_post for any exact model (`free_entropy`, `posterior_curve`; under
//! discrete noise `discrete_posterior`), class hierarchies (`hierarchy`). Measurement along reverse
//! dynamics: `cloning`, `uturn`, `commitment`. `report` assembles everything for a scene. No UI, no
//! file formats.

pub mod cloning;
pub mod commitment;
pub mod discrete_posterior;
pub mod free_entropy;
pub mod gaussian;
pub mod hierarchy;
pub mod ising;
pub mod labeller;
pub mod posterior_curve;
pub mod report;
pub mod universal;
pub mod uturn;

use crate::worker::{JobContext, JobError};
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// Range of OU times searched for crossings: (first, last, log-spaced scan points).
pub(crate) const TIME_SEARCH: (f64, f64, usize) = (1e-3, 12.0, 28);

/// What can go wrong in a speciation computation.
#[derive(Debug, Error)]
pub enum SpeciationError {
    #[error("invalid speciation settings: {0}")]
    Invalid(String),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Diffusion(#[from] crate::diffusion::DiffusionError),
    #[error("cancelled")]
    Cancelled,
}

/// Progress reporting and cancellation for long computations, in the shape `diffusion` uses
/// (fraction in [0, 1] and a stage text; a cancel flag checked between steps).
pub struct Control<'a> {
    progress: &'a mut dyn FnMut(f32, &str),
    cancel: &'a AtomicBool,
    /// The part [from, to] of the whole job that the current stage covers.
    span: (f64, f64),
}

impl<'a> Control<'a> {
    pub fn new(progress: &'a mut dyn FnMut(f32, &str), cancel: &'a AtomicBool) -> Self {
        Control {
            progress,
            cancel,
            span: (0.0, 1.0),
        }
    }

    /// Maps the fractions of the following `step` calls into [from, to] of the whole job.
    pub fn set_span(&mut self, from: f64, to: f64) {
        self.span = (from, to);
    }

    /// Reports progress (a fraction of the current stage), then returns `Cancelled` if the cancel flag
    /// is set.
    pub fn step(&mut self, fraction: f64, stage: &str) -> Result<(), SpeciationError> {
        let (from, to) = self.span;
        let overall = from + (to - from) * fraction.clamp(0.0, 1.0);
        (self.progress)(overall as f32, stage);
        if self.cancel.load(Ordering::Relaxed) {
            return Err(SpeciationError::Cancelled);
        }
        Ok(())
    }
}

/// Runs `f` with a `Control` wired to a worker job's progress channel and cancel flag.
pub fn with_job<T>(job: &JobContext, f: impl FnOnce(&mut Control) -> T) -> T {
    let mut progress = |fraction: f32, stage: &str| job.progress(fraction, stage);
    let mut control = Control::new(&mut progress, job.cancel_flag());
    f(&mut control)
}

impl From<SpeciationError> for JobError {
    fn from(error: SpeciationError) -> Self {
        match error {
            SpeciationError::Cancelled
            | SpeciationError::Diffusion(crate::diffusion::DiffusionError::Cancelled) => {
                JobError::Cancelled
            }
            other => JobError::failed(&other),
        }
    }
}
