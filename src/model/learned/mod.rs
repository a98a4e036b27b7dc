//! Learned models in candle (CPU, f32): the tiny DiT and the Euler-Stack of `docs/science/metrics.md` §3 on the
//! Dyck-2 task, a small OU-time MLP denoiser for analytic scenes, and a masked-diffusion token model.
//! Owns model files (safetensors + versioned JSON config), training and hidden-state capture; knows nothing of the UI or the CLI.

pub mod config;
pub mod dit;
pub mod dyck;
pub mod euler_stack;
pub mod hidden;
pub mod masked;
pub mod mlp_denoiser;
pub mod params;
pub mod train;

use crate::io::IoError;
use crate::io::tensors::{NamedTensor, write_f32};
use crate::model::{Denoiser, ModelError};
use config::{FORMAT_VERSION, HEADER_KEY, ModelConfig, ModelHeader};
use dit::Dit;
use euler_stack::EulerStack;
use masked::MaskedDiffusion;
use mlp_denoiser::MlpDenoiser;
use params::{BuildError, ParamBuilder, ParamStore};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Sets up candle's CPU backend for these small models: one pool thread, unless the user set
/// `CANDLE_NUM_THREADS`. candle's element-wise pool spin-waits its workers, and for tensors this small
/// on a shared machine one thread is about twice as fast as one per core (measured: `compare` 22 s
/// vs 46 s). The pool reads the variable once, when first used, so call this before any candle
/// operation. The environment is changed only while this process provably has a single thread
/// (Linux `/proc/self/status`), where no other thread can be reading it; otherwise candle's default
/// stays. Returns whether one pool thread was requested.
pub fn prepare_cpu() -> bool {
    if std::env::var_os("CANDLE_NUM_THREADS").is_some() || !single_threaded() {
        return false;
    }
    // SAFETY: the process has exactly one thread (checked just above, and this thread is it), so no
    // other thread can read or write the environment concurrently.
    unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    true
}

/// Whether the process has exactly one thread (false if that cannot be read).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .is_some_and(|count| count.trim() == "1")
    })
}

/// Model files larger than this are refused before reading (the shipped ones are < 2 MB).
const MAX_MODEL_BYTES: u64 = 256 << 20;

/// What can go wrong with a learned model; file errors name the file last.
#[derive(Debug, Error)]
pub enum LearnedError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("not a readable .safetensors model ({problem}): {path}")]
    Corrupt { path: PathBuf, problem: String },
    #[error("no '{HEADER_KEY}' metadata (the architecture config) in the model file: {path}")]
    MissingHeader { path: PathBuf },
    #[error("bad architecture config ({problem}): {path}")]
    BadConfig { path: PathBuf, problem: String },
    #[error(
        "model file format version {found} is newer than this diffscope supports ({FORMAT_VERSION}); \
         use a newer diffscope: {path}"
    )]
    NewerFormat { path: PathBuf, found: u64 },
    #[error("weights do not match the {kind} architecture in the file's config: {}: {path}", problems.join("; "))]
    Mismatch {
        path: PathBuf,
        kind: &'static str,
        problems: Vec<String>,
    },
    #[error("{0}")]
    Argument(String),
    #[error("training diverged at step {step}: loss {loss}")]
    Diverged { step: usize, loss: f32 },
    #[error("model computation failed: {0}")]
    Compute(String),
    /// The caller's cancel flag was set; nothing was produced.
    #[error("cancelled")]
    Cancelled,
}

impl LearnedError {
    pub(crate) fn compute(e: candle_core::Error) -> Self {
        LearnedError::Compute(e.to_string())
    }

    fn from_build(e: BuildError, path: &Path, kind: &'static str) -> Self {
        match e {
            BuildError::Compute(e) => LearnedError::compute(e),
            BuildError::Tensors(problems) => LearnedError::Mismatch {
                path: path.to_path_buf(),
                kind,
                problems,
            },
        }
    }
}

/// Any learned model, as loaded from a file.
pub enum LearnedModel {
    Dit(Dit),
    EulerStack(EulerStack),
    MlpDenoiser(MlpDenoiser),
    MaskedDiffusion(MaskedDiffusion),
}

impl LearnedModel {
    /// A freshly initialised model of `config`, every parameter drawn from our seeded streams.
    pub fn seeded(config: &ModelConfig, seed: u64) -> Result<Self, LearnedError> {
        config.validate().map_err(LearnedError::Argument)?;
        Self::build(config, ParamBuilder::seeded(seed), Path::new("(new model)"))
    }

    fn build(
        config: &ModelConfig,
        builder: ParamBuilder<'_>,
        origin: &Path,
    ) -> Result<Self, LearnedError> {
        let kind = config.kind();
        let fail = |e| LearnedError::from_build(e, origin, kind);
        Ok(match config {
            ModelConfig::Dit(c) => LearnedModel::Dit(Dit::build(c.clone(), builder).map_err(fail)?),
            ModelConfig::EulerStack(c) => {
                LearnedModel::EulerStack(EulerStack::build(c.clone(), builder).map_err(fail)?)
            }
            ModelConfig::MlpDenoiser(c) => {
                LearnedModel::MlpDenoiser(MlpDenoiser::build(c.clone(), builder).map_err(fail)?)
            }
            ModelConfig::MaskedDiffusion(c) => LearnedModel::MaskedDiffusion(
                MaskedDiffusion::build(c.clone(), builder).map_err(fail)?,
            ),
        })
    }

