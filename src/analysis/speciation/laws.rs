//! Two-class laws of the speciation time against the dimension d ([`Family`]): the exact finite-d
//! balance time of two Gaussian classes (closed forms and a bisection, O(d) per time) and the
//! leading-order law of Gaussian and Ising pairs, with the two reference families (means ±1: ½ ln d;
//! variances 1 vs 2: ¼ ln(d/8)). The Theory tab draws them; sweep figures set measured points over them.

use super::gaussian::{
    ClassCovariance, GaussianClass, leading_order, pair_balance_time, pair_separation,
};
use super::ising;

/// A two-class law drawn against the dimension d.
#[derive(Clone, Debug, PartialEq)]
pub enum Family {
    /// Two Gaussian classes with isotropic variances `variances` and mean gap |μ_k − μ_l|² = `gap_per_coordinate` · d.
    Gaussian {
        gap_per_coordinate: f64,
        variances: [f64; 2],
    },
    /// Two Ising chains with u = tanh β of each, spins ±`scale`: only the leading order is closed-form.
    Ising {
        u: [f64; 2],
        periodic: bool,
        scale: f64,
    },
}

impl Family {
    /// The pair at dimension `d` as Gaussian classes (Gaussian families only).
    fn classes(&self, d: usize) -> Option<[GaussianClass; 2]> {
        let Family::Gaussian {
            gap_per_coordinate,
            variances,
        } = self
        else {
            return None;
        };
        let class = |mean: f64, variance: f64| GaussianClass {
            weight: 0.5,
            mean: vec![mean; d],
            cov: ClassCovariance::Diagonal(vec![variance; d]),
        };
        Some([
            class(gap_per_coordinate.sqrt(), variances[0]),
            class(0.0, variances[1]),
        ])
    }

    /// Exact finite-d balance time (mean = std of ΔΦ); `None` for Ising (a Monte Carlo) or no balance.
    pub fn exact(&self, d: usize) -> Option<f64> {
        let [k, l] = self.classes(d)?;
        pair_balance_time(&k, &l)
    }

    /// Leading-order balance time (D_LO = 2, docs/science/speciation.md §2.3–§2.5).
    pub fn law(&self, d: usize) -> Option<f64> {
        match self {
            Family::Gaussian { .. } => {
                let [k, l] = self.classes(d)?;
                leading_order(pair_separation(&k, &l)).t_balance
            }
            Family::Ising { u, periodic, scale } => {
                ising::leading_order_times(u[0], u[1], d, *periodic, *scale).t_balance
            }
        }
    }

    /// The leading-order law as a formula in d.
    pub fn law_text(&self) -> String {
        match self {
            Family::Gaussian {
                gap_per_coordinate: g,
                variances: [a, b],
            } => {
                let cov = (a - b).powi(2);
                match (*g > 0.0, cov > 0.0) {
                    (true, false) if (g / 4.0 - 1.0).abs() < 1e-12 => "½ ln d".into(),
                    (true, false) => format!("½ ln({} d)", number(g / 4.0)),
                    (false, true) if (cov / 8.0 - 1.0).abs() < 1e-12 => "¼ ln d".into(),
                    (false, true) if (cov - 1.0).abs() < 1e-12 => "¼ ln(d/8)".into(),
                    (false, true) => format!("¼ ln({} d)", number(cov / 8.0)),
                    _ => "leading order".into(),
                }
            }
            Family::Ising { .. } => "¼ ln(‖ΔC‖²/8)".into(),
        }
    }
}

/// A short decimal: up to 4 significant digits, no trailing zeros.
fn number(x: f64) -> String {
    let text = format!("{:.4}", x);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// The two reference families: means ±1 (|μ₁ − μ₂|² = 4d, variance 1: ½ ln d) and variances 1 vs 2
/// (¼ ln(d/8)).
pub fn reference_families() -> [(&'static str, Family); 2] {
    [
        (
            "means ±1",
            Family::Gaussian {
                gap_per_coordinate: 4.0,
                variances: [1.0, 1.0],
            },
        ),
        (
            "variances 1 vs 2",
            Family::Gaussian {
                gap_per_coordinate: 0.0,
                variances: [1.0, 2.0],
            },
        ),
    ]
}
