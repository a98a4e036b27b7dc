//! Whole reverse-time runs: initial states (exact forward-noised data or N(0, I)), the step loop from
//! t_max to t_min with cancellation and progress, and the store of selected steps with the class
//! posterior along each trajectory. Builds on the step API in `sampler`; owns no file formats.

use super::DiffusionError;
use super::memory;
use super::noise::NoiseStream;
use super::sampler::{Batch, Sampler, StepKind};
use super::schedule::{GridSpacing, time_grid};
use crate::base::ou::{noise_var, signal};
use crate::model::math::pick_class;
use crate::model::{Denoiser, ExactModel, LabelledSamples};
use crate::rng::{Domain, stream};
use rand::Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which grid points are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreSteps {
    /// Every grid point t_0 … t_M (M + 1 states per trajectory, the initial one included).
    All,
    /// Only the end point t_M = t_min.
    Final,
    /// Every k-th grid point (t_0, t_k, t_2k, …) and always the final one.
    Every(usize),
}

impl StoreSteps {
    /// How many grid points are stored for a run of `steps` steps (without listing them).
    pub fn count(self, steps: usize) -> Result<usize, DiffusionError> {
        match self {
            StoreSteps::All => Ok(steps.saturating_add(1)),
            StoreSteps::Final => Ok(1),
            StoreSteps::Every(0) => Err(DiffusionError::Spec(
                "store every k-th step needs k ≥ 1".into(),
            )),
            StoreSteps::Every(k) => Ok(steps / k + 1 + usize::from(!steps.is_multiple_of(k))),
        }
    }

    /// The stored grid indices, increasing, for a run of `steps` steps (grid indices 0..=steps).
    pub fn indices(self, steps: usize) -> Result<Vec<usize>, DiffusionError> {
        match self {
            StoreSteps::All => Ok((0..=steps).collect()),
            StoreSteps::Final => Ok(vec![steps]),
            StoreSteps::Every(0) => Err(DiffusionError::Spec(
                "store every k-th step needs k ≥ 1".into(),
            )),
            StoreSteps::Every(k) => {
                let mut indices: Vec<usize> = (0..=steps).step_by(k).collect();
                if indices.last() != Some(&steps) {
                    indices.push(steps);
                }
                Ok(indices)
            }
        }
    }
}

/// Where the trajectories start at t_max.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitKind {
    /// Exactly: x_0 ~ P_0 pushed forward to t_max (needs an exact model).
    Data,
    /// From the stationary law N(0, I) (approximate unless t_max is large).
    Gaussian,
}

/// Everything that defines one run.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingSpec {
    pub kind: StepKind,
    pub steps: usize,
    pub t_max: f64,
    pub t_min: f64,
    pub grid: GridSpacing,
    pub init: InitKind,
    pub store: StoreSteps,
    pub trajectories: usize,
    pub seed: u64,
    /// Classifier-free guidance weight w (`model::guidance`): each trajectory is conditioned on a class
    /// drawn from the mixture weights; `None` samples the model unguided.
    pub guidance: Option<f64>,
}

impl SamplingSpec {
    /// The bytes a run needs for rows of dimension `dim` and `classes` posterior classes (0 = none):
    /// the store (states, posterior), the live batch, its noise streams, the initial data and the grid.
    pub fn memory_estimate(&self, dim: usize, classes: usize) -> Result<u64, DiffusionError> {
        let stored = self.store.count(self.steps)?;
        let n = self.trajectories;
        let parts = [
            memory::bytes_of(&[n, stored, dim], 4),
            memory::bytes_of(&[n, stored, classes], 4),
            // Live states, initial data and the posterior scratch.
            memory::bytes_of(&[n, dim], 8),
            memory::bytes_of(&[n, classes], 4),
            memory::bytes_of(&[n], std::mem::size_of::<NoiseStream>() as u64 + 16),
            memory::bytes_of(&[self.steps.saturating_add(1)], 16),
        ];
        Ok(parts.iter().fold(0u64, |acc, &p| acc.saturating_add(p)))
    }
}

/// Stored trajectories.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectories {
    /// Number of trajectories N.
    pub n: usize,
    /// Number of stored time points S.
    pub stored_steps: usize,
    pub dim: usize,
    /// `[S]`, decreasing; the last is t_min.
    pub times: Vec<f64>,
    /// `[N, S, d]`.
    pub states: Vec<f32>,
    /// `[N, S, K]`, p(k | x_t) at each stored time, when the model has an exact posterior.
    pub posterior: Option<Vec<f32>>,
    pub class_labels: Vec<String>,
    /// `[N]`, the class of the data point each trajectory started from (exact initialisation only);
    /// under guidance, the class each trajectory is conditioned on (which is that data class when
    /// initialised from data).
    pub initial_labels: Option<Vec<u32>>,
}

