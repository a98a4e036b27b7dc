//! Vector denoisers from ONNX files (issue #15), run on the CPU with `tract`: a graph that maps a batch
//! of states x `[N, d]` and times t `[N]` (both f32) to one prediction `[N, d]`. The scene names the
//! graph's input and output values, the prediction type (x₀, ε, v, velocity or score) and the model's
//! time convention (OU, DDPM step index, VP-SDE time, EDM σ or rectified-flow time); this module maps
//! OU time to the model's time and state, runs the graph and converts its prediction to the
//! E[x_0 | x_t] every sampler needs (`docs/science/speciation.md` §6). A graph with a class input runs
//! under classifier-free guidance (once for the rows' classes, once for the null class), and named
//! intermediate values can be read back as hidden states. Knows nothing of scenes or
//! the UI: the scene builds an [`OnnxOptions`] and reports the errors.

use crate::base::ou;
use crate::model::guidance::guided;
use crate::model::{Denoiser, Guide, ModelError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// ONNX files larger than this are refused before reading (vector denoisers are small).
const MAX_MODEL_BYTES: u64 = 1 << 30;
/// Largest DDPM `train_steps` accepted.
pub const MAX_TRAIN_STEPS: usize = 100_000;
/// Largest β (per step or per unit of VP time) and rectified-flow time scale accepted.
const MAX_BETA_RATE: f64 = 1e4;
const MAX_TIME_SCALE: f64 = 1e6;

/// What the graph's output is, in the model's own parameterisation x_m = α x_0 + σ z
/// (`docs/science/speciation.md` §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// The clean state x̂_0.
    X0,
    /// The noise ε̂ (ẑ).
    Eps,
    /// v = α ε − σ x_0 (Salimans & Ho).
    V,
    /// The rectified-flow velocity z − x_0.
    Velocity,
    /// The score ∇ ln p(x_m) of the model's state.
    Score,
}

impl Prediction {
    /// x̂_0 from the model's state `x` and its output `y` at (α, σ).
    pub fn to_x0(self, x: f64, y: f64, alpha: f64, sigma: f64) -> f64 {
        match self {
            Prediction::X0 => y,
            Prediction::Eps => (x - sigma * y) / alpha,
            Prediction::V => (alpha * x - sigma * y) / (alpha * alpha + sigma * sigma),
            Prediction::Velocity => (x - sigma * y) / (alpha + sigma),
            Prediction::Score => (x + sigma * sigma * y) / alpha,
        }
    }

    /// The output an exact model would give for the true x_0 and noise z at (α, σ) (for tests).
    pub fn from_x0_and_noise(self, x0: f64, z: f64, alpha: f64, sigma: f64) -> f64 {
        match self {
            Prediction::X0 => x0,
            Prediction::Eps => z,
            Prediction::V => alpha * z - sigma * x0,
            Prediction::Velocity => z - x0,
            Prediction::Score => -z / sigma,
        }
    }
}

/// The β schedules of DDPM (`diffusers` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// β_i linear from `beta_start` to `beta_end` (Ho et al.).
    Linear,
    /// √β_i linear from √`beta_start` to √`beta_end` (Stable Diffusion).
    ScaledLinear,
    /// ᾱ(u) = cos²((u + 0.008)/1.008 · π/2), β_i = min(1 − ᾱ((i+1)/N)/ᾱ(i/N), 0.999) (Nichol & Dhariwal).
    Cosine,
}

/// The model's time convention: what its time input means (`docs/science/speciation.md` §6.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeConvention {
    /// OU time t itself; the state is x_t. (Empty struct variants, so that unknown keys are refused.)
    Ou {},
    /// A (fractional) DDPM timestep index τ ∈ [0, N − 1] with ᾱ(τ) = e^{−2t}; the state is x_t.
    Ddpm {
        betas: BetaSchedule,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beta_start: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        beta_end: Option<f64>,
        #[serde(default = "default_train_steps")]
        train_steps: usize,
    },
    /// Score-SDE VP time s ∈ [0, 1], β(s) = β_min + s(β_max − β_min), ᾱ(s) = exp(−∫_0^s β).
    Vp {
        #[serde(default = "default_beta_min")]
        beta_min: f64,
        #[serde(default = "default_beta_max")]
        beta_max: f64,
    },
    /// EDM (Karras et al.): the input is σ with σ² = Δ_t/a_t², the state x_t/a_t = x_0 + σ z.
    Edm {},
    /// Rectified flow x_s = (1 − s) x_0 + s z, fed `scale`·s; the state is x_t scaled to the same
    /// signal-to-noise ratio.
    RectifiedFlow {
        #[serde(default = "default_scale")]
        scale: f64,
    },
}

impl Default for TimeConvention {
    fn default() -> Self {
        TimeConvention::Ou {}
    }
}

