//! The manifold view: the trajectories' PCA projection drawn by the point pipeline (`render::points`),
//! 2-D pan/zoom or 3-D orbit, colour by class / time / class posterior with a legend or colour bar, the
//! selected trajectory's path, click-to-select. Builds instance arrays from finished results (a copy per
//! change, no numerics) and never blocks on the worker.

use super::CameraMotion;
use super::typography::{painted_font, type_scale};
use crate::analysis::view_data::{Cloud, HoleOverlay, StepFilter};
use crate::render::camera::{self, Orbit, PanZoom};
use crate::render::colormap::{Colormap, ColormapSpan, class_rgb8};
use crate::render::layer::{Grid, LayerCallback, LayerData, LayerStyle, histogram};
use crate::render::trails::{TrailData, TrailVertex, TrailsCallback};
use crate::render::{PointColoring, PointData, PointInstance, PointsCallback, paint_callback};
use egui::{Color32, Pos2, Rect, Sense, Stroke, Ui, Vec2};
use glam::{Vec2 as GVec2, Vec3};
use std::sync::Arc;

/// The renderer slots of the manifold view: points, density layer, hole overlay.
const SLOT: u64 = 1;
const DENSITY_SLOT: u64 = 2;
const HOLES_SLOT: u64 = 3;
const TRAILS_SLOT: u64 = 4;

/// Below this width (points) the toolbar folds its colour and view controls into menus.
const NARROW_TOOLBAR: f32 = 500.0;

/// Said on a single-step cloud coloured by time that has no classes to fall back on.
const SINGLE_STEP_NOTE: &str = "one time step: colouring by time shows nothing here";

/// At most this many trail segments are drawn (trails are shortened to fit).
const MAX_TRAIL_SEGMENTS: usize = 400_000;

/// Above this many drawn points the density layer takes over in `Auto` mode (2-D).
pub const DENSITY_THRESHOLD: usize = 150_000;

/// Density bins are this many screen pixels wide.
const DENSITY_BIN_PX: f32 = 2.0;

/// Void cells of the hole overlay (translucent red) and the unreachable probe markers.
const VOID_TINT: [f32; 4] = [0.94, 0.33, 0.31, 0.45];

/// Why the density layer and the hole overlay are drawn in 2-D only (shown in the toolbar).
const PLANE_ONLY_NOTE: &str = "The density layer and the hole overlay are 2-D only: both are rasters \
     of the PC1–PC2 plane (the hole regions are defined on that raster), so in 3-D every point is \
     drawn as a sprite and holes are hidden.";

/// Points, density, or whichever suits the number of points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawMode {
    Auto,
    Points,
    Density,
}

/// At most this many points are drawn when the path so far is shown (older steps are thinned).
const MAX_PATH_POINTS: usize = 400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimensions {
    Two,
    Three,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorBy {
    /// The class each trajectory ends in (argmax of p(k | x) at t_min), or its data class.
    Class,
    /// The time of each drawn state (useful with the path shown).
    Time,
    /// p(k | x_t) of one class at the drawn state.
    Posterior(usize),
}

/// The user-controlled settings of the manifold view (not its caches, which belong to the one live
/// view so that GPU uploads stay keyed by its own generation counter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewSettings {
    pub dims: Dimensions,
    pub color_by: ColorBy,
    pub colormap: Colormap,
    /// Project every step on one pooled basis instead of the basis of the selected step.
    pub pooled: bool,
    /// Draw every step up to the selected one, not only the selected step.
    pub show_path: bool,
    /// Trail length in stored steps (0: no trails).
    pub trail_steps: usize,
    pub radius_px: f32,
    pub draw_mode: DrawMode,
    /// Draw the H_void regions and unreachable probes (at the last step, per-step basis).
    pub show_holes: bool,
    pub pan_zoom: PanZoom,
    pub orbit: Orbit,
    /// Refit the camera when the step changes (off once the user pans or zooms).
    pub follow: bool,
    pub selected: Option<usize>,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            dims: Dimensions::Two,
            color_by: ColorBy::Class,
            colormap: Colormap::Viridis,
            pooled: false,
            show_path: false,
            trail_steps: 0,
            radius_px: 2.5,
            draw_mode: DrawMode::Auto,
            show_holes: true,
            pan_zoom: PanZoom::default(),
            orbit: Orbit::default(),
            follow: true,
            selected: None,
        }
    }
}

impl ViewSettings {
    pub fn of(view: &ManifoldView) -> Self {
        view.settings
    }

    /// Puts these settings on `view` and drops its drawn caches (they were built for another cloud).
    pub fn restore(&self, view: &mut ManifoldView) {
        view.reset();
        view.settings = *self;
    }
}

