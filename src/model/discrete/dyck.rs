//! The exact Dyck-word token model (`docs/science/discrete.md` §2(b)): the uniform law over balanced bracket
//! words of even length L over B bracket pairs, split into classes by the first bracket or by the
//! maximum nesting depth. It gives the discrete samplers and the speciation lab exact class
//! posteriors, per-site marginals and joint posterior draws under mask and flip noise, and it is the
//! structured case where a factorised sampler can produce words that are not balanced at all.
//!
//! Token 2b is the opening bracket b, token 2b + 1 the closing bracket b. The grammar
//! S → ε | o_b S c_b S is unambiguous, so the emission-weighted count of all balanced words on a span
//! (the inside weight) is a sum over the position of the bracket that closes the span's first one.
//! Every weight is kept as a natural logarithm: counts reach Catalan(L/2)·B^{L/2} (≈ 10^150 at
//! L = 256, B = 4) and noisy sub-spans can be far smaller than any f64, and only log-space stays exact
//! for every L and B the constructor accepts.

use rand::Rng;
use thiserror::Error;

use super::{DiscreteNoise, MASK, MAX_VOCAB, TokenModel, TokenSamples};
use crate::model::ModelError;
use crate::model::math::{log_sum_exp, softmax_in_place};
use crate::rng::{Domain, Stream, stream};

/// Longest word the model accepts: the inside and outside tables hold (L + 1)² weights each and take
/// O(L³) time per observation, so the cap keeps a mistyped length from exhausting memory.
pub const MAX_LENGTH: usize = 1024;

/// Number of bracket pairs when a scene does not say (the four symbols `(`, `)`, `[`, `]`).
pub const DEFAULT_BRACKETS: usize = 2;

/// How the words are split into classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DyckClasses {
    /// B classes, by the kind of the first bracket ("(", "[", …).
    FirstBracket,
    /// Two classes: maximum nesting depth below D, and at least D.
    MaxDepthAtLeast(usize),
}

/// Why a Dyck model could not be built.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DyckError {
    #[error("dyck: length L = {0} must be even and at least 2")]
    BadLength(usize),
    #[error("dyck: length L = {length} is larger than the maximum {MAX_LENGTH}")]
    TooLong { length: usize },
    #[error("dyck: B = {0} bracket pairs; need B ≥ 1 and 2B ≤ {MAX_VOCAB} symbols")]
    BadBrackets(usize),
    #[error(
        "dyck: max_depth_at_least D = {depth}; both classes hold words only for 2 ≤ D ≤ L/2 = {half}"
    )]
    BadDepth { depth: usize, half: usize },
}

impl From<DyckError> for ModelError {
    fn from(e: DyckError) -> Self {
        ModelError::Invalid(e.to_string())
    }
}

/// Whether `word` is a balanced bracket word (every closing bracket closes the most recent open
/// bracket of the same kind, and none stays open). [`MASK`] is never a bracket.
pub fn is_balanced(word: &[u8]) -> bool {
    let mut open = Vec::with_capacity(word.len() / 2);
    for &v in word {
        if v == MASK {
            return false;
        }
        if v % 2 == 0 {
            open.push(v);
        } else if open.pop() != Some(v - 1) {
            return false;
        }
    }
    open.is_empty()
}

/// The maximum nesting depth of a word: the largest number of brackets open at once. On a word that
/// is not balanced it is the largest prefix excess of opening over closing brackets (never below 0).
pub fn max_depth(word: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for &v in word {
        if v != MASK && v % 2 == 0 {
            depth += 1;
            deepest = deepest.max(depth);
        } else {
            depth = depth.saturating_sub(1);
        }
    }
    deepest
}

/// The uniform law over balanced words of length L over B bracket pairs, with its classes.
#[derive(Clone, Debug)]
pub struct DyckModel {
    length: usize,
    brackets: usize,
    classes: DyckClasses,
    labels: Vec<String>,
    weights: Vec<f64>,
    /// Inside weights of the noiseless law (plain word counts), reused by every data draw.
    prior: Inside,
}

