//! The U-turn under discrete noise and its token-change correlations (`docs/science/discrete.md` §4):
//! clean words of known class are noised forward to t, run back to t = 0 with the reverse sampler and
//! relabelled. P(class kept) is the U-turn curve (with the exact sampler and sampled labels it equals
//! φ_post(t)); which tokens changed, c_i = 1[x'_0,i ≠ x_0,i], gives C(r) = mean_i cov(c_i, c_{i+r}),
//! the susceptibility χ = Σ_r C(r) and the correlation length ξ = Σ_r r C(r) / Σ_r C(r).
//! Shares settings, grid, labels and streams' layout with `discrete_cloning`.

use super::SpeciationError;
use super::discrete_cloning::{DiscreteCloningSettings, fraction, label, times_below};
use crate::analysis::control::Control;
use crate::diffusion::discrete::TokenStepper;
use crate::model::discrete::TokenModel;
use crate::rng::{Domain, stream};
use rayon::prelude::*;
use serde::Serialize;

/// Mixed into the seed of the U-turn's data and streams ("uturn" in ASCII), so they never coincide
/// with the cloning run's.
const UTURN_TAG: u64 = 0x7574_7572_6e00_0000;

/// The U-turn at one time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenUTurnPoint {
    pub t: f64,
    /// P(class kept): the fraction of words whose end label is their data class.
    pub kept: f64,
    /// Its binomial standard error.
    pub kept_std_error: f64,
    /// Mean fraction of tokens changed, mean_i P(c_i = 1).
    pub changed: f64,
    /// `[L]`: C(r) for r = 0 … L − 1, averaged over the sites i with i + r < L.
    pub correlation: Vec<f64>,
    /// χ = Σ_r C(r) over r ≥ 0.
    pub susceptibility: f64,
    /// Its standard error from [`BATCHES`] batches of words.
    pub susceptibility_std_error: f64,
    /// ξ = Σ_r r C(r) / χ; `None` when χ ≤ 0 (no positive correlation to measure a length of).
    pub correlation_length: Option<f64>,
    /// Its standard error (delta method over the same batches); large when χ is small, since the
    /// far, noisy C(r) carry weight r.
    pub correlation_length_std_error: Option<f64>,
}

/// Batches of words over which the errors of χ and ξ are estimated.
pub const BATCHES: usize = 10;

/// Runs the U-turn at each of `settings.clone_times` with `settings.pairs` words per time; word i of
/// time j draws its data, forward noise and reverse path from its own streams.
pub fn run_discrete_uturn(
    model: &dyn TokenModel,
    settings: &DiscreteCloningSettings,
    control: &mut Control,
) -> Result<Vec<TokenUTurnPoint>, SpeciationError> {
    let s = settings;
    let grid = s.validated_grid()?;
    let seed = s.seed ^ UTURN_TAG;
    let data = model.sample_x0(s.pairs * s.clone_times.len(), seed);
    let length = model.length();
    let mut points = Vec::with_capacity(s.clone_times.len());
    for (j, &t) in s.clone_times.iter().enumerate() {
        control.step(j as f64 / s.clone_times.len() as f64, "discrete U-turn")?;
        let path = times_below(&grid, t);
        let rows: Vec<(bool, Vec<bool>)> = (0..s.pairs)
            .into_par_iter()
            .map(|i| {
                let row = j * s.pairs + i;
                let mut stepper = TokenStepper::new(model, s.noise, s.sampler);
                let mut rng = stream(seed, Domain::Clone, row as u64);
                let clean = &data.tokens[row * length..(row + 1) * length];
                let mut x = vec![0u8; length];
                s.noise.corrupt(clean, model.vocab(), t, &mut rng, &mut x);
                for w in path.windows(2) {
                    stepper.step(w[0], w[1], &mut x, &mut rng);
                }
                let kept = label(&mut stepper, &x, s.labels, &mut rng) == data.labels[row] as usize;
                let changes = x.iter().zip(clean).map(|(a, b)| a != b).collect();
                (kept, changes)
            })
            .collect();
        let kept: Vec<bool> = rows.iter().map(|r| r.0).collect();
        let changes: Vec<bool> = rows.into_iter().flat_map(|r| r.1).collect();
        let estimate = fraction(&kept);
        let correlation = change_correlations(&changes, s.pairs, length);
        let (susceptibility, correlation_length) = susceptibility(&correlation);
        let errors = batch_errors(&changes, s.pairs, length, correlation_length);
        points.push(TokenUTurnPoint {
            t,
            kept: estimate.mean,
            kept_std_error: estimate.std_error,
            changed: changes.iter().filter(|&&c| c).count() as f64 / changes.len().max(1) as f64,
            correlation,
            susceptibility,
            susceptibility_std_error: errors.0,
            correlation_length,
            correlation_length_std_error: errors.1,
        });
    }
    control.step(1.0, "discrete U-turn")?;
    Ok(points)
}