/// The manifold view: what the user controls, and what was drawn for it.
pub struct ManifoldView {
    pub settings: ViewSettings,
    /// What the camera was last fitted to: (cloud, step, dimensions, pooled, aspect).
    fitted: Option<(usize, usize, Dimensions, bool, u32)>,
    /// The rect and matrix of the last drawn frame (for picking and tests).
    last_frame: Option<(Rect, glam::Mat4)>,
    generation: u64,
    cache_key: Option<CacheKey>,
    data: PointData,
    trails: TrailData,
    /// The density grid, its data rectangle and what it was binned for.
    density: Option<(DensityKey, LayerData, [f32; 2], [f32; 2])>,
    holes: Option<(usize, LayerData)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct DensityKey {
    points: u64,
    camera: [f32; 3],
    size: [u32; 2],
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct CacheKey {
    cloud: usize,
    step: usize,
    dims: Dimensions,
    color_by: ColorBy,
    pooled: bool,
    show_path: bool,
    trail_steps: usize,
}

impl Default for ManifoldView {
    fn default() -> Self {
        ManifoldView {
            settings: ViewSettings::default(),
            fitted: None,
            last_frame: None,
            generation: 0,
            cache_key: None,
            data: PointData {
                generation: 0,
                instances: Arc::new(Vec::new()),
            },
            trails: TrailData {
                generation: 0,
                vertices: Arc::new(Vec::new()),
            },
            density: None,
            holes: None,
        }
    }
}

/// The class each trajectory is coloured by: the label an imported file gives it, else argmax
/// p(k | x) at the last stored step, else the data class it started from, else 0.
pub fn trajectory_classes(cloud: &Cloud) -> Vec<u32> {
    let t = &cloud.trajectories;
    let last = t.stored_steps.saturating_sub(1);
    let labelled = cloud.origin.imported().is_some_and(|i| i.labels_in_file);
    (0..t.n)
        .map(|i| {
            if let Some(p) = t.posterior_at(i, last).filter(|_| !labelled) {
                p.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(k, _)| k as u32)
            } else {
                t.initial_labels
                    .as_ref()
                    .and_then(|l| l.get(i).copied())
                    .unwrap_or(0)
            }
        })
        .collect()
}

/// Position of stored step `j` on a [0, 1] time axis, log-spaced (times are decreasing).
pub fn time_fraction(times: &[f64], j: usize) -> f32 {
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return 0.0;
    };
    let t = times.get(j).copied().unwrap_or(last);
    let (a, b, x) = (
        first.max(1e-12).ln(),
        last.max(1e-12).ln(),
        t.max(1e-12).ln(),
    );
    if (a - b).abs() < 1e-12 {
        0.0
    } else {
        ((a - x) / (a - b)) as f32
    }
}