fn default_train_steps() -> usize {
    1000
}
fn default_beta_min() -> f64 {
    0.1
}
fn default_beta_max() -> f64 {
    20.0
}
fn default_scale() -> f64 {
    1.0
}

/// An invalid `time` block: the key under `time` and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeProblem {
    pub key: &'static str,
    pub message: String,
}

impl TimeConvention {
    /// Checks the parameters and precomputes what the conversion needs (the DDPM table).
    pub fn prepare(&self) -> Result<TimeMap, TimeProblem> {
        let problem = |key, message: String| Err(TimeProblem { key, message });
        match *self {
            TimeConvention::Ou {} => Ok(TimeMap::Ou),
            TimeConvention::Edm {} => Ok(TimeMap::Edm),
            TimeConvention::RectifiedFlow { scale } => {
                if !(scale > 0.0 && scale <= MAX_TIME_SCALE) {
                    return problem(
                        "scale",
                        format!("scale must be in (0, {MAX_TIME_SCALE:e}], got {scale}"),
                    );
                }
                Ok(TimeMap::RectifiedFlow { scale })
            }
            TimeConvention::Vp { beta_min, beta_max } => {
                if !(beta_min.is_finite() && (0.0..=MAX_BETA_RATE).contains(&beta_min)) {
                    return problem(
                        "beta_min",
                        format!("beta_min must be in [0, {MAX_BETA_RATE:e}], got {beta_min}"),
                    );
                }
                if !(beta_max.is_finite() && beta_max >= beta_min && beta_max > 0.0)
                    || beta_max > MAX_BETA_RATE
                {
                    return problem(
                        "beta_max",
                        format!(
                            "beta_max must be in [beta_min = {beta_min}, {MAX_BETA_RATE:e}] and > 0, \
                             got {beta_max}"
                        ),
                    );
                }
                Ok(TimeMap::Vp { beta_min, beta_max })
            }
            TimeConvention::Ddpm {
                betas,
                beta_start,
                beta_end,
                train_steps,
            } => {
                if !(2..=MAX_TRAIN_STEPS).contains(&train_steps) {
                    return problem(
                        "train_steps",
                        format!("train_steps must be in 2..={MAX_TRAIN_STEPS}, got {train_steps}"),
                    );
                }
                let schedule = match betas {
                    BetaSchedule::Cosine => {
                        if beta_start.is_some() || beta_end.is_some() {
                            let key = if beta_start.is_some() {
                                "beta_start"
                            } else {
                                "beta_end"
                            };
                            return problem(
                                key,
                                "the cosine schedule has no beta_start or beta_end".into(),
                            );
                        }
                        cosine_betas(train_steps)
                    }
                    BetaSchedule::Linear | BetaSchedule::ScaledLinear => {
                        let mut ends = [0.0; 2];
                        for (slot, (key, value)) in ends
                            .iter_mut()
                            .zip([("beta_start", beta_start), ("beta_end", beta_end)])
                        {
                            match value {
                                Some(b) if b > 0.0 && b < 1.0 => *slot = b,
                                Some(b) => {
                                    return problem(key, format!("must be in (0, 1), got {b}"));
                                }
                                None => {
                                    return problem(
                                        key,
                                        format!("missing: the {betas:?} schedule needs it")
                                            .to_lowercase(),
                                    );
                                }
                            }
                        }
                        if betas == BetaSchedule::Linear {
                            ou::ddpm_linear_betas(ends[0], ends[1], train_steps)
                        } else {
                            scaled_linear_betas(ends[0], ends[1], train_steps)
                        }
                    }
                };
                let times = ou::ddpm_times(&schedule).map_err(|message| TimeProblem {
                    key: "betas",
                    message,
                })?;
                Ok(TimeMap::Ddpm { times })
            }
        }
    }
}

/// √β linear from √start to √end over `n` steps (`diffusers`' `scaled_linear`).
pub fn scaled_linear_betas(start: f64, end: f64, n: usize) -> Vec<f64> {
    ou::ddpm_linear_betas(start.sqrt(), end.sqrt(), n)
        .into_iter()
        .map(|r| r * r)
        .collect()
}

