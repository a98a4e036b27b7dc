//! Offscreen layers, one per view slot: a renderer draws into its layer only when what it draws changed
//! ([`LayerCache`]), and every frame the layer is composited into egui's pass as one textured quad
//! (`shaders/composite.wgsl`). While a 2-D camera pans or zooms, the layer is composited through the
//! map between the two cameras' clip spaces instead of being redrawn. Knows textures and passes, not
//! what is drawn into them.

use super::gpu::{self, Frame};
use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::wgpu;
use glam::{Mat4, Vec4};
use std::collections::HashMap;

/// The layer extends this fraction of the view's width (height) beyond each side, so a pan of up to
/// that much shows drawn points, not an empty band, until the layer is redrawn. (Clearing and
/// compositing cost per pixel, drawing the sprites per point: the margin adds little to either.)
pub const MARGIN: f32 = 0.25;

/// The largest zoom (in or out) a layer is stretched by before the sprites are drawn afresh: beyond
/// it the stretched sprites' size and blur would show.
pub const ZOOM_LIMIT: f32 = 1.25;

/// A map of clip space onto clip space, per axis `x' = scale·x + offset`: where a layer drawn for one
/// 2-D camera lands in another's view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipMap {
    pub scale: [f32; 2],
    pub offset: [f32; 2],
}

impl ClipMap {
    pub const IDENTITY: ClipMap = ClipMap {
        scale: [1.0, 1.0],
        offset: [0.0, 0.0],
    };

    /// The map from `from`'s clip space to `to`'s when it only scales and shifts x and y (a 2-D pan or
    /// zoom of an orthographic camera); `None` when it rotates, mixes in depth or is perspective (a 3-D
    /// orbit), or when `from` is singular.
    pub fn between(from: &Mat4, to: &Mat4) -> Option<ClipMap> {
        if from.determinant().abs() < f32::MIN_POSITIVE {
            return None;
        }
        let map = *to * from.inverse();
        let expected = Mat4::from_cols(
            Vec4::new(map.x_axis.x, 0.0, 0.0, 0.0),
            Vec4::new(0.0, map.y_axis.y, 0.0, 0.0),
            Vec4::Z,
            Vec4::new(map.w_axis.x, map.w_axis.y, 0.0, 1.0),
        );
        // Orthographic matrices give these zeros up to f32 rounding of the inverse.
        let exact = map.abs_diff_eq(expected, 1e-4);
        let positive = map.x_axis.x > 0.0 && map.y_axis.y > 0.0;
        (exact && positive && map.is_finite()).then_some(ClipMap {
            scale: [map.x_axis.x, map.y_axis.y],
            offset: [map.w_axis.x, map.w_axis.y],
        })
    }

    /// Whether a layer covering the clip window `[-window, window]` still covers the whole view
    /// (`[-1, 1]²`) through this map, stretched by no more than [`ZOOM_LIMIT`].
    pub fn shows_all(&self, window: [f32; 2]) -> bool {
        (0..2).all(|axis| {
            let (scale, offset) = (self.scale[axis], self.offset[axis]);
            (1.0 / ZOOM_LIMIT..=ZOOM_LIMIT).contains(&scale)
                && offset.abs() + 1.0 <= scale * window[axis]
        })
    }
}

/// What a layer shows, compared frame to frame.
pub trait LayerKey: PartialEq + Clone {
    /// The map from the clip space `drawn` was drawn in to this key's, when the two differ only by a 2-D
    /// camera move; `None` when anything else differs.
    fn reprojection(&self, drawn: &Self) -> Option<ClipMap>;
}

/// Decides, each frame, what a slot's layer does for the key of its inputs: nothing when it already shows
/// them; a redraw once they have settled (they equal the previous frame's); while they change every frame
/// by a 2-D camera move that the layer still covers, a reprojection of the layer; and while they change
/// otherwise (a 3-D orbit, the time being scrubbed) the renderer draws straight into egui's pass, since a
/// layer redrawn every frame would only add its clear and its composite. Counts redraws and
/// reprojections (what the tests check instead of timings).
#[derive(Debug)]
pub struct LayerCache<K> {
    /// What the layer shows.
    drawn: Option<K>,
    /// The previous frame's key.
    last: Option<K>,
    redraws: u64,
    reprojections: u64,
}

