//! The desktop app (eframe + wgpu): scene panel on the left, the manifold view with its time bar in the
//! centre, inspector / speciation plot / metric table on the right, jobs and errors at the bottom.
//! The UI thread reads finished results and sends jobs to the worker; it never computes. A token scene
//! (mask or flip noise) shows its token view in the centre and its discrete lab in the Speciation tab.

pub mod caption;
pub mod command;
pub mod driver;
pub mod export;
pub mod figure_plot;
pub mod file_dialog;
pub mod inspector;
pub mod jobs;
pub mod laws_view;
pub mod manifold;
pub mod metrics_view;
pub mod offscreen;
pub mod presentation;
pub mod recording;
pub mod scene_panel;
pub mod session;
pub mod speciation_view;
pub mod state;
pub mod tasks;
pub mod timeline;
pub mod token_laws;
pub mod token_view;
pub mod tour;
pub mod typography;

use crate::analysis::compare::Comparison;
use crate::analysis::speciation::report::SpeciationReport;
use crate::analysis::view_data::discrete_lab::DiscreteLabReport;
use crate::analysis::view_data::token_view::TokenViewData;
use crate::analysis::view_data::{
    Cloud, CloudOrigin, Imported, Measured, ReferenceReports, measured, metric_table,
};
use crate::figure::{Figure, Table};
use crate::render::layer::LayerPipeline;
use crate::render::trails::TrailPipeline;
use crate::render::{PointPipeline, PointRenderer, RendererChoice, RendererPolicy};
use crate::scene::{Scene, SceneFile, TokenScene};
use crate::session::Session;
use command::Command;
pub use driver::{CameraMotion, FrameStatsOptions, save_png};
use driver::{Driver, LAYOUT_FRAMES};
use eframe::egui_wgpu::RenderState;
use jobs::{JobBoard, JobKind};
use manifold::ManifoldView;
use speciation_view::SpeciationView;
use state::{CaptionCache, CaptionInputs, DraftPoll, Results, SceneState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use timeline::Timeline;

/// The largest share of the window's width the scene panel (left) and the analysis panel (right) may
/// take; the manifold view keeps the rest (at least 36 %: its toolbar fits at 800 px). At 1280 px
/// neither binds, so the default sizes hold.
const SCENE_PANEL_MAX_SHARE: f32 = 0.28;
const ANALYSIS_PANEL_MAX_SHARE: f32 = 0.36;

/// How the app starts.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// The scene to open (the built-in default scene when `None`).
    pub scene: Option<PathBuf>,
    /// Save a screenshot here once the scene's jobs are done, then exit.
    pub screenshot: Option<PathBuf>,
    /// Show one view alone over the whole window (figures, `diffscope render`).
    pub solo: Option<View>,
    /// Measure frame times and exit (performance figures).
    pub frame_stats: Option<FrameStatsOptions>,
    /// The session to open (instead of `scene`).
    pub session: Option<PathBuf>,
    /// A data file to show instead of sampling the scene (recorded trajectories or a point cloud).
    pub data: Option<PathBuf>,
    /// Restore the session saved here when no scene or session is given, and save it on exit (the
    /// interactive app only: tests, `render` and screenshots leave it `None`).
    pub autosave: Option<PathBuf>,
    /// Start in Present mode with this theme.
    pub present: Option<presentation::PresentTheme>,
    /// How the manifold view draws its points (`--renderer`).
    pub renderer: RendererChoice,
}

/// A view that can fill the window on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Manifold,
    Speciation,
    Metrics,
    Inspector,
    /// The laws of t_S against d and the dendrogram (`laws_view`).
    Theory,
}

/// Which panel the right side shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RightTab {
    Inspector,
    Speciation,
    Metrics,
    Theory,
}

impl RightTab {
    /// The view the tab shows.
    pub fn view(self) -> View {
        match self {
            RightTab::Speciation => View::Speciation,
            RightTab::Metrics => View::Metrics,
            RightTab::Inspector => View::Inspector,
            RightTab::Theory => View::Theory,
        }
    }
}

/// The views and what they show: each draws from the app's state and results and asks for changes
/// through [`Command`]s.
pub struct Views {
    pub manifold: ManifoldView,
    pub timeline: Timeline,
    pub speciation_view: SpeciationView,
    pub right_tab: RightTab,
    pub laws: laws_view::LawsView,
    pub export_menu: export::ExportMenu,
    pub presentation: presentation::Presentation,
    /// The teaching tour, while one runs.
    pub tour: Option<tour::Tour>,
    /// One view alone over the whole window (figures, `diffscope render`).
    pub solo: Option<View>,
    /// The selected sequence of a token scene's view (its step is the time bar's).
    pub token: token_view::TokenViewState,
}

/// The app: the worker's job board, the scene, the results on display, the views, and what drives
/// non-interactive runs. Each frame takes finished jobs into `results`, draws the views, and carries
/// out the commands they emitted.
pub struct DiffscopeApp {
    pub jobs: JobBoard,
    pub scene: SceneState,
    pub results: Results,
    pub views: Views,
    pub driver: Driver,
    /// What the views asked for this frame, carried out after drawing ([`Self::run_commands`]).
    commands: Vec<Command>,
    caption: CaptionCache,
}

