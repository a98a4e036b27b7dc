//! The splat point renderer (issue #18), for software rasterisers: a compute pass (`shaders/splat.wgsl`)
//! writes, for every pixel a point's disc covers, the key of the nearest point into a per-slot buffer of
//! 32-bit keys with `atomicMax`; a resolve pass (one fullscreen triangle) shades each pixel with its
//! winner's colour and disc coverage, exactly as the sprite shader would. Its cost grows with points ×
//! footprint pixels and view pixels, not with the 2 triangles per point that dominate the sprite
//! pipeline on lavapipe. Overlapping discs differ from sprites only in that one point is shown per pixel
//! instead of all of them blended: a disc's opaque interior before any rim, then the nearest, then (at
//! equal depth) the later point, as in the sprites' draw order.
//!
//! [`super::points`] decides which renderer draws and where (into the offscreen layer or egui's pass);
//! this module only keeps the GPU state of each slot: its uniform, its points (one storage buffer,
//! re-uploaded only when their generation changes) and its key buffer.

use super::colormap::ColoringUniform;
use super::gpu::{self, DataKind, DataSlots, Frame, SlotUpload};
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::wgpu;
use std::collections::HashMap;

/// Invocations per workgroup of the splat; kept in sync with `WORKGROUP` in `shaders/splat.wgsl`.
const WORKGROUP: u32 = 64;
/// The resolve's workgroups cover tiles of this many pixels square; kept in sync with
/// `@workgroup_size` of `resolve_pixels`.
const RESOLVE_TILE: u32 = 8;

/// Uniform block; kept in sync with `SplatUniform` in `shaders/splat.wgsl` (std140 layout: 240 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub(super) struct SplatUniform {
    view_proj: [[f32; 4]; 4],
    viewport_px: [f32; 2],
    radius_px: f32,
    count: u32,
    origin_px: [f32; 2],
    index_bits: u32,
    _pad: u32,
    coloring: ColoringUniform,
}

/// Where a splat lands: the pixel grid of the view (or of its layer) and where that grid starts in the
/// framebuffer the resolve draws into.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct SplatTarget {
    pub view_proj: glam::Mat4,
    pub size_px: [u32; 2],
    pub origin_px: [f32; 2],
}

impl SplatUniform {
    pub(super) fn new(
        target: SplatTarget,
        radius_px: f32,
        count: u32,
        coloring: ColoringUniform,
    ) -> Self {
        SplatUniform {
            view_proj: target.view_proj.to_cols_array_2d(),
            viewport_px: target.size_px.map(|n| n as f32),
            radius_px,
            count,
            origin_px: target.origin_px,
            index_bits: index_bits(count),
            _pad: 0,
            coloring,
        }
    }
}

/// Bits of a key holding the point index + 1 (the top bit marks opaque pixels, the rest hold the
/// depth): as few as the count needs, so that depth keeps the most precision (14 bits at 100k points,
/// 11 at 1M, 7 at 8M).
pub fn index_bits(count: u32) -> u32 {
    (u32::BITS - count.leading_zeros()).max(1)
}

/// The resolved colours: premultiplied RGBA per pixel, in half floats so that the draw gives the
/// 8-bit target the same value the resolve computed (an 8-bit store would round twice).
const COLOUR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

/// One slot's per-pixel state: the key buffer (a `u32` per pixel of its grid) and the resolved colour
/// texture, with the bind groups exposing them to the three passes.
struct SlotGrid {
    keys: wgpu::Buffer,
    /// Grid width and height the buffer and the texture hold (at least the current grid's).
    size_px: [u32; 2],
    splat_group: wgpu::BindGroup,
    resolve_group: wgpu::BindGroup,
    draw_group: wgpu::BindGroup,
}

/// The layouts of group 1 in each of the three pipelines.
struct GridLayouts {
    /// The splat: the keys read-write (atomics).
    splat: wgpu::BindGroupLayout,
    /// The compute resolve: the keys read-only and the colour texture write-only.
    resolve: wgpu::BindGroupLayout,
    /// The draw: the colour texture, read texel for pixel.
    draw: wgpu::BindGroupLayout,
}

