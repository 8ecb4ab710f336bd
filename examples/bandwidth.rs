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
    }
}
