//! `diffscope train dit|euler-stack|denoiser`: trains a learned model from a seed and writes it as a
//! model file, printing the loss as it goes. A thin front on `model::learned::train`.

use crate::model::Denoiser;
use crate::model::learned::LearnedModel;
use crate::model::learned::config::{DitConfig, EulerStackConfig, MlpDenoiserConfig};
use crate::model::learned::dit::{Dit, DitTraining};
use crate::model::learned::euler_stack::{EulerStack, EulerStackTraining};
use crate::model::learned::mlp_denoiser::{DenoiserTraining, MlpDenoiser};
use crate::model::learned::train::{DyckData, Progress, TrainOptions, train};
use crate::scene::Scene;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// Tiny DiT on Dyck-2 (rectified flow).
    Dit,
    /// Euler-Stack on Dyck-2 (next token).
    EulerStack,
    /// MLP denoiser in OU time on the data of an analytic scene (needs --scene).
    Denoiser,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    pub model: ModelKind,
    /// Optimiser steps (default: the shipped recipe, dit 1500, euler-stack 2000, denoiser 1500).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of the data, the noise and the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Batch size (default: 64 for the Dyck-2 models, 256 for the denoiser).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Analytic scene whose data the denoiser learns.
    #[arg(long)]
    pub scene: Option<PathBuf>,
    /// Print the loss every this many steps.
    #[arg(long, default_value_t = 100)]
    pub log_every: usize,
    /// Output model file (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

impl ModelKind {
    /// (steps, batch) of the shipped weights (assets/models/PROVENANCE.md).
    fn recipe(self) -> (usize, usize) {
        match self {
            ModelKind::Dit => (1500, 64),
            ModelKind::EulerStack => (2000, 64),
            ModelKind::Denoiser => (1500, 256),
        }
    }
}

pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    super::compare::prefer_one_candle_thread();
    let (steps, batch) = args.model.recipe();
    let (steps, batch) = (args.steps.unwrap_or(steps), args.batch.unwrap_or(batch));
    if steps == 0 || batch == 0 {
        bail!("--steps and --batch must be at least 1");
    }
    if args.scene.is_some() && args.model != ModelKind::Denoiser {
        bail!("--scene only applies to `train denoiser`");
    }
    let options = TrainOptions {
        steps,
        ..TrainOptions::default()
    };
    let log_every = args.log_every.max(1);
    let mut print = |p: &Progress| {
        if p.step.is_multiple_of(log_every) || p.step == p.steps || p.step == 1 {
            println!(
                "step {:>6}/{}  loss {:.5}  lr {:.2e}  {:.1} s",
                p.step, p.steps, p.loss, p.lr, p.seconds
            );
        }
    };
    // The CLI is stopped by the shell; the flag is for worker jobs in the app.
    let cancel = AtomicBool::new(false);
    let (model, report) = match args.model {
        ModelKind::Dit => {
            let dit = Dit::seeded(DitConfig::default(), args.seed)?;
            let data = DyckData::new(dit.config().seq_len, args.seed);
            let objective = DitTraining {
                model: &dit,
                data,
                seed: args.seed,
                batch,
            };
            let report = train(&objective, &options, &mut print, &cancel)?;
            (LearnedModel::Dit(dit), report)
        }
        ModelKind::EulerStack => {
            let es = EulerStack::seeded(EulerStackConfig::default(), args.seed)?;
            let data = DyckData::new(es.config().seq_len, args.seed);
            let objective = EulerStackTraining {
                model: &es,
                data,
                seed: args.seed,
                batch,
            };
            let report = train(&objective, &options, &mut print, &cancel)?;
            (LearnedModel::EulerStack(es), report)
        }
        ModelKind::Denoiser => {
            let Some(path) = &args.scene else {
                bail!("`train denoiser` needs --scene SCENE (an analytic scene file)");
            };
            let scene = Scene::load(path)?;
            let exact = scene.model.build_analytic().with_context(|| {
                format!("the denoiser learns an analytic scene: {}", path.display())
            })?;
            let config = MlpDenoiserConfig::for_dim(exact.dim());
            let mlp = MlpDenoiser::seeded(config, args.seed)?;
            let objective = DenoiserTraining {
                model: &mlp,
                data: &exact,
                seed: args.seed,
                batch,
            };
            let report = train(&objective, &options, &mut print, &cancel)?;
            (LearnedModel::MlpDenoiser(mlp), report)
        }
    };
    model.save(&args.out)?;
    println!(
        "trained {} ({} parameters): {} steps in {:.1} s, final loss {:.5} (mean of last 100 steps), \
         held-out loss {:.5}; wrote {}",
        model.config().kind(),
        model.params().count(),
        report.steps_done,
        report.seconds,
        report.final_loss,
        report.heldout_loss,
        args.out.display()
    );
    Ok(())
}