/// What a layer does this frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plan {
    /// Composite the layer as it is.
    Current,
    /// Redraw the layer, then composite it.
    Redraw,
    /// Composite the layer through this map (drawn for another 2-D camera).
    Reproject(ClipMap),
    /// Draw straight into egui's pass; the layer is left as it was.
    Direct,
}

impl<K> Default for LayerCache<K> {
    fn default() -> Self {
        LayerCache {
            drawn: None,
            last: None,
            redraws: 0,
            reprojections: 0,
        }
    }
}

impl<K: LayerKey> LayerCache<K> {
    /// The plan for `key`; `fits` says whether the layer's texture has the size the viewport needs (one
    /// that does not is redrawn, whatever it showed), `window` is the clip window it covers.
    pub fn plan(&mut self, key: K, fits: bool, window: [f32; 2]) -> Plan {
        let settled = self.last.as_ref().is_none_or(|last| *last == key);
        self.last = Some(key.clone());
        let reprojection = || {
            let drawn = self.drawn.as_ref()?;
            key.reprojection(drawn).filter(|map| map.shows_all(window))
        };
        if fits && self.drawn.as_ref() == Some(&key) {
            Plan::Current
        } else if settled || !fits {
            // A layer of the wrong size (a new or resized view) is redrawn even while the inputs
            // change, so that a camera moving from then on can be reprojected.
            self.drawn = Some(key);
            self.redraws += 1;
            Plan::Redraw
        } else if let Some(map) = reprojection() {
            self.reprojections += 1;
            Plan::Reproject(map)
        } else {
            Plan::Direct
        }
    }

    /// How many times the layer was redrawn.
    pub fn redraws(&self) -> u64 {
        self.redraws
    }

    /// How many frames composited the layer through a camera map.
    pub fn reprojections(&self) -> u64 {
        self.reprojections
    }
}

/// The size of a view's layer and the clip window it covers: the viewport plus [`MARGIN`] on each side,
/// in whole pixels so that a still layer lands texel for pixel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerGeometry {
    pub size_px: [u32; 2],
    pub window: [f32; 2],
}

impl LayerGeometry {
    /// The layer of a `width × height` pixel viewport (`None` when it is empty).
    pub fn of_viewport(width: u32, height: u32) -> Option<LayerGeometry> {
        if width == 0 || height == 0 {
            return None;
        }
        let with_margin = |n: u32| n + 2 * (n as f32 * MARGIN).round() as u32;
        let size_px = [with_margin(width), with_margin(height)];
        Some(LayerGeometry {
            size_px,
            window: [
                size_px[0] as f32 / width as f32,
                size_px[1] as f32 / height as f32,
            ],
        })
    }

    /// The layer of the frame's viewport.
    pub fn of_frame(frame: &Frame<'_>) -> Option<LayerGeometry> {
        LayerGeometry::of_viewport(
            u32::try_from(frame.viewport.width_px).ok()?,
            u32::try_from(frame.viewport.height_px).ok()?,
        )
    }

    /// Takes the view's clip space to the layer's (which spans the wider window).
    pub fn view_to_layer(&self) -> Mat4 {
        Mat4::from_scale(glam::Vec3::new(
            1.0 / self.window[0],
            1.0 / self.window[1],
            1.0,
        ))
    }
}

/// The composite shader's uniform (`shaders/composite.wgsl`, 32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct CompositeUniform {
    scale: [f32; 2],
    offset: [f32; 2],
    window: [f32; 2],
    _pad: [f32; 2],
}

