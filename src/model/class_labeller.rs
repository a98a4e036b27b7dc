//! Classes of samples from a model without an exact theory (issue #15, an `onnx` scene's `labeller`
//! key): the nearest of given class means, k-means on the model's own final samples (k-means++ seeds,
//! deterministic for a seed), or an ONNX classifier x `[N, d]` → logits `[N, K]`. Each gives a class
//! posterior per row: one-hot for the means, softmax of the logits for the classifier. Knows nothing
//! of scenes, dynamics or the UI; errors name the `model.labeller` key and the file.

use super::onnx::{FileProblem, guarded, outlet_names, read_checked};
use crate::model::math::softmax_in_place;
use crate::rng::{Domain, stream};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tract_onnx::prelude::*;

/// Largest number of classes a labeller may have.
pub const MAX_CLASSES: usize = 64;
/// Lloyd iterations of k-means at most (it stops earlier when no assignment changes).
const KMEANS_ITERATIONS: usize = 100;

/// The scene's `labeller` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LabellerSpec {
    /// The class of a state is its nearest mean (Euclidean); `means` is `[K][d]`.
    NearestMean { means: Vec<Vec<f64>> },
    /// `k` classes found by k-means on the final samples; `seed` fixes the k-means++ seeding.
    Kmeans {
        k: usize,
        #[serde(default)]
        seed: u64,
    },
    /// An ONNX classifier: input `input` `[N, d]` float32, output `output` `[N, K]` logits.
    Onnx {
        path: PathBuf,
        #[serde(default = "default_input")]
        input: String,
        #[serde(default = "default_output")]
        output: String,
    },
}

fn default_input() -> String {
    "x".into()
}
fn default_output() -> String {
    "logits".into()
}

/// What can go wrong building or running a labeller; each names its key under `model.labeller`.
#[derive(Debug, Error)]
pub enum LabellerError {
    #[error("model.labeller.path: {problem}: {path}")]
    File { path: PathBuf, problem: FileProblem },
    #[error(
        "model.labeller.input: the classifier has no input named {name:?} (its inputs: {available}): {path}"
    )]
    MissingInput {
        path: PathBuf,
        name: String,
        available: String,
    },
    #[error(
        "model.labeller.output: the classifier has no value named {name:?} (its outputs: {available}): {path}"
    )]
    MissingOutput {
        path: PathBuf,
        name: String,
        available: String,
    },
    #[error(
        "model.labeller.output: the classifier's output has shape {found:?}, expected [{rows}, K] logits with 1 ≤ K ≤ {MAX_CLASSES}: {path}"
    )]
    OutputShape {
        path: PathBuf,
        found: Vec<usize>,
        rows: usize,
    },
    #[error("model.labeller.path: running the classifier failed ({problem}): {path}")]
    Run { path: PathBuf, problem: String },
    #[error("model.labeller.output: the classifier returned a non-finite logit: {path}")]
    NonFinite { path: PathBuf },
    #[error(
        "model.labeller.k: k-means needs k ≥ 1 and at least k final samples; k = {k}, {points} samples"
    )]
    TooFewPoints { k: usize, points: usize },
}

/// A labeller ready to classify states of dimension `dim`.
pub enum ClassLabeller {
    /// Nearest of `[K, d]` means (given, or found by k-means).
    Means {
        means: Vec<f32>,
        dim: usize,
    },
    Classifier(OnnxClassifier),
}

impl ClassLabeller {
    /// The labeller of `spec` for states of dimension `dim`. k-means is fitted on `final_samples`
    /// (`[n, d]`), which only it reads; the classifier's path is used as given.
    pub fn build(
        spec: &LabellerSpec,
        dim: usize,
        final_samples: &[f32],
    ) -> Result<Self, LabellerError> {
        match spec {
            LabellerSpec::NearestMean { means } => Ok(ClassLabeller::Means {
                means: means.iter().flatten().map(|&v| v as f32).collect(),
                dim,
            }),
            LabellerSpec::Kmeans { k, seed } => Ok(ClassLabeller::Means {
                means: kmeans(final_samples, dim, *k, *seed)?,
                dim,
            }),
            LabellerSpec::Onnx {
                path,
                input,
                output,
            } => OnnxClassifier::load(path, input, output, dim).map(ClassLabeller::Classifier),
        }
    }

