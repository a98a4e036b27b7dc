//! Offscreen layers, one per view slot: a renderer draws into its layer only when what it draws changed
//! ([`LayerCache`]), and every frame the layer is composited into egui's pass as one textured triangle
//! (`shaders/composite.wgsl`). Knows textures and passes, not what is drawn into them.

use super::gpu::{self, Frame};
use eframe::egui_wgpu::wgpu;
use std::collections::HashMap;

/// Decides, each frame, what a slot's layer does for the key of its inputs: nothing when it already shows
/// them; a redraw once they have settled (they equal the previous frame's); and while they change every
/// frame (a camera being dragged, the time being scrubbed) the renderer draws straight into egui's pass,
/// since a layer redrawn every frame would only add its clear and its composite. Counts the redraws
/// (what the tests check instead of timings).
#[derive(Debug)]
pub struct LayerCache<K> {
    /// What the layer shows.
    drawn: Option<K>,
    /// The previous frame's key.
    last: Option<K>,
    redraws: u64,
}

/// What a layer does this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Composite the layer as it is.
    Current,
    /// Redraw the layer, then composite it.
    Redraw,
    /// Draw straight into egui's pass; the layer is left as it was.
    Direct,
}

impl<K> Default for LayerCache<K> {
    fn default() -> Self {
        LayerCache {
            drawn: None,
            last: None,
            redraws: 0,
        }
    }
}

impl<K: PartialEq + Clone> LayerCache<K> {
    /// The plan for `key`; `fits` says whether the layer's texture still has the viewport's size (a
    /// texture that does not is redrawn whatever it showed).
    pub fn plan(&mut self, key: K, fits: bool) -> Plan {
        let settled = self.last.as_ref().is_none_or(|last| *last == key);
        self.last = Some(key.clone());
        if fits && self.drawn.as_ref() == Some(&key) {
            Plan::Current
        } else if settled {
            self.drawn = Some(key);
            self.redraws += 1;
            Plan::Redraw
        } else {
            Plan::Direct
        }
    }

    /// How many times the layer was redrawn.
    pub fn redraws(&self) -> u64 {
        self.redraws
    }
}

/// One slot's layer: a texture the size of its viewport and the bind group compositing it.
struct Layer {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    bind_group: wgpu::BindGroup,
}

/// A slot: its layer (once drawn), its cache, and whether this frame draws directly.
struct Slot<K> {
    layer: Option<Layer>,
    cache: LayerCache<K>,
    direct: bool,
}

/// The layers of one renderer, keyed by slot, and the pipeline compositing them into egui's pass.
pub struct OffscreenLayers<K> {
    label: &'static str,
    format: wgpu::TextureFormat,
    composite: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    slots: HashMap<u64, Slot<K>>,
}

impl<K: PartialEq + Clone> OffscreenLayers<K> {
    /// Layers in egui's colour format, composited with premultiplied alpha like every other pipeline.
    pub fn new(
        device: &wgpu::Device,
        label: &'static str,
        target_format: wgpu::TextureFormat,
    ) -> Self {
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let module = gpu::shader(device, label, include_str!("../../shaders/composite.wgsl"));
        let composite = gpu::pipeline(
            device,
            label,
            &module,
            &layout,
            &[],
            wgpu::PrimitiveTopology::TriangleList,
            target_format,
        );
        OffscreenLayers {
            label,
            format: target_format,
            composite,
            layout,
            slots: HashMap::new(),
        }
    }

    /// Plans `slot`'s frame for the key of its inputs (see [`LayerCache`]); returns a pass into the
    /// layer, cleared to transparent, when the caller must redraw it. After a [`Plan::Direct`] the
    /// caller draws in [`Self::paint`]'s `direct`. Nothing is drawn for an empty viewport.
    pub fn prepare(
        &mut self,
        frame: &mut Frame<'_>,
        slot: u64,
        key: K,
    ) -> Option<wgpu::RenderPass<'static>> {
        let size = [
            u32::try_from(frame.viewport.width_px).unwrap_or(0),
            u32::try_from(frame.viewport.height_px).unwrap_or(0),
        ];
        if size.contains(&0) {
            self.slots.remove(&slot);
            return None;
        }
        let state = self.slots.entry(slot).or_insert_with(|| Slot {
            layer: None,
            cache: LayerCache::default(),
            direct: false,
        });
        let fits = state
            .layer
            .as_ref()
            .is_some_and(|l| [l.texture.width(), l.texture.height()] == size);
        let plan = state.cache.plan(key, fits);
        state.direct = plan == Plan::Direct;
        if plan != Plan::Redraw {
            return None;
        }
        if !fits {
            let layer = layer(frame.device, self.label, self.format, &self.layout, size);
            state.layer = Some(layer);
        }
        let view = &state.layer.as_ref()?.view;
        let pass = frame
            .encoder
            .begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some(self.label),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
        Some(pass.forget_lifetime())
    }

    /// Draws `slot` into egui's pass (whose viewport is the layer's): its layer, or `direct` when this
    /// frame was planned to draw directly.
    pub fn paint(
        &self,
        pass: &mut wgpu::RenderPass<'static>,
        slot: u64,
        direct: impl FnOnce(&mut wgpu::RenderPass<'static>),
    ) {
        let Some(state) = self.slots.get(&slot) else {
            return;
        };
        if state.direct {
            direct(pass);
        } else if let Some(layer) = &state.layer {
            pass.set_pipeline(&self.composite);
            pass.set_bind_group(0, &layer.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }

    /// How many times `slot`'s layer was redrawn (0 if it never was).
    pub fn redraws(&self, slot: u64) -> u64 {
        self.slots.get(&slot).map_or(0, |s| s.cache.redraws())
    }
}

/// A `width × height` layer in `format` with its composite bind group.
fn layer(
    device: &wgpu::Device,
    label: &str,
    format: wgpu::TextureFormat,
    layout: &wgpu::BindGroupLayout,
    [width, height]: [u32; 2],
) -> Layer {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::TextureView(&view),
        }],
    });
    Layer {
        texture,
        view,
        bind_group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Plan::*;

    /// Still frames composite, settled changes redraw once, and keys that change every frame draw
    /// directly until they settle.
    #[test]
    fn a_layer_is_redrawn_once_its_inputs_settle_and_never_for_unchanged_ones() {
        let mut cache = LayerCache::default();
        let frames = [1, 1, 2, 2, 2, 3, 4, 5, 5, 5, 1];
        let plans: Vec<Plan> = frames.iter().map(|&k| cache.plan(k, true)).collect();
        assert_eq!(
            plans,
            [
                Redraw, Current, Direct, Redraw, Current, Direct, Direct, Direct, Redraw, Current,
                Direct
            ]
        );
        assert_eq!(cache.redraws(), 3);
        // A texture of the wrong size is redrawn even for the key it showed.
        assert_eq!(cache.plan(1, false), Redraw);
        assert_eq!(cache.plan(1, true), Current);
        assert_eq!(cache.redraws(), 4);
    }
}
