//! What drives the app besides the user: screenshot-and-exit runs, frame-time measurements, and the
//! bookkeeping of launch time and layout settling. Reads the results it needs as arguments; draws
//! nothing.

use super::Views;
use crate::render::RendererPolicy;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// How the view changes every frame of a frame-time measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CameraMotion {
    /// Pan the 2-D view (the sprite layer is reprojected while it covers the view).
    Pan,
    /// Orbit the 3-D view (every frame draws every sprite).
    Orbit,
    /// Play the time bar in the 3-D view, one stored step per frame (every point moves every frame:
    /// new positions are uploaded and drawn), the camera still. Without a synthetic cloud: once the
    /// scene's jobs are done, play its time bar at the asked steps per second with trails, as a user
    /// pressing Play would.
    Play,
}

/// Trail length (stored steps) while a scene's playback is measured.
const PLAY_TRAIL_STEPS: usize = 8;

/// Stored steps of the synthetic cloud a playing measurement steps through.
const PLAY_STEPS: usize = 8;

impl FrameStatsOptions {
    /// Stored steps of the synthetic cloud: several when the time plays, else one.
    pub fn synthetic_steps(&self) -> usize {
        match self.camera_motion {
            Some(CameraMotion::Play) => PLAY_STEPS,
            _ => 1,
        }
    }
}

/// Frames skipped before measuring.
const WARM_UP_FRAMES: usize = 10;

/// Frame timestamps of a measurement.
struct FrameStats {
    options: FrameStatsOptions,
    last: Option<Instant>,
    skipped: usize,
    intervals: Vec<f64>,
    /// A scene's playback: when and from which step the measured frames started, and how many
    /// distinct steps they drew.
    playback: Option<Playback>,
}

struct Playback {
    started: Instant,
    first_step: usize,
    last_step: usize,
    steps_drawn: usize,
}

impl FrameStatsOptions {
    /// Whether this measures a scene's own playback (no synthetic cloud, the time bar playing).
    fn plays_scene(&self) -> bool {
        self.synthetic_points.is_none() && self.camera_motion == Some(CameraMotion::Play)
    }
}

/// Screenshot-and-exit progress.
enum Capture {
    Waiting,
    Requested(Arc<Mutex<Option<Arc<egui::ColorImage>>>>),
    Done,
}

/// Quiet frames between "all jobs done" and the screenshot, so the finished results are drawn.
const SETTLE_FRAMES: u32 = 3;

/// Frames drawn after results arrive (or the app opens) so that their layout settles.
pub const LAYOUT_FRAMES: u32 = 3;

/// The app's non-interactive drivers and launch bookkeeping.
pub struct Driver {
    /// Screenshot-and-exit: the file, the progress and the quiet frames counted.
    capture: Option<(PathBuf, Capture, u32)>,
    /// Why a non-interactive run (screenshot) failed, read by [`super::run`] after the window closes.
    pub failure: Arc<Mutex<Option<String>>>,
    frame_stats: Option<FrameStats>,
    /// When the app was launched (the window's creation, for `run`).
    pub started: Instant,
    /// Launch to the first frame that drew a sampled cloud.
    pub first_scene_drawn: Option<Duration>,
    /// Frames still to draw so that newly arrived results settle ([`LAYOUT_FRAMES`]).
    pub layout_frames: u32,
    /// Where the session is saved on exit (the interactive app only).
    pub autosave: Option<PathBuf>,
    /// What draws the points (reported by frame-time measurements).
    pub point_renderer: RendererPolicy,
    /// The frame is cleared to the theme's panel colour before egui paints (the window and the
    /// offscreen renderer; not the UI tests' harness), so panels leave their fill out: on a software
    /// rasteriser that spares one full-window layer of fragments per frame.
    pub clears_to_panel_fill: bool,
}

impl Driver {
    pub fn new(
        screenshot: Option<PathBuf>,
        frame_stats: Option<FrameStatsOptions>,
        autosave: Option<PathBuf>,
        point_renderer: RendererPolicy,
    ) -> Self {
        Driver {
            capture: screenshot.map(|path| (path, Capture::Waiting, 0)),
            failure: Arc::default(),
            frame_stats: frame_stats.map(|options| FrameStats {
                options,
                last: None,
                skipped: 0,
                intervals: Vec::new(),
                playback: None,
            }),
            started: Instant::now(),
            first_scene_drawn: None,
            layout_frames: LAYOUT_FRAMES,
            autosave,
            point_renderer,
            clears_to_panel_fill: false,
        }
    }

