//! The discrete lab as a token scene asks for it (`docs/science/discrete.md` §4, §7): token
//! trajectories of the scene's sampler, the exact-posterior curve φ_post with its 0.75-type crossing
//! (exact by binomial sums when the sites are independent, Monte Carlo otherwise) and the cloning curve
//! with its crossing, the U-turn with its token-change correlations χ(t), ξ(t) at the clone times,
//! token and class commitment for every sampler the noise allows, and for a learned masked-diffusion
//! model its marginals and Dyck validity against the exact model's. The CLI prints and writes these;
//! the app can run them as worker jobs.

use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::ViewDataError;
use super::lab::settings_from_spec;
use super::token_laws;
use crate::analysis::control::Control;
use crate::analysis::speciation::discrete_cloning::{
    DiscreteCloningSettings, run_discrete_cloning,
};
use crate::analysis::speciation::discrete_laws::{
    TokenLaw, balance_time_independent, balance_time_monte_carlo,
};
use crate::analysis::speciation::discrete_posterior::{
    DiscreteForwardSamples, phi_crossing, phi_posterior_independent,
};
use crate::analysis::speciation::discrete_uturn::{TokenUTurnPoint, run_discrete_uturn};
use crate::analysis::speciation::report::{CloneTimes, SpeciationSettings};
use crate::analysis::speciation::token_commitment::{TokenCommitment, token_commitment};
use crate::diffusion::StoreSteps;
use crate::diffusion::discrete::{
    DiscreteSampler, TokenSpec, TokenTrajectories, run_token_trajectories,
};
use crate::model::discrete::dyck::is_balanced;
use crate::model::discrete::ising_chain::IsingChainTokens;
use crate::model::discrete::{DiscreteNoise, MASK, TokenModel};
use crate::model::learned::masked::LearnedTokens;
use crate::scene::{TokenModelSpec, TokenScene};
use rayon::prelude::*;

/// Forward samples of the Monte Carlo φ_post when the scene does not say: the s.e. of φ is then
/// ≤ 0.5/√4000 ≈ 0.008, and a Dyck-16 crossing (≈ 50 evaluations) takes seconds, not minutes.
pub const DISCRETE_POSTERIOR_SAMPLES: usize = 4000;

/// Number of automatic clone times, spread geometrically over [t_mid/4, 4 t_mid].
const AUTO_CLONE_TIMES: usize = 9;

/// The lab settings of a token scene (its `speciation` block, or the defaults), with the discrete
/// default for the Monte Carlo posterior samples.
pub fn discrete_lab_settings(scene: &TokenScene) -> SpeciationSettings {
    let mut settings =
        settings_from_spec(scene.speciation.as_ref(), scene.seed, scene.sampler.t_max);
    settings.posterior_samples = DISCRETE_POSTERIOR_SAMPLES;
    settings
}

/// Samples the scene's token trajectories (`[N, S, L]`, with [`crate::model::discrete::MASK`] at
/// masked sites), reporting `progress(fraction, stage)`.
pub fn sample_tokens(
    scene: &TokenScene,
    progress: &mut dyn FnMut(f32, &str),
    cancel: &AtomicBool,
) -> Result<TokenTrajectories, ViewDataError> {
    let model = scene.build_model()?;
    Ok(run_token_trajectories(
        model.model(),
        &scene.token_spec(),
        progress,
        cancel,
    )?)
}

/// One time of the lab's curves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiscretePoint {
    pub t: f64,
    /// φ_post(t) = E Σ_k p(k | x_t)².
    pub phi_post: f64,
    /// 0 when φ_post is exact.
    pub phi_post_std_error: f64,
    /// Fraction of clone pairs branched at t that end in the same class.
    pub phi_clone: f64,
    pub phi_clone_std_error: f64,
}

