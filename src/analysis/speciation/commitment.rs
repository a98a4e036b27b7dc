//! Class posterior along reverse trajectories (`docs/science/speciation.md` §3.2): commitment times with
//! tolerance ε, their histogram and the large-d prediction of the committed fraction, and the martingale
//! diagnostic (the mean posterior stays at the prior weight). Reads a finished `CloningRun`; no dynamics.

use super::cloning::CloningRun;
use super::hierarchy::Level;
use serde::Serialize;

/// Default commitment tolerance ε.
pub const EPSILON: f64 = 0.1;

/// Group posteriors `[S, N, G]` of the base trajectories of a run at one level.
fn group_track(run: &CloningRun, level: &Level) -> Vec<f64> {
    let (k, g) = (run.classes, level.groups());
    let mut out = vec![0.0; run.times.len() * run.pairs * g];
    let mut classes = vec![0.0; k];
    for (row, dest) in run
        .base_posterior
        .chunks(k.max(1))
        .zip(out.chunks_mut(g.max(1)))
    {
        classes
            .iter_mut()
            .zip(row)
            .for_each(|(c, &r)| *c = f64::from(r));
        level.group_posterior(&classes, dest);
    }
    out
}

/// Commitment summary of the base trajectories at one level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Commitment {
    pub epsilon: f64,
    /// Commitment time of every trajectory that ends committed (r_{k*}(t_min) ≥ 1 − ε).
    pub times: Vec<f64>,
    /// Trajectories that never commit: at t_min the posterior of the group they end in (their label's) is
    /// below 1 − ε ([`Commitment::uncommitted_phrase`] says so in words).
    pub uncommitted: usize,
    pub histogram: Histogram,
    /// Fraction of trajectories with r_{k*}(t) ≥ 1 − ε at stored times, and its large-d prediction.
    pub committed_fraction: CommittedFraction,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram {
    /// `[B + 1]`
    pub edges: Vec<f64>,
    /// `[B]`
    pub counts: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommittedFraction {
    pub t: Vec<f64>,
    pub measured: Vec<f64>,
    /// Φ_N((D − ln((1−ε)/ε)) / sqrt(2D)) where a two-class D(t) is known.
    pub predicted: Option<Vec<f64>>,
}

impl Commitment {
    /// Trajectories counted: committed and uncommitted.
    pub fn total(&self) -> usize {
        self.times.len() + self.uncommitted
    }

    /// What `uncommitted` means, in words shared by the CLI and the app: "N of M trajectories never
    /// commit (…)", empty when every trajectory commits.
    pub fn uncommitted_phrase(&self) -> String {
        match self.uncommitted {
            0 => String::new(),
            n => format!(
                "{n} of {} trajectories never commit (their final class's posterior at t = {} is \
                 below 1 − ε = {})",
                self.total(),
                // The histogram starts at the run's last time, t_min.
                self.histogram.edges.first().copied().unwrap_or(f64::NAN),
                1.0 - self.epsilon
            ),
        }
    }
}

impl Histogram {
    /// `bins` equal bins over [lo, hi]; values outside fall into the end bins.
    pub fn of(values: &[f64], lo: f64, hi: f64, bins: usize) -> Histogram {
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0usize; bins];
        for &t in values {
            let bin = ((t - lo) / width).max(0.0) as usize;
            counts[bin.min(bins - 1)] += 1;
        }
        Histogram {
            edges: (0..=bins).map(|b| lo + width * b as f64).collect(),
            counts,
        }
    }
}

/// Histogram bins of commitment times.
pub const BINS: usize = 40;

/// Commitment of trajectories whose class posterior is stored per trajectory, `posterior` `[N, S, K]`
/// at the decreasing `times` `[S]` (recorded files, token trajectories). Each trajectory's class is
/// `labels[i]` when given, else the argmax of its posterior at the last time. `None` when the shapes
/// disagree or are empty.
pub fn posterior_commitment(
    times: &[f64],
    posterior: &[f32],
    n: usize,
    k: usize,
    labels: Option<&[u32]>,
    epsilon: f64,
) -> Option<Commitment> {
    let s = times.len();
    if n == 0 || s == 0 || k == 0 || posterior.len() != n * s * k {
        return None;
    }
    let base_labels: Vec<u32> = match labels.filter(|l| l.len() == n) {
        Some(labels) => labels.to_vec(),
        None => posterior
            .chunks_exact(s * k)
            .map(|trajectory| {
                trajectory[(s - 1) * k..]
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(c, _)| c as u32)
            })
            .collect(),
    };
    // The commitment scan reads `[S, N, K]`.
    let mut base_posterior = vec![0f32; s * n * k];
    for (i, trajectory) in posterior.chunks_exact(s * k).enumerate() {
        for (j, row) in trajectory.chunks_exact(k).enumerate() {
            base_posterior[(j * n + i) * k..(j * n + i + 1) * k].copy_from_slice(row);
        }
    }
    let run = CloningRun {
        clone_times: Vec::new(),
        pairs: n,
        classes: k,
        base_labels,
        clone_labels: Vec::new(),
        times: times.to_vec(),
        base_posterior,
    };
    let level = Level {
        name: "classes".into(),
        group_of_class: (0..k).collect(),
        parent_of_group: vec![0; k],
    };
    Some(commitment(&run, &level, epsilon, None))
}