/// What the manifold view draws this frame (the app's results; the view keeps only its settings).
pub struct ViewInput<'a> {
    pub cloud: Option<&'a Cloud>,
    /// The hole overlay of the measured step, with the step it belongs to.
    pub overlay: Option<(&'a HoleOverlay, StepFilter)>,
    /// Changes whenever a new cloud arrives (cache key of the drawn instances).
    pub cloud_id: usize,
    /// `[N]` the class of each trajectory.
    pub classes: &'a [u32],
    pub step: usize,
    /// The sampling job's name and progress, while a new cloud is computed.
    pub sampling: Option<(&'a str, f32)>,
}

impl ManifoldView {
    /// Drops cached instances and the selection (a new cloud arrived).
    pub fn reset(&mut self) {
        self.cache_key = None;
        self.settings.selected = None;
        self.settings.follow = true;
        self.fitted = None;
        self.holes = None;
        self.density = None;
    }

    /// Rebuilds the instance array if what is drawn changed.
    fn refresh(&mut self, cloud: &Cloud, cloud_id: usize, classes: &[u32], step: usize) {
        let key = CacheKey {
            cloud: cloud_id,
            step,
            dims: self.settings.dims,
            color_by: self.settings.color_by,
            pooled: self.settings.pooled,
            show_path: self.settings.show_path,
            trail_steps: self.settings.trail_steps,
        };
        if self.cache_key == Some(key) {
            return;
        }
        self.cache_key = Some(key);
        let t = &cloud.trajectories;
        let n = t.n;
        let steps: Vec<usize> = if self.settings.show_path {
            let stride = (n * (step + 1)).div_ceil(MAX_PATH_POINTS).max(1);
            // Thin older steps, always keep the selected one (drawn last, on top).
            let mut s: Vec<usize> = (0..step).rev().step_by(stride).collect();
            s.reverse();
            s.push(step);
            s
        } else {
            vec![step]
        };
        let flat = self.settings.dims == Dimensions::Two;
        let color_by = self.effective_color_by(cloud);
        let pooled = self.settings.pooled;
        let value = |i: usize, j: usize| -> f32 {
            match color_by {
                ColorBy::Class => classes.get(i).copied().unwrap_or(0) as f32,
                ColorBy::Time => time_fraction(&t.times, j),
                ColorBy::Posterior(k) => t
                    .posterior_at(i, j)
                    .and_then(|p| p.get(k).copied())
                    .unwrap_or(0.0),
            }
        };
        let position = |i: usize, j: usize| -> Option<[f32; 3]> {
            cloud
                .position(pooled, j, i)
                .map(|p| [p[0], p[1], if flat { 0.0 } else { p[2] }])
        };
        let mut instances = Vec::with_capacity(steps.len() * n);
        for &j in &steps {
            for i in 0..n {
                if let Some(position) = position(i, j) {
                    instances.push(PointInstance {
                        position,
                        value: value(i, j),
                    });
                }
            }
        }
        let length = self
            .settings
            .trail_steps
            .min(step)
            .min(MAX_TRAIL_SEGMENTS / n.max(1));
        let mut segments = Vec::with_capacity(2 * n * length);
        for i in 0..n {
            for j in step - length..step {
                let (Some(a), Some(b)) = (position(i, j), position(i, j + 1)) else {
                    continue;
                };
                let fresh = |j: usize| 1.0 - (step - j) as f32 / length as f32;
                segments.push(TrailVertex {
                    position: a,
                    value: value(i, j),
                    freshness: fresh(j),
                });
                segments.push(TrailVertex {
                    position: b,
                    value: value(i, j + 1),
                    freshness: fresh(j + 1),
                });
            }
        }
        self.generation += 1;
        self.data = PointData {
            generation: self.generation,
            instances: Arc::new(instances),
        };
        self.trails = TrailData {
            generation: self.generation,
            vertices: Arc::new(segments),
        };
    }

    /// Fits the camera to the selected step's points.
    fn fit(&mut self, cloud: &Cloud, step: usize, aspect: f32) {
        let n = cloud.trajectories.n;
        let mut min = Vec3::splat(f32::INFINITY);
        let mut max = Vec3::splat(f32::NEG_INFINITY);
        for i in 0..n {
            if let Some(p) = cloud.position(self.settings.pooled, step, i) {
                let v = Vec3::from(p);
                min = min.min(v);
                max = max.max(v);
            }
        }
        if !(min.is_finite() && max.is_finite()) {
            return;
        }
        self.settings.pan_zoom = PanZoom::fit(min.truncate(), max.truncate(), aspect);
        let orbit = Orbit::fit(min, max);
        self.settings.orbit.target = orbit.target;
        self.settings.orbit.distance = orbit.distance;
    }

    fn view_proj(&self, aspect: f32) -> glam::Mat4 {
        match self.settings.dims {
            Dimensions::Two => self.settings.pan_zoom.view_proj(aspect),
            Dimensions::Three => self.settings.orbit.view_proj(aspect),
        }
    }

    /// The toolbar above the view.
    pub fn toolbar(&mut self, ui: &mut Ui, cloud: Option<&Cloud>) {
        ui.spacing_mut().slider_width = 56.0;
        // egui cannot wrap compound widgets (sliders and combo boxes with labels): wide enough, the
        // controls go in three short rows; narrower, the colour and view controls fold into menus
        // instead of spilling under the side panel.
        let narrow = ui.available_width() < NARROW_TOOLBAR;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.settings.dims, Dimensions::Two, "2-D");
            ui.selectable_value(&mut self.settings.dims, Dimensions::Three, "3-D");
            ui.separator();
            if narrow {
                ui.menu_button("Colour…", |ui| {
                    self.color_choice(ui, cloud);
                    self.colormap_choice(ui);
                });
                ui.menu_button("View…", |ui| {
                    self.view_toggles(ui);
                    self.drawn_as(ui);
                    self.view_sizes(ui);
                });
                self.fit_button(ui);
            } else {
                self.color_choice(ui, cloud);
            }
        });
        if !narrow {
            ui.horizontal(|ui| {
                self.colormap_choice(ui);
                self.view_toggles(ui);
            });
            ui.horizontal(|ui| {
                self.drawn_as(ui);
                self.view_sizes(ui);
                self.fit_button(ui);
            });
        }
    }

    /// Colour by class, time or a class posterior (with its class).
    fn color_choice(&mut self, ui: &mut Ui, cloud: Option<&Cloud>) {
        ui.label("Colour by");
        ui.selectable_value(&mut self.settings.color_by, ColorBy::Class, "class");
        ui.selectable_value(&mut self.settings.color_by, ColorBy::Time, "time");
        let labels = cloud
            .map(|c| c.trajectories.class_labels.clone())
            .unwrap_or_default();
        let has_posterior = cloud.is_some_and(|c| c.trajectories.posterior.is_some());
        if !has_posterior {
            return;
        }
        let current = match self.settings.color_by {
            ColorBy::Posterior(k) => Some(k),
            _ => None,
        };
        if ui
            .selectable_label(current.is_some(), "posterior")
            .clicked()
            && current.is_none()
        {
            self.settings.color_by = ColorBy::Posterior(0);
        }
        if let Some(current) = current {
            let name = |k: usize| labels.get(k).cloned().unwrap_or_else(|| k.to_string());
            egui::ComboBox::from_id_salt("posterior class")
                .width(90.0)
                .selected_text(format!("p({} | x)", name(current)))
                .show_ui(ui, |ui| {
                    for k in 0..labels.len() {
                        ui.selectable_value(
                            &mut self.settings.color_by,
                            ColorBy::Posterior(k),
                            format!("p({} | x)", name(k)),
                        );
                    }
                });
        }
    }

    /// The colormap, when the colouring uses one.
    fn colormap_choice(&mut self, ui: &mut Ui) {
        if self.settings.color_by == ColorBy::Class {
            return;
        }
        egui::ComboBox::from_id_salt("colormap")
            .width(80.0)
            .selected_text(self.settings.colormap.name())
            .show_ui(ui, |ui| {
                for map in Colormap::ALL {
                    ui.selectable_value(&mut self.settings.colormap, map, map.name());
                }
            })
            .response
            .on_hover_text("colormap");
    }

    /// Basis, path and holes.
    fn view_toggles(&mut self, ui: &mut Ui) {
        ui.checkbox(&mut self.settings.pooled, "pooled basis");
        ui.checkbox(&mut self.settings.show_path, "path so far");
        ui.checkbox(&mut self.settings.show_holes, "holes")
            .on_hover_text(PLANE_ONLY_NOTE);
    }

    /// Sprites, the density layer, or automatic.
    fn drawn_as(&mut self, ui: &mut Ui) {
        egui::ComboBox::from_label("drawn as")
            .width(80.0)
            .selected_text(match self.settings.draw_mode {
                DrawMode::Auto => "auto",
                DrawMode::Points => "points",
                DrawMode::Density => "density",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut self.settings.draw_mode, DrawMode::Auto, "auto");
                ui.selectable_value(&mut self.settings.draw_mode, DrawMode::Points, "points");
                ui.selectable_value(&mut self.settings.draw_mode, DrawMode::Density, "density");
            })
            .response
            .on_hover_text(PLANE_ONLY_NOTE);
    }

    /// Trail length and point size.
    fn view_sizes(&mut self, ui: &mut Ui) {
        ui.add(egui::Slider::new(&mut self.settings.trail_steps, 0..=40).text("trail steps"));
        ui.add(egui::Slider::new(&mut self.settings.radius_px, 0.5..=8.0).text("point px"));
    }

    /// The colouring drawn: colouring by time needs more than one stored time, so a single-step cloud
    /// (a loaded file) is coloured by class instead, and its legend says why.
    fn effective_color_by(&self, cloud: &Cloud) -> ColorBy {
        match self.settings.color_by {
            ColorBy::Time if cloud.trajectories.stored_steps <= 1 => ColorBy::Class,
            other => other,
        }
    }

    fn fit_button(&mut self, ui: &mut Ui) {
        if ui.button("Fit").clicked() {
            self.settings.follow = true;
            self.fitted = None;
        }
    }

    /// Draws the view into the remaining space of `ui`.
    pub fn ui(&mut self, ui: &mut Ui, input: ViewInput) {
        let ViewInput {
            cloud,
            overlay,
            cloud_id,
            classes,
            step,
            sampling,
        } = input;
        let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
        let progress_text = |(name, fraction): (&str, f32)| {
            let mut name = name.to_string();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            format!("{name}… {:.0} %", 100.0 * fraction)
        };
        let Some(cloud) = cloud else {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                sampling.map_or("Sampling…".to_string(), progress_text),
                painted_font(ui, 18.0),
                ui.visuals().weak_text_color(),
            );
            return;
        };
        let step = step.min(cloud.trajectories.stored_steps.saturating_sub(1));
        let aspect = rect.width() / rect.height().max(1.0);
        let fit_key = (
            cloud_id,
            step,
            self.settings.dims,
            self.settings.pooled,
            aspect.to_bits(),
        );
        if self.settings.follow && self.fitted != Some(fit_key) {
            self.fit(cloud, step, aspect);
            self.fitted = Some(fit_key);
        }
        self.interact(ui, &response, rect, aspect);
        self.refresh(cloud, cloud_id, classes, step);

        let ppp = ui.ctx().pixels_per_point();
        let view_proj = self.view_proj(aspect);
        self.last_frame = Some((rect, view_proj));
        let coloring = match self.effective_color_by(cloud) {
            ColorBy::Class => PointColoring::Class,
            // The part of the colormap that reads on the theme's background (so does the colour bar).
            _ => PointColoring::Scalar(
                self.settings.colormap,
                ColormapSpan::on_background(ui.visuals().dark_mode),
            ),
        };
        if !self.trails.vertices.is_empty() {
            painter.add(paint_callback(
                rect,
                TrailsCallback {
                    slot: TRAILS_SLOT,
                    data: self.trails.clone(),
                    view_proj,
                    coloring,
                    opacity: 0.7,
                },
            ));
        }
        if self.uses_density() {
            self.draw_density(&painter, rect, aspect, ppp, &view_proj);
        } else {
            painter.add(paint_callback(
                rect,
                PointsCallback {
                    slot: SLOT,
                    data: self.data.clone(),
                    view_proj,
                    radius_px: self.settings.radius_px * ppp,
                    coloring,
                    opacity: if self.settings.show_path { 0.55 } else { 0.85 },
                },
            ));
        }
        let mut holes_caption = None;
        // The overlay belongs to the measured step's cloud in its own PCA plane: drawn only there;
        // the app measures the shown step once the time bar rests.
        if self.draws_holes()
            && let Some((overlay, measured)) = overlay
        {
            if step == measured.step {
                let ink = ui.visuals().strong_text_color();
                self.draw_holes(&painter, rect, &view_proj, overlay, cloud_id, ink);
                holes_caption = Some(holes_caption_text(overlay, measured));
            } else {
                holes_caption = Some(format!(
                    "holes: measured at {}; this step is measured when the time bar rests",
                    step_name(measured)
                ));
            }
        }

        if response.clicked()
            && let Some(cursor) = response.interact_pointer_pos()
        {
            let size = GVec2::new(rect.width(), rect.height());
            let local = GVec2::new(cursor.x - rect.left(), cursor.y - rect.top());
            let flat = self.settings.dims == Dimensions::Two;
            let points = (0..cloud.trajectories.n).map(|i| {
                let p = cloud
                    .position(self.settings.pooled, step, i)
                    .unwrap_or_default();
                Vec3::new(p[0], p[1], if flat { 0.0 } else { p[2] })
            });
            self.settings.selected = camera::pick(&view_proj, points, size, local, 8.0);
        }
        self.draw_selection(&painter, cloud, step, rect, &view_proj);
        let axes_height = caption(&painter, ui, rect, 0.0, self.axes_text(cloud, step));
        if let Some(text) = holes_caption {
            caption(&painter, ui, rect, axes_height + 4.0, text);
        }
        self.draw_legend(&painter, ui, cloud, rect);
        // The previous cloud stays visible, dimmed, while its successor is computed.
        if let Some(job) = sampling {
            let backdrop = ui.visuals().extreme_bg_color.gamma_multiply(0.6);
            painter.rect_filled(rect, 0.0, backdrop);
            let text = format!("{} (showing the previous cloud)", progress_text(job));
            // A label, not painted text, so screen readers and UI tests find it.
            let label = egui::Label::new(
                egui::RichText::new(text)
                    .size(18.0)
                    .strong()
                    .background_color(ui.visuals().window_fill),
            );
            ui.put(
                Rect::from_center_size(rect.center(), egui::vec2(rect.width(), 40.0)),
                label,
            );
        }
    }

    /// Moves the camera along a small circle, `frame` steps of it, as a user dragging the view would:
    /// panning the 2-D view or orbiting the 3-D one (frame-time measurement of a moving view).
    pub fn drift_camera(&mut self, motion: CameraMotion, frame: usize) {
        self.settings.follow = false;
        let angle = frame as f32 * 0.2;
        let delta = GVec2::new(angle.cos(), angle.sin()) * 4.0;
        match motion {
            CameraMotion::Pan => {
                self.settings.dims = Dimensions::Two;
                self.settings.pan_zoom.pan(delta, 768.0);
            }
            CameraMotion::Orbit => {
                self.settings.dims = Dimensions::Three;
                self.settings.orbit.rotate(delta);
            }
            // The points move, not the camera (the driver steps the time bar).
            CameraMotion::Play => self.settings.dims = Dimensions::Three,
        }
    }

    /// Whether the density layer replaces the sprites this frame (2-D only).
    pub fn uses_density(&self) -> bool {
        self.settings.dims == Dimensions::Two
            && match self.settings.draw_mode {
                DrawMode::Auto => self.data.instances.len() > DENSITY_THRESHOLD,
                DrawMode::Points => false,
                DrawMode::Density => true,
            }
    }

    /// Bins the drawn points over the visible data rectangle (again only when the points, the camera
    /// or the view size change) and draws the counts through the colormap.
    fn draw_density(
        &mut self,
        painter: &egui::Painter,
        rect: Rect,
        aspect: f32,
        ppp: f32,
        view_proj: &glam::Mat4,
    ) {
        let half = GVec2::new(
            self.settings.pan_zoom.half_height * aspect,
            self.settings.pan_zoom.half_height,
        );
        let (min, max) = (
            self.settings.pan_zoom.center - half,
            self.settings.pan_zoom.center + half,
        );
        let bins = [
            ((rect.width() * ppp / DENSITY_BIN_PX).ceil() as u32).max(1),
            ((rect.height() * ppp / DENSITY_BIN_PX).ceil() as u32).max(1),
        ];
        let key = DensityKey {
            points: self.data.generation,
            camera: [
                self.settings.pan_zoom.center.x,
                self.settings.pan_zoom.center.y,
                self.settings.pan_zoom.half_height,
            ],
            size: bins,
        };
        if self.density.as_ref().map(|d| d.0) != Some(key) {
            let grid = histogram(
                self.data
                    .instances
                    .iter()
                    .map(|p| [p.position[0], p.position[1]]),
                min.to_array(),
                max.to_array(),
                bins[0] as usize,
                bins[1] as usize,
            );
            self.generation += 1;
            let data = LayerData {
                generation: self.generation,
                grid: Arc::new(grid),
            };
            self.density = Some((key, data, min.to_array(), max.to_array()));
        }
        if let Some((_, data, min, max)) = &self.density {
            painter.add(paint_callback(
                rect,
                LayerCallback {
                    slot: DENSITY_SLOT,
                    data: data.clone(),
                    view_proj: *view_proj,
                    rect_min: *min,
                    rect_max: *max,
                    style: LayerStyle::Density(Colormap::Magma),
                    opacity: 1.0,
                },
            ));
        }
    }

    /// Whether the hole overlay is wanted: ticked, and a 2-D per-step view (its only plane).
    pub fn draws_holes(&self) -> bool {
        self.settings.show_holes && !self.settings.pooled && self.settings.dims == Dimensions::Two
    }

    /// The H_void cells (GPU mask layer), the probe square and the unreachable probes; `ink` contrasts
    /// with the theme's background (white on dark, black on light).
    fn draw_holes(
        &mut self,
        painter: &egui::Painter,
        rect: Rect,
        view_proj: &glam::Mat4,
        overlay: &HoleOverlay,
        cloud_id: usize,
        ink: Color32,
    ) {
        if self.holes.as_ref().map(|h| h.0) != Some(cloud_id) {
            self.generation += 1;
            let grid: Grid = overlay.voids.clone();
            self.holes = Some((
                cloud_id,
                LayerData {
                    generation: self.generation,
                    grid: Arc::new(grid),
                },
            ));
        }
        if let Some((_, data)) = &self.holes {
            painter.add(paint_callback(
                rect,
                LayerCallback {
                    slot: HOLES_SLOT,
                    data: data.clone(),
                    view_proj: *view_proj,
                    rect_min: overlay.rect_min,
                    rect_max: overlay.rect_max,
                    style: LayerStyle::Mask(VOID_TINT),
                    opacity: 1.0,
                },
            ));
        }
        let size = GVec2::new(rect.width(), rect.height());
        let to_screen = |p: [f32; 2]| {
            camera::to_screen(view_proj, Vec3::new(p[0], p[1], 0.0), size)
                .map(|s| Pos2::new(rect.left() + s.x, rect.top() + s.y))
        };
        let (lo, hi) = overlay.probe_square;
        if let (Some(a), Some(b)) = (to_screen(lo), to_screen(hi)) {
            painter.rect_stroke(
                Rect::from_two_pos(a, b),
                0.0,
                Stroke::new(1.5, ink.gamma_multiply(0.6)),
                egui::StrokeKind::Middle,
            );
        }
        for &probe in &overlay.unreachable_probes {
            if let Some(at) = to_screen(probe) {
                let d = 2.0;
                let stroke = Stroke::new(1.0, ink.gamma_multiply(0.55));
                painter.line_segment([at - egui::vec2(d, d), at + egui::vec2(d, d)], stroke);
                painter.line_segment([at - egui::vec2(d, -d), at + egui::vec2(d, -d)], stroke);
            }
        }
    }

    /// Where trajectory `i` at `step` was drawn in the last frame (screen points).
    pub fn screen_position(&self, cloud: &Cloud, step: usize, i: usize) -> Option<Pos2> {
        let (rect, view_proj) = self.last_frame?;
        let p = cloud.position(self.settings.pooled, step, i)?;
        let z = if self.settings.dims == Dimensions::Two {
            0.0
        } else {
            p[2]
        };
        let s = camera::to_screen(
            &view_proj,
            Vec3::new(p[0], p[1], z),
            GVec2::new(rect.width(), rect.height()),
        )?;
        Some(Pos2::new(rect.left() + s.x, rect.top() + s.y))
    }

    fn interact(&mut self, ui: &Ui, response: &egui::Response, rect: Rect, aspect: f32) {
        if response.dragged_by(egui::PointerButton::Primary)
            || response.dragged_by(egui::PointerButton::Secondary)
        {
            let delta = response.drag_delta();
            if delta != Vec2::ZERO {
                self.settings.follow = false;
                match self.settings.dims {
                    Dimensions::Two => self
                        .settings
                        .pan_zoom
                        .pan(GVec2::new(delta.x, delta.y), rect.height()),
                    Dimensions::Three => self.settings.orbit.rotate(GVec2::new(delta.x, delta.y)),
                }
            }
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y + (i.zoom_delta() - 1.0) * 200.0);
            if scroll != 0.0 {
                self.settings.follow = false;
                let factor = (scroll * 0.002).exp();
                let anchor = ui
                    .input(|i| i.pointer.hover_pos())
                    .map(|p| {
                        GVec2::new(
                            (p.x - rect.center().x) / (rect.width() * 0.5),
                            -(p.y - rect.center().y) / (rect.height() * 0.5),
                        )
                    })
                    .unwrap_or(GVec2::ZERO);
                match self.settings.dims {
                    Dimensions::Two => self.settings.pan_zoom.zoom(factor, anchor, aspect),
                    Dimensions::Three => self.settings.orbit.zoom(factor),
                }
            }
        }
    }

    fn draw_selection(
        &self,
        painter: &egui::Painter,
        cloud: &Cloud,
        step: usize,
        rect: Rect,
        view_proj: &glam::Mat4,
    ) {
        let Some(i) = self.settings.selected else {
            return;
        };
        let size = GVec2::new(rect.width(), rect.height());
        let flat = self.settings.dims == Dimensions::Two;
        let to_screen = |p: [f32; 3]| -> Option<Pos2> {
            let v = Vec3::new(p[0], p[1], if flat { 0.0 } else { p[2] });
            camera::to_screen(view_proj, v, size)
                .map(|s| Pos2::new(rect.left() + s.x, rect.top() + s.y))
        };
        let path: Vec<Pos2> = self
            .path_positions(cloud, i, step)
            .into_iter()
            .filter_map(to_screen)
            .collect();
        if let Some(&at) = path.last() {
            painter.circle_stroke(
                at,
                self.settings.radius_px + 4.0,
                Stroke::new(2.0, Color32::WHITE),
            );
        }
        painter.add(egui::Shape::line(path, Stroke::new(1.5, Color32::WHITE)));
    }

    /// Trajectory `i` at stored steps `0..=step`, every step projected on the basis being shown (the
    /// pooled one, or the basis of `step`), so the path is one smooth curve that ends on the drawn
    /// point. Projecting each step on its own basis would make the path jump wherever the bases turn.
    pub fn path_positions(&self, cloud: &Cloud, i: usize, step: usize) -> Vec<[f32; 3]> {
        let t = &cloud.trajectories;
        let Some(basis) = cloud.bases.get(step).filter(|_| !self.settings.pooled) else {
            return (0..=step)
                .filter_map(|j| cloud.position(self.settings.pooled, j, i))
                .collect();
        };
        // [step + 1, d]
        let rows: Vec<f32> = (0..=step)
            .filter_map(|j| t.state(i, j))
            .flatten()
            .copied()
            .collect();
        let kept = basis.kept().min(3);
        basis
            .project(&rows, kept)
            .chunks(kept.max(1))
            .map(|p| [0, 1, 2].map(|c| p.get(c).map_or(0.0, |&v| v as f32)))
            .collect()
    }

    /// The caption under the view: explained variance, basis, number of trajectories.
    fn axes_text(&self, cloud: &Cloud, step: usize) -> String {
        let explained = if self.settings.pooled {
            cloud.explained_pooled
        } else {
            cloud
                .explained_per_time
                .get(step)
                .copied()
                .unwrap_or_default()
        };
        let basis = if self.settings.pooled {
            "pooled basis"
        } else {
            "basis of this step"
        };
        let mut text = format!(
            "PC1 {:.0}% · PC2 {:.0}%",
            100.0 * explained[0],
            100.0 * explained[1]
        );
        if self.settings.dims == Dimensions::Three {
            text.push_str(&format!(" · PC3 {:.0}%", 100.0 * explained[2]));
        }
        text.push_str(&format!(
            " ({basis}) · {} trajectories",
            cloud.trajectories.n
        ));
        text
    }

    fn draw_legend(&self, painter: &egui::Painter, ui: &Ui, cloud: &Cloud, rect: Rect) {
        let text_color = ui.visuals().text_color();
        let font = painted_font(ui, 13.0);
        let background = ui.visuals().window_fill().gamma_multiply(0.85);
        let labels = &cloud.trajectories.class_labels;
        if self.uses_density() {
            let max = self
                .density
                .as_ref()
                .map_or(0.0, |d| d.1.grid.values.iter().copied().fold(0.0, f32::max));
            let range = ("1".to_string(), format!("{max:.0}"));
            bar_legend(
                painter,
                ui,
                rect,
                "points per bin (log scale)",
                Colormap::Magma,
                range,
            );
            return;
        }
        let single_step = self.effective_color_by(cloud) != self.settings.color_by;
        match self.effective_color_by(cloud) {
            ColorBy::Class => {
                if labels.is_empty() {
                    if single_step {
                        painter.text(
                            rect.right_top() + egui::vec2(-8.0, 8.0),
                            egui::Align2::RIGHT_TOP,
                            SINGLE_STEP_NOTE,
                            font,
                            text_color,
                        );
                    }
                    return;
                }
                let scale = type_scale(ui);
                let row = 18.0 * scale;
                let width = 190.0 * scale;
                let top_left = rect.right_top() + egui::vec2(-width - 8.0, 8.0);
                let frame = Rect::from_min_size(
                    top_left,
                    egui::vec2(width, row * (labels.len() as f32 + 1.0) + 8.0),
                );
                painter.rect_filled(frame, 4.0, background);
                painter.text(
                    top_left + egui::vec2(8.0, 4.0),
                    egui::Align2::LEFT_TOP,
                    if single_step {
                        "class (one time step: no time colours)"
                    } else {
                        "class at t_min"
                    },
                    font.clone(),
                    text_color,
                );
                for (k, label) in labels.iter().enumerate() {
                    let y = top_left.y + 4.0 + row * (k as f32 + 1.0) + row * 0.5;
                    let [r, g, b] = class_rgb8(k);
                    painter.circle_filled(
                        Pos2::new(top_left.x + 16.0 * scale, y),
                        5.0 * scale,
                        Color32::from_rgb(r, g, b),
                    );
                    painter.text(
                        Pos2::new(top_left.x + 28.0 * scale, y),
                        egui::Align2::LEFT_CENTER,
                        label,
                        font.clone(),
                        text_color,
                    );
                }
            }
            ColorBy::Time | ColorBy::Posterior(_) => {
                let (title, low, high) = match self.settings.color_by {
                    ColorBy::Time => {
                        let times = &cloud.trajectories.times;
                        let first = times.first().copied().unwrap_or(0.0);
                        let last = times.last().copied().unwrap_or(0.0);
                        (
                            "OU time t (log scale)".to_string(),
                            format!("{first:.3}"),
                            format!("{last:.3}"),
                        )
                    }
                    ColorBy::Posterior(k) => {
                        let name = labels.get(k).cloned().unwrap_or_else(|| k.to_string());
                        (format!("p({name} | x_t)"), "0".into(), "1".into())
                    }
                    ColorBy::Class => return,
                };
                bar_legend(
                    painter,
                    ui,
                    rect,
                    &title,
                    self.settings.colormap,
                    (low, high),
                );
            }
        }
    }
}

