//! RMSNorm of each row, as Hugging Face's `LlamaRMSNorm` computes it: in f32,
//! `y = x · 1/sqrt(mean(x²) + eps)`, rounded to the input's precision, times the weight.

use super::Elem;

/// Normalises `rows` of `x` (each `w.len()` long) into `out`.
pub(super) fn rms_norm<E: Elem>(x: &[E], w: &[E], eps: f32, out: &mut [E]) {
    let d = w.len();
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let r = 1.0 / (sum_squares(row) / d as f32 + eps).sqrt();
        for ((o, &v), &g) in o.iter_mut().zip(row).zip(w) {
            *o = E::from_f32(E::from_f32(v.to_f32() * r).to_f32() * g.to_f32());
        }
    }
}

/// `Σ x²` in f32, over eight lanes (a fixed order, so every row is summed alike).
fn sum_squares<E: Elem>(row: &[E]) -> f32 {
    let mut lanes = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            let v = v.to_f32();
            *l += v * v;
        }
    }
    for (l, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        let v = v.to_f32();
        *l += v * v;
    }
    lanes.iter().sum()
}
