//! ONNX vector denoisers (the `onnx` scene kind, `docs/science/speciation.md` §6), with the graphs of
//! `python/onnx_models/make_models.py`: each is the exact denoiser of a known law, exported in one time
//! convention and prediction type, so every conversion is checked against closed forms.

use diffscope::analysis::control::Control;
use diffscope::analysis::view_data::lab::{run_lab, speciation_settings};
use diffscope::diffusion::{GridSpacing, run_trajectories, time_grid};
use diffscope::model::Denoiser;
use diffscope::model::onnx::{BetaSchedule, Prediction, TimeConvention, TimeMap};
use diffscope::scene::{ModelSpec, Scene, SceneModel};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data(name: &str) -> PathBuf {
    root().join("tests/data/onnx").join(name)
}

/// The exact model of every two-Gaussian graph: ½ N(+m, I) + ½ N(−m, I), m = (1, …, 1), d = 16.
fn reference_scene() -> Scene {
    Scene::load(&root().join("assets/scenes/two-gaussians-d16.json")).unwrap()
}

/// A scene around an ONNX `model` block (JSON text), sampled by `sampler` from N(0, I).
fn onnx_scene_json(model: &str, sampler: &str, trajectories: usize) -> String {
    format!(
        r#"{{"model": {model},
            "sampler": {sampler},
            "trajectories": {trajectories}, "seed": 7}}"#
    )
}

const SAMPLER: &str = r#"{"kind": "ancestral", "steps": 200, "t_max": 5.0, "t_min": 0.01,
    "grid": "log", "init": "gaussian", "store": "final"}"#;

/// The variance the ancestral sampler of `SAMPLER` ends with, from N(0, 1) at t_max, on data N(0, v)
/// with the exact denoiser D = g_t x, g_t = a_t v/(a_t² v + Δ_t): each step from t to s maps V to
/// (c_0 g_t + c_t)² V + σ²_{s|t} (`docs/science/speciation.md` §1.2). Replacing x_0 by its posterior
/// mean loses c_0² Var(x_0 | x_t) per step, so this is below the marginal variance a² v + Δ by the
/// sampler's discretisation error, which the grid makes small.
fn ancestral_variance(v: f64) -> f64 {
    let grid = time_grid(5.0, 0.01, 200, GridSpacing::Log).unwrap();
    let mut variance = 1.0;
    for pair in grid.windows(2) {
        let (t, s) = (pair[0], pair[1]);
        let (a_t, a_s) = ((-t).exp(), (-s).exp());
        let (var_t, var_s) = (-(-2.0 * t).exp_m1(), -(-2.0 * s).exp_m1());
        let one_minus_rho2 = -(-2.0 * (t - s)).exp_m1();
        let (c_t, c_0) = (
            (-(t - s)).exp() * var_s / var_t,
            a_s * one_minus_rho2 / var_t,
        );
        let gain = a_t * v / (a_t * a_t * v + var_t);
        variance = (c_0 * gain + c_t).powi(2) * variance + var_s * one_minus_rho2 / var_t;
    }
    variance
}

fn model_json(path: &Path, prediction: &str, time: &str) -> String {
    format!(
        r#"{{"kind": "onnx", "path": {:?}, "dim": 16, "prediction": "{prediction}", "time": {time}}}"#,
        path.display().to_string()
    )
}

fn build(json: &str) -> Result<SceneModel, String> {
    let scene =
        Scene::from_json_str(json, Path::new("onnx-scene.json")).map_err(|e| e.to_string())?;
    scene
        .model
        .build(Path::new("onnx-scene.json"))
        .map_err(|e| e.to_string())
}

