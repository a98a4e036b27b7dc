//! A stored step of a cloud measured for the metric table, with its holes mapped into the manifold
//! view's coordinates, and the reports of the reference clouds the table sets beside it.

use super::{Cloud, ViewDataError};
use crate::analysis::control::Control;
use crate::analysis::geometry::reference_clouds::Reference;
use crate::analysis::geometry::{MetricParams, MetricReport, measure};
use crate::base::grid::Grid;
use crate::scene::{ModelSpec, Scene};

/// A metric report and, for a sampled cloud, its hole overlay in the manifold view's coordinates.
pub struct Measured {
    pub report: MetricReport,
    pub overlay: Option<HoleOverlay>,
    /// Which stored step was measured.
    pub filter: StepFilter,
}

/// The time filter of a measured cloud: one stored step of the trajectories.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepFilter {
    /// The measured step (0-based) of `steps` stored steps, at time `time` (`None` for an imported file
    /// without times: its steps have none).
    pub step: usize,
    pub steps: usize,
    pub time: Option<f64>,
}

/// Whether the metric table of `scene` measures the step shown rather than the last one: the hidden
/// states of a sequence model change meaning along t (docs/science/metrics.md §3.6: show the DiT as a
/// function of t).
pub fn table_follows_time(scene: &Scene) -> bool {
    matches!(scene.model, ModelSpec::HiddenStates(_))
}

/// H_void regions and unreachable probes on the PCA plane of the measured step, in the coordinates of
/// the view's per-step basis at that step (the metrics' own basis up to axis signs, which are matched).
pub struct HoleOverlay {
    /// The void cells (1) of the H_void raster, `[size, size]`, over `[rect_min, rect_max]`.
    pub voids: Grid,
    pub rect_min: [f32; 2],
    pub rect_max: [f32; 2],
    /// Centres of the H_probe lattice cells farther than τ from every point.
    pub unreachable_probes: Vec<[f32; 2]>,
    /// The probe square (lower corner, upper corner), set by the per-axis `probe_quantiles` of the
    /// points (robust: outlying points lie outside it by design).
    pub probe_square: ([f32; 2], [f32; 2]),
    pub probe_quantiles: [f64; 2],
    /// H_void and the number of probes (G²).
    pub void_count: usize,
    pub probe_count: usize,
}

/// Measures the states of `cloud` at stored step `step` (the last when `None`) and builds their hole
/// overlay.
pub fn measure_step(cloud: &Cloud, step: Option<usize>) -> Result<Measured, ViewDataError> {
    let t = &cloud.trajectories;
    let step = step.unwrap_or(t.stored_steps.saturating_sub(1));
    let points = cloud.cloud_at(step)?;
    let params = MetricParams::default();
    let report = measure(&points, &params)?;
    let overlay = hole_overlay(cloud, step, &report, &params);
    let filter = StepFilter {
        step,
        steps: t.stored_steps,
        time: cloud.time_of(step),
    };
    Ok(Measured {
        report,
        overlay,
        filter,
    })
}

/// The overlay of `report` (measured at stored step `step`) mapped onto the view's projection of
/// that step.
fn hole_overlay(
    cloud: &Cloud,
    step: usize,
    report: &MetricReport,
    params: &MetricParams,
) -> Option<HoleOverlay> {
    let detail = &report.detail;
    // Same data, same PCA: the axes agree up to sign; read each sign off the projected points.
    let mut dots = [0.0f64; 2];
    for (i, plane) in detail.plane.iter().enumerate() {
        let view = cloud.position(false, step, i)?;
        dots[0] += plane[0] * f64::from(view[0]);
        dots[1] += plane[1] * f64::from(view[1]);
    }
    let sign = dots.map(|d| if d < 0.0 { -1.0f64 } else { 1.0 });
    let map = |p: [f64; 2]| [(sign[0] * p[0]) as f32, (sign[1] * p[1]) as f32];

    let raster = detail.voids.raster;
    let size = raster.size;
    let mut values = vec![0f32; size * size];
    for void in &detail.voids.voids {
        for &cell in &void.cells {
            let (x, y) = (cell as usize % size, cell as usize / size);
            // Mirror the texture along a flipped axis.
            let x = if sign[0] < 0.0 { size - 1 - x } else { x };
            let y = if sign[1] < 0.0 { size - 1 - y } else { y };
            if let Some(v) = values.get_mut(y * size + x) {
                *v = 1.0;
            }
        }
    }
    let far = [
        raster.origin[0] + raster.cell * size as f64,
        raster.origin[1] + raster.cell * size as f64,
    ];
    let (a, b) = (map(raster.origin), map(far));
    let probes = &detail.probes;
    let square = probes.square;
    let unreachable_probes = probes
        .unreachable_centres
        .iter()
        .copied()
        .map(map)
        .collect();
    let (s0, s1) = (
        map(square.lo),
        map([square.lo[0] + square.side, square.lo[1] + square.side]),
    );
    Some(HoleOverlay {
        voids: Grid {
            width: size,
            height: size,
            values,
        },
        rect_min: [a[0].min(b[0]), a[1].min(b[1])],
        rect_max: [a[0].max(b[0]), a[1].max(b[1])],
        unreachable_probes,
        probe_square: (
            [s0[0].min(s1[0]), s0[1].min(s1[1])],
            [s0[0].max(s1[0]), s0[1].max(s1[1])],
        ),
        probe_quantiles: params.probe_quantiles,
        void_count: detail.voids.voids.len(),
        probe_count: params.grid * params.grid,
    })
}

/// Points per reference cloud: the size of the default scene's cloud, so columns compare like with like.
pub const REFERENCE_POINTS: usize = 2000;

/// Metric reports of every reference cloud.
pub struct ReferenceReports {
    pub reports: Vec<(&'static str, MetricReport)>,
}

/// Generates and measures every reference cloud (seeded, so the column never changes).
pub fn measure_references(control: &mut Control) -> Result<ReferenceReports, ViewDataError> {
    let mut reports = Vec::with_capacity(Reference::ALL.len());
    for (k, reference) in Reference::ALL.iter().enumerate() {
        control.step(k as f64 / Reference::ALL.len() as f64, reference.name())?;
        let cloud = reference.generate(REFERENCE_POINTS, 0x5EED + k as u64);
        let report = measure(&cloud, &MetricParams::default())?;
        reports.push((reference.name(), report));
    }
    Ok(ReferenceReports { reports })
}