/// The discrete lab's result, in the units of `docs/science/discrete.md` §4.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiscreteLabReport {
    pub noise: &'static str,
    pub sampler: &'static str,
    pub length: usize,
    pub class_labels: Vec<String>,
    pub weights: Vec<f64>,
    /// (1 + Σ_k w_k²)/2: 0.75 for two equal classes (`docs/science/speciation.md` §3.1 item 5).
    pub midpoint_level: f64,
    /// "exact" (independent sites, binomial sums) or "monte_carlo".
    pub posterior_method: &'static str,
    /// Forward samples of the Monte Carlo φ_post (None when exact).
    pub posterior_samples: Option<usize>,
    /// Where φ_post falls to the midpoint level: the headline t_mid.
    pub t_mid_posterior: Option<f64>,
    /// Where M = S for ΔΦ = ln P_1(x_t) − ln P_2(x_t) under class 1 (`docs/science/discrete.md` §4):
    /// closed form for independent sites, else Monte Carlo over the φ_post samples. Ising mixtures of
    /// two classes only: a revealed Dyck token can decide the class, so ΔΦ is infinite there.
    pub t_balance: Option<f64>,
    /// The leading-order law of §5 for the scene's two classes (Ising mixtures).
    pub leading_order: Option<TokenLaw>,
    /// Its time at the scene's L.
    pub t_leading_order: Option<f64>,
    /// Where the cloning curve falls to the midpoint level (linear between clone times).
    pub t_mid_cloning: Option<f64>,
    /// Its standard error from the binomial errors of the two bracketing points (delta method).
    pub t_mid_cloning_std_error: Option<f64>,
    pub curve: Vec<DiscretePoint>,
    /// The U-turn of the scene's sampler at the clone times, `pairs` words each, with the
    /// token-change correlations.
    pub uturn: Vec<TokenUTurnPoint>,
    /// Token and class commitment of every sampler the noise allows (the scene's grid, all steps
    /// stored, `pairs` trajectories).
    pub commitment: Vec<TokenCommitment>,
    pub pairs: usize,
    pub labels: &'static str,
    pub seed: u64,
    /// A learned model against its exact reference (learned_masked scenes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedComparison>,
}

/// Trajectories per (sampler, step count) of the learned-model comparison: the validity of each run
/// then has a binomial standard error ≤ 0.5/√500 ≈ 0.022.
pub const COMPARISON_ROWS: usize = 500;

/// The samplers and step counts the learned model is compared at.
pub const COMPARISON_SAMPLERS: [DiscreteSampler; 3] = [
    DiscreteSampler::Factorized,
    DiscreteSampler::Confidence,
    DiscreteSampler::Autoregressive,
];
pub const COMPARISON_STEPS: [usize; 3] = [4, 8, 16];

/// One sampler at one step count, run with the learned and with the exact marginals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LearnedRun {
    pub sampler: &'static str,
    pub steps: usize,
    /// KL(exact ‖ learned) of the per-token marginals in nats, averaged over the masked sites of each
    /// state the learned run visits, then over every (trajectory, step) with a masked site that
    /// some word of the exact model explains.
    pub mean_kl: f64,
    /// The (trajectory, step) states that average is over.
    pub kl_states: usize,
    /// Fraction of the visited states with a masked site that no word of the exact model explains
    /// (the learned run has already left the data's support; exact marginals do not exist there).
    pub off_support: f64,
    /// Fraction of the learned run's final words that are balanced (Dyck references only).
    pub validity: Option<f64>,
    /// The same fraction for the same sampler on the exact marginals.
    pub exact_validity: Option<f64>,
}

/// The lab's comparison of a learned masked-diffusion model with its exact reference
/// (`docs/science/discrete.md` §3, learned).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LearnedComparison {
    /// Trajectories per run.
    pub rows: usize,
    pub runs: Vec<LearnedRun>,
}

/// φ_post of the scene's model: exact for independent sites, else Monte Carlo with common random
/// numbers (so its crossing can be bisected).
enum PosteriorCurve<'a> {
    Exact(&'a IsingChainTokens),
    MonteCarlo(DiscreteForwardSamples),
}

impl PosteriorCurve<'_> {
    /// φ_post(t) of the exact `model` and its standard error (0 when exact).
    fn at(&self, model: &dyn TokenModel, noise: DiscreteNoise, t: f64) -> (f64, f64) {
        match self {
            PosteriorCurve::Exact(chain) => (
                // The time is ≥ 0 and the couplings are 0, the only two failures.
                phi_posterior_independent(chain, noise, t).unwrap_or(f64::NAN),
                0.0,
            ),
            PosteriorCurve::MonteCarlo(samples) => {
                let e = samples.phi_posterior(model, t);
                (e.mean, e.std_error)
            }
        }
    }
}

