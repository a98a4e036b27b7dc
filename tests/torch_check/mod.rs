//! Torch's reference outputs as the export scripts write them into their check files (JSON arrays of
//! floats), and the one comparison the ONNX export tests make with them.

/// A JSON array of numbers as float32 (the graphs' precision).
pub fn floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

/// max |a − b| over paired entries.
pub fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}
