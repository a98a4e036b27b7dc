//! Where the cloning and U-turn experiments draw their data x_0 and its class: an exact model's
//! sampler, or, for a model without one (an `onnx` scene with a `labeller`), a bank of the model's own
//! final samples with the labeller's classes, drawn with replacement. Either is then pushed forward to
//! the experiment's start time with the same seeded noise.

use crate::diffusion::forward_noise_in_place;
use crate::model::{ExactModel, LabelledSamples};
use crate::rng::{Domain, stream};
use rand::Rng;

/// The data law of the experiments.
#[derive(Clone, Copy)]
pub enum DataSource<'a> {
    /// x_0 ~ P_0 of an exact model.
    Exact(&'a dyn ExactModel),
    /// Rows of a fixed labelled bank (`[m, d]`, m ≥ 1), uniformly with replacement.
    Bank(&'a LabelledSamples),
}

impl<'a, T: ExactModel> From<&'a T> for DataSource<'a> {
    fn from(model: &'a T) -> Self {
        DataSource::Exact(model)
    }
}

impl<'a> From<&'a dyn ExactModel> for DataSource<'a> {
    fn from(model: &'a dyn ExactModel) -> Self {
        DataSource::Exact(model)
    }
}

impl<'a> From<&'a LabelledSamples> for DataSource<'a> {
    fn from(bank: &'a LabelledSamples) -> Self {
        DataSource::Bank(bank)
    }
}

impl DataSource<'_> {
    /// `n` labelled data points for `seed` (row i of a bank from `stream(seed, DataSample, i)`).
    pub fn draw(&self, n: usize, seed: u64) -> LabelledSamples {
        match self {
            DataSource::Exact(model) => model.sample_x0(n, seed),
            DataSource::Bank(bank) => {
                let (d, m) = (bank.dim, bank.labels.len().max(1));
                let mut points = Vec::with_capacity(n * d);
                let mut labels = Vec::with_capacity(n);
                for i in 0..n {
                    let row = stream(seed, Domain::DataSample, i as u64).random_range(0..m);
                    points.extend_from_slice(&bank.points[row * d..(row + 1) * d]);
                    labels.push(bank.labels.get(row).copied().unwrap_or(0));
                }
                LabelledSamples {
                    points,
                    labels,
                    dim: d,
                }
            }
        }
    }

    /// `n` data points pushed forward to OU time t (the noise of row i keyed by (seed, i)).
    pub fn forward_noised(&self, n: usize, t: f64, seed: u64) -> LabelledSamples {
        let mut samples = self.draw(n, seed);
        forward_noise_in_place(&mut samples.points, samples.dim, t, seed);
        samples
    }
}
