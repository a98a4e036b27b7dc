//! The speciation lab as a scene asks for it: the scene's `speciation` block mapped onto the lab's
//! settings, and the lab run against the scene's exact model (its own, or the `reference` a learned
//! model imitates, with the learned model driving the dynamics).

use super::ViewDataError;
use crate::analysis::control::Control;
use crate::analysis::speciation::labeller::LabelRule;
use crate::analysis::speciation::report::{
    CloneTimes, SpeciationReport, SpeciationSettings, run_speciation,
};
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
/// learned model with a `reference` is measured against the exact theory of the model it imitates.
pub fn run_lab(
    scene: &Scene,
    settings: &SpeciationSettings,
    control: &mut Control,
) -> Result<SpeciationReport, ViewDataError> {
    // Model files were made absolute by `Scene::load` (see `cloud::sample_scene`).
    let origin = Path::new("");
    let model = scene.model.reference_model(origin)?.ok_or_else(|| {
        ViewDataError::Unsuitable(
            "the speciation lab needs an analytic model (or a learned one with a \"reference\")"
                .into(),
        )
    })?;
    let learned = match &scene.model {
        ModelSpec::Learned(_) | ModelSpec::Onnx(_) => Some(scene.model.build(origin)?),
        _ => None,
    };
    let dynamics = learned.as_ref().map(|m| m.denoiser());
    Ok(run_speciation(&model, dynamics, settings, control)?)
}
