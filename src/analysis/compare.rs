//! DiT vs Euler-Stack (`spec/metrics.md` §3.6, §4): the geometry metrics of both learned models' hidden
//! states and their Dyck-2 task accuracy, next to the critique paper's reported numbers as a separate
//! column group with its warnings. Reported and measured values are never combined in one ratio.
//! Metrics come from `analysis::geometry`; nothing is re-implemented here.

use crate::analysis::geometry::{GeometryError, MetricParams, MetricReport, measure};
use crate::model::learned::LearnedError;
use crate::model::learned::config::StackKind;
use crate::model::learned::dit::Dit;
use crate::model::learned::dyck;
use crate::model::learned::euler_stack::EulerStack;
use serde_json::{Value, json};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CompareError {
    #[error(transparent)]
    Model(#[from] LearnedError),
    #[error("cannot measure the {model} hidden states: {source}")]
    Geometry {
        model: &'static str,
        source: GeometryError,
    },
    #[error("the DiT time filter [{0}, {1}] keeps no sampling step")]
    EmptyFilter(f32, f32),
    #[error("the hard-stack baseline must be an Euler-Stack trained with a hard stack")]
    NotHardStack,
    #[error("cancelled")]
    Cancelled,
}

pub const REPORTED_CAPTION: &str = "Reported by Li (2025), Flux DiT vs Euler-Stack — definitions and setup not published; values copied";
pub const MEASURED_CAPTION: &str = "Measured: reproduction with tiny models (tiny DiT vs our Euler-Stack instantiation, Dyck-2, CPU; metric definitions from this app)";

pub const HARD_STACK_CAPTION: &str =
    "Euler-Stack with a hard stack (push/pop teacher-forced from the bracket type, spec §3.2)";

/// What to sample and measure.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareOptions {
    /// Strings generated per model for the task accuracy.
    pub task_samples: usize,
    /// DiT sequences whose hidden states form the cloud (× `dit_steps` points).
    pub dit_sequences: usize,
    pub dit_steps: usize,
    /// DiT block captured (0-based); `None` = the last.
    pub dit_block: Option<usize>,
    /// DiT steps kept: rectified-flow time τ in [min, max].
    pub tau_range: (f32, f32),
    /// Euler-Stack sequences (× sequence length points).
    pub euler_stack_sequences: usize,
    pub seed: u64,
    pub metrics: MetricParams,
}

impl Default for CompareOptions {
    fn default() -> Self {
        // N = 2000 per model (spec §1.3): 100 DiT samples × 20 steps, 125 strings × 16 steps.
        Self {
            task_samples: 1000,
            dit_sequences: 100,
            dit_steps: 20,
            dit_block: None,
            tau_range: (0.0, 1.0),
            euler_stack_sequences: 125,
            seed: 0,
            metrics: MetricParams::default(),
        }
    }
}

/// One model's column: metrics of its hidden states plus the task score.
pub struct MeasuredModel {
    pub report: MetricReport,
    /// Fraction of generated strings that are valid Dyck-2.
    pub task_accuracy: f64,
    pub task_samples: usize,
    pub layer: String,
    pub filter: String,
    pub parameters: usize,
}

/// The hard-stack Euler-Stack of spec §3.2 (actions from the bracket type): a sanity baseline for
/// the task score only; its hidden states are not measured.
pub struct Baseline {
    pub task_accuracy: f64,
    pub task_samples: usize,
    pub parameters: usize,
}

pub struct Comparison {
    pub dit: MeasuredModel,
    pub euler_stack: MeasuredModel,
    pub hard_stack: Option<Baseline>,
    /// Validity of uniformly random strings of the same length.
    pub chance: f64,
    pub notes: Vec<String>,
}

