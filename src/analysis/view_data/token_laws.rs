//! What the Theory tab draws for a token scene (`docs/science/discrete.md` §5): the law table with
//! the scene's cell, the leading-order law of its two classes under mask and flip noise against the
//! length L, the exact balance time against L where it is closed-form (independent sites), and at
//! the scene's L its exact φ_post crossing t_mid and balance time t_balance from the discrete lab.
//! Pure and cheap (closed forms over a few dozen lengths); the lab supplies the Monte Carlo numbers.

use crate::analysis::speciation::discrete_laws::{
    ClassDifference, LawNoise, NoLaw, TokenLaw, balance_time_independent, independent_balance_time,
    token_law,
};
use crate::analysis::view_data::discrete_lab::DiscreteLabReport;
use crate::model::discrete::DiscreteNoise;
use crate::model::discrete::ising_chain::IsingChainTokens;
use crate::scene::{DyckSpec, IsingMixtureSpec, SceneTokenModel, TokenModelSpec, TokenScene};

/// Lengths of the drawn curves: 8 … 4096, log-spaced (plus the scene's L).
const CURVE_POINTS: usize = 28;
pub const L_MIN: f64 = 8.0;
pub const L_MAX: f64 = 4096.0;

/// One noise's curves for the scene's classes.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseCurve {
    pub noise: DiscreteNoise,
    pub law: TokenLaw,
    /// (L, leading-order law) at every curve length.
    pub law_points: Vec<[f64; 2]>,
    /// (L, exact balance time): independent sites only (closed form), else empty.
    pub balance_points: Vec<[f64; 2]>,
}

/// The theory of a token scene at its length.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenTheory {
    pub length: usize,
    pub noise: DiscreteNoise,
    /// The scene's column of the law table, or why it has none.
    pub law: Result<TokenLaw, NoLaw>,
    /// The scene's classes under its own noise first, then under the other discrete noise.
    pub curves: Vec<NoiseCurve>,
    /// The exact φ_post crossing at L (from the lab's report).
    pub t_mid: Option<f64>,
    /// The exact balance time at L: closed form for independent sites, else the lab's Monte Carlo.
    pub t_balance: Option<f64>,
    /// Whether `t_balance` is a closed form (else a Monte Carlo, or absent).
    pub balance_exact: bool,
}

impl TokenTheory {
    /// The leading-order law's time at the scene's L.
    pub fn law_at_length(&self) -> Option<f64> {
        self.law.as_ref().ok().map(|l| l.at(self.length))
    }

    /// Whether the table cell (`noise`, `difference`) is the scene's.
    pub fn is_scene_cell(&self, noise: LawNoise, difference: ClassDifference) -> bool {
        self.law
            .as_ref()
            .is_ok_and(|l| l.noise == noise && l.difference == difference)
    }
}

/// The exact token model the laws are about (a learned model's reference, else the model itself).
enum Exact<'a> {
    Ising(&'a IsingMixtureSpec),
    Dyck(&'a DyckSpec),
}

fn exact_spec(spec: &TokenModelSpec) -> Exact<'_> {
    match spec {
        TokenModelSpec::LearnedMasked(l) => exact_spec(&l.reference),
        TokenModelSpec::IsingMixture(m) => Exact::Ising(m),
        TokenModelSpec::Dyck(d) => Exact::Dyck(d),
    }
}

/// Whether the exact model of `spec` is an Ising chain mixture (a learned model's reference counts).
pub fn is_chain_mixture(spec: &TokenModelSpec) -> bool {
    matches!(exact_spec(spec), Exact::Ising(_))
}

/// The scene's chain mixture, or why there is none.
fn chains(spec: &TokenModelSpec) -> Result<IsingChainTokens, NoLaw> {
    match exact_spec(spec) {
        Exact::Dyck(_) => Err(NoLaw::Dyck),
        Exact::Ising(m) => match TokenModelSpec::IsingMixture(m.clone()).build() {
            Ok(SceneTokenModel::Ising(chains)) => Ok(chains),
            Ok(_) => Err(NoLaw::Invalid("not a chain mixture".into())),
            Err(e) => Err(NoLaw::Invalid(e.to_string())),
        },
    }
}

/// The scene's leading-order law under `noise` (its classes at its own length).
pub fn scene_law(spec: &TokenModelSpec, noise: DiscreteNoise) -> Result<TokenLaw, NoLaw> {
    token_law(&chains(spec)?, noise)
}

/// The lengths of the curves: log-spaced over 8 … 4096 and `extra`, sorted.
fn curve_lengths(extra: usize) -> Vec<usize> {
    let mut lengths: Vec<usize> = (0..CURVE_POINTS)
        .map(|i| {
            let f = i as f64 / (CURVE_POINTS - 1) as f64;
            (L_MIN * (L_MAX / L_MIN).powf(f)).round() as usize
        })
        .chain([extra])
        .collect();
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

/// The theory of `scene`, with the lab's numbers from `report` when it is in.
pub fn token_theory(scene: &TokenScene, report: Option<&DiscreteLabReport>) -> TokenTheory {
    let spec = &scene.model;
    let length = report.map_or_else(|| model_length(spec), |r| r.length);
    let law = scene_law(spec, scene.noise);
    let independent = chains(spec)
        .ok()
        .filter(|c| c.couplings().iter().all(|&k| k == 0.0));
    let lengths = curve_lengths(length);
    let other = match scene.noise {
        DiscreteNoise::Mask => DiscreteNoise::Flip,
        DiscreteNoise::Flip => DiscreteNoise::Mask,
    };
    let curves = [scene.noise, other]
        .into_iter()
        .filter_map(|noise| {
            let law = scene_law(spec, noise).ok()?;
            let balance_points = match &independent {
                Some(c) => {
                    let fields: [f64; 2] = c.fields().try_into().ok()?;
                    lengths
                        .iter()
                        .filter_map(|&l| {
                            independent_balance_time(fields, l, noise).map(|t| [l as f64, t])
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            Some(NoiseCurve {
                noise,
                law,
                law_points: lengths.iter().map(|&l| [l as f64, law.at(l)]).collect(),
                balance_points,
            })
        })
        .collect();
    let closed_form = independent
        .as_ref()
        .and_then(|c| balance_time_independent(c, scene.noise));
    TokenTheory {
        length,
        noise: scene.noise,
        law,
        curves,
        t_mid: report.and_then(|r| r.t_mid_posterior),
        t_balance: closed_form.or(report.and_then(|r| r.t_balance)),
        balance_exact: closed_form.is_some(),
    }
}

/// The sequence length a token model spec fixes.
fn model_length(spec: &TokenModelSpec) -> usize {
    match exact_spec(spec) {
        Exact::Ising(m) => m.dim,
        Exact::Dyck(d) => d.length,
    }
}
