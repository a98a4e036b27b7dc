//! The speciation lab for one model (`docs/science/speciation.md` §2–§3): theory (exact finite-d headline values,
//! leading order beside them), pairwise times and dendrogram, then the cloning and U-turn experiments,
//! commitment and martingale diagnostics, per hierarchy level. Returns plain serialisable data; the CLI
//! and the app format it. No file access.

use super::cloning::{
    BOOTSTRAP_RESAMPLES, CloningRun, Crossing, PhiCurve, ReverseSettings, bootstrap_crossing,
    phi_curve, run_cloning,
};
use super::commitment::{Commitment, EPSILON, Martingale, commitment, martingale};
use super::gaussian::{
    GaussianClass, LeadingOrder, bbdm_time, classes_of, exactly_gaussian_pair, leading_order,
    pair_balance_time, pair_moments, pair_separation,
};
use super::hierarchy::{Level, Merge, dendrogram, levels};
use super::labeller::{ExactLabeller, LabelRule, Labeller};
use super::posterior_curve::{ForwardSamples, phi_posterior, posterior_crossings};
use super::universal::{constants, weighted_gaussian_phi};
use super::uturn::{UTurnRun, run_uturn};
use super::{Control, SpeciationError, free_entropy, ising};
use crate::model::analytic::AnalyticModel;
use crate::model::ising::Boundary;
use crate::model::{Denoiser, ExactModel, LabelledSamples};
use serde::Serialize;

/// Which clone times to use.
#[derive(Clone, Debug, PartialEq)]
pub enum CloneTimes {
    /// 13 times around the theory time (±1.5 for first-moment classes, [0.05, 2] for second-moment),
    /// 6 more per extra hierarchy level.
    Auto,
    Times(Vec<f64>),
}

/// Everything the lab needs besides the model.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeciationSettings {
    pub clone_times: CloneTimes,
    pub pairs: usize,
    pub labels: LabelRule,
    /// Optional class → group map (a coarse level above the classes).
    pub groups: Option<Vec<Vec<usize>>>,
    pub seed: u64,
    /// The scene sampler's t_max: clone times must lie below it.
    pub sampler_t_max: f64,
    /// Forward samples of the Monte Carlo theory (φ_post, ΔΦ moments).
    pub posterior_samples: usize,
    /// OU-time step of the ancestral reverse runs (cloning, U-turn).
    pub step: f64,
    /// Classifier-free guidance weight of the reverse runs (each pair keeps its class); the theory is
    /// always that of unguided sampling.
    pub guidance: Option<f64>,
}

impl SpeciationSettings {
    /// Spec §3.4 defaults: automatic clone times, 2000 pairs, argmax labels, 10⁴ theory samples, step
    /// 0.02.
    pub fn new(seed: u64, sampler_t_max: f64) -> Self {
        SpeciationSettings {
            clone_times: CloneTimes::Auto,
            pairs: 2000,
            labels: LabelRule::Argmax,
            groups: None,
            seed,
            sampler_t_max,
            posterior_samples: 10_000,
            step: REVERSE_STEP,
            guidance: None,
        }
    }

    fn validate(&self, classes: usize) -> Result<Vec<Level>, SpeciationError> {
        if self.pairs == 0 {
            return Err(SpeciationError::Invalid("pairs must be at least 1".into()));
        }
        if self.posterior_samples < 2 {
            return Err(SpeciationError::Invalid(
                "the theory needs at least 2 posterior samples".into(),
            ));
        }
        if let CloneTimes::Times(times) = &self.clone_times {
            self.reverse(times.clone()).validate(self.sampler_t_max)?;
        }
        levels(classes, self.groups.as_deref())
    }

    fn reverse(&self, times: Vec<f64>) -> ReverseSettings {
        let mut reverse = ReverseSettings::new(times, self.pairs, self.labels, self.seed);
        reverse.t_min = T_MIN;
        reverse.step = self.step;
        reverse.guidance = self.guidance;
        reverse
    }
}