impl DiffscopeApp {
    /// Builds the app in a window: installs the GPU pipelines, opens the scene and starts its jobs.
    /// With `--renderer auto` the window measures both point renderers before its first frame.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        Self::build(cc.wgpu_render_state.as_ref(), options, true)
    }

    /// Builds the app on `render_state` (a window's or an offscreen device's; `None` draws no
    /// points): installs the GPU pipelines, opens the scene and starts its jobs.
    /// `--renderer auto` follows the adapter type here, so that the images do not depend on a timing.
    pub fn with_render_state(render_state: Option<&RenderState>, options: AppOptions) -> Self {
        Self::build(render_state, options, false)
    }

    fn build(
        render_state: Option<&RenderState>,
        options: AppOptions,
        measure_renderers: bool,
    ) -> Self {
        let synthetic = options
            .frame_stats
            .and_then(|f| f.synthetic_points.map(|n| (n, f.synthetic_steps())));
        let options_data = options.data.clone();
        let (mut app, startup) = Self::without_jobs(render_state, options, measure_renderers);
        if let Some((n, steps)) = synthetic {
            app.jobs
                .start(JobKind::Sample, "synthetic cloud", move |ctx| {
                    tasks::synthetic(n, steps, ctx)
                });
            return app;
        }
        if let Some(path) = options_data {
            app.open_path(&path);
            return app;
        }
        if let Some(view) = app.scene.current.view.clone() {
            app.apply_view(&view);
        }
        app.restart(true, true);
        if let Some(session) = startup {
            app.apply_session(session);
        }
        app
    }

    /// The app with its scene opened and no job started (offscreen exports fill in the results).
    /// Also returns the session to apply once the jobs are started (`--session`, or the autosave).
    fn without_jobs(
        render_state: Option<&RenderState>,
        options: AppOptions,
        measure_renderers: bool,
    ) -> (Self, Option<Session>) {
        let sprites = RendererPolicy::always(PointRenderer::Sprites);
        let point_renderer = render_state.map_or(sprites, |render_state| {
            LayerPipeline::install(render_state);
            TrailPipeline::install(render_state);
            PointPipeline::install(render_state, options.renderer, measure_renderers)
        });
        let mut jobs = JobBoard::new(2);
        let startup = session::startup_session(&options, &mut jobs);
        let mut tokens = None;
        let (scene, preset) = match (&startup, &options.scene) {
            (Some(session), _) => {
                tokens = session.tokens.as_ref().map(|t| t.scene.clone());
                (session.scene.clone(), None)
            }
            (None, Some(path)) => match SceneFile::load(path) {
                Ok(SceneFile::Diffusion(scene)) => (scene, None),
                Ok(SceneFile::Tokens(scene)) => {
                    tokens = Some(scene);
                    (Scene::default_scene(), None)
                }
                Err(e) => {
                    jobs.report(format!("could not open the scene: {e}"));
                    (Scene::default_scene(), Some(0))
                }
            },
            (None, None) => (Scene::default_scene(), Some(0)),
        };
        let mut scene = SceneState::new(scene, preset);
        scene.tokens = tokens;
        let app = DiffscopeApp {
            jobs,
            scene,
            results: Results::default(),
            views: Views {
                manifold: ManifoldView::default(),
                timeline: Timeline::default(),
                speciation_view: SpeciationView::default(),
                right_tab: RightTab::Speciation,
                laws: laws_view::LawsView::default(),
                export_menu: export::ExportMenu::default(),
                presentation: options
                    .present
                    .map(presentation::Presentation::starting)
                    .unwrap_or_default(),
                tour: None,
                solo: options.solo,
                token: token_view::TokenViewState::default(),
            },
            driver: Driver::new(
                options.screenshot,
                options.frame_stats,
                options.autosave,
                point_renderer,
            ),
            commands: Vec::new(),
            caption: CaptionCache::default(),
        };
        (app, startup)
    }

    /// Starts measuring the shipped DiT and Euler-Stack for the metric table (≈ 5 s in a release
    /// build); a running measurement is restarted. Never started on launch.
    pub fn measure_models(&mut self) {
        self.jobs.start(
            JobKind::Compare,
            "DiT vs Euler-Stack",
            tasks::compare_models,
        );
    }

    /// The metric table as shown (current cloud, DiT / Euler-Stack, reference clouds).
    pub fn metric_table(&self) -> Table {
        let pending = metric_table::Pending {
            current: self.jobs.is_running(JobKind::Metrics)
                || self.jobs.is_running(JobKind::Sample),
            models: self.jobs.is_running(JobKind::Compare),
        };
        let current = match self.results.metrics.as_deref() {
            Some(m) => metric_table::Current::Measured {
                report: &m.report,
                filter: m.filter,
                follows_time: self.table_follows_time(),
            },
            None => metric_table::Current::Waiting,
        };
        metric_table::table(
            current,
            self.results.models.as_deref(),
            self.results.references.as_deref(),
            pending,
        )
    }

    /// The speciation plots with their heights in an export, once the lab has finished: the level on
    /// display, or a token scene's discrete lab.
    pub fn speciation_figures(&self) -> Option<Vec<(Figure, f64)>> {
        if self.scene.tokens.is_some() {
            let report = self.results.discrete_lab.as_deref()?;
            return Some(vec![(speciation_view::discrete_figure(report), 440.0)]);
        }
        let report = self.results.speciation.as_deref()?;
        let [phi, commitment] =
            speciation_view::figures(self.views.speciation_view.level_of(report));
        Some(vec![(phi, 440.0), (commitment, 260.0)])
    }

    /// Carries out an export the menu asked for: data now, PNG as a worker job; errors reach the
    /// status bar once.
    fn export(&mut self, request: export::Request) {
        if let Some(note) = &request.note {
            self.jobs.report(note.clone());
        }
        // A folder typed in the menu may not exist yet.
        if let Some(folder) = request.path.parent().filter(|f| !f.as_os_str().is_empty())
            && let Err(e) = std::fs::create_dir_all(folder)
        {
            self.jobs.report(format!(
                "export failed: cannot create {}: {e}",
                folder.display()
            ));
            return;
        }
        if let Some(film) = request.film {
            return self.record_film(film, request.path);
        }
        if request.format == export::Format::Png {
            let shown = export::Shown::of(self, request.view);
            let settings = self.views.export_menu.png;
            self.jobs.start(JobKind::Export, "PNG export", move |_| {
                shown
                    .render_png(settings, &request.path)
                    .map(|()| Arc::new(request.path) as crate::worker::JobOutput)
                    .map_err(|e| crate::worker::JobError::failed(&e))
            });
        } else {
            match export::write_data(self, request.view, request.format, &request.path) {
                Ok(()) => self
                    .jobs
                    .notify(format!("wrote {}", request.path.display())),
                Err(e) => self.jobs.report(format!("export failed: {e}")),
            }
        }
    }

    /// Restarts the sampling (and the metrics after it) and/or the speciation lab for the current scene.
    fn restart(&mut self, sampling: bool, speciation: bool) {
        if let Some(scene) = &self.scene.tokens {
            return self.restart_tokens(scene.clone(), sampling, speciation);
        }
        if sampling {
            // The previous cloud stays drawn (dimmed, with the progress) until the new one arrives;
            // its measurements go, since they describe the old cloud.
            self.results.metrics = None;
            self.views.manifold.reset();
            self.jobs.cancel(JobKind::Metrics);
            let scene = self.scene.current.clone();
            self.jobs.start(JobKind::Sample, "sampling", move |ctx| {
                tasks::sample(&scene, ctx)
            });
        }
        if speciation {
            self.results.speciation = None;
            self.jobs.cancel(JobKind::Speciation);
        }
        if speciation && self.scene.current.model.has_lab() {
            let scene = self.scene.current.clone();
            self.jobs
                .start(JobKind::Speciation, "speciation lab", move |ctx| {
                    tasks::speciation(&scene, ctx)
                });
        }
    }

    /// Restarts a token scene's run (its token view) and/or its discrete lab. They use the jobs of
    /// the cloud and the speciation lab, so opening either kind of scene cancels the other's.
    fn restart_tokens(&mut self, scene: TokenScene, sampling: bool, speciation: bool) {
        if sampling {
            self.results.tokens = None;
            let scene = scene.clone();
            self.jobs.start(JobKind::Sample, "token run", move |ctx| {
                tasks::token_run(&scene, ctx)
            });
        }
        if speciation {
            self.results.discrete_lab = None;
            self.jobs
                .start(JobKind::Speciation, "discrete lab", move |ctx| {
                    tasks::discrete_lab(&scene, ctx)
                });
        }
    }

    /// Shows a token scene instead of the continuous one: the cloud and its measurements go (they
    /// describe a scene no longer on display), its run and lab start.
    pub fn open_token_scene(&mut self, scene: TokenScene) {
        self.scene.preset = None;
        self.scene.tokens = Some(scene);
        self.scene.token_draft = None;
        self.scene.draft_error = None;
        self.scene.edited = false;
        self.jobs.cancel(JobKind::Metrics);
        self.results.cloud = None;
        self.results.metrics = None;
        self.results.speciation = None;
        self.results.arrival = state::Arrival::default();
        self.views.manifold.settings.selected = None;
        self.views.token = token_view::TokenViewState::default();
        self.views.timeline.playing = false;
        self.restart(true, true);
    }

    /// Shows the token scene edited in the panel and runs it and its lab again, once it validates;
    /// else keeps the scene on display and says why in the panel.
    fn apply_token_draft(&mut self) {
        let Some(draft) = self.scene.token_draft.clone() else {
            return self.restart(true, true);
        };
        if let Err(e) = draft.validate(Path::new("(edited scene)")) {
            self.scene.draft_error = Some(e.to_string());
            return;
        }
        self.scene.draft_error = None;
        if self.scene.tokens.as_ref() != Some(&draft) {
            self.scene.edited = true;
            self.scene.tokens = Some(draft.clone());
        }
        self.restart_tokens(draft, true, true);
    }

    /// Closes the token scene on display (if any), returning whether there was one: its results go.
    fn close_token_scene(&mut self) -> bool {
        self.results.tokens = None;
        self.results.discrete_lab = None;
        self.scene.token_draft = None;
        self.scene.tokens.take().is_some()
    }

    /// Makes `scene` current, restarting only the jobs its changes affect.
    pub fn apply_scene(&mut self, scene: Scene) {
        // A token scene on display had replaced the continuous scene's results.
        let was_tokens = self.close_token_scene();
        let invalidated = self.scene.replace(scene);
        // Imported data on display: any scene change brings the scene's own results back.
        let imported = self.imported().is_some();
        self.restart(
            invalidated.sampling || imported || was_tokens,
            invalidated.speciation || imported || was_tokens,
        );
    }

    /// Stored steps of what the centre shows (the time bar's range): the cloud's or the token run's.
    pub fn stored_steps(&self) -> usize {
        match (&self.results.tokens, &self.results.cloud) {
            (Some(tokens), _) => tokens.steps(),
            (None, Some(cloud)) => cloud.trajectories.stored_steps,
            (None, None) => 0,
        }
    }

    /// The imported file on display, when the cloud is not the scene's.
    pub fn imported(&self) -> Option<&Imported> {
        self.results.imported()
    }

    /// Opens what a file dialog picked; without a dialog says so, and what to do instead.
    fn open_picked(&mut self, picked: file_dialog::Picked, instead: &str) {
        match picked {
            file_dialog::Picked::Path(path) => self.open_path(&path),
            file_dialog::Picked::Cancelled => {}
            file_dialog::Picked::Unavailable(why) => self.jobs.report(format!("{why}: {instead}")),
        }
    }

    /// Opens a session or a scene (.json, told apart by the session key) or a data file: recorded
    /// trajectories (`[N, S, d]` .npy, .safetensors with `trajectories`) or a point cloud (.npy,
    /// .safetensors, .csv); errors go to the status bar.
    pub fn open_path(&mut self, path: &Path) {
        if path.is_dir() {
            return self.open_sweep(path);
        }
        let is_scene = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_scene && crate::session::is_session_file(path) {
            self.open_session(path);
            return;
        }
        if is_scene {
            match SceneFile::load(path) {
                Ok(SceneFile::Diffusion(scene)) => {
                    self.scene.preset = None;
                    self.open_scene(scene);
                }
                Ok(SceneFile::Tokens(scene)) => self.open_token_scene(scene),
                Err(e) => self.jobs.report(format!("could not open the scene: {e}")),
            }
            return;
        }
        // The current cloud and its measurements stay until the file has loaded: a file that fails
        // to load changes nothing.
        let path = path.to_path_buf();
        self.results.arrival.pending_view = None;
        self.results.arrival.reset_view = true;
        self.jobs
            .start(JobKind::Sample, "loading data", move |ctx| {
                tasks::open_data(&path, ctx)
            });
    }

    /// When the metric table follows time ([`Self::table_follows_time`]), re-measures the step
    /// shown once the time bar rests on a step other than the measured one; starting the job cancels
    /// a stale one.
    fn follow_time_in_metrics(&mut self) {
        let Some(cloud) = &self.results.cloud else {
            return;
        };
        // A frame-time measurement's synthetic cloud is drawn, never measured (its metrics job
        // would share the CPU with the frames being timed).
        if self.jobs.is_running(JobKind::Sample) || cloud.origin == CloudOrigin::Synthetic {
            return;
        }
        let step = self.views.timeline.step;
        let measured = self.results.metrics.as_ref().map(|m| m.filter.step);
        let first_running = self
            .results
            .metrics_requested
            .is_none_or(|(id, _)| id != self.results.cloud_id)
            && self.jobs.is_running(JobKind::Metrics);
        // The hole overlay belongs to one step: the step shown is measured once the time bar rests.
        let follows = self.table_follows_time() || self.views.manifold.draws_holes();
        if !follows
            || self.views.timeline.playing
            || measured == Some(step)
            || first_running
            || self.results.metrics_requested == Some((self.results.cloud_id, step))
        {
            return;
        }
        self.results.metrics_requested = Some((self.results.cloud_id, step));
        let cloud = Arc::clone(cloud);
        self.jobs.start(JobKind::Metrics, "metrics", move |ctx| {
            tasks::metrics(&cloud, Some(step), ctx)
        });
    }

    /// Whether the metric table measures the step on display: for a hidden-state scene, and for
    /// imported trajectories (their steps are the file's, not the sampler's).
    fn table_follows_time(&self) -> bool {
        let recorded = self
            .results
            .cloud
            .as_deref()
            .is_some_and(|c| c.origin.imported().is_some() && c.trajectories.stored_steps > 1);
        recorded || measured::table_follows_time(&self.scene.current)
    }

    /// Takes finished jobs into the views (and starts the metrics of a new cloud).
    fn take_results(&mut self) {
        let finished_jobs = self.jobs.poll();
        if !finished_jobs.is_empty() {
            self.driver.layout_frames = LAYOUT_FRAMES;
        }
        for finished in finished_jobs {
            match finished.kind {
                JobKind::Sample => {
                    let output = match finished.output.downcast::<TokenViewData>() {
                        Ok(tokens) => {
                            // The fully revealed end of the run first, like a cloud's last step.
                            self.views.timeline.step = tokens.steps().saturating_sub(1);
                            self.views.timeline.playing = false;
                            self.results.tokens = Some(tokens);
                            self.apply_pending_view();
                            continue;
                        }
                        Err(output) => output,
                    };
                    if let Ok(cloud) = output.downcast::<Cloud>() {
                        self.results.metrics = None;
                        self.jobs.cancel(JobKind::Metrics);
                        if std::mem::take(&mut self.results.arrival.reset_view) {
                            self.views.manifold.reset();
                        }
                        self.results.classes = manifold::trajectory_classes(&cloud);
                        self.results.cloud_id += 1;
                        self.views.timeline.step =
                            cloud.trajectories.stored_steps.saturating_sub(1);
                        if let Some(t) = self.results.arrival.open_at.take() {
                            self.views.timeline.step =
                                tour::nearest_step(&cloud.trajectories.times, t);
                        }
                        self.views.timeline.playing = false;
                        if cloud.origin.imported().is_some() {
                            // The scene's lab describes the scene, not the file.
                            self.results.speciation = None;
                            self.jobs.cancel(JobKind::Speciation);
                        }
                        // Frame-time measurements never measure their synthetic cloud.
                        if cloud.origin != CloudOrigin::Synthetic {
                            let for_metrics = Arc::clone(&cloud);
                            self.jobs.start(JobKind::Metrics, "metrics", move |ctx| {
                                tasks::metrics(&for_metrics, None, ctx)
                            });
                            // The reference clouds wait for the first cloud: on a one-core machine
                            // they would otherwise share the CPU with it and delay the first scene.
                            if self.results.references.is_none()
                                && !self.jobs.is_running(JobKind::References)
                            {
                                self.jobs.start(
                                    JobKind::References,
                                    "reference clouds",
                                    tasks::references,
                                );
                            }
                        }
                        self.results.cloud = Some(cloud);
                        self.apply_pending_view();
                    }
                }
                JobKind::Speciation => match finished.output.downcast::<DiscreteLabReport>() {
                    Ok(report) => self.results.discrete_lab = Some(report),
                    Err(output) => {
                        self.results.speciation = output.downcast::<SpeciationReport>().ok()
                    }
                },
                JobKind::Metrics => {
                    self.results.metrics = finished.output.downcast::<Measured>().ok()
                }
                JobKind::References => {
                    self.results.references = finished.output.downcast::<ReferenceReports>().ok();
                }
                JobKind::Compare => {
                    self.results.models = finished.output.downcast::<Comparison>().ok()
                }
                JobKind::Export | JobKind::Film => {
                    if let Ok(path) = finished.output.downcast::<PathBuf>() {
                        self.jobs.notify(format!("wrote {}", path.display()));
                    }
                }
            }
        }
    }

    /// Applies the draft once it differs, has rested and validates ([`SceneState::poll_draft`]).
    fn apply_draft_when_ready(&mut self, ctx: &egui::Context) {
        let (now, pointer_down) = ctx.input(|i| (i.time, i.pointer.any_down()));
        match self.scene.poll_draft(now, pointer_down) {
            DraftPoll::Ready(scene) => {
                self.apply_scene(*scene);
                self.scene.edited = true;
            }
            DraftPoll::Waiting(seconds) => {
                ctx.request_repaint_after(Duration::from_secs_f64(seconds))
            }
            DraftPoll::Unchanged | DraftPoll::Invalid => {}
        }
    }

    /// Runs a panel that edits the draft scene; an edit restarts the debounce of
    /// [`Self::apply_draft_when_ready`].
    fn edit_draft<R>(
        &mut self,
        ui: &mut egui::Ui,
        edit: impl FnOnce(&mut egui::Ui, &mut Scene) -> R,
    ) -> R {
        // Widgets change values only in answer to input: a frame without any (time playing, jobs
        // reporting progress) cannot have edited the draft, and skips the comparison copy.
        let may_edit = ui.input(|i| !i.events.is_empty() || i.pointer.any_down());
        if !may_edit {
            return edit(ui, &mut self.scene.draft);
        }
        let before = self.scene.draft.clone();
        let result = edit(ui, &mut self.scene.draft);
        if self.scene.draft != before {
            self.scene.draft_edited(ui.input(|i| i.time));
        }
        result
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for path in dropped {
            self.open_path(&path);
        }
    }

    fn left_panel(&mut self, ui: &mut egui::Ui) {
        self.session_ui(ui);
        if self.scene.tokens.is_some() {
            let caption = self.live_caption();
            let state = &mut self.scene;
            if let Some(scene) = &state.tokens {
                let draft = state.token_draft.get_or_insert_with(|| scene.clone());
                let error = state.draft_error.as_deref();
                scene_panel::token_ui(ui, &caption, draft, error, &mut self.commands);
            }
            return;
        }
        let caption = self.live_caption();
        let imported = self.imported().map(Imported::summary);
        let (draft_error, preset) = (self.scene.draft_error.clone(), self.scene.preset);
        let mut commands = std::mem::take(&mut self.commands);
        self.edit_draft(ui, |ui, draft| {
            scene_panel::ui(
                ui,
                &caption,
                imported.as_deref(),
                draft,
                draft_error.as_deref(),
                preset,
                &mut commands,
            )
        });
        self.commands = commands;
    }

    /// Carries out what the views asked for this frame, in order.
    fn run_commands(&mut self, ctx: &egui::Context) {
        for command in std::mem::take(&mut self.commands) {
            self.run_command(ctx, command);
        }
    }

    fn run_command(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::OpenPreset(index) => match crate::builtin_scenes::preset(index) {
                Ok(scene) => {
                    self.scene.preset = Some(index);
                    self.open_scene(scene);
                }
                Err(e) => self.jobs.report(format!("preset: {e}")),
            },
            Command::PickScene => self.open_picked(
                file_dialog::pick_file("scene", &["json"]),
                "drop the scene file on the window, or start with `diffscope --scene FILE`",
            ),
            Command::PickData => self.open_picked(
                file_dialog::pick_file(
                    "trajectories or point cloud",
                    &["npy", "safetensors", "csv"],
                ),
                "drop the file on the window",
            ),
            Command::PickSession => self.open_picked(
                file_dialog::pick_file("session", &["json"]),
                "drop the session file on the window, or start with `diffscope --session FILE`",
            ),
            Command::SaveSession => self.save_session_picked(),
            Command::Rerun => self.restart(true, true),
            Command::ApplyTokenDraft => self.apply_token_draft(),
            Command::StartTeachingTour => self.start_teaching_tour(),
            Command::TourStep(delta) => self.tour_step(delta),
            Command::EndTour => self.end_tour(),
            Command::EnterPresentation => self.views.presentation.enter(ctx),
            Command::MeasureModels => self.measure_models(),
            Command::Export(request) => self.export(request),
        }
    }

    /// The caption line of an exported view: the scene and its parameters, or what an imported file
    /// holds.
    /// The caption of one view's figure: an open sweep's summary under the Theory tab, else
    /// [`Self::figure_caption`].
    pub fn view_caption(&self, view: View) -> String {
        match self.views.laws.sweep() {
            Some(sweep) if view == View::Theory => sweep.summary(),
            _ => self.figure_caption(),
        }
    }

    pub fn figure_caption(&self) -> String {
        if let Some(scene) = &self.scene.tokens {
            return scene_panel::token_summary(scene);
        }
        match self.imported() {
            Some(imported) => imported.summary(),
            None => self.scene.current.caption_line(),
        }
    }

    /// The applied scene's title and caption with the live numbers filled in (rebuilt only when
    /// they change).
    fn live_caption(&mut self) -> Arc<caption::LiveCaption> {
        let inputs = match &self.scene.tokens {
            Some(scene) => {
                CaptionInputs::of_tokens(scene, scene_panel::token_length(scene), self.scene.edited)
            }
            None => CaptionInputs::of_scene(
                &self.scene.current,
                self.results.speciation.as_ref(),
                self.scene.edited,
            ),
        };
        self.caption.get(inputs)
    }

    fn markers(&self) -> Vec<timeline::Marker> {
        if self.scene.tokens.is_some() {
            return self
                .results
                .discrete_lab
                .as_deref()
                .map(speciation_view::discrete_markers)
                .unwrap_or_default();
        }
        self.results
            .speciation
            .as_ref()
            .map(|report| speciation_view::markers(&report.headline))
            .unwrap_or_default()
    }

    fn right_panel(&mut self, ui: &mut egui::Ui) {
        // Wrapped: in a narrow panel (a small window caps it) the tabs take two rows rather than
        // widen the panel past its edge, and every plot below with them.
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(
                &mut self.views.right_tab,
                RightTab::Speciation,
                "Speciation",
            );
            ui.selectable_value(&mut self.views.right_tab, RightTab::Metrics, "Metrics");
            ui.selectable_value(&mut self.views.right_tab, RightTab::Inspector, "Inspector");
            ui.selectable_value(&mut self.views.right_tab, RightTab::Theory, "Theory");
            let views = [self.views.right_tab.view(), View::Manifold]
                .map(|v| (v, export::not_ready(self, v)));
            if let Some(request) = self.views.export_menu.ui(ui, &views) {
                self.commands.push(Command::Export(request));
            }
        });
        ui.separator();
        self.view_ui(ui, self.views.right_tab.view());
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        // The panel's own width: wide toolbar rows must not push the view under the side panels.
        let width = ui.max_rect().width();
        ui.set_max_width(width);
        if self.scene.tokens.is_some() {
            return self.token_central(ui, width);
        }
        // A projected slide shows the view, not its controls.
        if !self.views.presentation.active {
            self.views
                .manifold
                .toolbar(ui, self.results.cloud.as_deref());
        }
        let cloud = self.results.cloud.clone();
        let times = cloud.as_ref().map_or(&[][..], |c| &c.trajectories.times);
        let times_known = self.imported().is_none_or(|i| i.times_in_file);
        self.over_time_bar(ui, width, times, times_known, |app, ui, view_size| {
            app.manifold_in(ui, view_size)
        });
        if self.results.cloud.is_some() {
            self.driver.scene_drawn();
        }
    }

    /// The centre's layout: `view` in what the time bar leaves of the panel, the time bar under it.
    fn over_time_bar(
        &mut self,
        ui: &mut egui::Ui,
        width: f32,
        times: &[f64],
        times_known: bool,
        view: impl FnOnce(&mut Self, &mut egui::Ui, egui::Vec2),
    ) {
        self.views.timeline.tick(ui.ctx(), times.len());
        let markers = self.markers();
        let time_bar_height = Timeline::height(ui, width);
        let view_size = egui::vec2(width, (ui.available_height() - time_bar_height).max(120.0));
        view(self, ui, view_size);
        self.views.timeline.ui(ui, times, times_known, &markers);
    }

    /// The manifold view at `view_size`; selecting a trajectory there opens the inspector.
    fn manifold_in(&mut self, ui: &mut egui::Ui, view_size: egui::Vec2) {
        let previously_selected = self.views.manifold.settings.selected;
        ui.allocate_ui(view_size, |ui| {
            let overlay = self
                .results
                .metrics
                .as_ref()
                .and_then(|m| m.overlay.as_ref().map(|o| (o, m.filter)));
            let sampling = self
                .jobs
                .rows()
                .iter()
                .find(|row| row.kind == JobKind::Sample)
                .map(|row| (row.name.as_str(), row.fraction));
            self.views.manifold.ui(
                ui,
                manifold::ViewInput {
                    cloud: self.results.cloud.as_deref(),
                    overlay,
                    cloud_id: self.results.cloud_id,
                    classes: &self.results.classes,
                    step: self.views.timeline.step,
                    sampling,
                },
            );
        });
        if self.views.manifold.settings.selected.is_some()
            && self.views.manifold.settings.selected != previously_selected
        {
            self.views.right_tab = RightTab::Inspector;
        }
    }
}

