//! `diffscope speciation`: theory and measured speciation times of a scene, as a summary on stdout and
//! optionally the full result as JSON (snake_case, written atomically, with the inputs that produced it).
//! A token scene (mask or flip noise) gets the discrete lab (`analysis::view_data::discrete_lab`).

use crate::analysis::speciation::Control;
use crate::analysis::speciation::commitment::median;
use crate::analysis::speciation::report::{LevelReport, SpeciationReport, SpeciationSettings};
use crate::analysis::view_data::discrete_lab::{self, DiscreteLabReport};
use crate::analysis::view_data::lab;
use crate::io::atomic::write_atomic;
use crate::scene::{Scene, SceneFile, TokenScene};
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Debug, Args)]
pub struct SpeciationArgs {
    /// Scene file (JSON) with a Gaussian or Ising mixture; its optional "speciation" block sets clone
    /// times, pairs, labels and groups. A token scene (mask or flip noise) prints the exact φ_post
    /// crossing and the cloning crossing of its sampler.
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
struct Output<'a, R: Serialize> {
    scene: String,
    version: &'static str,
    #[serde(flatten)]
    report: &'a R,
}

/// The lab settings of a scene, with the command-line overrides.
pub fn settings_of(scene: &Scene, args: &SpeciationArgs) -> SpeciationSettings {
    with_overrides(lab::speciation_settings(scene), args)
}

fn with_overrides(mut settings: SpeciationSettings, args: &SpeciationArgs) -> SpeciationSettings {
    if let Some(seed) = args.seed {
        settings.seed = seed;
    }
    if let Some(pairs) = args.pairs {
        settings.pairs = pairs;
    }
    settings
}

