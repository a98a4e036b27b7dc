//! The desktop app (eframe + wgpu): scene panel on the left, the manifold view with its time bar in the
//! centre, inspector / speciation plot / metric table on the right, jobs and errors at the bottom.
//! The UI thread reads finished results and sends jobs to the worker; it never computes.

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
pub mod tasks;
pub mod timeline;
pub mod tour;

use crate::analysis::compare::Comparison;
use crate::analysis::speciation::report::SpeciationReport;
use crate::analysis::view_data::{
    Cloud, Imported, Measured, ReferenceReports, measured, metric_table,
};
use crate::figure::{Figure, Table};
use crate::render::layer::LayerPipeline;
use crate::render::trails::TrailPipeline;
use crate::render::{PointPipeline, PointRenderer, RendererChoice};
use crate::scene::Scene;
use crate::session::Session;
use eframe::egui_wgpu::RenderState;
use jobs::{JobBoard, JobKind};
use manifold::ManifoldView;
use speciation_view::SpeciationView;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use timeline::Timeline;

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

/// What a frame-time measurement shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameStatsOptions {
    /// Frames measured (after 10 warm-up frames).
    pub frames: usize,
    /// Show a synthetic cloud of this many points instead of sampling the scene, and measure once it is
    /// drawn; without it, frames are measured while the scene's jobs run.
    pub synthetic_points: Option<usize>,
    /// Move the manifold camera a little every frame, as a user dragging the view would.
    pub camera_motion: Option<CameraMotion>,
}

/// How the camera moves during a frame-time measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CameraMotion {
    /// Pan the 2-D view (the sprite layer is reprojected while it covers the view).
    Pan,
    /// Orbit the 3-D view (every frame draws every sprite).
    Orbit,
}

/// Frames skipped before measuring.
const WARM_UP_FRAMES: usize = 10;

/// Frame timestamps of a measurement.
struct FrameStats {
    options: FrameStatsOptions,
    last: Option<Instant>,
    skipped: usize,
    intervals: Vec<f64>,
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

/// Screenshot-and-exit progress.
enum Capture {
    Waiting,
    Requested(Arc<Mutex<Option<Arc<egui::ColorImage>>>>),
    Done,
}

/// Frames drawn after results arrive (or the app opens) so that their layout settles.
const LAYOUT_FRAMES: u32 = 3;

/// Quiet frames between "all jobs done" and the screenshot, so the finished results are drawn.
const SETTLE_FRAMES: u32 = 3;

/// Delay after the last edit before the draft scene is applied.
const EDIT_DEBOUNCE: f64 = 0.4;

pub struct DiffscopeApp {
    pub jobs: JobBoard,
    /// The scene whose results are shown.
    pub scene: Scene,
    /// The scene as edited in the panel (applied after a pause when valid).
    pub draft: Scene,
    draft_error: Option<String>,
    edited_at: Option<f64>,
    /// The scene was changed in the panel since it was opened (its caption says so).
    edited: bool,
    preset: Option<usize>,
    pub cloud: Option<Arc<Cloud>>,
    cloud_id: usize,
    classes: Vec<u32>,
    pub speciation: Option<Arc<SpeciationReport>>,
    pub metrics: Option<Arc<Measured>>,
    pub references: Option<Arc<ReferenceReports>>,
    /// The DiT vs Euler-Stack measurement, once asked for ([`DiffscopeApp::measure_models`]).
    pub models: Option<Arc<Comparison>>,
    export_menu: export::ExportMenu,
    pub manifold: ManifoldView,
    pub timeline: Timeline,
    speciation_view: SpeciationView,
    pub right_tab: RightTab,
    capture: Option<(PathBuf, Capture, u32)>,
    /// A loaded point file resets the view (selection, camera) when it arrives, not before: a file that
    /// fails to load keeps the view as it was.
    reset_view_on_arrival: bool,
    /// Frames still to draw so that newly arrived results settle ([`LAYOUT_FRAMES`]).
    layout_frames: u32,
    /// Why a non-interactive run (screenshot) failed, read by [`run`] after the window closes.
    failure: Arc<Mutex<Option<String>>>,
    solo: Option<View>,
    frame_stats: Option<FrameStats>,
    started: Instant,
    /// Launch to the first frame that drew a sampled cloud.
    pub first_scene_drawn: Option<Duration>,
    /// The step and selection of an applied session, waiting for its cloud.
    pending_view: Option<session::PendingView>,
    autosave: Option<PathBuf>,
    /// The teaching tour, while one runs.
    pub tour: Option<tour::Tour>,
    pub presentation: presentation::Presentation,
    laws: laws_view::LawsView,
    /// Show the next sampled cloud at the stored step nearest this time (a scene's `view.time`).
    open_at: Option<f64>,
    /// The (cloud id, step) whose metrics were last asked for by [`Self::follow_time_in_metrics`].
    metrics_requested: Option<(usize, usize)>,
    /// What draws the points (reported by frame-time measurements).
    point_renderer: PointRenderer,
}

impl DiffscopeApp {
    /// Builds the app in a window: installs the GPU pipelines, opens the scene and starts its jobs.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        Self::with_render_state(cc.wgpu_render_state.as_ref(), options)
    }

