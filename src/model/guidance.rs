//! Classifier-free guidance for class-conditional models (`docs/science/speciation.md` §7): a row
//! conditioned on class k is denoised by x̂_0(∅) + w (x̂_0(k) − x̂_0(∅)), with w = 0 the unconditional
//! model, w = 1 the conditional one and w > 1 guidance proper.
//!
//! For an exact mixture the conditional denoiser x̂_0(k) = E[x_0 | x_t, k] is component k's posterior
//! mean and the unconditional one is Σ_j p(j | x_t) x̂_0(j), so the guided denoiser is the same average
//! with the weights q_j = (1 − w) p(j | x_t) + w δ_jk. This module owns the guidance of a batch
//! ([`Guide`]), its checks, those weights and the row loop the mixtures share; the mixtures supply the
//! per-row f64 evaluation. An ONNX graph with a class input (`model::onnx`) is instead run for class k
//! and for its null class, and its two x̂_0 mixed by [`guided`], the same formula.

use rayon::prelude::*;

use super::ModelError;
use super::math::ROWS_PER_TASK;

/// Largest guidance weight a scene may ask for: beyond it the guided drift overshoots every class.
pub const MAX_GUIDANCE: f64 = 20.0;

/// The guidance of one batch: each row's class and the common weight w.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guide<'a> {
    /// `[n]`, the class each row is conditioned on.
    pub classes: &'a [u32],
    pub w: f64,
}

impl Guide<'_> {
    /// Checks that there is one class per row (`rows`), each below `classes`, and a finite w.
    pub fn check(&self, rows: usize, classes: usize) -> Result<(), ModelError> {
        self.check_rows(rows)?;
        match self.classes.iter().find(|&&k| k as usize >= classes) {
            Some(k) => Err(ModelError::Invalid(format!(
                "guidance class {k} does not exist (the model has {classes} classes)"
            ))),
            None => Ok(()),
        }
    }

    /// Checks that there is one class per row (`rows`) and a finite w (a model that does not know its
    /// number of classes, an ONNX graph, leaves the labels to its class input).
    pub fn check_rows(&self, rows: usize) -> Result<(), ModelError> {
        if self.classes.len() != rows {
            return Err(ModelError::OutputShape {
                got: self.classes.len(),
                expected: rows,
            });
        }
        if !self.w.is_finite() {
            return Err(ModelError::Invalid(format!(
                "guidance weight w = {} is not finite",
                self.w
            )));
        }
        Ok(())
    }
}

/// x̂_0(∅) + w (x̂_0(k) − x̂_0(∅)): the guided value from the `unconditional` and `conditional` ones.
/// An ONNX graph mixes its two outputs so; a mixture mixes its class weights so (`mixing_weight`).
#[inline]
pub fn guided(unconditional: f64, conditional: f64, w: f64) -> f64 {
    unconditional + w * (conditional - unconditional)
}

/// The weight of class j's posterior mean in the denoiser of a row: p_j unguided, else
/// (1 − w) p_j + w δ_jk for `guide = Some((k, w))`.
#[inline]
pub(crate) fn mixing_weight(posterior: f64, j: usize, guide: Option<(usize, f64)>) -> f64 {
    match guide {
        None => posterior,
        Some((class, w)) => guided(posterior, if j == class { 1.0 } else { 0.0 }, w),
    }
}

/// Runs `row(scratch, x, (k, w), out, posterior)` for every row of `x` (`[n, dim]`, f32) in parallel
/// with f64 buffers, and writes `out` into `denoised` and p(k | x_t) into `posterior` (`[n, classes]`)
/// when given; `shape` is (dim, classes). Fails when the guide does not give one known class per row.
pub(crate) fn par_guided_rows<S>(
    x: &[f32],
    (dim, classes): (usize, usize),
    guide: Guide<'_>,
    denoised: &mut [f32],
    posterior: Option<&mut [f32]>,
    scratch: impl Fn() -> S + Sync + Send,
    row: impl Fn(&mut S, &[f64], (usize, f64), &mut [f64], &mut [f64]) + Sync + Send,
) -> Result<(), ModelError> {
    guide.check(x.len() / dim.max(1), classes)?;
    let body = |xc: &[f32], dc: &mut [f32], cc: &[u32], mut pc: Option<&mut [f32]>| {
        let mut state = scratch();
        let (mut x64, mut out, mut p) = (vec![0.0; dim], vec![0.0; dim], vec![0.0; classes]);
        for (i, ((xr, dr), &class)) in xc
            .chunks_exact(dim)
            .zip(dc.chunks_exact_mut(dim))
            .zip(cc)
            .enumerate()
        {
            for (v, &xj) in x64.iter_mut().zip(xr) {
                *v = f64::from(xj);
            }
            row(
                &mut state,
                &x64,
                (class as usize, guide.w),
                &mut out,
                &mut p,
            );
            for (o, &v) in dr.iter_mut().zip(&out) {
                *o = v as f32;
            }
            if let Some(pc) = pc.as_deref_mut() {
                for (o, &v) in pc[i * classes..(i + 1) * classes].iter_mut().zip(&p) {
                    *o = v as f32;
                }
            }
        }
    };
    let rows = x
        .par_chunks(ROWS_PER_TASK * dim)
        .zip(denoised.par_chunks_mut(ROWS_PER_TASK * dim))
        .zip(guide.classes.par_chunks(ROWS_PER_TASK));
    match posterior {
        Some(p) => rows
            .zip(p.par_chunks_mut(ROWS_PER_TASK * classes))
            .for_each(|(((xc, dc), cc), pc)| body(xc, dc, cc, Some(pc))),
        None => rows.for_each(|((xc, dc), cc)| body(xc, dc, cc, None)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_interpolate_between_the_posterior_and_the_class() {
        let p = [0.25, 0.75];
        let q = |w: f64| [0, 1].map(|j| mixing_weight(p[j], j, Some((0, w))));
        assert_eq!(q(0.0), p);
        assert_eq!(q(1.0), [1.0, 0.0]);
        // w = 3: 3·e_0 − 2·p, still summing to 1.
        assert_eq!(q(3.0), [2.5, -1.5]);
        assert_eq!(mixing_weight(0.4, 1, None), 0.4);
    }

    #[test]
    fn a_guide_needs_one_known_class_per_row() {
        let classes = [0, 1, 1];
        let guide = Guide {
            classes: &classes,
            w: 2.0,
        };
        assert!(guide.check(3, 2).is_ok());
        assert!(guide.check(2, 2).is_err());
        assert!(guide.check(3, 1).is_err());
        let bad = Guide {
            classes: &classes,
            w: f64::NAN,
        };
        assert!(bad.check(3, 2).is_err());
    }
}
