//! The U-turn experiment (`docs/science/speciation.md` §3.1 item 6): class-labelled data points noised to each
//! clone time, denoised back to t_min and relabelled; P(keep group) per clone time and hierarchy level.
//! For an exact score and sampled labels it equals φ_post(t). Reuses the cloning reverse pass.

use super::cloning::{ReverseSettings, event_grid, push_rows, reverse_pass, same_group};
use super::data_source::DataSource;
use super::hierarchy::Level;
use super::labeller::{Labeller, labels};
use super::{Control, SpeciationError};
use crate::diffusion::{Batch, Sampler, StepKind};
use crate::model::Denoiser;

/// Mixed into the seed of the U-turn reverse noise ("uturn" in ASCII).
const UTURN_NOISE_TAG: u64 = 0x7574_7572_6e00_0000;

/// Original classes and end labels of every U-turn row.
#[derive(Clone, Debug)]
pub struct UTurnRun {
    pub clone_times: Vec<f64>,
    pub points: usize,
    /// `[C, N]` data classes of the points noised to each clone time.
    pub start_classes: Vec<u32>,
    /// `[C, N]` labels after denoising back to t_min.
    pub end_labels: Vec<u32>,
}

impl UTurnRun {
    /// `[C, N]` indicators that a point kept its group at `level`.
    pub fn matches(&self, level: &Level) -> Vec<bool> {
        same_group(level, &self.start_classes, &self.end_labels)
    }
}

/// Runs the U-turn experiment: the points of clone time t_c (from `data`, seed offset c) join the
/// reverse pass when it reaches t_c, so all clone times share one batch and one sweep.
pub fn run_uturn<'a>(
    model: &dyn Denoiser,
    data: impl Into<DataSource<'a>>,
    labeller: &dyn Labeller,
    settings: &ReverseSettings,
    control: &mut Control,
) -> Result<UTurnRun, SpeciationError> {
    settings.validate(f64::INFINITY)?;
    let (n, d, k) = (settings.pairs, model.dim(), labeller.classes());
    let start = settings
        .clone_times
        .last()
        .copied()
        .unwrap_or(settings.t_min);
    let data = data.into();
    let grid = event_grid(start, settings.t_min, settings.step, &settings.clone_times);
    // Its own reverse-noise key, so U-turn rows never share a stream with the cloning run's rows.
    let mut batch = Batch::new(d, settings.seed ^ UTURN_NOISE_TAG)?;
    let sampler = Sampler::new(model, StepKind::Ancestral).guided(settings.guidance);
    let count = settings.clone_times.len();
    let mut start_classes = vec![0u32; count * n];
    // Row block of each clone time, in order of entry.
    let mut block = vec![0usize; count];
    let mut entered = 0;
    reverse_pass(
        &sampler,
        &mut batch,
        &grid,
        control,
        "U-turn",
        |batch, j| {
            if let Some(c) = grid[j].event {
                let seed = settings.seed.wrapping_add(c as u64 + 1);
                let points = data.forward_noised(n, grid[j].t, seed);
                start_classes[c * n..(c + 1) * n].copy_from_slice(&points.labels);
                let ids: Vec<u64> = (0..n as u64).map(|i| c as u64 * n as u64 + i).collect();
                push_rows(batch, &points, &ids, settings)?;
                block[c] = entered;
                entered += 1;
            }
            Ok(())
        },
    )?;
    let mut posterior = vec![0.0; batch.len() * k];
    labeller.posterior(batch.states(), settings.t_min, &mut posterior)?;
    let all = labels(
        &posterior,
        k,
        settings.labels,
        batch.seed(),
        batch.row_ids(),
    );
    let end_labels = block
        .iter()
        .flat_map(|&b| all[b * n..(b + 1) * n].iter().copied())
        .collect();
    Ok(UTurnRun {
        clone_times: settings.clone_times.clone(),
        points: n,
        start_classes,
        end_labels,
    })
}
