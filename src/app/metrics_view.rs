//! The metric table: three column groups that are never mixed in one ratio — the numbers reported by the
//! critique paper (`spec/metrics.md` §1.2, with the §4 warnings), the numbers measured here (current
//! cloud, our small DiT and Euler-Stack), and the reference clouds. Built as a `figure::Table` (pure,
//! [`table`]) that the screen and the exports share; the reports come from the worker.

use super::tasks::{ReferenceReports, StepFilter};
use crate::analysis::compare::{Comparison, MeasuredModel};
use crate::analysis::geometry::MetricReport;
use crate::figure::{ColumnGroup, Row as TableRow, Table, group_letter};
use egui::{RichText, Ui};

/// One table row: a metric under one definition.
struct Row {
    name: &'static str,
    /// Values reported by the paper (Flux DiT, Euler-Stack, the paper's own stated ratio), on the row
    /// they claim. The only ratio in the table, and it stays in the paper's group.
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

/// Caption of the reported group (index [`REPORTED`]).
pub const REPORTED_CAPTION: &str =
    "Reported by the critique paper (Flux DiT / Euler-Stack, their models)";
pub const MEASURED_CAPTION: &str =
    "Measured here (spec/metrics.md §2 definitions, §2.6 defaults; no ratios)";
pub const REFERENCE_CAPTION: &str = "Reference clouds (n = 2000, embedded in 64 dimensions)";

/// Group indices of the table.
pub const REPORTED: usize = 0;
pub const MEASURED: usize = 1;
pub const REFERENCES: usize = 2;

/// What the table shows besides finished reports: which measurements are still running.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pending {
    pub current: bool,
    pub models: bool,
}

/// The time filter of the current cloud's column, for its header ("step 7 of 20, t = 0.40") and the
/// caption; `None` for a loaded cloud (a single step).
pub fn step_label(filter: &StepFilter) -> Option<String> {
    (filter.steps > 1).then(|| {
        format!(
            "step {} of {}, t = {:.3}",
            filter.step + 1,
            filter.steps,
            filter.time
        )
    })
}

