//! The splat point renderer (issue #18), for software rasterisers: a compute pass (`shaders/splat.wgsl`)
//! writes, for every pixel a point's disc covers, the key of the nearest point into a per-slot buffer of
//! 32-bit keys with `atomicMax`; a resolve pass (one fullscreen triangle) shades each pixel with its
//! winner's colour and disc coverage, exactly as the sprite shader would. Its cost grows with points ×
//! footprint pixels and view pixels, not with the 2 triangles per point that dominate the sprite
//! pipeline on lavapipe. Overlapping discs differ from sprites only in that one point is shown per pixel
//! instead of all of them blended: a disc's opaque interior before any rim, then the nearest, then (at
//! equal depth) the later point, as in the sprites' draw order.
//!
//! The same two passes can run on the CPU instead ([`super::cpu_splat::CpuSplat`]); the slot's
//! resolved colours are then uploaded, and drawn the same way.
//!
//! [`super::points`] decides which renderer draws and where (into the offscreen layer or egui's pass);
//! this module only keeps the GPU state of each slot: its uniform, its points (one storage buffer,
//! re-uploaded only when their generation changes), its key buffer and its colour texture.

use super::colormap::{ColoringUniform, PointColoring};
use super::cpu_splat::{CpuSplat, CpuSplatInput};
use super::gpu::{self, DataKind, DataSlots, Frame, SlotUpload};
use super::splat_keys::{PointInstance, index_bits};
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::wgpu;
use std::collections::HashMap;

/// Invocations per workgroup of the splat; kept in sync with `WORKGROUP` in `shaders/splat.wgsl`.
const WORKGROUP: u32 = 64;
/// The resolve's workgroups cover tiles of this many pixels square; kept in sync with
/// `@workgroup_size` of `resolve_pixels`.
const RESOLVE_TILE: u32 = 8;

/// Uniform block; kept in sync with `SplatUniform` in `shaders/splat.wgsl` (std140 layout: 256 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub(super) struct SplatUniform {
    view_proj: [[f32; 4]; 4],
    viewport_px: [f32; 2],
    radius_px: f32,
    count: u32,
    index_bits: u32,
    _pad: [u32; 3],
    coloring: ColoringUniform,
}

/// Where a slot's resolved colours land in the framebuffer; kept in sync with `GridPlacement` in
/// `shaders/splat.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
struct GridPlacement {
    origin_px: [f32; 2],
    size_px: [f32; 2],
}

/// Where a splat lands: the pixel grid of the view (or of its layer) and where that grid starts in the
/// framebuffer the resolve draws into.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct SplatTarget {
    pub view_proj: glam::Mat4,
    pub size_px: [u32; 2],
    pub origin_px: [f32; 2],
}

/// One slot's splat: its points (`generation` changes whenever they do), where they land, and how
/// they look.
#[derive(Clone, Copy, Debug)]
pub(super) struct SplatDraw<'a> {
    pub target: SplatTarget,
    pub points: &'a [PointInstance],
    pub generation: u64,
    pub radius_px: f32,
    pub coloring: PointColoring,
    pub opacity: f32,
}

/// The resolved colours: premultiplied RGBA per pixel, in half floats so that the draw gives the
/// 8-bit target the same value the resolve computed (an 8-bit store would round twice).
const COLOUR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;
/// Bytes per texel of [`COLOUR_FORMAT`].
const COLOUR_TEXEL_BYTES: u32 = 8;

