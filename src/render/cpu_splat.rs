//! The splat carried out on the CPU (issue #18): the keys of [`super::splat_keys`] computed and
//! resolved in plain loops. On a software rasteriser (lavapipe) the compute splat pays for every key
//! load and atomic through the driver's emulation of GPU lanes; a loop over the same pixels costs
//! several times less, and here it can also skip the discs nobody sees.
//!
//! Three steps, each in parallel (rayon):
//! 1. **Sort.** The points are projected and counting-sorted into buckets: by band of rows, then by
//!    slice of depth (front first), then by block of columns. Each part of the points sorts its own
//!    discs, so the parts share no counter.
//! 2. **Merge.** A task per group of bands merges the discs that reach its rows, clipped to them, so
//!    no two tasks write one key and no atomics are needed. It takes the depth slices front to back
//!    and culls what nearer discs already cover opaquely, at two grains: a whole bucket when the
//!    tiles its discs can reach are covered, else each disc whose own tiles are. In a dense cloud most
//!    discs are hidden (73 % of a million in the benchmark's view), and a hidden one costs a few tile
//!    reads, not its pixels.
//! 3. **Resolve.** Each pixel's colour from its winning key.
//!
//! The sort and the culling change the order and the number of discs merged, never a key: the merge
//! is a maximum, and a culled disc could not have raised one. The result is the resolved colour grid,
//! which the splat pipeline uploads and draws exactly as it draws its own ([`super::splat`]).

use super::colormap::PointColoring;
use super::splat_keys::{OPAQUE, PointInstance, index_bits, reach};
use glam::{Mat4, Vec2, Vec4};
use half::f16;
use rayon::prelude::*;
use std::ops::{Range, RangeInclusive};

/// Rows per band of the sort: a band's keys (and the rows its discs reach beyond it) stay in the L2
/// cache at any width a screen has (16 + 6 rows of 4096 px: 352 KiB).
const BAND_ROWS: usize = 16;
/// Bands per parallel task of the merge: few enough tasks that each disc near a task's edge is
/// visited twice only rarely, enough for every core.
const TASK_BANDS: usize = 4;
/// Slices of depth per band of the sort. The merge takes them front to back, so that the discs
/// behind are culled; more slices order the discs more finely but cost more buckets to walk.
const DEPTH_SLICES: usize = 32;
/// Points whose depth is sampled to place the slices (evenly spaced over the cloud).
const DEPTH_SAMPLES: usize = 4096;
/// Columns per block of the sort: a bucket holds the discs of one band, one block and one depth
/// slice, and the merge skips a whole bucket when the tiles its discs can reach are covered by nearer
/// discs already.
const BLOCK_COLUMNS: usize = 32;
/// Side of the merge's culling tiles, in pixels: a disc's footprint at the default radius (6×6
/// pixels) lies on 4 to 9 of them.
const TILE_PX: usize = 4;
/// A task refreshes its tiles' minima after merging this share of its tile count in discs: often
/// enough that newly covered tiles start culling soon, rarely enough that the refresh (a pass over
/// the task's keys) costs less than the merges between two.
const REFRESH_PER_TILE: f32 = 0.25;
/// The bucket of a point that draws nothing.
const NO_BUCKET: u32 = u32::MAX;
/// Pixels of a row merged at once (two SSE registers of keys).
const LANES: usize = 8;

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

    /// The points of part `part` when the points are cut into parts of `part_len`.
    fn part(&self, part: usize, part_len: usize) -> Range<usize> {
        let len = self.points.len();
        (part * part_len).min(len)..((part + 1) * part_len).min(len)
    }
}

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

/// How depths map to the sort's slices: the span of depths of a sample of the points, cut evenly.
/// A point beyond the sampled span goes to the nearest end slice. The slices only order the merge,
/// so a poor span costs culling, never a key.
#[derive(Clone, Copy, Debug)]
struct DepthSlices {
    nearest: f32,
    slices_per_depth: f32,
}

impl DepthSlices {
    fn sampled(input: &CpuSplatInput<'_>) -> Self {
        let stride = (input.points.len() / DEPTH_SAMPLES).max(1);
        let (nearest, farthest) = (0..input.points.len())
            .step_by(stride)
            .filter_map(|index| input.project(index))
            .fold(
                (f32::INFINITY, f32::NEG_INFINITY),
                |(near, far), (_, depth)| (near.min(depth), far.max(depth)),
            );
        let span = farthest - nearest;
        Self {
            nearest,
            slices_per_depth: if span > 0.0 {
                DEPTH_SLICES as f32 / span
            } else {
                0.0
            },
        }
    }

