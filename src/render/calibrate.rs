//! Chooses the point renderer by measuring all three at start-up (issue #18). Sprites win on a hardware
//! rasteriser with few points, and a splat (on the GPU, or on the CPU when the GPU is itself software)
//! wins on a software one, but where one overtakes another depends on the machine, so the window
//! measures it instead of guessing from the adapter type.
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

/// Every renderer's frame time at one cloud size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DrawTiming {
    pub points: usize,
    /// Milliseconds a frame, in the order of [`PointRenderer::ALL`].
    pub ms: [f64; PointRenderer::ALL.len()],
}

/// What the start-up measurement found, and the policy it implies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    pub timings: [DrawTiming; 2],
}

impl Calibration {
    /// Measures every renderer at [`CALIBRATION_POINTS`] with `pipeline` (built with the splat), in a
    /// slot of its own that is freed afterwards; leaves the pipeline's policy to the caller.
    pub fn measure(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        format: wgpu::TextureFormat,
        pipeline: &mut PointPipeline,
    ) -> Result<Calibration, CalibrationError> {
        let mut timings = CALIBRATION_POINTS.map(|points| DrawTiming {
            points,
            ms: [f64::NAN; PointRenderer::ALL.len()],
        });
        let mut measured = Ok(());
        'sizes: for timing in &mut timings {
            let cloud = synthetic_cloud(timing.points);
            for (renderer, ms) in PointRenderer::ALL.into_iter().zip(&mut timing.ms) {
                pipeline.set_policy(RendererPolicy::always(renderer));
                let draws = Draws {
                    cloud: &cloud,
                    size_px: CALIBRATION_SIZE_PX,
                    frames: CALIBRATION_FRAMES,
                    slot: CALIBRATION_SLOT,
                };
                match time_draws(device, queue, format, pipeline, draws) {
                    Ok(time) => *ms = time,
                    Err(e) => {
                        measured = Err(e);
                        break 'sizes;
                    }
                }
            }
        }
        pipeline.remove(CALIBRATION_SLOT);
        measured.map(|()| Calibration { timings })
    }

    /// The renderer policy the figures imply, with frame time modelled as fixed + per-point cost for
    /// each renderer (a line through its two figures): at every point count the renderer whose line
    /// is lowest. Lines cross at most once, so each renderer gets at most one band of counts.
    pub fn policy(&self) -> RendererPolicy {
        let [small, large] = self.timings;
        let origin = small.points as f64;
        let lines = PointRenderer::ALL.map(|renderer| {
            let i = renderer as usize;
            // No renderer gets faster with more points: a falling line is timing noise on a
            // cost that barely grows at these sizes (the CPU splat's, a GPU's).
            let slope =
                ((large.ms[i] - small.ms[i]) / (large.points - small.points) as f64).max(0.0);
            (renderer, small.ms[i], slope)
        });
        let time = |(_, at_origin, slope): (PointRenderer, f64, f64), n: f64| {
            at_origin + slope * (n - origin)
        };
        // Where any two lines cross; a crossing far beyond the measured sizes is not one to trust
        // (two nearly parallel lines cross wherever timing noise puts them).
        let trusted = (large.points * MAX_EXTRAPOLATION) as f64;
        let mut cuts = vec![0.0];
        for (i, a) in lines.iter().enumerate() {
            for b in &lines[i + 1..] {
                let crossing = origin + (b.1 - a.1) / (a.2 - b.2);
                if crossing > 0.0 && crossing < trusted {
                    cuts.push(crossing);
                }
            }
        }
        cuts.sort_by(f64::total_cmp);
        let mut policy: Option<RendererPolicy> = None;
        for (k, &from) in cuts.iter().enumerate() {
            // No crossing lies inside a band, so its middle tells its winner.
            let middle = (from + cuts.get(k + 1).copied().unwrap_or(trusted)) / 2.0;
            let fastest = lines
                .into_iter()
                .min_by(|&a, &b| time(a, middle).total_cmp(&time(b, middle)))
                .map_or(PointRenderer::Sprites, |(renderer, ..)| renderer);
            policy = Some(match policy {
                None => RendererPolicy::always(fastest),
                Some(policy) => policy.then(from.round() as u32, fastest),
            });
        }
        policy.unwrap_or(RendererPolicy::always(PointRenderer::Sprites))
    }

    /// One line for the log and the About figures: both renderers' times and the choice.
    pub fn summary(&self) -> String {
        let figures: Vec<String> = self
            .timings
            .iter()
            .map(|t| {
                let each: Vec<String> = PointRenderer::ALL
                    .iter()
                    .zip(t.ms)
                    .map(|(renderer, ms)| format!("{} {ms:.1} ms", renderer.name()))
                    .collect();
                format!("{} points: {}", t.points, each.join(", "))
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
        let guess = RendererPolicy::always(choice.resolve(info.device_type, supported));
        if matches!(choice, RendererChoice::Splat | RendererChoice::CpuSplat) && !supported {
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
        // The measurement draws with every renderer through the pipeline the app then keeps, so
        // that their shaders are compiled once.
        let built_for = if measuring {
            RendererPolicy::always(PointRenderer::Splat)
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

    /// Figures at 10k and 100k points: (sprites, splat, CPU splat) milliseconds.
    fn calibration(small: [f64; 3], large: [f64; 3]) -> Calibration {
        Calibration {
            timings: [
                DrawTiming {
                    points: 10_000,
                    ms: small,
                },
                DrawTiming {
                    points: 100_000,
                    ms: large,
                },
            ],
        }
    }

    /// The policy follows the lowest line: one renderer where it wins at both sizes and grows no
    /// faster, and the crossings of the lines in between.
    #[test]
    fn the_policy_follows_the_measured_lines() {
        use PointRenderer::{CpuSplat, Splat, Sprites};
        // A CPU splat far slower than the rest and growing faster (a GPU's case).
        const SLOW: f64 = 1e3;
        const SLOWER: f64 = 2e3;
        // lavapipe-like, without the CPU splat: the splat wins everywhere (its fixed cost is lower).
        assert_eq!(
            calibration([9.0, 3.0, SLOW], [63.0, 12.0, SLOWER]).policy(),
            RendererPolicy::always(Splat)
        );
        // A GPU whose splat costs more at both sizes and grows faster, or as fast: sprites.
        for large in [[0.5, 1.0, SLOWER], [0.5, 0.75, SLOWER]] {
            assert_eq!(
                calibration([0.25, 0.5, SLOW], large).policy(),
                RendererPolicy::always(Sprites)
            );
        }
        // Growing a hair slower (timing noise) puts the crossing beyond any measured size: sprites.
        assert_eq!(
            calibration([0.25, 0.5, SLOW], [0.5, 0.7499, SLOWER]).policy(),
            RendererPolicy::always(Sprites)
        );
        // Sprites 1 + 0.1 ms per 1k points, splat 3 + 0.02 ms per 1k: equal at 25k points.
        assert_eq!(
            calibration([2.0, 3.2, SLOW], [11.0, 5.0, SLOWER]).policy(),
            RendererPolicy::always(Sprites).then(25_000, Splat)
        );
        // Three bands: sprites 1 + 0.1 ms per 1k, CPU splat 2 + 0.02 ms per 1k (equal at 12.5k),
        // splat 10 + 0.004 ms per 1k (below the CPU splat from 500k on).
        assert_eq!(
            calibration([2.0, 10.04, 2.2], [11.0, 10.4, 4.0]).policy(),
            RendererPolicy::always(Sprites)
                .then(12_500, CpuSplat)
                .then(500_000, Splat)
        );
    }

    /// A renderer measured faster at the larger size is taken as flat, not as getting faster
    /// forever (the start-up figures of lavapipe: the CPU splat 14.2 then 12.9 ms, the splat 32.0
    /// then 29.2 ms).
    #[test]
    fn falling_lines_are_flat() {
        use PointRenderer::{CpuSplat, Sprites};
        assert_eq!(
            calibration([10.0, 32.0, 14.2], [50.8, 29.2, 12.9]).policy(),
            RendererPolicy::always(Sprites).then(19_265, CpuSplat)
        );
    }

    /// Bands build up in order, a renderer repeated is one band, and a band starting at or before
    /// a later one replaces it.
    #[test]
    fn policies_pick_the_band_of_the_count() {
        use PointRenderer::{CpuSplat, Splat, Sprites};
        let policy = RendererPolicy::always(Sprites)
            .then(1_000, CpuSplat)
            .then(50_000, Splat);
        let expected = [
            (0, Sprites),
            (999, Sprites),
            (1_000, CpuSplat),
            (49_999, CpuSplat),
            (50_000, Splat),
            (10_000_000, Splat),
        ];
        for (points, renderer) in expected {
            assert_eq!(policy.renderer_for(points), renderer, "{points}");
        }
        assert_eq!(
            policy.describe(),
            "sprites below 1000 points, CPU splat from 1000 to 50000, splat from there on"
        );
        assert_eq!(
            RendererPolicy::always(Sprites).then(10, Sprites),
            RendererPolicy::always(Sprites)
        );
        assert_eq!(
            policy.then(500, Splat),
            RendererPolicy::always(Sprites).then(500, Splat)
        );
        assert_eq!(policy.then(0, CpuSplat), RendererPolicy::always(CpuSplat));
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
