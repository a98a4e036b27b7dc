//! Exports of the app's views: PNG drawn offscreen at a chosen size and pixel density with the same
//! renderer as the screen (`offscreen`, as `diffscope render` does), the
//! views' figure / table models as SVG, CSV, JSON and Markdown, and films of the time running (the
//! recording loop of `diffscope record`, as a worker job). Every file is written atomically.
//! Draws only the export menu; decides nothing about what a view shows.

use super::file_dialog::{self, Picked};
use super::jobs::JobKind;
use super::manifold::ViewSettings;
use super::offscreen::{FilmLayout, FrameSize, OffscreenApp, RenderError};
use super::recording::{self, FilmSettings, RecordError};
use super::{DiffscopeApp, View, inspector, laws_view, token_laws};
use crate::figure::{self, Figure, Table, svg, text};
use crate::io::film::{MAX_FPS, MAX_GIF_FPS, MAX_HEIGHT, MAX_WIDTH};
use crate::io::{IoError, atomic};
use crate::worker::{JobContext, JobError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// A file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
    Csv,
    Json,
    Markdown,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Markdown => "md",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Svg => "SVG",
            Format::Csv => "CSV",
            Format::Json => "JSON",
            Format::Markdown => "Markdown",
        }
    }

    /// The format a file name asks for by its extension.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        [
            Format::Png,
            Format::Svg,
            Format::Csv,
            Format::Json,
            Format::Markdown,
        ]
        .into_iter()
        .find(|f| f.extension() == extension)
    }
}

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("the {view} view has no {format} export (it offers {offered})")]
    Unsupported {
        view: &'static str,
        format: &'static str,
        offered: String,
    },
    #[error("the {view} view has nothing to export yet: {reason}")]
    NotReady {
        view: &'static str,
        reason: &'static str,
    },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot encode the PNG: {0}")]
    Png(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Film(#[from] RecordError),
    #[error(
        "PNG size {width}×{height} points at {scale}× is out of range (16..=8192 points, 1× or 2×)"
    )]
    Size { width: u32, height: u32, scale: u32 },
}

pub fn view_name(view: View) -> &'static str {
    match view {
        View::Manifold => "manifold",
        View::Speciation => "speciation",
        View::Metrics => "metrics",
        View::Inspector => "inspector",
        View::Theory => "theory",
    }
}

/// The formats `view` can be exported to: pictures of point clouds only as PNG, plots also as data and
/// SVG, the metric table also as Markdown.
pub fn formats(view: View) -> &'static [Format] {
    match view {
        View::Manifold => &[Format::Png],
        View::Speciation | View::Inspector | View::Theory => {
            &[Format::Png, Format::Svg, Format::Csv, Format::Json]
        }
        View::Metrics => &[
            Format::Png,
            Format::Svg,
            Format::Csv,
            Format::Json,
            Format::Markdown,
        ],
    }
}

