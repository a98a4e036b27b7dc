//! A small learned denoiser in OU time for any exact model's data: an MLP with time features,
//! D(x, t) = a_t·x + sqrt(Δ_t)·F([x; φ(ln t)]), trained on samples of the exact model so the speciation
//! lab can compare a learned model's φ(t) with the theory of the model it imitates.

use super::config::MlpDenoiserConfig;
use super::params::{BuildError, ParamBuilder, ParamStore, sinusoidal};
use super::train::{HELDOUT_NOISE_STREAM, Objective};
use crate::base::ou;
use crate::model::ExactModel;
use crate::rng::{self, Domain};
use candle_core::{Device, Tensor, Var};
use candle_nn::{Linear, Module};
use rand::Rng;
use rand_distr::StandardNormal;

/// Frequencies of the ln t features: periods from ~25 (longer than the ln-time range) down to ~0.8.
const MIN_FREQUENCY: f64 = 0.25;
const MAX_FREQUENCY: f64 = 8.0;

pub struct MlpDenoiser {
    config: MlpDenoiserConfig,
    params: ParamStore,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear, // zero-initialised: the untrained model is D = a_t·x
}

impl MlpDenoiser {
    pub(crate) fn build(
        config: MlpDenoiserConfig,
        mut b: ParamBuilder<'_>,
    ) -> Result<Self, BuildError> {
        let c = &config;
        let fc1 = b.linear("fc1", c.dim + 2 * c.time_frequencies, c.hidden, false)?;
        let fc2 = b.linear("fc2", c.hidden, c.hidden, false)?;
        let fc3 = b.linear("fc3", c.hidden, c.dim, true)?;
        Ok(Self {
            params: b.finish()?,
            config,
            fc1,
            fc2,
            fc3,
        })
    }

    pub fn config(&self) -> &MlpDenoiserConfig {
        &self.config
    }

    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// F for states `x` `[n, d]` at OU times `t` (`[n]`, all > 0).
    fn residual(&self, x: &Tensor, t: &[f32]) -> candle_core::Result<Tensor> {
        let log_t: Vec<f32> = t.iter().map(|t| t.ln()).collect();
        let features = sinusoidal(
            &log_t,
            self.config.time_frequencies,
            MIN_FREQUENCY,
            MAX_FREQUENCY,
        )?;
        let input = Tensor::cat(&[x, &features], 1)?;
        let h = self.fc1.forward(&input)?.silu()?;
        let h = self.fc2.forward(&h)?.silu()?;
        self.fc3.forward(&h)
    }
}

impl MlpDenoiser {
    /// State dimension d.
    pub fn dim(&self) -> usize {
        self.config.dim
    }

    /// D(x, t) = a_t·x + sqrt(Δ_t)·F for `n` rows (shapes checked by the caller, `LearnedModel`).
    pub(crate) fn denoise(
        &self,
        x: &[f32],
        n: usize,
        t: f64,
        denoised: &mut [f32],
    ) -> candle_core::Result<()> {
        let input = Tensor::from_slice(x, (n, self.config.dim), &Device::Cpu)?;
        let residual = self
            .residual(&input, &vec![t as f32; n])?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let (a, sigma) = (ou::signal(t), ou::noise_scale(t));
        for ((out, &xi), &r) in denoised.iter_mut().zip(x).zip(&residual) {
            *out = (a * f64::from(xi) + sigma * f64::from(r)) as f32;
        }
        Ok(())
    }
}

/// Regression of F on (x₀ − a_t x_t)/sqrt(Δ_t), i.e. ‖D − x₀‖²/Δ_t, with fresh data from the exact
/// model every step and t log-uniform on [t_min, t_max].
pub struct DenoiserTraining<'a> {
    pub model: &'a MlpDenoiser,
    pub data: &'a dyn ExactModel,
    pub seed: u64,
    pub batch: usize,
}

/// Held-out points drawn for the final loss.
const HELDOUT_POINTS: usize = 1000;

impl DenoiserTraining<'_> {
    fn loss(&self, n: usize, mut stream: rng::Stream) -> candle_core::Result<Tensor> {
        let c = &self.model.config;
        let x0 = self.data.sample_x0(n, stream.random::<u64>()).points; // [n, d]
        let (log_min, log_max) = (c.t_min.ln(), c.t_max.ln());
        let mut times = Vec::with_capacity(n);
        let mut x_t = Vec::with_capacity(x0.len());
        let mut target = Vec::with_capacity(x0.len());
        for row in x0.chunks_exact(c.dim) {
            let t = (log_min + stream.random::<f64>() * (log_max - log_min)).exp();
            let (a, sigma) = (ou::signal(t), ou::noise_scale(t));
            times.push(t as f32);
            for &x in row {
                let z: f64 = stream.sample(StandardNormal);
                let xt = a * f64::from(x) + sigma * z;
                x_t.push(xt as f32);
                target.push(((f64::from(x) - a * xt) / sigma) as f32);
            }
        }
        let x_t = Tensor::from_vec(x_t, (n, c.dim), &Device::Cpu)?;
        let target = Tensor::from_vec(target, (n, c.dim), &Device::Cpu)?;
        candle_nn::loss::mse(&self.model.residual(&x_t, &times)?, &target)
    }
}

impl Objective for DenoiserTraining<'_> {
    fn vars(&self) -> Vec<Var> {
        self.model.params.vars()
    }

    fn batch_loss(&self, step: u64) -> candle_core::Result<Tensor> {
        self.loss(self.batch, rng::stream(self.seed, Domain::Training, step))
    }

    fn heldout_loss(&self) -> candle_core::Result<Tensor> {
        let stream = rng::stream(self.seed, Domain::Training, HELDOUT_NOISE_STREAM);
        self.loss(HELDOUT_POINTS, stream)
    }
}
