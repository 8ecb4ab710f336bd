//! Attention probabilities against Hugging Face transformers (eager attention, float32) on
//! the default model: layer 0 and the last layer, every head, within 1e-4
//! (`tests/fixtures/attention.json`). Skips when the model is not installed.

mod common;

use std::path::Path;

use assert_cmd::Command;
use logitscope::model::taps::prompt_attention;
use logitscope::model::{load, Dtype};
use serde_json::Value;

const TOL: f64 = 1e-4;

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attention.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Largest difference between `heads[h][q][k]` of the fixture and `got(h, q, k)`.
fn worst(want: &Value, got: impl Fn(usize, usize, usize) -> f64) -> f64 {
    let mut d = 0f64;
    for (h, head) in want.as_array().unwrap().iter().enumerate() {
        for (q, row) in head.as_array().unwrap().iter().enumerate() {
            for (k, p) in row.as_array().unwrap().iter().enumerate() {
                d = d.max((p.as_f64().unwrap() - got(h, q, k)).abs());
            }
        }
    }
    d
}

#[test]
fn layer_0_and_last_layer_match_transformers() {
    let Some(path) = common::default_model() else {
        return;
    };
    let fx = fixture();
    let lm = load(&path, Dtype::F32, &mut |_, _| {}).unwrap();
    let ids = lm.tok.encode(fx["prompt"].as_str().unwrap()).unwrap();
    let want_ids: Vec<u32> = fx["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(ids, want_ids);
    let last = lm.model.config().layers - 1;
    for layer in [0, last] {
        let want = &fx["layers"][layer.to_string()];
        let m = prompt_attention(&lm.model, &ids, layer).unwrap();
        assert_eq!(m.heads, want.as_array().unwrap().len());
        let d = worst(want, |h, q, k| m.row(h, q)[k] as f64);
        assert!(d < TOL, "layer {layer}: max difference {d}");
    }
}

#[test]
fn inspect_attention_json_matches_transformers() {
    if common::default_model().is_none() {
        return;
    }
    let fx = fixture();
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args(["inspect", "attention", "--layer", "0", "--json", "--prompt"])
        .arg(fx["prompt"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["layer"], 0);
    assert_eq!(got["ids"], fx["ids"]);
    let heads = &got["heads"];
    let d = worst(&fx["layers"]["0"], |h, q, k| {
        heads[h][q][k].as_f64().unwrap()
    });
    assert!(d < TOL, "max difference {d}");
}
