//! `.npy` header and body: the strict reader, then the point-cloud selection of `load_points`.
#![no_main]

use diffscope::io::{StepSelection, load_points, npy};
use diffscope_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("npy", data);
    if let Ok(array) = npy::read_f64(&path) {
        let count: usize = array.shape.iter().product();
        assert_eq!(count, array.data.len(), "shape and data disagree");
        // Exercise every step selection on arrays that parsed (rank 2 and 3 become clouds).
        for step in [
            StepSelection::Last,
            StepSelection::All,
            StepSelection::Index(1),
        ] {
            let _ = load_points(&path, step, None);
        }
    }
});
