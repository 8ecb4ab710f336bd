//! Numeric helpers shared by the chain, the engine and the views.

use std::cmp::Ordering;

/// Log-softmax of a logit vector (natural log). NaN entries count as `-inf` and `+inf` as
/// `f32::MAX`; when every entry is NaN or `-inf` the result is all `-inf`.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = max_logit(logits);
    if max == f32::NEG_INFINITY {
        return vec![f32::NEG_INFINITY; logits.len()];
    }
    let sum: f64 = logits
        .iter()
        .filter(|l| !l.is_nan())
        .map(|&l| ((l.min(f32::MAX) - max) as f64).exp())
        .sum();
    let lse = max as f64 + sum.ln();
    logits
        .iter()
        .map(|&l| {
            if l.is_nan() {
                f32::NEG_INFINITY
            } else {
                (l.min(f32::MAX) as f64 - lse) as f32
            }
        })
        .collect()
}

/// Entropy (nats) of the softmax of `logits`, with [`log_softmax`]'s treatment of NaN and
/// infinities; a vector with no usable entry has entropy 0.
pub fn entropy(logits: &[f32]) -> f32 {
    let max = max_logit(logits);
    if max == f32::NEG_INFINITY {
        return 0.0;
    }
    let (mut z, mut s) = (0.0f64, 0.0f64);
    for &l in logits.iter().filter(|l| !l.is_nan()) {
        let x = (l.min(f32::MAX) - max) as f64;
        let e = x.exp();
        z += e;
        if e > 0.0 {
            s += e * x;
        }
    }
    (z.ln() - s / z) as f32
}

/// Dot product in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (na, nb) = (dot(a, a).sqrt(), dot(b, b).sqrt());
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot(a, b) / (na * nb)
    }
}

/// The `n` largest values as `(index, value)`, best first (ties: smaller index first), by
/// partial selection ([`best_of`]). NaN entries are never returned.
pub fn top_n(values: &[f32], n: usize) -> Vec<(u32, f32)> {
    let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if n == 0 {
        return Vec::new();
    }
    let mut buf = Vec::with_capacity(4 * n);
    // Values below the running n-th best never enter; a plain float test skips them and NaN.
    let mut floor = f32::NEG_INFINITY;
    for (i, &v) in values.iter().enumerate() {
        if v >= floor {
            buf.push((i as u32, v));
            if buf.len() == 4 * n {
                keep_best(&mut buf, n, cmp);
                floor = buf[n - 1].1;
            }
        }
    }
    keep_best(&mut buf, n, cmp);
    buf.sort_unstable_by(cmp);
    buf
}

/// The `m` smallest items under `cmp` (a strict total order), sorted, in one pass: a buffer of
/// at most `4m` items better than the running m-th best, compacted with
/// `select_nth_unstable_by`. About one comparison per item for random input.
pub fn best_of<T: Copy>(
    items: impl Iterator<Item = T>,
    m: usize,
    mut cmp: impl FnMut(&T, &T) -> Ordering,
) -> Vec<T> {
    if m == 0 {
        return Vec::new();
    }
    let mut buf: Vec<T> = Vec::with_capacity(4 * m);
    let mut worst: Option<T> = None;
    for x in items {
        if worst.is_some_and(|w| cmp(&x, &w).is_ge()) {
            continue;
        }
        buf.push(x);
        if buf.len() == 4 * m {
            keep_best(&mut buf, m, &mut cmp);
            worst = Some(buf[m - 1]);
        }
    }
    keep_best(&mut buf, m, &mut cmp);
    buf.sort_unstable_by(cmp);
    buf
}

/// Truncates `buf` to its `m` smallest items, the m-th smallest last.
fn keep_best<T>(buf: &mut Vec<T>, m: usize, cmp: impl FnMut(&T, &T) -> Ordering) {
    if buf.len() > m {
        buf.select_nth_unstable_by(m - 1, cmp);
        buf.truncate(m);
    }
}

