//! Reverse-time sampling under discrete noise (`docs/science/discrete.md` §3): token sequences from the
//! forward-noised data law at t_max down to clean words at t = 0, through any exact [`TokenModel`].
//! Four samplers share one step: `exact` (a joint draw of x_0 | x_t, then the exact bridge per site),
//! `factorized` (each site's x_0 from its own marginal, as a neural masked-diffusion model does),
//! `confidence` (mask: reveal the most confident masked sites) and `autoregressive` (mask: reveal left to
//! right from the exact conditionals). Rows are independent and each draws from its own stream, so runs
//! are bit-identical whatever the thread count.

use super::DiffusionError;
use super::memory;
use super::schedule::{GridSpacing, time_grid};
use super::trajectories::StoreSteps;
use crate::model::ModelError;
use crate::model::discrete::{DiscreteNoise, MASK, TokenModel};
use crate::model::math::pick_class;
use crate::rng::{Domain, Stream, stream};
use rand::Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How a reverse step proposes the clean word behind the current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscreteSampler {
    /// x_0 ~ p(x_0 | x_t) jointly: the path law is exact at any step count.
    Exact,
    /// Each x_0,i ~ p(x_0,i | x_t) on its own: exact only when at most one site changes per step.
    Factorized,
    /// Mask only: the scheduled number of masked sites with the highest max-marginal, values from
    /// their marginals.
    Confidence,
    /// Mask only: the scheduled number of sites, strictly left to right, each from its exact
    /// conditional given everything revealed so far.
    Autoregressive,
}

impl DiscreteSampler {
    pub const ALL: [DiscreteSampler; 4] = [
        DiscreteSampler::Exact,
        DiscreteSampler::Factorized,
        DiscreteSampler::Confidence,
        DiscreteSampler::Autoregressive,
    ];

    /// The name used in scene files and reports.
    pub fn name(self) -> &'static str {
        match self {
            DiscreteSampler::Exact => "exact",
            DiscreteSampler::Factorized => "factorized",
            DiscreteSampler::Confidence => "confidence",
            DiscreteSampler::Autoregressive => "autoregressive",
        }
    }

    /// Whether the sampler is defined under `noise` (ordering reveals needs masks).
    pub fn supports(self, noise: DiscreteNoise) -> bool {
        matches!(self, DiscreteSampler::Exact | DiscreteSampler::Factorized)
            || noise == DiscreteNoise::Mask
    }
}

/// A whole discrete run: sampler, grid, batch size, seed and the steps kept.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSpec {
    pub noise: DiscreteNoise,
    pub sampler: DiscreteSampler,
    /// Grid steps from t_max to t_min; one more step then goes to t = 0 (the clean word).
    pub steps: usize,
    pub t_max: f64,
    pub t_min: f64,
    pub grid: GridSpacing,
    pub trajectories: usize,
    pub seed: u64,
    pub store: StoreSteps,
}

/// Token trajectories: the stored states of every row with their exact class posterior.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenTrajectories {
    pub n: usize,
    pub length: usize,
    pub vocab: usize,
    pub stored_steps: usize,
    /// `[S]`, decreasing; the last is 0 (the clean words).
    pub times: Vec<f64>,
    /// `[N, S, L]`, [`MASK`] where a site is masked.
    pub tokens: Vec<u8>,
    /// `[N, S, K]`, p(k | x_t) at each stored time.
    pub posterior: Vec<f32>,
    pub class_labels: Vec<String>,
    /// `[N]`, the class of the data word each trajectory was noised from.
    pub initial_labels: Vec<u32>,
}

impl TokenTrajectories {
    /// The tokens `[L]` of row `i` at stored step `j`.
    pub fn state(&self, i: usize, j: usize) -> Option<&[u8]> {
        let start = (i * self.stored_steps + j) * self.length;
        (i < self.n && j < self.stored_steps)
            .then(|| self.tokens.get(start..start + self.length))
            .flatten()
    }

    /// p(k | x_t) `[K]` of row `i` at stored step `j`.
    pub fn posterior_at(&self, i: usize, j: usize) -> Option<&[f32]> {
        let k = self.class_labels.len();
        let start = (i * self.stored_steps + j) * k;
        (i < self.n && j < self.stored_steps)
            .then(|| self.posterior.get(start..start + k))
            .flatten()
    }
}

