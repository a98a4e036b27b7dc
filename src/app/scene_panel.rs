//! The left panel: built-in presets, file buttons and an editor for every scalar scene parameter. It edits
//! a draft copy; the app applies the draft (restarting only the affected jobs) once it is valid and the
//! pointer is released, a token scene's draft when Apply is pressed. No compute here.

use super::caption::{LiveCaption, caption_ui};
use super::command::Command;
use crate::builtin_scenes::PRESETS;
use crate::model::discrete::DiscreteNoise;
use crate::model::guidance::MAX_GUIDANCE;
use crate::scene::{
    BoundarySpec, CovSpec, GaussianMixtureSpec, GuidanceSpec, InitKind, LabelRule, MeanSpec,
    ModelSpec, SamplerKind, Scene, StoreSpec, TimeGrid, TokenModelSpec, TokenSamplerKind,
    TokenScene,
};
use egui::{DragValue, Ui};
use std::path::Path;

/// The shipped sequence models a hidden-state scene switches between.
const SEQUENCE_MODELS: [(&str, &str); 2] = [
    ("DiT", "assets/models/dit-dyck2.safetensors"),
    ("Euler-Stack", "assets/models/euler-stack-dyck2.safetensors"),
];

/// A label and its drag value, linked for accessibility (screen readers, UI tests).
fn labelled(ui: &mut Ui, label: impl Into<egui::WidgetText>, value: DragValue) -> egui::Response {
    let label = ui.label(label);
    ui.add(value).labelled_by(label.id)
}

/// The sampler's step count and time range, one grid row each (continuous and token scenes alike).
fn step_and_time_rows(ui: &mut Ui, steps: &mut usize, t_max: &mut f64, t_min: &mut f64) {
    labelled(ui, "steps", DragValue::new(steps).range(1..=100_000));
    ui.end_row();
    labelled(ui, "t_max", DragValue::new(t_max).speed(0.05));
    ui.end_row();
    labelled(ui, "t_min", DragValue::new(t_min).speed(0.0005));
    ui.end_row();
}

/// Draws the panel (with the applied scene's live `caption`, or what the imported file on display
/// holds instead); edits go into `draft`, requests into `commands`.
pub fn ui(
    ui: &mut Ui,
    caption: &LiveCaption,
    imported: Option<&str>,
    draft: &mut Scene,
    draft_error: Option<&str>,
    current_preset: Option<usize>,
    commands: &mut Vec<Command>,
) {
    header(ui, current_preset, commands);
    if let Some(imported) = imported {
        // The view shows the file: the scene's settings would describe something not on display.
        ui.label(egui::RichText::new(format!("Showing {imported}")).strong());
        ui.separator();
        ui.small("The scene's settings are hidden while a file is shown.");
        if ui.button("Sample the scene instead").clicked() {
            commands.push(Command::Rerun);
        }
        return;
    }
    caption_section(ui, caption);
    egui::ScrollArea::vertical().show(ui, |ui| {
        model_editor(ui, &mut draft.model);
        ui.separator();
        sampler_editor(ui, draft);
        ui.separator();
        speciation_editor(ui, draft);
        ui.separator();
        if let Some(error) = draft_error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Not applied: {error}"));
        }
        if ui.button("Run again").clicked() {
            commands.push(Command::Rerun);
        }
    });
}

/// The scene's title and caption (collapsible, scrolled when long), then a separator.
fn caption_section(ui: &mut Ui, caption: &LiveCaption) {
    if caption.text.is_some() {
        egui::CollapsingHeader::new("About this scene")
            .default_open(true)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("caption")
                    .max_height(220.0)
                    .show(ui, |ui| caption_ui(ui, caption));
            });
    } else if let Some(title) = &caption.title {
        ui.label(egui::RichText::new(title).strong());
    }
    ui.separator();
}

/// The panel's top: the heading, the presets, and the buttons that open files or start a mode.
fn header(ui: &mut Ui, current_preset: Option<usize>, commands: &mut Vec<Command>) {
    ui.heading("Scene");
    let selected = current_preset
        .and_then(|i| PRESETS.get(i))
        .map(|(name, _)| *name)
        .unwrap_or("(custom)");
    egui::ComboBox::from_label("Preset")
        .selected_text(selected)
        .show_ui(ui, |ui| {
            for (index, (name, _)) in PRESETS.iter().enumerate() {
                if ui
                    .selectable_label(current_preset == Some(index), *name)
                    .clicked()
                {
                    commands.push(Command::OpenPreset(index));
                }
            }
        });
    ui.horizontal(|ui| {
        if ui.button("Open scene…").clicked() {
            commands.push(Command::PickScene);
        }
        if ui.button("Open points…").clicked() {
            commands.push(Command::PickData);
        }
    });
    ui.small("or drop a .json scene / .npy .safetensors .csv data on the window");
    ui.horizontal(|ui| {
        if ui.button("Teaching tour").clicked() {
            commands.push(Command::StartTeachingTour);
        }
        if ui.button("Present (F5)").clicked() {
            commands.push(Command::EnterPresentation);
        }
    });
}

