//! CSV point clouds: the numeric table reader and `load_points` on `.csv`.
#![no_main]

use diffscope::io::{StepSelection, csv, load_points};
use diffscope_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("csv", data);
    if let Ok(table) = csv::read(&path) {
        assert_eq!(table.rows * table.columns, table.data.len(), "ragged table");
        let _ = load_points(&path, StepSelection::Last, None);
    }
});
