//! `silu(gate) · up` of a fused gate|up projection, as libtorch's `silu` and `mul` compute it
//! on the input's precision: `silu(x) = x / (1 + e^-x)` in f32, rounded, then times `up`,
//! rounded. The exponential is ours (about 1 ulp, like libtorch's), so a value may differ
//! from libtorch's in its last place.

use super::Elem;
use crate::decode::math::exp_nonpositive;

/// `out[r][j] = silu(gu[r][j]) · gu[r][f + j]` for each row `r` of `gu` (`2·f` wide).
pub(super) fn silu_mul<E: Elem>(gu: &[E], f: usize, out: &mut [E]) {
    for (row, o) in gu.chunks_exact(2 * f).zip(out.chunks_exact_mut(f)) {
        let (gate, up) = row.split_at(f);
        for ((o, &g), &u) in o.iter_mut().zip(gate).zip(up) {
            let s = E::from_f32(silu(g.to_f32()));
            *o = E::from_f32(s.to_f32() * u.to_f32());
        }
    }
}

/// `x / (1 + e^-x)`, with the exponential of a non-positive argument only: for `x < 0`,
/// `e^-x = 1/e` and `x / (1 + 1/e) = x·e / (1 + e)`. Branch-free, so the loop vectorizes.
#[inline(always)]
fn silu(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let num = if x >= 0.0 { x } else { x * e };
    num / (1.0 + e)
}
