//! Gaussian mixtures with exact denoiser, score, class posterior, log-density and sampling
//! (`docs/science/speciation.md` §1.3). Owns the eigen-structure of each component and the fast batched
//! `denoise`; it knows nothing of scene files (the scene builds it from plain `ComponentSpec`s).

use nalgebra::{DMatrix, SymmetricEigen};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::guidance::{Guide, mixing_weight, par_guided_rows};
use super::math::{
    data_stream, log_sum_exp, normalise_weights, par_row_chunks, pick_class, softmax_in_place,
    write_posterior,
};
use super::{Denoiser, ExactModel, LabelledSamples, ModelError};
use crate::base::ou;

/// A component covariance as the user gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Covariance {
    /// s2·I.
    Isotropic(f64),
    /// diag(v), one variance per coordinate.
    Diagonal(Vec<f64>),
    /// `spike` on coordinate `axis`, `base` on every other coordinate.
    Spiked { base: f64, spike: f64, axis: usize },
    /// A full symmetric positive-semidefinite matrix, rows `[d][d]`.
    Full(Vec<Vec<f64>>),
}

/// One component as the user gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentSpec {
    pub weight: f64,
    /// `[d]`.
    pub mean: Vec<f64>,
    pub cov: Covariance,
    pub label: String,
}

/// Eigenvectors of a component covariance.
#[derive(Clone, Debug, PartialEq)]
pub enum EigenBasis {
    /// The coordinate axes: eigenvalue j is the variance of coordinate j (never builds a d×d matrix).
    AxisAligned,
    /// Column j of the `[d, d]` matrix is the eigenvector of eigenvalue j.
    Rotated(DMatrix<f64>),
}

/// One stored component: C = U diag(λ) Uᵀ.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    mean: Vec<f64>,
    eigenvalues: Vec<f64>,
    basis: EigenBasis,
    label: String,
    /// Some(s2) when C = s2·I (the fast path of `denoise`).
    isotropic: Option<f64>,
    /// Some(v) when every mean coordinate equals v.
    uniform_mean: Option<f64>,
}

impl Component {
    /// μ, `[d]`.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }
    /// λ_j, `[d]` (≥ 0); for an axis-aligned basis, the variance of coordinate j.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }
    pub fn basis(&self) -> &EigenBasis {
        &self.basis
    }
    pub fn label(&self) -> &str {
        &self.label
    }
    /// Some(s2) when the covariance is s2·I.
    pub fn isotropic_variance(&self) -> Option<f64> {
        self.isotropic
    }

    /// y = Uᵀ(x − a μ), the offset from the class centre in eigen-coordinates.
    fn eigen_offset(&self, x: &[f64], a: f64, y: &mut [f64]) {
        match &self.basis {
            EigenBasis::AxisAligned => {
                for ((yj, &xj), &mj) in y.iter_mut().zip(x).zip(&self.mean) {
                    *yj = xj - a * mj;
                }
            }
            EigenBasis::Rotated(u) => {
                for (j, yj) in y.iter_mut().enumerate() {
                    *yj = u
                        .column(j)
                        .iter()
                        .zip(x)
                        .zip(&self.mean)
                        .map(|((&uij, &xi), &mi)| uij * (xi - a * mi))
                        .sum();
                }
            }
        }
    }

    /// out += scale · U v.
    fn add_rotated(&self, v: &[f64], scale: f64, out: &mut [f64]) {
        match &self.basis {
            EigenBasis::AxisAligned => {
                for (o, &vj) in out.iter_mut().zip(v) {
                    *o += scale * vj;
                }
            }
            EigenBasis::Rotated(u) => {
                for (j, &vj) in v.iter().enumerate() {
                    for (o, &uij) in out.iter_mut().zip(u.column(j).iter()) {
                        *o += scale * uij * vj;
                    }
                }
            }
        }
    }
}

/// P_0 = Σ_k w_k N(μ_k, C_k).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    dim: usize,
    weights: Vec<f64>,
    components: Vec<Component>,
    labels: Vec<String>,
}