/// Samples both models (seeded), measures their hidden states with `options.metrics` and scores them;
/// scores the hard-stack baseline too if given (it must have a hard stack). Reports
/// `progress(fraction, stage)` at each stage and stops with `CompareError::Cancelled` within one
/// sampling step (or one metric computation) of `cancel` being set.
pub fn compare(
    dit: &Dit,
    euler_stack: &EulerStack,
    hard_stack: Option<&EulerStack>,
    options: &CompareOptions,
    progress: &mut dyn FnMut(f32, &str),
    cancel: &AtomicBool,
) -> Result<Comparison, CompareError> {
    let check_cancel = || {
        if cancel.load(Ordering::Relaxed) {
            Err(CompareError::Cancelled)
        } else {
            Ok(())
        }
    };
    if let Some(baseline) = hard_stack
        && baseline.config().stack != StackKind::Hard
    {
        return Err(CompareError::NotHardStack);
    }
    let block = options
        .dit_block
        .unwrap_or(dit.config().blocks.saturating_sub(1));
    let samples = options.task_samples.max(options.dit_sequences);
    progress(0.0, "sampling the DiT");
    let dit_run = dit.sample(
        samples,
        options.dit_steps,
        options.seed,
        Some(block),
        cancel,
    )?;
    let dit_hidden = dit_run
        .hidden
        .ok_or_else(|| LearnedError::Argument("DiT sampling returned no hidden states".into()))?
        .first_sequences(options.dit_sequences);
    let (lo, hi) = options.tau_range;
    let kept = dit_hidden
        .times
        .iter()
        .filter(|&&t| t >= lo && t <= hi)
        .count();
    if kept == 0 {
        return Err(CompareError::EmptyFilter(lo, hi));
    }
    let dit_filter = format!(
        "τ in [{lo}, {hi}]: {kept} of {} Euler steps, {} samples",
        dit_hidden.steps, dit_hidden.sequences
    );
    let dit_cloud = dit_hidden
        .cloud(|t| t >= lo && t <= hi, &dit_filter)
        .map_err(|source| CompareError::Geometry {
            model: "DiT",
            source,
        })?;
    check_cancel()?;
    progress(0.45, "measuring the DiT hidden states");
    let dit_report =
        measure(&dit_cloud, &options.metrics).map_err(|source| CompareError::Geometry {
            model: "DiT",
            source,
        })?;
    let len = dit.config().seq_len;
    let dit_tokens = &dit_run.tokens[..options.task_samples * len];

    let es_samples = options.task_samples.max(options.euler_stack_sequences);
    check_cancel()?;
    progress(0.55, "sampling the Euler-Stack");
    let es_run = euler_stack.sample(es_samples, options.seed, cancel)?;
    let es_hidden = es_run.hidden.first_sequences(options.euler_stack_sequences);
    let es_filter = format!(
        "all {} steps, {} strings",
        es_hidden.steps, es_hidden.sequences
    );
    let es_cloud =
        es_hidden
            .cloud(|_| true, &es_filter)
            .map_err(|source| CompareError::Geometry {
                model: "Euler-Stack",
                source,
            })?;
    check_cancel()?;
    progress(0.8, "measuring the Euler-Stack hidden states");
    let es_report =
        measure(&es_cloud, &options.metrics).map_err(|source| CompareError::Geometry {
            model: "Euler-Stack",
            source,
        })?;
    let es_len = euler_stack.config().seq_len;
    let es_tokens = &es_run.tokens[..options.task_samples * es_len];

    let dit = MeasuredModel {
        report: dit_report,
        task_accuracy: dyck::validity(dit_tokens, len),
        task_samples: options.task_samples,
        layer: dit_hidden.layer,
        filter: dit_filter,
        parameters: dit.params().count(),
    };
    let euler_stack = MeasuredModel {
        report: es_report,
        task_accuracy: dyck::validity(es_tokens, es_len),
        task_samples: options.task_samples,
        layer: es_hidden.layer,
        filter: es_filter,
        parameters: euler_stack.params().count(),
    };
    let hard_stack = match hard_stack {
        Some(model) => {
            let len = model.config().seq_len;
            check_cancel()?;
            progress(0.9, "sampling the hard-stack baseline");
            let run = model.sample(options.task_samples, options.seed, cancel)?;
            Some(Baseline {
                task_accuracy: dyck::validity(&run.tokens, len),
                task_samples: options.task_samples,
                parameters: model.params().count(),
            })
        }
        None => None,
    };
    let mut notes = reported_notes();
    for (name, model) in [("tiny DiT", &dit), ("Euler-Stack", &euler_stack)] {
        notes.extend(measured_notes(name, &model.report));
    }
    notes.push(
        "No ratio combines a reported and a measured value; measured ratios are shown only when both \
         values are measurements (not at the F_spec floor)."
            .into(),
    );
    Ok(Comparison {
        dit,
        euler_stack,
        hard_stack,
        chance: dyck::chance_validity(len),
        notes,
    })
}

