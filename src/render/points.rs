//! The point-sprite renderer: one instanced draw of screen-aligned quads expanded in the vertex shader
//! (`shaders/points.wgsl`), round and anti-aliased in the fragment shader, coloured by class palette or
//! colormap on the GPU. Knows wgpu and glam only; what the points mean is the caller's business.
//!
//! Buffers live in egui-wgpu's `callback_resources`, one slot per view, and the instance buffer is
//! re-uploaded only when the caller's data generation changes.

use super::colormap::{Colormap, palette_uniform};
use super::gpu::{self, DataSlot};
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor, wgpu};
use std::collections::HashMap;
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
pub struct PointPipeline {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    slots: HashMap<u64, DataSlot>,
}

impl PointPipeline {
    /// Builds the pipeline for egui's render pass.
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let shader = gpu::shader(
            device,
            "diffscope points",
            include_str!("../../shaders/points.wgsl"),
        );
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("diffscope points"),
            entries: &[gpu::uniform_entry(0)],
        });
        let instance_layout = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<PointInstance>() as u64,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32],
        };
        let pipeline = gpu::pipeline(
            device,
            "diffscope points",
            &shader,
            &bind_group_layout,
            &[Some(instance_layout)],
            wgpu::PrimitiveTopology::TriangleList,
            target_format,
        );
        PointPipeline {
            pipeline,
            bind_group_layout,
            slots: HashMap::new(),
        }
    }

    /// Installs the pipeline into egui-wgpu's renderer (once, at app start).
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let pipeline = PointPipeline::new(&render_state.device, render_state.target_format);
        render_state
            .renderer
            .write()
            .callback_resources
            .insert(pipeline);
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
        let Some(pipeline) = resources.get_mut::<PointPipeline>() else {
            return Vec::new();
        };
        let uniform = self.uniform();
        let layout = &pipeline.bind_group_layout;
        let slot = pipeline.slots.entry(self.slot).or_insert_with(|| {
            DataSlot::new(
                device,
                layout,
                "diffscope points",
                std::mem::size_of::<PointUniform>(),
            )
        });
        queue.write_buffer(&slot.uniform, 0, bytemuck::bytes_of(&uniform));
        slot.upload(device, queue, self.data.generation, &self.data.instances);
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        let Some(pipeline) = resources.get::<PointPipeline>() else {
            return;
        };
        let Some(slot) = pipeline.slots.get(&self.slot) else {
            return;
        };
        let Some((instances, count)) = slot.vertices() else {
            return;
        };
        render_pass.set_pipeline(&pipeline.pipeline);
        render_pass.set_bind_group(0, &slot.bind_group, &[]);
        render_pass.set_vertex_buffer(0, instances.slice(..));
        render_pass.draw(0..6, 0..count);
    }
}
