//! Our own matrix-vector products for decoding: `x·Wᵀ` for a few activation rows against a
//! dense `[out, in]` weight (f32 or bf16), streaming the weight once at close to the
//! memory's read rate.
//!
//! libtorch's one-row kernels stream f32 weights at a fraction of what the memory delivers
//! on some CPUs, and on CPUs without bf16 arithmetic its bf16 path converts instead of
//! streaming half the bytes. Here the weight rows are split between the calling thread and
//! [`super::pool`] workers, each output summed in f32 in one fixed order ([`kernel`]), so a row's
//! result is the same whatever it is batched with and however many threads run. It is one
//! more candidate of the per-machine plan ([`super::plan`]), used only where it wins.

mod kernel;

use half::bf16;
use tch::{Device, Kind, Tensor};

use super::pool::Raw;
use kernel::{Dims, Weight};

/// Bumped whenever the kernels change how fast they run, so that plans cached on disk are
/// timed again.
pub(crate) const REVISION: u32 = 2;

/// Weight rows per part below which splitting across threads costs more than it saves.
const MIN_ROWS_PER_PART: usize = 64;
/// Parts per thread: more than one, so that a thread that loses its core for a while holds
/// up only a small part while the others take the rest.
const PARTS_PER_THREAD: usize = 4;

/// `x·Wᵀ` for `x` `[m, in]` and a contiguous CPU weight `w` `[out, in]` (f32 or bf16);
/// `[m, out]` in `w`'s kind (accumulated in f32, rounded once).
pub(crate) fn matmul_t(w: &Tensor, x: &Tensor) -> Tensor {
    let y = product(w, None, x);
    if w.kind() == Kind::Float {
        y
    } else {
        y.to_kind(w.kind())
    }
}

/// `x·(s·Q)ᵀ` for a contiguous CPU int8 weight `q` `[out, in]` with a scale per row `s`
/// `[out]`: each row's sum in f32, times its scale; `[m, out]` in `x`'s kind.
pub(crate) fn matmul_t_int8(q: &Tensor, scales: &Tensor, x: &Tensor) -> Tensor {
    let s = scales.to_kind(Kind::Float).contiguous();
    product(q, Some(&s), x).to_kind(x.kind())
}

/// The f32 `[m, out]` product of `x` and the rows of `w`, scaled by `scales` (f32) if given.
fn product(w: &Tensor, scales: Option<&Tensor>, x: &Tensor) -> Tensor {
    let (out, inp) = w.size2().expect("a projection weight is 2-D");
    let m = x.size()[0];
    debug_assert!(w.is_contiguous() && w.device() == Device::Cpu);
    let xf = x.to_kind(Kind::Float).contiguous();
    let y = Tensor::empty([m, out], (Kind::Float, Device::Cpu));
    let d = Dims {
        m: m as usize,
        out: out as usize,
        inp: inp as usize,
    };
    let threads = tch::get_num_threads().max(1) as usize;
    let parts = (threads * PARTS_PER_THREAD)
        .min(d.out / MIN_ROWS_PER_PART)
        .max(1);
    let p = Pointers {
        w: Raw(w.data_ptr()),
        x: Raw(xf.data_ptr()),
        y: Raw(y.data_ptr()),
        scales: Raw(scales.map_or(std::ptr::null_mut(), |s| s.data_ptr())),
    };
    match w.kind() {
        Kind::BFloat16 => split::<bf16>(p, d, parts, threads),
        Kind::Int8 => split::<i8>(p, d, parts, threads),
        _ => split::<f32>(p, d, parts, threads),
    }
    y
}

/// The buffers of one product.
#[derive(Clone, Copy)]
struct Pointers {
    w: Raw,
    x: Raw,
    y: Raw,
    scales: Raw,
}

