//! Caption templates: a scene's caption names the numbers it quotes in braces (`{t_mid}`, `{d}`,
//! `{measured_t_mid.1}`, `{lambda:0}`) and every front fills them from the live computation, so the
//! text beside a plot never drifts from the plot, and an edited scene's caption follows the edit.
//!
//! A placeholder is `{name}`, `{name.LEVEL}` (hierarchy level, 0 = the first split) or either with
//! `:DECIMALS`. Names are checked when the scene is read: an unknown name is a scene error naming
//! `caption`. Literal braces are written `{{` and `}}`.

use crate::analysis::speciation::report::{LevelReport, SpeciationReport};

/// A live quantity a caption can quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// The scene's dimension d.
    Dim,
    /// Λ, the top data-covariance eigenvalue (e^{2·½ ln Λ}).
    Lambda,
    /// ½ ln Λ.
    HalfLnLambda,
    /// The exact free-entropy balance time.
    TBalance,
    /// The exact φ_post = midpoint crossing.
    TMid,
    /// The leading-order law of the balance time.
    LawTBalance,
    /// The leading-order law of the midpoint crossing.
    LawTMid,
    /// The measured cloning crossing with its standard error ("2.21 ± 0.06").
    MeasuredTMid,
    /// Clone pairs per time of the measurement.
    Pairs,
}

impl Quantity {
    /// Every quantity with its placeholder name and what it is (the scene-file documentation).
    pub const ALL: [(Quantity, &'static str, &'static str); 9] = [
        (Quantity::Dim, "d", "the scene's dimension"),
        (
            Quantity::Lambda,
            "lambda",
            "Λ, the largest data-covariance eigenvalue",
        ),
        (Quantity::HalfLnLambda, "half_ln_lambda", "½ ln Λ"),
        (
            Quantity::TBalance,
            "t_balance",
            "exact free-entropy balance time",
        ),
        (
            Quantity::TMid,
            "t_mid",
            "exact crossing of φ_post with its midpoint level",
        ),
        (
            Quantity::LawTBalance,
            "law_t_balance",
            "leading-order law of the balance time",
        ),
        (
            Quantity::LawTMid,
            "law_t_mid",
            "leading-order law of the midpoint crossing",
        ),
        (
            Quantity::MeasuredTMid,
            "measured_t_mid",
            "measured cloning crossing ± standard error",
        ),
        (
            Quantity::Pairs,
            "pairs",
            "clone pairs per time of the measurement",
        ),
    ];

    fn from_name(name: &str) -> Option<Quantity> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(q, _, _)| *q)
    }

    fn default_decimals(self) -> usize {
        match self {
            Quantity::Dim | Quantity::Pairs | Quantity::Lambda => 0,
            _ => 2,
        }
    }
}

/// One placeholder of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placeholder {
    pub quantity: Quantity,
    pub level: usize,
    pub decimals: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Value(Placeholder),
}

/// Splits `template` into text and placeholders; the error says which placeholder is wrong and why.
fn parse(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        let (text, tail) = rest.split_at(open);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        if let Some(after) = tail.strip_prefix("{{") {
            pieces.push(Piece::Text("{"));
            rest = after;
            continue;
        }
        if let Some(after) = tail.strip_prefix("}}") {
            pieces.push(Piece::Text("}"));
            rest = after;
            continue;
        }
        if tail.starts_with('}') {
            return Err("a lone `}` (write `}}` for a brace)".into());
        }
        let close = tail
            .find('}')
            .ok_or_else(|| format!("`{}` is not closed", truncate(tail)))?;
        pieces.push(Piece::Value(placeholder(&tail[1..close])?));
        rest = &tail[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

fn truncate(text: &str) -> &str {
    text.char_indices()
        .nth(24)
        .map_or(text, |(i, _)| &text[..i])
}

fn placeholder(inner: &str) -> Result<Placeholder, String> {
    let (path, decimals) = match inner.split_once(':') {
        Some((path, digits)) => {
            let decimals = digits
                .parse::<usize>()
                .ok()
                .filter(|&d| d <= 6)
                .ok_or_else(|| format!("`{{{inner}}}`: decimals must be 0 to 6"))?;
            (path, Some(decimals))
        }
        None => (inner, None),
    };
    let (name, level) = match path.split_once('.') {
        Some((name, level)) => {
            let level = level
                .parse::<usize>()
                .map_err(|_| format!("`{{{inner}}}`: the level after `.` must be a number"))?;
            (name, level)
        }
        None => (path, 0),
    };
    let quantity = Quantity::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Quantity::ALL.iter().map(|(_, n, _)| *n).collect();
        format!(
            "unknown placeholder `{{{inner}}}` (known: {})",
            names.join(", ")
        )
    })?;
    Ok(Placeholder {
        quantity,
        level,
        decimals: decimals.unwrap_or(quantity.default_decimals()),
    })
}