/// Every two-Gaussian graph: file, `prediction`, `time` block.
fn conventions() -> Vec<(PathBuf, &'static str, &'static str)> {
    vec![
        (
            root().join("assets/models/onnx-two-gaussians-d16.onnx"),
            "x0",
            r#"{"kind": "ou"}"#,
        ),
        (
            data("two-gaussians-d16-vp-x0.onnx"),
            "x0",
            r#"{"kind": "vp", "beta_min": 0.1, "beta_max": 20}"#,
        ),
        (
            data("two-gaussians-d16-edm-x0.onnx"),
            "x0",
            r#"{"kind": "edm"}"#,
        ),
        (
            data("two-gaussians-d16-rf1000-x0.onnx"),
            "x0",
            r#"{"kind": "rectified_flow", "scale": 1000}"#,
        ),
        (
            data("two-gaussians-d16-ddpm-linear-x0.onnx"),
            "x0",
            r#"{"kind": "ddpm", "betas": "linear", "beta_start": 1e-4, "beta_end": 0.02, "train_steps": 1000}"#,
        ),
        (
            data("two-gaussians-d16-ou-score.onnx"),
            "score",
            r#"{"kind": "ou"}"#,
        ),
        (
            data("two-gaussians-d16-vp-v.onnx"),
            "v",
            r#"{"kind": "vp"}"#,
        ),
        (
            data("two-gaussians-d16-edm-eps.onnx"),
            "eps",
            r#"{"kind": "edm"}"#,
        ),
        (
            data("two-gaussians-d16-rf1-velocity.onnx"),
            "velocity",
            r#"{"kind": "rectified_flow", "scale": 1}"#,
        ),
        (
            data("two-gaussians-d16-ddpm-cosine-eps.onnx"),
            "eps",
            r#"{"kind": "ddpm", "betas": "cosine"}"#,
        ),
        (
            data("two-gaussians-d16-ddpm-scaled-linear-v.onnx"),
            "v",
            r#"{"kind": "ddpm", "betas": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}"#,
        ),
    ]
}

fn prepare(time: TimeConvention) -> TimeMap {
    time.prepare().unwrap()
}

