//! `diffscope metrics`: the geometry metric table of a point cloud, printed and optionally written
//! as JSON (atomically). Parameters default to docs/science/metrics.md §2.6; any of them can be overridden here.

use crate::analysis::geometry::{MetricParams, measure};
use crate::io::{self, StepSelection};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Point cloud (.npy, .safetensors or .csv): [n, dim], or [n, steps, dim] trajectories.
    pub points: PathBuf,
    /// Also write the metrics as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Step of a [n, steps, dim] array: a number, `last` (default) or `all` (pooled).
    #[arg(long, value_name = "S|last|all", default_value = "last")]
    pub step: StepSelection,
    /// Tensor to read from a .safetensors file (needed when it holds several).
    #[arg(long, value_name = "NAME")]
    pub tensor: Option<String>,
    /// G: grid size of U_ent, H_probe and H_encl.
    #[arg(long)]
    pub grid: Option<usize>,
    /// P: raster size of the H_void distance field.
    #[arg(long)]
    pub raster: Option<usize>,
    /// Neighbours of the MLE intrinsic dimension.
    #[arg(long)]
    pub k_mle: Option<usize>,
    /// Neighbours of the k-NN density uniformity.
    #[arg(long)]
    pub k_density: Option<usize>,
    /// Neighbourhood size of the local curvature (point included).
    #[arg(long)]
    pub k_local: Option<usize>,
    /// Fraction of the largest TwoNN ratios discarded.
    #[arg(long)]
    pub twonn_discard: Option<f64>,
    /// ε of the spectral flatness floor (relative to λ₁).
    #[arg(long)]
    pub spectral_floor: Option<f64>,
    /// Minimum void persistence as a fraction of the box diagonal.
    #[arg(long)]
    pub void_persistence: Option<f64>,
    /// Minimum cells of an enclosed empty component (H_encl).
    #[arg(long)]
    pub enclosed_min_cells: Option<usize>,
}

impl MetricsArgs {
    fn params(&self) -> MetricParams {
        let mut p = MetricParams::default();
        let set = |slot: &mut usize, v: Option<usize>| *slot = v.unwrap_or(*slot);
        set(&mut p.grid, self.grid);
        set(&mut p.raster, self.raster);
        set(&mut p.k_mle, self.k_mle);
        set(&mut p.k_density, self.k_density);
        set(&mut p.k_local, self.k_local);
        set(&mut p.enclosed_min_cells, self.enclosed_min_cells);
        p.twonn_discard = self.twonn_discard.unwrap_or(p.twonn_discard);
        p.spectral_floor = self.spectral_floor.unwrap_or(p.spectral_floor);
        p.void_persistence = self.void_persistence.unwrap_or(p.void_persistence);
        p
    }
}

pub fn run(args: &MetricsArgs) -> anyhow::Result<()> {
    let cloud = io::load_points(&args.points, args.step, args.tensor.as_deref())?;
    let report = measure(&cloud, &args.params())
        .with_context(|| format!("cannot measure {}", args.points.display()))?;
    print!("{report}");
    if let Some(path) = &args.json {
        let text = serde_json::to_vec_pretty(&report)?;
        io::atomic::write_bytes_atomic(path, &text)?;
    }
    Ok(())
}
