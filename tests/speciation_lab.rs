//! The speciation lab beyond the reference table: martingale of the class posterior along exact reverse
//! dynamics, commitment against its prediction, the U-turn curve, cancellation, the report and the CLI
//! (JSON contents, clear errors for bad settings).

use diffscope::analysis::speciation::cloning::{ReverseSettings, run_cloning};
use diffscope::analysis::speciation::commitment::{EPSILON, commitment, martingale};
use diffscope::analysis::speciation::gaussian::{classes_of, pair_moments};
use diffscope::analysis::speciation::hierarchy::levels;
use diffscope::analysis::speciation::labeller::{ExactLabeller, LabelRule};
use diffscope::analysis::speciation::posterior_curve::{ForwardSamples, phi_posterior};
use diffscope::analysis::speciation::report::{CloneTimes, SpeciationSettings, run_speciation};
use diffscope::analysis::speciation::uturn::run_uturn;
use diffscope::analysis::speciation::{Control, SpeciationError};
use diffscope::model::analytic::AnalyticModel;
use diffscope::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use std::process::Command;
use std::sync::atomic::AtomicBool;

const SEED: u64 = 11;

/// w N(+m, I) + (1 − w) N(−m, I) with every mean coordinate ±`m`.
fn two_gaussians(dim: usize, m: f64, w: f64) -> GaussianMixture {
    let part = |weight: f64, sign: f64| ComponentSpec {
        weight,
        mean: vec![sign * m; dim],
        cov: Covariance::Isotropic(1.0),
        label: String::new(),
    };
    GaussianMixture::new(dim, vec![part(w, 1.0), part(1.0 - w, -1.0)]).unwrap()
}

fn quiet<T>(f: impl FnOnce(&mut Control) -> T) -> T {
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    f(&mut control)
}

#[test]
fn mean_posterior_is_a_martingale_and_commitment_follows_theory() {
    // Case A geometry (d = 64, |m|² = 64). 2000 trajectories from exact initialisation at T = 4.5.
    let model = two_gaussians(64, 1.0, 0.5);
    let settings = ReverseSettings::new(vec![2.0], 2000, LabelRule::Argmax, SEED);
    let run = quiet(|c| run_cloning(&model, &model, &ExactLabeller(&model), &settings, c)).unwrap();
    let level = &levels(2, None).unwrap()[0];
    let diag = martingale(&run, level, &[0.5, 0.5]);
    assert_eq!(diag.t.len(), run.times.len());
    assert!(
        diag.worst < 3.0,
        "mean r_k left w_k by {} standard errors",
        diag.worst
    );

    // The same diagnostic catches dynamics that do not match the labeller (weights 0.8 / 0.2).
    let wrong = two_gaussians(64, 1.0, 0.8);
    let biased =
        quiet(|c| run_cloning(&wrong, &model, &ExactLabeller(&model), &settings, c)).unwrap();
    assert!(martingale(&biased, level, &[0.5, 0.5]).worst > 10.0);

    // Committed fraction P(r_{k*}(t) ≥ 1 − ε) against Φ_N((D − ln 9)/sqrt(2D)), exact here because ΔΦ
    // is Gaussian. Binomial sd ≤ 0.5/sqrt(2000) = 0.011; 0.05 is > 4 sd at every compared time.
    let classes = classes_of(&model);
    let d_of_t = |t: f64| pair_moments(&classes[0], &classes[1], t).mean;
    let summary = commitment(&run, level, EPSILON, Some(&d_of_t));
    let predicted = summary.committed_fraction.predicted.as_ref().unwrap();
    for ((t, m), p) in summary
        .committed_fraction
        .t
        .iter()
        .zip(&summary.committed_fraction.measured)
        .zip(predicted)
    {
        assert!(
            (m - p).abs() < 0.05,
            "t = {t}: committed {m} vs predicted {p}"
        );
    }
    // Commitment happens after (below) the speciation time t_mid ≈ 2.16 for nearly every trajectory.
    let late = summary.times.iter().filter(|&&t| t > 2.6).count();
    assert!(
        late < summary.times.len() / 20,
        "{late} trajectories committed above t = 2.6"
    );
    assert_eq!(
        summary.histogram.counts.iter().sum::<usize>(),
        summary.times.len()
    );
}

