//! Chooses the point renderer by measuring both at start-up (issue #18). Sprites win on a hardware
//! rasteriser with few points and the splat wins on a software one, but where one overtakes the other
//! depends on the machine, so the window measures it instead of guessing from the adapter type.
//!
//! A synthetic cloud of two blobs is drawn at two sizes with each renderer, through the app's own
//! draw path ([`PointsCallback`]: layer plan, uploads, compute and render passes) into an offscreen
//! texture. The camera orbits a little every frame, so every frame draws every point, as while a user
//! drags a 3-D view. Each figure is the median time from recording to the GPU going idle. The same
//! timing backs `bench --filter draw_`, which leaves out the window system.

use super::RendererChoice;
use super::colormap::PointColoring;
use super::gpu;
use super::points::{PointData, PointInstance, PointPipeline, PointRenderer, PointsCallback};
use super::splat::SplatPipeline;
use super::{Orbit, RendererPolicy};
use eframe::egui_wgpu::{self, wgpu};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The sizes of the start-up cloud: the small one is where a GPU's sprites win, the large one is
/// large enough that per-point costs dominate, and small enough that sprites on lavapipe (≈ 1 µs a
/// point) keep the measurement short: it is logged with its duration.
pub const CALIBRATION_POINTS: [usize; 2] = [4_000, 32_000];
/// How far beyond the large size a crossing is believed (32M points).
const MAX_EXTRAPOLATION: usize = 1000;
/// The pipeline slot the start-up measurement draws in (the views number theirs from 0).
const CALIBRATION_SLOT: u64 = u64::MAX;
/// The offscreen target of the start-up measurement (about a manifold view in a laptop window).
const CALIBRATION_SIZE_PX: [u32; 2] = [640, 480];
/// Timed frames per figure at start-up, after one untimed warm-up frame.
const CALIBRATION_FRAMES: usize = 2;
/// The point radius of the measurement: the manifold view's default.
const RADIUS_PX: f32 = 2.5;
/// A frame that has not finished by then is an error (a hung driver), not a figure.
const GPU_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a measurement has no figure.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("the GPU did not finish a measured frame: {0}")]
    Poll(#[from] wgpu::PollError),
}

/// Both renderers' frame time at one cloud size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrawTiming {
    pub points: usize,
    pub sprites_ms: f64,
    pub splat_ms: f64,
}

/// What the start-up measurement found, and the policy it implies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    pub timings: [DrawTiming; 2],
}

impl Calibration {
    /// Measures both renderers at [`CALIBRATION_POINTS`] with `pipeline` (built with both), in a
    /// slot of its own that is freed afterwards; leaves the pipeline's policy to the caller.
    pub fn measure(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        format: wgpu::TextureFormat,
        pipeline: &mut PointPipeline,
    ) -> Result<Calibration, CalibrationError> {
        let mut timings = CALIBRATION_POINTS.map(|points| DrawTiming {
            points,
            sprites_ms: 0.0,
            splat_ms: 0.0,
        });
        let mut measured = Ok(());
        for timing in &mut timings {
            let cloud = synthetic_cloud(timing.points);
            let mut time = |renderer| {
                pipeline.set_policy(RendererPolicy::Always(renderer));
                let draws = Draws {
                    cloud: &cloud,
                    size_px: CALIBRATION_SIZE_PX,
                    frames: CALIBRATION_FRAMES,
                    slot: CALIBRATION_SLOT,
                };
                time_draws(device, queue, format, pipeline, draws)
            };
            match (time(PointRenderer::Sprites), time(PointRenderer::Splat)) {
                (Ok(sprites), Ok(splat)) => (timing.sprites_ms, timing.splat_ms) = (sprites, splat),
                (Err(e), _) | (_, Err(e)) => {
                    measured = Err(e);
                    break;
                }
            }
        }
        pipeline.remove(CALIBRATION_SLOT);
        measured.map(|()| Calibration { timings })
    }

    /// The renderer policy the figures imply, with frame time modelled as fixed + per-point cost for
    /// each renderer (a line through the two figures): the splat from the size where its line drops
    /// below the sprites' line, or never when it does not.
    pub fn policy(&self) -> RendererPolicy {
        let [small, large] = self.timings;
        let slope = |a: f64, b: f64| (b - a) / (large.points - small.points) as f64;
        let sprites_slope = slope(small.sprites_ms, large.sprites_ms);
        let splat_slope = slope(small.splat_ms, large.splat_ms);
        if small.splat_ms <= small.sprites_ms && large.splat_ms <= large.sprites_ms {
            return RendererPolicy::SplatFrom(0);
        }
        // Lines cross at the size where sprites' extra per-point cost pays for the splat's extra
        // fixed cost (beyond the small size, since the splat lost there). A splat that grows at least
        // as fast never catches up, and a crossing far beyond the measured sizes is not one to trust.
        let gap = small.splat_ms - small.sprites_ms;
        let crossing = small.points as f64 + gap / (sprites_slope - splat_slope);
        let trusted = (large.points * MAX_EXTRAPOLATION) as f64;
        if splat_slope >= sprites_slope || crossing > trusted {
            return RendererPolicy::Always(PointRenderer::Sprites);
        }
        RendererPolicy::SplatFrom(crossing.round() as u32)
    }

