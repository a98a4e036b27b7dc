//! The one way the ONNX loader tests (mutations, fuzz regressions) exercise a graph file: load it as an
//! `onnx` scene's model would be, then denoise.

use diffscope::model::Denoiser;
use diffscope::model::onnx::{OnnxDenoiser, OnnxOptions, Prediction, TimeConvention};
use std::path::Path;

/// Loads `path` as a d = 16 x₀ model in OU time and denoises three rows; `Err` is the message.
pub fn load_and_run(path: &Path) -> Result<(), String> {
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