impl DiffscopeApp {
    /// The centre of a token scene: its token view (or the run's progress) over the time bar, whose
    /// step the view shows and scrubs.
    fn token_central(&mut self, ui: &mut egui::Ui, width: f32) {
        let tokens = self.results.tokens.clone();
        let times = tokens.as_ref().map_or(&[][..], |t| &t.times);
        self.over_time_bar(ui, width, times, true, Self::token_view_in);
        if self.results.tokens.is_some() {
            self.driver.scene_drawn();
        }
    }

    /// The token view (or the run's progress) at `view_size`.
    fn token_view_in(&mut self, ui: &mut egui::Ui, view_size: egui::Vec2) {
        // Exactly this rect, clipped: in large type the view may not fit, and must not push the time
        // bar out of the window.
        let (rect, _) = ui.allocate_exact_size(view_size, egui::Sense::hover());
        let mut view_ui = ui.new_child(egui::UiBuilder::new().max_rect(rect));
        view_ui.set_clip_rect(rect.intersect(ui.clip_rect()));
        match self.results.tokens.clone() {
            Some(data) => {
                self.views.token.step = self.views.timeline.step;
                for command in token_view::ui(&mut view_ui, &data, &self.views.token) {
                    self.views.token.apply(command);
                }
                self.views.timeline.step = self.views.token.step;
            }
            None => {
                let progress = self
                    .jobs
                    .rows()
                    .iter()
                    .find(|row| row.kind == JobKind::Sample)
                    .map(|row| (row.fraction, row.stage.clone()));
                view_ui.label(match progress {
                    Some((fraction, stage)) => {
                        format!(
                            "Running the token scene: {stage} ({:.0} %)",
                            100.0 * fraction
                        )
                    }
                    None => "The token run did not finish (see the errors below).".into(),
                });
            }
        }
    }

