//! The Dyck-word token model against brute force: every balanced word of a short length is listed by
//! the grammar (independently of the model's inside weights), weighted by its emissions, and summed
//! into class weights, class posteriors and per-site marginals; the model's joint draws and data draws
//! are compared with the exact word law in total variation.

use diffscope::model::discrete::dyck::{DyckClasses, DyckModel, is_balanced, max_depth};
use diffscope::model::discrete::{DiscreteNoise, MASK, TokenModel};
use diffscope::rng::{Domain, stream};

/// A word with its maximum depth, as built by the grammar.
type Word = (Vec<u8>, usize);

/// Every balanced word of length `len` over `b` pairs, from S → ε | o S c S (each word once, since the
/// grammar is unambiguous), with its depth computed along the derivation.
fn enumerate(len: usize, b: usize) -> Vec<Word> {
    let mut by_len: Vec<Vec<Word>> = vec![vec![(Vec::new(), 0)]];
    for n in (2..=len).step_by(2) {
        let mut words = Vec::new();
        for inner_len in (0..n - 1).step_by(2) {
            for (inner, d_in) in &by_len[inner_len / 2] {
                for (rest, d_rest) in &by_len[(n - 2 - inner_len) / 2] {
                    for kind in 0..b as u8 {
                        let mut w = vec![2 * kind];
                        w.extend(inner);
                        w.push(2 * kind + 1);
                        w.extend(rest);
                        words.push((w, (d_in + 1).max(*d_rest)));
                    }
                }
            }
        }
        by_len.push(words);
    }
    by_len.pop().unwrap()
}

fn class_of(classes: DyckClasses, word: &Word) -> usize {
    match classes {
        DyckClasses::FirstBracket => usize::from(word.0[0] / 2),
        DyckClasses::MaxDepthAtLeast(d) => usize::from(word.1 >= d),
    }
}

