//! The dot products themselves: a few activation rows (f32) against a range of weight rows
//! (f32 or bf16), accumulated in f32.
//!
//! Every output is summed in one fixed order — eight lanes over the input in steps of eight,
//! the lanes folded as `((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))`, then the tail — whatever the
//! row count, the blocking or the thread split, so a row's result never depends on what it
//! was batched with.

use half::bf16;

/// A weight element: f32, or bf16 widened exactly to f32.
pub(crate) trait Elem: Copy + Send + Sync + 'static {
    /// Whether the element is bf16 (the AVX2 kernel loads it differently).
    const BF16: bool;
    fn f32(self) -> f32;
}

impl Elem for f32 {
    const BF16: bool = false;
    fn f32(self) -> f32 {
        self
    }
}

impl Elem for bf16 {
    const BF16: bool = true;
    fn f32(self) -> f32 {
        self.to_f32()
    }
}

/// The problem: `y[j][o] = Σₖ x[j][k]·w[o][k]` for `j < m`, over a weight of `out × inp`.
#[derive(Clone, Copy)]
pub(crate) struct Dims {
    pub m: usize,
    pub out: usize,
    pub inp: usize,
}

/// Computes the outputs `rows` (weight rows) of every activation row into `y` (`m × out`,
/// row-major), with the fastest kernel this CPU runs.
///
/// # Safety
/// `w` holds `out·inp` elements, `x` holds `m·inp`, `y` has room for `m·out`, `rows` lies
/// within `0..out`, and no other thread writes the same outputs meanwhile.
pub(crate) unsafe fn run<E: Elem>(
    w: *const E,
    x: *const f32,
    y: *mut f32,
    d: Dims,
    rows: std::ops::Range<usize>,
) {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        return avx2::run::<E>(w, x, y, d, rows);
    }
    portable::<E>(w, x, y, d, rows)
}

/// Folds eight lanes in the documented order.
fn fold(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// Any CPU: eight accumulators the compiler can keep in a vector register.
unsafe fn portable<E: Elem>(
    w: *const E,
    x: *const f32,
    y: *mut f32,
    d: Dims,
    rows: std::ops::Range<usize>,
) {
    let whole = d.inp / 8 * 8;
    for o in rows {
        let wr = std::slice::from_raw_parts(w.add(o * d.inp), d.inp);
        for j in 0..d.m {
            let xr = std::slice::from_raw_parts(x.add(j * d.inp), d.inp);
            let mut acc = [0f32; 8];
            for (wc, xc) in wr[..whole].chunks_exact(8).zip(xr[..whole].chunks_exact(8)) {
                for l in 0..8 {
                    acc[l] += wc[l].f32() * xc[l];
                }
            }
            let mut s = fold(acc);
            for k in whole..d.inp {
                s += wr[k].f32() * xr[k];
            }
            *y.add(j * d.out + o) = s;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use super::{Dims, Elem};

    /// How far ahead of the rows being read to prefetch, in bytes (tuned on one CPU; 4–32
    /// KiB all did better than none, within the noise of each other).
    const AHEAD_BYTES: usize = 9 << 10;

    pub(super) fn available() -> bool {
        static YES: OnceLock<bool> = OnceLock::new();
        *YES.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }

    /// Eight weights from `p` as f32.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load<E: Elem>(p: *const E) -> __m256 {
        if E::BF16 {
            // bf16 is the top half of an f32: widen and shift.
            let h = _mm_loadu_si128(p.cast());
            _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
        } else {
            _mm256_loadu_ps(p.cast())
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fold(v: __m256) -> f32 {
        // (a0+a4, a1+a5, a2+a6, a3+a7), then ((a0+a4)+(a2+a6), (a1+a5)+(a3+a7)), then the sum.
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
    }

    /// `R` weight rows from `o` against `M` activation rows from `j`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<E: Elem, const R: usize, const M: usize>(
        w: *const E,
        x: *const f32,
        y: *mut f32,
        d: Dims,
        o: usize,
        j: usize,
        ahead: usize,
    ) {
        let whole = d.inp / 8 * 8;
        let mut acc = [[_mm256_setzero_ps(); M]; R];
        let mut k = 0;
        while k < whole {
            let mut xv = [_mm256_setzero_ps(); M];
            for (i, v) in xv.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(x.add((j + i) * d.inp + k));
            }
            for (r, a) in acc.iter_mut().enumerate() {
                let at = (o + r) * d.inp + k;
                // The same place `ahead` rows on: the hardware prefetcher alone leaves the
                // short rows waiting on memory.
                _mm_prefetch::<_MM_HINT_T0>(w.wrapping_add(at + ahead * d.inp).cast());
                let wv = load(w.add(at));
                for (i, v) in a.iter_mut().enumerate() {
                    *v = _mm256_fmadd_ps(wv, xv[i], *v);
                }
            }
            k += 8;
        }
        for (r, a) in acc.iter().enumerate() {
            for (i, v) in a.iter().enumerate() {
                let mut s = fold(*v);
                for k in whole..d.inp {
                    s = (*w.add((o + r) * d.inp + k))
                        .f32()
                        .mul_add(*x.add((j + i) * d.inp + k), s);
                }
                *y.add((j + i) * d.out + o + r) = s;
            }
        }
    }

    /// Weight rows in blocks of `R` (the rest one by one) against activation rows `j..j+M`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sweep<E: Elem, const R: usize, const M: usize>(
        w: *const E,
        x: *const f32,
        y: *mut f32,
        d: Dims,
        rows: std::ops::Range<usize>,
        j: usize,
        ahead: usize,
    ) {
        let mut o = rows.start;
        while o + R <= rows.end {
            block::<E, R, M>(w, x, y, d, o, j, ahead);
            o += R;
        }
        while o < rows.end {
            block::<E, 1, M>(w, x, y, d, o, j, ahead);
            o += 1;
        }
    }

    /// Activation rows in groups of up to four (16 vector registers: `R·M` accumulators,
    /// `M` activations and `R` weights).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run<E: Elem>(
        w: *const E,
        x: *const f32,
        y: *mut f32,
        d: Dims,
        rows: std::ops::Range<usize>,
    ) {
        let ahead = (AHEAD_BYTES / (d.inp * size_of::<E>()).max(1)).max(1);
        let mut j = 0;
        while j < d.m {
            let r = rows.clone();
            match d.m - j {
                1 => sweep::<E, 4, 1>(w, x, y, d, r, j, ahead),
                2 => sweep::<E, 4, 2>(w, x, y, d, r, j, ahead),
                3 => sweep::<E, 2, 3>(w, x, y, d, r, j, ahead),
                _ => sweep::<E, 2, 4>(w, x, y, d, r, j, ahead),
            }
            j += 4;
        }
    }
}
