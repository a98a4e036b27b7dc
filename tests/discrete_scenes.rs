//! Token scenes (`docs/science/discrete.md` §7): the new keys parse into the models and runs they name;
//! every bad key or value gives one error naming the key and the file; `diffscope sample` on a shipped
//! token scene writes uint8 tokens and their times; `diffscope speciation --json` on the M1 scene gives
//! the exact crossing of §6.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diffscope::diffusion::GridSpacing;
use diffscope::diffusion::discrete::DiscreteSampler;
use diffscope::model::discrete::{DiscreteNoise, MASK};
use diffscope::scene::{
    DyckLabels, Scene, SceneFile, SceneTokenModel, TokenModelSpec, TokenSamplerKind, TokenScene,
};

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenes")
        .join(name)
}

const M1: &str = "ising-fields-mask-m1.json";
const DYCK: &str = "dyck2-l16-mask-confidence.json";

fn tokens(file: SceneFile) -> TokenScene {
    match file {
        SceneFile::Tokens(t) => t,
        SceneFile::Diffusion(_) => panic!("expected a token scene"),
    }
}

#[test]
fn the_shipped_token_scenes_parse_into_their_models() {
    let m1 = tokens(SceneFile::load(&shipped(M1)).unwrap());
    assert_eq!(m1.noise, DiscreteNoise::Mask);
    assert_eq!(m1.sampler.kind, TokenSamplerKind::Exact);
    let TokenModelSpec::IsingMixture(spec) = &m1.model else {
        panic!("M1 is an Ising mixture")
    };
    let fields: Vec<f64> = spec.components.iter().map(|c| c.field).collect();
    assert_eq!(fields, [0.202733, -0.202733]);
    let SceneTokenModel::Ising(chain) = m1.build_model().unwrap() else {
        panic!("M1 builds a chain model")
    };
    assert_eq!(chain.fields(), &[0.202733, -0.202733]);
    assert_eq!(chain.couplings(), &[0.0, 0.0]);
    let spec = m1.token_spec();
    assert_eq!(
        (spec.sampler, spec.steps, spec.grid, spec.trajectories),
        (DiscreteSampler::Exact, 128, GridSpacing::Log, 2000)
    );

    let dyck = tokens(SceneFile::load(&shipped(DYCK)).unwrap());
    let TokenModelSpec::Dyck(d) = &dyck.model else {
        panic!("a Dyck scene")
    };
    assert_eq!(
        (d.length, d.brackets, d.labels),
        (16, 2, DyckLabels::FirstBracket)
    );
    assert_eq!(dyck.sampler.kind, TokenSamplerKind::Confidence);
    let model = dyck.build_model().unwrap();
    assert_eq!((model.model().length(), model.model().vocab()), (16, 4));
    // Token scenes are not continuous scenes: the fronts that read only those say why.
    let err = Scene::load(&shipped(DYCK)).unwrap_err().to_string();
    assert!(err.contains("noise.kind") && err.contains(DYCK), "{err}");
}

const GOOD: &str = r#"{
  "noise": {"kind": "mask"},
  "model": {"kind": "ising_mixture", "dim": 8, "coupling": 1.0, "boundary": "open",
    "components": [{"weight": 0.5, "beta": 0.3, "field": 0.1}, {"weight": 0.5, "beta": 0.8}]},
  "sampler": {"kind": "factorized", "steps": 20, "t_max": 6, "t_min": 0.01},
  "trajectories": 10, "seed": 1
}"#;

const DYCK_GOOD: &str = r#"{
  "noise": {"kind": "flip"},
  "model": {"kind": "dyck", "length": 6, "labels": {"max_depth_at_least": 2}},
  "sampler": {"kind": "exact", "steps": 20, "t_max": 6, "t_min": 0.01},
  "trajectories": 10, "seed": 1
}"#;

fn parse(text: &str) -> Result<SceneFile, diffscope::scene::SceneError> {
    SceneFile::from_json_str(text, Path::new("scenes/bad.json"))
}

