//! `diffscope train dit|euler-stack|euler-stack-hard|denoiser|masked`: trains a learned model from a seed and
//! writes it as a model file, printing the loss as it goes and, for the Dyck-2 models, the task score.
//! Ctrl-C stops the run before the next step and writes nothing. A thin front on `model::learned::train`.

use crate::model::Denoiser;
use crate::model::discrete::DiscreteNoise;
use crate::model::learned::config::MaskedDiffusionConfig;
use crate::model::learned::config::{
    DitConfig, DitPrediction, EulerStackConfig, MlpDenoiserConfig, StackKind,
};
use crate::model::learned::dit::{Dit, DitTraining, TimeSampling, shipped_config};
use crate::model::learned::euler_stack::{EulerStack, EulerStackTraining};
use crate::model::learned::masked::{MaskedDiffusion, MaskedTraining};
use crate::model::learned::mlp_denoiser::{DenoiserTraining, MlpDenoiser};
use crate::model::learned::train::{DyckData, Progress, Recipe, TrainReport, train};
use crate::model::learned::{LearnedModel, dyck};
use crate::scene::{Scene, SceneFile};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// Tiny DiT on Dyck-2 (rectified flow).
    Dit,
    /// Euler-Stack on Dyck-2 (next token, soft stack).
    EulerStack,
    /// Sanity baseline: the Euler-Stack with a hard stack driven by the bracket type.
    EulerStackHard,
    /// MLP denoiser in OU time on the data of an analytic scene (needs --scene).
    Denoiser,
    /// Masked-diffusion transformer on the words of a token scene's exact model (needs --scene).
    Masked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PredictionArg {
    Velocity,
    TokenLogits,
}

