//! Exact models over token sequences, for discrete (masked and uniform) noise
//! (`docs/science/discrete.md`). A state is a sequence x ∈ {0, …, V−1}^L stored as `u8`, with
//! [`MASK`] reserved for a masked site. This module owns the forward noises and the [`TokenModel`]
//! trait that the discrete samplers and the speciation lab talk to; it never touches the UI or the
//! worker.
//!
//! Conventions shared by all implementations:
//! - token batches are row-major `u8` of shape `[n, L]`; per-site marginals `[L, V]` (f64) per row;
//!   class posteriors `[K]`;
//! - time is the same OU-like time as for Gaussian noise: a site keeps its clean value untouched with
//!   probability α(t) = e^{−t} (mask: it is revealed; flip: it is not redrawn);
//! - `t = 0` is allowed everywhere and means "no noise" (the observation is the clean word).

pub mod dyck;
pub mod ising_chain;

use crate::rng::Stream;
use rand::Rng;

/// The token value of a masked site (never a vocabulary symbol: V ≤ 255).
pub const MASK: u8 = u8::MAX;

/// Largest vocabulary a token model may have (every symbol below [`MASK`]).
pub const MAX_VOCAB: usize = MASK as usize;

/// How the forward process corrupts one site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscreteNoise {
    /// Absorbing noise: the site is revealed with probability α(t) = e^{−t}, else it holds [`MASK`].
    Mask,
    /// Uniform noise: the site keeps its value with probability α(t), else it is redrawn uniformly
    /// from the V symbols (so P(x_t,i = x_0,i) = α + (1 − α)/V).
    Flip,
}

impl DiscreteNoise {
    /// α(t) = e^{−t}: the probability that a site is untouched by the noise at time t ≥ 0.
    pub fn keep(t: f64) -> f64 {
        (-t).exp()
    }

    /// The emission e(s) = P(x_t,i = `observed` | x_0,i = `clean`) at time t, up to a factor that is
    /// the same for every `clean` (so ratios and normalised posteriors are exact).
    /// Mask: 1 for a masked site, 1[clean = observed] for a revealed one. Flip:
    /// α 1[clean = observed] + (1 − α)/V.
    pub fn emission(self, observed: u8, clean: u8, vocab: usize, t: f64) -> f64 {
        match self {
            DiscreteNoise::Mask if observed == MASK => 1.0,
            DiscreteNoise::Mask => f64::from(u8::from(observed == clean)),
            DiscreteNoise::Flip => {
                let alpha = Self::keep(t);
                let uniform = (1.0 - alpha) / vocab as f64;
                if observed == clean {
                    alpha + uniform
                } else {
                    uniform
                }
            }
        }
    }

    /// Forward-noises one clean sequence `x0` (`[L]`) to time t into `out` (`[L]`), drawing from `rng`.
    pub fn corrupt(self, x0: &[u8], vocab: usize, t: f64, rng: &mut Stream, out: &mut [u8]) {
        let alpha = Self::keep(t);
        for (o, &x) in out.iter_mut().zip(x0) {
            let kept = rng.random::<f64>() < alpha;
            *o = match (self, kept) {
                (_, true) => x,
                (DiscreteNoise::Mask, false) => MASK,
                (DiscreteNoise::Flip, false) => rng.random_range(0..vocab) as u8,
            };
        }
    }

    /// The name used in scene files and reports.
    pub fn name(self) -> &'static str {
        match self {
            DiscreteNoise::Mask => "mask",
            DiscreteNoise::Flip => "flip",
        }
    }
}

/// Clean sequences drawn from a token model's data law, with the class each belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSamples {
    /// `[n, L]` row-major.
    pub tokens: Vec<u8>,
    /// `[n]`, indices into the model's classes.
    pub labels: Vec<u32>,
    pub length: usize,
}

/// An exact model over sequences of L tokens from a vocabulary of V symbols, a mixture of K classes.
/// Everything the discrete samplers and the speciation lab need is exact: class posterior, per-site
/// marginals and joint draws given a noisy observation.
pub trait TokenModel: Send + Sync {
    /// Sequence length L.
    fn length(&self) -> usize;

    /// Vocabulary size V (≤ [`MAX_VOCAB`]).
    fn vocab(&self) -> usize;

    /// Names of the K classes.
    fn class_labels(&self) -> &[String];

    /// Class weights w_k (sum to 1).
    fn weights(&self) -> &[f64];

