//! The speciation lab as a scene asks for it: the scene's `speciation` block mapped onto the lab's
//! settings, and the lab run against the scene's exact model (its own, or the `reference` a learned
//! model imitates, with the learned model driving the dynamics), or measured only with the classes of
//! an ONNX scene's `labeller`.

use super::ViewDataError;
use crate::analysis::control::Control;
use crate::analysis::speciation::SpeciationError;
use crate::analysis::speciation::labeller::{DenoisedLabeller, LabelRule};
use crate::analysis::speciation::report::{
    CloneTimes, SpeciationReport, SpeciationSettings, run_labelled_speciation, run_speciation,
};
use crate::diffusion::{StoreSteps, run_trajectories};
use crate::model::LabelledSamples;
use crate::model::class_labeller::ClassLabeller;
use crate::scene::{self, ModelSpec, Scene};
use std::path::Path;

/// The speciation lab settings a scene asks for (defaults when it has no `speciation` block).
pub fn speciation_settings(scene: &Scene) -> SpeciationSettings {
    let mut settings =
        settings_from_spec(scene.speciation.as_ref(), scene.seed, scene.sampler.t_max);
    settings.guidance = scene.sampler.guidance.map(|g| g.w);
    settings
}

/// The lab settings of a `speciation` block (defaults without one), shared by Gaussian and token
/// scenes (`discrete_lab`).
pub(super) fn settings_from_spec(
    spec: Option<&scene::SpeciationSpec>,
    seed: u64,
    t_max: f64,
) -> SpeciationSettings {
    let mut settings = SpeciationSettings::new(seed, t_max);
    if let Some(spec) = spec {
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
        if let Some(step) = spec.step {
            settings.step = step;
        }
    }
    settings
}

/// Runs the speciation lab on `scene` with `settings` (the scene's own: [`speciation_settings`]). A
/// learned model with a `reference` is measured against the exact theory of the model it imitates; an
/// ONNX model with a `labeller` instead is measured only ([`labelled_lab`]).
pub fn run_lab(
    scene: &Scene,
    settings: &SpeciationSettings,
    control: &mut Control,
) -> Result<SpeciationReport, ViewDataError> {
    // Model files were made absolute by `Scene::load` (see `cloud::sample_scene`).
    let origin = Path::new("");
    let Some(model) = scene.model.reference_model(origin)? else {
        return labelled_lab(scene, settings, control);
    };
    let learned = match &scene.model {
        ModelSpec::Learned(_) | ModelSpec::Onnx(_) => Some(scene.model.build(origin)?),
        _ => None,
    };
    let dynamics = learned.as_ref().map(|m| m.denoiser());
    Ok(run_speciation(&model, dynamics, settings, control)?)
}

/// The lab of a model whose classes come from its `labeller`: the scene's sampler run to t_min gives
/// the final samples (k-means is fitted on them), labelled they are the experiments' data, and the
/// labeller reads the classes of x̂_0 along the way.
fn labelled_lab(
    scene: &Scene,
    settings: &SpeciationSettings,
    control: &mut Control,
) -> Result<SpeciationReport, ViewDataError> {
    let Some(spec) = scene.model.labeller() else {
        return Err(ViewDataError::Unsuitable(
            "the speciation lab needs an analytic model, or a learned one with a \"reference\" \
             or a \"labeller\""
                .into(),
        ));
    };
    let model = scene.model.build(Path::new(""))?;
    let dynamics = model.denoiser();
    let mut sampling = scene.sampling_spec();
    sampling.store = StoreSteps::Final;
    control.set_span(0.0, 0.2);
    let cancel = control.cancel_flag();
    let mut progress = |f: f32, stage: &str| control.report(f64::from(f), stage);
    let finals = run_trajectories(dynamics, None, &sampling, &mut progress, cancel)?;
    let classes =
        ClassLabeller::build(spec, finals.dim, &finals.states).map_err(SpeciationError::from)?;
    let bank = LabelledSamples {
        labels: classes
            .labels(&finals.states)
            .map_err(SpeciationError::from)?,
        points: finals.states,
        dim: finals.dim,
    };
    control.set_span(0.2, 1.0);
    let labeller = DenoisedLabeller {
        dynamics,
        classes: &classes,
    };
    Ok(run_labelled_speciation(
        dynamics, &bank, &labeller, settings, control,
    )?)
}
