//! The point format every renderer reads, the splat's per-pixel key, and the splat carried out on the
//! CPU (issue #18). Knows glam and the colormaps only.
//!
//! A key is, from the top bit down: [`OPAQUE`] where the point's disc covers the pixel fully, the
//! depth (nearer is larger) in `31 - index_bits` bits, and the point index + 1 in the low
//! [`index_bits`] bits. The largest key per pixel wins: an opaque interior beats another disc's
//! anti-aliased rim, then the nearer point, then (at equal depth) the later one, as in the sprites'
//! draw order. `shaders/splat.wgsl` computes the same keys on the GPU.
//!
//! [`CpuSplat`] does the splat's two passes in plain loops: on a software rasteriser (lavapipe) the
//! compute splat pays for every key load and atomic through the driver's emulation of GPU lanes, and a
//! loop over the same pixels costs several times less. The rows are merged in parallel (rayon), a task
//! per group of bands, so no two tasks write one key and no atomics are needed. Its result is the resolved colour grid, which
//! the splat pipeline uploads and draws exactly as it draws its own ([`super::splat`]).

use super::colormap::PointColoring;
use bytemuck::{Pod, Zeroable};
use glam::{Mat4, Vec2, Vec4};
use half::f16;
use rayon::prelude::*;

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
fn reach(radius_px: f32) -> f32 {
    radius_px + 0.5
}

/// What a splat draws: the points, seen through `view_proj`, onto a grid of `size_px` pixels.
#[derive(Clone, Copy, Debug)]
pub struct CpuSplatInput<'a> {
    pub points: &'a [PointInstance],
    pub view_proj: Mat4,
    pub size_px: [u32; 2],
    pub radius_px: f32,
    pub coloring: PointColoring,
    pub opacity: f32,
}

impl CpuSplatInput<'_> {
    /// Point `index`'s centre in grid pixels (y down) and its depth in [0, 1]; `None` where the sprite
    /// pipeline would clip it (behind the camera, outside the depth range, or not a number).
    fn project(&self, index: usize) -> Option<(Vec2, f32)> {
        let [x, y, z] = self.points[index].position;
        let clip = self.view_proj * Vec4::new(x, y, z, 1.0);
        if !(clip.w > 0.0 && clip.z >= 0.0 && clip.z <= clip.w) {
            return None;
        }
        let ndc = clip.truncate() / clip.w;
        let size = Vec2::new(self.size_px[0] as f32, self.size_px[1] as f32);
        Some((
            Vec2::new(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5) * size,
            ndc.z,
        ))
    }
}

/// Rows per band of the CPU splat's sort: a band's keys (and the rows its discs reach beyond it) stay
/// in the L2 cache at any width a screen has (16 + 6 rows of 4096 px: 352 KiB).
const BAND_ROWS: u32 = 16;

/// Pixels of a row the CPU splat handles at once (two SSE registers of keys).
const LANES: usize = 8;
/// Bands per parallel task of the CPU splat: few enough tasks that each disc near a task's edge is
/// visited twice only rarely, enough for every core.
const TASK_BANDS: u32 = 4;

/// A projected point: its centre in grid pixels and its key.
#[derive(Clone, Copy, Debug, Default)]
struct Disc {
    x: f32,
    y: f32,
    key: u32,
}

/// `v` rounded up, saturating to `i32` (the library `ceil` is a call on the baseline x86-64 target).
fn ceil_i32(v: f32) -> i32 {
    -floor_i32(-v)
}

/// `v` rounded down, saturating to `i32` (not a number: 0).
fn floor_i32(v: f32) -> i32 {
    let truncated = v as i32;
    truncated - i32::from((truncated as f32) > v)
}

/// A key as an `i32` of the same order (its top bit flipped): SSE2 compares signed 32-bit lanes only,
/// so the merge's maximum vectorises on the baseline x86-64 target this way.
fn ordered(key: u32) -> i32 {
    (key ^ OPAQUE) as i32
}

/// The key an [`ordered`] value stands for.
fn key_of(ordered: i32) -> u32 {
    ordered as u32 ^ OPAQUE
}

