//! A fused `q|k|v` projection split into heads, queries and keys rotated as [`Rope::apply`]
//! computes it: `x·cos + roll(x, D/2)·sin` (the sign of `rotate_half` folded into `sin`),
//! each product and the sum rounded to the input's precision as libtorch's elementwise ops
//! round them, so the result is libtorch's bit for bit.
//!
//! [`Rope::apply`]: crate::model::ops::Rope::apply

use super::Elem;

/// The sizes: sequences of `steps` positions, `heads` query heads and `kv_heads` key and
/// value heads of `dim` values.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub steps: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub dim: usize,
}

/// Splits `qkv` (`[batch, steps, (heads + 2·kv_heads)·dim]`) into `q` (`[batch, heads,
/// steps, dim]`), `k` and `v` (`[batch, kv_heads, steps, dim]`), rotating `q` and `k` by
/// the tables `cos` and `sin` (`[steps, dim]`).
pub(super) fn split_rope<E: Elem>(
    n: Dims,
    qkv: &[E],
    cos: &[E],
    sin: &[E],
    q: &mut [E],
    k: &mut [E],
    v: &mut [E],
) {
    let d = n.dim;
    let width = (n.heads + 2 * n.kv_heads) * d;
    for (row, x) in qkv.chunks_exact(width).enumerate() {
        let (b, s) = (row / n.steps, row % n.steps);
        let (c, sn) = (&cos[s * d..][..d], &sin[s * d..][..d]);
        for (head, x) in x.chunks_exact(d).enumerate() {
            // Destination: the head's row `s` in its own tensor.
            let (out, heads, h) = if head < n.heads {
                (&mut *q, n.heads, head)
            } else if head < n.heads + n.kv_heads {
                (&mut *k, n.kv_heads, head - n.heads)
            } else {
                (&mut *v, n.kv_heads, head - n.heads - n.kv_heads)
            };
            let o = &mut out[((b * heads + h) * n.steps + s) * d..][..d];
            if head < n.heads + n.kv_heads {
                rotate(x, c, sn, o);
            } else {
                o.copy_from_slice(x);
            }
        }
    }
}

/// `o = x·cos + roll(x, D/2)·sin`, rounded after each product and after the sum.
fn rotate<E: Elem>(x: &[E], cos: &[E], sin: &[E], o: &mut [E]) {
    let half = x.len() / 2;
    let round = |v: f32| E::from_f32(v).to_f32();
    for j in 0..x.len() {
        let rolled = x[(j + half) % x.len()];
        let a = round(x[j].to_f32() * cos[j].to_f32());
        let b = round(rolled.to_f32() * sin[j].to_f32());
        o[j] = E::from_f32(a + b);
    }
}