/// The stored step a measurement belongs to, in words: t_min for the last one; a step without a
/// time (an imported file without times) by its number alone.
fn step_name(measured: StepFilter) -> String {
    match measured.time {
        Some(_) if measured.step + 1 == measured.steps => "t_min".to_string(),
        Some(t) => format!(
            "step {} of {} (t = {t:.3})",
            measured.step + 1,
            measured.steps
        ),
        None => format!("step {} of {}", measured.step + 1, measured.steps),
    }
}

/// The caption of the hole overlay, naming the step it was measured at and why outlying points lie
/// outside the frame (the metrics' robust probe square).
fn holes_caption_text(overlay: &HoleOverlay, measured: StepFilter) -> String {
    let [lo, hi] = overlay.probe_quantiles.map(|q| q * 100.0);
    format!(
        "holes at {}: red = H_void regions ({}), × = unreachable probes ({} of {}), frame = probe \
         square (the {lo:.0}–{hi:.0} % quantiles of the points on each axis; outliers lie outside)",
        step_name(measured),
        overlay.void_count,
        overlay.unreachable_probes.len(),
        overlay.probe_count
    )
}

/// A caption in the bottom-left corner of `rect`, `above` points over its bottom margin, wrapped to the
/// view's width (narrow windows); returns its height.
fn caption(painter: &egui::Painter, ui: &Ui, rect: Rect, above: f32, text: String) -> f32 {
    let margin = 8.0;
    let galley = painter.layout(
        text,
        painted_font(ui, 13.0),
        ui.visuals().text_color(),
        (rect.width() - 2.0 * margin).max(40.0),
    );
    let height = galley.size().y;
    let top_left = rect.left_bottom() + egui::vec2(margin, -margin - above - height);
    // A backing like the legend's, so the text stays readable over dense points.
    let backing = Rect::from_min_size(top_left, galley.size()).expand(2.0);
    painter.rect_filled(backing, 3.0, ui.visuals().window_fill().gamma_multiply(0.7));
    painter.galley(top_left, galley, ui.visuals().text_color());
    height
}

