//! The cloning experiment (`docs/science/speciation.md` §3.1): base trajectories from exact initialisation at
//! T = max clone time + lead, cloned at each clone time, all continued with fresh noise to t_min and
//! labelled; φ(t_c) per hierarchy level, crossings with bootstrap intervals. Also owns the shared
//! reverse pass with events that the U-turn experiment reuses. Works with any `Denoiser`.

use super::data_source::DataSource;
use super::hierarchy::Level;
use super::labeller::{LabelRule, Labeller, labels};
use super::{Control, SpeciationError};
use crate::diffusion::{Batch, Sampler, StepKind};
use crate::model::{Denoiser, LabelledSamples};
use crate::rng::{Domain, stream};
use rand::Rng;
use serde::Serialize;

/// Settings shared by the cloning and U-turn experiments (defaults: docs/science/speciation.md §3.4).
#[derive(Clone, Debug, PartialEq)]
pub struct ReverseSettings {
    /// Ascending, each in (t_min, ∞).
    pub clone_times: Vec<f64>,
    /// Pairs (cloning) or data points (U-turn) per clone time.
    pub pairs: usize,
    /// Ancestral step size h in OU time.
    pub step: f64,
    pub t_min: f64,
    /// T = max clone time + lead.
    pub lead: f64,
    pub labels: LabelRule,
    pub seed: u64,
    /// Classifier-free guidance weight: every row is conditioned on the class of the data point it was
    /// noised from, and clones keep their source's class (`model::guidance`).
    pub guidance: Option<f64>,
}

impl ReverseSettings {
    pub fn new(clone_times: Vec<f64>, pairs: usize, labels: LabelRule, seed: u64) -> Self {
        ReverseSettings {
            clone_times,
            pairs,
            step: 0.02,
            t_min: 0.01,
            lead: 2.5,
            labels,
            seed,
            guidance: None,
        }
    }

    /// Checks the settings; `t_limit` is the largest allowed clone time (the scene sampler's t_max).
    pub fn validate(&self, t_limit: f64) -> Result<(), SpeciationError> {
        let bad = |m: String| Err(SpeciationError::Invalid(m));
        if self.pairs == 0 {
            return bad("pairs must be at least 1".into());
        }
        if self.clone_times.is_empty() {
            return bad("at least one clone time is needed".into());
        }
        if let Some(t) = self
            .clone_times
            .iter()
            .find(|&&t| !(t > 0.0 && t.is_finite()))
        {
            return bad(format!("clone time {t} must be > 0"));
        }
        if let Some(t) = self.clone_times.iter().find(|&&t| t >= t_limit) {
            return bad(format!(
                "clone time {t} must be below the sampler's t_max = {t_limit}"
            ));
        }
        if let Some(t) = self.clone_times.iter().find(|&&t| t <= self.t_min) {
            return bad(format!(
                "clone time {t} must be above t_min = {}",
                self.t_min
            ));
        }
        if self.clone_times.windows(2).any(|w| w[0] >= w[1]) {
            return bad("clone times must be strictly increasing".into());
        }
        if !(self.step > 0.0 && self.step.is_finite()) {
            return bad(format!("step {} must be > 0", self.step));
        }
        Ok(())
    }

    fn t_start(&self) -> f64 {
        self.clone_times.last().copied().unwrap_or(0.0) + self.lead
    }
}

/// One time of the reverse grid, with the clone time (index) that falls on it, if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GridPoint {
    pub t: f64,
    pub event: Option<usize>,
}

/// Decreasing grid from `t_start` to `t_min` with steps ≤ `step` that contains every event time.
pub(crate) fn event_grid(t_start: f64, t_min: f64, step: f64, events: &[f64]) -> Vec<GridPoint> {
    let mut marks: Vec<(f64, Option<usize>)> = events
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, Some(i)))
        .collect();
    marks.push((t_min, None));
    marks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut grid = vec![GridPoint {
        t: t_start,
        event: None,
    }];
    let mut t = t_start;
    for (mark, event) in marks {
        let pieces = ((t - mark) / step).ceil().max(1.0) as usize;
        for j in 1..pieces {
            grid.push(GridPoint {
                t: t + (mark - t) * j as f64 / pieces as f64,
                event: None,
            });
        }
        if mark < t {
            grid.push(GridPoint { t: mark, event });
            t = mark;
        } else if let Some(last) = grid.last_mut() {
            last.event = last.event.or(event);
        }
    }
    grid
}

