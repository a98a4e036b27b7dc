//! The layers of ARCHITECTURE.md, enforced: every `crate::…` path in `src/` names a module of the same
//! layer or one below, sibling modules import each other without cycles, and the CLI opens the app
//! only where it shows a window (or draws the app's views offscreen). Reads the source text, so an
//! upward import fails here before review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the bottom; a module path is matched longest prefix first (`analysis/view_data` before
/// `analysis`). Kept in step with the table in ARCHITECTURE.md.
const LAYERS: [(&str, &[&str]); 10] = [
    ("base", &["base", "rng", "worker", "assets", "alloc_policy"]),
    ("formats", &["io", "figure"]),
    ("models", &["model"]),
    ("dynamics", &["diffusion"]),
    ("measurements", &["analysis"]),
    ("descriptions", &["scene", "session", "builtin_scenes"]),
    ("view data", &["analysis/view_data"]),
    ("rendering", &["render"]),
    ("app", &["app"]),
    ("command line", &["cli", "main", "lib"]),
];

/// CLI files that may use the app: the window itself, its frame-time benchmark, and `render` and
/// `record`, which draw the app's views offscreen.
const CLI_USES_OF_THE_APP: [&str; 4] = [
    "cli/mod.rs",
    "cli/bench/frame.rs",
    "cli/render.rs",
    "cli/record.rs",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `analysis/view_data/cloud.rs` → `analysis/view_data/cloud`; `model/mod.rs` → `model`.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).unwrap().with_extension("");
    let module = relative.to_string_lossy().replace('\\', "/");
    module.strip_suffix("/mod").unwrap_or(&module).to_string()
}

fn layer_of(module: &str) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for (layer, (_, prefixes)) in LAYERS.iter().enumerate() {
        for prefix in *prefixes {
            let matches = module == *prefix || module.starts_with(&format!("{prefix}/"));
            if matches && best.is_none_or(|(_, len)| prefix.len() > len) {
                best = Some((layer, prefix.len()));
            }
        }
    }
    best.unwrap_or_else(|| panic!("module {module} has no layer: add it to LAYERS"))
        .0
}

/// The code of a file without comments (line comments and doc comments; strings are kept).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn identifier(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The module paths (`a` or `a/b`) named after `prefix` (`crate::` or `super::`), including each item
/// of a `prefix{…}` group.
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        let items: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            split_top_level(&group[..end])
        } else {
            vec![rest]
        };
        for item in items {
            let item = item.trim();
            let first = identifier(item);
            if first.is_empty() || first == "self" {
                continue;
            }
            let second = item[first.len()..]
                .strip_prefix("::")
                .map(identifier)
                .filter(|s| !s.is_empty() && s.chars().next().is_some_and(|c| c.is_lowercase()));
            paths.push(match second {
                Some(second) => format!("{first}/{second}"),
                None => first.to_string(),
            });
        }
    }
    paths
}

fn split_top_level(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 50, "found {} source files", files.len());
    let mut violations = Vec::new();
    for file in &files {
        let module = module_of(file);
        let own = layer_of(&module);
        let text = code(&std::fs::read_to_string(file).unwrap());
        for target in paths_after(&text, "crate::") {
            let layer = layer_of(&target);
            if layer > own {
                violations.push(format!(
                    "{module} ({}) imports crate::{} ({})",
                    LAYERS[own].0,
                    target.replace('/', "::"),
                    LAYERS[layer].0
                ));
            }
            let relative = file.strip_prefix(src()).unwrap().to_string_lossy();
            if module.starts_with("cli")
                && target.starts_with("app")
                && !CLI_USES_OF_THE_APP.contains(&relative.as_ref())
            {
                violations.push(format!(
                    "{module} uses the app to compute (crate::{target})"
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn sibling_modules_do_not_import_each_other_in_a_cycle() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    // Edges between files of one folder through `super::x` (and `crate::folder::x`).
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let Some((parent, _)) = module.rsplit_once('/') else {
            continue;
        };
        let text = code(&std::fs::read_to_string(file).unwrap());
        let siblings = paths_after(&text, "super::")
            .into_iter()
            .map(|p| format!("{parent}/{}", p.split('/').next().unwrap()))
            .chain(
                paths_after(&text, "crate::")
                    .into_iter()
                    .filter(|p| p.starts_with(&format!("{parent}/"))),
            );
        for sibling in siblings.filter(|s| *s != module) {
            edges.entry(module.clone()).or_default().insert(sibling);
        }
    }
    // A cycle is an edge a → b with a path b → … → a among the same folder's modules.
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(node) = stack.pop() {
            if node == to {
                return true;
            }
            if seen.insert(node.clone()) {
                stack.extend(edges.get(&node).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut cycles = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            let same_folder =
                from.rsplit_once('/').map(|p| p.0) == to.rsplit_once('/').map(|p| p.0);
            if same_folder && from < to && reaches(to, from) {
                cycles.push(format!("{from} ↔ {to}"));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles: {}", cycles.join(", "));
}

/// The checks above must be able to fail: an upward path and a group are both seen.
#[test]
fn the_import_scanner_sees_paths_and_groups() {
    let text = code(
        "use crate::app::tasks;\nuse crate::{base::ou, analysis::view_data::{Cloud, lab}};\n\
         // use crate::cli::nothing;\nlet x = crate::model::math::softmax_in_place(&mut v);",
    );
    assert_eq!(
        paths_after(&text, "crate::"),
        ["app/tasks", "base/ou", "analysis/view_data", "model/math"]
    );
    assert!(layer_of("app/tasks") > layer_of("analysis/view_data"));
    assert!(layer_of("analysis/view_data") > layer_of("analysis/speciation"));
    assert!(layer_of("io/points") < layer_of("analysis/geometry"));
}
