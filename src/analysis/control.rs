//! Progress reporting and cancellation for long computations, in the shape `diffusion` uses (a
//! fraction in [0, 1] with a stage text; a cancel flag checked between steps). The CLI wires it to a
//! terminal, the app's tasks to a worker job, tests to counters.

use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// The computation stopped because its cancel flag was set.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("cancelled")]
pub struct Cancelled;

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

    /// Maps the fractions of the following `step` and `report` calls into [from, to] of the whole job.
    pub fn set_span(&mut self, from: f64, to: f64) {
        self.span = (from, to);
    }

    /// Reports progress (a fraction of the current stage) without checking the cancel flag: for
    /// callees that check it themselves.
    pub fn report(&mut self, fraction: f64, stage: &str) {
        let (from, to) = self.span;
        let overall = from + (to - from) * fraction.clamp(0.0, 1.0);
        (self.progress)(overall as f32, stage);
    }

    /// Reports progress, then returns `Cancelled` if the cancel flag is set.
    pub fn step(&mut self, fraction: f64, stage: &str) -> Result<(), Cancelled> {
        self.report(fraction, stage);
        self.check()
    }

    /// `Cancelled` if the cancel flag is set.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// The cancel flag, for callees that take one (`run_trajectories`, the learned samplers).
    pub fn cancel_flag(&self) -> &'a AtomicBool {
        self.cancel
    }
}