/// Checks a caption template (called when a scene is read).
pub fn check(template: &str) -> Result<(), String> {
    parse(template).map(|_| ())
}

/// What the placeholders are filled from: the scene's dimension and, once it has arrived, the
/// speciation report of the scene as it is now.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaptionValues<'a> {
    pub dim: Option<usize>,
    pub report: Option<&'a SpeciationReport>,
}

/// Shown for a quantity not computed yet (the report is still running).
pub const PENDING: &str = "…";
/// Shown for a quantity this scene does not have (no such level, no crossing, no law).
pub const ABSENT: &str = "n/a";

impl CaptionValues<'_> {
    fn value(&self, p: Placeholder) -> String {
        let number =
            |v: Option<f64>| v.map_or(ABSENT.to_string(), |v| format!("{v:.*}", p.decimals));
        if p.quantity == Quantity::Dim {
            return self.dim.map_or(ABSENT.to_string(), |d| d.to_string());
        }
        let Some(report) = self.report else {
            return PENDING.into();
        };
        if p.quantity == Quantity::Pairs {
            return report.settings.pairs.to_string();
        }
        let Some(level) = report.levels.get(p.level) else {
            return ABSENT.into();
        };
        let theory = &level.theory;
        match p.quantity {
            Quantity::Lambda => number(theory.t_bbdm.map(|t| (2.0 * t).exp())),
            Quantity::HalfLnLambda => number(theory.t_bbdm),
            Quantity::TBalance => number(theory.t_balance),
            Quantity::TMid => number(theory.t_mid),
            Quantity::LawTBalance => number(theory.leading_order.and_then(|l| l.t_balance)),
            Quantity::LawTMid => number(theory.leading_order.and_then(|l| l.t_mid)),
            Quantity::MeasuredTMid => measured(level, p.decimals),
            Quantity::Dim | Quantity::Pairs => unreachable!("handled above"),
        }
    }
}

fn measured(level: &LevelReport, decimals: usize) -> String {
    match (level.measured.t_mid, level.measured.t_mid_stderr) {
        (Some(t), Some(se)) => format!("{t:.decimals$} ± {se:.decimals$}"),
        (Some(t), None) => format!("{t:.decimals$}"),
        (None, _) => "no crossing".into(),
    }
}

/// The caption with its placeholders filled. A template that does not parse (only possible for a
/// scene built in code, as reading checks it) is shown as written.
pub fn fill(template: &str, values: CaptionValues) -> String {
    let Ok(pieces) = parse(template) else {
        return template.to_string();
    };
    pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.to_string(),
            Piece::Value(p) => values.value(p),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_parse_with_levels_and_decimals() {
        let pieces = parse("a {t_mid} b {measured_t_mid.1:3} {{x}}").unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("a "),
                Piece::Value(Placeholder {
                    quantity: Quantity::TMid,
                    level: 0,
                    decimals: 2
                }),
                Piece::Text(" b "),
                Piece::Value(Placeholder {
                    quantity: Quantity::MeasuredTMid,
                    level: 1,
                    decimals: 3
                }),
                Piece::Text(" "),
                Piece::Text("{"),
                Piece::Text("x"),
                Piece::Text("}"),
            ]
        );
    }

    #[test]
    fn bad_placeholders_say_what_is_wrong() {
        assert!(
            check("{tmid}")
                .unwrap_err()
                .contains("unknown placeholder `{tmid}`")
        );
        assert!(check("{t_mid.x}").unwrap_err().contains("level"));
        assert!(check("{t_mid:9}").unwrap_err().contains("decimals"));
        assert!(check("open {t_mid").unwrap_err().contains("not closed"));
        assert!(check("a } b").unwrap_err().contains("lone"));
    }

    #[test]
    fn values_wait_for_the_report_but_not_for_the_scene() {
        let values = CaptionValues {
            dim: Some(600),
            report: None,
        };
        assert_eq!(
            fill("d = {d}, t = {t_mid}", values),
            format!("d = 600, t = {PENDING}")
        );
    }
}
