//! The memory guard of the readers: a file is refused before it is read when its estimated
//! in-memory size exceeds what the machine can give (`MemAvailable`, else a fixed cap).

use super::IoError;
use std::path::Path;

/// Used when `/proc/meminfo` is unavailable (not Linux, sandboxed).
const FALLBACK_LIMIT: u64 = 8 << 30;

/// Bytes the readers may use: `MemAvailable` from /proc/meminfo, else [`FALLBACK_LIMIT`].
pub fn limit() -> (u64, &'static str) {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or((FALLBACK_LIMIT, "fixed cap"), |kb| {
            (kb.saturating_mul(1024), "MemAvailable")
        })
}

fn gigabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

/// Errors when reading `values` numbers needing about `estimate` bytes would exceed the limit.
pub fn check(path: &Path, estimate: u64, values: u64) -> Result<(), IoError> {
    let (limit, source) = limit();
    if estimate > limit {
        return Err(IoError::format(
            path,
            format!(
                "too large to load: {values} values need about {:.2} GB, more than the {:.2} GB \
                 available ({source})",
                gigabytes(estimate),
                gigabytes(limit)
            ),
        ));
    }
    Ok(())
}