/// The panel for a token scene (mask or flip noise): its title and caption, what its model is, and an
/// editor of its `draft` (noise, sampler, steps, sequences, seed, length L) that Apply validates and
/// runs; a refused draft's `error` is shown above the button.
pub fn token_ui(
    ui: &mut Ui,
    caption: &LiveCaption,
    draft: &mut TokenScene,
    error: Option<&str>,
    commands: &mut Vec<Command>,
) {
    header(ui, None, commands);
    caption_section(ui, caption);
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.label(egui::RichText::new(token_model(&draft.model).0).strong());
        token_editor(ui, draft);
        ui.separator();
        if let Some(error) = error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Not applied: {error}"));
        }
        if ui
            .button("Apply")
            .on_hover_text("check the edited scene, then run it and its lab again")
            .clicked()
        {
            commands.push(Command::ApplyTokenDraft);
        }
    });
}

/// The token scene's settings that make sense to change in the app. Values are checked by Apply
/// (`TokenScene::validate`), which names the key of a bad one: an odd Dyck length, a sampler the noise
/// does not allow.
fn token_editor(ui: &mut Ui, scene: &mut TokenScene) {
    let learned = matches!(scene.model, TokenModelSpec::LearnedMasked(_));
    egui::Grid::new("token scene editor")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("noise");
            ui.horizontal(|ui| {
                if learned {
                    // The network was trained under mask noise; the scene file cannot say otherwise.
                    ui.label("mask (the network's)");
                } else {
                    ui.selectable_value(&mut scene.noise, DiscreteNoise::Mask, "mask");
                    ui.selectable_value(&mut scene.noise, DiscreteNoise::Flip, "flip");
                }
            });
            ui.end_row();
            ui.label("sampler");
            ui.horizontal_wrapped(|ui| {
                for kind in TokenSamplerKind::ALL {
                    ui.selectable_value(&mut scene.sampler.kind, kind, kind.sampler().name());
                }
            });
            ui.end_row();
            match &mut scene.model {
                TokenModelSpec::IsingMixture(m) => {
                    labelled(ui, "length L", DragValue::new(&mut m.dim));
                }
                TokenModelSpec::Dyck(d) => {
                    labelled(ui, "length L", DragValue::new(&mut d.length).speed(2.0));
                }
                TokenModelSpec::LearnedMasked(l) => {
                    ui.label("length L");
                    ui.label(format!("{} (the network's)", token_model(&l.reference).1));
                }
            }
            ui.end_row();
            let sampler = &mut scene.sampler;
            step_and_time_rows(
                ui,
                &mut sampler.steps,
                &mut sampler.t_max,
                &mut sampler.t_min,
            );
            labelled(
                ui,
                "sequences",
                DragValue::new(&mut scene.trajectories)
                    .range(1..=1_000_000)
                    .speed(10),
            );
            ui.end_row();
            labelled(ui, "seed", DragValue::new(&mut scene.seed));
            ui.end_row();
        });
}

/// The token model in words, and the sequence length L.
fn token_model(model: &TokenModelSpec) -> (String, usize) {
    match model {
        TokenModelSpec::IsingMixture(m) => (
            format!("mixture of {} Ising chains", m.components.len()),
            m.dim,
        ),
        TokenModelSpec::Dyck(d) => (
            format!("Dyck words, {} bracket pairs", d.brackets),
            d.length,
        ),
        TokenModelSpec::LearnedMasked(learned) => {
            let (reference, length) = token_model(&learned.reference);
            (
                format!(
                    "learned masked-diffusion network ({}) trained on {reference}",
                    learned.path.display()
                ),
                length,
            )
        }
    }
}

/// What a token scene is, as (name, value) rows: model, L, noise, sampler, steps, run size.
fn token_facts(scene: &TokenScene) -> Vec<(&'static str, String)> {
    let (model, length) = token_model(&scene.model);
    let s = &scene.sampler;
    vec![
        ("model", model),
        ("length L", length.to_string()),
        ("noise", scene.noise.name().to_string()),
        ("sampler", s.kind.sampler().name().to_string()),
        (
            "steps",
            format!("{}, t from {} to {}", s.steps, s.t_max, s.t_min),
        ),
        ("sequences", scene.trajectories.to_string()),
        ("seed", scene.seed.to_string()),
    ]
}

