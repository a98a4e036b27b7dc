//! Determinism of the engine: bit-identical output with 1 and 2 threads, same seed → same output,
//! different seed → different; and the step-level API with clone rows (the speciation lab's pattern):
//! a row's future depends only on its state, its id and the seed, never on the other rows.

use diffscope::diffusion::{
    Batch, GridSpacing, InitKind, Sampler, SamplingSpec, StepKind, StoreSteps, Trajectories,
    forward_noised, run_trajectories, time_grid,
};
use diffscope::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use diffscope::model::ising::{Boundary, IsingComponentSpec, IsingMixture};
use diffscope::model::{Denoiser, ExactModel};
use std::sync::atomic::AtomicBool;

fn gmm(dim: usize) -> GaussianMixture {
    let component = |w: f64, fill: f64| ComponentSpec {
        weight: w,
        mean: vec![fill; dim],
        cov: Covariance::Isotropic(1.0),
        label: String::new(),
    };
    GaussianMixture::new(dim, vec![component(0.4, 1.0), component(0.6, -1.0)]).unwrap()
}

fn spec(kind: StepKind, seed: u64) -> SamplingSpec {
    SamplingSpec {
        kind,
        steps: 40,
        t_max: 5.0,
        t_min: 1e-2,
        grid: GridSpacing::Log,
        init: InitKind::Data,
        store: StoreSteps::Every(7),
        // Not a multiple of the chunk size, so the last chunk is ragged.
        trajectories: 777,
        seed,
        guidance: None,
    }
}

fn run_with_threads(threads: usize, model: &dyn ExactModel, spec: &SamplingSpec) -> Trajectories {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        run_trajectories(
            model,
            Some(model),
            spec,
            &mut |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap()
    })
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn output_is_bit_identical_whatever_the_thread_count() {
    let gaussian = gmm(37);
    let ising = IsingMixture::new(
        20,
        1.0,
        Boundary::Open,
        1.0,
        [0.3, 0.8]
            .iter()
            .map(|&beta| IsingComponentSpec {
                weight: 0.5,
                beta,
                label: String::new(),
            })
            .collect(),
    )
    .unwrap();
    for kind in [
        StepKind::Sde,
        StepKind::Ancestral,
        StepKind::Ode,
        StepKind::Ddim,
    ] {
        for model in [&gaussian as &dyn ExactModel, &ising] {
            let one = run_with_threads(1, model, &spec(kind, 5));
            let two = run_with_threads(2, model, &spec(kind, 5));
            assert_eq!(bits(&one.states), bits(&two.states), "{kind:?}");
            assert_eq!(
                bits(one.posterior.as_ref().unwrap()),
                bits(two.posterior.as_ref().unwrap()),
                "{kind:?}"
            );
            assert_eq!(one.initial_labels, two.initial_labels);
        }
    }
}

#[test]
fn same_seed_same_output_different_seed_different_output() {
    let model = gmm(16);
    for kind in [StepKind::Sde, StepKind::Ode] {
        let a = run_with_threads(2, &model, &spec(kind, 1));
        let b = run_with_threads(2, &model, &spec(kind, 1));
        let c = run_with_threads(2, &model, &spec(kind, 2));
        assert_eq!(bits(&a.states), bits(&b.states));
        assert_ne!(bits(&a.final_states()), bits(&c.final_states()));
    }
    // Gaussian initialisation is keyed by the seed too.
    let mut gaussian_init = spec(StepKind::Sde, 1);
    gaussian_init.init = InitKind::Gaussian;
    let a = run_with_threads(1, &model, &gaussian_init);
    let b = run_with_threads(2, &model, &gaussian_init);
    assert_eq!(bits(&a.states), bits(&b.states));
    assert!(a.initial_labels.is_none());
}

/// Steps a batch along a grid, cloning rows `clone_sources` under ids 1000+ at grid index `clone_at`.
fn cloning_run(
    model: &dyn Denoiser,
    start: &[f32],
    grid: &[f64],
    clone_at: Option<usize>,
    threads: usize,
) -> Batch {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let dim = model.dim();
        let n = start.len() / dim;
        let mut batch = Batch::new(dim, 99).unwrap();
        batch
            .push_rows(start, &(0..n as u64).collect::<Vec<_>>())
            .unwrap();
        let sampler = Sampler::new(model, StepKind::Ancestral);
        for (j, w) in grid.windows(2).enumerate() {
            if clone_at == Some(j) {
                let sources: Vec<usize> = (0..n).collect();
                let ids: Vec<u64> = (0..n as u64).map(|i| 1000 + i).collect();
                batch.clone_rows(&sources, &ids).unwrap();
            }
            sampler.step(&mut batch, w[0], w[1], None).unwrap();
        }
        batch
    })
}

#[test]
fn clone_rows_keep_every_row_deterministic_and_independent() {
    let model = gmm(8);
    let grid = time_grid(4.0, 0.01, 60, GridSpacing::Linear).unwrap();
    let n = 300;
    let start = forward_noised(&model, n, 4.0, 3).points;
    let plain = cloning_run(&model, &start, &grid, None, 1);
    let cloned_1 = cloning_run(&model, &start, &grid, Some(30), 1);
    let cloned_2 = cloning_run(&model, &start, &grid, Some(30), 2);
    assert_eq!(cloned_1.len(), 2 * n);
    assert_eq!(bits(cloned_1.states()), bits(cloned_2.states()));
    // Base rows are unaffected by the clones appended next to them.
    assert_eq!(bits(&cloned_1.states()[..n * 8]), bits(plain.states()));
    // Each clone continued with its own noise: it differs from its base.
    for i in 0..n {
        assert_ne!(
            cloned_1.row(i),
            cloned_1.row(n + i),
            "clone {i} equals its base"
        );
    }
    assert_eq!(&cloned_1.row_ids()[n..n + 2], &[1000, 1001]);
}

#[test]
fn batch_rejects_bad_rows() {
    let mut batch = Batch::new(3, 1).unwrap();
    batch.push_rows(&[0.0; 6], &[1, 2]).unwrap();
    let dup = batch.push_rows(&[0.0; 3], &[2]).unwrap_err();
    assert!(dup.to_string().contains("row id 2"), "{dup}");
    assert!(batch.push_rows(&[0.0; 6], &[7, 7]).is_err());
    assert!(batch.push_rows(&[0.0; 5], &[8, 9]).is_err());
    assert!(batch.clone_rows(&[5], &[10]).is_err());
    assert_eq!(batch.len(), 2);
    let model = gmm(4);
    let err = Sampler::new(&model, StepKind::Sde)
        .step(&mut batch, 1.0, 0.5, None)
        .unwrap_err();
    assert!(err.to_string().contains("dimension"), "{err}");
    let mut ok = Batch::new(4, 1).unwrap();
    ok.push_rows(&[0.0; 4], &[0]).unwrap();
    let sampler = Sampler::new(&model, StepKind::Sde);
    assert!(sampler.step(&mut ok, 0.5, 1.0, None).is_err());
    assert!(
        sampler
            .step(&mut ok, 1.0, 0.5, Some(&mut [0.0; 3]))
            .is_err()
    );
}
