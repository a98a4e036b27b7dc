//! Hidden states of an ONNX model (`"hidden": [...]` on an `onnx` scene, opened by a `hidden_states`
//! scene with a `"layer"`): the graph of `python/onnx_models/make_guided_hidden.py` exposes the class
//! posterior `[N, 2]`, the signal a_t x_t `[N, 4, 4]` and the intermediate value m·x `[N, 1]`; each
//! captured layer equals an independent computation of that value from the sampled states at every
//! stored step, is what the metric table measures, and keeps the run's posterior colours; a `hidden`
//! name not in the graph, a layer the scene does not list and a layer of a scene that is not ONNX are
//! one error naming the file and the key.

use diffscope::analysis::control::Control;
use diffscope::analysis::view_data::cloud::{Cloud, sample_scene};
use diffscope::analysis::view_data::measured::{measure_step, table_follows_time};
use diffscope::scene::{ModelSpec, Scene};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped scene with a short run: 150 trajectories, 60 ancestral steps (all stored).
fn scene(name: &str) -> Scene {
    let mut scene = Scene::load(&root().join("assets/scenes").join(name)).unwrap();
    scene.trajectories = 150;
    scene.sampler.steps = 60;
    scene
}

fn open(scene: &Scene) -> Result<Cloud, String> {
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    sample_scene(scene, &mut control).map_err(|e| e.to_string())
}

/// The hidden-state scene of the shipped ONNX scene, showing `layer`.
fn layer_scene(layer: &str) -> Scene {
    let mut scene = scene("onnx-hidden-posterior.json");
    let ModelSpec::HiddenStates(spec) = &mut scene.model else {
        panic!("onnx-hidden-posterior.json is a hidden-state scene")
    };
    spec.layer = Some(layer.into());
    scene
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn captured_layers_equal_their_closed_forms_at_every_stored_step() {
    let states = open(&scene("onnx-two-gaussians-hidden.json")).unwrap();
    let (n, s, d) = (
        states.trajectories.n,
        states.trajectories.stored_steps,
        states.trajectories.dim,
    );
    assert_eq!((n, s, d), (150, 61, 16));
    // Each layer as a function of the OU state x at time t (m = (1, …, 1)).
    type Closed = fn(&[f64], f64) -> Vec<f64>;
    let layers: [(&str, usize, Closed); 3] = [
        ("posterior", 2, |x, t| {
            let z = 2.0 * (-t).exp() * x.iter().sum::<f64>();
            vec![sigmoid(z), sigmoid(-z)]
        }),
        ("signal", 16, |x, t| {
            x.iter().map(|v| (-t).exp() * v).collect()
        }),
        ("projection", 1, |x, _| vec![x.iter().sum::<f64>()]),
    ];
    for (layer, width, closed) in layers {
        let scene = layer_scene(layer);
        assert!(table_follows_time(&scene));
        let hidden = open(&scene).unwrap();
        let h = &hidden.trajectories;
        assert_eq!((h.n, h.stored_steps, h.dim), (n, s, width), "{layer}");
        assert_eq!(h.times, states.trajectories.times);
        assert_eq!(
            hidden.origin.name(),
            format!("{layer} of onnx-two-gaussians-hidden.json")
        );
        // The run's colours: the reference's exact posterior along the same trajectories.
        assert_eq!(h.posterior, states.trajectories.posterior);
        let mut worst = 0f64;
        for j in 0..s {
            let t = h.times[j];
            for i in 0..n {
                let x: Vec<f64> = states
                    .trajectories
                    .state(i, j)
                    .unwrap()
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                let expected = closed(&x, t);
                for (&got, want) in h.state(i, j).unwrap().iter().zip(expected) {
                    worst = worst.max((f64::from(got) - want).abs());
                }
            }
            // What the metric table measures at this step is the layer.
            let cloud = hidden.cloud_at(j).unwrap();
            assert_eq!((cloud.n(), cloud.dim()), (n, width));
        }
        // The metric table's current column measures the layer (its step shown, as for a DiT).
        let measured = measure_step(&hidden, Some(s / 2)).unwrap();
        assert_eq!(measured.filter.step, s / 2);
        assert_eq!((measured.report.n, measured.report.dim), (n, width));
        println!("{layer}: max |captured − closed form| over {s} steps = {worst:.2e}");
        assert!(worst <= 1e-5, "{layer}: {worst}");
    }
    // The posterior layer really separates: at t_min every row sits near one end of the segment.
    let posterior = open(&layer_scene("posterior")).unwrap();
    let decided = (0..n)
        .filter_map(|i| posterior.trajectories.state(i, s - 1))
        .filter(|p| p[0].max(p[1]) > 0.99)
        .count();
    assert!(decided > n * 9 / 10, "{decided} of {n} decided at t_min");
}

#[test]
fn bad_hidden_keys_are_one_error_naming_the_file_and_the_key() {
    let graph = root().join("assets/models/onnx-two-gaussians-d16-hidden.onnx");
    let json = format!(
        r#"{{"model": {{"kind": "onnx", "path": {:?}, "dim": 16, "prediction": "x0",
              "hidden": ["posterior", "block3"]}},
            "sampler": {{"kind": "ancestral", "steps": 20, "t_max": 5.0, "t_min": 0.01}},
            "trajectories": 10, "seed": 1}}"#,
        graph.display().to_string()
    );
    let file = root().join("assets/scenes/hidden-test.json");
    let scene = Scene::from_json_str(&json, &file).unwrap();
    let error = scene.model.build(&file).err().unwrap().to_string();
    println!("{error}");
    assert!(
        error.contains("model.hidden") && error.contains("\"block3\""),
        "{error}"
    );
    assert!(
        error.contains("onnx-two-gaussians-d16-hidden.onnx"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1);

    // A layer the ONNX scene does not list, and a layer of a scene that is not ONNX.
    for (path, layer, names) in [
        (
            "onnx-two-gaussians-hidden.json",
            "block3",
            "onnx-two-gaussians-hidden.json",
        ),
        (
            "two-gaussians-d16.json",
            "posterior",
            "two-gaussians-d16.json",
        ),
    ] {
        let mut scene = layer_scene(layer);
        let ModelSpec::HiddenStates(spec) = &mut scene.model else {
            unreachable!()
        };
        spec.path = root().join("assets/scenes").join(path);
        let error = open(&scene).err().unwrap();
        println!("{error}");
        assert!(
            error.starts_with("model.layer") && error.contains(names),
            "{error}"
        );
        assert_eq!(error.lines().count(), 1);
    }

    // A layer with a DiT block, and an empty layer name, are refused when the scene is read.
    for (extra, key) in [(r#", "block": 2"#, "model.layer"), ("", "model.layer")] {
        let layer = if extra.is_empty() { "" } else { "posterior" };
        let json = format!(
            r#"{{"model": {{"kind": "hidden_states", "path": "x.json", "layer": {layer:?}{extra}}},
                "sampler": {{"kind": "ancestral", "steps": 20, "t_max": 5.0, "t_min": 0.01}},
                "trajectories": 10, "seed": 1}}"#
        );
        let error = Scene::from_json_str(&json, Path::new("hidden.json"))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains(key), "{error}");
    }
}

