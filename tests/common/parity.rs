//! Parity checks against Hugging Face fixtures (`scripts/golden/make_parity.py`,
//! `make_tiny.py`, `make_gemma.py`): last-position top-20 logprobs, teacher-forced logprobs
//! and the greedy continuation.

use logitscope::decode::math::log_softmax;
use logitscope::model::{ids_tensor, tensor_to_vec, ForwardOptions, Loaded};
use serde_json::Value;

/// Largest accepted |ours − HF| logprob.
pub const LOGPROB_TOL: f64 = 2e-3;
/// Greedy steps whose top-1/top-2 margin is below this may legitimately diverge.
const NEAR_TIE: f64 = 1e-3;

/// A JSON array of token ids.
pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A JSON array of numbers.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Checks one case: last-position top-20, teacher-forced logprobs, greedy continuation.
/// Returns the largest |ours − HF| logprob seen and the greedy steps that agreed.
pub fn check_case(lm: &Loaded, name: &str, case: &Value, greedy_key: &str) -> (f64, usize) {
    let mut worst = 0f64;
    let prompt_ids = ids(&case["ids"]);
    // Last-position top-20 log-probabilities.
    let mut cache = lm.model.new_cache();
    let out = lm
        .model
        .forward(&ids_tensor(&[&prompt_ids]), &mut cache, ForwardOptions::ALL)
        .unwrap();
    let t = prompt_ids.len() as i64;
    let rows: Vec<Vec<f32>> = (0..t)
        .map(|i| log_softmax(&tensor_to_vec(&out.logits.get(0).get(i))))
        .collect();
    let last = rows.last().unwrap();
    for pair in case["last_top20"].as_array().unwrap() {
        let (id, want) = (
            pair[0].as_u64().unwrap() as usize,
            pair[1].as_f64().unwrap(),
        );
        let got = last[id] as f64;
        worst = worst.max((got - want).abs());
        assert!(
            (got - want).abs() < LOGPROB_TOL,
            "{name}: last-position logprob of {id}: ours {got}, HF {want}"
        );
    }
    // Teacher forcing: logprob of ids[i] given ids[..i].
    for (i, want) in floats(&case["teacher_forced"]).iter().enumerate() {
        let got = rows[i][prompt_ids[i + 1] as usize] as f64;
        worst = worst.max((got - want).abs());
        assert!(
            (got - want).abs() < LOGPROB_TOL,
            "{name}: teacher-forced logprob at {}: ours {got}, HF {want}",
            i + 1
        );
    }
    // Greedy continuation with the KV cache, one token at a time.
    let want = ids(&case[greedy_key]);
    let margins = floats(&case[format!("{greedy_key}_margin")]);
    let eos = &lm.model.config().eos_ids;
    let mut cache = lm.model.new_cache();
    let mut logits = lm.model.next_logits(&prompt_ids, &mut cache).unwrap();
    for (step, &w) in want.iter().enumerate() {
        let got = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0 as u32;
        if got != w {
            assert!(
                margins[step] < NEAR_TIE,
                "{name}: greedy step {step}: ours {got}, HF {w} (HF margin {} is no near-tie)",
                margins[step]
            );
            eprintln!("{name}: greedy diverged at step {step} on a near-tie; stopping there");
            return (worst, step);
        }
        if eos.contains(&got) {
            return (worst, step + 1);
        }
        logits = lm.model.next_logits(&[got], &mut cache).unwrap();
    }
    (worst, want.len())
}
