//! Named parameters of a learned model: created from our seeded streams (never the backend RNG) or read
//! from a file with every name, shape and dtype checked, plus the few layers the models share.
//! Knows nothing about a particular architecture.

use crate::rng::{self, Domain};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::Linear;
use rand::Rng;
use rand_distr::StandardNormal;
use safetensors::SafeTensors;
use std::collections::{BTreeMap, BTreeSet};

/// Training-domain stream indices of parameter initialisation (high bits keep them apart from batches).
const INIT_STREAM_TAG: u64 = 1 << 48;

/// Why a model could not be built from its parameters.
#[derive(Debug)]
pub enum BuildError {
    Compute(candle_core::Error),
    /// Every mismatch between the file's tensors and the architecture.
    Tensors(Vec<String>),
}

impl From<candle_core::Error> for BuildError {
    fn from(e: candle_core::Error) -> Self {
        BuildError::Compute(e)
    }
}

/// How a fresh parameter is filled.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    Zeros,
    Uniform(f64),
    Normal(f64),
}

enum Source<'a> {
    Seeded(u64),
    File(&'a SafeTensors<'a>),
}

/// Builds a model's parameters in a fixed order; for files it collects every mismatch instead of
/// stopping at the first, so the error can list them all.
pub struct ParamBuilder<'a> {
    source: Source<'a>,
    vars: BTreeMap<String, Var>,
    problems: Vec<String>,
}

impl<'a> ParamBuilder<'a> {
    /// Fresh parameters drawn from `rng::stream(seed, Training, INIT_STREAM_TAG | k)` for the k-th tensor.
    pub fn seeded(seed: u64) -> Self {
        Self {
            source: Source::Seeded(seed),
            vars: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// Parameters read from a file's tensors.
    pub fn from_file(tensors: &'a SafeTensors<'a>) -> Self {
        Self {
            source: Source::File(tensors),
            vars: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// The parameter `name` of `shape`. A missing or malformed file tensor is recorded as a problem and
    /// replaced by zeros so that building can go on and report everything at once.
    pub fn get(&mut self, name: &str, shape: &[usize], init: Init) -> candle_core::Result<Tensor> {
        let values = match &self.source {
            Source::Seeded(seed) => {
                let count: usize = shape.iter().product();
                let index = INIT_STREAM_TAG | self.vars.len() as u64;
                let mut stream = rng::stream(*seed, Domain::Training, index);
                match init {
                    Init::Zeros => vec![0.0; count],
                    Init::Uniform(bound) => (0..count)
                        .map(|_| ((stream.random::<f64>() * 2.0 - 1.0) * bound) as f32)
                        .collect(),
                    Init::Normal(std) => (0..count)
                        .map(|_| (stream.sample::<f64, _>(StandardNormal) * std) as f32)
                        .collect(),
                }
            }
            Source::File(file) => match read_f32(file, name, shape) {
                Ok(values) => values,
                Err(problem) => {
                    // The stand-in allocates nothing: the shape comes from the file's config, which
                    // may ask for billions of values; `finish` refuses the model anyway.
                    self.problems.push(problem);
                    let zero = Var::zeros((), DType::F32, &Device::Cpu)?;
                    let stand_in = zero.as_tensor().broadcast_as(shape)?;
                    self.vars.insert(name.to_string(), zero);
                    return Ok(stand_in);
                }
            },
        };
        let var = Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu)?)?;
        let tensor = var.as_tensor().clone();
        self.vars.insert(name.to_string(), var);
        Ok(tensor)
    }

    /// `y = x Wᵀ + b` with W `[out, inp]`, initialised U(±1/sqrt(inp)) (PyTorch's default) or zeros.
    pub fn linear(
        &mut self,
        name: &str,
        inp: usize,
        out: usize,
        zero: bool,
    ) -> candle_core::Result<Linear> {
        let init = if zero {
            Init::Zeros
        } else {
            Init::Uniform(1.0 / (inp as f64).sqrt())
        };
        let weight = self.get(&format!("{name}.weight"), &[out, inp], init)?;
        let bias = self.get(&format!("{name}.bias"), &[out], init)?;
        Ok(Linear::new(weight, Some(bias)))
    }

    /// The parameters, or every problem found in the file (missing, misshapen, wrong dtype, unexpected).
    pub fn finish(mut self) -> Result<ParamStore, BuildError> {
        if let Source::File(file) = &self.source {
            let expected: BTreeSet<&str> = self.vars.keys().map(String::as_str).collect();
            let mut unexpected: Vec<String> = file
                .names()
                .into_iter()
                .filter(|name| !expected.contains(name))
                .map(|name| format!("unexpected tensor '{name}'"))
                .collect();
            unexpected.sort();
            self.problems.extend(unexpected);
        }
        if self.problems.is_empty() {
            Ok(ParamStore { vars: self.vars })
        } else {
            Err(BuildError::Tensors(self.problems))
        }
    }
}

fn read_f32(file: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let view = file
        .tensor(name)
        .map_err(|_| format!("missing tensor '{name}' (expected f32 {shape:?})"))?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(format!(
            "tensor '{name}' has dtype {:?}, expected F32",
            view.dtype()
        ));
    }
    if view.shape() != shape {
        return Err(format!(
            "tensor '{name}' has shape {:?}, expected {shape:?}",
            view.shape()
        ));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// One parameter as (name, shape, row-major values).
pub type ExportedTensor = (String, Vec<usize>, Vec<f32>);

/// A model's parameters by name (sorted, so files and optimiser order are deterministic).
#[derive(Clone, Debug)]
pub struct ParamStore {
    vars: BTreeMap<String, Var>,
}

impl ParamStore {
    pub fn vars(&self) -> Vec<Var> {
        self.vars.values().cloned().collect()
    }

    pub fn count(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// (name, shape, values) of every parameter, sorted by name.
    pub fn export(&self) -> candle_core::Result<Vec<ExportedTensor>> {
        self.vars
            .iter()
            .map(|(name, var)| {
                let values = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                Ok((name.clone(), var.dims().to_vec(), values))
            })
            .collect()
    }
}

/// LayerNorm over the last axis without affine parameters (adaLN supplies scale and shift).
pub fn layer_norm(x: &Tensor) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred.broadcast_div(&(variance + 1e-6)?.sqrt()?)
}

/// Sinusoidal features `[n, 2·frequencies]`: (sin(ω_k s), cos(ω_k s)) with geometric ω_k, computed
/// on the host so time never goes through the backend.
pub fn sinusoidal(
    values: &[f32],
    frequencies: usize,
    min_freq: f64,
    max_freq: f64,
) -> candle_core::Result<Tensor> {
    let ratio = if frequencies > 1 {
        (max_freq / min_freq).powf(1.0 / (frequencies - 1) as f64)
    } else {
        1.0
    };
    let mut out = Vec::with_capacity(values.len() * 2 * frequencies);
    for &s in values {
        let mut omega = min_freq;
        for _ in 0..frequencies {
            out.push((omega * s as f64).sin() as f32);
            omega *= ratio;
        }
        let mut omega = min_freq;
        for _ in 0..frequencies {
            out.push((omega * s as f64).cos() as f32);
            omega *= ratio;
        }
    }
    Tensor::from_vec(out, (values.len(), 2 * frequencies), &Device::Cpu)
}

/// Scalar f32 of a 0-d tensor (losses).
pub fn scalar(t: &Tensor) -> candle_core::Result<f32> {
    t.to_dtype(DType::F32)?.to_scalar::<f32>()
}
