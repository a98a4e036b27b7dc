// Trajectory trails: line segments between consecutive stored steps, fading with age.
// Uniform and vertex layouts kept in sync with src/render/trails.rs. colormap.wgsl is prepended.

struct TrailUniform {
    view_proj: mat4x4<f32>,
    coloring: Coloring,
};

@group(0) @binding(0) var<uniform> u: TrailUniform;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) color: vec4<f32>,
};

@vertex
fn vs_main(
    @location(0) position: vec3<f32>,
    @location(1) value: f32,
    @location(2) freshness: f32,  // 1 at the selected step, 0 at the far end of the trail
) -> VertexOut {
    var out: VertexOut;
    out.clip = u.view_proj * vec4<f32>(position, 1.0);
    let f = clamp(freshness, 0.0, 1.0);
    out.color = vec4<f32>(color_of(u.coloring, value), u.coloring.opacity * f * f);
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    return vec4<f32>(in.color.rgb * in.color.a, in.color.a);
}
