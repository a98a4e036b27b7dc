//! The command line: clap subcommands that call the same library the app uses.
//!
//! Every failure ends as one line on stderr (`error: …`, naming the file concerned) and a non-zero exit
//! code, never a panic trace.

pub mod bench;
pub mod compare;
pub mod metrics;
pub mod record;
pub mod render;
pub mod sample;
pub mod speciation;
pub mod sweep;
pub mod train;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// diffscope: see inside diffusion models.
#[derive(Debug, Parser)]
#[command(name = "diffscope", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the app on this file: a scene (.json), a session (.json saved by the app) or data —
    /// recorded trajectories ([N, S, d] .npy, or .safetensors with 'trajectories') or a point cloud
    /// (.npy, .safetensors, .csv); or a sweep folder (`sweep run --out DIR`), shown in the Theory tab.
    #[arg(value_name = "FILE", conflicts_with_all = ["scene", "session"])]
    pub file: Option<std::path::PathBuf>,
    /// Open the app on this scene file instead of the built-in default scene.
    #[arg(long, value_name = "SCENE")]
    pub scene: Option<std::path::PathBuf>,
    /// Open the app on this session file (scene, view settings, camera and selection). Without --scene
    /// or --session the app restores the session of its last run and saves it again on exit.
    #[arg(long, value_name = "FILE", conflicts_with = "scene")]
    pub session: Option<std::path::PathBuf>,
    /// Open the app, wait for the scene's jobs, save a screenshot (PNG) here and exit.
    #[arg(long, value_name = "FILE")]
    pub screenshot: Option<std::path::PathBuf>,
    /// Open the app, print frame-time statistics over this many frames and exit (performance figures:
    /// while the scene's jobs run, with --points once a synthetic cloud is drawn, or with
    /// --camera-motion play while the scene's time bar plays once its jobs are done).
    #[arg(long, value_name = "FRAMES")]
    pub frame_stats: Option<usize>,
    /// With --frame-stats: draw a synthetic cloud of this many points instead of sampling the scene.
    #[arg(long, value_name = "N", requires = "frame_stats")]
    pub points: Option<usize>,
    /// With --frame-stats: move the manifold camera every frame, panning the 2-D view or orbiting the
    /// 3-D one (the cost of a view being dragged), or play the time bar.
    #[arg(long, value_name = "MOTION", requires = "frame_stats")]
    pub camera_motion: Option<crate::app::CameraMotion>,
    /// Open the app in Present mode (large type, high contrast) with this theme; F5 or Esc leaves it.
    #[arg(long, value_name = "THEME")]
    pub present: Option<crate::app::presentation::PresentTheme>,
    /// How the manifold view draws points: sprites (anti-aliased, blended), splat (a compute pass
    /// keeping the nearest point per pixel), cpu-splat (the same picture computed on the CPU, fastest
    /// on software rasterisers) or auto (the window times all three at start-up and draws each cloud
    /// with the fastest at its size).
    #[arg(long, value_enum, default_value_t)]
    pub renderer: crate::render::RendererChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run denoising trajectories for a scene and write them as .npy or .safetensors.
    Sample(sample::SampleArgs),
    /// Theory and measured speciation times of a scene.
    Speciation(speciation::SpeciationArgs),
    /// Geometry metrics (PCA, intrinsic dimension, flatness, density, holes) of a point cloud.
    Metrics(metrics::MetricsArgs),
    /// Print the performance figures, one per line with their inputs.
    Bench(bench::BenchArgs),
    /// Train a learned model (tiny DiT, Euler-Stack, or an OU-time denoiser for a scene).
    Train(train::TrainArgs),
    /// DiT vs Euler-Stack: metric table of both models' hidden states next to the reported numbers.
    Compare(compare::CompareArgs),
    /// Draw one view of the app offscreen (same renderer) and write it as PNG.
    Render(render::RenderArgs),
    /// Film the time running: the time bar played from t_max to t_min, drawn offscreen, as GIF or MP4.
    Record(record::RecordArgs),
    /// Parameter sweeps of the speciation measurement: sharded, resumable, one file per point.
    Sweep(sweep::SweepArgs),
}

