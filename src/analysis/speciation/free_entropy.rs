//! Monte Carlo of the free-entropy difference between two groups of classes of any `ExactModel`
//! (`docs/science/speciation.md` §2.2, §2.5): ΔΦ = ln P_t(x | first) − ln P_t(x | second) for x_t from the first
//! group, its mean M and std S, and the balance time M = S by bisection on common random numbers. For
//! Ising classes `class_log_joint` is the transfer-matrix ln Z_k(h), so this is the exact finite-d theory.

use super::gaussian::{FreeEntropyMoments, first_sign_change};
use super::posterior_curve::forward_noise;
use crate::base::ou::{noise_var, signal};
use crate::model::ExactModel;
use rayon::prelude::*;

/// Forward samples of one group of classes (stratified: class k gets round(n w_k / W) rows).
pub struct GroupSamples {
    dim: usize,
    /// `[n, d]`
    x0: Vec<f64>,
    /// `[n, d]`
    noise: Vec<f64>,
}

impl GroupSamples {
    pub fn draw(model: &dyn ExactModel, group: &[usize], n: usize, seed: u64) -> Self {
        let weights = model.weights();
        let total: f64 = group.iter().map(|&k| weights[k]).sum();
        let mut x0 = Vec::new();
        for &k in group {
            let rows = (n as f64 * weights[k] / total).round() as usize;
            x0.extend(
                model
                    .sample_class_x0(k, rows, seed)
                    .iter()
                    .map(|&v| f64::from(v)),
            );
        }
        let dim = model.dim();
        let rows = x0.len() / dim.max(1);
        GroupSamples {
            dim,
            x0,
            noise: forward_noise(rows, dim, seed, 1 << 40),
        }
    }

    fn len(&self) -> usize {
        self.x0.len() / self.dim.max(1)
    }
}

fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// M and S of ΔΦ(first, second) over the samples at time t.
pub fn group_moments(
    model: &dyn ExactModel,
    first: &[usize],
    second: &[usize],
    samples: &GroupSamples,
    t: f64,
) -> FreeEntropyMoments {
    let weights = model.weights();
    let log_weight = |g: &[usize]| g.iter().map(|&k| weights[k]).sum::<f64>().ln();
    let prior_log_odds = log_weight(first) - log_weight(second);
    let (a, s) = (signal(t), noise_var(t).sqrt());
    let (n, k) = (samples.len(), weights.len());
    // [n, d]: x_t = a x0 + s z for every sample, then ℓ_k(x_t) for all rows in one batch so the model
    // builds its per-time tables once.
    let x_t: Vec<f64> = samples
        .x0
        .iter()
        .zip(&samples.noise)
        .map(|(&v, &z)| a * v + s * z)
        .collect();
    let mut joint = vec![0.0; n * k]; // [n, K]
    model.class_log_joint_batch(&x_t, t, &mut joint);
    let values: Vec<f64> = joint
        .par_chunks(k.max(1))
        .map(|ell| {
            let lse = |g: &[usize]| log_sum_exp(g.iter().map(|&c| ell[c]));
            lse(first) - lse(second) - prior_log_odds
        })
        .collect();
    let count = values.len().max(2) as f64;
    let mean = values.iter().sum::<f64>() / count;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
    FreeEntropyMoments {
        mean,
        std: var.sqrt(),
    }
}

/// Balance time M = S of two groups by bisection on fixed samples of the first group.
pub fn balance_time(
    model: &dyn ExactModel,
    first: &[usize],
    second: &[usize],
    samples: &GroupSamples,
) -> Option<f64> {
    first_sign_change(|t| {
        let m = group_moments(model, first, second, samples, t);
        m.mean - m.std
    })
}
