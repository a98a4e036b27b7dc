//! Fast exact Gaussian noise for one row: LANES interleaved xoshiro256++ generators stepped in lock-step
//! (in AVX2 registers when the CPU has them, bit-identical to the portable path) feeding a 256-layer
//! ziggurat on the two 32-bit halves of each word. A row's noise depends only on the key it was seeded
//! with (`rng::stream`), never on the thread, the batch or the CPU.

use crate::rng::{self, Domain};
use rand::RngCore;
use std::sync::OnceLock;

/// Independent xoshiro256++ generators per row; their outputs are interleaved lane by lane.
const LANES: usize = 8;

/// The Gaussian noise source of one row (or one data sample). 288 bytes.
#[derive(Clone, Debug)]
pub struct NoiseStream {
    // Structure of arrays: state word w of lane l is s[w][l].
    s: [[u64; LANES]; 4],
    /// A separate generator for the ziggurat's rare slow path, so that the vector path can keep the
    /// lanes in registers and still draw exactly what the portable path draws.
    tail: Xoshiro,
}

/// One scalar xoshiro256++ generator.
#[derive(Clone, Debug)]
struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.0;
        let out = s0.wrapping_add(*s3).rotate_left(23).wrapping_add(*s0);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        out
    }

    /// A uniform in (0, 1).
    fn uniform_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// A xoshiro state from the key stream; never the all-zero fixed point.
fn seed_state(key: &mut impl RngCore) -> [u64; 4] {
    let mut state = [0u64; 4];
    state.iter_mut().for_each(|w| *w = key.next_u64());
    // A splitmix-seeded key never produces four zero words in practice; guard anyway.
    if state == [0; 4] {
        state[0] = 0x9E37_79B9_7F4A_7C15;
    }
    state
}

impl NoiseStream {
    /// The stream keyed by (seed, domain, index), seeded from [`rng::stream`].
    pub fn new(seed: u64, domain: Domain, index: u64) -> Self {
        let mut key = rng::stream(seed, domain, index);
        let mut s = [[0u64; LANES]; 4];
        for lane in 0..LANES {
            let state = seed_state(&mut key);
            for (word, value) in s.iter_mut().zip(state) {
                word[lane] = value;
            }
        }
        let tail = Xoshiro(seed_state(&mut key));
        NoiseStream { s, tail }
    }