/// The exact posterior by enumeration: (law over `words`, class posterior, marginals `[L, V]`).
fn brute_posterior(
    words: &[Word],
    classes: DyckClasses,
    k: usize,
    v: usize,
    noise: DiscreteNoise,
    t: f64,
    x_t: &[u8],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let l = x_t.len();
    let mut law: Vec<f64> = words
        .iter()
        .map(|(w, _)| {
            w.iter()
                .zip(x_t)
                .map(|(&s, &y)| noise.emission(y, s, v, t))
                .product()
        })
        .collect();
    let z: f64 = law.iter().sum();
    assert!(z > 0.0, "test observation must be possible");
    law.iter_mut().for_each(|p| *p /= z);
    let mut cls = vec![0.0; k];
    let mut marg = vec![0.0; l * v];
    for (p, word) in law.iter().zip(words) {
        cls[class_of(classes, word)] += p;
        for (i, &s) in word.0.iter().enumerate() {
            marg[i * v + usize::from(s)] += p;
        }
    }
    (law, cls, marg)
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Observations to test against: the fully masked word, and noised copies of a few clean words.
fn observations(words: &[Word], noise: DiscreteNoise, t: f64, v: usize, seed: u64) -> Vec<Vec<u8>> {
    let l = words[0].0.len();
    let mut obs = vec![vec![MASK; l]];
    if noise == DiscreteNoise::Flip {
        // Flip noise never masks; an arbitrary (even unbalanced) word is a possible observation at t > 0.
        obs[0] = (0..l).map(|i| ((i * 7 + 3) % v) as u8).collect();
    }
    for r in 0..4u64 {
        let mut rng = stream(seed, Domain::ForwardNoise, r);
        let clean = &words[(r as usize * 977 + seed as usize * 31) % words.len()].0;
        let mut o = vec![0u8; l];
        noise.corrupt(clean, v, t, &mut rng, &mut o);
        obs.push(o);
    }
    obs
}

const CLASS_KINDS: [DyckClasses; 4] = [
    DyckClasses::FirstBracket,
    DyckClasses::MaxDepthAtLeast(2),
    DyckClasses::MaxDepthAtLeast(3),
    DyckClasses::MaxDepthAtLeast(4),
];

#[test]
fn word_counts_match_catalan_times_b_to_the_half_length() {
    let m = DyckModel::new(16, 2, DyckClasses::FirstBracket).unwrap();
    let count = m.log_word_count().exp();
    assert!((count - 366_080.0).abs() < 1e-6 * 366_080.0, "{count}");
    for (l, b) in [(8, 2), (10, 2), (8, 3), (6, 4)] {
        let m = DyckModel::new(l, b, DyckClasses::FirstBracket).unwrap();
        let listed = enumerate(l, b).len() as f64;
        assert!((m.log_word_count().exp() - listed).abs() < 1e-9 * listed);
    }
}

#[test]
fn balance_check_agrees_with_the_grammar() {
    // All 4^8 sequences of length 8 over two pairs: the balanced ones are exactly the listed words,
    // and their depth is the derivation's.
    let words = enumerate(8, 2);
    let mut balanced = Vec::new();
    for code in 0..4usize.pow(8) {
        let w: Vec<u8> = (0..8).map(|i| ((code >> (2 * i)) & 3) as u8).collect();
        if is_balanced(&w) {
            balanced.push(w);
        }
    }
    let mut listed: Vec<Vec<u8>> = words.iter().map(|(w, _)| w.clone()).collect();
    listed.sort();
    balanced.sort();
    assert_eq!(listed, balanced);
    assert!(words.iter().all(|(w, d)| max_depth(w) == *d));
}

#[test]
fn class_weights_are_the_fractions_of_words() {
    for l in [8, 10] {
        let words = enumerate(l, 2);
        for classes in CLASS_KINDS {
            let m = DyckModel::new(l, 2, classes).unwrap();
            let k = m.class_labels().len();
            let mut frac = vec![0.0; k];
            for w in &words {
                frac[class_of(classes, w)] += 1.0 / words.len() as f64;
            }
            let d = max_abs_diff(m.weights(), &frac);
            assert!(
                d < 1e-12,
                "L {l} {classes:?}: {:?} vs {frac:?}",
                m.weights()
            );
        }
    }
}

#[test]
fn posteriors_match_enumeration_under_mask_and_flip() {
    let times = [0.0, 0.1, 0.7, 2.0, 8.0];
    for l in [8, 10] {
        let words = enumerate(l, 2);
        for classes in CLASS_KINDS {
            let m = DyckModel::new(l, 2, classes).unwrap();
            let (k, v) = (m.class_labels().len(), m.vocab());
            for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
                for (ti, &t) in times.iter().enumerate() {
                    for x in observations(&words, noise, t, v, 10 * l as u64 + ti as u64) {
                        if noise == DiscreteNoise::Flip && t == 0.0 && !is_balanced(&x) {
                            continue; // impossible observation: no posterior to compare with
                        }
                        let (_, cls, marg) = brute_posterior(&words, classes, k, v, noise, t, &x);
                        let mut joint = vec![0.0; k];
                        m.class_log_joint(noise, t, &x, &mut joint);
                        let (mut m_marg, mut m_cls) = (vec![0.0; l * v], vec![0.0; k]);
                        m.posterior(noise, t, &x, &mut m_marg, &mut m_cls);
                        let what = format!("L {l} {classes:?} {noise:?} t {t} x {x:?}");
                        assert!(max_abs_diff(&softmax(&joint), &cls) < 1e-10, "{what}");
                        assert!(max_abs_diff(&m_cls, &cls) < 1e-10, "{what}");
                        assert!(max_abs_diff(&m_marg, &marg) < 1e-10, "{what}");
                    }
                }
            }
        }
    }
}

/// Draws `n` words, checks each is balanced and labelled with its class, and returns the total
/// variation between their empirical law and `law` over `words`.
fn empirical_tv(
    words: &[Word],
    law: &[f64],
    classes: DyckClasses,
    mut draw: impl FnMut(usize, &mut [u8]) -> usize,
    n: usize,
) -> f64 {
    let l = words[0].0.len();
    let mut index = std::collections::HashMap::new();
    for (i, (w, _)) in words.iter().enumerate() {
        index.insert(w.clone(), i);
    }
    let mut counts = vec![0usize; words.len()];
    let mut out = vec![0u8; l];
    for r in 0..n {
        let label = draw(r, &mut out);
        assert!(is_balanced(&out), "unbalanced draw {out:?}");
        let i = index[&out];
        assert_eq!(label, class_of(classes, &words[i]), "label of {out:?}");
        counts[i] += 1;
    }
    0.5 * counts
        .iter()
        .zip(law)
        .map(|(&c, &p)| (c as f64 / n as f64 - p).abs())
        .sum::<f64>()
}

/// A bound the empirical total variation of n draws over k outcomes exceeds with probability
/// below 1e-9: E TV ≤ ½ Σ √(p/n) ≤ ½ √(k/n) (Cauchy–Schwarz), and one draw moves TV by at most 1/n,
/// so by McDiarmid P(TV > E TV + ε) ≤ exp(−2nε²), ε = √(ln 10⁹ / 2n).
fn tv_bound(k: usize, n: usize) -> f64 {
    0.5 * (k as f64 / n as f64).sqrt() + (1e9f64.ln() / (2.0 * n as f64)).sqrt()
}

