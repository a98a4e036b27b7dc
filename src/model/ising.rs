//! Mixtures of 1-D Ising chains with exact denoiser, class posterior, log-density and exact sampling
//! (`docs/science/speciation.md` §1.4). The posterior given x_t is a random-field Ising chain, solved by an O(d)
//! log-space forward–backward pass (periodic chains: condition on σ_1). Knows nothing of scene files.

use rand::Rng;

use super::guidance::{Guide, mixing_weight, par_guided_rows};
use super::math::{
    data_stream, log_sum_exp, normalise_weights, par_row_chunks, pick_class, softmax_in_place,
};
use super::{Denoiser, ExactModel, LabelledSamples, ModelError};
use crate::base::ou;

/// Chain topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// Bonds (i, i+1) for i = 1..d−1.
    Open,
    /// Open bonds plus the closing bond (d, 1).
    Periodic,
}

/// One class as the user gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct IsingComponentSpec {
    pub weight: f64,
    /// Inverse temperature β ≥ 0; the chain coupling is K = β J.
    pub beta: f64,
    pub label: String,
}

/// P_0 = Σ_k w_k P_k, P_k(σ) ∝ exp(β_k J H(σ)), data x_0 = c σ.
#[derive(Clone, Debug, PartialEq)]
pub struct IsingMixture {
    dim: usize,
    coupling: f64,
    boundary: Boundary,
    scale: f64,
    weights: Vec<f64>,
    betas: Vec<f64>,
    /// K_k = β_k J.
    bonds: Vec<f64>,
    /// ln Z_k(0).
    log_z0: Vec<f64>,
    labels: Vec<String>,
}

/// ln cosh y, finite for any finite y: |y| + ln(1 + e^{−2|y|}) − ln 2.
fn ln_cosh(y: f64) -> f64 {
    let a = y.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

/// One transfer step of an open chain with coupling K: summing out a spin that feels field y gives
/// exp(c_K(y) + g_K(y) σ_next), with g_K(y) = ½[lc(y+K) − lc(y−K)] = atanh(tanh K tanh y) the field
/// passed to the neighbour and c_K(y) = ln 2 + ½[lc(y+K) + lc(y−K)] the log normaliser. The linear
/// parts of lc cancel exactly, |y+K| − |y−K| = 2 sgn(yK) min(|y|, |K|), so g keeps full precision even
/// for |y| ~ 1e6 (where y ± K would round).
fn transfer(k: f64, y: f64) -> (f64, f64) {
    let (up, down) = ((y + k).abs(), (y - k).abs());
    let (tail_up, tail_down) = ((-2.0 * up).exp().ln_1p(), (-2.0 * down).exp().ln_1p());
    let linear = (y * k).signum() * y.abs().min(k.abs());
    let field = linear + 0.5 * (tail_up - tail_down);
    let log_norm = 0.5 * (up + down + tail_up + tail_down);
    (field, log_norm)
}

/// ln Z(h) split as Σ_i |h_i| + rest. With small t the fields reach |h| ~ 1e6; the sum is the same for
/// every class and both pinned values of σ_1, so differences are taken on `rest` alone, which is
/// O(d (|K| + 1)) and keeps full precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LogZ {
    pub(crate) abs_fields: f64,
    pub(crate) rest: f64,
}

impl LogZ {
    fn total(self) -> f64 {
        self.abs_fields + self.rest
    }
}

/// Site weights of field h normalised by e^{|h|}: (e^{h − |h|}, e^{−h − |h|}) for σ = (+1, −1), i.e. 1 for
/// the favoured sign and e^{−2|h|} for the other.
fn site_weight(h: f64) -> (f64, f64) {
    let small = (-2.0 * h.abs()).exp();
    if h >= 0.0 { (1.0, small) } else { (small, 1.0) }
}

/// Fields h with what every chain pass derives from them (site weights, Σ|h_i|): built once per row
/// and shared by all classes. Buffers have length d; a chain uses a prefix.
#[derive(Default)]
pub(crate) struct Fields {
    h: Vec<f64>,
    site: Vec<(f64, f64)>,
    abs_sum: f64,
}

impl Fields {
    pub(crate) fn new(d: usize) -> Self {
        Self {
            h: vec![0.0; d],
            site: vec![(0.0, 0.0); d],
            abs_sum: 0.0,
        }
    }