/// Splits the weight rows into `parts` ranges and runs them on `threads` threads.
fn split<E: Weight>(p: Pointers, d: Dims, parts: usize, threads: usize) {
    let per = d.out.div_ceil(parts);
    super::pool::run(parts, threads, &|i| {
        let rows = (i * per).min(d.out)..((i + 1) * per).min(d.out);
        // SAFETY: `product` sized the buffers as `d` says; parts' rows are disjoint.
        unsafe {
            let (w, x, y) = (p.w.get::<E>(), p.x.get::<f32>(), p.y.get::<f32>());
            kernel::run::<E>(w, x, y, d, rows, p.scales.get::<f32>());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(w: &Tensor, x: &Tensor) -> Tensor {
        x.to_kind(Kind::Double)
            .matmul(&w.to_kind(Kind::Double).tr())
    }

    #[test]
    fn matches_libtorch_for_every_shape_and_kind() {
        for kind in [Kind::Float, Kind::BFloat16] {
            for (out, inp) in [(1, 8), (7, 5), (130, 576), (257, 1000), (3, 17)] {
                let w = Tensor::randn([out, inp], (Kind::Float, Device::Cpu)).to_kind(kind);
                for m in [1, 2, 3, 4, 5, 9] {
                    let x = Tensor::randn([m, inp], (Kind::Float, Device::Cpu));
                    let got = matmul_t(&w, &x);
                    assert_eq!(got.size(), [m, out]);
                    assert_eq!(got.kind(), kind);
                    let want = reference(&w, &x);
                    let tol = if kind == Kind::Float { 1e-4 } else { 2e-2 };
                    let err = (got.to_kind(Kind::Double) - &want)
                        .abs()
                        .max()
                        .double_value(&[]);
                    let scale = want.abs().max().double_value(&[]).max(1.0);
                    assert!(err <= tol * scale, "{kind:?} {out}x{inp} m={m}: {err}");
                }
            }
        }
    }

    #[test]
    fn int8_rows_match_libtorch_packed_kernel() {
        let w = Tensor::randn([130, 96], (Kind::Float, Device::Cpu));
        let p = crate::model::quant::pack::int8(&w, Kind::BFloat16);
        for m in [1, 3, 4] {
            let x = Tensor::randn([m, 96], (Kind::Float, Device::Cpu)).to_kind(Kind::BFloat16);
            let got = matmul_t_int8(&p.q, &p.scales, &x);
            assert_eq!((got.size(), got.kind()), (vec![m, 130], Kind::BFloat16));
            let exact = x.to_kind(Kind::Double).matmul(
                &(p.q.to_kind(Kind::Double) * p.scales.to_kind(Kind::Double).unsqueeze(1)).tr(),
            );
            let err = |y: &Tensor| {
                (y.to_kind(Kind::Double) - &exact)
                    .abs()
                    .max()
                    .double_value(&[])
            };
            let theirs = x.internal_weight_int8pack_mm(&p.q, &p.scales);
            // Ours rounds once (to bf16), so it is at least as close as libtorch's.
            let scale = exact.abs().max().double_value(&[]);
            assert!(err(&got) <= scale / 128.0, "m={m}: {}", err(&got));
            assert!(
                err(&got) <= err(&theirs) + 1e-6,
                "m={m}: {} > {}",
                err(&got),
                err(&theirs)
            );
        }
    }

    #[test]
    fn a_row_does_not_depend_on_its_batch_or_the_thread_count() {
        let w = Tensor::randn([515, 576], (Kind::Float, Device::Cpu));
        let x = Tensor::randn([6, 576], (Kind::Float, Device::Cpu));
        let all = matmul_t(&w, &x);
        let before = tch::get_num_threads();
        for threads in [1, 2, 3] {
            tch::set_num_threads(threads);
            for r in 0..6 {
                let one = matmul_t(&w, &x.narrow(0, r, 1));
                assert!(
                    one.equal(&all.narrow(0, r, 1)),
                    "row {r}, {threads} threads"
                );
            }
        }
        tch::set_num_threads(before);
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    /// Seconds per call of `f` on one of `ws`: the best of `reps` passes over all of them.
    fn best_secs<W>(ws: &[W], reps: usize, f: impl Fn(&W) -> Tensor) -> f64 {
        (0..reps)
            .map(|_| {
                let t0 = std::time::Instant::now();
                for w in ws {
                    let _ = f(w);
                }
                t0.elapsed().as_secs_f64() / ws.len() as f64
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Prints our int8 kernel against libtorch's packed one (`--ignored --nocapture`).
    #[test]
    #[ignore]
    fn int8_rates() {
        tch::set_num_threads(2);
        for (out, inp) in [(3072, 576), (576, 1536), (49152, 576)] {
            let ws: Vec<_> = (0..8)
                .map(|_| {
                    let w = Tensor::randn([out, inp], (Kind::Float, Device::Cpu));
                    crate::model::quant::pack::int8(&w, Kind::BFloat16)
                })
                .collect();
            for m in [1, 4, 8, 16] {
                let x = Tensor::randn([m, inp], (Kind::Float, Device::Cpu)).to_kind(Kind::BFloat16);
                let own = best_secs(&ws, 7, |w| matmul_t_int8(&w.q, &w.scales, &x)) * 1e6;
                let torch =
                    best_secs(&ws, 7, |w| x.internal_weight_int8pack_mm(&w.q, &w.scales)) * 1e6;
                println!("int8 {out}x{inp} m={m}: ours {own:.0} us, libtorch {torch:.0} us");
            }
        }
    }

    /// Prints GB/s per shape and thread count (`--ignored --nocapture`, release).
    #[test]
    #[ignore]
    fn stream_rates() {
        for kind in [Kind::Float, Kind::BFloat16] {
            for (out, inp) in [(576, 576), (3072, 576), (576, 1536), (49152, 576)] {
                let ws: Vec<Tensor> = (0..8)
                    .map(|_| Tensor::randn([out, inp], (Kind::Float, Device::Cpu)).to_kind(kind))
                    .collect();
                let x = Tensor::randn([1, inp], (Kind::Float, Device::Cpu)).to_kind(kind);
                for threads in [1, 2] {
                    tch::set_num_threads(threads);
                    for (name, f) in [
                        (
                            "gemv",
                            &(|w: &Tensor| matmul_t(w, &x)) as &dyn Fn(&Tensor) -> Tensor,
                        ),
                        ("linear", &|w: &Tensor| x.linear::<Tensor>(w, None)),
                    ] {
                        let best = best_secs(&ws, 5, f);
                        let bytes =
                            (out * inp) as f64 * if kind == Kind::Float { 4.0 } else { 2.0 };
                        println!(
                            "{kind:?} {out}x{inp} t={threads} {name}: {:.1} us {:.1} GB/s",
                            best * 1e6,
                            bytes / best / 1e9
                        );
                    }
                }
            }
        }
    }
}
