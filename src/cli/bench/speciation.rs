//! Benchmarks of the speciation area: the cloning experiment of spec cases A (two Gaussians, d = 64) and
//! D (Ising chains, d = 100), 2000 pairs × 13 clone times each, with the app's settings (§3.4).

use super::{Bench, Figure};
use crate::analysis::speciation::Control;
use crate::analysis::speciation::cloning::{ReverseSettings, run_cloning};
use crate::analysis::speciation::labeller::{ExactLabeller, LabelRule};
use crate::model::ExactModel;
use crate::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use crate::model::ising::{Boundary, IsingComponentSpec, IsingMixture};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "cloning_case_a",
            run: cloning_case_a,
        },
        Bench {
            name: "cloning_case_d",
            run: cloning_case_d,
        },
    ]
}

const PAIRS: usize = 2000;
const CLONE_TIMES: usize = 13;

/// `CLONE_TIMES` evenly spread over [lo, hi].
fn spread(lo: f64, hi: f64) -> Vec<f64> {
    (0..CLONE_TIMES)
        .map(|i| lo + (hi - lo) * i as f64 / (CLONE_TIMES - 1) as f64)
        .collect()
}

fn time_cloning(
    name: &'static str,
    model: &dyn ExactModel,
    clone_times: Vec<f64>,
) -> anyhow::Result<Figure> {
    let settings = ReverseSettings::new(clone_times, PAIRS, LabelRule::Argmax, 7);
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    let start = Instant::now();
    let run = run_cloning(model, model, &ExactLabeller(model), &settings, &mut control)?;
    Ok(Figure {
        name,
        inputs: format!(
            "{PAIRS} pairs x {CLONE_TIMES} clone times, d = {}, {} grid steps of h = {}",
            model.dim(),
            run.times.len() - 1,
            settings.step
        ),
        seconds: start.elapsed().as_secs_f64(),
        target_seconds: None,
    })
}

fn cloning_case_a() -> anyhow::Result<Figure> {
    let component = |sign: f64| ComponentSpec {
        weight: 0.5,
        mean: vec![sign; 64],
        cov: Covariance::Isotropic(1.0),
        label: String::new(),
    };
    let model = GaussianMixture::new(64, vec![component(1.0), component(-1.0)])?;
    // Around t_mid = 2.16 ± 1.5 (first-moment case).
    time_cloning("cloning_case_a", &model, spread(0.66, 3.66))
}

fn cloning_case_d() -> anyhow::Result<Figure> {
    let component = |beta: f64| IsingComponentSpec {
        weight: 0.5,
        beta,
        label: String::new(),
    };
    let model = IsingMixture::new(
        100,
        1.0,
        Boundary::Open,
        1.0,
        vec![component(0.3), component(0.8)],
    )?;
    // [0.05, 2] (second-moment case).
    time_cloning("cloning_case_d", &model, spread(0.05, 2.0))
}
