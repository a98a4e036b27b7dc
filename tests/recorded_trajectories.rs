//! Recorded trajectory files (issue #15): a file of known straight-line trajectories, written here by hand
//! as `.npy` and through the `safetensors` crate, loads with every step equal to the file's, its times,
//! labels (class colours) and posterior (commitment times known in closed form); each malformed file is
//! one error naming the problem, the key and the file; the app shows an imported file as such and keeps
//! its cloud when a later file fails; `render FILE --step K` draws different steps and refuses K ≥ S.

mod app_support;

use app_support::{harness, settle, small_scene};
use diffscope::analysis::control::Control;
use diffscope::analysis::view_data::{cloud, measured, metric_table};
use diffscope::app::manifold::trajectory_classes;
use diffscope::io::{LabelMeaning, Recording, load_recording};
use egui_kittest::kittest::Queryable;
use safetensors::tensor::{Dtype, TensorView};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Enough points for the metric table (its largest k + 1 = 21).
const N: usize = 40;
const S: usize = 5;
const D: usize = 3;
const K: usize = 2;

/// Trajectory `i` starts on a circle and runs in a straight line to one of two cluster centres (even
/// `i` to +e₀, odd to −e₀): x_i(j) = a_i + (j / (S − 1)) (e_i − a_i).
fn state(i: usize, j: usize) -> [f32; D] {
    let angle = i as f32 * std::f32::consts::TAU / N as f32;
    let start = [3.0 * angle.cos(), 3.0 * angle.sin(), 0.5 * i as f32 - 1.0];
    let end = if i.is_multiple_of(2) {
        [2.0, 0.1 * i as f32, 0.0]
    } else {
        [-2.0, -0.1 * i as f32, 0.0]
    };
    let f = j as f32 / (S - 1) as f32;
    [0, 1, 2].map(|c| start[c] + f * (end[c] - start[c]))
}

fn states() -> Vec<f32> {
    (0..N)
        .flat_map(|i| (0..S).flat_map(move |j| state(i, j)))
        .collect()
}

/// OU times from 4 down to 0.25.
fn times() -> Vec<f32> {
    (0..S).map(|j| 4.0 / 2f32.powi(j as i32)).collect()
}

/// The class of trajectory `i` (its label) and the step from which its posterior stays ≥ 0.95.
fn label(i: usize) -> usize {
    i % 2
}
fn commits_at(i: usize) -> usize {
    i % S
}

/// The last trajectory (label 1) whose posterior favours class 0 throughout (0.6 : 0.4): it never
/// commits to its label, and colours by the posterior's argmax would give it class 0.
const DISSENTER: usize = N - 1;

/// p(k | x_t) `[N, S, K]`: ½ each before the commitment step, then 0.95 on the label's class; the
/// dissenter 0.6 : 0.4 for class 0 at every step.
fn posterior() -> Vec<f32> {
    let mut p = Vec::with_capacity(N * S * K);
    for i in 0..N {
        for j in 0..S {
            for k in 0..K {
                p.push(if i == DISSENTER {
                    [0.6, 0.4][k]
                } else if j < commits_at(i) {
                    0.5
                } else if k == label(i) {
                    0.95
                } else {
                    0.05
                });
            }
        }
    }
    p
}

