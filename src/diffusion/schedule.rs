//! OU time: the forward-process coefficients a_t, Δ_t, reverse-time grids and the DDPM β-schedule
//! conversion (`spec/speciation.md` §1.1). Pure arithmetic; knows nothing of models or samplers.

use super::DiffusionError;

/// Signal coefficient a_t = e^{-t} of x_t = a_t x_0 + sqrt(Δ_t) z.
pub fn signal(t: f64) -> f64 {
    (-t).exp()
}

/// Noise variance Δ_t = 1 - e^{-2t} (computed with `exp_m1`, accurate for small t).
pub fn noise_var(t: f64) -> f64 {
    -(-2.0 * t).exp_m1()
}

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

/// OU times t_n = -½ ln ᾱ_n = -½ Σ_{i≤n} ln(1 - β_i) of a DDPM β-schedule (one per β, increasing).
pub fn ddpm_times(betas: &[f64]) -> Result<Vec<f64>, DiffusionError> {
    let mut total = 0.0;
    betas
        .iter()
        .enumerate()
        .map(|(i, &beta)| {
            if !(beta > 0.0 && beta < 1.0) {
                return Err(DiffusionError::Spec(format!(
                    "DDPM β_{i} = {beta} is outside (0, 1)"
                )));
            }
            total += -0.5 * (-beta).ln_1p();
            Ok(total)
        })
        .collect()
}

/// The linear DDPM schedule β_i from `start` to `end` over `n` steps (Ho et al.: 1e-4 to 0.02, n = 1000).
pub fn ddpm_linear_betas(start: f64, end: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => (0..n)
            .map(|i| start + (end - start) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coefficients_satisfy_variance_preservation() {
        for t in [1e-6, 1e-3, 0.5, 3.0, 20.0] {
            let (a, delta) = (signal(t), noise_var(t));
            assert!((a * a + delta - 1.0).abs() < 1e-15, "t = {t}");
        }
        // exp_m1 keeps relative accuracy at tiny t: Δ ≈ 2t.
        assert!((noise_var(1e-12) / 2e-12 - 1.0).abs() < 1e-9);
    }

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

    #[test]
    fn linear_ddpm_schedule_ends_near_t_5_04() {
        // spec §1.1: β from 1e-4 to 0.02 over 1000 steps gives t_max ≈ 5.04 (½Σβ = 5.025, and the
        // exact −½ln ᾱ adds ¼Σβ² ≈ 0.033); check against ᾱ computed as a plain product.
        let betas = ddpm_linear_betas(1e-4, 0.02, 1000);
        let t = ddpm_times(&betas).unwrap();
        let alpha_bar: f64 = betas.iter().map(|b| 1.0 - b).product();
        assert!((t[999] + 0.5 * alpha_bar.ln()).abs() < 1e-9, "{}", t[999]);
        assert!((t[999] - 5.04).abs() < 0.025, "{}", t[999]);
        // First step: t_1 = -½ ln(1 - 1e-4).
        assert!((t[0] - 0.5 * 1.000_050_003_3e-4).abs() < 1e-12);
        assert!(ddpm_times(&[0.1, 1.0]).is_err());
    }
}
