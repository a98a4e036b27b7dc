//! Benchmarks of the point renderers alone (issue #18): the GPU time of one frame drawing a synthetic
//! cloud with each renderer into an offscreen 1024×768 texture, the camera orbiting, without the window
//! system's present and egui's own pass (the `frame_` rows measure those too). The same timing
//! chooses the renderer at start-up ([`crate::render::calibrate`]).

use super::{Bench, Figure};
use crate::render::calibrate::{Draws, synthetic_cloud, time_draws};
use crate::render::{PointPipeline, PointRenderer, RendererPolicy};

/// The offscreen target: the frame benchmarks' window size.
const SIZE_PX: [u32; 2] = [1024, 768];
/// Timed frames per figure (after one warm-up frame); the median is reported.
const FRAMES: usize = 5;

macro_rules! draw_bench {
    ($name:literal, $renderer:expr, $points:expr) => {
        Bench {
            name: $name,
            run: || draw($name, $renderer, $points),
        }
    };
}

pub fn benches() -> Vec<Bench> {
    vec![
        draw_bench!("draw_sprites_100k", PointRenderer::Sprites, 100_000),
        draw_bench!("draw_splat_100k", PointRenderer::Splat, 100_000),
        draw_bench!("draw_sprites_1m", PointRenderer::Sprites, 1_000_000),
        draw_bench!("draw_splat_1m", PointRenderer::Splat, 1_000_000),
        draw_bench!("draw_splat_10m", PointRenderer::Splat, 10_000_000),
        draw_bench!("draw_cpu_splat_100k", PointRenderer::CpuSplat, 100_000),
        draw_bench!("draw_cpu_splat_1m", PointRenderer::CpuSplat, 1_000_000),
        draw_bench!("draw_cpu_splat_10m", PointRenderer::CpuSplat, 10_000_000),
    ]
}

fn draw(name: &'static str, renderer: PointRenderer, points: usize) -> anyhow::Result<Figure> {
    let state = crate::render::gpu::headless_render_state().map_err(anyhow::Error::msg)?;
    let cloud = synthetic_cloud(points);
    let (device, format) = (&state.device, state.target_format);
    let mut pipeline = PointPipeline::new(device, format, RendererPolicy::always(renderer));
    let draws = Draws {
        cloud: &cloud,
        size_px: SIZE_PX,
        frames: FRAMES,
        slot: 0,
    };
    let ms = time_draws(device, &state.queue, format, &mut pipeline, draws)?;
    let adapter = state.adapter.get_info().name;
    Ok(Figure {
        name,
        inputs: format!(
            "{points} points drawn as {}, 3-D camera orbiting, offscreen {}x{} on {adapter}, median \
             of {FRAMES} frames",
            renderer.name(),
            SIZE_PX[0],
            SIZE_PX[1]
        ),
        seconds: ms / 1e3,
        target_seconds: None,
    })
}