/// `Ok` when `view` offers `format`, else the error naming what it offers.
pub fn check(view: View, format: Format) -> Result<(), ExportError> {
    let offered = formats(view);
    if offered.contains(&format) {
        return Ok(());
    }
    Err(ExportError::Unsupported {
        view: view_name(view),
        format: format.name(),
        offered: offered
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The model behind a view's data exports.
pub enum Content {
    /// Plot panels stacked top to bottom, with their heights in the SVG.
    Figures(Vec<(Figure, f64)>),
    Table(Table),
}

/// Width of an exported figure SVG.
pub const FIGURE_WIDTH: f64 = 900.0;

/// Why `view` has no figure or table to export now, or `None` when it has one.
pub fn not_ready(app: &DiffscopeApp, view: View) -> Option<&'static str> {
    let cloud = app.results.cloud.as_deref();
    match view {
        View::Manifold => Some("a point cloud is exported as PNG only"),
        View::Speciation if app.speciation_figures().is_none() => {
            Some("the speciation lab has not finished")
        }
        View::Inspector => match (cloud, app.views.manifold.settings.selected) {
            (None, _) => Some("no sampled cloud yet"),
            (Some(_), None) => Some("no trajectory selected (click a point in the manifold view)"),
            (Some(c), Some(_)) if c.trajectories.posterior.is_none() => {
                Some("this cloud has no class posterior (a loaded point file)")
            }
            _ => None,
        },
        View::Speciation | View::Metrics | View::Theory => None,
    }
}

/// The figure or table `view` shows now, if it has one and its results are in.
pub fn content(app: &DiffscopeApp, view: View) -> Option<Content> {
    match view {
        View::Speciation => Some(Content::Figures(app.speciation_figures()?)),
        View::Metrics => Some(Content::Table(app.metric_table())),
        View::Theory if app.views.laws.sweep().is_some() => {
            let sweep = app.views.laws.sweep()?;
            Some(Content::Figures(
                sweep.figures.iter().map(|f| (f.clone(), 460.0)).collect(),
            ))
        }
        View::Theory if app.scene.tokens.is_some() => Some(Content::Figures(vec![(
            token_laws::figure(&app.token_theory()?),
            460.0,
        )])),
        View::Theory => {
            let figures = laws_view::figures(
                &app.scene.draft.model,
                app.results.speciation.as_deref(),
                app.results.class_labels(),
            );
            Some(Content::Figures(
                figures
                    .into_iter()
                    .enumerate()
                    .map(|(k, f)| (f, if k == 0 { 460.0 } else { 340.0 }))
                    .collect(),
            ))
        }
        View::Inspector => {
            let cloud = app.results.cloud.as_deref()?;
            let now = cloud
                .trajectories
                .times
                .get(app.views.timeline.step)
                .copied();
            let figure =
                inspector::posterior_figure(cloud, app.views.manifold.settings.selected?, now)?;
            Some(Content::Figures(vec![(figure, 440.0)]))
        }
        View::Manifold => None,
    }
}

fn figures(panels: &[(Figure, f64)]) -> Vec<&Figure> {
    panels.iter().map(|(f, _)| f).collect()
}

/// The text of `content` in `format` (not PNG); an SVG figure carries `caption` under its plots.
pub fn encode(content: &Content, format: Format, caption: &str) -> Result<String, ExportError> {
    Ok(match (content, format) {
        (Content::Figures(panels), Format::Svg) => {
            let refs: Vec<(&Figure, f64)> = panels.iter().map(|(f, h)| (f, *h)).collect();
            svg::document(&refs, FIGURE_WIDTH, Some(caption))
        }
        (Content::Figures(panels), Format::Csv) => text::figures_csv(&figures(panels)),
        (Content::Figures(panels), Format::Json) => text::figures_json(&figures(panels))?,
        (Content::Table(table), Format::Svg) => svg::table(table),
        (Content::Table(table), Format::Csv) => text::table_csv(table),
        (Content::Table(table), Format::Json) => text::table_json(table)?,
        (Content::Table(table), Format::Markdown) => text::table_markdown(table),
        (Content::Figures(_), Format::Markdown) => {
            return Err(ExportError::Unsupported {
                view: "plot",
                format: "Markdown",
                offered: "PNG, SVG, CSV, JSON".into(),
            });
        }
        (_, Format::Png) => {
            return Err(ExportError::Png(
                "a PNG is rendered, not encoded from data".into(),
            ));
        }
    })
}

/// Writes `view`'s data export in `format` to `path` (atomically).
pub fn write_data(
    app: &DiffscopeApp,
    view: View,
    format: Format,
    path: &Path,
) -> Result<(), ExportError> {
    check(view, format)?;
    let not_ready = |reason| ExportError::NotReady {
        view: view_name(view),
        reason,
    };
    if let Some(reason) = self::not_ready(app, view) {
        return Err(not_ready(reason));
    }
    let content = content(app, view).ok_or(not_ready("its results are not in"))?;
    let caption = app.view_caption(view);
    figure::write_text(path, &encode(&content, format, &caption)?)?;
    Ok(())
}

/// Size and pixel density of a PNG export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PngSettings {
    /// Logical size in points; the image is `width × scale` by `height × scale` pixels.
    pub width: u32,
    pub height: u32,
    /// Pixels per point: 1 or 2.
    pub scale: u32,
}

impl Default for PngSettings {
    fn default() -> Self {
        PngSettings {
            width: 1280,
            height: 800,
            scale: 2,
        }
    }
}

impl PngSettings {
    /// The offscreen frame of these settings, once they are checked.
    pub fn frame(self) -> Result<FrameSize, ExportError> {
        self.validate()?;
        Ok(FrameSize {
            width: self.width,
            height: self.height,
            scale: self.scale,
        })
    }

    pub fn validate(self) -> Result<(), ExportError> {
        let fits = |v: u32| (16..=8192).contains(&v);
        if fits(self.width) && fits(self.height) && (1..=2).contains(&self.scale) {
            Ok(())
        } else {
            Err(ExportError::Size {
                width: self.width,
                height: self.height,
                scale: self.scale,
            })
        }
    }
}

/// Draws a few frames so the finished results are laid out, renders and writes the PNG atomically.
pub fn save_png(offscreen: &mut OffscreenApp, path: &Path) -> Result<(), ExportError> {
    offscreen.run_steps(3);
    let image = offscreen.render()?;
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| ExportError::Png(e.to_string()))?;
    atomic::write_bytes_atomic(path, &bytes)?;
    Ok(())
}