#[test]
fn uturn_with_sampled_labels_follows_the_posterior_curve() {
    // For an exact score and sampled labels P(keep) = φ_post(t) (docs/science/speciation.md §3.1 item 6). d = 16, |m|² = 16.
    let model = two_gaussians(16, 1.0, 0.5);
    let times = vec![0.6, 1.0, 1.4, 1.8];
    let settings = ReverseSettings::new(times.clone(), 3000, LabelRule::Sampled, SEED);
    let run = quiet(|c| run_uturn(&model, &model, &ExactLabeller(&model), &settings, c)).unwrap();
    let level = &levels(2, None).unwrap()[0];
    let matches = run.matches(level);
    let samples = ForwardSamples::draw(&model, 20_000, SEED);
    for (c, &t) in times.iter().enumerate() {
        let kept = matches[c * 3000..(c + 1) * 3000]
            .iter()
            .filter(|&&m| m)
            .count() as f64
            / 3000.0;
        let theory = phi_posterior(&model, &samples, std::slice::from_ref(level), t).unwrap()[0];
        // Binomial sd sqrt(φ(1 − φ)/3000) ≤ 0.0091 plus the h = 0.02 step bias: 0.035 ≈ 3.8 sd.
        assert!(
            (kept - theory).abs() < 0.035,
            "t = {t}: U-turn {kept} vs φ_post {theory}"
        );
    }
}

#[test]
fn cancel_stops_a_run() {
    let model = two_gaussians(8, 1.0, 0.5);
    let settings = ReverseSettings::new(vec![1.0], 100, LabelRule::Argmax, SEED);
    let mut seen = 0;
    let mut progress = |_: f32, _: &str| seen += 1;
    let cancel = AtomicBool::new(true);
    let mut control = Control::new(&mut progress, &cancel);
    let err = run_cloning(
        &model,
        &model,
        &ExactLabeller(&model),
        &settings,
        &mut control,
    )
    .unwrap_err();
    assert!(matches!(err, SpeciationError::Cancelled), "{err}");
    assert_eq!(seen, 1, "stops at the first step boundary");
}

#[test]
fn cloning_runs_as_a_worker_job_with_progress_and_cancel() {
    use diffscope::analysis::speciation::with_job;
    use diffscope::worker::{JobError, JobEvent, Worker};
    use std::sync::Arc;
    use std::time::Duration;
    let worker = Worker::new(1);
    let model = Arc::new(two_gaussians(64, 1.0, 0.5));
    let job_model = Arc::clone(&model);
    let id = worker.submit("cloning", move |job| {
        let settings = ReverseSettings::new(vec![1.0, 2.0, 3.0], 20_000, LabelRule::Argmax, SEED);
        let labeller = ExactLabeller(job_model.as_ref());
        let run = with_job(job, |c| {
            run_cloning(
                job_model.as_ref(),
                job_model.as_ref(),
                &labeller,
                &settings,
                c,
            )
        })
        .map_err(JobError::from)?;
        Ok(Arc::new(run.pairs))
    });
    let mut cancelled = false;
    while let Ok(event) = worker.events().recv_timeout(Duration::from_secs(60)) {
        match event {
            JobEvent::Progress { fraction, .. } => {
                assert!((0.0..=1.0).contains(&fraction));
                worker.cancel(id);
            }
            JobEvent::Cancelled { .. } => {
                cancelled = true;
                break;
            }
            JobEvent::Finished { .. } => break,
            JobEvent::Started { .. } => {}
        }
    }
    assert!(
        cancelled,
        "the job was not cancelled after its first progress report"
    );
}

#[test]
fn bad_settings_give_clear_errors() {
    let model = AnalyticModel::Gaussian(two_gaussians(8, 1.0, 0.5));
    let run = |edit: &dyn Fn(&mut SpeciationSettings)| {
        let mut settings = SpeciationSettings::new(SEED, 5.0);
        settings.posterior_samples = 100;
        edit(&mut settings);
        quiet(|c| run_speciation(&model, None, &settings, c))
            .unwrap_err()
            .to_string()
    };
    let e = run(&|s| s.clone_times = CloneTimes::Times(vec![0.5, 0.0]));
    assert!(e.contains("clone time 0 must be > 0"), "{e}");
    let e = run(&|s| s.clone_times = CloneTimes::Times(vec![0.5, 5.0]));
    assert!(
        e.contains("clone time 5 must be below the sampler's t_max = 5"),
        "{e}"
    );
    let e = run(&|s| s.pairs = 0);
    assert!(e.contains("pairs must be at least 1"), "{e}");
    let e = run(&|s| s.groups = Some(vec![vec![0]]));
    assert!(e.contains("misses class 1"), "{e}");
}