/// Theory of one level. Headline values are exact finite-d; `leading_order` holds the approximation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelTheory {
    /// ½ ln Λ of the top data-covariance eigenvalue (within each parent group; largest), Gaussian
    /// mixtures with separated means only.
    pub t_bbdm: Option<f64>,
    /// Exact mean = std time of ΔΦ between the two groups (conditioned on the first), two-group levels.
    pub t_balance: Option<f64>,
    /// Crossing of the exact φ_post(t) at the midpoint level.
    pub t_mid: Option<f64>,
    /// Crossing of the exact φ_post(t) at the balance level (φ at D = 2).
    pub t_mid_at_balance_level: Option<f64>,
    /// φ_post at t_min: below 1 when classes overlap at t = 0, where argmax-labelled cloning tends to
    /// 1 instead and crosses later (docs/science/speciation.md §4.2 item 1; sampled labels remove the
    /// offset). `None` without an exact model.
    pub phi_post_at_t_min: Option<f64>,
    /// How `t_mid` and `t_balance` were computed.
    pub method: String,
    pub leading_order: Option<LeadingOrder>,
    /// Two Ising classes only: the leading order with ‖ΔC‖_F² ≈ 2 d S (per-site constant S).
    pub leading_order_large_d: Option<LeadingOrder>,
}

/// Measured crossings of the cloning curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// First downward crossing of the midpoint level.
    pub t_mid: Option<f64>,
    /// Bootstrap standard error of `t_mid`.
    pub t_mid_stderr: Option<f64>,
    pub t_mid_interval: Option<[f64; 2]>,
    /// First downward crossing of the balance level.
    pub t_balance: Option<f64>,
    pub t_balance_interval: Option<[f64; 2]>,
    pub bootstrap_resamples: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PosteriorCurve {
    pub t: Vec<f64>,
    pub phi: Vec<f64>,
}

/// Everything about one hierarchy level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelReport {
    pub name: String,
    /// Classes of each group.
    pub groups: Vec<Vec<usize>>,
    pub midpoint_level: f64,
    pub balance_level: Option<f64>,
    pub theory: LevelTheory,
    pub measured: Measured,
    pub phi_cloning: PhiCurve,
    pub phi_posterior: PosteriorCurve,
    pub phi_uturn: PhiCurve,
    pub commitment: Commitment,
    pub martingale: Martingale,
}

/// Pairwise balance times t_kl (`[K][K]`, conditioned on the row class; null on the diagonal or when
/// unknown) and the single-linkage dendrogram.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pairwise {
    pub t: Vec<Vec<Option<f64>>>,
    pub dendrogram: Vec<Merge>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReverseSummary {
    pub clone_times: Vec<f64>,
    pub pairs: usize,
    pub labels: &'static str,
    pub step: f64,
    pub t_start: f64,
    pub t_min: f64,
    /// The guidance weight w the cloning, U-turn and commitment runs used (absent: unguided).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f64>,
}

/// The whole lab result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpeciationReport {
    pub seed: u64,
    pub settings: ReverseSummary,
    pub posterior_samples: usize,
    /// φ(D = 2) and D* of the universal curve.
    pub phi_at_balance: f64,
    pub d_star: f64,
    pub pairwise: Pairwise,
    /// The coarsest level (the first speciation), also `levels[0]`.
    #[serde(flatten)]
    pub headline: LevelReport,
    pub levels: Vec<LevelReport>,
}

/// The labelling time t_min of the experiments (docs/science/speciation.md §3.4).
const T_MIN: f64 = 0.01;

/// The default ancestral step h of the experiments (docs/science/speciation.md §3.4).
pub const REVERSE_STEP: f64 = 0.02;

/// Points of the displayed φ_post curve.
const CURVE_POINTS: usize = 41;