    /// Number of classes K.
    pub fn classes(&self) -> usize {
        match self {
            ClassLabeller::Means { means, dim } => means.len() / (*dim).max(1),
            ClassLabeller::Classifier(c) => c.classes,
        }
    }

    /// The class posterior `[n, K]` of the rows of `x` (`[n, d]`).
    pub fn posterior(&self, x: &[f32]) -> Result<Vec<f64>, LabellerError> {
        let k = self.classes();
        match self {
            ClassLabeller::Means { means, dim } => {
                let dim = (*dim).max(1);
                let mut out = vec![0.0; x.len() / dim * k];
                for (row, post) in x.chunks_exact(dim).zip(out.chunks_mut(k)) {
                    post[nearest(row, means, dim)] = 1.0;
                }
                Ok(out)
            }
            ClassLabeller::Classifier(c) => {
                let mut out = c.logits(x)?;
                out.chunks_mut(k).for_each(softmax_in_place);
                Ok(out)
            }
        }
    }

    /// The most probable class of every row of `x` (`[n, d]`).
    pub fn labels(&self, x: &[f32]) -> Result<Vec<u32>, LabellerError> {
        let k = self.classes();
        Ok(self
            .posterior(x)?
            .chunks(k)
            .map(|p| {
                p.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i as u32)
            })
            .collect())
    }
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| f64::from(p - q).powi(2))
        .sum()
}

/// Index of the mean (`[K, d]`) nearest to `row`; ties go to the lower index.
fn nearest(row: &[f32], means: &[f32], dim: usize) -> usize {
    means
        .chunks_exact(dim)
        .map(|m| squared_distance(row, m))
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(i, _)| i)
}

