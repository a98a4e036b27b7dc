//! Point clouds from files: `.npy`, `.safetensors` and `.csv` into a validated [`PointCloud`].
//! 2-D arrays are `[n, dim]`; 3-D trajectory arrays `[n, steps, dim]` give one step or all pooled.

use super::{IoError, csv, npy, tensors};
use crate::base::point_cloud::PointCloud;
use std::path::Path;
use std::str::FromStr;

/// Which step of a 3-D `[n, steps, dim]` array becomes the cloud.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StepSelection {
    /// The final step (the generated samples); for 2-D arrays, the array itself.
    #[default]
    Last,
    /// Step `s` (0-based).
    Index(usize),
    /// Every step pooled: `n × steps` points, trajectory-major.
    All,
}

impl FromStr for StepSelection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(StepSelection::All),
            "last" => Ok(StepSelection::Last),
            _ => s.parse::<usize>().map(StepSelection::Index).map_err(|_| {
                format!("'{s}' is not a step (expected a step number, 'last' or 'all')")
            }),
        }
    }
}

/// Loads the points of `path` (by extension); `tensor` names the `.safetensors` tensor to use.
pub fn load_points(
    path: &Path,
    step: StepSelection,
    tensor: Option<&str>,
) -> Result<PointCloud, IoError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (shape, data, label) = match extension.as_str() {
        "npy" => {
            let array = npy::read_f64(path)?;
            (array.shape, array.data, String::new())
        }
        "safetensors" => {
            let t = tensors::read_f64(path, tensor)?;
            (t.shape, t.data, format!(":{}", t.name))
        }
        "csv" => {
            let table = csv::read(path)?;
            (vec![table.rows, table.columns], table.data, String::new())
        }
        _ => {
            return Err(IoError::Extension {
                path: path.to_path_buf(),
                extension,
                expected: ".npy, .safetensors or .csv",
            });
        }
    };
    from_array(path, &label, &shape, data, step)
}

/// The point cloud of an array read from `path` (`label` follows the path in the cloud's source name:
/// the tensor of a `.safetensors` file).
pub fn from_array(
    path: &Path,
    label: &str,
    shape: &[usize],
    data: Vec<f64>,
    step: StepSelection,
) -> Result<PointCloud, IoError> {
    let (n, dim, data, step_label) =
        select_step(shape, data, step).map_err(|problem| IoError::format(path, problem))?;
    let source = format!("{}{label}{step_label}", path.display());
    PointCloud::new(n, dim, data, source).map_err(|e| IoError::format(path, e.to_string()))
}

/// `[n, dim]` points from a rank-2 or rank-3 array.
fn select_step(
    shape: &[usize],
    data: Vec<f64>,
    step: StepSelection,
) -> Result<(usize, usize, Vec<f64>, String), String> {
    match (shape, step) {
        (&[n, dim], StepSelection::Last) if n > 0 && dim > 0 => Ok((n, dim, data, String::new())),
        (&[_, _], StepSelection::Last) => Err(format!("array of shape {shape:?} holds no points")),
        ([_, _], _) => Err(format!(
            "a step was chosen but the array is 2-D {shape:?}; steps apply to [n, steps, dim] arrays"
        )),
        (&[n, steps, dim], _) => {
            if n == 0 || steps == 0 || dim == 0 {
                return Err(format!("array of shape {shape:?} holds no points"));
            }
            let chosen = match step {
                StepSelection::All => return Ok((n * steps, dim, data, "[all steps]".into())),
                StepSelection::Last => steps - 1,
                StepSelection::Index(s) if s < steps => s,
                StepSelection::Index(s) => {
                    return Err(format!(
                        "step {s} is out of range (the array has {steps} steps)"
                    ));
                }
            };
            let points = data
                .chunks_exact(steps * dim)
                .flat_map(|trajectory| &trajectory[chosen * dim..(chosen + 1) * dim])
                .copied()
                .collect();
            Ok((n, dim, points, format!("[step {chosen}]")))
        }
        _ => Err(format!(
            "array of rank {} (shape {shape:?}): expected [n, dim] or [n, steps, dim]",
            shape.len()
        )),
    }
}
