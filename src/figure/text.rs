//! Text forms of figures and tables: CSV (one row per plotted value, or one per table row), JSON (the
//! models as they are), Markdown and plain text (tables). Numbers are written in full precision (shortest
//! round-trip form); nothing is computed here.

use super::{Figure, Shape, Table, group_letter};

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn number(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

/// One CSV row's values after `figure,series,kind`.
struct Values {
    x: f64,
    y: f64,
    error: Option<f64>,
    x_end: Option<f64>,
    y_end: Option<f64>,
    text: Option<String>,
}

impl Values {
    fn at(x: f64, y: f64) -> Self {
        Values {
            x,
            y,
            error: None,
            x_end: None,
            y_end: None,
            text: None,
        }
    }
}

/// The plotted values of `figures` as CSV: `figure,series,kind,x,y,error,x_end,y_end,text` — lines and
/// points one row per point (`error` = the ± half-width of an error bar), a vertical line `x`, a
/// horizontal line `y`, a bar `x`..`x_end` with height `y`, a segment from `x,y` to `x_end,y_end`, a
/// label's text at `x,y`, a band one row per `x` from `y` (lower) to `y_end` (upper).
pub fn figures_csv(figures: &[&Figure]) -> String {
    let mut out = String::from("figure,series,kind,x,y,error,x_end,y_end,text\n");
    for figure in figures {
        for series in &figure.series {
            let head = format!("{},{}", field(&figure.title), field(&series.name));
            let mut put = |kind: &str, v: Values| {
                let optional = |o: Option<f64>| o.map(number).unwrap_or_default();
                out.push_str(&format!(
                    "{head},{kind},{},{},{},{},{},{}\n",
                    number(v.x),
                    number(v.y),
                    optional(v.error),
                    optional(v.x_end),
                    optional(v.y_end),
                    v.text.as_deref().map(field).unwrap_or_default()
                ));
            };
            match &series.shape {
                Shape::Line { points, .. } => {
                    for p in points {
                        put("line", Values::at(p[0], p[1]));
                    }
                }
                Shape::Points { points, errors, .. } => {
                    for (i, p) in points.iter().enumerate() {
                        let error = errors.as_ref().and_then(|e| e.get(i)).copied();
                        put(
                            "points",
                            Values {
                                error,
                                ..Values::at(p[0], p[1])
                            },
                        );
                    }
                }
                Shape::VLine { x, .. } => put("vline", Values::at(*x, f64::NAN)),
                Shape::HLine { y } => put("hline", Values::at(f64::NAN, *y)),
                Shape::Bars { edges, counts } => {
                    for (edge, &count) in edges.windows(2).zip(counts) {
                        put(
                            "bar",
                            Values {
                                x_end: Some(edge[1]),
                                ..Values::at(edge[0], count)
                            },
                        );
                    }
                }
                Shape::Segments { segments } => {
                    for [a, b] in segments {
                        put(
                            "segment",
                            Values {
                                x_end: Some(b[0]),
                                y_end: Some(b[1]),
                                ..Values::at(a[0], a[1])
                            },
                        );
                    }
                }
                Shape::Labels { labels } => {
                    for label in labels {
                        put(
                            "label",
                            Values {
                                text: Some(label.text.clone()),
                                ..Values::at(label.at[0], label.at[1])
                            },
                        );
                    }
                }
                Shape::Band { x, lower, upper } => {
                    for ((&x, &lo), &hi) in x.iter().zip(lower).zip(upper) {
                        put(
                            "band",
                            Values {
                                y_end: Some(hi),
                                ..Values::at(x, lo)
                            },
                        );
                    }
                }
            }
        }
    }
    out
}

/// `figures` as a JSON array (titles, axes, series with their data).
pub fn figures_json(figures: &[&Figure]) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(figures)
}

/// Column headers of every group, each prefixed by its group's caption so no column can be read
/// without its source.
fn headers(table: &Table) -> Vec<String> {
    table
        .groups
        .iter()
        .flat_map(|g| g.columns.iter().map(move |c| format!("{}: {c}", g.caption)))
        .collect()
}

fn cells(table: &Table, row: &super::Row) -> Vec<String> {
    table
        .groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| (0..group.columns.len()).map(move |c| (g, c)))
        .map(|(g, c)| table.cell(row, g, c))
        .collect()
}

