// An offscreen layer (premultiplied alpha; the viewport plus a margin on each side) composited into
// egui's pass as one quad: texel for pixel while the camera is still (identity map), or through the
// scale and shift taking the layer's camera to the current 2-D camera while it pans or zooms. Used by
// src/render/offscreen.rs (`CompositeUniform`, 32 bytes). colormap.wgsl is prepended (unused here).

struct CompositeUniform {
    // Clip-space map from the camera the layer was drawn for to the current one: scale * x + offset.
    scale: vec2<f32>,
    offset: vec2<f32>,
    // The clip window the layer covers in its own camera's view ([-window, window]).
    window: vec2<f32>,
    _pad: vec2<f32>,
};

@group(0) @binding(0) var layer: texture_2d<f32>;
@group(0) @binding(1) var<uniform> u: CompositeUniform;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VertexOut {
    // Two triangles over the layer: x = +1 at vertices 1, 2, 4 and y = +1 at 2, 4, 5.
    let corner = vec2<f32>(f32((0x16u >> vertex) & 1u), f32((0x34u >> vertex) & 1u)) * 2.0 - 1.0;
    var out: VertexOut;
    out.clip = vec4<f32>(u.scale * corner * u.window + u.offset, 0.0, 1.0);
    // Texture rows run down from the top (clip y = +window).
    out.uv = vec2<f32>(0.5 + 0.5 * corner.x, 0.5 - 0.5 * corner.y);
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let size = vec2<f32>(textureDimensions(layer));
    let texel = clamp(vec2<i32>(in.uv * size), vec2<i32>(0), vec2<i32>(size) - vec2<i32>(1));
    return textureLoad(layer, texel, 0);
}
