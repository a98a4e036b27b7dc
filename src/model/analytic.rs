//! The closed set of exact analytic models (Gaussian and Ising mixtures) behind one enum.
//! Theory code matches on `AnalyticModel`; samplers use it through `dyn Denoiser` / `dyn ExactModel`.

use super::gaussian_mixture::GaussianMixture;
use super::ising::IsingMixture;
use super::{Denoiser, ExactModel, Guide, LabelledSamples, ModelError};

/// An exact model built from a scene: one of the analytic mixtures.
#[derive(Clone, Debug)]
pub enum AnalyticModel {
    Gaussian(GaussianMixture),
    Ising(IsingMixture),
}

impl AnalyticModel {
    fn inner(&self) -> &dyn ExactModel {
        match self {
            AnalyticModel::Gaussian(m) => m,
            AnalyticModel::Ising(m) => m,
        }
    }
}

impl Denoiser for AnalyticModel {
    fn dim(&self) -> usize {
        self.inner().dim()
    }
    fn class_labels(&self) -> &[String] {
        self.inner().class_labels()
    }
    fn has_exact_posterior(&self) -> bool {
        true
    }
    fn denoise(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.inner().denoise(x, t, denoised, posterior)
    }
    fn is_class_conditional(&self) -> bool {
        true
    }
    fn denoise_guided(
        &self,
        x: &[f32],
        t: f64,
        guide: Guide<'_>,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.inner()
            .denoise_guided(x, t, guide, denoised, posterior)
    }
}

impl ExactModel for AnalyticModel {
    fn weights(&self) -> &[f64] {
        self.inner().weights()
    }
    fn class_log_joint(&self, x: &[f64], t: f64, out: &mut [f64]) {
        self.inner().class_log_joint(x, t, out)
    }
    fn class_log_joint_batch(&self, x: &[f64], t: f64, out: &mut [f64]) {
        self.inner().class_log_joint_batch(x, t, out)
    }
    fn log_density(&self, x: &[f64], t: f64) -> f64 {
        self.inner().log_density(x, t)
    }
    fn score(&self, x: &[f64], t: f64, out: &mut [f64]) {
        self.inner().score(x, t, out)
    }
    fn sample_x0(&self, n: usize, seed: u64) -> LabelledSamples {
        self.inner().sample_x0(n, seed)
    }
    fn sample_class_x0(&self, class: usize, n: usize, seed: u64) -> Vec<f32> {
        self.inner().sample_class_x0(class, n, seed)
    }
}
