//! The point-sprite renderer: one instanced draw of screen-aligned quads expanded in the vertex shader
//! (`shaders/points.wgsl`), round and anti-aliased in the fragment shader, coloured by class palette or
//! colormap on the GPU. Knows wgpu and glam only; what the points mean is the caller's business.
//!
//! Each view slot draws its sprites into an offscreen layer ([`super::offscreen`]) only when the points,
//! the camera, the viewport or the style change (and have settled); every frame composites that layer
//! (one textured quad), so a still view of 100k points costs about what an empty one does on a
//! software rasteriser. While a 2-D camera pans or zooms the layer is composited through the camera map;
//! while anything else changes every frame (a 3-D orbit, the time playing) the sprites are drawn
//! straight into egui's pass.
//!
//! On a software adapter the same plans are carried out by the splat renderer ([`super::splat`]) instead
//! of sprites: `--renderer` chooses ([`RendererChoice`]).

use super::colormap::{ColoringUniform, PointColoring};
use super::gpu::{DataKind, Frame, PipelineSpec, SlotCallback, SlotPipeline, SlotUpload};
use super::offscreen::{ClipMap, LayerGeometry, LayerKey, OffscreenLayers, Plan};
use super::splat::{SplatDraw, SplatPipeline, SplatTarget};
pub use super::splat_keys::PointInstance;
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::wgpu;
use std::collections::HashSet;
use std::sync::Arc;

/// Which renderer draws the points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointRenderer {
    /// Instanced anti-aliased quads, blended in draw order.
    Sprites,
    /// The compute splat ([`super::splat`]): the nearest point per pixel.
    Splat,
    /// The same splat carried out on the CPU ([`super::cpu_splat::CpuSplat`]), its colours uploaded.
    CpuSplat,
}

impl PointRenderer {
    pub const ALL: [PointRenderer; 3] = [
        PointRenderer::Sprites,
        PointRenderer::Splat,
        PointRenderer::CpuSplat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PointRenderer::Sprites => "sprites",
            PointRenderer::Splat => "splat",
            PointRenderer::CpuSplat => "CPU splat",
        }
    }
}

/// The renderer asked for on the command line (`--renderer`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RendererChoice {
    Sprites,
    Splat,
    CpuSplat,
    /// Measured at start-up in the window ([`super::calibrate`]); elsewhere the CPU splat on a CPU
    /// (software) adapter and sprites on a GPU, see [`RendererChoice::resolve`].
    #[default]
    Auto,
}

impl RendererChoice {
    /// The renderer for an adapter of `device_type` (`splat_supported`: it can run the splat at all).
    ///
    /// `Auto` follows these measurements (release build, Xvfb, 1024x768 window, lavapipe on 2 vCPUs,
    /// 3-D orbit, median frame): sprites cost 253 ms at 100k points and 733 ms at 1M against 47.8 ms
    /// for an empty view, since lavapipe rasterises 2 triangles per point; `bench --filter orbit` on a
    /// loaded machine (empty 77.8 ms): splat 126 ms vs sprites 212 ms at 100k, 291 ms vs 1174 ms at
    /// 1M. A hardware rasteriser draws sprites at a fraction of a millisecond per million points and
    /// blends overlapping ones, so GPUs keep sprites. On a CPU adapter the CPU splat draws the GPU
    /// splat's picture (the same keys) several times faster (`bench --filter draw_`: 63 against 331 ms
    /// at 1M points, 0.46 against 15 s at 10M). This guess, not a timing, chooses for offscreen images,
    /// so that a picture never depends on the machine's speed.
    pub fn resolve(self, device_type: wgpu::DeviceType, splat_supported: bool) -> PointRenderer {
        match self {
            RendererChoice::Sprites => PointRenderer::Sprites,
            _ if !splat_supported => PointRenderer::Sprites,
            RendererChoice::Splat => PointRenderer::Splat,
            RendererChoice::CpuSplat => PointRenderer::CpuSplat,
            RendererChoice::Auto if device_type == wgpu::DeviceType::Cpu => PointRenderer::CpuSplat,
            RendererChoice::Auto => PointRenderer::Sprites,
        }
    }
}

