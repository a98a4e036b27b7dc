//! Hidden states captured while a learned model generates: one state per sequence and step, with the
//! step's time as metadata, turned into the point clouds the geometry module and the manifold view
//! consume. No model code here.

use crate::base::point_cloud::{CloudError, PointCloud};

/// States `[sequences, steps, dim]` of one layer, in generation order.
#[derive(Clone, Debug, PartialEq)]
pub struct HiddenStates {
    /// Which model and layer, and how tokens were pooled, e.g. "tiny DiT, block 4 of 4, mean over 16 tokens".
    pub layer: String,
    pub sequences: usize,
    pub steps: usize,
    pub dim: usize,
    /// `[sequences, steps, dim]` row-major.
    pub states: Vec<f32>,
    /// `[steps]`: the time at which step k was taken (its meaning is `time_label`).
    pub times: Vec<f32>,
    pub time_label: &'static str,
}

impl HiddenStates {
    /// The first `sequences` sequences only (all if fewer exist).
    pub fn first_sequences(&self, sequences: usize) -> HiddenStates {
        let kept = sequences.min(self.sequences);
        HiddenStates {
            states: self.states[..kept * self.steps * self.dim].to_vec(),
            sequences: kept,
            times: self.times.clone(),
            layer: self.layer.clone(),
            ..*self
        }
    }

    /// The states of the steps whose time passes `keep`, as one cloud (sequence-major), labelled
    /// with the layer and `filter_label`.
    pub fn cloud(
        &self,
        keep: impl Fn(f32) -> bool,
        filter_label: &str,
    ) -> Result<PointCloud, CloudError> {
        let steps: Vec<usize> = (0..self.steps).filter(|&k| keep(self.times[k])).collect();
        let mut data = Vec::with_capacity(self.sequences * steps.len() * self.dim);
        for seq in self.states.chunks_exact(self.steps * self.dim) {
            for &k in &steps {
                data.extend(
                    seq[k * self.dim..(k + 1) * self.dim]
                        .iter()
                        .map(|&v| f64::from(v)),
                );
            }
        }
        PointCloud::new(
            self.sequences * steps.len(),
            self.dim,
            data,
            format!("{}; {filter_label}", self.layer),
        )
    }
}
