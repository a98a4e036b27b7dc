//! The step-level API: a [`Batch`] of rows (states with stable ids and their own noise streams) advanced
//! from OU time t to s < t by a [`Sampler`] (`docs/science/speciation.md` §1.2). Rows are processed in fixed-size
//! chunks in parallel; a row's result depends only on its state, its id and the seed, so output is
//! bit-identical whatever the thread count and whatever other rows share the batch. Owns no time grid.

use super::DiffusionError;
use super::noise::NoiseStream;
use crate::base::ou::{noise_var, signal};
use crate::model::{Denoiser, Guide};
use crate::rng::Domain;
use rayon::prelude::*;
use std::collections::HashSet;
use std::sync::Mutex;

/// Values per chunk of rows: a chunk's states, denoised states and noise stay in L1/L2 cache.
const CHUNK_VALUES: usize = 8192;

/// The reverse-time integrators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Reverse SDE, Euler–Maruyama: x ← x + h·[x + 2 s(x,t)] + sqrt(2h)·ξ.
    Sde,
    /// DDPM-posterior (Gaussian bridge) step; the step to s = 0 returns D(x_t, t).
    Ancestral,
    /// Probability-flow ODE dx/dτ = x + s(x,t), Heun (2nd order); Euler when s = 0.
    Ode,
    /// Deterministic DDIM step x_s = a_s D + sqrt(Δ_s/Δ_t)·(x_t − a_t D).
    Ddim,
}

/// A growing set of rows stepped together: states `[n, d]`, a stable caller-chosen id per row and the
/// row's reverse-noise stream `NoiseStream::new(seed, Domain::ReverseNoise, id)`.
///
/// Ids must be unique within a batch. The speciation lab appends clones with [`Batch::clone_rows`]
/// under fresh ids: a clone then continues with its own noise, and every row's future is determined by
/// (its state, its id, the seed) alone.
///
/// ```
/// use diffscope::diffusion::{Batch, GridSpacing, Sampler, StepKind, forward_noised, time_grid};
/// use diffscope::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let class = |fill: f64| ComponentSpec {
///     weight: 0.5, mean: vec![fill; 8], cov: Covariance::Isotropic(1.0), label: String::new(),
/// };
/// let model = GaussianMixture::new(8, vec![class(1.0), class(-1.0)])?;
/// let (n, seed) = (100, 7);
/// let grid = time_grid(3.0, 0.01, 150, GridSpacing::Linear)?;
/// let start = forward_noised(&model, n, grid[0], seed); // exact x_T from data
/// let mut batch = Batch::new(8, seed)?;
/// batch.push_rows(&start.points, &(0..n as u64).collect::<Vec<_>>())?;
/// let sampler = Sampler::new(&model, StepKind::Ancestral);
/// for (j, pair) in grid.windows(2).enumerate() {
///     if j == 75 {
///         // One clone per base row, with ids that no other row uses.
///         let ids: Vec<u64> = (0..n as u64).map(|i| n as u64 + i).collect();
///         batch.clone_rows(&(0..n).collect::<Vec<_>>(), &ids)?;
///     }
///     sampler.step(&mut batch, pair[0], pair[1], None)?;
/// }
/// let mut posterior = vec![0f32; batch.len() * 2]; // p(k | x_{t_min}) for labelling
/// sampler.posterior(&batch, 0.01, &mut posterior)?;
/// assert_eq!(batch.len(), 2 * n);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Batch {
    dim: usize,
    seed: u64,
    states: Vec<f32>,
    row_ids: Vec<u64>,
    noise: Vec<NoiseStream>,
    ids_in_use: HashSet<u64>,
    /// `[n]`, the class each row is conditioned on under guidance; empty for an unconditioned batch
    /// (a batch is either all conditioned or not at all).
    classes: Vec<u32>,
}

impl Batch {
    /// An empty batch of rows of dimension `dim` whose noise is keyed by `seed`.
    pub fn new(dim: usize, seed: u64) -> Result<Self, DiffusionError> {
        if dim == 0 {
            return Err(DiffusionError::Rows(
                "rows must have dimension at least 1".into(),
            ));
        }
        Ok(Batch {
            dim,
            seed,
            states: Vec::new(),
            row_ids: Vec::new(),
            noise: Vec::new(),
            ids_in_use: HashSet::new(),
            classes: Vec::new(),
        })
    }