/// Runs the discrete lab on `scene` with `settings` ([`discrete_lab_settings`] plus any overrides).
pub fn run_discrete_lab(
    scene: &TokenScene,
    settings: &SpeciationSettings,
    control: &mut Control,
) -> Result<DiscreteLabReport, ViewDataError> {
    let model = scene.build_model()?;
    let token_model = model.model();
    // φ_post is the exact model's: a learned model's reference (its class posterior is that anyway).
    let exact = model.learned().map_or(token_model, |l| l.reference());
    let noise = scene.noise;
    let weights = token_model.weights().to_vec();
    let midpoint_level = 0.5 * (1.0 + weights.iter().map(|w| w * w).sum::<f64>());
    control.step(0.0, "exact posterior φ_post")?;
    let curve = match model.independent_sites() {
        Some(chain) => PosteriorCurve::Exact(chain),
        None => PosteriorCurve::MonteCarlo(DiscreteForwardSamples::draw(
            exact,
            noise,
            settings.posterior_samples,
            settings.seed,
        )),
    };
    let t_mid_posterior = phi_crossing(|t| curve.at(exact, noise, t).0, midpoint_level);
    control.step(0.15, "balance time")?;
    let chains = token_laws::is_chain_mixture(&scene.model);
    let t_balance = balance_time(chains, &curve, exact, noise);
    let leading_order = token_laws::scene_law(&scene.model, noise).ok();
    control.step(0.2, "discrete cloning")?;
    let t_max = scene.sampler.t_max;
    let clone_times = match &settings.clone_times {
        CloneTimes::Times(times) => times.clone(),
        CloneTimes::Auto => auto_clone_times(t_mid_posterior, scene.sampler.t_min, t_max),
    };
    let sampler = scene.token_spec();
    let reverse = DiscreteCloningSettings {
        noise,
        sampler: sampler.sampler,
        steps: sampler.steps,
        t_max,
        t_min: sampler.t_min,
        grid: sampler.grid,
        clone_times,
        pairs: settings.pairs,
        labels: settings.labels,
        seed: settings.seed,
    };
    control.set_span(0.2, 0.5);
    let cloning = run_discrete_cloning(token_model, &reverse, control)?;
    control.set_span(0.5, 0.7);
    let uturn = run_discrete_uturn(token_model, &reverse, control)?;
    control.set_span(0.7, 1.0);
    let commitment = sampler_commitment(
        token_model,
        &TokenSpec {
            trajectories: settings.pairs,
            seed: settings.seed,
            ..sampler.clone()
        },
        control,
    )?;
    control.set_span(0.0, 1.0);
    let points: Vec<DiscretePoint> = cloning
        .times
        .iter()
        .zip(&cloning.phi)
        .map(|(&t, clone)| {
            let (phi_post, phi_post_std_error) = curve.at(exact, noise, t);
            DiscretePoint {
                t,
                phi_post,
                phi_post_std_error,
                phi_clone: clone.mean,
                phi_clone_std_error: clone.std_error,
            }
        })
        .collect();
    let crossing = cloning_crossing(&points, midpoint_level);
    let learned = match model.learned() {
        Some(l) => {
            control.set_span(0.6, 1.0);
            let plan = ComparisonPlan {
                samplers: &COMPARISON_SAMPLERS,
                steps: &COMPARISON_STEPS,
                rows: COMPARISON_ROWS,
            };
            Some(compare_learned(scene, l, &plan, control)?)
        }
        None => None,
    };
    Ok(DiscreteLabReport {
        noise: noise.name(),
        sampler: sampler.sampler.name(),
        length: token_model.length(),
        class_labels: token_model.class_labels().to_vec(),
        weights,
        midpoint_level,
        posterior_method: match curve {
            PosteriorCurve::Exact(_) => "exact",
            PosteriorCurve::MonteCarlo(_) => "monte_carlo",
        },
        posterior_samples: match curve {
            PosteriorCurve::Exact(_) => None,
            PosteriorCurve::MonteCarlo(_) => Some(settings.posterior_samples),
        },
        t_mid_posterior,
        t_balance,
        leading_order,
        t_leading_order: leading_order.map(|l| l.at(token_model.length())),
        t_mid_cloning: crossing.map(|c| c.0),
        t_mid_cloning_std_error: crossing.map(|c| c.1),
        curve: points,
        uturn,
        commitment,
        pairs: settings.pairs,
        labels: settings.labels.name(),
        seed: settings.seed,
        learned,
    })
}