/// What an offscreen copy of the app shows: the finished results (shared, not recomputed) and the
/// view settings the user chose.
pub struct Shown {
    view: View,
    scene: crate::scene::Scene,
    /// The open token scene, shown instead of `scene`.
    tokens: Option<crate::scene::TokenScene>,
    results: super::state::Results,
    level: usize,
    step: usize,
    /// The manifold view as the user set it up, camera included.
    manifold: ViewSettings,
    /// The token view's selection.
    token: super::token_view::TokenViewState,
    /// The sweep the Theory tab shows instead of the scene's laws.
    sweep: Option<laws_view::OpenSweep>,
}

impl Shown {
    pub fn of(app: &DiffscopeApp, view: View) -> Self {
        Shown {
            view,
            scene: app.scene.current.clone(),
            tokens: app.scene.tokens.clone(),
            results: app.results.clone(),
            level: app.views.speciation_view.level,
            step: app.views.timeline.step,
            manifold: ViewSettings::of(&app.views.manifold),
            token: app.views.token,
            sweep: app.views.laws.sweep().cloned(),
        }
    }

    /// An app showing these results alone, with no job running.
    fn into_app(self, render_state: &eframe::egui_wgpu::RenderState) -> DiffscopeApp {
        let (mut app, _) = DiffscopeApp::without_jobs(
            Some(render_state),
            super::AppOptions {
                solo: Some(self.view),
                ..Default::default()
            },
            false,
        );
        app.scene.current = self.scene.clone();
        app.scene.draft = self.scene;
        app.scene.tokens = self.tokens;
        // The copy's own view caches start afresh; nothing waits for a later cloud.
        app.results = super::state::Results {
            cloud_id: 1,
            metrics_requested: None,
            arrival: Default::default(),
            ..self.results
        };
        app.views.speciation_view.level = self.level;
        app.views.timeline.step = self.step;
        self.manifold.restore(&mut app.views.manifold);
        app.views.token = self.token;
        if let Some(sweep) = self.sweep {
            app.views.laws.show_sweep(sweep);
        }
        app
    }

    /// Records `settings`' film of these results to `path`, reporting each frame to `ctx` and stopping
    /// when it is cancelled (runs as a worker job).
    pub fn record_film(
        self,
        settings: &FilmSettings,
        path: &Path,
        ctx: &JobContext,
    ) -> Result<(), ExportError> {
        let device = OffscreenApp::device()?;
        let app = self.into_app(&device);
        let frame = FrameSize {
            width: settings.width,
            height: settings.height,
            scale: 1,
        };
        let mut harness = OffscreenApp::around(app, frame, device);
        let mut on_frame = |done: usize, frames: usize| {
            ctx.progress(
                done as f32 / frames as f32,
                &format!("frame {done} of {frames}"),
            );
            !ctx.is_cancelled()
        };
        recording::record(&mut harness, settings, path, &mut on_frame)?;
        Ok(())
    }

    /// Renders the view offscreen at `settings` and writes the PNG to `path` (runs as a worker job: it
    /// blocks for the frames it draws).
    pub fn render_png(self, settings: PngSettings, path: &Path) -> Result<(), ExportError> {
        let frame = settings.frame()?;
        let device = OffscreenApp::device()?;
        let app = self.into_app(&device);
        save_png(&mut OffscreenApp::around(app, frame, device), path)
    }
}

/// What the export menu remembers between uses.
#[derive(Clone, Debug)]
pub struct ExportMenu {
    pub png: PngSettings,
    /// Where the format buttons write without asking (the file is named after the view).
    pub folder: String,
    pub film: FilmMenu,
}

