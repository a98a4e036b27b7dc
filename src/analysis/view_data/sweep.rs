//! Parameter sweeps: a scene edited at dotted keys (`--vary KEY=VALUES`), the cartesian product of the
//! values as numbered points, each measured ([`Measure`]: the speciation lab, the geometry metrics of the
//! sampled cloud, or both) and written to its own file named after its parameters, and the collected
//! files as a table and a figure.
//!
//! One point per file makes a sweep shardable (`index % count == shard`, no coordination between
//! processes) and resumable (a point whose file already parses is not measured again). A point depends
//! only on the scene and its parameters (the scene's seed drives the lab), so sharded and unsharded
//! runs write the same bytes. Sits with the view data: it reads scenes and runs the lab, as the fronts do.

use super::{ViewDataError, cloud, lab, measured};
use crate::analysis::control::Control;
use crate::analysis::geometry::MetricReport;
use crate::analysis::speciation::laws::reference_families;
use crate::analysis::speciation::report::{LevelTheory, Measured};
use crate::figure::{
    Axis, ColumnGroup, Figure, LegendPlace, Marker, Rgb, Row, Series, Shape, Table,
};
use crate::io::IoError;
use crate::io::atomic::write_bytes_atomic;
use crate::model::learned;
use crate::scene::{ModelSpec, Scene, SceneError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use thiserror::Error;

/// Why a sweep could not be planned, run or collected. Every message names the `--vary` spec, key,
/// point or file concerned.
#[derive(Debug, Error)]
pub enum SweepError {
    #[error("--vary {spec}: {message}")]
    Vary { spec: String, message: String },
    #[error("--shard {spec}: {message}")]
    Shard { spec: String, message: String },
    #[error("point {point}: {source}")]
    Scene { point: String, source: SceneError },
    #[error("point {point}: {source}")]
    Measurement {
        point: String,
        source: ViewDataError,
    },
    #[error("cannot {action} the folder: {source}: {path}")]
    Folder {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] IoError),
    #[error("malformed point file: {message}: {path}")]
    PointFile { path: PathBuf, message: String },
    #[error("{0}")]
    Collect(String),
}

/// One `--vary KEY=VALUES`: a dotted key into the scene JSON and the values it takes, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    pub key: String,
    pub values: Vec<Value>,
}

/// Significant digits kept of the points of a geometric range: enough to tell them apart, short enough
/// for file names (`0.316228`, not `0.31622776601683794`).
const RANGE_DIGITS: usize = 6;

/// The most points one range may ask for; a typo such as `1..1000:10000` fails instead of running for days.
const MAX_RANGE_POINTS: usize = 10_000;

impl Vary {
    /// Parses `KEY=VALUES`. VALUES is a comma list (`16,32,64`, `argmax,sampled`) or a geometric range
    /// `A..B:N`: N points from A to B with a constant ratio (A, B > 0; integers when A and B are
    /// integers, rounded, repeats dropped; otherwise rounded to six significant digits). Each list item
    /// is a JSON number, `true`/`false`, or else a string.
    pub fn parse(spec: &str) -> Result<Vary, SweepError> {
        let fail = |message: String| SweepError::Vary {
            spec: spec.to_string(),
            message,
        };
        let (key, values) = spec
            .split_once('=')
            .ok_or_else(|| fail("expected KEY=VALUES, e.g. model.dim=16,32,64".into()))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(fail(format!(
                "the key {key:?} must be dotted names, e.g. model.dim"
            )));
        }
        // A range starts with a number; a list may hold paths such as ../models/a.safetensors.
        let values = match values.split_once("..") {
            Some((from, rest)) if !values.contains(',') && from.trim().parse::<f64>().is_ok() => {
                geometric_range(from, rest).map_err(fail)?
            }
            _ => comma_list(values).map_err(fail)?,
        };
        for (i, value) in values.iter().enumerate() {
            if values[..i].contains(value) {
                return Err(fail(format!("the value {value} is given twice")));
            }
        }
        Ok(Vary {
            key: key.to_string(),
            values,
        })
    }
}

fn comma_list(text: &str) -> Result<Vec<Value>, String> {
    text.split(',')
        .map(|item| {
            let item = item.trim();
            if item.is_empty() {
                return Err("an empty value in the list (expected e.g. 16,32,64)".to_string());
            }
            Ok(match item {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => match item.parse::<serde_json::Number>() {
                    Ok(number) => Value::Number(number),
                    Err(_) => Value::String(item.to_string()),
                },
            })
        })
        .collect()
}