/// Merges the keys of `discs` (reach `r`) into `keys`, the rows from `first_row` on of a grid
/// `width` pixels wide; rows outside `keys` are left to other tasks.
fn merge_discs(keys: &mut [i32], discs: &[Disc], width: i32, first_row: i32, r: f32) {
    let rows = first_row..first_row + keys.len() as i32 / width.max(1);
    // Squared distances: coverage r - d is > 0 inside r, and 1 (opaque) within r - 1.
    let inside = r * r;
    let opaque_inside = if r >= 1.0 {
        (r - 1.0) * (r - 1.0)
    } else {
        -1.0
    };
    for disc in discs {
        // Pixels whose centres (x + 0.5) may lie within r of the point.
        let (first_y, last_y) = (
            ceil_i32(disc.y - r - 0.5).max(rows.start),
            floor_i32(disc.y + r - 0.5).min(rows.end - 1),
        );
        let (first_x, last_x) = (
            ceil_i32(disc.x - r - 0.5).max(0),
            floor_i32(disc.x + r - 0.5).min(width - 1),
        );
        for y in first_y..=last_y {
            let dy = (y as f32 + 0.5) - disc.y;
            let dy2 = dy * dy;
            let row = ((y - rows.start) * width) as usize;
            let merge = |pixel: &mut i32, x: i32| {
                let dx = (x as f32 + 0.5) - disc.x;
                let d2 = dx * dx + dy2;
                // Masks as integers, not branches: each lane is one select.
                let opaque = u32::from(d2 <= opaque_inside) << 31;
                let covered = u32::from(d2 < inside && x <= last_x).wrapping_neg();
                *pixel = (*pixel).max(ordered((disc.key | opaque) & covered));
            };
            // Whole chunks of LANES pixels, the ones past `last_x` masked out, so that the
            // compiler vectorises each chunk; a chunk running past the end of `keys` goes pixel
            // by pixel.
            let mut chunk_x = first_x;
            while chunk_x <= last_x {
                let at = row + chunk_x as usize;
                match keys.get_mut(at..at + LANES) {
                    Some(chunk) => {
                        let chunk = <&mut [i32; LANES]>::try_from(chunk).expect("LANES long");
                        for (lane, pixel) in chunk.iter_mut().enumerate() {
                            merge(pixel, chunk_x + lane as i32);
                        }
                    }
                    None => {
                        for (lane, pixel) in keys[at..].iter_mut().enumerate() {
                            merge(pixel, chunk_x + lane as i32);
                        }
                    }
                }
                chunk_x += LANES as i32;
            }
        }
    }
}

/// The CPU splat's buffers, kept between frames so that a frame allocates nothing.
#[derive(Default)]
pub struct CpuSplat {
    /// The points that touch the grid, with their band, in the points' order.
    projected: Vec<(u32, Disc)>,
    /// Where each band starts in `discs` (and, last, their count).
    band_starts: Vec<u32>,
    /// The same, sorted by band.
    discs: Vec<Disc>,
    /// One key per pixel of the grid, row-major, [`ordered`]; `ordered(0)` where no point landed.
    keys: Vec<i32>,
    /// Premultiplied RGBA per pixel, row-major, in half floats (the splat's colour texture format).
    texels: Vec<f16>,
}

impl CpuSplat {
    /// Splats `input` and resolves every pixel; returns the premultiplied RGBA texels of the grid
    /// (`[height][width][4]` half floats), transparent where no point landed.
    pub fn draw(&mut self, input: &CpuSplatInput<'_>) -> &[f16] {
        self.splat(input);
        self.resolve(input);
        &self.texels
    }

    /// The winning key of every pixel, as `splat_points` in `shaders/splat.wgsl` computes it.
    ///
    /// The discs are drawn band by band of [`BAND_ROWS`] rows (a counting sort of the projected points
    /// by the row of their centre): a band's keys stay in the cache while its discs land, where discs
    /// drawn in the points' own order would miss it on most rows. The order cannot change a key: the
    /// merge is a maximum.
    fn splat(&mut self, input: &CpuSplatInput<'_>) {
        let width = input.size_px[0] as usize;
        self.keys.clear();
        self.keys
            .resize(width * input.size_px[1] as usize, ordered(0));
        let r = reach(input.radius_px);
        self.bin(input, r);
        // Rows are merged in parallel, a task per group of bands: a task's discs are those of its
        // bands and of the bands within the disc's reach, clipped to its rows.
        let reach_bands = ((r + 0.5) / BAND_ROWS as f32).ceil() as usize;
        let bands = self.band_starts.len() - 1;
        let (discs, starts) = (&self.discs, &self.band_starts);
        self.keys
            .par_chunks_mut((BAND_ROWS * TASK_BANDS) as usize * width.max(1))
            .enumerate()
            .for_each(|(task, keys)| {
                let first_band = task * TASK_BANDS as usize;
                let last_band = first_band + TASK_BANDS as usize - 1;
                let from = starts[first_band.saturating_sub(reach_bands)] as usize;
                let to = starts[(last_band + reach_bands + 1).min(bands)] as usize;
                let first_row = (first_band * BAND_ROWS as usize) as i32;
                merge_discs(keys, &discs[from..to], width as i32, first_row, r);
            });
    }

