//! Presentation mode and the app's keyboard control: hides the scene panel, the tabs and the jobs
//! strip, shows the caption beside the view in large type with a high-contrast light or dark theme, and
//! keeps in its top bar what a presenter needs: the tour, the scene's switches and the jobs' progress.
//! Keys: F5 toggles, Esc leaves, space plays, ←/→ move the time bar's handle
//! that way (← one step of denoising towards t_min, → back towards t_max), PageUp/PageDown (or P/N) move
//! through the tour. Changes only styles and app state; draws the views through the app.

use super::caption::caption_ui;
use super::scene_panel::switches_ui;
use super::{DiffscopeApp, RightTab};
use egui::{Color32, Key, Stroke, Theme, Ui};
use std::sync::Arc;

/// Text is this many times larger in presentation mode.
pub const FONT_SCALE: f32 = 1.6;

/// Shares of the window's width of the caption and the analysis panel beside a token view: at
/// 1280 px they leave it about 560 px, two token grids of 16 large-type characters' width side by
/// side.
const TOKEN_SHARES: [f32; 2] = [0.2, 0.34];

/// Presentation state; the styles to restore on leaving.
#[derive(Default)]
pub struct Presentation {
    pub active: bool,
    /// High-contrast dark theme (else light).
    pub dark: bool,
    /// Enter on the first frame (`diffscope --present`), when the context exists.
    enter_on_first_frame: bool,
    saved: Option<SavedStyles>,
}

/// The theme Present mode starts in (`diffscope --present light|dark`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PresentTheme {
    Light,
    Dark,
}

struct SavedStyles {
    dark: Arc<egui::Style>,
    light: Arc<egui::Style>,
    preference: egui::ThemePreference,
}

impl Presentation {
    /// Presentation mode entered on the first frame, in `theme`.
    pub fn starting(theme: PresentTheme) -> Self {
        Self {
            dark: theme == PresentTheme::Dark,
            enter_on_first_frame: true,
            ..Self::default()
        }
    }

    /// Enters presentation mode if it was asked for at start-up (once).
    pub fn enter_if_asked(&mut self, ctx: &egui::Context) {
        if std::mem::take(&mut self.enter_on_first_frame) {
            self.enter(ctx);
        }
    }

    /// Enters presentation mode: large type and the high-contrast theme.
    pub fn enter(&mut self, ctx: &egui::Context) {
        if self.active {
            return;
        }
        self.saved = Some(SavedStyles {
            dark: ctx.style_of(Theme::Dark),
            light: ctx.style_of(Theme::Light),
            preference: ctx.options(|o| o.theme_preference),
        });
        self.active = true;
        self.apply(ctx);
    }

    /// Leaves presentation mode and restores the styles it replaced.
    pub fn leave(&mut self, ctx: &egui::Context) {
        if !self.active {
            return;
        }
        self.active = false;
        if let Some(saved) = self.saved.take() {
            ctx.set_style_of(Theme::Dark, saved.dark);
            ctx.set_style_of(Theme::Light, saved.light);
            ctx.set_theme(saved.preference);
        }
    }

    pub fn toggle(&mut self, ctx: &egui::Context) {
        if self.active {
            self.leave(ctx);
        } else {
            self.enter(ctx);
        }
    }

    /// Switches between the high-contrast light and dark themes.
    pub fn set_dark(&mut self, ctx: &egui::Context, dark: bool) {
        self.dark = dark;
        if self.active {
            self.apply(ctx);
        }
    }

    fn apply(&self, ctx: &egui::Context) {
        let Some(saved) = &self.saved else {
            return;
        };
        for (theme, base) in [(Theme::Dark, &saved.dark), (Theme::Light, &saved.light)] {
            let mut style = (**base).clone();
            for font in style.text_styles.values_mut() {
                font.size *= FONT_SCALE;
            }
            style.visuals = high_contrast(theme == Theme::Dark);
            ctx.set_style_of(theme, style);
        }
        ctx.set_theme(if self.dark { Theme::Dark } else { Theme::Light });
    }
}

/// Pure black on white or white on black, with strong widget outlines.
pub fn high_contrast(dark: bool) -> egui::Visuals {
    let (mut visuals, ink, paper) = if dark {
        (egui::Visuals::dark(), Color32::WHITE, Color32::BLACK)
    } else {
        (egui::Visuals::light(), Color32::BLACK, Color32::WHITE)
    };
    visuals.override_text_color = Some(ink);
    visuals.panel_fill = paper;
    visuals.window_fill = paper;
    visuals.extreme_bg_color = paper;
    visuals.faint_bg_color = paper;
    for widget in [
        &mut visuals.widgets.noninteractive,
        &mut visuals.widgets.inactive,
        &mut visuals.widgets.hovered,
        &mut visuals.widgets.active,
    ] {
        widget.fg_stroke = Stroke::new(widget.fg_stroke.width.max(1.5), ink);
        widget.bg_stroke = Stroke::new(widget.bg_stroke.width.max(1.0), ink);
    }
    visuals
}

