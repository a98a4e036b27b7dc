//! Exports (issue 7): the speciation figures as SVG (parsed as XML, every plotted series found with its
//! points and labels), CSV and JSON (the report's numbers); the metric table as Markdown / CSV and its
//! column groups kept apart (no cell depends on another group's data); atomic writes that keep the old
//! file; and `diffscope render` writing SVG, CSV, JSON, Markdown and a 2× PNG from a scene file. The
//! Theory tab's figures (laws on a log-d axis, dendrogram) and the inspector's stacked posterior export
//! their series too; the log axis is checked against an independent log10 mapping; the metric table
//! states the time step its current column measures.

mod fs_support;
use fs_support::modes_are_ignored;

mod app_support;

use diffscope::analysis::compare::{Comparison, MeasuredModel};
use diffscope::analysis::geometry::reference_clouds::Reference;
use diffscope::analysis::geometry::{MetricParams, MetricReport, measure};
use diffscope::analysis::speciation::Control;
use diffscope::analysis::speciation::hierarchy::{Merge, dendrogram};
use diffscope::analysis::speciation::report::{SpeciationReport, run_speciation};
use diffscope::analysis::view_data::lab::speciation_settings;
use diffscope::analysis::view_data::metric_table::{
    self, Current, MEASURED, Pending, REFERENCES, REPORTED,
};
use diffscope::analysis::view_data::{ReferenceReports, StepFilter};
use diffscope::app::speciation_view;
use diffscope::app::{inspector, laws_view};
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
    let document = svg::document(&[(&phi, 440.0), (&commitment, 260.0)], 900.0, None);
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
    let node = svg_series(&doc, &commitment.series[0].name);
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
    let last = StepFilter {
        step: 19,
        steps: 20,
        time: Some(0.05),
    };
    let current = |report| Current::Measured {
        report,
        filter: last,
        follows_time: false,
    };
    let base = metric_table::table(current(&line), Some(&models), Some(&references), pending);

    // Changing one source changes only its own column(s): no cell combines data of two sources.
    let current_changed =
        metric_table::table(current(&square), Some(&models), Some(&references), pending);
    let models_changed = metric_table::table(
        current(&line),
        Some(&other_models),
        Some(&references),
        pending,
    );
    let references_changed = metric_table::table(
        current(&line),
        Some(&models),
        Some(&other_references),
        pending,
    );
    let empty = metric_table::table(Current::Waiting, None, None, pending);
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
    // The time filter of the current column is stated in its header, the caption and a note, and
    // follows the measured step.
    assert!(
        base.caption.contains("step 20 of 20, t = 0.050"),
        "{}",
        base.caption
    );
    assert!(base.groups[MEASURED].columns[0].contains("step 20 of 20"));
    assert!(
        base.notes[0].contains("last stored step"),
        "{}",
        base.notes[0]
    );
    let shown = StepFilter {
        step: 6,
        time: Some(0.7),
        ..last
    };
    let following = metric_table::table(
        Current::Measured {
            report: &line,
            filter: shown,
            follows_time: true,
        },
        None,
        None,
        pending,
    );
    assert!(following.caption.contains("step 7 of 20, t = 0.700"));
    assert!(
        following.notes[0].contains("time step shown"),
        "{:?}",
        following.notes
    );
    assert!(text::table_markdown(&following).contains("step 7 of 20, t = 0.700"));
    assert!(text::table_csv(&following).contains("step 7 of 20"));
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

