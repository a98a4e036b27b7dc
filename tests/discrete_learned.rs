//! The learned masked-diffusion model (`docs/science/discrete.md` §3, learned): the shipped Dyck-2
//! model against its exact reference (Dyck validity and mean KL of the marginals along its
//! trajectories), its scene kind `learned_masked` (keys, errors naming them, the refused `exact`
//! sampler, bad weight files), and deterministic training.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use diffscope::analysis::control::Control;
use diffscope::analysis::speciation::discrete_cloning::{
    DiscreteCloningSettings, run_discrete_cloning,
};
use diffscope::analysis::speciation::labeller::LabelRule;
use diffscope::analysis::view_data::discrete_lab::{ComparisonPlan, compare_learned};
use diffscope::diffusion::discrete::DiscreteSampler;
use diffscope::model::discrete::dyck::{DyckClasses, DyckModel};
use diffscope::model::discrete::{MASK, TokenModel};
use diffscope::model::learned::config::MaskedDiffusionConfig;
use diffscope::model::learned::masked::{MaskedDiffusion, MaskedTraining};
use diffscope::model::learned::train::{TrainOptions, train};
use diffscope::scene::{SceneFile, TokenScene};

const SCENE: &str = "dyck2-l16-learned-masked.json";

fn shipped_scene() -> TokenScene {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenes")
        .join(SCENE);
    match SceneFile::load(&path).unwrap() {
        SceneFile::Tokens(t) => t,
        SceneFile::Diffusion(_) => panic!("expected a token scene"),
    }
}

fn parse(text: &str) -> Result<SceneFile, diffscope::scene::SceneError> {
    SceneFile::from_json_str(text, Path::new("scenes/bad.json"))
}

#[test]
fn the_shipped_dyck_model_is_valid_and_close_to_the_exact_marginals_at_16_steps() {
    let scene = shipped_scene();
    let model = scene.build_model().unwrap();
    let learned = model.learned().expect("a learned model");
    let plan = ComparisonPlan {
        samplers: &[DiscreteSampler::Confidence],
        steps: &[16],
        rows: 500,
    };
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    let comparison = compare_learned(&scene, learned, &plan, &mut control).unwrap();
    let run = &comparison.runs[0];
    let (validity, exact) = (run.validity.unwrap(), run.exact_validity.unwrap());
    // Measured (seed 1, 500 words): learned validity 0.312, exact marginals 0.736; mean KL 0.068
    // nats over 3,523 states some Dyck word explains, 35 % of the visited states explained by none.
    // The validity's binomial s.e. is √(0.31 · 0.69/500) ≈ 0.021, so 0.2 is 5 s.e. below the
    // measurement and still 2,300× chance (8.5e-5); the exact marginals do better by far more than
    // both errors. The KL bound 0.15 is twice the measurement (its s.e. over 500 trajectories is a
    // few per cent of it) and below the untrained network's ≈ 0.3 (near-uniform marginals), so an
    // untrained or mis-loaded model fails; the brief's bound of one is far looser.
    assert!(validity > 0.2, "learned validity {validity}");
    assert!(
        exact > validity + 0.2,
        "exact {exact} vs learned {validity}"
    );
    assert!(
        run.mean_kl > 0.0 && run.mean_kl < 0.15,
        "mean KL {}",
        run.mean_kl
    );
    assert!(run.kl_states > 1000, "{} states", run.kl_states);
    assert!(run.off_support < 0.5, "off support {}", run.off_support);
}