/// Each convention's model time inverts, and its state x_m = c·x_t is α x_0 + σ z with the (α, σ) the
/// prediction conversions use: c·a_t = α and c·√Δ_t = σ. Plus the defining identity of each.
#[test]
fn time_conventions_invert_and_keep_the_signal_to_noise_ratio() {
    let linear = TimeConvention::Ddpm {
        betas: BetaSchedule::Linear,
        beta_start: Some(1e-4),
        beta_end: Some(0.02),
        train_steps: 1000,
    };
    let maps = [
        prepare(TimeConvention::Ou {}),
        prepare(linear.clone()),
        prepare(TimeConvention::Ddpm {
            betas: BetaSchedule::ScaledLinear,
            beta_start: Some(0.00085),
            beta_end: Some(0.012),
            train_steps: 1000,
        }),
        prepare(TimeConvention::Ddpm {
            betas: BetaSchedule::Cosine,
            beta_start: None,
            beta_end: None,
            train_steps: 1000,
        }),
        prepare(TimeConvention::Vp {
            beta_min: 0.1,
            beta_max: 20.0,
        }),
        prepare(TimeConvention::Edm {}),
        prepare(TimeConvention::RectifiedFlow { scale: 1000.0 }),
    ];
    for map in &maps {
        for t in [1e-3, 0.01, 0.3, 1.0, 2.5, 4.9, 7.0] {
            let at = map.at(t);
            let (a, root_delta) = ((-t).exp(), (-(-2.0 * t).exp_m1()).sqrt());
            assert!(
                (map.ou_time(at.input) / t - 1.0).abs() < 1e-9,
                "{map:?} t = {t}: {at:?}"
            );
            assert!(
                (at.state_scale * a / at.alpha - 1.0).abs() < 1e-12,
                "{map:?} t = {t}"
            );
            assert!(
                (at.state_scale * root_delta / at.sigma - 1.0).abs() < 1e-12,
                "{map:?} t = {t}"
            );
        }
    }
    // DDPM: integer index n at t_n = −½ ln ᾱ_n, ᾱ_n the plain product of (1 − β_i).
    let TimeMap::Ddpm { times } = prepare(linear) else {
        unreachable!()
    };
    let betas = diffscope::base::ou::ddpm_linear_betas(1e-4, 0.02, 1000);
    for n in [0usize, 1, 10, 500, 998, 999] {
        let alpha_bar: f64 = betas[..=n].iter().map(|b| 1.0 - b).product();
        let t = -0.5 * alpha_bar.ln();
        assert!((maps[1].at(t).input - n as f64).abs() < 1e-6, "n = {n}");
        assert!((times[n] - t).abs() < 1e-12);
    }
    // Cosine: ᾱ_n = ᾱ((n+1)/N)/ᾱ(0) while β stays below its 0.999 cap.
    let alpha_bar = |u: f64| {
        ((u + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
            .cos()
            .powi(2)
    };
    for n in [0usize, 100, 500, 900] {
        let t = -0.5 * (alpha_bar((n + 1) as f64 / 1000.0) / alpha_bar(0.0)).ln();
        assert!(
            (maps[3].at(t).input - n as f64).abs() < 1e-6,
            "cosine n = {n}"
        );
    }
    // VP: s = 1 is t = ½(β_min + ½(β_max − β_min)) = 5.025.
    assert!((maps[4].at(5.025).input - 1.0).abs() < 1e-12);
    // EDM: σ² = Δ_t/a_t² = e^{2t} − 1; the state is x_t/a_t.
    let edm = maps[5].at(0.7);
    assert!((edm.input.powi(2) - (1.4f64.exp() - 1.0)).abs() < 1e-12 && edm.alpha == 1.0);
    // Rectified flow: (1 − s)/s = a_t/√Δ_t, fed 1000·s.
    let rf = maps[6].at(0.7);
    let s = rf.input / 1000.0;
    assert!(((1.0 - s) / s - (-0.7f64).exp() / (-(-1.4f64).exp_m1()).sqrt()).abs() < 1e-12);
}

/// Every prediction type converts back to x_0 exactly (in exact arithmetic): the output an exact model
/// gives for (x_0, z) at (α, σ) is mapped back to x_0, for VP (α² + σ² = 1) and other parameterisations.
#[test]
fn every_prediction_converts_back_to_x0() {
    let predictions = [
        Prediction::X0,
        Prediction::Eps,
        Prediction::V,
        Prediction::Velocity,
        Prediction::Score,
    ];
    for (alpha, sigma) in [
        (0.6, 0.8),
        (0.999, 0.0447),
        (1.0, 3.0),
        (0.3, 0.7),
        (0.02, 0.98),
    ] {
        for (x0, z) in [(1.3, -0.4), (-2.0, 1.7), (0.0, 0.25)] {
            let x = alpha * x0 + sigma * z;
            for p in predictions {
                let y = p.from_x0_and_noise(x0, z, alpha, sigma);
                let back = p.to_x0(x, y, alpha, sigma);
                assert!(
                    (back - x0).abs() < 1e-12,
                    "{p:?} at ({alpha}, {sigma}): {back} vs {x0}"
                );
            }
        }
    }
}

/// Deterministic test states: the rows of a fixed pseudo-random matrix, spread like x_t.
fn states(n: usize, d: usize, scale: f32) -> Vec<f32> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            (scale as f64 * (2.0 * u - 1.0) * 3.0) as f32
        })
        .collect()
}

