//! Exports (issue 7): the speciation figures as SVG (parsed as XML, every plotted series found with its
//! points and labels), CSV and JSON (the report's numbers); the metric table as Markdown / CSV and its
//! column groups kept apart (no cell depends on another group's data); atomic writes that keep the old
//! file; and `diffscope render` writing SVG, CSV, JSON, Markdown and a 2× PNG from a scene file.

mod app_support;

use diffscope::analysis::compare::{Comparison, MeasuredModel};
use diffscope::analysis::geometry::reference_clouds::Reference;
use diffscope::analysis::geometry::{MetricParams, MetricReport, measure};
use diffscope::analysis::speciation::Control;
use diffscope::analysis::speciation::report::{SpeciationReport, run_speciation};
use diffscope::app::metrics_view::{self, MEASURED, Pending, REFERENCES, REPORTED};
use diffscope::app::speciation_view;
use diffscope::app::tasks::{ReferenceReports, speciation_settings};
use diffscope::figure::{Figure, Shape, Table, svg, text, write_text};
use diffscope::scene::Scene;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

/// The speciation lab of the small two-Gaussian scene (200 clone pairs: seconds in the test profile).
fn small_report(dir: &Path) -> SpeciationReport {
    let scene = Scene::load(&app_support::small_scene(dir)).unwrap();
    let model = scene.model.build_analytic().unwrap();
    let cancel = AtomicBool::new(false);
    let mut progress = |_: f32, _: &str| {};
    let mut control = Control::new(&mut progress, &cancel);
    run_speciation(&model, None, &speciation_settings(&scene), &mut control).unwrap()
}

fn series<'a>(figure: &'a Figure, name: &str) -> &'a Shape {
    &figure
        .series
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no series {name}"))
        .shape
}

/// The `<g class="series">` element named `name`.
fn svg_series<'a, 'i>(doc: &'a roxmltree::Document<'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.attribute("data-series") == Some(name))
        .unwrap_or_else(|| panic!("no SVG series {name}"))
}

fn count(node: roxmltree::Node, tag: &str) -> usize {
    node.children().filter(|c| c.has_tag_name(tag)).count()
}

#[test]
fn speciation_figures_export_every_series() {
    let dir = tempfile::tempdir().unwrap();
    let report = small_report(dir.path());
    let level = &report.headline;
    let [phi, commitment] = speciation_view::figures(level);
    let document = svg::document(&[(&phi, 440.0), (&commitment, 260.0)], 900.0);
    let doc = roxmltree::Document::parse(&document).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );

    // φ from cloning: one marker and one ±1 s.e. bar per clone time (all finite here).
    let cloning = &level.phi_cloning;
    assert!(cloning.t.len() >= 3, "{:?}", cloning.t);
    let node = svg_series(&doc, "φ cloning ± 1 s.e.");
    assert_eq!(count(node, "circle"), cloning.t.len());
    assert_eq!(count(node, "line"), cloning.t.len());
    // The exact curve: one polyline through every point of φ_post.
    let node = svg_series(&doc, "φ_post exact (E Σ p(k|x)²)");
    let polyline = node
        .children()
        .find(|c| c.has_tag_name("polyline"))
        .unwrap();
    let vertices = polyline
        .attribute("points")
        .unwrap()
        .split_whitespace()
        .count();
    assert_eq!(vertices, level.phi_posterior.t.len());
    // The theory times: a vertical line with its label text in the φ panel (and the line alone in the
    // histogram panel).
    let markers = speciation_view::markers(level);
    assert!(!markers.is_empty());
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for marker in &markers {
        assert!(
            texts.contains(&marker.label.as_str()),
            "label {}",
            marker.label
        );
        let lines = doc
            .descendants()
            .filter(|n| n.attribute("data-series") == Some(marker.label.as_str()))
            .count();
        assert_eq!(lines, 2, "{}", marker.label);
    }
    // The histogram: one bar per non-empty or empty bin.
    let node = svg_series(&doc, "commitment times");
    assert_eq!(count(node, "rect"), level.commitment.histogram.counts.len());

    // CSV: every φ value and its standard error in full precision, one row per point.
    let csv = text::figures_csv(&[&phi, &commitment]);
    for ((t, p), e) in cloning.t.iter().zip(&cloning.phi).zip(&cloning.stderr) {
        let row = format!(",points,{t},{p},{e},");
        assert!(csv.contains(&row), "missing {row} in\n{csv}");
    }
    let bar_rows = csv.lines().filter(|l| l.contains(",bar,")).count();
    assert_eq!(bar_rows, level.commitment.histogram.counts.len());
    // JSON: the same numbers, read back.
    let json: serde_json::Value =
        serde_json::from_str(&text::figures_json(&[&phi, &commitment]).unwrap()).unwrap();
    let Shape::Points { points, .. } = series(&phi, "φ cloning ± 1 s.e.") else {
        panic!("cloning is drawn as points");
    };
    let read: Vec<[f64; 2]> =
        serde_json::from_value(json[0]["series"][0]["points"].clone()).unwrap();
    // serde_json's default float parser may be off in the last bit (no `float_roundtrip` feature).
    assert_eq!(read.len(), points.len());
    for (a, b) in read.iter().zip(points) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-15 * y.abs(), "{a:?} vs {b:?}");
        }
    }
    assert_eq!(json[0]["series"][0]["name"], "φ cloning ± 1 s.e.");
}