impl Trajectories {
    /// The state of trajectory `i` at stored step `j` (`[d]`).
    pub fn state(&self, i: usize, j: usize) -> Option<&[f32]> {
        let start = (i * self.stored_steps + j) * self.dim;
        (i < self.n && j < self.stored_steps)
            .then(|| self.states.get(start..start + self.dim))
            .flatten()
    }

    /// p(k | x_t) of trajectory `i` at stored step `j` (`[K]`), when stored.
    pub fn posterior_at(&self, i: usize, j: usize) -> Option<&[f32]> {
        let k = self.class_labels.len();
        let start = (i * self.stored_steps + j) * k;
        let posterior = self.posterior.as_ref()?;
        (i < self.n && j < self.stored_steps)
            .then(|| posterior.get(start..start + k))
            .flatten()
    }

    /// The states at the last stored time (t_min), `[N, d]`.
    pub fn final_states(&self) -> Vec<f32> {
        (0..self.n)
            .flat_map(|i| self.state(i, self.stored_steps - 1).unwrap_or_default())
            .copied()
            .collect()
    }
}

/// `n` exact samples of x_t: x_0 ~ P_0 (`sample_x0(n, seed)`), then forward-noised to t with
/// [`forward_noise_in_place`]; labels are the data classes.
pub fn forward_noised(exact: &dyn ExactModel, n: usize, t: f64, seed: u64) -> LabelledSamples {
    let mut samples = exact.sample_x0(n, seed);
    forward_noise_in_place(&mut samples.points, samples.dim, t, seed);
    samples
}

/// Pushes data rows (`[n, d]`) forward to OU time t: x_t = a_t x_0 + sqrt(Δ_t) z, with z of row i from
/// `NoiseStream::new(seed, Domain::ForwardNoise, i)` (e.g. for U-turn experiments on one class's data).
pub fn forward_noise_in_place(points: &mut [f32], dim: usize, t: f64, seed: u64) {
    let (a, sd) = (signal(t) as f32, noise_var(t).sqrt() as f32);
    points.par_chunks_mut(dim.max(1)).enumerate().for_each_init(
        || vec![0f32; dim],
        |noise, (i, row)| {
            NoiseStream::new(seed, Domain::ForwardNoise, i as u64).fill_normal(noise);
            for (x, &z) in row.iter_mut().zip(noise.iter()) {
                *x = a * *x + sd * z;
            }
        },
    );
}

/// `n` draws from N(0, I_d), row i from `NoiseStream::new(seed, Domain::ForwardNoise, i)`.
fn standard_normal_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut points = vec![0f32; n * dim];
    points.par_chunks_mut(dim).enumerate().for_each(|(i, row)| {
        NoiseStream::new(seed, Domain::ForwardNoise, i as u64).fill_normal(row)
    });
    points
}

/// The class each of `n` guided trajectories started from N(0, I) is conditioned on: drawn from the
/// mixture weights with row i's own stream (seed, `Domain::GuidanceClass`, i), so any thread count gives
/// the same classes.
fn guidance_classes(
    exact: Option<&dyn ExactModel>,
    n: usize,
    seed: u64,
) -> Result<Vec<u32>, DiffusionError> {
    let exact = exact.ok_or_else(|| {
        DiffusionError::Spec(
            "guidance draws each trajectory's class from the mixture weights, which needs an exact \
             model"
                .into(),
        )
    })?;
    let weights = exact.weights();
    Ok((0..n)
        .into_par_iter()
        .map(|i| {
            let u: f64 = stream(seed, Domain::GuidanceClass, i as u64).random();
            pick_class(weights, u) as u32
        })
        .collect())
}