impl GridLayouts {
    fn new(device: &wgpu::Device, label: &str) -> Self {
        let keys = |binding, read_only| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let layout = |entries: &[wgpu::BindGroupLayoutEntry]| {
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries,
            })
        };
        GridLayouts {
            splat: layout(&[keys(0, false)]),
            resolve: layout(&[
                keys(1, true),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::StorageTexture {
                        access: wgpu::StorageTextureAccess::WriteOnly,
                        format: COLOUR_FORMAT,
                        view_dimension: wgpu::TextureViewDimension::D2,
                    },
                    count: None,
                },
            ]),
            draw: layout(&[wgpu::BindGroupLayoutEntry {
                binding: 3,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: gpu::TEXEL_BINDING,
                count: None,
            }]),
        }
    }
}

/// The splat pipelines and the GPU state of every point slot drawn by them.
pub struct SplatPipeline {
    points: DataSlots,
    grid_layouts: GridLayouts,
    grids: HashMap<u64, SlotGrid>,
    splat: wgpu::ComputePipeline,
    resolve: wgpu::ComputePipeline,
    draw: wgpu::RenderPipeline,
    /// The largest storage binding the device allows, in bytes (points and keys are each one binding).
    max_binding: u64,
    max_groups: u32,
    max_texture_px: u32,
}

impl SplatPipeline {
    /// Whether `adapter` can run the splat renderer: compute shaders, and storage buffers in the
    /// resolve's fragment stage (WebGL-class backends have neither).
    pub fn supported(adapter: &wgpu::Adapter, device: &wgpu::Device) -> bool {
        let flags = adapter.get_downlevel_capabilities().flags;
        flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
            && device.limits().max_storage_buffers_per_shader_stage >= 2
    }

    /// Builds the pipelines for egui's colour format (only on a device that is [`Self::supported`]).
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let label = "diffscope splat";
        let points = DataSlots::new(
            device,
            label,
            DataKind::Storage,
            std::mem::size_of::<SplatUniform>(),
        );
        let grid_layouts = GridLayouts::new(device, label);
        let module = gpu::shader(device, label, include_str!("../../shaders/splat.wgsl"));
        let compute = |entry_point, group: &wgpu::BindGroupLayout| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: Some(&gpu::pipeline_layout(
                    device,
                    label,
                    &[points.layout(), group],
                )),
                module: &module,
                entry_point: Some(entry_point),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let splat = compute("splat_points", &grid_layouts.splat);
        let resolve = compute("resolve_pixels", &grid_layouts.resolve);
        let draw = gpu::pipeline(
            device,
            label,
            &module,
            &[points.layout(), &grid_layouts.draw],
            &[],
            wgpu::PrimitiveTopology::TriangleList,
            target_format,
        );
        let limits = device.limits();
        SplatPipeline {
            points,
            grid_layouts,
            grids: HashMap::new(),
            splat,
            resolve,
            draw,
            max_binding: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
            max_groups: limits.max_compute_workgroups_per_dimension,
            max_texture_px: limits.max_texture_dimension_2d,
        }
    }

    /// Whether `points` over a `size_px` grid fit the device's storage bindings (the app asks for the
    /// adapter's own limits, `gpu::wgpu_setup`: lavapipe binds 2 GiB, 134M points of 16 B; under wgpu's
    /// default 128 MiB, 8.4M points); larger ones are drawn as sprites.
    pub fn fits<T>(&self, points: &[T], size_px: [u32; 2]) -> bool {
        let (count, point_bytes) = (points.len(), std::mem::size_of_val(points) as u64);
        let key_bytes = u64::from(size_px[0]) * u64::from(size_px[1]) * 4;
        let groups = (count as u64).div_ceil(u64::from(WORKGROUP));
        point_bytes <= self.max_binding
            && key_bytes <= self.max_binding
            && size_px.iter().all(|&n| n <= self.max_texture_px)
            && groups <= u64::from(self.max_groups).pow(2)
    }

    /// Records slot `slot`'s splat into `target`: writes its uniform, uploads the points if their
    /// generation is new, clears its keys, dispatches one invocation per point and then one per pixel
    /// to resolve the colours. The caller checked [`Self::fits`].
    pub(super) fn prepare<T: Pod>(
        &mut self,
        frame: &mut Frame<'_>,
        slot: u64,
        uniform: &SplatUniform,
        upload: SlotUpload<'_, T>,
    ) {
        let count = upload.data.len() as u32;
        self.points.prepare(frame, slot, uniform, upload);
        let size_px = uniform.viewport_px.map(|n| n as u32);
        let grid = grid_of(
            &mut self.grids,
            &self.grid_layouts,
            frame.device,
            slot,
            size_px,
        );
        let Some((points, _)) = self.points.get(slot) else {
            return;
        };
        let pixels = u64::from(size_px[0]) * u64::from(size_px[1]);
        frame.encoder.clear_buffer(&grid.keys, 0, Some(pixels * 4));
        let groups = count.div_ceil(WORKGROUP);
        let x = groups.min(self.max_groups);
        let mut pass = frame
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("diffscope splat"),
                timestamp_writes: None,
            });
        pass.set_pipeline(&self.splat);
        pass.set_bind_group(0, points, &[]);
        pass.set_bind_group(1, &grid.splat_group, &[]);
        pass.dispatch_workgroups(x, groups.div_ceil(x.max(1)), 1);
        pass.set_pipeline(&self.resolve);
        pass.set_bind_group(1, &grid.resolve_group, &[]);
        pass.dispatch_workgroups(
            size_px[0].div_ceil(RESOLVE_TILE),
            size_px[1].div_ceil(RESOLVE_TILE),
            1,
        );
    }

    /// Frees slot `slot`'s points and grid.
    pub fn remove(&mut self, slot: u64) {
        self.points.remove(slot);
        self.grids.remove(&slot);
    }

    /// Draws slot `slot`'s resolved colours into `pass` (whose viewport is the grid the splat was
    /// recorded for); nothing when the slot has no points.
    pub fn resolve(&self, pass: &mut wgpu::RenderPass<'static>, slot: u64) {
        let Some(grid) = self.grids.get(&slot) else {
            return;
        };
        if self.points.bind(pass, slot).is_some() {
            pass.set_bind_group(1, &grid.draw_group, &[]);
            pass.set_pipeline(&self.draw);
            pass.draw(0..3, 0..1);
        }
    }
}