/// Relative tolerance on C − Cᵀ and on negative eigenvalues (rounding of a PSD matrix).
const MATRIX_TOLERANCE: f64 = 1e-9;

fn invalid(msg: String) -> ModelError {
    ModelError::Invalid(msg)
}

fn check_variance(value: f64, what: &str) -> Result<(), ModelError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what}: variance must be finite and >= 0, got {value}"
        )))
    }
}

fn build_component(dim: usize, index: usize, spec: ComponentSpec) -> Result<Component, ModelError> {
    let ComponentSpec {
        mean, cov, label, ..
    } = spec;
    let where_ = format!("component {index}");
    if mean.len() != dim {
        return Err(invalid(format!(
            "{where_}: mean has {} values, expected dim = {dim}",
            mean.len()
        )));
    }
    if let Some(bad) = mean.iter().find(|m| !m.is_finite()) {
        return Err(invalid(format!("{where_}: mean value {bad} is not finite")));
    }
    let (eigenvalues, basis, isotropic) = match cov {
        Covariance::Isotropic(s2) => {
            check_variance(s2, &where_)?;
            (vec![s2; dim], EigenBasis::AxisAligned, Some(s2))
        }
        Covariance::Diagonal(v) => {
            if v.len() != dim {
                return Err(invalid(format!(
                    "{where_}: diagonal covariance has {} values, expected dim = {dim}",
                    v.len()
                )));
            }
            for &s2 in &v {
                check_variance(s2, &where_)?;
            }
            (v, EigenBasis::AxisAligned, None)
        }
        Covariance::Spiked { base, spike, axis } => {
            check_variance(base, &where_)?;
            check_variance(spike, &where_)?;
            if axis >= dim {
                return Err(invalid(format!(
                    "{where_}: spike axis {axis} is out of range for dim = {dim}"
                )));
            }
            let mut v = vec![base; dim];
            v[axis] = spike;
            (v, EigenBasis::AxisAligned, None)
        }
        Covariance::Full(rows) => {
            let (values, vectors) =
                eigen_full(dim, &rows).map_err(|m| invalid(format!("{where_}: {m}")))?;
            (values, EigenBasis::Rotated(vectors), None)
        }
    };
    let uniform_mean = match mean.first() {
        Some(&m0) if mean.iter().all(|&m| m == m0) => Some(m0),
        _ => None,
    };
    Ok(Component {
        mean,
        eigenvalues,
        basis,
        label,
        isotropic,
        uniform_mean,
    })
}

/// Eigen-decomposition of a full covariance; rejects wrong shapes, asymmetry and negative eigenvalues.
pub(crate) fn eigen_full(
    dim: usize,
    rows: &[Vec<f64>],
) -> Result<(Vec<f64>, DMatrix<f64>), String> {
    if rows.len() != dim || rows.iter().any(|r| r.len() != dim) {
        return Err(format!(
            "full covariance must be {dim} x {dim}, got {} rows of lengths {:?}",
            rows.len(),
            rows.iter().map(Vec::len).collect::<Vec<_>>()
        ));
    }
    let scale = rows.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    if !scale.is_finite() {
        return Err("full covariance has a non-finite entry".into());
    }
    for (i, row) in rows.iter().enumerate() {
        for (j, (&cij, other)) in row.iter().zip(rows).take(i).enumerate() {
            let cji = other[i];
            if (cij - cji).abs() > MATRIX_TOLERANCE * scale.max(1.0) {
                return Err(format!(
                    "full covariance is not symmetric: C[{i}][{j}] = {cij} but C[{j}][{i}] = {cji}"
                ));
            }
        }
    }
    let matrix = DMatrix::from_fn(dim, dim, |i, j| 0.5 * (rows[i][j] + rows[j][i]));
    let eigen = SymmetricEigen::new(matrix);
    let mut values: Vec<f64> = eigen.eigenvalues.iter().copied().collect();
    for v in values.iter_mut() {
        if *v < -MATRIX_TOLERANCE * scale.max(1.0) * dim as f64 {
            return Err(format!(
                "full covariance is not positive semidefinite: eigenvalue {v}"
            ));
        }
        *v = v.max(0.0);
    }
    Ok((values, eigen.eigenvectors))
}

