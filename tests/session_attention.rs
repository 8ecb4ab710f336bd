//! The session under a bounded cache policy with attention capture, on the tiny Llama
//! fixture: generation runs past the context, every step has its attention row, the cache
//! view reports sinks and recent slots, and branching rebuilds an evicted cache.

use std::path::Path;

use logitscope::decode::config::SamplerConfig;
use logitscope::engine::session::Session;
use logitscope::model::cache::{CachePolicy, SlotKind};
use logitscope::model::{load, Dtype};

fn session() -> Session {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-llama");
    let lm = load(&dir, Dtype::F32, &mut |_, _| {}).unwrap();
    let config = SamplerConfig {
        greedy: true,
        // Never end: the tiny model's end-of-sequence id is 0.
        logit_bias: vec![(0, f32::NEG_INFINITY)],
        ..SamplerConfig::default()
    };
    Session::new(lm, "hello world", config).unwrap()
}

#[test]
fn sinks_session_runs_past_the_context_with_capture() {
    let mut s = session();
    let policy = CachePolicy::Sinks { s: 2, w: 10 };
    s.set_cache_policy(policy).unwrap();
    s.set_attention_capture(true).unwrap();
    let ctx = s.info().context_len;
    for _ in 0..ctx + 20 {
        s.step().unwrap();
    }
    let cache = s.cache_view();
    assert_eq!(cache.policy, policy);
    assert_eq!(cache.slots.len(), 12);
    assert!(cache.evicted > ctx - 12);
    assert_eq!(cache.slots[1].kind, SlotKind::Sink);
    assert_eq!(cache.slots[2].kind, SlotKind::Recent);
    let view = s.attention_view();
    let last = view.query_of_step(s.steps().len() - 1);
    let row = view.row(last).expect("the newest step has its row");
    let keys = row.key_positions();
    assert_eq!(keys.len(), 12);
    assert_eq!(keys[..2], [0, 1]);
    assert_eq!(*keys.last().unwrap(), last);
    let received = view.received(last, 0, None);
    let total: f32 = received.iter().flatten().sum();
    assert!((total - 1.0).abs() < 1e-2, "a row sums to 1, got {total}");
    assert!(received[5].is_none(), "evicted");
}

#[test]
fn branching_an_evicted_cache_rebuilds_it() {
    let mut s = session();
    s.set_cache_policy(CachePolicy::Window { w: 8 }).unwrap();
    for _ in 0..20 {
        s.step().unwrap();
    }
    let other = (s.steps()[5].token_id + 1) % 300 + 1;
    s.branch(5, other).unwrap();
    s.step().unwrap();
    assert_eq!(s.steps()[5].token_id, other);
    let n = s.prompt_ids().len() + 6;
    let cache = s.cache_view();
    assert_eq!(cache.slots.last().unwrap().position, n - 1, "rebuilt");
    assert_eq!((cache.slots.len(), cache.evicted), (8, n - 8));
    assert!(s
        .set_cache_policy(CachePolicy::Window { w: 100_000 })
        .is_err());
}

/// Opening the attention view never changes what a step computes: a prompt chunk and decode
/// steps give the same logits, bit for bit, with attention capture on and off.
#[test]
fn capture_does_not_change_the_numbers() {
    use logitscope::model::{ids_tensor, tensor_to_vec, ForwardOptions};
    for name in ["tiny-llama", "tiny-gpt2"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let lm = load(&dir, Dtype::F32, &mut |_, _| {}).unwrap();
        let ids = [5u32, 9, 14, 3, 22, 7];
        let run = |capture: bool| {
            let opts = ForwardOptions {
                capture_attention: capture,
                ..ForwardOptions::LAST
            };
            let mut cache = lm.model.new_cache();
            let first = lm
                .model
                .forward(&ids_tensor(&[&ids[..4]]), &mut cache, opts)
                .unwrap();
            assert_eq!(first.attentions.is_empty(), !capture);
            let mut logits = vec![tensor_to_vec(&first.logits)];
            for &id in &ids[4..] {
                let out = lm
                    .model
                    .forward(&ids_tensor(&[&[id]]), &mut cache, opts)
                    .unwrap();
                logits.push(tensor_to_vec(&out.logits));
            }
            logits
        };
        assert_eq!(run(false), run(true), "{name}");
    }
}
