//! Benchmarks of the engine area: whole reverse-time runs (final states only) with exact denoisers, and
//! the engine's own cost measured with a trivial denoiser so that model and engine time can be told apart.

use super::{Bench, Figure, RUNS, Timing, best_of};
use crate::base::ou::signal;
use crate::diffusion::{
    GridSpacing, InitKind, NoiseStream, SamplingSpec, StepKind, StoreSteps, run_trajectories,
};
use crate::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use crate::model::ising::{Boundary, IsingComponentSpec, IsingMixture};
use crate::model::{Denoiser, ExactModel, ModelError};
use crate::rng::Domain;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "noise_normal_1thread",
            run: noise_one_thread,
        },
        Bench {
            name: "sde_gauss1_10k_256_200",
            run: sde_engine_only,
        },
        Bench {
            name: "sde_gmm2_10k_256_200",
            run: || gmm2(StepKind::Sde, "sde_gmm2_10k_256_200"),
        },
        Bench {
            name: "ancestral_gmm2_10k_256_200",
            run: || gmm2(StepKind::Ancestral, "ancestral_gmm2_10k_256_200"),
        },
        Bench {
            name: "sde_ising2_1k_100_200",
            run: sde_ising2,
        },
    ]
}

/// Data N(0, I): D(x, t) = a_t x. The cheapest exact denoiser, so a run measures the engine alone.
struct StandardNormalData {
    dim: usize,
}

impl Denoiser for StandardNormalData {
    fn dim(&self) -> usize {
        self.dim
    }
    fn denoise(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        _posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.check_batch(x, denoised, None, t)?;
        let a = signal(t) as f32;
        for (d, &v) in denoised.iter_mut().zip(x) {
            *d = a * v;
        }
        Ok(())
    }
}

fn spec(kind: StepKind, trajectories: usize, steps: usize) -> SamplingSpec {
    SamplingSpec {
        kind,
        steps,
        t_max: 8.0,
        t_min: 1e-3,
        grid: GridSpacing::Log,
        init: InitKind::Gaussian,
        store: StoreSteps::Final,
        trajectories,
        seed: 1,
        guidance: None,
    }
}

/// The fastest of `RUNS` identical runs.
fn time_run(
    model: &dyn Denoiser,
    exact: Option<&dyn ExactModel>,
    spec: &SamplingSpec,
) -> anyhow::Result<Timing> {
    let (timing, ()) = best_of(|| {
        let out = run_trajectories(model, exact, spec, &mut |_, _| {}, &AtomicBool::new(false))?;
        anyhow::ensure!(
            out.states.iter().all(|v| v.is_finite()),
            "non-finite states in the benchmark run"
        );
        Ok(())
    })?;
    Ok(timing)
}

/// The Gaussian noise generator alone on one thread: 100 M draws in rows of 256.
fn noise_one_thread() -> anyhow::Result<Figure> {
    let rows = 390_625;
    let mut stream = NoiseStream::new(1, Domain::ReverseNoise, 0);
    let mut row = vec![0f32; 256];
    let mut checksum = 0f64;
    let start = Instant::now();
    for _ in 0..rows {
        stream.fill_normal(&mut row);
        checksum += f64::from(row[0]);
    }
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(checksum.is_finite(), "non-finite noise");
    Ok(Figure {
        name: "noise_normal_1thread",
        inputs: format!(
            "{} M N(0,1) f32 draws, rows of 256, one thread",
            rows * 256 / 1_000_000
        ),
        seconds,
        target_seconds: None,
    })
}

/// ½N(+1, I) + ½N(−1, I) in d = 256 (the workload of docs/science/performance.md §2; numpy takes ≈ 18 s here).
fn gmm2(kind: StepKind, name: &'static str) -> anyhow::Result<Figure> {
    let dim = 256;
    let component = |fill: f64, label: &str| ComponentSpec {
        weight: 0.5,
        mean: vec![fill; dim],
        cov: Covariance::Isotropic(1.0),
        label: label.into(),
    };
    let model = GaussianMixture::new(dim, vec![component(1.0, "+"), component(-1.0, "-")])?;
    let mut spec = spec(kind, 10_000, 200);
    spec.init = InitKind::Data;
    let timing = time_run(&model, Some(&model), &spec)?;
    let workload = format!("exact score, {kind:?}, 2-class GMM ±1 fill, var 1");
    let target = (kind == StepKind::Sde).then_some(1.0);
    Ok(run_figure(name, &workload, dim, &spec, &timing, target))
}

/// Two open Ising chains, β = 0.3 vs 0.8, J = 1, d = 100 (spec case D).
fn sde_ising2() -> anyhow::Result<Figure> {
    let dim = 100;
    let class = |beta: f64, label: &str| IsingComponentSpec {
        weight: 0.5,
        beta,
        label: label.into(),
    };
    let model = IsingMixture::new(
        dim,
        1.0,
        Boundary::Open,
        1.0,
        vec![class(0.3, "hot"), class(0.8, "cold")],
    )?;
    let mut spec = spec(StepKind::Sde, 1_000, 200);
    spec.init = InitKind::Data;
    let timing = time_run(&model, Some(&model), &spec)?;
    let workload = "exact score, Sde, open Ising chains β 0.3/0.8, J=1";
    Ok(run_figure(
        "sde_ising2_1k_100_200",
        workload,
        dim,
        &spec,
        &timing,
        None,
    ))
}

fn sde_engine_only() -> anyhow::Result<Figure> {
    let spec = spec(StepKind::Sde, 10_000, 200);
    let model = StandardNormalData { dim: 256 };
    let timing = time_run(&model, None, &spec)?;
    let workload = "engine only (D = a_t x): reverse SDE Euler–Maruyama";
    Ok(run_figure(
        "sde_gauss1_10k_256_200",
        workload,
        model.dim,
        &spec,
        &timing,
        None,
    ))
}

/// The figure of one whole reverse-time run: the workload and every sampling setting that sets its cost.
fn run_figure(
    name: &'static str,
    workload: &str,
    dim: usize,
    spec: &SamplingSpec,
    timing: &Timing,
    target_seconds: Option<f64>,
) -> Figure {
    let init = match spec.init {
        InitKind::Data => "exact data init",
        InitKind::Gaussian => "N(0,I) init",
    };
    Figure {
        name,
        inputs: format!(
            "{workload}, {} traj x d={dim} x {} steps, log grid {}..{}, {init}, final states, \
             {} threads, best of {RUNS}{}",
            spec.trajectories,
            spec.steps,
            spec.t_max,
            spec.t_min,
            rayon::current_num_threads(),
            timing.cpu_note()
        ),
        seconds: timing.wall,
        target_seconds,
    }
}