    /// Projects every point, keeps those whose disc touches the grid, and sorts them into
    /// `self.discs` by band of rows.
    fn bin(&mut self, input: &CpuSplatInput<'_>, r: f32) {
        let bits = index_bits(input.points.len() as u32);
        let depth_max = (1u32 << (31 - bits)) - 1;
        let size = Vec2::new(input.size_px[0] as f32, input.size_px[1] as f32);
        let bands = input.size_px[1].div_ceil(BAND_ROWS) as usize;
        self.projected.clear();
        self.band_starts.clear();
        self.band_starts.resize(bands + 1, 0);
        for index in 0..input.points.len() {
            let Some((p, depth)) = input.project(index) else {
                continue;
            };
            // Off the grid by more than the reach (or not a number): nothing to draw.
            if !(p.x > -r && p.y > -r && p.x < size.x + r && p.y < size.y + r) {
                continue;
            }
            let near = depth_max - ((depth * depth_max as f32) as u32).min(depth_max);
            let band = (p.y.max(0.0) as u32 / BAND_ROWS).min(bands as u32 - 1);
            self.band_starts[band as usize + 1] += 1;
            self.projected.push((
                band,
                Disc {
                    x: p.x,
                    y: p.y,
                    key: (near << bits) | (index as u32 + 1),
                },
            ));
        }
        for band in 0..bands {
            self.band_starts[band + 1] += self.band_starts[band];
        }
        self.discs.clear();
        self.discs.resize(self.projected.len(), Disc::default());
        let mut next = self.band_starts.clone();
        for &(band, disc) in &self.projected {
            let at = &mut next[band as usize];
            self.discs[*at as usize] = disc;
            *at += 1;
        }
    }

    /// Every pixel's colour from its winning key, as `resolve_pixels` in `shaders/splat.wgsl`
    /// computes it: the sprite's coverage and colour for the one point that won the pixel.
    fn resolve(&mut self, input: &CpuSplatInput<'_>) {
        let width = input.size_px[0].max(1) as usize;
        let pixels = width * input.size_px[1] as usize;
        self.texels.clear();
        self.texels.resize(pixels * 4, f16::ZERO);
        let mask = (1u32 << index_bits(input.points.len() as u32)) - 1;
        let r = reach(input.radius_px);
        let opacity = input.opacity.clamp(0.0, 1.0);
        let keys = &self.keys[..pixels];
        for (pixel, (&key, texel)) in keys.iter().zip(self.texels.chunks_exact_mut(4)).enumerate() {
            let key = key_of(key);
            if key == 0 {
                continue;
            }
            let index = ((key & mask) - 1) as usize;
            let Some((p, _)) = input.project(index) else {
                continue;
            };
            let centre = Vec2::new((pixel % width) as f32 + 0.5, (pixel / width) as f32 + 0.5);
            let a = opacity * (r - centre.distance(p)).clamp(0.0, 1.0);
            let [red, green, blue] = input.coloring.rgb(input.points[index].value);
            for (out, value) in texel.iter_mut().zip([red * a, green * a, blue * a, a]) {
                *out = f16::from_f32(value);
            }
        }
    }
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