/// The cosine schedule (`diffusers`' `squaredcos_cap_v2`), β capped at 0.999.
pub fn cosine_betas(n: usize) -> Vec<f64> {
    let alpha_bar = |u: f64| {
        ((u + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
            .cos()
            .powi(2)
    };
    (0..n)
        .map(|i| {
            let (u0, u1) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
            (1.0 - alpha_bar(u1) / alpha_bar(u0)).min(0.999)
        })
        .collect()
}

/// A checked time convention, ready to convert OU time (build it with [`TimeConvention::prepare`]).
#[derive(Clone, Debug, PartialEq)]
pub enum TimeMap {
    Ou,
    /// OU times t_n = −½ ln ᾱ_n of the timestep indices n = 0 … N − 1.
    Ddpm {
        times: Vec<f64>,
    },
    Vp {
        beta_min: f64,
        beta_max: f64,
    },
    Edm,
    RectifiedFlow {
        scale: f64,
    },
}

/// Where OU time t puts a model: the time it is fed, the factor c of its state x_m = c·x_t, and its
/// parameterisation x_m = α x_0 + σ z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelTime {
    pub input: f64,
    pub state_scale: f64,
    pub alpha: f64,
    pub sigma: f64,
}

impl TimeMap {
    /// The model's time, state scale and (α, σ) at OU time t > 0.
    pub fn at(&self, t: f64) -> ModelTime {
        let (a, root_delta) = (ou::signal(t), ou::noise_scale(t));
        let vp = |input| ModelTime {
            input,
            state_scale: 1.0,
            alpha: a,
            sigma: root_delta,
        };
        match self {
            TimeMap::Ou => vp(t),
            TimeMap::Ddpm { times } => vp(ddpm_index(times, t)),
            TimeMap::Vp { beta_min, beta_max } => {
                // ½(β_min s + ½(β_max − β_min) s²) = t, solved without cancellation.
                let slope = beta_max - beta_min;
                vp(4.0 * t / (beta_min + (beta_min * beta_min + 4.0 * slope * t).sqrt()))
            }
            TimeMap::Edm => ModelTime {
                input: (2.0 * t).exp_m1().sqrt(),
                state_scale: t.exp(),
                alpha: 1.0,
                sigma: (2.0 * t).exp_m1().sqrt(),
            },
            TimeMap::RectifiedFlow { scale } => {
                let s = root_delta / (a + root_delta);
                ModelTime {
                    input: scale * s,
                    state_scale: 1.0 / (a + root_delta),
                    alpha: a / (a + root_delta),
                    sigma: s,
                }
            }
        }
    }

    /// The OU time of a model time input (the inverse of `at(t).input`; for tests and documentation).
    pub fn ou_time(&self, input: f64) -> f64 {
        match self {
            TimeMap::Ou => input,
            TimeMap::Ddpm { times } => {
                let i = (input.floor().max(0.0) as usize).min(times.len() - 2);
                times[i] + (input - i as f64) * (times[i + 1] - times[i])
            }
            TimeMap::Vp { beta_min, beta_max } => {
                0.5 * (beta_min * input + 0.5 * (beta_max - beta_min) * input * input)
            }
            TimeMap::Edm => 0.5 * (input * input).ln_1p(),
            TimeMap::RectifiedFlow { scale } => {
                let s = input / scale;
                // a_t/√Δ_t = (1 − s)/s ⇒ e^{2t} − 1 = s²/(1 − s)².
                0.5 * (s * s / ((1.0 - s) * (1.0 - s))).ln_1p()
            }
        }
    }
}

/// The fractional index τ with −½ ln ᾱ(τ) = t, ln ᾱ piecewise linear between the integer steps (and
/// extended linearly past both ends).
fn ddpm_index(times: &[f64], t: f64) -> f64 {
    let i = times.partition_point(|&tn| tn <= t).saturating_sub(1);
    let i = i.min(times.len() - 2);
    i as f64 + (t - times[i]) / (times[i + 1] - times[i])
}

/// Graph names, the prediction and time convention of an ONNX denoiser (the scene's keys).
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxOptions {
    pub path: PathBuf,
    /// Values per state (C·H·W for an image model).
    pub dim: usize,
    /// `[C, H, W]` of an image model: x is fed and the output read as `[N, C, H, W]`; `None` for
    /// `[N, dim]`. Everywhere else a state stays a flat row of `dim` values.
    pub shape: Option<[usize; 3]>,
    pub input_x: String,
    pub input_t: String,
    pub output: String,
    pub prediction: Prediction,
    pub time: TimeConvention,
}

/// The keys of a class-conditional graph or one with hidden values, beyond the plain denoiser's
/// [`OnnxOptions`] (kept apart so that a plain denoiser is built as before).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OnnxExtras {
    /// The class input `[N]` and its unconditional label (`inputs.class`, `null_class`).
    pub class: Option<ClassInput>,
    /// Graph values captured as hidden states (`hidden`), each `[N, …]`.
    pub hidden: Vec<String>,
}

/// A class input: its name and the label that means "no class" (∅ of classifier-free guidance).
#[derive(Clone, Debug, PartialEq)]
pub struct ClassInput {
    pub name: String,
    pub null: u32,
}

impl OnnxOptions {
    /// The shape of one state as the graph takes and returns it: `[dim]` or `[C, H, W]`.
    pub fn state_shape(&self) -> Vec<usize> {
        self.shape.map_or_else(|| vec![self.dim], |s| s.to_vec())
    }

