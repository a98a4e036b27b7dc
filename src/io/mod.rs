//! File formats: arrays in and out (`.npy`, `.safetensors`, `.csv`), recorded trajectory files, films
//! (`.gif`, `.mp4`) and atomic writes.
//!
//! Every write goes through [`atomic::write_atomic`] (films through [`atomic::StagedFile`]), so a failed
//! or cancelled write never leaves a partial file. Readers check sizes before allocating and name the
//! file in every error.

pub mod atomic;
pub mod csv;
pub mod film;
pub mod film_pipeline;
pub mod memory;
pub mod npy;
pub mod points;
pub mod recorded;
pub mod tensors;

pub use points::{StepSelection, load_points};
pub use recorded::{
    DataFile, LabelMeaning, Labels, Recording, RecordingError, load_data, load_recording,
};

use std::path::PathBuf;
use thiserror::Error;

/// A file-format error, always naming the file it concerns (path last, as users scan for it).
#[derive(Debug, Error)]
pub enum IoError {
    #[error("cannot read: {source}: {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write: {source}: {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{problem}: {path}")]
    Format { path: PathBuf, problem: String },
    #[error("unsupported file type '{extension}' (expected {expected}): {path}")]
    Extension {
        path: PathBuf,
        extension: String,
        expected: &'static str,
    },
}

impl IoError {
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        IoError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
