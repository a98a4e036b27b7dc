//! An image model's trajectories as pictures (issue #15: scenes whose `onnx` model has `shape`
//! `[C, H, W]`). The model's x̂_0 = D(x_t, t) of every stored state is kept beside the states
//! ([`ImageSteps`]), and the inspector's strip of one trajectory (x_t above x̂_0 at a few stored steps,
//! the thing an image researcher looks at first) is built here as one RGB picture ([`strip`]). Pure
//! data: the app only uploads the picture and labels it.

use super::ViewDataError;
use crate::analysis::control::Control;
use crate::analysis::speciation::SpeciationError;
use crate::diffusion::Trajectories;
use crate::model::Denoiser;

/// Pixels between two tiles of the strip, and their grey.
pub const GAP: usize = 1;
const GAP_GREY: u8 = 48;

/// The pictures behind an image scene's cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSteps {
    /// `[C, H, W]` of one state (the model's `shape`).
    pub shape: [usize; 3],
    /// `[N, S, d]`: x̂_0 of every stored state, in the order of the trajectories' states.
    pub denoised: Vec<f32>,
}

/// x̂_0 = D(x_t, t) of every stored state of `trajectories` (`[N, S, d]`), one batched call per stored
/// step; its progress runs from 0.8 to 0.85 of the job.
pub fn denoise_stored(
    trajectories: &Trajectories,
    dynamics: &dyn Denoiser,
    control: &mut Control,
) -> Result<Vec<f32>, ViewDataError> {
    let (n, s, d) = (trajectories.n, trajectories.stored_steps, trajectories.dim);
    let mut denoised = vec![0f32; n * s * d];
    let mut rows = vec![0f32; n * d];
    let mut clean = vec![0f32; n * d];
    for (j, &t) in trajectories.times.iter().enumerate() {
        control.step(
            0.8 + 0.05 * j as f64 / s as f64,
            "the estimate of x_0 at every stored step",
        )?;
        for (i, row) in rows.chunks_mut(d).enumerate() {
            row.copy_from_slice(trajectories.state(i, j).unwrap_or(&[]));
        }
        // The last stored time may be t_min = 0 for some grids; the model needs t > 0.
        dynamics
            .denoise(&rows, t.max(1e-9), &mut clean, None)
            .map_err(SpeciationError::from)?;
        for (i, row) in clean.chunks(d).enumerate() {
            let start = (i * s + j) * d;
            denoised[start..start + d].copy_from_slice(row);
        }
    }
    Ok(denoised)
}

/// One trajectory as a picture: x_t in the top row and x̂_0 below, one tile per shown step.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageStrip {
    /// Size of the whole picture in pixels.
    pub width: usize,
    pub height: usize,
    /// `[height, width, 3]` bytes.
    pub rgb: Vec<u8>,
    /// Size of one tile (W, H of the model's images).
    pub tile: [usize; 2],
    /// The stored steps shown, left to right (the first and the last always), and their OU times.
    pub steps: Vec<usize>,
    pub times: Vec<f64>,
}

/// The stored steps a strip of at most `columns` tiles shows: evenly spread over `0..stored`, the
/// first and the last included.
pub fn strip_steps(stored: usize, columns: usize) -> Vec<usize> {
    let columns = columns.min(stored);
    match columns {
        0 => Vec::new(),
        1 => vec![stored - 1],
        c => (0..c)
            .map(|k| ((k * (stored - 1)) as f64 / (c - 1) as f64).round() as usize)
            .collect(),
    }
}

/// The grey (or RGB for three channels) of a state value: the image convention [−1, 1] → 0 … 255,
/// clamped.
pub fn pixel(value: f32) -> u8 {
    ((f64::from(value) + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
}

/// Trajectory `i`'s strip of at most `columns` tiles; `None` when there is no trajectory `i`, no
/// stored step, or `images` does not match the trajectories.
pub fn strip(
    trajectories: &Trajectories,
    images: &ImageSteps,
    i: usize,
    columns: usize,
) -> Option<ImageStrip> {
    let [c, h, w] = images.shape;
    let (s, d) = (trajectories.stored_steps, trajectories.dim);
    if i >= trajectories.n || c * h * w != d || images.denoised.len() != trajectories.states.len() {
        return None;
    }
    let steps = strip_steps(s, columns);
    if steps.is_empty() {
        return None;
    }
    let width = steps.len() * w + (steps.len() - 1) * GAP;
    let height = 2 * h + GAP;
    let mut rgb = vec![GAP_GREY; width * height * 3];
    for (column, &j) in steps.iter().enumerate() {
        let start = (i * s + j) * d;
        let rows: [&[f32]; 2] = [
            trajectories.state(i, j)?,
            images.denoised.get(start..start + d)?,
        ];
        for (row, state) in rows.into_iter().enumerate() {
            let (x0, y0) = (column * (w + GAP), row * (h + GAP));
            for y in 0..h {
                for x in 0..w {
                    let channel = |k: usize| state[(k * h + y) * w + x];
                    let colour = if c == 3 {
                        [0, 1, 2].map(|k| pixel(channel(k)))
                    } else {
                        [pixel((0..c).map(channel).sum::<f32>() / c as f32); 3]
                    };
                    let at = ((y0 + y) * width + x0 + x) * 3;
                    rgb[at..at + 3].copy_from_slice(&colour);
                }
            }
        }
    }
    let times = steps
        .iter()
        .map(|&j| trajectories.times.get(j).copied().unwrap_or(f64::NAN))
        .collect();
    Some(ImageStrip {
        width,
        height,
        rgb,
        tile: [w, h],
        steps,
        times,
    })
}
