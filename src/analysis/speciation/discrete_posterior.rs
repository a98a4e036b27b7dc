//! The exact-posterior curve φ_post(t) = E Σ_k p(k | x_t)² under discrete noise (`docs/science/discrete.md`
//! §4, §5): exactly by binomial sums when the sites are independent (all couplings zero), and by Monte
//! Carlo with common random numbers for any token model, plus the 0.75 crossing t_mid by bisection.
//! The discrete twin of `posterior_curve`; no dynamics, no labeller.

use rand::Rng;
use rayon::prelude::*;

use super::SpeciationError;
use super::gaussian::{bisect_down, scan_times};
use crate::model::discrete::ising_chain::IsingChainTokens;
use crate::model::discrete::{DiscreteNoise, MASK, TokenModel, TokenSamples};
use crate::model::math::log_sum_exp;
use crate::rng::{Domain, stream};

/// n ln p with the convention 0 · ln 0 = 0 (a count of zero of an impossible outcome costs nothing).
fn count_log(count: usize, log_p: f64) -> f64 {
    if count == 0 {
        0.0
    } else {
        count as f64 * log_p
    }
}

/// ln k! for k = 0..=n.
fn log_factorials(n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    out.push(0.0);
    for k in 1..=n {
        acc += (k as f64).ln();
        out.push(acc);
    }
    out
}

/// Σ_k (w_k π_k)² / Σ_j w_j π_j from ℓ_k = ln(w_k π_k), in log space: the class-posterior purity of an
/// observation times the mixture probability of its counts (without the count multiplicity).
fn log_purity_times_mass(ell: &[f64], doubled: &mut [f64]) -> f64 {
    for (d, &l) in doubled.iter_mut().zip(ell) {
        *d = 2.0 * l;
    }
    log_sum_exp(doubled) - log_sum_exp(ell)
}

