//! Benchmarks of the learned models: training throughput (100 steps of the shipped recipe, batch 64,
//! judged against the per-step share of a 5-minute budget for 1500 steps), `compare` on the shipped
//! weights, DiT sampling.

use super::{Bench, Figure};
use crate::analysis::compare::{CompareOptions, compare};
use crate::cli::compare::{SHIPPED_DIT, SHIPPED_EULER_STACK, shipped};
use crate::model::learned::config::{DitConfig, EulerStackConfig};
use crate::model::learned::dit::{Dit, DitTraining};
use crate::model::learned::euler_stack::{EulerStack, EulerStackTraining};
use crate::model::learned::train::{DyckData, Objective, TrainOptions, train};
use crate::model::learned::{LearnedModel, load};
use anyhow::bail;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const BENCH_STEPS: usize = 100;
const BATCH: usize = 64;
/// 5 minutes for the 1500 steps of the shipped DiT, pro rata.
const TRAIN_TARGET_SECONDS: f64 = 300.0 * BENCH_STEPS as f64 / 1500.0;

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

fn time_training(objective: &dyn Objective) -> anyhow::Result<f64> {
    let options = TrainOptions {
        steps: BENCH_STEPS,
        ..TrainOptions::default()
    };
    let start = Instant::now();
    train(objective, &options, &mut |_| {}, &AtomicBool::new(false))?;
    Ok(start.elapsed().as_secs_f64())
}

fn train_dit() -> anyhow::Result<Figure> {
    let dit = Dit::seeded(DitConfig::default(), 0)?;
    let data = DyckData::new(dit.config().seq_len, 0);
    let seconds = time_training(&DitTraining {
        model: &dit,
        data,
        seed: 0,
        batch: BATCH,
    })?;
    Ok(Figure {
        name: "learned_train_dit",
        inputs: format!(
            "{BENCH_STEPS} steps x batch {BATCH}, {} params",
            dit.params().count()
        ),
        seconds,
        target_seconds: Some(TRAIN_TARGET_SECONDS),
    })
}

fn train_euler_stack() -> anyhow::Result<Figure> {
    let es = EulerStack::seeded(EulerStackConfig::default(), 0)?;
    let data = DyckData::new(es.config().seq_len, 0);
    let seconds = time_training(&EulerStackTraining {
        model: &es,
        data,
        seed: 0,
        batch: BATCH,
    })?;
    Ok(Figure {
        name: "learned_train_euler_stack",
        inputs: format!(
            "{BENCH_STEPS} steps x batch {BATCH}, {} params",
            es.params().count()
        ),
        seconds,
        target_seconds: Some(TRAIN_TARGET_SECONDS),
    })
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
    compare(&dit, &es, &CompareOptions::default())?;
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
    dit.sample(100, 20, 0, Some(dit.config().blocks - 1))?;
    Ok(Figure {
        name: "learned_dit_sample",
        inputs: "100 trajectories x 20 steps, hidden states captured".into(),
        seconds: start.elapsed().as_secs_f64(),
        target_seconds: None,
    })
}