impl Default for ExportMenu {
    fn default() -> Self {
        ExportMenu {
            png: PngSettings::default(),
            folder: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| ".".into()),
            film: FilmMenu::default(),
        }
    }
}

/// `folder/name.ext`, or `folder/name-2.ext`, `-3`, … so that no earlier export is overwritten.
pub fn unused_path(folder: &Path, name: &str, extension: &str) -> PathBuf {
    let candidate = |k: usize| match k {
        1 => folder.join(format!("{name}.{extension}")),
        k => folder.join(format!("{name}-{k}.{extension}")),
    };
    (1..)
        .map(candidate)
        .find(|p| !p.exists())
        .unwrap_or_else(|| candidate(1))
}

/// An export the user asked for: which view, which format, where.
pub struct Request {
    pub view: View,
    pub format: Format,
    pub path: PathBuf,
    /// Why the file went where it went, when that is not what was asked (no file dialog).
    pub note: Option<String>,
    /// A film of these settings rather than a picture or data of `view`.
    pub film: Option<FilmSettings>,
}

impl ExportMenu {
    /// The "Export…" menu for `views` (the panel in front and the manifold view), each with the reason
    /// its data formats are greyed out ([`not_ready`]). Asks for a file name with the system dialog
    /// when a format is chosen.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        views: &[(View, Option<&'static str>)],
    ) -> Option<Request> {
        let mut request = None;
        // Choosing a size, density or film setting keeps the menu open; its buttons close it.
        let config = egui::containers::menu::MenuConfig::new()
            .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
        egui::containers::menu::MenuButton::new("Export…")
            .config(config)
            .ui(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.label("PNG size");
                    ui.add(egui::DragValue::new(&mut self.png.width).range(16..=8192));
                    ui.label("×");
                    ui.add(egui::DragValue::new(&mut self.png.height).range(16..=8192));
                    ui.label("points at");
                    ui.selectable_value(&mut self.png.scale, 1, "1×");
                    ui.selectable_value(&mut self.png.scale, 2, "2×");
                });
                ui.horizontal(|ui| {
                    ui.label("folder");
                    ui.add(egui::TextEdit::singleline(&mut self.folder).desired_width(260.0))
                        .on_hover_text("the format buttons write here, named after the view");
                });
                for &(view, blocked) in views {
                    ui.separator();
                    ui.label(egui::RichText::new(format!("{} view", view_name(view))).strong());
                    ui.horizontal(|ui| {
                        for &format in formats(view) {
                            let enabled = format == Format::Png || blocked.is_none();
                            let button = ui.add_enabled(enabled, egui::Button::new(format.name()));
                            let button = match blocked.filter(|_| !enabled) {
                                Some(reason) => button.on_disabled_hover_text(reason),
                                None => button.on_hover_text(format!(
                                    "write {}.{} into the folder above",
                                    view_name(view),
                                    format.extension()
                                )),
                            };
                            if button.clicked() {
                                ui.close();
                                let folder = Path::new(self.folder.trim());
                                request = Some(Request {
                                    view,
                                    format,
                                    path: unused_path(folder, view_name(view), format.extension()),
                                    note: None,
                                    film: None,
                                });
                            }
                        }
                        // The system dialog, where one exists; without one the file goes into the
                        // folder above and the status line says why.
                        if ui.button("Save as…").clicked() {
                            ui.close();
                            let format = formats(view)
                                .iter()
                                .copied()
                                .find(|&f| f == Format::Png || blocked.is_none())
                                .unwrap_or(Format::Png);
                            let name = format!("{}.{}", view_name(view), format.extension());
                            request = match file_dialog::save_file("figure", &[], &name) {
                                Picked::Path(path) => Some(Request {
                                    view,
                                    format: Format::from_extension(&path).unwrap_or(format),
                                    path,
                                    note: None,
                                    film: None,
                                }),
                                Picked::Cancelled => None,
                                Picked::Unavailable(why) => Some(Request {
                                    view,
                                    format,
                                    path: unused_path(
                                        Path::new(self.folder.trim()),
                                        view_name(view),
                                        format.extension(),
                                    ),
                                    note: Some(format!(
                                        "{why}: exported into the folder of the Export menu instead"
                                    )),
                                    film: None,
                                }),
                            };
                        }
                    });
                }
                ui.separator();
                ui.label(egui::RichText::new("Animation").strong());
                if self.film.ui(ui) {
                    ui.close();
                    let folder = Path::new(self.folder.trim());
                    request = Some(Request {
                        view: View::Manifold,
                        format: Format::Png,
                        path: unused_path(folder, "animation", self.film.extension()),
                        note: None,
                        film: Some(self.film.settings()),
                    });
                }
            });
        request
    }
}

