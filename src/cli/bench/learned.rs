//! Benchmarks of the learned models: training throughput (100 steps of each shipped recipe, judged
//! against their share of a 5-minute budget for the whole recipe), `compare` on the shipped weights,
//! DiT sampling.

use super::{Bench, Figure};
use crate::alloc_policy::keep_freed_buffers;
use crate::analysis::compare::{CompareOptions, compare};
use crate::assets::{SHIPPED_DIT, SHIPPED_EULER_STACK, shipped};
use crate::model::learned::config::EulerStackConfig;
use crate::model::learned::dit::{Dit, DitTraining, TimeSampling, shipped_config};
use crate::model::learned::euler_stack::{EulerStack, EulerStackTraining};
use crate::model::learned::train::{DyckData, Objective, Recipe, TrainOptions, train};
use crate::model::learned::{LearnedModel, load};
use anyhow::bail;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const BENCH_STEPS: usize = 100;
/// Full training runs are budgeted at 5 minutes each; a 100-step run gets its pro-rata share.
const TRAIN_BUDGET_SECONDS: f64 = 300.0;

pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "learned_train_dit",
            run: train_dit,
        },
        Bench {
            name: "learned_train_euler_stack",
            run: train_euler_stack,
        },
        Bench {
            name: "learned_compare_shipped",
            run: compare_shipped,
        },
        Bench {
            name: "learned_dit_sample",
            run: dit_sample,
        },
    ]
}

/// Times `BENCH_STEPS` steps of `recipe`, judged against its share of the 5-minute budget.
fn time_training(
    name: &'static str,
    objective: &dyn Objective,
    recipe: &Recipe,
    parameters: usize,
) -> anyhow::Result<Figure> {
    let options = TrainOptions {
        steps: BENCH_STEPS,
        ..recipe.options.clone()
    };
    // As `diffscope train` does, for this benchmark only.
    let _policy = keep_freed_buffers();
    let start = Instant::now();
    train(objective, &options, &mut |_| {}, &AtomicBool::new(false))?;
    Ok(Figure {
        name,
        inputs: format!(
            "{BENCH_STEPS} of {} recipe steps x batch {}, {parameters} params",
            recipe.options.steps, recipe.batch
        ),
        seconds: start.elapsed().as_secs_f64(),
        target_seconds: Some(
            TRAIN_BUDGET_SECONDS * BENCH_STEPS as f64 / recipe.options.steps as f64,
        ),
    })
}

fn train_dit() -> anyhow::Result<Figure> {
    let recipe = Recipe::dit();
    let dit = Dit::seeded(shipped_config(), 0)?;
    let objective = DitTraining {
        model: &dit,
        data: DyckData::new(dit.config().seq_len, 0),
        seed: 0,
        batch: recipe.batch,
        time_sampling: TimeSampling::LOGIT_NORMAL,
    };
    time_training(
        "learned_train_dit",
        &objective,
        &recipe,
        dit.params().count(),
    )
}

fn train_euler_stack() -> anyhow::Result<Figure> {
    let recipe = Recipe::euler_stack();
    let es = EulerStack::seeded(EulerStackConfig::default(), 0)?;
    let objective = EulerStackTraining {
        model: &es,
        data: DyckData::new(es.config().seq_len, 0),
        seed: 0,
        batch: recipe.batch,
    };
    time_training(
        "learned_train_euler_stack",
        &objective,
        &recipe,
        es.params().count(),
    )
}

fn shipped_models() -> anyhow::Result<(Dit, EulerStack)> {
    let (LearnedModel::Dit(dit), LearnedModel::EulerStack(es)) = (
        load(&shipped(SHIPPED_DIT))?,
        load(&shipped(SHIPPED_EULER_STACK))?,
    ) else {
        bail!("shipped model files hold the wrong model kinds");
    };
    Ok((dit, es))
}

fn compare_shipped() -> anyhow::Result<Figure> {
    let start = Instant::now();
    let (dit, es) = shipped_models()?;
    compare(
        &dit,
        &es,
        None,
        &CompareOptions::default(),
        &mut |_, _| {},
        &AtomicBool::new(false),
    )?;
    Ok(Figure {
        name: "learned_compare_shipped",
        inputs: "load + 1000 samples each + metrics of 2 x N=2000".into(),
        seconds: start.elapsed().as_secs_f64(),
        target_seconds: Some(30.0),
    })
}

fn dit_sample() -> anyhow::Result<Figure> {
    let (dit, _) = shipped_models()?;
    let start = Instant::now();
    dit.sample(
        100,
        20,
        0,
        Some(dit.config().blocks - 1),
        &AtomicBool::new(false),
    )?;
    Ok(Figure {
        name: "learned_dit_sample",
        inputs: "100 trajectories x 20 steps, hidden states captured".into(),
        seconds: start.elapsed().as_secs_f64(),
        target_seconds: None,
    })
}
