//! Weights packed for libtorch's CPU weight-only kernels: `_weight_int8pack_mm` (int8, one
//! scale per output row) and `_weight_int4pack_mm_for_cpu` (4-bit, a scale and an offset per
//! group of input columns; the kernel computes `w = (q - 8)·scale + zero` for `q` in 0..16).
//!
//! What maps exactly and what is re-quantised:
//! - GGUF `Q4_0` (`w = d·(q − 8)`) and `Q4_1` (`w = d·q + m`) blocks are groups of 32 with 16
//!   levels: their grid is recovered from the dequantised values — the 4-bit codes exactly —
//!   and stored as `scale = d`, `zero = (lowest level) + 8d`. The kernel takes scales and
//!   zeros in the activations' dtype: with f32 they are the GGUF's weights up to f32 rounding
//!   (tested), with bf16 (what `--dtype q4` uses, f32 activations being 10–50× slower in
//!   this kernel) `d` and the offset are rounded to bf16's 8-bit mantissa. A block whose
//!   values do not lie on 16 evenly spaced levels (another format) is re-quantised to its
//!   min/max range.
//! - `Q8_0` (256 levels per block of 32, one f16 scale per block) fits neither kernel exactly:
//!   int8 packing takes one scale per *row*, so it is re-quantised (symmetric, per row);
//!   int4 re-quantises its 256 levels to 16.
//! - Everything under `q8` is re-quantised per row to int8 (from the dequantised values).

use tch::{Device, Kind, Tensor};

/// Columns per int4 group (the GGUF block size).
pub const GROUP: i64 = 32;

/// An int8 weight: `[out, in]` values and one scale per output row.
pub struct Int8 {
    pub q: Tensor,
    pub scales: Tensor,
}

/// An int4 weight in libtorch's CPU packing, with `[in / GROUP, out, 2]` scales and zeros.
pub struct Int4 {
    pub packed: Tensor,
    pub scale_zeros: Tensor,
    /// Groups that matched 16 evenly spaced levels (mapped exactly) out of all groups.
    pub exact_groups: usize,
    pub groups: usize,
}

/// Symmetric per-row int8: `scale = max|w| / 127`. `w`: `[out, in]`; scales in `kind`.
pub fn int8(w: &Tensor, kind: Kind) -> Int8 {
    let w = w.to_kind(Kind::Float);
    let amax = w.abs().amax([1], true).clamp_min(1e-12);
    let scale = &amax / 127.0;
    let q = (&w / &scale)
        .round()
        .clamp(-127, 127)
        .to_kind(Kind::Int8)
        .contiguous();
    Int8 {
        q,
        scales: scale.view([-1]).to_kind(kind),
    }
}

/// Whether an `[out, in]` weight can be packed to int4: `in` a multiple of [`GROUP`], `out`
/// a multiple of 16 (the kernel's packing).
pub fn int4_fits(w: &Tensor) -> bool {
    w.size2()
        .is_ok_and(|(n, k)| n > 0 && n % 16 == 0 && k > 0 && k % GROUP == 0)
}

/// Int4 groups of 32 along the input dimension, recovering each group's 16-level grid when it
/// has one (see the module docs). `w`: `[out, in]` with `in` a multiple of 32; scales and zeros
/// in `kind`.
pub fn int4(w: &Tensor, kind: Kind) -> Int4 {
    let (out, inp) = w.size2().expect("a 2-D weight");
    let vals =
        Vec::<f32>::try_from(&w.to_kind(Kind::Float).contiguous().view([-1])).unwrap_or_default();
    let g = GROUP as usize;
    let groups_per_row = (inp / GROUP) as usize;
    let mut q = vec![0i32; vals.len()];
    // [in / GROUP, out, 2]
    let mut sz = vec![0f32; groups_per_row * out as usize * 2];
    let mut exact = 0;
    for (bi, (block, qb)) in vals.chunks_exact(g).zip(q.chunks_exact_mut(g)).enumerate() {
        let (row, gi) = (bi / groups_per_row, bi % groups_per_row);
        let (scale, lo, is_exact) = grid(block);
        exact += usize::from(is_exact);
        for (v, qv) in block.iter().zip(qb.iter_mut()) {
            *qv = if scale > 0.0 {
                ((v - lo) / scale).round().clamp(0.0, 15.0) as i32
            } else {
                0
            };
        }
        let at = (gi * out as usize + row) * 2;
        sz[at] = scale;
        // (q - 8)·scale + zero = lo + q·scale
        sz[at + 1] = lo + 8.0 * scale;
    }
    let q = Tensor::from_slice(&q).view([out, inp]);
    let packed = q.internal_convert_weight_to_int4pack_for_cpu(1);
    let scale_zeros = Tensor::from_slice(&sz)
        .view([inp / GROUP, out, 2])
        .to_kind(kind);
    Int4 {
        packed,
        scale_zeros,
        exact_groups: exact,
        groups: vals.len() / g,
    }
}