    /// Sets the first fields to `values` (all d of them when it yields d values); Σ|h| covers the
    /// values set, so a chain over that prefix sees no stale entries.
    pub(crate) fn set(&mut self, values: impl Iterator<Item = f64>) {
        let mut abs_sum = 0.0;
        for ((h, w), v) in self.h.iter_mut().zip(self.site.iter_mut()).zip(values) {
            *h = v;
            *w = site_weight(v);
            abs_sum += v.abs();
        }
        self.abs_sum = abs_sum;
    }

    fn from_slice(h: &[f64]) -> Self {
        let mut f = Fields::new(h.len());
        f.set(h.iter().copied());
        f
    }
}

/// Forward–backward on an open chain with the first `n ≥ 1` sites of `f` and coupling `k`. Returns
/// ln Z(h); when `marginals` is given, writes ⟨σ_i⟩ into it. Tries the scaled transfer-matrix pass (no
/// transcendental call per site) and falls back to the log-space pass when that would underflow
/// (|K| or |h| in the hundreds).
pub(crate) fn open_chain(
    k: f64,
    f: &Fields,
    n: usize,
    s: &mut ChainBuffers,
    mut marginals: Option<&mut [f64]>,
) -> LogZ {
    let rest = match scaled_chain(k, &f.site[..n], &mut s.alpha, marginals.as_deref_mut()) {
        Some(rest) => rest,
        None => log_space_chain(k, &f.h[..n], &mut s.fields, marginals) - f.abs_sum,
    };
    LogZ {
        abs_fields: f.abs_sum,
        rest,
    }
}

