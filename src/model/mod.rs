//! Denoisers: the one interface every sampler, view and measurement talks to.
//!
//! A model maps a batch of noisy states x_t and an OU time t to E[x_0 | x_t] (the score follows by
//! Tweedie, `docs/science/speciation.md` §1.2). Exact analytic models also give the class posterior, log-densities
//! and data samples. This module owns the traits and the analytic mixtures; it never touches the UI or
//! the worker.
//!
//! Conventions shared by all implementations:
//! - states are row-major `f32` batches of shape `[n, d]`; posteriors `[n, K]`;
//! - time is OU time, x_t = e^{-t} x_0 + sqrt(1 - e^{-2t}) z, and must be > 0 for `denoise`;
//! - exact (`f64`) single-row methods exist for tests and theory, batched `f32` ones for sampling.

pub mod analytic;
pub mod class_labeller;
pub mod discrete;
pub mod gaussian_mixture;
pub mod guidance;
pub mod ising;
pub mod learned;
pub mod math;
pub mod onnx;

pub use guidance::Guide;
use thiserror::Error;

/// What can go wrong when building or evaluating a model.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModelError {
    #[error("state batch has {len} values, which is not a whole number of rows of dimension {dim}")]
    BatchShape { len: usize, dim: usize },
    #[error("output buffer has {got} values, expected {expected}")]
    OutputShape { got: usize, expected: usize },
    #[error("time t = {0} is outside (0, ∞): the denoiser is defined for t > 0 only")]
    BadTime(f64),
    #[error("invalid model: {0}")]
    Invalid(String),
    #[error("model evaluation failed: {0}")]
    Evaluation(String),
}

/// E[x_0 | x_t] for a batch of states, plus whatever optional capabilities the model has.
pub trait Denoiser: Send + Sync {
    /// Dimension d of one state.
    fn dim(&self) -> usize;

    /// Names of the classes the model knows (by default none: a learned denoiser knows no classes).
    fn class_labels(&self) -> &[String] {
        &[]
    }

    /// Whether `denoise` can fill the exact class posterior p(k | x_t) (by default not).
    fn has_exact_posterior(&self) -> bool {
        false
    }

    /// For every row of `x` (`[n, d]`) at OU time `t > 0`, writes E[x_0 | x_t] into `denoised` (`[n, d]`)
    /// and, when `posterior` is given and `has_exact_posterior()`, p(k | x_t) into it (`[n, K]`).
    fn denoise(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError>;

    /// Whether [`Self::denoise_guided`] works: the model knows x̂_0 given a class (by default not).
    fn is_class_conditional(&self) -> bool {
        false
    }

    /// Classifier-free guidance (`guidance.rs`): for every row i, x̂_0(∅) + w (x̂_0(k_i) − x̂_0(∅)) with
    /// k_i = `guide.classes[i]` into `denoised`; `posterior` as in [`Self::denoise`] (the unconditional
    /// p(k | x_t)). Models without a class input refuse.
    fn denoise_guided(
        &self,
        _x: &[f32],
        _t: f64,
        _guide: Guide<'_>,
        _denoised: &mut [f32],
        _posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        Err(ModelError::Invalid(
            "classifier-free guidance needs a class-conditional model (a Gaussian or Ising mixture)"
                .into(),
        ))
    }

    /// Checks the shapes of a `denoise` call (`x` and `denoised` `[n, d]`, `posterior` `[n, K]` with K
    /// the number of [`Self::class_labels`]) and the time; returns the batch size n.
    fn check_batch(
        &self,
        x: &[f32],
        denoised: &[f32],
        posterior: Option<&[f32]>,
        t: f64,
    ) -> Result<usize, ModelError> {
        let (dim, classes) = (self.dim(), self.class_labels().len());
        if !(t > 0.0 && t.is_finite()) {
            return Err(ModelError::BadTime(t));
        }
        if dim == 0 || !x.len().is_multiple_of(dim) {
            return Err(ModelError::BatchShape { len: x.len(), dim });
        }
        let n = x.len() / dim;
        if denoised.len() != x.len() {
            return Err(ModelError::OutputShape {
                got: denoised.len(),
                expected: x.len(),
            });
        }
        if let Some(p) = posterior
            && p.len() != n * classes
        {
            return Err(ModelError::OutputShape {
                got: p.len(),
                expected: n * classes,
            });
        }
        Ok(n)
    }
}

/// Data points drawn from a model's data law P_0, with the class each came from.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledSamples {
    /// `[n, d]` row-major.
    pub points: Vec<f32>,
    /// `[n]`, indices into the model's classes.
    pub labels: Vec<u32>,
    pub dim: usize,
}

/// An analytic model with exact posterior, density and sampling (Gaussian and Ising mixtures).
pub trait ExactModel: Denoiser {
    /// Class weights w_k (sum to 1).
    fn weights(&self) -> &[f64];

    /// ln w_k + Φ_k(x, t) for every class k, where Φ_k is ln P_t(x | k) up to an additive constant that
    /// is the same for all classes (`docs/science/speciation.md` §2.0); softmax of `out` is p(k | x_t).
    /// `x` is one state (`[d]`), `out` has K entries, t > 0.
    fn class_log_joint(&self, x: &[f64], t: f64, out: &mut [f64]);

    /// `class_log_joint` of every row of `x` (`[n, d]`) into `out` (`[n, K]`), rows in parallel; each
    /// row equals the single-row result exactly. Models override it to build their per-time tables
    /// once per batch instead of once per row.
    fn class_log_joint_batch(&self, x: &[f64], t: f64, out: &mut [f64]) {
        use rayon::prelude::*;
        let (d, k) = (self.dim().max(1), self.weights().len().max(1));
        x.par_chunks(d)
            .zip(out.par_chunks_mut(k))
            .for_each(|(row, ell)| self.class_log_joint(row, t, ell));
    }

    /// The exact normalised log-density ln P_t(x) of one state at t > 0.
    fn log_density(&self, x: &[f64], t: f64) -> f64;

    /// The exact score ∇_x ln P_t(x) of one state at t > 0, into `out` (`[d]`).
    fn score(&self, x: &[f64], t: f64, out: &mut [f64]);

    /// `n` data points x_0 ~ P_0 with their classes; row i depends only on (seed, i).
    fn sample_x0(&self, n: usize, seed: u64) -> LabelledSamples;

    /// `n` data points x_0 ~ P_k of one class; row i depends only on (seed, class, i).
    fn sample_class_x0(&self, class: usize, n: usize, seed: u64) -> Vec<f32>;
}
