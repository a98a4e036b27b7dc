//! Tiny DiT (`docs/science/metrics.md` §3.3): adaLN-Zero transformer blocks over a token sequence predicting
//! the rectified-flow velocity, its Euler ODE sampler with hidden-state capture, its training
//! objective on Dyck-2, and its `Denoiser` face in OU time (`docs/science/speciation.md` §1.1–1.2).

use super::LearnedError;
use super::config::{DitConfig, DitPrediction};
use super::dyck;
use super::hidden::HiddenStates;
use super::params::{
    BuildError, Init, ParamBuilder, ParamStore, gelu, layer_norm, linear, repeat_middle,
    self_attention, sinusoidal,
};
use super::train::{DyckData, HELDOUT_NOISE_STREAM, Objective};
use crate::base::ou;
use crate::rng::{self, Domain};
use candle_core::{D, Device, Tensor, Var};
use candle_nn::Linear;
use rand::Rng;
use rand_distr::StandardNormal;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sequences per forward pass when sampling: large enough for efficient matmuls, small enough that
/// the intermediate buffers (≤ 4 MB) stay below the allocator's mmap threshold and are reused
/// instead of being page-faulted in afresh on every operation.
const SAMPLE_CHUNK: usize = 250;

struct Block {
    modulation: Linear, // c → 6·width, zero-initialised (adaLN-Zero)
    qkv: Linear,
    proj: Linear,
    fc1: Linear,
    fc2: Linear,
}

/// The network and its parameters.
pub struct Dit {
    config: DitConfig,
    params: ParamStore,
    input: Linear,
    position: Tensor, // [L, width]
    time_in: Linear,
    time_out: Linear,
    blocks: Vec<Block>,
    final_modulation: Linear, // c → 2·width (shift, scale), zero-initialised
    final_out: Linear,        // width → channels, zero-initialised
    /// channels → width, zero-initialised: reads the previous clean estimate (self-conditioning).
    self_condition: Option<Linear>,
}

/// Generated strings and, if asked, one block's hidden states.
pub struct DitSamples {
    /// `[n, L]` decoded tokens.
    pub tokens: Vec<u32>,
    pub hidden: Option<HiddenStates>,
}

impl Dit {
    /// Builds the layers in a fixed order from `builder` (seeded or a file's tensors).
    pub(crate) fn build(config: DitConfig, mut b: ParamBuilder<'_>) -> Result<Self, BuildError> {
        let w = config.width;
        let input = b.linear("input", config.channels, w, false)?;
        let position = b.get("position", &[config.seq_len, w], Init::Normal(0.02))?;
        let time_in = b.linear("time.in", w, w, false)?;
        let time_out = b.linear("time.out", w, w, false)?;
        let mut blocks = Vec::with_capacity(config.blocks);
        for i in 0..config.blocks {
            let hidden = config.mlp_ratio * w;
            blocks.push(Block {
                modulation: b.linear(&format!("blocks.{i}.modulation"), w, 6 * w, true)?,
                qkv: b.linear(&format!("blocks.{i}.qkv"), w, 3 * w, false)?,
                proj: b.linear(&format!("blocks.{i}.proj"), w, w, false)?,
                fc1: b.linear(&format!("blocks.{i}.fc1"), w, hidden, false)?,
                fc2: b.linear(&format!("blocks.{i}.fc2"), hidden, w, false)?,
            });
        }
        let final_modulation = b.linear("final.modulation", w, 2 * w, true)?;
        let final_out = b.linear("final.out", w, config.channels, true)?;
        // Built last, so that a model without it draws the same initial weights as before.
        let self_condition = if config.self_conditioning {
            Some(b.linear("self_condition", config.channels, w, true)?)
        } else {
            None
        };
        Ok(Self {
            config,
            params: b.finish()?,
            input,
            position,
            time_in,
            time_out,
            blocks,
            final_modulation,
            final_out,
            self_condition,
        })
    }

