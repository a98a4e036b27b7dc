// An offscreen layer (premultiplied alpha, exactly the size of the callback's viewport) copied into
// egui's pass texel for pixel: one triangle covering the viewport. Used by src/render/offscreen.rs.
// colormap.wgsl is prepended (unused here).

@group(0) @binding(0) var layer: texture_2d<f32>;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VertexOut {
    // uv (0, 0), (2, 0), (0, 2): the triangle covers the unit square with (0, 0) at the top left.
    let uv = vec2<f32>(f32((vertex << 1u) & 2u), f32(vertex & 2u));
    var out: VertexOut;
    out.clip = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let size = vec2<f32>(textureDimensions(layer));
    let texel = min(vec2<i32>(in.uv * size), vec2<i32>(size) - vec2<i32>(1));
    return textureLoad(layer, texel, 0);
}
