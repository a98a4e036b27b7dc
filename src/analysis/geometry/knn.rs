//! Exact k-nearest neighbours in full dimension (docs/science/metrics.md §2.0 item 4): candidates from blocked f32 GEMM
//! (‖a‖² + ‖b‖² − 2a·b), then exact f64 distances of the kept candidates. A rigorous rounding bound
//! decides per row whether the candidates provably contain the true k nearest; rows where it cannot
//! (near-ties closer than f32 can resolve, e.g. duplicates) are redone by an exact f64 scan.

use super::GeometryError;
use super::PointCloud;
use rayon::prelude::*;

/// Queries per task; a task multiplies its queries against candidate blocks of `CANDIDATE_BLOCK`.
const QUERY_BLOCK: usize = 128;
/// 128 × 2048 f32 dot products = 1 MiB, scanned right after the GEMM writes it.
const CANDIDATE_BLOCK: usize = 2048;
/// Extra approximate candidates kept per row, so the proof below rarely fails.
const EXTRA_CANDIDATES: usize = 8;

/// The k nearest other points of every point, sorted by (exact distance, index).
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbours {
    pub k: usize,
    /// `[n, k]` neighbour indices (never the point itself; duplicates of it are other points).
    pub indices: Vec<u32>,
    /// `[n, k]` Euclidean distances, nondecreasing along each row.
    pub distances: Vec<f64>,
}

impl Neighbours {
    pub fn n(&self) -> usize {
        self.indices.len() / self.k.max(1)
    }

    pub fn row_indices(&self, i: usize) -> &[u32] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    pub fn row_distances(&self, i: usize) -> &[f64] {
        &self.distances[i * self.k..(i + 1) * self.k]
    }
}

/// Squared distance evaluated in one fixed order, so equal inputs give bit-equal results everywhere.
#[inline]
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The exact `k` nearest neighbours of every point (ties broken by the lower index).
pub fn exact_knn(cloud: &PointCloud, k: usize) -> Result<Neighbours, GeometryError> {
    let n = cloud.n();
    if k == 0 || n < k + 1 {
        return Err(GeometryError::TooFewPoints {
            what: "k-nearest neighbours",
            needed: k.max(1) + 1,
            n,
        });
    }
    let dim = cloud.dim();
    let (points32, norms32, max_norm) = centred_f32(cloud);
    let keep = (k + EXTRA_CANDIDATES).min(n - 1);
    // Rounding bound (in squared-distance units) for a = fl(‖q‖² + ‖c‖² − 2 q̃·c̃) against the exact
    // e = ‖q − c‖² of the centred f64 points, with u = 2⁻²⁴:
    //   · the f32 dot product of D terms, any summation order or FMA use: ≤ γ_D Σ|q̃ᵢc̃ᵢ|
    //     ≤ γ_D (‖q‖² + ‖c‖²)/2, times 2 for −2q·c;
    //   · rounding the inputs to f32 (|q̃ᵢ − qᵢ| ≤ u|qᵢ|) changes 2q·c by ≤ 2.1u (‖q‖² + ‖c‖²);
    //   · rounding the norms to f32 and the two additions: ≤ u(‖q‖²+‖c‖²) + 2u(‖q‖²+‖c‖²+2|q·c|).
    // Together |a − e| ≤ (γ_D + 8u)(‖q‖² + ‖c‖²) ≤ (D + 9)u(‖q‖² + max‖c‖²) =: δ_q; we double it.
    // The doubling also covers the f64 side: centring (each coordinate rounded once) and the f64
    // evaluation of the re-ranking distances move e by O(D·2⁻⁵³)(‖q‖² + ‖c‖²), ~10⁹ times less.
    // If A_k is the k-th smallest approximate value, every true k-nearest (and every tie at the
    // k-th distance) has a ≤ e + δ ≤ A_k + 2δ. So when the worst kept candidate has a > A_k + 2δ,
    // the kept set contains them all and the exact f64 re-ranking is the exact answer.
    let unit = f32::EPSILON as f64 / 2.0;
    let slack = 2.0 * (dim as f64 + 9.0) * unit;
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0.0f64; n * k];
    indices
        .par_chunks_mut(QUERY_BLOCK * k)
        .zip(distances.par_chunks_mut(QUERY_BLOCK * k))
        .enumerate()
        .for_each(|(block, (idx_out, dist_out))| {
            let first = block * QUERY_BLOCK;
            let rows = idx_out.len() / k;
            let mut candidates = vec![Candidates::new(keep); rows];
            let mut dots = vec![0.0f32; rows * CANDIDATE_BLOCK];
            let queries = &points32[first * dim..(first + rows) * dim];
            for start in (0..n).step_by(CANDIDATE_BLOCK) {
                let cols = CANDIDATE_BLOCK.min(n - start);
                let targets = &points32[start * dim..(start + cols) * dim];
                dot_products(queries, targets, rows, cols, dim, &mut dots[..rows * cols]);
                for (r, found) in candidates.iter_mut().enumerate() {
                    let q = first + r;
                    let nq = norms32[q];
                    let row = &dots[r * cols..(r + 1) * cols];
                    for (c, (&dot, &nc)) in
                        row.iter().zip(&norms32[start..start + cols]).enumerate()
                    {
                        let approx = nq + nc - 2.0 * dot;
                        if approx < found.worst() && start + c != q {
                            found.insert(approx, (start + c) as u32);
                        }
                    }
                }
            }
            let mut exact: Vec<(f64, u32)> = Vec::with_capacity(keep.max(n));
            for (r, found) in candidates.iter().enumerate() {
                let q = first + r;
                let delta = slack * (norms32[q] as f64 + max_norm);
                // An unfilled buffer means f32 overflowed (values near 1e19 or more): scan exactly.
                let filled = found.approx[keep - 1].is_finite();
                let proven = filled
                    && (keep == n - 1
                        || found.approx[keep - 1] as f64
                            > found.approx[k - 1] as f64 + 2.0 * delta);
                exact.clear();
                let query = cloud.row(q);
                if proven {
                    exact.extend(
                        found
                            .index
                            .iter()
                            .map(|&c| (squared_distance(query, cloud.row(c as usize)), c)),
                    );
                } else {
                    exact.extend(
                        (0..n)
                            .filter(|&c| c != q)
                            .map(|c| (squared_distance(query, cloud.row(c)), c as u32)),
                    );
                }
                exact.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (j, &(d2, c)) in exact.iter().take(k).enumerate() {
                    idx_out[r * k + j] = c;
                    dist_out[r * k + j] = d2.sqrt();
                }
            }
        });
    Ok(Neighbours {
        k,
        indices,
        distances,
    })
}