/// One isotropic class with uniform mean v at time t: ℓ_k = base + linear·Σx + quadratic·|x|² and
/// D_k = gain·x + offset (offset = v(1 − a·gain)).
struct IsotropicClass {
    base: f64,
    linear: f64,
    quadratic: f64,
    gain: f64,
    offset: f64,
}

/// Reusable per-row buffers of the exact f64 path.
struct RowScratch {
    /// `[K]`: ℓ_k, then p(k | x).
    posterior: Vec<f64>,
    /// `[d]`: the eigen-offset y = Uᵀ(x − aμ) of the current component.
    offset: Vec<f64>,
    /// `[K, d]`: gain ⊙ y per component.
    shrunk: Vec<f64>,
}

/// Per-time quantities of one component: s_j = a²λ_j + Δ and ln det Σ(t).
struct NoisedComponent {
    /// 1 / s_j, `[d]`.
    inv_var: Vec<f64>,
    /// a λ_j / s_j, `[d]` (the shrinkage of the eigen-offset in D_k).
    gain: Vec<f64>,
    log_det: f64,
}

impl GaussianMixture {
    /// Builds the mixture; weights must be > 0 and sum to 1 within 1e-6 (they are then renormalised).
    pub fn new(dim: usize, components: Vec<ComponentSpec>) -> Result<Self, ModelError> {
        if dim == 0 {
            return Err(invalid("dimension must be >= 1".into()));
        }
        if components.is_empty() {
            return Err(invalid("a mixture needs at least one component".into()));
        }
        let weights: Vec<f64> = components.iter().map(|c| c.weight).collect();
        let normalised = normalise_weights(&weights)?;
        let labels = components
            .iter()
            .enumerate()
            .map(|(k, c)| {
                if c.label.is_empty() {
                    k.to_string()
                } else {
                    c.label.clone()
                }
            })
            .collect();
        let components = components
            .into_iter()
            .enumerate()
            .map(|(k, c)| build_component(dim, k, c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            dim,
            weights: normalised,
            components,
            labels,
        })
    }

    pub fn components(&self) -> &[Component] {
        &self.components
    }

    fn noised(&self, t: f64) -> Vec<NoisedComponent> {
        let (a, delta) = ou::coefficients(t);
        self.components
            .iter()
            .map(|c| {
                let s: Vec<f64> = c.eigenvalues.iter().map(|&l| a * a * l + delta).collect();
                NoisedComponent {
                    inv_var: s.iter().map(|&sj| 1.0 / sj).collect(),
                    gain: c
                        .eigenvalues
                        .iter()
                        .zip(&s)
                        .map(|(&l, &sj)| a * l / sj)
                        .collect(),
                    log_det: s.iter().map(|sj| sj.ln()).sum(),
                }
            })
            .collect()
    }

    /// Exact f64 evaluation of one row: ℓ_k into `log_joint`, and for each component its
    /// eigen-offset scaled by 1/s (`whitened[k]`, used for D and the score). `y` is scratch `[d]`.
    fn row_terms(
        &self,
        noised: &[NoisedComponent],
        x: &[f64],
        a: f64,
        log_joint: &mut [f64],
        y: &mut [f64],
        mut per_component: impl FnMut(usize, &Component, &NoisedComponent, &[f64]),
    ) {
        for (k, (c, n)) in self.components.iter().zip(noised).enumerate() {
            c.eigen_offset(x, a, y);
            let quad: f64 = y
                .iter()
                .zip(&n.inv_var)
                .map(|(&yj, &iv)| yj * yj * iv)
                .sum();
            log_joint[k] = self.weights[k].ln() - 0.5 * quad - 0.5 * n.log_det;
            per_component(k, c, n, y);
        }
    }

