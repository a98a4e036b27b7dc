//! Shared by the fuzz targets: the readers take paths, so each input is written to a per-process file
//! in RAM (`/dev/shm` when present) with the extension the reader dispatches on.

use std::path::PathBuf;

/// Writes `data` to this process's scratch file ending in `.{extension}` and returns its path.
pub fn scratch_file(extension: &str, data: &[u8]) -> PathBuf {
    let folder = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = folder.join(format!("diffscope-fuzz-{}.{extension}", std::process::id()));
    std::fs::write(&path, data).expect("the fuzz scratch file must be writable");
    path
}
