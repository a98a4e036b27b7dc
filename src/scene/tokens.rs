//! Token scenes: scene files with mask or flip noise (`docs/science/discrete.md` §7). Owns their schema
//! (the `noise` block, Ising mixtures with fields and Dyck words as token models, the token samplers),
//! their range checks with key paths in errors, and the mapping onto the compute layer: the exact
//! [`TokenModel`] and the [`TokenSpec`] of a run, so that no other code matches on JSON.

use serde::{Deserialize, Serialize, Serializer};
use std::path::{Path, PathBuf};

use super::{
    Checker, InitKind, IsingMixtureSpec, RawScene, SamplerSpec, SceneError, SpeciationSpec,
    check_sampler_family, show, split_kind, validate_ising, validate_run,
};
use crate::diffusion::discrete::{DiscreteSampler, TokenSpec};
use crate::model::discrete::dyck::{DEFAULT_BRACKETS, DyckClasses, DyckError, DyckModel};
use crate::model::discrete::ising_chain::{
    IsingChainClass, IsingChainTokens, MAX_COUPLING, MAX_FIELD,
};
use crate::model::discrete::{DiscreteNoise, TokenModel};
use crate::model::learned::masked::LearnedTokens;
use crate::model::learned::{self, LearnedModel};

/// `noise.kind`: Gaussian (the OU noise of the continuous scenes, the default), mask or flip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    #[default]
    Gaussian,
    Mask,
    Flip,
}

impl NoiseKind {
    /// The discrete noise, or `None` for Gaussian noise.
    pub fn discrete(self) -> Option<DiscreteNoise> {
        match self {
            NoiseKind::Gaussian => None,
            NoiseKind::Mask => Some(DiscreteNoise::Mask),
            NoiseKind::Flip => Some(DiscreteNoise::Flip),
        }
    }

    /// The name used in scene files.
    pub fn name(self) -> &'static str {
        self.discrete().map_or("gaussian", DiscreteNoise::name)
    }
}

impl From<DiscreteNoise> for NoiseKind {
    fn from(noise: DiscreteNoise) -> Self {
        match noise {
            DiscreteNoise::Mask => NoiseKind::Mask,
            DiscreteNoise::Flip => NoiseKind::Flip,
        }
    }
}

/// The top-level `noise` block as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoiseSpec {
    pub kind: NoiseKind,
}

/// A scene under mask or flip noise. Build it with [`super::SceneFile`] (which checks every value).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenScene {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(serialize_with = "noise_block")]
    pub noise: DiscreteNoise,
    pub model: TokenModelSpec,
    pub sampler: SamplerSpec<TokenSamplerKind>,
    pub trajectories: usize,
    pub seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speciation: Option<SpeciationSpec>,
}

/// Writes the noise as the block it was read from, `{"kind": "mask"}`.
fn noise_block<S: Serializer>(noise: &DiscreteNoise, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Block {
        kind: &'static str,
    }
    Block { kind: noise.name() }.serialize(s)
}

/// The data law of a token scene.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenModelSpec {
    /// Spins as tokens (0 ↔ −1, 1 ↔ +1); class k has coupling K_k = β_k J and field h_k.
    IsingMixture(IsingMixtureSpec),
    Dyck(DyckSpec),
    /// A learned masked-diffusion model and the exact model it imitates.
    LearnedMasked(LearnedMaskedSpec),
}

/// `{"kind": "learned_masked", "path": "model.safetensors", "reference": {"kind": "dyck", ...}}`: the
/// network's weights (a relative path resolves against the scene file's folder, the working
/// directory, then the shipped assets) and, inline, the exact model it was trained on: its class
/// posterior labels the trajectories and its marginals are what the lab compares the network with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LearnedMaskedSpec {
    pub path: PathBuf,
    /// An `ising_mixture` or `dyck` model.
    pub reference: Box<TokenModelSpec>,
}

/// The learned model's keys as read, before its reference is parsed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLearnedMasked {
    path: PathBuf,
    reference: serde_json::Value,
}

/// Balanced bracket words (`docs/science/discrete.md` §2(b)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DyckSpec {
    /// Word length L (even).
    pub length: usize,
    /// Bracket pairs B (2B symbols).
    #[serde(default = "default_brackets")]
    pub brackets: usize,
    #[serde(default)]
    pub labels: DyckLabels,
}

fn default_brackets() -> usize {
    DEFAULT_BRACKETS
}

/// `"first_bracket"` or `{"max_depth_at_least": D}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DyckLabels {
    #[default]
    FirstBracket,
    MaxDepthAtLeast(usize),
}

