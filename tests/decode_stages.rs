//! Exact distributions after each stage (llama.cpp `test-sampling` style): given
//! probabilities, the expected probabilities after the stage, hand-derived from Hugging Face's
//! processor semantics.

use logitscope::decode::{build_stage, log_softmax, Chain, DecodeError, History, SamplerConfig};

/// Runs the single stage `name` configured by `cfg` on `probs` (as log-probabilities) and
/// returns the resulting probabilities per id (0 where removed).
fn after(name: &str, cfg: &SamplerConfig, probs: &[f32], history: History<'_>) -> Vec<f32> {
    let logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
    let out = processed(name, cfg, &logits, history).expect("stage runs");
    log_softmax(&out).iter().map(|l| l.exp()).collect()
}

fn processed(
    name: &str,
    cfg: &SamplerConfig,
    logits: &[f32],
    history: History<'_>,
) -> Result<Vec<f32>, DecodeError> {
    let stage = build_stage(name, cfg).expect("known name").expect("active");
    Chain::new(vec![stage]).process(logits, history)
}

fn cfg() -> SamplerConfig {
    SamplerConfig {
        top_k: None,
        ..SamplerConfig::default()
    }
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "got {got:?}, want {want:?}");
    }
}

const P4: [f32; 4] = [0.1, 0.2, 0.3, 0.4];
const NONE: History<'static> = History {
    tokens: &[],
    prompt_len: 0,
    signals: None,
};

#[test]
fn top_k_keeps_the_k_best() {
    let k = |k, min_keep| SamplerConfig {
        top_k: Some(k),
        min_keep,
        ..cfg()
    };
    assert_close(&after("top_k", &k(1, 1), &P4, NONE), &[0.0, 0.0, 0.0, 1.0]);
    assert_close(
        &after("top_k", &k(3, 1), &P4, NONE),
        &[0.0, 2.0 / 9.0, 3.0 / 9.0, 4.0 / 9.0],
    );
    assert_close(&after("top_k", &k(4, 1), &P4, NONE), &P4);
    assert_close(&after("top_k", &k(9, 1), &P4, NONE), &P4);
    // min_keep raises k.
    assert_close(
        &after("top_k", &k(1, 2), &P4, NONE),
        &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0],
    );
}

#[test]
fn top_k_keeps_every_tie_of_the_kth_logit() {
    let c = SamplerConfig {
        top_k: Some(2),
        ..cfg()
    };
    let third = 1.0 / 3.0;
    assert_close(
        &after("top_k", &c, &[0.1, 0.3, 0.3, 0.3], NONE),
        &[0.0, third, third, third],
    );
}

#[test]
fn top_p_keeps_the_smallest_prefix_reaching_p() {
    let p = |p, min_keep| SamplerConfig {
        top_p: Some(p),
        min_keep,
        ..cfg()
    };
    assert_close(
        &after("top_p", &p(0.3, 1), &P4, NONE),
        &[0.0, 0.0, 0.0, 1.0],
    );
    assert_close(
        &after("top_p", &p(0.5, 1), &P4, NONE),
        &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0],
    );
    assert_close(
        &after("top_p", &p(0.75, 1), &P4, NONE),
        &[0.0, 2.0 / 9.0, 3.0 / 9.0, 4.0 / 9.0],
    );
    assert_close(&after("top_p", &p(0.95, 1), &P4, NONE), &P4);
    assert_close(
        &after("top_p", &p(0.1, 3), &P4, NONE),
        &[0.0, 2.0 / 9.0, 3.0 / 9.0, 4.0 / 9.0],
    );
}

