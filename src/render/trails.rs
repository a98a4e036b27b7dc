//! Trajectory trails (`shaders/trails.wgsl`): one line segment per pair of consecutive stored steps,
//! coloured like the points and fading with age (`freshness` 1 at the selected step, 0 at the trail's far
//! end), all trails in one draw. Knows wgpu and glam only.

use super::colormap::palette_uniform;
use super::gpu::{self, DataSlot};
use super::points::PointColoring;
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor, wgpu};
use std::collections::HashMap;
use std::sync::Arc;

/// One end of a segment; kept in sync with the vertex inputs of `shaders/trails.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct TrailVertex {
    pub position: [f32; 3],
    /// Class index or colormap value, as for points.
    pub value: f32,
    /// 1 at the newest end, 0 where the trail has faded out.
    pub freshness: f32,
}

/// Kept in sync with `TrailUniform` in `shaders/trails.wgsl` (208 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct TrailUniform {
    view_proj: [[f32; 4]; 4],
    palette: [[f32; 4]; 8],
    color_mode: u32,
    colormap_index: u32,
    opacity: f32,
    _pad: f32,
}

pub struct TrailPipeline {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    slots: HashMap<u64, DataSlot>,
}

impl TrailPipeline {
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let shader = gpu::shader(
            device,
            "diffscope trails",
            include_str!("../../shaders/trails.wgsl"),
        );
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("diffscope trails"),
            entries: &[gpu::uniform_entry(0)],
        });
        let vertex_layout = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<TrailVertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32, 2 => Float32],
        };
        let pipeline = gpu::pipeline(
            device,
            "diffscope trails",
            &shader,
            &bind_group_layout,
            &[Some(vertex_layout)],
            wgpu::PrimitiveTopology::LineList,
            target_format,
        );
        TrailPipeline {
            pipeline,
            bind_group_layout,
            slots: HashMap::new(),
        }
    }

    /// Installs the pipeline into egui-wgpu's renderer (once, at app start).
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let pipeline = TrailPipeline::new(&render_state.device, render_state.target_format);
        render_state
            .renderer
            .write()
            .callback_resources
            .insert(pipeline);
    }
}

/// Segments shared with the renderer (pairs of vertices); `generation` changes with them.
#[derive(Clone, Debug)]
pub struct TrailData {
    pub generation: u64,
    pub vertices: Arc<Vec<TrailVertex>>,
}

#[derive(Clone, Debug)]
pub struct TrailsCallback {
    pub slot: u64,
    pub data: TrailData,
    pub view_proj: glam::Mat4,
    pub coloring: PointColoring,
    pub opacity: f32,
}

impl CallbackTrait for TrailsCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen_descriptor: &ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(pipeline) = resources.get_mut::<TrailPipeline>() else {
            return Vec::new();
        };
        let (color_mode, colormap_index) = match self.coloring {
            PointColoring::Class => (0, 0),
            PointColoring::Scalar(map) => (1, map.shader_index()),
        };
        let uniform = TrailUniform {
            view_proj: self.view_proj.to_cols_array_2d(),
            palette: palette_uniform(),
            color_mode,
            colormap_index,
            opacity: self.opacity.clamp(0.0, 1.0),
            _pad: 0.0,
        };
        let layout = &pipeline.bind_group_layout;
        let slot = pipeline.slots.entry(self.slot).or_insert_with(|| {
            DataSlot::new(
                device,
                layout,
                "diffscope trails",
                std::mem::size_of::<TrailUniform>(),
            )
        });
        queue.write_buffer(&slot.uniform, 0, bytemuck::bytes_of(&uniform));
        slot.upload(device, queue, self.data.generation, &self.data.vertices);
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        let Some(pipeline) = resources.get::<TrailPipeline>() else {
            return;
        };
        let Some(slot) = pipeline.slots.get(&self.slot) else {
            return;
        };
        let Some((vertices, count)) = slot.vertices() else {
            return;
        };
        render_pass.set_pipeline(&pipeline.pipeline);
        render_pass.set_bind_group(0, &slot.bind_group, &[]);
        render_pass.set_vertex_buffer(0, vertices.slice(..));
        render_pass.draw(0..count, 0..1);
    }
}