/// `sampler.kind` of a token scene (`docs/science/discrete.md` §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSamplerKind {
    Exact,
    Factorized,
    Confidence,
    Autoregressive,
}

impl TokenSamplerKind {
    pub const ALL: [TokenSamplerKind; 4] = [
        TokenSamplerKind::Exact,
        TokenSamplerKind::Factorized,
        TokenSamplerKind::Confidence,
        TokenSamplerKind::Autoregressive,
    ];

    pub fn sampler(self) -> DiscreteSampler {
        match self {
            TokenSamplerKind::Exact => DiscreteSampler::Exact,
            TokenSamplerKind::Factorized => DiscreteSampler::Factorized,
            TokenSamplerKind::Confidence => DiscreteSampler::Confidence,
            TokenSamplerKind::Autoregressive => DiscreteSampler::Autoregressive,
        }
    }
}

/// A token scene's exact model. An enum rather than a trait object so that callers can use what only
/// one model has (the exact φ_post of independent sites).
pub enum SceneTokenModel {
    Ising(IsingChainTokens),
    Dyck(DyckModel),
    Learned(Box<LearnedTokens>),
}

impl SceneTokenModel {
    /// The model the samplers and the lab talk to.
    pub fn model(&self) -> &dyn TokenModel {
        match self {
            SceneTokenModel::Ising(m) => m,
            SceneTokenModel::Dyck(m) => m,
            SceneTokenModel::Learned(m) => m.as_ref(),
        }
    }

    /// The learned model with its exact reference, when the scene has one.
    pub fn learned(&self) -> Option<&LearnedTokens> {
        match self {
            SceneTokenModel::Learned(m) => Some(m),
            _ => None,
        }
    }

    /// The chain mixture when every class has independent sites (all couplings 0): φ_post is then
    /// exact by binomial sums.
    pub fn independent_sites(&self) -> Option<&IsingChainTokens> {
        match self {
            SceneTokenModel::Ising(m) if m.couplings().iter().all(|&k| k == 0.0) => Some(m),
            _ => None,
        }
    }
}

impl DyckLabels {
    fn classes(self) -> DyckClasses {
        match self {
            DyckLabels::FirstBracket => DyckClasses::FirstBracket,
            DyckLabels::MaxDepthAtLeast(d) => DyckClasses::MaxDepthAtLeast(d),
        }
    }
}

impl TokenScene {
    /// The token scene of a raw file under `noise` (checked by the caller).
    pub(super) fn from_raw(
        check: &Checker,
        raw: RawScene,
        noise: DiscreteNoise,
    ) -> Result<TokenScene, SceneError> {
        super::check_caption(check, raw.caption.as_deref())?;
        let (kind, rest) = split_kind(check, raw.model)?;
        let model = match kind.as_str() {
            "ising_mixture" => TokenModelSpec::IsingMixture(check.typed("model", rest)?),
            "dyck" => TokenModelSpec::Dyck(check.typed("model", rest)?),
            "learned_masked" => {
                if noise != DiscreteNoise::Mask {
                    return check.fail(
                        "noise.kind",
                        format!(
                            "a learned_masked model was trained under mask noise: it needs \
                             \"mask\", not {:?}",
                            noise.name()
                        ),
                    );
                }
                let raw: RawLearnedMasked = check.typed("model", rest)?;
                TokenModelSpec::LearnedMasked(LearnedMaskedSpec {
                    path: raw.path,
                    reference: Box::new(parse_reference(check, raw.reference)?),
                })
            }
            "gaussian_mixture" | "learned" | "hidden_states" => {
                return check.fail(
                    "noise.kind",
                    format!(
                        "{} noise needs a model with token states (\"ising_mixture\" or \"dyck\"), \
                         not {kind:?}",
                        noise.name()
                    ),
                );
            }
            other => {
                return check.fail(
                    "model.kind",
                    format!(
                        "unknown kind {other:?}; with {} noise expected \"ising_mixture\", \"dyck\" \
                         or \"learned_masked\"",
                        noise.name()
                    ),
                );
            }
        };
        if raw.view.is_some() {
            return check.fail("view", "token scenes have no view settings yet");
        }
        check_sampler_family(check, &raw.sampler, noise.into())?;
        Ok(TokenScene {
            title: raw.title,
            caption: raw.caption,
            noise,
            model,
            sampler: check.typed("sampler", raw.sampler)?,
            trajectories: raw.trajectories,
            seed: raw.seed,
            speciation: raw.speciation,
        })
    }

