//! The exact-posterior cloning curve φ_post(t) = E Σ_g r_g(x_t)² (`docs/science/speciation.md` §3.1 item 5,
//! §3.3) for any `ExactModel`, from fixed forward samples x_t = a_t x_0 + sqrt(Δ_t) z (common random
//! numbers, so φ_post is smooth in t and crossings can be bisected). No dynamics, no labeller.

use super::SpeciationError;
use super::gaussian::{bisect_down, scan_times};
use super::hierarchy::Level;
use super::labeller::exact_posteriors;
use crate::base::ou::{noise_var, signal};
use crate::model::ExactModel;
use crate::rng::{Domain, stream};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Fixed data points and noise vectors: x_t for any t is a_t x0 + sqrt(Δ_t) noise.
#[derive(Clone, Debug)]
pub struct ForwardSamples {
    pub dim: usize,
    /// `[n, d]`
    pub x0: Vec<f32>,
    /// `[n]` class of each data point.
    pub classes: Vec<u32>,
    /// `[n, d]` standard normal.
    pub noise: Vec<f32>,
}

/// `[n, d]` standard normals, row i from `stream(seed, ForwardNoise, first_row + i)`.
pub(crate) fn forward_noise(n: usize, d: usize, seed: u64, first_row: u64) -> Vec<f64> {
    let mut noise = vec![0.0; n * d];
    noise
        .par_chunks_mut(d.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            let mut rng = stream(seed, Domain::ForwardNoise, first_row + i as u64);
            row.iter_mut()
                .for_each(|v| *v = StandardNormal.sample(&mut rng));
        });
    noise
}

/// Rows of x_t built and classified at once (bounds the scratch whatever n is).
const ROWS_PER_BLOCK: usize = 4096;

impl ForwardSamples {
    /// n data points x_0 ~ P_0 with their forward noise.
    pub fn draw(model: &dyn ExactModel, n: usize, seed: u64) -> Self {
        let samples = model.sample_x0(n, seed);
        let dim = model.dim();
        ForwardSamples {
            dim,
            x0: samples.points,
            classes: samples.labels,
            noise: forward_noise(n, dim, seed, 0)
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// `[n, K]` exact class posteriors p(k | x_t) of every sample.
    pub fn class_posteriors(
        &self,
        model: &dyn ExactModel,
        t: f64,
    ) -> Result<Vec<f64>, SpeciationError> {
        let (d, k) = (self.dim.max(1), model.weights().len());
        let (a, s) = (signal(t) as f32, noise_var(t).sqrt() as f32);
        let mut out = vec![0.0; self.len() * k];
        let mut x = vec![0f32; ROWS_PER_BLOCK.min(self.len()) * d];
        for ((x0, z), dest) in self
            .x0
            .chunks(ROWS_PER_BLOCK * d)
            .zip(self.noise.chunks(ROWS_PER_BLOCK * d))
            .zip(out.chunks_mut(ROWS_PER_BLOCK * k.max(1)))
        {
            let x = &mut x[..x0.len()];
            x.par_iter_mut()
                .zip(x0.par_iter().zip(z))
                .for_each(|(o, (&v, &n))| *o = a * v + s * n);
            exact_posteriors(model, x, t, dest)?;
        }
        Ok(out)
    }
}

/// φ_post at every level from `[n, K]` class posteriors: mean over rows of Σ_g r_g² (summed in row
/// order, so the value does not depend on the thread count).
pub fn phi_from_posteriors(posteriors: &[f64], classes: usize, levels: &[Level]) -> Vec<f64> {
    let rows = posteriors.len() / classes.max(1);
    levels
        .iter()
        .map(|level| {
            let mut groups = vec![0.0; level.groups()];
            let total: f64 = posteriors
                .chunks(classes.max(1))
                .map(|r| {
                    level.group_posterior(r, &mut groups);
                    groups.iter().map(|g| g * g).sum::<f64>()
                })
                .sum();
            total / rows.max(1) as f64
        })
        .collect()
}

/// φ_post(t) at every level.
pub fn phi_posterior(
    model: &dyn ExactModel,
    samples: &ForwardSamples,
    levels: &[Level],
    t: f64,
) -> Result<Vec<f64>, SpeciationError> {
    let posteriors = samples.class_posteriors(model, t)?;
    Ok(phi_from_posteriors(
        &posteriors,
        model.weights().len(),
        levels,
    ))
}

/// First downward crossings of φ_post by several (level index, φ value) targets: one shared log-spaced
/// scan of all levels, then bisection of each target's first bracket (common random numbers).
pub fn posterior_crossings(
    model: &dyn ExactModel,
    samples: &ForwardSamples,
    levels: &[Level],
    targets: &[(usize, f64)],
) -> Result<Vec<Option<f64>>, SpeciationError> {
    let scan = scan_times()
        .into_iter()
        .map(|t| Ok((t, phi_posterior(model, samples, levels, t)?)))
        .collect::<Result<Vec<(f64, Vec<f64>)>, SpeciationError>>()?;
    // Evaluations inside a bracket repeat the scan's (successful) call at another t > 0; a failure
    // there would be a model bug and shows as NaN, ending the bisection on that side.
    Ok(targets
        .iter()
        .map(|&(level, value)| {
            let bracket = scan
                .windows(2)
                .find(|w| w[0].1[level] >= value && w[1].1[level] < value)?;
            let one_level = std::slice::from_ref(&levels[level]);
            Some(bisect_down(bracket[0].0, bracket[1].0, |t| {
                phi_posterior(model, samples, one_level, t).map_or(f64::NAN, |p| p[0]) - value
            }))
        })
        .collect())
}
