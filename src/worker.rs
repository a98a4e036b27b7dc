//! The background worker: jobs on worker threads, progress and cancellation over crossbeam-channel.
