//! Trajectories projected for the manifold view: each stored step on its own PCA basis (signs aligned
//! step to step so the picture does not flip) and every step on one pooled basis. Clouds come from a
//! sampled scene, a sequence model's hidden states, an imported file (recorded trajectories, every step
//! kept, or one point cloud) or a synthetic generator; [`CloudOrigin`] says which, for the panels.

use super::ViewDataError;
use super::image_strip::{ImageSteps, denoise_stored};
use crate::analysis::control::Control;
use crate::analysis::geometry::{PcaBasis, PointCloud};
use crate::analysis::speciation::SpeciationError;
use crate::analysis::speciation::commitment::Commitment;
use crate::diffusion::{SamplingSpec, StoreSteps, Trajectories, memory, run_trajectories};
use crate::io::{LabelMeaning, Recording};
use crate::model::class_labeller::{ClassLabeller, LabellerSpec};
use crate::model::learned::{self, LearnedModel};
use crate::model::{Denoiser, ExactModel};
use crate::scene::{HiddenStatesSpec, ModelSpec, Scene, SceneModel};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The views keep at most this many time points per trajectory (enough for a smooth scrubber; the
/// scene's own `store` setting still applies when it keeps fewer).
pub const MAX_DISPLAY_STEPS: usize = 101;

/// Where a cloud's points came from: what the panels and captions describe instead of the scene.
#[derive(Clone, Debug, PartialEq)]
pub enum CloudOrigin {
    /// Sampled from the scene on display; `name` is its title, or the layer of a hidden-state scene.
    Sampled { name: String },
    /// Read from a file, not from the scene on display.
    Imported(Imported),
    /// Generated for frame-time measurements.
    Synthetic,
}

/// An imported file, as the panels describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub path: PathBuf,
    /// What the file holds, e.g. "200 trajectories × 50 steps × 16 dims, labels yes, posterior no,
    /// times yes".
    pub holds: String,
    /// The file gave OU times; otherwise the time bar's values are step indices (S … 1).
    pub times_in_file: bool,
    /// The file gave each trajectory's class (`labels`: its colour and committed class). Initial
    /// labels (`initial_labels`) do not count: they colour only when there is no posterior, as for a
    /// sampled scene.
    pub labels_in_file: bool,
    /// Commitment measured from the file's posterior ([`recorded_commitment`]); `None` without one.
    pub commitment: Option<Commitment>,
}

impl CloudOrigin {
    /// A short name for tables and point-cloud sources: the scene title or layer, or the file.
    pub fn name(&self) -> String {
        match self {
            CloudOrigin::Sampled { name } => name.clone(),
            CloudOrigin::Imported(imported) => imported.path.display().to_string(),
            CloudOrigin::Synthetic => "synthetic cloud".into(),
        }
    }

    /// The imported file, when the cloud is not the scene's.
    pub fn imported(&self) -> Option<&Imported> {
        match self {
            CloudOrigin::Imported(imported) => Some(imported),
            _ => None,
        }
    }
}

impl Imported {
    /// "imported data: FILE — N trajectories × S steps × d dims, labels yes, …" (the file name only).
    pub fn summary(&self) -> String {
        let file = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("imported data: {file} — {}", self.holds)
    }
}

/// Trajectories and their PCA projections, ready for the manifold view.
pub struct Cloud {
    /// Where the points came from.
    pub origin: CloudOrigin,
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
    /// An image model's x̂_0 at every stored step (scenes whose model has `shape`), for the
    /// inspector's image strip.
    pub images: Option<ImageSteps>,
}

impl Cloud {
    /// The projected position `[3]` of trajectory `i` at step `j`.
    pub fn position(&self, pooled: bool, j: usize, i: usize) -> Option<[f32; 3]> {
        let n = self.trajectories.n;
        let data = if pooled { &self.pooled } else { &self.per_time };
        let start = (j * n + i) * 3;
        data.get(start..start + 3).map(|p| [p[0], p[1], p[2]])
    }

