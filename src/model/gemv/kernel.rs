//! The dot products themselves: a few activation rows (f32) against a range of weight rows
//! (f32 or bf16), accumulated in f32.
//!
//! Each weight row is read once, front to back, while it is dotted with every activation row
//! (after the first pass it is in the L1 cache). One sequential stream per thread is what the
//! hardware prefetchers follow best: on the CPU this was written on it reads weights ~1.4×
//! faster than four rows interleaved with software prefetch.
//!
//! Every output is summed in one fixed order, whatever the row count or the thread split,
//! so a row's result never depends on what it was batched with: the input in stripes of 32,
//! element `k` of a stripe going to accumulator `k / 8`, lane `k % 8`; the four accumulators
//! added as `(a0+a1)+(a2+a3)`; its lanes folded as `((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))`;
//! then the tail past the last whole stripe, in order.

use half::bf16;

/// A weight element, widened exactly to f32: f32, bf16 or int8 (a per-row scale applied to
/// the sum).
pub(crate) trait Weight: Copy + Send + Sync + 'static {
    /// How the AVX2 kernel loads eight of them.
    const FORMAT: Format;
    fn to_f32(self) -> f32;
}

/// The storage formats of [`Weight`].
#[derive(PartialEq, Eq)]
pub(crate) enum Format {
    F32,
    Bf16,
    I8,
}

impl Weight for f32 {
    const FORMAT: Format = Format::F32;
    fn to_f32(self) -> f32 {
        self
    }
}

impl Weight for bf16 {
    const FORMAT: Format = Format::Bf16;
    fn to_f32(self) -> f32 {
        crate::model::elem::Elem::to_f32(self)
    }
}

impl Weight for i8 {
    const FORMAT: Format = Format::I8;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}

/// Elements per stripe: four accumulators of eight lanes.
const STRIPE: usize = 32;

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
/// Each sum is multiplied by its weight row's scale when `scales` is not null.
///
/// # Safety
/// `w` holds `out·inp` elements, `x` holds `m·inp`, `y` has room for `m·out`, `scales` is
/// null or holds `out`, `rows` lies within `0..out`, and no other thread writes the same
/// outputs meanwhile.
pub(crate) unsafe fn run<E: Weight>(
    w: *const E,
    x: *const f32,
    y: *mut f32,
    d: Dims,
    rows: std::ops::Range<usize>,
    scales: *const f32,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::model::elem::avx2_fma() {
        return avx2::run::<E>(w, x, y, d, rows, scales);
    }
    portable::<E>(w, x, y, d, rows, scales)
}

/// `s` times row `o`'s scale, when there are scales (null: none).
///
/// # Safety
/// `scales` is null or holds at least `o + 1` values.
#[inline(always)]
unsafe fn scaled(s: f32, scales: *const f32, o: usize) -> f32 {
    if scales.is_null() {
        s
    } else {
        s * *scales.add(o)
    }
}

/// Folds eight lanes in the documented order.
fn fold(l: [f32; 8]) -> f32 {
    ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}