impl DiffscopeApp {
    /// Keyboard control; time and tour keys only while no text field (or dragged number being typed) has the keyboard.
    pub(super) fn handle_keys(&mut self, ctx: &egui::Context) {
        let toggle = ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::F5));
        if toggle {
            self.views.presentation.toggle(ctx);
        }
        if self.views.presentation.active && ctx.input(|i| i.key_pressed(Key::Escape)) {
            self.views.presentation.leave(ctx);
        }
        if ctx.text_edit_focused() {
            return;
        }
        let steps = self.stored_steps();
        // The time bar has t growing to the right: ← is a step of denoising.
        let (play, denoise, renoise, previous, next) = ctx.input(|i| {
            (
                i.key_pressed(Key::Space),
                i.key_pressed(Key::ArrowLeft),
                i.key_pressed(Key::ArrowRight),
                i.key_pressed(Key::PageUp) || i.key_pressed(Key::P),
                i.key_pressed(Key::PageDown) || i.key_pressed(Key::N),
            )
        });
        if play {
            self.views.timeline.toggle_play(steps);
        }
        if denoise {
            self.views.timeline.step_by(1, steps);
        }
        if renoise {
            self.views.timeline.step_by(-1, steps);
        }
        if previous {
            self.tour_step(-1);
        }
        if next {
            self.tour_step(1);
        }
    }

    /// The presentation layout: caption on the left, the scene's analysis view (speciation or
    /// theory) on the right when its view block names one, the manifold view and time bar between.
    pub(super) fn presentation_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        let panel = self.side_frame(ui);
        egui::Panel::top("presentation bar")
            .frame(panel)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    if self.views.tour.is_some() {
                        self.tour_bar(ui);
                    }
                    // Imported data has no scene to switch; a token scene is not edited in the app.
                    if self.imported().is_none() && self.scene.tokens.is_none() {
                        self.edit_draft(ui, |ui, draft| switches_ui(ui, &mut draft.model));
                    }
                    if let Some(error) = &self.scene.draft_error {
                        ui.colored_label(ui.visuals().error_fg_color, error);
                    }
                    let mut dark = self.views.presentation.dark;
                    if ui.checkbox(&mut dark, "dark").changed() {
                        self.views.presentation.set_dark(&ctx, dark);
                    }
                    if ui.button("Leave (Esc)").clicked() {
                        self.views.presentation.leave(&ctx);
                    }
                });
                // The audience sees what is being computed (the jobs strip is hidden here).
                self.jobs.progress_ui(ui);
            });
        // The caption takes a quarter, the analysis plots two fifths (its axes and legends in large
        // type need the room), the manifold view the rest. A token view holds four plots where the
        // manifold view has one: it gets the larger share.
        let width = ui.max_rect().width();
        let [caption_share, analysis_share] = if self.scene.tokens.is_some() {
            TOKEN_SHARES
        } else {
            [0.25, 0.4]
        };
        let caption = self.live_caption();
        let imported = self.imported().map(|data| data.summary());
        egui::Panel::left("presentation caption")
            .frame(panel)
            .resizable(true)
            .default_size(width * caption_share)
            .show(ui, |ui| {
                // A panel shrinks to its content: without this, the first frame's short text (results
                // not yet in) would fix its width.
                ui.set_min_width(ui.available_width());
                match &imported {
                    Some(summary) => {
                        ui.heading("Imported data");
                        ui.label(summary);
                    }
                    None => caption_ui(ui, &caption),
                }
            });
        // Present mode has no side panel for the inspector.
        let side =
            (self.views.right_tab != RightTab::Inspector).then(|| self.views.right_tab.view());
        if let Some(view) = side {
            egui::Panel::right("presentation analysis")
                .frame(panel)
                .resizable(true)
                .default_size(width * analysis_share)
                .show(ui, |ui| {
                    ui.set_min_width(ui.available_width());
                    self.view_ui(ui, view)
                });
        }
        egui::CentralPanel::default()
            .frame(self.central_frame(ui))
            .show(ui, |ui| self.central(ui));
    }
}
