//! Numeric helpers shared by the chain, the engine and the views.

use std::cmp::Ordering;

/// What one softmax pass found: the log-normalizer, the entropy and the factor that turns
/// the exponentials [`softmax_pass`] stored into probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxStats {
    /// `ln Σ e^l` (log-sum-exp): `ln p = l - log_z`.
    pub log_z: f64,
    /// Entropy of the distribution, nats.
    pub entropy: f64,
    /// `1 / Σ e^(l - max)`: multiply a stored exponential by it to get its probability.
    pub scale: f32,
}

/// The crate's one softmax. Reads each item's logit (NaN counts as `-inf`, `+inf` as
/// `f32::MAX`), hands `e^(l - max)` to `store` and returns the statistics, or `None` when no
/// item is usable (all NaN or `-inf`).
///
/// The exponentials go through a 64-wide buffer so the loop vectorizes ([`exp_nonpositive`]);
/// sums run in eight f32 lanes per chunk and f64 across chunks. With `x = l - max` and
/// `e = e^x`, the entropy is `ln Σe - Σ(e·x) / Σe`, accumulated in the same pass.
#[inline]
pub fn softmax_pass<T>(
    items: &mut [T],
    logit: impl Fn(&T) -> f32,
    mut store: impl FnMut(&mut T, f32),
) -> Option<SoftmaxStats> {
    let clean = |l: f32| match l {
        _ if l.is_nan() => f32::NEG_INFINITY,
        f32::INFINITY => f32::MAX,
        _ => l,
    };
    let max = items
        .iter()
        .map(|x| clean(logit(x)))
        .fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return None;
    }
    let (mut sum, mut ex_sum) = (0.0f64, 0.0f64);
    let mut buf = [0.0f32; 64];
    for chunk in items.chunks_mut(64) {
        let buf = &mut buf[..chunk.len()];
        for (b, x) in buf.iter_mut().zip(chunk.iter()) {
            *b = clean(logit(x)) - max;
        }
        let (mut lanes, mut ex_lanes) = ([0.0f32; 8], [0.0f32; 8]);
        for (j, b) in buf.iter_mut().enumerate() {
            // Far below the max e is 0; clamping x keeps 0 * x at 0.
            let x = b.max(-88.0);
            let e = exp_nonpositive(*b);
            lanes[j % 8] += e;
            ex_lanes[j % 8] += e * x;
            *b = e;
        }
        sum += lanes.iter().map(|&l| l as f64).sum::<f64>();
        ex_sum += ex_lanes.iter().map(|&l| l as f64).sum::<f64>();
        for (x, &e) in chunk.iter_mut().zip(buf.iter()) {
            store(x, e);
        }
    }
    Some(SoftmaxStats {
        log_z: max as f64 + sum.ln(),
        entropy: (sum.ln() - ex_sum / sum).max(0.0),
        scale: (1.0 / sum) as f32,
    })
}

/// Log-softmax of a logit vector (natural log), by [`softmax_pass`]; when every entry is NaN
/// or `-inf` the result is all `-inf`.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let mut out = logits.to_vec();
    let Some(stats) = softmax_pass(&mut out, |&l| l, |_, _| {}) else {
        return vec![f32::NEG_INFINITY; logits.len()];
    };
    for l in out.iter_mut() {
        *l = if l.is_nan() {
            f32::NEG_INFINITY
        } else {
            (l.min(f32::MAX) as f64 - stats.log_z) as f32
        };
    }
    out
}

/// Probabilities of `logits / t` (`t > 0`), by [`softmax_pass`]; all 0 when no entry is
/// usable.
pub fn softmax_tempered(logits: &[f32], t: f32) -> Vec<f32> {
    let mut p: Vec<f32> = logits.iter().map(|&l| l / t).collect();
    match softmax_pass(&mut p, |&l| l, |x, e| *x = e) {
        Some(stats) => p.iter_mut().for_each(|x| *x *= stats.scale),
        None => p.fill(0.0),
    }
    p
}

/// Entropy (nats) of the softmax of `logits`, by [`softmax_pass`]; a vector with no usable
/// entry has entropy 0.
pub fn entropy(logits: &[f32]) -> f32 {
    let mut v = logits.to_vec();
    softmax_pass(&mut v, |&l| l, |_, _| {}).map_or(0.0, |s| s.entropy as f32)
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
