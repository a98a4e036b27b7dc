//! The laws of `docs/science/discrete.md` §5 for token scenes: the table of leading-order speciation
//! laws (Gaussian, flip and mask noise × classes that differ in their single-site marginals or only in
//! their pair correlations), the scene's own law `slope · ln L + c` with its constant c in closed form,
//! and the exact balance time t_balance (M = S of ΔΦ = ln P_1(x_t) − ln P_2(x_t) under class 1):
//! closed form per site for independent sites, Monte Carlo with common random numbers otherwise.
//! The Theory tab draws these beside the exact φ_post crossing t_mid; no UI here.
//!
//! Leading order means weak signal, α = e^{−t} → 0, with ΔΦ a sum over L sites:
//! - mask, marginals: a site is revealed with probability α and then carries λ(s) = ln p_1(s)/p_2(s);
//!   M ≈ L α KL, S² ≈ L α E_1[λ²], so M = S at α = E_1[λ²] / (L KL²): t = ln L + ln(KL² / E_1[λ²]);
//! - mask, correlations (no field): revealed sites are sparse, and consecutive revealed sites g apart
//!   carry λ_g(π) = ln (1 + π u_1^g)/(1 + π u_2^g) of their product π; about L α² such pairs per g, so
//!   t = ½ ln L + ½ ln((Σ_g KL_g)² / Σ_g E_1[λ_g²]);
//! - flip: as for Gaussian noise on ±1 spins (the signal has amplitude α, the noise variance 1):
//!   marginals t = ½ ln(L Δm² / 4) with Δm the gap of the bulk magnetisations, correlations
//!   t = ¼ ln(Q / 4) with Q = L Σ_{r ≥ 1} (u_1^r − u_2^r)², the `speciation.md` §2.2 forms with d = L.
//!
//! Here u_k = tanh K_k and the bulk magnetisation of a chain in field h is
//! m = sinh h / √(sinh² h + e^{−4K}) (tanh h when K = 0).

use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use super::discrete_posterior::{DiscreteForwardSamples, phi_crossing};
use crate::model::discrete::ising_chain::IsingChainTokens;
use crate::model::discrete::{DiscreteNoise, TokenModel};

/// A noise of the law table: the continuous one (in d) and the two discrete ones (in L).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LawNoise {
    Gaussian,
    Flip,
    Mask,
}

impl LawNoise {
    pub const ALL: [LawNoise; 3] = [LawNoise::Gaussian, LawNoise::Flip, LawNoise::Mask];

    pub fn name(self) -> &'static str {
        match self {
            LawNoise::Gaussian => "Gaussian",
            LawNoise::Flip => "flip",
            LawNoise::Mask => "mask",
        }
    }
}

impl From<DiscreteNoise> for LawNoise {
    fn from(noise: DiscreteNoise) -> Self {
        match noise {
            DiscreteNoise::Mask => LawNoise::Mask,
            DiscreteNoise::Flip => LawNoise::Flip,
        }
    }
}

/// What tells two classes apart: a column of the law table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassDifference {
    /// Their single-site marginals differ.
    Marginals,
    /// Same marginals, different pair correlations.
    Correlations,
}

impl ClassDifference {
    pub const ALL: [ClassDifference; 2] =
        [ClassDifference::Marginals, ClassDifference::Correlations];

    pub fn name(self) -> &'static str {
        match self {
            ClassDifference::Marginals => "classes differ in marginals",
            ClassDifference::Correlations => "classes differ only in correlations",
        }
    }
}

/// The coefficient of ln L (ln d for Gaussian noise) in the leading-order law: how much later the
/// classes separate per e-fold of length. Mask returns information ∝ α, flip and Gaussian ∝ α², and
/// correlations need pairs, i.e. twice the power of α.
pub fn slope(noise: LawNoise, difference: ClassDifference) -> f64 {
    let per_site = match noise {
        LawNoise::Mask => 1.0,
        LawNoise::Flip | LawNoise::Gaussian => 0.5,
    };
    match difference {
        ClassDifference::Marginals => per_site,
        ClassDifference::Correlations => 0.5 * per_site,
    }
}

/// The table entry as written in `docs/science/discrete.md` §5, e.g. "½ ln L + c".
pub fn law_text(noise: LawNoise, difference: ClassDifference) -> &'static str {
    match (noise, difference) {
        (LawNoise::Gaussian, ClassDifference::Marginals) => "½ ln d",
        (LawNoise::Gaussian, ClassDifference::Correlations) => "¼ ln d",
        (LawNoise::Flip, ClassDifference::Marginals) => "½ ln L + c",
        (LawNoise::Flip, ClassDifference::Correlations) => "¼ ln L + c",
        (LawNoise::Mask, ClassDifference::Marginals) => "ln L + c",
        (LawNoise::Mask, ClassDifference::Correlations) => "½ ln L + c",
    }
}

