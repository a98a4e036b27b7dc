//! Soak: 1,000 short sampling jobs through the worker with random parameter changes and random
//! cancellations (as a user dragging sliders does). Every job ends exactly once (finished or cancelled),
//! the event channel drains, the live heap (counted by this binary's allocator) does not grow after the
//! first 100 jobs, and resident memory at the end is within 10 % of that after 100 jobs.
//!
//! Ignored by default (about a minute in release); run with
//! `cargo test --release --test soak -- --ignored --nocapture`.

use diffscope::diffusion::{
    DiffusionError, SamplingSpec, StepKind, StoreSteps, Trajectories, run_trajectories,
};
use diffscope::model::ExactModel;
use diffscope::model::analytic::AnalyticModel;
use diffscope::scene::Scene;
use diffscope::worker::{JobError, JobEvent, JobId, JobOutput, Worker};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const JOBS: usize = 1000;
const WARM_UP: usize = 100;
/// The UI keeps a few jobs in flight at most (current view plus superseded ones winding down).
const IN_FLIGHT: usize = 4;

const SCENE: &str = r#"{
  "model": {"kind": "gaussian_mixture", "dim": 16,
    "components": [
      {"weight": 0.3, "mean": {"fill": 1.5}, "cov": {"isotropic": 0.5}, "label": "a"},
      {"weight": 0.7, "mean": {"fill": -1.0}, "cov": {"isotropic": 1.0}, "label": "b"}]},
  "sampler": {"kind": "sde", "steps": 40, "t_max": 4.0, "t_min": 0.01, "grid": "log",
              "store": "all"},
  "trajectories": 128,
  "seed": 1
}"#;

/// A line of /proc/self/status in KiB.
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("{key} in /proc/self/status (the soak test needs Linux)"))
}

/// Resident set size of this process in KiB.
fn resident_kib() -> u64 {
    status_kib("VmRSS:")
}

/// The system allocator, counting the bytes live on the heap: an exact leak measure that the
/// allocator's caching (which resident memory includes) cannot blur.
struct CountingAllocator;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Growth of live heap bytes allowed after the warm-up: capacity doublings of the worker's bounded
/// bookkeeping (a few KiB); a leak of even 300 bytes per job over the 900 later jobs exceeds it.
const LIVE_GROWTH_LIMIT: usize = 256 << 10;

/// The next job's settings: the previous ones with one thing changed, like a slider move.
fn tweak(spec: &mut SamplingSpec, rng: &mut Xoshiro256PlusPlus) {
    match rng.random_range(0..5) {
        0 => spec.trajectories = rng.random_range(16..=512),
        1 => spec.steps = rng.random_range(10..=80),
        2 => spec.seed = rng.random(),
        3 => {
            spec.kind = [
                StepKind::Sde,
                StepKind::Ancestral,
                StepKind::Ode,
                StepKind::Ddim,
            ][rng.random_range(0..4)]
        }
        _ => {
            spec.store =
                [StoreSteps::All, StoreSteps::Final, StoreSteps::Every(5)][rng.random_range(0..3)]
        }
    }
}

fn submit(worker: &Worker, model: &Arc<AnalyticModel>, spec: SamplingSpec) -> JobId {
    let model = Arc::clone(model);
    worker.submit("soak", move |ctx| {
        let mut progress = |fraction: f32, stage: &str| ctx.progress(fraction, stage);
        let exact: &dyn ExactModel = &*model;
        match run_trajectories(
            &*model,
            Some(exact),
            &spec,
            &mut progress,
            ctx.cancel_flag(),
        ) {
            Ok(t) => Ok(Arc::new(t) as JobOutput),
            Err(DiffusionError::Cancelled) => Err(JobError::Cancelled),
            Err(e) => Err(JobError::failed(&e)),
        }
    })
}