    pub fn config(&self) -> &DitConfig {
        &self.config
    }

    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// The network output for `x` `[n, L, C]` at rectified-flow times `tau` (`[n]`): the velocity
    /// v̂ = ε − x₀ or token logits (see [`DitPrediction`]), and the token-mean output `[n, width]` of
    /// block `capture` if asked. A self-conditioned model also reads `estimate`, a previous clean
    /// estimate `[n, L, C]` (none: zeros, as in the first pass); other models ignore it.
    pub fn forward(
        &self,
        x: &Tensor,
        tau: &[f32],
        estimate: Option<&Tensor>,
        capture: Option<usize>,
    ) -> candle_core::Result<(Tensor, Option<Tensor>)> {
        let w = self.config.width;
        let scaled: Vec<f32> = tau.iter().map(|t| t * 1000.0).collect();
        let features = sinusoidal(&scaled, w / 2, 1e-4, 1.0)?; // [n, w]
        let c = linear(&self.time_out, &linear(&self.time_in, &features)?.silu()?)?; // [n, w]
        let c_act = c.silu()?;
        let (n, l, _) = x.dims3()?;
        let position = repeat_middle(&self.position.reshape((1, 1, l * w))?, n)?;
        let mut h = (linear(&self.input, x)? + position.reshape((n, l, w))?)?; // [n, L, w]
        if let Some(layer) = &self.self_condition {
            let previous = match estimate {
                Some(e) => e.clone(),
                None => x.zeros_like()?,
            };
            h = (h + linear(layer, &previous)?)?;
        }
        let mut captured = None;
        // Every modulation repeated over the L tokens: [n, L, w].
        let per_token = |m: &Tensor| repeat_middle(&m.unsqueeze(1)?, l);
        for (i, block) in self.blocks.iter().enumerate() {
            let m = linear(&block.modulation, &c_act)?.chunk(6, D::Minus1)?; // 6 × [n, w]
            let y = modulate(&h, &per_token(&m[0])?, &per_token(&m[1])?)?;
            h = (&h + (self.attention(block, &y)? * per_token(&m[2])?)?)?;
            let y = modulate(&h, &per_token(&m[3])?, &per_token(&m[4])?)?;
            let mlp = linear(&block.fc2, &gelu(&linear(&block.fc1, &y)?)?)?;
            h = (&h + (mlp * per_token(&m[5])?)?)?;
            if capture == Some(i) {
                captured = Some(h.mean(1)?);
            }
        }
        let m = linear(&self.final_modulation, &c_act)?.chunk(2, D::Minus1)?;
        let y = modulate(&h, &per_token(&m[0])?, &per_token(&m[1])?)?;
        let out = linear(&self.final_out, &y)?;
        Ok((out, captured))
    }

    fn attention(&self, block: &Block, y: &Tensor) -> candle_core::Result<Tensor> {
        self_attention(&block.qkv, &block.proj, self.config.heads, y)
    }

