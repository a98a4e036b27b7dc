//! The trajectory store: stored-step selection and shapes, the class posterior along trajectories
//! (rows sum to 1, ensemble mean stays at the prior weight), refusal of absurd requests, progress and
//! cancellation, the final step to s = 0, and a sampling run as a worker job.

use diffscope::diffusion::{
    Batch, DiffusionError, GridSpacing, InitKind, Sampler, SamplingSpec, StepKind, StoreSteps,
    Trajectories, run_trajectories, time_grid,
};
use diffscope::model::Denoiser;
use diffscope::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use diffscope::worker::{JobError, JobEvent, Worker};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn gmm(dim: usize, w0: f64) -> GaussianMixture {
    let component = |w: f64, fill: f64| ComponentSpec {
        weight: w,
        mean: vec![fill; dim],
        cov: Covariance::Isotropic(1.0),
        label: String::new(),
    };
    GaussianMixture::new(dim, vec![component(w0, 1.0), component(1.0 - w0, -1.0)]).unwrap()
}

fn spec(store: StoreSteps, steps: usize, trajectories: usize) -> SamplingSpec {
    SamplingSpec {
        kind: StepKind::Sde,
        steps,
        t_max: 4.0,
        t_min: 1e-2,
        grid: GridSpacing::Log,
        init: InitKind::Data,
        store,
        trajectories,
        seed: 11,
        guidance: None,
    }
}

