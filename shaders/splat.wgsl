// The splat point renderer (src/render/splat.rs), three entry points sharing one uniform:
// * `splat_points` (compute, one invocation per point) projects the point and, over the pixels its disc
//   covers, keeps per pixel the largest key, merged with `atomicMax` into a buffer cleared to 0 (= no
//   point). A key is, from the top bit down: 1 where the disc covers the pixel fully (so an opaque
//   interior beats another disc's anti-aliased rim instead of showing through it darkened), the depth
//   (nearer is larger) in `31 - index_bits` bits, and the point index + 1 in the low `index_bits` bits
//   (at equal depth the later point wins, as in the sprites' draw order).
// * `resolve_pixels` (compute, one invocation per pixel) reads the winning key of its pixel and writes
//   that point's colour and disc coverage, exactly as `points.wgsl` shades a sprite (premultiplied,
//   transparent where no point landed), into a colour texture.
// * `vs_main` / `fs_main` (a fullscreen triangle over the view) copy that texture texel for pixel. They
//   read only the texture and its placement (their own group 0), so the colours the CPU splat
//   (src/render/splat_keys.rs) uploads are drawn the same way.
//   The fragment stage touches no storage buffer: lavapipe shades such a stage about ten times slower
//   (a 1024×768 resolve took ≈ 50 ms in the fragment stage, a few in compute).
// Cost grows with points × footprint pixels and with view pixels, never with triangles.
// Uniform and point layouts are kept in sync with src/render/splat.rs (`SplatUniform`) and
// src/render/points.rs (`PointInstance`). colormap.wgsl is prepended to this file.

struct SplatUniform {
    view_proj: mat4x4<f32>,
    // The pixel grid the keys cover (the view, or its offscreen layer).
    viewport_px: vec2<f32>,
    radius_px: f32,
    count: u32,
    index_bits: u32,
    // (12 bytes of padding: `coloring` starts at a multiple of 16.)
    coloring: Coloring,
};

// Where the resolved grid lands in the framebuffer the draw covers; kept in sync with
// `GridPlacement` in src/render/splat.rs.
struct GridPlacement {
    origin_px: vec2<f32>,
    size_px: vec2<f32>,
};

struct Point {
    position: vec3<f32>,
    value: f32,
};

@group(0) @binding(0) var<uniform> u: SplatUniform;
@group(0) @binding(1) var<storage, read> points: array<Point>;
@group(1) @binding(0) var<storage, read_write> keys: array<atomic<u32>>;
@group(1) @binding(1) var<storage, read> resolved_keys: array<u32>;
@group(1) @binding(2) var colours_out: texture_storage_2d<rgba16float, write>;
@group(0) @binding(2) var<uniform> placement: GridPlacement;
@group(0) @binding(3) var colours: texture_2d<f32>;

const WORKGROUP: u32 = 64u;

// Half a pixel beyond the radius: the anti-aliased rim ends there, as for a sprite.
fn reach() -> f32 {
    return u.radius_px + 0.5;
}

// The point's centre in grid pixels (y down) and its depth in [0, 1]; w < 0 when the sprite pipeline
// would clip it (behind the camera or outside the depth range).
fn project(position: vec3<f32>) -> vec4<f32> {
    let clip = u.view_proj * vec4<f32>(position, 1.0);
    if clip.w <= 0.0 || clip.z < 0.0 || clip.z > clip.w {
        return vec4<f32>(0.0, 0.0, 0.0, -1.0);
    }
    let ndc = clip.xyz / clip.w;
    let screen = vec2<f32>(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5) * u.viewport_px;
    return vec4<f32>(screen, ndc.z, 1.0);
}

