//! Model files: bit-exact save/load round trip and one clear error for every malformed case.

use diffscope::model::Denoiser;
use diffscope::model::learned::config::{
    DitConfig, DitPrediction, EulerStackConfig, FORMAT_VERSION, HEADER_KEY, MlpDenoiserConfig,
    ModelConfig, StackKind,
};
use diffscope::model::learned::params::ExportedTensor;
use diffscope::model::learned::{LearnedError, LearnedModel, load};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn tiny_dit() -> ModelConfig {
    ModelConfig::Dit(DitConfig {
        seq_len: 4,
        channels: 4,
        width: 8,
        blocks: 1,
        heads: 2,
        mlp_ratio: 2,
        prediction: DitPrediction::Velocity,
        self_conditioning: false,
    })
}

fn configs() -> Vec<ModelConfig> {
    let ModelConfig::Dit(dit) = tiny_dit() else {
        unreachable!()
    };
    vec![
        tiny_dit(),
        ModelConfig::Dit(DitConfig {
            prediction: DitPrediction::TokenLogits,
            ..dit.clone()
        }),
        ModelConfig::Dit(DitConfig {
            prediction: DitPrediction::TokenLogits,
            self_conditioning: true,
            ..dit
        }),
        ModelConfig::EulerStack(EulerStackConfig::default()),
        ModelConfig::EulerStack(EulerStackConfig {
            stack: StackKind::Hard,
            ..EulerStackConfig::default()
        }),
        ModelConfig::MlpDenoiser(MlpDenoiserConfig::for_dim(3)),
    ]
}

/// Tensors of a model as (name, shape, f32 values), and its header JSON.
fn parts(config: &ModelConfig) -> (Vec<ExportedTensor>, String) {
    let model = LearnedModel::seeded(config, 5).unwrap();
    let header = format!(
        "{{\"format_version\":{FORMAT_VERSION},\"model\":{}}}",
        serde_json::to_string(config).unwrap()
    );
    (model.params().export().unwrap(), header)
}

/// Writes tensors given as (name, dtype, shape, raw bytes) with the header JSON.
fn write_raw(path: &Path, tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)], header: Option<&str>) {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let metadata = header.map(|h| HashMap::from([(HEADER_KEY.to_string(), h.to_string())]));
    std::fs::write(path, safetensors::serialize(views, metadata).unwrap()).unwrap();
}

fn raw(tensors: Vec<ExportedTensor>) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    tensors
        .into_iter()
        .map(|(n, s, v)| {
            (
                n,
                Dtype::F32,
                s,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect()
}

fn error_of(path: &Path) -> String {
    match load(path) {
        Ok(_) => panic!("{} loaded but is malformed", path.display()),
        Err(e) => e.to_string(),
    }
}

fn temp_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn save_load_round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    for config in configs() {
        let model = LearnedModel::seeded(&config, 11).unwrap();
        let path = temp_file(&dir, &format!("{}.safetensors", config.kind()));
        model.save(&path).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.config(), config);
        let (a, b) = (
            model.params().export().unwrap(),
            loaded.params().export().unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for ((na, sa, va), (nb, sb, vb)) in a.iter().zip(&b) {
            assert_eq!((na, sa), (nb, sb));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(va), bits(vb), "tensor {na}");
        }
        // Same weights give the same outputs, bit for bit.
        if loaded.is_denoiser() {
            let x: Vec<f32> = (0..2 * model.dim())
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let (mut da, mut db) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            model.denoise(&x, 0.7, &mut da, None).unwrap();
            loaded.denoise(&x, 0.7, &mut db, None).unwrap();
            assert_eq!(da, db);
        }
    }
}

#[test]
fn missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tensors, header) = parts(&tiny_dit());
    let removed = tensors.remove(0).0;
    let path = temp_file(&dir, "missing.safetensors");
    write_raw(&path, &raw(tensors), Some(&header));
    let e = error_of(&path);
    assert!(e.contains(&format!("missing tensor '{removed}'")), "{e}");
    assert!(
        e.contains("dit architecture") && e.contains("missing.safetensors"),
        "{e}"
    );
}

#[test]
fn unexpected_and_misshapen_tensors_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tensors, header) = parts(&tiny_dit());
    let (name, shape, _) = tensors[1].clone();
    let wrong: Vec<usize> = shape.iter().map(|d| d + 1).collect();
    tensors[1] = (
        name.clone(),
        wrong.clone(),
        vec![0.0; wrong.iter().product()],
    );
    tensors.push(("extra.weight".into(), vec![2], vec![1.0, 2.0]));
    let path = temp_file(&dir, "shape.safetensors");
    write_raw(&path, &raw(tensors), Some(&header));
    let e = error_of(&path);
    assert!(
        e.contains(&format!(
            "tensor '{name}' has shape {wrong:?}, expected {shape:?}"
        )),
        "{e}"
    );
    assert!(e.contains("unexpected tensor 'extra.weight'"), "{e}");
}

#[test]
fn wrong_dtype_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (tensors, header) = parts(&tiny_dit());
    let mut tensors = raw(tensors);
    let name = tensors[2].0.clone();
    let values: Vec<u8> = tensors[2]
        .3
        .chunks_exact(4)
        .flat_map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])).to_le_bytes())
        .collect();
    tensors[2].1 = Dtype::F64;
    tensors[2].3 = values;
    let path = temp_file(&dir, "dtype.safetensors");
    write_raw(&path, &tensors, Some(&header));
    let e = error_of(&path);
    assert!(
        e.contains(&format!("tensor '{name}' has dtype F64, expected F32")),
        "{e}"
    );
}