    /// The slice of `depth`, 0 nearest (not a number: 0).
    fn of(&self, depth: f32) -> usize {
        (((depth - self.nearest) * self.slices_per_depth) as usize).min(DEPTH_SLICES - 1)
    }
}

/// Where each point goes in the sort, and its disc. The buckets are ordered by band, then depth slice,
/// then block of columns.
struct Binning {
    bands: usize,
    blocks: usize,
    slices: DepthSlices,
    index_bits: u32,
    depth_max: u32,
    size: Vec2,
    reach: f32,
}

impl Binning {
    fn new(input: &CpuSplatInput<'_>) -> Self {
        let index_bits = index_bits(input.points.len() as u32);
        Self {
            bands: (input.size_px[1] as usize).div_ceil(BAND_ROWS).max(1),
            blocks: (input.size_px[0] as usize).div_ceil(BLOCK_COLUMNS).max(1),
            slices: DepthSlices::sampled(input),
            index_bits,
            depth_max: (1u32 << (31 - index_bits)) - 1,
            size: Vec2::new(input.size_px[0] as f32, input.size_px[1] as f32),
            reach: reach(input.radius_px),
        }
    }

    fn buckets(&self) -> usize {
        self.bands * DEPTH_SLICES * self.blocks
    }

    /// The first bucket of `band`'s depth slice `slice` (its blocks follow).
    fn bucket(&self, band: usize, slice: usize) -> usize {
        (band * DEPTH_SLICES + slice) * self.blocks
    }

    /// Point `index`'s bucket and disc; `None` where it draws nothing (clipped, or off the grid by
    /// more than the reach, or not a number).
    fn disc(&self, input: &CpuSplatInput<'_>, index: usize) -> Option<(usize, Disc)> {
        let (p, depth) = input.project(index)?;
        let r = self.reach;
        if !(p.x > -r && p.y > -r && p.x < self.size.x + r && p.y < self.size.y + r) {
            return None;
        }
        let depth_max = self.depth_max;
        let near = depth_max - ((depth * depth_max as f32) as u32).min(depth_max);
        let band = (p.y.max(0.0) as usize / BAND_ROWS).min(self.bands - 1);
        let block = (p.x.max(0.0) as usize / BLOCK_COLUMNS).min(self.blocks - 1);
        Some((
            self.bucket(band, self.slices.of(depth)) + block,
            Disc {
                x: p.x,
                y: p.y,
                key: (near << self.index_bits) | (index as u32 + 1),
            },
        ))
    }
}

/// One merge task's rows of keys, and the culling tiles over them.
struct TaskMerge<'a> {
    /// The task's rows of the grid's keys, [`ordered`].
    keys: &'a mut [i32],
    width: i32,
    first_row: i32,
    rows: i32,
    /// The disc's reach, and the squared distances within which it covers a pixel, and fully.
    reach: f32,
    inside: f32,
    opaque_inside: f32,
    /// The least key of each tile of `TILE_PX`² pixels as of the last refresh, row-major. Keys only
    /// grow, so a stale minimum still bounds them from below.
    tile_min: Vec<i32>,
    tiles_wide: usize,
    /// Scratch of the refresh: each column's least key over a row of tiles.
    column_min: Vec<i32>,
    /// The bands whose discs can reach the task's rows, and the blocks of columns of a band.
    bands: Range<usize>,
    blocks: usize,
    /// The least key of the tiles a bucket's discs can reach, per band of `bands` and block, as of
    /// the last refresh.
    block_min: Vec<i32>,
    merged_since_refresh: usize,
    refresh_every: usize,
    /// Discs merged (not culled), for the tests and the figures.
    merged: usize,
}

