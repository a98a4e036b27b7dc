//! Labellers: map end points of reverse trajectories to classes (`docs/science/speciation.md` §3). Any sampler
//! (exact or learned denoiser) is judged by an exact model's Bayes posterior — the analytic model itself
//! or the one a learned model imitates — or, for a model with neither, by a scene's labeller of clean
//! states applied to the model's x̂_0. Owns no dynamics.

use super::SpeciationError;
use crate::model::class_labeller::ClassLabeller;
use crate::model::{Denoiser, ExactModel};
use crate::rng::{Domain, stream};
use rand::Rng;
use rayon::prelude::*;

/// How a class is read off the posterior r_k(x, t_min).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelRule {
    /// Bayes argmax of r_k (default).
    Argmax,
    /// A class drawn from r_k (makes the cloning = posterior identity exact with overlapping classes).
    Sampled,
}

impl LabelRule {
    /// The name used in scene files and reports.
    pub fn name(self) -> &'static str {
        match self {
            LabelRule::Argmax => "argmax",
            LabelRule::Sampled => "sampled",
        }
    }
}

/// Anything that gives the class posterior p(k | x_t) of states.
pub trait Labeller: Sync {
    /// Number of classes K.
    fn classes(&self) -> usize;

    /// p(k | x_t) of every row of `x` (`[n, d]`) into `out` (`[n, K]`).
    fn posterior(&self, x: &[f32], t: f64, out: &mut [f64]) -> Result<(), SpeciationError>;
}

/// The Bayes posterior of an exact model.
pub struct ExactLabeller<'a>(pub &'a dyn ExactModel);

impl Labeller for ExactLabeller<'_> {
    fn classes(&self) -> usize {
        self.0.weights().len()
    }

    fn posterior(&self, x: &[f32], t: f64, out: &mut [f64]) -> Result<(), SpeciationError> {
        exact_posteriors(self.0, x, t, out)
    }
}

/// Classes of a model without an exact posterior: a labeller of clean states (`ClassLabeller`) applied
/// to the model's own x̂_0 = D(x_t, t), so that the class along a trajectory is the one it is heading
/// for (at t_min, x̂_0 ≈ x_t).
pub struct DenoisedLabeller<'a> {
    pub dynamics: &'a dyn Denoiser,
    pub classes: &'a ClassLabeller,
}

impl Labeller for DenoisedLabeller<'_> {
    fn classes(&self) -> usize {
        self.classes.classes()
    }

    fn posterior(&self, x: &[f32], t: f64, out: &mut [f64]) -> Result<(), SpeciationError> {
        let (d, k) = (self.dynamics.dim().max(1), self.classes().max(1));
        let mut denoised = vec![0f32; ROWS_PER_CALL.min(x.len() / d) * d];
        for (rows, dest) in x
            .chunks(ROWS_PER_CALL * d)
            .zip(out.chunks_mut(ROWS_PER_CALL * k))
        {
            let clean = &mut denoised[..rows.len()];
            self.dynamics.denoise(rows, t, clean, None)?;
            dest.copy_from_slice(&self.classes.posterior(clean)?);
        }
        Ok(())
    }
}

/// Rows per batched `denoise` call: bounds the scratch to a few MB whatever n is.
const ROWS_PER_CALL: usize = 4096;

/// p(k | x_t) of every row of `x` (`[n, d]`) into `out` (`[n, K]`) from the model's batched `denoise`
/// (its f32 posterior; far cheaper per row than `class_log_joint`, which rebuilds per-time tables).
pub fn exact_posteriors(
    model: &dyn ExactModel,
    x: &[f32],
    t: f64,
    out: &mut [f64],
) -> Result<(), SpeciationError> {
    let (d, k) = (model.dim().max(1), model.weights().len().max(1));
    let mut denoised = vec![0f32; ROWS_PER_CALL.min(x.len() / d) * d];
    let mut post = vec![0f32; ROWS_PER_CALL.min(x.len() / d) * k];
    for (rows, dest) in x
        .chunks(ROWS_PER_CALL * d)
        .zip(out.chunks_mut(ROWS_PER_CALL * k))
    {
        let n = rows.len() / d;
        model.denoise(rows, t, &mut denoised[..n * d], Some(&mut post[..n * k]))?;
        dest.iter_mut()
            .zip(&post[..n * k])
            .for_each(|(o, &p)| *o = f64::from(p));
    }
    Ok(())
}

/// Labels of `[n, K]` posteriors; row i of a sampled rule draws from `stream(seed, Analysis, ids[i])`.
pub fn labels(
    posteriors: &[f64],
    classes: usize,
    rule: LabelRule,
    seed: u64,
    ids: &[u64],
) -> Vec<u32> {
    posteriors
        .par_chunks(classes.max(1))
        .zip(ids.par_iter())
        .map(|(r, &id)| {
            let chosen = match rule {
                LabelRule::Argmax => r
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(k, _)| k),
                LabelRule::Sampled => {
                    let u: f64 = stream(seed, Domain::Analysis, id).random();
                    let mut acc = 0.0;
                    r.iter()
                        .position(|&p| {
                            acc += p;
                            u < acc
                        })
                        .unwrap_or(classes.saturating_sub(1))
                }
            };
            chosen as u32
        })
        .collect()
}