/// Why a token model has no law of the table.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum NoLaw {
    #[error("the laws compare two classes; this model has {0}")]
    ClassCount(usize),
    #[error("the two classes are the same chain")]
    SameClasses,
    #[error(
        "Dyck classes are set by one site or by a global property of the word, neither of the \
         table's columns"
    )]
    Dyck,
    #[error("the model is not valid: {0}")]
    Invalid(String),
    #[error("a coupling of {0} gives correlations too close to ±1 for the leading-order sums")]
    Frozen(f64),
}

/// A scene's leading-order law t(L) = slope · ln L + constant.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TokenLaw {
    pub noise: LawNoise,
    pub difference: ClassDifference,
    pub slope: f64,
    pub constant: f64,
}

impl TokenLaw {
    /// The law's time at length `length`.
    pub fn at(&self, length: usize) -> f64 {
        self.slope * (length as f64).ln() + self.constant
    }
}

/// Bulk magnetisation ⟨s⟩ of an infinite chain with coupling K and field h (transfer matrix):
/// sinh h / √(sinh² h + e^{−4K}), written so that neither side overflows at large |h| or K.
pub fn bulk_magnetisation(coupling: f64, field: f64) -> f64 {
    let s = field.sinh();
    if s == 0.0 {
        return 0.0;
    }
    s / (s * s + (-4.0 * coupling).exp()).sqrt()
}

/// Magnetisations closer than this count as equal (the classes then differ only in correlations).
const SAME_MAGNETISATION: f64 = 1e-12;

/// Gaps g (mask) and distances r (flip) summed in the correlation laws: u^g ≤ e^{−40} beyond them
/// for |K| ≤ [`MAX_LAW_COUPLING`].
const MAX_GAP: usize = 4096;
/// Above this |K| (u = tanh K > 0.99995) the correlation sums would need more than [`MAX_GAP`] terms.
const MAX_LAW_COUPLING: f64 = 5.0;

/// E_1[λ] and E_1[λ²] of λ = ln p_1/p_2 over two outcomes with probabilities p_1(±), p_2(±).
fn log_ratio_moments(p1: [f64; 2], p2: [f64; 2]) -> (f64, f64) {
    p1.iter()
        .zip(p2)
        .filter(|(p, _)| **p > 0.0)
        .fold((0.0, 0.0), |(m1, m2), (&p, q)| {
            let lambda = (p / q).ln();
            (m1 + p * lambda, m2 + p * lambda * lambda)
        })
}

/// The leading-order law of the first two classes of `model` under `noise` (see the module comment).
pub fn token_law(model: &IsingChainTokens, noise: DiscreteNoise) -> Result<TokenLaw, NoLaw> {
    let (couplings, fields) = (model.couplings(), model.fields());
    if couplings.len() != 2 {
        return Err(NoLaw::ClassCount(couplings.len()));
    }
    let m = [0, 1].map(|k| bulk_magnetisation(couplings[k], fields[k]));
    let u = [0, 1].map(|k| couplings[k].tanh());
    let difference = if (m[0] - m[1]).abs() > SAME_MAGNETISATION {
        ClassDifference::Marginals
    } else if u[0] != u[1] {
        ClassDifference::Correlations
    } else {
        return Err(NoLaw::SameClasses);
    };
    let noise_law = LawNoise::from(noise);
    let constant = match (noise, difference) {
        (DiscreteNoise::Mask, ClassDifference::Marginals) => {
            let p = |m: f64| [0.5 * (1.0 + m), 0.5 * (1.0 - m)];
            let (kl, second) = log_ratio_moments(p(m[0]), p(m[1]));
            (kl * kl / second).ln()
        }
        (DiscreteNoise::Flip, ClassDifference::Marginals) => {
            0.5 * (0.25 * (m[0] - m[1]).powi(2)).ln()
        }
        (_, ClassDifference::Correlations) => {
            if let Some(&k) = couplings.iter().find(|k| k.abs() > MAX_LAW_COUPLING) {
                return Err(NoLaw::Frozen(k));
            }
            let powers = |g: usize| [0, 1].map(|k| u[k].powi(g as i32));
            match noise {
                DiscreteNoise::Mask => {
                    let (kl, second) = (1..=MAX_GAP).fold((0.0, 0.0), |(a, b), g| {
                        let [c1, c2] = powers(g);
                        let pair = |c: f64| [0.5 * (1.0 + c), 0.5 * (1.0 - c)];
                        let (kl, second) = log_ratio_moments(pair(c1), pair(c2));
                        (a + kl, b + second)
                    });
                    0.5 * (kl * kl / second).ln()
                }
                DiscreteNoise::Flip => {
                    let per_site: f64 = (1..=MAX_GAP)
                        .map(|r| {
                            let [c1, c2] = powers(r);
                            (c1 - c2).powi(2)
                        })
                        .sum();
                    0.25 * (0.25 * per_site).ln()
                }
            }
        }
    };
    Ok(TokenLaw {
        noise: noise_law,
        difference,
        slope: slope(noise_law, difference),
        constant,
    })
}

