// Point sprites: one quad per point (instanced), expanded in the vertex shader around the point's
// screen position, round and anti-aliased in the fragment shader. Drawn into the view's offscreen sprite
// layer (src/render/offscreen.rs, copied into egui's pass by composite.wgsl), or straight into egui's
// pass while the view changes every frame.
// Uniform and instance layouts are kept in sync with src/render/points.rs (`PointUniform`, `PointInstance`).
// colormap.wgsl is prepended to this file.

struct PointUniform {
    view_proj: mat4x4<f32>,
    viewport_px: vec2<f32>,
    radius_px: f32,
    _pad: f32,
    coloring: Coloring,
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
    // Two triangles covering [-1, 1]². (Measured on lavapipe: one circumscribed triangle per point is
    // slower, its 30% more fill costs more than the triangle setup it saves; an indexed 4-corner quad
    // was no faster than these 6 vertices within the noise.)
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0)
    );
    let corner = corners[vertex];
    var clip = u.view_proj * vec4<f32>(position, 1.0);
    // Half a pixel beyond the radius: the anti-aliased rim ends there (coverage is zero beyond radius + ½).
    let half_px = u.radius_px + 0.5;
    let extent = half_px * 2.0 / u.viewport_px;
    clip = vec4<f32>(clip.xy + corner * extent * clip.w, clip.z, clip.w);

    var out: VertexOut;
    out.clip = clip;
    out.corner = corner * half_px;
    out.color = vec4<f32>(color_of(u.coloring, value), u.coloring.opacity);
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    // Distance from the centre in pixels; a one-pixel smooth rim. Fragments outside the disc get zero
    // coverage, which adds nothing under premultiplied blending (no `discard` needed).
    let coverage = clamp(u.radius_px + 0.5 - length(in.corner), 0.0, 1.0);
    let a = in.color.a * coverage;
    return vec4<f32>(in.color.rgb * a, a);
}
