//! Classes without a reference (an `onnx` scene's `labeller`, issue #15): nearest mean against a
//! brute-force scan, k-means against the known classes of two separated Gaussian clouds, the linear
//! ONNX classifier of `python/onnx_models/make_models.py` against its closed form, bad labeller blocks
//! and files as one error naming the key, and a labelled scene through the views' colouring and the
//! speciation lab (its crossing against the exact theory of the law the graph denoises).

use diffscope::analysis::control::Control;
use diffscope::analysis::view_data::cloud::sample_scene;
use diffscope::analysis::view_data::lab::{run_lab, speciation_settings};
use diffscope::model::ExactModel;
use diffscope::model::class_labeller::{ClassLabeller, LabellerSpec, kmeans};
use diffscope::scene::Scene;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// ½ N(+m, I) + ½ N(−m, I), m = (1, …, 1), d = 16: samples with their true classes.
fn two_clouds(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let scene = Scene::load(&root().join("assets/scenes/two-gaussians-d16.json")).unwrap();
    let model = scene.model.build_analytic().unwrap();
    let samples = model.sample_x0(n, seed);
    (samples.points, samples.labels)
}

/// A deterministic spread of `n` states in ℝ¹⁶ (golden-ratio sequence in [−3, 3)).
fn spread(n: usize) -> Vec<f32> {
    (0..n * 16)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 6.0)
        .collect()
}

#[test]
fn kmeans_recovers_two_separated_clouds_up_to_a_permutation() {
    let (points, truth) = two_clouds(2000, 3);
    let spec = LabellerSpec::Kmeans { k: 2, seed: 11 };
    let labeller = ClassLabeller::build(&spec, 16, &points).unwrap();
    assert_eq!(labeller.classes(), 2);
    let found = labeller.labels(&points).unwrap();
    let same = found.iter().zip(&truth).filter(|(a, b)| a == b).count();
    let agreement = same.max(truth.len() - same) as f64 / truth.len() as f64;
    assert!(agreement >= 0.99, "agreement {agreement}");
    // The means are the clouds' centres ±(1, …, 1) (each within 5 s.e. of 1/√1000 per coordinate).
    let means = kmeans(&points, 16, 2, 11).unwrap();
    for mean in means.chunks(16) {
        let sign = mean[0].signum();
        for &v in mean {
            assert!((v - sign).abs() < 5.0 / 1000f32.sqrt(), "mean {mean:?}");
        }
    }
    // Deterministic: the same seed gives the same means; too few points are refused.
    assert_eq!(means, kmeans(&points, 16, 2, 11).unwrap());
    let error = kmeans(&points[..16], 16, 2, 0).unwrap_err().to_string();
    assert!(error.starts_with("model.labeller.k:"), "{error}");
}

#[test]
fn nearest_mean_labels_as_a_brute_force_scan_does() {
    let means = vec![vec![1.0; 16], vec![-1.0; 16], vec![0.0; 16]];
    let spec = LabellerSpec::NearestMean {
        means: means.clone(),
    };
    let labeller = ClassLabeller::build(&spec, 16, &[]).unwrap();
    let x = spread(300);
    let labels = labeller.labels(&x).unwrap();
    let posterior = labeller.posterior(&x).unwrap();
    for ((row, &label), post) in x.chunks(16).zip(&labels).zip(posterior.chunks(3)) {
        let distance = |m: &Vec<f64>| -> f64 {
            row.iter()
                .zip(m)
                .map(|(&a, &b)| (f64::from(a) - b).powi(2))
                .sum()
        };
        let best = (0..3)
            .min_by(|&a, &b| distance(&means[a]).total_cmp(&distance(&means[b])))
            .unwrap();
        assert_eq!(label as usize, best);
        assert_eq!(post[best], 1.0);
        assert_eq!(post.iter().sum::<f64>(), 1.0);
    }
}

