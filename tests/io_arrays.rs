//! Point-cloud readers: round trips with the project's writers, Fortran order, f64, 3-D step
//! selection, CSV with and without a header, and one clear error (naming the file, path last) for
//! every malformed input, including files refused by size before they are read.

use diffscope::io::{StepSelection, load_points, npy, tensors};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Loads `path` expecting an error that mentions `phrase` and ends with the path.
fn expect_error(path: &Path, step: StepSelection, phrase: &str) {
    let err = load_points(path, step, None).unwrap_err().to_string();
    assert!(err.contains(phrase), "expected '{phrase}' in: {err}");
    assert!(
        err.ends_with(&path.display().to_string()),
        "path not last: {err}"
    );
}

#[test]
fn npy_round_trip_with_the_writer_and_step_selection() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = (0..24).map(|v| v as f32 * 0.5 - 3.0).collect();
    let flat = dir.path().join("flat.npy");
    npy::write_f32(&flat, &[6, 4], &values).unwrap();
    let cloud = load_points(&flat, StepSelection::Last, None).unwrap();
    assert_eq!((cloud.n(), cloud.dim()), (6, 4));
    assert_eq!(
        cloud.data(),
        values.iter().map(|&v| v as f64).collect::<Vec<_>>()
    );

    // [n = 2, steps = 3, dim = 4]: trajectory t, step s, coordinate j at (t*3 + s)*4 + j.
    let traj = dir.path().join("traj.npy");
    npy::write_f32(&traj, &[2, 3, 4], &values).unwrap();
    let step1 = load_points(&traj, StepSelection::Index(1), None).unwrap();
    assert_eq!((step1.n(), step1.dim()), (2, 4));
    assert_eq!(step1.row(1)[0], values[(3 + 1) * 4] as f64);
    let last = load_points(&traj, StepSelection::Last, None).unwrap();
    assert_eq!(
        last.row(0),
        &values[8..12].iter().map(|&v| v as f64).collect::<Vec<_>>()[..]
    );
    let all = load_points(&traj, StepSelection::All, None).unwrap();
    assert_eq!((all.n(), all.dim()), (6, 4));
    expect_error(&traj, StepSelection::Index(3), "step 3 is out of range");
    expect_error(&flat, StepSelection::Index(0), "2-D");
}

#[test]
fn npy_fortran_order_f64_and_version_two() {
    let dir = tempfile::tempdir().unwrap();
    // Matrix [[1, 2, 3], [4, 5, 6]] stored column by column.
    let fortran = write(
        dir.path(),
        "f.npy",
        &npy_bytes(
            "<f8",
            true,
            "(2, 3)",
            &f64_bytes(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]),
        ),
    );
    let cloud = load_points(&fortran, StepSelection::Last, None).unwrap();
    assert_eq!(cloud.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // Fortran 3-D [n = 2, steps = 2, dim = 2]: element (i, s, j) at i + 2s + 4j.
    let cube: Vec<f64> = (0..8).map(|v| v as f64).collect();
    let fortran3 = write(
        dir.path(),
        "f3.npy",
        &npy_bytes("<f8", true, "(2, 2, 2)", &f64_bytes(&cube)),
    );
    let step1 = load_points(&fortran3, StepSelection::Index(1), None).unwrap();
    // point i = 1 at step 1: coordinates j = 0, 1 → 1 + 2 + 0, 1 + 2 + 4.
    assert_eq!(step1.row(1), &[3.0, 7.0]);

    let mut v2 = npy_bytes("<f4", false, "(1, 2)", &f32_bytes(&[1.5, -2.5]));
    let header_len = u16::from_le_bytes([v2[8], v2[9]]) as u32;
    v2.splice(6..10, [2u8, 0].into_iter().chain(header_len.to_le_bytes()));
    let path = write(dir.path(), "v2.npy", &v2);
    assert_eq!(
        load_points(&path, StepSelection::Last, None)
            .unwrap()
            .data(),
        &[1.5, -2.5]
    );
}

#[test]
fn malformed_npy_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = npy_bytes("<f4", false, "(2, 2)", &f32_bytes(&[1.0, 2.0, 3.0, 4.0]));
    let last = StepSelection::Last;
    expect_error(
        &write(d, "magic.npy", &[b"NOTNPY".as_slice(), &good[6..]].concat()),
        last,
        "bad magic",
    );
    expect_error(
        &write(d, "trunc.npy", &good[..good.len() - 3]),
        last,
        "truncated .npy data",
    );
    expect_error(
        &write(d, "head.npy", &good[..40]),
        last,
        "truncated .npy header",
    );
    expect_error(&write(d, "short.npy", &good[..5]), last, "too short");
    expect_error(&write(d, "empty.npy", b""), last, "too short");
    let extra = [good.clone(), vec![0u8; 4]].concat();
    expect_error(&write(d, "extra.npy", &extra), last, "trailing bytes");
    let int = npy_bytes("<i4", false, "(2, 2)", &[0u8; 16]);
    expect_error(
        &write(d, "int.npy", &int),
        last,
        "dtype '<i4' is not supported",
    );
    let big_endian = npy_bytes(">f4", false, "(2, 2)", &[0u8; 16]);
    expect_error(&write(d, "be.npy", &big_endian), last, "big-endian");
    let rank1 = npy_bytes("<f4", false, "(4,)", &f32_bytes(&[1.0; 4]));
    expect_error(&write(d, "r1.npy", &rank1), last, "rank 1");
    let rank4 = npy_bytes("<f4", false, "(1, 1, 2, 2)", &f32_bytes(&[1.0; 4]));
    expect_error(&write(d, "r4.npy", &rank4), last, "rank 4");
    let zero = npy_bytes("<f4", false, "(0, 3)", &[]);
    expect_error(&write(d, "zero.npy", &zero), last, "holds no points");
    let nan = npy_bytes(
        "<f4",
        false,
        "(2, 2)",
        &f32_bytes(&[1.0, 2.0, f32::NAN, 4.0]),
    );
    expect_error(
        &write(d, "nan.npy", &nan),
        last,
        "point 1, coordinate 0 is not finite",
    );
    let inf = npy_bytes("<f8", false, "(1, 2)", &f64_bytes(&[1.0, f64::INFINITY]));
    expect_error(&write(d, "inf.npy", &inf), last, "not finite");
    let huge = npy_bytes("<f4", false, "(1000000, 1000000)", &f32_bytes(&[1.0; 4]));
    expect_error(
        &write(d, "huge.npy", &huge),
        last,
        "needs 4000000000000 bytes, the file holds 16",
    );
    let overflow = npy_bytes("<f8", false, "(18446744073709551615, 2)", &[]);
    expect_error(&write(d, "overflow.npy", &overflow), last, "too large");
    let garbage = npy_bytes("<f4", false, "(2, x)", &[0u8; 16]);
    expect_error(&write(d, "garbage.npy", &garbage), last, "shape entry 'x'");
}

