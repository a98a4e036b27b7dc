//! The point pipeline on a real wgpu device (lavapipe here; no adapter fails the test): points land
//! where the camera puts them, in the palette colour of their class or the colormap colour of their value,
//! and nothing is drawn elsewhere; the sprites are drawn into their offscreen layer only when the points,
//! the camera or the style change. The splat renderer (issue #18) draws what the sprites draw where discs
//! do not overlap, the union of the same discs where they do, and the nearest point in 3-D; the CPU splat
//! draws what the GPU splat draws.

use diffscope::render::camera::{PanZoom, to_screen};
use diffscope::render::colormap::{Colormap, ColormapSpan, class_rgb8};
use diffscope::render::{
    PointColoring, PointData, PointInstance, PointPipeline, PointRenderer, PointsCallback,
    RendererChoice, RendererPolicy, paint_callback,
};
use eframe::egui_wgpu;
use egui_kittest::Harness;
use std::sync::Arc;

struct PointsApp {
    coloring: PointColoring,
    instances: Arc<Vec<PointInstance>>,
    generation: u64,
    camera: PanZoom,
    /// Where the view starts in the window (the window is `SIZE` + twice this on each axis).
    pad: f32,
}

const SIZE: f32 = 200.0;
const RADIUS: f32 = 6.0;
const SLOT: u64 = 7;

impl eframe::App for PointsApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let rect =
            egui::Rect::from_min_size(egui::pos2(self.pad, self.pad), egui::vec2(SIZE, SIZE));
        ui.painter().rect_filled(rect, 0.0, egui::Color32::BLACK);
        ui.painter().add(paint_callback(
            rect,
            PointsCallback {
                slot: SLOT,
                data: PointData {
                    generation: self.generation,
                    instances: Arc::clone(&self.instances),
                },
                view_proj: self.camera.view_proj(1.0),
                radius_px: RADIUS,
                coloring: self.coloring,
                opacity: 1.0,
            },
        ));
    }
}

fn camera() -> PanZoom {
    PanZoom {
        center: glam::Vec2::ZERO,
        half_height: 1.0,
    }
}

/// A sprite harness drawing `instances`, and the renderer state holding the point pipeline.
fn harness(
    coloring: PointColoring,
    instances: Vec<PointInstance>,
) -> (Harness<'static, PointsApp>, egui_wgpu::RenderState) {
    harness_with(RendererChoice::Sprites, 0.0, coloring, instances)
}

/// A harness drawing `instances` with `renderer` in a view `pad` pixels from the window's corner.
fn harness_with(
    renderer: RendererChoice,
    pad: f32,
    coloring: PointColoring,
    instances: Vec<PointInstance>,
) -> (Harness<'static, PointsApp>, egui_wgpu::RenderState) {
    let instances = Arc::new(instances);
    let (sender, receiver) = std::sync::mpsc::channel();
    let harness = Harness::builder()
        .with_size([SIZE + 2.0 * pad, SIZE + 2.0 * pad])
        .wgpu()
        .build_eframe(move |cc| {
            let state = cc
                .wgpu_render_state
                .clone()
                .expect("a wgpu adapter (lavapipe)");
            let chosen = PointPipeline::install(&state, renderer, false);
            let expected = match renderer {
                RendererChoice::Splat => PointRenderer::Splat,
                RendererChoice::CpuSplat => PointRenderer::CpuSplat,
                _ => PointRenderer::Sprites,
            };
            assert_eq!(
                chosen,
                RendererPolicy::always(expected),
                "lavapipe runs every renderer"
            );
            sender.send(state).expect("the test holds the receiver");
            PointsApp {
                coloring,
                instances,
                generation: 1,
                camera: camera(),
                pad,
            }
        });
    let state = receiver.recv().expect("the app was built");
    (harness, state)
}

fn render_with(
    renderer: RendererChoice,
    coloring: PointColoring,
    instances: Vec<PointInstance>,
) -> image::RgbaImage {
    let (mut harness, _) = harness_with(renderer, 0.0, coloring, instances);
    harness.run_steps(2);
    harness.render().expect("wgpu render")
}

