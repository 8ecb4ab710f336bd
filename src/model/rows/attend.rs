//! Attention of one query position per sequence over its visible key slots (a decode step),
//! in f32: `softmax(scale · q·kᵀ) · v`, the maximum subtracted before `exp`, each head on
//! whichever thread claims it.

use super::Elem;

/// A `[batch, heads, slots, dim]` view whose last dimension is contiguous.
#[derive(Clone, Copy)]
pub(super) struct View<E> {
    pub ptr: *const E,
    /// Element strides of batch, head and slot.
    pub strides: [usize; 3],
}

// SAFETY: the views are only read while the heads run (`super::attend_one`).
unsafe impl<E: Sync> Sync for View<E> {}
unsafe impl<E: Sync> Send for View<E> {}

impl<E> View<E> {
    /// Row `slot` of head `head` of sequence `b`.
    ///
    /// # Safety
    /// The indices are inside the view, which is `dim` long in its last dimension.
    unsafe fn row(&self, b: usize, head: usize, slot: usize, dim: usize) -> &[E] {
        let [sb, sh, ss] = self.strides;
        std::slice::from_raw_parts(self.ptr.add(b * sb + head * sh + slot * ss), dim)
    }
}

/// The sizes: `batch` sequences of `heads` query heads (`heads / kv_heads` per key head),
/// keys in slots `first..slots`, `dim` values per head.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub batch: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub first: usize,
    pub slots: usize,
    pub dim: usize,
}

/// The attention of every head of a batch: queries `q` `[batch, heads, 1, dim]`, keys `k` and
/// values `v` `[batch, kv_heads, slots, dim]` as the views say, scores scaled by `scale`.
#[derive(Clone, Copy)]
pub(super) struct Heads<E> {
    pub q: View<E>,
    pub k: View<E>,
    pub v: View<E>,
    pub d: Dims,
    pub scale: f32,
}

impl<E: Elem> Heads<E> {
    /// One head of one sequence (`part = b · heads + head`) into `out` (`dim` values: this
    /// head's share of the sequence's `[heads · dim]` output row).
    ///
    /// # Safety
    /// The views hold the shapes above, and `part < batch · heads`.
    pub(super) unsafe fn head(&self, part: usize, out: &mut [E]) {
        #[cfg(target_arch = "x86_64")]
        if crate::model::elem::avx2_fma() {
            return self.head_avx2(part, out);
        }
        self.head_any(part, out)
    }

    /// [`Heads::head`] compiled for AVX2 (eight lanes where the plain build has four); the
    /// same operations in the same order.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn head_avx2(&self, part: usize, out: &mut [E]) {
        self.head_any(part, out)
    }

    #[inline(always)]
    unsafe fn head_any(&self, part: usize, out: &mut [E]) {
        let Heads { q, k, v, d, scale } = *self;
        let (b, h) = (part / d.heads, part % d.heads);
        let g = h / (d.heads / d.kv_heads);
        let qf: Vec<f32> = q.row(b, h, 0, d.dim).iter().map(|x| x.to_f32()).collect();
        let scores: Vec<f32> = (d.first..d.slots)
            .map(|s| scale * dot(&qf, k.row(b, g, s, d.dim)))
            .collect();
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut acc = vec![0f32; d.dim];
        let mut sum = 0f32;
        for (s, &sc) in (d.first..d.slots).zip(&scores) {
            let p = (sc - max).exp();
            sum += p;
            for (a, &x) in acc.iter_mut().zip(v.row(b, g, s, d.dim)) {
                *a += p * x.to_f32();
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = E::from_f32(a / sum);
        }
    }
}

/// `Σ a·b` in f32 over eight lanes (one fixed order).
#[inline(always)]
fn dot<E: Elem>(a: &[f32], b: &[E]) -> f32 {
    let mut lanes = [0f32; 8];
    let whole = a.len() / 8 * 8;
    for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        let (x, y): (&[f32; 8], &[E; 8]) = (x.try_into().unwrap(), y.try_into().unwrap());
        for l in 0..8 {
            lanes[l] += x[l] * y[l].to_f32();
        }
    }
    for (l, (x, y)) in a[whole..].iter().zip(&b[whole..]).enumerate() {
        lanes[l] += x * y.to_f32();
    }
    lanes.iter().sum()
}
