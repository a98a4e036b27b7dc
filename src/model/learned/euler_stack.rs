//! Euler-Stack (`docs/science/metrics.md` §3.2, our instantiation): a state advanced by explicit Euler steps
//! h ← h + η·F(h, token, stack top), coupled to a soft push/pop/no-op stack (or, as the §3.2 sanity
//! baseline, a hard stack driven by the bracket type), trained autoregressively with the floor
//! penalties; its sampler with hidden-state capture. Not a denoiser.

use super::LearnedError;
use super::config::{EulerStackConfig, StackKind};
use super::dyck;
use super::hidden::HiddenStates;
use super::params::{BuildError, Init, ParamBuilder, ParamStore};
use super::train::{DyckData, Objective};
use crate::rng::{self, Domain};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{Linear, Module};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};

/// The network and its parameters.
pub struct EulerStack {
    config: EulerStackConfig,
    params: ParamStore,
    embedding: Tensor, // [vocab + 1, embedding]; the last row is the begin token
    field_in: Linear,  // [h; e; top] → hidden
    field_out: Linear, // hidden → state
    action: Option<Linear>, // [h'; e] → (push, pop, no-op); none for the hard stack
    value: Linear,     // h' → slot
    output: Linear,    // [h'; top'] → vocab
}

/// The recurrent state of a batch: h `[n, d]`, stack `[n, K, s]` (row 0 = top), depth δ `[n, 1]`.
struct State {
    h: Tensor,
    stack: Tensor,
    depth: Tensor,
}

/// Generated strings and the state h' after every step.
pub struct EulerStackSamples {
    /// `[n, L]` tokens.
    pub tokens: Vec<u32>,
    pub hidden: HiddenStates,
}

impl EulerStack {
    pub(crate) fn build(
        config: EulerStackConfig,
        mut b: ParamBuilder<'_>,
    ) -> Result<Self, BuildError> {
        let c = &config;
        let embedding = b.get("embedding", &[c.vocab + 1, c.embedding], Init::Normal(1.0))?;
        let field_in = b.linear(
            "field.in",
            c.state + c.embedding + c.slot_width,
            c.hidden,
            false,
        )?;
        let field_out = b.linear("field.out", c.hidden, c.state, false)?;
        let action = match c.stack {
            StackKind::Soft => Some(b.linear("action", c.state + c.embedding, 3, false)?),
            StackKind::Hard => None,
        };
        let value = b.linear("value", c.state, c.slot_width, false)?;
        let output = b.linear("output", c.state + c.slot_width, c.vocab, false)?;
        Ok(Self {
            params: b.finish()?,
            config,
            embedding,
            field_in,
            field_out,
            action,
            value,
            output,
        })
    }

    pub fn config(&self) -> &EulerStackConfig {
        &self.config
    }

    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    fn initial_state(&self, n: usize) -> candle_core::Result<State> {
        let c = &self.config;
        let dev = Device::Cpu;
        Ok(State {
            h: Tensor::zeros((n, c.state), DType::F32, &dev)?,
            stack: Tensor::zeros((n, c.slots, c.slot_width), DType::F32, &dev)?,
            depth: Tensor::zeros((n, 1), DType::F32, &dev)?,
        })
    }

    /// One step on input tokens `[n]` (the begin token is `vocab`): the new state and the next-token
    /// logits `[n, vocab]`.
    fn step(&self, state: &State, tokens: &[u32]) -> candle_core::Result<(State, Tensor)> {
        let c = &self.config;
        let n = state.h.dim(0)?;
        let token_ids = Tensor::from_slice(tokens, n, &Device::Cpu)?;
        let e = self.embedding.index_select(&token_ids, 0)?; // [n, embedding]
        let top = state.stack.narrow(1, 0, 1)?.squeeze(1)?; // [n, s]
        let input = Tensor::cat(&[&state.h, &e, &top], 1)?;
        let field = self
            .field_out
            .forward(&self.field_in.forward(&input)?.gelu()?)?;
        let h = (&state.h + (field * c.eta)?)?; // explicit Euler step
        let action = match &self.action {
            Some(layer) => {
                candle_nn::ops::softmax(&layer.forward(&Tensor::cat(&[&h, &e], 1)?)?, D::Minus1)?
            }
            None => self.hard_actions(tokens)?,
        }; // [n, 3]
        let push = action.narrow(1, 0, 1)?; // [n, 1]
        let pop = action.narrow(1, 1, 1)?;
        let noop = action.narrow(1, 2, 1)?;
        let value = self.value.forward(&h)?.tanh()?.unsqueeze(1)?; // [n, 1, s]
        let below = state.stack.narrow(1, 0, c.slots - 1)?;
        let pushed = Tensor::cat(&[&value, &below], 1)?;
        let zero_row = Tensor::zeros((n, 1, c.slot_width), DType::F32, &Device::Cpu)?;
        let popped = Tensor::cat(&[&state.stack.narrow(1, 1, c.slots - 1)?, &zero_row], 1)?;
        let weight = |a: &Tensor| a.unsqueeze(2); // [n, 1, 1]
        let stack = (pushed.broadcast_mul(&weight(&push)?)?
            + popped.broadcast_mul(&weight(&pop)?)?
            + state.stack.broadcast_mul(&weight(&noop)?)?)?;
        let depth = ((&state.depth + push)? - pop)?;
        let new_top = stack.narrow(1, 0, 1)?.squeeze(1)?;
        let logits = self.output.forward(&Tensor::cat(&[&h, &new_top], 1)?)?;
        Ok((State { h, stack, depth }, logits))
    }