    pub fn config(&self) -> ModelConfig {
        match self {
            LearnedModel::Dit(m) => ModelConfig::Dit(m.config().clone()),
            LearnedModel::EulerStack(m) => ModelConfig::EulerStack(m.config().clone()),
            LearnedModel::MlpDenoiser(m) => ModelConfig::MlpDenoiser(m.config().clone()),
            LearnedModel::MaskedDiffusion(m) => ModelConfig::MaskedDiffusion(m.config().clone()),
        }
    }

    pub fn params(&self) -> &ParamStore {
        match self {
            LearnedModel::Dit(m) => m.params(),
            LearnedModel::EulerStack(m) => m.params(),
            LearnedModel::MlpDenoiser(m) => m.params(),
            LearnedModel::MaskedDiffusion(m) => m.params(),
        }
    }

    /// Whether `denoise` works (the DiT and the MLP denoiser; not the autoregressive Euler-Stack nor
    /// the masked-diffusion token model).
    pub fn is_denoiser(&self) -> bool {
        !matches!(
            self,
            LearnedModel::EulerStack(_) | LearnedModel::MaskedDiffusion(_)
        )
    }

    /// Writes the weights and the versioned config to `path` (atomically).
    pub fn save(&self, path: &Path) -> Result<(), LearnedError> {
        let header = ModelHeader {
            format_version: FORMAT_VERSION,
            model: self.config(),
        };
        let json = serde_json::to_string(&header)
            .map_err(|e| LearnedError::Argument(format!("cannot serialise config: {e}")))?;
        let exported = self.params().export().map_err(LearnedError::compute)?;
        let tensors: Vec<NamedTensor<'_>> = exported
            .iter()
            .map(|(name, shape, data)| NamedTensor {
                name,
                shape: shape.clone(),
                data,
            })
            .collect();
        write_f32(
            path,
            &tensors,
            HashMap::from([(HEADER_KEY.to_string(), json)]),
        )?;
        Ok(())
    }
}

/// Reads a model file: checks the format version, the config, and every tensor's name, shape and
/// dtype against the architecture the config describes.
pub fn load(path: &Path) -> Result<LearnedModel, LearnedError> {
    let bytes = read_bounded(path)?;
    let corrupt = |problem: String| LearnedError::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let header_json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(HEADER_KEY))
        .ok_or_else(|| LearnedError::MissingHeader {
            path: path.to_path_buf(),
        })?;
    let config = parse_header(header_json, path)?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    LearnedModel::build(&config, ParamBuilder::from_file(&tensors), path)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, LearnedError> {
    let read_error = |source| IoError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_MODEL_BYTES {
        return Err(LearnedError::Corrupt {
            path: path.to_path_buf(),
            problem: format!(
                "{size} bytes is larger than the {MAX_MODEL_BYTES}-byte limit for a model"
            ),
        });
    }
    Ok(std::fs::read(path).map_err(read_error)?)
}

/// The version is checked before the rest, so a newer file is refused even if its config would not parse.
fn parse_header(json: &str, path: &Path) -> Result<ModelConfig, LearnedError> {
    let bad = |problem: String| LearnedError::BadConfig {
        path: path.to_path_buf(),
        problem,
    };
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| bad("missing or non-integer 'format_version'".into()))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(LearnedError::NewerFormat {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let header: ModelHeader = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    header.model.validate().map_err(bad)?;
    Ok(header.model)
}

macro_rules! seeded_constructor {
    ($model:ty, $config:ty, $variant:ident) => {
        impl $model {
            /// A freshly initialised model, every parameter drawn from our seeded streams.
            pub fn seeded(config: $config, seed: u64) -> Result<Self, LearnedError> {
                ModelConfig::$variant(config.clone())
                    .validate()
                    .map_err(LearnedError::Argument)?;
                Self::build(config, ParamBuilder::seeded(seed)).map_err(|e| {
                    LearnedError::from_build(e, Path::new("(new model)"), stringify!($variant))
                })
            }
        }
    };
}

seeded_constructor!(Dit, config::DitConfig, Dit);
seeded_constructor!(EulerStack, config::EulerStackConfig, EulerStack);
seeded_constructor!(MlpDenoiser, config::MlpDenoiserConfig, MlpDenoiser);
seeded_constructor!(
    MaskedDiffusion,
    config::MaskedDiffusionConfig,
    MaskedDiffusion
);

impl Denoiser for LearnedModel {
    fn dim(&self) -> usize {
        match self {
            LearnedModel::Dit(m) => m.dim(),
            LearnedModel::MlpDenoiser(m) => m.dim(),
            LearnedModel::EulerStack(m) => m.config().seq_len,
            LearnedModel::MaskedDiffusion(m) => m.config().seq_len,
        }
    }

    fn denoise(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        let n = self.check_batch(x, denoised, posterior.as_deref(), t)?;
        let (name, result) = match self {
            LearnedModel::Dit(m) => ("tiny DiT", m.denoise(x, n, t, denoised)),
            LearnedModel::MlpDenoiser(m) => ("MLP denoiser", m.denoise(x, n, t, denoised)),
            LearnedModel::EulerStack(_) => {
                return Err(ModelError::Invalid(
                    "the Euler-Stack is an autoregressive model, not a denoiser".into(),
                ));
            }
            LearnedModel::MaskedDiffusion(_) => {
                return Err(ModelError::Invalid(
                    "the masked-diffusion model works on tokens under mask noise, not as a \
                     Gaussian denoiser"
                        .into(),
                ));
            }
        };
        result.map_err(|e| ModelError::Evaluation(format!("{name}: {e}")))
    }
}
