//! Scene JSON of either kind: parse and validate, build the analytic (or token) model, estimate the
//! run's memory, and check that a parsed scene survives its own JSON round trip.
#![no_main]

use diffscope::diffusion::SamplingSpec;
use diffscope::scene::{Scene, SceneFile, TokenModelSpec};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Path::new("fuzz-scene.json");
    let scene = match SceneFile::from_json_str(text, origin) {
        Ok(SceneFile::Diffusion(scene)) => scene,
        Ok(SceneFile::Tokens(tokens)) => {
            let json = tokens.to_json_pretty().expect("a valid scene serialises");
            let again = SceneFile::from_json_str(&json, origin).expect("a scene's own JSON parses");
            assert_eq!(
                SceneFile::Tokens(tokens.clone()),
                again,
                "JSON round trip changed the scene"
            );
            let _ = tokens.token_spec();
            // Dyck tables cost O(L³) to build: long words would only make the fuzzer time out.
            if !matches!(&tokens.model, TokenModelSpec::Dyck(d) if d.length > 64) {
                let _ = tokens.build_model();
            }
            return;
        }
        Err(_) => return,
    };
    let json = scene.to_json_pretty().expect("a valid scene serialises");
    let again = Scene::from_json_str(&json, origin).expect("a scene's own JSON parses");
    assert_eq!(scene, again, "JSON round trip changed the scene");
    let spec = SamplingSpec::from_scene(&scene);
    let dim = scene.model.dim().unwrap_or(1);
    let classes = scene.model.class_count().unwrap_or(1);
    let _ = spec.memory_estimate(dim, classes);
    // Building the model is part of opening a scene: it must stay within the allocation cap too.
    let _ = scene.model.build_analytic();
});