fn scene_json(speciation: &str) -> String {
    format!(
        r#"{{"model": {{"kind": "gaussian_mixture", "dim": 8, "components": [
            {{"weight": 0.5, "mean": {{"fill": 1.0}}, "cov": {{"isotropic": 1.0}}}},
            {{"weight": 0.5, "mean": {{"fill": -1.0}}, "cov": {{"isotropic": 1.0}}}}]}},
          "sampler": {{"kind": "ancestral", "steps": 100, "t_max": 5.0, "t_min": 0.01}},
          "trajectories": 10, "seed": 3{speciation}}}"#
    )
}

fn diffscope(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_writes_json_with_theory_and_measurement() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene.json");
    std::fs::write(
        &scene,
        scene_json(r#", "speciation": {"clone_times": [0.4, 0.8, 1.2, 1.6, 2.0], "pairs": 300}"#),
    )
    .unwrap();
    let json = dir.path().join("out.json");
    let out = diffscope(&[
        "speciation".as_ref(),
        scene.as_os_str(),
        "--json".as_ref(),
        json.as_os_str(),
        "--seed".as_ref(),
        "5".as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The names the app shows, one line per quantity; no internal jargon.
    for name in [
        "theory (exact at this dimension)",
        "leading order (approximation)",
        "½ ln Λ",
        "midpoint crossing",
        "U-turn midpoint",
        "commitment",
    ] {
        assert!(stdout.contains(name), "{name}: {stdout}");
    }
    for jargon in ["t_BBDM", "@balance-level", "worst |mean r"] {
        assert!(!stdout.contains(jargon), "{jargon}: {stdout}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["seed"], 5);
    assert!(v["scene"].as_str().unwrap().ends_with("scene.json"));
    assert!(v["version"].is_string());
    // |m|² = 8: exact balance ½ ln 8 and midpoint ½ ln(16/D*), both exact (closed form) headlines.
    let theory = &v["theory"];
    assert!(
        (theory["t_balance"].as_f64().unwrap() - 0.5 * 8f64.ln()).abs() < 1e-6,
        "{theory}"
    );
    assert!(
        (theory["t_mid"].as_f64().unwrap() - 0.5 * (16.0 / 1.7017f64).ln()).abs() < 1e-3,
        "{theory}"
    );
    assert!(theory["leading_order"]["t_mid"].is_number() && theory["t_bbdm"].is_number());
    assert!(theory["method"].as_str().unwrap().contains("closed form"));
    assert!(v["measured"]["t_mid"].is_number() && v["measured"]["t_mid_stderr"].is_number());
    assert_eq!(v["phi_cloning"]["phi"].as_array().unwrap().len(), 5);
    assert_eq!(v["phi_posterior"]["t"].as_array().unwrap().len(), 41);
    assert!(
        v["commitment"]["histogram"]["counts"].is_array() && v["martingale"]["worst"].is_number()
    );
    assert_eq!(v["levels"].as_array().unwrap().len(), 1);
}

#[test]
fn cli_rejects_bad_settings_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // The scene loader rejects some values itself (naming the key); the rest are ours. Either way: one
    // clear line naming the problem.
    let cases = [
        (
            r#", "speciation": {"clone_times": [-1.0, 1.0]}"#,
            "",
            "clone time must be in (0, 50], got -1",
        ),
        (
            r#", "speciation": {"clone_times": [1.0, 6.0]}"#,
            "",
            "must be below the sampler's t_max = 5",
        ),
        (
            r#", "speciation": {"pairs": 0}"#,
            "",
            "pairs must be in 1..=10000000, got 0",
        ),
        ("", "0", "pairs must be at least 1"),
        (
            r#", "speciation": {"groups": [[0]]}"#,
            "",
            "class 1 is in no group",
        ),
    ];
    for (i, (block, pairs, message)) in cases.iter().enumerate() {
        let scene = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&scene, scene_json(block)).unwrap();
        let mut args: Vec<&std::ffi::OsStr> = vec!["speciation".as_ref(), scene.as_os_str()];
        if !pairs.is_empty() {
            args.push("--pairs".as_ref());
            args.push(pairs.as_ref());
        }
        let out = diffscope(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(message), "{block}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}