    /// One lock-step xoshiro256++ step of every lane.
    #[inline(always)]
    fn next_block(&mut self) -> [u64; LANES] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u64; LANES];
        for l in 0..LANES {
            out[l] = s0[l]
                .wrapping_add(s3[l])
                .rotate_left(23)
                .wrapping_add(s0[l]);
            let t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = s3[l].rotate_left(45);
        }
        out
    }

    /// Fills `out` with independent N(0, 1) draws.
    pub fn fill_normal(&mut self, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { self.fill_normal_avx2(out) };
            return;
        }
        self.fill_normal_portable(out);
    }

    /// The portable version; bit-identical to the AVX2 one. Element j of a block of 16 comes from
    /// half j % 2 of the word of lane j / 2.
    fn fill_normal_portable(&mut self, out: &mut [f32]) {
        let tables = Ziggurat::get();
        for block in out.chunks_mut(2 * LANES) {
            let words = self.next_block();
            let half = |j: usize| (words[j / 2] >> (32 * (j % 2))) as u32;
            // Branch-free fast path over the block; rejected entries (≈ 1.5 %) are then finished, in
            // order, by the exact slow path from their own word.
            let mut rejected = 0u32;
            for (j, v) in block.iter_mut().enumerate() {
                rejected |= u32::from(tables.fast(half(j), v)) << j;
            }
            while rejected != 0 {
                let j = rejected.trailing_zeros() as usize;
                rejected &= rejected - 1;
                block[j] = tables.slow(half(j), &mut self.tail);
            }
        }
    }

    /// The same draws with AVX2: the eight xoshiro lanes live in registers (two vectors per state word)
    /// and the fast path handles eight halves at a time with gathers from the layer tables.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn fill_normal_avx2(&mut self, out: &mut [f32]) {
        use std::arch::x86_64::*;
        let tables = Ziggurat::get();
        let (k, w) = (tables.k.as_ptr() as *const i32, tables.w.as_ptr());
        let low_bits = _mm256_set1_epi32(LAYERS as i32 - 1);
        let sign_flag = _mm256_set1_epi32(LAYERS as i32);
        let nan = _mm256_set1_ps(f32::NAN);
        #[inline(always)]
        fn rotl(x: __m256i, shl: i32, shr: i32) -> __m256i {
            // SAFETY: only reached from the AVX2 function below.
            unsafe {
                _mm256_or_si256(
                    _mm256_sll_epi64(x, _mm_cvtsi32_si128(shl)),
                    _mm256_srl_epi64(x, _mm_cvtsi32_si128(shr)),
                )
            }
        }
        // SAFETY: AVX2 is enabled for this function; all loads and stores are unaligned ones within
        // `self.s` (4 × 8 u64), `block` (16 values when full) or the local arrays; gather indices are
        // masked to 0..LAYERS and the tables have LAYERS entries.
        unsafe {
            let mut s = self.s.map(|word| {
                [
                    _mm256_loadu_si256(word.as_ptr() as *const __m256i),
                    _mm256_loadu_si256(word.as_ptr().add(4) as *const __m256i),
                ]
            });
            let mut values = [0f32; 2 * LANES];
            let mut halves = [0u32; 2 * LANES];
            for block in out.chunks_mut(2 * LANES) {
                let mut words = [_mm256_setzero_si256(); 2];
                let mut rejected = 0u32;
                let full = block.len() == 2 * LANES;
                for v in 0..2 {
                    let [s0, s1, s2, s3] = [s[0][v], s[1][v], s[2][v], s[3][v]];
                    let word = _mm256_add_epi64(rotl(_mm256_add_epi64(s0, s3), 23, 41), s0);
                    let t = _mm256_slli_epi64(s1, 17);
                    let s2 = _mm256_xor_si256(s2, s0);
                    let s3 = _mm256_xor_si256(s3, s1);
                    let s1 = _mm256_xor_si256(s1, s2);
                    let s0 = _mm256_xor_si256(s0, s3);
                    let s2 = _mm256_xor_si256(s2, t);
                    let s3 = rotl(s3, 45, 19);
                    [s[0][v], s[1][v], s[2][v], s[3][v]] = [s0, s1, s2, s3];
                    words[v] = word;
                    let layer = _mm256_and_si256(word, low_bits);
                    let sign = _mm256_slli_epi32(_mm256_and_si256(word, sign_flag), 23);
                    let uniform = _mm256_srli_epi32(word, 9);
                    let limit = _mm256_i32gather_epi32(k, layer, 4);
                    let width = _mm256_i32gather_ps(w, layer, 4);
                    let magnitude = _mm256_mul_ps(_mm256_cvtepi32_ps(uniform), width);
                    let value =
                        _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(magnitude), sign));
                    let accept = _mm256_castsi256_ps(_mm256_cmpgt_epi32(limit, uniform));
                    rejected |= ((!_mm256_movemask_ps(accept) & 0xff) as u32) << (8 * v);
                    let result = _mm256_blendv_ps(nan, value, accept);
                    let dest = if full {
                        block.as_mut_ptr()
                    } else {
                        values.as_mut_ptr()
                    };
                    _mm256_storeu_ps(dest.add(8 * v), result);
                }
                if !full {
                    let len = block.len();
                    block.copy_from_slice(&values[..len]);
                    rejected &= (1u32 << len) - 1;
                }
                if rejected != 0 {
                    _mm256_storeu_si256(halves.as_mut_ptr() as *mut __m256i, words[0]);
                    _mm256_storeu_si256(halves.as_mut_ptr().add(8) as *mut __m256i, words[1]);
                    while rejected != 0 {
                        let j = rejected.trailing_zeros() as usize;
                        rejected &= rejected - 1;
                        block[j] = tables.slow(halves[j], &mut self.tail);
                    }
                }
            }
            for (word, pair) in self.s.iter_mut().zip(&s) {
                _mm256_storeu_si256(word.as_mut_ptr() as *mut __m256i, pair[0]);
                _mm256_storeu_si256(word.as_mut_ptr().add(4) as *mut __m256i, pair[1]);
            }
        }
    }
}