/// Runs `spec.trajectories` reverse trajectories of `model` from t_max to t_min and stores the selected
/// steps. `exact` is needed for `InitKind::Data`. Reports `progress(fraction, stage)` after every step
/// and stops with `DiffusionError::Cancelled` at the first step boundary after `cancel` is set.
/// Refuses requests above the memory limit before allocating anything.
pub fn run_trajectories(
    model: &dyn Denoiser,
    exact: Option<&dyn ExactModel>,
    spec: &SamplingSpec,
    progress: &mut dyn FnMut(f32, &str),
    cancel: &AtomicBool,
) -> Result<Trajectories, DiffusionError> {
    let dim = model.dim();
    let sampler = Sampler::new(model, spec.kind).guided(spec.guidance);
    let classes = sampler.classes();
    if spec.trajectories == 0 {
        return Err(DiffusionError::Spec(
            "the number of trajectories must be at least 1".into(),
        ));
    }
    memory::check(
        spec.memory_estimate(dim, classes)?,
        &format!(
            "sampling {} trajectories × {} stored steps × d = {dim}",
            spec.trajectories,
            spec.store.count(spec.steps)?
        ),
    )?;
    let grid = time_grid(spec.t_max, spec.t_min, spec.steps, spec.grid)?;
    let stored = spec.store.indices(spec.steps)?;

    let n = spec.trajectories;
    progress(0.0, "initialising");
    let (initial, initial_labels) = match spec.init {
        InitKind::Data => {
            let exact = exact.ok_or_else(|| {
                DiffusionError::Spec(
                    "exact initialisation from data needs an exact model; use Gaussian initialisation".into(),
                )
            })?;
            let samples = forward_noised(exact, n, spec.t_max, spec.seed);
            if samples.dim != dim || samples.points.len() != n * dim {
                return Err(DiffusionError::Rows(format!(
                    "the model returned {} data values of dimension {}, expected {n} rows of dimension {dim}",
                    samples.points.len(),
                    samples.dim
                )));
            }
            (samples.points, Some(samples.labels))
        }
        InitKind::Gaussian => {
            let classes = spec
                .guidance
                .map(|_| guidance_classes(exact, n, spec.seed))
                .transpose()?;
            (standard_normal_rows(n, dim, spec.seed), classes)
        }
    };
    let mut batch = Batch::new(dim, spec.seed)?;
    let ids: Vec<u64> = (0..n as u64).collect();
    match (spec.guidance, &initial_labels) {
        (Some(_), Some(classes)) => batch.push_class_rows(&initial, &ids, classes)?,
        _ => batch.push_rows(&initial, &ids)?,
    }
    drop(initial);

    let s_count = stored.len();
    let mut states = vec![0f32; n * s_count * dim];
    let mut posterior = (classes > 0).then(|| vec![0f32; n * s_count * classes]);
    let mut step_posterior = vec![0f32; if classes > 0 { n * classes } else { 0 }];
    let mut next_store = 0;
    for j in 0..=spec.steps {
        if cancel.load(Ordering::Relaxed) {
            return Err(DiffusionError::Cancelled);
        }
        let slot = (stored.get(next_store) == Some(&j)).then_some(next_store);
        if let Some(slot) = slot {
            scatter(batch.states(), &mut states, dim, s_count, slot);
            next_store += 1;
        }
        // p(k | x_{t_j}) comes with the denoise call of the step leaving t_j (an extra call at t_min).
        let post = match (slot, posterior.is_some()) {
            (Some(_), true) => Some(step_posterior.as_mut_slice()),
            _ => None,
        };
        let has_post = post.is_some();
        if j < spec.steps {
            sampler.step(&mut batch, grid[j], grid[j + 1], post)?;
        } else if let Some(post) = post {
            sampler.posterior(&batch, grid[j], post)?;
        }
        if let (Some(slot), true, Some(store)) = (slot, has_post, posterior.as_mut()) {
            scatter(&step_posterior, store, classes, s_count, slot);
        }
        if j < spec.steps {
            progress((j + 1) as f32 / spec.steps as f32, "sampling");
        }
    }
    let diverged = batch
        .states()
        .par_chunks(dim)
        .filter(|row| row.iter().any(|v| !v.is_finite()))
        .count();
    if diverged > 0 {
        return Err(DiffusionError::Diverged {
            rows: diverged,
            total: n,
            t: spec.t_min,
        });
    }
    Ok(Trajectories {
        n,
        stored_steps: s_count,
        dim,
        times: stored.iter().map(|&j| grid[j]).collect(),
        states,
        posterior,
        class_labels: model.class_labels().to_vec(),
        initial_labels,
    })
}

/// Copies rows `[n, w]` into slot `slot` of a `[n, S, w]` store.
fn scatter(rows: &[f32], store: &mut [f32], width: usize, slots: usize, slot: usize) {
    store
        .par_chunks_mut(slots * width)
        .zip(rows.par_chunks(width))
        .for_each(|(dest, src)| dest[slot * width..(slot + 1) * width].copy_from_slice(src));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_step_count_matches_the_listed_indices() {
        for steps in 0..40 {
            for store in [StoreSteps::All, StoreSteps::Final]
                .into_iter()
                .chain((1..12).map(StoreSteps::Every))
            {
                let indices = store.indices(steps).unwrap();
                assert_eq!(
                    store.count(steps).unwrap(),
                    indices.len(),
                    "{store:?} {steps}"
                );
                assert_eq!(indices.last(), Some(&steps));
                assert!(indices.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