    /// Appends rows (`states` is `[ids.len(), d]`) with the given ids.
    pub fn push_rows(&mut self, states: &[f32], ids: &[u64]) -> Result<(), DiffusionError> {
        if !self.classes.is_empty() {
            return Err(DiffusionError::Rows(
                "the batch is conditioned on classes: every new row needs its class".into(),
            ));
        }
        self.push_unchecked(states, ids)
    }

    /// Appends rows conditioned on `classes` (`[ids.len()]`, one per row) for a guided sampler.
    pub fn push_class_rows(
        &mut self,
        states: &[f32],
        ids: &[u64],
        classes: &[u32],
    ) -> Result<(), DiffusionError> {
        if classes.len() != ids.len() {
            return Err(DiffusionError::Rows(format!(
                "{} classes for {} rows",
                classes.len(),
                ids.len()
            )));
        }
        if self.classes.len() != self.len() {
            return Err(DiffusionError::Rows(
                "the batch has rows without a class: a batch is conditioned on classes throughout \
                 or not at all"
                    .into(),
            ));
        }
        self.push_unchecked(states, ids)?;
        self.classes.extend_from_slice(classes);
        Ok(())
    }

    fn push_unchecked(&mut self, states: &[f32], ids: &[u64]) -> Result<(), DiffusionError> {
        if states.len() != ids.len() * self.dim {
            return Err(DiffusionError::Rows(format!(
                "{} state values do not make {} rows of dimension {}",
                states.len(),
                ids.len(),
                self.dim
            )));
        }
        let mut fresh = HashSet::with_capacity(ids.len());
        if let Some(id) = ids
            .iter()
            .find(|id| self.ids_in_use.contains(id) || !fresh.insert(**id))
        {
            return Err(DiffusionError::Rows(format!(
                "row id {id} is already in the batch; every row needs its own id"
            )));
        }
        self.ids_in_use.extend(fresh);
        self.states.extend_from_slice(states);
        self.row_ids.extend_from_slice(ids);
        let seed = self.seed;
        self.noise.par_extend(
            ids.par_iter()
                .map(|&id| NoiseStream::new(seed, Domain::ReverseNoise, id)),
        );
        Ok(())
    }