/// A little-endian float32 `.npy` file of `shape`, written byte by byte (the format's version 1).
fn write_npy(path: &Path, shape: &[usize], data: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// One tensor of a test file: name, dtype, shape, little-endian bytes.
type Tensor = (&'static str, Dtype, Vec<usize>, Vec<u8>);

fn f32_tensor(name: &'static str, shape: &[usize], data: &[f32]) -> Tensor {
    let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    (name, Dtype::F32, shape.to_vec(), bytes)
}

/// Labels as int64, as numpy and torch write class indices.
fn i64_tensor(name: &'static str, data: &[i64]) -> Tensor {
    let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    (name, Dtype::I64, vec![data.len()], bytes)
}

fn write_safetensors(path: &Path, tensors: &[Tensor]) {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                *name,
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn labels_i64() -> Vec<i64> {
    (0..N).map(|i| label(i) as i64).collect()
}

/// The full recording: trajectories, times, int64 labels, posterior.
fn full_tensors() -> Vec<Tensor> {
    vec![
        f32_tensor("trajectories", &[N, S, D], &states()),
        f32_tensor("times", &[S], &times()),
        i64_tensor("labels", &labels_i64()),
        f32_tensor("posterior", &[N, S, K], &posterior()),
    ]
}

fn assert_every_step_is_the_files(recording: &Recording) {
    assert_eq!((recording.n, recording.steps, recording.dim), (N, S, D));
    for i in 0..N {
        for j in 0..S {
            let start = (i * S + j) * D;
            assert_eq!(
                &recording.states[start..start + D],
                &state(i, j),
                "{i}, {j}"
            );
        }
    }
}

#[test]
fn both_formats_load_every_step_with_times_labels_and_posterior() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("lines.npy");
    write_npy(&npy, &[N, S, D], &states());
    let from_npy = load_recording(&npy).unwrap();
    assert_every_step_is_the_files(&from_npy);
    assert_eq!(
        (&from_npy.times, &from_npy.labels, &from_npy.posterior),
        (&None, &None, &None)
    );
    assert_eq!(
        from_npy.holds(),
        "40 trajectories × 5 steps × 3 dims, labels no, posterior no, times no"
    );

    let st = dir.path().join("lines.safetensors");
    write_safetensors(&st, &full_tensors());
    let recording = load_recording(&st).unwrap();
    assert_every_step_is_the_files(&recording);
    let expected_times: Vec<f64> = times().iter().map(|&t| f64::from(t)).collect();
    assert_eq!(recording.times.as_ref(), Some(&expected_times));
    let expected_labels: Vec<u32> = (0..N).map(|i| label(i) as u32).collect();
    let labels = recording.labels.as_ref().expect("labels");
    assert_eq!(
        (labels.meaning, &labels.classes),
        (LabelMeaning::Class, &expected_labels)
    );
    assert_eq!(recording.posterior.as_ref(), Some(&posterior()));
    assert_eq!(recording.class_labels, ["class 0", "class 1"]);

    // The view data keeps every step, the file's times, the labels as class colours.
    let shown = project(recording);
    let t = &shown.trajectories;
    assert_eq!((t.n, t.stored_steps, t.dim), (N, S, D));
    for i in 0..N {
        for j in 0..S {
            assert_eq!(t.state(i, j).unwrap(), &state(i, j), "{i}, {j}");
            assert!(shown.position(false, j, i).is_some());
        }
    }
    assert_eq!(t.times, expected_times);
    let measured = measured::measure_step(&shown, Some(2)).unwrap();
    assert_eq!(measured.filter.time, Some(expected_times[2]));
    assert_eq!(trajectory_classes(&shown), expected_labels);
    let imported = shown.origin.imported().expect("an imported origin");
    assert!(imported.times_in_file && imported.labels_in_file);
    assert_eq!(
        imported.summary(),
        "imported data: lines.safetensors — 40 trajectories × 5 steps × 3 dims, labels yes, \
         posterior yes, times yes"
    );
    // Commitment from the posterior: trajectory i holds 0.95 ≥ 1 − ε on its class from step
    // commits_at(i) to the end, so it commits at that step's time; the dissenter never does.
    let commitment = imported.commitment.as_ref().expect("a posterior was given");
    let mut measured = commitment.times.clone();
    measured.sort_by(f64::total_cmp);
    let mut expected: Vec<f64> = (0..N)
        .filter(|&i| i != DISSENTER)
        .map(|i| expected_times[commits_at(i)])
        .collect();
    expected.sort_by(f64::total_cmp);
    assert_eq!(measured, expected);
    assert_eq!(commitment.uncommitted, 1);
}

fn project(recording: Recording) -> cloud::Cloud {
    let mut progress = |_: f32, _: &str| {};
    let never = std::sync::atomic::AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &never);
    cloud::from_recording(recording, &mut control).unwrap()
}

/// `initial_labels` (as `diffscope sample` writes them) are the class each trajectory started from:
/// where a posterior is given, the class it ends in is the posterior's final argmax, for colours and
/// commitment alike, so the dissenter is coloured by its posterior, not its initial label.
#[test]
fn initial_labels_give_way_to_the_posterior() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("initial.safetensors");
    let mut tensors = full_tensors();
    tensors.retain(|(name, ..)| *name != "labels");
    tensors.push(i64_tensor("initial_labels", &labels_i64()));
    write_safetensors(&path, &tensors);
    let recording = load_recording(&path).unwrap();
    assert_eq!(
        recording.labels.as_ref().map(|l| l.meaning),
        Some(LabelMeaning::Initial)
    );
    assert!(recording.holds().contains("labels yes (initial)"));
    let shown = project(recording);
    let expected: Vec<u32> = (0..N)
        .map(|i| if i == DISSENTER { 0 } else { label(i) as u32 })
        .collect();
    assert_eq!(trajectory_classes(&shown), expected);
    let imported = shown.origin.imported().unwrap();
    assert!(!imported.labels_in_file);
    // The dissenter's final class is 0, held at 0.6 < 1 − ε: it still never commits.
    let commitment = imported.commitment.as_ref().unwrap();
    assert_eq!((commitment.times.len(), commitment.uncommitted), (N - 1, 1));
}