    /// Exact f64 denoiser of one row into `out` (`[d]`), guided towards class k with weight w when
    /// `guide = Some((k, w))`; `scratch.posterior` gets p(k | x).
    fn denoise_row_f64(
        &self,
        noised: &[NoisedComponent],
        x: &[f64],
        a: f64,
        out: &mut [f64],
        scratch: &mut RowScratch,
        guide: Option<(usize, f64)>,
    ) {
        let d = self.dim;
        let RowScratch {
            posterior: log_joint,
            offset: y,
            shrunk: offsets,
        } = scratch;
        self.row_terms(noised, x, a, log_joint, y, |k, _, n, y| {
            for ((o, &yj), &g) in offsets[k * d..(k + 1) * d]
                .iter_mut()
                .zip(y.iter())
                .zip(&n.gain)
            {
                *o = g * yj;
            }
        });
        softmax_in_place(log_joint);
        out.fill(0.0);
        for (k, c) in self.components.iter().enumerate() {
            let r = mixing_weight(log_joint[k], k, guide);
            for (o, &m) in out.iter_mut().zip(&c.mean) {
                *o += r * m;
            }
            c.add_rotated(&offsets[k * d..(k + 1) * d], r, out);
        }
    }

    /// Batched denoise when every component is isotropic with a uniform mean: ℓ_k depends on the
    /// row only through Σx and |x|², and D = B·x + A with mixed scalars A, B. Two passes per row.
    fn denoise_isotropic_uniform(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) {
        let (a, delta) = ou::coefficients(t);
        let d = self.dim as f64;
        let k_count = self.components.len();
        let coeffs: Vec<IsotropicClass> = self
            .components
            .iter()
            .zip(&self.weights)
            .map(|(c, &w)| {
                let s2 = c.isotropic.unwrap_or(1.0);
                let v = c.uniform_mean.unwrap_or(0.0);
                let s = a * a * s2 + delta;
                let inv = 1.0 / s;
                let gain = a * s2 * inv;
                let base = w.ln() - 0.5 * d * s.ln() - 0.5 * inv * a * a * v * v * d;
                IsotropicClass {
                    base,
                    linear: inv * a * v,
                    quadratic: -0.5 * inv,
                    gain,
                    offset: v * (1.0 - a * gain),
                }
            })
            .collect();
        let dim = self.dim;
        let common_variance = self
            .components
            .windows(2)
            .all(|p| p[0].isotropic == p[1].isotropic);
        par_row_chunks(x, dim, k_count, denoised, posterior, |xc, dc, mut pc| {
            let mut r = vec![0.0; k_count];
            for (row, (xr, dr)) in xc
                .chunks_exact(dim)
                .zip(dc.chunks_exact_mut(dim))
                .enumerate()
            {
                let sum = blocked_sum(xr, |v| v);
                // With one common variance the |x|² term is the same for every class and cancels.
                let sum_sq = if common_variance {
                    0.0
                } else {
                    blocked_sum(xr, |v| v * v)
                };
                for (rk, c) in r.iter_mut().zip(&coeffs) {
                    *rk = c.base + c.linear * sum + c.quadratic * sum_sq;
                }
                softmax_in_place(&mut r);
                let (mut gain, mut offset) = (0.0, 0.0);
                for (&rk, c) in r.iter().zip(&coeffs) {
                    gain += rk * c.gain;
                    offset += rk * c.offset;
                }
                let (gain, offset) = (gain as f32, offset as f32);
                for (o, &xj) in dr.iter_mut().zip(xr) {
                    *o = offset + gain * xj;
                }
                write_posterior(pc.as_deref_mut(), row, &r);
            }
        });
    }