    /// The OU time of stored step `step`; `None` past the last step or when an imported file gave no
    /// times (its time bar then counts steps).
    pub fn time_of(&self, step: usize) -> Option<f64> {
        let known = self.origin.imported().is_none_or(|i| i.times_in_file);
        known
            .then(|| self.trajectories.times.get(step).copied())
            .flatten()
    }

    /// The states at stored step `step` (`[n, d]`) as a point cloud for the metric table.
    pub fn cloud_at(&self, step: usize) -> Result<PointCloud, ViewDataError> {
        let t = &self.trajectories;
        let data: Vec<f64> = (0..t.n)
            .filter_map(|i| t.state(i, step))
            .flatten()
            .map(|&v| f64::from(v))
            .collect();
        if data.len() != t.n * t.dim {
            return Err(ViewDataError::Unsuitable(format!(
                "step {step} is outside the {} stored steps",
                t.stored_steps
            )));
        }
        Ok(PointCloud::new(t.n, t.dim, data, self.origin.name())?)
    }
}

/// The sampling run of `scene` with the views' stored-step cap ([`MAX_DISPLAY_STEPS`]).
pub fn display_spec(scene: &Scene) -> SamplingSpec {
    let mut spec = scene.sampling_spec();
    let stored = spec.store.count(spec.steps).unwrap_or(usize::MAX);
    if stored > MAX_DISPLAY_STEPS {
        spec.store = StoreSteps::Every(spec.steps.div_ceil(MAX_DISPLAY_STEPS - 1).max(1));
    }
    spec
}

/// Samples `scene` and projects every stored step. A learned model with a `reference` gets the
/// reference's exact posterior along its trajectories, an ONNX model with a `labeller` its labeller's; a hidden-state scene runs its sequence model
/// instead ([`hidden_states`]).
pub fn sample_scene(scene: &Scene, control: &mut Control) -> Result<Cloud, ViewDataError> {
    if let ModelSpec::HiddenStates(spec) = &scene.model {
        return hidden_states(scene, spec, control);
    }
    let (_, trajectories, images) = sample_trajectories(scene, control)?;
    control.step(0.85, "projecting")?;
    let name = scene.title.clone().unwrap_or_else(|| "scene".into());
    let mut cloud = project(trajectories, CloudOrigin::Sampled { name }, control)?;
    cloud.images = images;
    Ok(cloud)
}

/// The trajectories of [`sample_scene`] (not of a hidden-state scene), the model that drove them
/// and, for an image model, x̂_0 of every stored state.
fn sample_trajectories(
    scene: &Scene,
    control: &mut Control,
) -> Result<(SceneModel, Trajectories, Option<ImageSteps>), ViewDataError> {
    // `Scene::load` made the model files of a scene file absolute; a relative path left here belongs
    // to a built-in scene and resolves against the working directory and the shipped assets.
    let origin = Path::new("");
    let model = scene.model.build(origin)?;
    let reference = match model.exact() {
        Some(_) => None,
        None => scene.model.reference_model(origin)?,
    };
    let exact: Option<&dyn ExactModel> = model
        .exact()
        .or(reference.as_ref().map(|m| m as &dyn ExactModel));
    let spec = display_spec(scene);
    let cancel = control.cancel_flag();
    control.set_span(0.0, 0.8);
    let mut progress = |f: f32, stage: &str| control.report(f64::from(f), stage);
    let mut trajectories = run_trajectories(model.denoiser(), exact, &spec, &mut progress, cancel)?;
    control.set_span(0.0, 1.0);
    // An image scene keeps x̂_0 of every stored state for the inspector's strip (twice the states'
    // memory): its labeller needs exactly these x̂_0, so keeping them costs no extra model call, and
    // any trajectory clicked shows at once.
    let images = match scene.model.image_shape() {
        Some(shape) => Some(ImageSteps {
            shape,
            denoised: denoise_stored(&trajectories, model.denoiser(), control)?,
        }),
        None => None,
    };
    if let Some(reference) = &reference {
        control.step(0.8, "exact posterior")?;
        reference_posterior(&mut trajectories, reference);
    } else if let Some(spec) = scene.model.labeller() {
        control.step(0.85, "labelling")?;
        let denoised = images.as_ref().map(|i| i.denoised.as_slice());
        labeller_posterior(&mut trajectories, model.denoiser(), spec, denoised, control)?;
    }
    Ok((model, trajectories, images))
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
                crate::model::math::softmax_in_place(&mut logits);
                for (p, l) in row.iter_mut().zip(&logits) {
                    *p = *l as f32;
                }
            }
        });
    trajectories.posterior = Some(posterior);
    trajectories.class_labels = reference.class_labels().to_vec();
}