/// Moves the `m` smallest items of `v` under `cmp` (a strict total order) to the front, sorted;
/// the rest stay behind in unspecified order. For small `m`: [`best_of`] then one partition
/// pass; otherwise `select_nth_unstable_by`. Never a full sort of `v`.
pub fn select_front<T: Copy>(v: &mut [T], m: usize, mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let m = m.min(v.len());
    if m == 0 {
        return;
    }
    if m < v.len() {
        if m * 16 <= v.len() {
            let kth = best_of(v.iter().copied(), m, &mut cmp)[m - 1];
            let mut w = 0;
            for r in 0..v.len() {
                if cmp(&v[r], &kth).is_le() {
                    v.swap(w, r);
                    w += 1;
                }
            }
        } else {
            v.select_nth_unstable_by(m - 1, &mut cmp);
        }
    }
    v[..m].sort_unstable_by(cmp);
}

/// Sorts a growing prefix of `v` (after the `from` items already in place) by `cmp`, 64 then 4x
/// more items at a time, until `done(prefix)` holds or all of `v` is sorted. Returns the length
/// of the sorted prefix.
pub(crate) fn sort_prefix_until<T: Copy>(
    v: &mut [T],
    from: usize,
    mut cmp: impl FnMut(&T, &T) -> Ordering,
    mut done: impl FnMut(&[T]) -> bool,
) -> usize {
    let mut sorted = from.min(v.len());
    if sorted > 0 && done(&v[..sorted]) {
        return sorted;
    }
    let mut m = sorted.max(16) * 4;
    loop {
        let m_eff = m.min(v.len());
        if m_eff > sorted {
            select_front(&mut v[sorted..], m_eff - sorted, &mut cmp);
            sorted = m_eff;
        }
        if done(&v[..sorted]) || sorted == v.len() {
            return sorted;
        }
        m *= 4;
    }
}

/// `e^x` for `x <= 0` in f32 (0 below -87.3), branch-free so loops over it vectorize.
///
/// Cephes' `expf`: `x = k ln2 + r` with `|r| <= ln2/2` (Cody-Waite split of ln2), a degree-6
/// polynomial for `e^r`, and `2^k` built in the exponent bits. Relative error about 1 ulp
/// (checked against f64 in the tests), the same order as libm's or PyTorch's.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    const MIN: f32 = -87.336_54;
    let xc = x.max(MIN);
    // Round to nearest with the 1.5 * 2^23 trick (no libm call, SSE2-friendly).
    let k = (xc * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    let r = xc - k * 0.693_359_4 - k * -2.121_944_4e-4;
    let mut y = 1.987_569_1e-4;
    y = y * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 0.5;
    y = y * r * r + r + 1.0;
    let scale = f32::from_bits(((k as i32 + 127) as u32) << 23);
    if x < MIN {
        0.0
    } else {
        y * scale
    }
}

/// Largest non-NaN logit, `+inf` read as `f32::MAX`; `-inf` when there is none.
fn max_logit(logits: &[f32]) -> f32 {
    logits
        .iter()
        .filter(|l| !l.is_nan())
        .fold(f32::NEG_INFINITY, |a, &b| a.max(b.min(f32::MAX)))
}

/// The median of `values` (the upper one of an even count; 0 when empty), for timings.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpositive_is_within_two_ulp_of_f64() {
        let mut x = 0.0f32;
        while x > -87.0 {
            let want = (x as f64).exp();
            let got = exp_nonpositive(x) as f64;
            assert!(
                ((got - want) / want).abs() < 2.5e-7,
                "x={x} got={got} want={want}"
            );
            x -= 0.000_731;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-100.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn best_of_and_select_front_match_a_full_sort() {
        let v: Vec<(u32, f32)> = (0..5000u32)
            .map(|i| (i, ((i * 7919) % 1013) as f32))
            .collect();
        let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let mut sorted = v.clone();
        sorted.sort_by(cmp);
        for m in [0, 1, 7, 64, 300, 4999, 5000, 6000] {
            let want = &sorted[..m.min(5000)];
            assert_eq!(best_of(v.iter().copied(), m, cmp), want);
            let mut w = v.clone();
            select_front(&mut w, m, cmp);
            assert_eq!(&w[..m.min(5000)], want);
        }
    }
}