impl DyckModel {
    /// Checks the parameters [`DyckModel::new`] accepts, without building the tables (scene files
    /// are checked with it before anything is computed).
    pub fn check(length: usize, brackets: usize, classes: DyckClasses) -> Result<(), DyckError> {
        if length == 0 || !length.is_multiple_of(2) {
            return Err(DyckError::BadLength(length));
        }
        if length > MAX_LENGTH {
            return Err(DyckError::TooLong { length });
        }
        if brackets == 0 || 2 * brackets > MAX_VOCAB {
            return Err(DyckError::BadBrackets(brackets));
        }
        if let DyckClasses::MaxDepthAtLeast(depth) = classes
            && !(2..=length / 2).contains(&depth)
        {
            return Err(DyckError::BadDepth {
                depth,
                half: length / 2,
            });
        }
        Ok(())
    }

    /// A model over words of even length `length` ≥ 2 over `brackets` ≥ 1 pairs (2B ≤ [`MAX_VOCAB`]).
    /// A depth split needs 2 ≤ D ≤ L/2, the range where neither class is empty.
    pub fn new(length: usize, brackets: usize, classes: DyckClasses) -> Result<Self, DyckError> {
        Self::check(length, brackets, classes)?;
        let labels = match classes {
            DyckClasses::FirstBracket => (0..brackets).map(bracket_label).collect(),
            DyckClasses::MaxDepthAtLeast(d) => vec![format!("depth < {d}"), format!("depth ≥ {d}")],
        };
        let ones = vec![0.0; length * 2 * brackets];
        let prior = Inside::new(length, brackets, ones);
        let mut model = DyckModel {
            length,
            brackets,
            classes,
            labels,
            weights: Vec::new(),
            prior,
        };
        let mut weights = vec![0.0; model.labels.len()];
        model.class_log_weights(&model.prior, &mut weights);
        softmax_in_place(&mut weights);
        model.weights = weights;
        Ok(model)
    }

    /// Number of bracket pairs B.
    pub fn brackets(&self) -> usize {
        self.brackets
    }

    /// How the words are split into classes.
    pub fn classes(&self) -> DyckClasses {
        self.classes
    }

    /// ln of the number of balanced words, ln(Catalan(L/2) · B^{L/2}).
    pub fn log_word_count(&self) -> f64 {
        self.prior.total()
    }

    /// The class a clean word belongs to: the kind of its first bracket, or whether its running depth
    /// (never below 0) reaches D. Meant for balanced words; an unbalanced one gets the same rule.
    pub fn class_of(&self, word: &[u8]) -> usize {
        match self.classes {
            DyckClasses::FirstBracket => {
                usize::from(word.first().copied().unwrap_or(0) / 2).min(self.brackets - 1)
            }
            DyckClasses::MaxDepthAtLeast(d) => usize::from(max_depth(word) >= d),
        }
    }

    /// The inside weights for one observation. An observation that no balanced word can produce
    /// (e.g. a revealed unbalanced word under mask noise, which the forward process never makes) has
    /// no posterior; it is then treated as carrying no information, so callers get the prior instead
    /// of NaN.
    fn inside_for(&self, noise: DiscreteNoise, t: f64, x_t: &[u8]) -> Inside {
        let inside = self.observed(noise, t, x_t);
        if inside.total().is_finite() {
            inside
        } else {
            self.prior.clone()
        }
    }

    /// Inside weights of the words weighted by the emissions of `x_t`; total −∞ when no word fits.
    fn observed(&self, noise: DiscreteNoise, t: f64, x_t: &[u8]) -> Inside {
        let v = 2 * self.brackets;
        debug_assert_eq!(x_t.len(), self.length);
        let mut log_e = vec![f64::NEG_INFINITY; self.length * v];
        for (i, &obs) in x_t.iter().enumerate().take(self.length) {
            for s in 0..v {
                log_e[i * v + s] = noise.emission(obs, s as u8, v, t).ln();
            }
        }
        Inside::new(self.length, self.brackets, log_e)
    }

