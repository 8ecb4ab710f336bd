//! KV-cache policies on real forwards: StreamingLLM's re-rotated sinks equal a recomputation
//! with the kept tokens at their cache positions; bounded policies run past the context; and
//! token-by-token NLL under `full` equals one teacher-forced pass.

mod common;

use std::path::{Path, PathBuf};

use logitscope::model::cache::CachePolicy;
use logitscope::model::config::ModelConfig;
use logitscope::model::llama::Llama;
use logitscope::model::perplexity::{streaming_nll, teacher_forced_nll};
use logitscope::model::weights::Weights;
use logitscope::model::{load, Dtype, Model};
use tch::Kind;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The tiny Llama cut to its first layer: its keys and values then depend only on the token
/// and its position, so a recomputation is exactly what the re-rotated cache should hold.
fn one_layer_llama() -> Model {
    let dir = fixture("tiny-llama");
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut cfg = ModelConfig::from_hf_json(&text, &dir, "tiny".into()).unwrap();
    cfg.layers = 1;
    let w = Weights::from_safetensors(&Weights::safetensors_files(&dir).unwrap()).unwrap();
    Model::Llama(Llama::new(cfg, w, Kind::Float).unwrap())
}

fn ids(n: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 37 + 5) % 373) as u32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn evicted_cache_matches_recomputing_the_kept_tokens() {
    let model = one_layer_llama();
    let text = ids(40);
    for policy in [
        CachePolicy::Sinks { s: 3, w: 8 },
        CachePolicy::Window { w: 8 },
    ] {
        let mut cache = model.new_cache_with(policy);
        let mut streamed = Vec::new();
        for &t in &text {
            streamed = model.next_logits(&[t], &mut cache).unwrap();
        }
        assert_eq!(cache.len(), policy.capacity().unwrap());
        assert_eq!(cache.evicted(), 40 - cache.len());
        let kept: Vec<u32> = cache.positions().iter().map(|&p| text[p]).collect();
        let fresh = model.next_logits(&kept, &mut model.new_cache()).unwrap();
        let d = max_diff(&streamed, &fresh);
        assert!(d < 1e-4, "{policy}: logits differ by {d}");
    }
}

#[test]
fn bounded_policies_run_past_the_context() {
    for dir in ["tiny-llama", "tiny-gpt2"] {
        let lm = load(&fixture(dir), Dtype::F32, &mut |_, _| {}).unwrap();
        let ctx = lm.model.config().context_len;
        let text = ids(ctx + 50);
        let nll = streaming_nll(
            &lm.model,
            &text,
            CachePolicy::Sinks { s: 4, w: 16 },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(nll.len(), text.len() - 1);
        assert!(nll.iter().all(|x| x.is_finite()), "{dir}");
        let chunk = lm.model.new_cache_with(CachePolicy::Window { w: 4 });
        assert_eq!(chunk.max_chunk(), 4);
    }
}

#[test]
fn full_streaming_equals_teacher_forcing() {
    let Some(path) = common::default_model() else {
        return;
    };
    let lm = load(&path, Dtype::F32, &mut |_, _| {}).unwrap();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/macbeth.txt"))
            .unwrap();
    let mut ids = lm.tok.encode(&text).unwrap();
    ids.truncate(64);
    let streamed = streaming_nll(&lm.model, &ids, CachePolicy::Full, &mut |_| {}).unwrap();
    let forced = teacher_forced_nll(&lm.model, &ids).unwrap();
    assert_eq!(streamed.len(), 63);
    let d = streamed
        .iter()
        .zip(&forced)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(d < 1e-3, "per-token NLL differs by {d}");
}
