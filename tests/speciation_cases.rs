//! The spec's reference cases (`spec/speciation.md` §4): exact-posterior crossings against the table and
//! cloning crossings against the exact-posterior ones. Sample sizes are the smallest whose statistical
//! error supports each tolerance; the reasoning is written beside each case.

use diffscope::analysis::speciation::Control;
use diffscope::analysis::speciation::cloning::{
    ReverseSettings, bootstrap_crossing, interpolated_crossing, phi_curve, run_cloning,
};
use diffscope::analysis::speciation::hierarchy::levels;
use diffscope::analysis::speciation::labeller::{ExactLabeller, LabelRule};
use diffscope::analysis::speciation::posterior_curve::{ForwardSamples, posterior_crossings};
use diffscope::analysis::speciation::universal::constants;
use diffscope::model::ExactModel;
use diffscope::model::gaussian_mixture::{ComponentSpec, Covariance, GaussianMixture};
use std::sync::atomic::AtomicBool;

const SEED: u64 = 20260204;

fn component(mean: Vec<f64>, var: f64) -> ComponentSpec {
    ComponentSpec { weight: 1.0, mean, cov: Covariance::Isotropic(var), label: String::new() }
}

fn normalised(dim: usize, mut parts: Vec<ComponentSpec>) -> GaussianMixture {
    let w = 1.0 / parts.len() as f64;
    parts.iter_mut().for_each(|p| p.weight = w);
    GaussianMixture::new(dim, parts).unwrap()
}

fn case_a() -> GaussianMixture {
    normalised(64, vec![component(vec![1.0; 64], 1.0), component(vec![-1.0; 64], 1.0)])
}

fn case_c() -> GaussianMixture {
    normalised(100, vec![component(vec![0.0; 100], 1.0), component(vec![0.0; 100], 2.0)])
}

/// ±m₁ ± m₂ with |m₁|² = 256 on coordinates 0..192 and |m₂|² = 16 on 192..256.
fn case_e() -> GaussianMixture {
    let m1 = (256.0f64 / 192.0).sqrt();
    let m2 = (16.0f64 / 64.0).sqrt();
    let mean = |s1: f64, s2: f64| (0..256).map(|j| if j < 192 { s1 * m1 } else { s2 * m2 }).collect();
    normalised(256, vec![
        component(mean(1.0, 1.0), 1.0),
        component(mean(1.0, -1.0), 1.0),
        component(mean(-1.0, 1.0), 1.0),
        component(mean(-1.0, -1.0), 1.0),
    ])
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol, "{what}: got {got:.4}, want {want:.4} ± {tol}");
}

#[test]
fn posterior_crossings_of_cases_c_and_e_match_the_table() {
    let balance = constants().phi_at_balance;
    // C: 2e4 forward samples. sd of Σp² per sample ≤ 0.25, so sd(φ_post) ≤ 0.0018; the slope
    // |dφ/dt| ≈ 0.54 near t = 0.6 gives sd(t) ≈ 0.003 here and 0.005 for the table's 1e4 samples:
    // the difference has sd ≈ 0.006 and 0.02 is > 3 sd.
    let c = case_c();
    let single = levels(2, None).unwrap();
    let samples = ForwardSamples::draw(&c, 20_000, SEED);
    let t = posterior_crossings(&c, &samples, &single, &[(0, 0.75), (0, balance)]);
    close(t[0].unwrap(), 0.605, 0.02, "C posterior 0.75");
    close(t[1].unwrap(), 0.555, 0.02, "C posterior 0.7752");

    // E: 1e4 samples; slopes ≈ 0.28 (coarse) and 0.3 (fine) per unit t, sd(φ) ≤ 0.0025 ⇒ sd(t) ≈ 0.009
    // here and 0.013 for the table's 5e3: difference sd ≈ 0.016, so 0.02 is only 1.25 sd for the
    // table's own noise. We allow 0.03 for E (≈ 2 sd) and state it.
    let e = case_e();
    let hierarchy = levels(4, Some(&[vec![0, 1], vec![2, 3]])).unwrap();
    let samples = ForwardSamples::draw(&e, 10_000, SEED);
    let w = e.weights();
    let targets = [
        (0, hierarchy[0].midpoint_level(w)),
        (0, hierarchy[0].balance_level(w).unwrap()),
        (1, hierarchy[1].midpoint_level(w)),
        (1, hierarchy[1].balance_level(w).unwrap()),
    ];
    let t = posterior_crossings(&e, &samples, &hierarchy, &targets);
    close(t[0].unwrap(), 2.863, 0.03, "E coarse 0.75");
    close(t[1].unwrap(), 2.778, 0.03, "E coarse 0.7752");
    close(t[2].unwrap(), 1.474, 0.03, "E fine 0.75");
    close(t[3].unwrap(), 1.372, 0.03, "E fine 0.7752");
    assert!(t[0].unwrap() > t[2].unwrap() + 1.0, "hierarchy E: two separated times");
}

fn cloning_vs_posterior(model: &dyn ExactModel, settings: ReverseSettings, groups: Option<&[Vec<usize>]>, tol: f64) {
    let mut progress = |_: f32, _: &str| {};
    let cancel = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &cancel);
    let classes = model.weights().len();
    let labeller = ExactLabeller(model);
    let run = run_cloning(model, model, &labeller, &settings, &mut control).unwrap();
    let hierarchy = levels(classes, groups).unwrap();
    let samples = ForwardSamples::draw(model, 10_000, SEED + 1);
    for level in &hierarchy {
        let mid = level.midpoint_level(model.weights());
        let matches = run.matches(level);
        let curve = phi_curve(&run.clone_times, &matches, run.pairs);
        let measured = interpolated_crossing(&curve.t, &curve.phi, mid).unwrap();
        let theory = posterior_crossings(model, &samples, std::slice::from_ref(level), &[(0, mid)])[0].unwrap();
        eprintln!("{}: cloning {measured:.4} posterior {theory:.4} curve {:?}", level.name, curve.phi);
        close(measured, theory, tol, &format!("{} cloning vs posterior", level.name));
        let boot = bootstrap_crossing(&run.clone_times, &matches, run.pairs, mid, SEED).unwrap();
        assert!(boot.interval[0] <= measured && measured <= boot.interval[1]);
    }
}

#[test]
fn cloning_matches_posterior_case_a() {
    let times = (0..13).map(|i| 0.66 + 0.25 * i as f64).collect();
    cloning_vs_posterior(&case_a(), ReverseSettings::new(times, 2000, LabelRule::Argmax, SEED), None, 0.05);
}
