//! Named parameters of a learned model: created from our seeded streams (never the backend RNG) or read
//! from a file with every name, shape and dtype checked, plus the few layers the models share.
//! Knows nothing about a particular architecture.

use crate::rng::{self, Domain};
use candle_core::{CpuStorage, CustomOp1, D, DType, Device, Layout, Shape, Tensor, Var};
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

/// Multi-head self-attention over the tokens of `y` `[n, L, w]` (no causal mask): `qkv` maps w → 3w,
/// `proj` w → w, `heads` divides w.
pub fn self_attention(
    qkv: &Linear,
    proj: &Linear,
    heads: usize,
    y: &Tensor,
) -> candle_core::Result<Tensor> {
    let (n, l, w) = y.dims3()?;
    let head_dim = w / heads;
    let qkv = linear(qkv, y)?
        .reshape((n, l, 3, heads, head_dim))?
        .permute((2, 0, 3, 1, 4))?; // [3, n, heads, L, head_dim]
    let q = qkv.get(0)?.contiguous()?;
    let k = qkv.get(1)?.contiguous()?;
    let v = qkv.get(2)?.contiguous()?;
    let scores = (q.matmul(&k.t()?.contiguous()?)? / (head_dim as f64).sqrt())?;
    let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
    let out = weights.matmul(&v)?.transpose(1, 2)?.reshape((n, l, w))?;
    linear(proj, &out)
}

/// `layer` applied to the last axis of `x` `[..., inp]` as one 2-D matmul over all leading axes.
/// candle's `Linear` on a 3-D input broadcasts the weight into a batch of small matmuls, whose weight
/// gradient is then summed over the batch by a strided reduction (a third of a DiT training step).
pub fn linear(layer: &Linear, x: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims();
    let Some((&inp, leading)) = dims.split_last() else {
        candle_core::bail!("a linear layer needs an input of rank >= 1");
    };
    let rows: usize = leading.iter().product();
    let y = x.reshape((rows, inp))?.matmul(&layer.weight().t()?)?; // [rows, out]
    let out = y.dim(1)?;
    let y = match layer.bias() {
        Some(bias) => {
            (y + repeat_middle(&bias.reshape((1, 1, out))?, rows)?.reshape((rows, out))?)?
        }
        None => y,
    };
    let mut shape = leading.to_vec();
    shape.push(out);
    y.reshape(shape)
}

/// `x` `[a, 1, b]` repeated `len` times along the middle axis, `[a, len, b]`, whose backward pass sums
/// contiguous rows. candle's broadcasting ops reduce their gradient with an integer division per
/// element (a fifth of a DiT training step went to the biases and the adaLN modulations).
pub fn repeat_middle(x: &Tensor, len: usize) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(RepeatMiddle { len })
}

struct RepeatMiddle {
    len: usize,
}

/// `[a, len, b]` → `[a, 1, b]`, summing over the middle axis (the gradient of [`RepeatMiddle`]).
struct SumMiddle;

/// A rank-3 tensor's dims.
type Dims3 = (usize, usize, usize);

/// The contiguous f32 values of a rank-3 tensor and its dims.
fn f32_rank3<'s>(
    name: &str,
    storage: &'s CpuStorage,
    layout: &Layout,
) -> candle_core::Result<(&'s [f32], Dims3)> {
    let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
    else {
        candle_core::bail!("{name} needs a contiguous f32 tensor");
    };
    Ok((&values[start..end], layout.shape().dims3()?))
}

impl CustomOp1 for RepeatMiddle {
    fn name(&self) -> &'static str {
        "repeat-middle"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (values, (a, one, b)) = f32_rank3(self.name(), s, l)?;
        if one != 1 {
            candle_core::bail!("{} needs a middle axis of 1, got {one}", self.name());
        }
        let mut out = Vec::with_capacity(a * self.len * b);
        for row in values.chunks_exact(b) {
            for _ in 0..self.len {
                out.extend_from_slice(row);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((a, self.len, b))))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&SumMiddle)?))
    }
}