#[test]
fn every_new_key_parses() {
    let s = tokens(parse(GOOD).unwrap());
    let TokenModelSpec::IsingMixture(m) = &s.model else {
        panic!()
    };
    assert_eq!((m.components[0].field, m.components[1].field), (0.1, 0.0));
    assert_eq!(s.sampler.kind, TokenSamplerKind::Factorized);
    let d = tokens(parse(DYCK_GOOD).unwrap());
    assert_eq!(d.noise, DiscreteNoise::Flip);
    let TokenModelSpec::Dyck(spec) = &d.model else {
        panic!()
    };
    // brackets defaults to 2 (four symbols).
    assert_eq!(
        (spec.brackets, spec.labels),
        (2, DyckLabels::MaxDepthAtLeast(2))
    );
    assert_eq!(d.build_model().unwrap().model().class_labels().len(), 2);
    // Round trips, and an explicit Gaussian noise block is today's scene.
    for text in [GOOD, DYCK_GOOD] {
        let file = parse(text).unwrap();
        let again = parse(&file.to_json_pretty().unwrap()).unwrap();
        assert_eq!(file, again);
    }
    let gaussian = r#"{"noise": {"kind": "gaussian"},
        "model": {"kind": "ising_mixture", "dim": 5, "coupling": 1, "boundary": "open",
        "components": [{"weight": 1, "beta": 0.5, "field": 0}]},
        "sampler": {"kind": "ode", "steps": 10, "t_max": 3, "t_min": 0.1}, "trajectories": 1, "seed": 0}"#;
    assert!(matches!(parse(gaussian).unwrap(), SceneFile::Diffusion(_)));
}

/// `base` with one textual replacement must fail with one error naming `key` (and the file).
fn assert_bad(base: &str, from: &str, to: &str, needles: &[&str]) {
    assert!(base.contains(from), "test setup: {from:?} not in the scene");
    let text = base.replacen(from, to, 1);
    let err = parse(&text)
        .expect_err(&format!("{to:?} should be rejected"))
        .to_string();
    assert!(!err.contains('\n'), "one line: {err:?}");
    for needle in needles.iter().chain(&["scenes/bad.json"]) {
        assert!(
            err.contains(needle),
            "error {err:?} should mention {needle:?}"
        );
    }
}