/// The sequence length L of a token scene (what its caption's `{d}` quotes).
pub fn token_length(scene: &TokenScene) -> usize {
    token_model(&scene.model).1
}

/// One line saying what a token scene is (the caption line of its exported figures).
pub fn token_summary(scene: &TokenScene) -> String {
    let facts = token_facts(scene)
        .into_iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect::<Vec<_>>()
        .join(" · ");
    match &scene.title {
        Some(title) => format!("{title} — {facts}"),
        None => facts,
    }
}

fn model_editor(ui: &mut Ui, model: &mut ModelSpec) {
    match model {
        ModelSpec::GaussianMixture(spec) => {
            ui.label(egui::RichText::new("Gaussian mixture").strong());
            ui.horizontal(|ui| {
                labelled(
                    ui,
                    "dimension d",
                    DragValue::new(&mut spec.dim).range(1..=4096),
                );
            });
            dimension_slider(ui, spec);
            let few = spec.components.len() <= 2;
            for (k, component) in spec.components.iter_mut().enumerate() {
                let title = component
                    .label
                    .clone()
                    .unwrap_or_else(|| format!("class {k}"));
                egui::CollapsingHeader::new(format!("Component {k}: {title}"))
                    .default_open(few)
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            labelled(
                                ui,
                                "weight",
                                DragValue::new(&mut component.weight)
                                    .range(0.0..=1.0)
                                    .speed(0.01),
                            );
                        });
                        mean_editor(ui, &mut component.mean);
                        cov_editor(ui, &mut component.cov);
                    });
            }
        }
        ModelSpec::IsingMixture(spec) => {
            ui.label(egui::RichText::new("Ising chain mixture").strong());
            ui.horizontal(|ui| {
                labelled(ui, "sites d", DragValue::new(&mut spec.dim).range(2..=4096));
            });
            ui.horizontal(|ui| {
                labelled(
                    ui,
                    "coupling J",
                    DragValue::new(&mut spec.coupling).speed(0.01),
                );
            });
            ui.horizontal(|ui| {
                labelled(
                    ui,
                    "spin scale c",
                    DragValue::new(&mut spec.scale).speed(0.01),
                );
            });
            ui.horizontal(|ui| {
                ui.label("boundary");
                ui.selectable_value(&mut spec.boundary, BoundarySpec::Open, "open");
                ui.selectable_value(&mut spec.boundary, BoundarySpec::Periodic, "periodic");
            });
            for (k, component) in spec.components.iter_mut().enumerate() {
                ui.horizontal(|ui| {
                    labelled(
                        ui,
                        format!("class {k}: weight"),
                        DragValue::new(&mut component.weight)
                            .range(0.0..=1.0)
                            .speed(0.01),
                    );
                    labelled(ui, "β", DragValue::new(&mut component.beta).speed(0.01));
                });
            }
        }
        ModelSpec::Onnx(spec) => {
            ui.label(format!("ONNX model: {}", spec.path.display()));
        }
        ModelSpec::Learned(spec) => {
            ui.label(format!("Learned model: {}", spec.path.display()));
            if let Some(reference) = &spec.reference {
                ui.small(format!("exact theory from {}", reference.display()));
            }
        }
        ModelSpec::HiddenStates(spec) => match &spec.layer {
            Some(layer) => {
                ui.label(egui::RichText::new(format!("Layer {layer} of an ONNX model")).strong());
                ui.small(format!("{}", spec.path.display()));
            }
            None => {
                ui.label(egui::RichText::new("Hidden states of a Dyck-2 model").strong());
                ui.horizontal(|ui| sequence_model_switch(ui, &mut spec.path));
                ui.small(format!("{}", spec.path.display()));
            }
        },
    }
}

/// The scene's switches a presenter flips in front of an audience (Present mode shows only these):
/// the dimension of a mixture whose means and covariances do not fix it, and the sequence model of a
/// hidden-state scene. Draws nothing for other models.
pub fn switches_ui(ui: &mut Ui, model: &mut ModelSpec) {
    match model {
        ModelSpec::GaussianMixture(spec) => dimension_slider(ui, spec),
        // A layer of an ONNX scene has no sibling model to switch to.
        ModelSpec::HiddenStates(spec) if spec.layer.is_none() => {
            sequence_model_switch(ui, &mut spec.path)
        }
        _ => {}
    }
}

