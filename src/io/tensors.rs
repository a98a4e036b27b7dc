//! `.safetensors` files: named tensors plus string metadata.

use super::IoError;
use super::atomic::write_bytes_atomic;
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