    fn input(points: &[PointInstance]) -> CpuSplatInput<'_> {
        CpuSplatInput {
            points,
            view_proj: Mat4::IDENTITY,
            size_px: [20, 10],
            radius_px: 2.5,
            coloring: PointColoring::Class,
            opacity: 1.0,
        }
    }

    /// A point at a pixel centre covers the pixels within 3 px (radius + rim) and is opaque within
    /// 2 px; its colour is the class colour times coverage.
    #[test]
    fn one_disc_covers_its_footprint_with_the_sprite_coverage() {
        // Pixel (5, 4)'s centre: x = 5.5 / 20 → ndc -0.45, y = 4.5 / 10 → ndc 0.1, depth 0.5.
        let points = [PointInstance {
            position: [-0.45, 0.1, 0.5],
            value: 1.0,
        }];
        let input = input(&points);
        let mut splat = CpuSplat::default();
        let texels = splat.draw(&input).to_vec();
        let class = PointColoring::Class.rgb(1.0);
        for y in 0..10usize {
            for x in 0..20usize {
                let d = ((x as f32 - 5.0).powi(2) + (y as f32 - 4.0).powi(2)).sqrt();
                let key = key_of(splat.keys[y * 20 + x]);
                assert_eq!(key != 0, d < 3.0, "pixel ({x}, {y}) at {d} px");
                assert_eq!(key & OPAQUE != 0, d <= 2.0, "pixel ({x}, {y}) at {d} px");
                let alpha = (3.0 - d).clamp(0.0, 1.0);
                let texel = &texels[(y * 20 + x) * 4..][..4];
                assert!((texel[3].to_f32() - alpha).abs() < 1e-3, "({x}, {y})");
                assert!(
                    (texel[0].to_f32() - class[0] * alpha).abs() < 1e-3,
                    "({x}, {y})"
                );
            }
        }
    }

    /// Every pixel's key against a plain loop over all points per pixel, on a grid of several
    /// parallel tasks (discs straddle their edges), for radii reaching one and two bands.
    #[test]
    fn keys_equal_the_maximum_over_every_point() {
        let (width, height) = (37usize, 150usize);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let points: Vec<PointInstance> = (0..400)
            .map(|_| PointInstance {
                // Some land off the grid, within a disc's reach of it or beyond.
                position: [2.4 * uniform() - 1.2, 2.4 * uniform() - 1.2, uniform()],
                value: 0.0,
            })
            .collect();
        for radius_px in [2.5, 7.0, 20.0] {
            let input = CpuSplatInput {
                size_px: [width as u32, height as u32],
                radius_px,
                ..input(&points)
            };
            let mut splat = CpuSplat::default();
            splat.draw(&input);
            let bits = index_bits(points.len() as u32);
            let depth_max = (1u32 << (31 - bits)) - 1;
            let r = reach(radius_px);
            for y in 0..height {
                for x in 0..width {
                    let centre = Vec2::new(x as f32 + 0.5, y as f32 + 0.5);
                    let expected = (0..points.len())
                        .filter_map(|i| {
                            let (p, depth) = input.project(i)?;
                            let offset = centre - p;
                            let d2 = offset.x * offset.x + offset.y * offset.y;
                            let near =
                                depth_max - ((depth * depth_max as f32) as u32).min(depth_max);
                            let key = (near << bits) | (i as u32 + 1);
                            let opaque = d2 <= (r - 1.0) * (r - 1.0);
                            (d2 < r * r).then_some(if opaque { key | OPAQUE } else { key })
                        })
                        .max()
                        .unwrap_or(0);
                    let got = key_of(splat.keys[y * width + x]);
                    assert_eq!(got, expected, "radius {radius_px}, pixel ({x}, {y})");
                }
            }
        }
    }

    /// Where discs overlap the nearer point wins, and at equal depth the later one; points behind the
    /// camera or off the grid change nothing.
    #[test]
    fn the_nearer_then_the_later_point_wins() {
        let at = |z: f32, value: f32| PointInstance {
            position: [-0.45, 0.1, z],
            value,
        };
        let behind = PointInstance {
            position: [-0.45, 0.1, -0.5],
            value: 3.0,
        };
        let off_grid = PointInstance {
            position: [5.0, 0.1, 0.1],
            value: 4.0,
        };
        let winner = |points: &[PointInstance]| {
            let mut splat = CpuSplat::default();
            splat.draw(&input(points));
            let mask = (1 << index_bits(points.len() as u32)) - 1;
            (key_of(splat.keys[4 * 20 + 5]) & mask) as usize - 1
        };
        assert_eq!(winner(&[at(0.2, 0.0), at(0.7, 1.0)]), 0);
        assert_eq!(winner(&[at(0.7, 0.0), at(0.2, 1.0)]), 1);
        assert_eq!(winner(&[at(0.5, 0.0), at(0.5, 1.0)]), 1);
        assert_eq!(winner(&[at(0.5, 0.0), behind, off_grid]), 0);
    }
}