/// Entry point of the executable.
pub fn main() -> ExitCode {
    // Before any thread exists (it may set the environment): the app, `train`, `compare` and the
    // benches all run candle models.
    crate::model::learned::prepare_cpu();
    // The benchmark names are known at run time only: `bench --help` lists them.
    let command = Cli::command().mut_subcommand("bench", |c| c.after_help(bench::names_help()));
    let cli = match command
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Some(command) => run(Some(command)),
        None => open_file(cli.file.as_deref()).and_then(|opened| {
            let (scene, session, data) = match opened {
                Some(Opened::Scene(path)) => (Some(path), None, None),
                Some(Opened::Session(path)) => (None, Some(path), None),
                Some(Opened::Data(path)) => (None, None, Some(path)),
                None => (cli.scene, cli.session, None),
            };
            // Only a plain interactive launch restores and keeps the last session.
            let plain = scene.is_none()
                && session.is_none()
                && data.is_none()
                && cli.screenshot.is_none()
                && cli.frame_stats.is_none();
            open_app(crate::app::AppOptions {
                scene,
                session,
                data,
                screenshot: cli.screenshot,
                solo: None,
                frame_stats: cli.frame_stats.map(|frames| crate::app::FrameStatsOptions {
                    frames,
                    synthetic_points: cli.points,
                    camera_motion: cli.camera_motion,
                }),
                autosave: plain.then(crate::session::autosave_path).flatten(),
                present: cli.present,
                renderer: cli.renderer,
            })
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand (`None`, the app, is opened by [`main`] only).
pub fn run(command: Option<Command>) -> anyhow::Result<()> {
    match command {
        Some(Command::Sample(args)) => sample::run(&args),
        Some(Command::Speciation(args)) => speciation::run(&args),
        Some(Command::Metrics(args)) => metrics::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Render(args)) => render::run(&args),
        Some(Command::Record(args)) => record::run(&args),
        Some(Command::Train(args)) => train::run(&args),
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::Sweep(args)) => sweep::run(&args),
        None => {
            anyhow::bail!("no subcommand given; run `diffscope` without arguments to open the app")
        }
    }
}

/// Set by Ctrl-C (SIGINT) once a command has asked for it (`train`, `record`: they stop cleanly and write
/// nothing). The handler is installed once per process; every run clears the flag first.
pub(crate) fn interrupted() -> &'static AtomicBool {
    static FLAG: AtomicBool = AtomicBool::new(false);
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        /// POSIX SIGINT (2 on every Unix).
        const SIGINT: std::ffi::c_int = 2;
        // SAFETY: the action only stores to an atomic, which is async-signal-safe.
        let installed = unsafe {
            signal_hook_registry::register(SIGINT, || FLAG.store(true, Ordering::SeqCst))
        };
        if let Err(e) = installed {
            eprintln!("warning: Ctrl-C will not stop this command cleanly: {e}");
        }
    });
    &FLAG
}

/// What a file given to the app or to `render` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    Scene(std::path::PathBuf),
    Session(std::path::PathBuf),
    Data(std::path::PathBuf),
}

/// Tells a file apart by its extension (and a `.json` by its session key); any other type is an error
/// saying what is accepted.
pub fn open_file(path: Option<&std::path::Path>) -> anyhow::Result<Option<Opened>> {
    let Some(path) = path else { return Ok(None) };
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let file = path.to_path_buf();
    // A folder is a sweep (`diffscope sweep run --out DIR`): the app shows it in the Theory tab.
    if path.is_dir() {
        crate::analysis::view_data::sweep::collect(path)?;
        return Ok(Some(Opened::Data(file)));
    }
    Ok(Some(match extension.as_str() {
        "json" if crate::session::is_session_file(path) => Opened::Session(file),
        "json" => Opened::Scene(file),
        "npy" | "safetensors" | "csv" => Opened::Data(file),
        _ => anyhow::bail!(
            "cannot open '{}': expected a scene or session (.json) or a data file (.npy, \
             .safetensors, .csv)",
            path.display()
        ),
    }))
}

/// Opens the desktop app (no subcommand).
fn open_app(options: crate::app::AppOptions) -> anyhow::Result<()> {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    // A screenshot of a scene or session that cannot be read fails here, before a window opens.
    if options.screenshot.is_some() || options.frame_stats.is_some() {
        if let Some(scene) = &options.scene {
            crate::scene::SceneFile::load(scene)?;
        }
        if let Some(session) = &options.session {
            crate::session::Session::load(session)?;
        }
    }
    // A data file that cannot be read fails here too: the window would have nothing to show.
    if let Some(data) = options.data.as_ref().filter(|d| !d.is_dir()) {
        crate::io::load_data(data)?;
    }
    Ok(crate::app::run(options)?)
}

/// An error and its causes on one line: "outer: inner: innermost".
fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}