#[test]
fn a_file_larger_than_memory_is_refused_before_reading() {
    // A sparse file whose header matches its (huge) length: the size check passes, the memory
    // guard (MemAvailable or the fixed cap, both far below 3 × 200 GB) refuses it unread.
    let dir = tempfile::tempdir().unwrap();
    let header = npy_bytes("<f4", false, "(50000000000, 1)", &[]);
    let path = write(dir.path(), "sparse.npy", &header);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(header.len() as u64 + 200_000_000_000).unwrap();
    expect_error(
        &path,
        StepSelection::Last,
        "too large to load: 50000000000 values need about",
    );
}

#[test]
fn safetensors_by_name_or_the_only_one() {
    let dir = tempfile::tempdir().unwrap();
    let a: Vec<f32> = (0..6).map(|v| v as f32).collect();
    let b: Vec<f32> = vec![9.0; 4];
    let single = dir.path().join("one.safetensors");
    let tensor = |name, shape: Vec<usize>, data| tensors::NamedTensor { name, shape, data };
    tensors::write_f32(&single, &[tensor("h", vec![3, 2], &a)], HashMap::new()).unwrap();
    let cloud = load_points(&single, StepSelection::Last, None).unwrap();
    assert_eq!((cloud.n(), cloud.dim()), (3, 2));
    assert!(cloud.source.ends_with(":h"), "{}", cloud.source);

    let two = dir.path().join("two.safetensors");
    let both = [tensor("h", vec![3, 2], &a), tensor("z", vec![2, 2], &b)];
    tensors::write_f32(&two, &both, HashMap::new()).unwrap();
    let z = load_points(&two, StepSelection::Last, Some("z")).unwrap();
    assert_eq!(z.data(), &[9.0; 4]);
    expect_error(
        &two,
        StepSelection::Last,
        "several tensors, choose one with --tensor (h, z)",
    );
    let err = load_points(&two, StepSelection::Last, Some("w"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no tensor named 'w' (tensors: h, z)"), "{err}");

    let raw64 = f64_bytes(&[0.25, -1.0]);
    let raw_int = vec![0u8; 8];
    let f64_view = TensorView::new(Dtype::F64, vec![1, 2], &raw64).unwrap();
    let int_view = TensorView::new(Dtype::I32, vec![1, 2], &raw_int).unwrap();
    let bytes = safetensors::serialize([("x", f64_view), ("i", int_view)], None).unwrap();
    let mixed = write(dir.path(), "mixed.safetensors", &bytes);
    assert_eq!(
        load_points(&mixed, StepSelection::Last, Some("x"))
            .unwrap()
            .data(),
        &[0.25, -1.0]
    );
    let err = load_points(&mixed, StepSelection::Last, Some("i"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dtype I32") && err.ends_with("mixed.safetensors"),
        "{err}"
    );
    expect_error(
        &write(dir.path(), "bad.safetensors", b"\x05\x00\x00"),
        StepSelection::Last,
        "not a valid .safetensors",
    );
}

#[test]
fn csv_with_and_without_header() {
    let dir = tempfile::tempdir().unwrap();
    let last = StepSelection::Last;
    let plain = write(dir.path(), "plain.csv", b"1, 2.5, -3\n4,5e-1,6\n\n");
    let cloud = load_points(&plain, last, None).unwrap();
    assert_eq!((cloud.n(), cloud.dim()), (2, 3));
    assert_eq!(cloud.data(), &[1.0, 2.5, -3.0, 4.0, 0.5, 6.0]);
    let headed = write(dir.path(), "headed.csv", b"x,y\r\n1,2\r\n3,4\r\n");
    assert_eq!(
        load_points(&headed, last, None).unwrap().data(),
        &[1.0, 2.0, 3.0, 4.0]
    );

    let bad: [(&str, &[u8], &str); 6] = [
        ("empty.csv", b"", "CSV file is empty"),
        ("header.csv", b"x,y\n", "no data rows"),
        ("ragged.csv", b"1,2\n3\n", "line 2 has 1 fields, expected 2"),
        (
            "cell.csv",
            b"1,2\n3,abc\n",
            "line 2, column 2: 'abc' is not a number",
        ),
        (
            "nan.csv",
            b"1,2\nNaN,4\n",
            "line 2, column 1: 'NaN' is not finite",
        ),
        ("points.txt", b"1,2\n", "unsupported file type 'txt'"),
    ];
    for (name, bytes, expected) in bad {
        expect_error(&write(dir.path(), name, bytes), last, expected);
    }
}