    /// Euler ODE from τ = 1 to 0 in `steps` steps (`docs/science/metrics.md` §3.3) for `n` sequences; sequence
    /// i starts from `rng::stream(seed, ReverseNoise, i)`. Captures block `capture` at every step. Stops
    /// with `LearnedError::Cancelled` before the next Euler step of a chunk once `cancel` is set.
    pub fn sample(
        &self,
        n: usize,
        steps: usize,
        seed: u64,
        capture: Option<usize>,
        cancel: &AtomicBool,
    ) -> Result<DitSamples, LearnedError> {
        if steps == 0 {
            return Err(LearnedError::Argument(
                "sampling needs at least 1 step".into(),
            ));
        }
        if let Some(b) = capture
            && b >= self.config.blocks
        {
            return Err(LearnedError::Argument(format!(
                "block {b} does not exist (the model has blocks 0..{})",
                self.config.blocks
            )));
        }
        let (l, ch, w) = (self.config.seq_len, self.config.channels, self.config.width);
        let taus: Vec<f32> = (0..=steps).map(|k| 1.0 - k as f32 / steps as f32).collect();
        let mut tokens = Vec::with_capacity(n * l);
        let mut states = Vec::with_capacity(if capture.is_some() { n * steps * w } else { 0 });
        for first in (0..n).step_by(SAMPLE_CHUNK) {
            let rows = SAMPLE_CHUNK.min(n - first);
            let mut x = Vec::with_capacity(rows * l * ch);
            for i in first..first + rows {
                let mut stream = rng::stream(seed, Domain::ReverseNoise, i as u64);
                x.extend((0..l * ch).map(|_| stream.sample::<f32, _>(StandardNormal)));
            }
            let mut x =
                Tensor::from_vec(x, (rows, l, ch), &Device::Cpu).map_err(LearnedError::compute)?;
            let mut chunk_states = vec![0f32; rows * steps * w];
            let mut estimate = None; // the previous step's x̂₀, for self-conditioning
            for k in 0..steps {
                if cancel.load(Ordering::Relaxed) {
                    return Err(LearnedError::Cancelled);
                }
                let tau = vec![taus[k]; rows];
                let (out, hidden) = self
                    .forward(&x, &tau, estimate.as_ref(), capture)
                    .map_err(LearnedError::compute)?;
                let v = self
                    .velocity(&x, &out, f64::from(taus[k]))
                    .map_err(LearnedError::compute)?;
                if self.self_condition.is_some() {
                    estimate = Some(
                        self.clean_estimate(&x, &out, &tau)
                            .map_err(LearnedError::compute)?
                            .detach(),
                    );
                }
                // Detached: the weights are variables, so every step's result would otherwise
                // keep the whole graph of all earlier steps alive (4 GB for 250 × 20 steps).
                x = (x + (v * f64::from(taus[k + 1] - taus[k])))
                    .map_err(LearnedError::compute)?
                    .detach();
                if let Some(hidden) = hidden {
                    let hidden = hidden
                        .flatten_all()
                        .and_then(|h| h.to_vec1::<f32>())
                        .map_err(LearnedError::compute)?; // [rows, w]
                    for (r, row) in hidden.chunks_exact(w).enumerate() {
                        chunk_states[(r * steps + k) * w..(r * steps + k + 1) * w]
                            .copy_from_slice(row);
                    }
                }
            }
            if capture.is_some() {
                states.extend_from_slice(&chunk_states);
            }
            let bits = x
                .flatten_all()
                .and_then(|x| x.to_vec1::<f32>())
                .map_err(LearnedError::compute)?;
            tokens.extend(dyck::from_analog_bits(&bits));
        }
        let hidden = capture.map(|b| HiddenStates {
            layer: format!(
                "tiny DiT, output of block {} of {}, mean over {l} tokens",
                b + 1,
                self.config.blocks
            ),
            sequences: n,
            steps,
            dim: w,
            states,
            times: taus[..steps].to_vec(),
            time_label: "rectified-flow time τ (1 = noise)",
        });
        Ok(DitSamples { tokens, hidden })
    }
}

/// LN(x)·(1 + scale) + shift, with scale and shift of x's shape `[n, L, w]`.
fn modulate(x: &Tensor, shift: &Tensor, scale: &Tensor) -> candle_core::Result<Tensor> {
    (layer_norm(x)? * (scale + 1.0)?)? + shift
}

/// The OU ↔ rectified-flow map at OU time t: x_τ = c·x_t with c = 1/(a_t + sqrt(Δ_t)) and
/// τ = sqrt(Δ_t)/(a_t + sqrt(Δ_t)), so (1 − τ) = c·a_t and τ = c·sqrt(Δ_t): same signal-to-noise ratio.
/// Returns (c, τ).
pub fn ou_to_rectified_flow(t: f64) -> (f64, f64) {
    let (a, sigma) = (ou::signal(t), ou::noise_scale(t));
    let c = 1.0 / (a + sigma);
    (c, sigma * c)
}