/// Runs theory and experiments. `dynamics` drives the reverse process (default: `model` itself); the
/// analytic `model` initialises, labels and provides the theory.
pub fn run_speciation(
    model: &AnalyticModel,
    dynamics: Option<&dyn Denoiser>,
    settings: &SpeciationSettings,
    control: &mut Control,
) -> Result<SpeciationReport, SpeciationError> {
    let weights = model.weights().to_vec();
    let classes = weights.len();
    let hierarchy = settings.validate(classes)?;
    let dynamics = dynamics.unwrap_or(model);
    if dynamics.dim() != model.dim() {
        return Err(SpeciationError::Invalid(format!(
            "the sampled model has dimension {} but the reference model {}",
            dynamics.dim(),
            model.dim()
        )));
    }

    control.set_span(0.0, 0.15);
    control.step(0.0, "theory")?;
    let samples = ForwardSamples::draw(model, settings.posterior_samples, settings.seed);
    let pairwise = pairwise(model, settings);
    control.step(0.5, "theory per level")?;
    let at_t_min = phi_posterior(model, &samples, &hierarchy, T_MIN)?;
    let theories = hierarchy
        .iter()
        .zip(at_t_min)
        .map(|(level, phi_min)| level_theory(model, level, &samples, &pairwise, settings, phi_min))
        .collect::<Result<Vec<LevelTheory>, SpeciationError>>()?;
    control.step(1.0, "theory")?;

    let times = match &settings.clone_times {
        CloneTimes::Times(t) => t.clone(),
        CloneTimes::Auto => auto_clone_times(model, &theories, settings)?,
    };
    let reverse = settings.reverse(times);
    reverse.validate(settings.sampler_t_max)?;
    let labeller = ExactLabeller(model);
    control.set_span(0.15, 0.75);
    let cloning = run_cloning(dynamics, model, &labeller, &reverse, control)?;
    control.set_span(0.75, 1.0);
    let uturn = run_uturn(dynamics, model, &labeller, &reverse, control)?;
    let experiments = Experiments {
        reverse: &reverse,
        cloning: &cloning,
        uturn: &uturn,
        weights: &weights,
        seed: settings.seed,
    };

    let first = reverse.clone_times.first().copied().unwrap_or(0.0);
    let last = reverse.clone_times.last().copied().unwrap_or(1.0);
    let curve_t: Vec<f64> = (0..CURVE_POINTS)
        .map(|i| first + (last - first) * i as f64 / (CURVE_POINTS - 1) as f64)
        .collect();
    let curve_phi = curve_t
        .iter()
        .map(|&t| phi_posterior(model, &samples, &hierarchy, t))
        .collect::<Result<Vec<Vec<f64>>, SpeciationError>>()?;

    let reports: Vec<LevelReport> = hierarchy
        .iter()
        .zip(theories)
        .enumerate()
        .map(|(index, (level, theory))| {
            let curve = PosteriorCurve {
                t: curve_t.clone(),
                phi: curve_phi.iter().map(|p| p[index]).collect(),
            };
            let two_class_d = two_class_d(model, level);
            let predicted = two_class_d.as_ref().map(|f| f as &dyn Fn(f64) -> f64);
            experiments.level_report(level, theory, curve, predicted)
        })
        .collect();
    experiments.report(pairwise, settings.posterior_samples, reports)
}

/// The reverse experiments of one lab run, read per hierarchy level.
struct Experiments<'a> {
    reverse: &'a ReverseSettings,
    cloning: &'a CloningRun,
    uturn: &'a UTurnRun,
    /// Class weights (the model's, or the labelled samples' class frequencies).
    weights: &'a [f64],
    seed: u64,
}