/// k-means (Lloyd) of `points` (`[n, d]`) into `k` means (`[k, d]`), seeded by k-means++ with draws
/// from `stream(seed, Analysis, ·)`: the same points and seed give the same means. A mean that loses
/// all its points stays where it was.
pub fn kmeans(points: &[f32], dim: usize, k: usize, seed: u64) -> Result<Vec<f32>, LabellerError> {
    let (dim, n) = (dim.max(1), points.len() / dim.max(1));
    if k == 0 || n < k {
        return Err(LabellerError::TooFewPoints { k, points: n });
    }
    let row = |i: usize| &points[i * dim..(i + 1) * dim];
    let mut draws = stream(seed, Domain::Analysis, 0);
    let mut means: Vec<f32> = row(draws.random_range(0..n)).to_vec();
    let mut nearest_squared: Vec<f64> = (0..n).map(|i| squared_distance(row(i), &means)).collect();
    while means.len() < k * dim {
        // k-means++: the next seed is a point drawn with probability ∝ its squared distance to the
        // nearest seed so far (uniform if every point sits on a seed).
        let total: f64 = nearest_squared.iter().sum();
        let chosen = if total > 0.0 {
            let target = draws.random::<f64>() * total;
            let mut acc = 0.0;
            nearest_squared
                .iter()
                .position(|&w| {
                    acc += w;
                    acc > target
                })
                .unwrap_or(n - 1)
        } else {
            draws.random_range(0..n)
        };
        let seed_row = row(chosen).to_vec();
        for (i, best) in nearest_squared.iter_mut().enumerate() {
            *best = best.min(squared_distance(row(i), &seed_row));
        }
        means.extend(seed_row);
    }
    let mut assignment = vec![usize::MAX; n];
    for _ in 0..KMEANS_ITERATIONS {
        let mut changed = false;
        for (i, slot) in assignment.iter_mut().enumerate() {
            let class = nearest(row(i), &means, dim);
            changed |= *slot != class;
            *slot = class;
        }
        if !changed {
            break;
        }
        let mut sums = vec![0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (i, &class) in assignment.iter().enumerate() {
            counts[class] += 1;
            for (s, &v) in sums[class * dim..(class + 1) * dim].iter_mut().zip(row(i)) {
                *s += f64::from(v);
            }
        }
        for (class, &count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            for (m, s) in means[class * dim..(class + 1) * dim]
                .iter_mut()
                .zip(&sums[class * dim..(class + 1) * dim])
            {
                *m = (s / count as f64) as f32;
            }
        }
    }
    Ok(means)
}

/// An ONNX graph x `[N, d]` → logits `[N, K]`, optimised once for a symbolic N.
pub struct OnnxClassifier {
    path: PathBuf,
    dim: usize,
    classes: usize,
    plan: Arc<TypedRunnableModel>,
}

impl OnnxClassifier {
    /// Loads the graph, selects `input` and `output`, optimises it for x `[N, dim]` and finds K by
    /// classifying one row.
    pub fn load(path: &Path, input: &str, output: &str, dim: usize) -> Result<Self, LabellerError> {
        let mut model = read_checked(path).map_err(|problem| LabellerError::File {
            path: path.to_path_buf(),
            problem,
        })?;
        let sources = model.input_outlets().map(<[_]>::to_vec).unwrap_or_default();
        let Some(&outlet) = sources.iter().find(|o| model.node(o.node).name == input) else {
            return Err(LabellerError::MissingInput {
                path: path.to_path_buf(),
                name: input.into(),
                available: outlet_names(&model, &sources),
            });
        };
        let outputs = model
            .output_outlets()
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        model
            .select_outputs_by_name([output])
            .map_err(|_| LabellerError::MissingOutput {
                path: path.to_path_buf(),
                name: output.into(),
                available: outlet_names(&model, &outputs),
            })?;
        let run_error = |problem| LabellerError::Run {
            path: path.to_path_buf(),
            problem,
        };
        let plan = guarded(|| {
            model.set_input_outlets(&[outlet])?;
            let rows = model.symbols.sym("N").to_dim();
            model
                .clone()
                .with_input_fact(0, f32::fact([rows, dim.to_dim()]).into())?
                .into_optimized()?
                .into_runnable()
        })
        .map_err(run_error)?;
        let mut classifier = OnnxClassifier {
            path: path.to_path_buf(),
            dim,
            classes: 0,
            plan,
        };
        classifier.classes = classifier.run(&vec![0f32; dim])?.1;
        Ok(classifier)
    }

    /// Logits `[n, K]` of the rows of `x` and K.
    fn run(&self, x: &[f32]) -> Result<(Vec<f64>, usize), LabellerError> {
        let rows = x.len() / self.dim;
        let outputs = guarded(|| {
            let states = Tensor::from_shape(&[rows, self.dim], x)?;
            self.plan.run(tvec!(states.into()))
        })
        .map_err(|problem| LabellerError::Run {
            path: self.path.clone(),
            problem,
        })?;
        let shape_error = |found: Vec<usize>| LabellerError::OutputShape {
            path: self.path.clone(),
            found,
            rows,
        };
        let view = outputs
            .first()
            .ok_or_else(|| shape_error(Vec::new()))?
            .to_plain_array_view::<f32>()
            .map_err(|e| LabellerError::Run {
                path: self.path.clone(),
                problem: format!("the logits are not float32: {e}"),
            })?;
        let shape = view.shape().to_vec();
        if shape.len() != 2 || shape[0] != rows || !(1..=MAX_CLASSES).contains(&shape[1]) {
            return Err(shape_error(shape));
        }
        if self.classes != 0 && shape[1] != self.classes {
            return Err(shape_error(shape));
        }
        if view.iter().any(|v| !v.is_finite()) {
            return Err(LabellerError::NonFinite {
                path: self.path.clone(),
            });
        }
        Ok((view.iter().map(|&v| f64::from(v)).collect(), shape[1]))
    }

    /// Logits `[n, K]` of the rows of `x`.
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f64>, LabellerError> {
        if x.is_empty() {
            return Ok(Vec::new());
        }
        self.run(x).map(|(logits, _)| logits)
    }
}
