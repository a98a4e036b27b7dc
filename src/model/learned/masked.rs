//! The learned masked-diffusion model (`docs/science/discrete.md` §3, learned): a small bidirectional
//! transformer reading token ids (the vocabulary plus a mask id) and the row's masked fraction, giving
//! per-token logits; its masked-diffusion training objective on words of an exact [`TokenModel`]; and
//! [`LearnedTokens`], the network as a token model for the `factorized`, `confidence` and
//! `autoregressive` samplers, with the class posterior of the exact model it imitates.

use super::LearnedError;
use super::config::MaskedDiffusionConfig;
use super::params::{
    BuildError, Init, ParamBuilder, ParamStore, gelu, layer_norm, linear, repeat_middle,
    self_attention,
};
use super::train::{HELDOUT_NOISE_STREAM, Objective};
use crate::model::discrete::{DiscreteNoise, MASK, TokenModel, TokenSamples};
use crate::rng::{self, Domain, Stream};
use candle_core::{D, Device, Tensor, Var};
use candle_nn::Linear;
use rand::Rng;
use std::sync::Mutex;

/// Rows per forward pass when evaluating many states (as the DiT's sampling chunk: intermediate
/// buffers stay small enough to be reused by the allocator).
const EVAL_CHUNK: usize = 256;

/// Held-out words of the training report, and the tag of their data stream.
const HELDOUT_WORDS: usize = 1000;
const HELDOUT_DATA_TAG: u64 = 5 << 48;

struct Block {
    qkv: Linear,
    proj: Linear,
    fc1: Linear,
    fc2: Linear,
}

/// The network and its parameters.
pub struct MaskedDiffusion {
    config: MaskedDiffusionConfig,
    params: ParamStore,
    /// `[V + 1, w]`: one row per symbol and the last for the mask.
    embedding: Tensor,
    position: Tensor, // [L, w]
    /// `[1, w]`, times the row's masked fraction (the noise level a masked-diffusion model reads).
    masked_fraction: Tensor,
    blocks: Vec<Block>,
    out: Linear, // w → V
}

impl MaskedDiffusion {
    /// Builds the layers in a fixed order from `builder` (seeded or a file's tensors).
    pub(crate) fn build(
        config: MaskedDiffusionConfig,
        mut b: ParamBuilder<'_>,
    ) -> Result<Self, BuildError> {
        let w = config.width;
        let embedding = b.get("embedding", &[config.vocab + 1, w], Init::Normal(0.02))?;
        let position = b.get("position", &[config.seq_len, w], Init::Normal(0.02))?;
        let masked_fraction = b.get("masked_fraction", &[1, w], Init::Normal(0.02))?;
        let hidden = config.mlp_ratio * w;
        let mut blocks = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            blocks.push(Block {
                qkv: b.linear(&format!("blocks.{i}.qkv"), w, 3 * w, false)?,
                proj: b.linear(&format!("blocks.{i}.proj"), w, w, false)?,
                fc1: b.linear(&format!("blocks.{i}.fc1"), w, hidden, false)?,
                fc2: b.linear(&format!("blocks.{i}.fc2"), hidden, w, false)?,
            });
        }
        let out = b.linear("out", w, config.vocab, false)?;
        Ok(Self {
            config,
            params: b.finish()?,
            embedding,
            position,
            masked_fraction,
            blocks,
            out,
        })
    }

    pub fn config(&self) -> &MaskedDiffusionConfig {
        &self.config
    }

    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// Logits `[n, L, V]` for `n` rows of token ids `[n·L]` (the mask is id V).
    fn forward(&self, ids: &[u32], n: usize) -> candle_core::Result<Tensor> {
        let (l, w, mask_id) = (self.config.seq_len, self.config.width, self.config.vocab);
        let fractions: Vec<f32> = ids
            .chunks_exact(l)
            .map(|row| row.iter().filter(|&&v| v as usize == mask_id).count() as f32 / l as f32)
            .collect();
        let fractions = Tensor::from_vec(fractions, (n, 1), &Device::Cpu)?;
        let noise = fractions.matmul(&self.masked_fraction)?.unsqueeze(1)?; // [n, 1, w]
        let ids = Tensor::from_slice(ids, n * l, &Device::Cpu)?;
        let tokens = self.embedding.index_select(&ids, 0)?.reshape((n, l, w))?;
        let position = repeat_middle(&self.position.reshape((1, 1, l * w))?, n)?;
        let mut h = ((tokens + position.reshape((n, l, w))?)? + repeat_middle(&noise, l)?)?;
        for block in &self.blocks {
            let attention =
                self_attention(&block.qkv, &block.proj, self.config.heads, &layer_norm(&h)?)?;
            h = (&h + attention)?;
            let mlp = linear(&block.fc2, &gelu(&linear(&block.fc1, &layer_norm(&h)?)?)?)?;
            h = (&h + mlp)?;
        }
        linear(&self.out, &layer_norm(&h)?)
    }

    /// Token ids of `n` rows of `tokens` (`[n·L]`, [`MASK`] at masked sites).
    fn ids(&self, tokens: &[u8]) -> Vec<u32> {
        let mask_id = self.config.vocab as u32;
        tokens
            .iter()
            .map(|&v| if v == MASK { mask_id } else { u32::from(v) })
            .collect()
    }

    /// The model's p(x_0,i = v | x_t) `[n, L, V]` for `n` rows of `tokens` (`[n·L]`, [`MASK`] at masked
    /// sites): the softmax of the logits at masked sites, the revealed symbol at revealed ones (under
    /// absorbing noise a revealed site is its clean value). Every token must be a symbol below V or
    /// [`MASK`] (the caller's word: [`LearnedTokens`] checks the shapes once).
    pub fn marginals(&self, tokens: &[u8], n: usize) -> candle_core::Result<Vec<f32>> {
        let (l, v) = (self.config.seq_len, self.config.vocab);
        if tokens.len() != n * l || tokens.iter().any(|&t| t != MASK && t as usize >= v) {
            candle_core::bail!(
                "expected {n} rows of {l} tokens below {v} (or the mask), got {} values",
                tokens.len()
            );
        }
        let mut out = Vec::with_capacity(n * l * v);
        for first in (0..n).step_by(EVAL_CHUNK) {
            let rows = EVAL_CHUNK.min(n - first);
            let chunk = &tokens[first * l..(first + rows) * l];
            let logits = self.forward(&self.ids(chunk), rows)?;
            let probabilities = candle_nn::ops::softmax(&logits, D::Minus1)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            for (site, p) in chunk.iter().zip(probabilities.chunks_exact(v)) {
                if *site == MASK {
                    out.extend_from_slice(p);
                } else {
                    out.extend((0..v).map(|s| f32::from(u8::from(s == *site as usize))));
                }
            }
        }
        Ok(out)
    }
}