/// The metric table of the current cloud's report (measured at the stored step `filter`; the step
/// shown when `follows_time`, else the last), the DiT / Euler-Stack comparison and the reference
/// reports. Each cell is formatted from exactly one report; no cell combines two sources.
pub fn table(
    current: Option<(&MetricReport, StepFilter)>,
    follows_time: bool,
    models: Option<&Comparison>,
    references: Option<&ReferenceReports>,
    pending: Pending,
) -> Table {
    let missing = |running: bool| if running { "…" } else { "—" }.to_string();
    let step = current.and_then(|(_, filter)| step_label(&filter));
    // The step's time is in the caption and N, D in the notes: a narrow header keeps the measured
    // group beside the reported one at common window widths.
    let current_header = match current {
        Some((_, filter)) if filter.steps > 1 => {
            format!(
                "current cloud, step {} of {}",
                filter.step + 1,
                filter.steps
            )
        }
        _ => "current cloud".into(),
    };
    let filter_note = match current {
        Some((_, filter)) if filter.steps <= 1 => "the loaded points".to_string(),
        Some(_) if follows_time => format!(
            "t-filter: the states at the time step shown ({}); re-measured when the time step \
             changes (no pooling over steps)",
            step.clone().unwrap_or_default()
        ),
        Some(_) => format!(
            "t-filter: the sampled states at the last stored step ({})",
            step.clone().unwrap_or_default()
        ),
        None => "the sampled states of one stored step (not yet measured)".to_string(),
    };
    let current = current.map(|(report, _)| report);
    let model_header = |name: &str, m: Option<&MeasuredModel>| {
        m.map_or(format!("{name} (small, ours)"), |m| {
            format!("{name} (small, ours), N = {}", m.report.n)
        })
    };
    let reference_reports = references.map(|r| r.reports.as_slice()).unwrap_or_default();
    let groups = vec![
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
            columns: vec![
                current_header,
                model_header("DiT", models.map(|m| &m.dit)),
                model_header("Euler-Stack", models.map(|m| &m.euler_stack)),
            ],
        },
        ColumnGroup {
            caption: REFERENCE_CAPTION.into(),
            columns: reference_reports
                .iter()
                .map(|(name, _)| name.to_string())
                .collect(),
        },
    ];
    let mut rows: Vec<TableRow> = ROWS
        .iter()
        .map(|row| TableRow {
            name: row.name.into(),
            warning: row.warning,
            cells: vec![
                row.reported
                    .unwrap_or(["", "", ""])
                    .map(String::from)
                    .to_vec(),
                vec![
                    current.map_or_else(|| missing(pending.current), row.value),
                    models.map_or_else(|| missing(pending.models), |m| (row.value)(&m.dit.report)),
                    models.map_or_else(
                        || missing(pending.models),
                        |m| (row.value)(&m.euler_stack.report),
                    ),
                ],
                reference_reports
                    .iter()
                    .map(|(_, r)| (row.value)(r))
                    .collect(),
            ],
        })
        .collect();
    let task = |m: &MeasuredModel| format!("{:.3} of {}", m.task_accuracy, m.task_samples);
    rows.push(TableRow {
        name: "Task: valid Dyck-2 strings".into(),
        warning: None,
        cells: vec![
            vec![String::new(); 3],
            vec![
                NOT_APPLICABLE.into(),
                models.map_or_else(|| missing(pending.models), |m| task(&m.dit)),
                models.map_or_else(|| missing(pending.models), |m| task(&m.euler_stack)),
            ],
            vec![NOT_APPLICABLE.into(); reference_reports.len()],
        ],
    });
    let mut notes = vec![format!(
        "Current cloud{}: {filter_note}.",
        current.map_or(String::new(), |r| format!(
            " ({}, N = {}, D = {})",
            short(&r.source),
            r.n,
            r.dim
        ))
    )];
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
        }
        None => notes.push(
            "DiT / Euler-Stack: our small models trained on Dyck-2 (assets/models/), not the paper's; \
             measured on request."
                .into(),
        ),
    }
    notes.push(
        "The paper's numbers come from undisclosed definitions, layer and N. No ratio is taken across \
         column groups; the only ratio shown is the paper's own, in its group."
            .into(),
    );
    Table {
        caption: match &step {
            Some(step) => format!(
                "Metric table: reported, measured and reference values, kept apart; current cloud \
                 at {step}"
            ),
            None => "Metric table: reported, measured and reference values, kept apart".into(),
        },
        row_header: "metric".into(),
        groups,
        rows,
        warnings: WARNINGS.iter().map(|w| w.to_string()).collect(),
        notes,
    }
}

/// What the user asked of the table this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    pub measure_models: bool,
}

/// Draws `table` in a scroll area (both directions: the reference group is wide).
/// The measure button shows until the models are measured or being measured.
pub fn ui(ui: &mut Ui, table: &Table, show_measure_button: bool) -> Actions {
    let mut actions = Actions::default();
    // The caption names the time step the current column measures.
    ui.label(RichText::new(&table.caption).strong());
    ui.horizontal_wrapped(|ui| {
        ui.label(
            "Three column groups from different data and definitions. Ratios are never taken across \
             groups; the paper's own ratio stays in its group.",
        );
        if show_measure_button {
            actions.measure_models = ui.button("Measure DiT and Euler-Stack (≈ 5 s)").clicked();
        }
    });
    // egui's grid has no column spans: groups are captioned above their grid and lettered in its
    // headers. The reported and measured groups share one grid when it fits (read side by side), and
    // the reference clouds follow in grids as wide as the view, so the measured column is on screen
    // in the side panel as in a wide window, and the groups stay visibly apart.
    egui::ScrollArea::both().show(ui, |ui| {
        let width = ui.available_width();
        let whole = |g: usize| {
            (
                g,
                0..table.groups.get(g).map_or(0, |group| group.columns.len()),
            )
        };
        let side_by_side = [whole(REPORTED), whole(MEASURED)];
        if grid_width(ui, table, &side_by_side) <= width {
            grid(ui, table, "metric table", &side_by_side);
        } else {
            for part in side_by_side {
                grid(ui, table, &format!("metric table {}", part.0), &[part]);
                ui.add_space(8.0);
            }
        }
        let (_, references) = whole(REFERENCES);
        let mut start = 0;
        while start < references.end {
            let mut end = (start + MIN_REFERENCE_COLUMNS).min(references.end);
            while end < references.end
                && grid_width(ui, table, &[(REFERENCES, start..end + 1)]) <= width
            {
                end += 1;
            }
            ui.add_space(8.0);
            grid(
                ui,
                table,
                &format!("reference table {start}"),
                &[(REFERENCES, start..end)],
            );
            start = end;
        }
        ui.add_space(6.0);
        for (index, warning) in table.warnings.iter().enumerate() {
            ui.small(format!("[{}] {warning}", index + 1));
        }
        for note in &table.notes {
            ui.small(note);
        }
    });
    actions
}