#[test]
fn bad_configs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (tensors, _) = parts(&tiny_dit());
    let cases = [
        ("not json", "not JSON"),
        ("{\"model\":{\"kind\":\"dit\"}}", "format_version"),
        (
            "{\"format_version\":1,\"model\":{\"kind\":\"gan\"}}",
            "unknown variant `gan`",
        ),
        (
            "{\"format_version\":1,\"model\":{\"kind\":\"dit\",\"seq_len\":4,\"channels\":4,\"width\":9,\
             \"blocks\":1,\"heads\":2,\"mlp_ratio\":2}}",
            "width 9 must be even and divisible by heads 2",
        ),
        (
            "{\"format_version\":1,\"model\":{\"kind\":\"dit\",\"seq_len\":4,\"channels\":4,\"width\":8,\
             \"blocks\":1,\"heads\":2,\"mlp_ratio\":2,\"depth\":3}}",
            "unknown field `depth`",
        ),
    ];
    for (i, (header, expected)) in cases.iter().enumerate() {
        let path = temp_file(&dir, &format!("config{i}.safetensors"));
        write_raw(&path, &raw(tensors.clone()), Some(header));
        let e = error_of(&path);
        assert!(
            e.contains("bad architecture config") && e.contains(expected),
            "{e}"
        );
    }
    let path = temp_file(&dir, "noheader.safetensors");
    write_raw(&path, &raw(tensors), None);
    assert!(error_of(&path).contains("no 'diffscope_model' metadata"));
}

#[test]
fn newer_format_version_is_refused_before_the_config_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (tensors, _) = parts(&tiny_dit());
    let path = temp_file(&dir, "newer.safetensors");
    let newer = FORMAT_VERSION + 1;
    let header = format!("{{\"format_version\":{newer},\"model\":{{\"kind\":\"future_model\"}}}}");
    write_raw(&path, &raw(tensors), Some(&header));
    match load(&path) {
        Err(LearnedError::NewerFormat { found, .. }) => assert_eq!(found, u64::from(newer)),
        other => panic!("expected NewerFormat, got {:?}", other.err()),
    }
    let e = error_of(&path);
    assert!(
        e.contains(&format!("format version {newer} is newer")),
        "{e}"
    );
}

#[test]
fn truncated_and_missing_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "full.safetensors");
    LearnedModel::seeded(&tiny_dit(), 1)
        .unwrap()
        .save(&path)
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for keep in [4, 20, bytes.len() - 8] {
        let cut = temp_file(&dir, &format!("cut{keep}.safetensors"));
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let e = error_of(&cut);
        assert!(
            e.contains("not a readable .safetensors model"),
            "{keep}: {e}"
        );
    }
    let e = error_of(&temp_file(&dir, "absent.safetensors"));
    assert!(
        e.contains("cannot read") && e.contains("absent.safetensors"),
        "{e}"
    );
}

/// Older files lack the fields added since: version 1 the DiT's `prediction` and the Euler-Stack's
/// `stack`, version 2 the DiT's `self_conditioning`. They load as a velocity DiT without
/// self-conditioning and a soft stack, with the same weights.
#[test]
fn older_files_load_with_the_old_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let sc = ",\"self_conditioning\":false";
    for (config, version, missing) in [
        (tiny_dit(), 1, vec![",\"prediction\":\"velocity\"", sc]),
        (tiny_dit(), 2, vec![sc]),
        (
            ModelConfig::EulerStack(EulerStackConfig::default()),
            1,
            vec![",\"stack\":\"soft\""],
        ),
    ] {
        let (tensors, header) = parts(&config);
        let mut old = header.replace(
            &format!("\"format_version\":{FORMAT_VERSION}"),
            &format!("\"format_version\":{version}"),
        );
        for field in &missing {
            assert!(old.contains(field), "{old}");
            old = old.replace(field, "");
        }
        assert!(
            old.contains(&format!("\"format_version\":{version}")),
            "{old}"
        );
        let path = temp_file(&dir, "v1.safetensors");
        write_raw(&path, &raw(tensors), Some(&old));
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.config(), config);
    }
    // The shipped soft-stack Euler-Stack is a version-1 file.
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/euler-stack-dyck2.safetensors");
    assert_eq!(
        load(&shipped).unwrap().config(),
        ModelConfig::EulerStack(EulerStackConfig::default())
    );
}

/// Ctrl-C (SIGINT) during `diffscope train` stops the run before its next step: a failure exit, one
/// clear message on stderr, and no model file (nor any temporary file) left behind.
#[test]
fn ctrl_c_cancels_cli_training_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = temp_file(&dir, "dit.safetensors");
    let mut child = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(["train", "dit", "--steps", "1000000", "--batch", "2"])
        .args(["--log-every", "1", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training runs (the handler is installed before the first step).
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("step") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no progress line");
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // Keep draining stdout so the child never blocks on a full pipe.
    let rest = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let output = child.wait_with_output().unwrap();
    rest.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains("training cancelled by Ctrl-C") && stderr.contains("nothing written"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