/// A run written by `diffscope sample` opens as it is: the same states from its `.npy` and its
/// `.safetensors`, the full-precision times of its metadata, its class names, initial labels and
/// posterior.
#[test]
fn a_sampled_run_opens_with_every_key_sample_writes() {
    let dir = tempfile::tempdir().unwrap();
    let scene = small_scene(dir.path());
    let [npy, st] = ["run.npy", "run.safetensors"].map(|name| dir.path().join(name));
    for out in [&npy, &st] {
        let output = diffscope(&[
            "sample".as_ref(),
            scene.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--store".as_ref(),
            "every:6".as_ref(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (from_npy, from_st) = (load_recording(&npy).unwrap(), load_recording(&st).unwrap());
    assert_eq!(from_npy.states, from_st.states);
    assert_eq!((from_st.n, from_st.dim), (300, 8));
    let bytes = std::fs::read(&st).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let written: Vec<f64> =
        serde_json::from_str(&metadata.metadata().as_ref().unwrap()["times"]).unwrap();
    assert_eq!(from_st.times.as_ref(), Some(&written));
    assert_eq!(written.len(), from_st.steps);
    assert_eq!(from_st.class_labels, ["+", "-"]);
    assert_eq!(
        from_st
            .labels
            .as_ref()
            .map(|l| (l.meaning, l.classes.len())),
        Some((LabelMeaning::Initial, 300))
    );
    assert_eq!(
        from_st.posterior.as_ref().map(Vec::len),
        Some(300 * from_st.steps * 2)
    );
}

#[test]
fn a_file_without_times_scrubs_by_step_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.safetensors");
    write_safetensors(&path, &[f32_tensor("trajectories", &[N, S, D], &states())]);
    let shown = project(load_recording(&path).unwrap());
    assert_eq!(shown.trajectories.times, [5.0, 4.0, 3.0, 2.0, 1.0]);
    let imported = shown.origin.imported().unwrap();
    assert!(!imported.times_in_file && !imported.labels_in_file);
    assert!(imported.commitment.is_none());
    // The metric table names the step, not a made-up time.
    let measured = measured::measure_step(&shown, Some(2)).unwrap();
    assert_eq!(measured.filter.time, None);
    assert_eq!(
        metric_table::step_label(&measured.filter).as_deref(),
        Some("step 3 of 5")
    );
}

/// Each malformed file gives one error naming the file and what is wrong with which key.
#[test]
fn malformed_files_each_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut nan_states = states();
    nan_states[(2 * S + 3) * D + 1] = f32::NAN;
    let mut bad_posterior = posterior();
    bad_posterior[7] = 1.5;
    let mut out_of_range = labels_i64();
    out_of_range[4] = 2;
    let increasing: Vec<f32> = times().into_iter().rev().collect();
    let with = |name: &'static str, tensor: Tensor| {
        let mut tensors: Vec<Tensor> = full_tensors()
            .into_iter()
            .filter(|(n, ..)| *n != name)
            .collect();
        tensors.push(tensor);
        tensors
    };
    let cases: Vec<(&str, Vec<Tensor>, &[&str])> = vec![
        (
            "rank",
            with(
                "trajectories",
                f32_tensor("trajectories", &[N * S, D], &states()),
            ),
            &["'trajectories'", "[200, 3]", "expected [N, S, d]"],
        ),
        (
            "labels_n",
            with("labels", i64_tensor("labels", &[0, 1, 0])),
            &["'labels'", "[3]", "[N] = [40]"],
        ),
        (
            "nan",
            with(
                "trajectories",
                f32_tensor("trajectories", &[N, S, D], &nan_states),
            ),
            &["'trajectories'", "NaN", "[2, 3, 1]"],
        ),
        (
            "posterior_s",
            with(
                "posterior",
                f32_tensor("posterior", &[N, S - 1, K], &posterior()[..N * (S - 1) * K]),
            ),
            &["'posterior'", "[40, 4, 2]", "[N, S, K] = [40, 5, K]"],
        ),
        (
            "posterior_range",
            with(
                "posterior",
                f32_tensor("posterior", &[N, S, K], &bad_posterior),
            ),
            &["'posterior'", "1.5", "not a probability"],
        ),
        (
            "label_range",
            with("labels", i64_tensor("labels", &out_of_range)),
            &["'labels'", "holds 2 at index 4", "0 to 1"],
        ),
        (
            "times_order",
            with("times", f32_tensor("times", &[S], &increasing)),
            &["'times'", "must decrease"],
        ),
        (
            "missing",
            vec![
                f32_tensor("states", &[N, S, D], &states()),
                i64_tensor("labels", &labels_i64()),
            ],
            &["no tensor named 'trajectories'", "labels, states"],
        ),
    ];
    for (name, tensors, expected) in cases {
        let path = dir.path().join(format!("{name}.safetensors"));
        write_safetensors(&path, &tensors);
        let error = load_recording(&path).expect_err(name).to_string();
        for part in expected.iter().chain(&[path.to_str().unwrap()]) {
            assert!(error.contains(part), "{name}: '{part}' not in: {error}");
        }
        assert!(!error.contains('\n'), "{name}: {error}");
    }

    // Truncated files, both formats: cut in the data.
    let npy = dir.path().join("truncated.npy");
    write_npy(&npy, &[N, S, D], &states());
    let st = dir.path().join("truncated.safetensors");
    write_safetensors(&st, &full_tensors());
    for path in [npy, st] {
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let error = load_recording(&path).expect_err("truncated").to_string();
        assert!(
            (error.contains("truncated") || error.contains("not a valid .safetensors"))
                && error.contains(path.to_str().unwrap()),
            "{error}"
        );
    }
    // A rank-4 array is neither a cloud nor trajectories.
    let rank4 = dir.path().join("rank4.npy");
    write_npy(&rank4, &[N, S, D, 1], &states());
    let error = load_recording(&rank4).expect_err("rank 4").to_string();
    assert!(
        error.contains("[40, 5, 3, 1]") && error.contains("expected [N, S, d]"),
        "{error}"
    );
}

/// The app shows an imported recording as such (every step on the time bar, the file in the caption and
/// the scene panel, not the scene's lab or settings), a file that fails to load afterwards keeps it, and
/// the panel's button samples the scene again.
#[test]
fn the_app_shows_imported_data_and_keeps_it_when_a_load_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&small_scene(dir.path()), [1280.0, 800.0]);
    settle(&mut h);
    assert!(h.state().results.speciation.is_some());
    let path = dir.path().join("lines.safetensors");
    write_safetensors(&path, &full_tensors());
    h.state_mut().open_path(&path);
    settle(&mut h);
    let app = h.state();
    assert!(app.jobs.errors().is_empty(), "{:?}", app.jobs.errors());
    let shown = Arc::clone(app.results.cloud.as_ref().unwrap());
    assert_eq!(shown.trajectories.stored_steps, S);
    assert_eq!(app.views.timeline.step, S - 1);
    assert!(
        app.results.speciation.is_none(),
        "the scene's lab is not the file's"
    );
    let caption = app.figure_caption();
    assert!(
        caption.starts_with("imported data: lines.safetensors — 40 trajectories"),
        "{caption}"
    );

    let bad = dir.path().join("nan.npy");
    let mut nan_states = states();
    nan_states[0] = f32::NAN;
    write_npy(&bad, &[N, S, D], &nan_states);
    h.state_mut().open_path(&bad);
    app_support::step_until(&mut h, "the failed load", |app| app.jobs.idle());
    let app = h.state();
    let errors = app.jobs.errors();
    assert!(
        errors.len() == 1 && errors[0].contains("NaN") && errors[0].contains("nan.npy"),
        "{errors:?}"
    );
    assert!(
        Arc::ptr_eq(app.results.cloud.as_ref().unwrap(), &shown),
        "the cloud stays"
    );

    // A session saved now holds the scene, and the notice says the file is not in it.
    let session = dir.path().join("while-imported.session.json");
    assert!(h.state_mut().save_session(&session));
    let notice = h.state().jobs.notice().unwrap_or_default().to_string();
    assert!(
        notice.contains("lines.safetensors, is not part of a session"),
        "{notice}"
    );

    // The scene panel names the file instead of the scene's settings; its button brings the scene back.
    h.get_by_label_contains("Showing imported data: lines.safetensors");
    assert!(h.query_by_label_contains("clone pairs").is_none());
    h.get_by_label("Sample the scene instead").click();
    app_support::step_until(&mut h, "the scene's results", |app| {
        app.imported().is_none() && app.jobs.idle()
    });
    let app = h.state();
    assert_eq!(app.results.cloud.as_ref().unwrap().trajectories.n, 300);
    assert!(
        app.results.speciation.is_some(),
        "the scene's lab runs again"
    );
}