    /// Batched denoise for axis-aligned covariances: per class per coordinate, ℓ uses
    /// (x_j − c_kj)² / s_kj and D_j = Σ_k r_k (A_kj + B_kj x_j). K + 1 passes per row.
    fn denoise_axis_aligned(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) {
        let (a, _) = ou::coefficients(t);
        let dim = self.dim;
        let k_count = self.components.len();
        let noised = self.noised(t);
        // [K, d] each: centre a μ, 1/s, and the affine map of D_k.
        let mut centre = Vec::with_capacity(k_count * dim);
        let mut inv_var = Vec::with_capacity(k_count * dim);
        let mut affine_a = Vec::with_capacity(k_count * dim);
        let mut affine_b = Vec::with_capacity(k_count * dim);
        let mut base = Vec::with_capacity(k_count);
        for ((c, n), &w) in self.components.iter().zip(&noised).zip(&self.weights) {
            for j in 0..dim {
                let (m, g) = (c.mean[j], n.gain[j]);
                centre.push(a * m);
                inv_var.push(n.inv_var[j]);
                affine_a.push((m - g * a * m) as f32);
                affine_b.push(g as f32);
            }
            base.push(w.ln() - 0.5 * n.log_det);
        }
        par_row_chunks(x, dim, k_count, denoised, posterior, |xc, dc, mut pc| {
            let mut r = vec![0.0; k_count];
            for (row, (xr, dr)) in xc
                .chunks_exact(dim)
                .zip(dc.chunks_exact_mut(dim))
                .enumerate()
            {
                for (k, rk) in r.iter_mut().enumerate() {
                    let span = k * dim..(k + 1) * dim;
                    *rk = base[k]
                        - 0.5 * weighted_square_distance(xr, &centre[span.clone()], &inv_var[span]);
                }
                softmax_in_place(&mut r);
                for (k, &rk) in r.iter().enumerate() {
                    let rk = rk as f32;
                    let span = k * dim..(k + 1) * dim;
                    let (ak, bk) = (&affine_a[span.clone()], &affine_b[span]);
                    if k == 0 {
                        for (((o, &xj), &aj), &bj) in dr.iter_mut().zip(xr).zip(ak).zip(bk) {
                            *o = rk * (aj + bj * xj);
                        }
                    } else {
                        for (((o, &xj), &aj), &bj) in dr.iter_mut().zip(xr).zip(ak).zip(bk) {
                            *o += rk * (aj + bj * xj);
                        }
                    }
                }
                write_posterior(pc.as_deref_mut(), row, &r);
            }
        });
    }

    /// Batched denoise for any covariances (rotations): the exact f64 row formula, O(K d²) per row.
    fn denoise_general(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) {
        let (a, _) = ou::coefficients(t);
        let dim = self.dim;
        let k_count = self.components.len();
        let noised = self.noised(t);
        par_row_chunks(x, dim, k_count, denoised, posterior, |xc, dc, mut pc| {
            let (mut x64, mut out) = (vec![0.0; dim], vec![0.0; dim]);
            let mut scratch = self.row_scratch();
            for (row, (xr, dr)) in xc
                .chunks_exact(dim)
                .zip(dc.chunks_exact_mut(dim))
                .enumerate()
            {
                for (v, &xj) in x64.iter_mut().zip(xr) {
                    *v = f64::from(xj);
                }
                self.denoise_row_f64(&noised, &x64, a, &mut out, &mut scratch, None);
                for (o, &v) in dr.iter_mut().zip(&out) {
                    *o = v as f32;
                }
                write_posterior(pc.as_deref_mut(), row, &scratch.posterior);
            }
        });
    }

    fn row_scratch(&self) -> RowScratch {
        RowScratch {
            posterior: vec![0.0; self.components.len()],
            offset: vec![0.0; self.dim],
            shrunk: vec![0.0; self.components.len() * self.dim],
        }
    }

    /// The exact f64 denoiser E[x_0 | x_t = x] of one row (`[d]`), for tests and theory.
    pub fn denoise_exact(&self, x: &[f64], t: f64, out: &mut [f64]) {
        let (a, _) = ou::coefficients(t);
        let noised = self.noised(t);
        self.denoise_row_f64(&noised, x, a, out, &mut self.row_scratch(), None);
    }
}