/// φ_post(t) exactly for a chain mixture with independent sites (every K_k = 0). With K = 0 the class
/// posterior depends on the observation only through its counts, (revealed up, revealed down) under
/// mask and (up) under flip, so φ_post is a sum over O(L²) (mask) or O(L) (flip) count vectors, each
/// weighted by its multinomial probability. Errors when a coupling is not zero or t is not ≥ 0.
pub fn phi_posterior_independent(
    model: &IsingChainTokens,
    noise: DiscreteNoise,
    t: f64,
) -> Result<f64, SpeciationError> {
    if let Some(k) = model.couplings().iter().position(|&c| c != 0.0) {
        return Err(SpeciationError::Invalid(format!(
            "exact φ_post needs independent sites, class {k} has coupling {}",
            model.couplings()[k]
        )));
    }
    if t.is_nan() || t < 0.0 {
        return Err(SpeciationError::Invalid(format!(
            "time must be >= 0, got {t}"
        )));
    }
    let l = model.length();
    let log_fact = log_factorials(l);
    // ln α and ln(1 − α), both exact at small and large t.
    let (log_keep, log_gap) = (-t, (-(-t).exp_m1()).ln());
    let gap = -(-t).exp_m1();
    let keep = (-t).exp();
    // ln p_k(up) and ln p_k(down) of one site's observation (mask: revealed with that value).
    let (up, down): (Vec<f64>, Vec<f64>) = model
        .fields()
        .iter()
        .map(|&h| {
            // P(s = ±1) = 1/(1 + e^{∓2h}), each computed on its own so neither cancels.
            let (p_up, p_down) = (
                1.0 / (1.0 + (-2.0 * h).exp()),
                1.0 / (1.0 + (2.0 * h).exp()),
            );
            match noise {
                DiscreteNoise::Mask => (p_up.ln(), p_down.ln()),
                // P(y = ±1) = (1 − α)/2 + α P(s = ±1).
                DiscreteNoise::Flip => (
                    (0.5 * gap + keep * p_up).ln(),
                    (0.5 * gap + keep * p_down).ln(),
                ),
            }
        })
        .unzip();
    let log_w: Vec<f64> = model.weights().iter().map(|w| w.ln()).collect();
    let k_count = log_w.len();
    let term = |n_up: usize, n_down: usize, ell: &mut [f64], doubled: &mut [f64]| {
        for (k, e) in ell.iter_mut().enumerate() {
            *e = log_w[k] + count_log(n_up, up[k]) + count_log(n_down, down[k]);
        }
        log_purity_times_mass(ell, doubled)
    };
    let total = match noise {
        DiscreteNoise::Flip => {
            let (mut ell, mut doubled) = (vec![0.0; k_count], vec![0.0; k_count]);
            (0..=l)
                .map(|u| {
                    let choose = log_fact[l] - log_fact[u] - log_fact[l - u];
                    (choose + term(u, l - u, &mut ell, &mut doubled)).exp()
                })
                .sum::<f64>()
        }
        DiscreteNoise::Mask => (0..=l)
            .into_par_iter()
            .map(|u| {
                let (mut ell, mut doubled) = (vec![0.0; k_count], vec![0.0; k_count]);
                (0..=l - u)
                    .map(|d| {
                        let masked = l - u - d;
                        if (gap == 0.0 && masked > 0) || (keep == 0.0 && u + d > 0) {
                            return 0.0;
                        }
                        let choose = log_fact[l] - log_fact[u] - log_fact[d] - log_fact[masked];
                        let reveal = count_log(u + d, log_keep) + count_log(masked, log_gap);
                        (choose + reveal + term(u, d, &mut ell, &mut doubled)).exp()
                    })
                    .sum::<f64>()
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum(),
    };
    Ok(total)
}

/// Clean words drawn from a token model and the forward noise that corrupts them, kept as random
/// streams so that x_t at any t uses the same random numbers (common random numbers): φ̂(t) is then
/// smooth enough in t for crossings to be bisected.
#[derive(Clone, Debug)]
pub struct DiscreteForwardSamples {
    pub noise: DiscreteNoise,
    pub vocab: usize,
    pub clean: TokenSamples,
    seed: u64,
}

/// A Monte Carlo estimate with its standard error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub std_error: f64,
}

impl DiscreteForwardSamples {
    /// n clean words x_0 ~ P_0 (`model.sample_x0(n, seed)`) with the forward noise of row i from
    /// `stream(seed, ForwardNoise, i)`.
    pub fn draw(model: &dyn TokenModel, noise: DiscreteNoise, n: usize, seed: u64) -> Self {
        Self {
            noise,
            vocab: model.vocab(),
            clean: model.sample_x0(n, seed),
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.clean.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clean.labels.is_empty()
    }

    /// x_t of row `row` into `out` (`[L]`). Every site consumes the same draws (a uniform, then a
    /// symbol) whatever t is, so a site untouched at t is untouched at every earlier time.
    pub fn observe(&self, row: usize, t: f64, out: &mut [u8]) {
        let l = self.clean.length;
        let keep = DiscreteNoise::keep(t);
        let mut rng = stream(self.seed, Domain::ForwardNoise, row as u64);
        let x0 = &self.clean.tokens[row * l..(row + 1) * l];
        for (o, &x) in out.iter_mut().zip(x0) {
            let kept = rng.random::<f64>() < keep;
            let symbol = rng.random_range(0..self.vocab) as u8;
            *o = match (kept, self.noise) {
                (true, _) => x,
                (false, DiscreteNoise::Mask) => MASK,
                (false, DiscreteNoise::Flip) => symbol,
            };
        }
    }

    /// Σ_k p(k | x_t)² of every row, `[n]`.
    pub fn purities(&self, model: &dyn TokenModel, t: f64) -> Vec<f64> {
        let (l, k_count) = (self.clean.length, model.weights().len());
        (0..self.len())
            .into_par_iter()
            .map_init(
                || (vec![0u8; l], vec![0.0; k_count]),
                |(x, ell), row| {
                    self.observe(row, t, x);
                    model.class_log_joint(self.noise, t, x, ell);
                    let norm = log_sum_exp(ell);
                    ell.iter().map(|&e| (2.0 * (e - norm)).exp()).sum::<f64>()
                },
            )
            .collect()
    }

    /// φ̂_post(t): the mean purity over the rows (summed in row order, so it does not depend on the
    /// thread count) and its standard error.
    pub fn phi_posterior(&self, model: &dyn TokenModel, t: f64) -> Estimate {
        let p = self.purities(model, t);
        let n = p.len().max(1) as f64;
        let mean = p.iter().sum::<f64>() / n;
        let var = p.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0);
        Estimate {
            mean,
            std_error: (var / n).sqrt(),
        }
    }
}

/// The first t at which a decreasing curve `phi` falls below `target`: a log-spaced scan of
/// (1e-3, 12) for the bracket, then bisection. None when the curve never crosses in that range.
pub fn phi_crossing(phi: impl Fn(f64) -> f64, target: f64) -> Option<f64> {
    let times = scan_times();
    let values: Vec<f64> = times.iter().map(|&t| phi(t)).collect();
    let i = values
        .windows(2)
        .position(|w| w[0] >= target && w[1] < target)?;
    Some(bisect_down(times[i], times[i + 1], |t| phi(t) - target))
}