    /// ln Σ_{words in class k} Π_i e_i(word_i) for every class, from the inside weights.
    fn class_log_weights(&self, inside: &Inside, out: &mut [f64]) {
        match self.classes {
            DyckClasses::FirstBracket => {
                let l = self.length;
                let mut terms = Vec::with_capacity(l / 2);
                for (b, o) in out.iter_mut().enumerate().take(self.brackets) {
                    terms.clear();
                    // The first bracket b closes at m; the rest of the word follows it.
                    for m in (1..l).step_by(2) {
                        terms.push(
                            inside.log_e(0, 2 * b)
                                + inside.log_e(m, 2 * b + 1)
                                + inside.n(1, m)
                                + inside.n(m + 1, l),
                        );
                    }
                    *o = log_sum_exp(&terms);
                }
            }
            DyckClasses::MaxDepthAtLeast(d) => {
                let (shallow, deep) = inside.depth_split(d);
                out[0] = shallow;
                out[1] = deep;
            }
        }
    }
}

/// The display name of opening bracket b.
fn bracket_label(b: usize) -> String {
    const SHAPES: [&str; 4] = ["(", "[", "{", "<"];
    SHAPES
        .get(b)
        .map_or_else(|| format!("bracket {b}"), |s| (*s).to_string())
}

/// ln(e^a + e^b), stable, with −∞ as the zero.
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// Emissions and inside weights of one observation, all as natural logarithms.
#[derive(Clone, Debug)]
struct Inside {
    length: usize,
    brackets: usize,
    /// `[L, V]`: ln e_i(v).
    log_e: Vec<f64>,
    /// `[L + 1, L + 1]`: ln N(i, j), the emission-weighted count of balanced words on [i, j).
    n: Vec<f64>,
    /// `[L + 1, L + 1]`: ln Σ_b e_i(o_b) e_m(c_b), the weight of the pair (i, m) whatever its kind.
    pair: Vec<f64>,
}

impl Inside {
    fn new(length: usize, brackets: usize, log_e: Vec<f64>) -> Self {
        let w = length + 1;
        let mut pair = vec![f64::NEG_INFINITY; w * w];
        let mut kinds = vec![0.0; brackets];
        for i in 0..length {
            for m in (i + 1..length).step_by(2) {
                for (b, k) in kinds.iter_mut().enumerate() {
                    *k = log_e[i * 2 * brackets + 2 * b] + log_e[m * 2 * brackets + 2 * b + 1];
                }
                pair[i * w + m] = log_sum_exp(&kinds);
            }
        }
        let mut inside = Inside {
            length,
            brackets,
            log_e,
            n: Vec::new(),
            pair,
        };
        inside.n = inside.bounded(None);
        inside
    }

    fn idx(&self, i: usize, j: usize) -> usize {
        i * (self.length + 1) + j
    }

    fn n(&self, i: usize, j: usize) -> f64 {
        self.n[self.idx(i, j)]
    }

    fn pair(&self, i: usize, m: usize) -> f64 {
        self.pair[self.idx(i, m)]
    }

    fn log_e(&self, i: usize, v: usize) -> f64 {
        self.log_e[i * 2 * self.brackets + v]
    }

    /// ln N(0, L), the weight of all words.
    fn total(&self) -> f64 {
        self.n(0, self.length)
    }

