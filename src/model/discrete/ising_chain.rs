//! Mixtures of 1-D Ising chains with a field, as an exact token model for discrete noise
//! (`docs/science/discrete.md` §2(a)). Spins are tokens: 0 ↔ s = −1, 1 ↔ s = +1 (V = 2). Given a masked or
//! flipped observation every class is still an Ising chain, now with site fields (flip) and pinned sites
//! (revealed under mask, every site under flip at t = 0). Pinned sites cut the chain into open runs of
//! free sites; each run is solved in O(length) by the chain passes of `model::ising`, so a whole
//! observation costs O(K L) whatever the noise.

use rand::Rng;
use rayon::prelude::*;
use thiserror::Error;

use super::{DiscreteNoise, MASK, TokenModel, TokenSamples};
use crate::model::ModelError;
use crate::model::ising::{
    Boundary, ChainBuffers, Fields, abs_shift, log_space_chain, open_chain, periodic_chain,
};
use crate::model::math::{data_stream, pick_class, softmax_in_place};
use crate::rng::Stream;

/// Largest |K_k| accepted: keeps e^{−2|K|} (the scaled pass's bond tilt) a normal number with room to
/// spare and ln Z exact to ~1e-9 at L = 16384.
pub const MAX_COUPLING: f64 = 100.0;
/// Largest |h_k| accepted (same reason as [`MAX_COUPLING`]).
pub const MAX_FIELD: f64 = 100.0;

/// One class as the user gives it: P_k(s) ∝ exp(K Σ s_i s_{i+1} + h Σ s_i).
#[derive(Clone, Debug, PartialEq)]
pub struct IsingChainClass {
    pub weight: f64,
    /// Bond coupling K.
    pub coupling: f64,
    /// Uniform field h.
    pub field: f64,
    pub label: String,
}

/// Why a chain mixture cannot be built.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum IsingChainError {
    #[error("chain length must be >= 1")]
    EmptyChain,
    #[error("a mixture needs at least one class")]
    NoClasses,
    #[error("class {class}: weight must be > 0 and finite, got {value}")]
    BadWeight { class: usize, value: f64 },
    #[error("weights must sum to 1 (within 1e-6), they sum to {sum}")]
    WeightSum { sum: f64 },
    #[error("class {class}: coupling must be finite with |K| <= {MAX_COUPLING}, got {value}")]
    BadCoupling { class: usize, value: f64 },
    #[error("class {class}: field must be finite with |h| <= {MAX_FIELD}, got {value}")]
    BadField { class: usize, value: f64 },
}

impl From<IsingChainError> for ModelError {
    fn from(error: IsingChainError) -> Self {
        ModelError::Invalid(error.to_string())
    }
}

/// P_0 = Σ_k w_k P_k over s ∈ {±1}^L, open or periodic.
#[derive(Clone, Debug, PartialEq)]
pub struct IsingChainTokens {
    length: usize,
    boundary: Boundary,
    weights: Vec<f64>,
    couplings: Vec<f64>,
    fields: Vec<f64>,
    labels: Vec<String>,
    /// ln Z_k, by the same pass as the noisy partition functions so that their ratio is consistent.
    log_z: Vec<f64>,
    /// `[K, 3, L]` cavity fields of a draw when the observation puts no field on any site (mask noise,
    /// prior draws), see [`IsingChainTokens::cavity_table`].
    cavity_tables: Vec<f64>,
}

/// atanh(e^{−t}): the field a flip observation y puts on its site, since (1 + y s α)/2 ∝ e^{atanh(α) y s}.
/// Written as ½ ln(1 + 2α/(1 − α)) with 1 − α = −expm1(−t), which keeps full precision both at t → 0
/// (α → 1, where the naive form cancels) and at large t; +∞ at t = 0 (the site is pinned).
fn flip_field(t: f64) -> f64 {
    let gap = -(-t).exp_m1();
    if gap <= 0.0 {
        return f64::INFINITY;
    }
    0.5 * (2.0 * (-t).exp() / gap).ln_1p()
}

/// What one observation says about each site; the same for every class.
#[derive(Clone, Debug)]
struct Evidence {
    /// 0 for a free site, ±1 for a site whose spin the observation fixes.
    pin: Vec<i8>,
    /// Field f_i that the observation puts on a free site (0 under mask and on pinned sites).
    field: Vec<f64>,
    pinned: usize,
    /// Every f_i is 0 (mask noise, no observation, or flip at t = 0): the draws' cavity fields are
    /// then those of the model's tables.
    fieldless: bool,
}

