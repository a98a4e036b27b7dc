//! Inputs that crashed, hung or over-allocated a reader (`fuzz/`, see TESTING.md), fed to the same
//! readers as the fuzz target of the same name: each must end as one clean error naming the file, never
//! a panic, hang or huge allocation. Files named `ok-*` are inputs that crashed a later stage and must
//! now load. Scenes and sessions must also survive their own JSON round trip unchanged. A target
//! without a folder has had no finding yet.

use diffscope::io::{StepSelection, csv, load_points, npy, tensors};
use diffscope::model::Denoiser;
use diffscope::model::learned;
use diffscope::model::onnx::{OnnxDenoiser, OnnxOptions, Prediction, TimeConvention};
use diffscope::scene::SceneFile;
use diffscope::session::Session;
use std::path::{Path, PathBuf};

/// The regression inputs of one fuzz target, sorted (none when it has no folder).
fn inputs(target: &str) -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// The input copied to a scratch file with the extension its reader dispatches on.
fn with_extension(dir: &Path, input: &Path, extension: &str) -> PathBuf {
    let name = input.file_stem().unwrap().to_string_lossy();
    let path = dir.join(format!("{name}.{extension}"));
    std::fs::copy(input, &path).unwrap();
    path
}

fn expects_success(input: &Path) -> bool {
    input
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("ok-"))
}

/// Checks one outcome: `ok-*` inputs load; the others fail with one line naming `shown`.
fn check<T>(input: &Path, shown: &Path, outcome: Result<T, String>) {
    match (expects_success(input), outcome) {
        (true, Ok(_)) => {}
        (true, Err(e)) => panic!("{}: should load, got: {e}", input.display()),
        (false, Ok(_)) => panic!("{}: should be refused", input.display()),
        (false, Err(e)) => {
            let name = shown.file_name().unwrap().to_string_lossy();
            assert!(
                !e.contains('\n') && e.contains(name.as_ref()),
                "{}: error should be one line naming the file: {e}",
                input.display()
            );
        }
    }
}

/// Runs `read` over every input of `target` (as a file with `extension`); returns how many.
fn replay(target: &str, extension: &str, read: impl Fn(&Path) -> Result<(), String>) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(target);
    for input in &inputs {
        let path = with_extension(dir.path(), input, extension);
        check(input, &path, read(&path));
    }
    inputs.len()
}

type Reader = fn(&Path) -> Result<(), String>;

/// Each fuzz target's name, the extension its reader dispatches on, and the reader calls it makes.
const TARGETS: [(&str, &str, Reader); 7] = [
    ("npy", "npy", |path| {
        npy::read_f64(path).map_err(|e| e.to_string())?;
        for step in [
            StepSelection::Last,
            StepSelection::All,
            StepSelection::Index(1),
        ] {
            load_points(path, step, None).map_err(|e| e.to_string())?;
        }
        Ok(())
    }),
    ("safetensors", "safetensors", |path| {
        tensors::read_f64(path, Some("trajectories")).map_err(|e| e.to_string())?;
        load_points(path, StepSelection::All, Some("trajectories")).map_err(|e| e.to_string())?;
        Ok(())
    }),
    ("csv", "csv", |path| {
        csv::read(path).map_err(|e| e.to_string())?;
        load_points(path, StepSelection::Last, None).map_err(|e| e.to_string())?;
        Ok(())
    }),
    ("scene", "json", |path| {
        let file = SceneFile::load(path).map_err(|e| e.to_string())?;
        let json = file.to_json_pretty().map_err(|e| e.to_string())?;
        let again = SceneFile::from_json_str(&json, path).map_err(|e| e.to_string())?;
        assert_eq!(
            file,
            again,
            "{}: JSON round trip changed the scene",
            path.display()
        );
        match &file {
            SceneFile::Diffusion(scene) => scene.model.build_analytic().map(|_| ()),
            SceneFile::Tokens(scene) => scene.build_model().map(|_| ()),
        }
        .map_err(|e| format!("{e}: {}", path.display()))?;
        Ok(())
    }),
    ("model_config", "safetensors", |path| {
        learned::load(path).map(|_| ()).map_err(|e| e.to_string())
    }),
    ("onnx", "onnx", |path| {
        let options = OnnxOptions {
            path: path.to_path_buf(),
            dim: 16,
            shape: None,
            input_x: "x".into(),
            input_t: "t".into(),
            output: "out".into(),
            prediction: Prediction::X0,
            time: TimeConvention::Ou {},
        };
        let model = OnnxDenoiser::load(&options).map_err(|e| e.to_string())?;
        let x = vec![0.5f32; 3 * 16];
        let mut out = vec![0f32; x.len()];
        model
            .denoise(&x, 0.5, &mut out, None)
            .map_err(|e| e.to_string())
    }),
    ("session", "json", |path| {
        let session = Session::load(path).map_err(|e| e.to_string())?;
        let json = session.to_json_pretty().map_err(|e| e.to_string())?;
        let again = Session::from_json_str(&json, path).map_err(|e| e.to_string())?;
        assert_eq!(
            session,
            again,
            "{}: JSON round trip changed the session",
            path.display()
        );
        session
            .scene
            .model
            .build_analytic()
            .map_err(|e| format!("{e}: {}", path.display()))?;
        Ok(())
    }),
];

#[test]
fn every_regression_input_ends_cleanly() {
    let replayed: usize = TARGETS
        .iter()
        .map(|(target, extension, read)| replay(target, extension, read))
        .sum();
    assert!(replayed > 0, "no regression inputs found");
}
