//! Architecture configurations of the learned models and the versioned header stored with the weights.
//! Owns the JSON contract of a model file's metadata; it never touches tensors (see `params`).

use serde::{Deserialize, Serialize};

/// Version of the model-file layout written by this build. Files with a larger number are refused.
/// Version 2 added the Euler-Stack's `stack` and the DiT's `prediction` fields; version-1 files (no
/// fields) load as a soft stack and a velocity model. Version 3 added the DiT's `self_conditioning`;
/// older files (no field) load without it. Version 4 added the `masked_diffusion` kind.
pub const FORMAT_VERSION: u32 = 4;

/// The safetensors metadata key holding the [`ModelHeader`] JSON.
pub const HEADER_KEY: &str = "diffscope_model";

/// Largest value of any size field. A model file holds at most 256 MB (64 M float32), so no real width
/// comes near; the bound keeps shape arithmetic (a product of two sizes) far from overflow.
const MAX_SIZE: usize = 1 << 16;
/// Most DiT blocks (each adds ten tensors; real models have a handful).
const MAX_BLOCKS: usize = 1024;

/// Tiny DiT (`docs/science/metrics.md` §3.3): adaLN-Zero blocks over a token sequence, rectified-flow velocity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DitConfig {
    /// L: tokens per sequence.
    pub seq_len: usize,
    /// Channels per token (4 analog bits for Dyck-2).
    pub channels: usize,
    /// Model width D.
    pub width: usize,
    pub blocks: usize,
    pub heads: usize,
    /// MLP hidden width = `mlp_ratio · width`.
    pub mlp_ratio: usize,
    /// What the network's output means (absent in version-1 files, which are velocity models).
    #[serde(default)]
    pub prediction: DitPrediction,
    /// Self-conditioning (Chen et al. 2022, Analog Bits): the network also reads its own previous clean
    /// estimate x̂₀ through a zero-initialised `self_condition` layer (absent before version 3: off).
    #[serde(default)]
    pub self_conditioning: bool,
}

/// The DiT's output parameterisation. Both sample with the same Euler ODE on the rectified-flow path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DitPrediction {
    /// The velocity v̂ = ε − x₀, trained by MSE (`docs/science/metrics.md` §3.3).
    #[default]
    Velocity,
    /// Per-token logits over the vocabulary, trained by cross-entropy against the clean token
    /// (Dieleman et al. 2022, CDCD). The clean estimate is x̂₀ = 2·softmax − 1 (the expected analog
    /// bits) and the velocity (x_τ − x̂₀)/τ.
    TokenLogits,
}

impl Default for DitConfig {
    fn default() -> Self {
        Self {
            seq_len: 16,
            channels: 4,
            width: 64,
            blocks: 4,
            heads: 4,
            mlp_ratio: 4,
            prediction: DitPrediction::Velocity,
            self_conditioning: false,
        }
    }
}

/// Euler-Stack (`docs/science/metrics.md` §3.2): explicit Euler residual step coupled to a soft stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EulerStackConfig {
    /// Sequence length the model is trained on.
    pub seq_len: usize,
    /// Vocabulary without the begin token.
    pub vocab: usize,
    /// d: state width.
    pub state: usize,
    /// Token embedding width.
    pub embedding: usize,
    /// Hidden width of the Euler vector field F.
    pub hidden: usize,
    /// K: stack slots.
    pub slots: usize,
    /// s: width of one stack slot.
    pub slot_width: usize,
    /// η: Euler step size (fixed, not learned).
    pub eta: f64,
    pub lambda_floor: f64,
    pub lambda_negative: f64,
    /// Soft learned actions (the model) or hard actions from the bracket type (the §3.2 baseline).
    #[serde(default)]
    pub stack: StackKind,
}

/// How the Euler-Stack chooses push, pop or no-op at each token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StackKind {
    /// softmax(W_a·[h'; e] + b_a), learned (`docs/science/metrics.md` §3.2).
    #[default]
    Soft,
    /// Teacher-forced from the token just read: an opening bracket pushes, a closing one pops, the
    /// begin token does nothing. The sanity baseline of §3.2; it has no action layer.
    Hard,
}

impl Default for EulerStackConfig {
    fn default() -> Self {
        // hidden = 256 rather than the 128 of §3.2: with 128 the model has 25.5k parameters, below the
        // 40–60k budget the same section states; 256 gives 48.2k.
        Self {
            seq_len: 16,
            vocab: 4,
            state: 64,
            embedding: 16,
            hidden: 256,
            slots: 16,
            slot_width: 32,
            eta: 0.5,
            lambda_floor: 0.1,
            lambda_negative: 0.1,
            stack: StackKind::Soft,
        }
    }
}

/// MLP denoiser in OU time: D(x, t) = a_t·x + sqrt(Δ_t)·F([x; φ(ln t)]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpDenoiserConfig {
    /// State dimension d.
    pub dim: usize,
    pub hidden: usize,
    /// Sine/cosine pairs of the time features.
    pub time_frequencies: usize,
    /// OU time range sampled in training (log-uniform).
    pub t_min: f64,
    pub t_max: f64,
}