/// The balance time of the scene's first two classes (see [`DiscreteLabReport::t_balance`]): the
/// closed form for independent sites, the Monte Carlo over φ_post's forward samples for chains.
fn balance_time(
    chains: bool,
    curve: &PosteriorCurve,
    exact: &dyn TokenModel,
    noise: DiscreteNoise,
) -> Option<f64> {
    match curve {
        PosteriorCurve::Exact(independent) => balance_time_independent(independent, noise),
        PosteriorCurve::MonteCarlo(samples) if chains => balance_time_monte_carlo(exact, samples),
        PosteriorCurve::MonteCarlo(_) => None,
    }
}

/// Which runs [`compare_learned`] makes: every sampler at every step count, `rows` trajectories each.
pub struct ComparisonPlan<'a> {
    pub samplers: &'a [DiscreteSampler],
    pub steps: &'a [usize],
    pub rows: usize,
}

/// Runs every sampler of `plan` at every step count with the learned and the exact marginals (the
/// scene's seed, grid and t range), and measures the KL of the learned marginals along the learned
/// trajectories and the Dyck validity of both runs' final words.
pub fn compare_learned(
    scene: &TokenScene,
    learned: &LearnedTokens,
    plan: &ComparisonPlan,
    control: &mut Control,
) -> Result<LearnedComparison, ViewDataError> {
    let reference = learned.reference();
    let dyck = matches!(&scene.model, TokenModelSpec::LearnedMasked(l)
        if matches!(*l.reference, TokenModelSpec::Dyck(_)));
    let total = plan.samplers.len() * plan.steps.len();
    let mut runs = Vec::with_capacity(total);
    for (i, (&sampler, &steps)) in plan
        .samplers
        .iter()
        .flat_map(|s| plan.steps.iter().map(move |n| (s, n)))
        .enumerate()
    {
        control.step(
            i as f64 / total as f64,
            &format!(
                "learned vs exact: {} sampler, {steps} steps",
                sampler.name()
            ),
        )?;
        let spec = TokenSpec {
            sampler,
            steps,
            trajectories: plan.rows,
            store: StoreSteps::All,
            ..scene.token_spec()
        };
        let cancel = control.cancel_flag();
        let mut quiet = |_: f32, _: &str| {};
        let run = run_token_trajectories(learned, &spec, &mut quiet, cancel)?;
        let kl = kl_along_run(learned, &run)?;
        let final_validity = |run: &TokenTrajectories| {
            dyck.then(|| {
                let last = run.stored_steps - 1;
                (0..run.n)
                    .filter(|&r| run.state(r, last).is_some_and(is_balanced))
                    .count() as f64
                    / run.n as f64
            })
        };
        let exact_validity = if dyck {
            let exact_run = run_token_trajectories(reference, &spec, &mut quiet, cancel)?;
            final_validity(&exact_run)
        } else {
            None
        };
        runs.push(LearnedRun {
            sampler: sampler.name(),
            steps,
            mean_kl: kl.mean,
            kl_states: kl.states,
            off_support: kl.off_support,
            validity: final_validity(&run),
            exact_validity,
        });
    }
    Ok(LearnedComparison {
        rows: plan.rows,
        runs,
    })
}

/// KL(exact ‖ learned) along one learned run (see [`LearnedRun`]).
struct KlAlongRun {
    mean: f64,
    states: usize,
    off_support: f64,
}