fn report_of(reference: Reference, seed: u64) -> MetricReport {
    // 300 points: enough for every metric's largest k (20) and fast in the test profile.
    measure(&reference.generate(300, seed), &MetricParams::default()).unwrap()
}

fn comparison(dit: MetricReport, euler_stack: MetricReport) -> Comparison {
    let model = |report: MetricReport, accuracy: f64| MeasuredModel {
        report,
        task_accuracy: accuracy,
        task_samples: 100,
        layer: "test layer".into(),
        filter: "test filter".into(),
        parameters: 1,
    };
    Comparison {
        dit: model(dit, 0.25),
        euler_stack: model(euler_stack, 0.75),
        hard_stack: None,
        chance: 1e-3,
        notes: Vec::new(),
    }
}

/// The cells of group `g` of every row.
fn group_cells(table: &Table, g: usize) -> Vec<Vec<String>> {
    table
        .rows
        .iter()
        .map(|r| r.cells.get(g).cloned().unwrap_or_default())
        .collect()
}

/// The cells of column `c` of group `g` of every row.
fn column(table: &Table, g: usize, c: usize) -> Vec<String> {
    table.rows.iter().map(|r| table.cell(r, g, c)).collect()
}

#[test]
fn the_metric_table_keeps_its_groups_apart() {
    let line = report_of(Reference::Line, 1);
    let sphere = report_of(Reference::Sphere, 2);
    let square = report_of(Reference::PlaneSquare, 3);
    let references = ReferenceReports {
        reports: vec![("line", line.clone()), ("sphere", sphere.clone())],
    };
    let other_references = ReferenceReports {
        reports: vec![("line", square.clone()), ("sphere", line.clone())],
    };
    let models = comparison(sphere.clone(), square.clone());
    let other_models = comparison(line.clone(), line.clone());
    let pending = Pending::default();
    let base = metrics_view::table(Some(&line), Some(&models), Some(&references), pending);

    // Changing one source changes only its own column(s): no cell combines data of two sources.
    let current_changed =
        metrics_view::table(Some(&square), Some(&models), Some(&references), pending);
    let models_changed =
        metrics_view::table(Some(&line), Some(&other_models), Some(&references), pending);
    let references_changed =
        metrics_view::table(Some(&line), Some(&models), Some(&other_references), pending);
    let empty = metrics_view::table(None, None, None, pending);
    for changed in [
        &current_changed,
        &models_changed,
        &references_changed,
        &empty,
    ] {
        assert_eq!(group_cells(changed, REPORTED), group_cells(&base, REPORTED));
    }
    assert_ne!(
        column(&current_changed, MEASURED, 0),
        column(&base, MEASURED, 0)
    );
    for c in [1, 2] {
        assert_eq!(
            column(&current_changed, MEASURED, c),
            column(&base, MEASURED, c)
        );
        assert_ne!(
            column(&models_changed, MEASURED, c),
            column(&base, MEASURED, c)
        );
    }
    assert_eq!(
        column(&models_changed, MEASURED, 0),
        column(&base, MEASURED, 0)
    );
    assert_eq!(
        group_cells(&current_changed, REFERENCES),
        group_cells(&base, REFERENCES)
    );
    assert_eq!(
        group_cells(&models_changed, REFERENCES),
        group_cells(&base, REFERENCES)
    );
    assert_ne!(
        group_cells(&references_changed, REFERENCES),
        group_cells(&base, REFERENCES)
    );
    assert_eq!(
        group_cells(&references_changed, MEASURED),
        group_cells(&base, MEASURED)
    );
    // Each reference column is its own report: swapping the inputs swaps the columns.
    assert_eq!(
        column(&references_changed, REFERENCES, 1),
        column(&base, REFERENCES, 0)
    );

    // The only ratios are the paper's own, in its "stated ratio" column.
    for row in &base.rows {
        for (g, cells) in row.cells.iter().enumerate() {
            for (c, cell) in cells.iter().enumerate() {
                let stated = g == REPORTED && base.groups[g].columns[c] == "stated ratio";
                assert!(
                    stated || !cell.contains('×'),
                    "ratio in {} / {c}: {cell}",
                    row.name
                );
            }
        }
    }
    assert_eq!(base.groups[MEASURED].columns.len(), 3);
    assert!(base.groups[MEASURED].columns[1].starts_with("DiT (small, ours)"));
    assert!(
        base.notes
            .iter()
            .any(|n| n.contains("test layer") && n.contains("test filter"))
    );

    // Markdown, CSV and JSON carry the numbers of the reports and the numbered warnings.
    let markdown = text::table_markdown(&base);
    let uniformity = format!("{:.3}", line.density.entropy_uniformity);
    let row = markdown
        .lines()
        .find(|l| l.starts_with("| Density uniformity"))
        .unwrap();
    assert!(row.contains(&uniformity), "{row}");
    assert!(
        row.contains(&format!("{:.3}", sphere.density.entropy_uniformity)),
        "{row}"
    );
    assert!(markdown.contains("| 0.890 | 0.255 | 3.49× |"), "{markdown}");
    for (i, warning) in base.warnings.iter().enumerate() {
        assert!(markdown.contains(&format!("{}. {warning}", i + 1)));
    }
    let csv = text::table_csv(&base);
    assert_eq!(csv.lines().count(), base.rows.len() + 1);
    assert!(csv.contains(&uniformity));
    let json: serde_json::Value = serde_json::from_str(&text::table_json(&base).unwrap()).unwrap();
    assert_eq!(json["groups"].as_array().unwrap().len(), 3);
    // The table's SVG parses and holds one group element per column group.
    let document = svg::table(&base);
    let doc = roxmltree::Document::parse(&document).unwrap();
    let groups = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("group"))
        .count();
    assert_eq!(groups, 3);
    assert!(
        doc.descendants()
            .any(|n| n.text() == Some(uniformity.as_str()))
    );
}

