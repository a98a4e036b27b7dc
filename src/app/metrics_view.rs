//! The metric table: three column groups that are never mixed in one ratio — the numbers reported by the
//! critique paper (`spec/metrics.md` §1.2, with the §4 warnings), the numbers measured on the current
//! cloud, and the reference clouds. Formatting only; the reports come from the worker.

use super::tasks::ReferenceReports;
use crate::analysis::geometry::MetricReport;
use egui::{RichText, Ui};

/// One table row: a metric under one definition.
struct Row {
    name: &'static str,
    /// Values reported by the paper (Flux DiT, Euler-Stack, stated ratio), on the row they claim.
    reported: Option<[&'static str; 3]>,
    /// Index into [`WARNINGS`].
    warning: Option<usize>,
    value: fn(&MetricReport) -> String,
}

/// The §4 warnings, shown under the table and referenced by row.
const WARNINGS: [&str; 4] = [
    "Intrinsic dimension depends on the estimator: PCA, TwoNN and MLE can differ ~30× on one cloud. \
     The reported \"1\" matches a PCA count on a collapsed cloud, not TwoNN.",
    "Flatness \"≈0\" is a numerical floor (≈1e-12 = 0.000883 / 883M): for a rank-deficient spectrum the \
     ratio reflects ε, not geometry, so a rank is shown instead.",
    "Density uniformity depends on G, the box rule and the projection; a straight 1-D cloud cannot exceed \
     0.5 at G = 20, so a low value mostly says \"collapsed to few cells\".",
    "400 = 20² is saturation of the probe count: the cloud occupies almost none of the square (collapse), \
     and a line or clusters has 0 topological holes (H_void).",
];

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.digits$}"))
}

fn flatness(r: &MetricReport) -> String {
    match (&r.flatness.rank_deficient, r.flatness.spectral) {
        (Some(rank), _) => format!("rank-deficient ({} of {})", rank.rank, rank.of),
        (None, Some(f)) if f < 1e-3 => format!("{f:.2e}"),
        (None, Some(f)) => format!("{f:.4}"),
        (None, None) => "no variance".into(),
    }
}

const ROWS: [Row; 9] = [
    Row {
        name: "Intrinsic dimension: PCA 90 %",
        reported: Some(["60", "1", "–"]),
        warning: Some(0),
        value: |r| r.intrinsic_dim.pca90.to_string(),
    },
    Row {
        name: "Intrinsic dimension: TwoNN",
        reported: None,
        warning: Some(0),
        value: |r| opt(r.intrinsic_dim.twonn, 1),
    },
    Row {
        name: "Intrinsic dimension: MLE (k = 20)",
        reported: None,
        warning: Some(0),
        value: |r| opt(r.intrinsic_dim.mle, 1),
    },
    Row {
        name: "Flatness F_spec",
        reported: Some(["0.000883", "≈0", "883M×"]),
        warning: Some(1),
        value: flatness,
    },
    Row {
        name: "Local curvature K_loc",
        reported: None,
        warning: None,
        value: |r| format!("{:.3}", r.flatness.local_curvature),
    },
    Row {
        name: "Density uniformity U_ent (G = 20)",
        reported: Some(["0.890", "0.255", "3.49×"]),
        warning: Some(2),
        value: |r| format!("{:.3}", r.density.entropy_uniformity),
    },
    Row {
        name: "Unreachable probes H_probe",
        reported: Some(["0", "400", "–"]),
        warning: Some(3),
        value: |r| format!("{} of {}", r.holes.probe, r.holes.probe_of),
    },
    Row {
        name: "Persistent voids H_void",
        reported: None,
        warning: Some(3),
        value: |r| r.holes.void.to_string(),
    },
    Row {
        name: "Wall ratio W (bounded proxy)",
        reported: None,
        warning: None,
        value: |r| opt(r.wall_ratio, 2),
    },
];

pub fn ui(
    ui: &mut Ui,
    measured: Option<&MetricReport>,
    references: Option<&ReferenceReports>,
    running: bool,
) {
    ui.label(
        "Three column groups from different data and definitions. Ratios are never taken across groups; \
         the paper's own ratio stays in its group.",
    );
    egui::ScrollArea::both().show(ui, |ui| {
        egui::Grid::new("metric table")
            .striped(true)
            .spacing([14.0, 4.0])
            .show(ui, |ui| {
                ui.label("");
                ui.label(RichText::new("Reported by the critique (Flux DiT | Euler-Stack | stated ratio)").strong());
                ui.label("");
                ui.label("");
                ui.label(RichText::new("Measured").strong());
                ui.label(RichText::new("Reference clouds (n = 2000, embedded in 64 dimensions)").strong());
                ui.end_row();
                ui.label(RichText::new("metric").italics());
                ui.label(RichText::new("Flux DiT").italics());
                ui.label(RichText::new("Euler-Stack").italics());
                ui.label(RichText::new("ratio").italics());
                ui.label(
                    RichText::new(measured.map_or("current cloud".into(), |r| format!("{} (n = {}, d = {})", short(&r.source), r.n, r.dim)))
                        .italics(),
                );
                for (name, _) in references.map(|r| r.reports.as_slice()).unwrap_or_default() {
                    ui.label(RichText::new(*name).italics());
                }
                ui.end_row();
                for row in &ROWS {
                    let mark = row.warning.map_or(String::new(), |w| format!("  [{}]", w + 1));
                    ui.label(format!("{}{mark}", row.name));
                    for v in row.reported.unwrap_or(["", "", ""]) {
                        ui.label(v);
                    }
                    ui.label(RichText::new(measured.map_or_else(
                        || if running { "…".into() } else { "—".into() },
                        |r| (row.value)(r),
                    )).strong());
                    for (_, report) in references.map(|r| r.reports.as_slice()).unwrap_or_default() {
                        ui.label((row.value)(report));
                    }
                    ui.end_row();
                }
            });
        ui.add_space(6.0);
        for (index, warning) in WARNINGS.iter().enumerate() {
            ui.small(format!("[{}] {warning}", index + 1));
        }
        ui.small(
            "Measured: the sampled states at t_min (or the loaded cloud), metric definitions of spec/metrics.md §2 \
             with the §2.6 defaults. The paper's numbers come from undisclosed definitions, layer and N.",
        );
    });
}

/// The last path component of a source name, so file paths do not widen the table.
fn short(source: &str) -> &str {
    source.rsplit(['/', '\\']).next().unwrap_or(source)
}