/// Steps `batch` down `grid` with the ancestral integrator; `at_point` runs at every grid time before the
/// step that leaves it (so also once at t_min). Checks cancel and reports progress at every step.
pub(crate) fn reverse_pass(
    sampler: &Sampler,
    batch: &mut Batch,
    grid: &[GridPoint],
    control: &mut Control,
    stage: &str,
    mut at_point: impl FnMut(&mut Batch, usize) -> Result<(), SpeciationError>,
) -> Result<(), SpeciationError> {
    for (j, point) in grid.iter().enumerate() {
        at_point(batch, j)?;
        if let Some(next) = grid.get(j + 1) {
            sampler.step(batch, point.t, next.t, None)?;
        }
        control.step((j + 1) as f64 / grid.len() as f64, stage)?;
    }
    Ok(())
}

/// Appends data rows to a reverse run's batch: conditioned on their data classes under guidance.
pub(crate) fn push_rows(
    batch: &mut Batch,
    rows: &LabelledSamples,
    ids: &[u64],
    settings: &ReverseSettings,
) -> Result<(), SpeciationError> {
    match settings.guidance {
        Some(_) => batch.push_class_rows(&rows.points, ids, &rows.labels)?,
        None => batch.push_rows(&rows.points, ids)?,
    }
    Ok(())
}

/// Labels of a cloning run plus the class posterior of the base trajectories along the grid.
#[derive(Clone, Debug)]
pub struct CloningRun {
    /// Ascending clone times.
    pub clone_times: Vec<f64>,
    pub pairs: usize,
    pub classes: usize,
    /// `[N]` labels of the base trajectories.
    pub base_labels: Vec<u32>,
    /// `[C, N]` labels of the clone born at each clone time from each base trajectory.
    pub clone_labels: Vec<u32>,
    /// Decreasing grid times, T … t_min.
    pub times: Vec<f64>,
    /// `[S, N, K]` labeller posterior r_k(x_t) of the base trajectories at every grid time.
    pub base_posterior: Vec<f32>,
}

/// Runs the cloning experiment: `model` drives the dynamics, `data` initialises (x_0 ~ P_0 pushed to T:
/// an exact model, or a bank of samples) and `labeller` reads classes at t_min and the base
/// trajectories' posteriors.
pub fn run_cloning<'a>(
    model: &dyn Denoiser,
    data: impl Into<DataSource<'a>>,
    labeller: &dyn Labeller,
    settings: &ReverseSettings,
    control: &mut Control,
) -> Result<CloningRun, SpeciationError> {
    settings.validate(f64::INFINITY)?;
    let (n, d, k) = (settings.pairs, model.dim(), labeller.classes());
    let t_start = settings.t_start();
    let grid = event_grid(
        t_start,
        settings.t_min,
        settings.step,
        &settings.clone_times,
    );
    let initial = data.into().forward_noised(n, t_start, settings.seed);
    let mut batch = Batch::new(d, settings.seed)?;
    push_rows(
        &mut batch,
        &initial,
        &(0..n as u64).collect::<Vec<_>>(),
        settings,
    )?;
    let sampler = Sampler::new(model, StepKind::Ancestral).guided(settings.guidance);
    let mut base_posterior = vec![0f32; grid.len() * n * k];
    let mut scratch = vec![0.0; n * k];
    // Row block of each clone time's clones, in order of birth (largest time first).
    let mut clone_block = vec![0usize; settings.clone_times.len()];
    let mut born = 0;
    reverse_pass(
        &sampler,
        &mut batch,
        &grid,
        control,
        "cloning",
        |batch, j| {
            if let Some(c) = grid[j].event {
                born += 1;
                clone_block[c] = born;
                let ids: Vec<u64> = (0..n as u64)
                    .map(|i| (c as u64 + 1) * n as u64 + i)
                    .collect();
                batch.clone_rows(&(0..n).collect::<Vec<_>>(), &ids)?;
            }
            labeller.posterior(&batch.states()[..n * d], grid[j].t, &mut scratch)?;
            let out = &mut base_posterior[j * n * k..(j + 1) * n * k];
            out.iter_mut()
                .zip(&scratch)
                .for_each(|(o, &v)| *o = v as f32);
            Ok(())
        },
    )?;
    let mut final_posterior = vec![0.0; batch.len() * k];
    labeller.posterior(batch.states(), settings.t_min, &mut final_posterior)?;
    let all = labels(
        &final_posterior,
        k,
        settings.labels,
        settings.seed,
        batch.row_ids(),
    );
    let clone_labels = clone_block
        .iter()
        .flat_map(|&b| all[b * n..(b + 1) * n].iter().copied())
        .collect();
    Ok(CloningRun {
        clone_times: settings.clone_times.clone(),
        pairs: n,
        classes: k,
        base_labels: all[..n].to_vec(),
        clone_labels,
        times: grid.iter().map(|p| p.t).collect(),
        base_posterior,
    })
}

/// A measured curve φ(t) with binomial error bars sqrt(φ(1 − φ)/N).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhiCurve {
    pub t: Vec<f64>,
    pub phi: Vec<f64>,
    pub stderr: Vec<f64>,
}

