//! `diffscope sweep`: sharded, resumable parameter sweeps of the speciation lab and/or the geometry
//! metrics (`run`), and the table and figure of their point files (`collect`). The work is
//! `analysis::view_data::sweep`; this file parses the arguments and prints.

use crate::analysis::view_data::sweep::{self, Measure, Outcome, Plan, Shard, Vary};
use crate::figure::{svg, text, write_text};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: SweepCommand,
}

#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Measure every point of a sweep (or one shard of them) into one JSON file per point.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Print the points of a sweep folder as a table; optionally write it as CSV and plot its t_mid as SVG.
    Collect(CollectArgs),
}

const RUN_HELP: &str = "\
VALUES of --vary:
  16,32,64           a comma list (numbers, true/false, or text such as argmax,sampled)
  16..4096:9         a geometric range: 9 points from 16 to 4096 with a constant ratio
                     (integers when both ends are; otherwise six significant digits)
KEY is a dotted path into the scene JSON; list items by index:
  model.dim   seed   speciation.pairs   model.components.0.weight
Several --vary give every combination, the first --vary outermost. Each point is written to
OUT/<key>=<value>[__<key>=<value>…].json (numbers zero-padded so names sort by value); a point
whose file already exists, parses and holds the same --measure is skipped, so an interrupted
sweep resumes where it stopped.

Examples:
  diffscope sweep run scene.json --vary model.dim=16..4096:9 --measure speciation --out dims
  diffscope sweep run scene.json --vary model.dim=16..4096:9 --measure speciation --out dims --shard 3/8
  diffscope sweep run scene.json --vary trajectories=500,1000,2000 --measure metrics --out sizes
  diffscope sweep collect dims --csv dims.csv --svg dims.svg";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scene file (JSON) whose values the sweep varies.
    pub scene: PathBuf,
    /// KEY=VALUES: vary the scene value at KEY over VALUES (repeatable; see below).
    #[arg(long = "vary", value_name = "KEY=VALUES", required = true)]
    pub vary: Vec<String>,
    /// What to measure at each point.
    #[arg(long, value_enum)]
    pub measure: Measure,
    /// Folder of the point files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// I/N: measure only the points whose index % N == I (0-based I < N), e.g. a Slurm array task.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Folder of point files written by `diffscope sweep run`.
    pub dir: PathBuf,
    /// Write the table as CSV (numbers in full precision).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Plot the measured t_mid ± s.e. against the first varied parameter over the theory line (SVG);
    /// a metrics-only sweep plots its metrics against the network's parameter count (or that
    /// parameter), one panel per group.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// Width of the SVG figure, as the app's exports.
const SVG_WIDTH: f64 = 720.0;
const SVG_HEIGHT: f64 = 440.0;

pub fn run(args: &SweepArgs) -> anyhow::Result<()> {
    match &args.command {
        SweepCommand::Run(args) => run_points(args),
        SweepCommand::Collect(args) => collect(args),
    }
}

fn run_points(args: &RunArgs) -> anyhow::Result<()> {
    let varies = args
        .vary
        .iter()
        .map(|spec| Vary::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let shard = match &args.shard {
        Some(spec) => Shard::parse(spec)?,
        None => Shard::WHOLE,
    };
    let plan = Plan::new(&args.scene, &varies)?;
    let mine = plan.points.iter().filter(|p| shard.owns(p)).count();
    eprintln!(
        "sweep: {} points, {mine} in shard {}/{}, into {}",
        plan.points.len(),
        shard.index,
        shard.count,
        args.out.display()
    );
    let started = std::time::Instant::now();
    let mut done = 0;
    let mut report = |point: &sweep::Point, outcome: Outcome| {
        done += 1;
        let what = match outcome {
            Outcome::Skipped => "skipped (already measured)",
            Outcome::Measured => "measured",
        };
        eprintln!(
            "[{done}/{mine}] {} {what} ({:.0} s)",
            point.file_name,
            started.elapsed().as_secs_f64()
        );
    };
    let summary = sweep::run(&plan, args.measure, &args.out, shard, &mut report)
        .with_context(|| format!("sweep of {}", args.scene.display()))?;
    println!("skipped {}, measured {}", summary.skipped, summary.measured);
    Ok(())
}

fn collect(args: &CollectArgs) -> anyhow::Result<()> {
    let records = sweep::collect(&args.dir)?;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = stdout.write_all(text::table_plain(&sweep::table(&records, false)).as_bytes());
    if let Some(path) = &args.csv {
        write_text(path, &text::table_csv(&sweep::table(&records, true)))?;
    }
    if let Some(path) = &args.svg {
        let figures = sweep::figures(&records)?;
        let panels: Vec<_> = figures.iter().map(|f| (f, SVG_HEIGHT)).collect();
        write_text(path, &svg::document(&panels, SVG_WIDTH, None))?;
    }
    Ok(())
}