    /// Builds the app on `render_state` (a window's or an offscreen device's; `None` draws no
    /// points): installs the GPU pipelines, opens the scene and starts its jobs.
    pub fn with_render_state(render_state: Option<&RenderState>, options: AppOptions) -> Self {
        let synthetic = options.frame_stats.and_then(|f| f.synthetic_points);
        let options_data = options.data.clone();
        let (mut app, startup) = Self::without_jobs(render_state, options);
        if let Some(n) = synthetic {
            app.jobs
                .start(JobKind::Sample, "synthetic cloud", move |ctx| {
                    tasks::synthetic(n, ctx)
                });
            return app;
        }
        if let Some(path) = options_data {
            app.open_path(&path);
            return app;
        }
        if let Some(view) = app.scene.view.clone() {
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
    ) -> (Self, Option<Session>) {
        let point_renderer = render_state.map_or(PointRenderer::Sprites, |render_state| {
            LayerPipeline::install(render_state);
            TrailPipeline::install(render_state);
            PointPipeline::install(render_state, options.renderer)
        });
        let mut jobs = JobBoard::new(2);
        let startup = session::startup_session(&options, &mut jobs);
        let (scene, preset) = match (&startup, &options.scene) {
            (Some(session), _) => (session.scene.clone(), None),
            (None, Some(path)) => match Scene::load(path) {
                Ok(scene) => (scene, None),
                Err(e) => {
                    jobs.report(format!("could not open the scene: {e}"));
                    (Scene::default_scene(), Some(0))
                }
            },
            (None, None) => (Scene::default_scene(), Some(0)),
        };
        let app = DiffscopeApp {
            jobs,
            draft: scene.clone(),
            scene,
            draft_error: None,
            edited_at: None,
            edited: false,
            preset,
            cloud: None,
            cloud_id: 0,
            classes: Vec::new(),
            speciation: None,
            metrics: None,
            references: None,
            models: None,
            export_menu: export::ExportMenu::default(),
            manifold: ManifoldView::default(),
            timeline: Timeline::default(),
            speciation_view: SpeciationView::default(),
            right_tab: RightTab::Speciation,
            capture: options.screenshot.map(|path| (path, Capture::Waiting, 0)),
            reset_view_on_arrival: false,
            layout_frames: LAYOUT_FRAMES,
            failure: Arc::default(),
            solo: options.solo,
            frame_stats: options.frame_stats.map(|options| FrameStats {
                options,
                last: None,
                skipped: 0,
                intervals: Vec::new(),
            }),
            started: Instant::now(),
            first_scene_drawn: None,
            pending_view: None,
            autosave: options.autosave,
            tour: None,
            presentation: options
                .present
                .map(presentation::Presentation::starting)
                .unwrap_or_default(),
            laws: laws_view::LawsView::default(),
            open_at: None,
            metrics_requested: None,
            point_renderer,
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
        let current = match self.metrics.as_deref() {
            Some(m) => metric_table::Current::Measured {
                report: &m.report,
                filter: m.filter,
                follows_time: self.table_follows_time(),
            },
            None => metric_table::Current::Waiting,
        };
        metric_table::table(
            current,
            self.models.as_deref(),
            self.references.as_deref(),
            pending,
        )
    }

    /// The speciation plots of the level on display, once the lab has finished.
    pub fn speciation_figures(&self) -> Option<[Figure; 2]> {
        let report = self.speciation.as_deref()?;
        Some(speciation_view::figures(
            self.speciation_view.level_of(report),
        ))
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
            let settings = self.export_menu.png;
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
        if sampling {
            // The previous cloud stays drawn (dimmed, with the progress) until the new one arrives;
            // its measurements go, since they describe the old cloud.
            self.metrics = None;
            self.manifold.reset();
            self.jobs.cancel(JobKind::Metrics);
            let scene = self.scene.clone();
            self.jobs.start(JobKind::Sample, "sampling", move |ctx| {
                tasks::sample(&scene, ctx)
            });
        }
        if speciation {
            self.speciation = None;
            self.jobs.cancel(JobKind::Speciation);
        }
        if speciation && self.scene.model.has_theory() {
            let scene = self.scene.clone();
            self.jobs
                .start(JobKind::Speciation, "speciation lab", move |ctx| {
                    tasks::speciation(&scene, ctx)
                });
        }
    }

    /// Makes `scene` current, restarting only the jobs its changes affect.
    pub fn apply_scene(&mut self, scene: Scene) {
        self.edited = false;
        let old = std::mem::replace(&mut self.scene, scene);
        let new = &self.scene;
        let model = old.model != new.model;
        let sampling = model
            || old.sampler != new.sampler
            || old.trajectories != new.trajectories
            || old.seed != new.seed;
        let speciation = model
            || old.speciation != new.speciation
            || old.seed != new.seed
            || old.sampler.t_max != new.sampler.t_max;
        self.draft = self.scene.clone();
        self.draft_error = None;
        // Imported data on display: any scene change brings the scene's own results back.
        let imported = self.imported().is_some();
        self.restart(sampling || imported, speciation || imported);
    }

    /// The imported file on display, when the cloud is not the scene's.
    pub fn imported(&self) -> Option<&Imported> {
        self.cloud.as_deref().and_then(|c| c.origin.imported())
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
            match Scene::load(path) {
                Ok(scene) => {
                    self.preset = None;
                    self.open_scene(scene);
                }
                Err(e) => self.jobs.report(format!("could not open the scene: {e}")),
            }
            return;
        }
        // The current cloud and its measurements stay until the file has loaded: a file that fails
        // to load changes nothing.
        let path = path.to_path_buf();
        self.pending_view = None;
        self.reset_view_on_arrival = true;
        self.jobs
            .start(JobKind::Sample, "loading data", move |ctx| {
                tasks::open_data(&path, ctx)
            });
    }

    /// When the metric table follows time ([`Self::table_follows_time`]), re-measures the step
    /// shown once the time bar rests on a step other than the measured one; starting the job cancels
    /// a stale one.
    fn follow_time_in_metrics(&mut self) {
        let Some(cloud) = &self.cloud else { return };
        if self.jobs.is_running(JobKind::Sample) {
            return;
        }
        let step = self.timeline.step;
        let measured = self.metrics.as_ref().map(|m| m.filter.step);
        let first_running = self
            .metrics_requested
            .is_none_or(|(id, _)| id != self.cloud_id)
            && self.jobs.is_running(JobKind::Metrics);
        // The hole overlay belongs to one step: the step shown is measured once the time bar rests.
        let follows = self.table_follows_time() || self.manifold.draws_holes();
        if !follows
            || self.timeline.playing
            || measured == Some(step)
            || first_running
            || self.metrics_requested == Some((self.cloud_id, step))
        {
            return;
        }
        self.metrics_requested = Some((self.cloud_id, step));
        let cloud = Arc::clone(cloud);
        self.jobs.start(JobKind::Metrics, "metrics", move |ctx| {
            tasks::metrics(&cloud, Some(step), ctx)
        });
    }

    /// Whether the metric table measures the step on display: for a hidden-state scene, and for
    /// imported trajectories (their steps are the file's, not the sampler's).
    fn table_follows_time(&self) -> bool {
        let recorded = self
            .cloud
            .as_deref()
            .is_some_and(|c| c.origin.imported().is_some() && c.trajectories.stored_steps > 1);
        recorded || measured::table_follows_time(&self.scene)
    }

    /// Takes finished jobs into the views (and starts the metrics of a new cloud).
    fn take_results(&mut self) {
        let finished_jobs = self.jobs.poll();
        if !finished_jobs.is_empty() {
            self.layout_frames = LAYOUT_FRAMES;
        }
        for finished in finished_jobs {
            match finished.kind {
                JobKind::Sample => {
                    if let Ok(cloud) = finished.output.downcast::<Cloud>() {
                        self.metrics = None;
                        self.jobs.cancel(JobKind::Metrics);
                        if std::mem::take(&mut self.reset_view_on_arrival) {
                            self.manifold.reset();
                        }
                        self.classes = manifold::trajectory_classes(&cloud);
                        self.cloud_id += 1;
                        self.timeline.step = cloud.trajectories.stored_steps.saturating_sub(1);
                        if let Some(t) = self.open_at.take() {
                            self.timeline.step = tour::nearest_step(&cloud.trajectories.times, t);
                        }
                        self.timeline.playing = false;
                        if cloud.origin.imported().is_some() {
                            // The scene's lab describes the scene, not the file.
                            self.speciation = None;
                            self.jobs.cancel(JobKind::Speciation);
                        }
                        let synthetic = self
                            .frame_stats
                            .as_ref()
                            .is_some_and(|f| f.options.synthetic_points.is_some());
                        if !synthetic {
                            let for_metrics = Arc::clone(&cloud);
                            self.jobs.start(JobKind::Metrics, "metrics", move |ctx| {
                                tasks::metrics(&for_metrics, None, ctx)
                            });
                            // The reference clouds wait for the first cloud: on a one-core machine
                            // they would otherwise share the CPU with it and delay the first scene.
                            if self.references.is_none()
                                && !self.jobs.is_running(JobKind::References)
                            {
                                self.jobs.start(
                                    JobKind::References,
                                    "reference clouds",
                                    tasks::references,
                                );
                            }
                        }
                        self.cloud = Some(cloud);
                        self.apply_pending_view();
                    }
                }
                JobKind::Speciation => {
                    self.speciation = finished.output.downcast::<SpeciationReport>().ok();
                }
                JobKind::Metrics => self.metrics = finished.output.downcast::<Measured>().ok(),
                JobKind::References => {
                    self.references = finished.output.downcast::<ReferenceReports>().ok();
                }
                JobKind::Compare => self.models = finished.output.downcast::<Comparison>().ok(),
                JobKind::Export => {
                    if let Ok(path) = finished.output.downcast::<PathBuf>() {
                        self.jobs.notify(format!("wrote {}", path.display()));
                    }
                }
            }
        }
    }

    /// Applies the draft once it differs, has rested `EDIT_DEBOUNCE` seconds and validates.
    fn apply_draft_when_ready(&mut self, ctx: &egui::Context) {
        if self.draft == self.scene {
            self.edited_at = None;
            return;
        }
        let now = ctx.input(|i| i.time);
        let edited_at = *self.edited_at.get_or_insert(now);
        let pointer_down = ctx.input(|i| i.pointer.any_down());
        if now - edited_at < EDIT_DEBOUNCE || pointer_down {
            ctx.request_repaint_after(Duration::from_secs_f64(EDIT_DEBOUNCE));
            return;
        }
        match self.draft.validate(Path::new("(edited scene)")) {
            Ok(()) => {
                self.preset = None;
                self.edited_at = None;
                self.apply_scene(self.draft.clone());
                self.edited = true;
            }
            Err(e) => self.draft_error = Some(e.to_string()),
        }
    }

    /// Runs a panel that edits the draft scene; an edit starts the debounce of
    /// [`Self::apply_draft_when_ready`].
    fn edit_draft<R>(
        &mut self,
        ui: &mut egui::Ui,
        edit: impl FnOnce(&mut egui::Ui, &mut Scene) -> R,
    ) -> R {
        let before = self.draft.clone();
        let result = edit(ui, &mut self.draft);
        if self.draft != before {
            self.edited_at = Some(ui.input(|i| i.time));
            self.draft_error = None;
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
        let caption = self.live_caption();
        let imported = self.imported().map(Imported::summary);
        let (draft_error, preset) = (self.draft_error.clone(), self.preset);
        let actions = self.edit_draft(ui, |ui, draft| {
            scene_panel::ui(
                ui,
                &caption,
                imported.as_deref(),
                draft,
                draft_error.as_deref(),
                preset,
            )
        });
        if let Some(index) = actions.preset {
            match crate::builtin_scenes::preset(index) {
                Ok(scene) => {
                    self.preset = Some(index);
                    self.open_scene(scene);
                }
                Err(e) => self.jobs.report(format!("preset: {e}")),
            }
        }
        if actions.open_scene {
            self.open_picked(
                file_dialog::pick_file("scene", &["json"]),
                "drop the scene file on the window, or start with `diffscope --scene FILE`",
            );
        }
        if actions.open_points {
            self.open_picked(
                file_dialog::pick_file(
                    "trajectories or point cloud",
                    &["npy", "safetensors", "csv"],
                ),
                "drop the file on the window",
            );
        }
        if actions.rerun {
            self.restart(true, true);
        }
        if actions.tour {
            self.start_teaching_tour();
        }
        if actions.present {
            self.presentation.enter(ui.ctx());
        }
    }

    /// The caption line of an exported view: the scene and its parameters, or what an imported file
    /// holds.
    pub fn figure_caption(&self) -> String {
        match self.imported() {
            Some(imported) => imported.summary(),
            None => self.scene.caption_line(),
        }
    }

    /// The applied scene's title and caption with the live numbers filled in.
    fn live_caption(&self) -> tour::LiveCaption {
        tour::LiveCaption::of(&self.scene, self.speciation.as_deref(), self.edited)
    }

    fn markers(&self) -> Vec<timeline::Marker> {
        self.speciation
            .as_ref()
            .map(|report| speciation_view::markers(&report.headline))
            .unwrap_or_default()
    }

    fn right_panel(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.right_tab, RightTab::Speciation, "Speciation");
            ui.selectable_value(&mut self.right_tab, RightTab::Metrics, "Metrics");
            ui.selectable_value(&mut self.right_tab, RightTab::Inspector, "Inspector");
            ui.selectable_value(&mut self.right_tab, RightTab::Theory, "Theory");
            let views =
                [self.right_tab.view(), View::Manifold].map(|v| (v, export::not_ready(self, v)));
            if let Some(request) = self.export_menu.ui(ui, &views) {
                self.export(request);
            }
        });
        ui.separator();
        self.view_ui(ui, self.right_tab.view());
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        // The panel's own width: wide toolbar rows must not push the view under the side panels.
        let width = ui.max_rect().width();
        ui.set_max_width(width);
        // A projected slide shows the view, not its controls.
        if !self.presentation.active {
            self.manifold.toolbar(ui, self.cloud.as_deref());
        }
        let times = self
            .cloud
            .as_ref()
            .map(|c| c.trajectories.times.clone())
            .unwrap_or_default();
        self.timeline.tick(ui.ctx(), times.len());
        let markers = self.markers();
        // The view takes what the time bar leaves.
        let time_bar_height = Timeline::height(ui, width);
        let view_size = egui::vec2(width, (ui.available_height() - time_bar_height).max(120.0));
        let previously_selected = self.manifold.settings.selected;
        ui.allocate_ui(view_size, |ui| {
            let overlay = self
                .metrics
                .as_ref()
                .and_then(|m| m.overlay.as_ref().map(|o| (o, m.filter)));
            let sampling = self
                .jobs
                .rows()
                .iter()
                .find(|row| row.kind == JobKind::Sample)
                .map(|row| (row.name.as_str(), row.fraction));
            self.manifold.ui(
                ui,
                manifold::ViewInput {
                    cloud: self.cloud.as_deref(),
                    overlay,
                    cloud_id: self.cloud_id,
                    classes: &self.classes,
                    step: self.timeline.step,
                    sampling,
                },
            );
        });
        if self.manifold.settings.selected.is_some()
            && self.manifold.settings.selected != previously_selected
        {
            self.right_tab = RightTab::Inspector;
        }
        let times_known = self.imported().is_none_or(|i| i.times_in_file);
        self.timeline.ui(ui, &times, times_known, &markers);
        if self.cloud.is_some() && self.first_scene_drawn.is_none() {
            self.first_scene_drawn = Some(self.started.elapsed());
            log::info!(
                "first scene drawn {:.2} s after launch",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Screenshot mode: once every job is done and a few frames have settled, capture, save and close.
    /// A scene, session or job that fails ends the run with that error and writes nothing.
    fn drive_capture(&mut self, ctx: &egui::Context) {
        let idle = self.jobs.idle() && self.cloud.is_some();
        let first_error = self.jobs.errors().first().cloned();
        let Some((path, state, settled)) = &mut self.capture else {
            return;
        };
        let fail = |message: String| {
            if let Ok(mut failure) = self.failure.lock() {
                failure.get_or_insert(message);
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        };
        match state {
            Capture::Waiting if first_error.is_some() => {
                *state = Capture::Done;
                fail(first_error.unwrap_or_default());
            }
            Capture::Waiting => {
                *settled = if idle { *settled + 1 } else { 0 };
                if *settled >= SETTLE_FRAMES {
                    let slot: Arc<Mutex<Option<Arc<egui::ColorImage>>>> = Arc::default();
                    let (sink, repaint) = (Arc::clone(&slot), ctx.clone());
                    ctx.request_screenshot(move |image| {
                        if let Ok(mut s) = sink.lock() {
                            *s = Some(image);
                        }
                        repaint.request_repaint();
                    });
                    *state = Capture::Requested(slot);
                }
                ctx.request_repaint_after(Duration::from_millis(50));
            }
            Capture::Requested(slot) => {
                let image = slot.lock().ok().and_then(|mut s| s.take());
                if let Some(image) = image {
                    *state = Capture::Done;
                    match save_png(&image, path) {
                        Ok(()) => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
                        Err(e) => fail(e),
                    }
                } else {
                    ctx.request_repaint_after(Duration::from_millis(20));
                }
            }
            Capture::Done => {}
        }
    }
}

impl DiffscopeApp {
    /// Frame-time measurement: records frame intervals in the phase being measured, then prints
    /// mean / median / p95 and closes the window.
    fn drive_frame_stats(&mut self, ctx: &egui::Context) {
        let drawn = self.cloud.is_some() && self.jobs.idle();
        let busy = !self.jobs.idle();
        let first_scene = self.first_scene_drawn;
        let Some(stats) = &mut self.frame_stats else {
            return;
        };
        ctx.request_repaint();
        let measuring = match stats.options.synthetic_points {
            Some(_) => drawn,
            None => busy,
        };
        let now = Instant::now();
        if let Some(motion) = stats.options.camera_motion.filter(|_| measuring) {
            self.manifold
                .drift_camera(motion, stats.intervals.len() + stats.skipped);
        }
        if measuring {
            if let Some(last) = stats.last {
                if stats.skipped < WARM_UP_FRAMES {
                    stats.skipped += 1;
                } else {
                    stats.intervals.push(now.duration_since(last).as_secs_f64());
                }
            }
            stats.last = Some(now);
        }
        let phase_over = stats.options.synthetic_points.is_none() && !busy && stats.last.is_some();
        if stats.intervals.len() >= stats.options.frames || phase_over {
            let mut sorted = stats.intervals.clone();
            sorted.sort_by(f64::total_cmp);
            let ms = |q: f64| {
                sorted
                    .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                    .map_or(f64::NAN, |v| v * 1e3)
            };
            let mean = 1e3 * sorted.iter().sum::<f64>() / sorted.len().max(1) as f64;
            let what = match stats.options.synthetic_points {
                Some(n) => format!(
                    "{n} points, drawn ({})",
                    if self.manifold.uses_density() {
                        "density layer"
                    } else {
                        self.point_renderer.name()
                    }
                ),
                None => "while the scene's jobs run".into(),
            };
            println!(
                "frame time {what}: {} frames, mean {mean:.1} ms, median {:.1} ms, p95 {:.1} ms",
                sorted.len(),
                ms(0.5),
                ms(0.95)
            );
            if stats.options.synthetic_points.is_none() {
                // Whether frames slow down as the jobs go on (the UI must never wait on them).
                let half = stats.intervals.len() / 2;
                let (early, late) = stats.intervals.split_at(half);
                println!(
                    "frame time halves: first half median {:.1} ms, second half median {:.1} ms",
                    1e3 * median_of(early),
                    1e3 * median_of(late)
                );
            }
            if let Some(first) = first_scene {
                println!("launch to first drawn scene: {:.2} s", first.as_secs_f64());
            }
            self.frame_stats = None;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

/// The median of `values` (NaN when empty).
fn median_of(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Writes an egui screenshot as PNG.
pub fn save_png(image: &egui::ColorImage, path: &Path) -> Result<(), String> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or_else(|| format!("screenshot of {w}×{h} has the wrong number of pixels"))?;
    buffer
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| format!("could not write the screenshot: {e}: {}", path.display()))
}

impl DiffscopeApp {
    /// One view in `ui`.
    fn view_ui(&mut self, ui: &mut egui::Ui, view: View) {
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
            View::Speciation => self.speciation_view.ui(
                ui,
                self.speciation.as_deref(),
                self.jobs.is_running(JobKind::Speciation),
            ),
            View::Metrics => {
                let table = self.metric_table();
                let idle = self.models.is_none() && !self.jobs.is_running(JobKind::Compare);
                let actions = metrics_view::ui(ui, &table, idle);
                if actions.measure_models {
                    self.measure_models();
                }
            }
            View::Inspector => {
                let now = self
                    .cloud
                    .as_ref()
                    .and_then(|c| c.trajectories.times.get(self.timeline.step).copied());
                inspector::ui(
                    ui,
                    self.cloud.as_deref(),
                    self.manifold.settings.selected,
                    now,
                );
            }
            View::Theory => {
                self.laws.ui(
                    ui,
                    &self.draft.model,
                    self.speciation.as_deref(),
                    class_labels(self.cloud.as_deref()),
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
}

impl DiffscopeApp {
    /// One frame of the whole app (the window's and the offscreen renderer's).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.presentation.enter_if_asked(&ctx);
        self.take_results();
        // New results are laid out over a few frames (plot axes measure their tick labels on the
        // first): keep drawing until they have settled, without waiting for the mouse.
        if self.layout_frames > 0 {
            self.layout_frames -= 1;
            ctx.request_repaint();
        }
        self.follow_time_in_metrics();
        self.handle_dropped_files(&ctx);
        self.apply_draft_when_ready(&ctx);
        self.handle_keys(&ctx);
        if !self.jobs.idle() {
            // Progress arrives from the worker; poll it at a calm rate.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        if let Some(view) = self.solo {
            let caption = self.figure_caption();
            egui::Panel::bottom("figure caption").show(ui, |ui| {
                ui.add(egui::Label::new(egui::RichText::new(caption).small().weak()).wrap());
            });
            egui::CentralPanel::default().show(ui, |ui| self.view_ui(ui, view));
            self.drive_capture(&ctx);
            self.drive_frame_stats(&ctx);
            return;
        }
        if self.presentation.active {
            self.presentation_ui(ui);
            self.drive_capture(&ctx);
            return;
        }
        if self.tour.is_some() {
            egui::Panel::top("tour").show(ui, |ui| self.tour_bar(ui));
        }
        egui::Panel::bottom("jobs").show(ui, |ui| {
            self.jobs.ui(ui);
        });
        egui::Panel::left("scene")
            .resizable(true)
            .default_size(280.0)
            .show(ui, |ui| self.left_panel(ui));
        egui::Panel::right("analysis")
            .resizable(true)
            .default_size(460.0)
            .show(ui, |ui| self.right_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        self.drive_capture(&ctx);
        self.drive_frame_stats(&ctx);
    }
}

/// Opens the app window (blocks until it closes).
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
    // Launch time counts from here: window, GPU device and pipelines are part of it.
    let launched = Instant::now();
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let failure_of_app = Arc::clone(&failure);
    eframe::run_native(
        "diffscope",
        native,
        Box::new(move |cc| {
            let mut app = DiffscopeApp::new(cc, options);
            app.started = launched;
            app.failure = failure_of_app;
            Ok(Box::new(app))
        }),
    )?;
    match failure.lock().ok().and_then(|mut f| f.take()) {
        Some(message) => Err(AppError::Run(message)),
        None => Ok(()),
    }
}

/// The class names of the cloud shown (none before the first cloud).
fn class_labels(cloud: Option<&Cloud>) -> &[String] {
    cloud.map_or(&[], |c| c.trajectories.class_labels.as_slice())
}
