//! `diffscope sweep` end to end with the built binary: two concurrent shards write the same bytes as one
//! unsharded run, a rerun measures only the missing point and leaves the others untouched, bad keys,
//! values and shards are one-line errors naming them, and `collect` writes one CSV row per point; a
//! metrics sweep through two shards equals one run and its CSV repeats the point files' metrics.
//! Points are a tiny two-Gaussian scene (d ≤ 8, 40 pairs, 6 clone times): ≈ 1 s each in debug.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Two Gaussians ±1 in d = 4, tiny: 40 clone pairs at 6 times.
const SCENE: &str = include_str!("data/scenes/two-gaussians-tiny.json");

fn scene_file(dir: &Path) -> PathBuf {
    let path = dir.join("scene.json");
    std::fs::write(&path, SCENE).unwrap();
    path
}

fn diffscope() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_diffscope"));
    command.arg("sweep");
    command
}

fn run(scene: &Path, varies: &[&str], out: &Path, shard: Option<&str>) -> Command {
    measure(scene, "speciation", varies, out, shard)
}

/// `sweep run SCENE --vary … --measure MEASURE --out OUT [--shard I/N]`.
fn measure(scene: &Path, what: &str, varies: &[&str], out: &Path, shard: Option<&str>) -> Command {
    let mut command = diffscope();
    command.arg("run").arg(scene);
    for vary in varies {
        command.args(["--vary", vary]);
    }
    command.args(["--measure", what]).arg("--out").arg(out);
    if let Some(shard) = shard {
        command.args(["--shard", shard]);
    }
    command
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The one `error: …` line of a failed run (exit ≠ 0, no panic).
fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "expected a failure, got {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0].to_string()
}

/// File name → bytes of every file in `dir` (temporaries of atomic writes included, so none may remain).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn two_concurrent_shards_write_the_same_files_as_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene_file(dir.path());
    let varies = ["model.dim=2,4", "seed=1,2"];
    let (whole, sharded) = (dir.path().join("whole"), dir.path().join("sharded"));
    let spawn = |shard| {
        run(&scene, &varies, &sharded, Some(shard))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn("0/2"), spawn("1/2"));
    let one = run(&scene, &varies, &whole, None).output().unwrap();
    assert_eq!(succeeded(&one), "skipped 0, measured 4\n");
    for shard in [first, second] {
        assert_eq!(
            succeeded(&shard.wait_with_output().unwrap()),
            "skipped 0, measured 2\n"
        );
    }
    let expected = files(&whole);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        [
            "model.dim=0002__seed=0001.json",
            "model.dim=0002__seed=0002.json",
            "model.dim=0004__seed=0001.json",
            "model.dim=0004__seed=0002.json"
        ]
    );
    assert!(files(&sharded) == expected, "shards differ from one run");
    // A point file holds its inputs, the theory and the measurement.
    let point: serde_json::Value =
        serde_json::from_slice(&expected["model.dim=0004__seed=0002.json"]).unwrap();
    assert_eq!(
        point["parameters"],
        serde_json::json!([{"key": "model.dim", "value": 4}, {"key": "seed", "value": 2}])
    );
    assert_eq!(point["title"], "Two Gaussians, tiny");
    assert_eq!(point["measure"], "speciation");
    assert_eq!(point["version"], env!("CARGO_PKG_VERSION"));
    for key in ["t_bbdm", "t_balance", "t_mid"] {
        assert!(point["theory"][key].is_f64(), "theory.{key}: {point}");
    }
    assert!(point["measured"]["t_mid_stderr"].is_f64(), "{point}");
}