/// Which renderer draws a slot of a given number of points: one renderer per band of point counts,
/// the bands' starts increasing from 0 (measured at start-up: [`super::calibrate`]).
#[derive(Clone, Copy, Debug)]
pub struct RendererPolicy {
    /// `(first point count, renderer)`; the first `len` entries are used, the first starts at 0.
    bands: [(u32, PointRenderer); PointRenderer::ALL.len()],
    len: usize,
}

/// Policies are equal when their bands are (entries past `len` are left-overs).
impl PartialEq for RendererPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.bands() == other.bands()
    }
}

impl Eq for RendererPolicy {}

impl RendererPolicy {
    pub const fn always(renderer: PointRenderer) -> Self {
        RendererPolicy {
            bands: [(0, renderer); PointRenderer::ALL.len()],
            len: 1,
        }
    }

    /// This policy up to `from` points, and `renderer` from there on (replacing the bands that
    /// started at or after `from`).
    pub fn then(mut self, from: u32, renderer: PointRenderer) -> Self {
        while self.len > 1 && self.bands[self.len - 1].0 >= from {
            self.len -= 1;
        }
        if from == 0 {
            return RendererPolicy::always(renderer);
        }
        if self.bands[self.len - 1].1 != renderer && self.len < self.bands.len() {
            self.bands[self.len] = (from, renderer);
            self.len += 1;
        }
        self
    }

    fn bands(&self) -> &[(u32, PointRenderer)] {
        &self.bands[..self.len]
    }

    pub fn renderer_for(self, points: usize) -> PointRenderer {
        let band = self
            .bands()
            .iter()
            .rev()
            .find(|(from, _)| points >= *from as usize);
        band.map_or(self.bands[0].1, |&(_, renderer)| renderer)
    }

    /// Whether some number of points is drawn by a splat (so the splat pipeline is needed).
    fn may_splat(self) -> bool {
        self.bands()
            .iter()
            .any(|&(_, r)| r != PointRenderer::Sprites)
    }

    pub fn describe(self) -> String {
        let bands = self.bands();
        if let [(_, renderer)] = bands {
            return format!("{} for every cloud", renderer.name());
        }
        let mut parts = vec![format!("{} below {} points", bands[0].1.name(), bands[1].0)];
        for (i, &(from, renderer)) in bands.iter().enumerate().skip(1) {
            parts.push(match bands.get(i + 1) {
                Some(&(to, _)) => format!("{} from {from} to {to}", renderer.name()),
                None => format!("{} from there on", renderer.name()),
            });
        }
        parts.join(", ")
    }
}

/// Uniform block; kept in sync with `PointUniform` in `shaders/points.wgsl` (std140 layout: 224 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
struct PointUniform {
    view_proj: [[f32; 4]; 4],
    viewport_px: [f32; 2],
    radius_px: f32,
    _pad: f32,
    coloring: ColoringUniform,
}

/// What a sprite layer shows: it is redrawn whenever this changes (the viewport size is part of the
/// uniform).
#[derive(Clone, Copy, Debug, PartialEq)]
struct SpriteKey {
    generation: u64,
    uniform: PointUniform,
}

impl LayerKey for SpriteKey {
    /// Sprites drawn for one camera stand for the same points seen through another when only the
    /// camera differs and the map between them is a 2-D pan or zoom.
    fn reprojection(&self, drawn: &Self) -> Option<ClipMap> {
        let camera_only = PointUniform {
            view_proj: drawn.uniform.view_proj,
            ..self.uniform
        } == drawn.uniform;
        (camera_only && self.generation == drawn.generation).then_some(())?;
        ClipMap::between(
            &glam::Mat4::from_cols_array_2d(&drawn.uniform.view_proj),
            &glam::Mat4::from_cols_array_2d(&self.uniform.view_proj),
        )
    }
}

/// The sprite pipeline, the splat pipeline when it is the renderer, and the layers of every point slot.
pub struct PointPipeline {
    policy: RendererPolicy,
    sprites: SlotPipeline,
    splat: Option<SplatPipeline>,
    /// The slots drawn by the splat this frame (the others by sprites: the splat's storage bindings
    /// have a size limit).
    splatted: HashSet<u64>,
    layers: OffscreenLayers<SpriteKey>,
}

/// Vertices per sprite: a quad of two triangles.
const SPRITE_VERTICES: u32 = 6;

