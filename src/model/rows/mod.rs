//! Our own kernels for the small ops of a forward (norms, the head split with its rotary
//! embedding, a decode step's attention, the MLP's `silu(gate)·up`), row by row on the CPU.
//!
//! A decode step runs each of them ~30–60 times on a single row of a few hundred values,
//! where libtorch spends 10–40 µs per call dispatching and scheduling, several times the
//! arithmetic. These compute the same formulas in plain loops over the tensors' memory, each
//! row in one fixed order (so a row's result does not depend on its batch). Each returns
//! `None` where it does not apply (another device, dtype or layout) and the caller uses
//! libtorch.

mod attend;
mod norm;
mod rope;
mod silu;

use half::bf16;
use tch::{Device, Kind, Tensor};

use super::elem::Elem;
use super::pool::{self, Raw};

/// Whether `t` is a contiguous CPU tensor of `kind`.
fn plain(t: &Tensor, kind: Kind) -> bool {
    t.device() == Device::Cpu && t.kind() == kind && t.is_contiguous()
}

/// The elements of a contiguous CPU tensor.
///
/// # Safety
/// `t` must be contiguous, on the CPU, of `E`'s kind, and not written while the slice lives.
unsafe fn slice<E: Elem>(t: &Tensor) -> &[E] {
    let n = t.numel();
    if n == 0 {
        return &[];
    }
    std::slice::from_raw_parts(t.data_ptr() as *const E, n)
}

/// The elements of a fresh contiguous CPU tensor, to fill.
///
/// # Safety
/// As [`slice`], and nothing else may read or write `t` while the slice lives.
unsafe fn slice_mut<E: Elem>(t: &mut Tensor) -> &mut [E] {
    let n = t.numel();
    if n == 0 {
        return &mut [];
    }
    std::slice::from_raw_parts_mut(t.data_ptr() as *mut E, n)
}