    /// The scene key that fixes the state's shape.
    fn shape_key(&self) -> &'static str {
        if self.shape.is_some() {
            "model.shape"
        } else {
            "model.dim"
        }
    }
}

/// A batch shape `[rows, …state]` (symbolic or concrete rows).
fn batch_shape<D: From<usize>>(rows: D, state: &[usize]) -> TVec<D> {
    std::iter::once(rows)
        .chain(state.iter().map(|&n| D::from(n)))
        .collect()
}

/// The declared shape of a graph value as text, when it contradicts `[N, …state]` (a known rank or a
/// known non-batch dimension that differs).
fn contradicts(
    shape: &tract_onnx::tract_hir::infer::ShapeFactoid,
    state: &[usize],
) -> Option<String> {
    let rank = shape.rank().concretize();
    let differs = state.iter().enumerate().any(|(i, &n)| {
        shape
            .dim(i + 1)
            .and_then(|d| d.concretize())
            .is_some_and(|d| d.to_i64().is_ok_and(|d| d != n as i64))
    });
    (rank.is_some_and(|r| r != 1 + state.len() as i64) || differs).then(|| format!("[{shape:?}]"))
}

/// Writes a shape as `[a, b, …]` (symbolic dimensions by name).
fn shape_text<D: std::fmt::Display>(dims: impl IntoIterator<Item = D>) -> String {
    let dims: Vec<String> = dims.into_iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// The batch shape `[N, …state]` as text.
fn batch_text(state: &[usize]) -> String {
    shape_text(std::iter::once("N".to_string()).chain(state.iter().map(ToString::to_string)))
}

/// What can go wrong with an ONNX denoiser. Each message names the scene key involved and ends with
/// the model file.
#[derive(Debug, Error)]
pub enum OnnxError {
    #[error("model.path: {problem}: {path}")]
    File { path: PathBuf, problem: FileProblem },
    #[error("model.path: not a loadable ONNX model ({problem}): {path}")]
    Load { path: PathBuf, problem: String },
    #[error(
        "model.inputs.{role}: the graph has no input named {name:?} (its inputs: {available}): {path}"
    )]
    MissingInput {
        path: PathBuf,
        role: &'static str,
        name: String,
        available: String,
    },
    #[error(
        "model.inputs.{role}: the graph's input {name:?} has {found}, but diffscope feeds {expected}: {path}"
    )]
    InputShape {
        path: PathBuf,
        role: &'static str,
        name: String,
        found: String,
        expected: String,
    },
    #[error(
        "model.output: the graph has no value named {name:?} (its outputs: {available}): {path}"
    )]
    MissingOutput {
        path: PathBuf,
        name: String,
        available: String,
    },
    #[error(
        "model.dim: the scene says dim = {expected}, but the graph's input {name:?} has {found} columns: {path}"
    )]
    Dim {
        path: PathBuf,
        name: String,
        expected: usize,
        found: String,
    },
    #[error(
        "model.hidden: the graph has no value named {name:?} (its outputs: {available}): {path}"
    )]
    MissingHidden {
        path: PathBuf,
        name: String,
        available: String,
    },
    #[error(
        "model.hidden: the graph's value {name:?} has shape {found:?}, expected {rows} rows first: {path}"
    )]
    HiddenShape {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        rows: usize,
    },
    #[error("model.hidden: the graph's value {name:?} is {what} at OU time t = {t}: {path}")]
    HiddenNonFinite {
        path: PathBuf,
        name: String,
        what: &'static str,
        t: f64,
    },
    #[error(
        "{key}: the scene's state is {expected} per row, but the graph's {value} is {found}: {path}"
    )]
    Shape {
        path: PathBuf,
        key: &'static str,
        /// The graph value, e.g. `input "x"`.
        value: String,
        expected: String,
        found: String,
    },
    #[error("model.shape: {shape:?} holds {} values, but dim = {dim}: {path}", shape.iter().product::<usize>())]
    ShapeDim {
        path: PathBuf,
        shape: Vec<usize>,
        dim: usize,
    },
    #[error("model.time.{key}: {message}: {path}")]
    Time {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
    #[error("{key}: tract cannot prepare the graph for x {x} and t [N] ({problem}): {path}")]
    Optimise {
        path: PathBuf,
        /// `model.dim`, or `model.shape` for an image model.
        key: &'static str,
        /// The batch shape of x, `[N, dim]` or `[N, C, H, W]`.
        x: String,
        problem: String,
    },
    #[error(
        "model.output: the graph's output {name:?} has shape {found:?}, expected {expected:?}: {path}"
    )]
    OutputShape {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error(
        "model.output: the graph's output {name:?} is {what} at OU time t = {t} (model time {input}): {path}"
    )]
    NonFinite {
        path: PathBuf,
        name: String,
        what: &'static str,
        t: f64,
        input: f64,
    },
    #[error("model.path: running the graph failed at OU time t = {t} ({problem}): {path}")]
    Run {
        path: PathBuf,
        t: f64,
        problem: String,
    },
}