/// Every renderer `--renderer` can force.
const RENDERERS: [RendererChoice; 3] = [
    RendererChoice::Sprites,
    RendererChoice::Splat,
    RendererChoice::CpuSplat,
];

fn pixel_at(image: &image::RgbaImage, x: f32, y: f32) -> [u8; 3] {
    let p = image.get_pixel(x.round() as u32, y.round() as u32).0;
    [p[0], p[1], p[2]]
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= tolerance)
}

fn screen(p: [f32; 3]) -> glam::Vec2 {
    to_screen(
        &camera().view_proj(1.0),
        glam::Vec3::from(p),
        glam::Vec2::splat(SIZE),
    )
    .unwrap()
}

#[test]
fn class_points_are_drawn_in_their_palette_colour_where_the_camera_puts_them() {
    let points = [[-0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, -0.5, 0.0]];
    let instances: Vec<PointInstance> = points
        .iter()
        .enumerate()
        .map(|(k, &position)| PointInstance {
            position,
            value: k as f32,
        })
        .collect();
    for renderer in RENDERERS {
        check_class_points(
            render_with(renderer, PointColoring::Class, instances.clone()),
            &points,
        );
    }
}

fn check_class_points(image: image::RgbaImage, points: &[[f32; 3]]) {
    for (k, &p) in points.iter().enumerate() {
        let s = screen(p);
        let got = pixel_at(&image, s.x, s.y);
        // The centre of an opaque sprite is exactly the palette colour (8-bit rounding only).
        assert!(close(got, class_rgb8(k), 2), "class {k} at {s}: {got:?}");
        // Outside the radius (plus the 1 px rim) the background shows.
        let outside = pixel_at(&image, s.x + RADIUS + 3.0, s.y);
        assert!(
            close(outside, [0, 0, 0], 2),
            "class {k} bleeds: {outside:?}"
        );
    }
    // The empty centre of the view stays background.
    assert!(close(
        pixel_at(&image, SIZE / 2.0, SIZE / 2.0),
        [0, 0, 0],
        2
    ));
}

#[test]
fn scalar_points_use_the_same_colormap_as_the_cpu() {
    let values = [0.0f32, 0.5, 1.0];
    let points = [[-0.6, 0.0, 0.0], [0.0, 0.0, 0.0], [0.6, 0.0, 0.0]];
    let instances: Vec<PointInstance> = points
        .iter()
        .zip(values)
        .map(|(&position, value)| PointInstance { position, value })
        .collect();
    for (map, renderer) in Colormap::ALL
        .into_iter()
        .flat_map(|map| RENDERERS.map(|renderer| (map, renderer)))
    {
        let image = render_with(
            renderer,
            PointColoring::Scalar(map, ColormapSpan::FULL),
            instances.clone(),
        );
        for (&p, &v) in points.iter().zip(&values) {
            let s = screen(p);
            let got = pixel_at(&image, s.x, s.y);
            // The WGSL and Rust fits agree to 8-bit rounding; f32 evaluation order may differ by 1.
            assert!(
                close(got, map.rgb8(v), 2),
                "{} at {v}: {got:?} vs {:?}",
                map.name(),
                map.rgb8(v)
            );
        }
    }
}