#[test]
fn min_p_scales_the_threshold_by_the_best_probability() {
    let m = |m, min_keep| SamplerConfig {
        min_p: Some(m),
        min_keep,
        ..cfg()
    };
    // threshold 0.6 * 0.4 = 0.24
    assert_close(
        &after("min_p", &m(0.6, 1), &P4, NONE),
        &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0],
    );
    // threshold 0.304
    assert_close(
        &after("min_p", &m(0.76, 1), &P4, NONE),
        &[0.0, 0.0, 0.0, 1.0],
    );
    assert_close(&after("min_p", &m(0.2, 1), &P4, NONE), &P4);
    assert_close(
        &after("min_p", &m(1.0, 3), &P4, NONE),
        &[0.0, 2.0 / 9.0, 3.0 / 9.0, 4.0 / 9.0],
    );
}

#[test]
fn epsilon_cuts_below_an_absolute_probability() {
    let e = |e| SamplerConfig {
        epsilon: Some(e),
        ..cfg()
    };
    assert_close(
        &after("epsilon", &e(0.25), &P4, NONE),
        &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0],
    );
    assert_close(
        &after("epsilon", &e(0.15), &P4, NONE),
        &[0.0, 2.0 / 9.0, 3.0 / 9.0, 4.0 / 9.0],
    );
    // Nothing reaches 0.5: the best survives.
    assert_close(&after("epsilon", &e(0.5), &P4, NONE), &[0.0, 0.0, 0.0, 1.0]);
    // ... together with everything tied with it (HF compares against the min_keep-th logit).
    assert_close(
        &after("epsilon", &e(0.5), &[0.3, 0.3, 0.2, 0.2], NONE),
        &[0.5, 0.5, 0.0, 0.0],
    );
}

#[test]
fn eta_cutoff_adapts_to_entropy() {
    let e = |e| SamplerConfig {
        eta: Some(e),
        ..cfg()
    };
    // H(P4) = 1.2799 nats, exp(-H) = 0.2781.
    // eta 0.2: min(0.2, sqrt(0.2) * 0.2781 = 0.1244) = 0.1244.
    assert_close(
        &after("eta", &e(0.2), &P4, NONE),
        &[0.0, 2.0 / 9.0, 3.0 / 9.0, 4.0 / 9.0],
    );
    // eta 0.9: min(0.9, 0.2638) = 0.2638.
    assert_close(
        &after("eta", &e(0.9), &P4, NONE),
        &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0],
    );
    // eta 0.05: min(0.05, 0.0622) = 0.05.
    assert_close(&after("eta", &e(0.05), &P4, NONE), &P4);
}

#[test]
fn typical_keeps_tokens_near_the_entropy() {
    let t = |m| SamplerConfig {
        typical_p: Some(m),
        ..cfg()
    };
    assert_close(
        &after("typical_p", &t(0.5), &[0.97, 0.01, 0.01, 0.01], NONE),
        &[1.0, 0.0, 0.0, 0.0],
    );
    // The most likely token is the least typical here and goes.
    let third = 1.0 / 3.0;
    assert_close(
        &after("typical_p", &t(0.5), &[0.4, 0.2, 0.2, 0.2], NONE),
        &[0.0, third, third, third],
    );
    assert_close(
        &after("typical_p", &t(0.99), &[0.4, 0.2, 0.2, 0.2], NONE),
        &[0.4, 0.2, 0.2, 0.2],
    );
}

#[test]
fn temperature_sharpens_and_flattens() {
    let t = |t| SamplerConfig {
        temperature: t,
        ..cfg()
    };
    let sq: Vec<f32> = P4.iter().map(|p| p * p / 0.30).collect();
    assert_close(&after("temperature", &t(0.5), &P4, NONE), &sq);
    let z: f32 = P4.iter().map(|p| p.sqrt()).sum();
    let rt: Vec<f32> = P4.iter().map(|p| p.sqrt() / z).collect();
    assert_close(&after("temperature", &t(2.0), &P4, NONE), &rt);
    assert!(build_stage("temperature", &t(1.0)).unwrap().is_none());
    assert!(build_stage("temperature", &t(0.0)).unwrap().is_none());
}