impl Experiments<'_> {
    /// One level's measured curves and crossings beside its `theory`, φ_post `curve` and the
    /// commitment prediction from D(t), when there is one.
    fn level_report(
        &self,
        level: &Level,
        theory: LevelTheory,
        curve: PosteriorCurve,
        predicted: Option<&dyn Fn(f64) -> f64>,
    ) -> LevelReport {
        let reverse = self.reverse;
        let classes = self.weights.len();
        let midpoint = level.midpoint_level(self.weights);
        let balance = level.balance_level(self.weights);
        let matches = self.cloning.matches(level);
        let crossing = |value: f64| {
            bootstrap_crossing(
                &reverse.clone_times,
                &matches,
                reverse.pairs,
                value,
                self.seed,
            )
        };
        let mid: Option<Crossing> = crossing(midpoint);
        let bal: Option<Crossing> = balance.and_then(crossing);
        LevelReport {
            name: level.name.clone(),
            groups: (0..level.groups())
                .map(|g| {
                    (0..classes)
                        .filter(|&k| level.group_of_class[k] == g)
                        .collect()
                })
                .collect(),
            midpoint_level: midpoint,
            balance_level: balance,
            theory,
            measured: Measured {
                t_mid: mid.map(|c| c.t),
                t_mid_stderr: mid.map(|c| c.stderr),
                t_mid_interval: mid.map(|c| c.interval),
                t_balance: bal.map(|c| c.t),
                t_balance_interval: bal.map(|c| c.interval),
                bootstrap_resamples: BOOTSTRAP_RESAMPLES,
            },
            phi_cloning: phi_curve(&reverse.clone_times, &matches, reverse.pairs),
            phi_posterior: curve,
            phi_uturn: phi_curve(
                &reverse.clone_times,
                &self.uturn.matches(level),
                reverse.pairs,
            ),
            commitment: commitment(self.cloning, level, EPSILON, predicted),
            martingale: martingale(self.cloning, level, self.weights),
        }
    }

    /// The whole report from its levels (the first is the headline).
    fn report(
        &self,
        pairwise: Pairwise,
        posterior_samples: usize,
        levels: Vec<LevelReport>,
    ) -> Result<SpeciationReport, SpeciationError> {
        let reverse = self.reverse;
        let headline = levels
            .first()
            .cloned()
            .ok_or_else(|| SpeciationError::Invalid("the model has no classes".into()))?;
        Ok(SpeciationReport {
            seed: self.seed,
            settings: ReverseSummary {
                t_start: reverse.clone_times.last().copied().unwrap_or(0.0) + reverse.lead,
                clone_times: reverse.clone_times.clone(),
                pairs: reverse.pairs,
                labels: reverse.labels.name(),
                step: reverse.step,
                t_min: reverse.t_min,
                guidance: reverse.guidance,
            },
            posterior_samples,
            phi_at_balance: constants().phi_at_balance,
            d_star: constants().d_star,
            pairwise,
            headline,
            levels,
        })
    }
}

/// Automatic clone times of a lab without theory: 13 (+6 per extra level) evenly spread over
/// [0.05, 3], clipped to the sampler's t_max.
fn untheorised_clone_times(levels: usize, limit: f64) -> Result<Vec<f64>, SpeciationError> {
    even_clone_times(0.05, 3.0, 13 + 6 * levels.saturating_sub(1), limit)
}

/// `count` clone times evenly spread over [lo, hi], `hi` clipped to 98 % of the sampler's t_max.
fn even_clone_times(
    lo: f64,
    hi: f64,
    count: usize,
    limit: f64,
) -> Result<Vec<f64>, SpeciationError> {
    let hi = hi.min(0.98 * limit);
    if hi <= lo {
        return Err(SpeciationError::Invalid(format!(
            "automatic clone times need t_max above {lo:.3}, the sampler's t_max is {limit}"
        )));
    }
    Ok((0..count)
        .map(|i| lo + (hi - lo) * i as f64 / (count - 1) as f64)
        .collect())
}

