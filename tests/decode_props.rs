//! Property tests of the sampler chain.

use logitscope::decode::{
    build_stage, by_rank, Candidate, Chain, History, Sampler, SamplerConfig, DEFAULT_ORDER,
};
use proptest::prelude::*;

fn logits(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-20.0f32..20.0, 1..max_len)
}

/// Any valid mix of knobs, bans excluded (they may legitimately remove everything).
fn knobs() -> impl Strategy<Value = SamplerConfig> {
    (
        (
            prop::option::of(0.05f32..3.0),
            prop::option::of(1usize..40),
            prop::option::of(0.05f32..1.0),
            prop::option::of(0.0f32..1.0),
        ),
        (
            prop::option::of(0.0f32..0.5),
            prop::option::of(0.0f32..0.5),
            prop::option::of(0.05f32..1.0),
            0.5f32..2.0,
            1usize..4,
        ),
        any::<u64>(),
    )
        .prop_map(
            |((t, k, p, m), (e, eta, typ, rep, min_keep), seed)| SamplerConfig {
                temperature: t.unwrap_or(1.0),
                top_k: k,
                top_p: p,
                min_p: m,
                epsilon: e,
                eta,
                typical_p: typ,
                repetition_penalty: rep,
                frequency_penalty: 0.3,
                presence_penalty: 0.1,
                min_keep,
                seed,
                ..SamplerConfig::default()
            },
        )
}

/// Final probabilities per id (0 where removed) of `cfg`'s chain.
fn final_probs(cfg: &SamplerConfig, logits: &[f32], history: History<'_>) -> Vec<f32> {
    let (c, _) = Sampler::new(cfg)
        .unwrap()
        .apply_chain(logits, history)
        .unwrap();
    let mut out = vec![0.0; logits.len()];
    for x in c.items() {
        out[x.id as usize] = x.p;
    }
    out
}

fn chain(names: &[&str], cfg: &SamplerConfig) -> Chain {
    Chain::new(
        names
            .iter()
            .map(|n| build_stage(n, cfg).unwrap().expect("active stage"))
            .collect(),
    )
}

/// Ids sorted best first under the raw logits.
fn ranked(logits: &[f32]) -> Vec<Candidate> {
    let mut v: Vec<Candidate> = logits
        .iter()
        .enumerate()
        .map(|(i, &logit)| Candidate {
            id: i as u32,
            logit,
            p: 0.0,
        })
        .collect();
    v.sort_by(by_rank);
    v
}