impl<'a> TaskMerge<'a> {
    fn new(keys: &'a mut [i32], first_row: usize, binning: &Binning, bands: Range<usize>) -> Self {
        let (width, reach) = (binning.size.x as usize, binning.reach);
        let rows = keys.len() / width.max(1);
        let tiles_wide = width.div_ceil(TILE_PX);
        let tiles = tiles_wide * rows.div_ceil(TILE_PX);
        Self {
            keys,
            width: width as i32,
            first_row: first_row as i32,
            rows: rows as i32,
            reach,
            inside: reach * reach,
            // Coverage r - d is 1 (opaque) within r - 1.
            opaque_inside: if reach >= 1.0 {
                (reach - 1.0) * (reach - 1.0)
            } else {
                -1.0
            },
            tile_min: vec![ordered(0); tiles],
            tiles_wide,
            column_min: vec![ordered(0); width],
            block_min: vec![ordered(0); bands.len() * binning.blocks],
            bands,
            blocks: binning.blocks,
            merged_since_refresh: 0,
            refresh_every: ((tiles as f32 * REFRESH_PER_TILE) as usize).max(1),
            merged: 0,
        }
    }

    /// Merges `disc`'s keys into the task's rows, unless its footprint there is hidden.
    fn disc(&mut self, disc: &Disc) {
        let r = self.reach;
        // Pixels whose centres (x + 0.5) may lie within r of the point.
        let (first_y, last_y) = (
            ceil_i32(disc.y - r - 0.5).max(self.first_row),
            floor_i32(disc.y + r - 0.5).min(self.first_row + self.rows - 1),
        );
        let (first_x, last_x) = (
            ceil_i32(disc.x - r - 0.5).max(0),
            floor_i32(disc.x + r - 0.5).min(self.width - 1),
        );
        if first_y > last_y || first_x > last_x {
            return;
        }
        let (tile_ys, tile_xs) = (
            (first_y - self.first_row) as usize / TILE_PX
                ..=(last_y - self.first_row) as usize / TILE_PX,
            first_x as usize / TILE_PX..=last_x as usize / TILE_PX,
        );
        if self.hidden(disc, tile_ys, tile_xs) {
            return;
        }
        for y in first_y..=last_y {
            self.merge_row(disc, y, first_x, last_x);
        }
        self.merged += 1;
        self.merged_since_refresh += 1;
        if self.merged_since_refresh >= self.refresh_every {
            self.refresh();
        }
    }

    /// Hidden: every pixel it could reach already holds a key above its best (opaque) one.
    fn hidden(
        &self,
        disc: &Disc,
        tile_ys: RangeInclusive<usize>,
        tile_xs: RangeInclusive<usize>,
    ) -> bool {
        let best = ordered(disc.key | OPAQUE);
        tile_ys.into_iter().all(|tile_y| {
            let row = tile_y * self.tiles_wide;
            self.tile_min[row + tile_xs.start()..=row + tile_xs.end()]
                .iter()
                .all(|&least| least >= best)
        })
    }

    /// Merges `disc` into pixels `first_x..=last_x` of row `y`.
    fn merge_row(&mut self, disc: &Disc, y: i32, first_x: i32, last_x: i32) {
        let dy = (y as f32 + 0.5) - disc.y;
        let dy2 = dy * dy;
        let row = ((y - self.first_row) * self.width) as usize;
        let (inside, opaque_inside) = (self.inside, self.opaque_inside);
        let merge = |pixel: &mut i32, x: i32| {
            let dx = (x as f32 + 0.5) - disc.x;
            let d2 = dx * dx + dy2;
            // Masks as integers, not branches: each lane is one select.
            let opaque = u32::from(d2 <= opaque_inside) << 31;
            let covered = u32::from(d2 < inside && x <= last_x).wrapping_neg();
            *pixel = (*pixel).max(ordered((disc.key | opaque) & covered));
        };
        // Whole chunks of LANES pixels, the ones past `last_x` masked out, so that the compiler
        // vectorises each chunk; a chunk running past the end of `keys` goes pixel by pixel.
        let mut chunk_x = first_x;
        while chunk_x <= last_x {
            let at = row + chunk_x as usize;
            match self.keys.get_mut(at..at + LANES) {
                Some(chunk) => {
                    let chunk = <&mut [i32; LANES]>::try_from(chunk).expect("LANES long");
                    for (lane, pixel) in chunk.iter_mut().enumerate() {
                        merge(pixel, chunk_x + lane as i32);
                    }
                }
                None => {
                    for (lane, pixel) in self.keys[at..].iter_mut().enumerate() {
                        merge(pixel, chunk_x + lane as i32);
                    }
                }
            }
            chunk_x += LANES as i32;
        }
    }