/// Fills the class posterior `[N, S, K]` of a model without an exact one from the scene's `labeller`:
/// k-means is fitted on the final states, and at every stored step the labeller reads the model's
/// x̂_0 (`denoised`, `[N, S, d]`, computed here when not given), so the views colour each state by the
/// class it is heading for.
fn labeller_posterior(
    trajectories: &mut Trajectories,
    dynamics: &dyn Denoiser,
    spec: &LabellerSpec,
    denoised: Option<&[f32]>,
    control: &mut Control,
) -> Result<(), ViewDataError> {
    let (n, s, d) = (trajectories.n, trajectories.stored_steps, trajectories.dim);
    let states_at = |j: usize| -> Vec<f32> {
        (0..n)
            .filter_map(|i| trajectories.state(i, j))
            .flatten()
            .copied()
            .collect()
    };
    let classes = ClassLabeller::build(spec, d, &states_at(s.saturating_sub(1)))
        .map_err(SpeciationError::from)?;
    let computed;
    let denoised = match denoised {
        Some(denoised) => denoised,
        None => {
            computed = denoise_stored(trajectories, dynamics, control)?;
            &computed
        }
    };
    let k = classes.classes();
    let mut posterior = vec![0f32; n * s * k];
    for j in 0..s {
        let clean: Vec<f32> = (0..n)
            .flat_map(|i| &denoised[(i * s + j) * d..(i * s + j + 1) * d])
            .copied()
            .collect();
        let out = classes.posterior(&clean).map_err(SpeciationError::from)?;
        for (i, row) in out.chunks(k).enumerate() {
            let start = (i * s + j) * k;
            for (p, &v) in posterior[start..start + k].iter_mut().zip(row) {
                *p = v as f32;
            }
        }
    }
    trajectories.posterior = Some(posterior);
    trajectories.class_labels = (1..=k).map(|c| format!("class {c}")).collect();
    Ok(())
}

/// Samples a Dyck-2 sequence model and shows its hidden states as trajectories (a `hidden_states`
/// scene): the DiT's mean-pooled block output at each of `sampler.steps` Euler steps (time =
/// rectified-flow τ, 1 = noise), or the Euler-Stack's state after each token (time = tokens still to
/// come), for `trajectories` sequences. With a `layer`, an ONNX model's hidden value instead
/// ([`onnx_hidden_states`]).
pub fn hidden_states(
    scene: &Scene,
    spec: &HiddenStatesSpec,
    control: &mut Control,
) -> Result<Cloud, ViewDataError> {
    if let Some(layer) = &spec.layer {
        return onnx_hidden_states(scene, &spec.path, layer, control);
    }
    control.step(0.0, "loading the model")?;
    let path = crate::assets::resolve(&spec.path, None);
    let model = learned::load(&path)?;
    control.step(0.1, "generating")?;
    let cancel = control.cancel_flag();
    let n = scene.trajectories;
    let hidden = match &model {
        LearnedModel::Dit(dit) => {
            let block = match spec.block {
                Some(b) => b.saturating_sub(1),
                None => dit.config().blocks.saturating_sub(1),
            };
            dit.sample(n, scene.sampler.steps, scene.seed, Some(block), cancel)?
                .hidden
        }
        LearnedModel::EulerStack(es) => Some(es.sample(n, scene.seed, cancel)?.hidden),
        LearnedModel::MlpDenoiser(_) | LearnedModel::MaskedDiffusion(_) => None,
    };
    let Some(hidden) = hidden else {
        return Err(ViewDataError::Unsuitable(format!(
            "{} is a denoiser, not a Dyck-2 sequence model: open it as a \"learned\" scene",
            path.display()
        )));
    };
    control.check()?;
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
    control.step(0.85, "projecting")?;
    project(
        trajectories,
        CloudOrigin::Sampled { name: hidden.layer },
        control,
    )
}

