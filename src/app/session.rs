//! Sessions in the app: a snapshot of the app's state as a `session::Session`, applying one (the scene
//! first, restarting only the jobs it changes; the step and selection wait for the sampled cloud or
//! token run), the session buttons and shortcuts, and the autosave. A session that fails to load
//! changes nothing.

use super::command::Command;
use super::export::unused_path;
use super::file_dialog::{self, Picked};
use super::manifold::{ColorBy, Dimensions, DrawMode, ViewSettings};
use super::{AppOptions, DiffscopeApp, RightTab};
use crate::app::jobs::JobBoard;
use crate::app::state::PendingView;
use crate::render::camera::{Orbit, PanZoom};
use crate::render::colormap::Colormap;
use crate::scene::{Scene, TokenScene};
use crate::session::{self as file, Session, TokenSession, ViewState};
use std::path::Path;

/// The session the app starts on: `options.session`, else the autosave of the last run when no scene
/// was asked for. One that cannot be read is reported and the app starts as if there were none.
pub(super) fn startup_session(options: &AppOptions, jobs: &mut JobBoard) -> Option<Session> {
    if let Some(path) = &options.session {
        return Session::load(path)
            .map_err(|e| jobs.report(format!("could not open the session: {e}")))
            .ok();
    }
    let path = options
        .autosave
        .as_ref()
        .filter(|_| options.scene.is_none())?;
    if !path.exists() {
        return None;
    }
    Session::load(path)
        .map_err(|e| jobs.report(format!("could not restore the last session: {e}")))
        .ok()
}

impl DiffscopeApp {
    /// The current state as a session.
    pub fn session(&self) -> Session {
        let m = &self.views.manifold.settings;
        // The last step of what the centre shows: the cloud's or the token run's.
        let last = self.stored_steps().checked_sub(1);
        let pending = self.results.arrival.pending_view.as_ref();
        let mut session = Session {
            scene: self.scene.current.clone(),
            view: ViewState {
                right_tab: match self.views.right_tab {
                    RightTab::Inspector => file::RightTab::Inspector,
                    RightTab::Speciation => file::RightTab::Speciation,
                    RightTab::Metrics => file::RightTab::Metrics,
                    RightTab::Theory => file::RightTab::Theory,
                },
                manifold: manifold_state(m),
                timeline: file::TimelineState {
                    // Before the cloud arrives the step shown is a placeholder: keep the pending one.
                    step: match (&self.results.arrival.pending_view, last) {
                        (Some(pending), _) => pending.step,
                        (None, Some(last)) if self.views.timeline.step < last => {
                            Some(self.views.timeline.step)
                        }
                        (None, _) => None,
                    },
                    steps_per_second: self.views.timeline.steps_per_second,
                },
                speciation_level: self.views.speciation_view.level,
            },
            tokens: self.scene.tokens.clone().map(|scene| TokenSession {
                scene,
                selected: pending
                    .and_then(|p| p.sequence)
                    .unwrap_or(self.views.token.selected),
            }),
        };
        if let Some(pending) = pending {
            session.view.manifold.selected = pending.selected;
        }
        session.absolutize_models(None);
        session
    }

