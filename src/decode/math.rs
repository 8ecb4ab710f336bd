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
    let max = items
        .iter()
        .map(|x| usable(logit(x)))
        .fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return None;
    }
    let (mut sum, mut ex_sum) = (0.0f64, 0.0f64);
    let mut buf = [0.0f32; 64];
    for chunk in items.chunks_mut(64) {
        let buf = &mut buf[..chunk.len()];
        for (b, x) in buf.iter_mut().zip(chunk.iter()) {
            *b = usable(logit(x)) - max;
        }
        let (mut lanes, mut ex_lanes) = ([0.0f32; 8], [0.0f32; 8]);
        // Element j of each group of eight adds into lane j (the order the sums keep).
        for group in buf.chunks_mut(8) {
            for ((b, lane), ex_lane) in group.iter_mut().zip(&mut lanes).zip(&mut ex_lanes) {
                // Far below the max e is 0; clamping x keeps 0 * x at 0.
                let x = b.max(-88.0);
                let e = exp_nonpositive(*b);
                *lane += e;
                *ex_lane += e * x;
                *b = e;
            }
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

/// A logit as [`softmax_pass`] reads it: NaN is `-inf`, `+inf` is `f32::MAX`.
#[inline(always)]
fn usable(l: f32) -> f32 {
    match l {
        _ if l.is_nan() => f32::NEG_INFINITY,
        f32::INFINITY => f32::MAX,
        _ => l,
    }
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

/// One logit vector's softmax at several temperatures, read at a few entries.
pub struct Tempered<'a> {
    logits: &'a [f32],
    /// A copy of `logits` for [`softmax_pass`], which only reads it here: one copy serves
    /// every temperature.
    work: Vec<f32>,
}

impl<'a> Tempered<'a> {
    pub fn new(logits: &'a [f32]) -> Self {
        Tempered {
            logits,
            work: logits.to_vec(),
        }
    }

    /// Probabilities of `ids` under the softmax of `logits / t` (`t > 0`), by
    /// [`softmax_pass`]: `e^(l/t - log_z)` in f64, as the trace's raw probabilities are
    /// computed (at `t = 1` they are the same numbers). 0 for an id out of range, an unusable
    /// logit, or when no entry is usable.
    pub fn probs(&mut self, t: f32, ids: impl Iterator<Item = u32>) -> Vec<f32> {
        let log_z = softmax_pass(&mut self.work, |&l| l / t, |_, _| {}).map(|s| s.log_z);
        ids.map(|id| match (log_z, self.logits.get(id as usize)) {
            (Some(log_z), Some(&l)) => ((usable(l / t) as f64) - log_z).exp() as f32,
            _ => 0.0,
        })
        .collect()
    }
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
    const MAGIC: f32 = 12_582_912.0;
    let shifted = xc * std::f32::consts::LOG2_E + MAGIC;
    let k = shifted - MAGIC;
    let r = xc - k * 0.693_359_4 - k * -2.121_944_4e-4;
    let mut y = 1.987_569_1e-4;
    y = y * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 0.5;
    y = y * r * r + r + 1.0;
    // k (an integer in -126..=0) sits in the low mantissa bits of `shifted`: reading it from
    // there, not by a float-to-int cast, keeps the loop vectorized.
    let k_bits = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    let scale = f32::from_bits(k_bits.wrapping_add(127) << 23);
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
    fn tempered_probabilities_match_f64_and_the_raw_ones_at_t_1() {
        let v: Vec<f32> = (0..5000u32)
            .map(|i| ((i * 7919) % 1013) as f32 / 40.0 - 12.0)
            .collect();
        let ids = [0u32, 17, 4999, 5000];
        let mut tempered = Tempered::new(&v);
        for t in [0.3f32, 0.7, 1.0, 1.5] {
            let got = tempered.probs(t, ids.iter().copied());
            let scaled: Vec<f64> = v.iter().map(|&l| (l / t) as f64).collect();
            let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = scaled.iter().map(|&x| (x - max).exp()).sum();
            for (&id, &p) in ids[..3].iter().zip(&got) {
                let want = (scaled[id as usize] - max).exp() / z;
                assert!(((p as f64 - want) / want).abs() < 1e-5, "t={t} id={id}");
            }
            assert_eq!(got[3], 0.0, "out of range");
        }
        // At t = 1 these are the trace's raw probabilities, bit for bit.
        let log_z = crate::decode::Candidates::from_logits(&v).unwrap().log_z();
        let raw: Vec<f32> = ids[..3]
            .iter()
            .map(|&id| (v[id as usize] as f64 - log_z).exp() as f32)
            .collect();
        assert_eq!(tempered.probs(1.0, ids[..3].iter().copied()), raw);
    }

    #[test]
    fn tempered_probabilities_of_unusable_logits_are_0() {
        let v = [f32::NAN, 1.0, f32::NEG_INFINITY, 1.0];
        assert_eq!(Tempered::new(&v).probs(0.5, 0..4), [0.0, 0.5, 0.0, 0.5]);
        let dead = [f32::NAN, f32::NEG_INFINITY];
        assert_eq!(Tempered::new(&dead).probs(1.0, 0..2), [0.0, 0.0]);
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