/// `diffscope compare` prints the app's table: the same reported group (the paper's "60 / 1" on the PCA95
/// headline row) and the same DiT / Euler-Stack cells, without the current-cloud and reference columns.
#[test]
fn the_cli_comparison_is_the_apps_table_without_the_current_cloud() {
    let models = comparison(
        report_of(Reference::Sphere, 2),
        report_of(Reference::PlaneSquare, 3),
    );
    let pending = Pending::default();
    let app = metric_table::table(Current::Waiting, Some(&models), None, pending);
    let cli = metric_table::table(Current::Absent, Some(&models), None, pending);
    assert_eq!(group_cells(&cli, REPORTED), group_cells(&app, REPORTED));
    assert_eq!(cli.groups.len(), 2, "no reference group without references");
    assert_eq!(
        cli.groups[MEASURED].columns,
        app.groups[MEASURED].columns[1..]
    );
    for c in [0, 1] {
        assert_eq!(column(&cli, MEASURED, c), column(&app, MEASURED, c + 1));
    }
    let headline = app
        .rows
        .iter()
        .find(|r| r.cells[REPORTED][..2] == ["60", "1"])
        .expect("the paper's intrinsic dimension");
    assert!(headline.name.contains("PCA 95 %"), "{}", headline.name);
    assert_eq!(
        headline.cells[MEASURED][1],
        models.dit.report.intrinsic_dim.pca95.to_string()
    );
    let printed = models.to_string();
    let line = printed
        .lines()
        .find(|l| l.starts_with("Dimension, PCA 95 %"))
        .expect("the headline row in the printed table");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words.windows(2).any(|w| w == ["60", "1"]), "{line}");
    let json = models.to_json().unwrap();
    assert_eq!(
        json["reported"]["flux_dit"]["intrinsic_dimension"]["value"],
        60.0
    );
    assert_eq!(
        json["reported"]["euler_stack"]["flatness"]["as_printed"],
        "≈0"
    );
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
    let cases: [(&[&str], &str); 5] = [
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
        (
            &["--view", "theory", "--select", "1", "--svg"],
            "--select only applies to --view inspector",
        ),
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
    // It says what it wrote, one line per file.
    let stdout = String::from_utf8_lossy(&output.stdout);
    for file in ["phi.svg", "phi.csv", "phi.json", "phi.png"] {
        assert!(
            stdout.lines().any(|l| l == format!("wrote {}", path(file))),
            "{stdout}"
        );
    }
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

/// The x coordinate of each x-axis tick label of the first panel, by its text.
fn x_ticks(doc: &roxmltree::Document) -> Vec<(String, f64)> {
    let panel = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("figure"))
        .unwrap();
    panel
        .descendants()
        .filter(|n| n.attribute("class") == Some("x-tick"))
        .map(|n| {
            let x: f64 = n.attribute("x").unwrap().parse().unwrap();
            (n.text().unwrap().to_string(), x)
        })
        .collect()
}

/// Left edge and width of the first panel's plot frame (its unfilled rectangle).
fn plot_frame(doc: &roxmltree::Document) -> (f64, f64) {
    let rect = doc
        .descendants()
        .find(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("none"))
        .unwrap();
    let number = |a: &str| -> f64 { rect.attribute(a).unwrap().parse().unwrap() };
    (number("x"), number("width"))
}

/// Four classes speciating in two stages (the hierarchy scene's shape), linked by the library from their
/// pair times (a 4 × 4 matrix): 0 and 2 merge first, then 1 and 3, then the two pairs.
#[rustfmt::skip]
fn two_level_merges() -> Vec<Merge> {
    dendrogram(4, &[
        0.0, 2.8, 1.4, 2.8,
        2.8, 0.0, 2.8, 1.5,
        1.4, 2.8, 0.0, 2.8,
        2.8, 1.5, 2.8, 0.0,
    ])
}

/// The dendrogram lays the leaves out so every cluster is contiguous, draws each merge's bar at its time
/// between its two clusters' centres, and needs two merges at least.
#[test]
fn leaves_of_a_two_level_hierarchy_are_contiguous() {
    let merges = two_level_merges();
    let figure = laws_view::dendrogram_figure(&merges, &[]).unwrap();
    let Shape::Segments { segments } = &figure.series[0].shape else {
        panic!("the tree is drawn as segments");
    };
    // Leaves at x = 0, 1, 2, 3 in the order 0, 2, 1, 3: {0, 2} is centred at 0.5, {1, 3} at 2.5.
    assert!(segments.contains(&[[0.5, 2.8], [2.5, 2.8]]), "{segments:?}");
    assert!(segments.contains(&[[0.0, 0.0], [0.0, 1.4]]), "{segments:?}");
    let Shape::Labels { labels } = &figure.series[2].shape else {
        panic!("leaf names are labels");
    };
    let names: Vec<&str> = labels.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(names, ["class 0", "class 2", "class 1", "class 3"]);
    assert!(laws_view::dendrogram_figure(&merges[..1], &[]).is_none());
}