/// `A..B:N` after the split at `..`: `from` = A, `rest` = `B:N`.
fn geometric_range(from: &str, rest: &str) -> Result<Vec<Value>, String> {
    let syntax = "expected a range A..B:N (N points from A to B with a constant ratio)";
    let (to, count) = rest.split_once(':').ok_or_else(|| syntax.to_string())?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{s:?} is not a number; {syntax}"))
    };
    let (a, b) = (number(from)?, number(to)?);
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| format!("{count:?} is not a count of points; {syntax}"))?;
    if !(a > 0.0 && b > 0.0) {
        return Err(format!(
            "a geometric range needs A > 0 and B > 0, got {a} and {b}"
        ));
    }
    if !(2..=MAX_RANGE_POINTS).contains(&count) {
        return Err(format!(
            "a range needs 2..={MAX_RANGE_POINTS} points, got {count}"
        ));
    }
    let integers = [from, to].iter().all(|s| s.trim().parse::<u64>().is_ok());
    let ratio = (b / a).powf(1.0 / (count - 1) as f64);
    let mut values: Vec<Value> = Vec::with_capacity(count);
    for i in 0..count {
        // The ends exactly as written; powers in between (a · ratio^i drifts from B by rounding).
        let v = match i {
            0 => a,
            _ if i == count - 1 => b,
            _ => a * ratio.powi(i as i32),
        };
        let value = if integers {
            Value::from(v.round() as u64)
        } else {
            let rounded: f64 = format!("{v:.prec$e}", prec = RANGE_DIGITS - 1)
                .parse()
                .expect("a formatted float parses");
            Value::from(rounded)
        };
        // Integer rounding of a dense range repeats values (1..4:10): keep each once.
        if values.last() != Some(&value) {
            values.push(value);
        }
    }
    Ok(values)
}

/// `--shard I/N`: this process measures the points whose index % N == I.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// All points in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with 0 ≤ I < N.
    pub fn parse(spec: &str) -> Result<Shard, SweepError> {
        let fail = |message: String| SweepError::Shard {
            spec: spec.to_string(),
            message,
        };
        let (index, count) = spec
            .split_once('/')
            .ok_or_else(|| fail("expected I/N, e.g. 0/8 (0-based I < N)".into()))?;
        let parse = |s: &str, what: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| fail(format!("{what} {s:?} is not a whole number ≥ 0")))
        };
        let (index, count) = (parse(index, "I")?, parse(count, "N")?);
        if count == 0 || index >= count {
            return Err(fail(format!(
                "needs 0 ≤ I < N (I is 0-based), got I = {index}, N = {count}"
            )));
        }
        Ok(Shard { index, count })
    }

    pub fn owns(&self, point: &Point) -> bool {
        point.index % self.count == self.index
    }
}

/// What a sweep measures at each point (spelt in the point files as on the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// The speciation lab with the scene's settings: theory times and the cloning crossing ± s.e.
    Speciation,
    /// The geometry metrics (the metric table's, default parameters) of the sampled cloud at its last
    /// stored step.
    Metrics,
    /// Both.
    Both,
}

impl Measure {
    pub fn speciation(self) -> bool {
        matches!(self, Measure::Speciation | Measure::Both)
    }

    pub fn metrics(self) -> bool {
        matches!(self, Measure::Metrics | Measure::Both)
    }
}

/// One varied key's value at a point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub key: String,
    pub value: Value,
}

/// One point of the sweep: its index in the fixed order and its parameters (in `--vary` order).
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub index: usize,
    pub parameters: Vec<Parameter>,
    /// File name from the parameters, e.g. `model.dim=0064__seed=0007.json`.
    pub file_name: String,
}

/// A sweep ready to run: the scene as JSON and every point, each already checked to be a valid scene.
#[derive(Clone, Debug)]
pub struct Plan {
    pub scene_file: PathBuf,
    scene_json: Value,
    pub points: Vec<Point>,
}

/// Integer parts in file names are padded to at least this many digits, so that names sort by value and
/// stay the same when a sweep is extended by values below 10⁴.
const MIN_PAD: usize = 4;

