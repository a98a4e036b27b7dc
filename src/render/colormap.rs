//! Perceptually uniform colormaps (viridis, magma) as degree-6 polynomial fits, and the categorical class
//! palette. The fits are kept in sync with `shaders/colormap.wgsl` (a test compares the two texts), so an
//! exported figure and the screen agree. Also the Rust side of the `Coloring` uniform block of
//! `shaders/colormap.wgsl` that every point shader reads. No GPU here.

use bytemuck::{Pod, Zeroable};

/// A sequential, perceptually uniform colormap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    Viridis,
    Magma,
}

impl Colormap {
    pub const ALL: [Colormap; 2] = [Colormap::Viridis, Colormap::Magma];

    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Magma => "magma",
        }
    }

    /// Index used by the shaders' `colormap(which, t)`.
    pub fn shader_index(self) -> u32 {
        match self {
            Colormap::Viridis => 0,
            Colormap::Magma => 1,
        }
    }

    /// Coefficients c0..c6 (RGB) of the fit, Horner order. Kept in sync with `shaders/colormap.wgsl`.
    pub fn coefficients(self) -> &'static [[f32; 3]; 7] {
        match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Magma => &MAGMA,
        }
    }

    /// Linear-free sRGB colour at `t` (clamped to [0, 1]).
    pub fn rgb(self, t: f32) -> [f32; 3] {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let c = self.coefficients();
        let mut out = [0.0f32; 3];
        for (channel, value) in out.iter_mut().enumerate() {
            let v = c
                .iter()
                .rev()
                .fold(0.0f32, |acc, coeff| acc * t + coeff[channel]);
            *value = v.clamp(0.0, 1.0);
        }
        out
    }

    /// 8-bit sRGB colour at `t`.
    pub fn rgb8(self, t: f32) -> [u8; 3] {
        self.rgb(t).map(|v| (v * 255.0).round() as u8)
    }
}

/// The part of a colormap a view draws, `[lo, hi]` of its [0, 1] range: both maps end in a colour close
/// to one of the themes' backgrounds (viridis' yellow and magma's cream on white, their near-black
/// purple on black), so the end next to the background is left out and every value stays readable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColormapSpan {
    pub lo: f32,
    pub hi: f32,
}

impl ColormapSpan {
    pub const FULL: ColormapSpan = ColormapSpan { lo: 0.0, hi: 1.0 };

    /// The span that reads on a dark or a light background.
    pub fn on_background(dark: bool) -> Self {
        if dark {
            ColormapSpan { lo: 0.25, hi: 1.0 }
        } else {
            ColormapSpan { lo: 0.0, hi: 0.85 }
        }
    }

    /// Where value `t` in [0, 1] falls on the colormap.
    pub fn at(self, t: f32) -> f32 {
        self.lo + (self.hi - self.lo) * t
    }
}

// Polynomial fits of matplotlib's viridis and magma (Matt Zucker's degree-6 least-squares fits).
// Kept in sync with shaders/colormap.wgsl.
const VIRIDIS: [[f32; 3]; 7] = [
    [0.277_727_33, 0.005_407_344_5, 0.334_099_8],
    [0.105_093_04, 1.404_613_5, 1.384_590_2],
    [-0.330_861_83, 0.214_847_56, 0.095_095_16],
    [-4.634_230_6, -5.799_101, -19.332_441],
    [6.228_27, 14.179_933, 56.690_55],
    [4.776_385, -13.745_146, -65.353_035],
    [-5.435_456, 4.645_852_6, 26.312_435],
];
const MAGMA: [[f32; 3]; 7] = [
    [-0.002_136_485, -0.000_749_655, -0.005_386_128],
    [0.251_660_54, 0.677_523_24, 2.494_026_6],
    [8.353_717, -3.577_719_5, 0.314_467_9],
    [-27.668_733, 14.264_731, -13.649_213],
    [52.176_14, -27.943_605, 12.944_169],
    [-50.768_524, 29.046_583, 4.234_153],
    [18.655_705, -11.489_773, -5.601_961_5],
];

/// Categorical class colours (Okabe–Ito, colour-blind safe), indexed by class modulo the length.
/// Uploaded to the point shader as a uniform array, so this is the only definition.
pub const CLASS_PALETTE: [[u8; 3]; 8] = [
    [230, 159, 0],
    [86, 180, 233],
    [0, 158, 115],
    [204, 121, 167],
    [240, 228, 66],
    [0, 114, 178],
    [213, 94, 0],
    [200, 200, 200],
];

/// The palette as shader uniform entries (RGBA in [0, 1]).
pub fn palette_uniform() -> [[f32; 4]; 8] {
    CLASS_PALETTE.map(|[r, g, b]| [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0, 1.0])
}

/// The palette colour of class `k`.
pub fn class_rgb8(k: usize) -> [u8; 3] {
    CLASS_PALETTE[k % CLASS_PALETTE.len()]
}

/// How the scalar of each point becomes a colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PointColoring {
    /// `value` is a class index into [`super::colormap::CLASS_PALETTE`].
    Class,
    /// `value` in [0, 1] through the span of a colormap.
    Scalar(Colormap, ColormapSpan),
}

impl PointColoring {
    /// The colour of a point with scalar `value`, as `color_of` in `shaders/colormap.wgsl` gives it.
    pub fn rgb(self, value: f32) -> [f32; 3] {
        match self {
            PointColoring::Class => {
                let class = value.max(0.0) as usize % CLASS_PALETTE.len();
                CLASS_PALETTE[class].map(|c| f32::from(c) / 255.0)
            }
            PointColoring::Scalar(map, span) => {
                let t = value.clamp(0.0, 1.0);
                map.rgb(span.lo * (1.0 - t) + span.hi * t)
            }
        }
    }
}