impl Evidence {
    /// No information: the prior chain.
    fn free(length: usize) -> Self {
        Self {
            pin: vec![0; length],
            field: vec![0.0; length],
            pinned: 0,
            fieldless: true,
        }
    }

    /// None when `x_t` is not a valid observation of a length-`length` spin word at time `t`.
    fn read(noise: DiscreteNoise, t: f64, x_t: &[u8], length: usize) -> Option<Self> {
        if x_t.len() != length || t.is_nan() || t < 0.0 {
            return None;
        }
        let mut ev = Self::free(length);
        let strength = match noise {
            DiscreteNoise::Mask => f64::INFINITY,
            DiscreteNoise::Flip => flip_field(t),
        };
        ev.fieldless = strength.is_infinite();
        for ((&x, pin), field) in x_t.iter().zip(&mut ev.pin).zip(&mut ev.field) {
            let sign = match x {
                0 => -1.0,
                1 => 1.0,
                MASK if noise == DiscreteNoise::Mask => continue,
                _ => return None,
            };
            if strength.is_infinite() {
                *pin = sign as i8;
                ev.pinned += 1;
            } else {
                *field = sign * strength;
            }
        }
        Some(ev)
    }
}

/// A maximal run of free sites: sites (start + j) mod L for j < len, between the pinned spins `left`
/// and `right` (0 at an open end).
struct Run {
    start: usize,
    len: usize,
    left: f64,
    right: f64,
}

