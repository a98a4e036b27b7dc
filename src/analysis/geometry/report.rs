//! The metric table of one cloud: runs every measurement of docs/science/metrics.md §2 with one [`MetricParams`] and
//! gathers the numbers (serialised with the CLI's JSON keys) and the drawable detail (plane
//! projection, void regions, per-point curvature) that the views use. Printing is `Display`.

use super::GeometryError;
use super::PointCloud;
use super::density::{entropy_uniformity, knn_uniformity};
use super::flatness::{self, RankDeficiency};
use super::holes::{self, Bar, ProbeCount, VoidAnalysis};
use super::intrinsic_dim::{self, NeighbourEstimate};
use super::knn::exact_knn;
use super::params::MetricParams;
use super::pca::{PcaBasis, PcaRoute};
use super::plane::{PlaneIndex, SquareBox, as_points};
use super::wall;
use serde::Serialize;
use std::fmt;

/// Components kept in the basis: 2 for the plane, 3 for the 3-D view.
const KEPT_COMPONENTS: usize = 3;

#[derive(Clone, Debug, Serialize)]
pub struct PcaSummary {
    pub route: PcaRoute,
    /// λ_i / Σλ for i = 1..m, m = min(N−1, D).
    pub explained_variance_ratio: Vec<f64>,
    pub eigenvalues: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IntrinsicDimension {
    pub pca90: usize,
    pub pca95: usize,
    pub participation_ratio: Option<f64>,
    pub twonn: Option<f64>,
    pub mle: Option<f64>,
    /// Points with a duplicate (r₁ = 0), left out of TwoNN and MLE.
    pub duplicates_dropped: usize,
    /// How neighbours were found.
    pub knn: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Flatness {
    /// F_spec; when `rank_deficient` is set this is the ε floor, not a measurement.
    pub spectral: Option<f64>,
    pub rank_deficient: Option<RankDeficiency>,
    /// K_loc = mean local-PCA residual.
    pub local_curvature: f64,
    /// d used by K_loc: round(TwoNN) clamped to [1, D−1].
    pub tangent_dimension: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Density {
    pub entropy_uniformity: f64,
    pub knn_uniformity: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Holes {
    /// Unreachable probes (of `probe_of`): empty area of a robust square, not holes.
    pub probe: usize,
    pub probe_of: usize,
    pub probe_tau: f64,
    /// Persistent voids above `void_threshold`.
    pub void: usize,
    pub void_threshold: f64,
    /// Enclosed empty grid components (debug layer).
    pub enclosed: usize,
    /// Every positive-persistence H1 bar of the raster filtration, most persistent first.
    pub void_diagram: Vec<Bar>,
}

/// What the views draw; not part of the JSON.
#[derive(Clone, Debug)]
pub struct GeometryDetail {
    pub basis: PcaBasis,
    /// The cloud on PC1–PC2.
    pub plane: Vec<[f64; 2]>,
    /// The anchored square of U_ent / H_encl.
    pub square: SquareBox,
    pub probes: ProbeCount,
    pub voids: VoidAnalysis,
    /// ρ_i of K_loc per point.
    pub local_residuals: Vec<f64>,
    /// Indices of the points on void boundaries (wall ratio).
    pub boundary: Vec<usize>,
}

/// All geometry metrics of one cloud, with N, D, the methods and the parameters.
#[derive(Clone, Debug, Serialize)]
pub struct MetricReport {
    pub version: &'static str,
    pub source: String,
    pub n: usize,
    pub dim: usize,
    pub pca: PcaSummary,
    pub intrinsic_dim: IntrinsicDimension,
    pub flatness: Flatness,
    pub density: Density,
    pub holes: Holes,
    /// Boundary curvature ratio W (proxy; not Ricci curvature).
    pub wall_ratio: Option<f64>,
    pub params: MetricParams,
    #[serde(skip)]
    pub detail: GeometryDetail,
}

/// Runs every measurement of docs/science/metrics.md §2 on `cloud`.
pub fn measure(cloud: &PointCloud, params: &MetricParams) -> Result<MetricReport, GeometryError> {
    params.validate()?;
    let (n, dim) = (cloud.n(), cloud.dim());
    let needed = params.knn_needed().max(params.k_density) + 1;
    if n < needed {
        return Err(GeometryError::TooFewPoints {
            what: "the metric table (largest k + 1)",
            needed,
            n,
        });
    }
    let basis = PcaBasis::fit(cloud.data(), n, dim, KEPT_COMPONENTS)?;
    let projected = basis.project(cloud.data(), 2);
    let plane: Vec<[f64; 2]> = if basis.kept() >= 2 {
        as_points(&projected)
    } else {
        projected.iter().map(|&x| [x, 0.0]).collect()
    };

    let neighbours = exact_knn(cloud, params.knn_needed())?;
    let two_nn: NeighbourEstimate = intrinsic_dim::twonn(&neighbours, params.twonn_discard);
    let mle = intrinsic_dim::mle(&neighbours, params.k_mle);
    let spectral = flatness::spectral_flatness(&basis.eigenvalues, params.spectral_floor);
    let tangent = flatness::tangent_dimension(two_nn.dimension, dim);
    let residuals = flatness::local_residuals(cloud, &neighbours, params.k_local, tangent);
    let local_curvature = residuals.iter().sum::<f64>() / n as f64;

    let square = SquareBox::anchored(&plane);
    let index = PlaneIndex::new(&plane);
    let probes = holes::unreachable_probes(
        &plane,
        &index,
        params.grid,
        params.probe_quantiles,
        params.reach_quantile,
    );
    let voids = holes::persistent_voids(
        &index,
        &square,
        params.raster,
        params.raster_padding,
        params.void_persistence,
    );
    let enclosed =
        holes::enclosed_empty_components(&plane, &square, params.grid, params.enclosed_min_cells);
    let boundary = wall::boundary_points(&plane, &voids, params.wall_band_cells);

    Ok(MetricReport {
        version: env!("CARGO_PKG_VERSION"),
        source: cloud.source.clone(),
        n,
        dim,
        pca: PcaSummary {
            route: basis.route,
            explained_variance_ratio: basis.explained_variance_ratio(),
            eigenvalues: basis.eigenvalues.clone(),
        },
        intrinsic_dim: IntrinsicDimension {
            pca90: intrinsic_dim::pca_count(&basis.eigenvalues, 0.90),
            pca95: intrinsic_dim::pca_count(&basis.eigenvalues, 0.95),
            participation_ratio: intrinsic_dim::participation_ratio(&basis.eigenvalues),
            twonn: two_nn.dimension,
            mle: mle.dimension,
            duplicates_dropped: two_nn.duplicates_dropped,
            knn: "exact brute force, full dimension",
        },
        flatness: Flatness {
            spectral: spectral.value,
            rank_deficient: spectral.rank_deficient,
            local_curvature,
            tangent_dimension: tangent,
        },
        density: Density {
            entropy_uniformity: entropy_uniformity(&plane, &square, params.grid),
            knn_uniformity: knn_uniformity(&index, &plane, params.k_density),
        },
        holes: Holes {
            probe: probes.unreachable,
            probe_of: probes.of,
            probe_tau: probes.tau,
            void: voids.voids.len(),
            void_threshold: voids.threshold,
            enclosed,
            void_diagram: voids.diagram.clone(),
        },
        wall_ratio: wall::wall_ratio(&residuals, &boundary),
        params: params.clone(),
        detail: GeometryDetail {
            basis,
            plane,
            square,
            probes,
            voids,
            local_residuals: residuals,
            boundary,
        },
    })
}

fn optional(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "undefined".to_string(), |v| format!("{v:.digits$}"))
}

impl fmt::Display for MetricReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        let id = &self.intrinsic_dim;
        let ratio = &self.pca.explained_variance_ratio;
        let top: Vec<String> = ratio.iter().take(3).map(|r| format!("{r:.3}")).collect();
        writeln!(f, "{}  (N = {}, D = {})", self.source, self.n, self.dim)?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, value: String, how: String| {
            writeln!(f, "  {name:<34} {value:>22}  {how}")
        };
        row(
            f,
            "PCA explained variance (PC1..3)",
            top.join(" "),
            format!("{:?} route, m = {}", self.pca.route, ratio.len()),
        )?;
        row(
            f,
            "intrinsic dim PCA95 (headline)",
            id.pca95.to_string(),
            "components for 95% variance".into(),
        )?;
        row(
            f,
            "intrinsic dim PCA90",
            id.pca90.to_string(),
            "components for 90% variance".into(),
        )?;
        row(
            f,
            "participation ratio",
            optional(id.participation_ratio, 2),
            "(Σλ)²/Σλ²".into(),
        )?;
        row(
            f,
            "intrinsic dim TwoNN",
            optional(id.twonn, 2),
            format!("discard {}, {}", p.twonn_discard, id.knn),
        )?;
        row(
            f,
            "intrinsic dim MLE",
            optional(id.mle, 2),
            format!("k = {}, MacKay-Ghahramani", p.k_mle),
        )?;
        if id.duplicates_dropped > 0 {
            row(
                f,
                "duplicates dropped (r1 = 0)",
                id.duplicates_dropped.to_string(),
                "left out of TwoNN/MLE".into(),
            )?;
        }
        let spectral = match (self.flatness.rank_deficient, self.flatness.spectral) {
            (Some(r), _) => format!("< floor (rank {} of {})", r.rank, r.of),
            (None, Some(v)) if v < 1e-3 => format!("{v:.3e}"),
            (None, v) => optional(v, 6),
        };
        row(
            f,
            "spectral flatness F_spec",
            spectral,
            format!("eps = {:e}; no ratios at the floor", p.spectral_floor),
        )?;
        row(
            f,
            "local curvature K_loc",
            format!("{:.4}", self.flatness.local_curvature),
            format!("k = {}, d = {}", p.k_local, self.flatness.tangent_dimension),
        )?;
        row(
            f,
            "density uniformity U_ent",
            format!("{:.3}", self.density.entropy_uniformity),
            format!("G = {}, square box at the minimum", p.grid),
        )?;
        row(
            f,
            "density uniformity U_knn",
            optional(self.density.knn_uniformity, 3),
            format!("k = {}", p.k_density),
        )?;
        let h = &self.holes;
        row(
            f,
            "unreachable probes H_probe",
            format!("{} of {}", h.probe, h.probe_of),
            format!(
                "tau = {:.4} ({}-quantile 1-NN); empty area, not holes",
                h.probe_tau, p.reach_quantile
            ),
        )?;
        row(
            f,
            "persistent voids H_void",
            h.void.to_string(),
            format!(
                "P = {}, persistence > {:.4} ({} x diagonal)",
                p.raster, h.void_threshold, p.void_persistence
            ),
        )?;
        row(
            f,
            "enclosed empty cells H_encl (debug)",
            h.enclosed.to_string(),
            format!("G = {}, min {} cells", p.grid, p.enclosed_min_cells),
        )?;
        row(
            f,
            "boundary curvature ratio W",
            optional(self.wall_ratio, 3),
            "proxy; not Ricci curvature".into(),
        )
    }
}
