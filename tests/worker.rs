//! The background worker: progress cadence, cancellation latency, panic containment, many jobs, and
//! a real sampling job whose result comes back as shared data.

use diffscope::worker::{JobError, JobEvent, JobId, JobOutput, Worker};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "soon" on a loaded shared machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// Collects events of `id` until its terminal event; returns them with their arrival times.
fn events_until_done(worker: &Worker, id: JobId) -> Vec<(Instant, JobEvent)> {
    let deadline = Instant::now() + PATIENCE;
    let mut out = Vec::new();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = worker
            .events()
            .recv_timeout(remaining)
            .expect("job did not finish in time");
        if event.id() != id {
            continue;
        }
        let terminal = matches!(
            event,
            JobEvent::Finished { .. } | JobEvent::Cancelled { .. }
        );
        out.push((Instant::now(), event));
        if terminal {
            return out;
        }
    }
}

fn output(value: impl std::any::Any + Send + Sync) -> Result<JobOutput, JobError> {
    Ok(Arc::new(value))
}

#[test]
fn progress_is_throttled_but_regular() {
    let worker = Worker::new(1);
    // Reports every millisecond for 600 ms: the worker forwards a thinned stream.
    let id = worker.submit("chatty", |ctx| {
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < Duration::from_millis(600) {
            ctx.progress(i as f32 / 600.0, "working");
            std::thread::sleep(Duration::from_millis(1));
            i += 1;
        }
        output(i)
    });
    let events = events_until_done(&worker, id);
    assert!(matches!(events[0].1, JobEvent::Started { .. }));
    let progress: Vec<Instant> = events
        .iter()
        .filter(|(_, e)| matches!(e, JobEvent::Progress { .. }))
        .map(|(at, _)| *at)
        .collect();
    // Throttle is 50 ms: about 600/50 + 1 forwarded out of several hundred reports (a little more if a
    // sleep overruns on a loaded machine), and clearly more than a handful.
    assert!(progress.len() <= 20, "{} progress events", progress.len());
    assert!(progress.len() >= 4, "{} progress events", progress.len());
    match &events.last().unwrap().1 {
        JobEvent::Finished { result: Ok(v), .. } => assert!(*v.downcast_ref::<i32>().unwrap() > 0),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cancellation_is_prompt_and_reported() {
    let worker = Worker::new(2);
    let id = worker.submit("long", |ctx| {
        for _ in 0..10_000 {
            ctx.check_cancel()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        output(())
    });
    // Wait until it runs, then cancel and time the reaction.
    loop {
        let e = worker.events().recv_timeout(PATIENCE).expect("no start");
        if matches!(e, JobEvent::Started { .. }) {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    let cancelled_at = Instant::now();
    worker.cancel(id);
    let events = events_until_done(&worker, id);
    let latency = events.last().unwrap().0 - cancelled_at;
    assert!(matches!(
        events.last().unwrap().1,
        JobEvent::Cancelled { .. }
    ));
    // The job checks every 10 ms; 1 s is a generous bound for a loaded machine.
    assert!(latency < Duration::from_secs(1), "cancel took {latency:?}");

    // A job cancelled while still queued never starts.
    let blocker = worker.submit("blocker", |_| {
        std::thread::sleep(Duration::from_millis(200));
        output(())
    });
    let blocker2 = worker.submit("blocker2", |_| {
        std::thread::sleep(Duration::from_millis(200));
        output(())
    });
    let queued = worker.submit("queued", |_| output(()));
    worker.cancel(queued);
    let mut seen: Vec<JobEvent> = Vec::new();
    let terminal =
        |e: &JobEvent| matches!(e, JobEvent::Finished { .. } | JobEvent::Cancelled { .. });
    while seen.iter().filter(|e| terminal(e)).count() < 3 {
        seen.push(
            worker
                .events()
                .recv_timeout(PATIENCE)
                .expect("jobs stalled"),
        );
    }
    let of = |id: JobId| seen.iter().filter(|e| e.id() == id).collect::<Vec<_>>();
    assert!(
        matches!(of(queued)[..], [JobEvent::Cancelled { .. }]),
        "{:?}",
        of(queued)
    );
    for id in [blocker, blocker2] {
        assert!(matches!(
            of(id).last(),
            Some(JobEvent::Finished { result: Ok(_), .. })
        ));
    }
}

#[test]
fn a_panicking_job_becomes_an_error_and_the_worker_keeps_serving() {
    let worker = Worker::new(1);
    let bad = worker.submit("bad", |_| -> Result<JobOutput, JobError> {
        panic!("index 7 out of range in test job")
    });
    match &events_until_done(&worker, bad).last().unwrap().1 {
        JobEvent::Finished {
            result: Err(JobError::Panicked(message)),
            ..
        } => assert!(message.contains("index 7 out of range"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    let failing = worker.submit("failing", |_| {
        Err(JobError::Failed("no such file: x.json".into()))
    });
    assert!(matches!(
        &events_until_done(&worker, failing).last().unwrap().1,
        JobEvent::Finished { result: Err(JobError::Failed(m)), .. } if m.contains("x.json")
    ));
    let good = worker.submit("good", |_| output(String::from("still alive")));
    match &events_until_done(&worker, good).last().unwrap().1 {
        JobEvent::Finished { result: Ok(v), .. } => {
            assert_eq!(v.downcast_ref::<String>().unwrap(), "still alive")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn many_jobs_all_finish_once_with_their_own_results() {
    let worker = Worker::new(3);
    let ids: Vec<JobId> = (0..200u64)
        .map(|i| worker.submit(format!("job {i}"), move |_| output(i * i)))
        .collect();
    let mut results = std::collections::HashMap::new();
    while results.len() < ids.len() {
        match worker
            .events()
            .recv_timeout(PATIENCE)
            .expect("jobs stalled")
        {
            JobEvent::Finished { id, result } => {
                let value = *result.unwrap().downcast_ref::<u64>().unwrap();
                assert!(results.insert(id, value).is_none(), "{id:?} finished twice");
            }
            JobEvent::Cancelled { id } => panic!("{id:?} cancelled"),
            _ => {}
        }
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(results[id], (i * i) as u64);
    }
}

#[test]
fn dropping_the_worker_stops_running_jobs() {
    let worker = Worker::new(1);
    let events = worker.events().clone();
    worker.submit("forever", |ctx| {
        loop {
            ctx.check_cancel()?;
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    assert!(matches!(
        events.recv_timeout(PATIENCE),
        Ok(JobEvent::Started { .. })
    ));
    let start = Instant::now();
    drop(worker);
    // Drop cancels and joins: it returns once the job has seen its cancel flag.
    assert!(start.elapsed() < Duration::from_secs(5));
}