/// A legend in the top-right corner of `rect`: `title` over a colour bar through `map`, with the values
/// at its two ends.
fn bar_legend(
    painter: &egui::Painter,
    ui: &Ui,
    rect: Rect,
    title: &str,
    map: Colormap,
    (low, high): (String, String),
) {
    let text_color = ui.visuals().text_color();
    let font = painted_font(ui, 13.0);
    let scale = type_scale(ui);
    let width = 220.0 * scale;
    let top_left = rect.right_top() + egui::vec2(-width - 8.0, 8.0);
    let frame = Rect::from_min_size(top_left, egui::vec2(width, 62.0 * scale));
    painter.rect_filled(frame, 4.0, ui.visuals().window_fill().gamma_multiply(0.85));
    painter.text(
        top_left + egui::vec2(8.0, 4.0),
        egui::Align2::LEFT_TOP,
        title,
        font.clone(),
        text_color,
    );
    let bar = Rect::from_min_size(
        top_left + egui::vec2(8.0, 24.0 * scale),
        egui::vec2(width - 16.0, 14.0 * scale),
    );
    colour_bar(
        painter,
        bar,
        map,
        ColormapSpan::on_background(ui.visuals().dark_mode),
    );
    let below = egui::vec2(0.0, 2.0);
    painter.text(
        bar.left_bottom() + below,
        egui::Align2::LEFT_TOP,
        low,
        font.clone(),
        text_color,
    );
    painter.text(
        bar.right_bottom() + below,
        egui::Align2::RIGHT_TOP,
        high,
        font,
        text_color,
    );
}

