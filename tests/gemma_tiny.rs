//! The Gemma 3 architecture on the tiny generated GGUF (no download): the tokenizer, the
//! layer pattern, the sliding window's reach, cached decoding against one full forward, and
//! K-shifted keys under a bounded cache.

use logitscope::model::cache::CachePolicy;
use logitscope::model::config::LayerKind;
use logitscope::model::gguf::{tiny_gemma3, GgufWriter, MetaValue, TINY_GEMMA_VOCAB};
use logitscope::model::{self, ids_tensor, tensor_to_vec, Dtype, ForwardOptions, Loaded};
use tempfile::TempDir;

fn load(w: &GgufWriter) -> (TempDir, Loaded) {
    tch::set_num_threads(1);
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("g.gguf");
    w.write(&p).unwrap();
    let lm = model::load(&p, Dtype::F32, &mut |_, _| {}).unwrap();
    (dir, lm)
}

/// Last-position logits of `ids` in one forward under the full cache.
fn last_logits(lm: &Loaded, ids: &[u32]) -> Vec<f32> {
    let mut cache = lm.model.new_cache();
    lm.model.next_logits(ids, &mut cache).unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn tiny_gemma_loads_with_its_tokenizer_and_layer_pattern() {
    let (_d, lm) = load(&tiny_gemma3());
    let cfg = lm.model.config();
    assert_eq!(cfg.vocab_size, TINY_GEMMA_VOCAB);
    assert_eq!(
        cfg.head_dim, 16,
        "head size from key_length, not width / heads"
    );
    let kinds: Vec<LayerKind> = (0..cfg.layers).map(|l| cfg.layer_kind(l)).collect();
    let sliding = LayerKind::Sliding { window: 4 };
    assert_eq!(kinds, [sliding, sliding, LayerKind::Global]);
    // BOS first; spaces become `▁`, so " a" is the piece `▁a` (21); "ab" is one piece (22).
    assert_eq!(lm.tok.encode("ab a").unwrap(), vec![2, 22, 21]);
    assert_eq!(lm.tok.decode(&[22, 21]), "ab a");
}

#[test]
fn sliding_layers_do_not_see_past_their_window() {
    // Every layer sliding (window 4, 3 layers): the last position's receptive field is its
    // own position and the 3 × 3 before it, so a change 10 positions back is invisible.
    let mut w = tiny_gemma3();
    w.meta(
        "gemma3.attention.sliding_window_pattern",
        MetaValue::U32(100),
    );
    let (_d, lm) = load(&w);
    let a: Vec<u32> = (0..14).map(|i| 5 + (i % 16)).collect();
    let mut b = a.clone();
    b[3] = 9;
    assert!(max_diff(&last_logits(&lm, &a), &last_logits(&lm, &b)) < 1e-6);
    // Inside the receptive field it shows.
    let mut c = a.clone();
    c[5] = 9;
    assert!(max_diff(&last_logits(&lm, &a), &last_logits(&lm, &c)) > 1e-4);
    // With the default pattern the global third layer sees everything.
    let (_d, lm) = load(&tiny_gemma3());
    assert!(max_diff(&last_logits(&lm, &a), &last_logits(&lm, &b)) > 1e-4);
}

#[test]
fn cached_decoding_past_the_window_equals_one_forward() {
    let (_d, lm) = load(&tiny_gemma3());
    let ids: Vec<u32> = (0..20).map(|i| 4 + (i * 7 % 19)).collect();
    let mut cache = lm.model.new_cache();
    let all = lm
        .model
        .forward(&ids_tensor(&[&ids]), &mut cache, ForwardOptions::ALL)
        .unwrap()
        .logits
        .get(0);
    let mut cache = lm.model.new_cache();
    lm.model.next_logits(&ids[..3], &mut cache).unwrap();
    for (i, &id) in ids.iter().enumerate().skip(3) {
        let step = lm.model.next_logits(&[id], &mut cache).unwrap();
        let whole = tensor_to_vec(&all.get(i as i64));
        assert!(max_diff(&step, &whole) < 1e-4, "position {i}");
    }
}

/// The tiny model cut to its first layer, every `pattern`-th layer global.
fn one_layer(pattern: u32) -> GgufWriter {
    let mut w = tiny_gemma3();
    w.meta("gemma3.block_count", MetaValue::U32(1)).meta(
        "gemma3.attention.sliding_window_pattern",
        MetaValue::U32(pattern),
    );
    for name in w.tensor_names() {
        if name.starts_with("blk.1.") || name.starts_with("blk.2.") {
            w.remove_tensor(&name);
        }
    }
    w
}

#[test]
fn bounded_cache_keys_are_re_rotated_with_their_layers_rope_base() {
    // One layer: its keys and values depend on their own token only, so after the window
    // policy evicts and K-shifts, the last logits equal a fresh run of the tokens kept, as
    // long as the shift used the layer's RoPE base (global 1M, sliding 10k).
    for (pattern, what) in [(1, "global"), (100, "sliding")] {
        let (_d, lm) = load(&one_layer(pattern));
        let kind = lm.model.config().layer_kind(0);
        assert_eq!(kind == LayerKind::Global, what == "global");
        let ids: Vec<u32> = (0..12).map(|i| 4 + (i * 5 % 19)).collect();
        let mut cache = lm.model.new_cache_with(CachePolicy::Window { w: 6 });
        let mut last = Vec::new();
        for &id in &ids {
            last = lm.model.next_logits(&[id], &mut cache).unwrap();
        }
        assert!(cache.evicted() > 0);
        let fresh = last_logits(&lm, &ids[ids.len() - 6..]);
        let d = max_diff(&last, &fresh);
        assert!(d < 1e-4, "{what}: {d}");
    }
}