/// True when this process can write into a folder it has made read-only (root ignores modes).
fn modes_are_ignored(folder: &Path) -> bool {
    let probe = folder.join("probe");
    let ignored = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(probe);
    ignored
}

#[test]
fn a_failed_export_keeps_the_previous_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("out");
    std::fs::create_dir(&folder).unwrap();
    let path = folder.join("table.md");
    std::fs::write(&path, b"previous").unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    let kept = if modes_are_ignored(&folder) {
        // As root chmod stops nothing: make the rename fail instead (the target is a non-empty folder),
        // after the temporary was written in full.
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("previous"), b"previous").unwrap();
        path.join("previous")
    } else {
        path.clone()
    };
    let error = write_text(&path, "| new | table |\n").unwrap_err();
    assert!(error.to_string().contains("cannot write"), "{error}");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(std::fs::read(&kept).unwrap(), b"previous");
    let listing: Vec<_> = std::fs::read_dir(&folder).unwrap().flatten().collect();
    assert_eq!(listing.len(), 1, "leftovers: {listing:?}");
}

fn diffscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diffscope"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn render_refuses_formats_a_view_has_not() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let scene = scene.to_str().unwrap();
    let out = dir.path().join("x.svg");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--view", "manifold", "--svg"],
            "the manifold view has no SVG export (it offers PNG)",
        ),
        (
            &["--view", "speciation", "--markdown"],
            "the speciation view has no Markdown export",
        ),
        (
            &["--view", "metrics", "--scale", "3", "--png"],
            "out of range",
        ),
        (&["--view", "metrics"], "nothing to write"),
    ];
    for (args, message) in cases {
        let mut all = vec!["render", scene];
        all.extend_from_slice(args);
        if args.len() > 2 {
            all.push(out.to_str().unwrap());
        }
        let output = diffscope(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    assert!(!out.exists());
}

#[test]
fn render_writes_svg_data_and_a_2x_png_from_a_scene_file() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let output = diffscope(&[
        "render",
        scene.to_str().unwrap(),
        "--view",
        "speciation",
        "--svg",
        &path("phi.svg"),
        "--csv",
        &path("phi.csv"),
        "--json",
        &path("phi.json"),
        "--png",
        &path("phi.png"),
        "--width",
        "400",
        "--height",
        "300",
        "--scale",
        "2",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document = std::fs::read_to_string(path("phi.svg")).unwrap();
    let doc = roxmltree::Document::parse(&document).unwrap();
    // The same scene and seed as `small_report`: the CLI's figure holds the same points.
    let report = small_report(dir.path());
    let node = svg_series(&doc, "φ cloning ± 1 s.e.");
    assert_eq!(count(node, "circle"), report.headline.phi_cloning.t.len());
    let csv = std::fs::read_to_string(path("phi.csv")).unwrap();
    let first = &report.headline.phi_cloning;
    assert!(
        csv.contains(&format!(",points,{},{},", first.t[0], first.phi[0])),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("phi.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let png = image::open(path("phi.png")).unwrap();
    assert_eq!((png.width(), png.height()), (800, 600));
}

/// The app's PNG export: a copy of the shown results drawn offscreen at 2×, without rerunning jobs.
#[test]
fn the_app_exports_a_view_as_png_and_its_data() {
    use diffscope::app::View;
    use diffscope::app::export::{Format, PngSettings, Shown, write_data};
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_support::harness(&app_support::small_scene(dir.path()), [1280.0, 800.0]);
    app_support::settle(&mut h);
    let png = dir.path().join("speciation.png");
    let settings = PngSettings {
        width: 300,
        height: 200,
        scale: 2,
    };
    Shown::of(h.state(), View::Speciation)
        .render_png(settings, &png)
        .unwrap();
    let image = image::open(&png).unwrap();
    assert_eq!((image.width(), image.height()), (600, 400));
    let markdown = dir.path().join("table.md");
    write_data(h.state(), View::Metrics, Format::Markdown, &markdown).unwrap();
    let text = std::fs::read_to_string(&markdown).unwrap();
    let report = &h.state().metrics.as_ref().unwrap().report;
    assert!(
        text.contains(&format!("| {} |", report.intrinsic_dim.pca90)),
        "{text}"
    );
    let error = write_data(h.state(), View::Manifold, Format::Svg, &markdown).unwrap_err();
    assert!(error.to_string().contains("no SVG export"), "{error}");
}