@compute @workgroup_size(64)
fn splat_points(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    // Large clouds are dispatched as a 2-D grid of workgroups (at most 65535 per dimension).
    let index = id.x + id.y * groups.x * WORKGROUP;
    if index >= u.count {
        return;
    }
    let p = project(points[index].position);
    if p.w < 0.0 {
        return;
    }
    let depth_bits = 31u - u.index_bits;
    let depth_max = (1u << depth_bits) - 1u;
    // Nearer is larger; index + 1 > 0, so an empty pixel (0) loses to every point.
    let near = depth_max - min(u32(p.z * f32(depth_max)), depth_max);
    let key = (near << u.index_bits) | (index + 1u);
    let opaque = 1u << 31u;

    let size = vec2<i32>(u.viewport_px);
    let r = reach();
    // Pixels whose centres (x + 0.5) may lie within r of the point: (2r + 1)² at most, the sprite's
    // quad without the cells its corners only graze.
    let lo = max(vec2<i32>(ceil(p.xy - r - 0.5)), vec2<i32>(0));
    let hi = min(vec2<i32>(floor(p.xy + r - 0.5)), size - 1);
    // Squared distances: coverage r - d is > 0 inside r, and 1 (opaque) within r - 1.
    let inside = r * r;
    let opaque_inside = select(-1.0, (r - 1.0) * (r - 1.0), r >= 1.0);
    for (var y = lo.y; y <= hi.y; y++) {
        for (var x = lo.x; x <= hi.x; x++) {
            let offset = vec2<f32>(f32(x) + 0.5, f32(y) + 0.5) - p.xy;
            let d2 = dot(offset, offset);
            if d2 < inside {
                let at = u32(y * size.x + x);
                let k = select(key, key | opaque, d2 <= opaque_inside);
                // A plain load first: most footprint pixels of a dense cloud already hold a winning
                // key, and the atomic is the expensive part.
                if atomicLoad(&keys[at]) < k {
                    atomicMax(&keys[at], k);
                }
            }
        }
    }
}

// `color_of(u.coloring, value)` without copying the 160-byte uniform block into every invocation:
// lavapipe runs both sides of the resolve's branch on every pixel, and the copy tripled its cost.
fn point_colour(value: f32) -> vec3<f32> {
    if u.coloring.mode == 0u {
        return u.coloring.palette[u32(max(value, 0.0)) % 8u].rgb;
    }
    let t = mix(u.coloring.span_lo, u.coloring.span_hi, clamp(value, 0.0, 1.0));
    return colormap(u.coloring.colormap_index, t);
}

@compute @workgroup_size(8, 8)
fn resolve_pixels(@builtin(global_invocation_id) id: vec3<u32>) {
    let size = vec2<u32>(u.viewport_px);
    if any(id.xy >= size) {
        return;
    }
    let key = resolved_keys[id.y * size.x + id.x];
    var colour = vec4<f32>(0.0);
    if key != 0u {
        let mask = (1u << u.index_bits) - 1u;
        let point = points[(key & mask) - 1u];
        let p = project(point.position);
        // The sprite's coverage and colour (points.wgsl), for the one point that won the pixel.
        let centre = vec2<f32>(id.xy) + 0.5;
        let coverage = clamp(reach() - length(centre - p.xy), 0.0, 1.0);
        let a = u.coloring.opacity * coverage;
        colour = vec4<f32>(point_colour(point.value) * a, a);
    }
    textureStore(colours_out, id.xy, colour);
}

struct ResolveOut {
    @builtin(position) clip: vec4<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) vertex: u32) -> ResolveOut {
    // One triangle covering the viewport: (-1, -1), (3, -1), (-1, 3).
    let xy = vec2<f32>(f32((vertex << 1u) & 2u), f32(vertex & 2u)) * 2.0 - 1.0;
    var out: ResolveOut;
    out.clip = vec4<f32>(xy, 0.0, 1.0);
    return out;
}

@fragment
fn fs_main(in: ResolveOut) -> @location(0) vec4<f32> {
    // The pixel of the grid under this fragment's centre.
    let cell = vec2<i32>(floor(in.clip.xy - placement.origin_px));
    if any(cell < vec2<i32>(0)) || any(cell >= vec2<i32>(placement.size_px)) {
        return vec4<f32>(0.0);
    }
    return textureLoad(colours, cell, 0);
}
