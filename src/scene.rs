//! Scene files: the JSON contract between the app, the CLI, the tests and saved sessions
//! (README.md, "Scene file"). Owns parsing (strict: unknown keys, wrong types and out-of-range
//! numbers are errors naming the key path and the file), range checks and building analytic models;
//! it does not run samplers or analyses — the sampler and speciation specs are plain data.
//!
//! The top-level `noise` block splits scene files in two: Gaussian noise (the default) gives a
//! [`Scene`], mask or flip noise a [`TokenScene`] (`scene/tokens.rs`, `docs/science/discrete.md` §7);
//! [`SceneFile`] reads either (the app, `render`, `sample`, `speciation`). They are separate types so
//! that every front that only knows continuous scenes (sessions, `record`, `train`) refuses a token
//! scene with one error instead of misreading it.

pub mod caption;
mod tokens;

pub use tokens::{
    DyckLabels, DyckSpec, LearnedMaskedSpec, NoiseKind, SceneTokenModel, TokenModelSpec,
    TokenSamplerKind, TokenScene,
};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::diffusion::{GridSpacing, InitKind as Init, SamplingSpec, StepKind, StoreSteps};
use crate::model::analytic::AnalyticModel;
use crate::model::class_labeller::{LabellerSpec, MAX_CLASSES};
use crate::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture, eigen_full};
use crate::model::guidance::MAX_GUIDANCE;
use crate::model::ising::{Boundary, IsingComponentSpec, IsingMixture};
use crate::model::learned::{self, LearnedModel};
use crate::model::onnx::{
    ClassInput, OnnxDenoiser, OnnxExtras, OnnxOptions, Prediction, TimeConvention,
};
use crate::model::{Denoiser, ExactModel};

/// Why a scene could not be read, checked or built.
#[derive(Debug, Error)]
pub enum SceneError {
    #[error("cannot read scene file: {source} ({file})")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid JSON at line {line}, column {column}: {message} ({file})")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// `key` is the path of the offending value, e.g. `model.components[1].cov.isotropic`.
    #[error("{key}: {message} ({file})")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot build the model: {0}")]
    Model(String),
    #[error("cannot write the scene as JSON: {0}")]
    Write(String),
}

/// A whole scene. Build it with `Scene::load` / `Scene::from_json_str` (which check every value).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scene {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    pub model: ModelSpec,
    pub sampler: SamplerSpec,
    pub trajectories: usize,
    pub seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speciation: Option<SpeciationSpec>,
    /// How the app first shows the scene (teaching scenes); ignored by the CLI's numerics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<ViewSpec>,
}

/// The default view of a scene: a few plain switches applied when the scene opens.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSpec {
    /// 2 or 3 projected dimensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dims: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<ViewColor>,
    /// The right-hand tab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tab: Option<ViewTab>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<ViewBasis>,
    /// Draw every step up to the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<bool>,
    /// Trail length in stored steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trails: Option<usize>,
    /// Draw the hole overlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holes: Option<bool>,
    /// Open at the stored step nearest this time (default: the last step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
}

