//! The memory check every large run passes before allocating: an estimate of the bytes a request needs
//! against a limit derived from the machine's available memory. Allocates nothing itself.

use super::DiffusionError;

/// Fraction of `MemAvailable` a single run may claim.
const AVAILABLE_FRACTION: f64 = 0.5;
/// Limit used when `/proc/meminfo` cannot be read (non-Linux systems).
const FALLBACK_LIMIT_BYTES: u64 = 4 << 30;

/// The most bytes one run may allocate: half of `MemAvailable`, or 4 GiB when that is unknown.
pub fn limit_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_mem_available_kib(&text))
        .map(|kib| (kib as f64 * 1024.0 * AVAILABLE_FRACTION) as u64)
        .unwrap_or(FALLBACK_LIMIT_BYTES)
}

fn parse_mem_available_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Bytes of `count` values of `bytes_each`, saturating instead of overflowing on absurd requests.
pub fn bytes_of(dims: &[usize], bytes_each: u64) -> u64 {
    dims.iter()
        .fold(bytes_each, |acc, &d| acc.saturating_mul(d as u64))
}

/// Refuses a request of `needed` bytes when it exceeds [`limit_bytes`].
pub fn check(needed: u64, what: &str) -> Result<(), DiffusionError> {
    let limit = limit_bytes();
    if needed > limit {
        return Err(DiffusionError::TooLarge {
            what: what.to_string(),
            needed,
            limit,
        });
    }
    Ok(())
}

/// A byte count for messages, e.g. `3.2 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_parsing_and_saturation() {
        let text = "MemTotal: 32000000 kB\nMemFree: 1000 kB\nMemAvailable:   24279864 kB\n";
        assert_eq!(parse_mem_available_kib(text), Some(24_279_864));
        assert_eq!(parse_mem_available_kib("MemTotal: 5 kB\n"), None);
        assert!(limit_bytes() > 0);
        assert_eq!(bytes_of(&[10, 3], 4), 120);
        assert_eq!(bytes_of(&[usize::MAX, usize::MAX], 4), u64::MAX);
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