    /// Makes `session` current: its scene (restarting the jobs it changes), then its view state.
    pub fn apply_session(&mut self, session: Session) {
        let Session {
            scene,
            view,
            tokens,
        } = session;
        self.scene.preset = None;
        let sequence = tokens.as_ref().map(|t| t.selected);
        match tokens {
            Some(tokens) => self.apply_token_session(scene, tokens.scene),
            None => self.apply_scene(scene),
        }
        let (m, state) = (&mut self.views.manifold.settings, &view.manifold);
        m.dims = match state.dimensions {
            file::Dimensions::Two => Dimensions::Two,
            file::Dimensions::Three => Dimensions::Three,
        };
        m.pooled = state.basis == file::Basis::Pooled;
        m.color_by = match state.color_by {
            file::ColorBy::Class => ColorBy::Class,
            file::ColorBy::Time => ColorBy::Time,
            file::ColorBy::Posterior(k) => ColorBy::Posterior(k),
        };
        m.colormap = match state.colormap {
            file::Colormap::Viridis => Colormap::Viridis,
            file::Colormap::Magma => Colormap::Magma,
        };
        m.show_path = state.show_path;
        m.trail_steps = state.trail_steps;
        m.radius_px = state.radius_px;
        m.draw_mode = match state.draw_mode {
            file::DrawMode::Auto => DrawMode::Auto,
            file::DrawMode::Points => DrawMode::Points,
            file::DrawMode::Density => DrawMode::Density,
        };
        m.show_holes = state.show_holes;
        let camera = &state.camera;
        m.follow = camera.follow;
        m.pan_zoom = PanZoom {
            center: camera.center.into(),
            half_height: camera.half_height,
        };
        m.orbit = Orbit {
            target: camera.target.into(),
            yaw: camera.yaw,
            pitch: camera.pitch,
            distance: camera.distance,
        };
        self.views.right_tab = match view.right_tab {
            file::RightTab::Inspector => RightTab::Inspector,
            file::RightTab::Speciation => RightTab::Speciation,
            file::RightTab::Metrics => RightTab::Metrics,
            file::RightTab::Theory => RightTab::Theory,
        };
        self.views.speciation_view.level = view.speciation_level;
        self.views.timeline.playing = false;
        self.views.timeline.steps_per_second = view.timeline.steps_per_second;
        self.results.arrival.pending_view = Some(PendingView {
            step: view.timeline.step,
            selected: state.selected,
            sequence,
        });
        self.apply_pending_view();
    }

    /// Shows the token scene `tokens` of a session, with `scene` as what the panel edits once it is
    /// closed. The token scene's jobs restart only when it is not the one already shown (a session
    /// the app starts on has started them).
    fn apply_token_session(&mut self, scene: Scene, tokens: TokenScene) {
        self.scene.replace(scene);
        if self.scene.tokens.as_ref() != Some(&tokens) {
            self.open_token_scene(tokens);
        }
    }

    /// Applies the waiting step and selection once a sampled cloud (or a token scene's run) is shown
    /// (a step beyond the last is clamped, a selection beyond the trajectories dropped, a sequence
    /// beyond the rows shown becomes the last row).
    pub(super) fn apply_pending_view(&mut self) {
        // A cloud shown while the session's own run samples is the previous one.
        if self.jobs.is_running(super::jobs::JobKind::Sample) {
            return;
        }
        if self.scene.tokens.is_some() {
            return self.apply_pending_token_view();
        }
        let Some(cloud) = &self.results.cloud else {
            return;
        };
        let Some(pending) = self.results.arrival.pending_view.take() else {
            return;
        };
        let last = cloud.trajectories.stored_steps.saturating_sub(1);
        self.views.timeline.step = pending.step.map_or(last, |step| step.min(last));
        self.views.manifold.settings.selected =
            pending.selected.filter(|&i| i < cloud.trajectories.n);
    }

    /// [`Self::apply_pending_view`] for a token scene: the time bar's step and the token view's
    /// sequence once its run is shown.
    fn apply_pending_token_view(&mut self) {
        let Some(tokens) = &self.results.tokens else {
            return;
        };
        let Some(pending) = self.results.arrival.pending_view.take() else {
            return;
        };
        let last = tokens.steps().saturating_sub(1);
        let step = pending.step.map_or(last, |step| step.min(last));
        self.views.timeline.step = step;
        self.views.token.step = step;
        self.views.token.selected = pending
            .sequence
            .unwrap_or(0)
            .min(tokens.rows.saturating_sub(1));
    }

    /// Reads the session at `path` and applies it; on failure reports one error and changes nothing.
    pub fn open_session(&mut self, path: &Path) -> bool {
        match Session::load(path) {
            Ok(session) => {
                self.apply_session(session);
                true
            }
            Err(e) => {
                self.jobs.report(format!("could not open the session: {e}"));
                false
            }
        }
    }

    /// Where the Export menu writes (and a session goes when no file dialog exists).
    pub fn set_export_folder(&mut self, folder: &Path) {
        self.views.export_menu.folder = folder.display().to_string();
    }

    /// Saves the current state at `path` (atomically); a failure is reported.
    pub fn save_session(&mut self, path: &Path) -> bool {
        self.save_session_noting(path, None)
    }