    /// Whether every disc of the bucket of `band` and `block` whose keys are at most `best` is
    /// hidden in the task's rows.
    fn bucket_hidden(&self, band: usize, block: usize, best: u32) -> bool {
        self.block_min[(band - self.bands.start) * self.blocks + block] >= ordered(best | OPAQUE)
    }

    /// Every tile's least key, and every bucket's, from the keys as they are now.
    fn refresh(&mut self) {
        self.refresh_tiles();
        self.refresh_blocks();
        self.merged_since_refresh = 0;
    }

    /// Every bucket's least key over the tiles its discs can reach: the discs of a band and block
    /// have their centres in it, so they reach no farther than a margin of the reach around it.
    fn refresh_blocks(&mut self) {
        let margin = self.reach.ceil() as i32 + 1;
        let tiles_high = self.tile_min.len() / self.tiles_wide.max(1);
        let tile_of = |pixel: i32, tiles: usize| (pixel.max(0) as usize / TILE_PX).min(tiles - 1);
        for (band_mins, band) in self
            .block_min
            .chunks_exact_mut(self.blocks)
            .zip(self.bands.clone())
        {
            let top = (band * BAND_ROWS) as i32 - margin - self.first_row;
            let bottom = ((band + 1) * BAND_ROWS) as i32 + margin - self.first_row;
            if bottom <= 0 || top >= self.rows || tiles_high == 0 {
                // No pixel of the task: the band's discs are clipped away.
                band_mins.fill(i32::MAX);
                continue;
            }
            let tile_rows = tile_of(top, tiles_high)..=tile_of(bottom - 1, tiles_high);
            for (block, least) in band_mins.iter_mut().enumerate() {
                let left = (block * BLOCK_COLUMNS) as i32 - margin;
                let right = ((block + 1) * BLOCK_COLUMNS) as i32 + margin;
                let tile_columns =
                    tile_of(left, self.tiles_wide)..=tile_of(right - 1, self.tiles_wide);
                *least = tile_rows
                    .clone()
                    .flat_map(|tile_y| {
                        let row = tile_y * self.tiles_wide;
                        &self.tile_min[row + tile_columns.start()..=row + tile_columns.end()]
                    })
                    .copied()
                    .min()
                    .unwrap_or(ordered(0));
            }
        }
    }

    /// Every tile's least key, from the keys as they are now.
    fn refresh_tiles(&mut self) {
        let width = self.width as usize;
        for (tile_y, rows) in self.keys.chunks(TILE_PX * width).enumerate() {
            let (first, rest) = rows.split_at(width);
            self.column_min.copy_from_slice(first);
            for row in rest.chunks_exact(width) {
                for (least, &key) in self.column_min.iter_mut().zip(row) {
                    *least = (*least).min(key);
                }
            }
            let tiles = &mut self.tile_min[tile_y * self.tiles_wide..][..self.tiles_wide];
            for (tile, columns) in tiles.iter_mut().zip(self.column_min.chunks(TILE_PX)) {
                *tile = columns.iter().copied().min().unwrap_or(ordered(0));
            }
        }
    }
}

/// The CPU splat's buffers, kept between frames so that a frame allocates little.
#[derive(Default)]
pub struct CpuSplat {
    /// Every point's bucket ([`NO_BUCKET`] where it draws nothing) and disc, in the points' order.
    projected: Vec<(u32, Disc)>,
    /// Per part of the points (row-major, `buckets + 1` each): where each bucket's discs start in
    /// `discs`, and last where the part's discs end.
    starts: Vec<u32>,
    /// Per part of the points (row-major, `buckets` each): the largest key of each bucket's discs
    /// (0 where it has none).
    best: Vec<u32>,
    /// The discs, part by part, each part's sorted by bucket.
    discs: Vec<Disc>,
    /// One key per pixel of the grid, row-major, [`ordered`]; `ordered(0)` where no point landed.
    keys: Vec<i32>,
    /// Premultiplied RGBA per pixel, row-major, in half floats (the splat's colour texture format).
    texels: Vec<f16>,
    /// Discs merged in the last frame (the others were culled or reached no pixel).
    merged: usize,
}

impl CpuSplat {
    /// Splats `input` and resolves every pixel; returns the premultiplied RGBA texels of the grid
    /// (`[height][width][4]` half floats), transparent where no point landed.
    pub fn draw(&mut self, input: &CpuSplatInput<'_>) -> &[f16] {
        let binning = Binning::new(input);
        self.sort(input, &binning);
        self.merge(input, &binning);
        self.resolve(input);
        &self.texels
    }