#[test]
#[ignore = "soak: run with `cargo test --release --test soak -- --ignored --nocapture`"]
fn thousand_jobs_with_cancellations_finish_drain_and_hold_memory() {
    let scene = Scene::from_json_str(SCENE, Path::new("soak.json")).unwrap();
    let model = Arc::new(scene.model.build_analytic().unwrap());
    let mut spec = scene.sampling_spec();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2026);
    let worker = Worker::new(2);
    let started = Instant::now();
    let rss_start = resident_kib();

    // Sized up front so that the test's own bookkeeping does not grow the heap after the warm-up.
    let mut ended: HashSet<JobId> = HashSet::with_capacity(JOBS);
    let mut uncancellable: HashSet<JobId> = HashSet::with_capacity(JOBS);
    let mut in_flight: Vec<JobId> = Vec::with_capacity(JOBS);
    let (mut finished, mut cancelled, mut cancel_requests) = (0usize, 0usize, 0usize);
    let mut rss_after_warm_up = None;
    let mut live_after_warm_up = 0;
    let mut rss_every_hundred = Vec::with_capacity(JOBS / WARM_UP);
    let mut receive_terminal = |in_flight: &mut Vec<JobId>, ended: &mut HashSet<JobId>| loop {
        let event = worker
            .events()
            .recv_timeout(Duration::from_secs(120))
            .expect("a job hung: no event for two minutes");
        let id = event.id();
        let terminal = match &event {
            JobEvent::Finished {
                result: Ok(out), ..
            } => {
                let t = out.downcast_ref::<Trajectories>().expect("trajectories");
                assert!(t.states.iter().all(|v| v.is_finite()));
                finished += 1;
                true
            }
            JobEvent::Finished { result: Err(e), .. } => panic!("job {id:?} failed: {e}"),
            JobEvent::Cancelled { .. } => {
                cancelled += 1;
                true
            }
            JobEvent::Started { .. } | JobEvent::Progress { .. } => false,
        };
        if terminal {
            assert!(ended.insert(id), "{id:?} ended twice");
            in_flight.retain(|&j| j != id);
            return;
        }
    };

    for submitted in 1..=JOBS {
        tweak(&mut spec, &mut rng);
        // Two in every ten warm-up jobs are the largest request the soak makes, back to back so that
        // both worker threads run one: the allocator's high-water mark (per-thread arenas keep freed
        // memory) is reached before the reference reading, and growth after that is memory the jobs
        // keep, not allocator caching.
        let largest = SamplingSpec {
            trajectories: 512,
            steps: 80,
            store: StoreSteps::All,
            ..spec.clone()
        };
        let warm_up_peak = submitted <= WARM_UP && submitted % 10 < 2;
        let id = submit(
            &worker,
            &model,
            if warm_up_peak { largest } else { spec.clone() },
        );
        in_flight.push(id);
        if warm_up_peak {
            // They must run to the end to reach the peak.
            uncancellable.insert(id);
        }
        // A third of the time the user moves on at once or after a moment: cancel a running job.
        let victims: Vec<JobId> = in_flight
            .iter()
            .copied()
            .filter(|id| !uncancellable.contains(id))
            .collect();
        if rng.random_bool(1.0 / 3.0) && !victims.is_empty() {
            std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
            worker.cancel(victims[rng.random_range(0..victims.len())]);
            cancel_requests += 1;
        }
        while in_flight.len() >= IN_FLIGHT {
            receive_terminal(&mut in_flight, &mut ended);
        }
        if submitted % WARM_UP == 0 {
            while !in_flight.is_empty() {
                receive_terminal(&mut in_flight, &mut ended);
            }
            rss_every_hundred.push(resident_kib());
            if submitted == WARM_UP {
                rss_after_warm_up = rss_every_hundred.last().copied();
                live_after_warm_up = LIVE_BYTES.load(Ordering::Relaxed);
            }
        }
    }
    while !in_flight.is_empty() {
        receive_terminal(&mut in_flight, &mut ended);
    }
    // Every event of every job came before its terminal event: nothing may be left in the channel.
    std::thread::sleep(Duration::from_millis(200));
    let leftover: Vec<JobEvent> = worker.events().try_iter().collect();
    assert!(leftover.is_empty(), "events after the end: {leftover:?}");
    let rss_end = resident_kib();
    let live_end = LIVE_BYTES.load(Ordering::Relaxed);
    let rss_warm = rss_after_warm_up.expect("warm-up reached");

    println!(
        "soak: {JOBS} jobs in {:.1} s: {finished} finished, {cancelled} cancelled \
         ({cancel_requests} cancel requests); RSS start {rss_start} KiB, after {WARM_UP} jobs \
         {rss_warm} KiB, end {rss_end} KiB ({:+.1} %); every {WARM_UP} jobs: {rss_every_hundred:?} KiB; \
         live heap after {WARM_UP} jobs {live_after_warm_up} B, end {live_end} B",
        started.elapsed().as_secs_f64(),
        100.0 * (rss_end as f64 / rss_warm as f64 - 1.0)
    );
    assert_eq!(ended.len(), JOBS);
    assert_eq!(finished + cancelled, JOBS);
    assert!(cancelled > 0 && finished > 0, "both outcomes must occur");
    assert!(
        live_end <= live_after_warm_up + LIVE_GROWTH_LIMIT,
        "live heap grew from {live_after_warm_up} B to {live_end} B: the jobs keep memory"
    );
    assert!(
        rss_end as f64 <= 1.10 * rss_warm as f64,
        "resident memory grew from {rss_warm} KiB to {rss_end} KiB"
    );
}