/// The masked-diffusion objective (Sahoo et al. 2024, MDLM; Shi et al. 2024) on words of an exact
/// token model: each row is masked at a fraction m of its sites and the loss is the cross-entropy of
/// the masked sites weighted by 1/(m L) — the continuous-time ELBO per site with α(t) = 1 − m drawn
/// uniformly (the weight −α′/(1 − α) dt is dm/m). Fresh words every step, so nothing is overfitted.
pub struct MaskedTraining<'a> {
    pub model: &'a MaskedDiffusion,
    pub data: &'a dyn TokenModel,
    pub seed: u64,
    pub batch: usize,
}

impl MaskedTraining<'_> {
    /// The weighted cross-entropy of `words` (`[n, L]`) masked with fractions and sites from `stream`.
    /// The n fractions are antithetic, (u + i/n) mod 1, which lowers the loss's variance.
    fn loss(&self, words: &[u8], mut stream: Stream) -> candle_core::Result<Tensor> {
        let (l, v) = (self.model.config.seq_len, self.model.config.vocab);
        let n = words.len() / l;
        let start: f64 = stream.random();
        let mut noisy = Vec::with_capacity(words.len());
        let mut weights = Vec::with_capacity(words.len());
        for (i, row) in words.chunks_exact(l).enumerate() {
            // In (0, 1]: a fraction of exactly 0 would weigh nothing and divide by zero.
            let fraction = 1.0 - (start + i as f64 / n as f64).fract();
            for &x in row {
                let masked = stream.random::<f64>() < fraction;
                noisy.push(if masked { MASK } else { x });
                weights.push(if masked {
                    (1.0 / (fraction * (l * n) as f64)) as f32
                } else {
                    0.0
                });
            }
        }
        let logits = self.model.forward(&self.model.ids(&noisy), n)?;
        let log_p = candle_nn::ops::log_softmax(&logits.reshape((n * l, v))?, D::Minus1)?;
        let targets: Vec<u32> = words.iter().map(|&x| u32::from(x)).collect();
        let targets = Tensor::from_vec(targets, (n * l, 1), &Device::Cpu)?;
        let picked = log_p.gather(&targets, 1)?.squeeze(1)?;
        let weights = Tensor::from_vec(weights, n * l, &Device::Cpu)?;
        (picked * weights)?.sum_all()?.neg()
    }
}

impl Objective for MaskedTraining<'_> {
    fn vars(&self) -> Vec<Var> {
        self.model.params.vars()
    }

    fn batch_loss(&self, step: u64) -> candle_core::Result<Tensor> {
        let mut stream = rng::stream(self.seed, Domain::Training, step);
        let words = self.data.sample_x0(self.batch, stream.random());
        self.loss(&words.tokens, stream)
    }

    fn heldout_loss(&self) -> candle_core::Result<Tensor> {
        let data_seed = rng::stream(self.seed, Domain::Training, HELDOUT_DATA_TAG).random();
        let words = self.data.sample_x0(HELDOUT_WORDS, data_seed);
        let stream = rng::stream(self.seed, Domain::Training, HELDOUT_NOISE_STREAM);
        self.loss(&words.tokens, stream)
    }
}