    /// Projects every point and sorts those whose disc touches the grid by bucket, part by part.
    fn sort(&mut self, input: &CpuSplatInput<'_>, binning: &Binning) {
        let count = input.points.len();
        let parts = rayon::current_num_threads().clamp(1, count.max(1));
        let part_len = count.div_ceil(parts).max(1);
        let row = binning.buckets() + 1;
        self.starts.clear();
        self.starts.resize(parts * row, 0);
        self.best.clear();
        self.best.resize(parts * binning.buckets(), 0);
        // Project, and count: a part's bucket b holds its count in its row at b + 1.
        self.projected.clear();
        self.projected.resize(count, (NO_BUCKET, Disc::default()));
        self.projected
            .par_chunks_mut(part_len)
            .zip(self.starts.par_chunks_mut(row))
            .zip(self.best.par_chunks_mut(binning.buckets()))
            .enumerate()
            .for_each(|(part, ((projected, counts), best))| {
                for (index, slot) in input.part(part, part_len).zip(projected) {
                    if let Some((bucket, disc)) = binning.disc(input, index) {
                        counts[bucket + 1] += 1;
                        best[bucket] = best[bucket].max(disc.key);
                        *slot = (bucket as u32, disc);
                    }
                }
            });
        let mut total = 0;
        for starts in self.starts.chunks_exact_mut(row) {
            starts[0] = total;
            for bucket in 1..row {
                starts[bucket] += starts[bucket - 1];
            }
            total = starts[row - 1];
        }
        self.discs.clear();
        self.discs.resize(total as usize, Disc::default());
        // Place: each part fills its own span of the discs.
        let mut spans = Vec::with_capacity(parts);
        let mut rest = self.discs.as_mut_slice();
        for starts in self.starts.chunks_exact(row) {
            let (span, after) = rest.split_at_mut((starts[row - 1] - starts[0]) as usize);
            spans.push(span);
            rest = after;
        }
        spans
            .into_par_iter()
            .zip(self.starts.par_chunks(row))
            .zip(self.projected.par_chunks(part_len))
            .for_each(|((span, starts), projected)| {
                let mut next: Vec<u32> = starts[..row - 1].iter().map(|s| s - starts[0]).collect();
                for &(bucket, disc) in projected {
                    if let Some(at) = next.get_mut(bucket as usize) {
                        span[*at as usize] = disc;
                        *at += 1;
                    }
                }
            });
    }

