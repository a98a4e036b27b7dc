//! Texture layers over a data-space rectangle (`shaders/layer.wgsl`): the density layer (a 2-D histogram
//! of the points, log-scaled through a colormap) that takes over when there are too many points to draw
//! one by one, and the hole overlay (H_void cells as a translucent mask). Also the CPU binning of the
//! histogram. Knows wgpu and glam only.

use super::colormap::Colormap;
use super::gpu::{self, DataKind, Frame, PipelineSpec, SlotCallback, SlotPipeline, SlotUpload};
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::{self, wgpu};
use std::sync::Arc;

/// Uniform block; kept in sync with `LayerUniform` in `shaders/layer.wgsl` (std140: 128 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct LayerUniform {
    view_proj: [[f32; 4]; 4],
    rect_min: [f32; 2],
    rect_max: [f32; 2],
    tint: [f32; 4],
    mode: u32,
    colormap_index: u32,
    log_max: f32,
    opacity: f32,
}

pub use crate::base::grid::Grid;

/// Counts the points `[x, y]` falling in each of `width × height` bins over `[min, max]`.
pub fn histogram(
    points: impl Iterator<Item = [f32; 2]>,
    min: [f32; 2],
    max: [f32; 2],
    width: usize,
    height: usize,
) -> Grid {
    let mut values = vec![0f32; width * height];
    let scale = [
        width as f32 / (max[0] - min[0]).max(f32::MIN_POSITIVE),
        height as f32 / (max[1] - min[1]).max(f32::MIN_POSITIVE),
    ];
    for [x, y] in points {
        let bx = (x - min[0]) * scale[0];
        let by = (y - min[1]) * scale[1];
        if bx >= 0.0 && by >= 0.0 && (bx as usize) < width && (by as usize) < height {
            values[by as usize * width + bx as usize] += 1.0;
        }
    }
    Grid {
        width,
        height,
        values,
    }
}

/// How a layer's values become colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerStyle {
    /// ln(1 + count) through a colormap.
    Density(Colormap),
    /// Every positive cell in one colour (RGBA, straight alpha).
    Mask([f32; 4]),
}

/// A grid shared with the renderer; `generation` changes whenever `grid` does.
#[derive(Clone, Debug)]
pub struct LayerData {
    pub generation: u64,
    pub grid: Arc<Grid>,
}

/// Pipeline shared by every layer slot.
pub struct LayerPipeline(SlotPipeline);

impl LayerPipeline {
    /// Builds the pipeline for egui's render pass.
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        LayerPipeline(SlotPipeline::new(
            device,
            target_format,
            PipelineSpec {
                label: "diffscope layer",
                source: include_str!("../../shaders/layer.wgsl"),
                kind: DataKind::Texels(wgpu::TextureFormat::R32Float),
                uniform_size: std::mem::size_of::<LayerUniform>(),
                buffers: &[],
                topology: wgpu::PrimitiveTopology::TriangleList,
            },
        ))
    }

    /// Installs the pipeline into egui-wgpu's renderer (once, at app start).
    pub fn install(render_state: &egui_wgpu::RenderState) {
        gpu::install(render_state, LayerPipeline::new);
    }
}

/// One frame's draw of a layer slot.
#[derive(Clone, Debug)]
pub struct LayerCallback {
    pub slot: u64,
    pub data: LayerData,
    pub view_proj: glam::Mat4,
    /// The data-space rectangle the grid covers.
    pub rect_min: [f32; 2],
    pub rect_max: [f32; 2],
    pub style: LayerStyle,
    pub opacity: f32,
}

impl SlotCallback for LayerCallback {
    type Pipeline = LayerPipeline;

    fn prepare(&self, pipeline: &mut LayerPipeline, frame: &mut Frame<'_>) {
        let grid = &self.data.grid;
        let max = grid.values.iter().copied().fold(0.0f32, f32::max);
        let (mode, colormap_index, tint) = match self.style {
            LayerStyle::Density(map) => (0, map.shader_index(), [0.0; 4]),
            LayerStyle::Mask(tint) => (1, 0, tint),
        };
        let uniform = LayerUniform {
            view_proj: self.view_proj.to_cols_array_2d(),
            rect_min: self.rect_min,
            rect_max: self.rect_max,
            tint,
            mode,
            colormap_index,
            log_max: max.ln_1p(),
            opacity: self.opacity.clamp(0.0, 1.0),
        };
        pipeline.0.prepare(
            frame,
            self.slot,
            &uniform,
            SlotUpload {
                generation: self.data.generation,
                data: grid.values.as_slice(),
                row: grid.width,
            },
        );
    }

    fn paint(&self, pipeline: &LayerPipeline, pass: &mut wgpu::RenderPass<'static>) {
        pipeline.0.draw(pass, self.slot, |_| (0..6, 0..1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_each_point_once_in_its_bin() {
        let points = [
            [0.1, 0.1],
            [0.9, 0.9],
            [0.95, 0.85],
            [1.5, 0.5],
            [-0.1, 0.5],
        ];
        let grid = histogram(points.into_iter(), [0.0, 0.0], [1.0, 1.0], 2, 2);
        // Bins: (0,0) holds the first point, (1,1) the next two; the last two fall outside.
        assert_eq!(grid.values, vec![1.0, 0.0, 0.0, 2.0]);
    }
}