/// A learned masked-diffusion model as a [`TokenModel`] under mask noise: its per-site marginals are
/// the network's; the class posterior, the class labels and the data law (where runs start) are the
/// exact `reference` model's, so trajectories carry the exact p(k | x_t) of the states the network
/// visits. It has no joint law ([`TokenModel::joint_draws`] is false): the `exact` sampler refuses it.
pub struct LearnedTokens {
    network: MaskedDiffusion,
    reference: Box<dyn TokenModel>,
    /// The first evaluation failure, reported by [`TokenModel::failure`] (the trait's evaluations
    /// cannot return errors; the runs check this after they finish).
    failure: Mutex<Option<String>>,
}

impl LearnedTokens {
    /// Pairs a network with the exact model it imitates; their length and vocabulary must agree.
    pub fn new(
        network: MaskedDiffusion,
        reference: Box<dyn TokenModel>,
    ) -> Result<Self, LearnedError> {
        let c = network.config();
        if (c.seq_len, c.vocab) != (reference.length(), reference.vocab()) {
            return Err(LearnedError::Argument(format!(
                "the masked-diffusion model reads L = {} tokens of V = {} symbols, but its reference \
                 model has L = {}, V = {}",
                c.seq_len,
                c.vocab,
                reference.length(),
                reference.vocab()
            )));
        }
        Ok(Self {
            network,
            reference,
            failure: Mutex::new(None),
        })
    }

    pub fn network(&self) -> &MaskedDiffusion {
        &self.network
    }

    /// The exact model the network imitates.
    pub fn reference(&self) -> &dyn TokenModel {
        self.reference.as_ref()
    }

    /// The network's marginals `[L, V]` of one row into `out`; a failure is recorded (uniform then).
    fn network_marginals(&self, x_t: &[u8], out: &mut [f64]) {
        match self.network.marginals(x_t, 1) {
            Ok(p) => {
                for (o, p) in out.iter_mut().zip(p) {
                    *o = f64::from(p);
                }
            }
            Err(e) => {
                out.fill(1.0);
                let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                failure.get_or_insert_with(|| format!("masked-diffusion model: {e}"));
            }
        }
    }
}

impl TokenModel for LearnedTokens {
    fn length(&self) -> usize {
        self.reference.length()
    }

    fn vocab(&self) -> usize {
        self.reference.vocab()
    }

    fn class_labels(&self) -> &[String] {
        self.reference.class_labels()
    }

    fn weights(&self) -> &[f64] {
        self.reference.weights()
    }

    fn class_log_joint(&self, noise: DiscreteNoise, t: f64, x_t: &[u8], out: &mut [f64]) {
        self.reference.class_log_joint(noise, t, x_t, out);
    }

    fn class_of_unexplained(&self, noise: DiscreteNoise, x_0: &[u8]) -> Option<usize> {
        self.reference.class_of_unexplained(noise, x_0)
    }

    /// The network's marginals (it was trained under mask noise; the scene refuses flip) and the
    /// exact class posterior of the reference.
    fn posterior(
        &self,
        noise: DiscreteNoise,
        t: f64,
        x_t: &[u8],
        marginals: &mut [f64],
        classes: &mut [f64],
    ) {
        self.reference.posterior(noise, t, x_t, marginals, classes);
        self.network_marginals(x_t, marginals);
    }

    /// Not a joint draw (the network has none): each site from its own marginal, and the class of the
    /// result under the reference. Only reachable by calling it directly: runs refuse the `exact`
    /// sampler for a model without [`TokenModel::joint_draws`].
    fn sample_posterior(
        &self,
        noise: DiscreteNoise,
        _t: f64,
        x_t: &[u8],
        rng: &mut Stream,
        out: &mut [u8],
    ) -> usize {
        let vocab = self.vocab();
        let mut marginals = vec![0.0; self.length() * vocab];
        self.network_marginals(x_t, &mut marginals);
        for (o, row) in out.iter_mut().zip(marginals.chunks_exact(vocab)) {
            let u = rng.random::<f64>() * row.iter().sum::<f64>();
            *o = crate::model::math::pick_class(row, u) as u8;
        }
        let mut log_joint = vec![0.0; self.weights().len()];
        self.reference
            .class_log_joint(noise, 0.0, out, &mut log_joint);
        log_joint
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(k, _)| k)
    }

    fn sample_x0(&self, n: usize, seed: u64) -> TokenSamples {
        self.reference.sample_x0(n, seed)
    }

    fn explains(&self, noise: DiscreteNoise, t: f64, x_t: &[u8]) -> bool {
        self.reference.explains(noise, t, x_t)
    }

    fn joint_draws(&self) -> bool {
        false
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
