//! The point pipeline on a real wgpu device (lavapipe here; no adapter fails the test): points land
//! where the camera puts them, in the palette colour of their class or the colormap colour of their value,
//! and nothing is drawn elsewhere.

use diffscope::render::camera::{PanZoom, to_screen};
use diffscope::render::colormap::{Colormap, class_rgb8};
use diffscope::render::{PointColoring, PointData, PointInstance, PointPipeline, PointsCallback};
use eframe::egui_wgpu;
use egui_kittest::Harness;
use std::sync::Arc;

struct PointsApp {
    coloring: PointColoring,
    instances: Arc<Vec<PointInstance>>,
}

const SIZE: f32 = 200.0;
const RADIUS: f32 = 6.0;

impl eframe::App for PointsApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let rect = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(SIZE, SIZE));
        ui.painter().rect_filled(rect, 0.0, egui::Color32::BLACK);
        ui.painter().add(egui_wgpu::Callback::new_paint_callback(
            rect,
            PointsCallback {
                slot: 7,
                data: PointData {
                    generation: 1,
                    instances: Arc::clone(&self.instances),
                },
                view_proj: camera().view_proj(1.0),
                viewport_px: [SIZE, SIZE],
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

fn render(coloring: PointColoring, instances: Vec<PointInstance>) -> image::RgbaImage {
    let instances = Arc::new(instances);
    let mut harness = Harness::builder()
        .with_size([SIZE, SIZE])
        .wgpu()
        .build_eframe(move |cc| {
            let state = cc
                .wgpu_render_state
                .as_ref()
                .expect("a wgpu adapter (lavapipe)");
            PointPipeline::install(state);
            PointsApp {
                coloring,
                instances,
            }
        });
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
