//! `.safetensors` files: named tensors plus string metadata. Writes float32; reads float32 or float64
//! tensors (integer ones too where asked: class labels) into f64 after checking the file against the
//! memory limit, one tensor by name or several and the metadata from one read ([`TensorFile`]).

use super::atomic::write_bytes_atomic;
use super::{IoError, memory};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    let file = TensorFile::open(path)?;
    let names = file.names()?;
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
    file.tensor(&chosen, Numbers::Floats)?
        .ok_or_else(|| IoError::format(path, format!("no tensor named '{chosen}'")))
}

/// Which element types a read accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbers {
    /// F32 or F64.
    Floats,
    /// F32, F64 or any integer type (class labels written by numpy or torch as int64).
    FloatsOrIntegers,
}

/// A whole `.safetensors` file in memory, read once after the memory check, so that several tensors
/// and the metadata come from one read.
pub struct TensorFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl TensorFile {
    /// Reads `path` after checking it against the memory limit; errors when it is not a valid file.
    pub fn open(path: &Path) -> Result<Self, IoError> {
        let read_error = |source| IoError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file_len = std::fs::metadata(path).map_err(read_error)?.len();
        // Worst case f32 data widened to f64: the file plus twice its size.
        memory::check(path, file_len.saturating_mul(3), file_len / 4)?;
        let bytes = std::fs::read(path).map_err(read_error)?;
        let file = TensorFile {
            path: path.to_path_buf(),
            bytes,
        };
        file.parsed()?;
        Ok(file)
    }

    fn parsed(&self) -> Result<SafeTensors<'_>, IoError> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| {
            IoError::format(&self.path, format!("not a valid .safetensors file ({e})"))
        })
    }

    /// The tensor names, sorted.
    pub fn names(&self) -> Result<Vec<String>, IoError> {
        let mut names: Vec<String> = self
            .parsed()?
            .names()
            .into_iter()
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }

    /// The string metadata (empty when the file has none).
    pub fn metadata(&self) -> Result<HashMap<String, String>, IoError> {
        let (_, metadata) = SafeTensors::read_metadata(&self.bytes).map_err(|e| {
            IoError::format(&self.path, format!("not a valid .safetensors file ({e})"))
        })?;
        Ok(metadata.metadata().clone().unwrap_or_default())
    }

    /// Tensor `name` as f64 in row-major order, `None` when the file has no such tensor; an element
    /// type outside `numbers` is an error naming the tensor.
    pub fn tensor(&self, name: &str, numbers: Numbers) -> Result<Option<LoadedTensor>, IoError> {
        let tensors = self.parsed()?;
        let view = match tensors.tensor(name) {
            Ok(view) => view,
            Err(safetensors::SafeTensorError::TensorNotFound(_)) => return Ok(None),
            Err(e) => return Err(IoError::format(&self.path, format!("tensor '{name}': {e}"))),
        };
        let data = values_f64(view.dtype(), view.data(), numbers).ok_or_else(|| {
            let expected = match numbers {
                Numbers::Floats => "F32 or F64",
                Numbers::FloatsOrIntegers => "a float or integer type",
            };
            IoError::format(
                &self.path,
                format!(
                    "tensor '{name}' has dtype {:?} (expected {expected})",
                    view.dtype()
                ),
            )
        })?;
        Ok(Some(LoadedTensor {
            name: name.to_string(),
            shape: view.shape().to_vec(),
            data,
        }))
    }
}

/// Little-endian `raw` of `dtype` as f64, `None` for a type outside `numbers`.
fn values_f64(dtype: Dtype, raw: &[u8], numbers: Numbers) -> Option<Vec<f64>> {
    fn each<const N: usize>(raw: &[u8], convert: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        raw.chunks_exact(N)
            .map(|b| convert(b.try_into().unwrap_or([0; N])))
            .collect()
    }
    let integers = numbers == Numbers::FloatsOrIntegers;
    Some(match dtype {
        Dtype::F32 => each(raw, |b| f64::from(f32::from_le_bytes(b))),
        Dtype::F64 => each(raw, f64::from_le_bytes),
        Dtype::U8 if integers => each(raw, |b: [u8; 1]| f64::from(b[0])),
        Dtype::I8 if integers => each(raw, |b| f64::from(i8::from_le_bytes(b))),
        Dtype::U16 if integers => each(raw, |b| f64::from(u16::from_le_bytes(b))),
        Dtype::I16 if integers => each(raw, |b| f64::from(i16::from_le_bytes(b))),
        Dtype::U32 if integers => each(raw, |b| f64::from(u32::from_le_bytes(b))),
        Dtype::I32 if integers => each(raw, |b| f64::from(i32::from_le_bytes(b))),
        // Labels beyond 2^53 are not labels; the caller's range check refuses them.
        Dtype::U64 if integers => each(raw, |b| u64::from_le_bytes(b) as f64),
        Dtype::I64 if integers => each(raw, |b| i64::from_le_bytes(b) as f64),
        _ => return None,
    })
}
