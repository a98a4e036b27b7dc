//! NumPy `.npy` arrays (format version 1.0 for writing).

use super::IoError;
use super::atomic::write_atomic;
use std::path::Path;

/// The `.npy` header for a little-endian float32 C-order array of `shape`, padded so that the data
/// starts on a 64-byte boundary as the format recommends.
fn header_f32(shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [single] => format!("{single},"),
        _ => shape
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    let unpadded = 6 + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    header.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header
}

/// Writes `data` (row-major, `shape`) as a float32 `.npy` file, atomically.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), IoError> {
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(IoError::format(
            path,
            format!(
                "array of {} values does not have shape {shape:?}",
                data.len()
            ),
        ));
    }
    write_atomic(path, |w| {
        w.write_all(&header_f32(shape))?;
        for chunk in data.chunks(16 * 1024) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
            w.write_all(&bytes)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_describes_shape() {
        for shape in [&[3usize][..], &[2, 5], &[10_000, 1, 256]] {
            let h = header_f32(shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
            let text = String::from_utf8_lossy(&h[10..]).into_owned();
            assert!(text.contains("'descr': '<f4'"), "{text}");
        }
        let h = String::from_utf8_lossy(&header_f32(&[3])[10..]).into_owned();
        assert!(h.contains("'shape': (3,)"), "{h}");
        let h = String::from_utf8_lossy(&header_f32(&[2, 5, 7])[10..]).into_owned();
        assert!(h.contains("'shape': (2, 5, 7)"), "{h}");
    }
}
