//! wgpu boilerplate shared by the pipelines: shader modules with the colormap prepended, render pipelines
//! that match egui's pass (its colour format, premultiplied alpha, no depth, one sample), and the per-view
//! data slots (uniform + vertex buffer, storage buffer or data texture, uploaded only when the data
//! changes).

use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor, wgpu};
use std::collections::HashMap;
use std::sync::Arc;

/// How the window and the offscreen renderer create their device: egui's defaults (its adapter
/// choice, 8192² textures, WebGL2 limits on GL), with storage bindings and buffers as large as the
/// adapter allows. wgpu's default caps one binding at 128 MiB, which would cap a splat at 8.4M points
/// of 16 B; lavapipe allows 2 GiB.
pub fn wgpu_setup() -> egui_wgpu::WgpuSetup {
    let egui_default = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    let base = Arc::clone(&egui_default.device_descriptor);
    egui_wgpu::WgpuSetup::CreateNew(egui_wgpu::WgpuSetupCreateNew {
        device_descriptor: Arc::new(move |adapter| {
            let mut descriptor = base(adapter);
            let supported = adapter.limits();
            let limits = &mut descriptor.required_limits;
            limits.max_storage_buffer_binding_size = limits
                .max_storage_buffer_binding_size
                .max(supported.max_storage_buffer_binding_size);
            limits.max_buffer_size = limits.max_buffer_size.max(supported.max_buffer_size);
            descriptor
        }),
        ..egui_default
    })
}

/// A wgpu device without a surface: the first adapter, CPU ones (lavapipe, llvmpipe) included.
pub fn headless_render_state() -> Result<egui_wgpu::RenderState, String> {
    let setup = wgpu_setup();
    let instance = pollster::block_on(setup.new_instance());
    let config = egui_wgpu::WgpuConfiguration {
        wgpu_setup: setup,
        ..Default::default()
    };
    pollster::block_on(egui_wgpu::RenderState::create(
        &config,
        &instance,
        None,
        egui_wgpu::RendererOptions::default(),
    ))
    .map_err(|e| format!("no usable wgpu adapter for offscreen rendering: {e}"))
}

/// A shader module from `source` with `shaders/colormap.wgsl` (colormaps and the shared `Coloring`
/// uniform block) prepended.
pub(super) fn shader(device: &wgpu::Device, label: &str, source: &str) -> wgpu::ShaderModule {
    let full = format!(
        "{}\n{}",
        include_str!("../../shaders/colormap.wgsl"),
        source
    );
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(full.into()),
    })
}

/// Binding `binding`: one uniform buffer seen by every stage (the splat renderer's compute pass reads
/// the same uniform as its resolve pass).
pub(super) fn uniform_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::VERTEX_FRAGMENT | wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A 2-D float texture binding read texel by texel (`textureLoad`, no sampler).
pub(super) const TEXEL_BINDING: wgpu::BindingType = wgpu::BindingType::Texture {
    sample_type: wgpu::TextureSampleType::Float { filterable: false },
    view_dimension: wgpu::TextureViewDimension::D2,
    multisampled: false,
};

/// A 2-D texture of `size_px` with one mip level and one sample.
pub fn texture_2d(
    device: &wgpu::Device,
    label: &str,
    size_px: [u32; 2],
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: size_px[0],
            height: size_px[1],
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

/// A uniform buffer of `size` bytes written with `queue.write_buffer`.
pub(super) fn uniform_buffer(device: &wgpu::Device, label: &str, size: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// A pipeline layout of `bind_group_layouts` (groups 0, 1, …).
pub(super) fn pipeline_layout(
    device: &wgpu::Device,
    label: &str,
    bind_group_layouts: &[&wgpu::BindGroupLayout],
) -> wgpu::PipelineLayout {
    let groups: Vec<Option<&wgpu::BindGroupLayout>> =
        bind_group_layouts.iter().copied().map(Some).collect();
    device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &groups,
        immediate_size: 0,
    })
}

/// A render pipeline into egui's pass with entry points `vs_main` / `fs_main`.
pub(super) fn pipeline(
    device: &wgpu::Device,
    label: &str,
    module: &wgpu::ShaderModule,
    bind_group_layouts: &[&wgpu::BindGroupLayout],
    buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
    topology: wgpu::PrimitiveTopology,
    target_format: wgpu::TextureFormat,
) -> wgpu::RenderPipeline {
    let layout = pipeline_layout(device, label, bind_group_layouts);
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers,
        },
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: target_format,
                // egui blends premultiplied alpha; the shaders premultiply.
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        primitive: wgpu::PrimitiveState {
            topology,
            ..Default::default()
        },
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        multiview_mask: None,
        cache: None,
    })
}