#[test]
fn bad_token_keys_name_the_key() {
    assert_bad(GOOD, r#""mask""#, r#""blur""#, &["noise.kind", "blur"]);
    assert_bad(
        GOOD,
        r#"{"kind": "mask"}"#,
        r#"{"kind": "mask", "rate": 1}"#,
        &["noise.rate"],
    );
    // Discrete noise on continuous models, and a Dyck model under Gaussian noise.
    let gaussian_model = r#"{"kind": "gaussian_mixture", "dim": 2, "components": [
        {"weight": 1, "cov": {"isotropic": 1}}]}"#;
    assert_bad(
        GOOD,
        &GOOD[GOOD.find(r#"{"kind": "ising"#).unwrap()..GOOD.find(r#"  "sampler""#).unwrap()],
        &format!("{gaussian_model},\n"),
        &["noise.kind", "gaussian_mixture"],
    );
    assert_bad(
        GOOD,
        &GOOD[GOOD.find(r#"{"kind": "ising"#).unwrap()..GOOD.find(r#"  "sampler""#).unwrap()],
        "{\"kind\": \"learned\", \"path\": \"m.safetensors\"},\n",
        &["noise.kind", "learned"],
    );
    assert_bad(
        DYCK_GOOD,
        r#""noise": {"kind": "flip"},"#,
        "",
        &["noise.kind", "dyck"],
    );
    // Dyck values.
    assert_bad(
        DYCK_GOOD,
        r#""length": 6"#,
        r#""length": 7"#,
        &["model.length", "even"],
    );
    assert_bad(
        DYCK_GOOD,
        r#""length": 6"#,
        r#""length": 2000"#,
        &["model.length"],
    );
    assert_bad(
        DYCK_GOOD,
        r#""max_depth_at_least": 2"#,
        r#""max_depth_at_least": 4"#,
        &["model.labels.max_depth_at_least"],
    );
    assert_bad(
        DYCK_GOOD,
        r#""length": 6"#,
        r#""length": 6, "brackets": 0"#,
        &["model.brackets"],
    );
    assert_bad(
        DYCK_GOOD,
        r#"{"max_depth_at_least": 2}"#,
        r#""deepest""#,
        &["model.labels", "deepest"],
    );
    // Sampler values and families.
    assert_bad(
        GOOD,
        r#""steps": 20"#,
        r#""steps": -5"#,
        &["sampler.steps", "-5"],
    );
    assert_bad(GOOD, r#""steps": 20"#, r#""steps": 0"#, &["sampler.steps"]);
    assert_bad(
        GOOD,
        r#""kind": "factorized""#,
        r#""kind": "sde""#,
        &["sampler.kind", "sde", "mask"],
    );
    assert_bad(
        DYCK_GOOD,
        r#""kind": "exact""#,
        r#""kind": "confidence""#,
        &["sampler.kind", "mask noise", "flip"],
    );
    assert_bad(
        GOOD,
        r#""t_min": 0.01"#,
        r#""t_min": 0.01, "init": "gaussian""#,
        &["sampler.init"],
    );
    // Ising fields and the spin scale.
    assert_bad(
        GOOD,
        r#""field": 0.1"#,
        r#""field": NaN"#,
        &["field", "NaN"],
    );
    assert_bad(
        GOOD,
        r#""field": 0.1"#,
        r#""field": 1000"#,
        &["model.components[0].field"],
    );
    assert_bad(
        GOOD,
        r#""boundary": "open""#,
        r#""boundary": "open", "scale": 2"#,
        &["model.scale"],
    );
    assert_bad(
        GOOD,
        r#""beta": 0.8"#,
        r#""beta": 800"#,
        &["model.components[1].beta", "|K|"],
    );
    assert_bad(
        GOOD,
        r#""seed": 1"#,
        r#""seed": 1, "view": {"dims": 2}"#,
        &["view"],
    );
    // Gaussian noise: a field and a token sampler are refused.
    let gaussian = GOOD
        .replace(r#""noise": {"kind": "mask"},"#, "")
        .replace("factorized", "sde");
    assert_bad(
        &gaussian,
        r#""field": 0.1"#,
        r#""field": 0.1"#,
        &["model.components[0].field", "mask"],
    );
    assert_bad(
        &gaussian,
        r#""kind": "sde""#,
        r#""kind": "exact""#,
        &["sampler.kind", "exact", "gaussian"],
    );
}

fn diffscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

/// A version-1 .npy file: (descr, shape, data bytes).
fn read_npy(path: &Path) -> (String, Vec<usize>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert_eq!((10 + header_len) % 64, 0, "{header}");
    let descr = header.split('\'').nth(3).unwrap().to_string();
    let inner = &header[header.find("'shape': (").unwrap() + 10..];
    let shape = inner[..inner.find(')').unwrap()]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    (descr, shape, bytes[10 + header_len..].to_vec())
}

#[test]
fn sample_writes_uint8_tokens_and_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dyck.npy");
    let scene = shipped(DYCK);
    let run = diffscope(&[
        "sample",
        scene.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--trajectories",
        "20",
    ]);
    assert!(run.status.success(), "{run:?}");
    let (descr, shape, tokens) = read_npy(&out);
    // 64 grid steps from t_max to t_min, then t = 0: 66 stored times.
    assert_eq!(
        (descr.as_str(), shape.as_slice()),
        ("|u1", &[20, 66, 16][..])
    );
    assert_eq!(tokens.len(), 20 * 66 * 16);
    assert!(tokens.iter().all(|&v| v < 4 || v == MASK));
    for row in tokens.chunks(66 * 16) {
        // Fully masked at t_max = 8 is likely but not certain (α = 3.4e-4); fully revealed at t = 0.
        assert!(row[65 * 16..].iter().all(|&v| v < 4), "{row:?}");
    }
    let (descr, shape, times) = read_npy(&out.with_extension("times.npy"));
    assert_eq!((descr.as_str(), shape.as_slice()), ("<f8", &[66][..]));
    let times: Vec<f64> = times
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!((times[0], times[65]), (8.0, 0.0));
    assert!(times.windows(2).all(|w| w[0] > w[1]));

    let refused = diffscope(&[
        "sample",
        scene.to_str().unwrap(),
        "--out",
        dir.path().join("dyck.safetensors").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains(".npy") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn speciation_json_on_m1_gives_the_exact_crossing() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("m1.json");
    let scene = shipped(M1);
    let run = diffscope(&[
        "speciation",
        scene.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--pairs",
        "100",
    ]);
    assert!(run.status.success(), "{run:?}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("midpoint") && stdout.contains("φ_post"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["posterior_method"], "exact");
    assert_eq!(report["midpoint_level"], 0.75);
    // docs/science/discrete.md §6, case M1: t_mid = 1.1149, exact (tests/discrete_ising.rs: 1e-3).
    let t_mid = report["t_mid_posterior"].as_f64().unwrap();
    assert!((t_mid - 1.1149).abs() < 1e-3, "t_mid {t_mid}");
    let curve = report["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 9);
    for point in curve {
        let phi = point["phi_clone"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&phi), "{point}");
    }
    assert_eq!(report["pairs"], 100);
    assert_eq!(report["scene"], scene.to_str().unwrap());
    // The U-turn at the clone times, with C(r) over r = 0 … L − 1; commitment of the four mask samplers.
    let uturn = report["uturn"].as_array().unwrap();
    assert_eq!(uturn.len(), 9);
    assert_eq!(uturn[0]["correlation"].as_array().unwrap().len(), 64);
    let samplers: Vec<&str> = report["commitment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sampler"].as_str().unwrap())
        .collect();
    assert_eq!(
        samplers,
        ["exact", "factorized", "confidence", "autoregressive"]
    );
    assert_eq!(
        report["commitment"][0]["mean_by_site"]
            .as_array()
            .unwrap()
            .len(),
        64
    );
}