/// Calls `visit` on every run of free sites. Periodic chains need at least one pinned site: the runs are
/// then read around the ring starting after it.
fn for_each_run(pin: &[i8], boundary: Boundary, mut visit: impl FnMut(Run)) {
    let n = pin.len();
    match boundary {
        Boundary::Open => {
            let mut i = 0;
            while i < n {
                if pin[i] != 0 {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < n && pin[i] == 0 {
                    i += 1;
                }
                visit(Run {
                    start,
                    len: i - start,
                    left: if start > 0 {
                        pin[start - 1].into()
                    } else {
                        0.0
                    },
                    right: if i < n { pin[i].into() } else { 0.0 },
                });
            }
        }
        Boundary::Periodic => {
            let Some(first) = pin.iter().position(|&p| p != 0) else {
                return;
            };
            let at = |j: usize| (first + j) % n;
            let mut j = 1;
            while j < n {
                if pin[at(j)] != 0 {
                    j += 1;
                    continue;
                }
                let start = j;
                while j < n && pin[at(j)] == 0 {
                    j += 1;
                }
                visit(Run {
                    start: at(start),
                    len: j - start,
                    left: pin[at(start - 1)].into(),
                    right: pin[at(j)].into(),
                });
            }
        }
    }
}

/// What a chain pass produces besides ln Z.
enum Output<'a> {
    LogZ,
    /// ⟨s_i⟩ under the class posterior, `[L]`.
    Magnetisations(&'a mut [f64]),
    /// A joint draw, written as tokens `[L]`.
    Draw(&'a mut Stream, &'a mut [u8]),
}

/// Buffers for chain passes over length L.
struct Scratch {
    fields: Fields,
    chain: ChainBuffers,
    run_h: Vec<f64>,
    run_m: Vec<f64>,
    cavity: Vec<f64>,
}

impl Scratch {
    fn new(length: usize) -> Self {
        Self {
            fields: Fields::new(length),
            chain: ChainBuffers::new(length),
            run_h: vec![0.0; length],
            run_m: vec![0.0; length],
            cavity: vec![0.0; length],
        }
    }
}

thread_local! {
    /// One [`Scratch`] per thread, reused from call to call: a fresh one zeroes ~100 bytes per site,
    /// which cost as much as a masked sampling step's own work. Every pass writes the part it reads.
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

/// Runs `work` with this thread's scratch for length `length`. The scratch is taken out of the cell
/// while `work` runs, so a nested call gets a fresh one instead of a borrow error.
fn with_scratch<R>(length: usize, work: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH
        .take()
        .filter(|s| s.run_h.len() == length)
        .unwrap_or_else(|| Scratch::new(length));
    let result = work(&mut scratch);
    SCRATCH.set(Some(scratch));
    result
}

fn token(spin: f64) -> u8 {
    u8::from(spin > 0.0)
}

/// P(s = +1) for a spin in field `field`, written as a logistic so the unlikely side keeps its precision.
fn up_probability(field: f64) -> f64 {
    1.0 / (1.0 + (-2.0 * field).exp())
}

impl IsingChainTokens {
    /// Builds the mixture: L ≥ 1, weights > 0 summing to 1 within 1e-6, |K_k| ≤ [`MAX_COUPLING`],
    /// |h_k| ≤ [`MAX_FIELD`].
    pub fn new(
        length: usize,
        boundary: Boundary,
        classes: Vec<IsingChainClass>,
    ) -> Result<Self, IsingChainError> {
        if length == 0 {
            return Err(IsingChainError::EmptyChain);
        }
        if classes.is_empty() {
            return Err(IsingChainError::NoClasses);
        }
        for (class, c) in classes.iter().enumerate() {
            if !(c.weight.is_finite() && c.weight > 0.0) {
                return Err(IsingChainError::BadWeight {
                    class,
                    value: c.weight,
                });
            }
            if !(c.coupling.is_finite() && c.coupling.abs() <= MAX_COUPLING) {
                return Err(IsingChainError::BadCoupling {
                    class,
                    value: c.coupling,
                });
            }
            if !(c.field.is_finite() && c.field.abs() <= MAX_FIELD) {
                return Err(IsingChainError::BadField {
                    class,
                    value: c.field,
                });
            }
        }
        let sum: f64 = classes.iter().map(|c| c.weight).sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(IsingChainError::WeightSum { sum });
        }
        let mut model = Self {
            length,
            boundary,
            weights: classes.iter().map(|c| c.weight / sum).collect(),
            couplings: classes.iter().map(|c| c.coupling).collect(),
            fields: classes.iter().map(|c| c.field).collect(),
            labels: classes
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    if c.label.is_empty() {
                        k.to_string()
                    } else {
                        c.label.clone()
                    }
                })
                .collect(),
            log_z: Vec::new(),
            cavity_tables: Vec::new(),
        };
        let (prior, mut scratch) = (Evidence::free(length), Scratch::new(length));
        model.log_z = (0..classes.len())
            .map(|k| model.pass(k, &prior, &mut scratch, Output::LogZ))
            .collect();
        model.cavity_tables = (0..classes.len())
            .flat_map(|k| [-1.0, 0.0, 1.0].map(|left| model.fieldless_cavities(k, left)))
            .flatten()
            .collect();
        Ok(model)
    }

    /// The run fields of class k's passes on a run of `len` free sites between the pinned spins
    /// `left` and `right`, with the observation's fields `f(j)`: the class field plus the bonds to the
    /// pinned neighbours on the ends. Also returns Σ_j abs_shift(f_j, extra_j).
    fn run_fields(
        &self,
        k: usize,
        len: usize,
        (left, right): (f64, f64),
        f: impl Fn(usize) -> f64,
        out: &mut [f64],
    ) -> f64 {
        let (bond, h) = (self.couplings[k], self.fields[k]);
        let mut shift = 0.0;
        for (j, rh) in out[..len].iter_mut().enumerate() {
            let mut extra = h;
            if j == 0 {
                extra += bond * left;
            }
            if j + 1 == len {
                extra += bond * right;
            }
            let f = f(j);
            *rh = f + extra;
            shift += abs_shift(f, extra);
        }
        shift
    }

    /// The forward cavity fields of class k on a run of all L sites with no observed field, pinned
    /// spin `left` before it and nothing after. The cavity field of site j depends only on the run
    /// fields of sites ≤ j, so entry j < len − 1 is, bit for bit, the cavity field of site j of any
    /// fieldless run of length len after `left`: a draw then reads them instead of paying ~5
    /// transcendental calls per site.
    fn fieldless_cavities(&self, k: usize, left: f64) -> Vec<f64> {
        let l = self.length;
        let mut run_h = vec![0.0; l];
        self.run_fields(k, l, (left, 0.0), |_| 0.0, &mut run_h);
        let mut cavity = vec![0.0; l];
        log_space_chain(self.couplings[k], &run_h, &mut cavity, None);
        cavity
    }

    /// The table of [`Self::fieldless_cavities`] for class k after the pinned spin `left` (±1, or 0 at
    /// an open end).
    fn cavity_table(&self, k: usize, left: f64) -> &[f64] {
        let l = self.length;
        let side = if left < 0.0 {
            0
        } else if left == 0.0 {
            1
        } else {
            2
        };
        let start = (3 * k + side) * l;
        &self.cavity_tables[start..start + l]
    }

    pub fn boundary(&self) -> Boundary {
        self.boundary
    }
    /// K_k.
    pub fn couplings(&self) -> &[f64] {
        &self.couplings
    }
    /// h_k.
    pub fn fields(&self) -> &[f64] {
        &self.fields
    }
    /// ln Z_k = ln Σ_s exp(K_k Σ s_i s_{i+1} + h_k Σ s_i); NaN for a wrong class.
    pub fn log_partition(&self, class: usize) -> f64 {
        self.log_z.get(class).copied().unwrap_or(f64::NAN)
    }

    /// ln Z_k(x_t) − Σ_i |f_i| for class k: the log partition function of the chain times the emissions
    /// (each up to a factor that does not depend on k). Optionally also the magnetisations or a joint draw
    /// of the class-k posterior chain; a draw does not compute ln Z and returns NaN. A periodic chain
    /// with no pinned site cannot be drawn here (see `draw`).
    fn pass(&self, k: usize, ev: &Evidence, s: &mut Scratch, mut out: Output) -> f64 {
        let (bond, h, n) = (self.couplings[k], self.fields[k], self.length);
        if self.boundary == Boundary::Periodic && ev.pinned == 0 {
            s.fields.set(ev.field.iter().map(|f| h + f));
            let m = match out {
                Output::Magnetisations(m) => Some(m),
                _ => None,
            };
            let z = periodic_chain(bond, &s.fields, m, &mut s.chain);
            return z.rest + ev.field.iter().map(|&f| abs_shift(f, h)).sum::<f64>();
        }
        let mut log_z = 0.0;
        // Pinned sites: their own field (f s − |f| is exact) and the bonds between two of them.
        for (i, (&p, &f)) in ev.pin.iter().zip(&ev.field).enumerate() {
            if p == 0 {
                continue;
            }
            let spin = f64::from(p);
            log_z += h * spin + (f * spin - f.abs());
            let next = if i + 1 < n {
                ev.pin[i + 1]
            } else if self.boundary == Boundary::Periodic {
                ev.pin[0]
            } else {
                0
            };
            log_z += bond * spin * f64::from(next);
            match &mut out {
                Output::Magnetisations(m) => m[i] = spin,
                Output::Draw(_, tokens) => tokens[i] = token(spin),
                Output::LogZ => {}
            }
        }
        let Scratch {
            fields,
            chain,
            run_h,
            run_m,
            cavity,
        } = s;
        let drawing = matches!(out, Output::Draw(..));
        for_each_run(&ev.pin, self.boundary, |run| {
            let len = run.len;
            let at = |j: usize| (run.start + j) % n;
            // Class field plus the bonds to the pinned neighbours, which act as fields on the run's ends.
            let shift = self.run_fields(k, len, (run.left, run.right), |j| ev.field[at(j)], run_h);
            match &mut out {
                Output::LogZ => {
                    fields.set(run_h[..len].iter().copied());
                    log_z += shift + open_chain(bond, fields, len, chain, None).rest;
                }
                Output::Magnetisations(m) => {
                    fields.set(run_h[..len].iter().copied());
                    let z = open_chain(bond, fields, len, chain, Some(&mut run_m[..len]));
                    log_z += shift + z.rest;
                    for (j, &mj) in run_m[..len].iter().enumerate() {
                        m[at(j)] = mj;
                    }
                }
                Output::Draw(rng, tokens) => {
                    // Forward filtering leaves in cavity[j] the field on site j from sites ≤ j; sampling
                    // backwards, site j then feels it plus the bond to the already drawn site j+1.
                    if ev.fieldless && len > 1 {
                        // Sites before the last from the table; the last adds its bond to `right`,
                        // by the same recursion step as the full pass.
                        cavity[..len - 1]
                            .copy_from_slice(&self.cavity_table(k, run.left)[..len - 1]);
                        let mut last = [0.0; 2];
                        log_space_chain(bond, &[cavity[len - 2], run_h[len - 1]], &mut last, None);
                        cavity[len - 1] = last[1];
                    } else {
                        log_space_chain(bond, &run_h[..len], &mut cavity[..len], None);
                    }
                    let mut next = 0.0;
                    for j in (0..len).rev() {
                        let field = cavity[j] + bond * next;
                        next = if rng.random::<f64>() < up_probability(field) {
                            1.0
                        } else {
                            -1.0
                        };
                        tokens[at(j)] = token(next);
                    }
                }
            }
        });
        if drawing { f64::NAN } else { log_z }
    }

    /// One joint draw of the class-k posterior chain into `tokens`. A periodic chain with no pinned
    /// site first draws s_1 from its exact marginal (the two pinned partition functions), which leaves
    /// an open chain.
    fn draw(
        &self,
        k: usize,
        ev: &mut Evidence,
        s: &mut Scratch,
        rng: &mut Stream,
        tokens: &mut [u8],
    ) {
        if self.boundary == Boundary::Periodic && ev.pinned == 0 {
            ev.pinned = 1;
            ev.pin[0] = 1;
            let plus = self.pass(k, ev, s, Output::LogZ);
            ev.pin[0] = -1;
            let minus = self.pass(k, ev, s, Output::LogZ);
            if rng.random::<f64>() < up_probability(0.5 * (plus - minus)) {
                ev.pin[0] = 1;
            }
            self.pass(k, ev, s, Output::Draw(rng, tokens));
            ev.pin[0] = 0;
            ev.pinned = 0;
        } else {
            self.pass(k, ev, s, Output::Draw(rng, tokens));
        }
    }

    /// ℓ_k = ln w_k + ln Z_k(x_t) − ln Z_k up to a constant, into `out` (`[K]`).
    fn log_joint(&self, ev: &Evidence, s: &mut Scratch, out: &mut [f64]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.weights[k].ln() + self.pass(k, ev, s, Output::LogZ) - self.log_z[k];
        }
    }
}

