// Instanced point sprites: one quad per point, expanded in the vertex shader, one draw call.
// Uniform and instance layouts are kept in sync with src/render/points.rs (`PointUniform`, `PointInstance`).
// colormap.wgsl is prepended to this file.

struct PointUniform {
    view_proj: mat4x4<f32>,
    viewport_px: vec2<f32>,
    radius_px: f32,
    color_mode: u32,       // 0 = class palette, 1 = colormap
    palette: array<vec4<f32>, 8>,
    colormap_index: u32,
    opacity: f32,
    _pad0: f32,
    _pad1: f32,
};

@group(0) @binding(0) var<uniform> u: PointUniform;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) corner: vec2<f32>,
    @location(1) color: vec4<f32>,
};

@vertex
fn vs_main(
    @builtin(vertex_index) vertex: u32,
    @location(0) position: vec3<f32>,
    @location(1) value: f32,
) -> VertexOut {
    // Two triangles covering [-1, 1]².
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0)
    );
    let corner = corners[vertex];
    var clip = u.view_proj * vec4<f32>(position, 1.0);
    // Half a pixel of quad beyond the radius: the anti-aliased rim ends there (coverage is zero beyond
    // radius + ½), and every fragment of the quad costs fill on a software rasteriser.
    let half_px = u.radius_px + 0.5;
    let extent = half_px * 2.0 / u.viewport_px;
    clip = vec4<f32>(clip.xy + corner * extent * clip.w, clip.z, clip.w);

    var rgb: vec3<f32>;
    if u.color_mode == 0u {
        rgb = u.palette[u32(max(value, 0.0)) % 8u].rgb;
    } else {
        rgb = colormap(u.colormap_index, value);
    }
    var out: VertexOut;
    out.clip = clip;
    out.corner = corner * half_px;
    out.color = vec4<f32>(rgb, u.opacity);
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    // Distance from the centre in pixels; a one-pixel smooth rim.
    let d = length(in.corner);
    let coverage = clamp(u.radius_px + 0.5 - d, 0.0, 1.0);
    if coverage <= 0.0 {
        discard;
    }
    let a = in.color.a * coverage;
    // egui blends premultiplied alpha.
    return vec4<f32>(in.color.rgb * a, a);
}
