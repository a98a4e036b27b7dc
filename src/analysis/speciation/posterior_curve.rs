//! The exact-posterior cloning curve φ_post(t) = E Σ_g r_g(x_t)² (`spec/speciation.md` §3.1 item 5,
//! §3.3) for any `ExactModel`, from fixed forward samples x_t = a_t x_0 + sqrt(Δ_t) z (common random
//! numbers, so φ_post is smooth in t and crossings can be bisected). No dynamics, no labeller.

use super::gaussian::{bisect_down, ou_coefficients, scan_times};
use super::hierarchy::Level;
use crate::model::ExactModel;
use crate::rng::{Domain, stream};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Fixed data points and noise vectors: x_t for any t is a_t x0 + sqrt(Δ_t) noise.
#[derive(Clone, Debug)]
pub struct ForwardSamples {
    pub dim: usize,
    /// `[n, d]`
    pub x0: Vec<f64>,
    /// `[n]` class of each data point.
    pub classes: Vec<u32>,
    /// `[n, d]` standard normal.
    pub noise: Vec<f64>,
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

impl ForwardSamples {
    /// n data points x_0 ~ P_0 with their forward noise.
    pub fn draw<M: ExactModel + ?Sized>(model: &M, n: usize, seed: u64) -> Self {
        let samples = model.sample_x0(n, seed);
        let dim = model.dim();
        ForwardSamples {
            dim,
            x0: samples.points.iter().map(|&v| f64::from(v)).collect(),
            classes: samples.labels,
            noise: forward_noise(n, dim, seed, 0),
        }
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Row i of x_t into `out` (`[d]`).
    pub fn noised_row(&self, i: usize, t: f64, out: &mut [f64]) {
        let (a2, delta) = ou_coefficients(t);
        let (a, s) = (a2.sqrt(), delta.sqrt());
        let d = self.dim;
        let (x0, z) = (
            &self.x0[i * d..(i + 1) * d],
            &self.noise[i * d..(i + 1) * d],
        );
        for ((o, &x), &n) in out.iter_mut().zip(x0).zip(z) {
            *o = a * x + s * n;
        }
    }

    /// `[n, K]` exact class posteriors p(k | x_t) of every sample.
    pub fn class_posteriors<M: ExactModel + ?Sized>(&self, model: &M, t: f64) -> Vec<f64> {
        let k = model.weights().len();
        let mut out = vec![0.0; self.len() * k];
        out.par_chunks_mut(k.max(1)).enumerate().for_each_init(
            || vec![0.0; self.dim],
            |x, (i, row)| {
                self.noised_row(i, t, x);
                model.class_log_joint(x, t, row);
                softmax_in_place(row);
            },
        );
        out
    }
}

/// Replaces log-weights by their softmax (log-sum-exp stabilised).
pub fn softmax_in_place(row: &mut [f64]) {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        total += *v;
    }
    row.iter_mut().for_each(|v| *v /= total);
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
pub fn phi_posterior<M: ExactModel + ?Sized>(
    model: &M,
    samples: &ForwardSamples,
    levels: &[Level],
    t: f64,
) -> Vec<f64> {
    let posteriors = samples.class_posteriors(model, t);
    phi_from_posteriors(&posteriors, model.weights().len(), levels)
}

/// First downward crossings of φ_post by several (level index, φ value) targets: one shared log-spaced
/// scan of all levels, then bisection of each target's first bracket (common random numbers).
pub fn posterior_crossings<M: ExactModel + ?Sized>(
    model: &M,
    samples: &ForwardSamples,
    levels: &[Level],
    targets: &[(usize, f64)],
) -> Vec<Option<f64>> {
    let scan: Vec<(f64, Vec<f64>)> = scan_times()
        .into_iter()
        .map(|t| (t, phi_posterior(model, samples, levels, t)))
        .collect();
    targets
        .iter()
        .map(|&(level, value)| {
            let bracket = scan.windows(2).find(|w| w[0].1[level] >= value && w[1].1[level] < value)?;
            let one_level = std::slice::from_ref(&levels[level]);
            Some(bisect_down(bracket[0].0, bracket[1].0, |t| {
                phi_posterior(model, samples, one_level, t)[0] - value
            }))
        })
        .collect()
}