/// One slot's per-pixel state: the key buffer (a `u32` per pixel of its grid), the resolved colour
/// texture and where the draw puts it, with the bind groups exposing them to the three passes.
struct SlotGrid {
    keys: wgpu::Buffer,
    colours: wgpu::Texture,
    placement: wgpu::Buffer,
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
    /// The draw: its placement and the colour texture, read texel for pixel.
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
            draw: layout(&[
                gpu::uniform_entry(2),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: gpu::TEXEL_BINDING,
                    count: None,
                },
            ]),
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
    /// The CPU splat's buffers, shared by the slots it draws (each frame's result is uploaded at once).
    cpu: CpuSplat,
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
            &[&grid_layouts.draw],
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
            cpu: CpuSplat::default(),
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
            && self.grid_fits(size_px)
            && groups <= u64::from(self.max_groups).pow(2)
    }

    /// Whether a `size_px` grid fits the device's textures (all the CPU splat needs of it).
    pub fn grid_fits(&self, size_px: [u32; 2]) -> bool {
        size_px.iter().all(|&n| n <= self.max_texture_px)
    }

    /// Records slot `slot`'s splat of `draw` on the GPU: writes its uniform, uploads the points if
    /// their generation is new, clears its keys, dispatches one invocation per point and then one per
    /// pixel to resolve the colours. The caller checked [`Self::fits`].
    pub(super) fn prepare(&mut self, frame: &mut Frame<'_>, slot: u64, draw: &SplatDraw<'_>) {
        let count = draw.points.len() as u32;
        let uniform = SplatUniform {
            view_proj: draw.target.view_proj.to_cols_array_2d(),
            viewport_px: draw.target.size_px.map(|n| n as f32),
            radius_px: draw.radius_px,
            count,
            index_bits: index_bits(count),
            _pad: [0; 3],
            coloring: ColoringUniform::new(draw.coloring, draw.opacity),
        };
        let upload = SlotUpload {
            generation: draw.generation,
            data: draw.points,
            row: 0,
        };
        self.points.prepare(frame, slot, &uniform, upload);
        let size_px = draw.target.size_px;
        let grid = placed_grid(
            &mut self.grids,
            &self.grid_layouts,
            frame,
            slot,
            draw.target,
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

    /// Splats and resolves `draw` on the CPU ([`CpuSplat`]) and uploads the colours into slot
    /// `slot`'s texture: no points go to the GPU. The caller checked [`Self::grid_fits`].
    pub(super) fn prepare_cpu(&mut self, frame: &mut Frame<'_>, slot: u64, draw: &SplatDraw<'_>) {
        let [width, height] = draw.target.size_px;
        let texels = self.cpu.draw(&CpuSplatInput {
            points: draw.points,
            view_proj: draw.target.view_proj,
            size_px: draw.target.size_px,
            radius_px: draw.radius_px,
            coloring: draw.coloring,
            opacity: draw.opacity,
        });
        let grid = placed_grid(
            &mut self.grids,
            &self.grid_layouts,
            frame,
            slot,
            draw.target,
        );
        frame.queue.write_texture(
            grid.colours.as_image_copy(),
            bytemuck::cast_slice(texels),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(width * COLOUR_TEXEL_BYTES),
                rows_per_image: Some(height),
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
    }

    /// Frees slot `slot`'s points and grid.
    pub fn remove(&mut self, slot: u64) {
        self.points.remove(slot);
        self.grids.remove(&slot);
    }

    /// Draws slot `slot`'s resolved colours into `pass` (whose viewport is the grid the splat was
    /// recorded for); nothing when the slot was never prepared.
    pub fn resolve(&self, pass: &mut wgpu::RenderPass<'static>, slot: u64) {
        let Some(grid) = self.grids.get(&slot) else {
            return;
        };
        pass.set_bind_group(0, &grid.draw_group, &[]);
        pass.set_pipeline(&self.draw);
        pass.draw(0..3, 0..1);
    }
}

/// Slot `slot`'s grid state for `target`, its placement written (a free function, so that the CPU
/// splat's texels can be borrowed from the pipeline meanwhile).
fn placed_grid<'a>(
    grids: &'a mut HashMap<u64, SlotGrid>,
    layouts: &GridLayouts,
    frame: &Frame<'_>,
    slot: u64,
    target: SplatTarget,
) -> &'a SlotGrid {
    let grid = grid_of(grids, layouts, frame.device, slot, target.size_px);
    let placement = GridPlacement {
        origin_px: target.origin_px,
        size_px: target.size_px.map(|n| n as f32),
    };
    frame
        .queue
        .write_buffer(&grid.placement, 0, bytemuck::bytes_of(&placement));
    grid
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
        wgpu::TextureUsages::STORAGE_BINDING
            | wgpu::TextureUsages::TEXTURE_BINDING
            | wgpu::TextureUsages::COPY_DST,
    );
    let view = colours.create_view(&wgpu::TextureViewDescriptor::default());
    let placement = gpu::uniform_buffer(
        device,
        "diffscope splat placement",
        std::mem::size_of::<GridPlacement>(),
    );
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
        resource: wgpu::BindingResource::TextureView(&view),
    };
    SlotGrid {
        splat_group: group(&layouts.splat, &[keys_at(0)]),
        resolve_group: group(&layouts.resolve, &[keys_at(1), colours_at(2)]),
        draw_group: group(
            &layouts.draw,
            &[
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: placement.as_entire_binding(),
                },
                colours_at(3),
            ],
        ),
        keys,
        colours,
        placement,
        size_px: [width, height],
    }
}