#[test]
fn the_network_marginals_are_distributions_and_keep_revealed_symbols() {
    let model = shipped_scene().build_model().unwrap();
    let network = model.learned().unwrap().network();
    let mut word = vec![MASK; 16];
    word[0] = 0; // "(" revealed first
    let p = network.marginals(&word, 1).unwrap();
    for (i, row) in p.chunks_exact(4).enumerate() {
        let total: f32 = row.iter().sum();
        assert!((total - 1.0).abs() < 1e-5, "site {i}: {total}");
    }
    assert_eq!(&p[..4], &[1.0, 0.0, 0.0, 0.0]);
    // The last symbol of a balanced word closes: a trained model gives it almost all the mass
    // (the exact marginal gives opening brackets 0 there).
    let last = &p[15 * 4..];
    assert!(last[1] + last[3] > 0.9, "last site {last:?}");
    // A symbol the vocabulary does not have is an error, not a panic.
    assert!(network.marginals(&[7; 16], 1).is_err());
}

/// One error line naming each needle and the file.
fn assert_error(text: &str, needles: &[&str]) {
    let err = match parse(text) {
        Ok(SceneFile::Tokens(scene)) => match scene.build_model() {
            Ok(_) => panic!("{text} should be rejected"),
            Err(e) => e.to_string(),
        },
        Ok(_) => panic!("{text} should be rejected"),
        Err(e) => e.to_string(),
    };
    assert!(!err.contains('\n'), "one line: {err:?}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "error {err:?} should mention {needle:?}"
        );
    }
}

fn scene_with(model: &str, sampler: &str, noise: &str) -> String {
    format!(
        r#"{{"noise": {{"kind": "{noise}"}}, "model": {model},
        "sampler": {{"kind": "{sampler}", "steps": 8, "t_max": 8, "t_min": 0.001}},
        "trajectories": 4, "seed": 0}}"#
    )
}

fn shipped_weights() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/masked-dyck2-l16.safetensors")
}

fn learned_model(path: &Path, reference: &str) -> String {
    format!(
        r#"{{"kind": "learned_masked", "path": "{}", "reference": {reference}}}"#,
        path.display()
    )
}

const DYCK16: &str = r#"{"kind": "dyck", "length": 16}"#;