impl CustomOp1 for SumMiddle {
    fn name(&self) -> &'static str {
        "sum-middle"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (values, (a, len, b)) = f32_rank3(self.name(), s, l)?;
        let mut out = vec![0f32; a * b];
        if b > 0 {
            for (sum, block) in out.chunks_exact_mut(b).zip(values.chunks_exact(len * b)) {
                for row in block.chunks_exact(b) {
                    for (s, v) in sum.iter_mut().zip(row) {
                        *s += v;
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((a, 1, b))))
    }
}

/// GELU with the tanh approximation (candle's `gelu`), written as x·sigmoid(2u) with
/// u = sqrt(2/π)(x + 0.044715x³), since ½(1 + tanh u) = sigmoid(2u): one `expf` per value forward and
/// one fused pass backward. candle's own op costs a libm `tanhf` per value and, backward, a dozen
/// tensor ops with two `powf` (a quarter of a DiT training step, measured with perf).
pub fn gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Gelu)
}

const GELU_SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_CUBIC: f32 = 0.044_715;

/// sigmoid(2u) and du/dx at x.
#[inline]
fn gelu_parts(x: f32) -> (f32, f32) {
    let u = GELU_SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
    let s = 1.0 / (1.0 + (-2.0 * u).exp());
    (s, GELU_SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x))
}

struct Gelu;
/// d gelu / dx = s + x·2s(1 − s)·du/dx.
struct GeluDerivative;

/// `f` applied to every value of a contiguous f32 tensor.
fn map_f32(
    name: &str,
    storage: &CpuStorage,
    layout: &Layout,
    f: impl Fn(f32) -> f32,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
    else {
        candle_core::bail!("{name} needs a contiguous f32 tensor");
    };
    let out = values[start..end].iter().map(|&x| f(x)).collect();
    Ok((CpuStorage::F32(out), layout.shape().clone()))
}

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-sigmoid"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        map_f32(self.name(), s, l, |x| x * gelu_parts(x).0)
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let derivative = arg.contiguous()?.apply_op1_no_bwd(&GeluDerivative)?;
        Ok(Some(grad.mul(&derivative)?))
    }
}

impl CustomOp1 for GeluDerivative {
    fn name(&self) -> &'static str {
        "gelu-sigmoid-derivative"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        map_f32(self.name(), s, l, |x| {
            let (s, du) = gelu_parts(x);
            s + x * 2.0 * s * (1.0 - s) * du
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Tensor {
        let values: Vec<f32> = (0..=400).map(|i| (i as f32 - 200.0) / 25.0).collect();
        Tensor::from_vec(values, (401,), &Device::Cpu).unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Same function and derivative as candle's tanh GELU on x ∈ [−8, 8]; the two differ only by
    /// float rounding (values of size ≤ 8, so 1e-5 is a few ulps).
    #[test]
    fn fused_gelu_matches_candle_gelu_and_its_gradient() {
        let x = Var::from_tensor(&grid()).unwrap();
        let ours = gelu(x.as_tensor()).unwrap();
        let theirs = x.as_tensor().gelu().unwrap();
        assert!(max_abs_diff(&ours, &theirs) < 1e-5);
        let ours_grad = ours.sum_all().unwrap().backward().unwrap();
        let theirs_grad = theirs.sum_all().unwrap().backward().unwrap();
        let (a, b) = (ours_grad.get(&x).unwrap(), theirs_grad.get(&x).unwrap());
        assert!(max_abs_diff(a, b) < 1e-4, "{}", max_abs_diff(a, b));
    }

    /// repeat_middle is broadcast_as with the gradient summed over the copies; linear is candle's Linear.
    #[test]
    fn repeat_middle_and_linear_match_candle() {
        let x = Var::from_tensor(&grid().narrow(0, 0, 12).unwrap().reshape((2, 1, 6)).unwrap())
            .unwrap();
        let weights = Tensor::arange(0f32, 5.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 5, 1))
            .unwrap();
        let ours = repeat_middle(x.as_tensor(), 5).unwrap();
        let theirs = x.as_tensor().broadcast_as((2, 5, 6)).unwrap();
        assert_eq!(max_abs_diff(&ours, &theirs), 0.0);
        let loss = |t: &Tensor| t.broadcast_mul(&weights).unwrap().sum_all().unwrap();
        let (g1, g2) = (
            loss(&ours).backward().unwrap(),
            loss(&theirs).backward().unwrap(),
        );
        assert_eq!(max_abs_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()), 0.0);

        let mut b = ParamBuilder::seeded(3);
        let layer = b.linear("l", 6, 4, false).unwrap();
        let input = x
            .as_tensor()
            .broadcast_as((2, 5, 6))
            .unwrap()
            .contiguous()
            .unwrap();
        use candle_nn::Module;
        let expected = layer.forward(&input).unwrap();
        assert!(max_abs_diff(&linear(&layer, &input).unwrap(), &expected) < 1e-5);
    }
}