/// A slider for live d, when the means and covariances do not fix d: snapped to powers of two over
/// the available width (any other d is typed in the panel), so a short drag moves d by a factor of 2,
/// not 10, and the scene recomputes on release.
fn dimension_slider(ui: &mut Ui, spec: &mut GaussianMixtureSpec) {
    let free_dim = spec.components.iter().all(|c| {
        !matches!(
            c.mean,
            Some(MeanSpec::Vector(_)) | Some(MeanSpec::Axis { .. })
        ) && matches!(c.cov, CovSpec::Isotropic(_))
    });
    if !free_dim {
        return;
    }
    let start = (spec.dim.max(2) as f64).log2().round().clamp(1.0, 12.0) as u32;
    let mut exponent = start;
    let dim = spec.dim;
    ui.spacing_mut().slider_width = (ui.available_width() - 90.0).clamp(120.0, 480.0);
    // Until it is dragged the slider shows the scene's own d (e.g. 100), not the power of 2 it sits at.
    let slider = egui::Slider::new(&mut exponent, 1..=12)
        .custom_formatter(move |k, _| {
            let k = k as u32;
            if k == start { dim } else { 1 << k }.to_string()
        })
        .custom_parser(|text| {
            let d: f64 = text.trim().parse().ok()?;
            (d >= 1.0).then(|| d.log2().round())
        })
        .text("d ×2");
    if ui.add(slider).changed() {
        spec.dim = 1 << exponent;
    }
}

/// Selectable buttons for the shipped sequence models of a hidden-state scene.
fn sequence_model_switch(ui: &mut Ui, path: &mut std::path::PathBuf) {
    for (name, shipped) in SEQUENCE_MODELS {
        let selected = *path == Path::new(shipped);
        if ui.selectable_label(selected, name).clicked() && !selected {
            *path = shipped.into();
        }
    }
}

fn mean_editor(ui: &mut Ui, mean: &mut Option<MeanSpec>) {
    ui.horizontal(|ui| match mean {
        None => {
            ui.label("mean: zero vector");
        }
        Some(MeanSpec::Fill { fill }) => {
            labelled(
                ui,
                "mean: every coordinate",
                DragValue::new(fill).speed(0.01),
            );
        }
        Some(MeanSpec::Axis { axis, value }) => {
            labelled(ui, "mean: coordinate", DragValue::new(axis));
            labelled(ui, "=", DragValue::new(value).speed(0.01));
        }
        Some(MeanSpec::Vector(values)) => {
            let mut scale = 1.0f64;
            let label = format!("mean: a vector of {} values; drag to scale ×", values.len());
            if labelled(
                ui,
                label,
                DragValue::new(&mut scale).speed(0.01).range(0.0..=10.0),
            )
            .changed()
            {
                values.iter_mut().for_each(|v| *v *= scale);
            }
        }
    });
}

fn cov_editor(ui: &mut Ui, cov: &mut CovSpec) {
    ui.horizontal(|ui| match cov {
        CovSpec::Isotropic(s2) => {
            labelled(ui, "covariance σ² I, σ² =", DragValue::new(s2).speed(0.01));
        }
        CovSpec::Spiked(spiked) => {
            labelled(
                ui,
                "spiked: base",
                DragValue::new(&mut spiked.base).speed(0.01),
            );
            labelled(ui, "spike", DragValue::new(&mut spiked.spike).speed(0.01));
            labelled(ui, "axis", DragValue::new(&mut spiked.axis));
        }
        CovSpec::Diagonal(values) => {
            ui.label(format!("diagonal covariance of {} values", values.len()));
        }
        CovSpec::Full(rows) => {
            ui.label(format!(
                "full {0}×{0} covariance (edit in the file)",
                rows.len()
            ));
        }
    });
}