#[test]
fn a_rerun_measures_only_the_missing_point() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene_file(dir.path());
    let out = dir.path().join("out");
    let varies = ["model.dim=2..8:3"];
    assert_eq!(
        succeeded(&run(&scene, &varies, &out, None).output().unwrap()),
        "skipped 0, measured 3\n"
    );
    let before = files(&out);
    let kept = ["model.dim=0002.json", "model.dim=0008.json"];
    let modified = |name: &str| {
        std::fs::metadata(out.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let times: Vec<_> = kept.iter().map(|n| modified(n)).collect();
    std::fs::remove_file(out.join("model.dim=0004.json")).unwrap();
    assert_eq!(
        succeeded(&run(&scene, &varies, &out, None).output().unwrap()),
        "skipped 2, measured 1\n"
    );
    // Untouched files are not rewritten; the remeasured one is the same bytes as before.
    assert_eq!(kept.map(modified).to_vec(), times);
    assert!(files(&out) == before, "files changed on resume");
    // A damaged point file is measured again, not trusted.
    std::fs::write(out.join("model.dim=0008.json"), "{ truncated").unwrap();
    assert_eq!(
        succeeded(&run(&scene, &varies, &out, None).output().unwrap()),
        "skipped 2, measured 1\n"
    );
    assert!(files(&out) == before, "a damaged file was not restored");
}

#[test]
fn bad_keys_values_and_shards_are_one_line_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene_file(dir.path());
    let out = dir.path().join("out");
    let cases: [(&[&str], Option<&str>, &[&str]); 8] = [
        (&["model.dimm=4"], None, &["model.dimm", "unknown field"]),
        (&["seed.x=1"], None, &["seed.x", "seed is a number"]),
        (&["model.dim=-3"], None, &["model.dim"]),
        (&["model.dim=4,4"], None, &["--vary model.dim=4,4", "twice"]),
        (
            &["model.dim=0..8:3"],
            None,
            &["--vary model.dim=0..8:3", "A > 0"],
        ),
        (&["model.dim"], None, &["--vary model.dim", "KEY=VALUES"]),
        (&["model.dim=4"], Some("2/2"), &["--shard 2/2", "0 ≤ I < N"]),
        (&["model.dim=4"], Some("x"), &["--shard x", "I/N"]),
    ];
    for (varies, shard, named) in cases {
        let line = failure(&run(&scene, varies, &out, shard).output().unwrap());
        for text in named {
            assert!(line.contains(text), "{varies:?} {shard:?}: {line}");
        }
    }
    // Nothing was measured: every point is checked before the first is run.
    assert!(!out.exists() || files(&out).is_empty());
    let missing = failure(
        &run(&dir.path().join("none.json"), &["model.dim=4"], &out, None)
            .output()
            .unwrap(),
    );
    assert!(missing.contains("none.json"), "{missing}");
}

#[test]
fn collect_writes_one_row_per_point_and_refuses_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene_file(dir.path());
    let out = dir.path().join("out");
    succeeded(
        &run(&scene, &["model.dim=8,2"], &out, None)
            .output()
            .unwrap(),
    );
    let (csv, svg) = (dir.path().join("sweep.csv"), dir.path().join("sweep.svg"));
    let table = succeeded(
        &diffscope()
            .arg("collect")
            .arg(&out)
            .arg("--csv")
            .arg(&csv)
            .arg("--svg")
            .arg(&svg)
            .output()
            .unwrap(),
    );
    // Sorted by value (2 before 8, although given 8 first).
    let at = |text: &str| {
        table
            .find(text)
            .unwrap_or_else(|| panic!("{text}: {table}"))
    };
    assert!(at("model.dim=2") < at("model.dim=8"), "{table}");
    let csv = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("point,parameters: model.dim,"),
        "{csv}"
    );
    assert!(lines[1].starts_with("model.dim=2,2,") && lines[2].starts_with("model.dim=8,8,"));
    for line in &lines[1..] {
        // point, parameter, theory t_mid, measured t_mid, s.e., deviation: all numbers here.
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 6, "{line}");
        assert!(
            fields[1..].iter().all(|f| f.parse::<f64>().is_ok()),
            "{line}"
        );
    }
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<?xml") && svg.contains("measured t_mid"),
        "{svg}"
    );
    // A malformed point file is one error naming it.
    std::fs::write(out.join("model.dim=0004.json"), "{\"parameters\": 3}").unwrap();
    let line = failure(&diffscope().arg("collect").arg(&out).output().unwrap());
    assert!(line.contains("model.dim=0004.json"), "{line}");
    let line = failure(
        &diffscope()
            .arg("collect")
            .arg(dir.path().join("nowhere"))
            .output()
            .unwrap(),
    );
    assert!(line.contains("nowhere"), "{line}");
}