/// A block's 16-level grid `(step, lowest level, exact)`: the levels are `lo + step·q`,
/// `q` in 0..16. Exact when every value is within f32 rounding of a level of a grid whose step
/// divides the smallest gap between distinct values; otherwise the min/max grid.
fn grid(block: &[f32]) -> (f32, f32, bool) {
    let mut s: Vec<f32> = block.to_vec();
    s.sort_by(f32::total_cmp);
    s.dedup();
    let (lo, hi) = (s[0], s[s.len() - 1]);
    if s.len() == 1 {
        return (0.0, lo, true);
    }
    let tol = 4.0 * f32::EPSILON * lo.abs().max(hi.abs());
    let gap = s
        .windows(2)
        .map(|p| p[1] - p[0])
        .fold(f32::INFINITY, f32::min);
    for j in 1..=15 {
        let step = gap / j as f32;
        let levels = (hi - lo) / step;
        if levels > 15.0 + 1e-3 {
            break;
        }
        // Refine the step over the whole range (less rounding than one gap).
        let n = levels.round();
        if n < 1.0 {
            continue;
        }
        let step = (hi - lo) / n;
        let on_grid = s
            .iter()
            .all(|&v| (lo + ((v - lo) / step).round() * step - v).abs() <= tol);
        if on_grid {
            return (step, lo, true);
        }
    }
    ((hi - lo) / 15.0, lo, false)
}

/// The dense `[out, in]` f32 weight an [`Int4`] stands for (for tests and the numerics report).
pub fn int4_dequantized(p: &Int4, out: i64, inp: i64) -> Tensor {
    let eye = Tensor::eye(inp, (p.scale_zeros.kind(), Device::Cpu));
    // x = I: the kernel returns Wᵀ.
    eye.internal_weight_int4pack_mm_for_cpu(&p.packed, GROUP, &p.scale_zeros)
        .to_kind(Kind::Float)
        .tr()
        .contiguous()
        .view([out, inp])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::quant::dequantize;
    use crate::model::quant::GgmlType;

    /// Random Q4_1 / Q4_0 blocks, dequantised by the GGUF reader.
    fn blocks(ty: GgmlType, n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let mut bytes = Vec::new();
        for _ in 0..n {
            let d = half::f16::from_f32(0.001 + (next() % 1000) as f32 * 1e-5);
            bytes.extend(d.to_le_bytes());
            if ty == GgmlType::Q4_1 {
                let m = half::f16::from_f32(-0.05 + (next() % 1000) as f32 * 1e-4);
                bytes.extend(m.to_le_bytes());
            }
            for _ in 0..16 {
                // Few distinct levels in some blocks, to exercise the grid search.
                let span = if next() % 4 == 0 { 5 } else { 16 };
                let lo = (next() % span) as u8;
                let hi = (next() % span) as u8;
                bytes.push(lo | (hi << 4));
            }
        }
        dequantize(ty, &bytes).unwrap()
    }

    #[test]
    fn q4_blocks_map_exactly_to_int4_groups() {
        for ty in [GgmlType::Q4_0, GgmlType::Q4_1] {
            let (out, inp) = (32i64, 96i64);
            let vals = blocks(ty, (out * inp / 32) as usize, 7);
            let w = Tensor::from_slice(&vals).view([out, inp]);
            let p = int4(&w, Kind::Float);
            assert_eq!(p.exact_groups, p.groups, "{ty}: every block on its grid");
            let back = int4_dequantized(&p, out, inp);
            let d = (&back - &w).abs().max().double_value(&[]);
            let scale = w.abs().max().double_value(&[]);
            assert!(d <= 1e-6 * scale, "{ty}: max error {d}");
        }
    }

    #[test]
    fn the_default_models_4bit_blocks_all_keep_their_codes() {
        let path = crate::model::default_model_path();
        if !path.exists() {
            eprintln!("skipped: {} not installed", path.display());
            return;
        }
        let g = crate::model::gguf::GgufFile::open(&path).unwrap();
        let (mut exact, mut groups, mut tensors) = (0, 0, 0);
        for info in g.tensors() {
            if !matches!(info.ty, GgmlType::Q4_0 | GgmlType::Q4_1) {
                continue;
            }
            let (vals, shape) = g.dequantize(&info.name).unwrap();
            let w = Tensor::from_slice(&vals).view([shape[0] as i64, shape[1] as i64]);
            if !int4_fits(&w) {
                continue;
            }
            let p = int4(&w, Kind::Float);
            exact += p.exact_groups;
            groups += p.groups;
            tensors += 1;
        }
        eprintln!("{tensors} 4-bit tensors: {exact} of {groups} groups on their grid");
        assert!(tensors > 0);
        assert_eq!(exact, groups);
    }

    #[test]
    fn off_grid_blocks_are_requantised_within_half_a_step() {
        let w = Tensor::randn([16, 64], (Kind::Float, Device::Cpu));
        let p = int4(&w, Kind::Float);
        assert_eq!(p.exact_groups, 0);
        let back = int4_dequantized(&p, 16, 64);
        let step = (w.amax([1], false) - w.amin([1], false))
            .max()
            .double_value(&[])
            / 15.0;
        let d = (&back - &w).abs().max().double_value(&[]);
        assert!(d <= 0.5 * step + 1e-6, "error {d} vs step {step}");
    }

    #[test]
    fn int8_rows_round_to_the_nearest_level() {
        let w = Tensor::randn([16, 64], (Kind::Float, Device::Cpu));
        let p = int8(&w, Kind::Float);
        let back = p.q.to_kind(Kind::Float) * p.scales.unsqueeze(1);
        let err = (&back - &w).abs().amax([1], false);
        let half_step = p.scales.abs() / 2.0 + 1e-7;
        assert!(bool::try_from(err.le_tensor(&half_step).all()).unwrap());
        let x = Tensor::randn([3, 64], (Kind::Float, Device::Cpu));
        let y = x.internal_weight_int8pack_mm(&p.q, &p.scales);
        let d = (y - x.matmul(&back.tr())).abs().max().double_value(&[]);
        assert!(
            d < 1e-4,
            "kernel differs from its dequantised weight by {d}"
        );
    }
}