/// Multiplies (a, b) by the power of two that brings max(a, b) into [1, 2) (exact, no log) and returns
/// that power; None when max(a, b) is zero, subnormal or not finite.
fn renormalise(a: &mut f64, b: &mut f64) -> Option<i64> {
    let max = a.max(*b);
    if !max.is_normal() {
        return None;
    }
    let exponent = ((max.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    // max ≤ 4 here (entries ≤ 2 times weights ≤ 1 times row sums ≤ 2), so 1023 − exponent ∈ [1021, 2045].
    let scale = f64::from_bits(((1023 - exponent) as u64) << 52);
    *a *= scale;
    *b *= scale;
    Some(exponent)
}

/// Forward–backward with 2-vector messages scaled by powers of two. Site weights are normalised by
/// e^{|h_i|} (the favoured sign gets 1, the other e^{−2|h_i|}) and bond weights by e^{|K|}, so nothing
/// overflows; ln Z = Σ|h_i| + rest with rest = (n−1)|K| + ln(total) + (Σ exponents)·ln 2, which is
/// what this returns. None on underflow.
fn scaled_chain(
    k: f64,
    weight: &[(f64, f64)],
    alpha: &mut [(f64, f64)],
    marginals: Option<&mut [f64]>,
) -> Option<f64> {
    let n = weight.len();
    let tilt = (-2.0 * k.abs()).exp();
    let (same, flip) = if k >= 0.0 { (1.0, tilt) } else { (tilt, 1.0) };
    let alpha = &mut alpha[..n];
    let (mut up, mut down) = (1.0, 1.0);
    let mut exponents = 0_i64;
    let mut total = 0.0;
    for (i, &w) in weight.iter().enumerate() {
        alpha[i] = (up, down);
        let (bu, bd) = (up * w.0, down * w.1);
        if i + 1 == n {
            total = bu + bd;
        } else {
            up = bu * same + bd * flip;
            down = bu * flip + bd * same;
            exponents += renormalise(&mut up, &mut down)?;
        }
    }
    if !total.is_normal() {
        return None;
    }
    if let Some(m) = marginals {
        let (mut bu, mut bd) = (1.0, 1.0);
        for i in (0..n).rev() {
            let ((au, ad), (wu, wd)) = (alpha[i], weight[i]);
            let (pu, pd) = (au * wu * bu, ad * wd * bd);
            let norm = pu + pd;
            if !norm.is_normal() {
                return None;
            }
            m[i] = (pu - pd) / norm;
            let (cu, cd) = (wu * bu, wd * bd);
            bu = same * cu + flip * cd;
            bd = flip * cu + same * cd;
            renormalise(&mut bu, &mut bd)?;
        }
    }
    Some((n - 1) as f64 * k.abs() + total.ln() + exponents as f64 * std::f64::consts::LN_2)
}

/// Forward–backward in log space (cavity fields): exact for any K and h, ~10 transcendental calls
/// per site. The fallback of `open_chain`. `fields` is scratch `[n]` (cavity fields from the left).
pub(crate) fn log_space_chain(
    k: f64,
    h: &[f64],
    fields: &mut [f64],
    marginals: Option<&mut [f64]>,
) -> f64 {
    let n = h.len();
    let mut log_z = 0.0;
    let mut left = h[0];
    fields[0] = left;
    for i in 1..n {
        let (g, c) = transfer(k, left);
        log_z += c;
        left = h[i] + g;
        fields[i] = left;
    }
    log_z += std::f64::consts::LN_2 + ln_cosh(left);
    if let Some(m) = marginals {
        let mut right = 0.0;
        m[n - 1] = left.tanh();
        for i in (0..n - 1).rev() {
            right = transfer(k, h[i + 1] + right).0;
            m[i] = (fields[i] + right).tanh();
        }
    }
    log_z
}

/// Scratch for one chain evaluation, sized for dimension d.
pub(crate) struct ChainBuffers {
    /// Fields of the chain left after pinning σ_1 (periodic) — only d−1 used.
    pinned: Fields,
    /// `[d]` cavity fields (log-space pass).
    fields: Vec<f64>,
    /// `[d]` scaled forward messages (α(+), α(−)) (scaled pass).
    alpha: Vec<(f64, f64)>,
    /// `[d]` marginals of the pinned chain with σ_1 = −1 (periodic).
    minus: Vec<f64>,
}

/// Scratch for one row of the mixture.
struct RowScratch {
    /// Fields h = c a x / Δ, `[d]`.
    fields: Fields,
    /// `[K, d]` magnetisations per class (empty when only ℓ is wanted).
    per_class: Vec<f64>,
    chain: ChainBuffers,
}

impl ChainBuffers {
    pub(crate) fn new(d: usize) -> Self {
        Self {
            pinned: Fields::new(d),
            fields: vec![0.0; d],
            alpha: vec![(0.0, 0.0); d],
            minus: vec![0.0; d],
        }
    }
}

impl IsingMixture {
    /// Builds the mixture. `coupling` J with |J| ≤ 100, β_k ≥ 0 finite, `scale` c > 0, weights > 0
    /// summing to 1 within 1e-6.
    pub fn new(
        dim: usize,
        coupling: f64,
        boundary: Boundary,
        scale: f64,
        components: Vec<IsingComponentSpec>,
    ) -> Result<Self, ModelError> {
        let invalid = |m: String| ModelError::Invalid(m);
        if dim == 0 {
            return Err(invalid("dimension must be >= 1".into()));
        }
        if components.is_empty() {
            return Err(invalid("a mixture needs at least one component".into()));
        }
        if !(coupling.is_finite() && coupling.abs() <= 100.0) {
            return Err(invalid(format!(
                "coupling must satisfy |J| <= 100, got {coupling}"
            )));
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(invalid(format!("spin scale must be > 0, got {scale}")));
        }
        if let Some((k, c)) = components
            .iter()
            .enumerate()
            .find(|(_, c)| !(c.beta.is_finite() && c.beta >= 0.0))
        {
            return Err(invalid(format!(
                "component {k}: beta must be finite and >= 0, got {}",
                c.beta
            )));
        }
        let weights = normalise_weights(&components.iter().map(|c| c.weight).collect::<Vec<_>>())?;
        let betas: Vec<f64> = components.iter().map(|c| c.beta).collect();
        let bonds: Vec<f64> = betas.iter().map(|b| b * coupling).collect();
        let log_z0 = bonds
            .iter()
            .map(|&k| zero_field_log_partition(k, dim, boundary))
            .collect();
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
        Ok(Self {
            dim,
            coupling,
            boundary,
            scale,
            weights,
            betas,
            bonds,
            log_z0,
            labels,
        })
    }

    pub fn coupling(&self) -> f64 {
        self.coupling
    }
    pub fn boundary(&self) -> Boundary {
        self.boundary
    }
    /// Spin scale c (x_0 = c σ).
    pub fn scale(&self) -> f64 {
        self.scale
    }
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }
    /// K_k = β_k J.
    pub fn bonds(&self) -> &[f64] {
        &self.bonds
    }
    /// ln Z_k(0), closed form.
    pub fn log_partition_zero_field(&self, class: usize) -> f64 {
        self.log_z0.get(class).copied().unwrap_or(f64::NAN)
    }

    /// ln Z_k(h) = ln Σ_σ exp(K_k H(σ) + h·σ) for fields `h` (`[d]`); NaN for a wrong class or shape.
    pub fn log_partition(&self, class: usize, h: &[f64]) -> f64 {
        match (self.bonds.get(class), h.len() == self.dim) {
            (Some(&k), true) => self
                .solve(
                    k,
                    &Fields::from_slice(h),
                    None,
                    &mut ChainBuffers::new(self.dim),
                )
                .total(),
            _ => f64::NAN,
        }
    }

    /// ⟨σ_i⟩ under exp(K_k H + h·σ) into `out` (`[d]`); returns ln Z_k(h) (NaN for a wrong class or shape).
    pub fn magnetisations(&self, class: usize, h: &[f64], out: &mut [f64]) -> f64 {
        match (
            self.bonds.get(class),
            h.len() == self.dim && out.len() == self.dim,
        ) {
            (Some(&k), true) => self
                .solve(
                    k,
                    &Fields::from_slice(h),
                    Some(out),
                    &mut ChainBuffers::new(self.dim),
                )
                .total(),
            _ => f64::NAN,
        }
    }

    /// ln Z(h) for coupling k and, optionally, the magnetisations.
    fn solve(
        &self,
        k: f64,
        f: &Fields,
        marginals: Option<&mut [f64]>,
        s: &mut ChainBuffers,
    ) -> LogZ {
        match self.boundary {
            Boundary::Open => open_chain(k, f, self.dim, s, marginals),
            Boundary::Periodic => periodic_chain(k, f, marginals, s),
        }
    }

    /// Exact f64 pass over one row: ℓ_k = ln w_k + ln Z_k(h) − ln Z_k(0) − Σ|h_i| into `log_joint` (the
    /// dropped Σ|h_i| is the same for every class); when `denoised` is given, D(x, t) into it and
    /// `log_joint` is replaced by the posterior p(k | x), and the class means are mixed with the guided
    /// weights when `guide = Some((k, w))`.
    fn row(
        &self,
        x: &[f64],
        t: f64,
        log_joint: &mut [f64],
        denoised: Option<&mut [f64]>,
        scratch: &mut RowScratch,
        guide: Option<(usize, f64)>,
    ) {
        let RowScratch {
            fields,
            per_class,
            chain: s,
        } = scratch;
        let (a, delta) = ou::coefficients(t);
        let factor = self.scale * a / delta;
        fields.set(x.iter().map(|&xi| factor * xi));
        let d = self.dim;
        let want = denoised.is_some();
        for (k, (&bond, ell)) in self.bonds.iter().zip(log_joint.iter_mut()).enumerate() {
            let m = want.then(|| &mut per_class[k * d..(k + 1) * d]);
            *ell = self.weights[k].ln() + self.solve(bond, fields, m, s).rest - self.log_z0[k];
        }
        if let Some(out) = denoised {
            softmax_in_place(log_joint);
            out.fill(0.0);
            for (k, &p) in log_joint.iter().enumerate() {
                let p = mixing_weight(p, k, guide);
                for (o, &m) in out.iter_mut().zip(&per_class[k * d..(k + 1) * d]) {
                    *o += self.scale * p * m;
                }
            }
        }
    }

    /// The exact f64 denoiser E[x_0 | x_t = x] of one row (`[d]`).
    pub fn denoise_exact(&self, x: &[f64], t: f64, out: &mut [f64]) {
        let mut ell = vec![0.0; self.bonds.len()];
        self.row(x, t, &mut ell, Some(out), &mut self.row_scratch(true), None);
    }

    /// Buffers for `row`; `per_class` marginals only when the denoiser is wanted.
    fn row_scratch(&self, with_marginals: bool) -> RowScratch {
        let d = self.dim;
        RowScratch {
            fields: Fields::new(d),
            per_class: vec![
                0.0;
                if with_marginals {
                    self.bonds.len() * d
                } else {
                    0
                }
            ],
            chain: ChainBuffers::new(d),
        }
    }

    /// One spin configuration of class k scaled by c into `row`.
    fn fill_sample(&self, k: usize, right_fields: &[f64], rng: &mut impl Rng, row: &mut [f32]) {
        let Some(&bond) = self.bonds.get(k) else {
            row.fill(f32::NAN);
            return;
        };
        let c = self.scale as f32;
        let mut spin = if rng.random::<bool>() { 1.0 } else { -1.0 };
        row[0] = c * spin as f32;
        match self.boundary {
            Boundary::Open => {
                let same = 0.5 * (1.0 + bond.tanh());
                for r in row.iter_mut().skip(1) {
                    if rng.random::<f64>() >= same {
                        spin = -spin;
                    }
                    *r = c * spin as f32;
                }
            }
            Boundary::Periodic => {
                // Backward filtering / forward sampling of the chain σ_2..σ_d given σ_1 = s: the fields
                // from the right were computed for s = +1 and flip sign with s; σ_1 enters through the
                // bonds (1,2) and (d,1).
                let first = spin;
                let d = self.dim;
                let mut previous = first;
                for (j, r) in row.iter_mut().enumerate().skip(1) {
                    let mut field = first * right_fields[j] + bond * previous;
                    if j == d - 1 {
                        field += bond * first;
                    }
                    let up = 0.5 * (1.0 + field.tanh());
                    previous = if rng.random::<f64>() < up { 1.0 } else { -1.0 };
                    *r = c * previous as f32;
                }
            }
        }
    }

    /// For periodic sampling of class k: with σ_1 = +1 and zero external field, the cavity field each
    /// spin j ≥ 2 receives from spins j+1..d (which includes the bond (d,1)). `[d]`.
    fn pinned_right_fields(&self, k: usize) -> Vec<f64> {
        let d = self.dim;
        let mut right = vec![0.0; d];
        let Some(&bond) = self.bonds.get(k) else {
            return right;
        };
        if self.boundary == Boundary::Open || d < 2 {
            return right;
        }
        // Own field of spin d from the closing bond: K σ_1 = K.
        let mut acc = 0.0;
        for j in (1..d - 1).rev() {
            let own_next = if j + 1 == d - 1 { bond } else { 0.0 };
            acc = transfer(bond, own_next + acc).0;
            right[j] = acc;
        }
        right
    }
}

/// |y + a| − |y| without rounding y + a when |y| ≫ |a| (then it is exactly sgn(y)·a).
pub(crate) fn abs_shift(y: f64, a: f64) -> f64 {
    if y.abs() >= a.abs() {
        y.signum() * a
    } else {
        (y + a).abs() - y.abs()
    }
}

/// Periodic chain via σ_1 = ±1: each pinned value leaves an open chain on sites 2..d whose end fields
/// carry the bonds to σ_1; the two results are combined with log-sum-exp on the `rest` parts.
pub(crate) fn periodic_chain(
    k: f64,
    f: &Fields,
    marginals: Option<&mut [f64]>,
    s: &mut ChainBuffers,
) -> LogZ {
    let h = &f.h;
    let d = h.len();
    let abs_fields = f.abs_sum;
    if d == 1 {
        // The single bond σ_1 σ_1 = 1: Z = e^K 2 cosh h_1.
        if let Some(m) = marginals {
            m[0] = h[0].tanh();
        }
        let rest = k + (-2.0 * h[0].abs()).exp().ln_1p();
        return LogZ { abs_fields, rest };
    }
    let rest_len = d - 1;
    // ln Z_s − Σ|h| for σ_1 = s: s h_1 − |h_1| plus the shift of |h| at the pinned sites plus the
    // open chain's own rest.
    let solve_pinned = |sign: f64, m: Option<&mut [f64]>, s: &mut ChainBuffers| {
        let mut pinned = std::mem::take(&mut s.pinned);
        pinned.h[..rest_len].copy_from_slice(&h[1..]);
        pinned.site[..rest_len].copy_from_slice(&f.site[1..]);
        let ends: &[(usize, f64)] = if rest_len == 1 {
            &[(0, 2.0 * k * sign)]
        } else {
            &[(0, k * sign), (rest_len - 1, k * sign)]
        };
        let mut shift = 0.0;
        for &(i, bond_field) in ends {
            shift += abs_shift(pinned.h[i], bond_field);
            pinned.h[i] += bond_field;
            pinned.site[i] = site_weight(pinned.h[i]);
        }
        pinned.abs_sum = abs_fields - h[0].abs() + shift;
        let chain = open_chain(k, &pinned, rest_len, s, m);
        s.pinned = pinned;
        (sign * h[0] - h[0].abs()) + shift + chain.rest
    };
    let rest = match marginals {
        None => {
            let plus = solve_pinned(1.0, None, s);
            let minus = solve_pinned(-1.0, None, s);
            log_sum_exp(&[plus, minus])
        }
        Some(m) => {
            let mut minus_m = std::mem::take(&mut s.minus);
            let plus = solve_pinned(1.0, Some(&mut m[1..]), s);
            let minus = solve_pinned(-1.0, Some(&mut minus_m[..rest_len]), s);
            let half_gap = 0.5 * (plus - minus);
            let p_plus = 1.0 / (1.0 + (-2.0 * half_gap).exp());
            let p_minus = 1.0 / (1.0 + (2.0 * half_gap).exp());
            m[0] = half_gap.tanh();
            for (mi, &mm) in m[1..].iter_mut().zip(&minus_m[..rest_len]) {
                *mi = p_plus * *mi + p_minus * mm;
            }
            s.minus = minus_m;
            log_sum_exp(&[plus, minus])
        }
    };
    LogZ { abs_fields, rest }
}

/// ln Z(0): open ln 2 + (d−1) ln(2 cosh K); periodic d ln(2 cosh K) + ln(1 + tanh(K)^d).
fn zero_field_log_partition(k: f64, d: usize, boundary: Boundary) -> f64 {
    let per_bond = std::f64::consts::LN_2 + ln_cosh(k);
    match boundary {
        Boundary::Open => std::f64::consts::LN_2 + (d - 1) as f64 * per_bond,
        Boundary::Periodic => {
            let power = i32::try_from(d).map_or(0.0, |p| k.tanh().powi(p));
            d as f64 * per_bond + power.ln_1p()
        }
    }
}

impl Denoiser for IsingMixture {
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
        let (d, k_count) = (self.dim, self.bonds.len());
        self.check_batch(x, denoised, posterior.as_deref(), t)?;
        par_row_chunks(x, d, k_count, denoised, posterior, |xc, dc, mut pc| {
            let (mut x64, mut out) = (vec![0.0; d], vec![0.0; d]);
            let mut ell = vec![0.0; k_count];
            let mut scratch = self.row_scratch(true);
            for (row, (xr, dr)) in xc.chunks_exact(d).zip(dc.chunks_exact_mut(d)).enumerate() {
                for (v, &xi) in x64.iter_mut().zip(xr) {
                    *v = f64::from(xi);
                }
                self.row(&x64, t, &mut ell, Some(&mut out), &mut scratch, None);
                for (o, &v) in dr.iter_mut().zip(&out) {
                    *o = v as f32;
                }
                if let Some(p) = pc.as_deref_mut() {
                    for (pk, &rk) in p[row * k_count..(row + 1) * k_count].iter_mut().zip(&ell) {
                        *pk = rk as f32;
                    }
                }
            }
        });
        Ok(())
    }
    fn is_class_conditional(&self) -> bool {
        true
    }
    fn denoise_guided(
        &self,
        x: &[f32],
        t: f64,
        guide: Guide<'_>,
        denoised: &mut [f32],
        posterior: Option<&mut [f32]>,
    ) -> Result<(), ModelError> {
        self.check_batch(x, denoised, posterior.as_deref(), t)?;
        par_guided_rows(
            x,
            (self.dim, self.bonds.len()),
            guide,
            denoised,
            posterior,
            || self.row_scratch(true),
            |scratch, x64, class, out, p| {
                self.row(x64, t, p, Some(out), scratch, Some(class));
            },
        )
    }
}

