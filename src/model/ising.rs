//! Mixtures of 1-D Ising chains with exact denoiser, class posterior, log-density and exact sampling
//! (`spec/speciation.md` §1.4). The posterior given x_t is a random-field Ising chain, solved by an O(d)
//! log-space forward–backward pass (periodic chains: condition on σ_1). Knows nothing of scene files.

use rand::Rng;

use super::analytic::{
    data_stream, log_sum_exp, ou_coefficients, par_row_chunks, pick_class, softmax_in_place,
};
use super::gaussian_mixture::normalise_weights;
use super::{Denoiser, ExactModel, LabelledSamples, ModelError, check_batch};

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

/// Forward–backward on an open chain with fields `h` (`[n]`, n ≥ 1) and coupling `k`. Returns ln Z(h);
/// when `marginals` is given, writes ⟨σ_i⟩ into it. `fields` is scratch `[n]` (cavity fields from the left).
fn open_chain(k: f64, h: &[f64], fields: &mut [f64], marginals: Option<&mut [f64]>) -> f64 {
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
struct ChainScratch {
    /// `[d]` fields of the chain left after pinning σ_1 (periodic) — only d−1 used.
    pinned: Vec<f64>,
    /// `[d]` cavity fields.
    fields: Vec<f64>,
    /// `[d]` marginals of the pinned chain with σ_1 = −1 (periodic).
    minus: Vec<f64>,
}

/// Scratch for one row of the mixture.
struct RowScratch {
    /// `[d]` fields h = c a x / Δ.
    h: Vec<f64>,
    /// `[K, d]` magnetisations per class (empty when only ℓ is wanted).
    per_class: Vec<f64>,
    chain: ChainScratch,
}

impl ChainScratch {
    fn new(d: usize) -> Self {
        Self {
            pinned: vec![0.0; d],
            fields: vec![0.0; d],
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
            (Some(&k), true) => self.solve(k, h, None, &mut ChainScratch::new(self.dim)),
            _ => f64::NAN,
        }
    }

    /// ⟨σ_i⟩ under exp(K_k H + h·σ) into `out` (`[d]`); returns ln Z_k(h) (NaN for a wrong class or shape).
    pub fn magnetisations(&self, class: usize, h: &[f64], out: &mut [f64]) -> f64 {
        match (
            self.bonds.get(class),
            h.len() == self.dim && out.len() == self.dim,
        ) {
            (Some(&k), true) => self.solve(k, h, Some(out), &mut ChainScratch::new(self.dim)),
            _ => f64::NAN,
        }
    }

    /// ln Z(h) for coupling k and, optionally, the magnetisations.
    fn solve(&self, k: f64, h: &[f64], marginals: Option<&mut [f64]>, s: &mut ChainScratch) -> f64 {
        match self.boundary {
            Boundary::Open => open_chain(k, h, &mut s.fields, marginals),
            Boundary::Periodic => periodic_chain(k, h, marginals, s),
        }
    }

    /// Exact f64 pass over one row: ℓ_k into `log_joint`; when `denoised` is given, D(x, t) into it
    /// and `log_joint` is replaced by the posterior p(k | x).
    fn row(
        &self,
        x: &[f64],
        t: f64,
        log_joint: &mut [f64],
        denoised: Option<&mut [f64]>,
        scratch: &mut RowScratch,
    ) {
        let RowScratch {
            h,
            per_class,
            chain: s,
        } = scratch;
        let (a, delta) = ou_coefficients(t);
        let factor = self.scale * a / delta;
        for (hi, &xi) in h.iter_mut().zip(x) {
            *hi = factor * xi;
        }
        let d = self.dim;
        let want = denoised.is_some();
        for (k, (&bond, ell)) in self.bonds.iter().zip(log_joint.iter_mut()).enumerate() {
            let m = want.then(|| &mut per_class[k * d..(k + 1) * d]);
            *ell = self.weights[k].ln() + self.solve(bond, h, m, s) - self.log_z0[k];
        }
        if let Some(out) = denoised {
            softmax_in_place(log_joint);
            out.fill(0.0);
            for (k, &p) in log_joint.iter().enumerate() {
                for (o, &m) in out.iter_mut().zip(&per_class[k * d..(k + 1) * d]) {
                    *o += self.scale * p * m;
                }
            }
        }
    }

    /// The exact f64 denoiser E[x_0 | x_t = x] of one row (`[d]`).
    pub fn denoise_exact(&self, x: &[f64], t: f64, out: &mut [f64]) {
        let mut ell = vec![0.0; self.bonds.len()];
        self.row(x, t, &mut ell, Some(out), &mut self.row_scratch(true));
    }

    /// Buffers for `row`; `per_class` marginals only when the denoiser is wanted.
    fn row_scratch(&self, with_marginals: bool) -> RowScratch {
        let d = self.dim;
        RowScratch {
            h: vec![0.0; d],
            per_class: vec![
                0.0;
                if with_marginals {
                    self.bonds.len() * d
                } else {
                    0
                }
            ],
            chain: ChainScratch::new(d),
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

/// Periodic chain via σ_1 = ±1: each pinned value leaves an open chain on sites 2..d whose end fields
/// carry the bonds to σ_1; the two results are combined with log-sum-exp.
fn periodic_chain(k: f64, h: &[f64], marginals: Option<&mut [f64]>, s: &mut ChainScratch) -> f64 {
    let d = h.len();
    if d == 1 {
        // The single bond σ_1 σ_1 = 1.
        if let Some(m) = marginals {
            m[0] = h[0].tanh();
        }
        return k + std::f64::consts::LN_2 + ln_cosh(h[0]);
    }
    let rest = d - 1;
    let solve_pinned = |sign: f64, m: Option<&mut [f64]>, s: &mut ChainScratch| {
        let pinned = &mut s.pinned[..rest];
        pinned.copy_from_slice(&h[1..]);
        pinned[0] += k * sign;
        pinned[rest - 1] += k * sign;
        sign * h[0] + open_chain(k, pinned, &mut s.fields[..rest], m)
    };
    match marginals {
        None => {
            let plus = solve_pinned(1.0, None, s);
            let minus = solve_pinned(-1.0, None, s);
            log_sum_exp(&[plus, minus])
        }
        Some(m) => {
            let mut minus_m = std::mem::take(&mut s.minus);
            let plus = solve_pinned(1.0, Some(&mut m[1..]), s);
            let minus = solve_pinned(-1.0, Some(&mut minus_m[..rest]), s);
            // P(σ_1 = ±1) from the difference, not via ln Z: with huge fields ln Z ~ 1e6 and a
            // subtraction from it would lose ten digits.
            let half_gap = 0.5 * (plus - minus);
            let p_plus = 1.0 / (1.0 + (-2.0 * half_gap).exp());
            let p_minus = 1.0 / (1.0 + (2.0 * half_gap).exp());
            m[0] = half_gap.tanh();
            for (mi, &mm) in m[1..].iter_mut().zip(&minus_m[..rest]) {
                *mi = p_plus * *mi + p_minus * mm;
            }
            s.minus = minus_m;
            log_sum_exp(&[plus, minus])
        }
    }
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
        check_batch(d, k_count, x, denoised, posterior.as_deref(), t)?;
        par_row_chunks(x, d, k_count, denoised, posterior, |xc, dc, mut pc| {
            let (mut x64, mut out) = (vec![0.0; d], vec![0.0; d]);
            let mut ell = vec![0.0; k_count];
            let mut scratch = self.row_scratch(true);
            for (row, (xr, dr)) in xc.chunks_exact(d).zip(dc.chunks_exact_mut(d)).enumerate() {
                for (v, &xi) in x64.iter_mut().zip(xr) {
                    *v = f64::from(xi);
                }
                self.row(&x64, t, &mut ell, Some(&mut out), &mut scratch);
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
}

impl ExactModel for IsingMixture {
    fn weights(&self) -> &[f64] {
        &self.weights
    }

    fn class_log_joint(&self, x: &[f64], t: f64, out: &mut [f64]) {
        self.row(x, t, out, None, &mut self.row_scratch(false));
    }

    fn log_density(&self, x: &[f64], t: f64) -> f64 {
        // ln P_t(x) = −|x|²/(2Δ) − (d/2) ln(2πΔ) − d c² a²/(2Δ) + ln Σ_k w_k Z_k(h)/Z_k(0).
        let (a, delta) = ou_coefficients(t);
        let d = self.dim as f64;
        let mut ell = vec![0.0; self.bonds.len()];
        self.class_log_joint(x, t, &mut ell);
        let norm_sq: f64 = x.iter().map(|v| v * v).sum();
        -norm_sq / (2.0 * delta)
            - 0.5 * d * (2.0 * std::f64::consts::PI * delta).ln()
            - d * self.scale * self.scale * a * a / (2.0 * delta)
            + log_sum_exp(&ell)
    }

    fn score(&self, x: &[f64], t: f64, out: &mut [f64]) {
        let (a, delta) = ou_coefficients(t);
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