    /// What a tab of a token scene shows instead of the continuous scene's view, when it has none yet.
    fn token_tab_note(view: View) -> Option<&'static str> {
        match view {
            View::Metrics => Some(
                "The metric table measures point clouds; token scenes have no metrics here yet \
                 (their token and class commitment are in `diffscope speciation --json`).",
            ),
            View::Inspector => Some(
                "The inspector follows a trajectory of a point cloud; for a token scene click a \
                 row of the token view, which shows that sequence's marginals and class posterior.",
            ),
            View::Manifold | View::Speciation | View::Theory => None,
        }
    }

    /// One view in `ui`.
    fn view_ui(&mut self, ui: &mut egui::Ui, view: View) {
        if self.scene.tokens.is_some() {
            if let Some(note) = Self::token_tab_note(view) {
                ui.label(note);
                return;
            }
            if view == View::Theory {
                return self.token_theory_ui(ui);
            }
            if view == View::Speciation {
                return speciation_view::discrete_ui(
                    ui,
                    self.results.discrete_lab.as_deref(),
                    self.jobs.is_running(JobKind::Speciation),
                );
            }
        }
        // Imported data has no scene: these tabs say what the file holds instead of the scene's results.
        if let Some(imported) = self.imported() {
            match view {
                View::Speciation => return speciation_view::imported_ui(ui, imported),
                View::Theory => {
                    ui.label(format!(
                        "{}: a file has no model, so there are no laws to show. Open a scene (or \
                         press Run again for the one in the panel) to see its theory.",
                        imported.summary()
                    ));
                    return;
                }
                _ => {}
            }
        }
        match view {
            View::Manifold => self.central(ui),
            View::Speciation => self.views.speciation_view.ui(
                ui,
                self.results.speciation.as_deref(),
                self.jobs.is_running(JobKind::Speciation),
            ),
            View::Metrics => {
                let table = self.metric_table();
                let idle = self.results.models.is_none() && !self.jobs.is_running(JobKind::Compare);
                metrics_view::ui(ui, &table, idle, &mut self.commands);
            }
            View::Inspector => {
                let now = self
                    .results
                    .cloud
                    .as_ref()
                    .and_then(|c| c.trajectories.times.get(self.views.timeline.step).copied());
                inspector::ui(
                    ui,
                    self.results.cloud.as_deref(),
                    self.views.manifold.settings.selected,
                    now,
                );
            }
            View::Theory => {
                // A slide or an exported figure shows the figure, not the folder buttons.
                let controls = !self.views.presentation.active && self.views.solo.is_none();
                self.views.laws.ui(
                    ui,
                    &self.scene.draft.model,
                    self.results.speciation.as_deref(),
                    self.results.class_labels(),
                    controls,
                );
            }
        }
    }
}