#[test]
fn the_onnx_classifier_labels_as_its_closed_form_says() {
    let spec = LabellerSpec::Onnx {
        path: root().join("tests/data/onnx/linear-classifier-d16-k3.onnx"),
        input: "x".into(),
        output: "logits".into(),
    };
    let labeller = ClassLabeller::build(&spec, 16, &[]).unwrap();
    assert_eq!(labeller.classes(), 3);
    let x = spread(500);
    let labels = labeller.labels(&x).unwrap();
    let posterior = labeller.posterior(&x).unwrap();
    let mut seen = [0usize; 3];
    for ((row, &label), post) in x.chunks(16).zip(&labels).zip(posterior.chunks(3)) {
        // logits = (x_0, 0.5 − x_0, 2 x_1 − 1) (make_models.py CLASSIFIER_W, CLASSIFIER_B).
        let (a, b) = (f64::from(row[0]), f64::from(row[1]));
        let logits = [a, 0.5 - a, 2.0 * b - 1.0];
        let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let norm: f64 = logits.iter().map(|l| (l - top).exp()).sum();
        let best = (0..3)
            .max_by(|&i, &j| logits[i].total_cmp(&logits[j]))
            .unwrap();
        assert_eq!(label as usize, best, "row {row:?}");
        seen[best] += 1;
        for (p, l) in post.iter().zip(logits) {
            assert!((p - (l - top).exp() / norm).abs() < 1e-5);
        }
    }
    assert!(seen.iter().all(|&c| c > 20), "every class occurs: {seen:?}");
}

/// An ONNX scene of the exact two-Gaussian graph (d = 16) with a `labeller` block.
fn labelled_scene_json(labeller: &str, pairs: usize) -> String {
    let graph = root().join("assets/models/onnx-two-gaussians-d16.onnx");
    format!(
        r#"{{"model": {{"kind": "onnx", "path": {:?}, "dim": 16, "prediction": "x0",
              "labeller": {labeller}}},
            "sampler": {{"kind": "ancestral", "steps": 200, "t_max": 6.0, "t_min": 0.01,
              "grid": "linear", "init": "gaussian"}},
            "trajectories": 2000, "seed": 5,
            "speciation": {{"pairs": {pairs}}}}}"#,
        graph.display().to_string()
    )
}

fn parse(json: &str) -> Result<Scene, String> {
    Scene::from_json_str(json, Path::new("labelled.json")).map_err(|e| e.to_string())
}

fn quiet<T>(f: impl FnOnce(&mut Control) -> T) -> T {
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    f(&mut control)
}

