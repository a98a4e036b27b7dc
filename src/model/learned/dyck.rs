//! The shared task (`docs/science/metrics.md` §3.4): Dyck-2 bracket strings, drawn uniformly from all valid
//! strings of a length by a seeded generator, a validator, the chance level and the analog-bit coding
//! the DiT uses. No model code here.

use crate::rng::{self, Domain};
use rand::Rng;

/// Tokens: `(`, `)`, `[`, `]`.
pub const VOCAB: usize = 4;
pub const SYMBOLS: [char; VOCAB] = ['(', ')', '[', ']'];

/// Whether token `tok` opens a bracket, and its bracket type (0 round, 1 square).
pub(crate) fn is_open(tok: u32) -> bool {
    tok.is_multiple_of(2)
}

fn bracket_type(tok: u32) -> u32 {
    tok / 2
}

/// True when `tokens` is a balanced string of two bracket types (every token < 4).
pub fn is_valid(tokens: &[u32]) -> bool {
    let mut stack: Vec<u32> = Vec::with_capacity(tokens.len());
    for &tok in tokens {
        if tok as usize >= VOCAB {
            return false;
        }
        if is_open(tok) {
            stack.push(bracket_type(tok));
        } else if stack.pop() != Some(bracket_type(tok)) {
            return false;
        }
    }
    stack.is_empty()
}

/// Fraction of strings (each `len` tokens, concatenated) that are valid.
pub fn validity(tokens: &[u32], len: usize) -> f64 {
    if len == 0 || tokens.is_empty() {
        return 0.0;
    }
    let strings = tokens.len() / len;
    let valid = tokens.chunks_exact(len).filter(|s| is_valid(s)).count();
    valid as f64 / strings as f64
}

pub fn to_text(tokens: &[u32]) -> String {
    tokens
        .iter()
        .map(|&t| SYMBOLS.get(t as usize).copied().unwrap_or('?'))
        .collect()
}

/// Number of height paths from height `h` to 0 in `r` ±1 steps that never go below 0, times 2 per up
/// step (the bracket type of every opening is free; closings are forced): completions of a prefix.
fn completions(len: usize) -> Vec<Vec<f64>> {
    // table[r][h], r = remaining tokens, h = open brackets.
    let mut table = vec![vec![0.0f64; len + 2]; len + 1];
    table[0][0] = 1.0;
    for r in 1..=len {
        for h in 0..=len {
            let up = 2.0 * table[r - 1][h + 1];
            let down = if h > 0 { table[r - 1][h - 1] } else { 0.0 };
            table[r][h] = up + down;
        }
    }
    table
}

/// Number of valid Dyck-2 strings of length `len` (Catalan(len/2)·2^(len/2); 0 for odd lengths).
pub fn count_valid(len: usize) -> f64 {
    completions(len)[len][0]
}

/// Chance level: the fraction of uniformly random strings over 4 symbols that are valid.
pub fn chance_validity(len: usize) -> f64 {
    count_valid(len) / (VOCAB as f64).powi(len as i32)
}

/// `n` strings of even length `len`, each uniform over all valid Dyck-2 strings; string i uses
/// `rng::stream(seed, Training, tag | i)`. Returns `[n, len]` tokens.
pub fn generate(n: usize, len: usize, seed: u64, tag: u64) -> Vec<u32> {
    let table = completions(len);
    let mut out = Vec::with_capacity(n * len);
    let mut stack: Vec<u32> = Vec::with_capacity(len);
    for i in 0..n {
        let mut rng = rng::stream(seed, Domain::Training, tag | i as u64);
        stack.clear();
        for pos in 0..len {
            let remaining = len - pos - 1;
            let h = stack.len();
            let open_weight = 2.0 * table[remaining][h + 1];
            let close_weight = if h > 0 { table[remaining][h - 1] } else { 0.0 };
            let u: f64 = rng.random::<f64>() * (open_weight + close_weight);
            if u < open_weight {
                let kind = u32::from(u >= open_weight / 2.0);
                stack.push(kind);
                out.push(2 * kind);
            } else {
                // close_weight > 0 here, so the stack is not empty.
                let kind = stack.pop().unwrap_or(0);
                out.push(2 * kind + 1);
            }
        }
    }
    out
}

/// Analog bits: one-hot over the 4 symbols mapped to ±1, `[n, len, 4]` flattened.
pub fn to_analog_bits(tokens: &[u32]) -> Vec<f32> {
    let mut out = vec![-1.0f32; tokens.len() * VOCAB];
    for (slot, &tok) in out.chunks_exact_mut(VOCAB).zip(tokens) {
        if let Some(v) = slot.get_mut(tok as usize) {
            *v = 1.0;
        }
    }
    out
}

/// Decodes analog bits (`[.., 4]` rows) by argmax per token.
pub fn from_analog_bits(bits: &[f32]) -> Vec<u32> {
    bits.chunks_exact(VOCAB)
        .map(|row| {
            let mut best = 0;
            for (k, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = k;
                }
            }
            best as u32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Brute force over all 4^8 strings of length 8: the counts and the validator agree.
    #[test]
    fn count_matches_brute_force() {
        let len = 8;
        let mut valid = 0usize;
        for code in 0..(1u32 << (2 * len)) {
            let tokens: Vec<u32> = (0..len).map(|p| (code >> (2 * p)) & 3).collect();
            valid += usize::from(is_valid(&tokens));
        }
        // Catalan(4) · 2^4 = 14 · 16.
        assert_eq!(valid, 224);
        assert_eq!(count_valid(len), 224.0);
        assert_eq!(count_valid(16), 1430.0 * 256.0);
        assert!((chance_validity(16) - 1430.0 * 256.0 / 4f64.powi(16)).abs() < 1e-18);
    }

    /// Every generated string is valid and the 224 strings of length 8 are drawn about uniformly:
    /// 22,400 draws give 100 expected per string, Poisson sd 10, so [55, 150] is > 4.5 sd wide.
    #[test]
    fn generator_is_valid_and_uniform() {
        let len = 8;
        let n = 22_400;
        let tokens = generate(n, len, 3, 0);
        let mut counts: HashMap<&[u32], usize> = HashMap::new();
        for s in tokens.chunks_exact(len) {
            assert!(is_valid(s), "{}", to_text(s));
            *counts.entry(s).or_default() += 1;
        }
        assert_eq!(counts.len(), 224);
        assert!(counts.values().all(|&c| (55..=150).contains(&c)));
        assert_eq!(generate(5, 16, 9, 0), generate(5, 16, 9, 0));
    }

    #[test]
    fn analog_bits_round_trip_and_validator_rejects() {
        let tokens = vec![0, 2, 3, 1];
        assert_eq!(from_analog_bits(&to_analog_bits(&tokens)), tokens);
        assert!(is_valid(&[0, 2, 3, 1]));
        assert!(!is_valid(&[0, 3, 2, 1]));
        assert!(!is_valid(&[0, 0]));
        assert!(!is_valid(&[1, 0]));
        assert!(!is_valid(&[0, 7]));
        assert_eq!(validity(&[0, 1, 0, 0], 2), 0.5);
    }
}