/// What distinguishes one renderer's pipeline from another's.
pub struct PipelineSpec<'a> {
    pub label: &'static str,
    /// WGSL with `vs_main` / `fs_main` (the colormap is prepended).
    pub source: &'a str,
    pub kind: DataKind,
    pub uniform_size: usize,
    pub buffers: &'a [Option<wgpu::VertexBufferLayout<'a>>],
    pub topology: wgpu::PrimitiveTopology,
}

/// A render pipeline into egui's pass with its per-view data slots: each renderer is one of these.
pub struct SlotPipeline {
    pipeline: wgpu::RenderPipeline,
    slots: DataSlots,
}

impl SlotPipeline {
    pub fn new(
        device: &wgpu::Device,
        target_format: wgpu::TextureFormat,
        spec: PipelineSpec<'_>,
    ) -> Self {
        let module = shader(device, spec.label, spec.source);
        let slots = DataSlots::new(device, spec.label, spec.kind, spec.uniform_size);
        let pipeline = pipeline(
            device,
            spec.label,
            &module,
            &[&slots.layout],
            spec.buffers,
            spec.topology,
            target_format,
        );
        SlotPipeline { pipeline, slots }
    }

    /// Frees slot `key`'s GPU state.
    pub fn remove(&mut self, key: u64) {
        self.slots.remove(key);
    }

    /// Writes slot `key`'s uniform and uploads `data` if its generation is new (see [`SlotUpload`]).
    pub fn prepare<U: bytemuck::Pod, T: bytemuck::Pod>(
        &mut self,
        frame: &Frame<'_>,
        key: u64,
        uniform: &U,
        upload: SlotUpload<'_, T>,
    ) {
        self.slots.prepare(frame, key, uniform, upload);
    }

    /// Draws slot `key` with the (vertex, instance) ranges `ranges(element count)`; nothing when the
    /// slot is empty.
    pub fn draw(
        &self,
        pass: &mut wgpu::RenderPass<'static>,
        key: u64,
        ranges: impl FnOnce(u32) -> (std::ops::Range<u32>, std::ops::Range<u32>),
    ) {
        if let Some(count) = self.slots.bind(pass, key) {
            pass.set_pipeline(&self.pipeline);
            let (vertices, instances) = ranges(count);
            pass.draw(vertices, instances);
        }
    }
}

/// A slot's data for [`SlotPipeline::prepare`]: uploaded only when `generation` is not already on the GPU.
pub struct SlotUpload<'a, T> {
    pub generation: u64,
    pub data: &'a [T],
    /// Elements per texture row (ignored for vertices); the last row is zero-padded.
    pub row: usize,
}

/// What a renderer's per-frame callback sees while preparing: egui's device, queue and encoder (passes
/// recorded here run before egui's main pass), and the callback's viewport in physical pixels, computed
/// the way egui-wgpu sets it for `paint`.
pub struct Frame<'a> {
    pub device: &'a wgpu::Device,
    pub queue: &'a wgpu::Queue,
    pub encoder: &'a mut wgpu::CommandEncoder,
    pub viewport: egui::epaint::ViewportInPixels,
}

/// One frame's draw by a renderer whose pipeline lives in egui-wgpu's `callback_resources`.
pub trait SlotCallback: Send + Sync + 'static {
    type Pipeline: Send + Sync + 'static;
    /// Uploads, writes uniforms and records offscreen passes.
    fn prepare(&self, pipeline: &mut Self::Pipeline, frame: &mut Frame<'_>);
    /// Draws into egui's pass (its viewport is already the callback rect).
    fn paint(&self, pipeline: &Self::Pipeline, pass: &mut wgpu::RenderPass<'static>);
}

/// The egui paint callback drawing `callback` over `rect`; nothing is drawn when its pipeline was never
/// installed.
pub fn paint_callback<C: SlotCallback>(rect: egui::Rect, callback: C) -> egui::PaintCallback {
    eframe::egui_wgpu::Callback::new_paint_callback(rect, Shell { rect, callback })
}

/// The egui-wgpu side of every [`SlotCallback`]: finds the pipeline among the callback resources.
struct Shell<C> {
    rect: egui::Rect,
    callback: C,
}

impl<C: SlotCallback> CallbackTrait for Shell<C> {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen: &ScreenDescriptor,
        encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(pipeline) = resources.get_mut::<C::Pipeline>() {
            let viewport = egui::epaint::ViewportInPixels::from_points(
                &self.rect,
                screen.pixels_per_point,
                screen.size_in_pixels,
            );
            let mut frame = Frame {
                device,
                queue,
                encoder,
                viewport,
            };
            self.callback.prepare(pipeline, &mut frame);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        if let Some(pipeline) = resources.get::<C::Pipeline>() {
            self.callback.paint(pipeline, render_pass);
        }
    }
}

/// Installs a renderer's pipeline into egui-wgpu's renderer (once, at app start).
pub fn install<P: Send + Sync + 'static>(
    render_state: &eframe::egui_wgpu::RenderState,
    build: impl FnOnce(&wgpu::Device, wgpu::TextureFormat) -> P,
) {
    let pipeline = build(&render_state.device, render_state.target_format);
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(pipeline);
}

