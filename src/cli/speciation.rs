//! `diffscope speciation`: theory and measured speciation times of a scene.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SpeciationArgs {
    /// Scene file (JSON).
    pub scene: PathBuf,
}

pub fn run(_args: &SpeciationArgs) -> anyhow::Result<()> {
    anyhow::bail!("`speciation` is being built in this session")
}