/// C(r) = mean_i cov(c_i, c_{i+r}) for r = 0 … L − 1 from `changes` `[n, L]` (n ≥ 2 words), with the
/// unbiased sample covariance over words and the mean over the L − r sites i with i + r < L. Each site
/// is a bitset over words, so a pair costs n/64 word operations and all of C(r) O(L² n / 64).
pub fn change_correlations(changes: &[bool], n: usize, length: usize) -> Vec<f64> {
    if n < 2 || length == 0 || changes.len() != n * length {
        return vec![0.0; length];
    }
    let words = n.div_ceil(64);
    let mut columns = vec![0u64; length * words];
    for (w, row) in changes.chunks_exact(length).enumerate() {
        for (site, _) in row.iter().enumerate().filter(|(_, c)| **c) {
            columns[site * words + w / 64] |= 1 << (w % 64);
        }
    }
    let column = |site: usize| &columns[site * words..(site + 1) * words];
    let counts: Vec<f64> = (0..length)
        .map(|site| column(site).iter().map(|b| b.count_ones()).sum::<u32>() as f64)
        .collect();
    let nf = n as f64;
    (0..length)
        .into_par_iter()
        .map(|r| {
            let total: f64 = (0..length - r)
                .map(|i| {
                    let both: u32 = column(i)
                        .iter()
                        .zip(column(i + r))
                        .map(|(a, b)| (a & b).count_ones())
                        .sum();
                    (f64::from(both) - counts[i] * counts[i + r] / nf) / (nf - 1.0)
                })
                .sum();
            total / (length - r) as f64
        })
        .collect()
}

/// χ = Σ_r C(r) and ξ = Σ_r r C(r) / χ (`None` unless χ > 0).
pub fn susceptibility(correlation: &[f64]) -> (f64, Option<f64>) {
    let chi: f64 = correlation.iter().sum();
    let moment: f64 = correlation
        .iter()
        .enumerate()
        .map(|(r, c)| r as f64 * c)
        .sum();
    (chi, (chi > 0.0).then(|| moment / chi))
}

/// Standard errors of χ and of ξ (given its full-sample value `xi`) from [`BATCHES`] batches of the
/// words: s.e.(χ) = sd(χ_b)/√B and, with M = Σ_r r C(r) and ξ = M/χ, the delta method
/// var ξ ≈ (var M − 2ξ cov(M, χ) + ξ² var χ) / χ² over the batch means. NaN with too few words.
fn batch_errors(changes: &[bool], n: usize, length: usize, xi: Option<f64>) -> (f64, Option<f64>) {
    let size = n / BATCHES;
    if size < 2 {
        return (f64::NAN, xi.map(|_| f64::NAN));
    }
    let sums: Vec<(f64, f64)> = (0..BATCHES)
        .map(|b| {
            let words = &changes[b * size * length..(b + 1) * size * length];
            let c = change_correlations(words, size, length);
            let moment = c.iter().enumerate().map(|(r, c)| r as f64 * c).sum();
            (c.iter().sum(), moment)
        })
        .collect();
    let b = BATCHES as f64;
    let (mean_chi, mean_m) = (
        sums.iter().map(|s| s.0).sum::<f64>() / b,
        sums.iter().map(|s| s.1).sum::<f64>() / b,
    );
    // Variances of the batch means.
    let var = |f: &dyn Fn(&(f64, f64)) -> f64| sums.iter().map(f).sum::<f64>() / (b - 1.0) / b;
    let var_chi = var(&|s| (s.0 - mean_chi).powi(2));
    let var_m = var(&|s| (s.1 - mean_m).powi(2));
    let cov = var(&|s| (s.0 - mean_chi) * (s.1 - mean_m));
    (
        var_chi.sqrt(),
        xi.map(|xi| {
            ((var_m - 2.0 * xi * cov + xi * xi * var_chi).max(0.0)).sqrt() / mean_chi.abs()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlations_match_the_covariance_formula() {
        // Four words over three sites; C(r) from the unbiased covariance written out.
        let rows = [
            [true, true, false],
            [false, true, true],
            [true, true, false],
            [false, false, false],
        ];
        let changes: Vec<bool> = rows.iter().flatten().copied().collect();
        let cov = |a: usize, b: usize| {
            let mean = |s: usize| rows.iter().filter(|r| r[s]).count() as f64 / 4.0;
            let (ma, mb) = (mean(a), mean(b));
            rows.iter()
                .map(|r| (f64::from(u8::from(r[a])) - ma) * (f64::from(u8::from(r[b])) - mb))
                .sum::<f64>()
                / 3.0
        };
        let expected = [
            (cov(0, 0) + cov(1, 1) + cov(2, 2)) / 3.0,
            (cov(0, 1) + cov(1, 2)) / 2.0,
            cov(0, 2),
        ];
        let got = change_correlations(&changes, 4, 3);
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
        }
        let (chi, xi) = susceptibility(&got);
        assert!((chi - expected.iter().sum::<f64>()).abs() < 1e-12);
        // χ = 0.2778 + 0.125 − 0.1667 > 0 here, so ξ exists.
        let moment = expected[1] + 2.0 * expected[2];
        assert!((xi.unwrap() - moment / chi).abs() < 1e-12, "{xi:?}");
    }
}