fn run(model: &GaussianMixture, spec: &SamplingSpec) -> Result<Trajectories, DiffusionError> {
    run_trajectories(
        model,
        Some(model),
        spec,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
}

#[test]
fn stored_steps_have_the_selected_shapes_and_times() {
    let model = gmm(5, 0.5);
    let grid = time_grid(4.0, 1e-2, 10, GridSpacing::Log).unwrap();
    let cases = [
        (StoreSteps::All, (0..=10).collect::<Vec<_>>()),
        (StoreSteps::Final, vec![10]),
        (StoreSteps::Every(3), vec![0, 3, 6, 9, 10]),
        (StoreSteps::Every(5), vec![0, 5, 10]),
    ];
    let mut finals = Vec::new();
    for (store, indices) in cases {
        let out = run(&model, &spec(store, 10, 50)).unwrap();
        let s = indices.len();
        assert_eq!(store.count(10).unwrap(), s, "{store:?}");
        assert_eq!((out.n, out.stored_steps, out.dim), (50, s, 5), "{store:?}");
        assert_eq!(out.states.len(), 50 * s * 5);
        assert_eq!(out.posterior.as_ref().unwrap().len(), 50 * s * 2);
        let expected: Vec<f64> = indices.iter().map(|&j| grid[j]).collect();
        assert_eq!(out.times, expected, "{store:?}");
        assert_eq!(out.initial_labels.as_ref().unwrap().len(), 50);
        finals.push(out.final_states());
    }
    // Storing more or fewer steps never changes the dynamics.
    assert!(finals.windows(2).all(|w| w[0] == w[1]));
    // Stored step 0 of "all" is the exact initial state, which differs from the final one.
    let all = run(&model, &spec(StoreSteps::All, 10, 50)).unwrap();
    assert_ne!(all.state(3, 0), all.state(3, 10));
    assert_eq!(all.state(3, 11), None);
    assert!(run(&model, &spec(StoreSteps::Every(0), 10, 50)).is_err());
}

#[test]
fn posterior_rows_sum_to_one_and_the_mean_stays_at_the_prior_weight() {
    // E_{x_t ~ P_t}[p(k | x_t)] = w_k at every t for any sampler with the right marginals (and the
    // posterior is a martingale along exact reverse SDE paths). d = 16 with means ±1: the posterior goes
    // from ≈ w at t = 4 to almost 0/1 near t_min, so every regime is visited. Standard error at each t from
    // the sample spread of p over 20,000 trajectories; bound 3 s.e. at every stored time. SDE with 400
    // log steps from 4 to 0.01 (h/t = ln(400)/400 ≈ 0.015): the discretisation drift of the mean
    // posterior is far below the ≈ 0.003 standard error.
    let w0 = 0.3;
    let model = gmm(16, w0);
    let out = run(&model, &spec(StoreSteps::Every(40), 400, 20_000)).unwrap();
    let post = out.posterior.as_ref().unwrap();
    for row in post.chunks_exact(2) {
        assert!((row[0] + row[1] - 1.0).abs() < 1e-5, "{row:?}");
        assert!(row.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    let n = out.n as f64;
    for j in 0..out.stored_steps {
        let p: Vec<f64> = (0..out.n)
            .map(|i| f64::from(out.posterior_at(i, j).unwrap()[0]))
            .collect();
        let mean = p.iter().sum::<f64>() / n;
        let sd = (p.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let se = sd / n.sqrt();
        assert!(
            (mean - w0).abs() < 3.0 * se.max(1e-4),
            "t = {}: mean posterior {mean} vs weight {w0} (s.e. {se})",
            out.times[j]
        );
    }
    // The ensemble did commit: at t_min almost every posterior is near 0 or 1.
    let last = out.stored_steps - 1;
    let committed = (0..out.n)
        .filter(|&i| {
            let p = out.posterior_at(i, last).unwrap()[0];
            !(0.01..=0.99).contains(&p)
        })
        .count();
    assert!(committed as f64 > 0.95 * n, "{committed}");
}

/// A broken model: NaN for every row whose first coordinate is positive.
struct HalfNan;

impl Denoiser for HalfNan {
    fn dim(&self) -> usize {
        2
    }
    fn denoise(
        &self,
        x: &[f32],
        _t: f64,
        denoised: &mut [f32],
        _posterior: Option<&mut [f32]>,
    ) -> Result<(), diffscope::model::ModelError> {
        for (row, out) in x.chunks_exact(2).zip(denoised.chunks_exact_mut(2)) {
            let value = if row[0] > 0.0 { f32::NAN } else { 0.0 };
            out.fill(value);
        }
        Ok(())
    }
}

#[test]
fn non_finite_trajectories_are_an_error_not_a_file_of_nans() {
    // One step: exactly the rows whose initial first coordinate is positive go bad.
    let mut gaussian = spec(StoreSteps::Final, 1, 400);
    gaussian.init = InitKind::Gaussian;
    let err = run_trajectories(
        &HalfNan,
        None,
        &gaussian,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    match &err {
        // About half the rows start with x_0 > 0 (binomial, 400 rows: 200 ± 10).
        DiffusionError::Diverged { rows, total, .. } => {
            assert_eq!(*total, 400);
            assert!((150..250).contains(rows), "{rows}");
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    assert!(err.to_string().contains("NaN"), "{err}");
}

#[test]
fn absurd_requests_are_refused_before_allocating() {
    let model = gmm(256, 0.5);
    let huge = spec(StoreSteps::All, 100_000, 1_000_000_000);
    match run(&model, &huge) {
        Err(DiffusionError::TooLarge { needed, limit, .. }) => {
            assert!(needed > limit);
            let message = run(&model, &huge).unwrap_err().to_string();
            assert!(message.contains("limit"), "{message}");
            assert!(message.contains("1000000000 trajectories"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Absurd step counts are refused before the time grid is built.
    let endless = spec(StoreSteps::Final, usize::MAX / 2, 10);
    assert!(matches!(
        run(&model, &endless),
        Err(DiffusionError::TooLarge { .. })
    ));
    let no_rows = spec(StoreSteps::Final, 10, 0);
    assert!(run(&model, &no_rows).is_err());
}

#[test]
fn progress_is_reported_and_cancel_stops_between_steps() {
    let model = gmm(4, 0.5);
    let mut fractions = Vec::new();
    let out = run_trajectories(
        &model,
        Some(&model),
        &spec(StoreSteps::Final, 20, 10),
        &mut |f, _| fractions.push(f),
        &AtomicBool::new(false),
    );
    assert!(out.is_ok());
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(fractions.last(), Some(&1.0));

    let cancel = AtomicBool::new(false);
    let mut steps_seen = 0;
    let result = run_trajectories(
        &model,
        Some(&model),
        &spec(StoreSteps::Final, 20, 10),
        &mut |_, stage| {
            if stage == "sampling" {
                steps_seen += 1;
                if steps_seen == 5 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(DiffusionError::Cancelled)));
    assert_eq!(steps_seen, 5);

    // Exact initialisation needs an exact model.
    let mut gaussian_only = spec(StoreSteps::Final, 5, 3);
    assert!(run_trajectories(&model, None, &gaussian_only, &mut |_, _| {}, &cancel).is_err());
    gaussian_only.init = InitKind::Gaussian;
    let fresh = AtomicBool::new(false);
    assert!(run_trajectories(&model, None, &gaussian_only, &mut |_, _| {}, &fresh).is_ok());
}

#[test]
fn the_step_to_zero_returns_the_denoiser_for_ancestral_and_ddim() {
    let model = gmm(6, 0.4);
    let mut start = Batch::new(6, 1).unwrap();
    let x: Vec<f32> = (0..18).map(|i| (i as f32 - 9.0) / 4.0).collect();
    start.push_rows(&x, &[0, 1, 2]).unwrap();
    let mut expected = vec![0f32; 18];
    model.denoise(&x, 0.3, &mut expected, None).unwrap();
    for kind in [StepKind::Ancestral, StepKind::Ddim] {
        let mut batch = start.clone();
        Sampler::new(&model, kind)
            .step(&mut batch, 0.3, 0.0, None)
            .unwrap();
        for (got, want) in batch.states().iter().zip(&expected) {
            assert!((got - want).abs() < 1e-5, "{kind:?}: {got} vs {want}");
        }
    }
    // The posterior alone equals the by-product of a full denoise call.
    let sampler = Sampler::new(&model, StepKind::Sde);
    let (mut alone, mut with_denoise) = (vec![0f32; 6], vec![0f32; 6]);
    sampler.posterior(&start, 0.3, &mut alone).unwrap();
    let mut denoised = vec![0f32; 18];
    sampler
        .denoise(&start, 0.3, &mut denoised, Some(&mut with_denoise))
        .unwrap();
    assert_eq!(alone, with_denoise);
    assert_eq!(denoised, expected);
    assert!(sampler.posterior(&start, 0.3, &mut [0f32; 5]).is_err());
    // The ODE falls back to an Euler step for s = 0 and stays finite.
    let mut batch = start.clone();
    Sampler::new(&model, StepKind::Ode)
        .step(&mut batch, 0.3, 0.0, None)
        .unwrap();
    assert!(batch.states().iter().all(|v| v.is_finite()));
}

#[test]
fn sampling_runs_as_a_worker_job_and_can_be_cancelled() {
    let worker = Worker::new(1);
    let model = Arc::new(gmm(8, 0.5));
    let job_model = Arc::clone(&model);
    let id = worker.submit("sample", move |ctx| {
        let m = job_model.as_ref();
        let out = run_trajectories(
            m,
            Some(m),
            &spec(StoreSteps::Final, 50, 100),
            &mut |f, stage| ctx.progress(f, stage),
            ctx.cancel_flag(),
        )
        .map_err(|e| match e {
            DiffusionError::Cancelled => JobError::Cancelled,
            e => JobError::failed(&e),
        })?;
        Ok(Arc::new(out))
    });
    let timeout = std::time::Duration::from_secs(60);
    loop {
        match worker.events().recv_timeout(timeout).unwrap() {
            JobEvent::Finished { id: done, result } => {
                assert_eq!(done, id);
                let out = result.unwrap();
                let trajectories = out.downcast_ref::<Trajectories>().unwrap();
                assert_eq!((trajectories.n, trajectories.stored_steps), (100, 1));
                break;
            }
            JobEvent::Cancelled { .. } => panic!("not cancelled"),
            _ => {}
        }
    }
    let job_model = Arc::clone(&model);
    let id = worker.submit("endless", move |ctx| {
        let m = job_model.as_ref();
        // A run far longer than the test: only cancellation ends it.
        run_trajectories(
            m,
            Some(m),
            &spec(StoreSteps::Final, 1_000_000, 100),
            &mut |f, stage| ctx.progress(f, stage),
            ctx.cancel_flag(),
        )
        .map(|out| Arc::new(out) as _)
        .map_err(|_| JobError::Cancelled)
    });
    loop {
        if let JobEvent::Progress { .. } = worker.events().recv_timeout(timeout).unwrap() {
            break;
        }
    }
    worker.cancel(id);
    loop {
        match worker.events().recv_timeout(timeout).unwrap() {
            JobEvent::Cancelled { id: done } => {
                assert_eq!(done, id);
                break;
            }
            JobEvent::Finished { .. } => panic!("finished instead of cancelled"),
            _ => {}
        }
    }
}