    /// [`Self::save_session`], its notice led by `no_dialog` (why no file dialog chose `path`) when
    /// the Export menu's folder stood in for one.
    fn save_session_noting(&mut self, path: &Path, no_dialog: Option<&str>) -> bool {
        match self.session().save(path) {
            Ok(()) => {
                let (why, place) = no_dialog.map_or((String::new(), ""), |why| {
                    (format!("{why}: "), " (the folder of the Export menu)")
                });
                // A session holds a scene; an imported file on display is not part of it, and the
                // user must not believe it is.
                let data = self.imported().map_or_else(String::new, |imported| {
                    format!(
                        " (its scene and view; the file on display, {}, is not part of a \
                         session: open it again with `diffscope FILE`)",
                        imported.path.display()
                    )
                });
                self.jobs.notify(format!(
                    "{why}saved the session to {}{place}{data}",
                    path.display()
                ));
                true
            }
            Err(e) => {
                self.jobs.report(format!("could not save the session: {e}"));
                false
            }
        }
    }

    /// The session buttons and their shortcuts (Ctrl+O, Ctrl+S).
    pub(super) fn session_ui(&mut self, ui: &mut egui::Ui) {
        let open_key = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::O);
        let save_key = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::S);
        let (mut open, mut save) =
            ui.input_mut(|i| (i.consume_shortcut(&open_key), i.consume_shortcut(&save_key)));
        ui.horizontal(|ui| {
            open |= ui
                .button("Open session…")
                .on_hover_text("Ctrl+O: scene, view settings, camera and selection")
                .clicked();
            save |= ui
                .button("Save session…")
                .on_hover_text("Ctrl+S: rebuild this figure with `diffscope render --session`")
                .clicked();
        });
        if open {
            self.commands.push(Command::PickSession);
        }
        if save {
            self.commands.push(Command::SaveSession);
        }
    }

    /// Saves the session where a file dialog says; without a dialog, in the Export menu's folder.
    pub(super) fn save_session_picked(&mut self) {
        match file_dialog::save_file("session", &["json"], "session.json") {
            Picked::Path(path) => {
                self.save_session(&path);
            }
            Picked::Cancelled => {}
            Picked::Unavailable(why) => {
                let folder = Path::new(self.views.export_menu.folder.trim());
                let path = unused_path(folder, "session", "json");
                // The folder may have been typed in the Export menu and not exist yet.
                let _ = std::fs::create_dir_all(folder);
                self.save_session_noting(&path, Some(&why));
            }
        }
    }

    /// Saves the autosave of the interactive app (on exit); a failure is logged (the window is gone).
    pub(super) fn autosave(&mut self) {
        if let Some(path) = self.driver.autosave.clone()
            && let Err(e) = file::save_autosave(&self.session(), &path)
        {
            log::error!("could not save the session on exit: {e}");
            eprintln!("error: could not save the session on exit: {e}");
        }
    }
}

/// The manifold view's settings and camera as session data.
fn manifold_state(m: &ViewSettings) -> file::ManifoldState {
    file::ManifoldState {
        dimensions: match m.dims {
            Dimensions::Two => file::Dimensions::Two,
            Dimensions::Three => file::Dimensions::Three,
        },
        basis: if m.pooled {
            file::Basis::Pooled
        } else {
            file::Basis::PerStep
        },
        color_by: match m.color_by {
            ColorBy::Class => file::ColorBy::Class,
            ColorBy::Time => file::ColorBy::Time,
            ColorBy::Posterior(k) => file::ColorBy::Posterior(k),
        },
        colormap: match m.colormap {
            Colormap::Viridis => file::Colormap::Viridis,
            Colormap::Magma => file::Colormap::Magma,
        },
        show_path: m.show_path,
        trail_steps: m.trail_steps,
        radius_px: m.radius_px,
        draw_mode: match m.draw_mode {
            DrawMode::Auto => file::DrawMode::Auto,
            DrawMode::Points => file::DrawMode::Points,
            DrawMode::Density => file::DrawMode::Density,
        },
        show_holes: m.show_holes,
        camera: file::Camera {
            follow: m.follow,
            center: m.pan_zoom.center.into(),
            half_height: m.pan_zoom.half_height,
            target: m.orbit.target.into(),
            yaw: m.orbit.yaw,
            pitch: m.orbit.pitch,
            distance: m.orbit.distance,
        },
        selected: m.selected,
    }
}