impl eframe::App for DiffscopeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn on_exit(&mut self) {
        self.autosave();
    }

    /// The panels' colour: with it as the clear colour the panels need no fill of their own
    /// ([`Driver::clears_to_panel_fill`]).
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }
}

impl DiffscopeApp {
    /// One frame of the whole app (the window's and the offscreen renderer's).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.views.presentation.enter_if_asked(&ctx);
        self.take_results();
        self.driver.settle_layout(&ctx);
        self.follow_time_in_metrics();
        self.handle_dropped_files(&ctx);
        self.apply_draft_when_ready(&ctx);
        self.handle_keys(&ctx);
        if !self.jobs.idle() {
            // Progress arrives from the worker; poll it at a calm rate.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        if let Some(view) = self.views.solo {
            let caption = self.view_caption(view);
            egui::Panel::bottom("figure caption")
                .frame(self.side_frame(ui))
                .show(ui, |ui| {
                    ui.add(egui::Label::new(egui::RichText::new(caption).small().weak()).wrap());
                });
            egui::CentralPanel::default()
                .frame(self.central_frame(ui))
                .show(ui, |ui| self.view_ui(ui, view));
        } else if self.views.presentation.active {
            self.presentation_ui(ui);
        } else {
            self.window_ui(ui);
        }
        self.run_commands(&ctx);
        let idle = self.jobs.idle();
        let first_error = self.jobs.errors().first().cloned();
        let drawn = idle && self.results.shown();
        self.driver.drive_capture(&ctx, drawn, first_error);
        self.driver
            .drive_frame_stats(&ctx, drawn, !idle, &mut self.views);
    }

    /// The window's panels: tour bar, jobs strip, scene panel, analysis panel, manifold view.
    fn window_ui(&mut self, ui: &mut egui::Ui) {
        let side = self.side_frame(ui);
        if self.views.tour.is_some() {
            egui::Panel::top("tour")
                .frame(side)
                .show(ui, |ui| self.tour_bar(ui));
        }
        egui::Panel::bottom("jobs").frame(side).show(ui, |ui| {
            self.jobs.ui(ui);
        });
        // The side panels take at most these shares of the window, so that a small window still
        // shows the manifold view (at 800 px wide their default sizes left it ≈ 60 px).
        let width = ui.available_width();
        egui::Panel::left("scene")
            .frame(side)
            .resizable(true)
            .default_size(280.0)
            .max_size(SCENE_PANEL_MAX_SHARE * width)
            .show(ui, |ui| self.left_panel(ui));
        egui::Panel::right("analysis")
            .frame(side)
            .resizable(true)
            .default_size(460.0)
            .max_size(ANALYSIS_PANEL_MAX_SHARE * width)
            .show(ui, |ui| self.right_panel(ui));
        egui::CentralPanel::default()
            .frame(self.central_frame(ui))
            .show(ui, |ui| self.central(ui));
    }

    /// A side, top or bottom panel's frame, without its fill when the frame is cleared to the panel
    /// colour ([`Driver::clears_to_panel_fill`]).
    pub(crate) fn side_frame(&self, ui: &egui::Ui) -> egui::Frame {
        self.unfilled(egui::Frame::side_top_panel(ui.style()))
    }

    /// The central panel's frame ([`Self::side_frame`]).
    pub(crate) fn central_frame(&self, ui: &egui::Ui) -> egui::Frame {
        self.unfilled(egui::Frame::central_panel(ui.style()))
    }

    fn unfilled(&self, frame: egui::Frame) -> egui::Frame {
        if self.driver.clears_to_panel_fill {
            frame.fill(egui::Color32::TRANSPARENT)
        } else {
            frame
        }
    }
}