/// The lab of a model with no exact theory (`docs/science/speciation.md` §3): the model's own final
/// samples `bank` with the `labeller`'s classes are its data law (cloning starts from them pushed to T,
/// the U-turn noises them), and `labeller` reads classes along the way. No theory columns: every
/// `theory` value is empty, φ_post has no points, the class weights are the bank's class frequencies.
pub fn run_labelled_speciation(
    dynamics: &dyn Denoiser,
    bank: &LabelledSamples,
    labeller: &dyn Labeller,
    settings: &SpeciationSettings,
    control: &mut Control,
) -> Result<SpeciationReport, SpeciationError> {
    let classes = labeller.classes();
    if bank.labels.is_empty() || bank.dim != dynamics.dim() {
        return Err(SpeciationError::Invalid(format!(
            "the lab needs labelled samples of dimension {}, got {} of dimension {}",
            dynamics.dim(),
            bank.labels.len(),
            bank.dim
        )));
    }
    let hierarchy = settings.validate(classes)?;
    let mut weights = vec![0.0; classes];
    for &label in &bank.labels {
        if let Some(w) = weights.get_mut(label as usize) {
            *w += 1.0 / bank.labels.len() as f64;
        }
    }
    let times = match &settings.clone_times {
        CloneTimes::Times(t) => t.clone(),
        CloneTimes::Auto => untheorised_clone_times(hierarchy.len(), settings.sampler_t_max)?,
    };
    let reverse = settings.reverse(times);
    reverse.validate(settings.sampler_t_max)?;
    control.set_span(0.0, 0.7);
    let cloning = run_cloning(dynamics, bank, labeller, &reverse, control)?;
    control.set_span(0.7, 1.0);
    let uturn = run_uturn(dynamics, bank, labeller, &reverse, control)?;
    let experiments = Experiments {
        reverse: &reverse,
        cloning: &cloning,
        uturn: &uturn,
        weights: &weights,
        seed: settings.seed,
    };
    let reports = hierarchy
        .iter()
        .map(|level| {
            let theory = LevelTheory {
                t_bbdm: None,
                t_balance: None,
                t_mid: None,
                t_mid_at_balance_level: None,
                phi_post_at_t_min: None,
                method: "no exact model: measured only, classes from the scene's labeller".into(),
                leading_order: None,
                leading_order_large_d: None,
            };
            let curve = PosteriorCurve {
                t: Vec::new(),
                phi: Vec::new(),
            };
            experiments.level_report(level, theory, curve, None)
        })
        .collect();
    let pairwise = Pairwise {
        t: vec![vec![None; classes]; classes],
        dendrogram: Vec::new(),
    };
    experiments.report(pairwise, 0, reports)
}

/// The Gaussian classes of the model, when it is a Gaussian mixture.
fn gaussian_classes(model: &AnalyticModel) -> Option<Vec<GaussianClass>> {
    match model {
        AnalyticModel::Gaussian(m) => Some(classes_of(m)),
        AnalyticModel::Ising(_) => None,
    }
}

/// The two single-class groups of a top level with exactly two classes, if that is its shape.
fn single_pair(level: &Level) -> Option<(usize, usize)> {
    (level.groups() == 2 && level.group_of_class.len() == 2 && level.parent_of_group == [0, 0])
        .then(|| (level.group_of_class[0], level.group_of_class[1]))
        .filter(|&(a, b)| a != b)
        .map(|(a, _)| if a == 0 { (0, 1) } else { (1, 0) })
}

/// Class pairs (k < l) in the same parent group but different groups of `level`: the pairs whose
/// speciation the level measures.
fn cross_pairs(level: &Level) -> Vec<(usize, usize)> {
    let k_count = level.group_of_class.len();
    let group = |k: usize| level.group_of_class[k];
    (0..k_count)
        .flat_map(|k| ((k + 1)..k_count).map(move |l| (k, l)))
        .filter(|&(k, l)| {
            group(k) != group(l)
                && level.parent_of_group[group(k)] == level.parent_of_group[group(l)]
        })
        .collect()
}

/// D(t) = M(t) of a two-class Gaussian level (for the commitment prediction).
fn two_class_d(model: &AnalyticModel, level: &Level) -> Option<impl Fn(f64) -> f64> {
    let (k, l) = single_pair(level)?;
    let classes = gaussian_classes(model)?;
    let (a, b) = (classes[k].clone(), classes[l].clone());
    Some(move |t: f64| pair_moments(&a, &b, t).mean)
}

