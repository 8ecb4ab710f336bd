//! The MBR utilities against sacrebleu: sentence-level chrF (`CHRF()`) and BLEU
//! (`BLEU(effective_order=True)`) within 1e-4 on every pair of `tests/fixtures/mbr_metrics.json`
//! (made by `scripts/golden/make_mbr_metrics.py`).

use logitscope::decode::select::metrics::{chrf, sentence_bleu};
use serde_json::Value;

const TOL: f64 = 1e-4;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mbr_metrics.json"
    );
    let text = std::fs::read_to_string(path).expect("read mbr_metrics.json");
    serde_json::from_str(&text).expect("parse mbr_metrics.json")
}

/// Checks `metric` against field `key` of every pair; returns the worst |Δ|.
fn check(key: &str, metric: fn(&str, &str) -> f64) -> f64 {
    let doc = fixture();
    let pairs = doc["pairs"].as_array().expect("pairs");
    assert!(pairs.len() >= 50, "fixture has only {} pairs", pairs.len());
    let mut worst = (0.0f64, usize::MAX);
    let mut failures = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let hyp = p["hyp"].as_str().expect("hyp");
        let refr = p["ref"].as_str().expect("ref");
        let want = p[key].as_f64().expect("score");
        let got = metric(hyp, refr);
        let diff = (got - want).abs();
        if diff > worst.0 || worst.1 == usize::MAX {
            worst = (diff, i);
        }
        if diff.is_nan() || diff > TOL {
            failures.push(format!(
                "  #{i} {hyp:?} vs {refr:?}: ours {got}, sacrebleu {want}"
            ));
        }
    }
    println!(
        "{key}: worst |ours - sacrebleu| = {:e} (pair #{}) over {} pairs, sacrebleu {}",
        worst.0,
        worst.1,
        pairs.len(),
        doc["meta"]["sacrebleu"]
    );
    assert!(
        failures.is_empty(),
        "{key} off by more than {TOL}:\n{}",
        failures.join("\n")
    );
    worst.0
}

#[test]
fn chrf_matches_sacrebleu() {
    check("chrf", chrf);
}

#[test]
fn sentence_bleu_matches_sacrebleu() {
    check("bleu", sentence_bleu);
}