#[test]
fn bad_learned_keys_name_the_key() {
    let good = learned_model(&shipped_weights(), DYCK16);
    let SceneFile::Tokens(scene) = parse(&scene_with(&good, "factorized", "mask")).unwrap() else {
        panic!("a token scene");
    };
    scene.build_model().unwrap();
    // The exact sampler needs joint draws the network does not have.
    assert_error(
        &scene_with(&good, "exact", "mask"),
        &["sampler.kind", "exact", "scenes/bad.json"],
    );
    // Trained under mask noise only.
    assert_error(
        &scene_with(&good, "factorized", "flip"),
        &["noise.kind", "mask"],
    );
    for (reference, needles) in [
        (r#""dyck""#, &["model.reference", "object"][..]),
        (r#"{"length": 16}"#, &["model.reference", "kind"]),
        (r#"{"kind": "learned_masked"}"#, &["model.reference.kind"]),
        (
            r#"{"kind": "dyck", "length": 15}"#,
            &["model.reference.length"],
        ),
        (
            r#"{"kind": "dyck", "length": 16, "colour": 1}"#,
            &["model.reference", "colour"],
        ),
        (
            r#"{"kind": "ising_mixture", "dim": 16, "coupling": 1, "boundary": "open",
               "components": [{"weight": 1, "beta": 500}]}"#,
            &["model.reference.components[0].beta"],
        ),
    ] {
        let model = learned_model(&shipped_weights(), reference);
        assert_error(&scene_with(&model, "factorized", "mask"), needles);
    }
    let unknown = good.replacen("\"path\"", "\"weights\": 1, \"path\"", 1);
    assert_error(
        &scene_with(&unknown, "factorized", "mask"),
        &["model", "weights"],
    );
}

#[test]
fn bad_weight_files_give_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a model").unwrap();
    let missing = dir.path().join("missing.safetensors");
    let dit = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/dit-dyck2.safetensors");
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    for (path, reference, needles) in [
        (&garbage, DYCK16, vec![name(&garbage)]),
        (&missing, DYCK16, vec![name(&missing)]),
        (
            &dit,
            DYCK16,
            vec!["not a masked-diffusion model".into(), name(&dit)],
        ),
        (
            &shipped_weights(),
            r#"{"kind": "dyck", "length": 8}"#,
            vec!["L = 16".into(), "L = 8".into()],
        ),
    ] {
        let model = learned_model(path, reference);
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        assert_error(&scene_with(&model, "confidence", "mask"), &needles);
    }
}

#[test]
fn training_is_deterministic_by_seed_and_lowers_the_loss() {
    let data = DyckModel::new(8, 2, DyckClasses::FirstBracket).unwrap();
    let config = MaskedDiffusionConfig {
        width: 16,
        heads: 2,
        ..MaskedDiffusionConfig::small(8, 4)
    };
    let options = TrainOptions {
        steps: 300,
        lr_start: 3e-3,
        lr_end: 3e-3,
        ..TrainOptions::default()
    };
    let trained = |seed: u64| {
        let network = MaskedDiffusion::seeded(config.clone(), seed).unwrap();
        let objective = MaskedTraining {
            model: &network,
            data: &data,
            seed,
            batch: 32,
        };
        let report = train(&objective, &options, &mut |_| {}, &AtomicBool::new(false)).unwrap();
        (network.params().export().unwrap(), report)
    };
    let (first, report) = trained(4);
    let (again, _) = trained(4);
    let (other, _) = trained(5);
    assert_eq!(first, again);
    assert_ne!(first, other);
    // The weights 1/(mL) make the loss the mean cross-entropy of the masked sites: at least ln 4 =
    // 1.386 for the random initial logits (measured 1.59 over the first 10 steps), and at best the
    // entropy ln(14 · 16)/8 = 0.676 nats per site of Dyck-2 at L = 8. Measured after 300 steps:
    // 0.98 (last 100 steps), held-out 0.89.
    let start = report.losses[..10].iter().sum::<f32>() / 10.0;
    assert!(start > 4f32.ln(), "start {start}");
    assert!(report.final_loss < 1.1, "final {}", report.final_loss);
    assert!(report.heldout_loss > 0.676, "below the entropy floor");
    assert_eq!(data.length(), 8);
}

/// Cloning on the shipped Dyck-2 model (confidence, 16 steps): clones that branch at t = 0.05 share
/// nearly every revealed symbol, so their final words share the first bracket and the same class,
/// even though most of those words are unbalanced (learned validity ≈ 0.31 above). Their labels come
/// from the class rule (`TokenModel::class_of_unexplained`): with labels drawn from the class weights
/// for unbalanced words, as before, φ at that time measured 0.68 ± 0.03 (this test failed). With
/// 300 pairs the binomial s.e. near φ = 1 is ≤ 0.02, so 0.9 is a margin of several s.e. on both
/// sides.
#[test]
fn clones_of_the_learned_model_share_the_class_of_their_first_bracket() {
    let scene = shipped_scene();
    let model = scene.build_model().unwrap();
    let sampler = scene.token_spec();
    let settings = DiscreteCloningSettings {
        noise: scene.noise,
        sampler: sampler.sampler,
        steps: sampler.steps,
        t_max: sampler.t_max,
        t_min: sampler.t_min,
        grid: sampler.grid,
        clone_times: vec![0.05, 6.0],
        pairs: 300,
        labels: LabelRule::Sampled,
        seed: 1,
    };
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    let cloning = run_discrete_cloning(model.model(), &settings, &mut control).unwrap();
    let (late, early) = (&cloning.phi[0], &cloning.phi[1]);
    assert!(
        late.mean > 0.9,
        "φ(0.05) = {} ± {}",
        late.mean,
        late.std_error
    );
    // Branched near t_max almost every symbol is still masked: the clones decide apart.
    assert!(early.mean < late.mean - 0.2, "φ(6) = {}", early.mean);
}