/// One slot's layer: a texture of its [`LayerGeometry`] and the bind group compositing it.
struct Layer {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// A slot: its layer (once drawn), its cache, and this frame's plan.
struct Slot<K> {
    layer: Option<Layer>,
    cache: LayerCache<K>,
    plan: Plan,
}

/// The layers of one renderer, keyed by slot, and the pipeline compositing them into egui's pass.
pub struct OffscreenLayers<K> {
    label: &'static str,
    format: wgpu::TextureFormat,
    composite: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    slots: HashMap<u64, Slot<K>>,
}

impl<K: LayerKey> OffscreenLayers<K> {
    /// Frees slot `slot`'s layer.
    pub fn remove(&mut self, slot: u64) {
        self.slots.remove(&slot);
    }

    /// Layers in egui's colour format, composited with premultiplied alpha like every other pipeline.
    pub fn new(
        device: &wgpu::Device,
        label: &'static str,
        target_format: wgpu::TextureFormat,
    ) -> Self {
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: gpu::TEXEL_BINDING,
                    count: None,
                },
                gpu::uniform_entry(1),
            ],
        });
        let module = gpu::shader(device, label, include_str!("../../shaders/composite.wgsl"));
        let composite = gpu::pipeline(
            device,
            label,
            &module,
            &[&layout],
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

    /// Plans `slot`'s frame for the key of its inputs (see [`LayerCache`]) and sets up the composite of
    /// a layer that is current or reprojected. After [`Plan::Redraw`] the caller draws into
    /// [`Self::begin_redraw`]'s pass (with [`LayerGeometry::view_to_layer`] applied); after
    /// [`Plan::Direct`] in [`Self::paint`]'s `direct`. An empty viewport plans [`Plan::Direct`], which
    /// draws nothing.
    pub fn plan(&mut self, frame: &Frame<'_>, slot: u64, key: K) -> Plan {
        let Some(geometry) = LayerGeometry::of_frame(frame) else {
            self.slots.remove(&slot);
            return Plan::Direct;
        };
        let state = self.slots.entry(slot).or_insert_with(|| Slot {
            layer: None,
            cache: LayerCache::default(),
            plan: Plan::Direct,
        });
        let fits = state
            .layer
            .as_ref()
            .is_some_and(|l| [l.texture.width(), l.texture.height()] == geometry.size_px);
        state.plan = state.cache.plan(key, fits, geometry.window);
        let map = match state.plan {
            Plan::Current => Some(ClipMap::IDENTITY),
            Plan::Reproject(map) => Some(map),
            Plan::Redraw | Plan::Direct => None,
        };
        if let (Some(map), Some(layer)) = (map, &state.layer) {
            write_composite(frame, layer, map, geometry);
        }
        state.plan
    }

    /// The pass redrawing `slot`'s layer (planned [`Plan::Redraw`]), cleared to transparent; the layer
    /// is (re)made at its geometry's size first.
    pub fn begin_redraw(
        &mut self,
        frame: &mut Frame<'_>,
        slot: u64,
    ) -> Option<wgpu::RenderPass<'static>> {
        let geometry = LayerGeometry::of_frame(frame)?;
        let state = self.slots.get_mut(&slot)?;
        let fits = state
            .layer
            .as_ref()
            .is_some_and(|l| [l.texture.width(), l.texture.height()] == geometry.size_px);
        if !fits {
            state.layer = Some(layer(
                frame.device,
                self.label,
                self.format,
                &self.layout,
                geometry,
            ));
        }
        let layer = state.layer.as_ref()?;
        write_composite(frame, layer, ClipMap::IDENTITY, geometry);
        let pass = frame
            .encoder
            .begin_render_pass(&wgpu::RenderPassDescriptor {
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

    /// Draws `slot` into egui's pass (whose viewport is the view's): its layer, through this frame's
    /// map, or `direct` when this frame was planned to draw directly.
    pub fn paint(
        &self,
        pass: &mut wgpu::RenderPass<'static>,
        slot: u64,
        direct: impl FnOnce(&mut wgpu::RenderPass<'static>),
    ) {
        let Some(state) = self.slots.get(&slot) else {
            return;
        };
        match (&state.plan, &state.layer) {
            (Plan::Direct, _) => direct(pass),
            (_, Some(layer)) => {
                pass.set_pipeline(&self.composite);
                pass.set_bind_group(0, &layer.bind_group, &[]);
                pass.draw(0..6, 0..1);
            }
            (_, None) => {}
        }
    }

    /// How many times `slot`'s layer was redrawn (0 if it never was).
    pub fn redraws(&self, slot: u64) -> u64 {
        self.slots.get(&slot).map_or(0, |s| s.cache.redraws())
    }

    /// How many frames composited `slot`'s layer through a camera map (0 if none did).
    pub fn reprojections(&self, slot: u64) -> u64 {
        self.slots.get(&slot).map_or(0, |s| s.cache.reprojections())
    }
}

fn write_composite(frame: &Frame<'_>, layer: &Layer, map: ClipMap, geometry: LayerGeometry) {
    let uniform = CompositeUniform {
        scale: map.scale,
        offset: map.offset,
        window: geometry.window,
        _pad: [0.0; 2],
    };
    frame
        .queue
        .write_buffer(&layer.uniform, 0, bytemuck::bytes_of(&uniform));
}

/// A layer of `geometry`'s size in `format` with its composite bind group.
fn layer(
    device: &wgpu::Device,
    label: &str,
    format: wgpu::TextureFormat,
    layout: &wgpu::BindGroupLayout,
    geometry: LayerGeometry,
) -> Layer {
    let texture = gpu::texture_2d(
        device,
        label,
        geometry.size_px,
        format,
        wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
    );
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let uniform = gpu::uniform_buffer(device, label, std::mem::size_of::<CompositeUniform>());
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&view),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: uniform.as_entire_binding(),
            },
        ],
    });
    Layer {
        texture,
        view,
        uniform,
        bind_group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::camera::{Orbit, PanZoom};

    use Plan::*;

    /// A key whose content never reprojects.
    #[derive(Clone, Debug, PartialEq)]
    struct Content(u32);

    impl LayerKey for Content {
        fn reprojection(&self, _: &Self) -> Option<ClipMap> {
            None
        }
    }

    /// A key of content seen through a 2-D camera (square view).
    #[derive(Clone, Debug, PartialEq)]
    struct Seen {
        content: u32,
        camera: PanZoom,
    }

    impl LayerKey for Seen {
        fn reprojection(&self, drawn: &Self) -> Option<ClipMap> {
            (self.content == drawn.content).then_some(())?;
            ClipMap::between(&drawn.camera.view_proj(1.0), &self.camera.view_proj(1.0))
        }
    }

    fn seen(content: u32, x: f32, half_height: f32) -> Seen {
        Seen {
            content,
            camera: PanZoom {
                center: glam::Vec2::new(x, 0.0),
                half_height,
            },
        }
    }

    const WINDOW: [f32; 2] = [1.5, 1.5];

    /// Still frames composite, settled changes redraw once, and keys that change every frame draw
    /// directly until they settle.
    #[test]
    fn a_layer_is_redrawn_once_its_inputs_settle_and_never_for_unchanged_ones() {
        let mut cache = LayerCache::default();
        let frames = [1, 1, 2, 2, 2, 3, 4, 5, 5, 5, 1];
        let plans: Vec<Plan> = frames
            .iter()
            .map(|&k| cache.plan(Content(k), true, WINDOW))
            .collect();
        assert_eq!(
            plans,
            [
                Redraw, Current, Direct, Redraw, Current, Direct, Direct, Direct, Redraw, Current,
                Direct
            ]
        );
        assert_eq!(cache.redraws(), 3);
        assert_eq!(cache.reprojections(), 0);
        // A texture of the wrong size is redrawn even for the key it showed.
        assert_eq!(cache.plan(Content(1), false, WINDOW), Redraw);
        assert_eq!(cache.plan(Content(1), true, WINDOW), Current);
        assert_eq!(cache.redraws(), 4);
    }

    /// A 2-D pan or small zoom composites the drawn layer through the camera map while it goes on,
    /// and redraws once it stops; a pan past the margin, a large zoom or a change of content draws
    /// directly.
    #[test]
    fn a_moving_2d_camera_reprojects_the_layer_while_it_covers_the_view() {
        let mut cache = LayerCache::default();
        assert_eq!(cache.plan(seen(1, 0.0, 1.0), true, WINDOW), Redraw);
        // Half-height 1: x in data units equals clip x. A pan by 0.2 moves the layer by -0.2.
        let panned = cache.plan(seen(1, 0.2, 1.0), true, WINDOW);
        let Reproject(map) = panned else {
            panic!("a pan within the margin reprojects: {panned:?}");
        };
        assert!((map.offset[0] + 0.2).abs() < 1e-5 && map.offset[1].abs() < 1e-5);
        assert!((map.scale[0] - 1.0).abs() < 1e-5 && (map.scale[1] - 1.0).abs() < 1e-5);
        assert!(matches!(
            cache.plan(seen(1, 0.4, 1.0), true, WINDOW),
            Reproject(_)
        ));
        // 0.6 beyond the layer's own 0.5 margin: the view would show an undrawn band.
        assert_eq!(cache.plan(seen(1, 0.6, 1.0), true, WINDOW), Direct);
        assert_eq!(cache.plan(seen(1, 0.6, 1.0), true, WINDOW), Redraw);
        // Zoom by 1.2 (within the limit) reprojects; 1.6 from the drawn layer does not.
        assert!(matches!(
            cache.plan(seen(1, 0.6, 1.0 / 1.2), true, WINDOW),
            Reproject(_)
        ));
        assert_eq!(cache.plan(seen(1, 0.6, 1.0 / 1.6), true, WINDOW), Direct);
        // A change of content while the camera moves is not a camera move.
        assert_eq!(cache.plan(seen(2, 0.5, 1.0), true, WINDOW), Direct);
        // A texture of the wrong size (the view was resized) is redrawn while the camera moves, and
        // reprojected from then on.
        assert_eq!(cache.plan(seen(1, 0.7, 1.0), false, WINDOW), Redraw);
        assert!(matches!(
            cache.plan(seen(1, 0.8, 1.0), true, WINDOW),
            Reproject(_)
        ));
        assert_eq!(cache.reprojections(), 4);
        assert_eq!(cache.redraws(), 3);
    }

    /// Orthographic pans and zooms map by scale and shift; orbits and perspective views do not.
    #[test]
    fn only_2d_pans_and_zooms_are_clip_maps() {
        let a = PanZoom {
            center: glam::Vec2::new(1.0, -2.0),
            half_height: 3.0,
        };
        let b = PanZoom {
            center: glam::Vec2::new(1.6, -1.4),
            half_height: 2.0,
        };
        let aspect = 1.5;
        let map = ClipMap::between(&a.view_proj(aspect), &b.view_proj(aspect)).unwrap();
        // A data point lands where b's camera puts it after the map.
        let p = glam::Vec4::new(2.2, 0.5, 0.0, 1.0);
        let (in_a, in_b) = (a.view_proj(aspect) * p, b.view_proj(aspect) * p);
        for axis in 0..2 {
            let mapped = map.scale[axis] * in_a[axis] + map.offset[axis];
            assert!((mapped - in_b[axis]).abs() < 1e-5, "axis {axis}");
        }
        assert!((map.scale[1] - 1.5).abs() < 1e-5);
        let orbit = Orbit::default();
        let mut turned = orbit;
        turned.rotate(glam::Vec2::new(12.0, 0.0));
        assert_eq!(
            ClipMap::between(&orbit.view_proj(aspect), &turned.view_proj(aspect)),
            None
        );
        assert_eq!(ClipMap::between(&Mat4::ZERO, &a.view_proj(aspect)), None);
    }

    /// The layer is the viewport plus whole-pixel margins, and its clip window is their ratio.
    #[test]
    fn the_layer_geometry_adds_whole_pixel_margins() {
        let g = LayerGeometry::of_viewport(1024, 768).unwrap();
        assert_eq!(g.size_px, [1536, 1152]);
        assert_eq!(g.window, [1.5, 1.5]);
        let odd = LayerGeometry::of_viewport(301, 7).unwrap();
        assert_eq!(odd.size_px, [301 + 2 * 75, 7 + 2 * 2]);
        assert_eq!(LayerGeometry::of_viewport(0, 10), None);
    }
}
