//! `diffscope sample`: trajectories of a scene to .npy or .safetensors.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Scene file (JSON).
    pub scene: PathBuf,
    /// Output file (.npy or .safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(_args: &SampleArgs) -> anyhow::Result<()> {
    anyhow::bail!("`sample` is being built in this session")
}