/// The per-site mean and variance of λ(x_{t,i}) = ln P_1(x_{t,i}) / P_2(x_{t,i}) under class 1 for
/// independent sites with up-probabilities `p` (classes 1 and 2).
fn site_moments(p: [f64; 2], noise: DiscreteNoise, t: f64) -> (f64, f64) {
    let alpha = DiscreteNoise::keep(t);
    let outcome = |q: f64| [q, 1.0 - q];
    match noise {
        DiscreteNoise::Mask => {
            // Masked: λ = 0. Revealed (probability α): λ of the clean spin.
            let (kl, second) = log_ratio_moments(outcome(p[0]), outcome(p[1]));
            let mean = alpha * kl;
            (mean, alpha * second - mean * mean)
        }
        DiscreteNoise::Flip => {
            let seen = |q: f64| outcome(0.5 * (1.0 - alpha) + alpha * q);
            let (mean, second) = log_ratio_moments(seen(p[0]), seen(p[1]));
            (mean, second - mean * mean)
        }
    }
}

/// The exact balance time of two classes of independent sites (every K_k = 0): ΔΦ is a sum of L
/// i.i.d. site terms, so M = L μ(t) and S = √(L v(t)), and M = S is bisected in t. `None` when the
/// model has not two classes or a coupling, or when M < S even at t → 0 (too few sites).
pub fn balance_time_independent(model: &IsingChainTokens, noise: DiscreteNoise) -> Option<f64> {
    let fields: [f64; 2] = model.fields().try_into().ok()?;
    if model.couplings().iter().any(|&k| k != 0.0) {
        return None;
    }
    independent_balance_time(fields, model.length(), noise)
}

/// [`balance_time_independent`] of two classes with fields `fields` at length `length`.
pub fn independent_balance_time(
    fields: [f64; 2],
    length: usize,
    noise: DiscreteNoise,
) -> Option<f64> {
    let p = fields.map(|h| 1.0 / (1.0 + (-2.0 * h).exp()));
    let l = length as f64;
    phi_crossing(
        |t| {
            let (mean, var) = site_moments(p, noise, t);
            l * mean / (l * var.max(0.0)).sqrt().max(f64::MIN_POSITIVE)
        },
        1.0,
    )
}

/// The balance time of the first two classes by Monte Carlo: ΔΦ(x_t) = ℓ_1 − ℓ_2 − ln(w_1/w_2) (ℓ_k
/// from [`TokenModel::class_log_joint`]) over the rows of `samples` drawn in class 1, each noised with
/// its own common random numbers so M(t)/S(t) is smooth in t; the crossing of M/S with 1 is
/// bisected. `None` when the model has not two classes, fewer than two rows are in class 1, or M
/// never reaches S.
pub fn balance_time_monte_carlo(
    model: &dyn TokenModel,
    samples: &DiscreteForwardSamples,
) -> Option<f64> {
    let weights = model.weights();
    if weights.len() != 2 {
        return None;
    }
    let rows: Vec<usize> = (0..samples.len())
        .filter(|&r| samples.clean.labels[r] == 0)
        .collect();
    if rows.len() < 2 {
        return None;
    }
    let (l, prior) = (samples.clean.length, (weights[0] / weights[1]).ln());
    let ratio = |t: f64| {
        let delta: Vec<f64> = rows
            .par_iter()
            .map_init(
                || (vec![0u8; l], vec![0.0; 2]),
                |(x, ell), &row| {
                    samples.observe(row, t, x);
                    model.class_log_joint(samples.noise, t, x, ell);
                    ell[0] - ell[1] - prior
                },
            )
            .collect();
        let n = delta.len() as f64;
        let mean = delta.iter().sum::<f64>() / n;
        let var = delta.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
        mean / var.sqrt().max(f64::MIN_POSITIVE)
    };
    phi_crossing(ratio, 1.0)
}
