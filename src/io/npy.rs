//! NumPy `.npy` arrays: float32, float64 and uint8 writers (format 1.0; uint8 holds token sequences) and a strict little-endian float reader
//! (formats 1.0–3.0, C or Fortran order). The reader parses the header by hand, checks the declared
//! size against the file length and the memory limit before allocating, and returns C order.

use super::IoError;
use super::atomic::write_atomic;
use super::memory;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The `.npy` header for a little-endian C-order array of `shape` with dtype `descr` (`<f4`, `<f8`,
/// `|u1`), padded so that the data starts on a 64-byte boundary as the format recommends.
fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [single] => format!("{single},"),
        _ => shape
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
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
    write_le(path, "<f4", shape, data, |v| v.to_le_bytes())
}

/// Writes `data` (row-major, `shape`) as a float64 `.npy` file, atomically.
pub fn write_f64(path: &Path, shape: &[usize], data: &[f64]) -> Result<(), IoError> {
    write_le(path, "<f8", shape, data, |v| v.to_le_bytes())
}

/// Writes `data` (row-major, `shape`) as a uint8 `.npy` file, atomically.
pub fn write_u8(path: &Path, shape: &[usize], data: &[u8]) -> Result<(), IoError> {
    write_le(path, "|u1", shape, data, |v| [*v])
}

/// The one writer behind every dtype: checks the shape, then header and little-endian bytes.
fn write_le<T, const N: usize>(
    path: &Path,
    descr: &str,
    shape: &[usize],
    data: &[T],
    bytes_of: impl Fn(&T) -> [u8; N],
) -> Result<(), IoError> {
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
        w.write_all(&header(descr, shape))?;
        for chunk in data.chunks(16 * 1024) {
            let bytes: Vec<u8> = chunk.iter().flat_map(&bytes_of).collect();
            w.write_all(&bytes)?;
        }
        Ok(())
    })
}

/// An array read from a `.npy` file, converted to f64 in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Element types the reader accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FloatType {
    F32,
    F64,
}

impl FloatType {
    fn size(self) -> usize {
        match self {
            FloatType::F32 => 4,
            FloatType::F64 => 8,
        }
    }
}

/// The parsed header dictionary.
#[derive(Debug, PartialEq)]
struct Header {
    dtype: FloatType,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Longest header accepted (numpy itself writes a few hundred bytes at most).
const MAX_HEADER: usize = 1 << 20;

/// Reads a little-endian float32/float64 `.npy` array of any rank into f64, C order.
pub fn read_f64(path: &Path) -> Result<NpyArray, IoError> {
    let read_error = |source| IoError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let file_len = file.metadata().map_err(read_error)?.len();
    let mut reader = BufReader::new(file);
    let mut preamble = [0u8; 8];
    read_exact_or(
        &mut reader,
        &mut preamble,
        path,
        "file too short for a .npy preamble",
    )?;
    if &preamble[..6] != b"\x93NUMPY" {
        return Err(IoError::format(path, "not a .npy file (bad magic bytes)"));
    }
    let header_len = match preamble[6] {
        1 => {
            let mut b = [0u8; 2];
            read_exact_or(&mut reader, &mut b, path, "truncated .npy header length")?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            read_exact_or(&mut reader, &mut b, path, "truncated .npy header length")?;
            u32::from_le_bytes(b) as usize
        }
        v => {
            return Err(IoError::format(
                path,
                format!("unsupported .npy format version {v}"),
            ));
        }
    };
    let prefix = if preamble[6] == 1 { 10 } else { 12 };
    if header_len > MAX_HEADER || (prefix + header_len) as u64 > file_len {
        return Err(IoError::format(
            path,
            format!("truncated .npy header (declares {header_len} bytes, file has {file_len})"),
        ));
    }
    let mut header_bytes = vec![0u8; header_len];
    read_exact_or(
        &mut reader,
        &mut header_bytes,
        path,
        "truncated .npy header",
    )?;
    let text = std::str::from_utf8(&header_bytes)
        .map_err(|_| IoError::format(path, "the .npy header is not text"))?;
    let header = parse_header(text).map_err(|problem| IoError::format(path, problem))?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|c| c.checked_mul(header.dtype.size()).is_some())
        .ok_or_else(|| IoError::format(path, format!("shape {:?} is too large", header.shape)))?;
    let data_bytes = file_len - (prefix + header_len) as u64;
    let declared = (count * header.dtype.size()) as u64;
    if declared != data_bytes {
        let what = if declared > data_bytes {
            "truncated"
        } else {
            "trailing bytes in"
        };
        return Err(IoError::format(
            path,
            format!(
                "{what} .npy data: shape {:?} needs {declared} bytes, the file holds {data_bytes}",
                header.shape
            ),
        ));
    }
    memory::check(path, count as u64 * 8 + data_bytes, count as u64)?;
    let mut data = Vec::with_capacity(count);
    let mut chunk = vec![0u8; (1 << 16) * header.dtype.size()];
    while data.len() < count {
        let values = ((count - data.len()) * header.dtype.size()).min(chunk.len());
        let bytes = &mut chunk[..values];
        read_exact_or(&mut reader, bytes, path, "truncated .npy data")?;
        match header.dtype {
            FloatType::F32 => data.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
            ),
            FloatType::F64 => data.extend(
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
            ),
        }
    }
    if header.fortran_order && header.shape.len() > 1 {
        data = fortran_to_c(&data, &header.shape);
    }
    Ok(NpyArray {
        shape: header.shape,
        data,
    })
}

