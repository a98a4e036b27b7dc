//! `.safetensors` files: named tensors plus string metadata. Writes float32; reads one float32 or
//! float64 tensor (by name, or the only one) into f64 after checking the file against the memory limit.

use super::atomic::write_bytes_atomic;
use super::{IoError, memory};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// One named float32 tensor to write.
pub struct NamedTensor<'a> {
    pub name: &'a str,
    pub shape: Vec<usize>,
    pub data: &'a [f32],
}

/// Writes float32 tensors and metadata to a `.safetensors` file, atomically.
pub fn write_f32(
    path: &Path,
    tensors: &[NamedTensor<'_>],
    metadata: HashMap<String, String>,
) -> Result<(), IoError> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for (tensor, raw) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, tensor.shape.clone(), raw)
            .map_err(|e| IoError::format(path, format!("tensor '{}': {e}", tensor.name)))?;
        views.push((tensor.name, view));
    }
    let metadata = (!metadata.is_empty()).then_some(metadata);
    let serialized = safetensors::serialize(views, metadata)
        .map_err(|e| IoError::format(path, format!("cannot serialise tensors: {e}")))?;
    write_bytes_atomic(path, &serialized)
}

/// A tensor read from a `.safetensors` file, as f64 in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Reads tensor `name` (or the only tensor when `None`) as f64; the dtype must be F32 or F64.
pub fn read_f64(path: &Path, name: Option<&str>) -> Result<LoadedTensor, IoError> {
    let read_error = |source| IoError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file_len = std::fs::metadata(path).map_err(read_error)?.len();
    // Worst case f32 data widened to f64: the file plus twice its size.
    memory::check(path, file_len.saturating_mul(3), file_len / 4)?;
    let bytes = std::fs::read(path).map_err(read_error)?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| IoError::format(path, format!("not a valid .safetensors file ({e})")))?;
    let mut names: Vec<String> = tensors.names().into_iter().map(str::to_string).collect();
    names.sort();
    let chosen = match name {
        Some(wanted) => names
            .iter()
            .find(|n| *n == wanted)
            .cloned()
            .ok_or_else(|| {
                IoError::format(
                    path,
                    format!("no tensor named '{wanted}' (tensors: {})", names.join(", ")),
                )
            })?,
        None => match names.as_slice() {
            [only] => only.clone(),
            [] => return Err(IoError::format(path, "the file holds no tensors")),
            _ => {
                return Err(IoError::format(
                    path,
                    format!(
                        "several tensors, choose one with --tensor ({})",
                        names.join(", ")
                    ),
                ));
            }
        },
    };
    let view = tensors
        .tensor(&chosen)
        .map_err(|e| IoError::format(path, format!("tensor '{chosen}': {e}")))?;
    let raw = view.data();
    let data: Vec<f64> = match view.dtype() {
        Dtype::F32 => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect(),
        Dtype::F64 => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect(),
        other => {
            return Err(IoError::format(
                path,
                format!("tensor '{chosen}' has dtype {other:?} (expected F32 or F64)"),
            ));
        }
    };
    Ok(LoadedTensor {
        name: chosen,
        shape: view.shape().to_vec(),
        data,
    })
}