impl PointPipeline {
    /// Builds the pipelines `policy` uses for egui's colour format (the splat only on a device that
    /// supports it, see [`SplatPipeline::supported`]).
    pub fn new(
        device: &wgpu::Device,
        target_format: wgpu::TextureFormat,
        policy: RendererPolicy,
    ) -> Self {
        let sprites = SlotPipeline::new(
            device,
            target_format,
            PipelineSpec {
                label: "diffscope points",
                source: include_str!("../../shaders/points.wgsl"),
                kind: DataKind::Vertices,
                uniform_size: std::mem::size_of::<PointUniform>(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: std::mem::size_of::<PointInstance>() as u64,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32],
                })],
                topology: wgpu::PrimitiveTopology::TriangleList,
            },
        );
        PointPipeline {
            policy,
            sprites,
            splat: policy
                .may_splat()
                .then(|| SplatPipeline::new(device, target_format)),
            splatted: HashSet::new(),
            layers: OffscreenLayers::new(device, "diffscope point layer", target_format),
        }
    }

    /// Draws with `policy` from now on (the splat only if this pipeline was built with it).
    pub fn set_policy(&mut self, policy: RendererPolicy) {
        self.policy = policy;
    }

    /// Frees slot `slot`'s GPU state (its data, layer and splat grid).
    pub fn remove(&mut self, slot: u64) {
        self.sprites.remove(slot);
        if let Some(splat) = &mut self.splat {
            splat.remove(slot);
        }
        self.splatted.remove(&slot);
        self.layers.remove(slot);
    }

    fn draw_sprites(&self, pass: &mut wgpu::RenderPass<'static>, slot: u64) {
        self.sprites
            .draw(pass, slot, |count| (0..SPRITE_VERTICES, 0..count));
    }

    /// How many times slot `slot`'s sprites were drawn into its layer (its other frames composited the
    /// layer, or drew straight into egui's pass while the inputs changed every frame).
    pub fn redraws(&self, slot: u64) -> u64 {
        self.layers.redraws(slot)
    }

    /// How many frames composited slot `slot`'s layer through a 2-D camera move instead of drawing.
    pub fn reprojections(&self, slot: u64) -> u64 {
        self.layers.reprojections(slot)
    }
}

/// Points shared with the renderer; `generation` changes whenever `instances` does.
#[derive(Clone, Debug)]
pub struct PointData {
    pub generation: u64,
    pub instances: Arc<Vec<PointInstance>>,
}

/// One frame's draw of a point slot (over the rect given to [`gpu::paint_callback`]).
#[derive(Clone, Debug)]
pub struct PointsCallback {
    /// Which slot (one per view) holds this data and its layer on the GPU.
    pub slot: u64,
    pub data: PointData,
    pub view_proj: glam::Mat4,
    pub radius_px: f32,
    pub coloring: PointColoring,
    pub opacity: f32,
}

impl SlotCallback for PointsCallback {
    type Pipeline = PointPipeline;