/// A horizontal colour bar through `map` (the same fit the shader uses).
pub fn colour_bar(painter: &egui::Painter, rect: Rect, map: Colormap, span: ColormapSpan) {
    let segments = 64;
    let mut mesh = egui::Mesh::default();
    for s in 0..=segments {
        let f = s as f32 / segments as f32;
        let [r, g, b] = map.rgb8(span.at(f));
        let color = Color32::from_rgb(r, g, b);
        let x = rect.left() + f * rect.width();
        mesh.colored_vertex(Pos2::new(x, rect.top()), color);
        mesh.colored_vertex(Pos2::new(x, rect.bottom()), color);
        if s > 0 {
            let base = 2 * s as u32;
            mesh.add_triangle(base - 2, base - 1, base);
            mesh.add_triangle(base - 1, base + 1, base);
        }
    }
    painter.add(egui::Shape::mesh(mesh));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::geometry::PcaBasis;
    use crate::analysis::view_data::CloudOrigin;
    use crate::diffusion::Trajectories;

    /// The overlay caption names the step the holes were measured at: t_min for the last one.
    #[test]
    fn the_holes_caption_names_the_measured_step() {
        let overlay = HoleOverlay {
            voids: Grid {
                width: 2,
                height: 2,
                values: vec![0.0; 4],
            },
            rect_min: [0.0; 2],
            rect_max: [1.0; 2],
            unreachable_probes: vec![[0.5, 0.5]; 3],
            probe_square: ([0.0; 2], [1.0; 2]),
            probe_quantiles: [0.05, 0.95],
            void_count: 1,
            probe_count: 400,
        };
        let at = |step| StepFilter {
            step,
            steps: 20,
            time: Some(0.25),
        };
        let last = holes_caption_text(&overlay, at(19));
        assert!(last.starts_with("holes at t_min: "), "{last}");
        assert!(
            last.contains("(1)") && last.contains("(3 of 400)"),
            "{last}"
        );
        let middle = holes_caption_text(&overlay, at(5));
        assert!(
            middle.starts_with("holes at step 6 of 20 (t = 0.250): "),
            "{middle}"
        );
    }

    /// Colour by time needs several stored times: a loaded single-step cloud is coloured by class
    /// (its legend says why); a sampled cloud keeps the time colours.
    #[test]
    fn a_single_step_cloud_coloured_by_time_falls_back_to_class() {
        let cloud = |steps: usize| Cloud {
            origin: CloudOrigin::Synthetic,
            trajectories: Trajectories {
                n: 1,
                stored_steps: steps,
                dim: 1,
                times: (0..steps).map(|j| 1.0 / (j + 1) as f64).collect(),
                states: vec![0.0; steps],
                posterior: None,
                class_labels: Vec::new(),
                initial_labels: None,
            },
            per_time: vec![0.0; 3 * steps],
            pooled: vec![0.0; 3 * steps],
            explained_per_time: vec![[0.0; 3]; steps],
            explained_pooled: [0.0; 3],
            bases: Vec::new(),
            images: None,
        };
        let mut view = ManifoldView::default();
        view.settings.color_by = ColorBy::Time;
        assert_eq!(view.effective_color_by(&cloud(1)), ColorBy::Class);
        assert_eq!(view.effective_color_by(&cloud(5)), ColorBy::Time);
        view.settings.color_by = ColorBy::Posterior(0);
        assert_eq!(view.effective_color_by(&cloud(1)), ColorBy::Posterior(0));
    }

    /// Two steps of 6 trajectories in d = 4 whose clouds spread along different axes, so the two
    /// per-step bases differ: the path must use the basis of the shown step for every point.
    #[test]
    fn the_selected_path_is_projected_on_the_shown_basis_only() {
        let (n, steps, d) = (6, 2, 4);
        // [n, steps, d]: step 0 spreads along e0, step 1 along e1 (plus small wiggles).
        let mut states = vec![0f32; n * steps * d];
        for i in 0..n {
            let a = i as f32 - 2.5;
            let wiggle = 0.1 * ((i * 7 % 5) as f32 - 2.0);
            let at = |j: usize, c: usize| (i * steps + j) * d + c;
            states[at(0, 0)] = a;
            states[at(0, 2)] = wiggle;
            states[at(1, 1)] = 2.0 * a;
            states[at(1, 3)] = wiggle;
        }
        let trajectories = Trajectories {
            n,
            stored_steps: steps,
            dim: d,
            times: vec![1.0, 0.1],
            states,
            posterior: None,
            class_labels: Vec::new(),
            initial_labels: None,
        };
        let rows = |j: usize| -> Vec<f32> {
            (0..n)
                .flat_map(|i| trajectories.state(i, j).unwrap().to_vec())
                .collect()
        };
        let bases: Vec<PcaBasis> = (0..steps)
            .map(|j| PcaBasis::fit(&rows(j), n, d, 3).unwrap())
            .collect();
        let per_time: Vec<f32> = (0..steps)
            .flat_map(|j| bases[j].project(&rows(j), 3))
            .map(|v| v as f32)
            .collect();
        let cloud = Cloud {
            origin: CloudOrigin::Synthetic,
            pooled: per_time.clone(),
            per_time,
            explained_per_time: vec![[0.0; 3]; steps],
            explained_pooled: [0.0; 3],
            bases,
            trajectories,
            images: None,
        };
        let view = ManifoldView::default();
        let (i, step) = (4, 1);
        let path = view.path_positions(&cloud, i, step);
        assert_eq!(path.len(), step + 1);
        // Independent projection: (x_j − mean_step) · component_c of the step-1 basis.
        let basis = &cloud.bases[step];
        for (j, p) in path.iter().enumerate() {
            let x = cloud.trajectories.state(i, j).unwrap();
            for (c, &got) in p.iter().enumerate().take(basis.kept()) {
                let want: f64 = x
                    .iter()
                    .zip(&basis.mean)
                    .zip(basis.component(c))
                    .map(|((&x, m), w)| (f64::from(x) - m) * w)
                    .sum();
                assert!((f64::from(got) - want).abs() < 1e-4, "step {j} axis {c}");
            }
        }
        // The path ends on the drawn point; its start differs from the step-0 basis' position.
        let end = cloud.position(false, step, i).unwrap();
        assert!(
            path[step]
                .iter()
                .zip(end)
                .all(|(a, b)| (a - b).abs() < 1e-4)
        );
        let own = cloud.position(false, 0, i).unwrap();
        assert!(path[0].iter().zip(own).any(|(a, b)| (a - b).abs() > 0.5));
    }
}
