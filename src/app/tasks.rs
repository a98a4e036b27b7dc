//! The app's jobs: the `analysis::view_data` computations wrapped as worker closures, with the job's
//! progress and cancel flag as their `Control` and their errors as job errors. Everything here runs on
//! worker threads; the UI thread only submits these and reads their `Arc` results.

use crate::analysis::compare::{CompareOptions, compare};
use crate::analysis::control::Control;
use crate::analysis::view_data::{
    self, Cloud, ViewDataError, cloud, discrete_lab, lab, measured, token_view,
};
use crate::io::{DataFile, load_data};
use crate::model::learned::{self, LearnedError, LearnedModel};
use crate::scene::{Scene, TokenScene};
use crate::worker::{JobContext, JobError, JobOutput};
use std::path::Path;
use std::sync::Arc;

impl From<ViewDataError> for JobError {
    fn from(error: ViewDataError) -> Self {
        match error {
            ViewDataError::Cancelled => JobError::Cancelled,
            e => JobError::failed(&e),
        }
    }
}

/// Runs `compute` with the job's progress and cancel flag, and shares its result.
fn run<T: Send + Sync + 'static>(
    ctx: &JobContext,
    compute: impl FnOnce(&mut Control) -> Result<T, ViewDataError>,
) -> Result<JobOutput, JobError> {
    let mut progress = |fraction: f32, stage: &str| ctx.progress(fraction, stage);
    let mut control = Control::new(&mut progress, ctx.cancel_flag());
    Ok(Arc::new(compute(&mut control)?))
}

/// Samples `scene` and projects every stored step (job "sample").
pub fn sample(scene: &Scene, ctx: &JobContext) -> Result<JobOutput, JobError> {
    run(ctx, |control| cloud::sample_scene(scene, control))
}

/// Reads a data file and projects it (job "loading data"): recorded trajectories with every step, or
/// one point cloud.
pub fn open_data(path: &Path, ctx: &JobContext) -> Result<JobOutput, JobError> {
    ctx.progress(0.0, "reading");
    let data = load_data(path).map_err(|e| JobError::failed(&e))?;
    ctx.check_cancel()?;
    run(ctx, |control| match data {
        DataFile::Recording(recording) => cloud::from_recording(recording, control),
        DataFile::Points(points) => cloud::from_points(points, path, control),
    })
}

/// Runs the speciation lab on `scene` with its own settings (job "speciation").
pub fn speciation(scene: &Scene, ctx: &JobContext) -> Result<JobOutput, JobError> {
    run(ctx, |control| {
        lab::run_lab(scene, &lab::speciation_settings(scene), control)
    })
}

/// Runs a token scene and builds the token view of its first sequences (job "token run").
pub fn token_run(scene: &TokenScene, ctx: &JobContext) -> Result<JobOutput, JobError> {
    run(ctx, |control| token_view::scene_token_view(scene, control))
}

/// Runs the discrete lab on a token scene with its own settings (job "discrete lab").
pub fn discrete_lab(scene: &TokenScene, ctx: &JobContext) -> Result<JobOutput, JobError> {
    run(ctx, |control| {
        discrete_lab::run_discrete_lab(scene, &discrete_lab::discrete_lab_settings(scene), control)
    })
}

/// Measures the states of `cloud` at stored step `step`, the last when `None` (job "metrics").
pub fn metrics(
    cloud: &Cloud,
    step: Option<usize>,
    ctx: &JobContext,
) -> Result<JobOutput, JobError> {
    run(ctx, |control| {
        control.step(0.0, "measuring")?;
        measured::measure_step(cloud, step)
    })
}

/// Metric reports of every reference cloud (job "reference clouds").
pub fn references(ctx: &JobContext) -> Result<JobOutput, JobError> {
    run(ctx, measured::measure_references)
}

/// Loads the shipped DiT and Euler-Stack weights and measures both (job "DiT vs Euler-Stack", the
/// library's `compare` with its defaults), with its progress and cancellation.
pub fn compare_models(ctx: &JobContext) -> Result<JobOutput, JobError> {
    use crate::assets::{SHIPPED_DIT, SHIPPED_EULER_STACK, shipped as path};
    run(ctx, |control| {
        control.step(0.0, "loading the shipped weights")?;
        let wrong = |what: &str, p: std::path::PathBuf| {
            ViewDataError::Learned(LearnedError::Argument(format!(
                "expected {what} weights: {}",
                p.display()
            )))
        };
        let (dit_path, es_path) = (path(SHIPPED_DIT), path(SHIPPED_EULER_STACK));
        let LearnedModel::Dit(dit) = learned::load(&dit_path)? else {
            return Err(wrong("DiT", dit_path));
        };
        let LearnedModel::EulerStack(euler_stack) = learned::load(&es_path)? else {
            return Err(wrong("Euler-Stack", es_path));
        };
        control.check()?;
        let cancel = control.cancel_flag();
        control.set_span(0.1, 1.0);
        Ok(compare(
            &dit,
            &euler_stack,
            None,
            &CompareOptions::default(),
            &mut |fraction, stage| control.report(f64::from(fraction), stage),
            cancel,
        )?)
    })
}

/// A synthetic two-class cloud of `n` points, for frame-time measurements (job "synthetic cloud").
pub fn synthetic(n: usize, steps: usize, ctx: &JobContext) -> Result<JobOutput, JobError> {
    run(ctx, |control| {
        control.step(0.0, "generating")?;
        Ok(view_data::cloud::synthetic(n, steps))
    })
}
