//! Small numeric helpers every analytic mixture shares: stable log-sum-exp and softmax, weight checks,
//! class picking, per-row data streams and row-chunked parallel batches. No model lives here.

use rayon::prelude::*;

use super::ModelError;
use crate::rng::{self, Domain, Stream};

/// ln Σ exp(v), stable; −∞ for an empty slice.
pub(crate) fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|&l| (l - max).exp()).sum::<f64>().ln()
}

/// Replaces log-weights by their softmax in place.
pub(crate) fn softmax_in_place(v: &mut [f64]) {
    // One exp per class and no log: this runs once per row in every batched denoise.
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for l in v.iter_mut() {
        *l = if *l == max { 1.0 } else { (*l - max).exp() };
        total += *l;
    }
    for l in v.iter_mut() {
        *l /= total;
    }
}

/// Checks weights (> 0, finite, sum 1 within 1e-6) and returns them renormalised.
pub(crate) fn normalise_weights(weights: &[f64]) -> Result<Vec<f64>, ModelError> {
    if let Some((k, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w > 0.0))
    {
        return Err(ModelError::Invalid(format!(
            "component {k}: weight must be > 0 and finite, got {w}"
        )));
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(ModelError::Invalid(format!(
            "weights must sum to 1 (within 1e-6), they sum to {sum}"
        )));
    }
    Ok(weights.iter().map(|w| w / sum).collect())
}

/// The class whose cumulative weight first exceeds `u` ∈ [0, 1) (last class on rounding).
pub(crate) fn pick_class(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (k, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return k;
        }
    }
    weights.len().saturating_sub(1)
}

/// The data stream of row `i` of a mixture sample (`class = None`) or a one-class sample.
pub(crate) fn data_stream(seed: u64, class: Option<usize>, i: usize) -> Stream {
    // Class samples use the high bits of the index so they never share a stream with mixture rows.
    let tag = class.map_or(0, |k| (k as u64 + 1) << 40);
    rng::stream(seed, Domain::DataSample, tag | i as u64)
}

/// Writes the class posterior `r` (`[K]`, f64) of row `row` of a chunk into its posterior rows
/// (`[rows, K]` f32), when the caller asked for them.
pub(crate) fn write_posterior(posterior: Option<&mut [f32]>, row: usize, r: &[f64]) {
    if let Some(p) = posterior {
        let k = r.len();
        for (pk, &rk) in p[row * k..(row + 1) * k].iter_mut().zip(r) {
            *pk = rk as f32;
        }
    }
}

/// Rows handed to one rayon task: large enough to amortise per-task work, small enough to balance.
pub(crate) const ROWS_PER_TASK: usize = 64;

/// Runs `body(x_rows, denoised_rows, posterior_rows)` over chunks of whole rows in parallel.
/// Shapes: x, denoised `[n, dim]`; posterior `[n, classes]` when given.
pub(crate) fn par_row_chunks<F>(
    x: &[f32],
    dim: usize,
    classes: usize,
    denoised: &mut [f32],
    posterior: Option<&mut [f32]>,
    body: F,
) where
    F: Fn(&[f32], &mut [f32], Option<&mut [f32]>) + Sync,
{
    let x_chunks = x.par_chunks(ROWS_PER_TASK * dim);
    let d_chunks = denoised.par_chunks_mut(ROWS_PER_TASK * dim);
    match posterior {
        Some(p) => x_chunks
            .zip(d_chunks)
            .zip(p.par_chunks_mut(ROWS_PER_TASK * classes))
            .for_each(|((xc, dc), pc)| body(xc, dc, Some(pc))),
        None => x_chunks
            .zip(d_chunks)
            .for_each(|(xc, dc)| body(xc, dc, None)),
    }
}