/// The cloud centred in f64 (smaller norms, tighter bound) and rounded to f32, its squared norms in
/// f32, and the largest squared norm.
fn centred_f32(cloud: &PointCloud) -> (Vec<f32>, Vec<f32>, f64) {
    let (n, dim) = (cloud.n(), cloud.dim());
    let mut mean = vec![0.0f64; dim];
    for i in 0..n {
        mean.iter_mut().zip(cloud.row(i)).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut points = Vec::with_capacity(n * dim);
    let mut norms = Vec::with_capacity(n);
    let mut max_norm = 0.0f64;
    for i in 0..n {
        let mut norm = 0.0f64;
        for (v, m) in cloud.row(i).iter().zip(&mean) {
            let c = v - m;
            norm += c * c;
            points.push(c as f32);
        }
        max_norm = max_norm.max(norm);
        norms.push(norm as f32);
    }
    (points, norms, max_norm)
}

/// `out[r, c] = q_r · t_c` for `queries` = `[rows, dim]`, `targets` = `[cols, dim]`, `out` = `[rows, cols]`.
fn dot_products(
    queries: &[f32],
    targets: &[f32],
    rows: usize,
    cols: usize,
    dim: usize,
    out: &mut [f32],
) {
    debug_assert_eq!(queries.len(), rows * dim);
    debug_assert_eq!(targets.len(), cols * dim);
    debug_assert_eq!(out.len(), rows * cols);
    // SAFETY: lhs = queries ([rows, dim] row-major: column stride 1, row stride dim), rhs = targetsᵀ
    // ([dim, cols]: column stride dim, row stride 1), out ([rows, cols] row-major); all in bounds
    // for these strides as the asserted lengths show.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            dim,
            out.as_mut_ptr(),
            1,
            cols as isize,
            false,
            queries.as_ptr(),
            1,
            dim as isize,
            targets.as_ptr(),
            dim as isize,
            1,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The `capacity` smallest approximate values seen, sorted ascending (small insertion buffer).
#[derive(Clone)]
struct Candidates {
    approx: Vec<f32>,
    index: Vec<u32>,
}

impl Candidates {
    fn new(capacity: usize) -> Self {
        Self {
            approx: vec![f32::INFINITY; capacity],
            index: vec![u32::MAX; capacity],
        }
    }

    #[inline]
    fn worst(&self) -> f32 {
        self.approx[self.approx.len() - 1]
    }

    #[inline]
    fn insert(&mut self, value: f32, index: u32) {
        let mut slot = self.approx.len() - 1;
        while slot > 0 && self.approx[slot - 1] > value {
            self.approx[slot] = self.approx[slot - 1];
            self.index[slot] = self.index[slot - 1];
            slot -= 1;
        }
        self.approx[slot] = value;
        self.index[slot] = index;
    }
}