/// RMSNorm over the last dimension (see [`norm`]); `x` and `weight` f32 or bf16 alike.
pub(crate) fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Option<Tensor> {
    let kind = x.kind();
    let d = weight.numel();
    if !plain(x, kind) || !plain(weight, kind) || x.size().last() != Some(&(d as i64)) {
        return None;
    }
    let mut out = Tensor::empty(x.size(), (kind, Device::Cpu));
    // SAFETY: all three are contiguous CPU tensors of `kind`; `out` is fresh.
    unsafe {
        match kind {
            Kind::Float => {
                norm::rms_norm::<f32>(slice(x), slice(weight), eps as f32, slice_mut(&mut out))
            }
            Kind::BFloat16 => {
                norm::rms_norm::<bf16>(slice(x), slice(weight), eps as f32, slice_mut(&mut out))
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Rows up to which [`split_rope`] and [`silu_mul`] apply (decode steps, beams, verification
/// rounds); a prompt's many rows stay with libtorch, whose elementwise ops use every thread.
const SMALL_ROWS: i64 = 16;

/// Splits a fused `qkv` projection (`[B, T, (H + 2·Hkv)·D]`) into contiguous queries `[B,
/// H, T, D]`, keys and values `[B, Hkv, T, D]`, the queries and keys rotated by the tables
/// `cos` and `sin` (`[T, D]`, from `Rope::slice`), as libtorch computes it (see [`rope`]).
/// All f32 or bf16 alike, contiguous; at most [`SMALL_ROWS`] positions in all.
pub(crate) fn split_rope(
    qkv: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    heads: i64,
    kv_heads: i64,
) -> Option<(Tensor, Tensor, Tensor)> {
    let kind = qkv.kind();
    let (b, t, width) = qkv.size3().ok()?;
    let d = cos.size2().ok().filter(|&(ct, _)| ct == t)?.1;
    if b * t > SMALL_ROWS || width != (heads + 2 * kv_heads) * d || d % 2 != 0 {
        return None;
    }
    if ![qkv, cos, sin].into_iter().all(|x| plain(x, kind)) || sin.size() != cos.size() {
        return None;
    }
    let n = rope::Dims {
        steps: t as usize,
        heads: heads as usize,
        kv_heads: kv_heads as usize,
        dim: d as usize,
    };
    let mut q = Tensor::empty([b, heads, t, d], (kind, Device::Cpu));
    let mut k = Tensor::empty([b, kv_heads, t, d], (kind, Device::Cpu));
    let mut v = Tensor::empty([b, kv_heads, t, d], (kind, Device::Cpu));
    /// # Safety
    /// As [`slice`] for every tensor, `E` their kind; the outputs fresh.
    unsafe fn run<E: Elem>(n: rope::Dims, x: [&Tensor; 3], out: [&mut Tensor; 3]) {
        let [qkv, cos, sin] = x;
        let [q, k, v] = out;
        rope::split_rope::<E>(
            n,
            slice(qkv),
            slice(cos),
            slice(sin),
            slice_mut(q),
            slice_mut(k),
            slice_mut(v),
        );
    }
    let (x, out) = ([qkv, cos, sin], [&mut q, &mut k, &mut v]);
    // SAFETY: every tensor is a contiguous CPU tensor of `kind` of the sizes checked above;
    // the three outputs are fresh.
    unsafe {
        match kind {
            Kind::Float => run::<f32>(n, x, out),
            Kind::BFloat16 => run::<bf16>(n, x, out),
            _ => return None,
        }
    }
    Some((q, k, v))
}

/// `silu(gate) · up` of a fused gate|up projection `gu` (`[.., 2·f]`), shaped `[.., f]`
/// (see [`silu`]); f32 or bf16, contiguous, at most [`SMALL_ROWS`] rows.
pub(crate) fn silu_mul(gu: &Tensor, f: i64) -> Option<Tensor> {
    let kind = gu.kind();
    let mut shape = gu.size();
    let rows = gu.numel() as i64 / (2 * f).max(1);
    if !plain(gu, kind) || shape.pop() != Some(2 * f) || f == 0 || rows > SMALL_ROWS {
        return None;
    }
    shape.push(f);
    let mut out = Tensor::empty(shape.as_slice(), (kind, Device::Cpu));
    let f = f as usize;
    // SAFETY: `gu` is a contiguous CPU tensor of `kind`, `out` a fresh one of its rows.
    unsafe {
        match kind {
            Kind::Float => silu::silu_mul::<f32>(slice(gu), f, slice_mut(&mut out)),
            Kind::BFloat16 => silu::silu_mul::<bf16>(slice(gu), f, slice_mut(&mut out)),
            _ => return None,
        }
    }
    Some(out)
}

/// Writes `src` (`[B, H, T, D]`) into slots `at..at + T` of the buffer `dst` (`[B, H, S,
/// D]`), as `dst.narrow(2, at, T).copy_(src)` would; both contiguous CPU tensors of one kind,
/// `src` at most [`SMALL_ROWS`] slots. Returns whether it did (else the caller copies).
pub(crate) fn write_slots(dst: &Tensor, src: &Tensor, at: i64) -> bool {
    let kind = dst.kind();
    let (Ok((b, h, s, d)), Ok((sb, sh, t, sd))) = (dst.size4(), src.size4()) else {
        return false;
    };
    let fits = (sb, sh, sd) == (b, h, d) && at >= 0 && at + t <= s && t <= SMALL_ROWS;
    if !fits || !plain(dst, kind) || !plain(src, kind) || kind.elt_size_in_bytes() == 0 {
        return false;
    }
    let bytes = kind.elt_size_in_bytes();
    let (run, stride, skip) = (t * d, s * d, at * d);
    for head in 0..b * h {
        // SAFETY: both are contiguous CPU tensors of one kind whose shapes were checked:
        // head `head`'s `t·d` source elements land in slots `at..at + t` of its buffer.
        unsafe {
            let from = (src.data_ptr() as *const u8).add((head * run) as usize * bytes);
            let to = (dst.data_ptr() as *mut u8).add((head * stride + skip) as usize * bytes);
            std::ptr::copy_nonoverlapping(from, to, run as usize * bytes);
        }
    }
    true
}

/// Attention of one query position per sequence (`q` `[B, H, 1, D]`) over the key slots
/// `first..S` of `k` and `v` (`[B, Hkv, S, D]`), scores scaled by `scale`, computed in f32
/// (see [`attend`]); the output `[B, 1, H·D]` in `q`'s kind. All three f32 or bf16 alike,
/// each contiguous in its last dimension.
pub(crate) fn attend_one(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    first: usize,
    scale: f64,
) -> Option<Tensor> {
    let kind = q.kind();
    let (b, h, t, d) = q.size4().ok()?;
    let (kb, hkv, s, kd) = k.size4().ok()?;
    let cpu = |x: &Tensor| x.device() == Device::Cpu && x.kind() == kind && x.stride()[3] == 1;
    if t != 1 || kb != b || kd != d || v.size() != k.size() || ![q, k, v].into_iter().all(cpu) {
        return None;
    }
    if hkv == 0 || h % hkv != 0 || first >= s as usize {
        return None;
    }
    let dims = attend::Dims {
        batch: b as usize,
        heads: h as usize,
        kv_heads: hkv as usize,
        first,
        slots: s as usize,
        dim: d as usize,
    };
    let out = Tensor::empty([b, 1, h * d], (kind, Device::Cpu));
    let threads = tch::get_num_threads().max(1) as usize;
    let o = Raw(out.data_ptr());
    match kind {
        Kind::Float => heads::<f32>(q, k, v, dims, scale as f32, o, threads),
        Kind::BFloat16 => heads::<bf16>(q, k, v, dims, scale as f32, o, threads),
        _ => return None,
    }
    Some(out)
}

/// Runs every head of [`attend_one`] on the pool.
fn heads<E: Elem>(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    d: attend::Dims,
    scale: f32,
    out: Raw,
    threads: usize,
) {
    let view = |x: &Tensor| {
        let st = x.stride();
        attend::View::<E> {
            ptr: x.data_ptr() as *const E,
            strides: [st[0] as usize, st[1] as usize, st[2] as usize],
        }
    };
    let job = attend::Heads {
        q: view(q),
        k: view(k),
        v: view(v),
        d,
        scale,
    };
    pool::run(d.batch * d.heads, threads, &|p| {
        // SAFETY: `attend_one` checked the shapes and strides; head `p` writes only its own
        // `dim` outputs, at `p · dim` of the `[B, 1, H·D]` output.
        unsafe {
            let o = std::slice::from_raw_parts_mut(out.get::<E>().add(p * d.dim), d.dim);
            job.head(p, o);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: &Tensor, want: &Tensor, tol: f64) {
        assert_eq!(got.size(), want.size());
        let err = (got.to_kind(Kind::Double) - want.to_kind(Kind::Double))
            .abs()
            .max()
            .double_value(&[]);
        assert!(err <= tol, "max |Δ| {err} > {tol}");
    }

    #[test]
    fn rms_norm_matches_libtorch() {
        for (kind, tol) in [(Kind::Float, 1e-5), (Kind::BFloat16, 0.05)] {
            for d in [5, 64, 576, 77] {
                let x = Tensor::randn([2, 3, d], (Kind::Float, Device::Cpu)).to_kind(kind);
                let w = Tensor::randn([d], (Kind::Float, Device::Cpu)).to_kind(kind);
                let got = rms_norm(&x, &w, 1e-5).expect("applies");
                let want = x.rms_norm([d], Some(&w), 1e-5);
                assert_eq!(got.kind(), kind);
                close(&got, &want, tol);
            }
        }
        // Not contiguous: left to libtorch.
        let x = Tensor::randn([4, 6], (Kind::Float, Device::Cpu)).tr();
        assert!(rms_norm(&x, &Tensor::ones([4], (Kind::Float, Device::Cpu)), 1e-5).is_none());
    }

    #[test]
    fn split_rope_is_libtorchs_bit_for_bit() {
        use crate::model::ops::Rope;
        let f = (Kind::Float, Device::Cpu);
        let (h, hkv, d) = (6i64, 2i64, 16i64);
        for kind in [Kind::Float, Kind::BFloat16] {
            let rope = Rope::new(d as usize, 64, 10_000.0, kind);
            for (b, t, start) in [(1i64, 1i64, 0i64), (1, 1, 37), (3, 1, 5), (2, 4, 11)] {
                let qkv = (Tensor::randn([b, t, (h + 2 * hkv) * d], f) * 3.0).to_kind(kind);
                let (cos, sin) = rope.slice(start, t);
                let (q, k, v) = split_rope(&qkv, &cos, &sin, h, hkv).expect("applies");
                // The libtorch path of the model's forward.
                let qk = qkv.narrow(2, 0, (h + hkv) * d).view([b, t, h + hkv, d]);
                let qk = Rope::apply(&qk, &cos.unsqueeze(1), &sin.unsqueeze(1));
                let want_v = qkv.narrow(2, (h + hkv) * d, hkv * d).view([b, t, hkv, d]);
                let pairs = [
                    (q, qk.narrow(2, 0, h).transpose(1, 2)),
                    (k, qk.narrow(2, h, hkv).transpose(1, 2)),
                    (v, want_v.transpose(1, 2)),
                ];
                for (got, want) in pairs {
                    assert_eq!((got.size(), got.kind()), (want.size(), kind));
                    assert!(got.is_contiguous());
                    assert!(got.equal(&want.contiguous()), "{kind:?} b={b} t={t}");
                }
            }
        }
        // A prompt's worth of positions: left to libtorch.
        let rope = Rope::new(16, 64, 10_000.0, Kind::Float);
        let (cos, sin) = rope.slice(0, 32);
        let qkv = Tensor::randn([1, 32, 10 * 16], f);
        assert!(split_rope(&qkv, &cos, &sin, 6, 2).is_none());
    }

    #[test]
    fn silu_mul_matches_libtorch() {
        let f = (Kind::Float, Device::Cpu);
        for kind in [Kind::Float, Kind::BFloat16] {
            for shape in [[1i64, 1, 2 * 1536], [3, 2, 2 * 40]] {
                let gu = (Tensor::randn(shape, f) * 6.0).to_kind(kind);
                let half = shape[2] / 2;
                let got = silu_mul(&gu, half).expect("applies");
                let want = gu.narrow(2, 0, half).silu() * gu.narrow(2, half, half);
                assert_eq!((got.size(), got.kind()), (want.size(), kind));
                // Relative error in the precision's ulps: in f32 our exponential's error and
                // libtorch's add up (for x < 0 e^x's error passes on whole; ~2.4 seen); in
                // bf16 both round to the same value but for a rare tie.
                let (ulp, most) = if kind == Kind::Float {
                    (2f64.powi(-23), 4.0)
                } else {
                    (2f64.powi(-7), 1.0)
                };
                let (g, w) = (got.to_kind(Kind::Double), want.to_kind(Kind::Double));
                let rel = (&g - &w).abs() / w.abs().clamp_min(1e-30);
                let worst = rel.max().double_value(&[]) / ulp;
                assert!(worst <= most, "{kind:?}: {worst} ulp");
            }
        }
        // A prompt's worth of rows: left to libtorch.
        let gu = Tensor::randn([1, 32, 8], f);
        assert!(silu_mul(&gu, 4).is_none());
    }

    #[test]
    fn write_slots_is_copy_into_a_narrowed_buffer() {
        let f = (Kind::Float, Device::Cpu);
        for kind in [Kind::Float, Kind::BFloat16] {
            for (t, at) in [(1i64, 0i64), (1, 9), (3, 7)] {
                let buf = Tensor::randn([2, 3, 10, 4], f).to_kind(kind);
                let want = buf.copy();
                let src = Tensor::randn([2, 3, t, 4], f).to_kind(kind);
                want.narrow(2, at, t).copy_(&src);
                assert!(write_slots(&buf, &src, at));
                assert!(buf.equal(&want), "{kind:?} t={t} at={at}");
            }
        }
        // Past the end, or another kind: left to the caller.
        let buf = Tensor::zeros([1, 1, 4, 2], f);
        assert!(!write_slots(&buf, &Tensor::ones([1, 1, 2, 2], f), 3));
        let half = Tensor::ones([1, 1, 1, 2], (Kind::BFloat16, Device::Cpu));
        assert!(!write_slots(&buf, &half, 0));
    }

    #[test]
    fn one_query_attention_matches_libtorch() {
        let f = (Kind::Float, Device::Cpu);
        for kind in [Kind::Float, Kind::BFloat16] {
            // Batch 2, 6 query heads over 2 key heads, 37 slots of a 50-slot buffer (as the
            // KV cache keeps them), head size 20; all slots, then a window of 9.
            let q = Tensor::randn([2, 1, 6, 20], f)
                .transpose(1, 2)
                .to_kind(kind);
            let buf = Tensor::randn([2, 2, 50, 20], f).to_kind(kind);
            let (k, v) = (
                buf.narrow(2, 0, 37),
                (buf.shallow_clone() * 0.5).narrow(2, 0, 37),
            );
            for first in [0usize, 28] {
                let f0 = first as i64;
                let got = attend_one(&q, &k, &v, first, 0.3).expect("applies");
                assert_eq!((got.size(), got.kind()), (vec![2, 1, 120], kind));
                let up = |t: &Tensor| {
                    t.to_kind(Kind::Double)
                        .repeat_interleave_self_int(3, 1, None)
                };
                let (kd, vd) = (up(&k).narrow(2, f0, 37 - f0), up(&v).narrow(2, f0, 37 - f0));
                let p = (q.to_kind(Kind::Double).matmul(&kd.transpose(-2, -1)) * 0.3)
                    .softmax(-1, Kind::Double);
                let want = p.matmul(&vd).transpose(1, 2).reshape([2, 1, 120]);
                close(&got, &want, if kind == Kind::Float { 1e-5 } else { 0.02 });
            }
        }
        // Two query positions: left to libtorch.
        let q = Tensor::randn([1, 2, 2, 8], f);
        let k = Tensor::randn([1, 2, 5, 8], f);
        assert!(attend_one(&q, &k, &k, 0, 1.0).is_none());
    }
}
