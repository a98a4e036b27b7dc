//! The app's jobs, as closures for the worker: sample a scene and project it, run the speciation lab,
//! measure a cloud, measure the reference clouds. Everything here runs on worker threads; the UI thread
//! only submits these and reads their `Arc` results.

use crate::analysis::geometry::reference_clouds::Reference;
use crate::analysis::geometry::{MetricParams, MetricReport, PcaBasis, PointCloud, measure};
use crate::analysis::speciation::labeller::LabelRule;
use crate::analysis::speciation::report::{
    CloneTimes, SpeciationReport, SpeciationSettings, run_speciation,
};
use crate::analysis::speciation::{Control, SpeciationError};
use crate::diffusion::{SamplingSpec, StoreSteps, Trajectories, run_trajectories};
use crate::model::ExactModel;
use crate::model::learned::{self, LearnedError, LearnedModel};
use crate::render::layer::Grid;
use crate::scene::{self, HiddenStatesSpec, ModelSpec, Scene};
use crate::worker::{JobContext, JobError, JobOutput};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// The app keeps at most this many time points per trajectory (enough for a smooth scrubber; the
/// scene's own `store` setting still applies when it keeps fewer).
pub const MAX_DISPLAY_STEPS: usize = 101;

/// Trajectories and their PCA projections, ready for the manifold view.
pub struct Cloud {
    /// Where the points came from (scene title or file name).
    pub source: String,
    pub trajectories: Trajectories,
    /// `[S, N, 3]`: each stored step projected on the first three principal axes of that step, with
    /// signs aligned step to step so the picture does not flip.
    pub per_time: Vec<f32>,
    /// `[S, N, 3]`: every step projected on one basis fitted to all steps pooled.
    pub pooled: Vec<f32>,
    /// `[S][3]` explained-variance ratios of the per-step bases, and of the pooled basis.
    pub explained_per_time: Vec<[f32; 3]>,
    pub explained_pooled: [f32; 3],
    /// `[S]` the sign-aligned per-step bases behind `per_time` (empty for a synthetic cloud).
    pub bases: Vec<PcaBasis>,
}

impl Cloud {
    /// The projected position `[3]` of trajectory `i` at step `j`.
    pub fn position(&self, pooled: bool, j: usize, i: usize) -> Option<[f32; 3]> {
        let n = self.trajectories.n;
        let data = if pooled { &self.pooled } else { &self.per_time };
        let start = (j * n + i) * 3;
        data.get(start..start + 3).map(|p| [p[0], p[1], p[2]])
    }

    /// The states at stored step `step` (`[n, d]`) as a point cloud for the metric table.
    pub fn cloud_at(&self, step: usize) -> Result<PointCloud, JobError> {
        let t = &self.trajectories;
        let data: Vec<f64> = (0..t.n)
            .filter_map(|i| t.state(i, step))
            .flatten()
            .map(|&v| f64::from(v))
            .collect();
        if data.len() != t.n * t.dim {
            return Err(JobError::Failed(format!(
                "step {step} is outside the {} stored steps",
                t.stored_steps
            )));
        }
        PointCloud::new(t.n, t.dim, data, self.source.clone()).map_err(|e| JobError::failed(&e))
    }
}

/// The sampling run of `scene` with the app's stored-step cap.
pub fn display_spec(scene: &Scene) -> SamplingSpec {
    let mut spec = SamplingSpec::from_scene(scene);
    let stored = spec.store.count(spec.steps).unwrap_or(usize::MAX);
    if stored > MAX_DISPLAY_STEPS {
        spec.store = StoreSteps::Every(spec.steps.div_ceil(MAX_DISPLAY_STEPS - 1).max(1));
    }
    spec
}

