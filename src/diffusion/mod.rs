//! Reverse-time diffusion: OU time grids, samplers and trajectory storage. Knows models only through
//! the `Denoiser` / `ExactModel` / `TokenModel` traits; never touches the UI or the worker.
//!
//! - [`schedule`]: reverse-time grids (the OU coefficients are `base::ou`);
//! - [`sampler`]: the step-level API ([`Batch`] of rows with stable ids, [`Sampler::step`]) that every
//!   experiment builds on, batched and parallel, bit-identical whatever the thread count;
//! - [`trajectories`]: whole runs from t_max to t_min with selectable stored steps ([`run_trajectories`]);
//! - [`discrete`]: reverse samplers for token sequences under mask and flip noise;
//! - [`noise`]: the fast exact Gaussian noise per row; [`memory`]: the check before large allocations.

pub mod discrete;
pub mod memory;
pub mod noise;
pub mod sampler;
pub mod schedule;
pub mod trajectories;

pub use noise::NoiseStream;
pub use sampler::{Batch, Sampler, StepKind};
pub use schedule::{GridSpacing, time_grid};
pub use trajectories::{
    InitKind, SamplingSpec, StoreSteps, Trajectories, forward_noise_in_place, forward_noised,
    run_trajectories,
};

use crate::model::ModelError;
use thiserror::Error;

/// What can go wrong while sampling.
#[derive(Debug, Error)]
pub enum DiffusionError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("invalid sampler settings: {0}")]
    Spec(String),
    #[error("{0}")]
    Rows(String),
    #[error(
        "{what} needs about {} but the limit is {} (half of the available memory); \
         reduce trajectories, stored steps or dimension",
        memory::human_bytes(*needed),
        memory::human_bytes(*limit)
    )]
    TooLarge {
        what: String,
        needed: u64,
        limit: u64,
    },
    #[error(
        "sampling produced non-finite values in {rows} of {total} trajectories (by t = {t}): the model \
         returned NaN or infinity, or the steps are too large for it (use more steps or a log grid)"
    )]
    Diverged { rows: usize, total: usize, t: f64 },
    #[error("cancelled")]
    Cancelled,
}
