//! Learned-model files: the safetensors metadata, the versioned architecture config JSON and the
//! check of every weight against it (`model::learned::load`).
#![no_main]

use diffscope::model::learned;
use diffscope_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("safetensors", data);
    let _ = learned::load(&path);
});