/// Samples `scene` and projects every stored step (job "sample"). A learned model with a `reference`
/// gets the reference's exact posterior along its trajectories; a hidden-state scene runs its
/// sequence model instead (`hidden_states`).
pub fn sample(scene: &Scene, ctx: &JobContext) -> Result<JobOutput, JobError> {
    if let ModelSpec::HiddenStates(spec) = &scene.model {
        return hidden_states(scene, spec, ctx);
    }
    // `Scene::load` made the model files of a scene file absolute; a relative path left here belongs
    // to a built-in scene and resolves against the working directory and the shipped assets.
    let origin = Path::new("");
    let model = scene
        .model
        .build(origin)
        .map_err(|e| JobError::failed(&e))?;
    let reference = match model.exact() {
        Some(_) => None,
        None => scene
            .model
            .reference_model(origin)
            .map_err(|e| JobError::failed(&e))?,
    };
    let exact: Option<&dyn ExactModel> = model
        .exact()
        .or(reference.as_ref().map(|m| m as &dyn ExactModel));
    let spec = display_spec(scene);
    let mut progress = |f: f32, stage: &str| ctx.progress(0.8 * f, stage);
    let mut trajectories = run_trajectories(
        model.denoiser(),
        exact,
        &spec,
        &mut progress,
        ctx.cancel_flag(),
    )
    .map_err(|e| match e {
        crate::diffusion::DiffusionError::Cancelled => JobError::Cancelled,
        e => JobError::failed(&e),
    })?;
    if let Some(reference) = &reference {
        ctx.progress(0.8, "exact posterior");
        reference_posterior(&mut trajectories, reference);
    }
    ctx.check_cancel()?;
    ctx.progress(0.85, "projecting");
    let source = scene.title.clone().unwrap_or_else(|| "scene".into());
    Ok(Arc::new(project(trajectories, source, ctx)?))
}

/// Fills p(k | x_t) `[N, S, K]` of the exact `reference` model along trajectories the reference did
/// not drive (a learned model's), so the views colour them by the class the exact theory sees.
fn reference_posterior(trajectories: &mut Trajectories, reference: &dyn ExactModel) {
    let k = reference.weights().len();
    let (s, d) = (trajectories.stored_steps, trajectories.dim);
    if reference.dim() != d || k == 0 {
        return;
    }
    let times = trajectories.times.clone();
    let mut posterior = vec![0f32; trajectories.n * s * k];
    posterior
        .par_chunks_mut(s * k)
        .zip(trajectories.states.par_chunks(s * d))
        .for_each(|(out, states)| {
            let mut x = vec![0f64; d];
            let mut logits = vec![0f64; k];
            for ((row, state), &t) in out.chunks_mut(k).zip(states.chunks(d)).zip(&times) {
                x.iter_mut()
                    .zip(state)
                    .for_each(|(a, &b)| *a = f64::from(b));
                reference.class_log_joint(&x, t.max(1e-9), &mut logits);
                let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = logits.iter().map(|l| (l - top).exp()).sum();
                for (p, l) in row.iter_mut().zip(&logits) {
                    *p = ((l - top).exp() / total) as f32;
                }
            }
        });
    trajectories.posterior = Some(posterior);
    trajectories.class_labels = reference.class_labels().to_vec();
}

/// Samples a Dyck-2 sequence model and shows its hidden states as trajectories (job "sample" of a
/// `hidden_states` scene): the DiT's mean-pooled block output at each of `sampler.steps` Euler steps
/// (time = rectified-flow τ, 1 = noise), or the Euler-Stack's state after each token (time = tokens
/// still to come), for `trajectories` sequences.
pub fn hidden_states(
    scene: &Scene,
    spec: &HiddenStatesSpec,
    ctx: &JobContext,
) -> Result<JobOutput, JobError> {
    ctx.progress(0.0, "loading the model");
    let path = crate::assets::resolve(&spec.path, None);
    let model = learned::load(&path).map_err(|e| JobError::failed(&e))?;
    ctx.check_cancel()?;
    ctx.progress(0.1, "generating");
    let n = scene.trajectories;
    let hidden = match &model {
        LearnedModel::Dit(dit) => {
            let block = match spec.block {
                Some(b) => b.saturating_sub(1),
                None => dit.config().blocks.saturating_sub(1),
            };
            dit.sample(
                n,
                scene.sampler.steps,
                scene.seed,
                Some(block),
                ctx.cancel_flag(),
            )
            .map_err(sampling_failure)?
            .hidden
        }
        LearnedModel::EulerStack(es) => Some(
            es.sample(n, scene.seed, ctx.cancel_flag())
                .map_err(sampling_failure)?
                .hidden,
        ),
        LearnedModel::MlpDenoiser(_) => None,
    };
    let Some(hidden) = hidden else {
        return Err(JobError::Failed(format!(
            "{} is a denoiser, not a Dyck-2 sequence model: open it as a \"learned\" scene",
            path.display()
        )));
    };
    ctx.check_cancel()?;
    // The time bar runs from large to small positive times: τ as it is (1 → 1/steps), or for a
    // model stepping forward through tokens the number of tokens still to come (L → 1).
    let steps = hidden.steps;
    let increasing = hidden.times.first() < hidden.times.last();
    let times: Vec<f64> = (0..steps)
        .map(|k| {
            if increasing {
                (steps - k) as f64
            } else {
                f64::from(hidden.times[k])
            }
        })
        .collect();
    let trajectories = Trajectories {
        n: hidden.sequences,
        stored_steps: steps,
        dim: hidden.dim,
        times,
        states: hidden.states,
        posterior: None,
        class_labels: Vec::new(),
        initial_labels: None,
    };
    ctx.progress(0.85, "projecting");
    Ok(Arc::new(project(trajectories, hidden.layer, ctx)?))
}

