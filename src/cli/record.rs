//! `diffscope record [SCENE|--session FILE] --view manifold|speciation|side-by-side --out FILM.mp4|.gif`:
//! films the time running. The scene's jobs run as for `render`; then the time bar is played from t_max
//! to t_min, frame k of F showing stored step round(k·(S−1)/(F−1)) of S, each frame drawn offscreen at
//! the film's exact size by the app's renderer (`app::offscreen`, [`FilmLayout`]) under a caption strip
//! (scene title, t) and encoded (`io::film`). The same input gives the same frames (the scene's seed).
//! Progress goes to stderr every 10 %; Ctrl-C or any failure leaves no file.

use crate::app::AppOptions;
use crate::app::offscreen::{FilmLayout, FrameSize, OffscreenApp};
use crate::io::film::{FilmFormat, FilmSpec, FilmWriter};
use crate::scene::Scene;
use crate::session::Session;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The scene file (.json); without it and --session, the built-in default scene.
    #[arg(conflicts_with = "session")]
    pub scene: Option<PathBuf>,
    /// A session file (saved by the app) instead of a scene: its figure, camera and colours.
    #[arg(long, value_name = "FILE")]
    pub session: Option<PathBuf>,
    /// What the film shows.
    #[arg(long, value_enum, default_value_t = FilmView::Manifold)]
    pub view: FilmView,
    /// The film: .mp4 (H.264) or .gif.
    #[arg(long, value_name = "FILM")]
    pub out: PathBuf,
    /// Frames per second (at most 120 for MP4, 50 for GIF).
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Length of the film in seconds (frames = round(fps × seconds)).
    #[arg(long, default_value_t = 8.0)]
    pub seconds: f64,
    /// Width of the film in pixels (even for MP4; at most 3840).
    #[arg(long, default_value_t = 1920)]
    pub width: u32,
    /// Height of the film in pixels (even for MP4; at most 2160).
    #[arg(long, default_value_t = 1080)]
    pub height: u32,
    /// Pixels per point: 2 lays the views out at half the width and height and draws them at twice
    /// the density (larger type and points, e.g. for 1920×1080); width and height must divide by it.
    #[arg(long, default_value_t = 1)]
    pub scale: u32,
    /// Turn the 3-D manifold view once around over the film (manifold and side-by-side views).
    #[arg(long)]
    pub orbit: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FilmView {
    /// The manifold view and its time bar with the speciation markers.
    Manifold,
    /// The speciation plot with a cursor at the time shown.
    Speciation,
    /// The manifold view and the speciation plot side by side.
    SideBySide,
}