    /// Inside weights of the words whose inner words (the part between a span's first bracket and its
    /// partner) are counted by `inner`: `None` means all words, `Some(t)` the table t. With
    /// `inner = N_{d−1}` this gives N_d, the words of depth ≤ d; `None` builds N itself.
    fn bounded(&self, inner: Option<&[f64]>) -> Vec<f64> {
        let l = self.length;
        let mut t = vec![f64::NEG_INFINITY; (l + 1) * (l + 1)];
        for i in 0..=l {
            t[self.idx(i, i)] = 0.0;
        }
        let mut terms = Vec::with_capacity(l / 2);
        for len in (2..=l).step_by(2) {
            for i in 0..=l - len {
                let j = i + len;
                terms.clear();
                for m in (i + 1..j).step_by(2) {
                    let inner_w = inner.unwrap_or(&t[..])[self.idx(i + 1, m)];
                    terms.push(self.pair(i, m) + inner_w + t[self.idx(m + 1, j)]);
                }
                t[self.idx(i, j)] = log_sum_exp(&terms);
            }
        }
        t
    }

    /// (ln weight of words of max depth < D, ln weight of words of max depth ≥ D) over [0, L).
    /// The deep class is built by its own positive recursion rather than as all − shallow, which
    /// would lose every digit when an observation makes the deep class unlikely.
    fn depth_split(&self, depth: usize) -> (f64, f64) {
        let l = self.length;
        let size = (l + 1) * (l + 1);
        // below[d] = N_d (depth ≤ d); deep = M_d (depth ≥ d), rolled over d.
        let mut empty_only = vec![f64::NEG_INFINITY; size];
        for i in 0..=l {
            empty_only[self.idx(i, i)] = 0.0;
        }
        // M_1: every non-empty word has depth ≥ 1.
        let mut deep = self.n.clone();
        for i in 0..=l {
            deep[self.idx(i, i)] = f64::NEG_INFINITY;
        }
        // N_{d−2} and N_{d−1} while building M_d, starting at d = 2.
        let mut below2 = empty_only; // N_0
        let mut below1 = self.bounded(Some(&below2)); // N_1
        let mut terms = Vec::with_capacity(l / 2);
        for _d in 2..=depth {
            // M_d: a word o S c S' has depth ≥ d iff S has depth ≥ d − 1, or S has depth < d − 1
            // and S' has depth ≥ d; the two cases are disjoint.
            let mut next = vec![f64::NEG_INFINITY; size];
            for len in (2..=l).step_by(2) {
                for i in 0..=l - len {
                    let j = i + len;
                    terms.clear();
                    for m in (i + 1..j).step_by(2) {
                        let inner_deep = deep[self.idx(i + 1, m)] + self.n(m + 1, j);
                        let rest_deep = below2[self.idx(i + 1, m)] + next[self.idx(m + 1, j)];
                        terms.push(self.pair(i, m) + log_add(inner_deep, rest_deep));
                    }
                    next[self.idx(i, j)] = log_sum_exp(&terms);
                }
            }
            deep = next;
            let after = self.bounded(Some(&below1));
            below2 = std::mem::replace(&mut below1, after);
        }
        // After the loop below2 = N_{depth−1}: the words of depth < D.
        (below2[self.idx(0, l)], deep[self.idx(0, l)])
    }