/// `"class"`, `"time"` or `{"posterior": k}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ViewColor {
    Class,
    Time,
    Posterior(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewTab {
    Speciation,
    Metrics,
    Inspector,
    /// The theory tab: the ½ ln d and ¼ ln d laws, and the dendrogram of the pairwise times.
    Theory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewBasis {
    PerStep,
    Pooled,
}

/// The data law.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    GaussianMixture(GaussianMixtureSpec),
    IsingMixture(IsingMixtureSpec),
    Learned(LearnedSpec),
    /// Hidden states of a Dyck-2 sequence model (DiT or Euler-Stack), or a `hidden` layer of an ONNX
    /// scene's model, as a trajectory cloud.
    HiddenStates(HiddenStatesSpec),
    /// A vector denoiser from an ONNX file (`docs/science/speciation.md` §6).
    Onnx(OnnxSpec),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianMixtureSpec {
    pub dim: usize,
    pub components: Vec<GaussianComponent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianComponent {
    pub weight: f64,
    /// None = the zero vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<MeanSpec>,
    pub cov: CovSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// `[..]`, `{"fill": v}` or `{"axis": i, "value": v}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum MeanSpec {
    Vector(Vec<f64>),
    Fill { fill: f64 },
    Axis { axis: usize, value: f64 },
}

/// `{"isotropic": s2}`, `{"diagonal": [..]}`, `{"spiked": {..}}` or `{"full": [[..], ..]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CovSpec {
    Isotropic(f64),
    Diagonal(Vec<f64>),
    Spiked(SpikedSpec),
    Full(Vec<Vec<f64>>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikedSpec {
    pub base: f64,
    pub spike: f64,
    pub axis: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsingMixtureSpec {
    pub dim: usize,
    pub coupling: f64,
    pub boundary: BoundarySpec,
    /// Spin scale c: x_0 = c σ.
    #[serde(default = "default_scale")]
    pub scale: f64,
    pub components: Vec<IsingComponent>,
}

fn default_scale() -> f64 {
    1.0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundarySpec {
    Open,
    Periodic,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsingComponent {
    pub weight: f64,
    pub beta: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Uniform field h (`docs/science/discrete.md` §2(a)); only token scenes (mask or flip noise) can
    /// have h ≠ 0, the continuous Ising model has no field.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub field: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedSpec {
    pub path: PathBuf,
    /// A scene file whose analytic model the learned one imitates: its exact theory and posteriors
    /// are shown against the learned dynamics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<PathBuf>,
}

/// An ONNX graph x `[N, dim]`, t `[N]` → prediction `[N, dim]` (`docs/science/speciation.md` §6):
/// `{"kind": "onnx", "path": "model.onnx", "dim": 64, "inputs": {"x": "x", "t": "t"}, "output": "out",
/// "prediction": "x0", "time": {"kind": "ou"}, "reference": "scene.json"}`, optionally with a class input
/// (`"inputs": {"class": "y"}` and `"null_class": K`) for classifier-free guidance and `"hidden":
/// ["name", …]`, graph values a `hidden_states` scene shows. An image model gives `"shape": [C, H, W]`
/// instead of `dim` (x and the prediction `[N, C, H, W]`, d = C·H·W).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxSpec {
    pub path: PathBuf,
    /// Values per state of a vector model (exactly one of `dim` and `shape`; 32 bits, like the box,
    /// keep `Scene` as small as it was before `shape`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<std::num::NonZeroU32>,
    /// `[C, H, W]` of an image model (boxed: scenes are passed by value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Box<[usize; 3]>>,
    /// Names of the graph's state and time inputs (default `x` and `t`).
    #[serde(default)]
    pub inputs: OnnxInputs,
    /// Name of the graph value read as the prediction (default `out`).
    #[serde(default = "default_onnx_output")]
    pub output: String,
    pub prediction: Prediction,
    /// The model's time convention (default OU time).
    #[serde(default)]
    pub time: TimeConvention,
    /// A scene file whose analytic model the graph imitates, as for `learned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<PathBuf>,
    /// Classes without a reference: nearest mean, k-means on the final samples, or an ONNX
    /// classifier (`model::class_labeller`). Boxed: scenes are passed by value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labeller: Option<Box<LabellerSpec>>,
    /// The label of the class input that means "no class" (∅ of classifier-free guidance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_class: Option<u32>,
    /// Graph values captured at every stored step, each a layer a `hidden_states` scene can show.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxInputs {
    pub x: String,
    pub t: String,
    /// The class input `[N]` of a class-conditional graph (int64, or float32 if it says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

impl Default for OnnxInputs {
    fn default() -> Self {
        OnnxInputs {
            x: "x".into(),
            t: "t".into(),
            class: None,
        }
    }
}

impl OnnxSpec {
    /// Values per state: `dim`, or C·H·W of `shape` (0 when neither is given: the checks refuse it).
    pub fn flat_dim(&self) -> usize {
        match (self.dim, self.shape.as_deref()) {
            (Some(dim), _) => dim.get() as usize,
            (None, Some(shape)) => shape.iter().product(),
            (None, None) => 0,
        }
    }
}

fn default_onnx_output() -> String {
    "out".into()
}

/// The DiT's mean-pooled block output at each Euler step (`sampler.steps` steps), or the
/// Euler-Stack's state after each token; `trajectories` sequences. With a `layer`, `path` is an `onnx`
/// scene file instead, and the layer one of its `hidden` values, captured at every stored step of its
/// model run with this scene's sampler, trajectories and seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HiddenStatesSpec {
    pub path: PathBuf,
    /// DiT block captured, counted from 1 (default: the last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<usize>,
    /// The `hidden` value of the ONNX scene at `path` to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// Reverse-time sampler settings (plain data; the engine converts them). `K` is the family of sampler
/// kinds: [`SamplerKind`] for Gaussian noise, [`TokenSamplerKind`] for token scenes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerSpec<K = SamplerKind> {
    pub kind: K,
    pub steps: usize,
    pub t_max: f64,
    pub t_min: f64,
    #[serde(default)]
    pub grid: TimeGrid,
    #[serde(default)]
    pub init: InitKind,
    #[serde(default)]
    pub store: StoreSpec,
    /// Classifier-free guidance `{"w": 2.0}` (Gaussian noise and mixture models only; `model::guidance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<GuidanceSpec>,
}

/// `"guidance": {"w": w}`: each trajectory is conditioned on a class drawn from the mixture weights and
/// denoised with x̂_0(∅) + w (x̂_0(k) − x̂_0(∅)); w = 0 is unconditional, w = 1 conditional sampling.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuidanceSpec {
    pub w: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    Sde,
    Ancestral,
    Ode,
    Ddim,
}

impl SamplerKind {
    pub const ALL: [SamplerKind; 4] = [
        SamplerKind::Sde,
        SamplerKind::Ancestral,
        SamplerKind::Ode,
        SamplerKind::Ddim,
    ];
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeGrid {
    #[default]
    Log,
    Linear,
}

/// Where trajectories start: forward-noised data samples (exact) or N(0, I).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitKind {
    #[default]
    Data,
    Gaussian,
}

/// Which steps are kept: `"all"`, `"final"` or `{"every": k}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreSpec {
    #[default]
    All,
    Final,
    Every(usize),
}

/// Speciation-lab settings (plain data; the speciation code converts them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeciationSpec {
    #[serde(default)]
    pub clone_times: CloneTimes,
    #[serde(default = "default_pairs")]
    pub pairs: usize,
    #[serde(default)]
    pub labels: LabelRule,
    /// Class → group partition for a coarse hierarchy level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<usize>>>,
    /// OU-time step of the lab's ancestral reverse runs (default 0.02, docs/science/speciation.md
    /// §3.4). The ancestral step replaces x_0 by its posterior mean and so loses a little variance per
    /// step; classes decided late (small t, e.g. Ising chains) need a smaller step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
}

fn default_pairs() -> usize {
    2000
}

/// `"auto"` or an explicit list of clone times.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CloneTimes {
    #[default]
    #[serde(with = "auto_keyword")]
    Auto,
    Times(Vec<f64>),
}

/// The literal string "auto" as a unit variant of an untagged enum.
mod auto_keyword {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("auto")
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        match String::deserialize(d)?.as_str() {
            "auto" => Ok(()),
            other => Err(D::Error::custom(format!(
                "expected \"auto\", got {other:?}"
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelRule {
    #[default]
    Argmax,
    Sampled,
}

/// The top level as read, with the model and sampler kept raw so the noise and the model's kind select
/// their schemas.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScene {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    noise: Option<tokens::NoiseSpec>,
    model: serde_json::Value,
    sampler: serde_json::Value,
    trajectories: usize,
    seed: u64,
    #[serde(default)]
    speciation: Option<SpeciationSpec>,
    #[serde(default)]
    view: Option<ViewSpec>,
}

// Ranges. Upper bounds reject absurd values (e.g. 1e308) that would only overflow later.
const MAX_DIM: usize = 65_536;
const MAX_COMPONENTS: usize = 256;
const MAX_ABS_MEAN: f64 = 1e6;
const MAX_VARIANCE: f64 = 1e6;
const MAX_ABS_COUPLING: f64 = 100.0;
const MAX_BETA: f64 = 1e3;
const MAX_SCALE: f64 = 1e3;
const MAX_STEPS: usize = 100_000;
const MAX_T: f64 = 50.0;
const MAX_TRAJECTORIES: usize = 10_000_000;
const MAX_PAIRS: usize = 10_000_000;
const WEIGHT_SUM_TOLERANCE: f64 = 1e-6;
const MAX_BLOCK: usize = 1024;

/// A number as a person would write it: 1e308, not 309 digits.
fn show(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Collects the file name for every error raised while checking one scene.
/// A caption's placeholders must name known quantities (`scene/caption.rs`).
fn check_caption(check: &Checker, caption: Option<&str>) -> Result<(), SceneError> {
    match caption.map(caption::check) {
        Some(Err(message)) => check.fail("caption", message),
        _ => Ok(()),
    }
}

struct Checker<'a> {
    file: &'a Path,
}

impl Checker<'_> {
    fn fail<T>(&self, key: impl Into<String>, message: impl Into<String>) -> Result<T, SceneError> {
        Err(SceneError::Invalid {
            file: self.file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        })
    }

    fn range(
        &self,
        key: &str,
        value: f64,
        low: f64,
        high: f64,
        what: &str,
    ) -> Result<(), SceneError> {
        if value.is_finite() && value >= low && value <= high {
            Ok(())
        } else {
            self.fail(
                key,
                format!(
                    "{what} must be in [{}, {}], got {}",
                    show(low),
                    show(high),
                    show(value)
                ),
            )
        }
    }

    fn count(
        &self,
        key: &str,
        value: usize,
        low: usize,
        high: usize,
        what: &str,
    ) -> Result<(), SceneError> {
        if (low..=high).contains(&value) {
            Ok(())
        } else {
            self.fail(
                key,
                format!("{what} must be in {low}..={high}, got {value}"),
            )
        }
    }

    /// Deserializes `value` as `T`, reporting the failing key as `prefix` + its path inside `value`.
    fn typed<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        value: serde_json::Value,
    ) -> Result<T, SceneError> {
        serde_path_to_error::deserialize(value).or_else(|e| {
            let inner = e.path().to_string();
            let key = match (prefix.is_empty(), inner.as_str()) {
                (true, _) => inner.clone(),
                (false, ".") => prefix.to_string(),
                (false, _) => format!("{prefix}.{inner}"),
            };
            let key = if key.is_empty() || key == "." {
                "(top level)".into()
            } else {
                key
            };
            self.fail(key, explain(&e.inner().to_string()))
        })
    }
}

/// Replaces serde's generic messages for the either-or values by the forms they accept.
fn explain(message: &str) -> String {
    if message.contains("untagged enum MeanSpec") {
        "expected a vector [..], {\"fill\": v} or {\"axis\": i, \"value\": v}".into()
    } else if message.contains("untagged enum CloneTimes") {
        "expected \"auto\" or a list of times [..]".into()
    } else if message.contains("expected map with a single key") {
        format!("{message} (one of \"isotropic\", \"diagonal\", \"spiked\", \"full\")")
    } else {
        message.to_string()
    }
}

impl Scene {
    /// Reads and checks a scene file. Relative model files are resolved against the scene file's
    /// folder here, once, so every front (CLI, app, render, sessions) opens the same model.
    pub fn load(path: &Path) -> Result<Scene, SceneError> {
        let text = std::fs::read_to_string(path).map_err(|source| SceneError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let mut scene = Scene::from_json_str(&text, path)?;
        scene.resolve_model_files(path.parent());
        Ok(scene)
    }

    /// Makes relative model files (learned weights, their reference scene, hidden-state models)
    /// absolute where they are found: against `base` (a scene or session file's folder), the working
    /// directory, then the shipped assets. A file found nowhere keeps the path the user wrote, so the
    /// error that follows names it as written.
    pub fn resolve_model_files(&mut self, base: Option<&Path>) {
        let files: Vec<&mut PathBuf> = match &mut self.model {
            ModelSpec::Learned(spec) => std::iter::once(&mut spec.path)
                .chain(spec.reference.as_mut())
                .collect(),
            ModelSpec::HiddenStates(spec) => vec![&mut spec.path],
            ModelSpec::Onnx(spec) => std::iter::once(&mut spec.path)
                .chain(spec.reference.as_mut())
                .chain(match spec.labeller.as_deref_mut() {
                    Some(LabellerSpec::Onnx { path, .. }) => Some(path),
                    _ => None,
                })
                .collect(),
            ModelSpec::GaussianMixture(_) | ModelSpec::IsingMixture(_) => Vec::new(),
        };
        for path in files.into_iter().filter(|p| p.is_relative()) {
            let found = crate::assets::resolve(path, base);
            if found.exists()
                && let Ok(absolute) = std::path::absolute(&found)
            {
                *path = absolute;
            }
        }
    }

    /// Parses and checks scene JSON; `origin` names the file in errors. A token scene (mask or flip
    /// noise) is refused with an error naming `noise.kind`: read those with [`SceneFile`].
    pub fn from_json_str(text: &str, origin: &Path) -> Result<Scene, SceneError> {
        match SceneFile::from_json_str(text, origin)? {
            SceneFile::Diffusion(scene) => Ok(scene),
            SceneFile::Tokens(tokens) => Checker { file: origin }.fail(
                "noise.kind",
                format!(
                    "{} noise makes this a token scene, which only the app (with `render`), \
                     `diffscope sample` and `diffscope speciation` run so far",
                    tokens.noise.name()
                ),
            ),
        }
    }

    /// The scene of a raw file under Gaussian noise (checked by the caller).
    fn from_raw(check: &Checker, raw: RawScene) -> Result<Scene, SceneError> {
        // The model first: a token-only model under Gaussian noise is the more basic mistake.
        let model = parse_model(check, raw.model)?;
        check_sampler_family(check, &raw.sampler, NoiseKind::Gaussian)?;
        check_caption(check, raw.caption.as_deref())?;
        Ok(Scene {
            title: raw.title,
            caption: raw.caption,
            model,
            sampler: check.typed("sampler", raw.sampler)?,
            trajectories: raw.trajectories,
            seed: raw.seed,
            speciation: raw.speciation,
            view: raw.view,
        })
    }

    /// Checks every range and shape (also after a scene was edited in code).
    pub fn validate(&self, origin: &Path) -> Result<(), SceneError> {
        let check = Checker { file: origin };
        check_caption(&check, self.caption.as_deref())?;
        validate_model(&check, &self.model)?;
        validate_run(
            &check,
            &self.sampler,
            self.trajectories,
            self.speciation.as_ref(),
            self.model.class_count(),
        )?;
        if let Some(guidance) = &self.sampler.guidance {
            validate_guidance(&check, guidance, &self.model)?;
        }
        if let Some(v) = &self.view {
            validate_view(&check, v)?;
        }
        Ok(())
    }

    /// One line saying what the scene is: its title and the parameters that define its figures (the
    /// caption line of every exported figure, so a slide says what it shows).
    pub fn caption_line(&self) -> String {
        let file = |p: &Path| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        };
        let model = match &self.model {
            ModelSpec::GaussianMixture(g) => {
                format!("Gaussian mixture of {} classes", g.components.len())
            }
            ModelSpec::IsingMixture(m) => format!("mixture of {} Ising chains", m.components.len()),
            ModelSpec::Learned(l) => format!("learned denoiser {}", file(&l.path)),
            ModelSpec::Onnx(o) => format!("ONNX denoiser {}", file(&o.path)),
            ModelSpec::HiddenStates(h) => format!("hidden states of {}", file(&h.path)),
        };
        let dim = self
            .model
            .dim()
            .map(|d| format!(", d = {d}"))
            .unwrap_or_default();
        let sampler = &self.sampler;
        let kind = serde_json::to_value(sampler.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let parameters = format!(
            "{model}{dim} · {kind} sampler, {} steps, t from {} to {} · {} trajectories · seed {}",
            sampler.steps, sampler.t_max, sampler.t_min, self.trajectories, self.seed
        );
        match &self.title {
            Some(title) => format!("{title} — {parameters}"),
            None => parameters,
        }
    }

    /// Pretty JSON in the same schema; `from_json_str` of it gives back an equal scene.
    pub fn to_json_pretty(&self) -> Result<String, SceneError> {
        serde_json::to_string_pretty(self).map_err(|e| SceneError::Write(e.to_string()))
    }

    /// The built-in teaching scene: two Gaussians ±1 in d = 64 (`assets/scenes/two-gaussians.json`).
    pub fn default_scene() -> Scene {
        const TEXT: &str = include_str!("../assets/scenes/two-gaussians.json");
        // The asset ships with the binary and `tests/scene_files.rs` parses it: failure is a build defect.
        Scene::from_json_str(TEXT, Path::new("assets/scenes/two-gaussians.json"))
            .expect("the built-in scene assets/scenes/two-gaussians.json is valid")
    }
}

/// A scene file of either kind: Gaussian noise (the default) or a token scene (mask or flip noise).
// One value per loaded file, never held in bulk: the size difference between the kinds costs nothing,
// and boxing would reach every match on the kind.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum SceneFile {
    Diffusion(Scene),
    Tokens(TokenScene),
}

impl SceneFile {
    /// Reads and checks a scene file of either kind (model files resolved as by [`Scene::load`]).
    pub fn load(path: &Path) -> Result<SceneFile, SceneError> {
        let text = std::fs::read_to_string(path).map_err(|source| SceneError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let mut file = SceneFile::from_json_str(&text, path)?;
        match &mut file {
            SceneFile::Diffusion(scene) => scene.resolve_model_files(path.parent()),
            SceneFile::Tokens(scene) => scene.resolve_model_files(path.parent()),
        }
        Ok(file)
    }

    /// Parses and checks scene JSON of either kind; `origin` names the file in errors.
    pub fn from_json_str(text: &str, origin: &Path) -> Result<SceneFile, SceneError> {
        let check = Checker { file: origin };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SceneError::Syntax {
                file: origin.to_path_buf(),
                line: e.line(),
                column: e.column(),
                message: syntax_hint(text, &e),
            })?;
        let raw: RawScene = check.typed("", value)?;
        let noise = raw.noise.as_ref().map_or(NoiseKind::Gaussian, |n| n.kind);
        match noise.discrete() {
            None => {
                let scene = Scene::from_raw(&check, raw)?;
                scene.validate(origin)?;
                Ok(SceneFile::Diffusion(scene))
            }
            Some(noise) => {
                let scene = TokenScene::from_raw(&check, raw, noise)?;
                scene.validate(origin)?;
                Ok(SceneFile::Tokens(scene))
            }
        }
    }

    /// Pretty JSON in the same schema; `from_json_str` of it gives back an equal scene.
    pub fn to_json_pretty(&self) -> Result<String, SceneError> {
        match self {
            SceneFile::Diffusion(scene) => scene.to_json_pretty(),
            SceneFile::Tokens(scene) => scene.to_json_pretty(),
        }
    }
}

/// Refuses a sampler kind of the other noise family with one error naming `sampler.kind` (typed
/// reading alone would only say "unknown variant"). A missing or unknown kind is left to it.
fn check_sampler_family(
    check: &Checker,
    sampler: &serde_json::Value,
    noise: NoiseKind,
) -> Result<(), SceneError> {
    let Some(kind) = sampler.get("kind").and_then(serde_json::Value::as_str) else {
        return Ok(());
    };
    let (continuous, tokens) = (
        kind_names(&SamplerKind::ALL),
        kind_names(&TokenSamplerKind::ALL),
    );
    let (own, other, other_noise) = match noise {
        NoiseKind::Gaussian => (continuous, tokens, "mask or flip"),
        NoiseKind::Mask | NoiseKind::Flip => (tokens, continuous, "gaussian"),
    };
    if other.iter().any(|k| k == kind) {
        return check.fail(
            "sampler.kind",
            format!(
                "{kind:?} samples {other_noise} noise, but noise.kind is {:?}: use one of {}",
                noise.name(),
                own.iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    Ok(())
}

/// The names unit variants have in scene files (their serde names).
fn kind_names<T: Serialize>(kinds: &[T]) -> Vec<String> {
    kinds
        .iter()
        .filter_map(|k| serde_json::to_value(k).ok()?.as_str().map(str::to_string))
        .collect()
}

/// serde_json's message, plus what it usually means and the key just before the error.
fn syntax_hint(text: &str, e: &serde_json::Error) -> String {
    let mut message = e.to_string();
    // serde_json appends " at line L column C"; we print those separately.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    let offset: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + e.column().saturating_sub(1);
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let around = text
        .get(offset.saturating_sub(1).min(text.len())..)
        .unwrap_or("");
    if ["NaN", "Infinity", "-Infinity", "nan", "inf"]
        .iter()
        .any(|w| around.trim_start_matches([':', ' ']).starts_with(w))
    {
        message.push_str(" (NaN and infinity are not valid numbers in a scene)");
    }
    if let Some(key) = last_key(before) {
        message.push_str(&format!(" near key \"{key}\""));
    }
    message
}

/// The last `"name":` in `text`.
fn last_key(text: &str) -> Option<&str> {
    let colon = text.rfind(':')?;
    let head = text.get(..colon)?.trim_end();
    let head = head.strip_suffix('"')?;
    let start = head.rfind('"')?;
    head.get(start + 1..)
}

/// The model's `kind` and the rest of its keys.
fn split_kind(
    check: &Checker,
    value: serde_json::Value,
) -> Result<(String, serde_json::Value), SceneError> {
    let serde_json::Value::Object(mut map) = value else {
        return check.fail("model", "expected an object with a \"kind\" key");
    };
    match map.remove("kind") {
        Some(serde_json::Value::String(kind)) => Ok((kind, serde_json::Value::Object(map))),
        Some(other) => check.fail("model.kind", format!("expected a string, got {other}")),
        None => check.fail("model", "missing field `kind`"),
    }
}

fn parse_model(check: &Checker, value: serde_json::Value) -> Result<ModelSpec, SceneError> {
    let (kind, rest) = split_kind(check, value)?;
    match kind.as_str() {
        "gaussian_mixture" => Ok(ModelSpec::GaussianMixture(check.typed("model", rest)?)),
        "ising_mixture" => Ok(ModelSpec::IsingMixture(check.typed("model", rest)?)),
        "learned" => Ok(ModelSpec::Learned(check.typed("model", rest)?)),
        "hidden_states" => Ok(ModelSpec::HiddenStates(check.typed("model", rest)?)),
        "onnx" => Ok(ModelSpec::Onnx(check.typed("model", rest)?)),
        "dyck" => check.fail(
            "noise.kind",
            "a dyck model has token states only: it needs \"mask\" or \"flip\" noise (the \
             default is \"gaussian\")",
        ),
        other => check.fail(
            "model.kind",
            format!("unknown kind {other:?}, expected one of \"gaussian_mixture\", \"ising_mixture\", \"learned\", \"onnx\", \"hidden_states\" (or \"dyck\" with mask or flip noise)"),
        ),
    }
}

fn check_weights(check: &Checker, weights: &[f64]) -> Result<(), SceneError> {
    for (k, &w) in weights.iter().enumerate() {
        if !(w.is_finite() && w > 0.0 && w <= 1.0) {
            return check.fail(
                format!("model.components[{k}].weight"),
                format!("weight must be in (0, 1], got {}", show(w)),
            );
        }
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
        return check.fail(
            "model.components",
            format!("weights must sum to 1 (within 1e-6), they sum to {sum}"),
        );
    }
    Ok(())
}

fn check_variance(check: &Checker, key: &str, v: f64) -> Result<(), SceneError> {
    if v.is_finite() && (0.0..=MAX_VARIANCE).contains(&v) {
        Ok(())
    } else {
        check.fail(
            key,
            format!(
                "variance must be in [0, {}] (0 is allowed: the noised covariance is invertible for t > 0), got {}",
                show(MAX_VARIANCE),
                show(v)
            ),
        )
    }
}

fn validate_model(check: &Checker, model: &ModelSpec) -> Result<(), SceneError> {
    match model {
        ModelSpec::GaussianMixture(g) => validate_gaussian(check, g),
        ModelSpec::IsingMixture(m) => {
            validate_ising(check, m)?;
            // The continuous Ising model (`model::ising`) has no field term.
            if let Some(k) = m.components.iter().position(|c| c.field != 0.0) {
                return check.fail(
                    format!("model.components[{k}].field"),
                    format!(
                        "a field h = {} needs \"mask\" or \"flip\" noise: the Ising model under \
                         Gaussian noise has none",
                        show(m.components[k].field)
                    ),
                );
            }
            Ok(())
        }
        ModelSpec::Learned(l) => {
            if l.path.as_os_str().is_empty() {
                return check.fail("model.path", "path must not be empty");
            }
            if l.reference
                .as_ref()
                .is_some_and(|r| r.as_os_str().is_empty())
            {
                return check.fail("model.reference", "path must not be empty");
            }
            Ok(())
        }
        ModelSpec::HiddenStates(h) => {
            if h.path.as_os_str().is_empty() {
                return check.fail("model.path", "path must not be empty");
            }
            if let Some(block) = h.block {
                check.count("model.block", block, 1, MAX_BLOCK, "block (counted from 1)")?;
            }
            match &h.layer {
                Some(_) if h.block.is_some() => check.fail(
                    "model.layer",
                    "a layer names a value of an ONNX scene, a block one of a DiT: give one or the \
                     other",
                ),
                Some(layer) if layer.is_empty() => {
                    check.fail("model.layer", "the name of a graph value must not be empty")
                }
                _ => Ok(()),
            }
        }
        ModelSpec::Onnx(o) => validate_onnx(check, o),
    }
}

fn validate_onnx(check: &Checker, o: &OnnxSpec) -> Result<(), SceneError> {
    if o.path.as_os_str().is_empty() {
        return check.fail("model.path", "path must not be empty");
    }
    if o.reference
        .as_ref()
        .is_some_and(|r| r.as_os_str().is_empty())
    {
        return check.fail("model.reference", "path must not be empty");
    }
    match (o.dim, o.shape.as_deref()) {
        (Some(_), Some(_)) => {
            return check.fail(
                "model.shape",
                "give either dim (a vector model) or shape [C, H, W] (an image model), not both",
            );
        }
        (None, None) => {
            return check.fail(
                "model.dim",
                "missing: give dim (a vector model) or shape [C, H, W] (an image model)",
            );
        }
        (Some(dim), None) => check.count("model.dim", dim.get() as usize, 1, MAX_DIM, "dim")?,
        (None, Some(shape)) => {
            for (i, &n) in shape.iter().enumerate() {
                check.count(&format!("model.shape[{i}]"), n, 1, MAX_DIM, "a side")?;
            }
            let values = shape.iter().try_fold(1usize, |p, &n| p.checked_mul(n));
            if values.is_none_or(|v| v > MAX_DIM) {
                return check.fail(
                    "model.shape",
                    format!("C·H·W must be at most {MAX_DIM} values, got {shape:?}"),
                );
            }
        }
    }
    for (key, name) in [
        ("model.inputs.x", &o.inputs.x),
        ("model.inputs.t", &o.inputs.t),
        ("model.output", &o.output),
    ] {
        if name.is_empty() {
            return check.fail(key, "the name of a graph value must not be empty");
        }
    }
    if o.inputs.x == o.inputs.t {
        return check.fail(
            "model.inputs.t",
            format!(
                "x and t must be two different inputs, both are {:?}",
                o.inputs.t
            ),
        );
    }
    match (&o.inputs.class, o.null_class) {
        (Some(class), _) if class.is_empty() => {
            return check.fail(
                "model.inputs.class",
                "the name of a graph value must not be empty",
            );
        }
        (Some(class), _) if *class == o.inputs.x || *class == o.inputs.t => {
            return check.fail(
                "model.inputs.class",
                format!("the class input must differ from x and t, it is {class:?}"),
            );
        }
        (Some(_), None) => {
            return check.fail(
                "model.null_class",
                "a class input needs the label that means \"no class\" (null_class)",
            );
        }
        (None, Some(_)) => {
            return check.fail(
                "model.null_class",
                "null_class is a label of the class input, which model.inputs.class does not name",
            );
        }
        _ => {}
    }
    for (i, name) in o.hidden.iter().enumerate() {
        if name.is_empty() {
            return check.fail(
                format!("model.hidden[{i}]"),
                "the name of a graph value must not be empty",
            );
        }
        if o.hidden[..i].contains(name) {
            return check.fail(
                format!("model.hidden[{i}]"),
                format!("{name:?} is listed twice"),
            );
        }
    }
    if let Err(problem) = o.time.prepare() {
        return check.fail(format!("model.time.{}", problem.key), problem.message);
    }
    match &o.labeller {
        Some(_) if o.reference.is_some() => check.fail(
            "model.labeller",
            "a scene with a \"reference\" takes its classes from it: give one or the other",
        ),
        Some(labeller) => validate_labeller(check, labeller, o.flat_dim()),
        None => Ok(()),
    }
}

/// The `labeller` block of an ONNX scene against the model's dimension.
fn validate_labeller(
    check: &Checker,
    labeller: &LabellerSpec,
    dim: usize,
) -> Result<(), SceneError> {
    match labeller {
        LabellerSpec::NearestMean { means } => {
            let key = "model.labeller.means";
            check.count(key, means.len(), 1, MAX_CLASSES, "number of means")?;
            for (k, mean) in means.iter().enumerate() {
                if mean.len() != dim {
                    return check.fail(
                        format!("{key}[{k}]"),
                        format!("a mean needs dim = {dim} values, got {}", mean.len()),
                    );
                }
                if mean.iter().any(|v| !v.is_finite()) {
                    return check.fail(format!("{key}[{k}]"), "values must be finite");
                }
            }
            Ok(())
        }
        LabellerSpec::Kmeans { k, .. } => check.count("model.labeller.k", *k, 1, MAX_CLASSES, "k"),
        LabellerSpec::Onnx {
            path,
            input,
            output,
        } => {
            if path.as_os_str().is_empty() {
                return check.fail("model.labeller.path", "path must not be empty");
            }
            for (key, name) in [
                ("model.labeller.input", input),
                ("model.labeller.output", output),
            ] {
                if name.is_empty() {
                    return check.fail(key, "the name of a graph value must not be empty");
                }
            }
            Ok(())
        }
    }
}

/// The checks an Ising mixture passes under any noise.
fn validate_ising(check: &Checker, m: &IsingMixtureSpec) -> Result<(), SceneError> {
    check.count("model.dim", m.dim, 1, MAX_DIM, "dim")?;
    check.count(
        "model.components",
        m.components.len(),
        1,
        MAX_COMPONENTS,
        "number of components",
    )?;
    check.range(
        "model.coupling",
        m.coupling,
        -MAX_ABS_COUPLING,
        MAX_ABS_COUPLING,
        "coupling",
    )?;
    if !(m.scale > 0.0 && m.scale <= MAX_SCALE) {
        return check.fail(
            "model.scale",
            format!("scale must be in (0, {MAX_SCALE}], got {}", show(m.scale)),
        );
    }
    for (k, c) in m.components.iter().enumerate() {
        check.range(
            &format!("model.components[{k}].beta"),
            c.beta,
            0.0,
            MAX_BETA,
            "beta",
        )?;
    }
    check_weights(
        check,
        &m.components.iter().map(|c| c.weight).collect::<Vec<_>>(),
    )
}

fn validate_guidance(
    check: &Checker,
    guidance: &GuidanceSpec,
    model: &ModelSpec,
) -> Result<(), SceneError> {
    check.range("sampler.guidance.w", guidance.w, 0.0, MAX_GUIDANCE, "w")?;
    match model {
        ModelSpec::Onnx(o) if o.inputs.class.is_none() => check.fail(
            "model.inputs.class",
            "classifier-free guidance of an ONNX model needs its class input (inputs.class) and \
             null_class",
        ),
        // The guided trajectories' classes are drawn from the reference's weights.
        ModelSpec::Onnx(o) if o.reference.is_none() => check.fail(
            "model.reference",
            "guiding an ONNX model draws each trajectory's class from the weights of its \
             reference scene, which the model does not name",
        ),
        _ if !model.can_guide() => check.fail(
            "sampler.guidance",
            "classifier-free guidance needs a class-conditional model: a Gaussian or Ising \
             mixture, or an ONNX model with a class input",
        ),
        _ => Ok(()),
    }
}

fn validate_view(check: &Checker, v: &ViewSpec) -> Result<(), SceneError> {
    if let Some(dims) = v.dims {
        check.count("view.dims", dims, 2, 3, "dims")?;
    }
    if let Some(ViewColor::Posterior(k)) = v.color {
        check.count("view.color.posterior", k, 0, MAX_COMPONENTS - 1, "class")?;
    }
    if let Some(t) = v.time
        && !(t > 0.0 && t <= MAX_T)
    {
        return check.fail(
            "view.time",
            format!("time must be in (0, {MAX_T}], got {}", show(t)),
        );
    }
    if let Some(trails) = v.trails {
        check.count("view.trails", trails, 0, MAX_STEPS, "trail length")?;
    }
    Ok(())
}

fn validate_gaussian(check: &Checker, g: &GaussianMixtureSpec) -> Result<(), SceneError> {
    let d = g.dim;
    check.count("model.dim", d, 1, MAX_DIM, "dim")?;
    check.count(
        "model.components",
        g.components.len(),
        1,
        MAX_COMPONENTS,
        "number of components",
    )?;
    for (k, c) in g.components.iter().enumerate() {
        let at = format!("model.components[{k}]");
        match &c.mean {
            None => {}
            Some(MeanSpec::Vector(v)) => {
                if v.len() != d {
                    return check.fail(
                        format!("{at}.mean"),
                        format!("mean has {} values, expected dim = {d}", v.len()),
                    );
                }
                for (j, &m) in v.iter().enumerate() {
                    check.range(
                        &format!("{at}.mean[{j}]"),
                        m,
                        -MAX_ABS_MEAN,
                        MAX_ABS_MEAN,
                        "mean value",
                    )?;
                }
            }
            Some(MeanSpec::Fill { fill }) => check.range(
                &format!("{at}.mean.fill"),
                *fill,
                -MAX_ABS_MEAN,
                MAX_ABS_MEAN,
                "mean value",
            )?,
            Some(MeanSpec::Axis { axis, value }) => {
                if *axis >= d {
                    return check.fail(
                        format!("{at}.mean.axis"),
                        format!("axis must be < dim = {d}, got {axis}"),
                    );
                }
                check.range(
                    &format!("{at}.mean.value"),
                    *value,
                    -MAX_ABS_MEAN,
                    MAX_ABS_MEAN,
                    "mean value",
                )?;
            }
        }
        let cov_at = format!("{at}.cov");
        match &c.cov {
            CovSpec::Isotropic(s2) => check_variance(check, &format!("{cov_at}.isotropic"), *s2)?,
            CovSpec::Diagonal(v) => {
                if v.len() != d {
                    return check.fail(
                        format!("{cov_at}.diagonal"),
                        format!("diagonal has {} values, expected dim = {d}", v.len()),
                    );
                }
                for (j, &s2) in v.iter().enumerate() {
                    check_variance(check, &format!("{cov_at}.diagonal[{j}]"), s2)?;
                }
            }
            CovSpec::Spiked(s) => {
                check_variance(check, &format!("{cov_at}.spiked.base"), s.base)?;
                check_variance(check, &format!("{cov_at}.spiked.spike"), s.spike)?;
                if s.axis >= d {
                    return check.fail(
                        format!("{cov_at}.spiked.axis"),
                        format!("axis must be < dim = {d}, got {}", s.axis),
                    );
                }
            }
            CovSpec::Full(rows) => {
                if rows.len() != d {
                    return check.fail(
                        format!("{cov_at}.full"),
                        format!("expected {d} rows (dim), got {}", rows.len()),
                    );
                }
                for (i, row) in rows.iter().enumerate() {
                    if row.len() != d {
                        return check.fail(
                            format!("{cov_at}.full[{i}]"),
                            format!("expected {d} values (dim), got {}", row.len()),
                        );
                    }
                    for (j, &v) in row.iter().enumerate() {
                        check.range(
                            &format!("{cov_at}.full[{i}][{j}]"),
                            v,
                            -MAX_VARIANCE,
                            MAX_VARIANCE,
                            "covariance entry",
                        )?;
                    }
                }
                if let Err(m) = eigen_full(d, rows) {
                    return check.fail(format!("{cov_at}.full"), m);
                }
            }
        }
    }
    check_weights(
        check,
        &g.components.iter().map(|c| c.weight).collect::<Vec<_>>(),
    )
}

/// The checks every scene kind shares: its sampler grid, its trajectory count and its speciation block
/// (`classes` is K when the model knows it).
fn validate_run<K>(
    check: &Checker,
    sampler: &SamplerSpec<K>,
    trajectories: usize,
    speciation: Option<&SpeciationSpec>,
    classes: Option<usize>,
) -> Result<(), SceneError> {
    validate_sampler(check, sampler)?;
    check.count(
        "trajectories",
        trajectories,
        1,
        MAX_TRAJECTORIES,
        "trajectories",
    )?;
    match speciation {
        Some(s) => validate_speciation(check, s, classes),
        None => Ok(()),
    }
}

fn validate_sampler<K>(check: &Checker, s: &SamplerSpec<K>) -> Result<(), SceneError> {
    check.count("sampler.steps", s.steps, 1, MAX_STEPS, "steps")?;
    if !(s.t_max > 0.0 && s.t_max <= MAX_T) {
        return check.fail(
            "sampler.t_max",
            format!("t_max must be in (0, {MAX_T}], got {}", show(s.t_max)),
        );
    }
    if !(s.t_min > 0.0 && s.t_min < s.t_max) {
        return check.fail(
            "sampler.t_min",
            format!(
                "need 0 < t_min < t_max = {}, got t_min = {}",
                show(s.t_max),
                show(s.t_min)
            ),
        );
    }
    if let StoreSpec::Every(k) = s.store {
        check.count("sampler.store.every", k, 1, usize::MAX, "store interval")?;
    }
    Ok(())
}

fn validate_speciation(
    check: &Checker,
    s: &SpeciationSpec,
    classes: Option<usize>,
) -> Result<(), SceneError> {
    check.count("speciation.pairs", s.pairs, 1, MAX_PAIRS, "pairs")?;
    if let Some(step) = s.step
        && !(step > 0.0 && step <= 1.0)
    {
        return check.fail(
            "speciation.step",
            format!("step must be in (0, 1], got {}", show(step)),
        );
    }
    if let CloneTimes::Times(times) = &s.clone_times {
        if times.is_empty() {
            return check.fail(
                "speciation.clone_times",
                "list of clone times is empty (use \"auto\")",
            );
        }
        for (i, &t) in times.iter().enumerate() {
            if !(t > 0.0 && t <= MAX_T) {
                return check.fail(
                    format!("speciation.clone_times[{i}]"),
                    format!("clone time must be in (0, {MAX_T}], got {}", show(t)),
                );
            }
        }
    }
    let Some(groups) = &s.groups else {
        return Ok(());
    };
    let mut owner: Vec<Option<usize>> = vec![None; classes.unwrap_or(0)];
    for (g, group) in groups.iter().enumerate() {
        if group.is_empty() {
            return check.fail(format!("speciation.groups[{g}]"), "group is empty");
        }
        for (i, &class) in group.iter().enumerate() {
            let key = format!("speciation.groups[{g}][{i}]");
            if classes.is_some_and(|n| class >= n) {
                return check.fail(
                    key,
                    format!(
                        "class {class} does not exist (the model has {} classes)",
                        owner.len()
                    ),
                );
            }
            if class >= owner.len() {
                owner.resize(class + 1, None);
            }
            if let Some(first) = owner[class] {
                return check.fail(
                    key,
                    format!("class {class} is in more than one group (already in group {first})"),
                );
            }
            owner[class] = Some(g);
        }
    }
    if let Some(missing) = owner.iter().position(Option::is_none) {
        return check.fail(
            "speciation.groups",
            format!("class {missing} is in no group: every class must be in exactly one"),
        );
    }
    Ok(())
}

/// A scene's model, ready for the samplers: exact analytic, or learned (which has no exact posterior).
pub enum SceneModel {
    Analytic(AnalyticModel),
    Learned(LearnedModel),
    /// Boxed: a loaded graph is twice the size of the other variants.
    Onnx(Box<OnnxDenoiser>),
}

impl SceneModel {
    /// The model the samplers step with.
    pub fn denoiser(&self) -> &dyn Denoiser {
        match self {
            SceneModel::Analytic(m) => m,
            SceneModel::Learned(m) => m,
            SceneModel::Onnx(m) => m.as_ref(),
        }
    }

    /// The exact model, when there is one (initialisation from data, posteriors, theory).
    pub fn exact(&self) -> Option<&dyn ExactModel> {
        match self {
            SceneModel::Analytic(m) => Some(m),
            SceneModel::Learned(_) | SceneModel::Onnx(_) => None,
        }
    }
}

impl ModelSpec {
    /// Builds the scene's model; a learned model's `path` is resolved against the scene file's
    /// folder, the working directory and the shipped assets, in that order.
    pub fn build(&self, scene_file: &Path) -> Result<SceneModel, SceneError> {
        let spec = match self {
            ModelSpec::Learned(spec) => spec,
            ModelSpec::HiddenStates(h) => {
                return Err(SceneError::Model(format!(
                    "{} is shown through its hidden states: it does not drive a diffusion scene",
                    h.path.display()
                )));
            }
            ModelSpec::Onnx(spec) => {
                let options = OnnxOptions {
                    path: crate::assets::resolve(&spec.path, scene_file.parent()),
                    dim: spec.flat_dim(),
                    shape: spec.shape.as_deref().copied(),
                    input_x: spec.inputs.x.clone(),
                    input_t: spec.inputs.t.clone(),
                    output: spec.output.clone(),
                    prediction: spec.prediction,
                    time: spec.time.clone(),
                };
                let extras = OnnxExtras {
                    class: spec
                        .inputs
                        .class
                        .clone()
                        .zip(spec.null_class)
                        .map(|(name, null)| ClassInput { name, null }),
                    hidden: spec.hidden.clone(),
                };
                return OnnxDenoiser::load_with(&options, &extras)
                    .map(|m| SceneModel::Onnx(Box::new(m)))
                    .map_err(|e| SceneError::Model(e.to_string()));
            }
            _ => return self.build_analytic().map(SceneModel::Analytic),
        };
        let path = crate::assets::resolve(&spec.path, scene_file.parent());
        let model = learned::load(&path).map_err(|e| SceneError::Model(e.to_string()))?;
        if !model.is_denoiser() {
            return Err(SceneError::Model(format!(
                "{} is a sequence model (Euler-Stack), not a denoiser: it cannot drive a diffusion \
                 scene; use it with `diffscope compare`",
                path.display()
            )));
        }
        Ok(SceneModel::Learned(model))
    }

    /// Number of classes, when the scene itself fixes it (not for learned models).
    pub fn class_count(&self) -> Option<usize> {
        match self {
            ModelSpec::GaussianMixture(g) => Some(g.components.len()),
            ModelSpec::IsingMixture(m) => Some(m.components.len()),
            ModelSpec::Learned(_) | ModelSpec::HiddenStates(_) | ModelSpec::Onnx(_) => None,
        }
    }

    /// Whether classifier-free guidance can run: a mixture, or an ONNX graph with a class input and a
    /// `reference` whose weights draw the classes.
    pub fn can_guide(&self) -> bool {
        match self {
            ModelSpec::Onnx(o) => o.inputs.class.is_some() && o.reference.is_some(),
            _ => self.class_count().is_some(),
        }
    }

    /// Whether the scene has an exact model for the speciation lab (its own or a `reference`).
    pub fn has_theory(&self) -> bool {
        match self {
            ModelSpec::GaussianMixture(_) | ModelSpec::IsingMixture(_) => true,
            ModelSpec::Learned(l) => l.reference.is_some(),
            ModelSpec::Onnx(o) => o.reference.is_some(),
            ModelSpec::HiddenStates(_) => false,
        }
    }

    /// The `labeller` of a model without a reference (an `onnx` scene's classes).
    pub fn labeller(&self) -> Option<&LabellerSpec> {
        match self {
            ModelSpec::Onnx(o) => o.labeller.as_deref(),
            _ => None,
        }
    }

    /// Whether the speciation lab can run: with theory, or measured only through a `labeller`.
    pub fn has_lab(&self) -> bool {
        self.has_theory() || self.labeller().is_some()
    }

    /// The exact analytic model behind the scene: its own, or the one a learned model imitates
    /// (`reference`, a scene file resolved like the model path); `None` when there is none.
    pub fn reference_model(&self, scene_file: &Path) -> Result<Option<AnalyticModel>, SceneError> {
        match self {
            ModelSpec::GaussianMixture(_) | ModelSpec::IsingMixture(_) => {
                self.build_analytic().map(Some)
            }
            ModelSpec::Learned(LearnedSpec {
                reference: Some(reference),
                ..
            })
            | ModelSpec::Onnx(OnnxSpec {
                reference: Some(reference),
                ..
            }) => {
                let path = crate::assets::resolve(reference, scene_file.parent());
                let scene = Scene::load(&path)?;
                scene.model.build_analytic().map(Some)
            }
            ModelSpec::Learned(_) | ModelSpec::HiddenStates(_) | ModelSpec::Onnx(_) => Ok(None),
        }
    }

    /// `[C, H, W]` of an image model (an `onnx` model with `shape`).
    pub fn image_shape(&self) -> Option<[usize; 3]> {
        match self {
            ModelSpec::Onnx(o) => o.shape.as_deref().copied(),
            _ => None,
        }
    }

    /// Dimension of one state, when the scene fixes it.
    pub fn dim(&self) -> Option<usize> {
        match self {
            ModelSpec::GaussianMixture(g) => Some(g.dim),
            ModelSpec::IsingMixture(m) => Some(m.dim),
            ModelSpec::Onnx(o) => Some(o.flat_dim()),
            ModelSpec::Learned(_) | ModelSpec::HiddenStates(_) => None,
        }
    }

    /// The exact analytic model of a Gaussian or Ising scene.
    pub fn build_analytic(&self) -> Result<AnalyticModel, SceneError> {
        let model_error = |e: crate::model::ModelError| SceneError::Model(e.to_string());
        match self {
            ModelSpec::GaussianMixture(g) => {
                let components = g
                    .components
                    .iter()
                    .map(|c| ComponentSpec {
                        weight: c.weight,
                        mean: c
                            .mean
                            .as_ref()
                            .map_or_else(|| vec![0.0; g.dim], |m| m.to_vector(g.dim)),
                        cov: c.cov.to_covariance(),
                        label: c.label.clone().unwrap_or_default(),
                    })
                    .collect();
                GaussianMixture::new(g.dim, components)
                    .map(AnalyticModel::Gaussian)
                    .map_err(model_error)
            }
            ModelSpec::IsingMixture(m) => {
                let components = m
                    .components
                    .iter()
                    .map(|c| IsingComponentSpec {
                        weight: c.weight,
                        beta: c.beta,
                        label: c.label.clone().unwrap_or_default(),
                    })
                    .collect();
                IsingMixture::new(m.dim, m.coupling, m.boundary.into(), m.scale, components)
                    .map(AnalyticModel::Ising)
                    .map_err(model_error)
            }
            ModelSpec::Learned(LearnedSpec { path, .. })
            | ModelSpec::HiddenStates(HiddenStatesSpec { path, .. })
            | ModelSpec::Onnx(OnnxSpec { path, .. }) => Err(SceneError::Model(format!(
                "this needs an exact analytic model, but the scene's model is learned ({})",
                path.display()
            ))),
        }
    }
}

impl MeanSpec {
    /// The mean as a `[dim]` vector (shapes were checked by `Scene::validate`).
    pub fn to_vector(&self, dim: usize) -> Vec<f64> {
        match self {
            MeanSpec::Vector(v) => v.clone(),
            MeanSpec::Fill { fill } => vec![*fill; dim],
            MeanSpec::Axis { axis, value } => {
                let mut v = vec![0.0; dim];
                if let Some(slot) = v.get_mut(*axis) {
                    *slot = *value;
                }
                v
            }
        }
    }
}

impl CovSpec {
    pub fn to_covariance(&self) -> Covariance {
        match self {
            CovSpec::Isotropic(s2) => Covariance::Isotropic(*s2),
            CovSpec::Diagonal(v) => Covariance::Diagonal(v.clone()),
            CovSpec::Spiked(s) => Covariance::Spiked {
                base: s.base,
                spike: s.spike,
                axis: s.axis,
            },
            CovSpec::Full(rows) => Covariance::Full(rows.clone()),
        }
    }
}

impl Scene {
    /// The run this scene describes (its sampler settings, trajectory count and seed).
    pub fn sampling_spec(&self) -> SamplingSpec {
        let sampler = &self.sampler;
        SamplingSpec {
            kind: match sampler.kind {
                SamplerKind::Sde => StepKind::Sde,
                SamplerKind::Ancestral => StepKind::Ancestral,
                SamplerKind::Ode => StepKind::Ode,
                SamplerKind::Ddim => StepKind::Ddim,
            },
            steps: sampler.steps,
            t_max: sampler.t_max,
            t_min: sampler.t_min,
            grid: sampler.grid.into(),
            init: match sampler.init {
                InitKind::Data => Init::Data,
                InitKind::Gaussian => Init::Gaussian,
            },
            store: sampler.store.into(),
            trajectories: self.trajectories,
            seed: self.seed,
            guidance: sampler.guidance.map(|g| g.w),
        }
    }
}

impl From<BoundarySpec> for Boundary {
    fn from(b: BoundarySpec) -> Self {
        match b {
            BoundarySpec::Open => Boundary::Open,
            BoundarySpec::Periodic => Boundary::Periodic,
        }
    }
}

impl From<TimeGrid> for GridSpacing {
    fn from(g: TimeGrid) -> Self {
        match g {
            TimeGrid::Log => GridSpacing::Log,
            TimeGrid::Linear => GridSpacing::Linear,
        }
    }
}

impl From<StoreSpec> for StoreSteps {
    fn from(s: StoreSpec) -> Self {
        match s {
            StoreSpec::All => StoreSteps::All,
            StoreSpec::Final => StoreSteps::Final,
            StoreSpec::Every(k) => StoreSteps::Every(k),
        }
    }
}
