//! `diffscope bench`: performance figures, one line each with the inputs that produced it.
//!
//! Each area keeps its own workloads in a submodule; this module only selects and prints them.

mod engine;
mod geometry;
mod learned;
mod speciation;

use clap::Args;

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

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let all = engine::benches()
        .into_iter()
        .chain(geometry::benches())
        .chain(learned::benches())
        .chain(speciation::benches());
    for bench in all {
        if args
            .filter
            .as_deref()
            .is_some_and(|f| !bench.name.contains(f))
        {
            continue;
        }
        let figure = (bench.run)()?;
        let target = figure
            .target_seconds
            .map(|t| format!("  (target <= {t} s)"))
            .unwrap_or_default();
        println!(
            "{:<24} {:>9.3} s  {}{}",
            figure.name, figure.seconds, figure.inputs, target
        );
    }
    Ok(())
}