    /// ln of the outside weight of every pair (i, m): the weight of the balanced words on
    /// [0, i) ∪ [m + 1, L) glued together, i.e. of everything around a matched pair at i and m.
    fn pair_outside(&self) -> Vec<f64> {
        let l = self.length;
        let size = (l + 1) * (l + 1);
        // out_s(a, b): outside weight of the nonterminal S spanning [a, b).
        let mut out_s = vec![f64::NEG_INFINITY; size];
        out_s[self.idx(0, l)] = 0.0;
        let mut terms = Vec::with_capacity(l);
        // Parents are longer than their children, so spans go from long to short.
        for half in (0..l / 2).rev() {
            let len = 2 * half;
            for a in 0..=l - len {
                let b = a + len;
                terms.clear();
                // [a, b) is the inner word of the pair (a − 1, b) of a parent S on [a − 1, j).
                if a >= 1 && b < l {
                    for j in (b + 1..=l).step_by(2) {
                        terms.push(
                            out_s[self.idx(a - 1, j)] + self.pair(a - 1, b) + self.n(b + 1, j),
                        );
                    }
                }
                // [a, b) is what follows the pair (i, a − 1) of a parent S on [i, b).
                if a >= 2 {
                    for i in (0..=a - 2).rev().step_by(2) {
                        terms.push(
                            out_s[self.idx(i, b)] + self.pair(i, a - 1) + self.n(i + 1, a - 1),
                        );
                    }
                }
                out_s[self.idx(a, b)] = log_sum_exp(&terms);
            }
        }
        // Q(i, m) = Σ_j out_s(i, j) N(m + 1, j): the pair (i, m) opens the S on [i, j).
        let mut q = vec![f64::NEG_INFINITY; size];
        for i in 0..l {
            for m in (i + 1..l).step_by(2) {
                terms.clear();
                for j in (m + 1..=l).step_by(2) {
                    terms.push(out_s[self.idx(i, j)] + self.n(m + 1, j));
                }
                q[self.idx(i, m)] = log_sum_exp(&terms);
            }
        }
        q
    }

    /// Per-site marginals `[L, V]`: each site is either the opening or the closing bracket of exactly
    /// one pair, so summing the pair weights over partners gives every site's law.
    fn marginals(&self, out: &mut [f64]) {
        let (l, v) = (self.length, 2 * self.brackets);
        out[..l * v].fill(0.0);
        let q = self.pair_outside();
        let z = self.total();
        for i in 0..l {
            for m in (i + 1..l).step_by(2) {
                let around = q[self.idx(i, m)] + self.n(i + 1, m) - z;
                if around == f64::NEG_INFINITY {
                    continue;
                }
                for b in 0..self.brackets {
                    let w = (around + self.log_e(i, 2 * b) + self.log_e(m, 2 * b + 1)).exp();
                    out[i * v + 2 * b] += w;
                    out[m * v + 2 * b + 1] += w;
                }
            }
        }
        // The rows sum to 1 up to rounding; renormalising makes it exact for the samplers.
        for row in out[..l * v].chunks_mut(v) {
            let s: f64 = row.iter().sum();
            if s > 0.0 {
                row.iter_mut().for_each(|p| *p /= s);
            }
        }
    }

    /// One word drawn with probability ∝ Π_i e_i(word_i): the first bracket of each span picks its
    /// partner with probability ∝ its share of the span's inside weight, then its kind.
    fn sample(&self, rng: &mut Stream, out: &mut [u8]) {
        let mut spans = vec![(0usize, self.length)];
        let mut terms = Vec::with_capacity(self.length / 2);
        let mut kinds = vec![0.0; self.brackets];
        while let Some((mut i, j)) = spans.pop() {
            // The span's tail after each pair is handled in this loop, its inner words on the stack.
            while i < j {
                terms.clear();
                for m in (i + 1..j).step_by(2) {
                    terms.push(self.pair(i, m) + self.n(i + 1, m) + self.n(m + 1, j));
                }
                let m = i + 1 + 2 * pick_log(&terms, rng);
                for (b, k) in kinds.iter_mut().enumerate() {
                    *k = self.log_e(i, 2 * b) + self.log_e(m, 2 * b + 1);
                }
                let b = pick_log(&kinds, rng);
                out[i] = (2 * b) as u8;
                out[m] = (2 * b + 1) as u8;
                spans.push((i + 1, m));
                i = m + 1;
            }
        }
    }
}