impl Dit {
    /// Values per sequence, `L · C`.
    pub fn dim(&self) -> usize {
        self.config.seq_len * self.config.channels
    }

    /// The clean estimate x̂₀ `[n, L, C]` from the network output `out` at x_τ and the times `tau`
    /// (`[n]`): x_τ − τ·v̂ for a velocity model (since x_τ = x₀ + τ(ε − x₀)), 2·softmax − 1 for
    /// token logits.
    fn clean_estimate(
        &self,
        x_tau: &Tensor,
        out: &Tensor,
        tau: &[f32],
    ) -> candle_core::Result<Tensor> {
        match self.config.prediction {
            DitPrediction::Velocity => {
                let tau = Tensor::from_slice(tau, (tau.len(), 1, 1), &Device::Cpu)?;
                x_tau - out.broadcast_mul(&tau)?
            }
            DitPrediction::TokenLogits => {
                candle_nn::ops::softmax(out, D::Minus1)?.affine(2.0, -1.0)
            }
        }
    }

    /// The velocity v̂ from the network output at x_τ and a common time τ > 0.
    fn velocity(&self, x_tau: &Tensor, out: &Tensor, tau: f64) -> candle_core::Result<Tensor> {
        match self.config.prediction {
            DitPrediction::Velocity => Ok(out.clone()),
            DitPrediction::TokenLogits => {
                let rows = vec![tau as f32; x_tau.dim(0)?];
                (x_tau - self.clean_estimate(x_tau, out, &rows)?)? / tau
            }
        }
    }

    /// E[x₀ | x_t] for `n` rows of OU-time states (shapes checked by the caller, `LearnedModel`): the
    /// clean estimate at x_τ = c·x_t. A self-conditioned model refines its first estimate once, as
    /// one sampling step would.
    pub(crate) fn denoise(
        &self,
        x: &[f32],
        n: usize,
        t: f64,
        denoised: &mut [f32],
    ) -> candle_core::Result<()> {
        let (c, tau) = ou_to_rectified_flow(t);
        let (l, ch) = (self.config.seq_len, self.config.channels);
        let scaled: Vec<f32> = x.iter().map(|&v| (f64::from(v) * c) as f32).collect();
        let x_tau = Tensor::from_vec(scaled, (n, l, ch), &Device::Cpu)?;
        let taus = vec![tau as f32; n];
        let (mut out, _) = self.forward(&x_tau, &taus, None, None)?;
        if self.self_condition.is_some() {
            let first = self.clean_estimate(&x_tau, &out, &taus)?;
            out = self.forward(&x_tau, &taus, Some(&first), None)?.0;
        }
        let values = self
            .clean_estimate(&x_tau, &out, &taus)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        denoised.copy_from_slice(&values);
        Ok(())
    }
}

/// The shipped tiny DiT's architecture (assets/models/PROVENANCE.md, the recipe search): the
/// `docs/science/metrics.md` §3.3 network with token-logit output. It is trained at
/// [`TimeSampling::LOGIT_NORMAL`] times with the optimiser settings of `Recipe::dit()`.
pub fn shipped_config() -> DitConfig {
    DitConfig {
        prediction: DitPrediction::TokenLogits,
        ..DitConfig::default()
    }
}

/// How training draws the rectified-flow time τ of each string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeSampling {
    /// τ ~ U(0, 1), as in `docs/science/metrics.md` §3.3.
    Uniform,
    /// τ = sigmoid(mean + std·z) with z ~ N(0, 1) (Esser et al. 2024, SD3): fewer steps are spent
    /// near τ = 0 and 1, where the velocity is easy (mostly the noise or mostly the data).
    LogitNormal { mean: f32, std: f32 },
}