fn level_theory(
    model: &AnalyticModel,
    level: &Level,
    samples: &ForwardSamples,
    pairwise: &Pairwise,
    settings: &SpeciationSettings,
    phi_post_at_t_min: f64,
) -> Result<LevelTheory, SpeciationError> {
    let weights = model.weights();
    let midpoint = level.midpoint_level(weights);
    let balance = level.balance_level(weights);
    let gaussian = gaussian_classes(model);
    let pair = single_pair(level);
    // Exact closed form when ΔΦ of a two-class Gaussian level is exactly Gaussian; else Monte Carlo.
    let closed = match (&gaussian, pair) {
        (Some(c), Some((k, l))) if exactly_gaussian_pair(&c[k], &c[l]) => {
            Some((c[k].clone(), c[l].clone()))
        }
        _ => None,
    };
    let (t_mid, t_mid_at_balance_level, mid_method) = if let Some((a, b)) = &closed {
        let w = a.weight / (a.weight + b.weight);
        let cross = |value: f64| {
            super::gaussian::first_sign_change(|t| {
                weighted_gaussian_phi(pair_moments(a, b, t).mean, w) - value
            })
        };
        (
            cross(midpoint),
            balance.and_then(cross),
            "φ_post closed form (ΔΦ exactly Gaussian, Gauss–Hermite)".to_string(),
        )
    } else {
        let mut targets = vec![(0, midpoint)];
        targets.extend(balance.map(|b| (0, b)));
        let t = posterior_crossings(model, samples, std::slice::from_ref(level), &targets)?;
        (
            t[0],
            t.get(1).copied().flatten(),
            format!("φ_post Monte Carlo ({} forward samples)", samples.len()),
        )
    };
    let groups_top = level.groups() == 2 && level.parent_of_group == [0, 0];
    let (t_balance, balance_method) = match (&gaussian, pair) {
        (Some(_), Some((k, l))) => (
            pairwise.t[k.min(l)][k.max(l)],
            "mean = std exact (generalised eigenvalues)",
        ),
        (None, Some((k, l))) => (
            pairwise.t[k.min(l)][k.max(l)],
            "mean = std Monte Carlo of ΔΦ (transfer matrix)",
        ),
        _ if groups_top => {
            let members = |g: usize| -> Vec<usize> {
                (0..weights.len())
                    .filter(|&k| level.group_of_class[k] == g)
                    .collect()
            };
            let (first, second) = (members(0), members(1));
            let group_samples = free_entropy::GroupSamples::draw(
                model,
                &first,
                settings.posterior_samples,
                settings.seed,
            );
            (
                free_entropy::balance_time(model, &first, &second, &group_samples),
                "mean = std Monte Carlo of ΔΦ",
            )
        }
        _ => (
            cross_pairs(level)
                .into_iter()
                .filter_map(|(k, l)| pairwise.t[k][l])
                .reduce(f64::min),
            "mean = std: earliest pairwise time between groups of one parent (dendrogram)",
        ),
    };
    // Leading order of a level: the latest-speciating (smallest) pair time between its groups.
    let pair_leading = |k: usize, l: usize| match (model, &gaussian) {
        (_, Some(c)) => Some(leading_order(pair_separation(&c[k], &c[l]))),
        (AnalyticModel::Ising(m), None) => {
            let u = |class: usize| m.bonds()[class].tanh();
            let periodic = m.boundary() == Boundary::Periodic;
            Some(ising::leading_order_times(
                u(k),
                u(l),
                m.dim(),
                periodic,
                m.scale(),
            ))
        }
        _ => None,
    };
    let pair_leading: Vec<LeadingOrder> = cross_pairs(level)
        .into_iter()
        .filter_map(|(k, l)| pair_leading(k, l))
        .collect();
    let earliest = |pick: fn(&LeadingOrder) -> Option<f64>| {
        pair_leading.iter().filter_map(pick).reduce(f64::min)
    };
    let leading = (!pair_leading.is_empty()).then(|| LeadingOrder {
        t_balance: earliest(|l| l.t_balance),
        t_mid: earliest(|l| l.t_mid),
    });
    let t_bbdm = gaussian.as_ref().and_then(|c| {
        let parents = level.parent_of_group.iter().max().map_or(0, |&p| p + 1);
        (0..parents)
            .filter_map(|p| {
                let mut members: Vec<GaussianClass> = (0..c.len())
                    .filter(|&k| level.parent_of_group[level.group_of_class[k]] == p)
                    .map(|k| c[k].clone())
                    .collect();
                let total: f64 = members.iter().map(|m| m.weight).sum();
                members.iter_mut().for_each(|m| m.weight /= total);
                bbdm_time(&members)
            })
            .reduce(f64::max)
    });
    Ok(LevelTheory {
        t_bbdm,
        t_balance,
        t_mid,
        t_mid_at_balance_level,
        phi_post_at_t_min: Some(phi_post_at_t_min),
        method: format!("{mid_method}; {balance_method}"),
        leading_order: leading,
        leading_order_large_d: match (model, pair) {
            (AnalyticModel::Ising(m), Some((k, l))) => Some(ising::large_d_leading_order_times(
                m.bonds()[k].tanh(),
                m.bonds()[l].tanh(),
                m.dim(),
                m.scale(),
            )),
            _ => None,
        },
    })
}

