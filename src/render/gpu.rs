//! wgpu boilerplate shared by the pipelines: shader modules with the colormap prepended, uniform
//! bind-group entries, and render pipelines that match egui's pass (its colour format, premultiplied
//! alpha, no depth, one sample).

use eframe::egui_wgpu::wgpu;

/// A shader module from `source` with `shaders/colormap.wgsl` prepended.
pub fn shader(device: &wgpu::Device, label: &str, source: &str) -> wgpu::ShaderModule {
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

/// Binding `binding`: one uniform buffer seen by both stages.
pub fn uniform_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A uniform buffer of `size` bytes written with `queue.write_buffer`.
pub fn uniform_buffer(device: &wgpu::Device, label: &str, size: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// A render pipeline into egui's pass with entry points `vs_main` / `fs_main`.
pub fn pipeline(
    device: &wgpu::Device,
    label: &str,
    module: &wgpu::ShaderModule,
    bind_group_layout: &wgpu::BindGroupLayout,
    buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
    topology: wgpu::PrimitiveTopology,
    target_format: wgpu::TextureFormat,
) -> wgpu::RenderPipeline {
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(bind_group_layout)],
        immediate_size: 0,
    });
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

/// One view's GPU data for a pipeline: its uniform buffer and bind group, and a vertex buffer that is
/// re-uploaded only when the caller's data generation changes (and reallocated only when it grows).
pub struct DataSlot {
    pub uniform: wgpu::Buffer,
    pub bind_group: wgpu::BindGroup,
    vertices: Option<wgpu::Buffer>,
    capacity: usize,
    count: u32,
    generation: u64,
}

impl DataSlot {
    /// A slot whose bind group holds one uniform buffer of `uniform_size` bytes at binding 0.
    pub fn new(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        label: &str,
        uniform_size: usize,
    ) -> Self {
        let uniform = uniform_buffer(device, label, uniform_size);
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            }],
        });
        DataSlot {
            uniform,
            bind_group,
            vertices: None,
            capacity: 0,
            count: 0,
            generation: u64::MAX,
        }
    }

    /// Uploads `data` unless `generation` is already on the GPU.
    pub fn upload<T: bytemuck::Pod>(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        generation: u64,
        data: &[T],
    ) {
        use wgpu::util::DeviceExt;
        if self.generation == generation {
            return;
        }
        self.generation = generation;
        self.count = data.len() as u32;
        if data.is_empty() {
            return;
        }
        match &self.vertices {
            Some(buffer) if self.capacity >= data.len() => {
                queue.write_buffer(buffer, 0, bytemuck::cast_slice(data));
            }
            _ => {
                self.vertices = Some(device.create_buffer_init(
                    &wgpu::util::BufferInitDescriptor {
                        label: Some("diffscope vertices"),
                        contents: bytemuck::cast_slice(data),
                        usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                    },
                ));
                self.capacity = data.len();
            }
        }
    }

    /// The uploaded buffer and its element count, when there is something to draw.
    pub fn vertices(&self) -> Option<(&wgpu::Buffer, u32)> {
        self.vertices
            .as_ref()
            .filter(|_| self.count > 0)
            .map(|b| (b, self.count))
    }
}
