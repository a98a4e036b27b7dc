//! Contained faults and atomic writes. A sampling job whose model panics, returns NaN, or asks for more
//! memory than the machine has ends as an error event while a concurrent normal job finishes with the
//! same result as a direct run, and the worker accepts new jobs after. Every file writer keeps the
//! previous file and leaves no temporary when the folder refuses writes, the disk fills mid-way, or the
//! `sample` process is killed part-way. An over-large point cloud is refused with its estimate, not read.

mod fs_support;
use fs_support::modes_are_ignored;

use diffscope::diffusion::{
    DiffusionError, InitKind, SamplingSpec, StoreSteps, Trajectories, run_trajectories,
};
use diffscope::io::{npy, tensors};
use diffscope::model::analytic::AnalyticModel;
use diffscope::model::{Denoiser, ExactModel, ModelError};
use diffscope::scene::Scene;
use diffscope::worker::{JobError, JobEvent, JobId, JobOutput, Worker};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "soon" on a loaded shared machine.
const PATIENCE: Duration = Duration::from_secs(60);

const SCENE: &str = r#"{
  "model": {"kind": "gaussian_mixture", "dim": 8,
    "components": [
      {"weight": 0.5, "mean": {"fill": 1.0}, "cov": {"isotropic": 1.0}, "label": "+"},
      {"weight": 0.5, "mean": {"fill": -1.0}, "cov": {"isotropic": 1.0}, "label": "-"}]},
  "sampler": {"kind": "sde", "steps": 60, "t_max": 4.0, "t_min": 0.01, "grid": "log",
              "store": "final"},
  "trajectories": 64,
  "seed": 11
}"#;

fn scene() -> Scene {
    Scene::from_json_str(SCENE, Path::new("faults.json")).unwrap()
}

fn model() -> Arc<AnalyticModel> {
    Arc::new(scene().model.build_analytic().unwrap())
}

fn spec() -> SamplingSpec {
    scene().sampling_spec()
}

/// The faulty models are plain denoisers (no exact sampling of the data): start from N(0, I).
fn gaussian_start() -> SamplingSpec {
    SamplingSpec {
        init: InitKind::Gaussian,
        ..spec()
    }
}

/// What goes wrong inside the model once the sampler has come below `t = 1`.
#[derive(Clone, Copy)]
enum Fault {
    Panic,
    NotANumber,
}

/// The analytic model with one injected fault (mid-run, so the job has really started).
struct Faulty {
    inner: Arc<AnalyticModel>,
    fault: Fault,
}

impl Denoiser for Faulty {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn class_labels(&self) -> &[String] {
        self.inner.class_labels()
    }

    fn denoise(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        _posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.inner.denoise(x, t, denoised, None)?;
        if t < 1.0 {
            match self.fault {
                Fault::Panic => panic!("injected model panic at t = {t}"),
                Fault::NotANumber => denoised.iter_mut().step_by(7).for_each(|v| *v = f32::NAN),
            }
        }
        Ok(())
    }
}

/// Runs a sampling job the way the app does: cancel flag and progress from the job context.
fn sampling_job(
    model: Arc<dyn Denoiser>,
    exact: Option<Arc<AnalyticModel>>,
    spec: SamplingSpec,
) -> impl FnOnce(&diffscope::worker::JobContext) -> Result<JobOutput, JobError> + Send + 'static {
    move |ctx| {
        let exact = exact.as_deref().map(|m| m as &dyn ExactModel);
        let mut progress = |fraction: f32, stage: &str| ctx.progress(fraction, stage);
        match run_trajectories(&*model, exact, &spec, &mut progress, ctx.cancel_flag()) {
            Ok(t) => Ok(Arc::new(t) as JobOutput),
            Err(DiffusionError::Cancelled) => Err(JobError::Cancelled),
            Err(e) => Err(JobError::failed(&e)),
        }
    }
}

/// Collects the terminal event of every id in `ids` (other events are skipped).
fn outcomes(worker: &Worker, ids: &[JobId]) -> HashMap<JobId, JobEvent> {
    let deadline = Instant::now() + PATIENCE;
    let mut done = HashMap::new();
    while done.len() < ids.len() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = worker
            .events()
            .recv_timeout(remaining)
            .expect("jobs did not finish in time");
        if ids.contains(&event.id())
            && matches!(
                event,
                JobEvent::Finished { .. } | JobEvent::Cancelled { .. }
            )
        {
            assert!(
                done.insert(event.id(), event).is_none(),
                "two terminal events"
            );
        }
    }
    done
}

fn error_of(event: &JobEvent) -> JobError {
    match event {
        JobEvent::Finished { result: Err(e), .. } => e.clone(),
        other => panic!("expected a failed job, got {other:?}"),
    }
}