    /// Checks every range and shape (also after a scene was edited in code).
    pub fn validate(&self, origin: &std::path::Path) -> Result<(), SceneError> {
        let check = Checker { file: origin };
        match &self.model {
            TokenModelSpec::LearnedMasked(l) => {
                // The reference's checks name its keys as `model.…`: they sit under `model.reference`.
                validate_exact(&check, &l.reference).map_err(|e| match e {
                    SceneError::Invalid { file, key, message } => SceneError::Invalid {
                        file,
                        key: key.replacen("model", "model.reference", 1),
                        message,
                    },
                    other => other,
                })?;
                if self.sampler.kind == TokenSamplerKind::Exact {
                    return check.fail(
                        "sampler.kind",
                        "a learned_masked model has per-token marginals but no joint draws: use \
                         \"factorized\", \"confidence\" or \"autoregressive\", not \"exact\"",
                    );
                }
            }
            exact => validate_exact(&check, exact)?,
        }
        if self.sampler.init != InitKind::Data {
            return check.fail(
                "sampler.init",
                "token runs start from forward-noised data: init must be \"data\"",
            );
        }
        let sampler = self.sampler.kind.sampler();
        if !sampler.supports(self.noise) {
            return check.fail(
                "sampler.kind",
                format!(
                    "the {} sampler orders reveals and needs mask noise, not {}",
                    sampler.name(),
                    self.noise.name()
                ),
            );
        }
        if self.sampler.guidance.is_some() {
            return check.fail(
                "sampler.guidance",
                "classifier-free guidance runs under Gaussian noise only",
            );
        }
        if self.speciation.as_ref().is_some_and(|s| s.groups.is_some()) {
            return check.fail(
                "speciation.groups",
                "class groups are not measured for token scenes yet",
            );
        }
        validate_run(
            &check,
            &self.sampler,
            self.trajectories,
            self.speciation.as_ref(),
            Some(self.class_count()),
        )
    }

    /// Number of classes K.
    pub fn class_count(&self) -> usize {
        self.model.class_count()
    }

    /// Makes a relative model file absolute where it is found (as [`super::Scene::load`] does).
    pub fn resolve_model_files(&mut self, base: Option<&Path>) {
        if let TokenModelSpec::LearnedMasked(l) = &mut self.model
            && l.path.is_relative()
        {
            let found = crate::assets::resolve(&l.path, base);
            if found.exists()
                && let Ok(absolute) = std::path::absolute(&found)
            {
                l.path = absolute;
            }
        }
    }

    /// The token model of the scene: exact, or a learned one paired with its exact reference.
    pub fn build_model(&self) -> Result<SceneTokenModel, SceneError> {
        self.model.build()
    }

    /// The run this scene describes
    /// The run this scene describes (noise, sampler, grid, trajectory count, seed, stored steps).
    pub fn token_spec(&self) -> TokenSpec {
        let s = &self.sampler;
        TokenSpec {
            noise: self.noise,
            sampler: s.kind.sampler(),
            steps: s.steps,
            t_max: s.t_max,
            t_min: s.t_min,
            grid: s.grid.into(),
            trajectories: self.trajectories,
            seed: self.seed,
            store: s.store.into(),
        }
    }

    /// Pretty JSON in the same schema; reading it back gives an equal scene.
    pub fn to_json_pretty(&self) -> Result<String, SceneError> {
        serde_json::to_string_pretty(self).map_err(|e| SceneError::Write(e.to_string()))
    }
}

impl TokenModelSpec {
    /// Number of classes K (a learned model's are its reference's).
    pub fn class_count(&self) -> usize {
        match self {
            TokenModelSpec::IsingMixture(m) => m.components.len(),
            TokenModelSpec::Dyck(d) => match d.labels {
                DyckLabels::FirstBracket => d.brackets,
                DyckLabels::MaxDepthAtLeast(_) => 2,
            },
            TokenModelSpec::LearnedMasked(l) => l.reference.class_count(),
        }
    }

