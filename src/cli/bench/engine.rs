//! Benchmarks of the engine area: whole reverse-time runs (final states only) with exact denoisers, and
//! the engine's own cost measured with a trivial denoiser so that model and engine time can be told apart.

use super::{Bench, Figure};
use diffscope_engine_bench::*;

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
    ]
}

mod diffscope_engine_bench {
    use super::Figure;
    use crate::diffusion::NoiseStream;
    use crate::diffusion::{
        GridSpacing, InitKind, SamplingSpec, StepKind, StoreSteps, run_trajectories, signal,
    };
    use crate::model::{Denoiser, ModelError, check_batch};
    use crate::rng::Domain;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    /// Data N(0, I): D(x, t) = a_t x. The cheapest exact denoiser, so a run measures the engine alone.
    struct StandardNormalData {
        dim: usize,
    }

    impl Denoiser for StandardNormalData {
        fn dim(&self) -> usize {
            self.dim
        }
        fn class_labels(&self) -> &[String] {
            &[]
        }
        fn has_exact_posterior(&self) -> bool {
            false
        }
        fn denoise(
            &self,
            x: &[f32],
            t: f64,
            denoised: &mut [f32],
            _posterior: Option<&mut [f32]>,
        ) -> Result<(), ModelError> {
            check_batch(self.dim, 0, x, denoised, None, t)?;
            let a = signal(t) as f32;
            for (d, &v) in denoised.iter_mut().zip(x) {
                *d = a * v;
            }
            Ok(())
        }
    }

    pub(super) fn spec(kind: StepKind, trajectories: usize, steps: usize) -> SamplingSpec {
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
        }
    }

    /// Times one run; returns seconds.
    pub(super) fn time_run(
        model: &dyn Denoiser,
        exact: Option<&dyn crate::model::ExactModel>,
        spec: &SamplingSpec,
    ) -> anyhow::Result<f64> {
        let start = Instant::now();
        let out = run_trajectories(model, exact, spec, &mut |_, _| {}, &AtomicBool::new(false))?;
        let seconds = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            out.states.iter().all(|v| v.is_finite()),
            "non-finite states in the benchmark run"
        );
        Ok(seconds)
    }

    /// The Gaussian noise generator alone on one thread: 100 M draws in rows of 256.
    pub fn noise_one_thread() -> anyhow::Result<Figure> {
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

    pub fn sde_engine_only() -> anyhow::Result<Figure> {
        let spec = spec(StepKind::Sde, 10_000, 200);
        let model = StandardNormalData { dim: 256 };
        let seconds = time_run(&model, None, &spec)?;
        Ok(Figure {
            name: "sde_gauss1_10k_256_200",
            inputs: format!(
                "engine only (D = a_t x): reverse SDE Euler–Maruyama, {} traj x d=256 x {} steps, \
                 log grid {}..{}, N(0,I) init, final states, {} threads",
                spec.trajectories,
                spec.steps,
                spec.t_max,
                spec.t_min,
                rayon::current_num_threads()
            ),
            seconds,
            target_seconds: None,
        })
    }
}
