//! Benchmarks of discrete diffusion (`docs/science/discrete.md`): exact masked sampling of Ising chains
//! (target 1.7 of `docs/science/performance.md`, reported per site and step so that it can be read
//! against "a few ns") and the Dyck model's inside–outside marginals, the O(L³) cost behind every
//! Dyck posterior.

use super::{Bench, Figure, RUNS, best_of};
use crate::diffusion::discrete::{DiscreteSampler, TokenSpec, run_token_trajectories};
use crate::diffusion::{GridSpacing, StoreSteps};
use crate::model::discrete::dyck::{DyckClasses, DyckModel};
use crate::model::discrete::ising_chain::{IsingChainClass, IsingChainTokens};
use crate::model::discrete::{DiscreteNoise, MASK, TokenModel};
use crate::model::ising::Boundary;
use crate::rng::{Domain, stream};
use rayon::prelude::*;
use std::sync::atomic::AtomicBool;

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "discrete_mask_ising",
            run: discrete_mask_ising,
        },
        Bench {
            name: "dyck_marginals",
            run: dyck_marginals,
        },
    ]
}

/// The M2/F2 chains of `discrete.md` §6 (K = 0.3 vs 0.8, h = 0, open) at L = 1024, 10,000 rows,
/// 256 log-spaced steps from t_max = 8 to t_min = 0.001 plus the final step to t = 0, final states
/// only. One run, not the best of [`RUNS`]: its 2.6 billion site steps are long enough to be steady.
fn discrete_mask_ising() -> anyhow::Result<Figure> {
    let (length, rows, steps) = (1024, 10_000, 256);
    let class = |coupling: f64| IsingChainClass {
        weight: 0.5,
        coupling,
        field: 0.0,
        label: String::new(),
    };
    let model = IsingChainTokens::new(length, Boundary::Open, vec![class(0.3), class(0.8)])?;
    let spec = TokenSpec {
        noise: DiscreteNoise::Mask,
        sampler: DiscreteSampler::Exact,
        steps,
        t_max: 8.0,
        t_min: 1e-3,
        grid: GridSpacing::Log,
        trajectories: rows,
        seed: 1,
        store: StoreSteps::Final,
    };
    let start = std::time::Instant::now();
    let run = run_token_trajectories(&model, &spec, &mut |_, _| {}, &AtomicBool::new(false))?;
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        run.tokens.iter().all(|&v| v < 2),
        "a final word still holds a mask or a foreign token"
    );
    // Grid steps plus the last one to t = 0.
    let site_steps = (rows * length * (steps + 1)) as f64;
    Ok(Figure {
        name: "discrete_mask_ising",
        inputs: format!(
            "exact sampler, mask, open chains K 0.3/0.8, {rows} seq x L = {length} x {} steps \
             (log grid 8..0.001, then 0), final states, {} threads, one run: {:.1} ns per site per step",
            steps + 1,
            rayon::current_num_threads(),
            seconds * 1e9 / site_steps
        ),
        seconds,
        target_seconds: None,
    })
}

/// Dyck-2 words of L = 64 (first-bracket classes), 1,000 data words masked at t = 0.7 (about half the
/// sites masked), then the per-token marginals and class posterior of each: inside and outside
/// weights, O(L³) per word.
fn dyck_marginals() -> anyhow::Result<Figure> {
    let (length, rows, t) = (64, 1_000, 0.7);
    let model = DyckModel::new(length, 2, DyckClasses::FirstBracket)?;
    let vocab = model.vocab();
    let clean = model.sample_x0(rows, 3);
    let observed: Vec<u8> = clean
        .tokens
        .chunks_exact(length)
        .enumerate()
        .flat_map(|(i, x0)| {
            let mut x = vec![MASK; length];
            let mut rng = stream(3, Domain::ForwardNoise, i as u64);
            DiscreteNoise::Mask.corrupt(x0, vocab, t, &mut rng, &mut x);
            x
        })
        .collect();
    let masked = observed.iter().filter(|&&v| v == MASK).count();
    let (timing, sums) = best_of(|| {
        Ok(observed
            .par_chunks(length)
            .map(|x| {
                let (mut marginals, mut classes) = (vec![0.0; length * vocab], vec![0.0; 2]);
                model.posterior(DiscreteNoise::Mask, t, x, &mut marginals, &mut classes);
                marginals.iter().sum::<f64>()
            })
            .collect::<Vec<f64>>())
    })?;
    // Every row of marginals sums to 1, so each word's total is L.
    anyhow::ensure!(
        sums.iter().all(|s| (s - length as f64).abs() < 1e-6),
        "marginals that do not sum to one per site"
    );
    Ok(Figure {
        name: "dyck_marginals",
        inputs: format!(
            "inside-outside marginals, Dyck B = 2, L = {length}, {rows} words masked at t = {t} \
             ({:.0} % of sites), {} threads, best of {RUNS}{}: {:.0} µs per word",
            100.0 * masked as f64 / observed.len() as f64,
            rayon::current_num_threads(),
            timing.cpu_note(),
            timing.wall * 1e6 / rows as f64
        ),
        seconds: timing.wall,
        target_seconds: None,
    })
}
