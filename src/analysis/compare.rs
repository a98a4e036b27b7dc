//! DiT vs Euler-Stack (`docs/science/metrics.md`): the geometry metrics of both learned models' hidden
//! states and their Dyck-2 task accuracy. Only measurements: the table that sets them beside the
//! critique paper's reported numbers, and its text and JSON, are `view_data::metric_table`'s.
//! Metrics come from `analysis::geometry`; nothing is re-implemented here.

use crate::analysis::geometry::{GeometryError, MetricParams, MetricReport, measure};
use crate::model::learned::LearnedError;
use crate::model::learned::config::StackKind;
use crate::model::learned::dit::Dit;
use crate::model::learned::dyck;
use crate::model::learned::euler_stack::EulerStack;
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

pub const HARD_STACK_CAPTION: &str = "Euler-Stack with a hard stack (push/pop teacher-forced from the bracket type, docs/science/metrics.md §3.2)";

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
        // N = 2000 per model (docs/science/metrics.md §1.3): 100 DiT samples × 20 steps, 125 strings × 16 steps.
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

/// The hard-stack Euler-Stack of docs/science/metrics.md §3.2 (actions from the bracket type): a sanity baseline for
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
        .map_err(|e| CompareError::Geometry {
            model: "DiT",
            source: e.into(),
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
    let es_cloud = es_hidden
        .cloud(|_| true, &es_filter)
        .map_err(|e| CompareError::Geometry {
            model: "Euler-Stack",
            source: e.into(),
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
    let mut notes = Vec::new();
    for (name, model) in [("tiny DiT", &dit), ("Euler-Stack", &euler_stack)] {
        notes.extend(measured_notes(name, &model.report));
    }
    Ok(Comparison {
        dit,
        euler_stack,
        hard_stack,
        chance: dyck::chance_validity(len),
        notes,
    })
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