#[test]
fn theory_figures_export_a_log_axis_a_dendrogram_and_their_numbers() {
    let scene_laws = laws_view::reference_laws(Some(64), "test");
    let laws = laws_view::laws_figure(&scene_laws);
    let labels: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    let dendrogram = laws_view::dendrogram_figure(&two_level_merges(), &labels).unwrap();
    let document = svg::document(&[(&laws, 460.0), (&dendrogram, 340.0)], 900.0, None);
    let doc = roxmltree::Document::parse(&document).expect("the SVG is well-formed XML");

    // Log axis: decade ticks labelled 10, 100, 1000 (range 2 … 4096), equally spaced.
    let ticks = x_ticks(&doc);
    let names: Vec<&str> = ticks.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["10", "100", "1000"]);
    let gap = |i: usize| ticks[i + 1].1 - ticks[i].1;
    assert!((gap(0) - gap(1)).abs() < 1e-6, "{ticks:?}");
    // Independently: x(d) = left + width · log(d / 2) / log(4096 / 2), for the ticks and the d = 64
    // marker (any base of logarithm gives the same ratio; the SVG is written with 2 decimals).
    let (left, width) = plot_frame(&doc);
    let expected = |d: f64| left + width * (d / 2.0).ln() / (4096.0f64 / 2.0).ln();
    for (label, x) in &ticks {
        let d: f64 = label.parse().unwrap();
        assert!(
            (x - expected(d)).abs() < 0.01,
            "{label}: {x} vs {}",
            expected(d)
        );
    }
    let marker = svg_series(&doc, "this scene: d = 64");
    let line = marker.children().find(|c| c.has_tag_name("line")).unwrap();
    let x: f64 = line.attribute("x1").unwrap().parse().unwrap();
    assert!(
        (x - expected(64.0)).abs() < 0.01,
        "{x} vs {}",
        expected(64.0)
    );
    // The four curves: one polyline vertex per curve point where the time exists (the covariance
    // family has no balance time at small d).
    type Pick = fn(&laws_view::CurvePoint) -> Option<f64>;
    let picks: [(String, usize, Pick); 4] = [
        (laws_view::exact_name("means ±1"), 0, |p| p.exact),
        (laws_view::law_name("means ±1"), 0, |p| p.law),
        (laws_view::exact_name("variances 1 vs 2"), 1, |p| p.exact),
        (laws_view::law_name("variances 1 vs 2"), 1, |p| p.law),
    ];
    for (name, family, pick) in picks {
        let curves = &scene_laws.families[family].points;
        let node = svg_series(&doc, &name);
        let vertices: usize = node
            .children()
            .filter(|c| c.has_tag_name("polyline"))
            .map(|p| p.attribute("points").unwrap().split_whitespace().count())
            .sum();
        let defined = curves.iter().filter(|p| pick(p).is_some()).count();
        assert!(defined >= 20, "{name}: {defined}");
        assert_eq!(vertices, defined, "{name}");
    }
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for law in ["½ ln d", "¼ ln(d/8)"] {
        assert!(texts.contains(&law), "law label {law}");
    }
    // Dendrogram: three arms per merge, every merge time and every leaf name written; no x ticks.
    let node = svg_series(&doc, "dendrogram");
    assert_eq!(count(node, "line"), 9);
    for label in ["t = 1.40", "t = 1.50", "t = 2.80", "a", "b", "c", "d"] {
        assert!(texts.contains(&label), "dendrogram label {label}");
    }
    let dendrogram_panel = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("figure"))
        .nth(1)
        .unwrap();
    assert!(
        !dendrogram_panel
            .descendants()
            .any(|n| n.attribute("class") == Some("x-tick"))
    );

    // CSV: every curve value in full precision, the segments and the labels.
    let csv = text::figures_csv(&[&laws, &dendrogram]);
    let curves = &scene_laws.families[0].points;
    for p in curves {
        let row = format!(",line,{},{},", p.d, p.exact.unwrap());
        assert!(csv.contains(&row), "missing {row}");
    }
    assert!(csv.contains(",segment,0,0,,0,1.4,"), "{csv}");
    assert!(csv.contains(",label,0.25,1.4,,,,t = 1.40\n"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(",segment,")).count(), 9);
    // JSON: the axis scale and the same numbers.
    let json: serde_json::Value =
        serde_json::from_str(&text::figures_json(&[&laws, &dendrogram]).unwrap()).unwrap();
    assert_eq!(json[0]["x"]["scale"], "log");
    assert_eq!(json[1]["x"]["scale"], "unmarked");
    let first = &json[0]["series"][0]["points"][0];
    assert_eq!(first[0].as_f64(), Some(curves[0].d as f64));
    let means = first[1].as_f64().unwrap();
    assert!((means - curves[0].exact.unwrap()).abs() <= 1e-15 * means);
    assert_eq!(json[1]["series"][0]["kind"], "segments");
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
    let report = &h.state().results.metrics.as_ref().unwrap().report;
    assert!(
        text.contains(&format!("| {} |", report.intrinsic_dim.pca90)),
        "{text}"
    );
    let error = write_data(h.state(), View::Manifold, Format::Svg, &markdown).unwrap_err();
    assert!(error.to_string().contains("no SVG export"), "{error}");

    // The inspector exports only with a trajectory selected: then one band per class, stacked to 1.
    let svg_path = dir.path().join("inspector.svg");
    let error = write_data(h.state(), View::Inspector, Format::Svg, &svg_path).unwrap_err();
    assert!(
        error.to_string().contains("no trajectory selected"),
        "{error}"
    );
    assert!(!svg_path.exists());
    h.state_mut().views.manifold.settings.selected = Some(3);
    // The selected time is the last stored step, t_min: its line must sit inside the frame, not on
    // the axis where it cannot be seen.
    let cloud = h.state().results.cloud.clone().unwrap();
    let t_min = *cloud.trajectories.times.last().unwrap();
    let figure = inspector::posterior_figure(&cloud, 3, Some(t_min)).unwrap();
    assert!(
        figure.x.range[0] < t_min && t_min < figure.x.range[1],
        "{:?}",
        figure.x.range
    );
    write_data(h.state(), View::Inspector, Format::Svg, &svg_path).unwrap();
    let document = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&document).unwrap();
    let trajectories = &h.state().results.cloud.as_ref().unwrap().trajectories;
    let labels = &trajectories.class_labels;
    assert_eq!(labels.len(), 2);
    for label in labels {
        let band = svg_series(&doc, &format!("p({label} | x_t)"));
        assert_eq!(band.attribute("data-kind"), Some("band"));
        assert_eq!(count(band, "path"), 1);
    }
    let csv_path = dir.path().join("inspector.csv");
    write_data(h.state(), View::Inspector, Format::Csv, &csv_path).unwrap();
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    // The top band's upper edge is Σ_k p(k | x_t) = 1 at every stored time (f32 posterior summed in
    // f64: within a few f32 ulps).
    let top = format!("p({} | x_t)", labels[1]);
    let rows: Vec<&str> = csv.lines().filter(|l| l.contains(&top)).collect();
    assert_eq!(rows.len(), trajectories.times.len());
    for row in rows {
        let upper: f64 = row.split(',').nth(7).unwrap().parse().unwrap();
        assert!((upper - 1.0).abs() < 1e-5, "{row}");
    }
}

