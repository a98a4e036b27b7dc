//! Inputs the fuzzers found (`fuzz/`, see TESTING.md), fed to the same readers as the fuzz target of
//! the same name: each must end as one clean error naming the file, never a panic, hang or huge
//! allocation. Files named `ok-*` are inputs that crashed a later stage and must now load.

use diffscope::io::{StepSelection, csv, load_points, npy, tensors};
use diffscope::model::learned;
use diffscope::scene::Scene;
use std::path::{Path, PathBuf};

/// The regression inputs of one fuzz target, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .collect();
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

#[test]
fn npy_inputs() {
    let n = replay("npy", "npy", |path| {
        npy::read_f64(path).map_err(|e| e.to_string())?;
        for step in [
            StepSelection::Last,
            StepSelection::All,
            StepSelection::Index(1),
        ] {
            load_points(path, step, None).map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    assert!(n > 0);
}

#[test]
fn safetensors_inputs() {
    let n = replay("safetensors", "safetensors", |path| {
        tensors::read_f64(path, Some("trajectories")).map_err(|e| e.to_string())?;
        load_points(path, StepSelection::All, Some("trajectories")).map_err(|e| e.to_string())?;
        Ok(())
    });
    assert!(n > 0);
}

#[test]
fn csv_inputs() {
    let n = replay("csv", "csv", |path| {
        csv::read(path).map_err(|e| e.to_string())?;
        load_points(path, StepSelection::Last, None).map_err(|e| e.to_string())?;
        Ok(())
    });
    assert!(n > 0);
}

#[test]
fn scene_inputs() {
    let n = replay("scene", "json", |path| {
        let scene = Scene::load(path).map_err(|e| e.to_string())?;
        scene
            .model
            .build_analytic()
            .map_err(|e| format!("{e}: {}", path.display()))?;
        Ok(())
    });
    assert!(n > 0);
}

#[test]
fn model_config_inputs() {
    let n = replay("model_config", "safetensors", |path| {
        learned::load(path).map(|_| ()).map_err(|e| e.to_string())
    });
    assert!(n > 0);
}