    /// One line for the log and the About figures: both renderers' times and the choice.
    pub fn summary(&self) -> String {
        let figures: Vec<String> = self
            .timings
            .iter()
            .map(|t| {
                format!(
                    "{} points: sprites {:.1} ms, splat {:.1} ms",
                    t.points, t.sprites_ms, t.splat_ms
                )
            })
            .collect();
        format!(
            "measured at start-up ({}×{} px): {}; {}",
            CALIBRATION_SIZE_PX[0],
            CALIBRATION_SIZE_PX[1],
            figures.join("; "),
            self.policy().describe()
        )
    }
}

impl PointPipeline {
    /// Installs the pipeline into egui-wgpu's renderer (once, at app start) with the policy `choice`
    /// comes to on this adapter, which it logs and returns. `Auto` measures both renderers when
    /// `measure` is set (the window: [`super::calibrate`]) and otherwise follows the adapter type, so
    /// that offscreen images never depend on a timing.
    pub fn install(
        render_state: &egui_wgpu::RenderState,
        choice: RendererChoice,
        measure: bool,
    ) -> RendererPolicy {
        let info = render_state.adapter.get_info();
        let supported = SplatPipeline::supported(&render_state.adapter, &render_state.device);
        let guess = RendererPolicy::Always(choice.resolve(info.device_type, supported));
        if choice == RendererChoice::Splat && !supported {
            log::warn!(
                "the splat point renderer needs compute shaders and storage buffers, which {} lacks: \
                 drawing sprites",
                info.name
            );
        }
        let (device, queue, format) = (
            &render_state.device,
            &render_state.queue,
            render_state.target_format,
        );
        let measuring = choice == RendererChoice::Auto && supported && measure;
        // The measurement draws with both renderers through the pipeline the app then keeps, so
        // that their shaders are compiled once.
        let built_for = if measuring {
            RendererPolicy::SplatFrom(0)
        } else {
            guess
        };
        let mut pipeline = PointPipeline::new(device, format, built_for);
        let started = std::time::Instant::now();
        let policy =
            match measuring.then(|| Calibration::measure(device, queue, format, &mut pipeline)) {
                None => guess,
                Some(Ok(calibration)) => {
                    log::info!(
                        "point renderer {} (the measurement took {:.2} s)",
                        calibration.summary(),
                        started.elapsed().as_secs_f64()
                    );
                    calibration.policy()
                }
                Some(Err(e)) => {
                    log::warn!(
                        "could not measure the point renderers ({e}): {}",
                        guess.describe()
                    );
                    guess
                }
            };
        pipeline.set_policy(policy);
        log::info!(
            "point renderer: {} ({choice:?} on {} adapter {})",
            policy.describe(),
            format!("{:?}", info.device_type).to_lowercase(),
            info.name
        );
        gpu::install(render_state, |_, _| pipeline);
        policy
    }
}

/// What [`time_draws`] draws: a cloud into a target of `size_px`, `frames` timed frames after one
/// warm-up frame, in pipeline slot `slot`.
pub struct Draws<'a> {
    pub cloud: &'a PointData,
    pub size_px: [u32; 2],
    pub frames: usize,
    pub slot: u64,
}

/// The median time of `draws.frames` frames (after one warm-up frame) drawing the cloud with
/// `pipeline` into a texture of `format`, the camera orbiting a little every frame.
pub fn time_draws(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    format: wgpu::TextureFormat,
    pipeline: &mut PointPipeline,
    draws: Draws<'_>,
) -> Result<f64, CalibrationError> {
    let Draws {
        cloud,
        size_px,
        frames,
        slot,
    } = draws;
    let target = gpu::texture_2d(
        device,
        "diffscope renderer measurement",
        size_px,
        format,
        wgpu::TextureUsages::RENDER_ATTACHMENT,
    )
    .create_view(&wgpu::TextureViewDescriptor::default());
    let aspect = size_px[0] as f32 / size_px[1] as f32;
    let mut orbit = Orbit::fit(glam::Vec3::splat(-1.5), glam::Vec3::splat(1.5));
    let mut times = Vec::with_capacity(frames);
    for frame in 0..=frames {
        orbit.rotate(glam::Vec2::new(7.0, 0.0));
        let callback = PointsCallback {
            slot,
            data: cloud.clone(),
            view_proj: orbit.view_proj(aspect),
            radius_px: RADIUS_PX,
            coloring: PointColoring::Class,
            opacity: 0.85,
        };
        let start = Instant::now();
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("diffscope renderer measurement"),
        });
        callback.record(pipeline, device, queue, &mut encoder, &target, size_px);
        let submission = queue.submit([encoder.finish()]);
        device.poll(wgpu::PollType::Wait {
            submission_index: Some(submission),
            timeout: Some(GPU_TIMEOUT),
        })?;
        if frame > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or(f64::NAN))
}

