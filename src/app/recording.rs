//! Films of the time running, one recording loop for `diffscope record` and the app's Export… →
//! Animation: frame k of F shows stored step round(k·(S−1)/(F−1)) of S (t_max first, t_min last), drawn
//! offscreen at the film's exact size by the app's renderer ([`FilmLayout`] frames, optionally turning
//! the 3-D view once around), and pushed to a [`PipelinedFilm`] (encoded on its own thread while the next
//! frame is drawn), which writes under a temporary name and renames into place after the last frame: a
//! stopped or failed recording leaves no file.

use super::manifold::Dimensions;
use super::offscreen::{FilmLayout, OffscreenApp, RenderError};
use crate::io::IoError;
use crate::io::film::{FilmFormat, FilmSpec};
use crate::io::film_pipeline::PipelinedFilm;
use std::path::Path;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Frames run after the film layout is set, before the first is drawn: plots measure their labels
/// first.
const SETTLE_FRAMES: usize = 3;

/// Why a film was not written.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error("the length must be a positive number of seconds, got {0}")]
    Length(f64),
    #[error("the scene stored no steps to film")]
    NoSteps,
    #[error("stopped after {done} of {frames} frames: nothing was written")]
    Stopped { done: usize, frames: usize },
    #[error("frame {frame} of {frames}: {source}")]
    Render {
        frame: usize,
        frames: usize,
        source: RenderError,
    },
    #[error(transparent)]
    Io(#[from] IoError),
}

/// What a film shows and how: the layout, rate, length, size and whether the 3-D view turns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilmSettings {
    pub layout: FilmLayout,
    pub fps: u32,
    pub seconds: f64,
    /// The film's size in pixels.
    pub width: u32,
    pub height: u32,
    /// Turn the 3-D manifold view once around over the film.
    pub orbit: bool,
}

impl FilmSettings {
    /// The format of `path` and the film's spec, refused (naming `path`) when the format cannot hold it.
    pub fn spec(&self, path: &Path) -> Result<(FilmFormat, FilmSpec), RecordError> {
        let format = FilmFormat::of(path)?;
        let spec = FilmSpec {
            width: self.width,
            height: self.height,
            fps: self.fps,
            frames: frame_count(self.fps, self.seconds)?,
        };
        spec.check(format, path)?;
        Ok((format, spec))
    }
}

/// The stored step frame `k` of `frames` shows, of `steps` stored: t_max at the first frame, t_min at
/// the last, evenly between.
pub fn frame_step(k: usize, frames: usize, steps: usize) -> usize {
    if frames <= 1 || steps <= 1 {
        return 0;
    }
    let f = k.min(frames - 1) as f64 * (steps - 1) as f64 / (frames - 1) as f64;
    (f.round() as usize).min(steps - 1)
}

/// The number of frames of `seconds` at `fps` (refused when not a positive finite length).
pub fn frame_count(fps: u32, seconds: f64) -> Result<usize, RecordError> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(RecordError::Length(seconds));
    }
    let frames = (f64::from(fps) * seconds).round();
    // Past the cap the spec check names the limit; saturate instead of wrapping.
    Ok(if frames > usize::MAX as f64 / 2.0 {
        usize::MAX / 2
    } else {
        frames as usize
    })
}

/// Shows the step of frame `k` of `frames` (turning a 3-D view by 1/`frames` of a turn first when
/// `orbit`) and runs the app's frame (layout and shapes, no pixels yet).
pub fn prepare_frame(harness: &mut OffscreenApp, k: usize, frames: usize, orbit: bool) {
    let step = frame_step(k, frames, harness.stored_steps());
    if orbit && k > 0 {
        // `Orbit::rotate` turns 0.01 rad per pixel dragged.
        let turn = std::f32::consts::TAU / frames as f32 / 0.01;
        let settings = &mut harness.state_mut().views.manifold.settings;
        settings.orbit.rotate(glam::Vec2::new(turn, 0.0));
    }
    harness.show_step(step);
    harness.step();
}

/// Frame `k` of `frames` as RGBA ([`prepare_frame`], then drawn and read back).
pub fn draw_frame(
    harness: &mut OffscreenApp,
    k: usize,
    frames: usize,
    orbit: bool,
) -> Result<image::RgbaImage, RenderError> {
    prepare_frame(harness, k, frames, orbit);
    harness.render()
}

/// Where a recording's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// The app's frames (layout and shapes).
    pub layout: Duration,
    /// Tessellation, GPU drawing and read-back.
    pub drawing: Duration,
    /// Waiting for the film encoder (it encodes on its own thread while the next frame is drawn) and
    /// the file.
    pub encoding: Duration,
}

/// Records `settings`' film of the app in `harness` (its results in, its frame of the film's size) to
/// `path`. `on_frame(done, frames)` is called before each frame and after the last; it returns `false`
/// to stop, which removes everything written.
pub fn record(
    harness: &mut OffscreenApp,
    settings: &FilmSettings,
    path: &Path,
    on_frame: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Timing, RecordError> {
    let (_, spec) = settings.spec(path)?;
    if harness.stored_steps() == 0 {
        return Err(RecordError::NoSteps);
    }
    harness.film(settings.layout);
    if settings.orbit {
        harness.state_mut().views.manifold.settings.dims = Dimensions::Three;
    }
    // The film layout (and a 3-D view) laid out before the first frame is drawn.
    harness.run_steps(SETTLE_FRAMES);
    let frames = spec.frames;
    // The temporary file exists from here; any return before `finish` removes it.
    let mut film = PipelinedFilm::create(path, spec)?;
    let mut timing = Timing::default();
    for k in 0..frames {
        if !on_frame(k, frames) {
            return Err(RecordError::Stopped { done: k, frames });
        }
        let t0 = Instant::now();
        prepare_frame(harness, k, frames, settings.orbit);
        let t1 = Instant::now();
        let image = harness.render().map_err(|source| RecordError::Render {
            frame: k + 1,
            frames,
            source,
        })?;
        let t2 = Instant::now();
        film.push(image.into_raw())?;
        timing.layout += t1 - t0;
        timing.drawing += t2 - t1;
        timing.encoding += t2.elapsed();
    }
    let t0 = Instant::now();
    film.finish()?;
    timing.encoding += t0.elapsed();
    on_frame(frames, frames);
    Ok(timing)
}