proptest! {
    #[test]
    fn the_output_is_a_distribution(logits in logits(300), cfg in knobs()) {
        let hist: Vec<u32> = (0..logits.len() as u32).step_by(3).collect();
        let p = final_probs(&cfg, &logits, History::new(&hist, hist.len() / 2));
        prop_assert!(p.iter().all(|&x| (0.0..=1.0).contains(&x)));
        let sum: f64 = p.iter().map(|&x| x as f64).sum();
        prop_assert!((sum - 1.0).abs() < 1e-4, "sum {}", sum);
        prop_assert!(p.iter().filter(|&&x| x > 0.0).count() >= 1);
    }

    #[test]
    fn top_k_keeps_k_plus_ties(logits in logits(200), k in 1usize..50) {
        let cfg = SamplerConfig { top_k: Some(k), ..SamplerConfig::default() };
        let out = chain(&["top_k"], &cfg).process(&logits, History::default()).unwrap();
        let kept = out.iter().filter(|l| l.is_finite()).count();
        let r = ranked(&logits);
        let expect = if k >= r.len() {
            r.len()
        } else {
            r.iter().filter(|x| x.logit >= r[k - 1].logit).count()
        };
        prop_assert_eq!(kept, expect);
        // Kept logits are untouched.
        for (o, l) in out.iter().zip(&logits) {
            prop_assert!(*o == f32::NEG_INFINITY || o == l);
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_prefix_with_mass_p(logits in logits(200), p in 0.01f32..1.0) {
        let cfg = SamplerConfig { top_p: Some(p), top_k: None, ..SamplerConfig::default() };
        let probs = final_probs(&SamplerConfig { top_p: None, ..cfg.clone() }, &logits, History::default());
        let out = chain(&["top_p"], &cfg).process(&logits, History::default()).unwrap();
        let r = ranked(&logits);
        let kept = out.iter().filter(|l| l.is_finite()).count();
        // The kept set is a rank prefix ...
        for (i, x) in r.iter().enumerate() {
            prop_assert_eq!(out[x.id as usize].is_finite(), i < kept);
        }
        // ... whose mass reaches p, while one fewer does not.
        let mass = |n: usize| r[..n].iter().map(|x| probs[x.id as usize] as f64).sum::<f64>();
        prop_assert!(mass(kept) >= p as f64 - 1e-5 || kept == r.len());
        prop_assert!(mass(kept - 1) < p as f64 + 1e-5);
    }

    #[test]
    fn temperature_towards_zero_is_greedy(logits in logits(100), u in 0.0f64..1.0) {
        let r = ranked(&logits);
        prop_assume!(r.len() < 2 || r[0].logit - r[1].logit > 0.05);
        let cfg = SamplerConfig { temperature: 1e-3, top_k: None, ..SamplerConfig::default() };
        let s = Sampler::new(&cfg).unwrap();
        let sampled = s.replay(&logits, History::default(), Some(u)).unwrap();
        let greedy = s.replay(&logits, History::default(), None).unwrap();
        prop_assert_eq!(sampled.chosen.id, r[0].id);
        prop_assert_eq!(greedy.chosen.id, r[0].id);
    }

    #[test]
    fn commuting_stages_are_order_independent(
        logits in logits(120),
        k in 1usize..30,
        min_p in 0.01f32..0.9,
        t in 0.2f32..0.9,
        bias in prop::collection::vec((0u32..120, -3.0f32..3.0), 1..6),
        hist in prop::collection::vec(0u32..120, 0..30),
        n in 1usize..4,
        banned in prop::collection::vec(0u32..120, 1..4),
    ) {
        let mut bias = bias;
        bias.sort_by_key(|b| b.0);
        bias.dedup_by_key(|b| b.0);
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        // Keep logits away from min-p's boundary, where rounding may decide differently.
        prop_assume!(logits.iter().all(|l| (l - (max + min_p.ln())).abs() > 1e-3));
        let cfg = SamplerConfig {
            top_k: Some(k),
            min_p: Some(min_p),
            temperature: t,
            logit_bias: bias,
            frequency_penalty: 0.7,
            presence_penalty: 0.4,
            no_repeat_ngram: Some(n),
            bad_words: banned.into_iter().map(|b| vec![b]).collect(),
            ..SamplerConfig::default()
        };
        let h = History::new(&hist, hist.len() / 2);
        for (a, b) in [
            ("top_k", "min_p"),
            ("temperature", "top_k"),
            ("logit_bias", "penalties"),
            ("bans", "no_repeat_ngram"),
        ] {
            let ab = chain(&[a, b], &cfg).process(&logits, h);
            let ba = chain(&[b, a], &cfg).process(&logits, h);
            match (ab, ba) {
                (Ok(ab), Ok(ba)) => {
                    for (x, y) in ab.iter().zip(&ba) {
                        prop_assert!(x == y || (x - y).abs() <= 1e-5 * x.abs().max(1.0),
                            "{} then {} != {} then {}", a, b, b, a);
                    }
                }
                (ab, ba) => prop_assert_eq!(ab.is_err(), ba.is_err()),
            }
        }
    }

    #[test]
    fn a_step_is_replayed_exactly_from_its_draw(logits in logits(200), cfg in knobs(), steps in 1usize..5) {
        let mut s = Sampler::new(&cfg).unwrap();
        let hist = [1u32, 2, 3];
        for _ in 0..steps {
            let t = s.step(&logits, History::new(&hist, 1)).unwrap();
            let again = s.replay(&logits, History::new(&hist, 1), t.chosen.draw).unwrap();
            prop_assert_eq!(t, again);
        }
    }
}

#[test]
fn default_order_lists_every_stage_once() {
    let mut names = DEFAULT_ORDER.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), DEFAULT_ORDER.len());
}