/// How a pipeline reads its per-view data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// A vertex buffer at slot 0, one element per vertex or instance.
    Vertices,
    /// A 2-D texture at binding 1 (seen by both stages), one element per texel, `row` elements per row.
    Texels(wgpu::TextureFormat),
    /// A read-only storage buffer at binding 1 (seen by the compute and fragment stages), one element
    /// per array entry.
    Storage,
}

/// One view's GPU data: its uniform buffer, its bind group, and the data (a vertex buffer or a data
/// texture) which is re-uploaded only when the caller's data generation changes.
struct DataSlot {
    uniform: wgpu::Buffer,
    bind_group: Option<wgpu::BindGroup>,
    data: Option<SlotData>,
    count: u32,
    generation: u64,
}

enum SlotData {
    /// A vertex or storage buffer and its capacity in bytes.
    Buffer(wgpu::Buffer, u64),
    Texture(wgpu::Texture),
}

/// The per-view data slots of one pipeline, with the bind group layout they share: uniform at
/// binding 0 and, for [`DataKind::Texels`] and [`DataKind::Storage`], the data at binding 1.
pub(super) struct DataSlots {
    label: &'static str,
    kind: DataKind,
    uniform_size: usize,
    layout: wgpu::BindGroupLayout,
    slots: HashMap<u64, DataSlot>,
}

impl DataSlots {
    pub(super) fn new(
        device: &wgpu::Device,
        label: &'static str,
        kind: DataKind,
        uniform_size: usize,
    ) -> Self {
        let mut entries = vec![uniform_entry(0)];
        let data = match kind {
            DataKind::Vertices => None,
            DataKind::Texels(_) => Some((wgpu::ShaderStages::VERTEX_FRAGMENT, TEXEL_BINDING)),
            DataKind::Storage => Some((
                wgpu::ShaderStages::COMPUTE | wgpu::ShaderStages::FRAGMENT,
                wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: true },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
            )),
        };
        if let Some((visibility, ty)) = data {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility,
                ty,
                count: None,
            });
        }
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &entries,
        });
        DataSlots {
            label,
            kind,
            uniform_size,
            layout,
            slots: HashMap::new(),
        }
    }

    /// The layout of every slot's bind group.
    pub(super) fn layout(&self) -> &wgpu::BindGroupLayout {
        &self.layout
    }

    /// Writes slot `key`'s uniform and uploads the data unless its generation is already on the GPU.
    pub(super) fn prepare<U: bytemuck::Pod, T: bytemuck::Pod>(
        &mut self,
        frame: &Frame<'_>,
        key: u64,
        uniform: &U,
        upload: SlotUpload<'_, T>,
    ) {
        let (device, queue) = (frame.device, frame.queue);
        let SlotUpload {
            generation,
            data,
            row,
        } = upload;
        let (label, size) = (self.label, self.uniform_size);
        let slot = self.slots.entry(key).or_insert_with(|| DataSlot {
            uniform: uniform_buffer(device, label, size),
            bind_group: None,
            data: None,
            count: 0,
            generation: u64::MAX,
        });
        queue.write_buffer(&slot.uniform, 0, bytemuck::bytes_of(uniform));
        if slot.generation == generation {
            return;
        }
        slot.generation = generation;
        slot.count = data.len() as u32;
        if data.is_empty() {
            return;
        }
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let rebuilt = match self.kind {
            DataKind::Vertices => upload_buffer(
                device,
                queue,
                &mut slot.data,
                label,
                wgpu::BufferUsages::VERTEX,
                bytes,
            ),
            DataKind::Storage => upload_buffer(
                device,
                queue,
                &mut slot.data,
                label,
                wgpu::BufferUsages::STORAGE,
                bytes,
            ),
            DataKind::Texels(format) => {
                let row = row.clamp(1, data.len());
                upload_texels(device, queue, &mut slot.data, label, format, data, row)
            }
        };
        if rebuilt || slot.bind_group.is_none() {
            slot.bind_group = Some(bind_group(
                device,
                self.kind,
                &self.layout,
                label,
                &slot.uniform,
                slot.data.as_ref(),
            ));
        }
    }

    /// Slot `key`'s bind group and element count; `None` when the slot has nothing to draw.
    /// Frees slot `key`'s GPU state.
    pub(super) fn remove(&mut self, key: u64) {
        self.slots.remove(&key);
    }

    pub(super) fn get(&self, key: u64) -> Option<(&wgpu::BindGroup, u32)> {
        let slot = self.slots.get(&key).filter(|s| s.count > 0)?;
        Some((slot.bind_group.as_ref()?, slot.count))
    }

    /// Binds slot `key` (bind group 0, and for [`DataKind::Vertices`] the vertex buffer at slot 0) and
    /// returns its element count; `None` when the slot has nothing to draw.
    pub(super) fn bind(&self, pass: &mut wgpu::RenderPass<'static>, key: u64) -> Option<u32> {
        let (bind_group, count) = self.get(key)?;
        pass.set_bind_group(0, bind_group, &[]);
        if let (DataKind::Vertices, Some(SlotData::Buffer(buffer, _))) =
            (self.kind, &self.slots.get(&key)?.data)
        {
            pass.set_vertex_buffer(0, buffer.slice(..));
        }
        Some(count)
    }
}

