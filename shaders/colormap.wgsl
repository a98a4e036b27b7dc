// Perceptually uniform colormaps as degree-6 polynomial fits.
// Kept in sync with src/render/colormap.rs (the test `wgsl_copy_is_in_sync` compares the numbers).
// This file is prepended to every shader (src/render/gpu.rs).

fn horner(c: array<vec3<f32>, 7>, t: f32) -> vec3<f32> {
    return c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * (c[5] + t * c[6])))));
}

fn colormap(which: u32, t_in: f32) -> vec3<f32> {
    let t = clamp(t_in, 0.0, 1.0);
    if which == 1u {
        // magma fit
        let c = array<vec3<f32>, 7>(
            vec3<f32>(-0.002136485, -0.000749655, -0.005386128),
            vec3<f32>(0.25166054, 0.67752324, 2.4940266),
            vec3<f32>(8.353717, -3.5777195, 0.3144679),
            vec3<f32>(-27.668733, 14.264731, -13.649213),
            vec3<f32>(52.17614, -27.943605, 12.944169),
            vec3<f32>(-50.768524, 29.046583, 4.234153),
            vec3<f32>(18.655705, -11.489773, -5.6019615)
        );
        return clamp(horner(c, t), vec3<f32>(0.0), vec3<f32>(1.0));
    }
    // viridis fit
    let c = array<vec3<f32>, 7>(
        vec3<f32>(0.27772733, 0.0054073445, 0.3340998),
        vec3<f32>(0.10509304, 1.4046135, 1.3845902),
        vec3<f32>(-0.33086183, 0.21484756, 0.09509516),
        vec3<f32>(-4.6342306, -5.799101, -19.332441),
        vec3<f32>(6.22827, 14.179933, 56.69055),
        vec3<f32>(4.776385, -13.745146, -65.353035),
        vec3<f32>(-5.435456, 4.6458526, 26.312435)
    );
    return clamp(horner(c, t), vec3<f32>(0.0), vec3<f32>(1.0));
}

// How points and trails turn their scalar into a colour; kept in sync with `ColoringUniform` in
// src/render/colormap.rs (std140: 160 bytes, embedded in the point, splat and trail uniforms).
struct Coloring {
    palette: array<vec4<f32>, 8>,
    mode: u32,             // 0 = class palette, 1 = colormap
    colormap_index: u32,
    opacity: f32,
    span_lo: f32,          // the part of the colormap drawn (ColormapSpan)
    span_hi: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
};

// `value` is a class index (palette) or a value in [0, 1] (colormap).
fn color_of(c: Coloring, value: f32) -> vec3<f32> {
    if c.mode == 0u {
        return c.palette[u32(max(value, 0.0)) % 8u].rgb;
    }
    return colormap(c.colormap_index, mix(c.span_lo, c.span_hi, clamp(value, 0.0, 1.0)));
}
