//! Recorded trajectory files (issue #15): `[N, S, d]` states from a `.npy` array, or from a
//! `.safetensors` file with the keys `diffscope sample` writes — `trajectories` `[N, S, d]`, optional
//! `times` `[S]` (OU time), `labels` or `initial_labels` `[N]` and `posterior` `[N, S, K]`. Shapes are
//! checked against each other, values for being finite and in range, and the whole recording against the
//! memory guard before it is widened; every error names the file and the key.

use super::points::{self, StepSelection};
use super::tensors::{LoadedTensor, Numbers, TensorFile};
use super::{IoError, memory, npy};
use crate::base::point_cloud::PointCloud;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The tensor keys of a recording file.
pub const TRAJECTORIES_KEY: &str = "trajectories";
pub const TIMES_KEY: &str = "times";
pub const POSTERIOR_KEY: &str = "posterior";
/// The class of each trajectory.
pub const LABELS_KEY: &str = "labels";
/// The class of the data point each trajectory started from, as `diffscope sample` writes it.
pub const INITIAL_LABELS_KEY: &str = "initial_labels";

/// Labels above this are refused: a class index, not an arbitrary number.
const MAX_CLASSES: usize = 1 << 16;

/// Why a recording could not be read. Each names the file (last) and, where one is to blame, the key.
#[derive(Debug, Error)]
pub enum RecordingError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("'{key}' has shape {shape:?}: expected {expected}: {path}")]
    Shape {
        path: PathBuf,
        key: String,
        shape: Vec<usize>,
        expected: String,
    },
    #[error("'{key}' holds {value} at index {index:?}, not a finite float32 number: {path}")]
    NotFinite {
        path: PathBuf,
        key: String,
        value: f64,
        index: Vec<usize>,
    },
    #[error("'{key}' {problem}: {path}")]
    Value {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// A recording: `n` trajectories of `steps` states in `dim` dimensions, with what the file adds.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub path: PathBuf,
    pub n: usize,
    pub steps: usize,
    pub dim: usize,
    /// `[N, S, d]`.
    pub states: Vec<f32>,
    /// `[S]` OU times, decreasing, when the file has them.
    pub times: Option<Vec<f64>>,
    /// `[N]` class indices, when the file has labels.
    pub labels: Option<Labels>,
    /// `[N, S, K]` p(k | x_t), when the file has a posterior.
    pub posterior: Option<Vec<f32>>,
    /// `[K]` class names (the file's `class_labels` metadata, else "class k"); empty without labels
    /// or posterior.
    pub class_labels: Vec<String>,
}

impl Recording {
    /// "N trajectories × S steps × d dims, labels yes, posterior no, times yes" (labels "yes
    /// (initial)" for `initial_labels`).
    pub fn holds(&self) -> String {
        let yes_no = |present: bool| if present { "yes" } else { "no" };
        let labels = match &self.labels {
            Some(l) if l.meaning == LabelMeaning::Initial => "yes (initial)",
            Some(_) => "yes",
            None => "no",
        };
        format!(
            "{} trajectories × {} steps × {} dims, labels {labels}, posterior {}, times {}",
            self.n,
            self.steps,
            self.dim,
            yes_no(self.posterior.is_some()),
            yes_no(self.times.is_some())
        )
    }
}

/// Class indices `[N]` and what they mean.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    pub meaning: LabelMeaning,
    pub classes: Vec<u32>,
}

/// What a file's labels say about each trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelMeaning {
    /// `labels`: the class the trajectory belongs to (its colour and committed class).
    Class,
    /// `initial_labels`: the class of the data point it started from under exact initialisation; the
    /// class it ends in may differ (the posterior's final argmax says which, where given).
    Initial,
}

/// What a data file holds: recorded trajectories, or one point cloud.
#[derive(Debug)]
pub enum DataFile {
    Recording(Recording),
    Points(PointCloud),
}

/// Reads a data file for the views: a rank-3 `.npy` array or a `.safetensors` file with a
/// `trajectories` tensor is a [`Recording`]; a `[N, d]` `.npy`, a `.safetensors` file of one other
/// tensor, or a `.csv` table is a point cloud (its last step, as `load_points` reads it).
pub fn load_data(path: &Path) -> Result<DataFile, RecordingError> {
    match extension(path).as_str() {
        "npy" => {
            let array = npy::read_f64(path)?;
            if array.shape.len() == 3 {
                return Ok(DataFile::Recording(from_npy(path, array)?));
            }
            let cloud =
                points::from_array(path, "", &array.shape, array.data, StepSelection::Last)?;
            Ok(DataFile::Points(cloud))
        }
        "safetensors" => {
            let file = TensorFile::open(path)?;
            // One tensor that is not `trajectories` is a point cloud; anything else must hold them.
            match file.names()?.as_slice() {
                [only] if only != TRAJECTORIES_KEY => {
                    let tensor = file.tensor(only, Numbers::Floats)?.ok_or_else(|| {
                        IoError::format(path, format!("no tensor named '{only}'"))
                    })?;
                    let label = format!(":{only}");
                    let cloud = points::from_array(
                        path,
                        &label,
                        &tensor.shape,
                        tensor.data,
                        StepSelection::Last,
                    )?;
                    Ok(DataFile::Points(cloud))
                }
                _ => Ok(DataFile::Recording(from_tensor_file(path, &file)?)),
            }
        }
        _ => Ok(DataFile::Points(points::load_points(
            path,
            StepSelection::Last,
            None,
        )?)),
    }
}

