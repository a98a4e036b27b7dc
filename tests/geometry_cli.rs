//! `diffscope metrics` end to end: a reference cloud written with the project's .npy writer, the
//! JSON keys promised to the app and the comparison, parameter overrides, and one-line errors.

use clap::Parser;
use diffscope::analysis::geometry::reference_clouds::Reference;
use diffscope::cli::{Cli, run};
use diffscope::io::npy;

fn metrics(args: &[&str]) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from([&["diffscope", "metrics"], args].concat())?;
    run(cli.command)
}

#[test]
fn json_has_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Reference::Annulus.generate(400, 0);
    let points = dir.path().join("annulus.npy");
    let data: Vec<f32> = cloud.data().iter().map(|&v| v as f32).collect();
    npy::write_f32(&points, &[cloud.n(), cloud.dim()], &data).unwrap();
    let json = dir.path().join("m.json");
    metrics(&[
        points.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--grid",
        "10",
    ])
    .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for key in [
        "/n",
        "/dim",
        "/source",
        "/version",
        "/pca/explained_variance_ratio",
        "/intrinsic_dim/pca90",
        "/intrinsic_dim/pca95",
        "/intrinsic_dim/participation_ratio",
        "/intrinsic_dim/twonn",
        "/intrinsic_dim/mle",
        "/flatness/spectral",
        "/flatness/rank_deficient/rank",
        "/flatness/local_curvature",
        "/density/entropy_uniformity",
        "/density/knn_uniformity",
        "/holes/probe",
        "/holes/void",
        "/holes/enclosed",
        "/holes/void_diagram/0/birth",
        "/wall_ratio",
        "/params/grid",
    ] {
        assert!(value.pointer(key).is_some(), "missing {key} in {value}");
    }
    assert_eq!(value["n"], 400);
    assert_eq!(value["dim"], 64);
    assert_eq!(value["params"]["grid"], 10);
    assert_eq!(value["holes"]["probe_of"], 100);
    assert_eq!(value["flatness"]["rank_deficient"]["rank"], 2);
}

#[test]
fn bad_inputs_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny.csv");
    std::fs::write(&tiny, "1,2\n3,4\n5,7\n").unwrap();
    let err = format!("{:#}", metrics(&[tiny.to_str().unwrap()]).unwrap_err());
    assert!(
        err.contains("needs at least 21 points, the cloud has 3"),
        "{err}"
    );
    let missing = dir.path().join("missing.npy");
    let err = metrics(&[missing.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read") && err.ends_with("missing.npy"),
        "{err}"
    );
    assert!(metrics(&[tiny.to_str().unwrap(), "--step", "later"]).is_err());
    let csv = dir.path().join("line.csv");
    let rows: String = (0..50).map(|i| format!("{i},0\n")).collect();
    std::fs::write(&csv, rows).unwrap();
    let err = format!(
        "{:#}",
        metrics(&[csv.to_str().unwrap(), "--grid", "0"]).unwrap_err()
    );
    assert!(err.contains("parameter grid = 0 is out of range"), "{err}");
}
