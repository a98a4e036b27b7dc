//! Benchmarks of the speciation area.

use super::Bench;

pub fn benches() -> Vec<Bench> {
    Vec::new()
}