/// Why an ONNX file could not be read into a graph (the key naming the file is the caller's).
#[derive(Debug, Error)]
pub enum FileProblem {
    #[error("cannot read the ONNX model ({0})")]
    Read(std::io::Error),
    #[error("{0} bytes is larger than the {MAX_MODEL_BYTES}-byte limit for a model")]
    TooLarge(u64),
    #[error("not a loadable ONNX model ({0})")]
    Load(String),
}

type Plan = Arc<TypedRunnableModel>;

/// An ONNX graph as a [`Denoiser`] in OU time.
pub struct OnnxDenoiser {
    options: OnnxOptions,
    extras: OnnxExtras,
    /// The class input's element type (int64, or float32 when the graph declares it).
    class_type: DatumType,
    time: TimeMap,
    /// One plan for every batch size (N symbolic), when tract can optimise the graph so.
    symbolic: Option<Plan>,
    /// Otherwise the graph with its inputs and output chosen, optimised per batch size on first use.
    graph: InferenceModel,
    per_rows: Mutex<HashMap<usize, Plan>>,
}

/// The name of every source or output of a graph, quoted and joined.
pub(crate) fn outlet_names(model: &InferenceModel, outlets: &[OutletId]) -> String {
    let names: Vec<String> = outlets
        .iter()
        .map(|o| {
            let name = model
                .outlet_label(*o)
                .unwrap_or_else(|| model.node(o.node).name.as_str());
            format!("{name:?}")
        })
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Runs `f`, turning a panic inside tract into an error message.
pub(crate) fn guarded<T>(f: impl FnOnce() -> TractResult<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(panic) => Err(format!(
            "tract panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
        )),
    }
}

/// Reads an ONNX file no larger than the size limit into a graph (inputs and outputs as the file has
/// them).
pub(crate) fn read_checked(path: &Path) -> Result<InferenceModel, FileProblem> {
    let size = std::fs::metadata(path).map_err(FileProblem::Read)?.len();
    if size > MAX_MODEL_BYTES {
        return Err(FileProblem::TooLarge(size));
    }
    guarded(|| onnx().model_for_path(path)).map_err(FileProblem::Load)
}

impl OnnxDenoiser {
    /// Loads and checks the graph: input and output names, the input shapes against `dim`, the time
    /// convention, and that tract can optimise it for x `[N, dim]`, t `[N]`.
    pub fn load(options: &OnnxOptions) -> Result<Self, OnnxError> {
        Self::load_with(options, &OnnxExtras::default())
    }