/// Under guidance a hidden value is captured from the conditional pass, each trajectory given its own
/// class. The class graph's value `add_22` is s(y) + n(y) · tanh(a_t m·x) (`make_guided_hidden.py`):
/// the constant ±1 for the labels 0 and 1, and the x-dependent tanh only for the null label. So along
/// a guided run every captured value is its trajectory's class constant; the unconditional pass
/// would give tanh values strictly inside (−1, 1).
#[test]
fn under_guidance_hidden_values_come_from_each_trajectorys_class() {
    let dir = tempfile::tempdir().unwrap();
    let mut source: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("assets/scenes/onnx-two-gaussians-guided.json"))
            .unwrap(),
    )
    .unwrap();
    let model = &mut source["model"];
    for key in ["path", "reference"] {
        let relative = model[key].as_str().unwrap().to_string();
        model[key] = root().join(relative).display().to_string().into();
    }
    model["hidden"] = serde_json::json!(["add_22"]);
    let source_path = dir.path().join("guided-hidden.json");
    std::fs::write(&source_path, source.to_string()).unwrap();

    let mut scene = layer_scene("add_22");
    let ModelSpec::HiddenStates(spec) = &mut scene.model else {
        unreachable!()
    };
    spec.path = source_path;
    scene.sampler.guidance =
        Scene::load(&root().join("assets/scenes/onnx-two-gaussians-guided.json"))
            .unwrap()
            .sampler
            .guidance;
    assert!(scene.sampler.guidance.is_some());
    let cloud = open(&scene).unwrap_or_else(|e| panic!("{e}"));
    let t = &cloud.trajectories;
    assert_eq!((t.n, t.dim), (150, 1));
    let labels = t.initial_labels.as_ref().expect("guided classes");
    let mut constant = [None::<f32>; 2];
    for (i, &label) in labels.iter().enumerate() {
        let class = label as usize;
        assert!(class < 2, "trajectory {i}: class {class}");
        for j in 0..t.stored_steps {
            let value = t.state(i, j).unwrap()[0];
            let expected = *constant[class].get_or_insert(value);
            assert_eq!(value, expected, "trajectory {i} (class {class}), step {j}");
        }
    }
    let [Some(a), Some(b)] = constant else {
        panic!("both classes are drawn among 150 trajectories: {constant:?}")
    };
    assert_eq!((a.abs(), b.abs()), (1.0, 1.0));
    assert_ne!(a, b);
}