/// `n` points in two blobs of the view's unit cube, classes alternating, deterministic: the shape of
/// the frame benchmarks' synthetic cloud without its random streams (golden-ratio sequences fill each
/// blob evenly).
pub fn synthetic_cloud(n: usize) -> PointData {
    const GOLDEN: [f64; 3] = [
        0.819_172_513_396_164_4,
        0.671_043_606_703_789_2,
        0.549_700_477_901_970_4,
    ];
    let instances = (0..n)
        .map(|i| {
            let u = GOLDEN.map(|g| (0.5 + g * i as f64).fract());
            // A point of the unit ball: radius by the cube root (even volume density), direction by
            // two angles.
            let radius = u[0].cbrt();
            let z = 2.0 * u[1] - 1.0;
            let ring = (1.0 - z * z).sqrt();
            let angle = std::f64::consts::TAU * u[2];
            let centre = if i % 2 == 0 { 0.6 } else { -0.6 };
            PointInstance {
                position: [
                    (centre + 0.8 * radius * ring * angle.cos()) as f32,
                    (0.6 * radius * ring * angle.sin()) as f32,
                    (0.4 * radius * z) as f32,
                ],
                value: (i % 2) as f32,
            }
        })
        .collect();
    PointData {
        // Counted down from the top, so that it never meets a view's generation (counted up from 0).
        generation: u64::MAX - n as u64,
        instances: Arc::new(instances),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calibration(small: (f64, f64), large: (f64, f64)) -> Calibration {
        Calibration {
            timings: [
                DrawTiming {
                    points: 10_000,
                    sprites_ms: small.0,
                    splat_ms: small.1,
                },
                DrawTiming {
                    points: 100_000,
                    sprites_ms: large.0,
                    splat_ms: large.1,
                },
            ],
        }
    }

    /// The policy follows the two lines: always the splat where it wins at both sizes, sprites where
    /// it loses at both and grows faster, and the crossing of the lines in between.
    #[test]
    fn the_policy_follows_the_measured_lines() {
        // lavapipe-like: the splat wins everywhere.
        assert_eq!(
            calibration((6.0, 3.0), (60.0, 12.0)).policy(),
            RendererPolicy::SplatFrom(0)
        );
        // A GPU whose splat costs more at both sizes and grows faster, or as fast: sprites.
        for large in [(0.5, 1.0), (0.5, 0.75)] {
            assert_eq!(
                calibration((0.25, 0.5), large).policy(),
                RendererPolicy::Always(PointRenderer::Sprites)
            );
        }
        // Growing a hair slower (timing noise) puts the crossing beyond any measured size: sprites.
        assert_eq!(
            calibration((0.25, 0.5), (0.5, 0.7499)).policy(),
            RendererPolicy::Always(PointRenderer::Sprites)
        );
        // Sprites 1 + 0.1 ms per 1k points, splat 3 + 0.02 ms per 1k: equal at 25k points.
        assert_eq!(
            calibration((2.0, 3.2), (11.0, 5.0)).policy(),
            RendererPolicy::SplatFrom(25_000)
        );
    }

    /// The synthetic cloud fills both blobs (no point far outside them) with alternating classes.
    #[test]
    fn the_synthetic_cloud_is_two_blobs() {
        let cloud = synthetic_cloud(1_000);
        assert_eq!(cloud.instances.len(), 1_000);
        for (i, p) in cloud.instances.iter().enumerate() {
            let centre = if i % 2 == 0 { 0.6 } else { -0.6 };
            let scaled = [
                (p.position[0] - centre) / 0.8,
                p.position[1] / 0.6,
                p.position[2] / 0.4,
            ];
            let r2: f32 = scaled.iter().map(|v| v * v).sum();
            assert!(r2 <= 1.0 + 1e-5, "point {i} at {:?}", p.position);
            assert_eq!(p.value, (i % 2) as f32);
        }
    }
}