    /// The winning key of every pixel, as `splat_points` in `shaders/splat.wgsl` computes it.
    ///
    /// A task per group of bands takes the discs of its bands and of the bands within a disc's
    /// reach, slice by slice from the front, and merges them clipped to its rows.
    fn merge(&mut self, input: &CpuSplatInput<'_>, binning: &Binning) {
        let width = input.size_px[0] as usize;
        self.keys.clear();
        self.keys
            .resize(width * input.size_px[1] as usize, ordered(0));
        let reach_bands = ((binning.reach + 0.5) / BAND_ROWS as f32).ceil() as usize;
        let row = binning.buckets() + 1;
        let task_rows = BAND_ROWS * TASK_BANDS;
        let (discs, starts, best) = (&self.discs, &self.starts, &self.best);
        self.merged = self
            .keys
            .par_chunks_mut(task_rows * width.max(1))
            .enumerate()
            .map(|(task, keys)| {
                let first_band = task * TASK_BANDS;
                let bands = first_band.saturating_sub(reach_bands)
                    ..(first_band + TASK_BANDS + reach_bands).min(binning.bands);
                let mut merge = TaskMerge::new(keys, task * task_rows, binning, bands.clone());
                for slice in 0..DEPTH_SLICES {
                    for band in bands.clone() {
                        let first_bucket = binning.bucket(band, slice);
                        for block in 0..binning.blocks {
                            let bucket = first_bucket + block;
                            let parts = starts.chunks_exact(row).zip(best.chunks_exact(row - 1));
                            for (part_starts, part_best) in parts {
                                let part_discs = &discs[part_starts[bucket] as usize
                                    ..part_starts[bucket + 1] as usize];
                                if part_discs.is_empty()
                                    || merge.bucket_hidden(band, block, part_best[bucket])
                                {
                                    continue;
                                }
                                for disc in part_discs {
                                    merge.disc(disc);
                                }
                            }
                        }
                    }
                }
                merge.merged
            })
            .sum();
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
        let band = BAND_ROWS * width;
        self.texels
            .par_chunks_mut(band * 4)
            .zip(self.keys[..pixels].par_chunks(band))
            .enumerate()
            .for_each(|(band_index, (texels, keys))| {
                for (offset, (&key, texel)) in
                    keys.iter().zip(texels.chunks_exact_mut(4)).enumerate()
                {
                    let key = key_of(key);
                    if key == 0 {
                        continue;
                    }
                    let index = ((key & mask) - 1) as usize;
                    let Some((p, _)) = input.project(index) else {
                        continue;
                    };
                    let pixel = band_index * band + offset;
                    let centre =
                        Vec2::new((pixel % width) as f32 + 0.5, (pixel / width) as f32 + 0.5);
                    let a = opacity * (r - centre.distance(p)).clamp(0.0, 1.0);
                    let [red, green, blue] = input.coloring.rgb(input.points[index].value);
                    for (out, value) in texel.iter_mut().zip([red * a, green * a, blue * a, a]) {
                        *out = f16::from_f32(value);
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// `count` points spread evenly over the square of clip coordinates `[-half_side, half_side]²`
    /// at depths in [0, 1), from a fixed seed (xorshift).
    fn scattered_points(count: usize, half_side: f32) -> Vec<PointInstance> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut coordinate = move || half_side * (2.0 * uniform() - 1.0);
        (0..count)
            .map(|_| PointInstance {
                position: [
                    coordinate(),
                    coordinate(),
                    0.5 + coordinate() / (2.0 * half_side),
                ],
                value: 0.0,
            })
            .collect()
    }

    /// Splats `input` and checks every pixel's key against a plain loop over all points per pixel;
    /// returns the splat, for its counts.
    fn assert_keys_are_the_maximum_over_every_point(input: &CpuSplatInput<'_>) -> CpuSplat {
        let mut splat = CpuSplat::default();
        splat.draw(input);
        let [width, height] = input.size_px.map(|side| side as usize);
        let bits = index_bits(input.points.len() as u32);
        let depth_max = (1u32 << (31 - bits)) - 1;
        let r = reach(input.radius_px);
        for y in 0..height {
            for x in 0..width {
                let centre = Vec2::new(x as f32 + 0.5, y as f32 + 0.5);
                let expected = (0..input.points.len())
                    .filter_map(|i| {
                        let (p, depth) = input.project(i)?;
                        let offset = centre - p;
                        let d2 = offset.x * offset.x + offset.y * offset.y;
                        let near = depth_max - ((depth * depth_max as f32) as u32).min(depth_max);
                        let key = (near << bits) | (i as u32 + 1);
                        let opaque = d2 <= (r - 1.0) * (r - 1.0);
                        (d2 < r * r).then_some(if opaque { key | OPAQUE } else { key })
                    })
                    .max()
                    .unwrap_or(0);
                let got = key_of(splat.keys[y * width + x]);
                assert_eq!(
                    got, expected,
                    "radius {}, pixel ({x}, {y})",
                    input.radius_px
                );
            }
        }
        splat
    }

    /// Every key on a grid of several parallel tasks (discs straddle their edges), for radii
    /// reaching one and two bands.
    #[test]
    fn keys_equal_the_maximum_over_every_point() {
        // Some land off the grid, within a disc's reach of it or beyond.
        let points = scattered_points(400, 1.2);
        for radius_px in [2.5, 7.0, 20.0] {
            assert_keys_are_the_maximum_over_every_point(&CpuSplatInput {
                size_px: [37, 150],
                radius_px,
                ..input(&points)
            });
        }
    }

    /// In a cloud about 100 discs deep most discs are culled, and every key is still the maximum over
    /// every point: the culling skips only discs that could not have raised a key.
    #[test]
    fn hidden_discs_are_culled_without_changing_a_key() {
        let points = scattered_points(6000, 0.8);
        let splat = assert_keys_are_the_maximum_over_every_point(&CpuSplatInput {
            size_px: [40, 70],
            radius_px: 2.5,
            ..input(&points)
        });
        assert_eq!(splat.discs.len(), points.len());
        assert!(
            splat.merged < points.len() / 2,
            "{} of {} discs merged",
            splat.merged,
            points.len()
        );
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