#[test]
fn a_metrics_sweep_through_two_shards_equals_one_run_and_collects_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let scene = scene_file(dir.path());
    let varies = ["model.dim=3,6"];
    let (whole, sharded) = (dir.path().join("whole"), dir.path().join("sharded"));
    for shard in ["1/2", "0/2"] {
        let output = measure(&scene, "metrics", &varies, &sharded, Some(shard))
            .output()
            .unwrap();
        assert_eq!(succeeded(&output), "skipped 0, measured 1\n");
    }
    let one = measure(&scene, "metrics", &varies, &whole, None)
        .output()
        .unwrap();
    assert_eq!(succeeded(&one), "skipped 0, measured 2\n");
    let expected = files(&whole);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        ["model.dim=0003.json", "model.dim=0006.json"]
    );
    assert!(files(&sharded) == expected, "shards differ from one run");
    // Each file holds the metric report of the sampled cloud (50 trajectories in d dimensions), and no
    // speciation blocks.
    for (name, d) in [("model.dim=0003.json", 3), ("model.dim=0006.json", 6)] {
        let point: serde_json::Value = serde_json::from_slice(&expected[name]).unwrap();
        assert_eq!(point["measure"], "metrics");
        assert_eq!(point["metrics"]["n"], 50, "{point}");
        assert_eq!(point["metrics"]["dim"], d, "{point}");
        let pca95 = point["metrics"]["intrinsic_dim"]["pca95"].as_u64().unwrap();
        assert!((1..=d).contains(&pca95), "{point}");
        assert!(point.get("theory").is_none() && point.get("measured").is_none());
    }
    // A rerun of the same measurement skips every point.
    let again = measure(&scene, "metrics", &varies, &whole, None)
        .output()
        .unwrap();
    assert_eq!(succeeded(&again), "skipped 2, measured 0\n");
    let csv = dir.path().join("metrics.csv");
    succeeded(
        &diffscope()
            .arg("collect")
            .arg(&whole)
            .arg("--csv")
            .arg(&csv)
            .output()
            .unwrap(),
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_matches('"').ends_with(&format!(": {name}")))
            .unwrap_or_else(|| panic!("{name}: {csv}"))
    };
    assert!(!lines[0].contains("t_mid"), "{csv}");
    // The CSV repeats the point files' numbers exactly (shortest round-trip form).
    for (line, name) in lines[1..]
        .iter()
        .zip(["model.dim=0003.json", "model.dim=0006.json"])
    {
        let point: serde_json::Value = serde_json::from_slice(&expected[name]).unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        let metrics = &point["metrics"];
        for (header, value) in [
            ("N", &metrics["n"]),
            ("TwoNN", &metrics["intrinsic_dim"]["twonn"]),
            ("U_ent", &metrics["density"]["entropy_uniformity"]),
            ("H_probe", &metrics["holes"]["probe"]),
        ] {
            let field: f64 = fields[column(header)].parse().unwrap();
            assert_eq!(field, value.as_f64().unwrap(), "{header}: {line}");
        }
    }
    // A metrics sweep plots its metrics against the swept value, one panel per group of units.
    let svg = dir.path().join("metrics.svg");
    succeeded(
        &diffscope()
            .arg("collect")
            .arg(&whole)
            .arg("--svg")
            .arg(&svg)
            .output()
            .unwrap(),
    );
    let svg = std::fs::read_to_string(&svg).unwrap();
    for title in [
        "intrinsic dimension against model.dim",
        "flatness and density against model.dim",
        "holes against model.dim",
    ] {
        assert!(svg.contains(title), "{title}");
    }
    // Files of another measurement are not taken for done: a speciation run measures every point.
    let speciation = run(&scene, &varies, &whole, None).output().unwrap();
    assert_eq!(succeeded(&speciation), "skipped 0, measured 2\n");
}

/// The shipped sequence models with the parameter counts their training printed
/// (assets/models/PROVENANCE.md): a sweep over model files measures each network's size.
const SHIPPED_NETWORKS: [(&str, u64); 2] = [
    ("assets/models/dit-dyck2.safetensors", 316_996),
    ("assets/models/euler-stack-dyck2.safetensors", 48_167),
];

#[test]
fn a_sweep_over_model_files_plots_metrics_against_parameter_count() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("hidden.json");
    std::fs::write(
        &scene,
        r#"{"title": "hidden states, tiny",
            "model": {"kind": "hidden_states", "path": "unused.safetensors"},
            "sampler": {"kind": "ode", "steps": 4, "t_max": 1.0, "t_min": 0.05, "grid": "linear",
                        "init": "gaussian", "store": "all"},
            "trajectories": 40, "seed": 3}"#,
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths: Vec<String> = SHIPPED_NETWORKS
        .iter()
        .map(|(file, _)| root.join(file).display().to_string())
        .collect();
    let vary = format!("model.path={}", paths.join(","));
    let out = dir.path().join("sizes");
    let output = measure(&scene, "metrics", &[&vary], &out, None)
        .output()
        .unwrap();
    assert_eq!(succeeded(&output), "skipped 0, measured 2\n");
    let mut counts: Vec<u64> = files(&out)
        .values()
        .map(|bytes| {
            let point: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            point["model_parameters"]
                .as_u64()
                .expect("a parameter count")
        })
        .collect();
    counts.sort_unstable();
    let mut expected: Vec<u64> = SHIPPED_NETWORKS.iter().map(|(_, n)| *n).collect();
    expected.sort_unstable();
    assert_eq!(counts, expected);
    let (csv, svg) = (dir.path().join("sizes.csv"), dir.path().join("sizes.svg"));
    succeeded(
        &diffscope()
            .arg("collect")
            .arg(&out)
            .arg("--csv")
            .arg(&csv)
            .arg("--svg")
            .arg(&svg)
            .output()
            .unwrap(),
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(
        csv.lines().next().unwrap().contains("network: parameters"),
        "{csv}"
    );
    for n in &expected {
        assert!(csv.contains(&format!(",{n},")), "{n}: {csv}");
    }
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("intrinsic dimension against network parameters"));
}

#[test]
fn run_help_documents_the_vary_syntax() {
    let help = succeeded(&diffscope().args(["run", "--help"]).output().unwrap());
    for text in ["16,32,64", "16..4096:9", "--shard", "model.dim"] {
        assert!(help.contains(text), "{text}: {help}");
    }
}