/// Warnings of spec §4 about the reported numbers.
fn reported_notes() -> Vec<String> {
    vec![
        format!("{REPORTED_CAPTION}."),
        "Reported flatness ratio 883M×: 0.000883 / 883·10⁶ ≈ 1.0·10⁻¹², the ε floor of a \
         rank-deficient spectrum; the ratio reflects ε, not geometry (moving ε from 10⁻¹² to 10⁻¹⁶ \
         would multiply it by about 10⁴)."
            .into(),
        "Reported 400 unreachable holes = 20×20: a saturated probe count (the cloud occupies none of \
         the probe square), i.e. a collapsed cloud, not 400 holes; topological counts (H_void, β₁) \
         give 0 for such a cloud."
            .into(),
        "Reported intrinsic dimension 60 vs 1: the method is unknown; PCA, TwoNN and MLE can differ \
         by a factor of ~30 on the same cloud."
            .into(),
    ]
}

/// Warnings about one measured column.
fn measured_notes(model: &str, report: &MetricReport) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(r) = report.flatness.rank_deficient {
        notes.push(format!(
            "Measured {model}: F_spec is at the ε floor (rank-deficient, rank {} of {}); shown as \
             '< floor', never in a ratio.",
            r.rank, r.of
        ));
    }
    let h = &report.holes;
    if h.probe == h.probe_of {
        notes.push(format!(
            "Measured {model}: H_probe saturated ({} of {}): empty area of the probe square, not holes.",
            h.probe, h.probe_of
        ));
    }
    notes
}

fn flatness_measurement(report: &MetricReport) -> Option<f64> {
    if report.flatness.rank_deficient.is_some() {
        None
    } else {
        report.flatness.spectral
    }
}