#[test]
fn joint_posterior_draws_follow_the_exact_law() {
    // L = 8, B = 2: at most 224 words in the posterior's support. With 100,000 draws the bound is
    // 0.015–0.034 by support size; a sampler that picks a wrong partner or bracket kind is off by
    // 0.25 or more on these observations.
    let (l, n) = (8, 100_000);
    let words = enumerate(l, 2);
    let cases = [
        (DyckClasses::FirstBracket, DiscreteNoise::Mask, 0.7),
        (DyckClasses::MaxDepthAtLeast(3), DiscreteNoise::Flip, 0.5),
        (DyckClasses::MaxDepthAtLeast(2), DiscreteNoise::Mask, 8.0),
    ];
    for (ci, (classes, noise, t)) in cases.into_iter().enumerate() {
        let m = DyckModel::new(l, 2, classes).unwrap();
        let (k, v) = (m.class_labels().len(), m.vocab());
        let x = observations(&words, noise, t, v, 5 + ci as u64).swap_remove(1);
        let (law, _, _) = brute_posterior(&words, classes, k, v, noise, t, &x);
        let support = law.iter().filter(|&&p| p > 0.0).count();
        let tv = empirical_tv(
            &words,
            &law,
            classes,
            |r, out| {
                let mut rng = stream(ci as u64, Domain::ReverseNoise, r as u64);
                m.sample_posterior(noise, t, &x, &mut rng, out)
            },
            n,
        );
        let bound = tv_bound(support, n);
        assert!(
            tv < bound,
            "{classes:?} {noise:?} t {t} x {x:?}: TV {tv} ≥ {bound}"
        );
    }
}

#[test]
fn data_draws_are_uniform_over_words_and_deterministic_per_row() {
    let (l, n) = (8, 100_000);
    let words = enumerate(l, 2);
    let classes = DyckClasses::MaxDepthAtLeast(3);
    let m = DyckModel::new(l, 2, classes).unwrap();
    let samples = m.sample_x0(n, 11);
    assert_eq!(samples.length, l);
    assert_eq!(samples.tokens.len(), n * l);
    let uniform = vec![1.0 / words.len() as f64; words.len()];
    let tv = empirical_tv(
        &words,
        &uniform,
        classes,
        |r, out| {
            out.copy_from_slice(&samples.tokens[r * l..(r + 1) * l]);
            samples.labels[r] as usize
        },
        n,
    );
    let bound = tv_bound(words.len(), n);
    assert!(tv < bound, "TV {tv} ≥ {bound}");
    // Row i depends only on (seed, i): a shorter batch is a prefix, another seed differs.
    let few = m.sample_x0(50, 11);
    assert_eq!(few.tokens, samples.tokens[..50 * l]);
    assert_eq!(few.labels, samples.labels[..50]);
    assert_ne!(m.sample_x0(50, 12).tokens, few.tokens);
}

#[test]
fn long_words_stay_finite_and_sharp() {
    // L = 256, B = 4: counts near 10^150 and sub-span weights far below f64's range.
    let (l, b) = (256, 4);
    let m = DyckModel::new(l, b, DyckClasses::MaxDepthAtLeast(6)).unwrap();
    let v = m.vocab();
    let clean = m.sample_x0(1, 3);
    let (word, label) = (&clean.tokens[..], clean.labels[0] as usize);
    let (mut marg, mut cls) = (vec![0.0; l * v], vec![0.0; 2]);
    // A clean word seen without noise: the posterior is that word, with certainty.
    for noise in [DiscreteNoise::Mask, DiscreteNoise::Flip] {
        m.posterior(noise, 0.0, word, &mut marg, &mut cls);
        assert!((cls[label] - 1.0).abs() < 1e-12, "{noise:?} {cls:?}");
        for (i, &s) in word.iter().enumerate() {
            assert!((marg[i * v + usize::from(s)] - 1.0).abs() < 1e-12);
        }
    }
    // Noisy views: rows are distributions, classes a distribution, draws balanced.
    for (noise, t) in [(DiscreteNoise::Mask, 1.0), (DiscreteNoise::Flip, 0.05)] {
        let mut rng = stream(4, Domain::ForwardNoise, 0);
        let mut x = vec![0u8; l];
        noise.corrupt(word, v, t, &mut rng, &mut x);
        m.posterior(noise, t, &x, &mut marg, &mut cls);
        assert!(marg.iter().chain(&cls).all(|p| p.is_finite() && *p >= 0.0));
        for row in marg.chunks(v) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        assert!((cls.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut out = vec![0u8; l];
        let k = m.sample_posterior(noise, t, &x, &mut rng, &mut out);
        assert!(is_balanced(&out));
        assert_eq!(k, usize::from(max_depth(&out) >= 6));
    }
}