impl MlpDenoiserConfig {
    pub fn for_dim(dim: usize) -> Self {
        Self {
            dim,
            hidden: 128,
            time_frequencies: 8,
            t_min: 1e-3,
            t_max: 8.0,
        }
    }
}

/// Masked-diffusion transformer (`docs/science/discrete.md` §3, learned): a bidirectional pre-LN
/// transformer over token ids (the vocabulary plus one mask id) and the row's masked fraction,
/// giving per-token logits over the vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskedDiffusionConfig {
    /// L: tokens per sequence.
    pub seq_len: usize,
    /// V: vocabulary without the mask id (which is V).
    pub vocab: usize,
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    /// MLP hidden width = `mlp_ratio · width`.
    pub mlp_ratio: usize,
}

impl MaskedDiffusionConfig {
    /// The shipped size (assets/models/PROVENANCE.md): 2 layers of width 64, small enough to train in
    /// minutes on one CPU core.
    pub fn small(seq_len: usize, vocab: usize) -> Self {
        Self {
            seq_len,
            vocab,
            width: 64,
            layers: 2,
            heads: 4,
            mlp_ratio: 2,
        }
    }
}

/// Which model a file holds, with its architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    Dit(DitConfig),
    EulerStack(EulerStackConfig),
    MlpDenoiser(MlpDenoiserConfig),
    MaskedDiffusion(MaskedDiffusionConfig),
}

impl ModelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Dit(_) => "dit",
            ModelConfig::EulerStack(_) => "euler_stack",
            ModelConfig::MlpDenoiser(_) => "mlp_denoiser",
            ModelConfig::MaskedDiffusion(_) => "masked_diffusion",
        }
    }

    /// Rejects configurations no model can be built from; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: usize| {
            if (1..=MAX_SIZE).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} = {v} must be in 1..={MAX_SIZE}"))
            }
        };
        let finite_positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} = {v} must be finite and > 0"))
            }
        };
        match self {
            ModelConfig::Dit(c) => {
                positive("seq_len", c.seq_len)?;
                positive("channels", c.channels)?;
                positive("width", c.width)?;
                positive("blocks", c.blocks)?;
                if c.blocks > MAX_BLOCKS {
                    return Err(format!(
                        "blocks = {} must be at most {MAX_BLOCKS}",
                        c.blocks
                    ));
                }
                positive("heads", c.heads)?;
                positive("mlp_ratio", c.mlp_ratio)?;
                if c.prediction == DitPrediction::TokenLogits && c.channels < 2 {
                    return Err(format!(
                        "token_logits prediction needs at least 2 channels, got {}",
                        c.channels
                    ));
                }
                if !c.width.is_multiple_of(c.heads) || !c.width.is_multiple_of(2) {
                    return Err(format!(
                        "width {} must be even and divisible by heads {}",
                        c.width, c.heads
                    ));
                }
            }
            ModelConfig::EulerStack(c) => {
                positive("seq_len", c.seq_len)?;
                positive("vocab", c.vocab)?;
                positive("state", c.state)?;
                positive("embedding", c.embedding)?;
                positive("hidden", c.hidden)?;
                if c.slots < 2 {
                    return Err(format!("slots = {} must be at least 2", c.slots));
                }
                positive("slot_width", c.slot_width)?;
                finite_positive("eta", c.eta)?;
                if !(c.lambda_floor >= 0.0 && c.lambda_negative >= 0.0) {
                    return Err("lambda_floor and lambda_negative must be >= 0".into());
                }
            }
            ModelConfig::MlpDenoiser(c) => {
                positive("dim", c.dim)?;
                positive("hidden", c.hidden)?;
                positive("time_frequencies", c.time_frequencies)?;
                finite_positive("t_min", c.t_min)?;
                finite_positive("t_max", c.t_max)?;
                if c.t_min >= c.t_max {
                    return Err(format!("t_min {} must be below t_max {}", c.t_min, c.t_max));
                }
            }
            ModelConfig::MaskedDiffusion(c) => {
                positive("seq_len", c.seq_len)?;
                positive("width", c.width)?;
                positive("layers", c.layers)?;
                if c.layers > MAX_BLOCKS {
                    return Err(format!(
                        "layers = {} must be at most {MAX_BLOCKS}",
                        c.layers
                    ));
                }
                positive("heads", c.heads)?;
                positive("mlp_ratio", c.mlp_ratio)?;
                // Token ids are u8 with 255 the mask (model::discrete::MAX_VOCAB).
                if !(2..=255).contains(&c.vocab) {
                    return Err(format!("vocab = {} must be in 2..=255", c.vocab));
                }
                if !c.width.is_multiple_of(c.heads) {
                    return Err(format!(
                        "width {} must be divisible by heads {}",
                        c.width, c.heads
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The JSON stored under [`HEADER_KEY`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelHeader {
    pub format_version: u32,
    pub model: ModelConfig,
}
