//! The DiT-vs-Euler-Stack metric table (`docs/science/metrics.md`): three column groups that are never
//! mixed in one ratio — the numbers reported by the critique paper (with its warnings), the numbers
//! measured here (the current cloud, our small DiT and Euler-Stack), and the reference clouds. One
//! `figure::Table` model for every front: the app draws it, exports write it, `diffscope compare`
//! prints it. The paper's numbers live here and nowhere else.

use super::StepFilter;
use super::measured::ReferenceReports;
use crate::analysis::compare::{Comparison, HARD_STACK_CAPTION, MeasuredModel};
use crate::analysis::geometry::MetricReport;
use crate::figure::text::table_plain;
use crate::figure::{ColumnGroup, Row as TableRow, Table};
use serde_json::{Value, json};
use std::fmt;

/// Where the reported numbers come from.
pub const PAPER_SOURCE: &str =
    "A Reasoning Critique of Diffusion Models (Li, 2025), DOI 10.57967/hf/7243";

/// One metric as the paper printed it: Flux DiT, Euler-Stack and the paper's own stated ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported {
    pub flux_dit: &'static str,
    pub euler_stack: &'static str,
    pub stated_ratio: &'static str,
}

impl Reported {
    fn cells(self) -> Vec<String> {
        [self.flux_dit, self.euler_stack, self.stated_ratio]
            .map(String::from)
            .to_vec()
    }
}

/// The paper's intrinsic dimension (method unpublished; it matches a PCA 95 % count on a collapsed
/// cloud, so it sits on the PCA95 headline row).
pub const PAPER_INTRINSIC_DIM: Reported = Reported {
    flux_dit: "60",
    euler_stack: "1",
    stated_ratio: "–",
};
pub const PAPER_FLATNESS: Reported = Reported {
    flux_dit: "0.000883",
    euler_stack: "≈0",
    stated_ratio: "883M×",
};
pub const PAPER_DENSITY: Reported = Reported {
    flux_dit: "0.890",
    euler_stack: "0.255",
    stated_ratio: "3.49×",
};
pub const PAPER_HOLES: Reported = Reported {
    flux_dit: "0",
    euler_stack: "400",
    stated_ratio: "–",
};

/// One table row: a metric under one definition.
struct Row {
    name: &'static str,
    /// The paper's values, on the row they claim. The only ratio in the table, in the paper's group.
    reported: Option<Reported>,
    /// Index into [`WARNINGS`].
    warning: Option<usize>,
    value: fn(&MetricReport) -> String,
}

