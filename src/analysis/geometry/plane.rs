//! The 2-D PCA plane shared by the density and hole measures: the square box anchored at the
//! per-axis minimum (docs/science/metrics.md §2.3, pitfalls P1/P2), quantiles, and kd-tree neighbour queries.

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use std::num::NonZero;

/// A square `[lo, lo + side]²` in plane coordinates.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SquareBox {
    pub lo: [f64; 2],
    pub side: f64,
}

impl SquareBox {
    /// Side = the larger of the two axis ranges, anchored at the per-axis minimum.
    pub fn anchored(points: &[[f64; 2]]) -> Self {
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for p in points {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        if points.is_empty() {
            return Self {
                lo: [0.0; 2],
                side: 0.0,
            };
        }
        Self {
            lo,
            side: (hi[0] - lo[0]).max(hi[1] - lo[1]),
        }
    }

    /// Cell of `p` on a G×G grid over the box: floor((y − lo)/side·G) clamped to [0, G−1].
    pub fn cell(&self, p: [f64; 2], grid: usize) -> (usize, usize) {
        let index = |a: usize| {
            if self.side > 0.0 {
                let t = ((p[a] - self.lo[a]) / self.side * grid as f64).floor();
                t.clamp(0.0, (grid - 1) as f64) as usize
            } else {
                0
            }
        };
        (index(0), index(1))
    }

    pub fn diagonal(&self) -> f64 {
        self.side * std::f64::consts::SQRT_2
    }
}

/// Pairs `[n, 2]` row-major into points.
pub fn as_points(plane: &[f64]) -> Vec<[f64; 2]> {
    plane.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// Linear-interpolation quantile (numpy's default) of unsorted values; 0 for an empty slice.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let t = position - below as f64;
    sorted[below] + t * (sorted[above] - sorted[below])
}

/// A kd-tree over plane points answering Euclidean (not squared) distances.
pub struct PlaneIndex {
    tree: ImmutableKdTree<f64, 2>,
    len: usize,
}

impl PlaneIndex {
    pub fn new(points: &[[f64; 2]]) -> Self {
        Self {
            tree: ImmutableKdTree::new_from_slice(points),
            len: points.len(),
        }
    }

    /// Distance from `q` to the nearest indexed point (∞ for an empty index).
    pub fn nearest_distance(&self, q: [f64; 2]) -> f64 {
        if self.len == 0 {
            return f64::INFINITY;
        }
        self.tree
            .nearest_one::<SquaredEuclidean>(&q)
            .distance
            .sqrt()
    }

    /// For every indexed point, the distance to its k-th nearest *other* point (duplicates count);
    /// ∞ when the index has no k other points.
    pub fn kth_neighbour_distances(&self, points: &[[f64; 2]], k: usize) -> Vec<f64> {
        use rayon::prelude::*;
        let Some(want) = NonZero::new(k + 1).filter(|w| w.get() <= self.len) else {
            return vec![f64::INFINITY; points.len()];
        };
        points
            .par_iter()
            .map(|p| {
                // The query point itself is at distance 0, the minimum, so the (k+1)-th smallest
                // distance is the k-th among the others, whatever order ties come back in.
                self.tree
                    .nearest_n::<SquaredEuclidean>(p, want)
                    .iter()
                    .map(|nn| nn.distance)
                    .fold(0.0, f64::max)
                    .sqrt()
            })
            .collect()
    }
}
