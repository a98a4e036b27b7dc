//! Every tunable constant of the geometry metrics, with `Default` = the defaults table of
//! `docs/science/metrics.md` §2.6 (the single source of truth). Reports carry the params that produced them.

use super::GeometryError;
use serde::Serialize;

/// Parameters of [`super::measure`]; `Default` is docs/science/metrics.md §2.6.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricParams {
    /// G: occupancy grid and probe lattice size (U_ent, H_probe, H_encl).
    pub grid: usize,
    /// P: raster size of the distance field (H_void).
    pub raster: usize,
    /// Padding of the H_void raster around the square box, as a fraction of its side.
    pub raster_padding: f64,
    /// ε: spectral floor relative to λ₁ (F_spec).
    pub spectral_floor: f64,
    /// Fraction of the largest μ = r₂/r₁ discarded by TwoNN.
    pub twonn_discard: f64,
    /// k of the Levina–Bickel MLE.
    pub k_mle: usize,
    /// k of the 2-D k-NN density (U_knn).
    pub k_density: usize,
    /// k of the local PCA (K_loc), the point itself included.
    pub k_local: usize,
    /// Per-axis quantiles that set the robust probe square (H_probe).
    pub probe_quantiles: [f64; 2],
    /// Quantile of the 2-D 1-NN distances giving the reachability radius τ (H_probe).
    pub reach_quantile: f64,
    /// Minimum void persistence, as a fraction of the square box diagonal (H_void).
    pub void_persistence: f64,
    /// Minimum size in cells of an enclosed empty component (H_encl).
    pub enclosed_min_cells: usize,
    /// Boundary band of a void, in raster cells (wall ratio W).
    pub wall_band_cells: f64,
}

impl Default for MetricParams {
    fn default() -> Self {
        Self {
            grid: 20,
            raster: 128,
            raster_padding: 0.05,
            spectral_floor: 1e-12,
            twonn_discard: 0.10,
            k_mle: 20,
            k_density: 10,
            k_local: 20,
            probe_quantiles: [0.05, 0.95],
            reach_quantile: 0.99,
            void_persistence: 0.05,
            enclosed_min_cells: 1,
            wall_band_cells: 2.0,
        }
    }
}

impl MetricParams {
    /// Range-checks every field; the first bad one is named.
    pub fn validate(&self) -> Result<(), GeometryError> {
        let bad = |name, value: f64, expected| {
            Err(GeometryError::Parameter {
                name,
                value,
                expected,
            })
        };
        let fraction = |v: f64| v.is_finite() && (0.0..1.0).contains(&v);
        if !(1..=4096).contains(&self.grid) {
            return bad("grid", self.grid as f64, "1 to 4096");
        }
        if !(4..=8192).contains(&self.raster) {
            return bad("raster", self.raster as f64, "4 to 8192");
        }
        if !(fraction(self.raster_padding) && self.raster_padding > 0.0) {
            return bad("raster_padding", self.raster_padding, "in (0, 1)");
        }
        if !(fraction(self.spectral_floor) && self.spectral_floor > 0.0) {
            return bad("spectral_floor", self.spectral_floor, "in (0, 1)");
        }
        if !fraction(self.twonn_discard) {
            return bad("twonn_discard", self.twonn_discard, "in [0, 1)");
        }
        if !(2..=1000).contains(&self.k_mle) {
            return bad("k_mle", self.k_mle as f64, "2 to 1000");
        }
        if !(1..=1000).contains(&self.k_density) {
            return bad("k_density", self.k_density as f64, "1 to 1000");
        }
        if !(2..=1000).contains(&self.k_local) {
            return bad("k_local", self.k_local as f64, "2 to 1000");
        }
        let [lo, hi] = self.probe_quantiles;
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi && hi <= 1.0) {
            return bad("probe_quantiles", lo, "0 <= low < high <= 1");
        }
        if !(self.reach_quantile.is_finite() && (0.0..=1.0).contains(&self.reach_quantile)) {
            return bad("reach_quantile", self.reach_quantile, "in [0, 1]");
        }
        if !(self.void_persistence.is_finite() && self.void_persistence >= 0.0) {
            return bad("void_persistence", self.void_persistence, ">= 0");
        }
        if !(self.wall_band_cells.is_finite() && self.wall_band_cells >= 0.0) {
            return bad("wall_band_cells", self.wall_band_cells, ">= 0");
        }
        Ok(())
    }

    /// The largest full-D neighbour count any measurement needs (self excluded).
    pub fn knn_needed(&self) -> usize {
        self.k_mle.max(self.k_local - 1).max(2)
    }
}
