//! ONNX denoiser files (`model::onnx::OnnxDenoiser::load`, as an `onnx` scene's model is built): the
//! protobuf decoding, the input and output names, the declared shapes against `dim`, tract's
//! optimisation for x [N, 16], t [N], and one denoiser call on the loaded graph.
#![no_main]

use diffscope::model::Denoiser;
use diffscope::model::onnx::{OnnxDenoiser, OnnxOptions, Prediction, TimeConvention};
use diffscope_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

const DIM: usize = 16;

fuzz_target!(
    init: {
        // libFuzzer's hook aborts at any panic, before unwinding; the loader catches panics inside
        // tract (`guarded`) and turns them into errors, as the app relies on. With the default hook a
        // caught panic is only printed, and a panic that escapes the loader still aborts the run (the
        // harness aborts on any unwind that reaches it).
        drop(std::panic::take_hook());
    },
    |data: &[u8]| {
    let options = OnnxOptions {
        path: scratch_file("onnx", data),
        dim: DIM,
        shape: None,
        input_x: "x".into(),
        input_t: "t".into(),
        output: "out".into(),
        prediction: Prediction::X0,
        time: TimeConvention::Ou {},
    };
    if let Ok(model) = OnnxDenoiser::load(&options) {
        let x = vec![0.5f32; 3 * DIM];
        let mut out = vec![0f32; 3 * DIM];
        let _ = model.denoise(&x, 0.5, &mut out, None);
    }
});