/// Wraps a loaded `[n, d]` cloud as one-step trajectories and projects it (job "load points").
pub fn cloud_from_points(cloud: PointCloud, ctx: &JobContext) -> Result<JobOutput, JobError> {
    let trajectories = Trajectories {
        n: cloud.n(),
        stored_steps: 1,
        dim: cloud.dim(),
        times: vec![0.0],
        states: cloud.data().iter().map(|&v| v as f32).collect(),
        posterior: None,
        class_labels: Vec::new(),
        initial_labels: None,
    };
    Ok(Arc::new(project(trajectories, cloud.source.clone(), ctx)?))
}

/// PCA per stored step (sign-aligned to the previous step) and on all steps pooled.
fn project(
    trajectories: Trajectories,
    source: String,
    ctx: &JobContext,
) -> Result<Cloud, JobError> {
    let (n, s, d) = (trajectories.n, trajectories.stored_steps, trajectories.dim);
    let step_rows = |j: usize| -> Vec<f32> {
        (0..n)
            .flat_map(|i| trajectories.state(i, j).unwrap_or_default().iter().copied())
            .collect()
    };
    let fit = |rows: &[f32], count: usize| -> Result<PcaBasis, JobError> {
        PcaBasis::fit(rows, count, d, 3).map_err(|e| JobError::failed(&e))
    };
    let mut bases: Vec<PcaBasis> = (0..s)
        .into_par_iter()
        .map(|j| fit(&step_rows(j), n))
        .collect::<Result<_, _>>()?;
    ctx.check_cancel()?;
    for j in 1..s {
        let (before, after) = bases.split_at_mut(j);
        if let (Some(previous), Some(current)) = (before.last(), after.first_mut()) {
            align_signs(previous, current);
        }
    }
    ctx.progress(0.93, "projecting (pooled)");
    // The pooled basis is fitted on at most 200k rows (every k-th step) — enough for 3 axes.
    let stride = (n * s).div_ceil(200_000).max(1);
    let pooled_steps: Vec<usize> = (0..s).step_by(stride).collect();
    let pooled_rows: Vec<f32> = pooled_steps.iter().flat_map(|&j| step_rows(j)).collect();
    let pooled_basis = fit(&pooled_rows, pooled_steps.len() * n)?;
    drop(pooled_rows);
    ctx.check_cancel()?;

    let to_f32 = |v: Vec<f64>| -> Vec<f32> {
        // Pad to 3 columns when the cloud has fewer than 3 dimensions or points.
        v.into_iter().map(|x| x as f32).collect()
    };
    let padded = |basis: &PcaBasis, rows: &[f32]| -> Vec<f32> {
        let kept = basis.kept().min(3);
        let projected = to_f32(basis.project(rows, kept));
        if kept == 3 {
            return projected;
        }
        projected
            .chunks(kept.max(1))
            .flat_map(|p| (0..3).map(move |c| p.get(c).copied().unwrap_or(0.0)))
            .take(rows.len() / d * 3)
            .collect()
    };
    let per_step: Vec<(Vec<f32>, Vec<f32>)> = (0..s)
        .into_par_iter()
        .map(|j| {
            let rows = step_rows(j);
            (padded(&bases[j], &rows), padded(&pooled_basis, &rows))
        })
        .collect();
    let mut per_time = Vec::with_capacity(s * n * 3);
    let mut pooled = Vec::with_capacity(s * n * 3);
    for (a, b) in per_step {
        per_time.extend(a);
        pooled.extend(b);
    }
    let explained = |basis: &PcaBasis| -> [f32; 3] {
        let ratio = basis.explained_variance_ratio();
        [0, 1, 2].map(|c| ratio.get(c).copied().unwrap_or(0.0) as f32)
    };
    Ok(Cloud {
        source,
        explained_per_time: bases.iter().map(explained).collect(),
        explained_pooled: explained(&pooled_basis),
        bases,
        trajectories,
        per_time,
        pooled,
    })
}

