//! Cloning under discrete noise (`docs/science/discrete.md` §4): run the reverse sampler from t_max to
//! a clone time t, copy the state, finish both copies independently to clean words and count the pairs
//! that end in the same class. With the exact sampler and sampled labels, E φ_clone(t) = φ_post(t).

use super::SpeciationError;
use super::discrete_posterior::Estimate;
use super::labeller::LabelRule;
use crate::analysis::control::Control;
use crate::diffusion::discrete::{DiscreteSampler, TokenStepper};
use crate::diffusion::{GridSpacing, time_grid};
use crate::model::discrete::{DiscreteNoise, TokenModel};
use crate::model::math::pick_class;
use crate::rng::{Domain, Stream, stream};
use rand::Rng;
use rayon::prelude::*;

/// What a discrete cloning run does.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscreteCloningSettings {
    pub noise: DiscreteNoise,
    pub sampler: DiscreteSampler,
    /// The reverse grid from `t_max` to `t_min` (`steps` steps), then a last step to 0. Clones branch
    /// at the clone times and follow the grid times below them.
    pub steps: usize,
    pub t_max: f64,
    pub t_min: f64,
    pub grid: GridSpacing,
    /// Clone times, each in (0, t_max).
    pub clone_times: Vec<f64>,
    /// Clone pairs per clone time.
    pub pairs: usize,
    pub labels: LabelRule,
    pub seed: u64,
}

/// φ_clone at each clone time, with its binomial standard error.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscreteCloning {
    pub times: Vec<f64>,
    pub phi: Vec<Estimate>,
}

/// The label of a clean word: the argmax of p(k | x_0), or a class drawn from it; a word the law does
/// not hold (a learned sampler's unbalanced Dyck word) gets its class by the model's rule where there
/// is one, not a class drawn from the weights.
pub(crate) fn label(
    stepper: &mut TokenStepper,
    word: &[u8],
    rule: LabelRule,
    rng: &mut Stream,
) -> usize {
    if let Some(class) = stepper.class_of_unexplained(word) {
        return class;
    }
    let posterior = stepper.class_posterior(0.0, word);
    match rule {
        LabelRule::Argmax => posterior
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(k, _)| k),
        LabelRule::Sampled => pick_class(posterior, rng.random::<f64>()),
    }
}

impl DiscreteCloningSettings {
    /// Checks the sampler against the noise, the pair count and the clone times; returns the reverse
    /// grid t_max … t_min, 0.
    pub(crate) fn validated_grid(&self) -> Result<Vec<f64>, SpeciationError> {
        let s = self;
        if !s.sampler.supports(s.noise) {
            return Err(SpeciationError::Invalid(format!(
                "the {} sampler needs mask noise",
                s.sampler.name()
            )));
        }
        if s.pairs < 2 {
            return Err(SpeciationError::Invalid(
                "cloning needs at least 2 pairs per clone time".into(),
            ));
        }
        if let Some(&bad) = s.clone_times.iter().find(|&&t| !(t > 0.0 && t < s.t_max)) {
            return Err(SpeciationError::Invalid(format!(
                "clone time {bad} is outside (0, t_max = {})",
                s.t_max
            )));
        }
        let mut grid = time_grid(s.t_max, s.t_min, s.steps, s.grid)?;
        grid.push(0.0);
        Ok(grid)
    }
}

/// The times a path branched (or restarted) at `t` follows: `t`, then the grid times below it.
pub(crate) fn times_below(grid: &[f64], t: f64) -> Vec<f64> {
    std::iter::once(t)
        .chain(grid.iter().copied().filter(|&g| g < t))
        .collect()
}

/// The fraction of `true` flags with its binomial standard error (at least 2 flags).
pub(crate) fn fraction(flags: &[bool]) -> Estimate {
    let n = flags.len() as f64;
    let mean = flags.iter().filter(|&&v| v).count() as f64 / n;
    Estimate {
        mean,
        std_error: (mean * (1.0 - mean) / (n - 1.0)).sqrt(),
    }
}

/// Runs every clone pair: one reverse path per pair and clone time from forward-noised data at t_max
/// (pair i of time j draws from its own streams), branching at the clone time.
pub fn run_discrete_cloning(
    model: &dyn TokenModel,
    settings: &DiscreteCloningSettings,
    control: &mut Control,
) -> Result<DiscreteCloning, SpeciationError> {
    let s = settings;
    let grid = s.validated_grid()?;
    let data = model.sample_x0(s.pairs * s.clone_times.len(), s.seed);
    let length = model.length();
    let mut phi = Vec::with_capacity(s.clone_times.len());
    for (j, &t_clone) in s.clone_times.iter().enumerate() {
        control.step(j as f64 / s.clone_times.len() as f64, "discrete cloning")?;
        // The path's times down to the clone time, then the clones' times below it.
        let before: Vec<f64> = grid
            .iter()
            .copied()
            .filter(|&t| t > t_clone)
            .chain([t_clone])
            .collect();
        let after = times_below(&grid, t_clone);
        let same: Vec<bool> = (0..s.pairs)
            .into_par_iter()
            .map(|pair| {
                let row = j * s.pairs + pair;
                let mut stepper = TokenStepper::new(model, s.noise, s.sampler);
                let mut rng = stream(s.seed, Domain::Clone, 3 * row as u64);
                let mut x = vec![0u8; length];
                let clean = &data.tokens[row * length..(row + 1) * length];
                s.noise
                    .corrupt(clean, model.vocab(), before[0], &mut rng, &mut x);
                for w in before.windows(2) {
                    stepper.step(w[0], w[1], &mut x, &mut rng);
                }
                let mut classes = [0usize; 2];
                for (copy, class) in classes.iter_mut().enumerate() {
                    let mut clone_rng =
                        stream(s.seed, Domain::Clone, 3 * row as u64 + 1 + copy as u64);
                    let mut y = x.clone();
                    for w in after.windows(2) {
                        stepper.step(w[0], w[1], &mut y, &mut clone_rng);
                    }
                    *class = label(&mut stepper, &y, s.labels, &mut clone_rng);
                }
                classes[0] == classes[1]
            })
            .collect();
        phi.push(fraction(&same));
    }
    control.step(1.0, "discrete cloning")?;
    Ok(DiscreteCloning {
        times: s.clone_times.clone(),
        phi,
    })
}
