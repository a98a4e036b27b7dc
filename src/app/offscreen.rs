//! The app drawn without a window: an egui context stepped by hand and rendered by egui-wgpu into a
//! texture on a headless wgpu device (lavapipe here), then read back as an image. The same renderer and
//! the same paint callbacks as the window, so `diffscope render` and PNG exports show what the screen
//! shows. UI tests drive the app through egui_kittest instead; the product does not need it.
//!
//! Films (`diffscope record`) draw [`FilmLayout`] frames: a caption strip (scene title and the time
//! shown) over the manifold view with its time bar, the speciation plot with a cursor at that time, or
//! both side by side, one stored step per frame ([`OffscreenApp::show_step`]).

use super::{AppOptions, DiffscopeApp, View};
use eframe::egui_wgpu::{RenderState, ScreenDescriptor, wgpu};
use image::RgbaImage;
use std::sync::mpsc;
use std::time::Duration;

/// How long a frame's GPU work may take before rendering is reported as failed.
const GPU_TIMEOUT: Duration = Duration::from_secs(30);

/// The size of an offscreen frame: points and pixels per point (checked by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSize {
    pub width: u32,
    pub height: u32,
    pub scale: u32,
}

/// Why a frame could not be drawn offscreen.
#[derive(Debug, thiserror::Error)]
#[error("offscreen rendering failed: {0}")]
pub struct RenderError(String);

/// The app in an offscreen frame of a fixed size and pixel density.
pub struct OffscreenApp {
    ctx: egui::Context,
    render_state: RenderState,
    screen: ScreenDescriptor,
    /// The raw input every frame starts from (screen size and density).
    input: egui::RawInput,
    app: DiffscopeApp,
    /// The shapes of the last frame, drawn by [`OffscreenApp::render`].
    last_output: Option<egui::FullOutput>,
    /// Film frames instead of the app's own frame ([`OffscreenApp::film`]).
    film: Option<FilmLayout>,
}

/// What the frames of a film show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilmLayout {
    /// The manifold view and its time bar (speciation markers on it).
    Manifold,
    /// The speciation plot with a cursor at the time shown.
    Speciation,
    /// The manifold view on the left half, the speciation plot on the right.
    SideBySide,
}

/// Why [`OffscreenApp::wait_for_results`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("interrupted: nothing was written")]
    Interrupted,
    #[error("{0}")]
    Job(String),
}

/// Frames drawn after the results arrive, before anything is rendered.
const SETTLE_FRAMES: usize = 5;

fn render_error(e: impl std::fmt::Display) -> RenderError {
    RenderError(e.to_string())
}

/// A wgpu device without a surface (see [`crate::render::gpu::headless_render_state`]).
fn headless_render_state() -> Result<RenderState, RenderError> {
    crate::render::gpu::headless_render_state().map_err(render_error)
}

impl OffscreenApp {
    /// Builds the app with `options` on a fresh headless device at `settings`' size and density, lets
    /// `prepare` adjust it before its first frame, and runs that frame.
    pub fn new(
        settings: FrameSize,
        options: AppOptions,
        prepare: impl FnOnce(&mut DiffscopeApp),
    ) -> Result<Self, RenderError> {
        let render_state = headless_render_state()?;
        let mut app = DiffscopeApp::with_render_state(Some(&render_state), options);
        prepare(&mut app);
        Ok(Self::around(app, settings, render_state))
    }