/// The table as CSV: one header row (`group: column`), one row per table row; warnings are not data
/// and stay out (they are in the Markdown and JSON forms).
pub fn table_csv(table: &Table) -> String {
    let mut out = std::iter::once(field(&table.row_header))
        .chain(headers(table).iter().map(|h| field(h)))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &table.rows {
        let line: Vec<String> = std::iter::once(field(&table.row_label(row)))
            .chain(cells(table, row).iter().map(|c| field(c)))
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// The table as JSON (caption, groups, rows, warnings, notes).
pub fn table_json(table: &Table) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(table)
}

fn markdown_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The table as Markdown: caption, the column groups as a list (Markdown has no column spans), the
/// table with `[group letter] column` headers, then the numbered warnings and the notes.
pub fn table_markdown(table: &Table) -> String {
    let mut out = format!("**{}**\n\n", markdown_cell(&table.caption));
    for (g, group) in table.groups.iter().enumerate() {
        out.push_str(&format!(
            "- [{}] {}\n",
            group_letter(g),
            markdown_cell(&group.caption)
        ));
    }
    out.push('\n');
    let header: Vec<String> = std::iter::once(markdown_cell(&table.row_header))
        .chain(table.groups.iter().enumerate().flat_map(|(g, group)| {
            group
                .columns
                .iter()
                .map(move |c| format!("[{}] {}", group_letter(g), markdown_cell(c)))
        }))
        .collect();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for row in &table.rows {
        let line: Vec<String> = std::iter::once(markdown_cell(&table.row_label(row)))
            .chain(cells(table, row).iter().map(|c| markdown_cell(c)))
            .collect();
        out.push_str(&format!("| {} |\n", line.join(" | ")));
    }
    if !table.warnings.is_empty() {
        out.push('\n');
        for (i, warning) in table.warnings.iter().enumerate() {
            out.push_str(&format!("{}. {}\n", i + 1, markdown_cell(warning)));
        }
    }
    if !table.notes.is_empty() {
        out.push('\n');
        for note in &table.notes {
            out.push_str(&format!("{}\n\n", markdown_cell(note)));
        }
    }
    out
}

/// The table as plain text for a terminal: caption, lettered group captions, a header of
/// `[letter] column` names and the rows in columns padded to their widest cell (counted in characters),
/// then the numbered warnings and the notes.
pub fn table_plain(table: &Table) -> String {
    let header: Vec<String> = std::iter::once(table.row_header.clone())
        .chain(table.groups.iter().enumerate().flat_map(|(g, group)| {
            group
                .columns
                .iter()
                .map(move |c| format!("[{}] {c}", group_letter(g)))
        }))
        .collect();
    let lines: Vec<Vec<String>> = std::iter::once(header)
        .chain(table.rows.iter().map(|row| {
            std::iter::once(table.row_label(row))
                .chain(cells(table, row))
                .collect()
        }))
        .collect();
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, |t| t.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let format_line = |line: &[String]| -> String {
        let padded: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(text, &w)| format!("{text}{}", " ".repeat(w - text.chars().count())))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = format!("{}\n", table.caption);
    for (g, group) in table.groups.iter().enumerate() {
        out.push_str(&format!("[{}] {}\n", group_letter(g), group.caption));
    }
    out.push('\n');
    out.push_str(&format_line(&lines[0]));
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
    out.push('\n');
    for line in &lines[1..] {
        out.push_str(&format_line(line));
        out.push('\n');
    }
    if !table.warnings.is_empty() {
        out.push('\n');
        for (i, warning) in table.warnings.iter().enumerate() {
            out.push_str(&format!("[{}] {warning}\n", i + 1));
        }
    }
    for note in &table.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::{Axis, ColumnGroup, Marker, Row, Series};

    fn table() -> Table {
        Table {
            caption: "caption".into(),
            row_header: "metric".into(),
            groups: vec![
                ColumnGroup {
                    caption: "paper".into(),
                    columns: vec!["a".into(), "b, c".into()],
                },
                ColumnGroup {
                    caption: "ours".into(),
                    columns: vec!["x".into()],
                },
            ],
            rows: vec![Row {
                name: "m|1".into(),
                warning: Some(0),
                cells: vec![vec!["1".into(), "\"2\"".into()], vec!["3".into()]],
            }],
            warnings: vec!["careful".into()],
            notes: vec![],
        }
    }

    #[test]
    fn table_csv_quotes_and_names_each_column_with_its_group() {
        assert_eq!(
            table_csv(&table()),
            "metric,paper: a,\"paper: b, c\",ours: x\nm|1 [1],1,\"\"\"2\"\"\",3\n"
        );
    }

    #[test]
    fn table_markdown_escapes_pipes_and_numbers_warnings() {
        let md = table_markdown(&table());
        assert!(md.contains("| metric | [A] a | [A] b, c | [B] x |"), "{md}");
        assert!(md.contains("| m\\|1 [1] | 1 | \"2\" | 3 |"), "{md}");
        assert!(md.contains("1. careful"), "{md}");
    }

    #[test]
    fn table_plain_aligns_columns_by_characters() {
        let text = table_plain(&table());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "[A] paper");
        let header = lines.iter().position(|l| l.starts_with("metric")).unwrap();
        assert_eq!(lines[header], "metric   [A] a  [A] b, c  [B] x");
        assert_eq!(lines[header + 2], "m|1 [1]  1      \"2\"       3");
        assert!(text.contains("[1] careful"), "{text}");
    }

    #[test]
    fn figure_csv_has_one_row_per_value() {
        let figure = Figure {
            title: "f".into(),
            x: Axis::linear("x", [0.0, 1.0]),
            y: Axis::linear("y", [0.0, 1.0]),
            legend: Default::default(),
            series: vec![
                Series {
                    name: "p".into(),
                    color: [0, 0, 0],
                    shape: Shape::Points {
                        points: vec![[0.5, 0.25], [0.75, f64::NAN]],
                        errors: Some(vec![0.125, 0.0]),
                        marker: Marker::Circle,
                    },
                },
                Series {
                    name: "h".into(),
                    color: [0, 0, 0],
                    shape: Shape::Bars {
                        edges: vec![0.0, 0.5, 1.0],
                        counts: vec![3.0, 4.0],
                    },
                },
            ],
        };
        assert_eq!(
            figures_csv(&[&figure]),
            "figure,series,kind,x,y,error,x_end,y_end,text\nf,p,points,0.5,0.25,0.125,,,\n\
             f,p,points,0.75,,0,,,\nf,h,bar,0,3,,0.5,,\nf,h,bar,0.5,4,,1,,\n"
        );
    }
}