/// Reads a recording: a `.npy` `[N, S, d]` array (states only) or a `.safetensors` file with a
/// `trajectories` tensor and the optional keys.
pub fn load_recording(path: &Path) -> Result<Recording, RecordingError> {
    match extension(path).as_str() {
        "npy" => from_npy(path, npy::read_f64(path)?),
        "safetensors" => from_tensor_file(path, &TensorFile::open(path)?),
        other => Err(IoError::Extension {
            path: path.to_path_buf(),
            extension: other.to_string(),
            expected: ".npy or .safetensors",
        }
        .into()),
    }
}

/// A `.npy` array as the states of a recording (nothing else: the format holds one array).
fn from_npy(path: &Path, array: npy::NpyArray) -> Result<Recording, RecordingError> {
    let states = LoadedTensor {
        name: TRAJECTORIES_KEY.into(),
        shape: array.shape,
        data: array.data,
    };
    build(path, states, None, None, None, Vec::new())
}

fn from_tensor_file(path: &Path, file: &TensorFile) -> Result<Recording, RecordingError> {
    let states = file
        .tensor(TRAJECTORIES_KEY, Numbers::Floats)?
        .ok_or_else(|| {
            let names = file.names().unwrap_or_default().join(", ");
            IoError::format(
                path,
                format!("no tensor named '{TRAJECTORIES_KEY}' [N, S, d] (tensors: {names})"),
            )
        })?;
    let times = file.tensor(TIMES_KEY, Numbers::Floats)?;
    let posterior = file.tensor(POSTERIOR_KEY, Numbers::Floats)?;
    let labels = match file.tensor(LABELS_KEY, Numbers::FloatsOrIntegers)? {
        Some(found) => Some((LabelMeaning::Class, found)),
        None => file
            .tensor(INITIAL_LABELS_KEY, Numbers::FloatsOrIntegers)?
            .map(|found| (LabelMeaning::Initial, found)),
    };
    let metadata = file.metadata()?;
    let times = precise_times(&metadata, times);
    build(
        path,
        states,
        times,
        labels,
        posterior,
        class_names(&metadata),
    )
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The `class_labels` metadata (a JSON list of names) `diffscope sample` writes, else none.
fn class_names(metadata: &std::collections::HashMap<String, String>) -> Vec<String> {
    metadata
        .get("class_labels")
        .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
        .unwrap_or_default()
}

/// The full-precision `times` metadata `diffscope sample` writes beside the float32 tensor, when it
/// agrees with the tensor; else the tensor.
fn precise_times(
    metadata: &std::collections::HashMap<String, String>,
    tensor: Option<LoadedTensor>,
) -> Option<LoadedTensor> {
    let tensor = tensor?;
    let precise = metadata
        .get(TIMES_KEY)
        .and_then(|text| serde_json::from_str::<Vec<f64>>(text).ok())
        .filter(|p| {
            p.len() == tensor.data.len()
                && p.iter()
                    .zip(&tensor.data)
                    .all(|(a, b)| (*a as f32) == (*b as f32))
        });
    Some(match precise {
        Some(data) => LoadedTensor { data, ..tensor },
        None => tensor,
    })
}

/// Checks the tensors against each other and builds the recording.
fn build(
    path: &Path,
    states: LoadedTensor,
    times: Option<LoadedTensor>,
    labels: Option<(LabelMeaning, LoadedTensor)>,
    posterior: Option<LoadedTensor>,
    names: Vec<String>,
) -> Result<Recording, RecordingError> {
    let shape_error = |t: &LoadedTensor, expected: String| RecordingError::Shape {
        path: path.to_path_buf(),
        key: t.name.clone(),
        shape: t.shape.clone(),
        expected,
    };
    let value_error = |key: &str, problem: String| RecordingError::Value {
        path: path.to_path_buf(),
        key: key.to_string(),
        problem,
    };
    let &[n, steps, dim] = states.shape.as_slice() else {
        return Err(shape_error(
            &states,
            "[N, S, d] (trajectories, steps, dims)".into(),
        ));
    };
    if n == 0 || steps == 0 || dim == 0 {
        return Err(shape_error(
            &states,
            "no zero extent: [N, S, d] with N, S, d ≥ 1".into(),
        ));
    }
    // The states in f32, the posterior, and the views' two projections [S, N, 3] (per step, pooled).
    let classes = posterior.as_ref().map_or(0, |p| p.data.len() / (n * steps));
    let values = (n * steps) as u64 * (dim + classes) as u64;
    memory::check(path, values * 4 + (n * steps) as u64 * 24, values)?;
    check_finite(path, &states)?;

    let times = match times {
        None => None,
        Some(t) => {
            if t.shape != [steps] {
                return Err(shape_error(
                    &t,
                    format!("[S] = [{steps}] (S from 'trajectories')"),
                ));
            }
            check_finite(path, &t)?;
            if let Some(j) = t.data.iter().position(|&v| v <= 0.0) {
                return Err(value_error(
                    &t.name,
                    format!(
                        "must be positive OU times, but step {j} has t = {}",
                        t.data[j]
                    ),
                ));
            }
            if let Some(j) = t.data.windows(2).position(|w| w[1] >= w[0]) {
                return Err(value_error(
                    &t.name,
                    format!(
                        "must decrease step to step (noise to data), but t = {} at step {j} is \
                         followed by t = {}",
                        t.data[j],
                        t.data[j + 1]
                    ),
                ));
            }
            Some(t.data)
        }
    };

    let posterior = match posterior {
        None => None,
        Some(p) => {
            let k = match p.shape.as_slice() {
                &[pn, ps, k] if pn == n && ps == steps && k > 0 => k,
                _ => {
                    return Err(shape_error(
                        &p,
                        format!("[N, S, K] = [{n}, {steps}, K] (N, S from 'trajectories')"),
                    ));
                }
            };
            check_finite(path, &p)?;
            if let Some(v) = p.data.iter().find(|v| !(0.0..=1.0 + 1e-4).contains(*v)) {
                return Err(value_error(
                    &p.name,
                    format!("holds {v}, not a probability in [0, 1]"),
                ));
            }
            Some((k, p.data.iter().map(|&v| v as f32).collect::<Vec<f32>>()))
        }
    };

    let labels = match labels {
        None => None,
        Some((meaning, l)) => {
            if l.shape != [n] {
                return Err(shape_error(
                    &l,
                    format!("[N] = [{n}] (N from 'trajectories')"),
                ));
            }
            check_finite(path, &l)?;
            let bound = posterior.as_ref().map_or(MAX_CLASSES, |(k, _)| *k);
            if let Some((i, v)) = l
                .data
                .iter()
                .enumerate()
                .find(|(_, v)| v.fract() != 0.0 || **v < 0.0 || **v >= bound as f64)
            {
                let range = match &posterior {
                    Some((k, _)) => format!("0 to {} (K = {k} from 'posterior')", k - 1),
                    None => format!("0 to {}", MAX_CLASSES - 1),
                };
                return Err(value_error(
                    &l.name,
                    format!("holds {v} at index {i}: labels are class indices {range}"),
                ));
            }
            Some(Labels {
                meaning,
                classes: l.data.iter().map(|&v| v as u32).collect(),
            })
        }
    };

    let classes = match (&posterior, &labels) {
        (Some((k, _)), _) => *k,
        (None, Some(l)) => l.classes.iter().max().map_or(0, |&m| m as usize + 1),
        (None, None) => 0,
    };
    let class_labels = if names.len() == classes {
        names
    } else {
        (0..classes).map(|k| format!("class {k}")).collect()
    };
    Ok(Recording {
        path: path.to_path_buf(),
        n,
        steps,
        dim,
        states: states.data.iter().map(|&v| v as f32).collect(),
        times,
        labels,
        posterior: posterior.map(|(_, p)| p),
        class_labels,
    })
}

/// Errors at the first value that is NaN or infinite, or that overflows float32 (the views' type),
/// with its index in the tensor's shape.
fn check_finite(path: &Path, t: &LoadedTensor) -> Result<(), RecordingError> {
    let Some(flat) = t.data.iter().position(|v| !(*v as f32).is_finite()) else {
        return Ok(());
    };
    let mut index = vec![0; t.shape.len()];
    let mut rest = flat;
    for (slot, &extent) in index.iter_mut().zip(&t.shape).rev() {
        *slot = rest % extent.max(1);
        rest /= extent.max(1);
    }
    Err(RecordingError::NotFinite {
        path: path.to_path_buf(),
        key: t.name.clone(),
        value: t.data[flat],
        index,
    })
}
