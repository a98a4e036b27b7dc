//! `diffscope compare`: the DiT-vs-Euler-Stack metric table (reported numbers and our measurements as
//! separate column groups) for the shipped or given model files, optionally written as JSON.

use crate::analysis::compare::{CompareOptions, compare};
use crate::assets::{SHIPPED_DIT, SHIPPED_EULER_STACK, SHIPPED_HARD_STACK, shipped};
use crate::io;
use crate::model::learned::{LearnedModel, load};
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// DiT model file (default: the shipped weights).
    #[arg(long)]
    pub dit: Option<PathBuf>,
    /// Euler-Stack model file (default: the shipped weights).
    #[arg(long)]
    pub euler_stack: Option<PathBuf>,
    /// Hard-stack Euler-Stack, the sanity baseline of docs/science/metrics.md §3.2 (default: the shipped weights, if any).
    #[arg(long)]
    pub hard_stack: Option<PathBuf>,
    /// Also write the table as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// DiT block whose output is measured (1-based; default: the last).
    #[arg(long)]
    pub block: Option<usize>,
    /// Keep only DiT sampling steps with rectified-flow time τ ≥ this.
    #[arg(long, default_value_t = 0.0)]
    pub tau_min: f32,
    /// Keep only DiT sampling steps with τ ≤ this.
    #[arg(long, default_value_t = 1.0)]
    pub tau_max: f32,
    /// Seed of the sampling noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A shipped asset, found from the working directory or the source tree.
pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let dit_path = args.dit.clone().unwrap_or_else(|| shipped(SHIPPED_DIT));
    let es_path = args
        .euler_stack
        .clone()
        .unwrap_or_else(|| shipped(SHIPPED_EULER_STACK));
    let LearnedModel::Dit(dit) = load(&dit_path)? else {
        bail!("--dit expects a DiT model file: {}", dit_path.display());
    };
    let LearnedModel::EulerStack(euler_stack) = load(&es_path)? else {
        bail!(
            "--euler-stack expects an Euler-Stack model file: {}",
            es_path.display()
        );
    };
    // The baseline is optional: given, or the shipped file when this build has one.
    let hs_path = args
        .hard_stack
        .clone()
        .or_else(|| Some(shipped(SHIPPED_HARD_STACK)).filter(|p| p.is_file()));
    let hard_stack = match &hs_path {
        Some(path) => match load(path)? {
            LearnedModel::EulerStack(model) => Some(model),
            _ => bail!(
                "--hard-stack expects an Euler-Stack model file: {}",
                path.display()
            ),
        },
        None => None,
    };
    let dit_block = match args.block {
        Some(0) => bail!("--block counts from 1"),
        Some(b) => Some(b - 1),
        None => None,
    };
    let options = CompareOptions {
        dit_block,
        tau_range: (args.tau_min, args.tau_max),
        seed: args.seed,
        ..CompareOptions::default()
    };
    let comparison = compare(
        &dit,
        &euler_stack,
        hard_stack.as_ref(),
        &options,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )?;
    print!("{comparison}");
    if let Some(path) = &args.json {
        let text = serde_json::to_vec_pretty(&comparison.to_json()?)?;
        io::atomic::write_bytes_atomic(path, &text)?;
    }
    Ok(())
}