    /// Appends copies of the current states of rows `sources` (indices into the batch) under `new_ids`.
    pub fn clone_rows(&mut self, sources: &[usize], new_ids: &[u64]) -> Result<(), DiffusionError> {
        if sources.len() != new_ids.len() {
            return Err(DiffusionError::Rows(format!(
                "{} source rows but {} new ids",
                sources.len(),
                new_ids.len()
            )));
        }
        let mut copies = Vec::with_capacity(sources.len() * self.dim);
        for &row in sources {
            let state = self.row(row).ok_or_else(|| {
                DiffusionError::Rows(format!(
                    "row {row} does not exist (batch has {})",
                    self.len()
                ))
            })?;
            copies.extend_from_slice(state);
        }
        if self.classes.is_empty() {
            self.push_rows(&copies, new_ids)
        } else {
            // A clone keeps the class its source is conditioned on.
            let classes: Vec<u32> = sources.iter().map(|&row| self.classes[row]).collect();
            self.push_class_rows(&copies, new_ids, &classes)
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.row_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.row_ids.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// All states, `[n, d]`.
    pub fn states(&self) -> &[f32] {
        &self.states
    }

    /// All states, writable (e.g. to perturb or reset rows); the row count cannot change this way.
    pub fn states_mut(&mut self) -> &mut [f32] {
        &mut self.states
    }

    /// The state of row `index`, if it exists.
    pub fn row(&self, index: usize) -> Option<&[f32]> {
        self.states.get(index * self.dim..(index + 1) * self.dim)
    }

    /// The ids of the rows, in row order.
    pub fn row_ids(&self) -> &[u64] {
        &self.row_ids
    }
}

/// Per-chunk working buffers, reused across chunks and steps (no allocation once warm).
#[derive(Default)]
struct Scratch {
    denoised: Vec<f32>,
    noise: Vec<f32>,
    predicted: Vec<f32>,
    denoised_at_s: Vec<f32>,
}

fn prefix(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// How one step combines x_t, D(x_t, t) and noise.
#[derive(Clone, Copy, Debug)]
enum Update {
    /// x_s = cx·x + cd·D + cn·ξ (SDE, ancestral, DDIM, Euler ODE).
    Linear { cx: f32, cd: f32, cn: f32 },
    /// Heun on dx/dτ = α_t x + β_t D(x, t): predictor to s, then the trapezoid.
    Heun {
        h: f32,
        alpha_t: f32,
        beta_t: f32,
        alpha_s: f32,
        beta_s: f32,
        s: f64,
    },
}

/// Advances batches with one integrator and one denoiser, optionally under classifier-free guidance.
pub struct Sampler<'m> {
    model: &'m dyn Denoiser,
    kind: StepKind,
    /// The guidance weight w: rows are denoised towards their batch class (`model::guidance`).
    guidance: Option<f64>,
    scratch: Mutex<Vec<Scratch>>,
}

impl<'m> Sampler<'m> {
    pub fn new(model: &'m dyn Denoiser, kind: StepKind) -> Self {
        Sampler {
            model,
            kind,
            guidance: None,
            scratch: Mutex::new(Vec::new()),
        }
    }

    /// The same sampler under classifier-free guidance with weight `w`: every step denoises each row
    /// with x̂_0(∅) + w (x̂_0(k) − x̂_0(∅)), k the row's class in the batch ([`Batch::push_class_rows`]).
    /// `None` leaves it unguided.
    pub fn guided(mut self, w: Option<f64>) -> Self {
        self.guidance = w;
        self
    }

    pub fn kind(&self) -> StepKind {
        self.kind
    }

    /// Number of classes of the model's posterior (0 when it has none).
    pub fn classes(&self) -> usize {
        if self.model.has_exact_posterior() {
            self.model.class_labels().len()
        } else {
            0
        }
    }

    /// Advances every row of `batch` from time `t` to `s` (t > s ≥ 0, t > 0). When `posterior` is given
    /// (`[n, K]`), it receives p(k | x_t) of the states *before* the step, a by-product of the denoise call.
    pub fn step(
        &self,
        batch: &mut Batch,
        t: f64,
        s: f64,
        posterior: Option<&mut [f32]>,
    ) -> Result<(), DiffusionError> {
        if !(t.is_finite() && s >= 0.0 && t > s) {
            return Err(DiffusionError::Spec(format!(
                "a reverse step needs t > s ≥ 0, got t = {t}, s = {s}"
            )));
        }
        self.check_model_dim(batch)?;
        self.check_classes(batch)?;
        let update = self.update(t, s);
        let dim = batch.dim;
        let chunk_rows = chunk_rows(dim);
        let n = batch.len();
        let posterior = self.checked_posterior(posterior, n)?;
        let rows = batch
            .states
            .par_chunks_mut(chunk_rows * dim)
            .zip(batch.noise.par_chunks_mut(chunk_rows))
            .zip(class_chunks(&batch.classes, n, chunk_rows));
        match posterior {
            Some((post, classes)) => rows
                .zip(post.par_chunks_mut(chunk_rows * classes))
                .try_for_each(|(((x, streams), k), p)| {
                    self.step_chunk(x, streams, k, t, update, Some(p), dim)
                }),
            None => rows.try_for_each(|((x, streams), k)| {
                self.step_chunk(x, streams, k, t, update, None, dim)
            }),
        }
    }

    /// Writes D(x, t) (`[n, d]`) and, when given, p(k | x_t) (`[n, K]`) for every row of `batch`,
    /// without moving it (e.g. the posterior at t_min for labelling).
    pub fn denoise(
        &self,
        batch: &Batch,
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), DiffusionError> {
        self.check_model_dim(batch)?;
        self.check_classes(batch)?;
        let dim = batch.dim;
        if denoised.len() != batch.states.len() {
            return Err(DiffusionError::Rows(format!(
                "denoised buffer has {} values, expected {}",
                denoised.len(),
                batch.states.len()
            )));
        }
        let chunk_rows = chunk_rows(dim);
        let rows = batch
            .states
            .par_chunks(chunk_rows * dim)
            .zip(denoised.par_chunks_mut(chunk_rows * dim))
            .zip(class_chunks(&batch.classes, batch.len(), chunk_rows));
        match self.checked_posterior(posterior, batch.len())? {
            Some((post, classes)) => rows
                .zip(post.par_chunks_mut(chunk_rows * classes))
                .try_for_each(|(((x, d), k), p)| self.denoise_rows(x, t, k, d, Some(p))),
            None => rows.try_for_each(|((x, d), k)| self.denoise_rows(x, t, k, d, None)),
        }
    }

    /// Writes p(k | x_t) (`[n, K]`) of every row of `batch` at time `t` (e.g. to label end points at
    /// t_min), using chunk-sized scratch instead of a full denoised copy of the batch.
    pub fn posterior(&self, batch: &Batch, t: f64, out: &mut [f32]) -> Result<(), DiffusionError> {
        self.check_model_dim(batch)?;
        let Some((out, classes)) = self.checked_posterior(Some(out), batch.len())? else {
            return Ok(());
        };
        let dim = batch.dim;
        let chunk_rows = chunk_rows(dim);
        batch
            .states
            .par_chunks(chunk_rows * dim)
            .zip(out.par_chunks_mut(chunk_rows * classes))
            .try_for_each(|(x, p)| {
                let mut scratch = self.take_scratch();
                let denoised = prefix(&mut scratch.denoised, x.len());
                let result = self.model.denoise(x, t, denoised, Some(p));
                self.return_scratch(scratch);
                Ok(result?)
            })
    }

    /// D(x, t) of a chunk of rows conditioned on `classes` (empty when unguided): the model's denoiser,
    /// or its guided form when the sampler has a guidance weight.
    fn denoise_rows(
        &self,
        x: &[f32],
        t: f64,
        classes: &[u32],
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), DiffusionError> {
        match self.guidance {
            None => self.model.denoise(x, t, denoised, posterior)?,
            Some(w) => {
                self.model
                    .denoise_guided(x, t, Guide { classes, w }, denoised, posterior)?
            }
        }
        Ok(())
    }

    /// A guided sampler needs a batch conditioned on classes and a class-conditional model.
    fn check_classes(&self, batch: &Batch) -> Result<(), DiffusionError> {
        if self.guidance.is_none() {
            return Ok(());
        }
        if !self.model.is_class_conditional() {
            return Err(DiffusionError::Spec(
                "classifier-free guidance needs a class-conditional model (a Gaussian or Ising \
                 mixture)"
                    .into(),
            ));
        }
        if batch.classes.len() != batch.len() {
            return Err(DiffusionError::Rows(
                "a guided sampler needs the class of every row (Batch::push_class_rows)".into(),
            ));
        }
        Ok(())
    }

    fn check_model_dim(&self, batch: &Batch) -> Result<(), DiffusionError> {
        if self.model.dim() != batch.dim {
            return Err(DiffusionError::Rows(format!(
                "the batch has rows of dimension {} but the model has dimension {}",
                batch.dim,
                self.model.dim()
            )));
        }
        Ok(())
    }

    /// Checks a requested posterior buffer and returns it with the class count.
    fn checked_posterior<'p>(
        &self,
        posterior: Option<&'p mut [f32]>,
        rows: usize,
    ) -> Result<Option<(&'p mut [f32], usize)>, DiffusionError> {
        let Some(post) = posterior else {
            return Ok(None);
        };
        let classes = self.classes();
        if classes == 0 {
            return Err(DiffusionError::Spec(
                "this model has no exact class posterior to store".into(),
            ));
        }
        if post.len() != rows * classes {
            return Err(DiffusionError::Rows(format!(
                "posterior buffer has {} values, expected {rows} rows × {classes} classes",
                post.len()
            )));
        }
        Ok(Some((post, classes)))
    }

    fn update(&self, t: f64, s: f64) -> Update {
        let (a_t, var_t) = (signal(t), noise_var(t));
        let (a_s, var_s) = (signal(s), noise_var(s));
        let h = t - s;
        let linear = |cx: f64, cd: f64, cn: f64| Update::Linear {
            cx: cx as f32,
            cd: cd as f32,
            cn: cn as f32,
        };
        // Drift of the probability-flow ODE in reverse time: x + (a D − x)/Δ = α x + β D.
        let ode = |a: f64, var: f64| (1.0 - 1.0 / var, a / var);
        match self.kind {
            StepKind::Sde => linear(
                1.0 + h - 2.0 * h / var_t,
                2.0 * h * a_t / var_t,
                (2.0 * h).sqrt(),
            ),
            StepKind::Ancestral => {
                // 1 − ρ², ρ = e^{-(t−s)}.
                let one_minus_rho2 = -(-2.0 * h).exp_m1();
                let rho = (-h).exp();
                linear(
                    rho * var_s / var_t,
                    a_s * one_minus_rho2 / var_t,
                    (var_s * one_minus_rho2 / var_t).sqrt(),
                )
            }
            StepKind::Ddim => {
                let ratio = (var_s / var_t).sqrt();
                linear(ratio, a_s - a_t * ratio, 0.0)
            }
            StepKind::Ode => {
                let (alpha_t, beta_t) = ode(a_t, var_t);
                if s > 0.0 {
                    let (alpha_s, beta_s) = ode(a_s, var_s);
                    Update::Heun {
                        h: h as f32,
                        alpha_t: alpha_t as f32,
                        beta_t: beta_t as f32,
                        alpha_s: alpha_s as f32,
                        beta_s: beta_s as f32,
                        s,
                    }
                } else {
                    linear(1.0 + h * alpha_t, h * beta_t, 0.0)
                }
            }
        }
    }

    fn take_scratch(&self) -> Scratch {
        self.scratch
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default()
    }

    fn return_scratch(&self, scratch: Scratch) {
        if let Ok(mut pool) = self.scratch.lock() {
            pool.push(scratch);
        }
    }

    /// One step of one chunk of rows: `x` is `[r, d]`, `streams` `[r]`, `posterior` `[r, K]`.
    #[allow(clippy::too_many_arguments)]
    fn step_chunk(
        &self,
        x: &mut [f32],
        streams: &mut [NoiseStream],
        classes: &[u32],
        t: f64,
        update: Update,
        posterior: Option<&mut [f32]>,
        dim: usize,
    ) -> Result<(), DiffusionError> {
        let mut scratch = self.take_scratch();
        let result =
            self.step_chunk_with(x, streams, classes, t, update, posterior, dim, &mut scratch);
        self.return_scratch(scratch);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn step_chunk_with(
        &self,
        x: &mut [f32],
        streams: &mut [NoiseStream],
        classes: &[u32],
        t: f64,
        update: Update,
        posterior: Option<&mut [f32]>,
        dim: usize,
        scratch: &mut Scratch,
    ) -> Result<(), DiffusionError> {
        let denoised = prefix(&mut scratch.denoised, x.len());
        self.denoise_rows(x, t, classes, denoised, posterior)?;
        match update {
            Update::Linear { cx, cd, cn } => {
                let noise = prefix(&mut scratch.noise, dim);
                for ((row, den), stream) in x
                    .chunks_exact_mut(dim)
                    .zip(denoised.chunks_exact(dim))
                    .zip(streams.iter_mut())
                {
                    if cn != 0.0 {
                        stream.fill_normal(noise);
                        combine_noisy(row, den, noise, cx, cd, cn);
                    } else {
                        combine(row, den, cx, cd);
                    }
                }
            }
            Update::Heun {
                h,
                alpha_t,
                beta_t,
                alpha_s,
                beta_s,
                s,
            } => {
                let predicted = prefix(&mut scratch.predicted, x.len());
                for ((p, &xv), &dv) in predicted.iter_mut().zip(x.iter()).zip(denoised.iter()) {
                    *p = xv + h * (alpha_t * xv + beta_t * dv);
                }
                let denoised_s = prefix(&mut scratch.denoised_at_s, x.len());
                self.denoise_rows(predicted, s, classes, denoised_s, None)?;
                let half = 0.5 * h;
                for (((xv, &dv), &pv), &ds) in x
                    .iter_mut()
                    .zip(denoised.iter())
                    .zip(predicted.iter())
                    .zip(denoised_s.iter())
                {
                    let slope = alpha_t * *xv + beta_t * dv + alpha_s * pv + beta_s * ds;
                    *xv += half * slope;
                }
            }
        }
        Ok(())
    }
}

/// The classes of each chunk of `rows` rows (`chunk_rows` per chunk), or an empty slice per chunk for an
/// unconditioned batch, so conditioned and unconditioned batches share one zipped loop.
fn class_chunks(
    classes: &[u32],
    rows: usize,
    chunk_rows: usize,
) -> impl IndexedParallelIterator<Item = &[u32]> {
    let chunks = rows.div_ceil(chunk_rows);
    (0..chunks).into_par_iter().map(move |c| {
        if classes.is_empty() {
            &classes[..0]
        } else {
            &classes[c * chunk_rows..((c + 1) * chunk_rows).min(rows)]
        }
    })
}

/// Rows per chunk: fixed by the dimension alone, so chunking never depends on the thread count.
fn chunk_rows(dim: usize) -> usize {
    (CHUNK_VALUES / dim).max(1)
}

#[inline]
fn combine_noisy(x: &mut [f32], d: &[f32], noise: &[f32], cx: f32, cd: f32, cn: f32) {
    for ((xv, &dv), &nv) in x.iter_mut().zip(d).zip(noise) {
        *xv = cx * *xv + cd * dv + cn * nv;
    }
}

#[inline]
fn combine(x: &mut [f32], d: &[f32], cx: f32, cd: f32) {
    for (xv, &dv) in x.iter_mut().zip(d) {
        *xv = cx * *xv + cd * dv;
    }
}
