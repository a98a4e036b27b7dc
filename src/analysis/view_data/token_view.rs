//! What the app's token view draws (`docs/science/discrete.md` §4), computed without any UI from a
//! finished token run: the tokens of the first sequences at every stored step, their exact per-token
//! marginals p(x_0,i | x_t) and class posterior p(k | x_t) over time, and their token commitment steps.
//! The view (`app::token_view`) only paints this.

use rayon::prelude::*;

use super::ViewDataError;
use super::discrete_lab::sample_tokens;
use crate::analysis::control::Control;
use crate::analysis::speciation::token_commitment::token_commitment_steps;
use crate::diffusion::discrete::TokenTrajectories;
use crate::model::discrete::DiscreteNoise;
use crate::scene::{SceneTokenModel, TokenScene};

/// Sequences the view shows: one row each, so rows stay a few points tall in a window.
pub const MAX_ROWS: usize = 48;

/// The token view of one run: its first `rows` sequences, every stored step.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenViewData {
    /// Sequences shown (the run's first ones), at most [`MAX_ROWS`].
    pub rows: usize,
    /// Sequences in the run.
    pub total: usize,
    pub length: usize,
    pub noise: &'static str,
    /// Display names of the V symbols ("−1", "+1"; "(", ")", "[", "]" …).
    pub symbols: Vec<String>,
    pub class_labels: Vec<String>,
    /// `[S]`, decreasing to 0.
    pub times: Vec<f64>,
    /// `[R, S, L]`, [`crate::model::discrete::MASK`] where masked.
    pub tokens: Vec<u8>,
    /// `[R, S, K]`, p(k | x_t).
    pub posterior: Vec<f32>,
    /// `[R, S, L, V]`, p(x_0,i = v | x_t).
    pub marginals: Vec<f32>,
    /// `[R, L]`, the stored step from which each token keeps its final value.
    pub commitment: Vec<usize>,
}

impl TokenViewData {
    /// Stored steps S.
    pub fn steps(&self) -> usize {
        self.times.len()
    }

    pub fn vocab(&self) -> usize {
        self.symbols.len()
    }

    /// The token of sequence `row` at `step`, site `site`.
    pub fn token(&self, row: usize, step: usize, site: usize) -> u8 {
        self.tokens[(row * self.steps() + step) * self.length + site]
    }

    /// p(x_0,site = · | x_t) `[V]` of sequence `row` at `step`.
    pub fn marginal(&self, row: usize, step: usize, site: usize) -> &[f32] {
        let v = self.vocab();
        let start = ((row * self.steps() + step) * self.length + site) * v;
        &self.marginals[start..start + v]
    }

    /// p(k | x_t) `[K]` of sequence `row` at `step`.
    pub fn posterior(&self, row: usize, step: usize) -> &[f32] {
        let k = self.class_labels.len();
        let start = (row * self.steps() + step) * k;
        &self.posterior[start..start + k]
    }

    /// The commitment step of sequence `row`, site `site`.
    pub fn commitment(&self, row: usize, site: usize) -> usize {
        self.commitment[row * self.length + site]
    }
}

/// Display names of a model's symbols: spins −1, +1; Dyck brackets as opening / closing pairs.
fn symbols(model: &SceneTokenModel) -> Vec<String> {
    match model {
        SceneTokenModel::Ising(_) => vec!["−1".into(), "+1".into()],
        SceneTokenModel::Dyck(dyck) => (0..dyck.brackets())
            .flat_map(|b| match ["()", "[]", "{}", "<>"].get(b) {
                Some(pair) => pair.chars().map(String::from).collect::<Vec<_>>(),
                None => vec![format!("open {b}"), format!("close {b}")],
            })
            .collect(),
        // The network knows its vocabulary, not what the symbols mean.
        SceneTokenModel::Learned(_) => (0..model.model().vocab())
            .map(|v| format!("symbol {v}"))
            .collect(),
    }
}

/// The view data of `run` (sampled from `model` under `noise`): its first [`MAX_ROWS`] sequences with
/// the exact marginals and class posterior at every stored step (one posterior pass per row and step).
pub fn token_view_data(
    model: &SceneTokenModel,
    noise: DiscreteNoise,
    run: &TokenTrajectories,
) -> TokenViewData {
    let token_model = model.model();
    let rows = run.n.min(MAX_ROWS);
    let (s, l, v, k) = (
        run.stored_steps,
        run.length,
        token_model.vocab(),
        run.class_labels.len(),
    );
    let marginals: Vec<f32> = (0..rows)
        .into_par_iter()
        .flat_map_iter(|i| {
            let (mut site, mut classes) = (vec![0.0; l * v], vec![0.0; k]);
            let mut out = Vec::with_capacity(s * l * v);
            for j in 0..s {
                let state = run.state(i, j).unwrap_or_default();
                token_model.posterior(noise, run.times[j], state, &mut site, &mut classes);
                out.extend(site.iter().map(|&p| p as f32));
            }
            out
        })
        .collect();
    let commitment = token_commitment_steps(run);
    TokenViewData {
        rows,
        total: run.n,
        length: l,
        noise: noise.name(),
        symbols: symbols(model),
        class_labels: run.class_labels.clone(),
        times: run.times.clone(),
        tokens: run.tokens[..rows * s * l].to_vec(),
        posterior: run.posterior[..rows * s * k].to_vec(),
        marginals,
        commitment: commitment[..rows * l].to_vec(),
    }
}

/// The token view of a scene: its run (the steps its `store` keeps) and the view data of its first
/// sequences; the job the app runs for a token scene.
pub fn scene_token_view(
    scene: &TokenScene,
    control: &mut Control,
) -> Result<TokenViewData, ViewDataError> {
    let cancel = control.cancel_flag();
    control.set_span(0.0, 0.9);
    let run = sample_tokens(
        scene,
        &mut |fraction, stage| control.report(f64::from(fraction), stage),
        cancel,
    )?;
    control.set_span(0.9, 1.0);
    control.step(0.0, "token marginals")?;
    let data = token_view_data(&scene.build_model()?, scene.noise, &run);
    control.set_span(0.0, 1.0);
    control.step(1.0, "token marginals")?;
    Ok(data)
}
