//! The scenes shipped with the app, compiled into the binary: the presets (`assets/scenes/`) and the
//! teaching scenes of the tour (`assets/scenes/teaching/`). The files stay the source; these copies
//! let the app start anywhere without them.

use crate::scene::{Scene, SceneFile, TokenScene};
use std::path::Path;

/// The scenes shipped in `assets/scenes/`, compiled into the binary.
pub const PRESETS: [(&str, &str); 6] = [
    (
        "two-gaussians.json",
        include_str!("../assets/scenes/two-gaussians.json"),
    ),
    (
        "two-gaussians-d256.json",
        include_str!("../assets/scenes/two-gaussians-d256.json"),
    ),
    (
        "variance-1-vs-2.json",
        include_str!("../assets/scenes/variance-1-vs-2.json"),
    ),
    (
        "spiked-vs-isotropic.json",
        include_str!("../assets/scenes/spiked-vs-isotropic.json"),
    ),
    (
        "hierarchy-4class.json",
        include_str!("../assets/scenes/hierarchy-4class.json"),
    ),
    (
        "ising-0.3-vs-0.8.json",
        include_str!("../assets/scenes/ising-0.3-vs-0.8.json"),
    ),
];

/// The teaching scenes of the tour (`assets/scenes/teaching/`), compiled into the binary.
pub const TEACHING: [(&str, &str); 8] = [
    (
        "01-two-gaussians.json",
        include_str!("../assets/scenes/teaching/01-two-gaussians.json"),
    ),
    (
        "02-means-vs-covariances.json",
        include_str!("../assets/scenes/teaching/02-means-vs-covariances.json"),
    ),
    (
        "03-ising-chains.json",
        include_str!("../assets/scenes/teaching/03-ising-chains.json"),
    ),
    (
        "04-sharp-vs-smeared.json",
        include_str!("../assets/scenes/teaching/04-sharp-vs-smeared.json"),
    ),
    (
        "05-hierarchy.json",
        include_str!("../assets/scenes/teaching/05-hierarchy.json"),
    ),
    (
        "06-dit-vs-euler-stack.json",
        include_str!("../assets/scenes/teaching/06-dit-vs-euler-stack.json"),
    ),
    (
        "07-learned-vs-exact.json",
        include_str!("../assets/scenes/teaching/07-learned-vs-exact.json"),
    ),
    (
        "08-guidance.json",
        include_str!("../assets/scenes/teaching/08-guidance.json"),
    ),
];

/// Parses teaching scene `index`.
pub fn teaching_scene(index: usize) -> Result<Scene, String> {
    let (name, text) = TEACHING
        .get(index)
        .ok_or_else(|| format!("no teaching scene number {index}"))?;
    Scene::from_json_str(text, &Path::new("assets/scenes/teaching").join(name))
        .map_err(|e| e.to_string())
}

/// The teaching token scenes that follow them in the tour (mask or flip noise), compiled into the
/// binary.
pub const TEACHING_TOKENS: [(&str, &str); 3] = [
    (
        "09-mask-vs-flip-vs-gaussian.json",
        include_str!("../assets/scenes/teaching/09-mask-vs-flip-vs-gaussian.json"),
    ),
    (
        "10-diffusion-vs-autoregression.json",
        include_str!("../assets/scenes/teaching/10-diffusion-vs-autoregression.json"),
    ),
    (
        "11-class-decides-late-for-correlations.json",
        include_str!("../assets/scenes/teaching/11-class-decides-late-for-correlations.json"),
    ),
];

/// Parses teaching token scene `index` (0 is scene 9).
pub fn teaching_token_scene(index: usize) -> Result<TokenScene, String> {
    let (name, text) = TEACHING_TOKENS
        .get(index)
        .ok_or_else(|| format!("no teaching token scene number {index}"))?;
    let origin = Path::new("assets/scenes/teaching").join(name);
    match SceneFile::from_json_str(text, &origin).map_err(|e| e.to_string())? {
        SceneFile::Tokens(scene) => Ok(scene),
        SceneFile::Diffusion(_) => Err(format!("{}: not a token scene", origin.display())),
    }
}

/// Parses preset `index`.
pub fn preset(index: usize) -> Result<Scene, String> {
    let (name, text) = PRESETS
        .get(index)
        .ok_or_else(|| format!("no preset number {index}"))?;
    Scene::from_json_str(text, &Path::new("assets/scenes").join(name)).map_err(|e| e.to_string())
}
