//! `diffscope record [SCENE|--session FILE] --view manifold|speciation|side-by-side --out FILM.mp4|.gif`:
//! films the time running. The scene's jobs run as for `render`; then the recording loop the app's
//! Export… → Animation also runs (`app::recording`) plays the time bar from t_max to t_min, each frame
//! drawn offscreen at the film's exact size under a caption strip (scene title, t) and encoded
//! (`io::film`). The same input gives the same frames (the scene's seed).
//! Progress goes to stderr every 10 %; Ctrl-C or any failure leaves no file.

use crate::app::AppOptions;
use crate::app::offscreen::{FilmLayout, FrameSize, OffscreenApp};
use crate::app::recording::{self, FilmSettings, RecordError};
use crate::scene::Scene;
use crate::session::Session;
use anyhow::bail;
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

pub fn run(args: &RecordArgs) -> anyhow::Result<()> {
    // Everything that can be refused is refused before the scene's jobs run.
    let settings = FilmSettings {
        layout: args.view.into(),
        fps: args.fps,
        seconds: args.seconds,
        width: args.width,
        height: args.height,
        orbit: args.orbit,
    };
    let frames = match settings.spec(&args.out) {
        Ok((_, spec)) => spec.frames,
        Err(e @ RecordError::Length(_)) => bail!("--seconds: {e}"),
        Err(e) => return Err(e.into()),
    };
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
            // Films run the time of a point cloud; a token scene is refused as its scene file is.
            if Session::load(session)?.tokens.is_some() {
                bail!(
                    "{}: tokens: the session shows a token scene, and films are made of Gaussian-noise scenes only",
                    session.display()
                );
            }
        }
        (None, None) => {}
        _ => bail!("give either a scene file or --session FILE, not both"),
    }
    // The folder must take the film before the scene's jobs run.
    if let Some(folder) = args.out.parent().filter(|f| !f.as_os_str().is_empty())
        && !folder.is_dir()
    {
        bail!("no folder {} for the film", folder.display());
    }
    let interrupted = super::interrupted();
    interrupted.store(false, Ordering::SeqCst);
    let stop = || interrupted.load(Ordering::SeqCst);
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
    let jobs = started.elapsed();
    let mut reported = 0;
    let mut on_frame = |done: usize, frames: usize| {
        let tenth = done * 10 / frames;
        if tenth > reported {
            reported = tenth;
            eprintln!("recording: {:>3} % ({done} of {frames} frames)", tenth * 10);
        }
        !stop()
    };
    let timing = match recording::record(&mut harness, &settings, &args.out, &mut on_frame) {
        Err(RecordError::Stopped { done, frames }) => {
            bail!("interrupted after {done} of {frames} frames: nothing was written")
        }
        other => other?,
    };
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
         read-back {:.1} s ({:.0} ms/frame) + waiting for the encoder {:.1} s ({:.0} ms/frame)",
        total.as_secs_f64(),
        jobs.as_secs_f64(),
        timing.layout.as_secs_f64(),
        per_frame(timing.layout),
        timing.drawing.as_secs_f64(),
        per_frame(timing.drawing),
        timing.encoding.as_secs_f64(),
        per_frame(timing.encoding),
    );
    Ok(())
}
