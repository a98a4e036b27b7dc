//! File-system helpers shared by the tests of atomic writes (faults, sessions, export).

use std::path::Path;

/// True when this process can write into a folder it has made read-only (root ignores modes), so a
/// test knows whether a refused write can be provoked by permissions here.
pub fn modes_are_ignored(folder: &Path) -> bool {
    let probe = folder.join("probe");
    let ignored = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(probe);
    ignored
}
