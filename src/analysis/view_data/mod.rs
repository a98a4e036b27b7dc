//! What the views show, computed without any UI: a scene sampled and projected on per-step and pooled
//! PCA bases (`cloud`), a stored step measured with its hole overlay in view coordinates and the
//! reference clouds' reports (`measured`), the speciation-lab settings a scene asks for (`lab`), the
//! discrete lab of a token scene (`discrete_lab`) and what its token view draws (`token_view`), and
//! the model of the DiT-vs-Euler-Stack metric table (`metric_table`), and an image model's pictures
//! (`image_strip`). The app runs these as worker
//! jobs, the CLI (`render`, `speciation`) and the tests call them directly.

pub mod cloud;
pub mod discrete_lab;
pub mod image_strip;
pub mod lab;
pub mod measured;
pub mod metric_table;
pub mod sweep;
pub mod token_laws;
pub mod token_view;

pub use cloud::{Cloud, CloudOrigin, Imported, MAX_DISPLAY_STEPS};
pub use measured::{HoleOverlay, Measured, ReferenceReports, StepFilter};

use crate::analysis::compare::CompareError;
use crate::analysis::control::Cancelled;
use crate::analysis::geometry::{CloudError, GeometryError};
use crate::analysis::speciation::SpeciationError;
use crate::diffusion::DiffusionError;
use crate::model::learned::LearnedError;
use crate::scene::SceneError;
use thiserror::Error;

/// Why view data could not be computed. Every cancellation, whichever computation noticed it, is
/// [`ViewDataError::Cancelled`].
#[derive(Debug, Error)]
pub enum ViewDataError {
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Diffusion(DiffusionError),
    #[error(transparent)]
    Learned(LearnedError),
    #[error(transparent)]
    Geometry(#[from] GeometryError),
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error(transparent)]
    Speciation(SpeciationError),
    #[error(transparent)]
    Compare(CompareError),
    /// The scene or file cannot be shown this way (e.g. a denoiser opened as a sequence model).
    #[error("{0}")]
    Unsuitable(String),
}

impl From<Cancelled> for ViewDataError {
    fn from(_: Cancelled) -> Self {
        ViewDataError::Cancelled
    }
}

impl From<DiffusionError> for ViewDataError {
    fn from(e: DiffusionError) -> Self {
        match e {
            DiffusionError::Cancelled => ViewDataError::Cancelled,
            e => ViewDataError::Diffusion(e),
        }
    }
}

impl From<LearnedError> for ViewDataError {
    fn from(e: LearnedError) -> Self {
        match e {
            LearnedError::Cancelled => ViewDataError::Cancelled,
            e => ViewDataError::Learned(e),
        }
    }
}

impl From<SpeciationError> for ViewDataError {
    fn from(e: SpeciationError) -> Self {
        match e {
            SpeciationError::Cancelled | SpeciationError::Diffusion(DiffusionError::Cancelled) => {
                ViewDataError::Cancelled
            }
            e => ViewDataError::Speciation(e),
        }
    }
}

impl From<CompareError> for ViewDataError {
    fn from(e: CompareError) -> Self {
        match e {
            CompareError::Cancelled | CompareError::Model(LearnedError::Cancelled) => {
                ViewDataError::Cancelled
            }
            e => ViewDataError::Compare(e),
        }
    }
}
