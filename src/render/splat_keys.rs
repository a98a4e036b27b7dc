//! The point format every renderer reads and the splat's per-pixel key (issue #18), shared by the
//! GPU splat (`shaders/splat.wgsl`) and the CPU splat ([`super::cpu_splat`]). Knows bytemuck only.
//!
//! A key is, from the top bit down: [`OPAQUE`] where the point's disc covers the pixel fully, the
//! depth (nearer is larger) in `31 - index_bits` bits, and the point index + 1 in the low
//! [`index_bits`] bits. The largest key per pixel wins: an opaque interior beats another disc's
//! anti-aliased rim, then the nearer point, then (at equal depth) the later one, as in the sprites'
//! draw order. `shaders/splat.wgsl` computes the same keys on the GPU.

use bytemuck::{Pod, Zeroable};

/// One point: position in view space and the scalar that colours it (class index, or a value in
/// [0, 1] for the colormap). Kept in sync with the vertex inputs of `shaders/points.wgsl` and the
/// `Point` of `shaders/splat.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct PointInstance {
    pub position: [f32; 3],
    pub value: f32,
}

/// The key bit of pixels a disc covers fully.
pub const OPAQUE: u32 = 1 << 31;

/// Bits of a key holding the point index + 1 (the top bit marks opaque pixels, the rest hold the
/// depth): as few as the count needs, so that depth keeps the most precision (14 bits at 100k points,
/// 11 at 1M, 7 at 8M).
pub fn index_bits(count: u32) -> u32 {
    (u32::BITS - count.leading_zeros()).max(1)
}

/// A splat's footprint: half a pixel beyond the radius, where a sprite's anti-aliased rim ends.
pub(super) fn reach(radius_px: f32) -> f32 {
    radius_px + 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index field holds every index + 1 up to the count, and leaves the rest to depth.
    #[test]
    fn index_bits_hold_the_count() {
        for (count, bits) in [
            (1u32, 1),
            (2, 2),
            (3, 2),
            (100_000, 17),
            (1 << 20, 21),
            (10_000_000, 24),
        ] {
            assert_eq!(index_bits(count), bits, "{count}");
            assert!(u64::from(count) < 1u64 << bits);
        }
    }
}
