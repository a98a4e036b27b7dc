//! `diffscope bench` selection: a filter that matches nothing is an error naming every benchmark, and
//! `bench --help` lists them (the benchmarks themselves are measurements, not tests).

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_filter_matching_nothing_fails_and_lists_the_benchmarks() {
    let output = bench(&["--filter", "no-such-bench"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-bench"), "{stderr}");
    for name in ["sde_gmm2_10k_256_200", "frame_sprites_100k", "pca_1m_64"] {
        assert!(stderr.contains(name), "{stderr}");
    }
    let help = String::from_utf8_lossy(&bench(&["--help"]).stdout).into_owned();
    assert!(
        help.contains("Benchmarks: ") && help.contains("twonn_20k_64"),
        "{help}"
    );
}