    /// [`Self::load`] with a class input (fed `[N]`, int64 unless the graph declares float32) and
    /// hidden values kept as extra outputs, each checked to exist.
    pub fn load_with(options: &OnnxOptions, extras: &OnnxExtras) -> Result<Self, OnnxError> {
        let path = &options.path;
        let time = options.time.prepare().map_err(|p| OnnxError::Time {
            path: path.clone(),
            key: p.key,
            message: p.message,
        })?;
        let mut model = read_checked(path).map_err(|problem| OnnxError::File {
            path: path.clone(),
            problem,
        })?;
        let sources = model.input_outlets().map(<[_]>::to_vec).unwrap_or_default();
        let state = options.state_shape();
        if state.iter().product::<usize>() != options.dim {
            return Err(OnnxError::ShapeDim {
                path: path.clone(),
                shape: state,
                dim: options.dim,
            });
        }
        let mut chosen = Vec::with_capacity(2);
        for (role, name, rank, expected) in [
            (
                "x",
                &options.input_x,
                1 + state.len() as i64,
                format!("{} float32", batch_text(&state)),
            ),
            ("t", &options.input_t, 1, "[N] float32".to_string()),
        ] {
            let Some(&outlet) = sources.iter().find(|o| model.node(o.node).name == *name) else {
                return Err(OnnxError::MissingInput {
                    path: path.clone(),
                    role,
                    name: name.clone(),
                    available: outlet_names(&model, &sources),
                });
            };
            let declared = model.outlet_fact(outlet).map(|f| f.shape.clone()).ok();
            if let Some(shape) = declared {
                // An image model's rank is part of its `shape` key.
                if role == "x"
                    && options.shape.is_some()
                    && let Some(found) = contradicts(&shape, &state)
                {
                    return Err(OnnxError::Shape {
                        path: path.clone(),
                        key: "model.shape",
                        value: format!("input {name:?}"),
                        expected: shape_text(&state),
                        found,
                    });
                }
                let declared_rank = shape.rank().concretize();
                if declared_rank.is_some_and(|r| r != rank) {
                    return Err(OnnxError::InputShape {
                        path: path.clone(),
                        role,
                        name: name.clone(),
                        found: format!("rank {}", declared_rank.unwrap_or_default()),
                        expected,
                    });
                }
                if role == "x"
                    && options.shape.is_none()
                    && let Some(columns) = shape.dim(1).and_then(|d| d.concretize())
                    && columns.to_i64().is_ok_and(|c| c != options.dim as i64)
                {
                    return Err(OnnxError::Dim {
                        path: path.clone(),
                        name: name.clone(),
                        expected: options.dim,
                        found: columns.to_string(),
                    });
                }
            }
            chosen.push(outlet);
        }
        let class_type = match &extras.class {
            Some(class) => {
                let (outlet, class_type) = class_source(&model, &sources, path, &class.name)?;
                chosen.push(outlet);
                class_type
            }
            None => DatumType::I64,
        };
        let outputs = model
            .output_outlets()
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        model
            .select_outputs_by_name([&options.output])
            .map_err(|_| OnnxError::MissingOutput {
                path: path.clone(),
                name: options.output.clone(),
                available: outlet_names(&model, &outputs),
            })?;
        let declared = model.output_outlets().ok().and_then(|o| o.first().copied());
        if let Some(found) = declared
            .and_then(|o| model.outlet_fact(o).ok())
            .and_then(|fact| contradicts(&fact.shape, &state))
        {
            return Err(OnnxError::Shape {
                path: path.clone(),
                key: options.shape_key(),
                value: format!("output {:?}", options.output),
                expected: shape_text(&state),
                found,
            });
        }
        for name in &extras.hidden {
            model
                .select_outputs_by_name([name])
                .map_err(|_| OnnxError::MissingHidden {
                    path: path.clone(),
                    name: name.clone(),
                    available: outlet_names(&model, &outputs),
                })?;
        }
        model
            .select_outputs_by_name(std::iter::once(&options.output).chain(&extras.hidden))
            .map_err(|e| OnnxError::Load {
                path: path.clone(),
                problem: format!("{e:#}"),
            })?;
        model
            .set_input_outlets(&chosen)
            .map_err(|e| OnnxError::Load {
                path: path.clone(),
                problem: format!("{e:#}"),
            })?;
        let rows = model.symbols.sym("N");
        let class = extras.class.as_ref().map(|_| class_type);
        let symbolic = Self::optimise(&model, &state, class, rows.to_dim());
        let denoiser = OnnxDenoiser {
            options: options.clone(),
            extras: extras.clone(),
            class_type,
            time,
            symbolic: symbolic.ok(),
            graph: model,
            per_rows: Mutex::new(HashMap::new()),
        };
        if denoiser.symbolic.is_none() {
            // Surfaces a graph tract cannot run at all now rather than at the first step.
            denoiser.plan(1)?;
        }
        Ok(denoiser)
    }

    /// The graph optimised for x `[rows, …state]`, t `[rows]` and, when `class` is given, a class
    /// input `[rows]` of that type.
    fn optimise(
        model: &InferenceModel,
        state: &[usize],
        class: Option<DatumType>,
        rows: TDim,
    ) -> Result<Plan, String> {
        guarded(|| {
            let mut model = model
                .clone()
                .with_input_fact(0, f32::fact(batch_shape(rows.clone(), state)).into())?
                .with_input_fact(1, f32::fact([rows.clone()]).into())?;
            if let Some(class) = class {
                model = model.with_input_fact(2, class.fact([rows]).into())?;
            }
            model.into_optimized()?.into_runnable()
        })
    }

    /// The plan for batches of `rows` rows.
    fn plan(&self, rows: usize) -> Result<Plan, OnnxError> {
        if let Some(plan) = &self.symbolic {
            return Ok(plan.clone());
        }
        let mut cache = self.per_rows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = cache.get(&rows) {
            return Ok(plan.clone());
        }
        let class = self.extras.class.as_ref().map(|_| self.class_type);
        let plan = Self::optimise(
            &self.graph,
            &self.options.state_shape(),
            class,
            rows.to_dim(),
        )
        .map_err(|problem| OnnxError::Optimise {
            path: self.options.path.clone(),
            key: self.options.shape_key(),
            x: batch_text(&self.options.state_shape()),
            problem,
        })?;
        cache.insert(rows, plan.clone());
        Ok(plan)
    }

    pub fn options(&self) -> &OnnxOptions {
        &self.options
    }

    /// Whether one optimised plan serves every batch size (else one per size is built and kept).
    pub fn has_symbolic_batch(&self) -> bool {
        self.symbolic.is_some()
    }

    /// The raw graph output for states `x` (`[n, d]`, already in the model's parameterisation) at
    /// model time `input` (unconditional when the graph has a class input).
    pub fn run_raw(&self, x: &[f32], input: f32, t: f64) -> Result<Vec<f32>, OnnxError> {
        let outputs = self.run_graph(x, input, t, &[])?;
        self.prediction_of(&outputs, x.len() / self.options.dim, t)
    }

