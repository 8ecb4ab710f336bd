//! `bench --profile` and the bandwidth bound of `bench`, on the tiny Llama: every projection
//! is a span with its weight bytes, the spans fit inside the step, and the bound is the
//! weights over the measured read rate.

use assert_cmd::Command;
use serde_json::Value;

const TINY: &str = "tests/fixtures/tiny-llama";

fn bench(extra: &[&str]) -> Value {
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args([
            "bench",
            "--model",
            TINY,
            "--only",
            "f32",
            "--threads",
            "1",
            "--prompt-tokens",
            "8",
            "--decode-tokens",
            "6",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.trim().lines().last().unwrap()).unwrap()
}

/// The tiny Llama's projection weights in f32 megabytes: (hidden 64, 4 heads and 2 KV heads of
/// 16, intermediate 128, 2 layers, an untied 373-token head).
fn tiny_weight_mb() -> [(&'static str, f64); 5] {
    let (hidden, d, heads, kv, f, layers, vocab) = (64.0, 16.0, 4.0, 2.0, 128.0, 2.0, 373.0);
    let mb = |params: f64| params * 4.0 / 1e6;
    [
        ("qkv_proj", mb(layers * (heads + 2.0 * kv) * d * hidden)),
        ("o_proj", mb(layers * hidden * heads * d)),
        ("gate_up_proj", mb(layers * 2.0 * f * hidden)),
        ("down_proj", mb(layers * hidden * f)),
        ("head", mb(vocab * hidden)),
    ]
}

#[test]
fn profile_names_every_op_with_its_weights_inside_the_step() {
    let v = bench(&["--profile"]);
    assert!(v["stream_gbs"].as_f64().unwrap() > 0.1, "{v}");
    let f32 = &v["f32"];
    let step = f32["step_ms"].as_f64().unwrap();
    let ops = f32["ops"].as_array().unwrap();
    let op = |name: &str| {
        ops.iter()
            .find(|o| o["op"] == name)
            .unwrap_or_else(|| panic!("no {name} in {f32}"))
    };
    for (name, mb) in tiny_weight_mb() {
        let o = op(name);
        let got = o["weight_mb"].as_f64().unwrap();
        assert!((got - mb).abs() < 1e-9, "{name}: {got} MB, expected {mb}");
        assert!(o["gbs"].as_f64().unwrap() > 0.0);
    }
    // One call per layer for each projection, one head, two norms per layer and the final.
    assert_eq!(op("qkv_proj")["calls_per_step"], 2.0);
    assert_eq!(op("head")["calls_per_step"], 1.0);
    assert_eq!(op("rms_norm")["calls_per_step"], 5.0);
    let in_ops: f64 = ops.iter().map(|o| o["ms_per_step"].as_f64().unwrap()).sum();
    assert!(in_ops <= step, "ops {in_ops} ms > step {step} ms");
    assert!(f32["outside_ops_ms"].as_f64().unwrap() >= 0.0);
    let total: f64 = tiny_weight_mb().iter().map(|(_, mb)| mb).sum();
    assert!((f32["weight_mb"].as_f64().unwrap() - total).abs() < 1e-9);
    let bound = f32["bound_ms"].as_f64().unwrap();
    assert!((bound - total / v["stream_gbs"].as_f64().unwrap()).abs() < 1e-9);
}

#[test]
fn bench_reports_each_mode_against_the_bandwidth_bound() {
    let v = bench(&["--runs", "3"]);
    let f32 = &v["f32"];
    let total: f64 = tiny_weight_mb().iter().map(|(_, mb)| mb).sum();
    assert!(
        (f32["weight_mb"].as_f64().unwrap() - total).abs() < 1e-9,
        "{v}"
    );
    let ratio = f32["decode_ms_per_token"].as_f64().unwrap() / f32["bound_ms"].as_f64().unwrap();
    assert!((f32["decode_vs_bound"].as_f64().unwrap() - ratio).abs() < 1e-9);
    assert_eq!(v["threads"], 1);
    assert_eq!(v["threads_governed"], false, "--threads pins the count");
}