/// Commitment times t_commit = sup{t : r_{k*}(t') ≥ 1 − ε on [t_min, t]}, k* the final group, scanning
/// the stored grid from t_min upward. `two_class_d` gives D(t) for the prediction when known.
pub fn commitment(
    run: &CloningRun,
    level: &Level,
    epsilon: f64,
    two_class_d: Option<&dyn Fn(f64) -> f64>,
) -> Commitment {
    let (n, g, s) = (run.pairs, level.groups(), run.times.len());
    let track = group_track(run, level);
    let at = |j: usize, i: usize, grp: usize| track[(j * n + i) * g + grp];
    let threshold = 1.0 - epsilon;
    let final_group = |i: usize| {
        level
            .group_of_class
            .get(run.base_labels[i] as usize)
            .copied()
            .unwrap_or(0)
    };
    let mut times = Vec::new();
    for i in 0..n {
        let grp = final_group(i);
        // Stored times run from T (j = 0) down to t_min (j = s − 1).
        let mut committed_from = None;
        for j in (0..s).rev() {
            if at(j, i, grp) < threshold {
                break;
            }
            committed_from = Some(run.times[j]);
        }
        times.extend(committed_from);
    }
    let (lo, hi) = (
        run.times.last().copied().unwrap_or(0.0),
        run.times.first().copied().unwrap_or(1.0),
    );
    let histogram = Histogram::of(&times, lo, hi, BINS);
    let stride = (s / 100).max(1);
    let picked: Vec<usize> = (0..s).step_by(stride).collect();
    let measured = picked
        .iter()
        .map(|&j| {
            (0..n)
                .filter(|&i| at(j, i, final_group(i)) >= threshold)
                .count() as f64
                / n as f64
        })
        .collect();
    let log_odds = (threshold / epsilon).ln();
    let predicted = two_class_d.map(|d_of_t| {
        picked
            .iter()
            .map(|&j| {
                let d = d_of_t(run.times[j]).max(1e-300);
                normal_cdf((d - log_odds) / (2.0 * d).sqrt())
            })
            .collect()
    });
    Commitment {
        epsilon,
        uncommitted: n - times.len(),
        times,
        histogram,
        committed_fraction: CommittedFraction {
            t: picked.iter().map(|&j| run.times[j]).collect(),
            measured,
            predicted,
        },
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    (n > 0).then(|| 0.5 * (sorted[(n - 1) / 2] + sorted[n / 2]))
}

/// Standard normal CDF via erfc (Numerical Recipes Chebyshev fit, relative error < 1.2e-7).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Martingale diagnostic: at every stored t, the largest |mean r_g − W_g| over groups in standard errors
/// (sd of r_g over trajectories / sqrt(N)).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Martingale {
    pub t: Vec<f64>,
    pub max_z: Vec<f64>,
    /// Largest value of `max_z`.
    pub worst: f64,
}

pub fn martingale(run: &CloningRun, level: &Level, class_weights: &[f64]) -> Martingale {
    let (n, g) = (run.pairs, level.groups());
    let track = group_track(run, level);
    let prior = level.group_weights(class_weights);
    let max_z: Vec<f64> = track
        .chunks(n * g.max(1))
        .map(|step| {
            (0..g)
                .map(|grp| {
                    let values = step.iter().skip(grp).step_by(g);
                    let mean = values.clone().sum::<f64>() / n as f64;
                    let var =
                        values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0).max(1.0);
                    let gap = (mean - prior[grp]).abs();
                    let stderr = (var / n as f64).sqrt();
                    if stderr > 0.0 {
                        gap / stderr
                    } else if gap > 1e-12 {
                        f64::INFINITY
                    } else {
                        0.0
                    }
                })
                .fold(0.0, f64::max)
        })
        .collect();
    Martingale {
        t: run.times.clone(),
        worst: max_z.iter().copied().fold(0.0, f64::max),
        max_z,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uncommitted_phrase_says_what_it_counts() {
        let mut c = Commitment {
            epsilon: EPSILON,
            times: vec![0.3; 951],
            uncommitted: 49,
            histogram: Histogram {
                edges: vec![0.01, 1.0],
                counts: vec![951],
            },
            committed_fraction: CommittedFraction {
                t: Vec::new(),
                measured: Vec::new(),
                predicted: None,
            },
        };
        let phrase = c.uncommitted_phrase();
        assert!(
            phrase.starts_with("49 of 1000 trajectories never commit"),
            "{phrase}"
        );
        assert!(phrase.contains("t = 0.01"), "{phrase}");
        assert!(phrase.contains("below 1 − ε = 0.9"), "{phrase}");
        c.uncommitted = 0;
        assert_eq!(c.uncommitted_phrase(), "");
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_746).abs() < 1e-7);
        assert!((normal_cdf(-2.0) - 0.022_750_132).abs() < 1e-7);
    }
}