/// Every graph, through its time convention and prediction, gives the exact denoiser of the mixture at
/// times from 0.01 to 7: a_t |D_onnx − D_exact| ≤ 2e-5 · (1 + |x|) per coordinate, the error the
/// samplers see (they use a_t D). ε, v and score predictions recover D by dividing by α ≈ a_t, so
/// f32 rounding in the graph grows like 1/a_t in D itself (≈ 3e-4 at t = 7), but not in a_t D.
#[test]
fn every_convention_and_prediction_gives_the_exact_denoiser() {
    let exact = reference_scene().model.build_analytic().unwrap();
    let d = 16;
    for (path, prediction, time) in conventions() {
        let model = build(&onnx_scene_json(
            &model_json(&path, prediction, time),
            SAMPLER,
            10,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let denoiser = model.denoiser();
        assert_eq!(denoiser.dim(), d);
        let mut worst = 0f64;
        for t in [0.01, 0.1, 0.5, 1.386, 3.0, 5.0, 7.0] {
            // Rows of 37 and 5: batch sizes other than the samplers' chunks.
            for n in [37, 5] {
                let x = states(n, d, 1.0 + t as f32);
                let (mut got, mut want) = (vec![0f32; n * d], vec![0f32; n * d]);
                denoiser.denoise(&x, t, &mut got, None).unwrap();
                exact.denoise(&x, t, &mut want, None).unwrap();
                for ((g, w), xi) in got.iter().zip(&want).zip(&x) {
                    let error = (-t).exp() * f64::from((g - w).abs()) / (1.0 + f64::from(xi.abs()));
                    worst = worst.max(error);
                }
            }
        }
        println!("{}: worst scaled error {worst:.2e}", path.display());
        assert!(worst < 2e-5, "{}: {worst}", path.display());
    }
}

/// Final-sample statistics of a run: mean and second moment of u = m·x/|m| (the class axis) and the
/// mean square of the 15 orthogonal coordinates, with their standard errors.
struct Moments {
    u_mean: (f64, f64),
    u_square: (f64, f64),
    orthogonal_square: (f64, f64),
}

fn moments(points: &[f32], d: usize) -> Moments {
    let n = points.len() / d;
    let (mut u, mut o) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for row in points.chunks(d) {
        let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
        let square: f64 = row.iter().map(|&v| f64::from(v).powi(2)).sum();
        let along = sum / (d as f64).sqrt();
        u.push(along);
        o.push((square - along * along) / (d - 1) as f64);
    }
    let mean_se = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
        (m, (var / v.len() as f64).sqrt())
    };
    let u2: Vec<f64> = u.iter().map(|x| x * x).collect();
    Moments {
        u_mean: mean_se(&u),
        u_square: mean_se(&u2),
        orthogonal_square: mean_se(&o),
    }
}

/// Sampling every graph (2000 trajectories, ancestral, 200 log-spaced steps from N(0, I) at T = 5 to
/// t = 0.01) gives the same law: each statistic within 4 standard errors of the OU graph's and of the
/// exact value — 0 for the mean of u, the sampler's own variance for the orthogonal coordinates (unit
/// Gaussians in both classes: `ancestral_variance(1)`), and for u² the marginal a²(|m|² + 1) + Δ,
/// within 4 standard errors plus the orthogonal coordinates' relative discretisation deficit.
#[test]
fn every_time_convention_samples_the_same_law() {
    let d = 16;
    let t_min: f64 = 0.01;
    let (a2, delta) = ((-2.0 * t_min).exp(), -(-2.0 * t_min).exp_m1());
    let cancel = AtomicBool::new(false);
    let orthogonal = ancestral_variance(1.0);
    let deficit = 1.0 - orthogonal / (a2 + delta);
    println!("orthogonal variance of the sampler: {orthogonal:.4} (deficit {deficit:.4})");
    let mut first: Option<Moments> = None;
    for (path, prediction, time) in conventions() {
        let scene = Scene::from_json_str(
            &onnx_scene_json(&model_json(&path, prediction, time), SAMPLER, 2000),
            Path::new("onnx-scene.json"),
        )
        .unwrap();
        let model = scene.model.build(Path::new("")).unwrap();
        let run = run_trajectories(
            model.denoiser(),
            None,
            &scene.sampling_spec(),
            &mut |_, _| {},
            &cancel,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let m = moments(&run.states, d);
        println!(
            "{}: u mean {:.3} ± {:.3}, u² {:.3} ± {:.3}, orthogonal {:.4} ± {:.4}",
            path.file_name().unwrap().to_string_lossy(),
            m.u_mean.0,
            m.u_mean.1,
            m.u_square.0,
            m.u_square.1,
            m.orthogonal_square.0,
            m.orthogonal_square.1
        );
        let name = path.display();
        let within = |(value, se): (f64, f64), want: f64, what: &str| {
            assert!(
                (value - want).abs() < 4.0 * se,
                "{name}: {what} {value} ± {se} vs {want}"
            );
        };
        within(m.u_mean, 0.0, "mean of u");
        within(m.orthogonal_square, orthogonal, "orthogonal mean square");
        let u_square = a2 * (d as f64 + 1.0) + delta;
        assert!(
            (m.u_square.0 - u_square).abs() < 4.0 * m.u_square.1 + deficit * u_square,
            "{name}: u² {:?} vs {u_square}",
            m.u_square
        );
        if let Some(f) = &first {
            // Two runs of the same law from the same noise: their difference has at most √2 × s.e.
            for (mine, theirs, what) in [
                (m.u_mean, f.u_mean, "mean of u"),
                (m.u_square, f.u_square, "u²"),
                (m.orthogonal_square, f.orthogonal_square, "orthogonal"),
            ] {
                let se = (mine.1.powi(2) + theirs.1.powi(2)).sqrt();
                assert!(
                    (mine.0 - theirs.0).abs() < 4.0 * se,
                    "{name}: {what} vs the OU graph"
                );
            }
        } else {
            first = Some(m);
        }
    }
}

/// The ε-prediction model of N(0, 2 I) under the linear DDPM schedule samples variance 2: at t_min = 0.01
/// the exact marginal variance is 2a² + Δ = 1.980. 4000 trajectories × 16 coordinates = 64,000 values
/// give a standard error of 2·√(2/64000) ≈ 0.011 (0.6 %) on the variance, so 5 % is ≈ 9 standard errors:
/// room for the sampler's discretisation (a linear grid of 200 steps loses 8 %; the log grid used here
/// well under 1 %). The sharper check compares with the variance the sampler gives with the exact
/// denoiser (`ancestral_variance`), within 4 standard errors.
#[test]
fn ddpm_eps_model_samples_its_variance() {
    let path = root().join("assets/models/onnx-gaussian-var2-d16-ddpm-eps.onnx");
    let model = format!(
        r#"{{"kind": "onnx", "path": {:?}, "dim": 16, "inputs": {{"x": "x", "t": "t"}}, "output": "out",
            "prediction": "eps",
            "time": {{"kind": "ddpm", "betas": "linear", "beta_start": 0.0001, "beta_end": 0.02, "train_steps": 1000}}}}"#,
        path.display().to_string()
    );
    let scene =
        Scene::from_json_str(&onnx_scene_json(&model, SAMPLER, 4000), Path::new("b.json")).unwrap();
    let built = scene.model.build(Path::new("")).unwrap();
    let run = run_trajectories(
        built.denoiser(),
        None,
        &scene.sampling_spec(),
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let n = run.states.len() as f64;
    let mean = run.states.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let variance = run
        .states
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    let t: f64 = 0.01;
    let want = 2.0 * (-2.0 * t).exp() - (-2.0 * t).exp_m1();
    let sampler = ancestral_variance(2.0);
    println!(
        "variance {variance:.4} (exact marginal {want:.4}, the sampler's own {sampler:.4}), mean {mean:.4}"
    );
    assert!(
        (variance / want - 1.0).abs() < 0.05,
        "variance {variance} vs {want}"
    );
    // Sharper: the variance this sampler gives with the exact denoiser, within 4 standard errors.
    let se = sampler * (2.0 / n).sqrt();
    assert!(
        (variance - sampler).abs() < 4.0 * se,
        "variance {variance} vs {sampler} ± {se}"
    );
    // Mean: standard error √(2/64000) ≈ 0.0056.
    assert!(mean.abs() < 4.0 * (2.0 / n).sqrt(), "mean {mean}");
}

/// The shipped ONNX scene in the speciation lab: the exact two-Gaussian denoiser as a graph, measured
/// against the theory of its `reference`, crosses the midpoint level within 0.07 of the exact t_mid
/// (bootstrap s.e. ≈ 0.017 at 2000 pairs; the exact model's own run lands 0.026 below theory).
#[test]
fn speciation_of_the_onnx_scene_meets_the_exact_theory() {
    let scene = Scene::load(&root().join("assets/scenes/onnx-two-gaussians.json")).unwrap();
    assert!(scene.model.has_theory());
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    let report = run_lab(&scene, &speciation_settings(&scene), &mut control).unwrap();
    let theory = report.headline.theory.t_mid.unwrap();
    let measured = report.headline.measured.t_mid.unwrap();
    println!(
        "t_mid: measured {measured:.3} ± {:.3}, theory {theory:.3}",
        report.headline.measured.t_mid_stderr.unwrap_or(f64::NAN)
    );
    assert!(
        (theory - 0.5 * (32.0f64 / 1.7017).ln()).abs() < 1e-3,
        "{theory}"
    );
    assert!((measured - theory).abs() < 0.07, "{measured} vs {theory}");
}

/// A relative `path` resolves against the scene's folder (as for `learned`), from any working directory.
#[test]
fn a_graph_beside_its_scene_resolves_against_the_scene_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("assets/models/onnx-two-gaussians-d16.onnx"),
        dir.path().join("beside.onnx"),
    )
    .unwrap();
    std::fs::copy(
        root().join("assets/scenes/two-gaussians-d16.json"),
        dir.path().join("reference.json"),
    )
    .unwrap();
    let scene_file = dir.path().join("scene.json");
    let model = r#"{"kind": "onnx", "path": "beside.onnx", "dim": 16, "prediction": "x0",
        "reference": "reference.json"}"#;
    std::fs::write(&scene_file, onnx_scene_json(model, SAMPLER, 10)).unwrap();
    let scene = Scene::load(&scene_file).unwrap();
    let ModelSpec::Onnx(spec) = &scene.model else {
        panic!("an onnx scene")
    };
    assert_eq!(
        spec.path,
        std::path::absolute(dir.path().join("beside.onnx")).unwrap()
    );
    assert_eq!(
        spec.reference.as_deref(),
        Some(
            std::path::absolute(dir.path().join("reference.json"))
                .unwrap()
                .as_path()
        )
    );
    let built = scene.model.build(Path::new("")).unwrap();
    assert!(built.exact().is_none());
    assert_eq!(built.denoiser().dim(), 16);
    assert!(
        scene
            .model
            .reference_model(Path::new(""))
            .unwrap()
            .is_some()
    );
    // Round trip, with the defaults written out.
    let again = Scene::from_json_str(&scene.to_json_pretty().unwrap(), &scene_file).unwrap();
    assert_eq!(again, scene);
}

