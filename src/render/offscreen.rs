//! Offscreen layers, one per view slot: a renderer draws into its layer only when what it draws changed
//! ([`LayerCache`]), and every frame the layer is composited into egui's pass as one textured triangle
//! (`shaders/composite.wgsl`). Knows textures and passes, not what is drawn into them.

use super::gpu::{self, Frame};
use eframe::egui_wgpu::wgpu;
use std::collections::HashMap;

/// Decides when a layer must be redrawn: whenever the key of its inputs differs from the last one drawn.
/// Counts the redraws (what the tests check instead of timings).
#[derive(Debug)]
pub struct LayerCache<K> {
    key: Option<K>,
    redraws: u64,
}

impl<K> Default for LayerCache<K> {
    fn default() -> Self {
        LayerCache {
            key: None,
            redraws: 0,
        }
    }
}

impl<K: PartialEq> LayerCache<K> {
    /// True (and `key` becomes the drawn one) when the layer must be redrawn for `key`.
    pub fn stale(&mut self, key: K) -> bool {
        if self.key.as_ref() == Some(&key) {
            return false;
        }
        self.key = Some(key);
        self.redraws += 1;
        true
    }

    /// How many times the layer was redrawn.
    pub fn redraws(&self) -> u64 {
        self.redraws
    }
}

/// One slot's layer: a texture the size of its viewport and the bind group compositing it.
struct Layer<K> {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    bind_group: wgpu::BindGroup,
    cache: LayerCache<K>,
}

/// The layers of one renderer, keyed by slot, and the pipeline compositing them into egui's pass.
pub struct OffscreenLayers<K> {
    label: &'static str,
    format: wgpu::TextureFormat,
    composite: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    layers: HashMap<u64, Layer<K>>,
}

impl<K: PartialEq> OffscreenLayers<K> {
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
            layers: HashMap::new(),
        }
    }

    /// A pass into `slot`'s layer, cleared to transparent, when the layer must be redrawn for `key`
    /// (its inputs changed, or the viewport was resized); `None` when the layer already shows `key` or
    /// the viewport is empty (then nothing is composited either).
    pub fn redraw(
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
            self.layers.remove(&slot);
            return None;
        }
        let resized = self
            .layers
            .get(&slot)
            .is_none_or(|l| [l.texture.width(), l.texture.height()] != size);
        if resized {
            // A new texture holds nothing yet; the slot keeps counting its redraws.
            let mut layer = self.layer(frame.device, size);
            layer.cache.redraws = self.redraws(slot);
            self.layers.insert(slot, layer);
        }
        let layer = self.layers.get_mut(&slot)?;
        if !layer.cache.stale(key) {
            return None;
        }
        let pass = frame.encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some(self.label),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &layer.view,
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

    /// Draws `slot`'s layer over egui's pass (whose viewport is the layer's); nothing if it has none.
    pub fn composite(&self, pass: &mut wgpu::RenderPass<'static>, slot: u64) {
        if let Some(layer) = self.layers.get(&slot) {
            pass.set_pipeline(&self.composite);
            pass.set_bind_group(0, &layer.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }

    /// How many times `slot`'s layer was redrawn (0 if it never was).
    pub fn redraws(&self, slot: u64) -> u64 {
        self.layers.get(&slot).map_or(0, |l| l.cache.redraws())
    }

    fn layer(&self, device: &wgpu::Device, [width, height]: [u32; 2]) -> Layer<K> {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some(self.label),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: self.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.label),
            layout: &self.layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&view),
            }],
        });
        Layer {
            texture,
            view,
            bind_group,
            cache: LayerCache::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_is_redrawn_exactly_when_its_key_changes() {
        let mut cache = LayerCache::default();
        let keys = [1, 1, 2, 2, 2, 1, 3, 3];
        let redrawn: Vec<bool> = keys.iter().map(|&k| cache.stale(k)).collect();
        assert_eq!(
            redrawn,
            [true, false, true, false, false, true, true, false]
        );
        assert_eq!(cache.redraws(), 4);
    }
}
