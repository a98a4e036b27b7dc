//! `diffscope sample`: trajectories of a scene to .npy (states only) or .safetensors (states, times,
//! posterior, initial labels and the inputs as metadata); a token scene (mask or flip noise) to a uint8
//! .npy of tokens and a float64 .npy of the times beside it. Checks the output type and the memory
//! needed before sampling; prints progress to stderr. All computing is in `diffusion` (token scenes
//! through `analysis::view_data::discrete_lab`).

use crate::analysis::view_data::discrete_lab;
use crate::diffusion::{SamplingSpec, StoreSteps, Trajectories, memory, run_trajectories};
use crate::io::{npy, tensors};
use crate::model::discrete::MASK;
use crate::model::{Denoiser, ExactModel};
use crate::scene::{SamplerSpec, Scene, SceneFile, StoreSpec, TokenScene};
use anyhow::{Context, bail};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Scene file (JSON).
    pub scene: PathBuf,
    /// Output file: .npy (float32 [N, S, d]) or .safetensors (also times, posterior, labels, metadata).
    /// A token scene (mask or flip noise) writes .npy only: uint8 tokens [N, S, L] with 255 at masked
    /// sites, and the stored times (float64 [S], decreasing to 0) beside it as NAME.times.npy.
    #[arg(long)]
    pub out: PathBuf,
    /// Stored steps: `all`, `final` or `every:K` (default: the scene's setting).
    #[arg(long, value_parser = parse_store)]
    pub store: Option<StoreSteps>,
    /// Number of trajectories (default: the scene's).
    #[arg(long)]
    pub trajectories: Option<usize>,
    /// Random seed (default: the scene's).
    #[arg(long)]
    pub seed: Option<u64>,
}

fn parse_store(text: &str) -> Result<StoreSteps, String> {
    match text {
        "all" => Ok(StoreSteps::All),
        "final" => Ok(StoreSteps::Final),
        _ => text
            .strip_prefix("every:")
            .and_then(|k| k.parse::<usize>().ok())
            .filter(|&k| k >= 1)
            .map(StoreSteps::Every)
            .ok_or_else(|| format!("'{text}' is not one of all, final, every:K (K ≥ 1)")),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum OutputKind {
    Npy,
    Safetensors,
}

fn output_kind(path: &Path) -> anyhow::Result<OutputKind> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "npy" => Ok(OutputKind::Npy),
        "safetensors" => Ok(OutputKind::Safetensors),
        _ => bail!(
            "output type '{extension}' is not supported (use .npy or .safetensors): {}",
            path.display()
        ),
    }
}

/// Applies the command-line overrides to a scene of either kind.
fn override_run<K>(
    args: &SampleArgs,
    trajectories: &mut usize,
    seed: &mut u64,
    sampler: &mut SamplerSpec<K>,
) {
    if let Some(n) = args.trajectories {
        *trajectories = n;
    }
    if let Some(s) = args.seed {
        *seed = s;
    }
    if let Some(store) = args.store {
        sampler.store = match store {
            StoreSteps::All => StoreSpec::All,
            StoreSteps::Final => StoreSpec::Final,
            StoreSteps::Every(k) => StoreSpec::Every(k),
        };
    }
}

/// The scene with the command-line overrides applied (also what the output's metadata records).
fn effective_scene(args: &SampleArgs) -> anyhow::Result<SceneFile> {
    let mut file = SceneFile::load(&args.scene)?;
    let checked = match &mut file {
        SceneFile::Diffusion(s) => {
            override_run(args, &mut s.trajectories, &mut s.seed, &mut s.sampler);
            s.validate(&args.scene)
        }
        SceneFile::Tokens(s) => {
            override_run(args, &mut s.trajectories, &mut s.seed, &mut s.sampler);
            s.validate(&args.scene)
        }
    };
    checked.context("the command-line options make the scene invalid")?;
    Ok(file)
}

pub fn run(args: &SampleArgs) -> anyhow::Result<()> {
    let kind = output_kind(&args.out)?;
    let scene = match effective_scene(args)? {
        SceneFile::Diffusion(scene) => scene,
        SceneFile::Tokens(scene) => return run_tokens(args, kind, &scene),
    };
    let model = scene
        .model
        .build(&args.scene)
        .with_context(|| format!("scene {}", args.scene.display()))?;
    let spec = scene.sampling_spec();
    check_memory(&spec, model.denoiser(), kind)?;

    // A learned or ONNX model draws its classes (guidance, exact initialisation) from its reference.
    let reference = match model.exact() {
        Some(_) => None,
        None => scene.model.reference_model(&args.scene)?,
    };
    let exact = model
        .exact()
        .or(reference.as_ref().map(|m| m as &dyn ExactModel));
    let mut progress = StderrProgress::new();
    let trajectories = run_trajectories(
        model.denoiser(),
        exact,
        &spec,
        &mut |fraction, stage| progress.report(fraction, stage),
        &AtomicBool::new(false),
    )
    .with_context(|| format!("sampling scene {}", args.scene.display()))?;
    match kind {
        OutputKind::Npy => {
            npy::write_f32(&args.out, &state_shape(&trajectories), &trajectories.states)?
        }
        OutputKind::Safetensors => write_safetensors(&args.out, &trajectories, &scene)?,
    }
    eprintln!(
        "wrote {} trajectories × {} stored steps × d = {} to {}",
        trajectories.n,
        trajectories.stored_steps,
        trajectories.dim,
        args.out.display()
    );
    Ok(())
}