impl Plan {
    /// Reads the scene and lays out the cartesian product of `varies` (the first `--vary` outermost,
    /// the last innermost). Every point is parsed as a scene here, so a bad key or value fails before
    /// anything is measured.
    pub fn new(scene_file: &Path, varies: &[Vary]) -> Result<Plan, SweepError> {
        let as_written = |source| SweepError::Scene {
            point: "(the scene as written)".into(),
            source,
        };
        let text = std::fs::read_to_string(scene_file).map_err(|source| {
            as_written(SceneError::Read {
                file: scene_file.to_path_buf(),
                source,
            })
        })?;
        // Checked unedited first: a scene that is broken without any edit is reported as such.
        Scene::from_json_str(&text, scene_file).map_err(as_written)?;
        let scene_json: Value = serde_json::from_str(&text).map_err(|e| {
            as_written(SceneError::Syntax {
                file: scene_file.to_path_buf(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })
        })?;
        for (i, vary) in varies.iter().enumerate() {
            if varies[..i].iter().any(|v| v.key == vary.key) {
                return Err(SweepError::Vary {
                    spec: vary.key.clone(),
                    message: "the key is varied twice".into(),
                });
            }
        }
        let pads: Vec<usize> = varies.iter().map(|v| integer_digits(&v.values)).collect();
        let total: usize = varies.iter().map(|v| v.values.len()).product();
        let mut points = Vec::with_capacity(total);
        for index in 0..total {
            // Mixed radix, the last key fastest.
            let mut rest = index;
            let mut chosen = vec![0; varies.len()];
            for (slot, vary) in varies.iter().enumerate().rev() {
                chosen[slot] = rest % vary.values.len();
                rest /= vary.values.len();
            }
            let parameters: Vec<Parameter> = varies
                .iter()
                .zip(&chosen)
                .map(|(vary, &c)| Parameter {
                    key: vary.key.clone(),
                    value: vary.values[c].clone(),
                })
                .collect();
            let file_name = file_name(&parameters, &pads);
            points.push(Point {
                index,
                parameters,
                file_name,
            });
        }
        let plan = Plan {
            scene_file: scene_file.to_path_buf(),
            scene_json,
            points,
        };
        for point in &plan.points {
            plan.scene_at(point)?;
        }
        Ok(plan)
    }

    /// The scene with `point`'s values set, parsed and checked by the scene parser (which names the key
    /// of any value it refuses) and with model files resolved as [`Scene::load`] does.
    pub fn scene_at(&self, point: &Point) -> Result<Scene, SweepError> {
        let fail = |source| SweepError::Scene {
            point: label(&point.parameters),
            source,
        };
        let mut json = self.scene_json.clone();
        for parameter in &point.parameters {
            set_at_key(&mut json, &parameter.key, parameter.value.clone()).map_err(|message| {
                fail(SceneError::Invalid {
                    file: self.scene_file.clone(),
                    key: parameter.key.clone(),
                    message,
                })
            })?;
        }
        let mut scene = Scene::from_json_str(&json.to_string(), &self.scene_file).map_err(fail)?;
        scene.resolve_model_files(self.scene_file.parent());
        Ok(scene)
    }
}

/// Sets `value` at the dotted `key` (`model.dim`, `model.components.0.weight`): objects on the way are
/// created when missing (a scene without a `speciation` block can still vary `speciation.pairs`),
/// array items are addressed by index and must exist.
fn set_at_key(root: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let segments: Vec<&str> = key.split('.').collect();
    let mut here = root;
    for (depth, segment) in segments.iter().enumerate() {
        let walked = segments[..depth].join(".");
        let walked = if walked.is_empty() {
            "the scene".to_string()
        } else {
            walked
        };
        here = match here {
            Value::Object(map) => map.entry(*segment).or_insert(Value::Null),
            Value::Array(items) => {
                let len = items.len();
                let item = segment.parse::<usize>().ok().and_then(|i| items.get_mut(i));
                item.ok_or_else(|| {
                    format!("{walked} is a list of {len}: expected an index 0..{len}")
                })?
            }
            Value::Null => {
                *here = Value::Object(serde_json::Map::new());
                match here {
                    Value::Object(map) => map.entry(*segment).or_insert(Value::Null),
                    _ => unreachable!("just made an object"),
                }
            }
            other => {
                return Err(format!(
                    "{walked} is {}, it has no key {segment:?}",
                    kind_of(other)
                ));
            }
        };
    }
    *here = value;
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The widest integer part among `values`, at least [`MIN_PAD`].
fn integer_digits(values: &[Value]) -> usize {
    values
        .iter()
        .filter_map(Value::as_f64)
        .map(|v| format!("{}", v.abs().trunc()).len())
        .fold(MIN_PAD, usize::max)
}

/// `key=value` pairs joined by `__`, `.json`: integer parts zero-padded to `pads[i]` digits so names
/// sort as the values do (non-negative numbers), other characters outside `[A-Za-z0-9._-]` as `_`.
fn file_name(parameters: &[Parameter], pads: &[usize]) -> String {
    let parts: Vec<String> = parameters
        .iter()
        .zip(pads)
        .map(|(p, &pad)| format!("{}={}", safe(&p.key), padded(&p.value, pad)))
        .collect();
    format!("{}.json", parts.join("__"))
}

fn padded(value: &Value, pad: usize) -> String {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            let (sign, digits) = match text.strip_prefix('-') {
                Some(digits) => ("-", digits),
                None => ("", text.as_str()),
            };
            let (whole, fraction) = match digits.split_once('.') {
                Some((whole, fraction)) => (whole, format!(".{fraction}")),
                None => (digits, String::new()),
            };
            // Exponent forms (1e300) keep their text; only plain decimals are padded.
            if whole.chars().all(|c| c.is_ascii_digit()) && !fraction.contains(['e', 'E']) {
                format!("{sign}{whole:0>pad$}{fraction}")
            } else {
                safe(&text)
            }
        }
        Value::String(s) => safe(s),
        other => safe(&other.to_string()),
    }
}

fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `model.dim=64, seed=7`: a point as people read it.
pub fn label(parameters: &[Parameter]) -> String {
    parameters
        .iter()
        .map(|p| format!("{}={}", p.key, plain(&p.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A point file as written: the report's own theory and measured blocks of the headline level (the
/// same fields, names and numbers as `diffscope speciation --json` has at its top level) and/or the
/// metric report (the same JSON as `diffscope metrics --json`).
#[derive(Serialize)]
struct PointDocument<'a> {
    parameters: &'a [Parameter],
    scene: String,
    title: Option<&'a str>,
    measure: Measure,
    #[serde(skip_serializing_if = "Option::is_none")]
    theory: Option<&'a LevelTheory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    measured: Option<&'a Measured>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<&'a MetricReport>,
    /// Trainable parameters of a learned scene's network (`learned`, `hidden_states`).
    #[serde(skip_serializing_if = "Option::is_none")]
    model_parameters: Option<usize>,
    version: &'static str,
}

/// A point file as read back: the fields the table and the figure use (others are kept in the file).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PointRecord {
    pub parameters: Vec<Parameter>,
    pub title: Option<String>,
    pub measure: Measure,
    /// Present when the point measured speciation.
    #[serde(default)]
    pub theory: Option<TheoryTimes>,
    #[serde(default)]
    pub measured: Option<MeasuredTime>,
    /// Present when the point measured the geometry metrics.
    #[serde(default)]
    pub metrics: Option<MetricValues>,
    /// Trainable parameters of the point's network, when its scene has one.
    #[serde(default)]
    pub model_parameters: Option<usize>,
    pub version: String,
}

/// The theory times of the headline level: ½ ln Λ, balance crossing, exact-posterior midpoint crossing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TheoryTimes {
    pub t_bbdm: Option<f64>,
    pub t_balance: Option<f64>,
    pub t_mid: Option<f64>,
}

/// The cloning curve's midpoint crossing and its bootstrap standard error.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MeasuredTime {
    pub t_mid: Option<f64>,
    pub t_mid_stderr: Option<f64>,
}