/// Flips each component of `current` that points against the same component of `previous`.
fn align_signs(previous: &PcaBasis, current: &mut PcaBasis) {
    let d = current.dim;
    let kept = current.kept().min(previous.kept());
    for c in 0..kept {
        let dot: f64 = previous
            .component(c)
            .iter()
            .zip(current.component(c))
            .map(|(a, b)| a * b)
            .sum();
        if dot < 0.0 {
            current.components[c * d..(c + 1) * d]
                .iter_mut()
                .for_each(|v| *v = -*v);
        }
    }
}

/// The speciation lab settings a scene asks for (defaults when it has no `speciation` block).
pub fn speciation_settings(scene: &Scene) -> SpeciationSettings {
    let mut settings = SpeciationSettings::new(scene.seed, scene.sampler.t_max);
    if let Some(spec) = &scene.speciation {
        settings.clone_times = match &spec.clone_times {
            scene::CloneTimes::Auto => CloneTimes::Auto,
            scene::CloneTimes::Times(t) => CloneTimes::Times(t.clone()),
        };
        settings.pairs = spec.pairs;
        settings.labels = match spec.labels {
            scene::LabelRule::Argmax => LabelRule::Argmax,
            scene::LabelRule::Sampled => LabelRule::Sampled,
        };
        settings.groups = spec.groups.clone();
    }
    settings
}

/// Runs the speciation lab on `scene` (job "speciation").
/// A learned model with a `reference` is measured against the exact theory of the model it imitates.
pub fn speciation(scene: &Scene, ctx: &JobContext) -> Result<JobOutput, JobError> {
    let origin = Path::new("");
    let model = scene
        .model
        .reference_model(origin)
        .map_err(|e| JobError::failed(&e))?
        .ok_or_else(|| JobError::Failed("this scene has no exact model to compare with".into()))?;
    let learned = match &scene.model {
        ModelSpec::Learned(_) => Some(
            scene
                .model
                .build(origin)
                .map_err(|e| JobError::failed(&e))?,
        ),
        _ => None,
    };
    let settings = speciation_settings(scene);
    let mut progress = |f: f32, stage: &str| ctx.progress(f, stage);
    let mut control = Control::new(&mut progress, ctx.cancel_flag());
    let dynamics = learned.as_ref().map(|m| m.denoiser());
    let report: SpeciationReport = run_speciation(&model, dynamics, &settings, &mut control)
        .map_err(|e| match e {
            SpeciationError::Cancelled => JobError::Cancelled,
            e => JobError::failed(&e),
        })?;
    Ok(Arc::new(report))
}

/// A metric report and, for a sampled cloud, its hole overlay in the manifold view's coordinates.
pub struct Measured {
    pub report: MetricReport,
    pub overlay: Option<HoleOverlay>,
    /// Which stored step was measured.
    pub filter: StepFilter,
}

/// The time filter of a measured cloud: one stored step of the trajectories.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepFilter {
    /// The measured step (0-based) of `steps` stored steps, at time `time`.
    pub step: usize,
    pub steps: usize,
    pub time: f64,
}

/// Whether the metric table of `scene` measures the step shown rather than the last one: the hidden
/// states of a sequence model change meaning along t (spec/metrics.md §3.6: show the DiT as a
/// function of t).
pub fn table_follows_time(scene: &Scene) -> bool {
    matches!(scene.model, ModelSpec::HiddenStates(_))
}

