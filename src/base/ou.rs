//! OU time, the one clock of diffscope: x_t = a_t x_0 + sqrt(Δ_t) z with a_t = e^{−t} and
//! Δ_t = 1 − e^{−2t} (`docs/science/speciation.md` §1). Every model, sampler and measurement takes its
//! coefficients from here; other time conventions (DDPM step indices, …) are converted to OU time here
//! or at a model's boundary. Pure arithmetic.

/// Signal coefficient a_t = e^{-t} of x_t = a_t x_0 + sqrt(Δ_t) z.
pub fn signal(t: f64) -> f64 {
    (-t).exp()
}

/// Noise variance Δ_t = 1 - e^{-2t} (computed with `exp_m1`, accurate for small t).
pub fn noise_var(t: f64) -> f64 {
    -(-2.0 * t).exp_m1()
}

/// (a_t, Δ_t) together, for code that needs both.
pub fn coefficients(t: f64) -> (f64, f64) {
    (signal(t), noise_var(t))
}

/// Noise scale σ_t = sqrt(Δ_t) of x_t = a_t x_0 + σ_t z.
pub fn noise_scale(t: f64) -> f64 {
    noise_var(t).sqrt()
}

/// OU times t_n = -½ ln ᾱ_n = -½ Σ_{i≤n} ln(1 - β_i) of a DDPM β-schedule (one per β, increasing).
pub fn ddpm_times(betas: &[f64]) -> Result<Vec<f64>, String> {
    let mut total = 0.0;
    betas
        .iter()
        .enumerate()
        .map(|(i, &beta)| {
            if !(beta > 0.0 && beta < 1.0) {
                return Err(format!("DDPM β_{i} = {beta} is outside (0, 1)"));
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
    fn linear_ddpm_schedule_ends_near_t_5_04() {
        // docs/science/speciation.md §1.1: β from 1e-4 to 0.02 over 1000 steps gives t_max ≈ 5.04 (½Σβ = 5.025, and the
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
