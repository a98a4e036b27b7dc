//! `diffscope bench`: performance figures, one line each with the inputs that produced it.
//!
//! Each area keeps its own workloads in a submodule; this module only selects and prints them.

mod discrete;
mod draw;
mod engine;
mod frame;
mod geometry;
mod learned;
mod onnx;
mod speciation;

use clap::Args;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Only run benchmarks whose name contains this text.
    #[arg(long)]
    pub filter: Option<String>,
}

/// One measured figure.
pub struct Figure {
    /// Short stable name, e.g. `sde_gmm2`.
    pub name: &'static str,
    /// The inputs, e.g. `10000 traj x d=256 x 200 steps`.
    pub inputs: String,
    pub seconds: f64,
    /// The target it is judged against, if any.
    pub target_seconds: Option<f64>,
}

/// A named benchmark: runs its workload and returns the figure.
pub struct Bench {
    pub name: &'static str,
    pub run: fn() -> anyhow::Result<Figure>,
}

/// Runs per figure; the fastest is reported (the machine is shared, so slower runs measure the neighbours).
pub const RUNS: usize = 3;

/// Wall and CPU seconds (all threads of this process) of one run.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub wall: f64,
    pub cpu: Option<f64>,
}

impl Timing {
    /// `, cpu … s` for the inputs text: CPU time shows what an unloaded machine would give.
    pub fn cpu_note(&self) -> String {
        self.cpu
            .map(|cpu| format!(", cpu {cpu:.2} s"))
            .unwrap_or_default()
    }
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 ticks per second).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The fastest of [`RUNS`] runs of `work` (wall time, with its CPU time) and the last run's result,
/// for the caller to check.
pub fn best_of<T>(mut work: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(Timing, T)> {
    let mut best = Timing {
        wall: f64::INFINITY,
        cpu: None,
    };
    let mut last = None;
    for _ in 0..RUNS {
        let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
        let result = work()?;
        let wall = start.elapsed().as_secs_f64();
        if wall < best.wall {
            let cpu = process_cpu_seconds()
                .zip(cpu_start)
                .map(|(end, start)| end - start);
            best = Timing { wall, cpu };
        }
        last = Some(result);
    }
    let result = last.ok_or_else(|| anyhow::anyhow!("no benchmark run"))?;
    Ok((best, result))
}

/// Every benchmark, in the order they run.
fn all() -> Vec<Bench> {
    engine::benches()
        .into_iter()
        .chain(frame::benches())
        .chain(draw::benches())
        .chain(geometry::benches())
        .chain(learned::benches())
        .chain(onnx::benches())
        .chain(speciation::benches())
        .chain(discrete::benches())
        .collect()
}

/// The names of every benchmark, for `bench --help` and the error of a filter matching none.
pub fn names_help() -> String {
    let names: Vec<&str> = all().iter().map(|b| b.name).collect();
    format!("Benchmarks: {}", names.join(", "))
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let selected: Vec<Bench> = all()
        .into_iter()
        .filter(|b| args.filter.as_deref().is_none_or(|f| b.name.contains(f)))
        .collect();
    if selected.is_empty() {
        anyhow::bail!(
            "no benchmark name contains {:?}. {}",
            args.filter.as_deref().unwrap_or_default(),
            names_help()
        );
    }
    for bench in selected {
        let figure = (bench.run)()?;
        let target = figure
            .target_seconds
            .map(|t| format!("  (target <= {t:.3} s)"))
            .unwrap_or_default();
        println!(
            "{:<24} {:>9.3} s  {}{}",
            figure.name, figure.seconds, figure.inputs, target
        );
    }
    Ok(())
}
