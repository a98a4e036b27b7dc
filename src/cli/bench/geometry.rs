//! Benchmarks of the geometry area.

use super::Bench;

pub fn benches() -> Vec<Bench> {
    Vec::new()
}