    /// An already built app (its pipelines installed on `render_state`).
    pub(super) fn around(
        mut app: DiffscopeApp,
        settings: FrameSize,
        render_state: RenderState,
    ) -> Self {
        app.driver.clears_to_panel_fill = true;
        let ctx = egui::Context::default();
        // Offscreen frames are few: nothing may still be animating when one is captured.
        ctx.all_styles_mut(|style| {
            style.animation_time = 0.0;
            style.scroll_animation = egui::style::ScrollAnimation::none();
        });
        let ppp = settings.scale as f32;
        let size = egui::vec2(settings.width as f32, settings.height as f32);
        let mut input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
            ..Default::default()
        };
        if let Some(viewport) = input.viewports.get_mut(&egui::ViewportId::ROOT) {
            viewport.native_pixels_per_point = Some(ppp);
        }
        let screen = ScreenDescriptor {
            size_in_pixels: [
                settings.width * settings.scale,
                settings.height * settings.scale,
            ],
            pixels_per_point: ppp,
        };
        let mut offscreen = OffscreenApp {
            ctx,
            render_state,
            screen,
            input,
            app,
            last_output: None,
            film: None,
        };
        offscreen.step();
        offscreen
    }

    /// A headless device for an app built elsewhere (an export job).
    pub(super) fn device() -> Result<RenderState, RenderError> {
        headless_render_state()
    }

    pub fn state(&self) -> &DiffscopeApp {
        &self.app
    }

    pub fn state_mut(&mut self) -> &mut DiffscopeApp {
        &mut self.app
    }

    /// Runs one frame of the app and uploads the textures it changed.
    pub fn step(&mut self) {
        let app = &mut self.app;
        let film = self.film;
        let mut output = self.ctx.run_ui(self.input.clone(), |ui| match film {
            Some(layout) => film_ui(app, ui, layout),
            None => app.frame_ui(ui),
        });
        let mut renderer = self.render_state.renderer.write();
        for (id, deltas) in output.textures_delta.set.drain() {
            for delta in deltas {
                renderer.update_texture(
                    &self.render_state.device,
                    &self.render_state.queue,
                    id,
                    &delta,
                );
            }
        }
        // The textures this frame no longer uses: the shapes kept for `render` do not need them.
        for id in output.textures_delta.free.drain() {
            renderer.free_texture(&id);
        }
        self.last_output = Some(output);
    }

    /// Draws the frames that follow as film frames of `layout`: the time bar paused and the manifold
    /// view's controls hidden, as on a projected slide.
    pub fn film(&mut self, layout: FilmLayout) {
        self.film = Some(layout);
        let app = &mut self.app;
        app.views.solo = Some(match layout {
            FilmLayout::Speciation => View::Speciation,
            FilmLayout::Manifold | FilmLayout::SideBySide => View::Manifold,
        });
        // Only hides the manifold toolbar here: a solo view never takes the presentation layout.
        app.views.presentation.active = true;
        app.views.timeline.playing = false;
    }

    /// The stored steps of the sampled cloud (0 before it arrives).
    pub fn stored_steps(&self) -> usize {
        self.app
            .results
            .cloud
            .as_ref()
            .map_or(0, |c| c.trajectories.times.len())
    }

    /// Shows stored step `step` in the next frames (time bar, points, speciation cursor); returns its
    /// time, `None` before the cloud arrives or past its last step.
    pub fn show_step(&mut self, step: usize) -> Option<f64> {
        let app = &mut self.app;
        let t = app
            .results
            .cloud
            .as_ref()?
            .trajectories
            .times
            .get(step)
            .copied()?;
        app.views.timeline.playing = false;
        app.views.timeline.step = step;
        // The metric table of a hidden-state scene follows the time bar: a film measures nothing new.
        app.results.metrics_requested = Some((app.results.cloud_id, step));
        app.views.speciation_view.now = Some(t);
        Some(t)
    }

    /// Steps the app until its jobs are done and a cloud (or a token view) has arrived, then draws [`SETTLE_FRAMES`] more
    /// frames: results that arrive in one frame are laid out over the next few (plot axes measure their
    /// labels first), so without them the picture depended on which job ended last. Fails with the first
    /// job error, or when `stop` says so (checked every frame).
    pub fn wait_for_results(&mut self, stop: &dyn Fn() -> bool) -> Result<(), WaitError> {
        loop {
            if stop() {
                return Err(WaitError::Interrupted);
            }
            self.step();
            if let Some(error) = self.app.jobs.errors().first() {
                return Err(WaitError::Job(error.to_string()));
            }
            if self.app.jobs.idle() && self.app.results.shown() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.run_steps(SETTLE_FRAMES);
        Ok(())
    }

    pub fn run_steps(&mut self, frames: usize) {
        for _ in 0..frames {
            self.step();
        }
    }

    /// Draws the last frame into a texture and reads it back as RGBA.
    pub fn render(&mut self) -> Result<RgbaImage, RenderError> {
        let output = self
            .last_output
            .as_ref()
            .ok_or_else(|| render_error("no frame has run"))?;
        let RenderState { device, queue, .. } = &self.render_state;
        let [width, height] = self.screen.size_in_pixels;
        let primitives = self
            .ctx
            .tessellate(output.shapes.clone(), self.screen.pixels_per_point);
        let target = crate::render::gpu::texture_2d(
            device,
            "offscreen frame",
            [width, height],
            self.render_state.target_format,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let view = target.create_view(&wgpu::TextureViewDescriptor::default());
        // The panels' colour, as the window clears to it (`clears_to_panel_fill`); egui's colours are
        // gamma-encoded, as is the (non-sRGB) target.
        let [r, g, b, a] = self
            .ctx
            .global_style()
            .visuals
            .panel_fill
            .to_array()
            .map(|c| f64::from(c) / 255.0);
        let clear = wgpu::Color { r, g, b, a };
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("offscreen frame"),
        });
        let mut renderer = self.render_state.renderer.write();
        let callback_buffers =
            renderer.update_buffers(device, queue, &mut encoder, &primitives, &self.screen);
        {
            let mut pass = encoder
                .begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("offscreen frame"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &view,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(clear),
                            store: wgpu::StoreOp::Store,
                        },
                        depth_slice: None,
                    })],
                    ..Default::default()
                })
                .forget_lifetime();
            renderer.render(&mut pass, &primitives, &self.screen);
        }
        drop(renderer);
        // Rows of a texture-to-buffer copy are padded to wgpu's alignment.
        let row = width as usize * 4;
        let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as usize;
        let padded_row = row.div_ceil(align) * align;
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("offscreen readback"),
            size: (padded_row * height as usize) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_texture_to_buffer(
            target.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded_row as u32),
                    rows_per_image: None,
                },
            },
            target.size(),
        );
        let submission = queue.submit(callback_buffers.into_iter().chain([encoder.finish()]));
        let (sender, receiver) = mpsc::channel();
        readback
            .slice(..)
            .map_async(wgpu::MapMode::Read, move |result| drop(sender.send(result)));
        device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: Some(GPU_TIMEOUT),
            })
            .map_err(render_error)?;
        receiver
            .recv_timeout(GPU_TIMEOUT)
            .map_err(render_error)?
            .map_err(render_error)?;
        let mapped = readback
            .slice(..)
            .get_mapped_range()
            .map_err(render_error)?;
        let bgra = matches!(
            self.render_state.target_format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        );
        let mut pixels = Vec::with_capacity(row * height as usize);
        for line in mapped.chunks_exact(padded_row) {
            pixels.extend_from_slice(&line[..row]);
        }
        if bgra {
            pixels.chunks_exact_mut(4).for_each(|p| p.swap(0, 2));
        }
        RgbaImage::from_raw(width, height, pixels)
            .ok_or_else(|| render_error("the frame has the wrong number of pixels"))
    }
}

