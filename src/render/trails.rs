//! Trajectory trails (`shaders/trails.wgsl`): one line segment per pair of consecutive stored steps,
//! coloured like the points and fading with age (`freshness` 1 at the selected step, 0 at the trail's far
//! end), all trails in one draw. Knows wgpu and glam only.

use super::colormap::{ColoringUniform, PointColoring};
use super::gpu::{self, DataKind, Frame, PipelineSpec, SlotCallback, SlotPipeline, SlotUpload};
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::{self, wgpu};
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
    coloring: ColoringUniform,
}

/// Pipeline shared by every trail slot.
pub struct TrailPipeline(SlotPipeline);

impl TrailPipeline {
    /// Builds the pipeline for egui's render pass.
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let vertex_layout = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<TrailVertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32, 2 => Float32],
        };
        TrailPipeline(SlotPipeline::new(
            device,
            target_format,
            PipelineSpec {
                label: "diffscope trails",
                source: include_str!("../../shaders/trails.wgsl"),
                kind: DataKind::Vertices,
                uniform_size: std::mem::size_of::<TrailUniform>(),
                buffers: &[Some(vertex_layout)],
                topology: wgpu::PrimitiveTopology::LineList,
            },
        ))
    }

    /// Installs the pipeline into egui-wgpu's renderer (once, at app start).
    pub fn install(render_state: &egui_wgpu::RenderState) {
        gpu::install(render_state, TrailPipeline::new);
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

impl SlotCallback for TrailsCallback {
    type Pipeline = TrailPipeline;

    fn prepare(&self, pipeline: &mut TrailPipeline, frame: &mut Frame<'_>) {
        let uniform = TrailUniform {
            view_proj: self.view_proj.to_cols_array_2d(),
            coloring: ColoringUniform::new(self.coloring, self.opacity),
        };
        pipeline.0.prepare(
            frame,
            self.slot,
            &uniform,
            SlotUpload {
                generation: self.data.generation,
                data: self.data.vertices.as_slice(),
                row: 0,
            },
        );
    }

    fn paint(&self, pipeline: &TrailPipeline, pass: &mut wgpu::RenderPass<'static>) {
        pipeline.0.draw(pass, self.slot, |count| (0..count, 0..1));
    }
}
