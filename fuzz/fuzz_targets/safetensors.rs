//! `.safetensors` header and tensors: the f64 tensor reader (by name and the only tensor) and
//! `load_points` on the result.
#![no_main]

use diffscope::io::{StepSelection, load_points, tensors};
use diffscope_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("safetensors", data);
    let _ = tensors::read_f64(&path, None);
    if let Ok(t) = tensors::read_f64(&path, Some("trajectories")) {
        let count: usize = t.shape.iter().product();
        assert_eq!(count, t.data.len(), "shape and data disagree");
        let _ = load_points(&path, StepSelection::Last, Some("trajectories"));
        let _ = load_points(&path, StepSelection::All, Some("trajectories"));
    }
});
