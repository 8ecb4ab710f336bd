//! `bench --profile`: where a decode step's time goes, op by op, and how far each precision
//! is from the memory-bandwidth bound (the step's weight bytes over the machine's measured
//! read rate).

use std::time::Instant;

use serde_json::{json, Value};
use tch::{Kind, Tensor};

use crate::decode::math::{median, top_n};
use crate::model::{ids_tensor, profile, tensor_to_vec, ForwardOptions, Loaded};

use super::CliError;

/// Bytes read by one stream measurement: far larger than any last-level cache.
const STREAM_BYTES: i64 = 1 << 30;

/// The machine's read rate in GB/s as libtorch sees it: median of 5 sums of a 1 GiB f32
/// tensor, on the threads the model uses.
pub fn stream_gbs() -> f64 {
    let _guard = tch::no_grad_guard();
    let t = Tensor::ones([STREAM_BYTES / 4], (Kind::Float, tch::Device::Cpu));
    let _ = t.sum(Kind::Float).double_value(&[]);
    let rates: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            let _ = t.sum(Kind::Float).double_value(&[]);
            STREAM_BYTES as f64 / t0.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    median(&rates)
}

/// Megabytes of weights a decode step of `lm` reads, and the milliseconds that takes at
/// `gbs` GB/s (the bound no decode step can beat).
pub fn bound(lm: &Loaded, gbs: f64) -> (f64, f64) {
    let bytes: u64 = lm.model.weight_bytes().iter().map(|(_, b)| b).sum();
    (bytes as f64 / 1e6, bytes as f64 / 1e6 / gbs)
}

/// One JSON object per model: its decode step's wall time and each op's share of it.
pub fn bench_profile(
    models: &[(String, Loaded)],
    ids: &[u32],
    steps: usize,
) -> Result<Value, CliError> {
    let gbs = stream_gbs();
    let mut out = serde_json::Map::new();
    out.insert("stream_gbs".into(), json!(gbs));
    out.insert("steps".into(), json!(steps));
    for (name, lm) in models {
        let mut cache = lm.model.new_cache();
        let first = lm
            .model
            .forward(&ids_tensor(&[ids]), &mut cache, ForwardOptions::LAST)?;
        let mut logits = tensor_to_vec(&first.logits.get(0));
        let mut step = |logits: &mut Vec<f32>| -> Result<(), CliError> {
            let next = top_n(logits, 1).first().map_or(0, |&(id, _)| id);
            *logits = lm.model.next_logits(&[next], &mut cache)?;
            Ok(())
        };
        for _ in 0..4 {
            step(&mut logits)?; // warm-up
        }
        let t0 = Instant::now();
        let (done, spans) = profile::record(|| (0..steps).try_for_each(|_| step(&mut logits)));
        done?;
        let step_ms = t0.elapsed().as_secs_f64() * 1e3 / steps as f64;
        let weights = lm.model.weight_bytes();
        let ops: Vec<Value> = spans
            .iter()
            .map(|&(op, ms, calls)| {
                let ms = ms / steps as f64;
                let mut v = json!({"op": op, "ms_per_step": ms, "share": ms / step_ms,
                                   "calls_per_step": calls as f64 / steps as f64});
                if let Some((_, b)) = weights.iter().find(|(n, _)| *n == op) {
                    v["weight_mb"] = json!(*b as f64 / 1e6);
                    v["gbs"] = json!(*b as f64 / 1e6 / ms);
                }
                v
            })
            .collect();
        let in_spans: f64 = spans.iter().map(|s| s.1).sum::<f64>() / steps as f64;
        let (mb, bound_ms) = bound(lm, gbs);
        out.insert(
            name.clone(),
            json!({"step_ms": step_ms, "ops": ops, "outside_ops_ms": step_ms - in_spans,
                   "weight_mb": mb, "bound_ms": bound_ms, "vs_bound": step_ms / bound_ms}),
        );
    }
    Ok(Value::Object(out))
}