fn pairwise(model: &AnalyticModel, settings: &SpeciationSettings) -> Pairwise {
    let k = model.weights().len();
    let gaussian = gaussian_classes(model);
    let time = |a: usize, b: usize| -> Option<f64> {
        match &gaussian {
            Some(c) => pair_balance_time(&c[a], &c[b]),
            None => {
                let samples = free_entropy::GroupSamples::draw(
                    model,
                    &[a],
                    settings.posterior_samples,
                    settings.seed,
                );
                free_entropy::balance_time(model, &[a], &[b], &samples)
            }
        }
    };
    // `[K, K]`, symmetric: each pair is conditioned on its lower-index class.
    let mut flat = vec![f64::NAN; k * k];
    for a in 0..k {
        for b in (a + 1)..k {
            let value = time(a, b).unwrap_or(f64::NAN);
            flat[a * k + b] = value;
            flat[b * k + a] = value;
        }
    }
    let t = flat
        .chunks(k.max(1))
        .map(|row| row.iter().map(|&v| v.is_finite().then_some(v)).collect())
        .collect();
    Pairwise {
        t,
        dendrogram: dendrogram(k, &flat),
    }
}

/// Clone times around the theory: 13 (+6 per extra level) evenly spread over [t_lo − 1.5, t_hi + 1.5]
/// for first-moment classes or [0.05, 2] for second-moment ones, clipped to (t_min, sampler t_max).
fn auto_clone_times(
    model: &AnalyticModel,
    theories: &[LevelTheory],
    settings: &SpeciationSettings,
) -> Result<Vec<f64>, SpeciationError> {
    let count = 13 + 6 * theories.len().saturating_sub(1);
    let first_moment =
        gaussian_classes(model).is_some_and(|c| c.windows(2).any(|p| p[0].mean != p[1].mean));
    let (lo, hi) = if first_moment {
        let mids: Vec<f64> = theories.iter().filter_map(|t| t.t_mid).collect();
        let (lo, hi) = mids
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| {
                (a.min(t), b.max(t))
            });
        if !lo.is_finite() {
            return Err(SpeciationError::Invalid(
                "no theory time to place automatic clone times around; give clone_times explicitly"
                    .into(),
            ));
        }
        ((lo - 1.5).max(0.05), hi + 1.5)
    } else {
        (0.05, 2.0)
    };
    even_clone_times(lo, hi, count, settings.sampler_t_max)
}