#[test]
fn bad_labeller_blocks_and_files_name_the_key() {
    let checks = [
        (
            r#"{"kind": "nearest_mean", "means": [[1, 2]]}"#,
            "model.labeller.means[0]",
        ),
        (r#"{"kind": "kmeans", "k": 0}"#, "model.labeller.k"),
        (r#"{"kind": "onnx", "path": ""}"#, "model.labeller.path"),
        (r#"{"kind": "spectral"}"#, "model.labeller"),
    ];
    for (block, key) in checks {
        let error = parse(&labelled_scene_json(block, 10)).unwrap_err();
        assert!(error.contains(key), "{block}: {error}");
        assert!(!error.contains('\n'), "{error}");
    }
    // A labeller beside a reference is refused: one source of classes.
    let with_reference = labelled_scene_json(r#"{"kind": "kmeans", "k": 2}"#, 10).replace(
        r#""prediction": "x0","#,
        r#""prediction": "x0", "reference": "two-gaussians-d16.json","#,
    );
    let error = parse(&with_reference).unwrap_err();
    assert!(error.contains("model.labeller"), "{error}");

    // A file that is not ONNX, and a classifier without the named output: one line naming the key
    // and the file, from the views and from the lab alike.
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a protobuf at all \xff\xfe").unwrap();
    let classifier = root().join("tests/data/onnx/linear-classifier-d16-k3.onnx");
    for (block, key, file) in [
        (
            format!(
                r#"{{"kind": "onnx", "path": {:?}}}"#,
                garbage.display().to_string()
            ),
            "model.labeller.path",
            "garbage.onnx",
        ),
        (
            format!(
                r#"{{"kind": "onnx", "path": {:?}, "output": "scores"}}"#,
                classifier.display().to_string()
            ),
            "model.labeller.output",
            "linear-classifier-d16-k3.onnx",
        ),
    ] {
        let mut scene = parse(&labelled_scene_json(&block, 10)).unwrap();
        scene.trajectories = 20;
        let error = quiet(|c| sample_scene(&scene, c))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.starts_with(key) && error.contains(file) && !error.contains('\n'),
            "{error}"
        );
        let error = quiet(|c| run_lab(&scene, &speciation_settings(&scene), c))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(key) && error.contains(file), "{error}");
    }
}

#[test]
fn a_labelled_scene_is_coloured_and_measured_without_a_reference() {
    let scene = parse(&labelled_scene_json(
        r#"{"kind": "kmeans", "k": 2, "seed": 1}"#,
        1000,
    ))
    .unwrap();
    assert!(!scene.model.has_theory());
    assert!(scene.model.has_lab());

    // Colouring: the last stored step's classes split the two clouds by the sign of m·x.
    let mut small = scene.clone();
    small.trajectories = 400;
    let cloud = quiet(|c| sample_scene(&small, c)).unwrap();
    let t = &cloud.trajectories;
    assert_eq!(t.class_labels.len(), 2);
    let last = t.stored_steps - 1;
    let mut agree = 0;
    let mut first_class_sign = None;
    for i in 0..t.n {
        let post = t.posterior_at(i, last).unwrap();
        let class = usize::from(post[1] > post[0]);
        let sign = t.state(i, last).unwrap().iter().sum::<f32>() > 0.0;
        let expected = *first_class_sign.get_or_insert((class == 0) == sign);
        agree += usize::from(((class == 0) == sign) == expected);
    }
    assert!(
        agree * 100 >= t.n * 99,
        "{agree} of {} coloured by side",
        t.n
    );

    // The lab, measured only: the cloning crossing of the midpoint level lands on the exact t_mid of
    // the law the graph denoises, ½ ln(32 / 1.7017) (tests/onnx_models.rs), within 0.1 (bootstrap s.e.
    // ≈ 0.025 at 1000 pairs).
    let report = quiet(|c| run_lab(&scene, &speciation_settings(&scene), c)).unwrap();
    let level = &report.headline;
    assert!(level.theory.t_mid.is_none() && level.theory.phi_post_at_t_min.is_none());
    assert!(level.phi_posterior.t.is_empty());
    // Its φ figure lists no φ_post curve (there is none to draw).
    let [phi, _] = diffscope::app::speciation_view::figures(level);
    let names: Vec<&str> = phi.series.iter().map(|s| s.name.as_str()).collect();
    assert!(!names.iter().any(|n| n.starts_with("φ_post")), "{names:?}");
    assert!(names.contains(&"φ cloning ± 1 s.e."), "{names:?}");
    assert!(
        (level.midpoint_level - 0.75).abs() < 0.03,
        "{}",
        level.midpoint_level
    );
    let measured = level.measured.t_mid.unwrap();
    let exact = 0.5 * (32.0f64 / 1.7017).ln();
    println!(
        "labelled lab: t_mid {measured:.3} ± {:.3}, exact {exact:.3}",
        level.measured.t_mid_stderr.unwrap_or(f64::NAN)
    );
    assert!(
        (measured - exact).abs() < 0.1,
        "t_mid {measured} vs {exact}"
    );
    // The U-turn and commitment ran on the labelled bank too.
    assert_eq!(level.phi_uturn.phi.len(), report.settings.clone_times.len());
    assert!(level.commitment.total() > 0);
}