impl ExactModel for IsingMixture {
    fn weights(&self) -> &[f64] {
        &self.weights
    }

    fn class_log_joint(&self, x: &[f64], t: f64, out: &mut [f64]) {
        self.row(x, t, out, None, &mut self.row_scratch(false), None);
    }

    fn log_density(&self, x: &[f64], t: f64) -> f64 {
        // ln P_t(x) = −|x|²/(2Δ) − (d/2) ln(2πΔ) − d c² a²/(2Δ) + ln Σ_k w_k Z_k(h)/Z_k(0),
        // h = c a x / Δ; `class_log_joint` leaves out Σ|h_i|, added back here.
        let (a, delta) = ou::coefficients(t);
        let d = self.dim as f64;
        let mut ell = vec![0.0; self.bonds.len()];
        self.class_log_joint(x, t, &mut ell);
        let norm_sq: f64 = x.iter().map(|v| v * v).sum();
        let abs_fields: f64 = x.iter().map(|v| (self.scale * a / delta * v).abs()).sum();
        abs_fields
            - norm_sq / (2.0 * delta)
            - 0.5 * d * (2.0 * std::f64::consts::PI * delta).ln()
            - d * self.scale * self.scale * a * a / (2.0 * delta)
            + log_sum_exp(&ell)
    }

