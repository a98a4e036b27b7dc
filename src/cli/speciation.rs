//! `diffscope speciation`: theory and measured speciation times of a scene, as a summary on stdout and
//! optionally the full result as JSON (snake_case, written atomically, with the inputs that produced it).

use crate::analysis::speciation::Control;
use crate::analysis::speciation::report::{LevelReport, SpeciationReport, SpeciationSettings};
use crate::analysis::view_data::lab;
use crate::io::atomic::write_atomic;
use crate::scene::Scene;
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Debug, Args)]
pub struct SpeciationArgs {
    /// Scene file (JSON) with a Gaussian or Ising mixture; its optional "speciation" block sets clone
    /// times, pairs, labels and groups.
    pub scene: PathBuf,
    /// Write the full result (theory, curves, crossings, diagnostics) to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Pairs per clone time (overrides the scene).
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Random seed (overrides the scene's).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// The JSON document: inputs, then the report.
#[derive(Serialize)]
struct Output<'a> {
    scene: String,
    version: &'static str,
    #[serde(flatten)]
    report: &'a SpeciationReport,
}

/// The lab settings of a scene, with the command-line overrides.
pub fn settings_of(scene: &Scene, args: &SpeciationArgs) -> SpeciationSettings {
    let mut settings = lab::speciation_settings(scene);
    if let Some(seed) = args.seed {
        settings.seed = seed;
    }
    if let Some(pairs) = args.pairs {
        settings.pairs = pairs;
    }
    settings
}

pub fn run(args: &SpeciationArgs) -> anyhow::Result<()> {
    let scene = Scene::load(&args.scene)?;
    let settings = settings_of(&scene, args);
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    let report = lab::run_lab(&scene, &settings, &mut control)
        .with_context(|| format!("speciation of {}", args.scene.display()))?;
    print!("{}", summary(&report));
    if let Some(path) = &args.json {
        write_json(path, &args.scene, &report)?;
    }
    Ok(())
}

fn write_json(path: &Path, scene: &Path, report: &SpeciationReport) -> anyhow::Result<()> {
    let output = Output {
        scene: scene.display().to_string(),
        version: env!("CARGO_PKG_VERSION"),
        report,
    };
    let text = serde_json::to_string_pretty(&output)?;
    write_atomic(path, |w| w.write_all(text.as_bytes()))?;
    Ok(())
}

fn time(t: Option<f64>) -> String {
    t.map_or_else(|| "—".to_string(), |t| format!("{t:.3}"))
}

fn level_summary(level: &LevelReport) -> String {
    let th = &level.theory;
    let me = &level.measured;
    let lo = th.leading_order.as_ref();
    let mut out = format!(
        "level {} ({} groups; midpoint φ = {:.4}{})\n",
        level.name,
        level.groups.len(),
        level.midpoint_level,
        level
            .balance_level
            .map_or(String::new(), |b| format!(", balance φ = {b:.4}"))
    );
    out += &format!(
        "  theory (exact finite d): t_mid {}  t_mid@balance-level {}  t_balance (mean = std) {}  t_BBDM {}\n",
        time(th.t_mid),
        time(th.t_mid_at_balance_level),
        time(th.t_balance),
        time(th.t_bbdm)
    );
    out += &format!(
        "  leading order (approximation): t_balance {}  t_mid {}\n",
        time(lo.and_then(|l| l.t_balance)),
        time(lo.and_then(|l| l.t_mid))
    );
    if let Some(large) = &th.leading_order_large_d {
        out += &format!(
            "  leading order, large d (F² ≈ 2dS): t_balance {}  t_mid {}\n",
            time(large.t_balance),
            time(large.t_mid)
        );
    }
    out += &format!(
        "  measured (cloning): t_mid {} ± {}  t_balance {}\n",
        time(me.t_mid),
        me.t_mid_stderr.map_or("—".into(), |s| format!("{s:.3}")),
        time(me.t_balance)
    );
    out += &format!(
        "  martingale: worst |mean r − w| = {:.2} standard errors; committed trajectories {} of {}\n",
        level.martingale.worst,
        level.commitment.times.len(),
        level.commitment.times.len() + level.commitment.uncommitted
    );
    out
}

/// Below this φ_post(t_min), argmax labels visibly shift the cloning curve.
const OVERLAP_WARNING: f64 = 0.99;

/// The human-readable summary.
pub fn summary(report: &SpeciationReport) -> String {
    let mut out = format!(
        "speciation: {} pairs × {} clone times in [{:.3}, {:.3}], labels {}, seed {}\n",
        report.settings.pairs,
        report.settings.clone_times.len(),
        report.settings.clone_times.first().copied().unwrap_or(0.0),
        report.settings.clone_times.last().copied().unwrap_or(0.0),
        report.settings.labels,
        report.seed
    );
    for level in &report.levels {
        out += &level_summary(level);
        if report.settings.labels == "argmax" && level.theory.phi_post_at_t_min < OVERLAP_WARNING {
            out += &format!(
                "  note: classes overlap at t_min (φ_post = {:.3}); argmax labels push the cloning curve \
                 towards 1 and its crossing later — use \"labels\": \"sampled\" to compare with theory\n",
                level.theory.phi_post_at_t_min
            );
        }
    }
    if report.pairwise.dendrogram.len() > 1 {
        out += "dendrogram (pairwise mean = std times, single linkage):\n";
        for merge in report.pairwise.dendrogram.iter().rev() {
            out += &format!(
                "  {:?} | {:?} split at t = {:.3}\n",
                merge.left, merge.right, merge.time
            );
        }
    }
    out
}