/// The hidden value `layer` of the ONNX scene at `path`, captured at every stored step of its model's
/// run with `scene`'s sampler, trajectories and seed: the graph evaluated at each stored state and
/// time, unconditionally for an unguided sampler, and under guidance conditioned on each trajectory's
/// class (the conditional pass of the two the guided step makes; the null pass is the same for
/// every class). Each value `[N, …]` is flattened per row; the run's posterior (of the ONNX scene's
/// reference or labeller) colours it.
fn onnx_hidden_states(
    scene: &Scene,
    path: &Path,
    layer: &str,
    control: &mut Control,
) -> Result<Cloud, ViewDataError> {
    control.step(0.0, "loading the model")?;
    let path = crate::assets::resolve(path, None);
    let source = Scene::load(&path)?;
    let ModelSpec::Onnx(onnx) = &source.model else {
        return Err(ViewDataError::Unsuitable(format!(
            "model.layer: {} is not an \"onnx\" scene, whose hidden values a layer names",
            path.display()
        )));
    };
    let Some(index) = onnx.hidden.iter().position(|h| h == layer) else {
        return Err(ViewDataError::Unsuitable(format!(
            "model.layer: the scene {} has no hidden value {layer:?} (its model.hidden: {:?})",
            path.display(),
            onnx.hidden
        )));
    };
    let run = Scene {
        sampler: scene.sampler.clone(),
        trajectories: scene.trajectories,
        seed: scene.seed,
        ..source.clone()
    };
    let (model, trajectories, _) = sample_trajectories(&run, control)?;
    let SceneModel::Onnx(graph) = &model else {
        return Err(ViewDataError::Unsuitable(format!(
            "{} did not build an ONNX model",
            path.display()
        )));
    };
    let (n, s) = (trajectories.n, trajectories.stored_steps);
    let classes: &[u32] = match (&run.sampler.guidance, &trajectories.initial_labels) {
        (Some(_), Some(labels)) => labels,
        _ => &[],
    };
    let mut states = Vec::new();
    let mut width = 0;
    for (j, &t) in trajectories.times.iter().enumerate() {
        control.step(0.8 + 0.05 * j as f64 / s as f64, "hidden states")?;
        let x: Vec<f32> = (0..n)
            .filter_map(|i| trajectories.state(i, j))
            .flatten()
            .copied()
            .collect();
        let values = graph
            .hidden_states(&x, t, classes)
            .map_err(|e| ViewDataError::Unsuitable(e.to_string()))?
            .into_iter()
            .nth(index)
            .unwrap_or_default();
        if j == 0 {
            width = values.len() / n.max(1);
            memory::check(
                (n * s * width * std::mem::size_of::<f32>()) as u64,
                &format!("{n} trajectories × {s} stored steps × {width} hidden values"),
            )?;
            states = vec![0f32; n * s * width];
        }
        if values.len() != n * width {
            return Err(ViewDataError::Unsuitable(format!(
                "model.hidden: the value {layer:?} of {} has {} numbers per row at t = {t}, {width} \
                 at the first step",
                path.display(),
                values.len() / n.max(1)
            )));
        }
        for (i, row) in values.chunks_exact(width.max(1)).enumerate() {
            let start = (i * s + j) * width;
            states[start..start + width].copy_from_slice(row);
        }
    }
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let hidden = Trajectories {
        dim: width,
        states,
        ..trajectories
    };
    control.step(0.85, "projecting")?;
    project(
        hidden,
        CloudOrigin::Sampled {
            name: format!("{layer} of {file}"),
        },
        control,
    )
}