/// The numbers of a metric report that the table shows (the report's JSON keys; the rest stays in the
/// file).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MetricValues {
    pub n: usize,
    pub dim: usize,
    pub intrinsic_dim: DimensionValues,
    pub flatness: FlatnessValues,
    pub density: DensityValues,
    pub holes: HoleValues,
    pub wall_ratio: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DimensionValues {
    pub pca95: usize,
    pub pca90: usize,
    pub participation_ratio: Option<f64>,
    pub twonn: Option<f64>,
    pub mle: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FlatnessValues {
    /// The ε floor, not a measurement, when `rank_deficient` is set.
    pub spectral: Option<f64>,
    pub rank_deficient: Option<Value>,
    pub local_curvature: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DensityValues {
    pub entropy_uniformity: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct HoleValues {
    pub probe: usize,
    pub probe_of: usize,
    pub void: usize,
}

/// Reads a point file; `None` when it does not exist.
pub fn read_point(path: &Path) -> Result<Option<PointRecord>, SweepError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SweepError::PointFile {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| SweepError::PointFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// What happened to one point of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its file existed and parsed: not measured again.
    Skipped,
    Measured,
}

/// Counts of a finished run (of this shard's points only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub skipped: usize,
    pub measured: usize,
}

/// Measures `measure` at this shard's points of `plan` into `out` (created if missing), one file per
/// point, written atomically. A point whose file parses and holds the same measurement is skipped; a
/// damaged file, or one of another measurement, is measured again. `on_point` is told about each point
/// as it finishes.
pub fn run(
    plan: &Plan,
    measure: Measure,
    out: &Path,
    shard: Shard,
    on_point: &mut dyn FnMut(&Point, Outcome),
) -> Result<RunSummary, SweepError> {
    std::fs::create_dir_all(out).map_err(|source| SweepError::Folder {
        action: "create",
        path: out.to_path_buf(),
        source,
    })?;
    let mut summary = RunSummary::default();
    for point in plan.points.iter().filter(|p| shard.owns(p)) {
        let path = out.join(&point.file_name);
        if matches!(read_point(&path), Ok(Some(r)) if r.measure == measure) {
            summary.skipped += 1;
            on_point(point, Outcome::Skipped);
            continue;
        }
        let text = measure_point(plan, point, measure)?;
        write_bytes_atomic(&path, text.as_bytes())?;
        summary.measured += 1;
        on_point(point, Outcome::Measured);
    }
    Ok(summary)
}

/// The point document of `measure` on the point's scene with the scene's own settings: the speciation
/// lab, and/or the metric report of the sampled cloud's last stored step (measured as the app's metric
/// table measures it).
fn measure_point(plan: &Plan, point: &Point, measure: Measure) -> Result<String, SweepError> {
    let scene = plan.scene_at(point)?;
    let failed = |source| SweepError::Measurement {
        point: label(&point.parameters),
        source,
    };
    let mut progress = |_: f32, _: &str| {};
    let never_cancelled = AtomicBool::new(false);
    let mut control = Control::new(&mut progress, &never_cancelled);
    let report = if measure.speciation() {
        let settings = lab::speciation_settings(&scene);
        Some(lab::run_lab(&scene, &settings, &mut control).map_err(failed)?)
    } else {
        None
    };
    let metrics = if measure.metrics() {
        let cloud = cloud::sample_scene(&scene, &mut control).map_err(failed)?;
        Some(measured::measure_step(&cloud, None).map_err(failed)?.report)
    } else {
        None
    };
    let document = PointDocument {
        parameters: &point.parameters,
        scene: plan.scene_file.display().to_string(),
        title: scene.title.as_deref(),
        measure,
        theory: report.as_ref().map(|r| &r.headline.theory),
        measured: report.as_ref().map(|r| &r.headline.measured),
        metrics: metrics.as_ref(),
        model_parameters: network_parameters(&scene).map_err(failed)?,
        version: env!("CARGO_PKG_VERSION"),
    };
    let mut text = serde_json::to_string_pretty(&document)
        .expect("a point document is plain numbers and strings");
    text.push('\n');
    Ok(text)
}

/// The parameter count of the scene's network when it has one (a `learned` denoiser or the sequence
/// model behind `hidden_states`), so that metrics can be plotted against model size.
fn network_parameters(scene: &Scene) -> Result<Option<usize>, ViewDataError> {
    let path = match &scene.model {
        ModelSpec::Learned(spec) => &spec.path,
        ModelSpec::HiddenStates(spec) => &spec.path,
        ModelSpec::GaussianMixture(_) | ModelSpec::IsingMixture(_) | ModelSpec::Onnx(_) => {
            return Ok(None);
        }
    };
    let model = learned::load(path).map_err(ViewDataError::Learned)?;
    Ok(Some(model.params().count()))
}

/// Every point file (`*.json`, not hidden) of `dir`, sorted by parameters; all must vary the same keys.
pub fn collect(dir: &Path) -> Result<Vec<PointRecord>, SweepError> {
    let folder_error = |source| SweepError::Folder {
        action: "read",
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(folder_error)? {
        let path = entry.map_err(folder_error)?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if path.extension().is_some_and(|e| e == "json")
            && name.is_some_and(|n| !n.starts_with('.'))
            && path.is_file()
        {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(SweepError::Collect(format!(
            "no point files (*.json) in {}",
            dir.display()
        )));
    }
    let mut records: Vec<(PathBuf, PointRecord)> = Vec::with_capacity(files.len());
    for path in files {
        let record = read_point(&path)?.ok_or_else(|| SweepError::PointFile {
            path: path.clone(),
            message: "vanished while reading".into(),
        })?;
        records.push((path, record));
    }
    let keys = |r: &PointRecord| {
        r.parameters
            .iter()
            .map(|p| p.key.clone())
            .collect::<Vec<_>>()
    };
    let (first_path, first) = &records[0];
    for (path, record) in &records[1..] {
        if keys(record) != keys(first) {
            return Err(SweepError::Collect(format!(
                "{} varies {:?} but {} varies {:?}: one sweep per folder",
                path.display(),
                keys(record),
                first_path.display(),
                keys(first)
            )));
        }
    }
    let mut records: Vec<PointRecord> = records.into_iter().map(|(_, r)| r).collect();
    records.sort_by(|a, b| compare_parameters(&a.parameters, &b.parameters));
    Ok(records)
}

/// Numbers by value, anything else by its text; the first key decides first.
fn compare_parameters(a: &[Parameter], b: &[Parameter]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| match (x.value.as_f64(), y.value.as_f64()) {
            (Some(u), Some(v)) => u.total_cmp(&v),
            _ => plain(&x.value).cmp(&plain(&y.value)),
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// (measured − theory) / s.e.: how many standard errors the cloning crossing lies from the
/// exact-posterior crossing.
pub fn deviation(record: &PointRecord) -> Option<f64> {
    let measured = record.measured.as_ref()?;
    let (t, se) = (measured.t_mid?, measured.t_mid_stderr?);
    let theory = record.theory.as_ref()?.t_mid?;
    (se > 0.0).then(|| (t - theory) / se)
}

/// The metric columns of a sweep table: header and the value of a point's metrics (`None`: not
/// defined for that cloud).
type MetricColumn = (&'static str, fn(&MetricValues) -> Option<f64>);

/// The metric table's numbers (docs/science/metrics.md), one column each; counts as plain numbers so
/// a CSV plots directly.
const METRIC_COLUMNS: [MetricColumn; 12] = [
    ("N", |m| Some(m.n as f64)),
    ("PCA 95 %", |m| Some(m.intrinsic_dim.pca95 as f64)),
    ("PCA 90 %", |m| Some(m.intrinsic_dim.pca90 as f64)),
    ("participation ratio", |m| {
        m.intrinsic_dim.participation_ratio
    }),
    ("TwoNN", |m| m.intrinsic_dim.twonn),
    ("MLE", |m| m.intrinsic_dim.mle),
    // A rank-deficient spectrum's F_spec is the ε floor, not a measurement: left empty.
    ("F_spec", |m| {
        m.flatness
            .spectral
            .filter(|_| m.flatness.rank_deficient.is_none())
    }),
    ("K_loc", |m| Some(m.flatness.local_curvature)),
    ("U_ent", |m| Some(m.density.entropy_uniformity)),
    ("H_probe", |m| Some(m.holes.probe as f64)),
    ("H_void", |m| Some(m.holes.void as f64)),
    ("W", |m| m.wall_ratio),
];

/// The collected points as a table: one row per point, its parameters, then for speciation points the
/// exact-posterior t_mid, the measured t_mid, its standard error and the deviation in standard errors,
/// and for metrics points the metric table's numbers (a group appears when any point has it).
/// `full_precision` writes numbers in their shortest round-trip form (CSV); otherwise rounded
/// (terminal).
pub fn table(records: &[PointRecord], full_precision: bool) -> Table {
    let number = |v: Option<f64>, decimals: usize| match v {
        Some(v) if full_precision => v.to_string(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => format!("{v:.decimals$}"),
        None if full_precision => String::new(),
        None => "—".to_string(),
    };
    let keys: Vec<String> = records
        .first()
        .map(|r| r.parameters.iter().map(|p| p.key.clone()).collect())
        .unwrap_or_default();
    let speciation = records.iter().any(|r| r.theory.is_some());
    let metrics = records.iter().any(|r| r.metrics.is_some());
    let sized = records.iter().any(|r| r.model_parameters.is_some());
    let rows = records
        .iter()
        .map(|r| {
            let mut cells = vec![r.parameters.iter().map(|p| plain(&p.value)).collect()];
            if sized {
                cells.push(vec![number(r.model_parameters.map(|n| n as f64), 0)]);
            }
            if speciation {
                let theory = r.theory.as_ref().and_then(|t| t.t_mid);
                let measured = r.measured.as_ref();
                cells.push(vec![number(theory, 3)]);
                cells.push(vec![
                    number(measured.and_then(|m| m.t_mid), 3),
                    number(measured.and_then(|m| m.t_mid_stderr), 3),
                    number(deviation(r), 2),
                ]);
            }
            if metrics {
                cells.push(
                    METRIC_COLUMNS
                        .iter()
                        .map(|(_, value)| number(r.metrics.as_ref().and_then(value), 3))
                        .collect(),
                );
            }
            Row {
                name: label(&r.parameters),
                warning: None,
                cells,
            }
        })
        .collect();
    let mut groups = vec![ColumnGroup {
        caption: "parameters".into(),
        columns: keys,
    }];
    if sized {
        groups.push(ColumnGroup {
            caption: "network".into(),
            columns: vec!["parameters".into()],
        });
    }
    if speciation {
        groups.push(ColumnGroup {
            caption: "theory (exact posterior)".into(),
            columns: vec!["t_mid".into()],
        });
        groups.push(ColumnGroup {
            caption: "measured (cloning)".into(),
            columns: vec![
                "t_mid".into(),
                "s.e. (bootstrap)".into(),
                "deviation (s.e.)".into(),
            ],
        });
    }
    if metrics {
        groups.push(ColumnGroup {
            caption: "geometry metrics (sampled cloud at the last stored step)".into(),
            columns: METRIC_COLUMNS
                .iter()
                .map(|(name, _)| name.to_string())
                .collect(),
        });
    }
    let caption = match (speciation, metrics) {
        (true, false) => {
            "speciation sweep: exact-posterior midpoint crossing against the cloning crossing"
        }
        (false, true) => "metrics sweep: the geometry metrics of the sampled cloud at each point",
        _ => "sweep: speciation crossings and geometry metrics at each point",
    };
    Table {
        caption: caption.into(),
        row_header: "point".into(),
        groups,
        rows,
        warnings: Vec::new(),
        notes: Vec::new(),
    }
}

/// Colours of the series groups (Okabe–Ito, as the app's plots): measured points, and the theory line
/// dashed in the same colour when several groups share the figure.
const GROUP_COLORS: [Rgb; 4] = [
    [86, 180, 233],
    [230, 159, 0],
    [0, 158, 115],
    [204, 121, 167],
];
const THEORY_COLOR: Rgb = [230, 159, 0];
/// Colours of the reference laws (dashed, under the points): the two reference families' own.
const LAW_COLORS: [Rgb; 2] = [[0, 114, 178], [204, 121, 167]];

/// The swept key that is the dimension d: its figure draws the leading-order laws of the reference
/// families beneath the points (½ ln d for means ±1, ¼ ln(d/8) for variances 1 vs 2).
pub const DIMENSION_KEY: &str = "model.dim";
/// Dimensions of a drawn law between the sweep's ends (log-spaced).
const LAW_POINTS: usize = 33;

/// The measured t_mid with error bars against the first varied parameter, over the theory line (the
/// exact-posterior crossing of each point) and, when the parameter is the dimension ([`DIMENSION_KEY`]),
/// the reference families' leading-order laws. Points that differ in other parameters are drawn as
/// separate series. The x axis is logarithmic when the values span more than a decade. One figure
/// model for `diffscope sweep collect --svg` and the app's Theory tab.
pub fn figure(records: &[PointRecord]) -> Result<Figure, SweepError> {
    let first_key = records
        .first()
        .and_then(|r| r.parameters.first())
        .map(|p| p.key.clone())
        .ok_or_else(|| SweepError::Collect("nothing to plot: no points".into()))?;
    if records.iter().all(|r| r.theory.is_none()) {
        return Err(SweepError::Collect(
            "nothing to plot: the sweep measured no speciation times (the figure plots t_mid; its \
             metrics are in the table)"
                .into(),
        ));
    }
    let mut xs = Vec::with_capacity(records.len());
    for r in records {
        let value = &r.parameters[0].value;
        xs.push(value.as_f64().ok_or_else(|| {
            SweepError::Collect(format!(
                "cannot plot against {first_key}: its value {value} is not a number"
            ))
        })?);
    }
    // Groups of the other parameters, in the table's order.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let rest = label(&r.parameters[1..]);
        match groups.iter_mut().find(|(name, _)| *name == rest) {
            Some((_, members)) => members.push(i),
            None => groups.push((rest, vec![i])),
        }
    }
    let mut series = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let (x_lo, x_hi) = range(&xs);
    if first_key == DIMENSION_KEY && x_lo >= 1.0 {
        for ((name, family), color) in reference_families().into_iter().zip(LAW_COLORS) {
            let points: Vec<[f64; 2]> = (0..LAW_POINTS)
                .map(|i| x_lo * (x_hi / x_lo).powf(i as f64 / (LAW_POINTS - 1) as f64))
                .filter_map(|d| {
                    let t = family.law(d.round() as usize)?;
                    (t.is_finite() && t > 0.0).then_some([d.round(), t])
                })
                .collect();
            ys.extend(points.iter().map(|p| p[1]));
            series.push(Series {
                name: format!("leading-order law {} ({name})", family.law_text()),
                color,
                shape: Shape::Line {
                    points,
                    dashed: true,
                },
            });
        }
    }
    let laws = series.len();
    for (rest, members) in &groups {
        let suffix = if rest.is_empty() {
            String::new()
        } else {
            format!(" ({rest})")
        };
        let theory: Vec<[f64; 2]> = members
            .iter()
            .filter_map(|&i| Some([xs[i], records[i].theory.as_ref()?.t_mid?]))
            .collect();
        let (mut points, mut errors) = (Vec::new(), Vec::new());
        for &i in members {
            if let Some(measured) = &records[i].measured
                && let Some(t) = measured.t_mid
            {
                let se = measured.t_mid_stderr.unwrap_or(0.0);
                points.push([xs[i], t]);
                errors.push(se);
                ys.extend([t - se, t + se]);
            }
        }
        ys.extend(theory.iter().map(|p| p[1]));
        let color = GROUP_COLORS[(series.len() - laws) / 2 % GROUP_COLORS.len()];
        let alone = groups.len() == 1;
        series.push(Series {
            name: format!("theory t_mid (exact posterior){suffix}"),
            color: if alone { THEORY_COLOR } else { color },
            shape: Shape::Line {
                points: theory,
                dashed: !alone,
            },
        });
        series.push(Series {
            name: format!("measured t_mid ± s.e. (cloning){suffix}"),
            color,
            shape: Shape::Points {
                points,
                errors: Some(errors),
                marker: Marker::Circle,
            },
        });
    }
    let x = if x_lo > 0.0 && x_hi / x_lo > 10.0 {
        Axis::log(first_key.clone(), [x_lo / 1.2, x_hi * 1.2])
    } else {
        let pad = ((x_hi - x_lo) * 0.05).max(1e-9);
        Axis::linear(first_key.clone(), [x_lo - pad, x_hi + pad])
    };
    let (y_lo, y_hi) = range(&ys);
    let y_pad = ((y_hi - y_lo) * 0.1).max(0.05);
    Ok(Figure {
        title: format!("speciation time against {first_key}"),
        x,
        y: Axis::linear("t_mid", [y_lo - y_pad, y_hi + y_pad]),
        series,
        // Speciation times grow with the usual swept sizes (d, separation): the top left stays empty.
        legend: LegendPlace::LeftTop,
    })
}

/// The figures of a sweep: the speciation figure ([`figure`]) when it measured speciation times, else
/// the metric figures ([`metric_figures`]).
pub fn figures(records: &[PointRecord]) -> Result<Vec<Figure>, SweepError> {
    if records.iter().any(|r| r.theory.is_some()) {
        Ok(vec![figure(records)?])
    } else {
        metric_figures(records)
    }
}

/// The metric columns drawn together, one figure per group of like units: dimensions, unit-free
/// shape scores, counts of holes (`METRIC_COLUMNS` names).
const METRIC_FIGURES: [(&str, &[&str]); 3] = [
    (
        "intrinsic dimension",
        &["PCA 90 %", "participation ratio", "TwoNN", "MLE"],
    ),
    ("flatness and density", &["F_spec", "K_loc", "U_ent", "W"]),
    ("holes", &["H_probe", "H_void"]),
];

/// A metrics sweep's numbers as figures (one per group of [`METRIC_FIGURES`]), against the network's
/// parameter count when every point has one (a sweep over model size), else against the first varied
/// parameter. The x axis is logarithmic when the values span more than a decade.
pub fn metric_figures(records: &[PointRecord]) -> Result<Vec<Figure>, SweepError> {
    let first_key = records
        .first()
        .and_then(|r| r.parameters.first())
        .map(|p| p.key.clone())
        .ok_or_else(|| SweepError::Collect("nothing to plot: no points".into()))?;
    if records.iter().all(|r| r.metrics.is_none()) {
        return Err(SweepError::Collect(
            "nothing to plot: the sweep measured neither speciation times nor metrics".into(),
        ));
    }
    let by_size = records.iter().all(|r| r.model_parameters.is_some());
    let x_name = if by_size {
        "network parameters".to_string()
    } else {
        first_key.clone()
    };
    let mut xs = Vec::with_capacity(records.len());
    for r in records {
        let x = match r.model_parameters {
            Some(n) if by_size => Some(n as f64),
            _ => r.parameters[0].value.as_f64(),
        };
        xs.push(x.ok_or_else(|| {
            SweepError::Collect(format!(
                "cannot plot against {first_key}: its value {} is not a number",
                r.parameters[0].value
            ))
        })?);
    }
    let (x_lo, x_hi) = range(&xs);
    let x_axis = || {
        if x_lo > 0.0 && x_hi / x_lo > 10.0 {
            Axis::log(x_name.clone(), [x_lo / 1.2, x_hi * 1.2])
        } else {
            let pad = ((x_hi - x_lo) * 0.05).max(1e-9);
            Axis::linear(x_name.clone(), [x_lo - pad, x_hi + pad])
        }
    };
    let figures = METRIC_FIGURES
        .iter()
        .map(|(title, names)| {
            let mut ys = Vec::new();
            let series: Vec<Series> = names
                .iter()
                .enumerate()
                .filter_map(|(i, name)| {
                    let (_, value) = METRIC_COLUMNS.iter().find(|(n, _)| n == name)?;
                    let points: Vec<[f64; 2]> = records
                        .iter()
                        .zip(&xs)
                        .filter_map(|(r, &x)| Some([x, value(r.metrics.as_ref()?)?]))
                        .filter(|p| p[1].is_finite())
                        .collect();
                    ys.extend(points.iter().map(|p| p[1]));
                    (!points.is_empty()).then(|| Series {
                        name: name.to_string(),
                        color: GROUP_COLORS[i % GROUP_COLORS.len()],
                        shape: Shape::Points {
                            points,
                            errors: None,
                            marker: if i % 2 == 0 {
                                Marker::Circle
                            } else {
                                Marker::Diamond
                            },
                        },
                    })
                })
                .collect();
            let (y_lo, y_hi) = if ys.is_empty() {
                (0.0, 1.0)
            } else {
                range(&ys)
            };
            let y_pad = ((y_hi - y_lo) * 0.1).max(0.05);
            Figure {
                title: format!("{title} against {x_name}"),
                x: x_axis(),
                y: Axis::linear(*title, [y_lo - y_pad, y_hi + y_pad]),
                series,
                legend: LegendPlace::RightTop,
            }
        })
        .collect();
    Ok(figures)
}

fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(spec: &str) -> Vec<Value> {
        Vary::parse(spec).unwrap().values
    }

    #[test]
    fn lists_and_ranges_parse() {
        assert_eq!(values("model.dim=16,32,64"), [16, 32, 64].map(Value::from));
        assert_eq!(
            values("speciation.labels=argmax,sampled"),
            ["argmax", "sampled"].map(Value::from)
        );
        assert_eq!(
            values("model.dim=16..4096:9"),
            [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map(Value::from)
        );
        assert_eq!(values("x=1..4:10"), [1, 2, 3, 4].map(Value::from));
        assert_eq!(values("x=0.1..10:3"), [0.1, 1.0, 10.0].map(Value::from));
        // Relative paths are list items, not ranges.
        assert_eq!(
            values("model.path=../m/a.safetensors,b.safetensors"),
            ["../m/a.safetensors", "b.safetensors"].map(Value::from)
        );
        assert_eq!(
            values("model.path=../a.onnx"),
            ["../a.onnx"].map(Value::from)
        );
        for bad in [
            "model.dim",
            "=1",
            "a..b=1",
            "x=1,,2",
            "x=1,1",
            "x=0..4:3",
            "x=1..4",
            "x=1..4:1",
        ] {
            assert!(Vary::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!(Shard::parse("1/2").unwrap(), Shard { index: 1, count: 2 });
        for bad in ["2/2", "0/0", "1", "-1/2", "a/b"] {
            let err = Shard::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--shard {bad}")), "{err}");
        }
    }

    #[test]
    fn file_names_sort_by_value_and_are_safe() {
        let name = |values: &[Value]| {
            let pads = [integer_digits(values)];
            values
                .iter()
                .map(|v| {
                    let p = Parameter {
                        key: "model.dim".into(),
                        value: v.clone(),
                    };
                    file_name(&[p], &pads)
                })
                .collect::<Vec<_>>()
        };
        let names = name(&[Value::from(16), Value::from(128), Value::from(4096)]);
        assert_eq!(names[0], "model.dim=0016.json");
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        let names = name(&[Value::from(0.25), Value::from(2.5), Value::from(12.0)]);
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert_eq!(name(&[Value::from("a b/c")])[0], "model.dim=a_b_c.json");
    }

    #[test]
    fn keys_are_set_and_bad_paths_named() {
        let mut json: Value =
            serde_json::json!({"model": {"dim": 4, "components": [{"weight": 1}]}, "seed": 1});
        set_at_key(&mut json, "model.dim", Value::from(8)).unwrap();
        set_at_key(&mut json, "model.components.0.weight", Value::from(0.5)).unwrap();
        set_at_key(&mut json, "speciation.pairs", Value::from(10)).unwrap();
        assert_eq!(json["model"]["dim"], 8);
        assert_eq!(json["model"]["components"][0]["weight"], 0.5);
        assert_eq!(json["speciation"]["pairs"], 10);
        let err = set_at_key(&mut json, "seed.x", Value::from(1)).unwrap_err();
        assert!(err.contains("seed is a number"), "{err}");
        let err = set_at_key(&mut json, "model.components.3.weight", Value::from(1)).unwrap_err();
        assert!(err.contains("model.components is a list of 1"), "{err}");
    }
}