/// Steps one path at a time of one model with one sampler, reusing its buffers from step to step.
///
/// Under mask noise the `exact` sampler follows its path: p(x_0 | x_t) depends only on the revealed
/// sites (a mask says nothing about the value behind it, whatever t), and the clean word drawn at the
/// previous step is, given the state that step produced, itself a draw from p(x_0 | x_s) (the
/// forward chain x_0 → x_s → x_t is Markov and the step only revealed sites of that word). So when a
/// step is given the very state the stepper returned last, it reveals sites of the same word instead
/// of drawing a new one: the path law is unchanged and a step costs one uniform per masked site. A
/// stepper therefore steps one path at a time: paths must not be interleaved on one stepper (a state
/// equal to another path's last output would inherit that path's word). Starting a new path from a
/// fresh state, or cloning one (the first clone continues the word, the second draws its own), is
/// fine.
pub struct TokenStepper<'a> {
    model: &'a dyn TokenModel,
    noise: DiscreteNoise,
    sampler: DiscreteSampler,
    /// `[L, V]` per-site marginals and `[K]` class posterior of the last posterior call.
    marginals: Vec<f64>,
    classes: Vec<f64>,
    /// The clean word of the last exact step, and (mask noise) the state that step returned while
    /// the word still stands behind it.
    x0: Vec<u8>,
    returned: Option<Vec<u8>>,
    order: Vec<usize>,
    /// `[V]` flip-bridge weights of one site.
    bridge_weights: Vec<f64>,
}

/// Draws an index with probability proportional to the weights `p` (not necessarily normalised).
fn categorical(p: &[f64], rng: &mut Stream) -> usize {
    pick_class(p, rng.random::<f64>() * p.iter().sum::<f64>())
}

/// The count revealed this step: the expected number, `masked · (α_s − α_t)/(1 − α_t)`, rounded
/// stochastically so its mean is exact.
fn scheduled_reveals(masked: usize, t: f64, s: f64, rng: &mut Stream) -> usize {
    let (alpha_t, alpha_s) = (DiscreteNoise::keep(t), DiscreteNoise::keep(s));
    let expected = masked as f64 * ((alpha_s - alpha_t) / (1.0 - alpha_t)).clamp(0.0, 1.0);
    let whole = expected.floor();
    let extra = rng.random::<f64>() < expected - whole;
    (whole as usize + usize::from(extra)).min(masked)
}

/// The exact bridge q(x_s | x_t, x_0) of one step from t to s < t, with everything its sites share
/// (α_t, α_s and the flip weights) computed once per step rather than once per site: two `exp` per site
/// were most of a revealed site's cost. Every value is the one the per-site formula gives, so the
/// draws are unchanged.
struct Bridge {
    noise: DiscreteNoise,
    vocab: usize,
    /// Mask: P(a masked site is revealed at s), (α_s − α_t)/(1 − α_t) clamped to [0, 1].
    reveal: f64,
    /// Flip: q(x_t = v | x_s = v) and q(x_t = v | x_s = u ≠ v) over the step (it keeps a value with
    /// probability α_t/α_s).
    forward_same: f64,
    forward_other: f64,
    /// Flip: q(x_s = v | x_0 = v) and q(x_s = u ≠ v | x_0 = v).
    prior_same: f64,
    prior_other: f64,
}

impl Bridge {
    fn new(noise: DiscreteNoise, vocab: usize, t: f64, s: f64) -> Self {
        let (alpha_t, alpha_s) = (DiscreteNoise::keep(t), DiscreteNoise::keep(s));
        let keep = alpha_t / alpha_s;
        let uniform_ts = (1.0 - keep) / vocab as f64;
        let uniform_s = (1.0 - alpha_s) / vocab as f64;
        Bridge {
            noise,
            vocab,
            reveal: ((alpha_s - alpha_t) / (1.0 - alpha_t)).clamp(0.0, 1.0),
            forward_same: keep + uniform_ts,
            forward_other: uniform_ts,
            prior_same: alpha_s + uniform_s,
            prior_other: uniform_s,
        }
    }