    /// One-hot (push, pop, no-op) `[n, 3]` from the bracket type of each token read.
    fn hard_actions(&self, tokens: &[u32]) -> candle_core::Result<Tensor> {
        let begin = self.config.vocab as u32;
        let mut onehot = vec![0f32; tokens.len() * 3];
        for (row, &tok) in onehot.chunks_exact_mut(3).zip(tokens) {
            let k = if tok >= begin {
                2
            } else if dyck::is_open(tok) {
                0
            } else {
                1
            };
            row[k] = 1.0;
        }
        Tensor::from_vec(onehot, (tokens.len(), 3), &Device::Cpu)
    }

    /// Loss of teacher-forced strings `[n, L]` (§3.2): CE(next token) + λ_floor·δ_T² +
    /// λ_neg·Σ_t relu(−δ_t)², batch means. The begin token is read first, and the last token is read too
    /// (its prediction unused) so that δ_T is the depth after the whole string.
    fn loss(&self, strings: &[u32]) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let len = c.seq_len;
        let n = strings.len() / len;
        let dev = Device::Cpu;
        let mut state = self.initial_state(n)?;
        let mut logits = Vec::with_capacity(len);
        let mut negative = Tensor::zeros((n, 1), DType::F32, &dev)?;
        for step in 0..=len {
            let input: Vec<u32> = if step == 0 {
                vec![c.vocab as u32; n]
            } else {
                strings.chunks_exact(len).map(|s| s[step - 1]).collect()
            };
            let (next, step_logits) = self.step(&state, &input)?;
            state = next;
            negative = (negative + state.depth.neg()?.relu()?.sqr()?)?;
            if step < len {
                logits.push(step_logits);
            }
        }
        let logits = Tensor::stack(&logits, 1)?.reshape((n * len, c.vocab))?; // [n·L, vocab]
        let targets = Tensor::from_vec(strings.to_vec(), n * len, &dev)?;
        let ce = candle_nn::loss::cross_entropy(&logits, &targets)?;
        let floor = state.depth.sqr()?.mean_all()?;
        let negative = negative.mean_all()?;
        ce + (floor * c.lambda_floor)? + (negative * c.lambda_negative)?
    }

    /// Samples `n` strings of the trained length token by token at temperature 1; sequence i draws
    /// from `rng::stream(seed, ReverseNoise, i)`. Captures h' after every step. Stops with
    /// `LearnedError::Cancelled` before the next token once `cancel` is set.
    pub fn sample(
        &self,
        n: usize,
        seed: u64,
        cancel: &AtomicBool,
    ) -> Result<EulerStackSamples, LearnedError> {
        let c = &self.config;
        let len = c.seq_len;
        let mut streams: Vec<rng::Stream> = (0..n)
            .map(|i| rng::stream(seed, Domain::ReverseNoise, i as u64))
            .collect();
        let mut tokens = vec![0u32; n * len];
        let mut states = vec![0f32; n * len * c.state];
        let mut run = |tokens: &mut [u32], states: &mut [f32]| -> Result<(), LearnedError> {
            let mut state = self.initial_state(n).map_err(LearnedError::compute)?;
            let mut input = vec![c.vocab as u32; n];
            for step in 0..len {
                if cancel.load(Ordering::Relaxed) {
                    return Err(LearnedError::Cancelled);
                }
                let (next, logits) = self.step(&state, &input).map_err(LearnedError::compute)?;
                state = next;
                let probs = candle_nn::ops::softmax_last_dim(&logits)
                    .and_then(|p| p.to_vec2::<f32>())
                    .map_err(LearnedError::compute)?;
                let h = state.h.to_vec2::<f32>().map_err(LearnedError::compute)?;
                for (i, (p, stream)) in probs.iter().zip(streams.iter_mut()).enumerate() {
                    let token = draw(p, stream.random::<f32>());
                    tokens[i * len + step] = token;
                    input[i] = token;
                    states[(i * len + step) * c.state..(i * len + step + 1) * c.state]
                        .copy_from_slice(&h[i]);
                }
            }
            Ok(())
        };
        run(&mut tokens, &mut states)?;
        Ok(EulerStackSamples {
            tokens,
            hidden: HiddenStates {
                layer: format!(
                    "Euler-Stack ({} stack), state h' after every step (d = {})",
                    match c.stack {
                        StackKind::Soft => "soft",
                        StackKind::Hard => "hard",
                    },
                    c.state
                ),
                sequences: n,
                steps: len,
                dim: c.state,
                states,
                times: (0..len).map(|k| k as f32).collect(),
                time_label: "step",
            },
        })
    }
}