/// Why the app ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the app window failed: {0}")]
    Window(#[from] eframe::Error),
    /// A screenshot run whose scene, session or jobs failed (nothing was written).
    #[error("{0}")]
    Run(String),
}

/// Opens the window and runs until it closes; a screenshot run reports its failure here.
pub fn run(options: AppOptions) -> Result<(), AppError> {
    let measuring = options.frame_stats.is_some();
    // Measurements use the window size of the performance targets and render without vsync.
    let size = if measuring {
        [1024.0, 768.0]
    } else {
        [1280.0, 800.0]
    };
    let mut native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("diffscope")
            .with_inner_size(size)
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    if measuring {
        native.wgpu_options.surface.present_mode = eframe::wgpu::PresentMode::AutoNoVsync;
    }
    native.wgpu_options.wgpu_setup = crate::render::gpu::wgpu_setup();
    // Launch time counts from here: window, GPU device and pipelines are part of it.
    let launched = Instant::now();
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let failure_of_app = Arc::clone(&failure);
    eframe::run_native(
        "diffscope",
        native,
        Box::new(move |cc| {
            let mut app = DiffscopeApp::new(cc, options);
            app.driver.started = launched;
            app.driver.clears_to_panel_fill = true;
            app.driver.failure = failure_of_app;
            Ok(Box::new(app))
        }),
    )?;
    match failure.lock().ok().and_then(|mut f| f.take()) {
        Some(message) => Err(AppError::Run(message)),
        None => Ok(()),
    }
}