    /// Every selected value (the prediction, then the hidden values) for states `x` (`[n, d]`, in the
    /// model's parameterisation) at model time `input`, row i conditioned on `classes[i]` (the null
    /// class when `classes` is empty or the graph has no class input).
    fn run_graph(
        &self,
        x: &[f32],
        input: f32,
        t: f64,
        classes: &[u32],
    ) -> Result<TVec<TValue>, OnnxError> {
        let dim = self.options.dim;
        let rows = x.len() / dim;
        let plan = self.plan(rows)?;
        let labels = self.extras.class.as_ref().map(|class| {
            (0..rows)
                .map(|i| classes.get(i).copied().unwrap_or(class.null))
                .collect::<Vec<u32>>()
        });
        guarded(|| {
            let states = Tensor::from_shape(&batch_shape(rows, &self.options.state_shape()), x)?;
            let times = Tensor::from_shape(&[rows], &vec![input; rows])?;
            let mut inputs = tvec!(states.into(), times.into());
            if let Some(labels) = &labels {
                let tensor = if self.class_type == DatumType::F32 {
                    let values: Vec<f32> = labels.iter().map(|&k| k as f32).collect();
                    Tensor::from_shape(&[rows], &values)?
                } else {
                    let values: Vec<i64> = labels.iter().map(|&k| i64::from(k)).collect();
                    Tensor::from_shape(&[rows], &values)?
                };
                inputs.push(tensor.into());
            }
            plan.run(inputs)
        })
        .map_err(|problem| self.run_error(t, problem))
    }

    fn run_error(&self, t: f64, problem: String) -> OnnxError {
        OnnxError::Run {
            path: self.options.path.clone(),
            t,
            problem,
        }
    }

    /// The prediction `[rows, d]` among a run's `outputs` (the first), its shape checked.
    fn prediction_of(
        &self,
        outputs: &[TValue],
        rows: usize,
        t: f64,
    ) -> Result<Vec<f32>, OnnxError> {
        let output = outputs
            .first()
            .ok_or_else(|| self.run_error(t, "the graph returned no output".into()))?;
        let view = output
            .to_plain_array_view::<f32>()
            .map_err(|e| self.run_error(t, format!("output is not float32: {e}")))?;
        let expected = batch_shape(rows, &self.options.state_shape());
        if view.shape() != expected.as_slice() {
            return Err(OnnxError::OutputShape {
                path: self.options.path.clone(),
                name: self.options.output.clone(),
                found: view.shape().to_vec(),
                expected: expected.to_vec(),
            });
        }
        Ok(view.iter().copied().collect())
    }

    /// E[x_0 | x_t] of every row of `x` at OU time t into `denoised`, row i conditioned on
    /// `classes[i]` (empty: unconditional); shapes checked by the caller.
    fn denoise_rows(
        &self,
        x: &[f32],
        t: f64,
        classes: &[u32],
        denoised: &mut [f32],
    ) -> Result<(), OnnxError> {
        if x.is_empty() {
            return Ok(());
        }
        let at = self.time.at(t);
        let scaled = scale_states(x, at.state_scale);
        let outputs = self.run_graph(&scaled, at.input as f32, t, classes)?;
        let output = self.prediction_of(&outputs, x.len() / self.options.dim, t)?;
        let prediction = self.options.prediction;
        for ((out, &xm), &y) in denoised.iter_mut().zip(&scaled).zip(&output) {
            if !y.is_finite() {
                return Err(OnnxError::NonFinite {
                    path: self.options.path.clone(),
                    name: self.options.output.clone(),
                    what: if y.is_nan() { "NaN" } else { "infinite" },
                    t,
                    input: at.input,
                });
            }
            *out = prediction.to_x0(f64::from(xm), f64::from(y), at.alpha, at.sigma) as f32;
        }
        Ok(())
    }

    /// The names of the captured hidden values, in the order [`Self::hidden_states`] returns them.
    pub fn hidden_names(&self) -> &[String] {
        &self.extras.hidden
    }