/// Marsaglia–Tsang ziggurat tables (256 layers) on a 23-bit uniform; layer and sign take the other 9
/// bits of the 32-bit word, so no bit is used twice.
struct Ziggurat {
    /// Accept the fast path when the 24-bit uniform is below `k[i]`.
    k: [u32; LAYERS],
    /// x = uniform · w[i].
    w: [f32; LAYERS],
    /// Layer edges x_i (x_0 = 0 at the apex, x_255 = TAIL_START).
    x: [f64; LAYERS],
    /// Density at the layer edges, f[i] = exp(-x_i²/2).
    f: [f64; LAYERS],
}

const LAYERS: usize = 256;
const TAIL_START: f64 = 3.654_152_885_361_009;
const LAYER_AREA: f64 = 4.928_673_233_99e-3;
const UNIFORM_SCALE: f64 = (1u32 << 23) as f64;

impl Ziggurat {
    fn get() -> &'static Ziggurat {
        static TABLES: OnceLock<Ziggurat> = OnceLock::new();
        TABLES.get_or_init(Ziggurat::build)
    }

    fn build() -> Ziggurat {
        let (mut k, mut w) = ([0u32; LAYERS], [0f32; LAYERS]);
        let (mut x, mut f) = ([0f64; LAYERS], [0f64; LAYERS]);
        let mut dn = TAIL_START;
        let mut tn = dn;
        let q = LAYER_AREA / (-0.5 * dn * dn).exp();
        k[0] = ((dn / q) * UNIFORM_SCALE) as u32;
        k[1] = 0;
        w[0] = (q / UNIFORM_SCALE) as f32;
        w[LAYERS - 1] = (dn / UNIFORM_SCALE) as f32;
        f[0] = 1.0;
        f[LAYERS - 1] = (-0.5 * dn * dn).exp();
        x[LAYERS - 1] = dn;
        for i in (1..=LAYERS - 2).rev() {
            dn = (-2.0 * (LAYER_AREA / dn + (-0.5 * dn * dn).exp()).ln()).sqrt();
            k[i + 1] = ((dn / tn) * UNIFORM_SCALE) as u32;
            tn = dn;
            f[i] = (-0.5 * dn * dn).exp();
            x[i] = dn;
            w[i] = (dn / UNIFORM_SCALE) as f32;
        }
        Ziggurat { k, w, x, f }
    }

    /// The fast path: writes the draw, or NaN and returns true when the slow path is needed.
    #[inline(always)]
    fn fast(&self, word: u32, out: &mut f32) -> bool {
        let layer = (word as usize) & (LAYERS - 1);
        let sign_bit = (word & 256) << 23;
        let uniform = word >> 9;
        let magnitude = (uniform as i32) as f32 * self.w[layer];
        let reject = uniform >= self.k[layer];
        // Branch-free: the sign is random, so a branch on it would mispredict half the time.
        let reject_mask = 0u32.wrapping_sub(u32::from(reject));
        let bits =
            ((magnitude.to_bits() ^ sign_bit) & !reject_mask) | (f32::NAN.to_bits() & reject_mask);
        *out = f32::from_bits(bits);
        reject
    }

    /// The wedge test of layer ≥ 1: accept (x, y) when y < exp(-x²/2), with y = f_i + u (f_{i-1} − f_i)
    /// uniform between the layer's edge densities.
    fn wedge_accept(&self, layer: usize, x: f64, u: f64) -> bool {
        let y = self.f[layer] + u * (self.f[layer - 1] - self.f[layer]);
        // The chord between the layer's corners lies below the density where it is concave (x ≤ 1)
        // and above it where it is convex (x ≥ 1), which settles most wedge points without exp.
        let (inner, outer) = (self.x[layer - 1], self.x[layer]);
        let below_chord = u * (outer - inner) < outer - x;
        if outer <= 1.0 && below_chord {
            true
        } else if inner >= 1.0 && !below_chord {
            false
        } else {
            y < (-0.5 * x * x).exp()
        }
    }

    /// The exact slow path for a word the fast path rejected (wedges and the tail), retrying with
    /// fresh words from the stream.
    fn slow(&self, mut word: u32, stream: &mut Xoshiro) -> f32 {
        loop {
            let layer = (word as usize) & (LAYERS - 1);
            let sign: f64 = if word & 256 != 0 { -1.0 } else { 1.0 };
            let uniform = word >> 9;
            if uniform < self.k[layer] {
                return sign as f32 * uniform as f32 * self.w[layer];
            }
            if layer == 0 {
                // Tail beyond TAIL_START (Marsaglia 1964).
                loop {
                    let x = -stream.uniform_open().ln() / TAIL_START;
                    let y = -stream.uniform_open().ln();
                    if y + y >= x * x {
                        return (sign * (TAIL_START + x)) as f32;
                    }
                }
            }
            let x = f64::from(uniform) * f64::from(self.w[layer]);
            let accept = self.wedge_accept(layer, x, stream.uniform_open());
            if accept {
                return (sign * x) as f32;
            }
            word = stream.next_u32();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(n: usize, index: u64) -> Vec<f32> {
        let mut out = vec![0f32; n];
        NoiseStream::new(11, Domain::ReverseNoise, index).fill_normal(&mut out);
        out
    }

    #[test]
    fn moments_and_quantiles_match_the_standard_normal() {
        let n = 2_000_000;
        // Odd lengths exercise the partial last block.
        let x: Vec<f32> = (0..n / 1001).flat_map(|i| draws(1001, i as u64)).collect();
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let m4 = x.iter().map(|&v| (v as f64).powi(4)).sum::<f64>() / n;
        // Standard errors: mean 1/sqrt(n), variance sqrt(2/n), fourth moment sqrt(96/n); 5 s.e. bounds.
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "var {var}");
        assert!((m4 - 3.0).abs() < 5.0 * (96.0 / n).sqrt(), "m4 {m4}");
        // CDF at points inside layers, at the wedge region and in the tail (beyond 3.4426).
        for (z, cdf) in [
            (-2.0, 0.022_750_131_948_179),
            (0.5, 0.691_462_461_274_013),
            (1.0, 0.841_344_746_068_543),
            (3.0, 0.998_650_101_968_370),
            (3.7, 0.999_892_200_266_782),
        ] {
            let p = x.iter().filter(|&&v| (v as f64) < z).count() as f64 / n;
            let se = (cdf * (1.0 - cdf) / n).sqrt();
            assert!(
                (p - cdf).abs() < 5.0 * se,
                "P(x < {z}) = {p}, expected {cdf}"
            );
        }
    }

    #[test]
    fn chord_shortcut_agrees_with_the_exact_wedge_test() {
        let tables = Ziggurat::get();
        let mut rng = Xoshiro(seed_state(&mut rng::stream(1, Domain::Analysis, 0)));
        let mut shortcuts = 0;
        for layer in 1..LAYERS {
            let (inner, outer) = (tables.x[layer - 1], tables.x[layer]);
            for _ in 0..2000 {
                // Candidates slightly beyond both edges too (the rectangle test floors k).
                let x = inner + (rng.uniform_open() * 1.02 - 0.01) * (outer - inner);
                let u = rng.uniform_open();
                let y = tables.f[layer] + u * (tables.f[layer - 1] - tables.f[layer]);
                let exact = y < (-0.5 * x * x).exp();
                assert_eq!(
                    tables.wedge_accept(layer, x, u),
                    exact,
                    "layer {layer}, x {x}, u {u}"
                );
                let below_chord = u * (outer - inner) < outer - x;
                shortcuts +=
                    usize::from((outer <= 1.0 && below_chord) || (inner >= 1.0 && !below_chord));
            }
        }
        // Half of each wedge box lies on the decided side of the chord (a triangle), except in the one
        // layer that straddles x = 1: the shortcut spares about half of the exp calls.
        assert!(shortcuts * 10 > 255 * 2000 * 4, "{shortcuts}");
    }

    #[test]
    fn vector_and_portable_paths_are_bit_identical() {
        let mut vector = NoiseStream::new(3, Domain::ForwardNoise, 9);
        let mut portable = vector.clone();
        for len in [1, 15, 16, 17, 256, 1001] {
            let (mut a, mut b) = (vec![0f32; len], vec![0f32; len]);
            for _ in 0..50 {
                vector.fill_normal(&mut a);
                portable.fill_normal_portable(&mut b);
                assert_eq!(a, b, "row length {len}");
            }
        }
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        assert_eq!(draws(300, 5), draws(300, 5));
        assert_ne!(draws(300, 5), draws(300, 6));
        assert!(draws(300, 5).iter().all(|v| v.is_finite()));
    }
}
