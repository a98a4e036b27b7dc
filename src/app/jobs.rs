//! Job bookkeeping for the UI: which worker job serves which purpose, its progress and stage, and the
//! errors to show. Starting a job of a kind cancels and forgets the previous one of that kind, so a stale
//! result can never land in the views. Draws nothing itself except the jobs strip.

use crate::worker::{JobError, JobEvent, JobId, JobOutput, Worker};

/// What a job is for; at most one live job per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    Sample,
    Speciation,
    Metrics,
    References,
    /// The DiT vs Euler-Stack measurement with the shipped weights (on request only).
    Compare,
    /// An offscreen PNG export.
    Export,
    /// A film (Export… → Animation): a kind of its own, so that a PNG exported while it records does
    /// not cancel it.
    Film,
}

/// A live job as the jobs strip shows it.
#[derive(Clone, Debug)]
pub struct JobRow {
    pub id: JobId,
    pub kind: JobKind,
    /// What the strip calls it ("sampling", "loading points", …).
    pub name: String,
    pub fraction: f32,
    pub stage: String,
    pub running: bool,
}

/// A finished job's output, handed to the app once.
pub struct Finished {
    pub kind: JobKind,
    pub output: JobOutput,
}

/// Live jobs and the errors not yet dismissed.
pub struct JobBoard {
    worker: Worker,
    rows: Vec<JobRow>,
    errors: Vec<String>,
    /// The last thing written to disk ("wrote FILE"), shown in the status line until replaced.
    notice: Option<String>,
}

impl JobBoard {
    pub fn new(threads: usize) -> Self {
        JobBoard {
            worker: Worker::new(threads),
            rows: Vec::new(),
            errors: Vec::new(),
            notice: None,
        }
    }

    /// Starts `job` as the live job of `kind`, cancelling the previous one.
    pub fn start(
        &mut self,
        kind: JobKind,
        name: &str,
        job: impl FnOnce(&crate::worker::JobContext) -> Result<JobOutput, JobError> + Send + 'static,
    ) {
        self.cancel(kind);
        let id = self.worker.submit(name, job);
        self.rows.push(JobRow {
            id,
            kind,
            name: name.to_string(),
            fraction: 0.0,
            stage: "queued".into(),
            running: false,
        });
    }

    /// Cancels the live job of `kind`, if any, and forgets it.
    pub fn cancel(&mut self, kind: JobKind) {
        let (stale, live): (Vec<JobRow>, Vec<JobRow>) =
            self.rows.drain(..).partition(|row| row.kind == kind);
        self.rows = live;
        for row in stale {
            self.worker.cancel(row.id);
        }
    }

    /// Applies the worker's events; returns the outputs of jobs that finished well. Failures become
    /// errors (each recorded once); results of forgotten jobs are dropped.
    pub fn poll(&mut self) -> Vec<Finished> {
        let mut finished = Vec::new();
        while let Ok(event) = self.worker.events().try_recv() {
            let Some(index) = self.rows.iter().position(|row| row.id == event.id()) else {
                continue;
            };
            match event {
                JobEvent::Started { .. } => {
                    self.rows[index].running = true;
                    self.rows[index].stage = "started".into();
                }
                JobEvent::Progress {
                    fraction, stage, ..
                } => {
                    self.rows[index].fraction = fraction;
                    self.rows[index].stage = stage;
                }
                JobEvent::Finished { result, .. } => {
                    let row = self.rows.remove(index);
                    match result {
                        Ok(output) => finished.push(Finished {
                            kind: row.kind,
                            output,
                        }),
                        Err(JobError::Cancelled) => {}
                        Err(e) => self.report(format!("{} failed: {e}", row.name)),
                    }
                }
                JobEvent::Cancelled { .. } => {
                    self.rows.remove(index);
                }
            }
        }
        finished
    }

    /// Records an error for the status bar; an identical message already shown is not repeated.
    pub fn report(&mut self, message: String) {
        if !self.errors.contains(&message) {
            log::warn!("{message}");
            self.errors.push(message);
        }
    }

    /// Says in the status line what was just done (e.g. "wrote /path/figure.svg").
    pub fn notify(&mut self, message: String) {
        log::info!("{message}");
        self.notice = Some(message);
    }

    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    pub fn rows(&self) -> &[JobRow] {
        &self.rows
    }

    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    pub fn dismiss_error(&mut self, index: usize) {
        if index < self.errors.len() {
            self.errors.remove(index);
        }
    }

    pub fn is_running(&self, kind: JobKind) -> bool {
        self.rows.iter().any(|row| row.kind == kind)
    }

    pub fn idle(&self) -> bool {
        self.rows.is_empty()
    }

    /// Progress only, for Present mode: one bar per running job ("name: stage") and the errors, no
    /// buttons. Draws nothing when idle without errors.
    pub fn progress_ui(&self, ui: &mut egui::Ui) {
        if self.rows.is_empty() && self.errors.is_empty() {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            for row in &self.rows {
                ui.add(
                    egui::ProgressBar::new(row.fraction)
                        .desired_width(ui.available_width().min(360.0))
                        .text(format!("{}: {}", row.name, row.stage)),
                );
            }
            for message in &self.errors {
                ui.colored_label(ui.visuals().error_fg_color, format!("Error: {message}"));
            }
        });
    }

    /// The jobs strip: one row per job with a progress bar, its stage and a cancel button.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let mut cancel = None;
        for row in &self.rows {
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(&row.name).strong());
                ui.add(
                    egui::ProgressBar::new(row.fraction)
                        .desired_width(220.0)
                        .show_percentage(),
                );
                ui.label(&row.stage);
                if ui.button(format!("Cancel {}", row.name)).clicked() {
                    cancel = Some(row.kind);
                }
            });
        }
        if let Some(kind) = cancel {
            self.cancel(kind);
        }
        let mut dismiss = None;
        for (index, message) in self.errors.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().error_fg_color, format!("Error: {message}"));
                if ui.small_button("Dismiss").clicked() {
                    dismiss = Some(index);
                }
            });
        }
        if let Some(index) = dismiss {
            self.dismiss_error(index);
        }
        if self.rows.is_empty() && self.errors.is_empty() {
            match &self.notice {
                Some(notice) => ui.label(format!("Idle: all results are up to date. {notice}.")),
                None => ui.label("Idle: all results are up to date."),
            };
        } else if let Some(notice) = &self.notice {
            ui.label(format!("{notice}."));
        }
    }
}