fn read_exact_or(
    reader: &mut impl Read,
    buf: &mut [u8],
    path: &Path,
    problem: &str,
) -> Result<(), IoError> {
    reader.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => IoError::format(path, problem),
        _ => IoError::Read {
            path: path.to_path_buf(),
            source: e,
        },
    })
}

/// Reorders a column-major (first axis fastest) array into row-major order.
fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; data.len()];
    let mut c_strides = vec![1usize; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        c_strides[a] = c_strides[a + 1] * shape[a + 1];
    }
    for (f, &v) in data.iter().enumerate() {
        let (mut rest, mut c) = (f, 0);
        for (extent, stride) in shape.iter().zip(&c_strides) {
            c += (rest % extent) * stride;
            rest /= extent;
        }
        out[c] = v;
    }
    out
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` strictly: exactly these
/// three keys, each once, Python literal syntax, trailing spaces and newline allowed.
fn parse_header(text: &str) -> Result<Header, String> {
    let body = text
        .trim_end_matches([' ', '\n'])
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("the .npy header is not a {...} dictionary")?;
    let mut cursor = Cursor { rest: body };
    let (mut dtype, mut fortran, mut shape) = (None, None, None);
    loop {
        cursor.skip_space();
        if cursor.rest.is_empty() {
            break;
        }
        let key = cursor.string()?;
        cursor.expect(':')?;
        match key.as_str() {
            "descr" if dtype.is_none() => dtype = Some(parse_descr(&cursor.string()?)?),
            "fortran_order" if fortran.is_none() => fortran = Some(cursor.boolean()?),
            "shape" if shape.is_none() => shape = Some(cursor.tuple()?),
            other => {
                return Err(format!(
                    "unexpected or repeated key '{other}' in the .npy header"
                ));
            }
        }
        cursor.skip_space();
        if !cursor.rest.is_empty() {
            cursor.expect(',')?;
        }
    }
    Ok(Header {
        dtype: dtype.ok_or("the .npy header has no 'descr'")?,
        fortran_order: fortran.ok_or("the .npy header has no 'fortran_order'")?,
        shape: shape.ok_or("the .npy header has no 'shape'")?,
    })
}

fn parse_descr(descr: &str) -> Result<FloatType, String> {
    match descr {
        "<f4" => Ok(FloatType::F32),
        "<f8" => Ok(FloatType::F64),
        ">f4" | ">f8" => Err(format!(
            "big-endian dtype '{descr}' is not supported (expected '<f4' or '<f8')"
        )),
        other => Err(format!(
            "dtype '{other}' is not supported (expected little-endian float32 '<f4' or float64 '<f8')"
        )),
    }
}

/// A tiny tokenizer over the header dictionary body.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\n']);
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_space();
        self.rest = self
            .rest
            .strip_prefix(c)
            .ok_or_else(|| format!("malformed .npy header: expected '{c}'"))?;
        Ok(())
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_space();
        let quote = self
            .rest
            .chars()
            .next()
            .filter(|q| *q == '\'' || *q == '"')
            .ok_or("malformed .npy header: expected a quoted string")?;
        let inner = &self.rest[1..];
        let end = inner
            .find(quote)
            .ok_or("malformed .npy header: unterminated string")?;
        self.rest = &inner[end + 1..];
        Ok(inner[..end].to_string())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.skip_space();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Ok(value);
            }
        }
        Err("malformed .npy header: 'fortran_order' is not True or False".into())
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let end = self
            .rest
            .find(')')
            .ok_or("malformed .npy header: unterminated shape")?;
        let inside = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        let mut dims = Vec::new();
        let parts: Vec<&str> = inside.split(',').map(str::trim).collect();
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() && i + 1 == parts.len() {
                break;
            }
            let dim = part
                .parse::<usize>()
                .map_err(|_| format!("malformed .npy header: shape entry '{part}'"))?;
            dims.push(dim);
        }
        Ok(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_describes_shape() {
        for shape in [&[3usize][..], &[2, 5], &[10_000, 1, 256]] {
            let h = header("<f4", shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
            let text = String::from_utf8_lossy(&h[10..]).into_owned();
            assert!(text.contains("'descr': '<f4'"), "{text}");
        }
        let h = String::from_utf8_lossy(&header("<f4", &[3])[10..]).into_owned();
        assert!(h.contains("'shape': (3,)"), "{h}");
        let h = String::from_utf8_lossy(&header("<f4", &[2, 5, 7])[10..]).into_owned();
        assert!(h.contains("'shape': (2, 5, 7)"), "{h}");
    }

    #[test]
    fn header_parser_is_strict() {
        let ok =
            parse_header("{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }   \n").unwrap();
        assert_eq!(ok.dtype, FloatType::F64);
        assert!(ok.fortran_order);
        assert_eq!(ok.shape, vec![3]);
        assert_eq!(
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': ()}")
                .unwrap()
                .shape,
            Vec::<usize>::new()
        );
        for bad in [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
            "{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }",
            "'descr': '<f4'",
            "{'descr': '<f4, 'shape': (2,)}",
        ] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fortran_order_is_transposed() {
        // shape (2, 3): column-major [a00 a10 a01 a11 a02 a12].
        let c = fortran_to_c(&[0.0, 10.0, 1.0, 11.0, 2.0, 12.0], &[2, 3]);
        assert_eq!(c, vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
    }
}