    fn score(&self, x: &[f64], t: f64, out: &mut [f64]) {
        let (a, delta) = ou::coefficients(t);
        self.denoise_exact(x, t, out);
        for (o, &xi) in out.iter_mut().zip(x) {
            *o = (a * *o - xi) / delta;
        }
    }

    fn sample_x0(&self, n: usize, seed: u64) -> LabelledSamples {
        let d = self.dim;
        let right: Vec<Vec<f64>> = (0..self.bonds.len())
            .map(|k| self.pinned_right_fields(k))
            .collect();
        let mut points = vec![0.0_f32; n * d];
        let mut labels = vec![0_u32; n];
        for (i, (row, label)) in points.chunks_exact_mut(d).zip(&mut labels).enumerate() {
            let mut rng = data_stream(seed, None, i);
            let k = pick_class(&self.weights, rng.random::<f64>());
            *label = k as u32;
            self.fill_sample(k, &right[k], &mut rng, row);
        }
        LabelledSamples {
            points,
            labels,
            dim: d,
        }
    }

    /// An out-of-range `class` gives rows of NaN: the trait has no error channel.
    fn sample_class_x0(&self, class: usize, n: usize, seed: u64) -> Vec<f32> {
        let d = self.dim;
        let right = self.pinned_right_fields(class);
        let mut points = vec![0.0_f32; n * d];
        for (i, row) in points.chunks_exact_mut(d).enumerate() {
            let mut rng = data_stream(seed, Some(class), i);
            self.fill_sample(class, &right, &mut rng, row);
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scaled pass and the log-space pass are independent algorithms: they must agree wherever the
    /// scaled one applies, and the scaled one must decline (not return garbage) where it would underflow.
    #[test]
    fn scaled_and_log_space_passes_agree() {
        let n = 40;
        let mut buffers = ChainBuffers::new(n);
        let (mut m_fast, mut m_log) = (vec![0.0; n], vec![0.0; n]);
        for (k, amplitude) in [(0.7, 2.0), (-1.3, 5.0), (0.2, 300.0), (3.0, 0.1)] {
            let h: Vec<f64> = (0..n)
                .map(|i| amplitude * ((i * 37 % 11) as f64 / 5.0 - 1.0))
                .collect();
            let f = Fields::from_slice(&h);
            let fast = f.abs_sum
                + scaled_chain(k, &f.site, &mut buffers.alpha, Some(&mut m_fast))
                    .expect("no underflow here");
            let slow = log_space_chain(k, &h, &mut buffers.fields, Some(&mut m_log));
            assert!(
                (fast - slow).abs() < 1e-12 * slow.abs().max(1.0),
                "K={k}: {fast} vs {slow}"
            );
            for (a, b) in m_fast.iter().zip(&m_log) {
                assert!((a - b).abs() < 1e-12, "K={k}: {a} vs {b}");
            }
        }
        // K = 400 with alternating huge fields: e^{-800} = 0 leaves an all-zero message.
        let h: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { 1e6 } else { -1e6 })
            .collect();
        let f = Fields::from_slice(&h);
        assert!(scaled_chain(400.0, &f.site, &mut buffers.alpha, None).is_none());
        assert!(
            open_chain(400.0, &f, n, &mut buffers, None)
                .total()
                .is_finite()
        );
    }
}