#[test]
fn render_writes_the_theory_figures_and_the_inspector_from_a_scene_file() {
    let dir = tempfile::tempdir().unwrap();
    let scene = app_support::small_scene(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let scene = scene.to_str().unwrap();
    let output = diffscope(&[
        "render",
        scene,
        "--view",
        "theory",
        "--svg",
        &path("theory.svg"),
        "--json",
        &path("theory.json"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document = std::fs::read_to_string(path("theory.svg")).unwrap();
    let doc = roxmltree::Document::parse(&document).unwrap();
    // The scene's d = 8 is marked on the log axis, whose decades are labelled.
    svg_series(&doc, "this scene: d = 8");
    let names: Vec<String> = x_ticks(&doc).into_iter().map(|(t, _)| t).collect();
    assert_eq!(names, ["10", "100", "1000"]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("theory.json")).unwrap()).unwrap();
    // Two classes: one merge, no dendrogram panel.
    assert_eq!(json.as_array().unwrap().len(), 1);

    let output = diffscope(&[
        "render",
        scene,
        "--view",
        "inspector",
        "--select",
        "5",
        "--json",
        &path("inspector.json"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("inspector.json")).unwrap()).unwrap();
    let bands = json[0]["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "band")
        .count();
    assert_eq!(bands, 2);
    let output = diffscope(&[
        "render",
        scene,
        "--view",
        "inspector",
        "--json",
        &path("x.json"),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("give --select N"), "{stderr}");
}

/// Scene 6 (hidden states): the metric table measures the time step shown. Moving the time bar
/// re-measures that step (a worker job); the table's caption and header name it, and its numbers are
/// those of the states at that step measured directly.
#[test]
fn the_hidden_states_table_follows_the_time_step() {
    let scene = Path::new("assets/scenes/teaching/06-dit-vs-euler-stack.json");
    let mut h = app_support::harness(scene, [1280.0, 800.0]);
    // Not `settle`: the reference clouds (not needed here) would add a minute in the test profile.
    app_support::step_until(&mut h, "the first metrics", |app| {
        app.results.metrics.is_some()
    });
    let steps = h
        .state()
        .results
        .cloud
        .as_ref()
        .unwrap()
        .trajectories
        .stored_steps;
    assert!(steps > 6, "{steps}");
    let filter = h.state().results.metrics.as_ref().unwrap().filter;
    assert_eq!(filter.step, steps - 1);
    // Already the first measurement (the last step, shown on opening) says the table follows time.
    let first = h.state().metric_table();
    assert!(
        first.notes[0].contains("time step shown"),
        "{:?}",
        first.notes
    );
    h.state_mut().views.timeline.step = 5;
    app_support::step_until(&mut h, "the metrics of step 6", |app| {
        app.results
            .metrics
            .as_ref()
            .is_some_and(|m| m.filter.step == 5)
    });
    let app = h.state();
    let measured = app.results.metrics.as_ref().unwrap();
    let table = app.metric_table();
    let label = format!("step 6 of {steps}");
    assert!(table.caption.contains(&label), "{}", table.caption);
    assert!(table.groups[MEASURED].columns[0].contains(&label));
    assert!(
        table.notes[0].contains("time step shown"),
        "{:?}",
        table.notes
    );
    // The same numbers as measuring the step-6 states directly (deterministic estimators).
    let t = &app.results.cloud.as_ref().unwrap().trajectories;
    let data: Vec<f64> = (0..t.n)
        .flat_map(|i| t.state(i, 5).unwrap().iter().map(|&v| f64::from(v)))
        .collect();
    let direct = measure(
        &diffscope::analysis::geometry::PointCloud::new(t.n, t.dim, data, "direct").unwrap(),
        &MetricParams::default(),
    )
    .unwrap();
    assert_eq!(
        measured.report.intrinsic_dim.pca90,
        direct.intrinsic_dim.pca90
    );
    assert_eq!(measured.report.holes.probe, direct.holes.probe);
    assert_eq!(
        measured.report.density.entropy_uniformity,
        direct.density.entropy_uniformity
    );
}

/// The export menu's folder route needs no dialog: files are named after the view and never overwrite
/// an earlier export; a chosen file name's extension picks the format.
#[test]
fn dialog_less_exports_get_fresh_names() {
    use diffscope::app::export::{Format, unused_path};
    let dir = tempfile::tempdir().unwrap();
    let first = unused_path(dir.path(), "speciation", "svg");
    assert_eq!(first, dir.path().join("speciation.svg"));
    std::fs::write(&first, "x").unwrap();
    assert_eq!(
        unused_path(dir.path(), "speciation", "svg"),
        dir.path().join("speciation-2.svg")
    );
    assert_eq!(
        Format::from_extension(std::path::Path::new("a/table.MD")),
        Some(Format::Markdown)
    );
    assert_eq!(Format::from_extension(std::path::Path::new("a/b")), None);
}
