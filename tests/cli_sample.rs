//! `diffscope sample` end to end with the built binary: a valid .npy (header parsed back) and
//! .safetensors (tensors, shapes, metadata), option overrides, and one-line errors with exit ≠ 0.

use safetensors::SafeTensors;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCENE: &str = r#"{
  "model": {"kind": "gaussian_mixture", "dim": 3,
    "components": [
      {"weight": 0.25, "mean": {"fill": 2.0}, "cov": {"isotropic": 0.5}, "label": "a"},
      {"weight": 0.75, "mean": {"fill": -2.0}, "cov": {"isotropic": 1.0}, "label": "b"}]},
  "sampler": {"kind": "ancestral", "steps": 30, "t_max": 4.0, "t_min": 0.01, "grid": "log",
              "store": "all"},
  "trajectories": 40,
  "seed": 5
}"#;

fn scene_file(dir: &Path, text: &str, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn sample(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .arg("sample")
        .args(args)
        .output()
        .unwrap()
}

/// Parses a version-1 float32 .npy file: (shape, values).
fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let inner = &header[header.find("'shape': (").unwrap() + 10..];
    let shape: Vec<usize> = inner[..inner.find(')').unwrap()]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = &bytes[10 + header_len..];
    assert_eq!(data.len(), shape.iter().product::<usize>() * 4);
    let values = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, values)
}

fn f32s(view: &safetensors::tensor::TensorView<'_>) -> Vec<f32> {
    view.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn writes_npy_with_the_selected_steps() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene_file(dir.path(), SCENE, "scene.json");
    let out = dir.path().join("traj.npy");
    let run = sample(&[scene.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (shape, values) = read_npy(&out);
    assert_eq!(shape, vec![40, 31, 3]);
    assert!(values.iter().all(|v| v.is_finite()));

    // Overrides: final states only, more trajectories, another seed.
    let run = sample(&[
        scene.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--store",
        "final",
        "--trajectories",
        "64",
        "--seed",
        "9",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (shape, _) = read_npy(&out);
    assert_eq!(shape, vec![64, 1, 3]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("100.0 %"), "{stderr}");
}

#[test]
fn writes_safetensors_with_times_posterior_labels_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene_file(dir.path(), SCENE, "scene.json");
    let out = dir.path().join("traj.safetensors");
    let run = sample(&[
        scene.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--store",
        "every:10",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    // Grid indices 0, 10, 20, 30.
    let states = tensors.tensor("trajectories").unwrap();
    assert_eq!(states.shape(), &[40, 4, 3]);
    let times = f32s(&tensors.tensor("times").unwrap());
    assert_eq!(times.len(), 4);
    assert_eq!((times[0], times[3]), (4.0, 0.01));
    let posterior = tensors.tensor("posterior").unwrap();
    assert_eq!(posterior.shape(), &[40, 4, 2]);
    for row in f32s(&posterior).chunks_exact(2) {
        assert!((row[0] + row[1] - 1.0).abs() < 1e-5);
    }
    let labels = f32s(&tensors.tensor("initial_labels").unwrap());
    assert_eq!(labels.len(), 40);
    assert!(labels.iter().all(|&l| l == 0.0 || l == 1.0));
    let meta = meta.metadata().as_ref().unwrap();
    assert_eq!(meta["seed"], "5");
    assert!(meta["version"].starts_with("diffscope "));
    let recorded: serde_json::Value = serde_json::from_str(&meta["scene"]).unwrap();
    assert_eq!(recorded["sampler"]["store"]["every"], 10);
    assert_eq!(recorded["trajectories"], 40);
}

fn assert_one_line_error(run: &Output, needle: &str) {
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains(needle),
        "expected '{needle}' in: {stderr}"
    );
}

#[test]
fn bad_inputs_fail_with_one_line_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let out = out.to_str().unwrap();

    let broken = scene_file(dir.path(), "{\"model\": ", "broken-scene.json");
    assert_one_line_error(
        &sample(&[broken.to_str().unwrap(), "--out", out]),
        "broken-scene.json",
    );

    let typo = SCENE.replace("\"seed\"", "\"sede\"");
    let typo = scene_file(dir.path(), &typo, "typo-scene.json");
    assert_one_line_error(
        &sample(&[typo.to_str().unwrap(), "--out", out]),
        "typo-scene.json",
    );

    let missing = dir.path().join("missing.json");
    assert_one_line_error(
        &sample(&[missing.to_str().unwrap(), "--out", out]),
        "missing.json",
    );

    let good = scene_file(dir.path(), SCENE, "scene.json");
    let good = good.to_str().unwrap();
    let csv = dir.path().join("x.csv");
    assert_one_line_error(&sample(&[good, "--out", csv.to_str().unwrap()]), "x.csv");

    // Refused before sampling, with the estimate and the limit.
    // 10^7 trajectories × 2001 stored steps × 3 values: ≈ 240 GB of states.
    let long = scene_file(
        dir.path(),
        &SCENE.replace("\"steps\": 30", "\"steps\": 2000"),
        "long.json",
    );
    let huge = sample(&[
        long.to_str().unwrap(),
        "--out",
        out,
        "--trajectories",
        "10000000",
    ]);
    assert_one_line_error(&huge, "limit");
    assert!(!Path::new(out).exists());
}
