//! The background worker: jobs run on worker threads and talk to the caller over crossbeam-channel
//! (started, throttled progress, finished with an `Arc` result, cancelled). A panicking job becomes an
//! error result and the worker keeps serving. Knows nothing of what the jobs compute, nor of the UI.

use crate::alloc_policy::{self, Policy};
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::any::Any;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Identifies one submitted job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// A job's result: shared immutable data the receiver downcasts to the type the job produced
/// (`output.downcast_ref::<Trajectories>()`).
pub type JobOutput = Arc<dyn Any + Send + Sync>;

/// Why a job produced no output.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum JobError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
    #[error("the job crashed: {0}")]
    Panicked(String),
}

impl JobError {
    /// A failure with the message of any error (and its causes, on one line).
    pub fn failed(error: &dyn std::error::Error) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        JobError::Failed(message)
    }
}

/// What the worker reports, in order per job: `Started`, any `Progress`, then exactly one of
/// `Finished` or `Cancelled` (a job cancelled before it started reports only `Cancelled`).
#[derive(Clone, Debug)]
pub enum JobEvent {
    Started {
        id: JobId,
        name: String,
    },
    Progress {
        id: JobId,
        fraction: f32,
        stage: String,
    },
    /// The job returned; failures and panics arrive here as `Err`.
    Finished {
        id: JobId,
        result: Result<JobOutput, JobError>,
    },
    Cancelled {
        id: JobId,
    },
}

impl JobEvent {
    pub fn id(&self) -> JobId {
        match self {
            JobEvent::Started { id, .. }
            | JobEvent::Progress { id, .. }
            | JobEvent::Finished { id, .. }
            | JobEvent::Cancelled { id } => *id,
        }
    }
}

/// Progress reports closer together than this are merged (the latest wins), so a job may report as
/// often as it likes; the receiver sees at least one update per 100 ms of work.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// What a running job can see: its cancel flag and the progress channel.
pub struct JobContext {
    id: JobId,
    cancel: Arc<AtomicBool>,
    events: Sender<JobEvent>,
    last_progress: Mutex<Option<Instant>>,
}

impl JobContext {
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Reports progress (`fraction` in [0, 1], `stage` a short text); throttled, never blocks.
    pub fn progress(&self, fraction: f32, stage: &str) {
        let Ok(mut last) = self.last_progress.lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < PROGRESS_INTERVAL) {
            return;
        }
        *last = Some(now);
        let _ = self.events.send(JobEvent::Progress {
            id: self.id,
            fraction: fraction.clamp(0.0, 1.0),
            stage: stage.to_string(),
        });
    }

    /// `Err(JobError::Cancelled)` once the job has been cancelled: call it between steps and return
    /// the error with `?`.
    pub fn check_cancel(&self) -> Result<(), JobError> {
        if self.is_cancelled() {
            Err(JobError::Cancelled)
        } else {
            Ok(())
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag itself, for library calls that poll an `AtomicBool` (e.g. `run_trajectories`).
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }
}

type JobFn = Box<dyn FnOnce(&JobContext) -> Result<JobOutput, JobError> + Send + 'static>;

struct Task {
    id: JobId,
    name: String,
    job: JobFn,
    cancel: Arc<AtomicBool>,
}

/// A pool of worker threads running submitted jobs.
pub struct Worker {
    tasks: Option<Sender<Task>>,
    events_tx: Sender<JobEvent>,
    events: Receiver<JobEvent>,
    flags: Arc<Mutex<HashMap<JobId, Arc<AtomicBool>>>>,
    next_id: AtomicU64,
    threads: Vec<JoinHandle<()>>,
}

impl Worker {
    /// Starts `threads` worker threads (at least one).
    pub fn new(threads: usize) -> Self {
        alloc_policy::set(Policy::SmallMappings);
        let (tasks_tx, tasks_rx) = unbounded::<Task>();
        let (events_tx, events) = unbounded();
        let flags: Arc<Mutex<HashMap<JobId, Arc<AtomicBool>>>> = Arc::default();
        let threads = (0..threads.max(1))
            .map(|i| {
                let tasks = tasks_rx.clone();
                let events = events_tx.clone();
                let flags = Arc::clone(&flags);
                std::thread::Builder::new()
                    .name(format!("diffscope-worker-{i}"))
                    .spawn(move || serve(tasks, events, flags))
                    .ok()
            })
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        Worker {
            tasks: Some(tasks_tx),
            events_tx,
            events,
            flags,
            next_id: AtomicU64::new(1),
            threads,
        }
    }

    /// Queues a job; it runs on the first free thread. The returned id names it in every event.
    pub fn submit(
        &self,
        name: impl Into<String>,
        job: impl FnOnce(&JobContext) -> Result<JobOutput, JobError> + Send + 'static,
    ) -> JobId {
        let id = JobId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let cancel = Arc::new(AtomicBool::new(false));
        if let Ok(mut flags) = self.flags.lock() {
            flags.insert(id, Arc::clone(&cancel));
        }
        let task = Task {
            id,
            name: name.into(),
            job: Box::new(job),
            cancel,
        };
        let sent = self
            .tasks
            .as_ref()
            .is_some_and(|tasks| tasks.send(task).is_ok());
        if !sent || self.threads.is_empty() {
            let _ = self.events_tx.send(JobEvent::Finished {
                id,
                result: Err(JobError::Failed("the worker has no running threads".into())),
            });
        }
        id
    }

    /// Asks a job to stop: a queued job never starts, a running one sees `check_cancel` fail. Unknown
    /// or finished ids are ignored.
    pub fn cancel(&self, id: JobId) {
        if let Some(flag) = self.flags.lock().ok().and_then(|f| f.get(&id).cloned()) {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// The events of all jobs, in the order they happened per job.
    pub fn events(&self) -> &Receiver<JobEvent> {
        &self.events
    }
}

impl Drop for Worker {
    /// Cancels every job, lets the running ones reach their next cancel check and joins the threads.
    fn drop(&mut self) {
        if let Ok(flags) = self.flags.lock() {
            flags
                .values()
                .for_each(|f| f.store(true, Ordering::Relaxed));
        }
        self.tasks = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn serve(
    tasks: Receiver<Task>,
    events: Sender<JobEvent>,
    flags: Arc<Mutex<HashMap<JobId, Arc<AtomicBool>>>>,
) {
    for task in tasks.iter() {
        let id = task.id;
        let event = run_task(task, &events);
        if let Ok(mut flags) = flags.lock() {
            flags.remove(&id);
        }
        let _ = events.send(event);
        alloc_policy::release_freed_memory();
    }
}

fn run_task(task: Task, events: &Sender<JobEvent>) -> JobEvent {
    let id = task.id;
    if task.cancel.load(Ordering::Relaxed) {
        return JobEvent::Cancelled { id };
    }
    let _ = events.send(JobEvent::Started {
        id,
        name: task.name,
    });
    let context = JobContext {
        id,
        cancel: task.cancel,
        events: events.clone(),
        last_progress: Mutex::new(None),
    };
    let job = task.job;
    let result = catch_unwind(AssertUnwindSafe(|| job(&context)))
        .unwrap_or_else(|payload| Err(JobError::Panicked(panic_message(payload.as_ref()))));
    match result {
        Err(JobError::Cancelled) => JobEvent::Cancelled { id },
        result => JobEvent::Finished { id, result },
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".into())
}
