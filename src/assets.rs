//! Where shipped files (built-in scenes, trained weights) are found at run time: relative paths are
//! tried against the working directory first, then the source tree the binary was built from.

use std::path::{Path, PathBuf};

/// The shipped Dyck-2 models (`assets/models/PROVENANCE.md`).
pub const SHIPPED_DIT: &str = "assets/models/dit-dyck2.safetensors";
pub const SHIPPED_EULER_STACK: &str = "assets/models/euler-stack-dyck2.safetensors";
pub const SHIPPED_HARD_STACK: &str = "assets/models/euler-stack-hard-dyck2.safetensors";

/// A shipped file, found from the working directory or the source tree.
pub fn shipped(relative: &str) -> PathBuf {
    resolve(Path::new(relative), None)
}

/// Resolves a shipped or user-relative path: `base` (e.g. a scene file's folder), the working
/// directory, then the crate root; the first that exists wins, else the path as given.
pub fn resolve(path: &Path, base: Option<&Path>) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let candidates = base.map(|b| b.join(path)).into_iter().chain([
        path.to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path),
    ]);
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_weights_resolve_from_anywhere() {
        let found = resolve(Path::new("assets/models/dit-dyck2.safetensors"), None);
        assert!(found.exists(), "{}", found.display());
        let missing = resolve(
            Path::new("no/such/file.safetensors"),
            Some(Path::new("/tmp")),
        );
        assert_eq!(missing, Path::new("no/such/file.safetensors"));
    }
}