/// H_void regions and unreachable probes on the PCA plane of the measured step, in the coordinates of
/// the view's per-step basis at that step (the metrics' own basis up to axis signs, which are matched).
pub struct HoleOverlay {
    /// The void cells (1) of the H_void raster, `[size, size]`, over `[rect_min, rect_max]`.
    pub voids: Grid,
    pub rect_min: [f32; 2],
    pub rect_max: [f32; 2],
    /// Centres of the H_probe lattice cells farther than τ from every point.
    pub unreachable_probes: Vec<[f32; 2]>,
    /// The probe square (lower corner, upper corner).
    pub probe_square: ([f32; 2], [f32; 2]),
    /// H_void and the number of probes (G²).
    pub void_count: usize,
    pub probe_count: usize,
}

/// Measures the final states of `cloud` and builds its hole overlay (job "metrics").
pub fn metrics(cloud: &Cloud, ctx: &JobContext) -> Result<JobOutput, JobError> {
    let last = cloud.trajectories.stored_steps.saturating_sub(1);
    metrics_at(cloud, last, ctx)
}

/// Measures the states of `cloud` at stored step `step` and builds their hole overlay (job
/// "metrics").
pub fn metrics_at(cloud: &Cloud, step: usize, ctx: &JobContext) -> Result<JobOutput, JobError> {
    ctx.progress(0.0, "measuring");
    let points = cloud.cloud_at(step)?;
    let report = measure(&points, &MetricParams::default()).map_err(|e| JobError::failed(&e))?;
    ctx.check_cancel()?;
    let overlay = hole_overlay(cloud, step, &report, MetricParams::default().grid);
    let t = &cloud.trajectories;
    let filter = StepFilter {
        step,
        steps: t.stored_steps,
        time: t.times.get(step).copied().unwrap_or(f64::NAN),
    };
    Ok(Arc::new(Measured {
        report,
        overlay,
        filter,
    }))
}

/// The overlay of `report` (measured at stored step `step`) mapped onto the view's projection of
/// that step.
fn hole_overlay(
    cloud: &Cloud,
    step: usize,
    report: &MetricReport,
    grid: usize,
) -> Option<HoleOverlay> {
    let detail = &report.detail;
    // Same data, same PCA: the axes agree up to sign; read each sign off the projected points.
    let mut dots = [0.0f64; 2];
    for (i, plane) in detail.plane.iter().enumerate() {
        let view = cloud.position(false, step, i)?;
        dots[0] += plane[0] * f64::from(view[0]);
        dots[1] += plane[1] * f64::from(view[1]);
    }
    let sign = dots.map(|d| if d < 0.0 { -1.0f64 } else { 1.0 });
    let map = |p: [f64; 2]| [(sign[0] * p[0]) as f32, (sign[1] * p[1]) as f32];

    let raster = detail.voids.raster;
    let size = raster.size;
    let mut values = vec![0f32; size * size];
    for void in &detail.voids.voids {
        for &cell in &void.cells {
            let (x, y) = (cell as usize % size, cell as usize / size);
            // Mirror the texture along a flipped axis.
            let x = if sign[0] < 0.0 { size - 1 - x } else { x };
            let y = if sign[1] < 0.0 { size - 1 - y } else { y };
            if let Some(v) = values.get_mut(y * size + x) {
                *v = 1.0;
            }
        }
    }
    let far = [
        raster.origin[0] + raster.cell * size as f64,
        raster.origin[1] + raster.cell * size as f64,
    ];
    let (a, b) = (map(raster.origin), map(far));
    let probes = &detail.probes;
    let square = probes.square;
    let unreachable_probes = probes
        .unreachable_centres
        .iter()
        .copied()
        .map(map)
        .collect();
    let (s0, s1) = (
        map(square.lo),
        map([square.lo[0] + square.side, square.lo[1] + square.side]),
    );
    Some(HoleOverlay {
        voids: Grid {
            width: size,
            height: size,
            values,
        },
        rect_min: [a[0].min(b[0]), a[1].min(b[1])],
        rect_max: [a[0].max(b[0]), a[1].max(b[1])],
        unreachable_probes,
        probe_square: (
            [s0[0].min(s1[0]), s0[1].min(s1[1])],
            [s0[0].max(s1[0]), s0[1].max(s1[1])],
        ),
        void_count: detail.voids.voids.len(),
        probe_count: grid * grid,
    })
}