/// Lanes of the f64 accumulators: independent partial sums let the compiler vectorise reductions.
const LANES: usize = 8;

/// Elements summed in f32 lanes before the partial sums are flushed into f64: each f32 lane then adds
/// only BLOCK / LANES = 16 terms (relative error ≲ 16ε ≈ 1e-6), and the f64 total keeps that bound
/// for any d.
const BLOCK: usize = 128;

/// Σ_j f(x_j): f32 lanes within blocks (vectorised), f64 across blocks.
#[inline(always)]
fn blocked_sum(x: &[f32], f: impl Fn(f32) -> f32 + Copy) -> f64 {
    let mut total = 0.0_f64;
    for block in x.chunks(BLOCK) {
        let mut acc = [0.0_f32; LANES];
        let lanes = block.chunks_exact(LANES);
        total += lanes
            .remainder()
            .iter()
            .map(|&v| f64::from(f(v)))
            .sum::<f64>();
        for c in lanes {
            for l in 0..LANES {
                acc[l] += f(c[l]);
            }
        }
        total += acc.iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    total
}

/// Σ_j (x_j − c_j)² w_j accumulated in f64.
fn weighted_square_distance(x: &[f32], centre: &[f64], weight: &[f64]) -> f64 {
    let mut acc = [0.0_f64; LANES];
    let xs = x.chunks_exact(LANES);
    let cs = centre.chunks_exact(LANES);
    let ws = weight.chunks_exact(LANES);
    let mut total = 0.0;
    for ((&xv, &cv), &wv) in xs
        .remainder()
        .iter()
        .zip(cs.remainder())
        .zip(ws.remainder())
    {
        let diff = f64::from(xv) - cv;
        total += diff * diff * wv;
    }
    for ((xc, cc), wc) in xs.zip(cs).zip(ws) {
        for l in 0..LANES {
            let diff = f64::from(xc[l]) - cc[l];
            acc[l] += diff * diff * wc[l];
        }
    }
    total + acc.iter().sum::<f64>()
}

impl Denoiser for GaussianMixture {
    fn dim(&self) -> usize {
        self.dim
    }
    fn class_labels(&self) -> &[String] {
        &self.labels
    }
    fn has_exact_posterior(&self) -> bool {
        true
    }
    fn denoise(
        &self,
        x: &[f32],
        t: f64,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.check_batch(x, denoised, posterior.as_deref(), t)?;
        let all = |f: fn(&Component) -> bool| self.components.iter().all(f);
        if all(|c| c.isotropic.is_some() && c.uniform_mean.is_some()) {
            self.denoise_isotropic_uniform(x, t, denoised, posterior);
        } else if all(|c| c.basis == EigenBasis::AxisAligned) {
            self.denoise_axis_aligned(x, t, denoised, posterior);
        } else {
            self.denoise_general(x, t, denoised, posterior);
        }
        Ok(())
    }
    fn is_class_conditional(&self) -> bool {
        true
    }
    /// The exact f64 row formula with the guided weights (the fast paths stay unguided: guidance is a
    /// teaching and lab tool, not the bulk path).
    fn denoise_guided(
        &self,
        x: &[f32],
        t: f64,
        guide: Guide<'_>,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.check_batch(x, denoised, posterior.as_deref(), t)?;
        let (a, _) = ou::coefficients(t);
        let noised = self.noised(t);
        par_guided_rows(
            x,
            (self.dim, self.components.len()),
            guide,
            denoised,
            posterior,
            || self.row_scratch(),
            |scratch, x64, class, out, p| {
                self.denoise_row_f64(&noised, x64, a, out, scratch, Some(class));
                p.copy_from_slice(&scratch.posterior);
            },
        )
    }
}

impl ExactModel for GaussianMixture {
    fn weights(&self) -> &[f64] {
        &self.weights
    }

    fn class_log_joint(&self, x: &[f64], t: f64, out: &mut [f64]) {
        let (a, _) = ou::coefficients(t);
        let noised = self.noised(t);
        let mut y = vec![0.0; self.dim];
        self.row_terms(&noised, x, a, out, &mut y, |_, _, _, _| {});
    }

    fn class_log_joint_batch(&self, x: &[f64], t: f64, out: &mut [f64]) {
        let (a, _) = ou::coefficients(t);
        let noised = self.noised(t);
        let (d, k) = (self.dim, self.components.len());
        x.par_chunks(d).zip(out.par_chunks_mut(k)).for_each_init(
            || vec![0.0; d],
            |y, (row, ell)| self.row_terms(&noised, row, a, ell, y, |_, _, _, _| {}),
        );
    }

    fn log_density(&self, x: &[f64], t: f64) -> f64 {
        let mut ell = vec![0.0; self.components.len()];
        self.class_log_joint(x, t, &mut ell);
        log_sum_exp(&ell) - 0.5 * self.dim as f64 * (2.0 * std::f64::consts::PI).ln()
    }

    fn score(&self, x: &[f64], t: f64, out: &mut [f64]) {
        // s = −Σ_k r_k Σ_k(t)^{-1}(x − a μ_k) = −Σ_k r_k U_k diag(1/s) y_k.
        let (a, _) = ou::coefficients(t);
        let noised = self.noised(t);
        let (k_count, d) = (self.components.len(), self.dim);
        let mut ell = vec![0.0; k_count];
        let mut y = vec![0.0; d];
        let mut whitened = vec![0.0; k_count * d];
        self.row_terms(&noised, x, a, &mut ell, &mut y, |k, _, n, y| {
            for ((o, &yj), &iv) in whitened[k * d..(k + 1) * d]
                .iter_mut()
                .zip(y)
                .zip(&n.inv_var)
            {
                *o = yj * iv;
            }
        });
        softmax_in_place(&mut ell);
        out.fill(0.0);
        for (k, c) in self.components.iter().enumerate() {
            c.add_rotated(&whitened[k * d..(k + 1) * d], -ell[k], out);
        }
    }

    fn sample_x0(&self, n: usize, seed: u64) -> LabelledSamples {
        let mut points = vec![0.0_f32; n * self.dim];
        let mut labels = vec![0_u32; n];
        for (i, (row, label)) in points
            .chunks_exact_mut(self.dim)
            .zip(&mut labels)
            .enumerate()
        {
            let mut rng = data_stream(seed, None, i);
            let k = pick_class(&self.weights, rng.random::<f64>());
            *label = k as u32;
            self.fill_sample(k, &mut rng, row);
        }
        LabelledSamples {
            points,
            labels,
            dim: self.dim,
        }
    }

    /// An out-of-range `class` gives rows of NaN: the trait has no error channel.
    fn sample_class_x0(&self, class: usize, n: usize, seed: u64) -> Vec<f32> {
        let mut points = vec![0.0_f32; n * self.dim];
        for (i, row) in points.chunks_exact_mut(self.dim).enumerate() {
            let mut rng = data_stream(seed, Some(class), i);
            self.fill_sample(class, &mut rng, row);
        }
        points
    }
}

impl GaussianMixture {
    /// row = μ_k + U_k diag(√λ) z, z ~ N(0, I).
    fn fill_sample(&self, k: usize, rng: &mut impl Rng, row: &mut [f32]) {
        let Some(c) = self.components.get(k) else {
            row.fill(f32::NAN);
            return;
        };
        let z: Vec<f64> = c
            .eigenvalues
            .iter()
            .map(|&l| l.sqrt() * rng.sample::<f64, _>(StandardNormal))
            .collect();
        let mut out = c.mean.clone();
        c.add_rotated(&z, 1.0, &mut out);
        for (o, v) in row.iter_mut().zip(out) {
            *o = v as f32;
        }
    }
}
