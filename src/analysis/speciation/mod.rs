//! Speciation times (`docs/science/speciation.md` §2–§3): theory and measurement.
//!
//! Theory: exact closed forms and quadratures (`universal`, `gaussian`, `ising`), Monte Carlo of the
//! free-entropy difference and of φ_post for any exact model (`free_entropy`, `posterior_curve`; under
//! discrete noise `discrete_posterior`, and the laws of `discrete_laws`), class hierarchies
//! (`hierarchy`). Measurement along reverse dynamics: `cloning`, `uturn`, `commitment` (under discrete
//! noise `discrete_cloning`, `discrete_uturn`, `token_commitment`); `data_source` gives their data (an
//! exact model's sampler or a bank of a model's own labelled samples). `report` assembles everything
//! for a scene. No UI, no file formats.

pub mod cloning;
pub mod commitment;
pub mod data_source;
pub mod discrete_cloning;
pub mod discrete_laws;
pub mod discrete_posterior;
pub mod discrete_uturn;
pub mod free_entropy;
pub mod gaussian;
pub mod hierarchy;
pub mod ising;
pub mod labeller;
pub mod laws;
pub mod posterior_curve;
pub mod report;
pub mod token_commitment;
pub mod universal;
pub mod uturn;

pub use crate::analysis::control::{Cancelled, Control};
use crate::worker::{JobContext, JobError};
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
    #[error(transparent)]
    Labeller(#[from] crate::model::class_labeller::LabellerError),
    #[error("cancelled")]
    Cancelled,
}

impl From<Cancelled> for SpeciationError {
    fn from(_: Cancelled) -> Self {
        SpeciationError::Cancelled
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