impl TimeSampling {
    /// Logit-normal(0, 1), the shipped recipe's (see [`shipped_config`]).
    pub const LOGIT_NORMAL: TimeSampling = TimeSampling::LogitNormal {
        mean: 0.0,
        std: 1.0,
    };

    fn draw(self, stream: &mut rng::Stream) -> f32 {
        match self {
            TimeSampling::Uniform => stream.random(),
            TimeSampling::LogitNormal { mean, std } => {
                let z: f32 = stream.sample(StandardNormal);
                1.0 / (1.0 + (-(mean + std * z)).exp())
            }
        }
    }
}

/// The DiT's rectified-flow objective on Dyck-2 analog bits (`docs/science/metrics.md` §3.3).
pub struct DitTraining<'a> {
    pub model: &'a Dit,
    pub data: DyckData,
    pub seed: u64,
    pub batch: usize,
    pub time_sampling: TimeSampling,
}

impl DitTraining<'_> {
    /// MSE(v̂, ε − x₀), or the cross-entropy of the token logits, on `strings` (`[n, L]`) with τ from
    /// `time_sampling` and ε ~ N(0, I) from `stream`. A self-conditioned model first estimates x̂₀
    /// without gradient and reads it, with probability `estimate_probability` (Analog Bits: ½ in
    /// training, so that it also learns the first, estimate-free step).
    fn loss(
        &self,
        strings: &[u32],
        mut stream: rng::Stream,
        estimate_probability: f32,
    ) -> candle_core::Result<Tensor> {
        let (l, ch) = (self.model.config.seq_len, self.model.config.channels);
        let n = strings.len() / l;
        let x0 = dyck::to_analog_bits(strings); // [n, L, C]
        let mut x_t = Vec::with_capacity(x0.len());
        let mut target = Vec::with_capacity(x0.len());
        let mut taus = Vec::with_capacity(n);
        for row in x0.chunks_exact(l * ch) {
            let tau = self.time_sampling.draw(&mut stream);
            taus.push(tau);
            for &x in row {
                let eps: f32 = stream.sample(StandardNormal);
                x_t.push((1.0 - tau) * x + tau * eps);
                target.push(eps - x);
            }
        }
        let x_t = Tensor::from_vec(x_t, (n, l, ch), &Device::Cpu)?;
        let estimate = if self.model.self_condition.is_some()
            && stream.random::<f32>() < estimate_probability
        {
            let (first, _) = self.model.forward(&x_t, &taus, None, None)?;
            Some(self.model.clean_estimate(&x_t, &first, &taus)?.detach())
        } else {
            None
        };
        let (out, _) = self.model.forward(&x_t, &taus, estimate.as_ref(), None)?;
        match self.model.config.prediction {
            DitPrediction::Velocity => {
                let target = Tensor::from_vec(target, (n, l, ch), &Device::Cpu)?;
                candle_nn::loss::mse(&out, &target)
            }
            DitPrediction::TokenLogits => {
                let tokens = Tensor::from_slice(strings, n * l, &Device::Cpu)?;
                candle_nn::loss::cross_entropy(&out.reshape((n * l, ch))?, &tokens)
            }
        }
    }
}

impl Objective for DitTraining<'_> {
    fn vars(&self) -> Vec<Var> {
        self.model.params.vars()
    }

    fn batch_loss(&self, step: u64) -> candle_core::Result<Tensor> {
        let mut stream = rng::stream(self.seed, Domain::Training, step);
        let strings = self.data.batch(&mut stream, self.batch);
        self.loss(&strings, stream, 0.5)
    }

    fn heldout_loss(&self) -> candle_core::Result<Tensor> {
        let stream = rng::stream(self.seed, Domain::Training, HELDOUT_NOISE_STREAM);
        // As in sampling, where every step after the first reads the previous estimate.
        self.loss(&self.data.heldout, stream, 1.0)
    }
}
