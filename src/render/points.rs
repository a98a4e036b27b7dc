//! The point-sprite renderer: one instanced draw of screen-aligned quads expanded in the vertex shader
//! (`shaders/points.wgsl`), round and anti-aliased in the fragment shader, coloured by class palette or
//! colormap on the GPU. Knows wgpu and glam only; what the points mean is the caller's business.
//!
//! Buffers live in egui-wgpu's `callback_resources`, one slot per view, and the instance buffer is
//! re-uploaded only when the caller's data generation changes.

use super::colormap::{Colormap, palette_uniform};
use super::gpu::{self, DataKind, PipelineSpec, SlotPipeline};
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor, wgpu};
use std::sync::Arc;

/// One point: position in view space and the scalar that colours it (class index, or a value in
/// [0, 1] for the colormap). Kept in sync with the vertex inputs of `shaders/points.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PointInstance {
    pub position: [f32; 3],
    pub value: f32,
}

/// How the scalar of each point becomes a colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PointColoring {
    /// `value` is a class index into [`CLASS_PALETTE`].
    Class,
    /// `value` in [0, 1] through a colormap.
    Scalar(Colormap),
}

/// Uniform block; kept in sync with `PointUniform` in `shaders/points.wgsl` (std140 layout: 224 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct PointUniform {
    view_proj: [[f32; 4]; 4],
    viewport_px: [f32; 2],
    radius_px: f32,
    color_mode: u32,
    palette: [[f32; 4]; 8],
    colormap_index: u32,
    opacity: f32,
    _pad: [f32; 2],
}

/// Pipeline shared by every point slot.
pub struct PointPipeline(SlotPipeline);

impl PointPipeline {
    /// Builds the pipeline for egui's render pass.
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        PointPipeline(SlotPipeline::new(
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
        ))
    }

    /// Installs the pipeline into egui-wgpu's renderer (once, at app start).
    pub fn install(render_state: &egui_wgpu::RenderState) {
        gpu::install(render_state, PointPipeline::new);
    }
}

/// Points shared with the renderer; `generation` changes whenever `instances` does.
#[derive(Clone, Debug)]
pub struct PointData {
    pub generation: u64,
    pub instances: Arc<Vec<PointInstance>>,
}

/// One frame's draw of a point slot.
#[derive(Clone, Debug)]
pub struct PointsCallback {
    /// Which slot (one per view) holds this data on the GPU.
    pub slot: u64,
    pub data: PointData,
    pub view_proj: glam::Mat4,
    /// Size of the callback rect in physical pixels.
    pub viewport_px: [f32; 2],
    pub radius_px: f32,
    pub coloring: PointColoring,
    pub opacity: f32,
}

impl PointsCallback {
    fn uniform(&self) -> PointUniform {
        let (color_mode, colormap_index) = match self.coloring {
            PointColoring::Class => (0, 0),
            PointColoring::Scalar(map) => (1, map.shader_index()),
        };
        PointUniform {
            view_proj: self.view_proj.to_cols_array_2d(),
            viewport_px: [self.viewport_px[0].max(1.0), self.viewport_px[1].max(1.0)],
            radius_px: self.radius_px,
            color_mode,
            palette: palette_uniform(),
            colormap_index,
            opacity: self.opacity.clamp(0.0, 1.0),
            _pad: [0.0; 2],
        }
    }
}

impl CallbackTrait for PointsCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen_descriptor: &ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(pipeline) = resources.get_mut::<PointPipeline>() {
            pipeline.0.prepare(
                device,
                queue,
                self.slot,
                &self.uniform(),
                self.data.generation,
                self.data.instances.as_slice(),
                0,
            );
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        if let Some(pipeline) = resources.get::<PointPipeline>() {
            // One instance (a quad of six vertices) per point.
            pipeline
                .0
                .draw(render_pass, self.slot, |count| (0..6, 0..count));
        }
    }
}