/// Wraps a loaded `[n, d]` cloud read from `path` as one-step trajectories and projects it.
pub fn from_points(
    cloud: PointCloud,
    path: &Path,
    control: &mut Control,
) -> Result<Cloud, ViewDataError> {
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
    let origin = CloudOrigin::Imported(Imported {
        path: path.to_path_buf(),
        holds: format!("{} points × {} dims (one step)", cloud.n(), cloud.dim()),
        times_in_file: false,
        labels_in_file: false,
        commitment: None,
    });
    project(trajectories, origin, control)
}

/// A recorded trajectory file with every step: its times (else step indices S … 1, decreasing as OU
/// time does), its labels (each trajectory's class, or the class it started from), its posterior, and
/// the commitment measured from it.
pub fn from_recording(recording: Recording, control: &mut Control) -> Result<Cloud, ViewDataError> {
    let holds = recording.holds();
    let steps = recording.steps;
    let times_in_file = recording.times.is_some();
    let labels_in_file = recording
        .labels
        .as_ref()
        .is_some_and(|l| l.meaning == LabelMeaning::Class);
    let trajectories = Trajectories {
        n: recording.n,
        stored_steps: steps,
        dim: recording.dim,
        times: recording
            .times
            .unwrap_or_else(|| (0..steps).map(|j| (steps - j) as f64).collect()),
        states: recording.states,
        posterior: recording.posterior,
        class_labels: recording.class_labels,
        initial_labels: recording.labels.map(|l| l.classes),
    };
    let commitment = recorded_commitment(&trajectories, labels_in_file);
    control.step(0.1, "projecting")?;
    let origin = CloudOrigin::Imported(Imported {
        path: recording.path,
        holds,
        times_in_file,
        labels_in_file,
        commitment,
    });
    project(trajectories, origin, control)
}

/// Commitment times (`docs/science/speciation.md` §3.2, tolerance ε = 0.1) of recorded trajectories from
/// their posterior: each trajectory's class is its label when `labelled` (the file's `labels`), else the
/// argmax of its posterior at the last step. `None` without a posterior.
pub fn recorded_commitment(t: &Trajectories, labelled: bool) -> Option<Commitment> {
    use crate::analysis::speciation::commitment::{EPSILON, posterior_commitment};
    posterior_commitment(
        &t.times,
        t.posterior.as_ref()?,
        t.n,
        t.class_labels.len(),
        t.initial_labels.as_deref().filter(|_| labelled),
        EPSILON,
    )
}