fn flatness_text(report: &MetricReport) -> String {
    match (report.flatness.rank_deficient, report.flatness.spectral) {
        (Some(r), _) => format!("< floor (rank {} of {})", r.rank, r.of),
        (None, Some(v)) => format!("{v:.6}"),
        (None, None) => "undefined".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

fn optional(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "undefined".into(), |v| format!("{v:.digits$}"))
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
                "source": "A Reasoning Critique of Diffusion Models (Li, 2025), DOI 10.57967/hf/7243",
                "flux_dit": {
                    "flatness": {"value": 0.000883, "as_printed": "0.000883"},
                    "density_uniformity": {"value": 0.890, "as_printed": "0.890"},
                    "intrinsic_dimension": {"value": 60, "as_printed": "60"},
                    "unreachable_holes": {"value": 0, "as_printed": "0"},
                },
                "euler_stack": {
                    "flatness": {"value": null, "as_printed": "≈0", "implied_by_ratio": 1.0e-12},
                    "density_uniformity": {"value": 0.255, "as_printed": "0.255"},
                    "intrinsic_dimension": {"value": 1, "as_printed": "1"},
                    "unreachable_holes": {"value": 400, "as_printed": "400"},
                },
                "stated_ratios": {"flatness": "883M×", "density_uniformity": "3.49×"},
                "warnings": {
                    "flatness": "ratio against the ε floor of a rank-deficient spectrum",
                    "unreachable_holes": "400 = 20×20, a saturated probe count",
                },
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, e) = (&self.dit.report, &self.euler_stack.report);
        writeln!(f, "[A] {REPORTED_CAPTION}")?;
        writeln!(f, "[B] {MEASURED_CAPTION}")?;
        for m in [&self.dit, &self.euler_stack] {
            writeln!(
                f,
                "    {} ({} parameters): {}; N = {}, D = {}",
                m.layer, m.parameters, m.filter, m.report.n, m.report.dim
            )?;
        }
        writeln!(
            f,
            "    metrics: G = {}, P = {}, ε = {:e}",
            d.params.grid, d.params.raster, d.params.spectral_floor
        )?;
        writeln!(f)?;
        let header = |f: &mut fmt::Formatter<'_>| {
            writeln!(
                f,
                "{:<30} | {:>10} {:>11} {:>9} | {:>24} {:>24} {:>8}",
                "metric",
                "[A] Flux",
                "[A] E-Stack",
                "[A] ratio",
                "[B] tiny DiT",
                "[B] Euler-Stack",
                "[B] ratio"
            )
        };
        header(f)?;
        writeln!(f, "{}", "-".repeat(126))?;
        let row =
            |f: &mut fmt::Formatter<'_>, name: &str, reported: [&str; 3], measured: [String; 3]| {
                writeln!(
                    f,
                    "{name:<30} | {:>10} {:>11} {:>9} | {:>24} {:>24} {:>8}",
                    reported[0], reported[1], reported[2], measured[0], measured[1], measured[2]
                )
            };
        row(
            f,
            "flatness F_spec",
            ["0.000883", "≈0", "883M× ⚠"],
            [
                flatness_text(d),
                flatness_text(e),
                ratio(flatness_measurement(d), flatness_measurement(e)),
            ],
        )?;
        row(
            f,
            "density uniformity U_ent",
            ["0.890", "0.255", "3.49×"],
            [
                format!("{:.3}", d.density.entropy_uniformity),
                format!("{:.3}", e.density.entropy_uniformity),
                ratio(
                    Some(d.density.entropy_uniformity),
                    Some(e.density.entropy_uniformity),
                ),
            ],
        )?;
        row(
            f,
            "intrinsic dim PCA95",
            ["60", "1", ""],
            [
                d.intrinsic_dim.pca95.to_string(),
                e.intrinsic_dim.pca95.to_string(),
                "–".into(),
            ],
        )?;
        row(
            f,
            "intrinsic dim TwoNN",
            ["", "", ""],
            [
                optional(d.intrinsic_dim.twonn, 2),
                optional(e.intrinsic_dim.twonn, 2),
                "–".into(),
            ],
        )?;
        row(
            f,
            "intrinsic dim MLE (k = 20)",
            ["", "", ""],
            [
                optional(d.intrinsic_dim.mle, 2),
                optional(e.intrinsic_dim.mle, 2),
                "–".into(),
            ],
        )?;
        row(
            f,
            "participation ratio",
            ["", "", ""],
            [
                optional(d.intrinsic_dim.participation_ratio, 2),
                optional(e.intrinsic_dim.participation_ratio, 2),
                "–".into(),
            ],
        )?;
        row(
            f,
            "unreachable probes H_probe",
            ["0", "400 ⚠", ""],
            [
                format!("{} of {}", d.holes.probe, d.holes.probe_of),
                format!("{} of {}", e.holes.probe, e.holes.probe_of),
                "–".into(),
            ],
        )?;
        row(
            f,
            "persistent voids H_void",
            ["", "", ""],
            [
                d.holes.void.to_string(),
                e.holes.void.to_string(),
                "–".into(),
            ],
        )?;
        row(
            f,
            "local curvature K_loc",
            ["", "", ""],
            [
                format!("{:.4}", d.flatness.local_curvature),
                format!("{:.4}", e.flatness.local_curvature),
                "–".into(),
            ],
        )?;
        row(
            f,
            "task: valid Dyck-2 strings",
            ["", "", ""],
            [
                format!("{:.3} of {}", self.dit.task_accuracy, self.dit.task_samples),
                format!(
                    "{:.3} of {}",
                    self.euler_stack.task_accuracy, self.euler_stack.task_samples
                ),
                "–".into(),
            ],
        )?;
        writeln!(
            f,
            "chance validity (uniform random strings): {:.2e}",
            self.chance
        )?;
        if let Some(b) = &self.hard_stack {
            writeln!(
                f,
                "sanity baseline, {HARD_STACK_CAPTION} ({} parameters): {:.3} of {} valid \
                 (soft-stack Euler-Stack {:.3})",
                b.parameters, b.task_accuracy, b.task_samples, self.euler_stack.task_accuracy
            )?;
        }
        writeln!(f)?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}