/// An index drawn with probability ∝ exp(terms[k]); the last finite one on rounding.
fn pick_log(terms: &[f64], rng: &mut Stream) -> usize {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = terms.iter().map(|&l| (l - max).exp()).sum();
    let mut u = rng.random::<f64>() * total;
    let mut last = 0;
    for (k, &l) in terms.iter().enumerate() {
        if l == f64::NEG_INFINITY {
            continue;
        }
        last = k;
        let w = (l - max).exp();
        if u < w {
            return k;
        }
        u -= w;
    }
    last
}

impl TokenModel for DyckModel {
    fn length(&self) -> usize {
        self.length
    }

    fn vocab(&self) -> usize {
        2 * self.brackets
    }

    fn class_labels(&self) -> &[String] {
        &self.labels
    }

    fn weights(&self) -> &[f64] {
        &self.weights
    }

    fn class_log_joint(&self, noise: DiscreteNoise, t: f64, x_t: &[u8], out: &mut [f64]) {
        // The law is uniform over words, so ln w_k + ln P_k(x_t) is ln Σ_{words in k} Π e_i up to
        // −ln(number of words), the same for every class.
        let inside = self.inside_for(noise, t, x_t);
        self.class_log_weights(&inside, out);
    }

    fn posterior(
        &self,
        noise: DiscreteNoise,
        t: f64,
        x_t: &[u8],
        marginals: &mut [f64],
        classes: &mut [f64],
    ) {
        let inside = self.inside_for(noise, t, x_t);
        inside.marginals(marginals);
        self.class_log_weights(&inside, classes);
        softmax_in_place(classes);
    }

    fn sample_posterior(
        &self,
        noise: DiscreteNoise,
        t: f64,
        x_t: &[u8],
        rng: &mut Stream,
        out: &mut [u8],
    ) -> usize {
        // The class is a function of the word and the law is uniform, so a draw from the
        // unrestricted posterior over words is already a joint draw of (class, word).
        let inside = self.inside_for(noise, t, x_t);
        inside.sample(rng, out);
        self.class_of(out)
    }

    /// A revealed symbol no balanced word has there (or a flip observation of weight 0, which
    /// cannot happen for t > 0) leaves no consistent word.
    fn explains(&self, noise: DiscreteNoise, t: f64, x_t: &[u8]) -> bool {
        self.observed(noise, t, x_t).total().is_finite()
    }

    fn class_of_unexplained(&self, noise: DiscreteNoise, x_0: &[u8]) -> Option<usize> {
        (!self.explains(noise, 0.0, x_0)).then(|| self.class_of(x_0))
    }

