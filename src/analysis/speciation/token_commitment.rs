//! Commitment along token trajectories (`docs/science/discrete.md` §4): per token, the largest stored
//! time after which the token never changes (mask: its reveal time; flip: its last change), their
//! histogram and mean per site; per trajectory, the class-commitment time of the continuous lab
//! (`commitment`), read from the trajectories' exact class posterior. Reads finished
//! `TokenTrajectories`; no dynamics.

use super::commitment::{BINS, Commitment, EPSILON, Histogram, median, posterior_commitment};
use crate::diffusion::discrete::TokenTrajectories;
use serde::Serialize;

/// Token commitment steps `[N, L]`: for row i and site l, the first stored step j* from which the
/// token equals its final value at every later stored step (0 for a token already final at the first
/// stored time, t_max).
pub fn token_commitment_steps(run: &TokenTrajectories) -> Vec<usize> {
    let (n, s, l) = (run.n, run.stored_steps, run.length);
    let mut out = vec![0; n * l];
    if s == 0 || l == 0 {
        return out;
    }
    for (i, row) in out.chunks_exact_mut(l).enumerate() {
        let trajectory = &run.tokens[i * s * l..(i + 1) * s * l];
        let last = &trajectory[(s - 1) * l..];
        for (site, commit) in row.iter_mut().enumerate() {
            // Walk back from the end while the token still has its final value.
            *commit = (0..s)
                .rev()
                .take_while(|&j| trajectory[j * l + site] == last[site])
                .last()
                .unwrap_or(s - 1);
        }
    }
    out
}

/// Token commitment times `[N, L]`: the stored times of [`token_commitment_steps`], the largest t
/// after which the token never changes (mask: its reveal time; flip: its last change).
pub fn token_commitment_times(run: &TokenTrajectories) -> Vec<f64> {
    token_commitment_steps(run)
        .into_iter()
        .map(|j| run.times[j])
        .collect()
}

/// What the lab reports of one sampler's token trajectories.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenCommitment {
    pub sampler: &'static str,
    /// Trajectories measured.
    pub trajectories: usize,
    /// Histogram of every token's commitment time over [0, t_max].
    pub histogram: Histogram,
    /// Median of every token's commitment time.
    pub median: Option<f64>,
    /// `[L]`: the mean token commitment time of each site over the trajectories (autoregressive
    /// sampling makes it decrease along the sequence; the masked samplers leave it flat).
    pub mean_by_site: Vec<f64>,
    /// Class commitment (`docs/science/speciation.md` §3.2) of the trajectories, each to the argmax of
    /// its class posterior at t = 0, tolerance ε = [`EPSILON`]. `None` without stored steps.
    pub class_commitment: Option<Commitment>,
}

/// The token and class commitment of one sampler's run.
pub fn token_commitment(run: &TokenTrajectories, sampler: &'static str) -> TokenCommitment {
    let (n, l) = (run.n, run.length);
    let times = token_commitment_times(run);
    let t_max = run.times.first().copied().unwrap_or(1.0);
    let t_end = run.times.last().copied().unwrap_or(0.0);
    let mut mean_by_site = vec![0.0; l];
    for row in times.chunks_exact(l.max(1)) {
        mean_by_site.iter_mut().zip(row).for_each(|(m, &t)| *m += t);
    }
    mean_by_site.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    TokenCommitment {
        sampler,
        trajectories: n,
        histogram: Histogram::of(&times, t_end, t_max, BINS),
        median: median(&times),
        mean_by_site,
        class_commitment: posterior_commitment(
            &run.times,
            &run.posterior,
            n,
            run.class_labels.len(),
            None,
            EPSILON,
        ),
    }
}