impl TokenModel for IsingChainTokens {
    fn length(&self) -> usize {
        self.length
    }

    fn vocab(&self) -> usize {
        2
    }

    fn class_labels(&self) -> &[String] {
        &self.labels
    }

    fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// A malformed observation (wrong length, a token other than 0/1 — or [`MASK`] under mask noise —,
    /// t < 0 or NaN) or a wrong-sized `out` gives NaN: the trait has no error channel.
    fn class_log_joint(&self, noise: DiscreteNoise, t: f64, x_t: &[u8], out: &mut [f64]) {
        match Evidence::read(noise, t, x_t, self.length) {
            Some(ev) if out.len() == self.weights.len() => {
                with_scratch(self.length, |s| self.log_joint(&ev, s, out));
            }
            _ => out.fill(f64::NAN),
        }
    }

    /// Malformed input (as for `class_log_joint`) gives NaN outputs.
    fn posterior(
        &self,
        noise: DiscreteNoise,
        t: f64,
        x_t: &[u8],
        marginals: &mut [f64],
        classes: &mut [f64],
    ) {
        let (l, k_count) = (self.length, self.weights.len());
        let ev = Evidence::read(noise, t, x_t, l);
        let Some(ev) = ev.filter(|_| marginals.len() == 2 * l && classes.len() == k_count) else {
            marginals.fill(f64::NAN);
            classes.fill(f64::NAN);
            return;
        };
        let mut per_class = vec![0.0; k_count * l];
        with_scratch(l, |s| {
            for (k, (c, m)) in classes
                .iter_mut()
                .zip(per_class.chunks_exact_mut(l))
                .enumerate()
            {
                *c = self.weights[k].ln() + self.pass(k, &ev, s, Output::Magnetisations(m))
                    - self.log_z[k];
            }
        });
        softmax_in_place(classes);
        let mut mean = vec![0.0; l];
        for (&p, m) in classes.iter().zip(per_class.chunks_exact(l)) {
            for (a, &mi) in mean.iter_mut().zip(m) {
                *a += p * mi;
            }
        }
        for (row, &m) in marginals.chunks_exact_mut(2).zip(&mean) {
            row[0] = (0.5 * (1.0 - m)).clamp(0.0, 1.0);
            row[1] = (0.5 * (1.0 + m)).clamp(0.0, 1.0);
        }
    }

