//! `diffscope render SCENE|DATA|--session FILE --view manifold|speciation|metrics|theory|inspector --png
//! FILE`: draws one view of the app (for a session: with its camera, colours and selection; for a data
//! file — recorded trajectories or a point cloud — its points) offscreen with the same renderer
//! (egui-wgpu and our pipelines on a headless wgpu device, `app::offscreen`) after the jobs are done, and
//! writes a PNG at 1× or 2× pixel density; plots and the metric table also as SVG, CSV, JSON (and
//! Markdown for the table). `--step K` shows stored step K; the inspector shows the trajectory chosen by
//! `--select N` (or the session's selection).

use crate::app::export::{self, Format, PngSettings};
use crate::app::offscreen::OffscreenApp;
use crate::app::presentation::PresentTheme;
use crate::app::{AppOptions, RightTab, View};
use crate::cli::{Opened, open_file};
use crate::io::{DataFile, load_data};
use crate::scene::SceneFile;
use crate::session::Session;
use anyhow::bail;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The scene file (.json), or a data file: recorded trajectories ([N, S, d] .npy, .safetensors with
    /// 'trajectories') or a point cloud (.npy, .safetensors, .csv).
    #[arg(
        value_name = "FILE",
        required_unless_present = "session",
        conflicts_with = "session"
    )]
    pub scene: Option<PathBuf>,
    /// A session file (saved by the app) instead of a scene: the same figure, camera and selection.
    #[arg(long, value_name = "FILE")]
    pub session: Option<PathBuf>,
    /// Which view to draw.
    #[arg(long, value_enum)]
    pub view: ViewArg,
    /// Write the view as PNG here.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Write the plot or table as SVG here (speciation, metrics, theory, inspector).
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Write the plotted values (speciation, theory, inspector) or the table (metrics) as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the plotted values (speciation, theory, inspector) or the table (metrics) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the metric table as Markdown here (metrics).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Show stored step K (0 = the first, noisiest; default: the last).
    #[arg(long, value_name = "K")]
    pub step: Option<usize>,
    /// The trajectory the inspector shows (index into the sampled cloud; `--view inspector` only).
    #[arg(long, value_name = "N")]
    pub select: Option<usize>,
    /// Save the session of the rendered view here (scene, view settings, camera, selection), as the
    /// app's Save session would: it opens in the app, or renders again with --session.
    #[arg(long, value_name = "FILE")]
    pub save_session: Option<PathBuf>,
    /// Also measure the shipped DiT and Euler-Stack for the metric table (≈ 5 s in a release build).
    #[arg(long)]
    pub measure_models: bool,
    /// Width of the view in points; the PNG is width × scale pixels wide.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Height of the view in points; the PNG is height × scale pixels high.
    #[arg(long, default_value_t = 800)]
    pub height: u32,
    /// Pixel density of the PNG: 1 or 2 (the same layout with twice the pixels in each direction).
    #[arg(long, default_value_t = 1)]
    pub scale: u32,
    /// Draw the whole window in Present mode with this theme (caption, manifold view and time bar, and
    /// the view's panel beside them; `--view manifold` has none) instead of the view alone. PNG only.
    #[arg(long, value_name = "THEME")]
    pub present: Option<PresentTheme>,
    /// How the manifold view draws points: sprites, splat, cpu-splat or auto (the CPU splat on a CPU
    /// adapter such as lavapipe, sprites on a GPU).
    #[arg(long, value_enum, default_value_t)]
    pub renderer: crate::render::RendererChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ViewArg {
    Manifold,
    Speciation,
    Metrics,
    Theory,
    Inspector,
}