    /// The hidden values of rows `x` (`[n, d]`, OU states) at OU time t: one `[n, h]` per name of
    /// [`Self::hidden_names`], a value of any shape `[n, …]` flattened per row (and converted to f32).
    /// Row i is evaluated conditioned on `classes[i]`, the class a guided sampler conditions it on;
    /// with `classes` empty (or a graph without a class input) every row is evaluated unconditionally,
    /// as an unguided sampler evaluates it.
    pub fn hidden_states(
        &self,
        x: &[f32],
        t: f64,
        classes: &[u32],
    ) -> Result<Vec<Vec<f32>>, OnnxError> {
        let rows = x.len() / self.options.dim;
        if rows == 0 {
            return Ok(vec![Vec::new(); self.extras.hidden.len()]);
        }
        let at = self.time.at(t);
        let outputs = self.run_graph(
            &scale_states(x, at.state_scale),
            at.input as f32,
            t,
            classes,
        )?;
        if outputs.len() != 1 + self.extras.hidden.len() {
            return Err(self.run_error(
                t,
                format!(
                    "the graph returned {} values, expected the output and {} hidden values",
                    outputs.len(),
                    self.extras.hidden.len()
                ),
            ));
        }
        let path = &self.options.path;
        self.extras
            .hidden
            .iter()
            .zip(outputs.iter().skip(1))
            .map(|(name, value)| {
                let value = value
                    .cast_to::<f32>()
                    .map_err(|e| self.run_error(t, format!("{name:?} is not numeric: {e}")))?;
                if value.shape().first() != Some(&rows) {
                    return Err(OnnxError::HiddenShape {
                        path: path.clone(),
                        name: name.clone(),
                        found: value.shape().to_vec(),
                        rows,
                    });
                }
                let values: Vec<f32> = value
                    .to_plain_array_view::<f32>()
                    .map_err(|e| self.run_error(t, format!("{e}")))?
                    .iter()
                    .copied()
                    .collect();
                match values.iter().find(|v| !v.is_finite()) {
                    Some(v) => Err(OnnxError::HiddenNonFinite {
                        path: path.clone(),
                        name: name.clone(),
                        what: if v.is_nan() { "NaN" } else { "infinite" },
                        t,
                    }),
                    None => Ok(values),
                }
            })
            .collect()
    }
}

/// The model's states c·x_t of OU states `x`.
fn scale_states(x: &[f32], scale: f64) -> Vec<f32> {
    x.iter().map(|&v| (f64::from(v) * scale) as f32).collect()
}

/// The class input `name` among the graph's `sources`, and the type it is fed: int64, or float32 when
/// the graph declares it; a rank other than 1 or another type is refused.
fn class_source(
    model: &InferenceModel,
    sources: &[OutletId],
    path: &Path,
    name: &str,
) -> Result<(OutletId, DatumType), OnnxError> {
    let Some(&outlet) = sources.iter().find(|o| model.node(o.node).name == name) else {
        return Err(OnnxError::MissingInput {
            path: path.to_path_buf(),
            role: "class",
            name: name.into(),
            available: outlet_names(model, sources),
        });
    };
    let shape_error = |found: String| OnnxError::InputShape {
        path: path.to_path_buf(),
        role: "class",
        name: name.into(),
        found,
        expected: "[N] int64 (or float32)".into(),
    };
    let fact = model.outlet_fact(outlet).ok();
    if let Some(rank) = fact.and_then(|f| f.shape.rank().concretize())
        && rank != 1
    {
        return Err(shape_error(format!("rank {rank}")));
    }
    match fact.and_then(|f| f.datum_type.concretize()) {
        None | Some(DatumType::I64) => Ok((outlet, DatumType::I64)),
        Some(DatumType::F32) => Ok((outlet, DatumType::F32)),
        Some(other) => Err(shape_error(format!("type {other:?}"))),
    }
}

impl Denoiser for OnnxDenoiser {
    fn dim(&self) -> usize {
        self.options.dim
    }

    fn denoise(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.check_batch(x, denoised, posterior.as_deref(), t)?;
        self.denoise_rows(x, t, &[], denoised)
            .map_err(|e| ModelError::Evaluation(e.to_string()))
    }

    fn is_class_conditional(&self) -> bool {
        self.extras.class.is_some()
    }

    /// Runs the graph on the rows twice, conditioned on their classes and on the null class (as one
    /// batch of 2n rows), and mixes the two x̂_0 as `guidance::guided` does.
    fn denoise_guided(
        &self,
        x: &[f32],
        t: f64,
        guide: Guide<'_>,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        let n = self.check_batch(x, denoised, posterior.as_deref(), t)?;
        let Some(class) = &self.extras.class else {
            return Err(ModelError::Invalid(format!(
                "classifier-free guidance needs a class input (model.inputs.class), which {} has not",
                self.options.path.display()
            )));
        };
        guide.check_rows(n)?;
        let both_x = [x, x].concat();
        let both_classes: Vec<u32> = guide
            .classes
            .iter()
            .copied()
            .chain(std::iter::repeat_n(class.null, n))
            .collect();
        let mut both = vec![0f32; 2 * x.len()];
        self.denoise_rows(&both_x, t, &both_classes, &mut both)
            .map_err(|e| ModelError::Evaluation(e.to_string()))?;
        let (conditional, unconditional) = both.split_at(x.len());
        for ((out, &c), &u) in denoised.iter_mut().zip(conditional).zip(unconditional) {
            *out = guided(f64::from(u), f64::from(c), guide.w) as f32;
        }
        Ok(())
    }
}