    /// The options of a running frame-time measurement.
    pub fn frame_stats(&self) -> Option<FrameStatsOptions> {
        self.frame_stats.as_ref().map(|s| s.options)
    }

    /// Notes the first frame that drew a sampled cloud.
    pub fn scene_drawn(&mut self) {
        if self.first_scene_drawn.is_none() {
            let elapsed = self.started.elapsed();
            self.first_scene_drawn = Some(elapsed);
            log::info!(
                "first scene drawn {:.2} s after launch",
                elapsed.as_secs_f64()
            );
        }
    }

    /// Keeps drawing for a few frames after new results (plot axes measure their tick labels on the
    /// first), without waiting for the mouse.
    pub fn settle_layout(&mut self, ctx: &egui::Context) {
        if self.layout_frames > 0 {
            self.layout_frames -= 1;
            ctx.request_repaint();
        }
    }

    /// Screenshot mode: once `idle` (every job done, a cloud shown) for a few frames, capture, save and
    /// close. A scene, session or job that fails (`first_error`) ends the run with that error and
    /// writes nothing.
    pub fn drive_capture(&mut self, ctx: &egui::Context, idle: bool, first_error: Option<String>) {
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

    /// Frame-time measurement: records frame intervals in the phase being measured (`drawn`: the
    /// synthetic cloud is on screen; `busy`: the scene's jobs run), then prints mean / median / p95
    /// and closes the window.
    pub fn drive_frame_stats(
        &mut self,
        ctx: &egui::Context,
        drawn: bool,
        busy: bool,
        views: &mut Views,
    ) {
        let first_scene = self.first_scene_drawn;
        let Some(stats) = &mut self.frame_stats else {
            return;
        };
        ctx.request_repaint();
        let plays_scene = stats.options.plays_scene();
        let measuring = match stats.options.synthetic_points {
            Some(_) => drawn,
            None if plays_scene => drawn,
            None => busy,
        };
        let now = Instant::now();
        if plays_scene && measuring {
            let timeline = &mut views.timeline;
            match &mut stats.playback {
                None => {
                    timeline.step = 0;
                    timeline.playing = true;
                    let trails = &mut views.manifold.settings.trail_steps;
                    *trails = (*trails).max(PLAY_TRAIL_STEPS);
                    stats.playback = Some(Playback {
                        started: now,
                        first_step: 0,
                        last_step: 0,
                        steps_drawn: 1,
                    });
                }
                Some(playback) if stats.skipped < WARM_UP_FRAMES => {
                    // Measured frames start after the warm-up, and so does the step count.
                    playback.started = now;
                    playback.first_step = timeline.step;
                    playback.last_step = timeline.step;
                    playback.steps_drawn = 1;
                }
                Some(playback) => {
                    if timeline.step != playback.last_step {
                        playback.steps_drawn += 1;
                        playback.last_step = timeline.step;
                    }
                }
            }
        } else if let Some(motion) = stats.options.camera_motion.filter(|_| measuring) {
            let frame = stats.intervals.len() + stats.skipped;
            views.manifold.drift_camera(motion, frame);
            if motion == CameraMotion::Play {
                views.timeline.step = frame % stats.options.synthetic_steps();
            }
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
        let phase_over = if plays_scene {
            stats.playback.is_some() && !views.timeline.playing
        } else {
            stats.options.synthetic_points.is_none() && !busy && stats.last.is_some()
        };
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
                    if views.manifold.uses_density() {
                        "density layer"
                    } else {
                        self.point_renderer.renderer_for(n).name()
                    }
                ),
                None if plays_scene => format!(
                    "while the scene plays at {} steps/s with trails of {} steps",
                    views.timeline.steps_per_second, views.manifold.settings.trail_steps
                ),
                None => "while the scene's jobs run".into(),
            };
            println!(
                "frame time {what}: {} frames, mean {mean:.1} ms, median {:.1} ms, p95 {:.1} ms",
                sorted.len(),
                ms(0.5),
                ms(0.95)
            );
            if let Some(playback) = stats.playback.as_ref().filter(|_| plays_scene) {
                let seconds = now.duration_since(playback.started).as_secs_f64();
                let played = views.timeline.step.saturating_sub(playback.first_step);
                println!(
                    "playback: {played} steps in {seconds:.2} s ({:.1} steps/s), {} of them drawn",
                    played as f64 / seconds.max(1e-9),
                    playback.steps_drawn.saturating_sub(1).min(played)
                );
            } else if stats.options.synthetic_points.is_none() {
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