fn sampler_editor(ui: &mut Ui, scene: &mut Scene) {
    ui.label(egui::RichText::new("Sampler").strong());
    let cap_note = display_cap_note(scene);
    let class_conditional = scene.model.can_guide();
    let sampler = &mut scene.sampler;
    ui.horizontal(|ui| {
        for (kind, name) in [
            (SamplerKind::Sde, "SDE"),
            (SamplerKind::Ancestral, "ancestral"),
            (SamplerKind::Ode, "ODE"),
            (SamplerKind::Ddim, "DDIM"),
        ] {
            ui.selectable_value(&mut sampler.kind, kind, name);
        }
    });
    egui::Grid::new("sampler grid")
        .num_columns(2)
        .show(ui, |ui| {
            step_and_time_rows(
                ui,
                &mut sampler.steps,
                &mut sampler.t_max,
                &mut sampler.t_min,
            );
            ui.label("time grid");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut sampler.grid, TimeGrid::Log, "log");
                ui.selectable_value(&mut sampler.grid, TimeGrid::Linear, "linear");
            });
            ui.end_row();
            ui.label("start from");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut sampler.init, InitKind::Data, "noised data");
                ui.selectable_value(&mut sampler.init, InitKind::Gaussian, "N(0, I)");
            });
            ui.end_row();
            ui.label("stored steps");
            ui.horizontal(|ui| {
                let every = matches!(sampler.store, StoreSpec::Every(_));
                if ui
                    .selectable_label(sampler.store == StoreSpec::All, "all")
                    .clicked()
                {
                    sampler.store = StoreSpec::All;
                }
                if ui.selectable_label(every, "every k").clicked() && !every {
                    sampler.store = StoreSpec::Every(4);
                }
                if let StoreSpec::Every(k) = &mut sampler.store {
                    labelled(ui, "k", DragValue::new(k).range(1..=10_000));
                }
            });
            ui.end_row();
            labelled(
                ui,
                "trajectories",
                DragValue::new(&mut scene.trajectories)
                    .range(1..=1_000_000)
                    .speed(10),
            );
            ui.end_row();
            labelled(ui, "seed", DragValue::new(&mut scene.seed));
            ui.end_row();
            if class_conditional {
                guidance_row(ui, &mut sampler.guidance);
                ui.end_row();
            }
        });
    // Below the grid, where it wraps to the panel instead of widening it.
    if let Some(note) = cap_note {
        ui.add(egui::Label::new(egui::RichText::new(note).small()).wrap());
    }
}

/// Classifier-free guidance: off, or a weight w (0 unconditional, 1 conditional, > 1 guided). A grid
/// row no wider than the others, so the panel keeps its width.
fn guidance_row(ui: &mut Ui, guidance: &mut Option<GuidanceSpec>) {
    let label = ui.label("guidance").on_hover_text(
        "classifier-free guidance: each trajectory is conditioned on a class drawn from the \
         weights; w = 0 unconditional, 1 conditional, > 1 guided",
    );
    ui.horizontal(|ui| {
        let mut on = guidance.is_some();
        ui.checkbox(&mut on, "").labelled_by(label.id);
        match (on, guidance.as_mut()) {
            (true, Some(g)) => {
                ui.spacing_mut().slider_width = 70.0;
                // Logarithmic: the interesting range (0 to a few, with the change at ½) gets
                // most of the slider; w = 0 stays reachable.
                ui.add(
                    egui::Slider::new(&mut g.w, 0.0..=MAX_GUIDANCE)
                        .logarithmic(true)
                        .smallest_positive(0.05)
                        .text("w"),
                );
            }
            (true, None) => *guidance = Some(GuidanceSpec { w: 1.0 }),
            (false, _) => *guidance = None,
        }
    });
}

fn speciation_editor(ui: &mut Ui, scene: &mut Scene) {
    ui.label(egui::RichText::new("Speciation lab").strong());
    let Some(spec) = &mut scene.speciation else {
        ui.small("defaults: automatic clone times, 2000 pairs, argmax labels");
        return;
    };
    ui.horizontal(|ui| {
        labelled(
            ui,
            "clone pairs",
            DragValue::new(&mut spec.pairs).range(1..=100_000).speed(10),
        );
    });
    ui.horizontal(|ui| {
        ui.label("labels");
        ui.selectable_value(&mut spec.labels, LabelRule::Argmax, "argmax");
        ui.selectable_value(&mut spec.labels, LabelRule::Sampled, "sampled");
    });
    match &spec.clone_times {
        crate::scene::CloneTimes::Auto => ui.small("clone times: automatic around the theory time"),
        crate::scene::CloneTimes::Times(t) => {
            ui.small(format!("clone times: {} given in the file", t.len()))
        }
    };
    if let Some(groups) = &spec.groups {
        ui.small(format!("hierarchy groups: {groups:?}"));
    }
}

/// Says so when the view keeps fewer stored steps than the scene asks for (the app's display cap);
/// `None` when it keeps them all.
pub fn display_cap_note(scene: &Scene) -> Option<String> {
    use crate::analysis::view_data::cloud::display_spec;
    let asked = scene.sampling_spec();
    let shown = display_spec(scene);
    let count = |spec: &crate::diffusion::SamplingSpec| spec.store.count(spec.steps).ok();
    let (asked_count, shown_count) = (count(&asked)?, count(&shown)?);
    (shown_count < asked_count).then(|| {
        format!(
            "the view keeps {shown_count} of the {asked_count} stored steps (evenly spaced); \
             `diffscope sample` stores all"
        )
    })
}