/// The mean over the run's states with a masked site that some word of the reference explains of
/// the site-mean KL(exact ‖ learned), their number, and the fraction of states with a masked site
/// that no word explains (there the exact marginals do not exist). The network is evaluated on all
/// states at once.
fn kl_along_run(
    learned: &LearnedTokens,
    run: &TokenTrajectories,
) -> Result<KlAlongRun, ViewDataError> {
    let (l, v) = (run.length, run.vocab);
    let states: Vec<(usize, &[u8])> = (0..run.n)
        .flat_map(|r| (0..run.stored_steps).map(move |j| (j, r)))
        .filter_map(|(j, r)| run.state(r, j).map(|x| (j, x)))
        .filter(|(_, x)| x.contains(&MASK))
        .collect();
    let flat: Vec<u8> = states.iter().flat_map(|(_, x)| x.iter().copied()).collect();
    let network = learned
        .network()
        .marginals(&flat, states.len())
        .map_err(|e| ViewDataError::Unsuitable(format!("masked-diffusion model: {e}")))?;
    let reference = learned.reference();
    let classes = reference.weights().len();
    let per_state: Vec<Option<f64>> = states
        .par_iter()
        .zip(network.par_chunks(l * v))
        .map(|(&(j, x), q)| {
            let t = run.times[j];
            if !reference.explains(DiscreteNoise::Mask, t, x) {
                return None;
            }
            let mut p = vec![0.0; l * v];
            let mut posterior = vec![0.0; classes];
            reference.posterior(DiscreteNoise::Mask, t, x, &mut p, &mut posterior);
            let masked: Vec<usize> = (0..l).filter(|&i| x[i] == MASK).collect();
            let kl: f64 = masked
                .iter()
                .map(|&i| {
                    p[i * v..(i + 1) * v]
                        .iter()
                        .zip(&q[i * v..(i + 1) * v])
                        .filter(|(p, _)| **p > 0.0)
                        .map(|(&p, &q)| p * (p / f64::from(q).max(f64::MIN_POSITIVE)).ln())
                        .sum::<f64>()
                })
                .sum();
            Some(kl / masked.len() as f64)
        })
        .collect();
    let explained: Vec<f64> = per_state.iter().flatten().copied().collect();
    let n = explained.len();
    Ok(KlAlongRun {
        mean: explained.iter().sum::<f64>() / n.max(1) as f64,
        states: n,
        off_support: (per_state.len() - n) as f64 / per_state.len().max(1) as f64,
    })
}

/// Token and class commitment of every sampler `spec.noise` allows, each a run of `spec` with its
/// sampler swapped, storing every step so that commitment times fall on the grid.
fn sampler_commitment(
    model: &dyn crate::model::discrete::TokenModel,
    spec: &TokenSpec,
    control: &mut Control,
) -> Result<Vec<TokenCommitment>, ViewDataError> {
    // A learned model has no joint draws, so no `exact` row.
    let samplers: Vec<DiscreteSampler> = DiscreteSampler::ALL
        .into_iter()
        .filter(|s| s.supports(spec.noise))
        .filter(|&s| s != DiscreteSampler::Exact || model.joint_draws())
        .collect();
    let cancel = control.cancel_flag();
    let mut out = Vec::with_capacity(samplers.len());
    for (i, &sampler) in samplers.iter().enumerate() {
        let run = TokenSpec {
            sampler,
            store: StoreSteps::All,
            ..spec.clone()
        };
        let count = samplers.len() as f64;
        let mut progress =
            |f: f32, _: &str| control.report((i as f64 + f64::from(f)) / count, "token commitment");
        let trajectories = run_token_trajectories(model, &run, &mut progress, cancel)?;
        out.push(token_commitment(&trajectories, sampler.name()));
    }
    Ok(out)
}

/// Clone times around the theory's crossing, where φ moves: geometric over [t_mid/4, 4 t_mid] cut
/// below t_max; without a crossing, geometric over [t_min, t_max) (clone times must lie below t_max).
fn auto_clone_times(t_mid: Option<f64>, t_min: f64, t_max: f64) -> Vec<f64> {
    let top = 0.95 * t_max;
    let (low, high) = match t_mid {
        Some(t) => ((0.25 * t).min(0.5 * top), (4.0 * t).min(top)),
        None => (t_min.max(1e-3).min(0.5 * top), top),
    };
    (0..AUTO_CLONE_TIMES)
        .map(|i| low * (high / low).powf(i as f64 / (AUTO_CLONE_TIMES - 1) as f64))
        .collect()
}

/// The first time the cloning curve falls below `level`, linear between the two bracketing clone
/// times, with the delta-method standard error: t = t0 + λ (t1 − t0), λ = (φ0 − level)/(φ0 − φ1), so
/// s.e.(t) = (t1 − t0) √((1 − λ)² s0² + λ² s1²) / (φ0 − φ1).
fn cloning_crossing(points: &[DiscretePoint], level: f64) -> Option<(f64, f64)> {
    points.windows(2).find_map(|w| {
        let (a, b) = (&w[0], &w[1]);
        let drop = a.phi_clone - b.phi_clone;
        (a.phi_clone >= level && b.phi_clone < level).then(|| {
            let lambda = (a.phi_clone - level) / drop;
            let span = b.t - a.t;
            let spread = ((1.0 - lambda).powi(2) * a.phi_clone_std_error.powi(2)
                + lambda.powi(2) * b.phi_clone_std_error.powi(2))
            .sqrt();
            (a.t + lambda * span, span * spread / drop)
        })
    })
}
