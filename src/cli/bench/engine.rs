//! Benchmarks of the engine area.

use super::Bench;

pub fn benches() -> Vec<Bench> {
    Vec::new()
}