    fn sample_x0(&self, n: usize, seed: u64) -> TokenSamples {
        let l = self.length;
        let mut tokens = vec![0u8; n * l];
        let mut labels = Vec::with_capacity(n);
        for (i, row) in tokens.chunks_mut(l).enumerate() {
            let mut rng = stream(seed, Domain::DataSample, i as u64);
            self.prior.sample(&mut rng, row);
            labels.push(self.class_of(row) as u32);
        }
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

    fn catalan(n: u64) -> f64 {
        (0..n).fold(1.0, |c, k| c * 2.0 * (2 * k + 1) as f64 / (k + 2) as f64)
    }

    #[test]
    fn counts_words_without_noise() {
        let m = DyckModel::new(16, 2, DyckClasses::FirstBracket).unwrap();
        assert!((m.log_word_count().exp() - 366_080.0).abs() < 1e-6);
        // L = 256, B = 4: far beyond exact integers, still finite and right to rounding.
        let big = DyckModel::new(256, 4, DyckClasses::MaxDepthAtLeast(8)).unwrap();
        let expected = catalan(128).ln() + 128.0 * 4f64.ln();
        assert!((big.log_word_count() - expected).abs() < 1e-9 * expected);
        assert!((big.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(big.weights().iter().all(|&w| w > 0.0));
    }

    #[test]
    fn helpers_recognise_balanced_words() {
        assert!(is_balanced(&[]));
        assert!(is_balanced(&[0, 2, 3, 1, 0, 1]));
        assert!(!is_balanced(&[0, 3]));
        assert!(!is_balanced(&[1, 0]));
        assert!(!is_balanced(&[0, 0, 1]));
        assert!(!is_balanced(&[MASK, MASK]));
        assert_eq!(max_depth(&[0, 2, 3, 1, 0, 1]), 2);
        assert_eq!(max_depth(&[]), 0);
    }

    #[test]
    fn constructor_rejects_bad_inputs() {
        use DyckClasses::*;
        assert_eq!(
            DyckModel::new(0, 2, FirstBracket).unwrap_err(),
            DyckError::BadLength(0)
        );
        assert_eq!(
            DyckModel::new(7, 2, FirstBracket).unwrap_err(),
            DyckError::BadLength(7)
        );
        assert!(matches!(
            DyckModel::new(MAX_LENGTH + 2, 2, FirstBracket),
            Err(DyckError::TooLong { .. })
        ));
        assert_eq!(
            DyckModel::new(8, 0, FirstBracket).unwrap_err(),
            DyckError::BadBrackets(0)
        );
        assert_eq!(
            DyckModel::new(8, 128, FirstBracket).unwrap_err(),
            DyckError::BadBrackets(128)
        );
        assert!(DyckModel::new(2, 127, FirstBracket).is_ok());
        for d in [0, 1, 5] {
            assert_eq!(
                DyckModel::new(8, 2, MaxDepthAtLeast(d)).unwrap_err(),
                DyckError::BadDepth { depth: d, half: 4 }
            );
        }
        assert!(DyckModel::new(8, 2, MaxDepthAtLeast(4)).is_ok());
        let e: ModelError = DyckError::BadLength(3).into();
        assert!(e.to_string().contains("L = 3"));
    }

    #[test]
    fn impossible_observation_falls_back_to_the_prior() {
        let m = DyckModel::new(6, 2, DyckClasses::FirstBracket).unwrap();
        let x = [1u8, 0, 1, 0, 1, 0];
        let (mut marg, mut cls) = (vec![0.0; 6 * 4], vec![0.0; 2]);
        m.posterior(DiscreteNoise::Mask, 0.5, &x, &mut marg, &mut cls);
        assert!(marg.iter().chain(&cls).all(|p| p.is_finite()));
        assert!((cls[0] - 0.5).abs() < 1e-12);
        let mut out = [0u8; 6];
        let mut rng = stream(1, Domain::ReverseNoise, 0);
        m.sample_posterior(DiscreteNoise::Flip, 0.0, &x, &mut rng, &mut out);
        assert!(is_balanced(&out));
    }

    #[test]
    fn unbalanced_words_get_their_class_by_the_rule_and_balanced_ones_by_the_posterior() {
        use DiscreteNoise::{Flip, Mask};
        let first = DyckModel::new(6, 2, DyckClasses::FirstBracket).unwrap();
        // "[ ( )" then "] ( (": unbalanced, first bracket of kind 1 → class 1 under either noise.
        let unbalanced = [2u8, 0, 1, 3, 0, 0];
        assert!(!is_balanced(&unbalanced));
        assert_eq!(first.class_of_unexplained(Mask, &unbalanced), Some(1));
        assert_eq!(first.class_of_unexplained(Flip, &unbalanced), Some(1));
        assert_eq!(first.class_of_unexplained(Mask, &[0, 2, 3, 1, 2, 3]), None);
        // Running depth of "( ( ( ) ] ]" reaches 3: class 1 of "max depth at least 3".
        let deep = DyckModel::new(6, 2, DyckClasses::MaxDepthAtLeast(3)).unwrap();
        assert_eq!(
            deep.class_of_unexplained(Mask, &[0, 0, 0, 1, 3, 3]),
            Some(1)
        );
        assert_eq!(
            deep.class_of_unexplained(Mask, &[0, 1, 3, 1, 0, 2]),
            Some(0)
        );
    }
}