/// `[C, N]` indicators that two labels fall in the same group of `level`.
pub fn same_group(level: &Level, first: &[u32], second: &[u32]) -> Vec<bool> {
    let group = |k: u32| level.group_of_class.get(k as usize).copied();
    first
        .iter()
        .zip(second)
        .map(|(&a, &b)| group(a) == group(b))
        .collect()
}

/// φ and its error bar at each clone time from `[C, N]` match indicators.
pub fn phi_curve(times: &[f64], matches: &[bool], per_time: usize) -> PhiCurve {
    let phi: Vec<f64> = matches
        .chunks(per_time.max(1))
        .map(|m| m.iter().filter(|&&x| x).count() as f64 / per_time.max(1) as f64)
        .collect();
    let stderr = phi
        .iter()
        .map(|p| (p * (1.0 - p) / per_time.max(1) as f64).sqrt())
        .collect();
    PhiCurve {
        t: times.to_vec(),
        phi,
        stderr,
    }
}

impl CloningRun {
    /// `[C, N]` same-group indicators of every (base, clone) pair at `level`.
    pub fn matches(&self, level: &Level) -> Vec<bool> {
        let base: Vec<u32> = (0..self.clone_times.len())
            .flat_map(|_| self.base_labels.iter().copied())
            .collect();
        same_group(level, &base, &self.clone_labels)
    }
}

/// Linear interpolation of the first downward crossing of `level` by φ sampled at ascending `t`.
pub fn interpolated_crossing(t: &[f64], phi: &[f64], level: f64) -> Option<f64> {
    (0..t.len().saturating_sub(1)).find_map(|i| {
        let (p0, p1) = (phi[i], phi[i + 1]);
        (p0 >= level && p1 < level).then(|| t[i] + (t[i + 1] - t[i]) * (p0 - level) / (p0 - p1))
    })
}

/// A crossing time with its bootstrap standard error and 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Crossing {
    pub t: f64,
    pub stderr: f64,
    pub interval: [f64; 2],
}

/// Number of bootstrap resamples of a crossing.
pub const BOOTSTRAP_RESAMPLES: usize = 200;

/// The crossing of `level` by the curve of `[C, N]` match indicators, with a bootstrap over pairs
/// (resampled independently at each clone time; resample b, time c uses stream (seed, Analysis, b·C + c)).
pub fn bootstrap_crossing(
    times: &[f64],
    matches: &[bool],
    per_time: usize,
    level: f64,
    seed: u64,
) -> Option<Crossing> {
    let curve = phi_curve(times, matches, per_time);
    let t = interpolated_crossing(times, &curve.phi, level)?;
    let c_count = times.len();
    let mut resampled: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .filter_map(|b| {
            let phi: Vec<f64> = matches
                .chunks(per_time)
                .enumerate()
                .map(|(c, m)| {
                    let mut rng =
                        stream(seed, Domain::Analysis, (b * c_count + c) as u64 + (1 << 48));
                    let hits = (0..per_time)
                        .filter(|_| m[rng.random_range(0..per_time)])
                        .count();
                    hits as f64 / per_time as f64
                })
                .collect();
            interpolated_crossing(times, &phi, level)
        })
        .collect();
    resampled.sort_by(f64::total_cmp);
    let count = resampled.len().max(1) as f64;
    let mean = resampled.iter().sum::<f64>() / count;
    let stderr = (resampled.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count).sqrt();
    let quantile = |q: f64| {
        resampled
            .get(((q * (resampled.len() as f64 - 1.0)).round()) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Some(Crossing {
        t,
        stderr,
        interval: [quantile(0.025), quantile(0.975)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_grid_hits_every_clone_time_with_small_steps() {
        let grid = event_grid(4.0, 0.01, 0.02, &[0.5, 1.234, 1.5]);
        assert_eq!(grid.first().map(|p| p.t), Some(4.0));
        assert_eq!(grid.last().map(|p| p.t), Some(0.01));
        assert!(
            grid.windows(2)
                .all(|w| w[0].t > w[1].t && w[0].t - w[1].t <= 0.02 + 1e-12)
        );
        let events: Vec<(f64, usize)> = grid
            .iter()
            .filter_map(|p| p.event.map(|e| (p.t, e)))
            .collect();
        assert_eq!(events, vec![(1.5, 2), (1.234, 1), (0.5, 0)]);
    }

    #[test]
    fn crossing_interpolates_the_first_downward_pass() {
        let t = [1.0, 2.0, 3.0, 4.0, 5.0];
        let phi = [0.9, 0.8, 0.7, 0.76, 0.6];
        assert_eq!(interpolated_crossing(&t, &phi, 0.75), Some(2.5));
        assert_eq!(interpolated_crossing(&t, &phi, 0.95), None);
    }
}
