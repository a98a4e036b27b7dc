//! Comma-separated numeric tables: an optional header row (detected: any non-numeric field in the
//! first row), then rows of equal length. Every bad cell is named by row and column.

use super::{IoError, memory};
use std::path::Path;

/// A numeric table, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub rows: usize,
    pub columns: usize,
    pub header: Option<Vec<String>>,
    pub data: Vec<f64>,
}

/// Reads a numeric CSV file (LF or CRLF line ends; blank lines ignored).
pub fn read(path: &Path) -> Result<Table, IoError> {
    let read_error = |source| IoError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file_len = std::fs::metadata(path).map_err(read_error)?.len();
    // Each value takes at least 2 bytes of text ("1,"), so at most len/2 values of 8 bytes.
    memory::check(path, file_len + file_len / 2 * 8, file_len / 2)?;
    let bytes = std::fs::read(path).map_err(read_error)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| IoError::format(path, "CSV file is not UTF-8 text"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((first_number, first)) = lines.next() else {
        return Err(IoError::format(path, "CSV file is empty"));
    };
    let fields: Vec<&str> = first.split(',').map(str::trim).collect();
    let columns = fields.len();
    let numeric = fields.iter().all(|f| f.parse::<f64>().is_ok());
    let mut data = Vec::new();
    let header = if numeric {
        push_row(&mut data, &fields, first_number, path)?;
        None
    } else {
        Some(fields.iter().map(|f| f.to_string()).collect())
    };
    for (number, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != columns {
            return Err(IoError::format(
                path,
                format!(
                    "CSV line {number} has {} fields, expected {columns}",
                    fields.len()
                ),
            ));
        }
        push_row(&mut data, &fields, number, path)?;
    }
    if data.is_empty() {
        return Err(IoError::format(
            path,
            "CSV file has a header but no data rows",
        ));
    }
    Ok(Table {
        rows: data.len() / columns,
        columns,
        header,
        data,
    })
}

fn push_row(data: &mut Vec<f64>, fields: &[&str], line: usize, path: &Path) -> Result<(), IoError> {
    for (column, field) in fields.iter().enumerate() {
        let value = field.parse::<f64>().map_err(|_| {
            IoError::format(
                path,
                format!(
                    "CSV line {line}, column {}: '{field}' is not a number",
                    column + 1
                ),
            )
        })?;
        if !value.is_finite() {
            return Err(IoError::format(
                path,
                format!(
                    "CSV line {line}, column {}: '{field}' is not finite",
                    column + 1
                ),
            ));
        }
        data.push(value);
    }
    Ok(())
}