/// The `Coloring` block shared by the point, splat and trail shaders (`shaders/colormap.wgsl`; std140: 160 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub(super) struct ColoringUniform {
    palette: [[f32; 4]; 8],
    mode: u32,
    colormap_index: u32,
    opacity: f32,
    span_lo: f32,
    span_hi: f32,
    _pad: [f32; 3],
}

impl ColoringUniform {
    pub(super) fn new(coloring: PointColoring, opacity: f32) -> Self {
        let span = match coloring {
            PointColoring::Class => ColormapSpan::FULL,
            PointColoring::Scalar(_, span) => span,
        };
        let (mode, colormap_index) = match coloring {
            PointColoring::Class => (0, 0),
            PointColoring::Scalar(map, _) => (1, map.shader_index()),
        };
        ColoringUniform {
            palette: palette_uniform(),
            mode,
            colormap_index,
            opacity: opacity.clamp(0.0, 1.0),
            span_lo: span.lo,
            span_hi: span.hi,
            _pad: [0.0; 3],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG contrast ratio of two sRGB colours (relative luminance of linearised channels).
    fn contrast(a: [f32; 3], b: [f32; 3]) -> f32 {
        let luminance = |c: [f32; 3]| {
            let lin = c.map(|v| {
                if v <= 0.04045 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            });
            0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        };
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// The lowest contrast against `background` over 201 values of `span`.
    fn weakest(map: Colormap, span: ColormapSpan, background: [f32; 3]) -> f32 {
        (0..=200)
            .map(|i| contrast(map.rgb(span.at(i as f32 / 200.0)), background))
            .fold(f32::INFINITY, f32::min)
    }

    /// Each theme's span keeps every colour at a contrast ≥ 1.6 with its background (the full maps
    /// fall to ≤ 1.45: viridis' yellow on white, magma's black on black), so a point of any value
    /// stands out on both themes.
    #[test]
    fn each_theme_span_reads_on_its_background() {
        for map in Colormap::ALL {
            for (dark, background) in [(true, [0.0; 3]), (false, [1.0; 3])] {
                let span = ColormapSpan::on_background(dark);
                let full = weakest(map, ColormapSpan::FULL, background);
                let kept = weakest(map, span, background);
                assert!(full <= 1.45, "{map:?} dark={dark}: full range {full}");
                assert!(kept >= 1.6, "{map:?} dark={dark}: span {span:?} {kept}");
            }
        }
    }

    /// Reference values of matplotlib's tables (`_viridis_data`, `_magma_data` at 0, 128, 255).
    /// The published fits stay within about 0.01 of the tables, so 0.02 per channel is a real check.
    #[test]
    fn fits_match_matplotlib_anchors() {
        let cases: [(Colormap, f32, [f32; 3]); 6] = [
            (Colormap::Viridis, 0.0, [0.267004, 0.004874, 0.329415]),
            (
                Colormap::Viridis,
                128.0 / 255.0,
                [0.127568, 0.566949, 0.550556],
            ),
            (Colormap::Viridis, 1.0, [0.993248, 0.906157, 0.143936]),
            (Colormap::Magma, 0.0, [0.001462, 0.000466, 0.013866]),
            (
                Colormap::Magma,
                128.0 / 255.0,
                [0.716387, 0.214982, 0.475290],
            ),
            (Colormap::Magma, 1.0, [0.987053, 0.991438, 0.749504]),
        ];
        for (map, t, expected) in cases {
            let got = map.rgb(t);
            for c in 0..3 {
                assert!(
                    (got[c] - expected[c]).abs() < 0.02,
                    "{} at {t}: {got:?} vs {expected:?}",
                    map.name()
                );
            }
        }
    }

    /// Perceptual uniformity proxy: luminance rises monotonically along both maps.
    #[test]
    fn luminance_is_monotone() {
        for map in Colormap::ALL {
            let luma = |t: f32| {
                let [r, g, b] = map.rgb(t);
                0.2126 * r + 0.7152 * g + 0.0722 * b
            };
            for i in 0..100 {
                let (a, b) = (i as f32 / 100.0, (i + 1) as f32 / 100.0);
                assert!(luma(b) >= luma(a) - 1e-3, "{} dips at {a}", map.name());
            }
        }
    }

    /// The WGSL copy of the fits holds the same numbers in the same order (relative 1e-6).
    #[test]
    fn wgsl_copy_is_in_sync() {
        let wgsl = include_str!("../../shaders/colormap.wgsl");
        for map in Colormap::ALL {
            let marker = format!("// {} fit", map.name());
            let start = wgsl
                .find(&marker)
                .unwrap_or_else(|| panic!("{marker} missing"));
            let block = &wgsl[start..];
            let end = block.find(");").unwrap_or(block.len());
            let numbers: Vec<f32> = block[..end]
                .replace("array<vec3<f32>, 7>", "")
                .replace("vec3<f32>", "")
                .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
                .filter_map(|s| s.parse::<f32>().ok())
                .collect();
            let expected: Vec<f32> = map.coefficients().iter().flatten().copied().collect();
            assert_eq!(numbers.len(), expected.len(), "{}: {numbers:?}", map.name());
            for (a, b) in numbers.iter().zip(&expected) {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "{}: {a} vs {b}",
                    map.name()
                );
            }
        }
    }
}