pub fn run(args: &SpeciationArgs) -> anyhow::Result<()> {
    let scene = match SceneFile::load(&args.scene)? {
        SceneFile::Diffusion(scene) => scene,
        SceneFile::Tokens(scene) => return run_tokens(args, &scene),
    };
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

/// The discrete lab of a token scene.
fn run_tokens(args: &SpeciationArgs, scene: &TokenScene) -> anyhow::Result<()> {
    let settings = with_overrides(discrete_lab::discrete_lab_settings(scene), args);
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    let report = discrete_lab::run_discrete_lab(scene, &settings, &mut control)
        .with_context(|| format!("speciation of {}", args.scene.display()))?;
    print!("{}", discrete_summary(&report));
    if let Some(path) = &args.json {
        write_json(path, &args.scene, &report)?;
    }
    Ok(())
}

/// The human-readable summary of a token scene, one line per quantity as for Gaussian noise.
pub fn discrete_summary(report: &DiscreteLabReport) -> String {
    let line =
        |name: &str, value: String, what: &str| format!("    {name:<24} {value:<16} {what}\n");
    let mut out = format!(
        "speciation under {} noise: L = {}, classes {:?}, {} sampler, {} pairs × {} clone times, \
         labels {}, seed {}\n",
        report.noise,
        report.length,
        report.class_labels,
        report.sampler,
        report.pairs,
        report.curve.len(),
        report.labels,
        report.seed
    );
    let how = match report.posterior_samples {
        None => "exact: independent sites, binomial sums".to_string(),
        Some(n) => format!("Monte Carlo over {n} forward samples"),
    };
    out += &format!("  theory ({how}):\n");
    out += &line(
        "midpoint",
        time(report.t_mid_posterior),
        &format!(
            "φ_post(t) = E Σ p(k|x_t)² falls to the midpoint level {:.4}",
            report.midpoint_level
        ),
    );
    out += &line(
        "balance",
        time(report.t_balance),
        "M = S of ΔΦ = ln P_1(x_t) − ln P_2(x_t) under class 1",
    );
    if let Some(law) = &report.leading_order {
        out += &line(
            "leading order",
            time(report.t_leading_order),
            &format!(
                "{:.2} ln L {:+.3} ({} noise, {})",
                law.slope,
                law.constant,
                law.noise.name(),
                law.difference.name()
            ),
        );
    }
    out += "  measured:\n";
    let stderr = report
        .t_mid_cloning_std_error
        .map_or(String::new(), |s| format!(" ± {s:.3}"));
    out += &line(
        "midpoint crossing",
        format!("{}{stderr}", time(report.t_mid_cloning)),
        "cloning φ(t): pairs cloned at t end in the same class (delta-method s.e.)",
    );
    out +=
        "  curves (φ_post: exact posterior purity; φ_clone: same-class fraction of clone pairs):\n";
    out += &format!("    {:>8}  {:>16}  {:>16}\n", "t", "φ_post", "φ_clone");
    for p in &report.curve {
        let post = if p.phi_post_std_error > 0.0 {
            format!("{:.4} ± {:.4}", p.phi_post, p.phi_post_std_error)
        } else {
            format!("{:.4}", p.phi_post)
        };
        out += &format!(
            "    {:>8.3}  {:>16}  {:>16}\n",
            p.t,
            post,
            format!("{:.4} ± {:.4}", p.phi_clone, p.phi_clone_std_error)
        );
    }
    out += "  U-turn (words noised to t and denoised back; c_i = token i changed):\n";
    out += &format!(
        "    {:>8}  {:>16}  {:>9}  {:>16}  {:>16}\n",
        "t", "P(class kept)", "changed", "χ = ΣC(r)", "ξ"
    );
    for p in &report.uturn {
        out += &format!(
            "    {:>8.3}  {:>16}  {:>9.4}  {:>16}  {:>16}\n",
            p.t,
            format!("{:.4} ± {:.4}", p.kept, p.kept_std_error),
            p.changed,
            format!(
                "{:.4} ± {:.4}",
                p.susceptibility, p.susceptibility_std_error
            ),
            p.correlation_length
                .zip(p.correlation_length_std_error)
                .map_or("—".into(), |(xi, se)| format!("{xi:.2} ± {se:.2}"))
        );
    }
    out +=
        "  commitment (token: last change of each token; class: posterior ≥ 1 − ε from then on):\n";
    for c in &report.commitment {
        let class = c.class_commitment.as_ref().map_or("—".to_string(), |cc| {
            format!(
                "median {} ({} of {} commit)",
                time(median(&cc.times)),
                cc.times.len(),
                cc.total()
            )
        });
        let sites = &c.mean_by_site;
        out += &format!(
            "    {:<15} token median {} (first site {}, last site {}), class {}\n",
            c.sampler,
            time(c.median),
            sites.first().map_or("—".into(), |t| format!("{t:.3}")),
            sites.last().map_or("—".into(), |t| format!("{t:.3}")),
            class
        );
    }
    if let Some(learned) = &report.learned {
        out += &format!(
            "  learned vs exact ({} trajectories per row; KL(exact ‖ learned) of the per-token \
             marginals on masked sites along the learned trajectories, over the states some exact word \
             explains; off support = fraction of states none explains; validity = balanced final \
             words):\n",
            learned.rows
        );
        out += &format!(
            "    {:<16} {:>5}  {:>9}  {:>11}  {:>16}  {:>14}\n",
            "sampler", "steps", "mean KL", "off support", "learned validity", "exact validity"
        );
        let share = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        for run in &learned.runs {
            out += &format!(
                "    {:<16} {:>5}  {:>9.4}  {:>11.3}  {:>16}  {:>14}\n",
                run.sampler,
                run.steps,
                run.mean_kl,
                run.off_support,
                share(run.validity),
                share(run.exact_validity)
            );
        }
    }
    out
}

fn write_json<R: Serialize>(path: &Path, scene: &Path, report: &R) -> anyhow::Result<()> {
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
    // One line per quantity, named as in the app's plots, with what it is.
    let line =
        |name: &str, value: String, what: &str| format!("    {name:<24} {value:<16} {what}\n");
    let mut out = format!(
        "level {} ({} groups)\n  theory (exact at this dimension):\n",
        level.name,
        level.groups.len()
    );
    out += &line(
        "midpoint",
        time(th.t_mid),
        &format!(
            "φ_post(t) = E Σ p(k|x_t)² falls to the midpoint level {:.4}",
            level.midpoint_level
        ),
    );
    out += &line(
        "balance",
        time(th.t_balance),
        "the class log-likelihood difference ΔΦ has mean = std",
    );
    if let Some(b) = level.balance_level {
        out += &line(
            "midpoint at balance φ",
            time(th.t_mid_at_balance_level),
            &format!("φ_post(t) falls to the level it has at balance, {b:.4}"),
        );
    }
    out += &line(
        "½ ln Λ",
        time(th.t_bbdm),
        "Biroli et al. 2024: Λ is the largest eigenvalue of the data covariance",
    );
    out += "  leading order (approximation):\n";
    out += &line("balance", time(lo.and_then(|l| l.t_balance)), "");
    out += &line("midpoint", time(lo.and_then(|l| l.t_mid)), "");
    if let Some(large) = &th.leading_order_large_d {
        out += &line("balance, large d", time(large.t_balance), "F² ≈ 2dS");
        out += &line("midpoint, large d", time(large.t_mid), "F² ≈ 2dS");
    }
    out += "  measured:\n";
    let stderr = me
        .t_mid_stderr
        .map_or(String::new(), |s| format!(" ± {s:.3}"));
    out += &line(
        "midpoint crossing",
        format!("{}{stderr}", time(me.t_mid)),
        "cloning φ(t): pairs cloned at t end in the same class (bootstrap s.e.)",
    );
    out += &line(
        "balance crossing",
        time(me.t_balance),
        "cloning φ(t) falls to the balance level",
    );
    if let Some(uturn) = crossing(&level.phi_uturn, level.midpoint_level) {
        out += &line(
            "U-turn midpoint",
            format!("{uturn:.3}"),
            &format!(
                "data noised to this t and denoised back keep their class with probability {:.2}",
                level.midpoint_level
            ),
        );
    }
    let commitment = &level.commitment;
    let median = median(&commitment.times);
    let uncommitted = commitment.uncommitted_phrase();
    out += &line(
        "commitment",
        median.map_or("—".into(), |m| format!("median {m:.3}")),
        &format!(
            "{} of {} trajectories commit (final class posterior ≥ 1 − {} from then on){}",
            commitment.times.len(),
            commitment.total(),
            commitment.epsilon,
            if uncommitted.is_empty() {
                String::new()
            } else {
                format!("; {uncommitted}")
            }
        ),
    );
    out += &line(
        "martingale check",
        format!("{:.2} s.e.", level.martingale.worst),
        "largest gap between the mean class posterior and the class weight (exact dynamics keep it at 0)",
    );
    out
}

/// The first time a decreasing measured curve falls below `level` (linear between clone times).
fn crossing(curve: &crate::analysis::speciation::cloning::PhiCurve, level: f64) -> Option<f64> {
    let points: Vec<(f64, f64)> = curve
        .t
        .iter()
        .copied()
        .zip(curve.phi.iter().copied())
        .collect();
    points.windows(2).find_map(|w| {
        let ((t0, p0), (t1, p1)) = (w[0], w[1]);
        (p0 >= level && p1 < level).then(|| t0 + (t1 - t0) * (p0 - level) / (p0 - p1))
    })
}

/// Below this φ_post(t_min), argmax labels visibly shift the cloning curve.
const OVERLAP_WARNING: f64 = 0.99;

/// The human-readable summary.
pub fn summary(report: &SpeciationReport) -> String {
    let mut out = format!(
        "speciation: {} pairs × {} clone times in [{:.3}, {:.3}], labels {}, step {}, seed {}\n",
        report.settings.pairs,
        report.settings.clone_times.len(),
        report.settings.clone_times.first().copied().unwrap_or(0.0),
        report.settings.clone_times.last().copied().unwrap_or(0.0),
        report.settings.labels,
        report.settings.step,
        report.seed
    );
    if let Some(w) = report.settings.guidance {
        out += &format!(
            "guidance w = {w}: the measured curves run guided, each pair conditioned on its class; the \
             theory (and the martingale check) is that of unguided sampling \
             (docs/science/speciation.md §7)\n"
        );
    }
    for level in &report.levels {
        out += &level_summary(level);
        if let Some(phi) = level.theory.phi_post_at_t_min
            && report.settings.labels == "argmax"
            && phi < OVERLAP_WARNING
        {
            out += &format!(
                "  note: classes overlap at t_min (φ_post = {phi:.3}); argmax labels push the cloning curve \
                 towards 1 and its crossing later — use \"labels\": \"sampled\" to compare with theory\n",
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