/// Frames that change nothing only composite the sprite layer; a change of points or colouring is drawn
/// straight into egui's pass on the frame it happens (inputs that change every frame are never cached),
/// a 2-D pan composites the layer shifted, and either redraws the layer once on the next frame, when it
/// has settled. Every frame shows the point in its current colour. Counted by the pipeline, so no
/// timing is involved.
#[test]
fn the_sprite_layer_is_redrawn_exactly_when_its_inputs_change() {
    let instances = vec![PointInstance {
        position: [0.2, -0.3, 0.0],
        value: 1.0,
    }];
    let (mut harness, state) = harness(PointColoring::Class, instances);
    let redraws = || {
        state
            .renderer
            .read()
            .callback_resources
            .get::<PointPipeline>()
            .expect("installed")
            .redraws(SLOT)
    };
    // One frame: the colour at the point's centre.
    let frame = |harness: &mut Harness<'static, PointsApp>| {
        harness.run();
        let image = harness.render().expect("wgpu render");
        let s = to_screen(
            &harness.state().camera.view_proj(1.0),
            glam::Vec3::new(0.2, -0.3, 0.0),
            glam::Vec2::splat(SIZE),
        )
        .unwrap();
        pixel_at(&image, s.x, s.y)
    };
    // Frames with the same inputs: drawn once, then composited.
    let still = |harness: &mut Harness<'static, PointsApp>, colour: [u8; 3], redrawn: u64| {
        for _ in 0..2 {
            assert!(close(frame(harness), colour, 2));
            assert_eq!(redraws(), redrawn);
        }
    };
    still(&mut harness, class_rgb8(1), 1);
    harness.state_mut().camera.center = glam::Vec2::new(0.3, 0.1);
    assert!(
        close(frame(&mut harness), class_rgb8(1), 2),
        "the layer composited where the panned camera puts the point"
    );
    assert_eq!(redraws(), 1);
    still(&mut harness, class_rgb8(1), 2);
    harness.state_mut().coloring = PointColoring::Scalar(Colormap::Magma, ColormapSpan::FULL);
    assert!(close(frame(&mut harness), Colormap::Magma.rgb8(1.0), 2));
    still(&mut harness, Colormap::Magma.rgb8(1.0), 3);
    let app = harness.state_mut();
    app.instances = Arc::new(vec![PointInstance {
        position: [0.2, -0.3, 0.0],
        value: 0.0,
    }]);
    app.generation = 2;
    assert!(close(frame(&mut harness), Colormap::Magma.rgb8(0.0), 2));
    still(&mut harness, Colormap::Magma.rgb8(0.0), 4);
}

/// A 2-D pan by whole pixels composites the layer drawn before the pan, shifted; that frame must
/// match the sprites drawn afresh for the panned camera, including the band the pan reveals (drawn in
/// the layer's margin). Only f32 rounding of the camera maps separates the two, so a handful of rim
/// pixels may differ by a few levels.
#[test]
fn a_reprojected_pan_matches_the_sprites_drawn_for_the_panned_camera() {
    // A deterministic scatter over the view and beyond its left edge (revealed by the pan).
    let instances: Vec<PointInstance> = (0..300u32)
        .map(|i| {
            let u = (i as f32 * 0.618_034).fract();
            let v = (i as f32 * 0.754_878).fract();
            PointInstance {
                position: [-1.4 + 2.3 * u, -0.95 + 1.9 * v, 0.0],
                value: (i % 3) as f32,
            }
        })
        .collect();
    // 7 pixels to the left: the view is 2 data units over SIZE pixels.
    let panned = PanZoom {
        center: glam::Vec2::new(-7.0 * 2.0 / SIZE, 0.0),
        half_height: 1.0,
    };
    let (mut moving, state) = harness(PointColoring::Class, instances.clone());
    // Frames are painted (and the layer planned) by `render`.
    moving.run();
    moving.render().expect("wgpu render");
    moving.state_mut().camera = panned;
    moving.run();
    let reprojected = moving.render().expect("wgpu render");
    let pipeline = || {
        let renderer = state.renderer.read();
        let p = renderer.callback_resources.get::<PointPipeline>().unwrap();
        (p.redraws(SLOT), p.reprojections(SLOT))
    };
    assert_eq!(
        pipeline(),
        (1, 1),
        "one layer drawn, then composited panned"
    );

    let (mut fresh, _) = harness(PointColoring::Class, instances);
    fresh.state_mut().camera = panned;
    fresh.run_steps(2);
    let drawn = fresh.render().expect("wgpu render");

    let differing = reprojected
        .pixels()
        .zip(drawn.pixels())
        .filter(|(a, b)| a.0.iter().zip(&b.0).any(|(x, y)| x.abs_diff(*y) > 3))
        .count();
    // The revealed band (x < 7) holds sprites, so a blank band would fail this by hundreds of pixels.
    let band_lit = (0..7)
        .flat_map(|x| (0..SIZE as u32).map(move |y| (x, y)))
        .filter(|&(x, y)| drawn.get_pixel(x, y).0[..3].iter().any(|&c| c > 40))
        .count();
    assert!(
        band_lit > 50,
        "the test needs sprites in the revealed band: {band_lit}"
    );
    assert!(
        differing <= 40,
        "{differing} of {} pixels differ",
        SIZE * SIZE
    );
}

