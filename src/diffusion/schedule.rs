//! Reverse-time grids in OU time (the OU coefficients themselves are `base::ou`). Pure arithmetic;
//! knows nothing of models or samplers.

use super::DiffusionError;

/// How the reverse-time grid points are spread between t_max and t_min.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridSpacing {
    /// Equal steps in t.
    Linear,
    /// Equal steps in ln t (fine steps near t_min, where the score changes fastest).
    Log,
}

/// The decreasing grid t_0 = t_max > t_1 > … > t_steps = t_min (`steps + 1` points).
pub fn time_grid(
    t_max: f64,
    t_min: f64,
    steps: usize,
    spacing: GridSpacing,
) -> Result<Vec<f64>, DiffusionError> {
    if steps == 0 {
        return Err(DiffusionError::Spec(
            "the number of steps must be at least 1".into(),
        ));
    }
    if !(t_min > 0.0 && t_min.is_finite() && t_max.is_finite() && t_max > t_min) {
        return Err(DiffusionError::Spec(format!(
            "the time range needs 0 < t_min < t_max < ∞, got t_min = {t_min}, t_max = {t_max}"
        )));
    }
    let m = steps as f64;
    let grid = (0..=steps)
        .map(|j| {
            let f = j as f64 / m;
            match spacing {
                GridSpacing::Linear => t_max + (t_min - t_max) * f,
                GridSpacing::Log => (t_max.ln() + (t_min.ln() - t_max.ln()) * f).exp(),
            }
        })
        .enumerate()
        // Pin the ends exactly so that stored times read back as the requested t_max and t_min.
        .map(|(j, t)| match j {
            0 => t_max,
            j if j == steps => t_min,
            _ => t,
        })
        .collect();
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_run_from_t_max_to_t_min_and_decrease() {
        for spacing in [GridSpacing::Linear, GridSpacing::Log] {
            let g = time_grid(8.0, 1e-3, 200, spacing).unwrap();
            assert_eq!(g.len(), 201);
            assert_eq!((g[0], g[200]), (8.0, 1e-3));
            assert!(g.windows(2).all(|w| w[1] < w[0]));
        }
        let g = time_grid(2.0, 1.0, 4, GridSpacing::Linear).unwrap();
        assert_eq!(g, vec![2.0, 1.75, 1.5, 1.25, 1.0]);
        let g = time_grid(1.0, 0.01, 2, GridSpacing::Log).unwrap();
        assert!((g[1] - 0.1).abs() < 1e-15);
        assert!(time_grid(1.0, 0.0, 10, GridSpacing::Log).is_err());
        assert!(time_grid(1.0, 2.0, 10, GridSpacing::Linear).is_err());
        assert!(time_grid(1.0, 0.1, 0, GridSpacing::Linear).is_err());
    }
}