/// PCA per stored step (sign-aligned to the previous step) and on all steps pooled.
fn project(
    trajectories: Trajectories,
    origin: CloudOrigin,
    control: &mut Control,
) -> Result<Cloud, ViewDataError> {
    let (n, s, d) = (trajectories.n, trajectories.stored_steps, trajectories.dim);
    let step_rows = |j: usize| -> Vec<f32> {
        (0..n)
            .flat_map(|i| trajectories.state(i, j).unwrap_or_default().iter().copied())
            .collect()
    };
    let fit = |rows: &[f32], count: usize| PcaBasis::fit(rows, count, d, 3);
    let mut bases: Vec<PcaBasis> = (0..s)
        .into_par_iter()
        .map(|j| fit(&step_rows(j), n))
        .collect::<Result<_, _>>()?;
    control.check()?;
    for j in 1..s {
        let (before, after) = bases.split_at_mut(j);
        if let (Some(previous), Some(current)) = (before.last(), after.first_mut()) {
            align_signs(previous, current);
        }
    }
    control.step(0.93, "projecting (pooled)")?;
    // The pooled basis is fitted on at most 200k rows (every k-th step) — enough for 3 axes.
    let stride = (n * s).div_ceil(200_000).max(1);
    let pooled_steps: Vec<usize> = (0..s).step_by(stride).collect();
    let pooled_rows: Vec<f32> = pooled_steps.iter().flat_map(|&j| step_rows(j)).collect();
    let pooled_basis = fit(&pooled_rows, pooled_steps.len() * n)?;
    drop(pooled_rows);
    control.check()?;

    // Padded to 3 columns when the cloud has fewer than 3 dimensions or points.
    let padded = |basis: &PcaBasis, rows: &[f32]| -> Vec<f32> {
        let kept = basis.kept().min(3);
        let projected: Vec<f32> = basis
            .project(rows, kept)
            .into_iter()
            .map(|x| x as f32)
            .collect();
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
        origin,
        explained_per_time: bases.iter().map(explained).collect(),
        explained_pooled: explained(&pooled_basis),
        bases,
        trajectories,
        per_time,
        pooled,
        images: None,
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

/// A synthetic two-class cloud of `n` points already in view coordinates, for frame-time measurements:
/// two Gaussian blobs in 3-D (per-row deterministic streams) reached over `steps` stored steps from a
/// shared noise blob (every point moves between steps, as while the time bar plays), no posterior.
///
/// Memory: `[N, S, 3]` f32 three times over (states, per-step and pooled view coordinates), 36 B per
/// point and step.
pub fn synthetic(n: usize, steps: usize) -> Cloud {
    use rand::Rng;
    use rand_distr::StandardNormal;
    let steps = steps.max(1);
    let states: Vec<f32> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut rng = crate::rng::stream(7, crate::rng::Domain::Analysis, i as u64);
            let centre = if i % 2 == 0 { 1.5f32 } else { -1.5 };
            let mut draw = move || rng.sample::<f32, _>(StandardNormal);
            let data = [centre + draw(), draw() * 0.7, draw() * 0.4];
            let noise = [draw(), draw(), draw()];
            (0..steps).flat_map(move |s| {
                // The last step is the data; earlier ones blend towards the noise.
                let f = if steps > 1 {
                    s as f32 / (steps - 1) as f32
                } else {
                    1.0
                };
                (0..3).map(move |c| f * data[c] + (1.0 - f) * noise[c])
            })
        })
        .collect();
    // `[N, S, 3]` → `[S, N, 3]`: the view reads one step's points contiguously.
    let mut per_time = vec![0.0f32; states.len()];
    for i in 0..n {
        for s in 0..steps {
            let from = (i * steps + s) * 3;
            let to = (s * n + i) * 3;
            per_time[to..to + 3].copy_from_slice(&states[from..from + 3]);
        }
    }
    let times: Vec<f64> = (0..steps)
        .map(|s| 8.0 * (0.01f64 / 8.0).powf(s as f64 / (steps.max(2) - 1) as f64))
        .collect();
    let trajectories = Trajectories {
        n,
        stored_steps: steps,
        dim: 3,
        times: if steps == 1 { vec![0.0] } else { times },
        states,
        posterior: None,
        class_labels: vec!["even".into(), "odd".into()],
        initial_labels: Some((0..n).map(|i| (i % 2) as u32).collect()),
    };
    Cloud {
        origin: CloudOrigin::Synthetic,
        trajectories,
        pooled: per_time.clone(),
        per_time,
        explained_per_time: vec![[0.0; 3]; steps],
        explained_pooled: [0.0; 3],
        bases: Vec::new(),
        images: None,
    }
}
