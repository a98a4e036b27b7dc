//! The point pipeline on a real wgpu device (lavapipe here; no adapter fails the test): points land
//! where the camera puts them, in the palette colour of their class or the colormap colour of their value,
//! and nothing is drawn elsewhere; the sprites are drawn into their offscreen layer only when the points,
//! the camera or the style change.

use diffscope::render::camera::{PanZoom, to_screen};
use diffscope::render::colormap::{Colormap, class_rgb8};
use diffscope::render::{
    PointColoring, PointData, PointInstance, PointPipeline, PointsCallback, paint_callback,
};
use eframe::egui_wgpu;
use egui_kittest::Harness;
use std::sync::Arc;

struct PointsApp {
    coloring: PointColoring,
    instances: Arc<Vec<PointInstance>>,
    generation: u64,
    camera: PanZoom,
}

const SIZE: f32 = 200.0;
const RADIUS: f32 = 6.0;
const SLOT: u64 = 7;

impl eframe::App for PointsApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let rect = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(SIZE, SIZE));
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

/// A harness drawing `instances`, and the renderer state holding the point pipeline.
fn harness(
    coloring: PointColoring,
    instances: Vec<PointInstance>,
) -> (Harness<'static, PointsApp>, egui_wgpu::RenderState) {
    let instances = Arc::new(instances);
    let (sender, receiver) = std::sync::mpsc::channel();
    let harness = Harness::builder()
        .with_size([SIZE, SIZE])
        .wgpu()
        .build_eframe(move |cc| {
            let state = cc
                .wgpu_render_state
                .clone()
                .expect("a wgpu adapter (lavapipe)");
            PointPipeline::install(&state);
            sender.send(state).expect("the test holds the receiver");
            PointsApp {
                coloring,
                instances,
                generation: 1,
                camera: camera(),
            }
        });
    let state = receiver.recv().expect("the app was built");
    (harness, state)
}

fn render(coloring: PointColoring, instances: Vec<PointInstance>) -> image::RgbaImage {
    let (mut harness, _) = harness(coloring, instances);
    harness.run_steps(2);
    harness.render().expect("wgpu render")
}

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
    let instances = points
        .iter()
        .enumerate()
        .map(|(k, &position)| PointInstance {
            position,
            value: k as f32,
        })
        .collect();
    let image = render(PointColoring::Class, instances);
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
    for map in Colormap::ALL {
        let image = render(PointColoring::Scalar(map), instances.clone());
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
    harness.state_mut().coloring = PointColoring::Scalar(Colormap::Magma);
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
