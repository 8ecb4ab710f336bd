//! Chunked teacher forcing in `ppl` is exact: it gives the same per-token NLL as feeding the
//! text one token at a time, under `full` and (before the first eviction) under bounded
//! policies.

mod common;

use std::path::Path;

use logitscope::model::cache::CachePolicy;
use logitscope::model::perplexity::streaming_nll_chunked;

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn chunked_nll_equals_one_token_at_a_time_on_a_real_text() {
    let Some(path) = common::default_model() else {
        return;
    };
    let lm = common::load(&path);
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/macbeth.txt"))
            .unwrap();
    let mut ids = lm.tok.encode(&text).unwrap();
    ids.truncate(161);
    for policy in [
        CachePolicy::Full,
        CachePolicy::Window { w: 100 },
        CachePolicy::Sinks { s: 4, w: 60 },
    ] {
        let one = streaming_nll_chunked(&lm.model, &ids, policy, 1, &mut |_| {}).unwrap();
        // 48 does not divide the 100 exact tokens, so chunks end both at and before the edge.
        let mut calls = 0;
        let chunked =
            streaming_nll_chunked(&lm.model, &ids, policy, 48, &mut |_| calls += 1).unwrap();
        assert_eq!(one.len(), 160);
        assert_eq!(chunked.len(), 160);
        let d = max_diff(&one, &chunked);
        assert!(d < 1e-4, "{policy}: per-token NLL differs by {d}");
        let exact = policy.capacity().unwrap_or(160).min(160);
        assert_eq!(
            calls,
            exact.div_ceil(48) + (160 - exact),
            "{policy}: forwards"
        );
    }
}