    /// The model this spec describes. A learned model's file must hold a masked-diffusion network
    /// of the reference's length and vocabulary.
    pub fn build(&self) -> Result<SceneTokenModel, SceneError> {
        let model_error = |e: String| SceneError::Model(e);
        match self {
            TokenModelSpec::IsingMixture(m) => {
                let classes = m
                    .components
                    .iter()
                    .map(|c| IsingChainClass {
                        weight: c.weight,
                        coupling: c.beta * m.coupling,
                        field: c.field,
                        label: c.label.clone().unwrap_or_default(),
                    })
                    .collect();
                IsingChainTokens::new(m.dim, m.boundary.into(), classes)
                    .map(SceneTokenModel::Ising)
                    .map_err(|e| model_error(e.to_string()))
            }
            TokenModelSpec::Dyck(d) => DyckModel::new(d.length, d.brackets, d.labels.classes())
                .map(SceneTokenModel::Dyck)
                .map_err(|e| model_error(e.to_string())),
            TokenModelSpec::LearnedMasked(l) => {
                let path = crate::assets::resolve(&l.path, None);
                let model = learned::load(&path).map_err(|e| model_error(e.to_string()))?;
                let LearnedModel::MaskedDiffusion(network) = model else {
                    return Err(model_error(format!(
                        "model.path: {} holds a {} model, not a masked-diffusion model",
                        path.display(),
                        model.config().kind()
                    )));
                };
                let reference: Box<dyn TokenModel> = match l.reference.build()? {
                    SceneTokenModel::Ising(m) => Box::new(m),
                    SceneTokenModel::Dyck(m) => Box::new(m),
                    SceneTokenModel::Learned(_) => {
                        return Err(model_error(
                            "model.reference must be an exact model (ising_mixture or dyck)".into(),
                        ));
                    }
                };
                LearnedTokens::new(network, reference)
                    .map(|m| SceneTokenModel::Learned(Box::new(m)))
                    .map_err(|e| model_error(format!("{e}: {}", path.display())))
            }
        }
    }
}

/// `model.reference` of a learned model: an exact token model, errors naming its keys.
fn parse_reference(
    check: &Checker,
    value: serde_json::Value,
) -> Result<TokenModelSpec, SceneError> {
    let key = "model.reference";
    let serde_json::Value::Object(mut map) = value else {
        return check.fail(
            key,
            "expected the exact model the network imitates, an object with \"kind\": \
             \"ising_mixture\" or \"dyck\"",
        );
    };
    let kind = match map.remove("kind") {
        Some(serde_json::Value::String(kind)) => kind,
        Some(other) => {
            return check.fail(
                "model.reference.kind",
                format!("expected a string, got {other}"),
            );
        }
        None => return check.fail(key, "missing field `kind`"),
    };
    let rest = serde_json::Value::Object(map);
    match kind.as_str() {
        "ising_mixture" => Ok(TokenModelSpec::IsingMixture(check.typed(key, rest)?)),
        "dyck" => Ok(TokenModelSpec::Dyck(check.typed(key, rest)?)),
        other => check.fail(
            "model.reference.kind",
            format!(
                "unknown kind {other:?}; the reference is exact: \"ising_mixture\" or \"dyck\""
            ),
        ),
    }
}

/// The range checks of an exact token model, errors naming `model.…` keys.
fn validate_exact(check: &Checker, model: &TokenModelSpec) -> Result<(), SceneError> {
    match model {
        TokenModelSpec::IsingMixture(m) => validate_token_ising(check, m),
        TokenModelSpec::Dyck(d) => match DyckModel::check(d.length, d.brackets, d.labels.classes())
        {
            Ok(()) => Ok(()),
            Err(e) => {
                let key = match e {
                    DyckError::BadLength(_) | DyckError::TooLong { .. } => "model.length",
                    DyckError::BadBrackets(_) => "model.brackets",
                    DyckError::BadDepth { .. } => "model.labels.max_depth_at_least",
                };
                check.fail(key, e.to_string())
            }
        },
        TokenModelSpec::LearnedMasked(_) => check.fail(
            "model.reference.kind",
            "the reference of a learned model must be exact (ising_mixture or dyck)",
        ),
    }
}

/// An Ising mixture as a token model: the checks of every Ising mixture, then what tokens add (the
/// field, K = βJ within the chain model's range) and refuse (a spin scale).
fn validate_token_ising(check: &Checker, m: &IsingMixtureSpec) -> Result<(), SceneError> {
    validate_ising(check, m)?;
    if m.scale != 1.0 {
        return check.fail(
            "model.scale",
            format!(
                "the spin scale has no meaning for tokens (spins are the symbols 0 and 1): leave \
                 it at 1, got {}",
                show(m.scale)
            ),
        );
    }
    for (k, c) in m.components.iter().enumerate() {
        let coupling = c.beta * m.coupling;
        if coupling.abs() > MAX_COUPLING {
            return check.fail(
                format!("model.components[{k}].beta"),
                format!(
                    "the bond coupling K = beta · coupling = {} must satisfy |K| <= {MAX_COUPLING}",
                    show(coupling)
                ),
            );
        }
        check.range(
            &format!("model.components[{k}].field"),
            c.field,
            -MAX_FIELD,
            MAX_FIELD,
            "field",
        )?;
    }
    Ok(())
}