/// Writes `bytes` into the slot's buffer (of `usage`), reallocating only when it grows: the one
/// `write_buffer` of new points every frame while the time plays. True when reallocated.
fn upload_buffer(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    data: &mut Option<SlotData>,
    label: &str,
    usage: wgpu::BufferUsages,
    bytes: &[u8],
) -> bool {
    use wgpu::util::DeviceExt;
    if let Some(SlotData::Buffer(buffer, capacity)) = data
        && *capacity >= bytes.len() as u64
    {
        queue.write_buffer(buffer, 0, bytes);
        return false;
    }
    let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytes,
        usage: usage | wgpu::BufferUsages::COPY_DST,
    });
    *data = Some(SlotData::Buffer(buffer, bytes.len() as u64));
    true
}

/// Writes `data` into a `row`-wide texture (last row zero-padded), recreating it only when its size
/// changes; true when recreated.
fn upload_texels<T: bytemuck::Pod>(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    data: &mut Option<SlotData>,
    label: &str,
    format: wgpu::TextureFormat,
    values: &[T],
    row: usize,
) -> bool {
    let size_px = [row as u32, values.len().div_ceil(row) as u32];
    let size = wgpu::Extent3d {
        width: size_px[0],
        height: size_px[1],
        depth_or_array_layers: 1,
    };
    let reuse =
        matches!(data, Some(SlotData::Texture(t)) if t.size() == size && t.format() == format);
    if !reuse {
        *data = Some(SlotData::Texture(texture_2d(
            device,
            label,
            size_px,
            format,
            wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        )));
    }
    let Some(SlotData::Texture(texture)) = &*data else {
        return !reuse;
    };
    let element = std::mem::size_of::<T>();
    let full_rows = values.len() / row;
    let copy = |rows: std::ops::Range<usize>, bytes: &[u8]| {
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: 0,
                    y: rows.start as u32,
                    z: 0,
                },
                aspect: wgpu::TextureAspect::All,
            },
            bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some((row * element) as u32),
                rows_per_image: Some(rows.len() as u32),
            },
            wgpu::Extent3d {
                width: row as u32,
                height: rows.len() as u32,
                depth_or_array_layers: 1,
            },
        );
    };
    if full_rows > 0 {
        copy(
            0..full_rows,
            bytemuck::cast_slice(&values[..full_rows * row]),
        );
    }
    let rest = &values[full_rows * row..];
    if !rest.is_empty() {
        // The partial last row, zero-padded to the texture width.
        let mut padded = vec![0u8; row * element];
        padded[..std::mem::size_of_val(rest)].copy_from_slice(bytemuck::cast_slice(rest));
        copy(full_rows..full_rows + 1, &padded);
    }
    !reuse
}

fn bind_group(
    device: &wgpu::Device,
    kind: DataKind,
    layout: &wgpu::BindGroupLayout,
    label: &str,
    uniform: &wgpu::Buffer,
    data: Option<&SlotData>,
) -> wgpu::BindGroup {
    let view = match data {
        Some(SlotData::Texture(texture)) => {
            Some(texture.create_view(&wgpu::TextureViewDescriptor::default()))
        }
        _ => None,
    };
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: uniform.as_entire_binding(),
    }];
    match (kind, data, &view) {
        (DataKind::Texels(_), _, Some(view)) => entries.push(wgpu::BindGroupEntry {
            binding: 1,
            resource: wgpu::BindingResource::TextureView(view),
        }),
        (DataKind::Storage, Some(SlotData::Buffer(buffer, _)), _) => {
            entries.push(wgpu::BindGroupEntry {
                binding: 1,
                resource: buffer.as_entire_binding(),
            })
        }
        _ => {}
    }
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}