/// `NAME.npy` → `NAME.times.npy`, where a token run's times go.
pub fn times_path(out: &Path) -> PathBuf {
    out.with_extension("times.npy")
}

/// A token scene: uint8 tokens [N, S, L] (MASK = 255 at masked sites) and the times beside them.
fn run_tokens(args: &SampleArgs, kind: OutputKind, scene: &TokenScene) -> anyhow::Result<()> {
    if kind != OutputKind::Npy {
        bail!(
            "a token scene is written as .npy (uint8 tokens, times beside them), not .safetensors: {}",
            args.out.display()
        );
    }
    let mut progress = StderrProgress::new();
    let run = discrete_lab::sample_tokens(
        scene,
        &mut |fraction, stage| progress.report(fraction, stage),
        &AtomicBool::new(false),
    )
    .with_context(|| format!("sampling scene {}", args.scene.display()))?;
    npy::write_u8(
        &args.out,
        &[run.n, run.stored_steps, run.length],
        &run.tokens,
    )?;
    let times = times_path(&args.out);
    npy::write_f64(&times, &[run.stored_steps], &run.times)?;
    eprintln!(
        "wrote {} token sequences × {} stored steps × L = {} (symbols 0 to {}, {MASK} = masked) to {}, \
         times to {}",
        run.n,
        run.stored_steps,
        run.length,
        run.vocab - 1,
        args.out.display(),
        times.display()
    );
    Ok(())
}

/// The run's own estimate plus the output encoding: the .safetensors writer holds the byte image of
/// every tensor and the serialised file at once.
fn check_memory(spec: &SamplingSpec, model: &dyn Denoiser, kind: OutputKind) -> anyhow::Result<()> {
    let (dim, classes) = (model.dim(), model.class_labels().len());
    let run = spec.memory_estimate(dim, classes)?;
    let stored = spec.store.count(spec.steps)?;
    let output = match kind {
        OutputKind::Npy => 0,
        OutputKind::Safetensors => memory::bytes_of(&[spec.trajectories, stored, dim + classes], 8),
    };
    memory::check(
        run.saturating_add(output),
        &format!(
            "sampling {} trajectories × {stored} stored steps × d = {dim}",
            spec.trajectories
        ),
    )?;
    Ok(())
}

fn state_shape(t: &Trajectories) -> [usize; 3] {
    [t.n, t.stored_steps, t.dim]
}

fn write_safetensors(path: &Path, t: &Trajectories, scene: &Scene) -> anyhow::Result<()> {
    let times: Vec<f32> = t.times.iter().map(|&v| v as f32).collect();
    let labels: Option<Vec<f32>> = t
        .initial_labels
        .as_ref()
        .map(|l| l.iter().map(|&k| k as f32).collect());
    let mut list = vec![
        tensors::NamedTensor {
            name: "trajectories",
            shape: state_shape(t).to_vec(),
            data: &t.states,
        },
        tensors::NamedTensor {
            name: "times",
            shape: vec![t.stored_steps],
            data: &times,
        },
    ];
    if let Some(posterior) = &t.posterior {
        list.push(tensors::NamedTensor {
            name: "posterior",
            shape: vec![t.n, t.stored_steps, t.class_labels.len()],
            data: posterior,
        });
    }
    if let Some(labels) = &labels {
        list.push(tensors::NamedTensor {
            name: "initial_labels",
            shape: vec![t.n],
            data: labels,
        });
    }
    let metadata = HashMap::from([
        ("scene".to_string(), scene.to_json_pretty()?),
        ("seed".to_string(), scene.seed.to_string()),
        (
            "version".to_string(),
            format!("diffscope {}", env!("CARGO_PKG_VERSION")),
        ),
        // Full-precision times (the tensor is float32).
        ("times".to_string(), serde_json::to_string(&t.times)?),
        (
            "class_labels".to_string(),
            serde_json::to_string(&t.class_labels)?,
        ),
        (
            "layout".to_string(),
            "trajectories [N, S, d] float32; times [S]; posterior [N, S, K] = p(k | x_t); \
             initial_labels [N] class indices stored as float32"
                .to_string(),
        ),
    ]);
    tensors::write_f32(path, &list, metadata)?;
    Ok(())
}

/// One progress line on stderr at most every half second (plain lines: fine in logs and terminals).
struct StderrProgress {
    last: Option<Instant>,
}

impl StderrProgress {
    const INTERVAL: Duration = Duration::from_millis(500);

    fn new() -> Self {
        StderrProgress { last: None }
    }

    fn report(&mut self, fraction: f32, stage: &str) {
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|at| now.duration_since(at) >= Self::INTERVAL);
        if due || fraction >= 1.0 {
            self.last = Some(now);
            eprintln!("{stage}: {:5.1} %", 100.0 * fraction);
        }
    }
}