/// One film frame: the caption strip, then the layout's views (the app's own frame draws the solo view
/// in what the strip and the side panel leave).
fn film_ui(app: &mut DiffscopeApp, ui: &mut egui::Ui, layout: FilmLayout) {
    let title = app
        .scene
        .current
        .title
        .clone()
        .unwrap_or_else(|| "diffscope".into());
    let times = app.results.cloud.as_ref().map(|c| &c.trajectories.times);
    let now = times.and_then(|times| {
        let step = app.views.timeline.step.min(times.len().checked_sub(1)?);
        Some((times[step], step, times.len()))
    });
    egui::Panel::top("film caption")
        .frame(app.side_frame(ui))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(title).heading().strong());
                if let Some((t, step, steps)) = now {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        ui.label(
                            egui::RichText::new(format!("step {} of {steps}", step + 1)).weak(),
                        );
                        ui.label(
                            egui::RichText::new(format!("t = {t:.3}"))
                                .heading()
                                .monospace(),
                        );
                    });
                }
            });
        });
    if layout == FilmLayout::SideBySide {
        let half = ui.max_rect().width() / 2.0;
        egui::Panel::right("film speciation")
            .frame(app.side_frame(ui))
            .resizable(false)
            .exact_size(half)
            .show(ui, |ui| app.view_ui(ui, View::Speciation));
    }
    app.frame_ui(ui);
}