/// Slot `slot`'s grid state, (re)made when it is smaller than `size_px` in either dimension (then
/// at least as large as before in both, so that alternating sizes do not rebuild it every frame).
fn grid_of<'a>(
    grids: &'a mut HashMap<u64, SlotGrid>,
    layouts: &GridLayouts,
    device: &wgpu::Device,
    slot: u64,
    size_px: [u32; 2],
) -> &'a SlotGrid {
    let grid = grids
        .entry(slot)
        .or_insert_with(|| slot_grid(device, layouts, size_px));
    if size_px[0] > grid.size_px[0] || size_px[1] > grid.size_px[1] {
        let grown = [0, 1].map(|i| size_px[i].max(grid.size_px[i]));
        *grid = slot_grid(device, layouts, grown);
    }
    grid
}

fn slot_grid(device: &wgpu::Device, layouts: &GridLayouts, size_px: [u32; 2]) -> SlotGrid {
    let label = Some("diffscope splat grid");
    let [width, height] = size_px.map(|n| n.max(1));
    let keys = device.create_buffer(&wgpu::BufferDescriptor {
        label,
        size: u64::from(width) * u64::from(height) * 4,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let colours = gpu::texture_2d(
        device,
        "diffscope splat colours",
        [width, height],
        COLOUR_FORMAT,
        wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::TEXTURE_BINDING,
    )
    .create_view(&wgpu::TextureViewDescriptor::default());
    let group = |layout, entries: &[wgpu::BindGroupEntry<'_>]| {
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label,
            layout,
            entries,
        })
    };
    let keys_at = |binding| wgpu::BindGroupEntry {
        binding,
        resource: keys.as_entire_binding(),
    };
    let colours_at = |binding| wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::TextureView(&colours),
    };
    SlotGrid {
        splat_group: group(&layouts.splat, &[keys_at(0)]),
        resolve_group: group(&layouts.resolve, &[keys_at(1), colours_at(2)]),
        draw_group: group(&layouts.draw, &[colours_at(3)]),
        keys,
        size_px: [width, height],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index field holds every index + 1 up to the count, and leaves the rest to depth.
    #[test]
    fn index_bits_hold_the_count() {
        for (count, bits) in [
            (1u32, 1),
            (2, 2),
            (3, 2),
            (100_000, 17),
            (1 << 20, 21),
            (10_000_000, 24),
        ] {
            assert_eq!(index_bits(count), bits, "{count}");
            assert!(u64::from(count) < 1u64 << bits);
        }
    }
}