/// The cell of a metric that does not apply to a column's data (the task score of a point cloud).
const NOT_APPLICABLE: &str = "n/a";

/// Reference clouds per grid at least, however narrow the view (it scrolls sideways then).
const MIN_REFERENCE_COLUMNS: usize = 3;

/// Horizontal space between grid columns.
const COLUMN_SPACING: f32 = 14.0;

/// The width `grid` needs for `parts`: the widest text of each column plus the spacing.
fn grid_width(ui: &Ui, table: &Table, parts: &[(usize, std::ops::Range<usize>)]) -> f32 {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let text_width = |text: String| {
        ui.painter()
            .layout_no_wrap(text, font.clone(), egui::Color32::WHITE)
            .size()
            .x
    };
    let lettered = parts.len() > 1;
    let names = std::iter::once(table.row_header.clone())
        .chain(table.rows.iter().map(|row| table.row_label(row)));
    let mut width = names.map(text_width).fold(0.0, f32::max);
    for (g, columns) in parts {
        for c in columns.clone() {
            let header = header_text(table, *g, c, lettered);
            let cells = table.rows.iter().map(|row| table.cell(row, *g, c));
            width += COLUMN_SPACING
                + std::iter::once(header)
                    .chain(cells)
                    .map(text_width)
                    .fold(0.0, f32::max);
        }
    }
    width
}

/// A column's header, with its group's letter where a grid mixes groups.
fn header_text(table: &Table, g: usize, c: usize, lettered: bool) -> String {
    let column = table.groups[g].columns.get(c).cloned().unwrap_or_default();
    if lettered {
        format!("[{}] {column}", group_letter(g))
    } else {
        column
    }
}

/// One grid: the row names and the given columns of each group, under the groups' captions (the first
/// grid of a group only). Headers carry the group's letter where a grid mixes groups.
fn grid(ui: &mut Ui, table: &Table, id: &str, parts: &[(usize, std::ops::Range<usize>)]) {
    for (g, columns) in parts {
        if columns.start == 0 {
            let caption = &table.groups[*g].caption;
            ui.label(RichText::new(format!("[{}] {caption}", group_letter(*g))).strong());
        }
    }
    ui.add_space(4.0);
    let lettered = parts.len() > 1;
    egui::Grid::new(id)
        .striped(true)
        .spacing([COLUMN_SPACING, 4.0])
        .show(ui, |ui| {
            ui.label(RichText::new(&table.row_header).italics());
            for (g, columns) in parts {
                for c in columns.clone() {
                    ui.label(RichText::new(header_text(table, *g, c, lettered)).italics());
                }
            }
            ui.end_row();
            // A row with nothing to say here (the task row among reference clouds) is left out.
            let applies = |row: &TableRow| {
                parts.iter().any(|(g, columns)| {
                    columns
                        .clone()
                        .any(|c| table.cell(row, *g, c) != NOT_APPLICABLE)
                })
            };
            for row in table.rows.iter().filter(|row| applies(row)) {
                ui.label(table.row_label(row));
                for (g, columns) in parts {
                    for c in columns.clone() {
                        let text = RichText::new(table.cell(row, *g, c));
                        ui.label(if *g == MEASURED { text.strong() } else { text });
                    }
                }
                ui.end_row();
            }
        });
}

/// The last path component of a source name, so file paths do not widen the table.
fn short(source: &str) -> &str {
    source.rsplit(['/', '\\']).next().unwrap_or(source)
}
