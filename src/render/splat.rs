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

/// Invocations per workgroup; kept in sync with `WORKGROUP` in `shaders/splat.wgsl`.
const WORKGROUP: u32 = 64;

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

/// One slot's key buffer (a `u32` per pixel of its grid) and the bind group exposing it.
struct KeyBuffer {
    buffer: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    pixels: u64,
}

/// The splat pipelines and the GPU state of every point slot drawn by them.
pub struct SplatPipeline {
    points: DataSlots,
    keys_layout: wgpu::BindGroupLayout,
    keys: HashMap<u64, KeyBuffer>,
    splat: wgpu::ComputePipeline,
    resolve: wgpu::RenderPipeline,
    /// The largest storage binding the device allows, in bytes (points and keys are each one binding).
    max_binding: u64,
    max_groups: u32,
}

impl SplatPipeline {
    /// Whether `adapter` can run the splat renderer: compute shaders and storage buffers that the
    /// resolve's fragment stage may bind read-write (WebGL-class backends cannot).
    pub fn supported(adapter: &wgpu::Adapter, device: &wgpu::Device) -> bool {
        let flags = adapter.get_downlevel_capabilities().flags;
        flags.contains(
            wgpu::DownlevelFlags::COMPUTE_SHADERS | wgpu::DownlevelFlags::FRAGMENT_WRITABLE_STORAGE,
        ) && device.limits().max_storage_buffers_per_shader_stage >= 2
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
        let keys_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE | wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: false },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let module = gpu::shader(device, label, include_str!("../../shaders/splat.wgsl"));
        let layouts = [points.layout(), &keys_layout];
        let splat = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: Some(&gpu::pipeline_layout(device, label, &layouts)),
            module: &module,
            entry_point: Some("splat_points"),
            compilation_options: Default::default(),
            cache: None,
        });
        let resolve = gpu::pipeline(
            device,
            label,
            &module,
            &layouts,
            &[],
            wgpu::PrimitiveTopology::TriangleList,
            target_format,
        );
        let limits = device.limits();
        SplatPipeline {
            points,
            keys_layout,
            keys: HashMap::new(),
            splat,
            resolve,
            max_binding: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
            max_groups: limits.max_compute_workgroups_per_dimension,
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
            && groups <= u64::from(self.max_groups).pow(2)
    }

    /// Records slot `slot`'s splat into `target`: writes its uniform, uploads the points if their
    /// generation is new, clears its keys and dispatches one invocation per point. The caller checked
    /// [`Self::fits`].
    pub(super) fn prepare<T: Pod>(
        &mut self,
        frame: &mut Frame<'_>,
        slot: u64,
        uniform: &SplatUniform,
        upload: SlotUpload<'_, T>,
    ) {
        let count = upload.data.len() as u32;
        self.points.prepare(frame, slot, uniform, upload);
        let pixels =
            u64::from(uniform.viewport_px[0] as u32) * u64::from(uniform.viewport_px[1] as u32);
        let keys = key_buffer_of(
            &mut self.keys,
            &self.keys_layout,
            frame.device,
            slot,
            pixels,
        );
        let Some((points, _)) = self.points.get(slot) else {
            return;
        };
        frame
            .encoder
            .clear_buffer(&keys.buffer, 0, Some(pixels * 4));
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
        pass.set_bind_group(1, &keys.bind_group, &[]);
        pass.dispatch_workgroups(x, groups.div_ceil(x.max(1)), 1);
    }

    /// Draws slot `slot`'s resolve into `pass` (whose viewport is the grid the splat was recorded
    /// for); nothing when the slot has no points.
    pub fn resolve(&self, pass: &mut wgpu::RenderPass<'static>, slot: u64) {
        let Some(keys) = self.keys.get(&slot) else {
            return;
        };
        if self.points.bind(pass, slot).is_some() {
            pass.set_bind_group(1, &keys.bind_group, &[]);
            pass.set_pipeline(&self.resolve);
            pass.draw(0..3, 0..1);
        }
    }
}

/// Slot `slot`'s key buffer, (re)made when it holds fewer than `pixels` keys.
fn key_buffer_of<'a>(
    keys: &'a mut HashMap<u64, KeyBuffer>,
    layout: &wgpu::BindGroupLayout,
    device: &wgpu::Device,
    slot: u64,
    pixels: u64,
) -> &'a KeyBuffer {
    let keys = keys
        .entry(slot)
        .or_insert_with(|| key_buffer(device, layout, pixels));
    if keys.pixels < pixels {
        *keys = key_buffer(device, layout, pixels);
    }
    keys
}

fn key_buffer(device: &wgpu::Device, layout: &wgpu::BindGroupLayout, pixels: u64) -> KeyBuffer {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("diffscope splat keys"),
        size: pixels.max(1) * 4,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("diffscope splat keys"),
        layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: buffer.as_entire_binding(),
        }],
    });
    KeyBuffer {
        buffer,
        bind_group,
        pixels,
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