impl RenderArgs {
    /// The requested outputs, PNG first.
    fn outputs(&self) -> Vec<(Format, &PathBuf)> {
        [
            (Format::Png, &self.png),
            (Format::Svg, &self.svg),
            (Format::Csv, &self.csv),
            (Format::Json, &self.json),
            (Format::Markdown, &self.markdown),
        ]
        .into_iter()
        .filter_map(|(format, path)| path.as_ref().map(|p| (format, p)))
        .collect()
    }
}

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    // Read the scene, data or session first so a bad file is reported as such, not as a job failure.
    let opened = match (open_file(args.scene.as_deref())?, &args.session) {
        (Some(opened), None) => opened,
        (None, Some(session)) => Opened::Session(session.clone()),
        _ => bail!("give either a scene or data file, or --session FILE, not both"),
    };
    let (mut scene, mut data, mut session) = (None, None, None);
    match opened {
        Opened::Scene(path) => {
            SceneFile::load(&path)?;
            scene = Some(path);
        }
        // A sweep folder (checked by `open_file`): the Theory view draws its figure.
        Opened::Data(path) if path.is_dir() => data = Some(path),
        Opened::Data(path) => {
            // The file's steps are known now: a step past them fails before any job runs.
            let steps = match load_data(&path)? {
                DataFile::Recording(recording) => recording.steps,
                DataFile::Points(_) => 1,
            };
            if let Some(step) = args.step {
                check_step(step, steps)?;
            }
            data = Some(path);
        }
        Opened::Session(path) => {
            Session::load(&path)?;
            session = Some(path);
        }
    }
    let view = match args.view {
        ViewArg::Manifold => View::Manifold,
        ViewArg::Speciation => View::Speciation,
        ViewArg::Metrics => View::Metrics,
        ViewArg::Theory => View::Theory,
        ViewArg::Inspector => View::Inspector,
    };
    let outputs = args.outputs();
    if outputs.is_empty() && args.save_session.is_none() {
        bail!(
            "nothing to write: give at least one of --png, --svg, --csv, --json, --markdown, \
             --save-session"
        );
    }
    for (format, _) in &outputs {
        export::check(view, *format)?;
    }
    if args.measure_models && view != View::Metrics {
        bail!("--measure-models only applies to --view metrics");
    }
    if args.select.is_some() && view != View::Inspector {
        bail!("--select only applies to --view inspector");
    }
    let present_tab = match args.present {
        None => None,
        Some(_) if outputs.iter().any(|(format, _)| *format != Format::Png) => {
            bail!("--present draws a window: only --png applies")
        }
        Some(_) => Some(match view {
            View::Manifold => RightTab::Inspector,
            View::Speciation => RightTab::Speciation,
            View::Metrics => RightTab::Metrics,
            View::Theory => RightTab::Theory,
            View::Inspector => bail!("--present shows the speciation, theory or metrics panel"),
        }),
    };
    let settings = PngSettings {
        width: args.width,
        height: args.height,
        scale: args.scale,
    };
    settings.validate()?;
    let options = AppOptions {
        scene,
        data,
        session,
        solo: present_tab.is_none().then_some(view),
        present: args.present,
        renderer: args.renderer,
        ..AppOptions::default()
    };
    let measure_models = args.measure_models;
    let mut harness = OffscreenApp::new(settings.frame()?, options, |app| {
        if measure_models {
            app.measure_models();
        }
        if let Some(tab) = present_tab {
            app.views.right_tab = tab;
        }
    })?;
    harness.wait_for_results(&|| false)?;
    if let Some(step) = args.step {
        show_step(&mut harness, step)?;
    }
    if view == View::Inspector {
        select(&mut harness, args.select)?;
    }
    for (format, path) in outputs {
        match format {
            Format::Png => export::save_png(&mut harness, path)?,
            _ => export::write_data(harness.state(), view, format, path)?,
        }
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.save_session {
        harness.state().session().save(path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Shows stored step `step` of the cloud, or of a token scene's run (its time bar alone moves).
fn show_step(harness: &mut OffscreenApp, step: usize) -> anyhow::Result<()> {
    let app = harness.state_mut();
    if let Some(tokens) = app.results.tokens.clone() {
        check_step(step, tokens.steps())?;
        app.views.timeline.playing = false;
        app.views.timeline.step = step;
        return Ok(());
    }
    if harness.show_step(step).is_none() {
        check_step(step, harness.stored_steps())?;
    }
    Ok(())
}

/// Refuses `--step K` past the `steps` stored.
fn check_step(step: usize, steps: usize) -> anyhow::Result<()> {
    if step >= steps {
        bail!(
            "--step {step} is out of range: the run has {steps} stored steps (0 to {})",
            steps.saturating_sub(1)
        );
    }
    Ok(())
}

/// Shows trajectory `chosen` (else keeps the session's selection) in the inspector; refuses an index
/// outside the cloud and an inspector with nothing selected.
fn select(harness: &mut OffscreenApp, chosen: Option<usize>) -> anyhow::Result<()> {
    let app = harness.state_mut();
    let n = app.results.cloud.as_ref().map_or(0, |c| c.trajectories.n);
    match chosen {
        Some(i) if i >= n => bail!("--select {i} is out of range: the cloud has {n} trajectories"),
        Some(i) => app.views.manifold.settings.selected = Some(i),
        None if app.views.manifold.settings.selected.is_none() => {
            bail!(
                "the inspector needs a trajectory: give --select N (or a session with a selection)"
            )
        }
        None => {}
    }
    if let Some(reason) = export::not_ready(app, View::Inspector) {
        bail!("the inspector has nothing to show: {reason}");
    }
    Ok(())
}