impl From<PredictionArg> for DitPrediction {
    fn from(p: PredictionArg) -> Self {
        match p {
            PredictionArg::Velocity => DitPrediction::Velocity,
            PredictionArg::TokenLogits => DitPrediction::TokenLogits,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimeArg {
    Uniform,
    LogitNormal,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    pub model: ModelKind,
    /// Optimiser steps (default: the shipped recipe, see assets/models/PROVENANCE.md).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of the data, the noise and the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Batch size (default: the shipped recipe).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate (default: the shipped recipe).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Linear learning-rate warm-up steps (default: the shipped recipe).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// DiT output: the velocity (MSE) or token logits (cross-entropy; the shipped recipe).
    #[arg(long, value_enum)]
    pub prediction: Option<PredictionArg>,
    /// DiT training times: uniform or logit-normal(0, 1) (the shipped recipe).
    #[arg(long, value_enum)]
    pub time_sampling: Option<TimeArg>,
    /// DiT self-conditioning: the network also reads its previous clean estimate.
    #[arg(long)]
    pub self_conditioning: bool,
    /// DiT model width D (default: the shipped 64; even and divisible by its 4 heads), e.g. for a
    /// sweep of the metric table against model size.
    #[arg(long)]
    pub width: Option<usize>,
    /// Scene whose data the model learns: an analytic scene (denoiser) or a mask-noise token scene
    /// with an exact model (masked).
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
    fn recipe(self) -> Recipe {
        match self {
            ModelKind::Dit => Recipe::dit(),
            ModelKind::EulerStack | ModelKind::EulerStackHard => Recipe::euler_stack(),
            ModelKind::Denoiser => Recipe::denoiser(),
            ModelKind::Masked => Recipe::masked(),
        }
    }
}

/// Strings generated for the task score printed after training (as in `diffscope compare`).
const TASK_SAMPLES: usize = 1000;
/// DiT Euler steps of that score (`docs/science/metrics.md` §3.3).
const TASK_DIT_STEPS: usize = 20;

pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let _policy = crate::alloc_policy::keep_freed_buffers();
    let recipe = args.model.recipe();
    let mut options = recipe.options;
    options.steps = args.steps.unwrap_or(options.steps);
    options.lr_start = args.lr.unwrap_or(options.lr_start);
    options.warmup = args.warmup.unwrap_or(options.warmup);
    let batch = args.batch.unwrap_or(recipe.batch);
    if options.steps == 0 || batch == 0 {
        bail!("--steps and --batch must be at least 1");
    }
    if !(options.lr_start.is_finite() && options.lr_start > 0.0) {
        bail!("--lr must be a positive number");
    }
    options.lr_end = options.lr_end.min(options.lr_start);
    if args.scene.is_some() && !matches!(args.model, ModelKind::Denoiser | ModelKind::Masked) {
        bail!("--scene only applies to `train denoiser` and `train masked`");
    }
    let dit_options = args.prediction.is_some()
        || args.time_sampling.is_some()
        || args.self_conditioning
        || args.width.is_some();
    if dit_options && args.model != ModelKind::Dit {
        bail!(
            "--prediction, --time-sampling, --self-conditioning and --width only apply to `train dit`"
        );
    }
    let log_every = args.log_every.max(1);
    let mut print = |p: &Progress| {
        if p.step.is_multiple_of(log_every) || p.step == p.steps || p.step == 1 {
            println!(
                "step {:>6}/{}  loss {:.5}  lr {:.2e}  {:.1} s",
                p.step, p.steps, p.loss, p.lr, p.seconds
            );
        }
    };
    let cancel = super::interrupted();
    cancel.store(false, Ordering::SeqCst);
    let (model, report) = match args.model {
        ModelKind::Dit => {
            let shipped = shipped_config();
            let config = DitConfig {
                prediction: args
                    .prediction
                    .map_or(shipped.prediction, DitPrediction::from),
                self_conditioning: args.self_conditioning,
                width: args.width.unwrap_or(shipped.width),
                ..shipped
            };
            let time_sampling = match args.time_sampling {
                None | Some(TimeArg::LogitNormal) => TimeSampling::LOGIT_NORMAL,
                Some(TimeArg::Uniform) => TimeSampling::Uniform,
            };
            let dit = Dit::seeded(config, args.seed)?;
            let data = DyckData::new(dit.config().seq_len, args.seed);
            let objective = DitTraining {
                model: &dit,
                data,
                seed: args.seed,
                batch,
                time_sampling,
            };
            let report = train(&objective, &options, &mut print, cancel)?;
            (LearnedModel::Dit(dit), report)
        }
        ModelKind::EulerStack | ModelKind::EulerStackHard => {
            let stack = if args.model == ModelKind::EulerStackHard {
                StackKind::Hard
            } else {
                StackKind::Soft
            };
            let config = EulerStackConfig {
                stack,
                ..EulerStackConfig::default()
            };
            let es = EulerStack::seeded(config, args.seed)?;
            let data = DyckData::new(es.config().seq_len, args.seed);
            let objective = EulerStackTraining {
                model: &es,
                data,
                seed: args.seed,
                batch,
            };
            let report = train(&objective, &options, &mut print, cancel)?;
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
            let report = train(&objective, &options, &mut print, cancel)?;
            (LearnedModel::MlpDenoiser(mlp), report)
        }
        ModelKind::Masked => {
            let Some(path) = &args.scene else {
                bail!("`train masked` needs --scene SCENE (a token scene with mask noise)");
            };
            let SceneFile::Tokens(scene) = SceneFile::load(path)? else {
                bail!(
                    "`train masked` learns the exact model of a token scene (\"noise\": {{\"kind\": \
                     \"mask\"}}); {} is a Gaussian-noise scene",
                    path.display()
                );
            };
            let exact = scene.build_model()?;
            if scene.noise != DiscreteNoise::Mask || exact.learned().is_some() {
                bail!(
                    "`train masked` needs mask noise and an exact model (ising_mixture or dyck): {}",
                    path.display()
                );
            }
            let data = exact.model();
            let config = MaskedDiffusionConfig::small(data.length(), data.vocab());
            let network = MaskedDiffusion::seeded(config, args.seed)?;
            let objective = MaskedTraining {
                model: &network,
                data,
                seed: args.seed,
                batch,
            };
            let report = train(&objective, &options, &mut print, cancel)?;
            (LearnedModel::MaskedDiffusion(network), report)
        }
    };
    if report.cancelled {
        bail!(
            "training cancelled by Ctrl-C after {} of {} steps; nothing written to {}",
            report.steps_done,
            options.steps,
            args.out.display()
        );
    }
    model.save(&args.out)?;
    print_summary(&model, &report, args);
    if let Some(score) = task_score(&model)? {
        println!("{score}");
    }
    Ok(())
}

fn print_summary(model: &LearnedModel, report: &TrainReport, args: &TrainArgs) {
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
}

/// The Dyck-2 task score of a freshly trained Dyck-2 model (seed 0, as in `diffscope compare`).
fn task_score(model: &LearnedModel) -> anyhow::Result<Option<String>> {
    let (tokens, len, how) = match model {
        LearnedModel::Dit(dit) => (
            dit.sample(
                TASK_SAMPLES,
                TASK_DIT_STEPS,
                0,
                None,
                &AtomicBool::new(false),
            )?
            .tokens,
            dit.config().seq_len,
            format!("{TASK_DIT_STEPS} Euler steps"),
        ),
        LearnedModel::EulerStack(es) => (
            es.sample(TASK_SAMPLES, 0, &AtomicBool::new(false))?.tokens,
            es.config().seq_len,
            "temperature 1".to_string(),
        ),
        // Token models are scored against their exact model by `diffscope speciation`.
        LearnedModel::MlpDenoiser(_) | LearnedModel::MaskedDiffusion(_) => return Ok(None),
    };
    Ok(Some(format!(
        "task: {:.3} of {TASK_SAMPLES} generated strings are valid Dyck-2 (sampling seed 0, {how}; \
         chance {:.2e})",
        dyck::validity(&tokens, len),
        dyck::chance_validity(len)
    )))
}