fn trajectories_of(event: &JobEvent) -> Trajectories {
    match event {
        JobEvent::Finished {
            result: Ok(out), ..
        } => out
            .downcast_ref::<Trajectories>()
            .expect("a sampling job returns trajectories")
            .clone(),
        other => panic!("expected a finished job, got {other:?}"),
    }
}

/// Submits the faulty job next to a normal one on two threads; checks the normal one is untouched
/// (bit-identical to a direct run) and that the worker still serves a job afterwards. Returns the
/// faulty job's error.
fn fault_beside_normal_job(faulty: impl FnOnce(&Worker) -> JobId) -> JobError {
    let model = model();
    let reference = run_trajectories(
        &*model,
        Some(&*model),
        &spec(),
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let worker = Worker::new(2);
    let normal = worker.submit(
        "normal",
        sampling_job(model.clone(), Some(model.clone()), spec()),
    );
    let bad = faulty(&worker);
    let done = outcomes(&worker, &[normal, bad]);
    let result = trajectories_of(&done[&normal]);
    assert_eq!(
        result.states, reference.states,
        "the normal job was disturbed"
    );
    let error = error_of(&done[&bad]);

    let after = worker.submit("after", sampling_job(model.clone(), Some(model), spec()));
    let done = outcomes(&worker, &[after]);
    assert_eq!(trajectories_of(&done[&after]).states, reference.states);
    error
}

#[test]
fn a_panicking_model_ends_as_an_error_event() {
    let error = fault_beside_normal_job(|worker| {
        let faulty = Arc::new(Faulty {
            inner: model(),
            fault: Fault::Panic,
        });
        worker.submit("panics", sampling_job(faulty, None, gaussian_start()))
    });
    // The panic happens inside the sampler's rayon threads and still reaches the job's boundary.
    match error {
        JobError::Panicked(message) => {
            assert!(message.contains("injected model panic"), "{message}")
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn a_model_returning_nan_ends_as_a_diverged_error() {
    let error = fault_beside_normal_job(|worker| {
        let faulty = Arc::new(Faulty {
            inner: model(),
            fault: Fault::NotANumber,
        });
        worker.submit("nan", sampling_job(faulty, None, gaussian_start()))
    });
    let message = error.to_string();
    assert!(
        matches!(error, JobError::Failed(_)) && message.contains("non-finite values in 64 of 64"),
        "{message}"
    );
}

#[test]
fn a_run_beyond_the_memory_budget_is_refused_with_its_estimate() {
    let error = fault_beside_normal_job(|worker| {
        // 10^9 trajectories × 61 stored steps × d = 8 in f32 is about 2 TB: far beyond any test machine.
        let mut huge = spec();
        huge.trajectories = 1_000_000_000;
        huge.store = StoreSteps::All;
        worker.submit("huge", sampling_job(model(), Some(model()), huge))
    });
    let message = error.to_string();
    assert!(
        message.contains("needs about") && message.contains("TiB") && message.contains("limit"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// Atomic writes.

/// Names in `folder`, sorted.
fn listing(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes a small valid file to the given path; the error as text.
type Writer = Box<dyn Fn(&Path) -> Result<(), String>>;

/// The writers the app and CLI use, by file kind.
fn every_writer() -> Vec<(&'static str, Writer)> {
    vec![
        (
            "npy",
            Box::new(|p: &Path| {
                npy::write_f32(p, &[2, 2], &[1.0, 2.0, 3.0, 4.0]).map_err(|e| e.to_string())
            }),
        ),
        (
            "safetensors",
            Box::new(|p: &Path| {
                let t = tensors::NamedTensor {
                    name: "x",
                    shape: vec![3],
                    data: &[1.0, 2.0, 3.0],
                };
                tensors::write_f32(p, &[t], HashMap::new()).map_err(|e| e.to_string())
            }),
        ),
        (
            "model",
            Box::new(|p: &Path| {
                use diffscope::model::learned::{LearnedModel, config};
                let config =
                    config::ModelConfig::MlpDenoiser(config::MlpDenoiserConfig::for_dim(2));
                LearnedModel::seeded(&config, 1)
                    .and_then(|m| m.save(p))
                    .map_err(|e| e.to_string())
            }),
        ),
    ]
}

#[test]
fn a_read_only_folder_keeps_the_previous_file() {
    use std::os::unix::fs::PermissionsExt;
    for (kind, write) in every_writer() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("out");
        std::fs::create_dir(&folder).unwrap();
        let path = folder.join(format!("result.{kind}"));
        std::fs::write(&path, b"previous").unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
        if modes_are_ignored(&folder) {
            // Running as root: chmod stops nothing. Make the rename fail instead: the target is a
            // non-empty folder (the temporary is written in full, then cannot be put in place).
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::remove_file(&path).unwrap();
            std::fs::create_dir(&path).unwrap();
            std::fs::write(path.join("previous"), b"previous").unwrap();
            let error = write(&path).expect_err(kind);
            assert!(error.contains("cannot write"), "{kind}: {error}");
            assert_eq!(std::fs::read(path.join("previous")).unwrap(), b"previous");
        } else {
            let error = write(&path).expect_err(kind);
            assert!(error.contains("cannot write"), "{kind}: {error}");
            assert_eq!(std::fs::read(&path).unwrap(), b"previous", "{kind}");
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(
            listing(&folder),
            [format!("result.{kind}")],
            "{kind}: leftovers"
        );
    }
}

#[test]
fn a_folder_that_is_a_file_is_a_clear_error() {
    for (kind, write) in every_writer() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_folder = dir.path().join("plain-file");
        std::fs::write(&not_a_folder, b"x").unwrap();
        let error = write(&not_a_folder.join(format!("result.{kind}"))).expect_err(kind);
        assert!(
            error.contains("cannot write") && error.contains("plain-file"),
            "{kind}: {error}"
        );
        assert_eq!(listing(dir.path()), ["plain-file"]);
    }
}

/// Runs `diffscope sample` with the file-size limit `limit_kib` (writes beyond it fail with EFBIG,
/// as on a full disk; SIGXFSZ is ignored so the error reaches the writer).
fn sample_with_size_limit(scene: &Path, out: &Path, limit_kib: u64) -> std::process::Output {
    let script = format!(
        "trap '' XFSZ; ulimit -f {limit_kib}; exec \"$0\" sample \"$1\" --out \"$2\" --trajectories 2000 --store all"
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_diffscope"))
        .arg(scene)
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_mid_write_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene.json");
    std::fs::write(&scene, SCENE).unwrap();
    for name in ["out.npy", "out.safetensors"] {
        let out = dir.path().join(name);
        std::fs::write(&out, b"previous").unwrap();
        // 2000 × 61 × 8 float32 is about 3.9 MB; the limit stops the write after 256 KiB.
        let output = sample_with_size_limit(&scene, &out, 256);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{name}: the write should have failed"
        );
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.contains("cannot write") && last.contains(name),
            "{name}: {stderr}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"previous", "{name}");
    }
    assert_eq!(
        listing(dir.path()),
        ["out.npy", "out.safetensors", "scene.json"]
    );
}

/// Temporaries the atomic writer leaves only when its process dies mid-write.
fn temporaries(folder: &Path) -> Vec<String> {
    listing(folder)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_killed_sample_run_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene.json");
    std::fs::write(&scene, SCENE).unwrap();
    let out: PathBuf = dir.path().join("out.npy");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_diffscope"))
            .args([
                "sample",
                "--trajectories",
                "20000",
                "--store",
                "all",
                "--out",
            ])
            .arg(&out)
            .arg(&scene)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long a full run takes here, then kills spread over that span (sampling and writing).
    let start = Instant::now();
    assert!(run().wait().unwrap().success());
    let full = start.elapsed();
    let complete = std::fs::read(&out).unwrap();
    let expected = npy::read_f64(&out).unwrap();
    assert_eq!(expected.shape, [20000, 61, 8]);
    std::fs::remove_file(&out).unwrap();
    for fraction in [0.05, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99] {
        let mut child = run();
        std::thread::sleep(full.mul_f64(fraction));
        let _ = child.kill();
        child.wait().unwrap();
        // Either there is no file or it is the complete one: a kill that lands after the rename
        // (while the process still prints its summary and frees memory) leaves a complete file
        // behind a killed status, so the exit status says nothing about the file.
        match std::fs::read(&out) {
            Ok(bytes) => {
                assert_eq!(bytes, complete, "killed at {fraction}: output differs");
                std::fs::remove_file(&out).unwrap();
            }
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
        }
    }
    // A kill during the write can orphan a temporary (no process can clean up after SIGKILL); the next
    // write into the folder removes the orphans of dead processes.
    assert!(run().wait().unwrap().success());
    assert_eq!(std::fs::read(&out).unwrap(), complete);
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Over-large inputs are refused before anything is allocated.

#[test]
fn an_over_large_point_cloud_is_refused_with_its_estimate() {
    use diffscope::io::{StepSelection, load_points};
    // A 4 TiB float32 [2^40, 1] array as a sparse file: the header and the file length agree, so only
    // the memory check (more than any test machine has) stands between the reader and the allocation.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.npy");
    let n: u64 = 1 << 40;
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, 1), }}");
    let padding = (64 - (10 + dict.len() + 1) % 64) % 64;
    let text = format!("{dict}{}\n", " ".repeat(padding));
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(bytes.len() as u64 + 4 * n)
        .expect("the temporary folder must allow a sparse 4 TiB file");
    let error = load_points(&path, StepSelection::Last, None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("too large to load") && error.contains("GB") && error.ends_with("huge.npy"),
        "{error}"
    );
}