/// Pixels where two images differ by more than `tolerance` in some channel.
fn differing(a: &image::RgbaImage, b: &image::RgbaImage, tolerance: u8) -> usize {
    a.pixels()
        .zip(b.pixels())
        .filter(|(p, q)| {
            p.0.iter()
                .zip(&q.0)
                .any(|(x, y)| x.abs_diff(*y) > tolerance)
        })
        .count()
}

/// Pixels where anything but the black background shows.
fn lit(image: &image::RgbaImage) -> Vec<bool> {
    image
        .pixels()
        .map(|p| p.0[..3].iter().any(|&c| c > 8))
        .collect()
}

/// The frame with the inputs settled (drawn into the offscreen layer and composited), then the frame
/// after the points changed (drawn straight into egui's pass, `pad` pixels into the window).
fn layer_and_direct_frames(
    renderer: RendererChoice,
    coloring: PointColoring,
    instances: &[PointInstance],
) -> [image::RgbaImage; 2] {
    const PAD: f32 = 13.0;
    let (mut harness, state) = harness_with(renderer, PAD, coloring, instances.to_vec());
    harness.run_steps(2);
    let layer = harness.render().expect("wgpu render");
    harness.state_mut().generation = 2;
    harness.run();
    let direct = harness.render().expect("wgpu render");
    let renderer = state.renderer.read();
    let pipeline = renderer.callback_resources.get::<PointPipeline>().unwrap();
    assert_eq!(
        pipeline.redraws(SLOT),
        1,
        "the second frame was drawn directly"
    );
    [layer, direct]
}

/// Points on a grid far enough apart that no two discs (radius + the 1 px rim) touch: the splat draws
/// each disc exactly as a sprite, anti-aliased rim included, into the layer and into egui's pass.
#[test]
fn a_sparse_cloud_splatted_equals_its_sprites() {
    // 12 points per row, 16 px apart: discs span 2 × (6 + 0.5) = 13 px.
    let instances: Vec<PointInstance> = (0..144u32)
        .map(|i| {
            let (col, row) = ((i % 12) as f32, (i / 12) as f32);
            // Sub-pixel offsets so that rims fall on every fraction of a pixel.
            let jitter = 0.37 * (i as f32 * 0.618_034).fract();
            PointInstance {
                position: [
                    -0.88 + (col * 16.0 + jitter) * 2.0 / SIZE,
                    -0.88 + (row * 16.0 + 0.5 * jitter) * 2.0 / SIZE,
                    0.0,
                ],
                value: if i % 2 == 0 {
                    (i % 8) as f32
                } else {
                    i as f32 / 143.0
                },
            }
        })
        .collect();
    for coloring in [
        PointColoring::Class,
        PointColoring::Scalar(Colormap::Viridis, ColormapSpan::FULL),
    ] {
        let sprites = layer_and_direct_frames(RendererChoice::Sprites, coloring, &instances);
        for splat_renderer in [RendererChoice::Splat, RendererChoice::CpuSplat] {
            let splat = layer_and_direct_frames(splat_renderer, coloring, &instances);
            for (frame, (a, b)) in ["layer", "direct"].iter().zip(sprites.iter().zip(&splat)) {
                let shown = lit(a).iter().filter(|&&l| l).count();
                // 144 discs of about π · 6.5² ≈ 133 px each (rims partly below the lit threshold).
                assert!(
                    shown > 144 * 100,
                    "{coloring:?} {frame}: only {shown} lit pixels"
                );
                // Coverage is computed from the same distances up to f32 rounding: 8-bit levels
                // agree.
                let off = differing(a, b, 2);
                assert_eq!(
                    off, 0,
                    "{splat_renderer:?}, {coloring:?} {frame}: {off} pixels differ"
                );
            }
        }
    }
}