/// Points per reference cloud: the size of the default scene's cloud, so columns compare like with like.
pub const REFERENCE_POINTS: usize = 2000;

/// Metric reports of every reference cloud (job "reference clouds").
pub struct ReferenceReports {
    pub reports: Vec<(&'static str, MetricReport)>,
}

pub fn references(ctx: &JobContext) -> Result<JobOutput, JobError> {
    let mut reports = Vec::with_capacity(Reference::ALL.len());
    for (k, reference) in Reference::ALL.iter().enumerate() {
        ctx.check_cancel()?;
        ctx.progress(k as f32 / Reference::ALL.len() as f32, reference.name());
        let cloud = reference.generate(REFERENCE_POINTS, 0x5EED + k as u64);
        let report = measure(&cloud, &MetricParams::default()).map_err(|e| JobError::failed(&e))?;
        reports.push((reference.name(), report));
    }
    Ok(Arc::new(ReferenceReports { reports }))
}

/// A learned model's sampling error as a job error: its own cancellation is the job's.
fn sampling_failure(e: LearnedError) -> JobError {
    match e {
        LearnedError::Cancelled => JobError::Cancelled,
        e => JobError::failed(&e),
    }
}

/// Loads the shipped DiT and Euler-Stack weights and measures both (job "DiT vs Euler-Stack", the
/// library's `compare` with its defaults), with its progress and cancellation.
pub fn compare_models(ctx: &JobContext) -> Result<JobOutput, JobError> {
    use crate::analysis::compare::{CompareError, CompareOptions, compare};
    use crate::assets::{SHIPPED_DIT, SHIPPED_EULER_STACK, shipped as path};
    use crate::model::learned::load;
    ctx.progress(0.0, "loading the shipped weights");
    let wrong = |what: &str, p: std::path::PathBuf| {
        JobError::failed(&LearnedError::Argument(format!(
            "expected {what} weights: {}",
            p.display()
        )))
    };
    let (dit_path, es_path) = (path(SHIPPED_DIT), path(SHIPPED_EULER_STACK));
    let LearnedModel::Dit(dit) = load(&dit_path).map_err(|e| JobError::failed(&e))? else {
        return Err(wrong("DiT", dit_path));
    };
    let LearnedModel::EulerStack(euler_stack) = load(&es_path).map_err(|e| JobError::failed(&e))?
    else {
        return Err(wrong("Euler-Stack", es_path));
    };
    ctx.check_cancel()?;
    let comparison = compare(
        &dit,
        &euler_stack,
        None,
        &CompareOptions::default(),
        &mut |fraction, stage| ctx.progress(0.1 + 0.9 * fraction, stage),
        ctx.cancel_flag(),
    )
    .map_err(|e| match e {
        CompareError::Cancelled => JobError::Cancelled,
        CompareError::Model(e) => sampling_failure(e),
        e => JobError::failed(&e),
    })?;
    Ok(Arc::new(comparison))
}

/// A synthetic two-class cloud of `n` points already in view coordinates, for frame-time measurements:
/// two Gaussian blobs in 3-D (per-row deterministic streams), one stored step, no posterior.
pub fn synthetic(n: usize, ctx: &JobContext) -> Result<JobOutput, JobError> {
    use rand::Rng;
    use rand_distr::StandardNormal;
    ctx.progress(0.0, "generating");
    let per_time: Vec<f32> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut rng = crate::rng::stream(7, crate::rng::Domain::Analysis, i as u64);
            let centre = if i % 2 == 0 { 1.5f32 } else { -1.5 };
            let mut draw = move || rng.sample::<f32, _>(StandardNormal);
            [centre + draw(), draw() * 0.7, draw() * 0.4]
        })
        .collect();
    let trajectories = Trajectories {
        n,
        stored_steps: 1,
        dim: 3,
        times: vec![0.0],
        states: per_time.clone(),
        posterior: None,
        class_labels: vec!["even".into(), "odd".into()],
        initial_labels: Some((0..n).map(|i| (i % 2) as u32).collect()),
    };
    Ok(Arc::new(Cloud {
        source: format!("synthetic cloud of {n} points"),
        trajectories,
        pooled: per_time.clone(),
        per_time,
        explained_per_time: vec![[0.0; 3]],
        explained_pooled: [0.0; 3],
        bases: Vec::new(),
    }))
}