/// One line naming the key and the file, for every bad scene key or model.
#[test]
fn bad_models_and_keys_give_one_error_naming_the_file_and_key() {
    let good = root().join("assets/models/onnx-two-gaussians-d16.onnx");
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"this is not a protobuf \xff\xfe\x00\x01").unwrap();
    let with = |path: &Path, rest: &str| {
        format!(
            r#"{{"kind": "onnx", "path": {:?}, "dim": 16, "prediction": "x0"{rest}}}"#,
            path.display().to_string()
        )
    };
    let cases: Vec<(String, &str, String)> = vec![
        (
            with(Path::new("no/such/model.onnx"), ""),
            "model.path",
            "no/such/model.onnx".into(),
        ),
        (with(&garbage, ""), "model.path", "garbage.onnx".into()),
        (
            with(&good, r#", "inputs": {"x": "state", "t": "t"}"#),
            "model.inputs.x",
            "\"state\"".into(),
        ),
        (
            with(&good, r#", "inputs": {"x": "x", "t": "sigma"}"#),
            "model.inputs.t",
            "\"sigma\"".into(),
        ),
        (
            with(&good, r#", "output": "denoised""#),
            "model.output",
            "\"denoised\"".into(),
        ),
        (
            with(&good, "").replace(r#""dim": 16"#, r#""dim": 32"#),
            "model.dim",
            "dim = 32".into(),
        ),
    ];
    for (model, key, detail) in cases {
        let e = build(&onnx_scene_json(&model, SAMPLER, 10)).err().unwrap();
        println!("{e}");
        assert!(e.contains(key) && e.contains(&detail), "{key}: {e}");
        assert!(e.contains(".onnx"), "names the file: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    // Scene keys, checked before any file is read: the error names the key and the scene file.
    let scene_cases = [
        (
            r#", "time": {"kind": "ddpm", "betas": "linear", "beta_end": 0.02}"#,
            "model.time.beta_start",
        ),
        (
            r#", "time": {"kind": "ddpm", "betas": "cosine", "beta_start": 0.1}"#,
            "model.time.beta_start",
        ),
        (
            r#", "time": {"kind": "ddpm", "betas": "linear", "beta_start": 1e-4, "beta_end": 1.5}"#,
            "model.time.beta_end",
        ),
        (
            r#", "time": {"kind": "ddpm", "betas": "linear", "beta_start": 1e-4, "beta_end": 0.02, "train_steps": 1}"#,
            "model.time.train_steps",
        ),
        (
            r#", "time": {"kind": "vp", "beta_min": 5, "beta_max": 1}"#,
            "model.time.beta_max",
        ),
        (
            r#", "time": {"kind": "rectified_flow", "scale": 0}"#,
            "model.time.scale",
        ),
        (r#", "time": {"kind": "karras"}"#, "model.time"),
        (
            r#", "time": {"kind": "edm", "sigma_data": 0.5}"#,
            "model.time",
        ),
        (r#", "inputs": {"x": "x", "t": "x"}"#, "model.inputs.t"),
        (r#", "output": """#, "model.output"),
    ];
    for (rest, key) in scene_cases {
        let e = build(&onnx_scene_json(&with(&good, rest), SAMPLER, 10))
            .err()
            .unwrap();
        assert!(
            e.contains(key) && e.contains("onnx-scene.json"),
            "{key}: {e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let e = build(&onnx_scene_json(
        &with(&good, "").replace(r#""prediction": "x0""#, r#""prediction": "noise""#),
        SAMPLER,
        10,
    ))
    .err()
    .unwrap();
    assert!(
        e.contains("model.prediction") && e.contains("onnx-scene.json"),
        "{e}"
    );
}

/// A graph that returns NaN: it loads, and the first step ends as one error naming the output key and
/// the file, in the library and through `diffscope sample` (no panic, exit status 1 or 2).
#[test]
fn a_graph_returning_nan_is_one_error_not_a_panic() {
    let path = data("nan-d16.onnx");
    let model = model_json(&path, "x0", r#"{"kind": "ou"}"#);
    let json = onnx_scene_json(&model, SAMPLER, 50);
    let built = build(&json).unwrap();
    let (x, mut out) = (vec![0.5f32; 32], vec![0f32; 32]);
    let e = built
        .denoiser()
        .denoise(&x, 1.0, &mut out, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.output") && e.contains("NaN") && e.contains("nan-d16.onnx"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let scene_file = dir.path().join("nan.json");
    std::fs::write(&scene_file, &json).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .arg("sample")
        .arg(&scene_file)
        .arg("--out")
        .arg(dir.path().join("out.npy"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(error_lines.len(), 1, "{stderr}");
    assert!(
        error_lines[0].contains("NaN") && error_lines[0].contains("nan-d16.onnx"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.npy").exists());
}