    /// x_s of one site given its current value `observed` and clean value `clean`; `weights` is
    /// scratch of any length (flip: resized to V).
    fn site(&self, observed: u8, clean: u8, rng: &mut Stream, weights: &mut Vec<f64>) -> u8 {
        match self.noise {
            DiscreteNoise::Mask if observed != MASK => observed,
            DiscreteNoise::Mask => {
                if rng.random::<f64>() < self.reveal {
                    clean
                } else {
                    MASK
                }
            }
            DiscreteNoise::Flip => {
                // q(x_s = v | x_t, x_0) ∝ q(x_t | x_s = v) q(x_s = v | x_0).
                weights.clear();
                weights.extend((0..self.vocab as u8).map(|v| {
                    let forward = if v == observed {
                        self.forward_same
                    } else {
                        self.forward_other
                    };
                    let prior = if v == clean {
                        self.prior_same
                    } else {
                        self.prior_other
                    };
                    forward * prior
                }));
                categorical(weights, rng) as u8
            }
        }
    }
}

impl<'a> TokenStepper<'a> {
    pub fn new(model: &'a dyn TokenModel, noise: DiscreteNoise, sampler: DiscreteSampler) -> Self {
        TokenStepper {
            model,
            noise,
            sampler,
            marginals: vec![0.0; model.length() * model.vocab()],
            classes: vec![0.0; model.weights().len()],
            x0: vec![0; model.length()],
            returned: None,
            order: Vec::with_capacity(model.length()),
            bridge_weights: Vec::with_capacity(model.vocab()),
        }
    }

    /// The class rule's label of a clean word the law does not explain
    /// ([`TokenModel::class_of_unexplained`]).
    pub fn class_of_unexplained(&self, x_0: &[u8]) -> Option<usize> {
        self.model.class_of_unexplained(self.noise, x_0)
    }

    /// p(k | x) `[K]` of the state `x` (`[L]`) at time t.
    pub fn class_posterior(&mut self, t: f64, x: &[u8]) -> &[f64] {
        self.model
            .posterior(self.noise, t, x, &mut self.marginals, &mut self.classes);
        &self.classes
    }

    /// One reverse step of one row `x` (`[L]`) from time t to s < t.
    pub fn step(&mut self, t: f64, s: f64, x: &mut [u8], rng: &mut Stream) {
        let (model, noise, scratch) = (self.model, self.noise, &mut *self);
        let vocab = model.vocab();
        match scratch.sampler {
            DiscreteSampler::Exact => {
                let follows = scratch.returned.as_deref() == Some(&*x);
                if !follows {
                    model.sample_posterior(noise, t, x, rng, &mut scratch.x0);
                }
                let bridge = Bridge::new(noise, vocab, t, s);
                for (site, &clean) in x.iter_mut().zip(&scratch.x0) {
                    *site = bridge.site(*site, clean, rng, &mut scratch.bridge_weights);
                }
                if noise == DiscreteNoise::Mask {
                    let returned = scratch.returned.get_or_insert_with(Vec::new);
                    returned.clear();
                    returned.extend_from_slice(x);
                }
            }
            DiscreteSampler::Factorized => {
                model.posterior(noise, t, x, &mut scratch.marginals, &mut scratch.classes);
                let bridge = Bridge::new(noise, vocab, t, s);
                for (i, site) in x.iter_mut().enumerate() {
                    let row = &scratch.marginals[i * vocab..(i + 1) * vocab];
                    let clean = categorical(row, rng) as u8;
                    *site = bridge.site(*site, clean, rng, &mut scratch.bridge_weights);
                }
            }
            DiscreteSampler::Confidence => {
                let masked = x.iter().filter(|&&v| v == MASK).count();
                let count = scheduled_reveals(masked, t, s, rng);
                if count == 0 {
                    return;
                }
                model.posterior(noise, t, x, &mut scratch.marginals, &mut scratch.classes);
                let confidence = |i: usize| {
                    scratch.marginals[i * vocab..(i + 1) * vocab]
                        .iter()
                        .copied()
                        .fold(0.0, f64::max)
                };
                scratch.order.clear();
                scratch.order.extend((0..x.len()).filter(|&i| x[i] == MASK));
                // Most confident first; ties by position, so the order is deterministic.
                scratch
                    .order
                    .sort_by(|&a, &b| confidence(b).total_cmp(&confidence(a)).then(a.cmp(&b)));
                for &i in &scratch.order[..count] {
                    let row = &scratch.marginals[i * vocab..(i + 1) * vocab];
                    x[i] = categorical(row, rng) as u8;
                }
            }
            DiscreteSampler::Autoregressive => {
                let masked = x.iter().filter(|&&v| v == MASK).count();
                let count = scheduled_reveals(masked, t, s, rng);
                for _ in 0..count {
                    let Some(i) = x.iter().position(|&v| v == MASK) else {
                        return;
                    };
                    // The exact conditional of site i given every site revealed so far.
                    model.posterior(noise, t, x, &mut scratch.marginals, &mut scratch.classes);
                    let row = &scratch.marginals[i * vocab..(i + 1) * vocab];
                    x[i] = categorical(row, rng) as u8;
                }
            }
        }
    }
}