fn diffscope(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

fn render_step(file: &Path, step: usize, png: &Path) -> std::process::Output {
    let step = step.to_string();
    diffscope(&[
        "render".as_ref(),
        file.as_os_str(),
        "--view".as_ref(),
        "manifold".as_ref(),
        "--step".as_ref(),
        step.as_ref(),
        "--png".as_ref(),
        png.as_os_str(),
        "--width".as_ref(),
        "480".as_ref(),
        "--height".as_ref(),
        "360".as_ref(),
    ])
}

#[test]
fn render_draws_the_step_asked_for_and_refuses_one_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.safetensors");
    write_safetensors(&file, &full_tensors());
    let pngs: Vec<PathBuf> = [0, S - 1]
        .iter()
        .map(|&step| {
            let png = dir.path().join(format!("step{step}.png"));
            let output = render_step(&file, step, &png);
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            png
        })
        .collect();
    let [first, last] = [&pngs[0], &pngs[1]].map(|p| image::open(p).unwrap().to_rgba8());
    assert_eq!(first.dimensions(), (480, 360));
    let differing = first
        .pixels()
        .zip(last.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > 8))
        .count();
    assert!(
        differing > 500,
        "steps 0 and S − 1 differ in {differing} pixels"
    );

    let png = dir.path().join("out_of_range.png");
    let output = render_step(&file, S, &png);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--step 5 is out of range") && stderr.contains("5 stored steps"),
        "{stderr}"
    );
    assert!(!png.exists());
}

/// The app's positional FILE: a type it cannot open, or a data file that fails to load, is one `error:`
/// line and a non-zero exit before any window opens.
#[test]
fn the_app_refuses_a_file_it_cannot_open_before_opening_a_window() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let bad = dir.path().join("nan.npy");
    let mut nan_states = states();
    nan_states[4] = f32::NAN;
    write_npy(&bad, &[N, S, D], &nan_states);
    for (path, expected) in [(&text, "expected a scene or session"), (&bad, "NaN")] {
        let output = diffscope(&[path.as_os_str()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.starts_with("error: ")
                && stderr.contains(expected)
                && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
}