/// A dense cloud: the splat keeps one point per pixel where the sprites blend several, which only
/// shows on the anti-aliased rims (interiors are opaque, and in 2-D the later point wins in both, as
/// in the sprites' draw order). The union of the discs is the same.
#[test]
fn a_dense_cloud_splatted_covers_the_pixels_of_its_sprites() {
    let instances: Vec<PointInstance> = (0..2000u32)
        .map(|i| {
            let u = (i as f32 * 0.618_034).fract();
            let v = (i as f32 * 0.754_878).fract();
            PointInstance {
                position: [-0.7 + 1.4 * u, -0.7 + 1.4 * v * v, 0.0],
                value: (i % 5) as f32,
            }
        })
        .collect();
    let [sprites, _] =
        layer_and_direct_frames(RendererChoice::Sprites, PointColoring::Class, &instances);
    let [splat, _] =
        layer_and_direct_frames(RendererChoice::Splat, PointColoring::Class, &instances);
    let [cpu_splat, _] =
        layer_and_direct_frames(RendererChoice::CpuSplat, PointColoring::Class, &instances);
    let (a, b) = (lit(&sprites), lit(&splat));
    let covered = a.iter().filter(|&&l| l).count();
    let mismatched = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(covered > 10_000, "the cloud covers {covered} pixels");
    // Only rim pixels near the lit threshold may flip (a rim over a rim blends brighter as sprites).
    assert!(
        mismatched * 200 <= covered,
        "{mismatched} of {covered} covered pixels differ in coverage"
    );
    // Colours differ only on rims: a small fraction of the covered pixels, but some (else the cloud
    // was not dense and this test would not test blending).
    let off = differing(&sprites, &splat, 3);
    assert!(off > 0, "no overlapping rims: the cloud is not dense");
    assert!(
        off * 4 <= covered,
        "{off} of {covered} pixels differ in colour"
    );
    // The CPU splat computes the same keys: the same point wins every pixel, up to f32 rounding
    // on a disc's very edge (where its coverage, hence its colour, is about 0).
    let off = differing(&splat, &cpu_splat, 2);
    assert_eq!(off, 0, "{off} pixels differ between the GPU and CPU splats");
}

/// Two points at the same place at different depths: the sprites show the later one (draw order, no
/// depth test), the splat the nearer one, whichever comes first.
#[test]
fn the_splat_shows_the_nearest_point() {
    let view_proj = camera().view_proj(1.0);
    let depth = |z: f32| {
        let clip = view_proj * glam::Vec4::new(0.1, 0.2, z, 1.0);
        clip.z / clip.w
    };
    let (near_z, far_z) = if depth(0.5) < depth(-0.5) {
        (0.5, -0.5)
    } else {
        (-0.5, 0.5)
    };
    for near_first in [true, false] {
        let near = PointInstance {
            position: [0.1, 0.2, near_z],
            value: 1.0,
        };
        let far = PointInstance {
            position: [0.1, 0.2, far_z],
            value: 3.0,
        };
        let instances = if near_first {
            vec![near, far]
        } else {
            vec![far, near]
        };
        let s = screen([0.1, 0.2, 0.0]);
        let sprites = render_with(
            RendererChoice::Sprites,
            PointColoring::Class,
            instances.clone(),
        );
        let last = instances[1].value as usize;
        assert!(close(pixel_at(&sprites, s.x, s.y), class_rgb8(last), 2));
        for renderer in [RendererChoice::Splat, RendererChoice::CpuSplat] {
            let splat = render_with(renderer, PointColoring::Class, instances.clone());
            assert!(
                close(pixel_at(&splat, s.x, s.y), class_rgb8(1), 2),
                "{renderer:?}, near first: {near_first}"
            );
        }
    }
}