/// The run's times: the grid from t_max to t_min, then 0.
pub fn token_times(spec: &TokenSpec) -> Result<Vec<f64>, DiffusionError> {
    let mut times = time_grid(spec.t_max, spec.t_min, spec.steps, spec.grid)?;
    times.push(0.0);
    Ok(times)
}

/// Runs `spec.trajectories` rows of `model` from forward-noised data at t_max (the exact law of x_T)
/// down to t = 0, storing the steps `spec.store` selects (over the grid and the final step to 0).
/// Reports `progress(fraction, stage)` as rows finish and stops with `Cancelled` soon after `cancel`.
pub fn run_token_trajectories(
    model: &dyn TokenModel,
    spec: &TokenSpec,
    progress: &mut dyn FnMut(f32, &str),
    cancel: &AtomicBool,
) -> Result<TokenTrajectories, DiffusionError> {
    if !spec.sampler.supports(spec.noise) {
        return Err(DiffusionError::Spec(format!(
            "the {} sampler orders reveals and needs mask noise, not {}",
            spec.sampler.name(),
            spec.noise.name()
        )));
    }
    if spec.sampler == DiscreteSampler::Exact && !model.joint_draws() {
        return Err(DiffusionError::Spec(
            "the exact sampler needs joint draws of x_0 | x_t, which a learned model does not \
             have: use factorized, confidence or autoregressive"
                .into(),
        ));
    }
    if spec.trajectories == 0 {
        return Err(DiffusionError::Spec(
            "the number of trajectories must be at least 1".into(),
        ));
    }
    let times = token_times(spec)?;
    let transitions = times.len() - 1;
    let stored = spec.store.indices(transitions)?;
    let (n, length, k) = (spec.trajectories, model.length(), model.weights().len());
    memory::check(
        memory::bytes_of(&[n, stored.len(), length], 1)
            .saturating_add(memory::bytes_of(&[n, stored.len(), k], 4)),
        "the token trajectories",
    )?;
    let data = model.sample_x0(n, spec.seed);
    let mut tokens = vec![0u8; n * stored.len() * length];
    let mut posterior = vec![0f32; n * stored.len() * k];
    let done = AtomicUsize::new(0);
    let cancelled = AtomicBool::new(false);
    let (token_rows, posterior_rows) = (stored.len() * length, stored.len() * k);
    std::thread::scope(|scope| {
        let work = scope.spawn(|| {
            tokens
                .par_chunks_mut(token_rows)
                .zip(posterior.par_chunks_mut(posterior_rows))
                .enumerate()
                .for_each(|(row, (row_tokens, row_posterior))| {
                    if cancel.load(Ordering::Relaxed) {
                        cancelled.store(true, Ordering::Relaxed);
                        return;
                    }
                    let mut rng = stream(spec.seed, Domain::ReverseNoise, row as u64);
                    let mut stepper = TokenStepper::new(model, spec.noise, spec.sampler);
                    let mut x = vec![0u8; length];
                    let clean = &data.tokens[row * length..(row + 1) * length];
                    spec.noise
                        .corrupt(clean, model.vocab(), times[0], &mut rng, &mut x);
                    let mut slots = stored.iter().enumerate().peekable();
                    for (j, &t) in times.iter().enumerate() {
                        if j > 0 {
                            stepper.step(times[j - 1], t, &mut x, &mut rng);
                        }
                        if let Some((slot, _)) = slots.next_if(|&(_, &index)| index == j) {
                            row_tokens[slot * length..(slot + 1) * length].copy_from_slice(&x);
                            let classes = stepper.class_posterior(t, &x);
                            for (p, &c) in row_posterior[slot * k..(slot + 1) * k]
                                .iter_mut()
                                .zip(classes)
                            {
                                *p = c as f32;
                            }
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                });
        });
        // Progress from the calling thread, which owns the callback.
        while !work.is_finished() {
            progress(
                done.load(Ordering::Relaxed) as f32 / n as f32,
                "sampling tokens",
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    if cancelled.load(Ordering::Relaxed) {
        return Err(DiffusionError::Cancelled);
    }
    if let Some(failure) = model.failure() {
        return Err(DiffusionError::Model(ModelError::Evaluation(failure)));
    }
    progress(1.0, "sampling tokens");
    Ok(TokenTrajectories {
        n,
        length,
        vocab: model.vocab(),
        stored_steps: stored.len(),
        times: stored.iter().map(|&j| times[j]).collect(),
        tokens,
        posterior,
        class_labels: model.class_labels().to_vec(),
        initial_labels: data.labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_reveals_the_expected_count_on_average() {
        // 20,000 draws of a count with mean 2.5 and variance ≤ 0.25: standard error ≤ 0.004.
        let mut rng = stream(1, Domain::Analysis, 0);
        let (t, s) = (1.0, 0.8);
        let expected = 10.0 * (DiscreteNoise::keep(s) - DiscreteNoise::keep(t))
            / (1.0 - DiscreteNoise::keep(t));
        let mean = (0..20_000)
            .map(|_| scheduled_reveals(10, t, s, &mut rng) as f64)
            .sum::<f64>()
            / 20_000.0;
        assert!((mean - expected).abs() < 0.02, "{mean} vs {expected}");
    }

    /// Under mask noise the exact sampler reveals one word along its path: the word behind the first
    /// step's state is the final word. A state the stepper did not return (a new path) gets a new
    /// draw, and flip noise never keeps a word.
    #[test]
    fn the_exact_masked_sampler_keeps_its_word_along_one_path_only() {
        use crate::model::discrete::ising_chain::{IsingChainClass, IsingChainTokens};
        use crate::model::ising::Boundary;
        let class = |coupling: f64| IsingChainClass {
            weight: 0.5,
            coupling,
            field: 0.0,
            label: String::new(),
        };
        let model =
            IsingChainTokens::new(64, Boundary::Open, vec![class(0.3), class(0.8)]).unwrap();
        let mut stepper = TokenStepper::new(&model, DiscreteNoise::Mask, DiscreteSampler::Exact);
        let mut rng = stream(3, Domain::Analysis, 0);
        let times = [8.0, 2.0, 1.0, 0.5, 0.1, 0.0];
        let mut x = vec![MASK; 64];
        stepper.step(times[0], times[1], &mut x, &mut rng);
        let word = stepper.x0.clone();
        for w in times[1..].windows(2) {
            stepper.step(w[0], w[1], &mut x, &mut rng);
        }
        assert_eq!(x, word, "the path ends on the word its first step drew");
        // A new path from the all-masked state: a new word (two independent words agree with
        // probability Σ p(x)² ≤ max p(x) ≤ ½ · ½ · 0.832⁶³ ≈ 2e-6 under these chains).
        let mut y = vec![MASK; 64];
        stepper.step(8.0, 0.0, &mut y, &mut rng);
        assert_ne!(y, word);
        // Flip noise: p(x_0 | x_t) moves with every state, and no word is kept.
        let mut flip = TokenStepper::new(&model, DiscreteNoise::Flip, DiscreteSampler::Exact);
        let mut z = vec![0u8; 64];
        flip.step(2.0, 1.0, &mut z, &mut rng);
        assert!(flip.returned.is_none());
    }

    #[test]
    fn the_flip_bridge_matches_bayes_on_two_symbols() {
        // x_t = 1, x_0 = 0, V = 2: P(x_s = 1) = q(x_t=1|x_s=1) q(x_s=1|x_0=0) / Σ.
        let (t, s) = (1.2, 0.4);
        let keep = DiscreteNoise::keep(t) / DiscreteNoise::keep(s);
        let a_s = DiscreteNoise::keep(s);
        let w1 = (keep + (1.0 - keep) / 2.0) * ((1.0 - a_s) / 2.0);
        let w0 = ((1.0 - keep) / 2.0) * (a_s + (1.0 - a_s) / 2.0);
        let exact = w1 / (w0 + w1);
        let mut rng = stream(2, Domain::Analysis, 0);
        let n = 40_000;
        let bridge = Bridge::new(DiscreteNoise::Flip, 2, t, s);
        let mut weights = Vec::new();
        let ones = (0..n)
            .filter(|_| bridge.site(1, 0, &mut rng, &mut weights) == 1)
            .count() as f64
            / n as f64;
        // Binomial standard error ≤ 0.0025; 4 of them.
        assert!((ones - exact).abs() < 0.01, "{ones} vs {exact}");
    }
}