/// The index whose cumulative probability first exceeds `u` (the last on rounding).
fn draw(probs: &[f32], u: f32) -> u32 {
    let mut acc = 0.0;
    for (k, &p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return k as u32;
        }
    }
    probs.len().saturating_sub(1) as u32
}

/// The Euler-Stack's next-token objective on Dyck-2.
pub struct EulerStackTraining<'a> {
    pub model: &'a EulerStack,
    pub data: DyckData,
    pub seed: u64,
    pub batch: usize,
}

impl Objective for EulerStackTraining<'_> {
    fn vars(&self) -> Vec<Var> {
        self.model.params.vars()
    }

    fn batch_loss(&self, step: u64) -> candle_core::Result<Tensor> {
        let mut stream = rng::stream(self.seed, Domain::Training, step);
        self.model.loss(&self.data.batch(&mut stream, self.batch))
    }

    fn heldout_loss(&self) -> candle_core::Result<Tensor> {
        self.model.loss(&self.data.heldout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hard_model() -> EulerStack {
        let config = EulerStackConfig {
            seq_len: 8,
            state: 8,
            hidden: 16,
            slots: 6,
            slot_width: 4,
            stack: StackKind::Hard,
            ..EulerStackConfig::default()
        };
        EulerStack::seeded(config, 3).unwrap()
    }

    /// With the hard stack every token moves the stack exactly: an opening bracket pushes tanh(W_v h')
    /// of that step, a closing one pops back to the state before its opening bracket, and the depth is
    /// the bracket height (exact in f32: sums of 0 and ±1).
    #[test]
    fn hard_stack_pushes_and_pops_by_bracket_type() {
        let model = hard_model();
        let c = model.config().clone();
        // ( [ ] [ ( ) ] )  as tokens 0 2 3 2 0 1 3 1
        let string = [0u32, 2, 3, 2, 0, 1, 3, 1];
        let mut state = model.initial_state(1).unwrap();
        let (next, _) = model.step(&state, &[c.vocab as u32]).unwrap();
        state = next;
        let mut stacks = vec![state.stack.flatten_all().unwrap().to_vec1::<f32>().unwrap()];
        let mut height = 0i32;
        for &tok in &string {
            let (next, _) = model.step(&state, &[tok]).unwrap();
            state = next;
            let stack = state.stack.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let top = &stack[..c.slot_width];
            if dyck::is_open(tok) {
                height += 1;
                let value = model
                    .value
                    .forward(&state.h)
                    .unwrap()
                    .tanh()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                assert_eq!(top, &value[..], "push writes this step's value");
                let previous = stacks.last().unwrap();
                assert_eq!(
                    &stack[c.slot_width..],
                    &previous[..previous.len() - c.slot_width]
                );
            } else {
                height -= 1;
                // Popping returns the stack to what it was before the matching opening bracket.
                assert_eq!(&stack, &stacks[stacks.len() - 2]);
                stacks.pop();
                stacks.pop();
            }
            stacks.push(stack);
            let depth = state.depth.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0];
            assert_eq!(depth, height as f32);
        }
        assert_eq!(height, 0);
    }

    /// The hard model has no action layer; its file therefore has one fewer pair of tensors.
    #[test]
    fn hard_stack_has_no_action_layer() {
        let hard = hard_model();
        let soft = EulerStack::seeded(
            EulerStackConfig {
                stack: StackKind::Soft,
                ..hard.config().clone()
            },
            3,
        )
        .unwrap();
        let a = &hard.config;
        assert_eq!(
            soft.params().count() - hard.params().count(),
            (a.state + a.embedding) * 3 + 3
        );
    }
}