/// Any CPU: the same order in plain loops the compiler can vectorise.
unsafe fn portable<E: Weight>(
    w: *const E,
    x: *const f32,
    y: *mut f32,
    d: Dims,
    rows: std::ops::Range<usize>,
    scales: *const f32,
) {
    let whole = d.inp / STRIPE * STRIPE;
    for o in rows {
        let wr = std::slice::from_raw_parts(w.add(o * d.inp), d.inp);
        for j in 0..d.m {
            let xr = std::slice::from_raw_parts(x.add(j * d.inp), d.inp);
            let mut acc = [[0f32; 8]; 4];
            let stripes = wr[..whole].chunks_exact(8).zip(xr[..whole].chunks_exact(8));
            for (c, (wc, xc)) in stripes.enumerate() {
                let a = &mut acc[c % 4];
                for l in 0..8 {
                    a[l] += wc[l].to_f32() * xc[l];
                }
            }
            let lanes = std::array::from_fn(|l| (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]));
            let mut s = fold(lanes);
            for k in whole..d.inp {
                s += wr[k].to_f32() * xr[k];
            }
            *y.add(j * d.out + o) = scaled(s, scales, o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Dims, Format, Weight, STRIPE};

    /// Eight weights from `p` as f32.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load<E: Weight>(p: *const E) -> __m256 {
        match E::FORMAT {
            Format::F32 => _mm256_loadu_ps(p.cast()),
            // bf16 is the top half of an f32: widen and shift.
            Format::Bf16 => {
                let h = _mm_loadu_si128(p.cast());
                _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
            }
            Format::I8 => {
                let b = _mm_loadl_epi64(p.cast());
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b))
            }
        }
    }

    /// The accumulators added and their lanes folded, in the documented order.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fold(a: [__m256; 4]) -> f32 {
        let v = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
        // (l0+l4, l1+l5, l2+l6, l3+l7), then ((l0+l4)+(l2+l6), (l1+l5)+(l3+l7)), then the sum.
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
    }

    /// Weight row `o` against activation rows `j..j+M` (`4·M` accumulators, four weight
    /// vectors: at most 12 of the 16 vector registers).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row<E: Weight, const M: usize>(
        w: *const E,
        x: *const f32,
        y: *mut f32,
        d: Dims,
        o: usize,
        j: usize,
        scales: *const f32,
    ) {
        let whole = d.inp / STRIPE * STRIPE;
        let wr = w.add(o * d.inp);
        let mut acc = [[_mm256_setzero_ps(); 4]; M];
        let mut k = 0;
        while k < whole {
            let wv: [__m256; 4] = std::array::from_fn(|c| load(wr.add(k + 8 * c)));
            for (i, a) in acc.iter_mut().enumerate() {
                let xr = x.add((j + i) * d.inp + k);
                for (c, a) in a.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(wv[c], _mm256_loadu_ps(xr.add(8 * c)), *a);
                }
            }
            k += STRIPE;
        }
        for (i, a) in acc.iter().enumerate() {
            let mut s = fold(*a);
            for k in whole..d.inp {
                s = (*wr.add(k))
                    .to_f32()
                    .mul_add(*x.add((j + i) * d.inp + k), s);
            }
            *y.add((j + i) * d.out + o) = super::scaled(s, scales, o);
        }
    }

    /// Every weight row of `rows` in turn, against the activation rows two at a time.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run<E: Weight>(
        w: *const E,
        x: *const f32,
        y: *mut f32,
        d: Dims,
        rows: std::ops::Range<usize>,
        scales: *const f32,
    ) {
        for o in rows {
            let mut j = 0;
            while j + 2 <= d.m {
                row::<E, 2>(w, x, y, d, o, j, scales);
                j += 2;
            }
            if j < d.m {
                row::<E, 1>(w, x, y, d, o, j, scales);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain-loop kernel (what CPUs without AVX2 run): right, and the same for a row
    /// alone as in a batch.
    #[test]
    fn the_portable_kernel_is_right_and_batch_invariant() {
        let (m, out, inp) = (3, 5, 75);
        let w: Vec<f32> = (0..out * inp)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let x: Vec<f32> = (0..m * inp)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 30.0)
            .collect();
        let mut y = vec![0f32; m * out];
        let d = Dims { m, out, inp };
        // SAFETY: the buffers are sized as `d` says.
        unsafe {
            portable::<f32>(
                w.as_ptr(),
                x.as_ptr(),
                y.as_mut_ptr(),
                d,
                0..out,
                std::ptr::null(),
            )
        };
        for j in 0..m {
            let mut one = vec![0f32; out];
            let d1 = Dims { m: 1, out, inp };
            // SAFETY: as above, for one activation row.
            unsafe {
                portable::<f32>(
                    w.as_ptr(),
                    x[j * inp..].as_ptr(),
                    one.as_mut_ptr(),
                    d1,
                    0..out,
                    std::ptr::null(),
                )
            };
            for o in 0..out {
                let want: f64 = (0..inp)
                    .map(|k| w[o * inp + k] as f64 * x[j * inp + k] as f64)
                    .sum();
                assert!((y[j * out + o] as f64 - want).abs() < 1e-4, "{j} {o}");
                assert_eq!(one[o].to_bits(), y[j * out + o].to_bits(), "{j} {o}");
            }
        }
    }
}
