//! The ONNX loader on damaged files, deterministically (the stable-Rust stand-in for the `onnx` fuzz
//! target, which CI does not run): every committed small graph truncated at many lengths and with a byte
//! changed at 500 positions is loaded as an `onnx` scene's model would be, then asked to denoise. Each
//! attempt must end as a value or as one error line naming the file, never as a panic.

use diffscope::model::Denoiser;
use diffscope::model::onnx::{OnnxDenoiser, OnnxOptions, Prediction, TimeConvention};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

const FLIPS: usize = 500;
const TRUNCATIONS: usize = 40;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Graphs of every shape of the committed files: the exact mixture in OU and EDM time, a DDPM table with
/// Gather, a multi-op convention.
fn seeds() -> Vec<PathBuf> {
    vec![
        root().join("tests/data/onnx/two-gaussians-d16-edm-x0.onnx"),
        root().join("assets/models/onnx-two-gaussians-d16.onnx"),
        root().join("tests/data/onnx/two-gaussians-d16-ddpm-cosine-eps.onnx"),
        root().join("tests/data/onnx/two-gaussians-d16-rf1-velocity.onnx"),
    ]
}

/// Loads `path` as a d = 16 x₀ model in OU time and denoises three rows; `Err` is the message.
fn load_and_run(path: &Path) -> Result<(), String> {
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
}

/// One damaged file: no panic, and a refusal is one line that names the file.
fn check(bytes: &[u8], path: &Path, what: &str) -> bool {
    std::fs::write(path, bytes).unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| load_and_run(path)))
        .unwrap_or_else(|_| panic!("{what}: the loader panicked"));
    if let Err(message) = &outcome {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            !message.contains('\n') && message.contains(name.as_ref()),
            "{what}: the error should be one line naming the file: {message}"
        );
    }
    outcome.is_err()
}

/// xorshift64*: the mutation positions and values, the same on every run.
fn stream(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn truncated_and_byte_flipped_graphs_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut refused = 0;
    let mut attempts = 0;
    for (index, seed) in seeds().into_iter().enumerate() {
        let original = std::fs::read(&seed).unwrap();
        let name = seed.file_name().unwrap().to_string_lossy().into_owned();
        let target = dir.path().join(format!("damaged-{name}"));
        assert!(
            !check(&original, &target, &name),
            "{name}: the undamaged graph must load and run"
        );
        for cut in 0..TRUNCATIONS {
            let length = original.len() * cut / TRUNCATIONS;
            refused += usize::from(check(
                &original[..length],
                &target,
                &format!("{name} cut to {length} bytes"),
            ));
            attempts += 1;
        }
        let mut next = stream(0x9e37_79b9_7f4a_7c15 ^ index as u64);
        for _ in 0..FLIPS {
            let position = (next() % original.len() as u64) as usize;
            let change = (next() % 255 + 1) as u8;
            let mut damaged = original.clone();
            damaged[position] ^= change;
            refused += usize::from(check(
                &damaged,
                &target,
                &format!("{name} with byte {position} xor {change:#04x}"),
            ));
            attempts += 1;
        }
    }
    // The damage reaches the checks: most truncations and many flips are refused (a flip inside a
    // float weight still loads).
    assert!(
        refused * 5 >= attempts,
        "only {refused} of {attempts} damaged graphs were refused"
    );
}
