//! `diffscope compare`: the DiT-vs-Euler-Stack metric table (reported numbers and our measurements as
//! separate column groups) for the shipped or given model files, optionally written as JSON.

use crate::analysis::compare::{CompareOptions, compare};
use crate::io;
use crate::model::learned::{LearnedModel, load};
use anyhow::bail;
use clap::Args;
use std::path::{Path, PathBuf};

/// Shipped weights, relative to the crate root.
pub const SHIPPED_DIT: &str = "assets/models/dit-dyck2.safetensors";
pub const SHIPPED_EULER_STACK: &str = "assets/models/euler-stack-dyck2.safetensors";

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// DiT model file (default: the shipped weights).
    #[arg(long)]
    pub dit: Option<PathBuf>,
    /// Euler-Stack model file (default: the shipped weights).
    #[arg(long)]
    pub euler_stack: Option<PathBuf>,
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

/// A shipped asset: found next to the working directory first, else in the source tree it was built from.
pub fn shipped(relative: &str) -> PathBuf {
    let local = PathBuf::from(relative);
    if local.exists() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }
}

/// candle's CPU pool spin-waits its workers; for these small models on a shared machine one pool
/// thread is about twice as fast as one per core (measured: `compare` 22 s vs 46 s). The user's own
/// CANDLE_NUM_THREADS wins. Must run before the first candle operation, which creates the pool.
pub(crate) fn prefer_one_candle_thread() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: called first thing in a CLI command, before this process has spawned any thread.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}

pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    prefer_one_candle_thread();
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
    let comparison = compare(&dit, &euler_stack, &options)?;
    print!("{comparison}");
    if let Some(path) = &args.json {
        let text = serde_json::to_vec_pretty(&comparison.to_json()?)?;
        io::atomic::write_bytes_atomic(path, &text)?;
    }
    Ok(())
}