    /// Malformed input (as for `class_log_joint`, or `out` not of length L) fills `out` with [`MASK`] and
    /// returns K, which is no class.
    fn sample_posterior(
        &self,
        noise: DiscreteNoise,
        t: f64,
        x_t: &[u8],
        rng: &mut Stream,
        out: &mut [u8],
    ) -> usize {
        let l = self.length;
        let Some(mut ev) = Evidence::read(noise, t, x_t, l).filter(|_| out.len() == l) else {
            out.fill(MASK);
            return self.weights.len();
        };
        let mut p = vec![0.0; self.weights.len()];
        with_scratch(l, |s| {
            self.log_joint(&ev, s, &mut p);
            softmax_in_place(&mut p);
            let k = pick_class(&p, rng.random::<f64>());
            self.draw(k, &mut ev, s, rng, out);
            k
        })
    }

    fn sample_x0(&self, n: usize, seed: u64) -> TokenSamples {
        let l = self.length;
        let mut tokens = vec![0u8; n * l];
        let mut labels = vec![0u32; n];
        tokens
            .par_chunks_mut(l)
            .zip(labels.par_iter_mut())
            .enumerate()
            .for_each_init(
                || (Evidence::free(l), Scratch::new(l)),
                |(ev, s), (i, (row, label))| {
                    let mut rng = data_stream(seed, None, i);
                    let k = pick_class(&self.weights, rng.random::<f64>());
                    *label = k as u32;
                    self.draw(k, ev, s, &mut rng, row);
                },
            );
        TokenSamples {
            tokens,
            labels,
            length: l,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::math::log_sum_exp;

    #[test]
    fn flip_field_is_atanh_of_alpha_at_every_scale() {
        for t in [0.05f64, 0.7, 3.0] {
            let direct = (-t).exp().atanh();
            assert!((flip_field(t) - direct).abs() < 1e-13, "t={t}");
        }
        // t → 0: atanh(1 − t) ≈ ½ ln(2/t), where atanh of the rounded α would have lost all digits.
        let t = 1e-12;
        assert!((flip_field(t) - 0.5 * (2.0 / t).ln()).abs() < 1e-9);
        // t large: ≈ e^{−t}, relative precision kept.
        let t = 30.0f64;
        assert!((flip_field(t) / (-t).exp() - 1.0).abs() < 1e-12);
        assert_eq!(flip_field(0.0), f64::INFINITY);
    }

    #[test]
    fn runs_cover_every_free_site_once_with_their_pinned_neighbours() {
        let collect = |pin: &[i8], b: Boundary| {
            let mut runs = Vec::new();
            for_each_run(pin, b, |r| runs.push((r.start, r.len, r.left, r.right)));
            runs
        };
        let pin = [0, 1, 0, 0, -1, 0];
        assert_eq!(
            collect(&pin, Boundary::Open),
            vec![(0, 1, 0.0, 1.0), (2, 2, 1.0, -1.0), (5, 1, -1.0, 0.0)]
        );
        // Periodic: sites 5 and 0 form one run across the seam, between −1 (site 4) and +1 (site 1).
        assert_eq!(
            collect(&pin, Boundary::Periodic),
            vec![(2, 2, 1.0, -1.0), (5, 2, -1.0, 1.0)]
        );
        // One pinned site on a ring: the other sites feel it from both ends.
        assert_eq!(
            collect(&[0, 0, -1], Boundary::Periodic),
            vec![(0, 2, -1.0, -1.0)]
        );
        assert!(collect(&[1, 1], Boundary::Periodic).is_empty());
    }

    /// The periodic chain without pins goes through `periodic_chain`; with one pinned site through open
    /// runs. Summing the pinned value out must give the same ln Z, and the magnetisation of the pinned
    /// site must match its marginal from the pass without pins.
    #[test]
    fn pinned_runs_and_the_periodic_pass_agree() {
        for l in [1, 2, 3, 17] {
            let model = IsingChainTokens::new(
                l,
                Boundary::Periodic,
                vec![IsingChainClass {
                    weight: 1.0,
                    coupling: -0.9,
                    field: 0.4,
                    label: String::new(),
                }],
            )
            .unwrap();
            let mut s = Scratch::new(l);
            let mut ev = Evidence::free(l);
            for (i, f) in ev.field.iter_mut().enumerate() {
                *f = 0.3 * (i as f64 * 1.7).sin();
            }
            let mut m = vec![0.0; l];
            let whole = model.pass(0, &ev, &mut s, Output::Magnetisations(&mut m));
            ev.pinned = 1;
            let mut pinned = [0.0; 2];
            for (p, sign) in pinned.iter_mut().zip([1, -1]) {
                ev.pin[0] = sign;
                *p = model.pass(0, &ev, &mut s, Output::LogZ);
            }
            assert!((log_sum_exp(&pinned) - whole).abs() < 1e-12, "L={l}");
            assert!(
                ((0.5 * (pinned[0] - pinned[1])).tanh() - m[0]).abs() < 1e-12,
                "L={l}"
            );
        }
    }
}
