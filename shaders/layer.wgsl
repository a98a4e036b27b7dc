// A scalar texture stretched over a data-space rectangle: the density layer (histogram counts through a
// colormap, log scaled) and the hole overlay (a cell mask in one translucent colour).
// Uniform layout kept in sync with `LayerUniform` in src/render/layer.rs. colormap.wgsl is prepended.

struct LayerUniform {
    view_proj: mat4x4<f32>,
    rect_min: vec2<f32>,
    rect_max: vec2<f32>,
    tint: vec4<f32>,        // mask mode: the colour (straight alpha)
    mode: u32,              // 0 = log density through the colormap, 1 = mask
    colormap_index: u32,
    log_max: f32,           // ln(1 + max count)
    opacity: f32,
};

@group(0) @binding(0) var<uniform> u: LayerUniform;
@group(0) @binding(1) var values: texture_2d<f32>;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> VertexOut {
    var uvs = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 1.0), vec2<f32>(0.0, 1.0)
    );
    let uv = uvs[vertex];
    let position = mix(u.rect_min, u.rect_max, uv);
    var out: VertexOut;
    out.clip = u.view_proj * vec4<f32>(position, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let size = vec2<f32>(textureDimensions(values));
    let texel = clamp(vec2<i32>(in.uv * size), vec2<i32>(0), vec2<i32>(size) - vec2<i32>(1));
    let v = textureLoad(values, texel, 0).r;
    if v <= 0.0 {
        discard;
    }
    var color: vec4<f32>;
    if u.mode == 0u {
        let t = log(1.0 + v) / max(u.log_max, 1e-6);
        // Empty bins stay transparent; the faintest occupied bin starts a little above the dark end.
        color = vec4<f32>(colormap(u.colormap_index, 0.08 + 0.92 * t), u.opacity);
    } else {
        color = vec4<f32>(u.tint.rgb, u.tint.a * u.opacity);
    }
    return vec4<f32>(color.rgb * color.a, color.a);
}