    /// ln w_k + ln P_k(x_t) for every class k, up to an additive constant that is the same for all
    /// classes, for one observation `x_t` (`[L]`) at time t ≥ 0 under `noise`; softmax of `out` (`[K]`)
    /// is p(k | x_t). With t = 0 (or a fully revealed word under mask noise) it is the class posterior
    /// of a clean word, used to label final samples.
    fn class_log_joint(&self, noise: DiscreteNoise, t: f64, x_t: &[u8], out: &mut [f64]);

    /// For one observation `x_t` (`[L]`): the per-site marginals p(x_0,i = v | x_t) into `marginals`
    /// (`[L, V]`, each row sums to 1) and the class posterior p(k | x_t) into `classes` (`[K]`).
    fn posterior(
        &self,
        noise: DiscreteNoise,
        t: f64,
        x_t: &[u8],
        marginals: &mut [f64],
        classes: &mut [f64],
    );

    /// One joint draw x_0 ~ p(x_0 | x_t) into `out` (`[L]`); returns the class it was drawn in.
    fn sample_posterior(
        &self,
        noise: DiscreteNoise,
        t: f64,
        x_t: &[u8],
        rng: &mut Stream,
        out: &mut [u8],
    ) -> usize;

    /// `n` clean sequences x_0 ~ P_0 with their classes; row i depends only on (seed, i).
    fn sample_x0(&self, n: usize, seed: u64) -> TokenSamples;

    /// Whether some clean sequence could have produced the observation `x_t` (`[L]`) at time t. Where
    /// none could, the evaluations fall back to the noise-free law (a learned sampler can reach such
    /// states; the exact ones cannot). Every observation is possible unless a model says otherwise.
    fn explains(&self, _noise: DiscreteNoise, _t: f64, _x_t: &[u8]) -> bool {
        true
    }

    /// The class of a clean word `x_0` (`[L]`) that no sequence of the law explains under `noise`, when
    /// the model's classes are a rule on words that still applies to it (an unbalanced Dyck word still
    /// has a first bracket); `None` for every word the law explains, and where there is no such rule.
    /// Labels of a learned sampler's invalid final words come from here instead of the class weights.
    fn class_of_unexplained(&self, _noise: DiscreteNoise, _x_0: &[u8]) -> Option<usize> {
        None
    }

    /// Whether [`TokenModel::sample_posterior`] is an exact joint draw. A learned model only has
    /// per-site marginals (`model::learned::masked`), so runs refuse the `exact` sampler for it.
    fn joint_draws(&self) -> bool {
        true
    }

    /// The first evaluation failure, if any: a learned model's network can fail where the exact
    /// models cannot, and the trait's evaluations return no errors, so runs check this at the end.
    fn failure(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Domain, stream};

    #[test]
    fn emissions_follow_the_forward_process() {
        let t = 0.7;
        let alpha = DiscreteNoise::keep(t);
        // Flip: the emission is the probability of what was observed, summing to 1 over observations.
        let total: f64 = (0..4u8)
            .map(|y| DiscreteNoise::Flip.emission(y, 2, 4, t))
            .sum();
        assert!((total - 1.0).abs() < 1e-15);
        assert!(
            (DiscreteNoise::Flip.emission(2, 2, 4, t) - (alpha + (1.0 - alpha) / 4.0)).abs()
                < 1e-15
        );
        assert_eq!(DiscreteNoise::Mask.emission(MASK, 3, 4, t), 1.0);
        assert_eq!(DiscreteNoise::Mask.emission(1, 3, 4, t), 0.0);
        assert_eq!(DiscreteNoise::Mask.emission(3, 3, 4, t), 1.0);
    }

    #[test]
    fn corruption_keeps_a_fraction_alpha() {
        // 200,000 sites: the kept fraction has standard error ≤ 0.0012; allow 5 of them.
        let (t, n) = (0.5, 200_000);
        let x0 = vec![1u8; n];
        let mut out = vec![0u8; n];
        let mut rng = stream(3, Domain::ForwardNoise, 0);
        DiscreteNoise::Mask.corrupt(&x0, 2, t, &mut rng, &mut out);
        let revealed = out.iter().filter(|&&v| v != MASK).count() as f64 / n as f64;
        assert!(
            (revealed - DiscreteNoise::keep(t)).abs() < 0.006,
            "{revealed}"
        );
        assert!(out.iter().all(|&v| v == 1 || v == MASK));
        DiscreteNoise::Flip.corrupt(&x0, 2, t, &mut rng, &mut out);
        let same = out.iter().filter(|&&v| v == 1).count() as f64 / n as f64;
        let expected = DiscreteNoise::keep(t) + (1.0 - DiscreteNoise::keep(t)) / 2.0;
        assert!((same - expected).abs() < 0.006, "{same} vs {expected}");
    }
}