    fn prepare(&self, pipeline: &mut PointPipeline, frame: &mut Frame<'_>) {
        if self.data.instances.is_empty() {
            return;
        }
        let uniform = PointUniform {
            view_proj: self.view_proj.to_cols_array_2d(),
            viewport_px: [
                frame.viewport.width_px.max(1) as f32,
                frame.viewport.height_px.max(1) as f32,
            ],
            radius_px: self.radius_px,
            _pad: 0.0,
            coloring: ColoringUniform::new(self.coloring, self.opacity),
        };
        let key = SpriteKey {
            generation: self.data.generation,
            uniform,
        };
        let plan = pipeline.layers.plan(frame, self.slot, key);
        // A layer redraw sees the wider window of the layer, with sprites of the same pixel size.
        let target = match LayerGeometry::of_frame(frame).filter(|_| plan == Plan::Redraw) {
            Some(layer) => SplatTarget {
                view_proj: layer.view_to_layer() * self.view_proj,
                size_px: layer.size_px,
                origin_px: [0.0; 2],
            },
            None => SplatTarget {
                view_proj: self.view_proj,
                size_px: uniform.viewport_px.map(|n| n as u32),
                origin_px: [frame.viewport.left_px as f32, frame.viewport.top_px as f32],
            },
        };
        let upload = SlotUpload {
            generation: self.data.generation,
            data: self.data.instances.as_slice(),
            row: 0,
        };
        let renderer = pipeline.policy.renderer_for(self.data.instances.len());
        let splat = pipeline.splat.as_mut().filter(|s| match renderer {
            PointRenderer::Sprites => false,
            PointRenderer::Splat => s.fits(&self.data.instances, target.size_px),
            PointRenderer::CpuSplat => s.grid_fits(target.size_px),
        });
        if let Some(splat) = splat {
            pipeline.splatted.insert(self.slot);
            if matches!(plan, Plan::Redraw | Plan::Direct) {
                let draw = SplatDraw {
                    target,
                    points: &self.data.instances,
                    generation: self.data.generation,
                    radius_px: self.radius_px,
                    coloring: self.coloring,
                    opacity: self.opacity,
                };
                match renderer {
                    PointRenderer::CpuSplat => splat.prepare_cpu(frame, self.slot, &draw),
                    _ => splat.prepare(frame, self.slot, &draw),
                }
            }
            if plan == Plan::Redraw
                && let Some(mut pass) = pipeline.layers.begin_redraw(frame, self.slot)
            {
                splat.resolve(&mut pass, self.slot);
            }
            return;
        }
        pipeline.splatted.remove(&self.slot);
        let drawn = PointUniform {
            view_proj: target.view_proj.to_cols_array_2d(),
            viewport_px: target.size_px.map(|n| n as f32),
            ..uniform
        };
        pipeline.sprites.prepare(frame, self.slot, &drawn, upload);
        if plan == Plan::Redraw
            && let Some(mut pass) = pipeline.layers.begin_redraw(frame, self.slot)
        {
            pipeline.draw_sprites(&mut pass, self.slot);
        }
    }

    fn paint(&self, pipeline: &PointPipeline, pass: &mut wgpu::RenderPass<'static>) {
        if !self.data.instances.is_empty() {
            let splat = pipeline
                .splat
                .as_ref()
                .filter(|_| pipeline.splatted.contains(&self.slot));
            pipeline.layers.paint(pass, self.slot, |pass| match splat {
                Some(splat) => splat.resolve(pass, self.slot),
                None => pipeline.draw_sprites(pass, self.slot),
            });
        }
    }
}

impl PointsCallback {
    /// Records this draw on its own into `target` (`size_px`, cleared first): the frame's prepare
    /// and a render pass painting it, as egui-wgpu would. For measurements without a window.
    pub fn record(
        &self,
        pipeline: &mut PointPipeline,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        target: &wgpu::TextureView,
        size_px: [u32; 2],
    ) {
        let mut frame = Frame {
            device,
            queue,
            encoder,
            viewport: egui::epaint::ViewportInPixels {
                left_px: 0,
                top_px: 0,
                from_bottom_px: 0,
                width_px: size_px[0] as i32,
                height_px: size_px[1] as i32,
            },
        };
        self.prepare(pipeline, &mut frame);
        let mut pass = frame
            .encoder
            .begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("diffscope points"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            })
            .forget_lifetime();
        self.paint(pipeline, &mut pass);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::DeviceType;

    /// Auto picks the CPU splat on a software adapter only; nothing picks a splat where it cannot
    /// run.
    #[test]
    fn the_renderer_choice_resolves_by_adapter() {
        use PointRenderer::{CpuSplat, Splat, Sprites};
        use RendererChoice as C;
        let cases = [
            (C::Auto, DeviceType::Cpu, true, CpuSplat),
            (C::Auto, DeviceType::DiscreteGpu, true, Sprites),
            (C::Auto, DeviceType::IntegratedGpu, true, Sprites),
            (C::Auto, DeviceType::Cpu, false, Sprites),
            (C::Splat, DeviceType::DiscreteGpu, true, Splat),
            (C::Splat, DeviceType::Cpu, false, Sprites),
            (C::CpuSplat, DeviceType::DiscreteGpu, true, CpuSplat),
            (C::CpuSplat, DeviceType::Cpu, false, Sprites),
            (C::Sprites, DeviceType::Cpu, true, Sprites),
        ];
        for (choice, device, supported, expected) in cases {
            assert_eq!(
                choice.resolve(device, supported),
                expected,
                "{choice:?} on {device:?} (splat supported: {supported})"
            );
        }
    }
}