/// The Animation part of the export menu: what a film shows and its format, rate, length and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilmMenu {
    pub layout: FilmLayout,
    pub gif: bool,
    pub fps: u32,
    pub seconds: f64,
    /// Pixels; rounded up to even when recorded (H.264 needs it).
    pub width: u32,
    pub height: u32,
    pub orbit: bool,
}

impl Default for FilmMenu {
    fn default() -> Self {
        FilmMenu {
            layout: FilmLayout::Manifold,
            gif: false,
            fps: 30,
            seconds: 8.0,
            width: 1280,
            height: 720,
            orbit: false,
        }
    }
}

impl FilmMenu {
    /// The film's settings (even size; no orbit of the speciation plot, which has no 3-D view).
    pub fn settings(&self) -> FilmSettings {
        FilmSettings {
            layout: self.layout,
            fps: self.fps,
            seconds: self.seconds,
            width: self.width + self.width % 2,
            height: self.height + self.height % 2,
            orbit: self.orbit && self.layout != FilmLayout::Speciation,
        }
    }

    pub fn extension(&self) -> &'static str {
        if self.gif { "gif" } else { "mp4" }
    }

    /// The dialog's rows; `true` when Record is pressed.
    fn ui(&mut self, ui: &mut egui::Ui) -> bool {
        ui.horizontal(|ui| {
            ui.label("view");
            for (layout, name) in [
                (FilmLayout::Manifold, "manifold"),
                (FilmLayout::Speciation, "speciation"),
                (FilmLayout::SideBySide, "side by side"),
            ] {
                ui.selectable_value(&mut self.layout, layout, name);
            }
        });
        ui.horizontal(|ui| {
            ui.label("format");
            ui.selectable_value(&mut self.gif, false, "MP4");
            ui.selectable_value(&mut self.gif, true, "GIF");
            let max_fps = if self.gif { MAX_GIF_FPS } else { MAX_FPS };
            self.fps = self.fps.min(max_fps);
            ui.add(
                egui::DragValue::new(&mut self.fps)
                    .range(1..=max_fps)
                    .suffix(" fps"),
            );
            ui.add(
                egui::DragValue::new(&mut self.seconds)
                    .range(0.5..=120.0)
                    .speed(0.1)
                    .suffix(" s"),
            );
        });
        ui.horizontal(|ui| {
            ui.label("size");
            ui.add(egui::DragValue::new(&mut self.width).range(16..=MAX_WIDTH));
            ui.label("×");
            ui.add(egui::DragValue::new(&mut self.height).range(16..=MAX_HEIGHT));
            ui.label("pixels");
            ui.add_enabled(
                self.layout != FilmLayout::Speciation,
                egui::Checkbox::new(&mut self.orbit, "orbit"),
            )
            .on_hover_text("turn the 3-D manifold view once around over the film")
            .on_disabled_hover_text("the speciation plot has no 3-D view to turn");
        });
        ui.button("Record animation")
            .on_hover_text(format!(
                "play the time bar from t_max to t_min into animation.{} in the folder above",
                self.extension()
            ))
            .clicked()
    }
}

impl DiffscopeApp {
    /// Records `film` of the results on display to `path` as a worker job (progress, Cancel); the
    /// status line names the file when it is written. A cancelled or failed recording leaves no file.
    pub fn record_film(&mut self, film: FilmSettings, path: PathBuf) {
        if let Err(e) = film.spec(&path) {
            self.jobs.report(format!("recording failed: {e}"));
            return;
        }
        let shown = Shown::of(self, View::Manifold);
        self.jobs.start(JobKind::Film, "recording", move |ctx| {
            match shown.record_film(&film, &path, ctx) {
                Ok(()) => Ok(Arc::new(path) as crate::worker::JobOutput),
                Err(ExportError::Film(RecordError::Stopped { .. })) => Err(JobError::Cancelled),
                Err(e) => Err(JobError::failed(&e)),
            }
        });
    }
}
