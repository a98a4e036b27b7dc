//! The two-class Ising chains of the discrete laws (`docs/science/discrete.md` §5, cases M1/F1 and
//! M2/F2), shared by the measured-law and the Theory-tab tests.

use diffscope::model::discrete::ising_chain::{IsingChainClass, IsingChainTokens};
use diffscope::model::ising::Boundary;

/// Two equally weighted open chains of length `l` with (coupling, field) per class.
pub fn two_classes(l: usize, a: (f64, f64), b: (f64, f64)) -> IsingChainTokens {
    let class = |(coupling, field): (f64, f64)| IsingChainClass {
        weight: 0.5,
        coupling,
        field,
        label: String::new(),
    };
    IsingChainTokens::new(l, Boundary::Open, vec![class(a), class(b)]).unwrap()
}

/// The marginal case: K = 0 and h = ±atanh 0.2, so P(s = +1) = 0.6 and 0.4 (M1, F1).
pub fn marginal_classes(l: usize) -> IsingChainTokens {
    let h = 0.2f64.atanh();
    two_classes(l, (0.0, h), (0.0, -h))
}

/// The correlation-only case: K = 0.3 vs 0.8, no field (M2, F2).
pub fn correlated_classes(l: usize) -> IsingChainTokens {
    two_classes(l, (0.3, 0.0), (0.8, 0.0))
}
