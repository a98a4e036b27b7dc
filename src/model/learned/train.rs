//! The training loop shared by every learned model: AdamW with a cosine learning-rate decay, a
//! progress callback and a cancel flag so it can run as a worker job. The models supply the loss of
//! a batch (all data and noise from `rng::stream(seed, Training, step)`); nothing here is random.

use super::LearnedError;
use super::dyck;
use super::params::scalar;
use crate::rng;
use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A model together with its training data: the loss of batch `step` and of a fixed held-out set.
pub trait Objective {
    fn vars(&self) -> Vec<Var>;
    /// Scalar loss of training batch `step` (deterministic in the seed and `step`).
    fn batch_loss(&self, step: u64) -> candle_core::Result<Tensor>;
    /// Scalar loss on the held-out set, with fixed noise.
    fn heldout_loss(&self) -> candle_core::Result<Tensor>;
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    pub steps: usize,
    /// The learning rate rises linearly to `lr_start` over the first `warmup` steps, then decays to
    /// `lr_end` on a half cosine over the rest.
    pub lr_start: f64,
    pub lr_end: f64,
    pub warmup: usize,
    /// AdamW's second-moment decay.
    pub beta2: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            steps: 3000,
            lr_start: 1e-3,
            lr_end: 3e-4,
            warmup: 0,
            beta2: 0.999,
        }
    }
}

/// Optimiser settings and batch size of a shipped model (assets/models/PROVENANCE.md).
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub options: TrainOptions,
    pub batch: usize,
}

impl Recipe {
    /// The shipped tiny DiT (with `dit::shipped_config()` and logit-normal times). See PROVENANCE.md
    /// for the search behind it.
    pub fn dit() -> Self {
        Self {
            options: TrainOptions {
                steps: 11_000,
                lr_start: 2e-3,
                warmup: 100,
                ..TrainOptions::default()
            },
            batch: 32,
        }
    }

    /// The shipped Euler-Stack and its hard-stack baseline.
    pub fn euler_stack() -> Self {
        Self {
            options: TrainOptions {
                steps: 2000,
                ..TrainOptions::default()
            },
            batch: 64,
        }
    }

    /// The shipped masked-diffusion models (`masked::MaskedTraining` on words of an exact model).
    pub fn masked() -> Self {
        Self {
            options: TrainOptions {
                steps: 3000,
                lr_start: 2e-3,
                lr_end: 1e-4,
                warmup: 100,
                ..TrainOptions::default()
            },
            batch: 128,
        }
    }

    /// The shipped MLP denoiser.
    pub fn denoiser() -> Self {
        Self {
            options: TrainOptions {
                steps: 1500,
                ..TrainOptions::default()
            },
            batch: 256,
        }
    }
}

/// Reported after every step.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Steps done (1-based).
    pub step: usize,
    pub steps: usize,
    pub loss: f32,
    pub lr: f64,
    pub seconds: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    pub steps_done: usize,
    pub cancelled: bool,
    /// Every step's training loss.
    pub losses: Vec<f32>,
    /// Mean training loss over the last min(100, steps) steps.
    pub final_loss: f32,
    pub heldout_loss: f32,
    pub seconds: f64,
}

/// Runs `options.steps` optimiser steps (fewer if `cancel` is set; the flag is checked before every
/// step). The parameters are updated in place.
pub fn train(
    objective: &dyn Objective,
    options: &TrainOptions,
    progress: &mut dyn FnMut(&Progress),
    cancel: &AtomicBool,
) -> Result<TrainReport, LearnedError> {
    let start = Instant::now();
    let params = ParamsAdamW {
        lr: options.lr_start,
        beta2: options.beta2,
        ..ParamsAdamW::default()
    };
    let mut optimiser = AdamW::new(objective.vars(), params).map_err(LearnedError::compute)?;
    let mut losses = Vec::with_capacity(options.steps);
    let mut cancelled = false;
    for step in 0..options.steps {
        if cancel.load(Ordering::Relaxed) {
            cancelled = true;
            break;
        }
        let lr = cosine_lr(options, step);
        optimiser.set_learning_rate(lr);
        let loss = objective
            .batch_loss(step as u64)
            .map_err(LearnedError::compute)?;
        optimiser
            .backward_step(&loss)
            .map_err(LearnedError::compute)?;
        let value = scalar(&loss).map_err(LearnedError::compute)?;
        if !value.is_finite() {
            return Err(LearnedError::Diverged { step, loss: value });
        }
        losses.push(value);
        progress(&Progress {
            step: step + 1,
            steps: options.steps,
            loss: value,
            lr,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let tail = &losses[losses.len().saturating_sub(100)..];
    let final_loss = if tail.is_empty() {
        f32::NAN
    } else {
        tail.iter().sum::<f32>() / tail.len() as f32
    };
    let heldout_loss = objective
        .heldout_loss()
        .and_then(|l| scalar(&l))
        .map_err(LearnedError::compute)?;
    Ok(TrainReport {
        steps_done: losses.len(),
        cancelled,
        losses,
        final_loss,
        heldout_loss,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn cosine_lr(options: &TrainOptions, step: usize) -> f64 {
    if step < options.warmup {
        return options.lr_start * (step + 1) as f64 / options.warmup as f64;
    }
    let decay_steps = options.steps.saturating_sub(options.warmup);
    let progress = if decay_steps > 1 {
        (step - options.warmup) as f64 / (decay_steps - 1) as f64
    } else {
        0.0
    };
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    options.lr_end + (options.lr_start - options.lr_end) * cosine
}

/// Training-domain stream of the held-out noise (batch streams use indices below 2^48).
pub(crate) const HELDOUT_NOISE_STREAM: u64 = 4 << 48;
const TRAIN_STRINGS_TAG: u64 = 2 << 48;
const HELDOUT_STRINGS_TAG: u64 = 3 << 48;

/// Training strings per seed (`docs/science/metrics.md` §3.4).
pub const TRAIN_STRINGS: usize = 20_000;
pub const HELDOUT_STRINGS: usize = 1_000;

/// The Dyck-2 training and held-out strings of one seed.
#[derive(Clone, Debug)]
pub struct DyckData {
    pub len: usize,
    /// `[TRAIN_STRINGS, len]`.
    pub train: Vec<u32>,
    /// `[HELDOUT_STRINGS, len]`, drawn from a separate stream (may repeat training strings: the
    /// language has only 365,568 strings of length 16).
    pub heldout: Vec<u32>,
}

impl DyckData {
    pub fn new(len: usize, seed: u64) -> Self {
        Self {
            len,
            train: dyck::generate(TRAIN_STRINGS, len, seed, TRAIN_STRINGS_TAG),
            heldout: dyck::generate(HELDOUT_STRINGS, len, seed, HELDOUT_STRINGS_TAG),
        }
    }

    /// `batch` training strings drawn with replacement from `stream`, `[batch, len]`.
    pub fn batch(&self, stream: &mut rng::Stream, batch: usize) -> Vec<u32> {
        let count = self.train.len() / self.len;
        let mut out = Vec::with_capacity(batch * self.len);
        for _ in 0..batch {
            let i = stream.random_range(0..count);
            out.extend_from_slice(&self.train[i * self.len..(i + 1) * self.len]);
        }
        out
    }
}
