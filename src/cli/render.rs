//! `diffscope render SCENE --view manifold|speciation|metrics|theory --png FILE`: draws one view of the app
//! offscreen with the same renderer (egui + our wgpu pipelines on a headless wgpu device, through
//! egui_kittest's offscreen harness), after the scene's jobs are done, and writes a PNG.

use crate::app::{AppOptions, DiffscopeApp, View};
use crate::scene::Scene;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use egui_kittest::Harness;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The scene file (.json).
    pub scene: PathBuf,
    /// Which view to draw.
    #[arg(long, value_enum)]
    pub view: ViewArg,
    /// Where to write the PNG.
    #[arg(long)]
    pub png: PathBuf,
    /// Width of the image in pixels.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Height of the image in pixels.
    #[arg(long, default_value_t = 800)]
    pub height: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ViewArg {
    Manifold,
    Speciation,
    Metrics,
    Theory,
}

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    // Read the scene first so a bad file is reported as such, not as a job failure.
    Scene::load(&args.scene)?;
    if !(16..=8192).contains(&args.width) || !(16..=8192).contains(&args.height) {
        bail!("--width and --height must lie in 16..=8192 pixels");
    }
    let view = match args.view {
        ViewArg::Manifold => View::Manifold,
        ViewArg::Speciation => View::Speciation,
        ViewArg::Metrics => View::Metrics,
        ViewArg::Theory => View::Theory,
    };
    let options = AppOptions {
        scene: Some(args.scene.clone()),
        screenshot: None,
        solo: Some(view),
        frame_stats: None,
    };
    let size = [args.width as f32, args.height as f32];
    // The harness panics when no wgpu adapter exists; report that as one line.
    let mut harness = catch_unwind(AssertUnwindSafe(|| {
        Harness::builder()
            .with_size(size)
            .wgpu()
            .build_eframe(move |cc| DiffscopeApp::new(cc, options))
    }))
    .map_err(|_| anyhow::anyhow!("no usable wgpu adapter for offscreen rendering"))?;
    loop {
        harness.step();
        let app = harness.state();
        if let Some(error) = app.jobs.errors().first() {
            bail!("{error}");
        }
        if app.jobs.idle() && app.cloud.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(3);
    let image = harness
        .render()
        .map_err(|e| anyhow::anyhow!("offscreen rendering failed: {e}"))?;
    image
        .save_with_format(&args.png, image::ImageFormat::Png)
        .with_context(|| format!("could not write {}", args.png.display()))?;
    Ok(())
}