/// The warnings about the reported numbers, shown under the table and referenced by row.
pub const WARNINGS: [&str; 4] = [
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

const ROWS: [Row; 11] = [
    Row {
        name: "Dimension, PCA 95 % (headline)",
        reported: Some(PAPER_INTRINSIC_DIM),
        warning: Some(0),
        value: |r| r.intrinsic_dim.pca95.to_string(),
    },
    Row {
        name: "Dimension, PCA 90 %",
        reported: None,
        warning: Some(0),
        value: |r| r.intrinsic_dim.pca90.to_string(),
    },
    Row {
        name: "Dimension, participation ratio",
        reported: None,
        warning: Some(0),
        value: |r| opt(r.intrinsic_dim.participation_ratio, 1),
    },
    Row {
        name: "Dimension, TwoNN",
        reported: None,
        warning: Some(0),
        value: |r| opt(r.intrinsic_dim.twonn, 1),
    },
    Row {
        name: "Dimension, MLE (k = 20)",
        reported: None,
        warning: Some(0),
        value: |r| opt(r.intrinsic_dim.mle, 1),
    },
    Row {
        name: "Flatness F_spec",
        reported: Some(PAPER_FLATNESS),
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
        reported: Some(PAPER_DENSITY),
        warning: Some(2),
        value: |r| format!("{:.3}", r.density.entropy_uniformity),
    },
    Row {
        name: "Unreachable probes H_probe",
        reported: Some(PAPER_HOLES),
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

pub const REPORTED_CAPTION: &str = "Reported by the critique paper (Flux DiT / Euler-Stack, their \
     models; definitions and setup not published, values copied)";
pub const MEASURED_CAPTION: &str =
    "Measured here (definitions of docs/science/metrics.md, default parameters; no ratios)";
pub const REFERENCE_CAPTION: &str = "Reference clouds (n = 2000, embedded in 64 dimensions)";

/// Group indices of the table.
pub const REPORTED: usize = 0;
pub const MEASURED: usize = 1;
pub const REFERENCES: usize = 2;

/// The cell of a metric that does not apply to a column's data (the task score of a point cloud).
pub const NOT_APPLICABLE: &str = "n/a";

/// Which measurements are still running (their cells show "…" rather than "—").
#[derive(Clone, Copy, Debug, Default)]
pub struct Pending {
    pub current: bool,
    pub models: bool,
}

/// The current cloud's column.
#[derive(Clone, Copy, Debug)]
pub enum Current<'a> {
    /// No such column (`diffscope compare` measures only the two models).
    Absent,
    /// Not measured yet.
    Waiting,
    /// Measured at the stored step `filter`: the step shown when `follows_time`, else the last.
    Measured {
        report: &'a MetricReport,
        filter: StepFilter,
        follows_time: bool,
    },
}

/// The time filter of the current cloud's column, for its header ("step 7 of 20, t = 0.40"; the step
/// alone when the file gave no times) and the caption; `None` for a loaded cloud (a single step).
pub fn step_label(filter: &StepFilter) -> Option<String> {
    (filter.steps > 1).then(|| {
        let step = format!("step {} of {}", filter.step + 1, filter.steps);
        match filter.time {
            Some(t) => format!("{step}, t = {t:.3}"),
            None => step,
        }
    })
}

/// The metric table: the paper's group, the measured group (the current cloud unless
/// [`Current::Absent`], the DiT and the Euler-Stack) and the reference group (when `references` is
/// given or the current column is present). Each cell is formatted from exactly one report; no cell
/// combines two sources.
pub fn table(
    current: Current,
    models: Option<&Comparison>,
    references: Option<&ReferenceReports>,
    pending: Pending,
) -> Table {
    let missing = |running: bool| if running { "…" } else { "—" }.to_string();
    let (report, step, header, filter_note) = match current {
        Current::Absent => (None, None, None, None),
        Current::Waiting => (
            None,
            None,
            Some("current cloud".to_string()),
            Some("the sampled states of one stored step (not yet measured)".to_string()),
        ),
        Current::Measured {
            report,
            filter,
            follows_time,
        } => {
            let step = step_label(&filter);
            // The step's time is in the caption and N, D in the notes: a narrow header keeps the
            // measured group beside the reported one at common window widths.
            let header = if filter.steps > 1 {
                format!(
                    "current cloud, step {} of {}",
                    filter.step + 1,
                    filter.steps
                )
            } else {
                "current cloud".into()
            };
            let note = match &step {
                None => "the loaded points".to_string(),
                Some(step) if follows_time => format!(
                    "t-filter: the states at the time step shown ({step}); re-measured when the time \
                     step changes (no pooling over steps)"
                ),
                Some(step) => {
                    format!("t-filter: the sampled states at the last stored step ({step})")
                }
            };
            (Some(report), step, Some(header), Some(note))
        }
    };
    let with_current = header.is_some();
    let model_header = |name: &str, m: Option<&MeasuredModel>| {
        m.map_or(format!("{name} (small, ours)"), |m| {
            format!("{name} (small, ours), N = {}", m.report.n)
        })
    };
    let reference_reports = references.map(|r| r.reports.as_slice()).unwrap_or_default();
    let mut groups = vec![
        ColumnGroup {
            caption: REPORTED_CAPTION.into(),
            columns: vec![
                "Flux DiT".into(),
                "Euler-Stack".into(),
                "stated ratio".into(),
            ],
        },
        ColumnGroup {
            caption: MEASURED_CAPTION.into(),
            columns: header
                .into_iter()
                .chain([
                    model_header("DiT", models.map(|m| &m.dit)),
                    model_header("Euler-Stack", models.map(|m| &m.euler_stack)),
                ])
                .collect(),
        },
    ];
    let show_references = with_current || references.is_some();
    if show_references {
        groups.push(ColumnGroup {
            caption: REFERENCE_CAPTION.into(),
            columns: reference_reports
                .iter()
                .map(|(name, _)| name.to_string())
                .collect(),
        });
    }
    let measured_cells = |value: &dyn Fn(&MetricReport) -> String, current_cell: String| {
        let model = |pick: fn(&Comparison) -> &MeasuredModel| {
            models.map_or_else(|| missing(pending.models), |m| value(&pick(m).report))
        };
        let mut cells: Vec<String> = with_current.then_some(current_cell).into_iter().collect();
        cells.push(model(|m| &m.dit));
        cells.push(model(|m| &m.euler_stack));
        cells
    };
    let mut rows: Vec<TableRow> = ROWS
        .iter()
        .map(|row| {
            let current_cell = report.map_or_else(|| missing(pending.current), row.value);
            let mut cells = vec![
                row.reported.map_or(vec![String::new(); 3], Reported::cells),
                measured_cells(&row.value, current_cell),
            ];
            if show_references {
                cells.push(
                    reference_reports
                        .iter()
                        .map(|(_, r)| (row.value)(r))
                        .collect(),
                );
            }
            TableRow {
                name: row.name.into(),
                warning: row.warning,
                cells,
            }
        })
        .collect();
    let task = |m: &MeasuredModel| format!("{:.3} of {}", m.task_accuracy, m.task_samples);
    let task_cell = |pick: fn(&Comparison) -> &MeasuredModel| {
        models.map_or_else(|| missing(pending.models), |m| task(pick(m)))
    };
    let mut task_cells = vec![
        vec![String::new(); 3],
        with_current
            .then(|| NOT_APPLICABLE.to_string())
            .into_iter()
            .chain([task_cell(|m| &m.dit), task_cell(|m| &m.euler_stack)])
            .collect(),
    ];
    if show_references {
        task_cells.push(vec![NOT_APPLICABLE.into(); reference_reports.len()]);
    }
    rows.push(TableRow {
        name: "Task: valid Dyck-2 strings".into(),
        warning: None,
        cells: task_cells,
    });
    let mut notes: Vec<String> = filter_note
        .map(|note| {
            format!(
                "Current cloud{}: {note}.",
                report.map_or(String::new(), |r| format!(
                    " ({}, N = {}, D = {})",
                    short(&r.source),
                    r.n,
                    r.dim
                ))
            )
        })
        .into_iter()
        .collect();
    match models {
        Some(m) => {
            for (name, model) in [("DiT", &m.dit), ("Euler-Stack", &m.euler_stack)] {
                notes.push(format!(
                    "{name}: {} ({} parameters); {}; N = {}, D = {}.",
                    model.layer, model.parameters, model.filter, model.report.n, model.report.dim
                ));
            }
            notes.push(format!(
                "Chance validity of uniformly random strings: {:.2e}.",
                m.chance
            ));
            notes.extend(m.notes.iter().cloned());
        }
        None => notes.push(
            "DiT / Euler-Stack: our small models trained on Dyck-2 (assets/models/), not the paper's; \
             measured on request."
                .into(),
        ),
    }
    notes.push(format!(
        "Reported: {PAPER_SOURCE}. The paper's numbers come from undisclosed definitions, layer and N. \
         No ratio is taken across column groups; the only ratio shown is the paper's own, in its group."
    ));
    let title = if show_references {
        "Metric table: reported, measured and reference values, kept apart"
    } else {
        "Metric table: reported and measured values, kept apart"
    };
    Table {
        caption: match &step {
            Some(step) => format!("{title}; current cloud at {step}"),
            None => title.into(),
        },
        row_header: "metric".into(),
        groups,
        rows,
        warnings: WARNINGS.iter().map(|w| w.to_string()).collect(),
        notes,
    }
}

impl Comparison {
    /// The JSON of `diffscope compare --json`: `reported`, `measured.dit`, `measured.euler_stack`, `notes`.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        let measured = |m: &MeasuredModel| -> Result<Value, serde_json::Error> {
            let mut value = serde_json::to_value(&m.report)?;
            if let Value::Object(map) = &mut value {
                map.insert("task_accuracy".into(), json!(m.task_accuracy));
                map.insert("task_samples".into(), json!(m.task_samples));
                map.insert("layer".into(), json!(m.layer));
                map.insert("filter".into(), json!(m.filter));
                map.insert("parameters".into(), json!(m.parameters));
            }
            Ok(value)
        };
        Ok(json!({
            "reported": {
                "caption": REPORTED_CAPTION,
                "source": PAPER_SOURCE,
                "flux_dit": {
                    "flatness": as_printed(PAPER_FLATNESS.flux_dit),
                    "density_uniformity": as_printed(PAPER_DENSITY.flux_dit),
                    "intrinsic_dimension": as_printed(PAPER_INTRINSIC_DIM.flux_dit),
                    "unreachable_holes": as_printed(PAPER_HOLES.flux_dit),
                },
                "euler_stack": {
                    "flatness": {
                        "value": null,
                        "as_printed": PAPER_FLATNESS.euler_stack,
                        "implied_by_ratio": 1.0e-12,
                    },
                    "density_uniformity": as_printed(PAPER_DENSITY.euler_stack),
                    "intrinsic_dimension": as_printed(PAPER_INTRINSIC_DIM.euler_stack),
                    "unreachable_holes": as_printed(PAPER_HOLES.euler_stack),
                },
                "stated_ratios": {
                    "flatness": PAPER_FLATNESS.stated_ratio,
                    "density_uniformity": PAPER_DENSITY.stated_ratio,
                },
                "warnings": WARNINGS,
            },
            "measured": {
                "caption": MEASURED_CAPTION,
                "dit": measured(&self.dit)?,
                "euler_stack": measured(&self.euler_stack)?,
                "chance_validity": self.chance,
                "hard_stack_baseline": self.hard_stack.as_ref().map(|b| json!({
                    "description": HARD_STACK_CAPTION,
                    "task_accuracy": b.task_accuracy,
                    "task_samples": b.task_samples,
                    "parameters": b.parameters,
                })),
            },
            "notes": self.notes,
        }))
    }
}

impl fmt::Display for Comparison {
    /// The metric table without the current-cloud and reference columns, then the task baselines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = table(Current::Absent, Some(self), None, Pending::default());
        let p = &self.dit.report.params;
        writeln!(
            f,
            "metrics: G = {}, P = {}, ε = {:e}\n",
            p.grid, p.raster, p.spectral_floor
        )?;
        write!(f, "{}", table_plain(&table))?;
        if let Some(b) = &self.hard_stack {
            writeln!(
                f,
                "sanity baseline, {HARD_STACK_CAPTION} ({} parameters): {:.3} of {} valid \
                 (soft-stack Euler-Stack {:.3})",
                b.parameters, b.task_accuracy, b.task_samples, self.euler_stack.task_accuracy
            )?;
        }
        Ok(())
    }
}

/// A reported number in JSON: its value when it is one, and the text as printed.
fn as_printed(text: &str) -> Value {
    json!({"value": text.parse::<f64>().ok(), "as_printed": text})
}

/// The last path component of a source name, so file paths do not widen the table.
fn short(source: &str) -> &str {
    source.rsplit(['/', '\\']).next().unwrap_or(source)
}