impl From<FilmView> for FilmLayout {
    fn from(view: FilmView) -> Self {
        match view {
            FilmView::Manifold => FilmLayout::Manifold,
            FilmView::Speciation => FilmLayout::Speciation,
            FilmView::SideBySide => FilmLayout::SideBySide,
        }
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
pub fn frame_count(fps: u32, seconds: f64) -> anyhow::Result<usize> {
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("--seconds must be a positive number of seconds, got {seconds}");
    }
    let frames = (f64::from(fps) * seconds).round();
    // Past the cap the spec check names the limit; saturate instead of wrapping.
    Ok(if frames > usize::MAX as f64 / 2.0 {
        usize::MAX / 2
    } else {
        frames as usize
    })
}

/// The app offscreen at `size` (points and density) with `scene` or `session` (the built-in scene for
/// neither), its jobs finished and its frames drawn as film frames of `layout`. Checks `stop` while
/// waiting.
pub fn open(
    scene: Option<&Path>,
    session: Option<&Path>,
    layout: FilmLayout,
    size: FrameSize,
    stop: &dyn Fn() -> bool,
) -> anyhow::Result<OffscreenApp> {
    let options = AppOptions {
        scene: scene.map(Path::to_path_buf),
        session: session.map(Path::to_path_buf),
        ..AppOptions::default()
    };
    let mut harness = OffscreenApp::new(size, options, |_| {})?;
    harness.film(layout);
    harness.wait_for_results(stop)?;
    if harness.stored_steps() == 0 {
        bail!("the scene stored no steps to film");
    }
    Ok(harness)
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
) -> anyhow::Result<image::RgbaImage> {
    prepare_frame(harness, k, frames, orbit);
    Ok(harness.render()?)
}

pub fn run(args: &RecordArgs) -> anyhow::Result<()> {
    // Everything that can be refused is refused before the scene's jobs run.
    let format = FilmFormat::of(&args.out)?;
    let frames = frame_count(args.fps, args.seconds)?;
    let spec = FilmSpec {
        width: args.width,
        height: args.height,
        fps: args.fps,
        frames,
    };
    spec.check(format, &args.out)?;
    if !(1..=2).contains(&args.scale) {
        bail!("--scale must be 1 or 2, got {}", args.scale);
    }
    if !args.width.is_multiple_of(args.scale) || !args.height.is_multiple_of(args.scale) {
        bail!(
            "--scale {} needs a width and height that divide by it, got {}×{}",
            args.scale,
            args.width,
            args.height
        );
    }
    if args.orbit && args.view == FilmView::Speciation {
        bail!("--orbit turns the 3-D manifold view: use --view manifold or side-by-side");
    }
    match (&args.scene, &args.session) {
        (Some(scene), None) => {
            Scene::load(scene)?;
        }
        (None, Some(session)) => {
            Session::load(session)?;
        }
        (None, None) => {}
        _ => bail!("give either a scene file or --session FILE, not both"),
    }
    let interrupted = super::interrupted();
    interrupted.store(false, Ordering::SeqCst);
    let stop = || interrupted.load(Ordering::SeqCst);
    // The temporary file exists from here; every early return below removes it.
    let mut film = FilmWriter::create(&args.out, spec)?;
    let started = Instant::now();
    let mut harness = open(
        args.scene.as_deref(),
        args.session.as_deref(),
        args.view.into(),
        FrameSize {
            width: args.width / args.scale,
            height: args.height / args.scale,
            scale: args.scale,
        },
        &stop,
    )?;
    if args.orbit {
        let settings = &mut harness.state_mut().views.manifold.settings;
        settings.dims = crate::app::manifold::Dimensions::Three;
    }
    let jobs = started.elapsed();
    let (mut layout, mut drawing, mut encoding) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut reported = 0;
    for k in 0..frames {
        if stop() {
            bail!("interrupted after {k} of {frames} frames: nothing was written");
        }
        let t0 = Instant::now();
        prepare_frame(&mut harness, k, frames, args.orbit);
        let t1 = Instant::now();
        let image = harness
            .render()
            .with_context(|| format!("frame {} of {frames}", k + 1))?;
        let t2 = Instant::now();
        film.push(image.as_raw())?;
        let t3 = Instant::now();
        layout += t1 - t0;
        drawing += t2 - t1;
        encoding += t3 - t2;
        let tenth = (k + 1) * 10 / frames;
        if tenth > reported {
            reported = tenth;
            eprintln!(
                "recording: {:>3} % ({} of {frames} frames)",
                tenth * 10,
                k + 1
            );
        }
    }
    let t0 = Instant::now();
    film.finish()?;
    encoding += t0.elapsed();
    let total = started.elapsed();
    println!(
        "wrote {} ({frames} frames, {}×{}, {} fps, {:.2} s)",
        args.out.display(),
        args.width,
        args.height,
        args.fps,
        frames as f64 / f64::from(args.fps)
    );
    let per_frame = |d: Duration| 1e3 * d.as_secs_f64() / frames as f64;
    println!(
        "time: {:.1} s = scene jobs {:.1} s + app frames {:.1} s ({:.0} ms/frame) + drawing and \
         read-back {:.1} s ({:.0} ms/frame) + encoding {:.1} s ({:.0} ms/frame)",
        total.as_secs_f64(),
        jobs.as_secs_f64(),
        layout.as_secs_f64(),
        per_frame(layout),
        drawing.as_secs_f64(),
        per_frame(drawing),
        encoding.as_secs_f64(),
        per_frame(encoding),
    );
    Ok(())
}