#[test]
fn repetition_penalty_divides_positive_and_multiplies_negative_logits() {
    let c = SamplerConfig {
        repetition_penalty: 2.0,
        ..cfg()
    };
    // Token 0 and 1 were seen (in the prompt: repetition covers it); 0 twice, penalized once.
    let out = processed(
        "penalties",
        &c,
        &[2.0, -1.0, 0.5, 0.0],
        History::new(&[0, 1, 0], 3),
    )
    .unwrap();
    assert_eq!(out, vec![1.0, -2.0, 0.5, 0.0]);
}

#[test]
fn frequency_and_presence_count_generated_tokens_only() {
    let c = SamplerConfig {
        frequency_penalty: 0.5,
        presence_penalty: 0.25,
        ..cfg()
    };
    // Token 0 is only in the prompt; token 1 was generated twice, token 2 once.
    let out = processed("penalties", &c, &[1.0; 4], History::new(&[0, 1, 1, 2], 1)).unwrap();
    assert_eq!(out, vec![1.0, -0.25, 0.25, 1.0]);
}

#[test]
fn no_repeat_ngram_bans_completions_of_seen_ngrams() {
    let hist = [1, 2, 3, 1, 2, 4, 2];
    let removed = |n: usize, hist: &[u32]| -> Vec<usize> {
        let c = SamplerConfig {
            no_repeat_ngram: Some(n),
            ..cfg()
        };
        let out = processed("no_repeat_ngram", &c, &[0.0; 6], History::new(hist, 0)).unwrap();
        (0..6).filter(|&i| out[i] == f32::NEG_INFINITY).collect()
    };
    // Prefix [2] was followed by 3 and 4.
    assert_eq!(removed(2, &hist), vec![3, 4]);
    // Prefix [4, 2] never occurred before.
    assert_eq!(removed(3, &hist), Vec::<usize>::new());
    assert_eq!(removed(3, &[1, 2, 3, 1, 2]), vec![3]);
    // n = 1 bans every seen token.
    assert_eq!(removed(1, &hist), vec![1, 2, 3, 4]);
    // History shorter than n: nothing to ban.
    assert_eq!(removed(4, &[1, 2, 1]), Vec::<usize>::new());
}

#[test]
fn bans_remove_the_last_token_when_the_prefix_ends_the_history() {
    let c = SamplerConfig {
        bad_words: vec![vec![5], vec![1, 2], vec![7, 8, 3]],
        ..cfg()
    };
    let removed = |hist: &[u32]| -> Vec<usize> {
        let out = processed("bans", &c, &[0.0; 10], History::new(hist, 0)).unwrap();
        (0..10).filter(|&i| out[i] == f32::NEG_INFINITY).collect()
    };
    assert_eq!(removed(&[]), vec![5]);
    assert_eq!(removed(&[4, 1]), vec![2, 5]);
    assert_eq!(removed(&[1, 4]), vec![5]);
    assert_eq!(removed(&[0, 7, 8]), vec![3, 5]);
    // As in HF, a sequence longer than the history does not apply yet.
    assert_eq!(removed(&[7, 8]), vec![5]);
}

#[test]
fn logit_bias_adds_and_minus_infinity_removes() {
    let c = SamplerConfig {
        logit_bias: vec![(1, 2.0), (3, f32::NEG_INFINITY), (99, 5.0)],
        ..cfg()
    };
    let out = processed("logit_bias", &c, &[0.0, 0.5, 1.0, 1.5], NONE).unwrap();
    assert_eq!(out, vec![0.0, 2.5, 1.0, f32::NEG_INFINITY]);
}

#[test]
fn a_stage_that_removes_everything_is_an_error() {
    let c = SamplerConfig {
        bad_words: vec![vec![0], vec![1]],
        ..cfg()
    };
    assert_eq!(
        processed("bans", &c, &[0.0, 1.0], NONE),
        Err(DecodeError::AllRemoved {
            stage: "bans".into()
        })
    );
}
