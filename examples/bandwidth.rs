//! Memory-bandwidth probe: a read-only stream over 512 MiB, and matrix-vector products with
//! the tied head's shape in several layouts.
use tch::{Device, Kind, Tensor};

fn time(label: &str, bytes: f64, f: impl Fn() -> Tensor) {
    let _ = f();
    let t0 = std::time::Instant::now();
    for _ in 0..20 {
        let _ = f();
    }
    let s = t0.elapsed().as_secs_f64() / 20.0;
    println!("{label}: {:.2} ms = {:.1} GB/s", s * 1e3, bytes / s / 1e9);
}

fn main() {
    let a = Tensor::ones([128 * 1024 * 1024], (Kind::Float, Device::Cpu));
    time("stream sum", 536870912.0, || a.sum(Kind::Float));
    for kind in [Kind::Float, Kind::BFloat16] {
        let w = Tensor::randn([49152, 576], (Kind::Float, Device::Cpu)).to_kind(kind);
        let wt = w.tr().contiguous();
        let x = Tensor::randn([1, 576], (Kind::Float, Device::Cpu)).to_kind(kind);
        let xv = x.view([576]);
        let bytes = 49152.0 * 576.0 * if kind == Kind::Float { 4.0 } else { 2.0 };
        println!("{kind:?}");
        time("  linear x·Wᵀ", bytes, || x.linear::<Tensor>(&w, None));
        time("  mv W·x", bytes, || w.mv(&xv));
        time("  matmul x·(Wᵀ contiguous)", bytes, || x.matmul(&wt));
        time("  matmul W·xᵀ", bytes, || w.matmul(&x.tr()));
        let x4 = Tensor::randn([4, 576], (Kind::Float, Device::Cpu)).to_kind(kind);
        time("  4 rows: linear x·Wᵀ", bytes, || {
            x4.linear::<Tensor>(&w, None)
        });
        time("  4 rows: matmul x·(Wᵀ contiguous)", bytes, || {
            x4.matmul(&wt)
        });
        time("  4 rows: matmul W·xᵀ", bytes, || w.matmul(&x4.tr()));
        let x4t = x4.tr().contiguous();
        time("  4 rows: matmul W·(xᵀ contiguous)", bytes, || {
            w.matmul(&x4t)
        });
        time("  4 rows: (Wᵀ)ᵀ·xᵀ", bytes, || {
            wt.tr().matmul(&x4.tr())
        });
        for m in [2i64, 3, 8, 16, 128] {
            let xm = Tensor::randn([m, 576], (Kind::Float, Device::Cpu)).to_kind(kind);
            time(&format!("  {m} rows: x·(Wᵀ contiguous)"), bytes, || {
                xm.matmul(&wt)
            });
            time(&format!("  {m} rows: W·xᵀ"), bytes, || {
                w.matmul(&xm.tr())
            });
            time(&format!("  {m} rows: linear"), bytes, || {
                xm.linear::<Tensor>(&w, None)
            });
        }
    }
}
