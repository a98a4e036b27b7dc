//! The science the code cites is in the repository: every `docs/science/FILE.md §N` named in `src/`,
//! `tests/`, README, ARCHITECTURE or TESTING points at a document that exists and a section heading
//! numbered N in it, and no file points outside the repository for its science.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "md") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    text_files(&root().join("src"), &mut files);
    text_files(&root().join("tests"), &mut files);
    files.extend(["README.md", "ARCHITECTURE.md", "TESTING.md"].map(|f| root().join(f)));
    files
}

/// `(document, section)` for every "docs/science/DOC.md §N" (backticks allowed after the name).
fn citations(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("docs/science/") {
        rest = &rest[at + "docs/science/".len()..];
        let Some(end) = rest.find(".md") else { break };
        let doc = &rest[..end];
        if doc.is_empty() || !doc.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        let after = rest[end + 3..].trim_start_matches('`').trim_start();
        let section = after
            .strip_prefix('§')
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect::<String>()
                    .trim_end_matches('.')
                    .to_string()
            })
            .unwrap_or_default();
        found.push((doc.to_string(), section));
    }
    found
}

fn has_heading(doc: &str, section: &str) -> bool {
    doc.lines().any(|line| {
        let title = line.trim_start_matches('#');
        line.starts_with('#')
            && (title.trim_start().starts_with(&format!("{section}. "))
                || title.trim_start().starts_with(&format!("{section} ")))
    })
}

#[test]
fn every_cited_section_exists() {
    let mut missing = Vec::new();
    let mut count = 0;
    for file in sources() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (doc, section) in citations(&text) {
            count += 1;
            let path = root().join("docs/science").join(format!("{doc}.md"));
            let Ok(body) = std::fs::read_to_string(&path) else {
                missing.push(format!("{}: no docs/science/{doc}.md", file.display()));
                continue;
            };
            if !section.is_empty() && !has_heading(&body, &section) {
                missing.push(format!(
                    "{}: docs/science/{doc}.md has no §{section}",
                    file.display()
                ));
            }
        }
    }
    assert!(
        count > 40,
        "only {count} citations found: the scanner is broken"
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn nothing_points_outside_the_repository_for_its_science() {
    for file in sources() {
        let text = std::fs::read_to_string(&file).unwrap();
        for needle in [
            "../shared",
            "DESIGN.md",
            "RENDERING_AND_CI.md",
            "spec/speciation.md",
            "spec/metrics.md",
            "spec/discrete.md",
        ] {
            let hits = text.matches(needle).count();
            let own = if file.ends_with("science_docs.rs") {
                1
            } else {
                0
            };
            assert!(hits <= own, "{} names {needle}", file.display());
        }
    }
}

#[test]
fn the_scanner_reads_citations_and_headings() {
    assert_eq!(
        citations("see `docs/science/metrics.md` §2.6. and docs/science/speciation.md §4"),
        [
            ("metrics".to_string(), "2.6".to_string()),
            ("speciation".to_string(), "4".to_string())
        ]
    );
    assert!(has_heading("## 2. Geometry\n### 2.6 Defaults", "2.6"));
    assert!(!has_heading("## 2. Geometry\n### 2.6 Defaults", "2.7"));
}
