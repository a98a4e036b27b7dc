//! The command line: clap subcommands that call the same library the app uses.
//!
//! Every failure ends as one line on stderr (`error: …`, naming the file concerned) and a non-zero exit
//! code, never a panic trace.

pub mod bench;
pub mod compare;
pub mod metrics;
pub mod sample;
pub mod speciation;
pub mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// diffscope: see inside diffusion models.
#[derive(Debug, Parser)]
#[command(name = "diffscope", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run denoising trajectories for a scene and write them as .npy or .safetensors.
    Sample(sample::SampleArgs),
    /// Theory and measured speciation times of a scene.
    Speciation(speciation::SpeciationArgs),
    /// Geometry metrics (PCA, intrinsic dimension, flatness, density, holes) of a point cloud.
    Metrics(metrics::MetricsArgs),
    /// Print the performance figures, one per line with their inputs.
    Bench(bench::BenchArgs),
    /// Train a learned model (tiny DiT, Euler-Stack, or an OU-time denoiser for a scene).
    Train(train::TrainArgs),
    /// DiT vs Euler-Stack: metric table of both models' hidden states next to the reported numbers.
    Compare(compare::CompareArgs),
}

/// Entry point of the executable.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Sample(args) => sample::run(&args),
        Command::Speciation(args) => speciation::run(&args),
        Command::Metrics(args) => metrics::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Compare(args) => compare::run(&args),
    }
}

/// An error and its causes on one line: "outer: inner: innermost".
fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}
