//! Speculative decoding on a tiny random target/draft pair sharing a vocabulary
//! (`scripts/golden/make_spec_pair.py`): the first two tokens are distributed exactly as the
//! target's, measured acceptance agrees with α, rejected drafts leave no trace in the caches,
//! and the vocabulary check names what differs.

mod common;

use std::collections::HashMap;

use logitscope::decode::speculative::{Dist, DraftSpec, GammaSchedule};
use logitscope::decode::{History, Sampler, SamplerConfig};
use logitscope::engine::roles::{check_same_vocab, Role};
use logitscope::engine::run::{SpecConfig, SpecRun};
use logitscope::engine::session::Session;
use logitscope::model::cache::CachePolicy;
use logitscope::model::Loaded;

use common::stats::chi2_sf;
use common::{fixture, load};

const PROMPT: &str = "The quick brown fox";

/// How often each (first, second) token pair was drawn.
type PairCounts = HashMap<(u32, u32), usize>;

fn knobs(seed: u64) -> SamplerConfig {
    SamplerConfig {
        temperature: 0.9,
        top_k: Some(6),
        seed,
        ..SamplerConfig::default()
    }
}

fn session(draft: bool) -> Session {
    let mut s = Session::new(load(&fixture("spec-target")), PROMPT, knobs(0)).unwrap();
    if draft {
        s.attach(Role::Draft, load(&fixture("spec-draft"))).unwrap();
    }
    s
}

fn spec(draft: DraftSpec, gamma: usize) -> SpecConfig {
    SpecConfig {
        draft,
        gamma: GammaSchedule {
            gamma,
            adaptive: false,
        },
    }
}

/// The target's processed distribution after `ids`.
fn target_dist(lm: &Loaded, ids: &[u32], prompt_len: usize, cfg: &SamplerConfig) -> Dist {
    let logits = lm
        .model
        .next_logits(ids, &mut lm.model.new_cache())
        .unwrap();
    let sampler = Sampler::new(cfg).unwrap();
    let (mut c, _) = sampler
        .apply_chain(&logits, History::new(ids, prompt_len))
        .unwrap();
    Dist::from_candidates(&mut c, lm.tok.vocab_size())
}

/// Pearson's chi-square over cells pooled to an expected count ≥ 5; returns (X², dof).
fn chi_square(
    counts: &HashMap<(u32, u32), usize>,
    exact: &HashMap<(u32, u32), f64>,
    n: usize,
) -> (f64, usize) {
    let mut cells: Vec<(f64, f64)> = exact
        .iter()
        .map(|(k, &p)| (p * n as f64, *counts.get(k).unwrap_or(&0) as f64))
        .collect();
    let outside: usize = counts
        .iter()
        .filter(|(k, _)| !exact.contains_key(k))
        .map(|(_, c)| c)
        .sum();
    assert_eq!(outside, 0, "pairs the target cannot produce were drawn");
    cells.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut x2, mut dof, mut pool) = (0.0, 0usize, (0.0, 0.0));
    for (e, o) in cells {
        if e >= 5.0 {
            x2 += (o - e).powi(2) / e;
            dof += 1;
        } else {
            pool.0 += e;
            pool.1 += o;
        }
    }
    if pool.0 > 0.0 {
        x2 += (pool.1 - pool.0).powi(2) / pool.0;
        dof += 1;
    }
    (x2, dof - 1)
}

/// The first two tokens of `n` seeded speculative runs, with the first round's (accepted
/// first draft, α) for the acceptance test.
fn first_pairs(s: &mut Session, draft: DraftSpec, n: usize) -> (PairCounts, Vec<(bool, f64)>) {
    let mut counts = HashMap::new();
    let mut first = Vec::new();
    for seed in 0..n as u64 {
        s.set_config(knobs(seed)).unwrap();
        s.set_prompt(PROMPT).unwrap();
        let mut run = SpecRun::new(spec(draft.clone(), 3), s).unwrap();
        while s.steps().len() < 2 {
            let r = run.round(s, usize::MAX).unwrap();
            if r.round == 0 {
                first.push((r.drafted[0].accepted, f64::from(r.alpha)));
            }
        }
        let st = s.steps();
        *counts.entry((st[0].token_id, st[1].token_id)).or_insert(0) += 1;
    }
    (counts, first)
}

/// The target's exact distribution of the first two tokens under `knobs`.
fn exact_pairs(s: &Session) -> HashMap<(u32, u32), f64> {
    let lm = s.loaded();
    let prompt = s.prompt_ids().to_vec();
    let cfg = knobs(0);
    let p1 = target_dist(lm, &prompt, prompt.len(), &cfg);
    let mut out = HashMap::new();
    for (x1, &a) in p1.0.iter().enumerate().filter(|(_, &a)| a > 0.0) {
        let mut ids = prompt.clone();
        ids.push(x1 as u32);
        let p2 = target_dist(lm, &ids, prompt.len(), &cfg);
        for (x2, &b) in p2.0.iter().enumerate().filter(|(_, &b)| b > 0.0) {
            out.insert((x1 as u32, x2 as u32), f64::from(a) * f64::from(b));
        }
    }
    out
}

#[test]
fn first_two_tokens_follow_the_target_and_acceptance_matches_alpha() {
    const N: usize = 12_000;
    let mut s = session(true);
    // One thread: the tiny model's ops are too small to share, and OpenMP's spin-waiting
    // makes a thread pool slow on a busy machine.
    tch::set_num_threads(1);
    let exact = exact_pairs(&s);
    for draft in [
        DraftSpec::Model("spec-draft".into()),
        DraftSpec::SelfLayers(1),
    ] {
        let (counts, first) = first_pairs(&mut s, draft.clone(), N);
        let (x2, dof) = chi_square(&counts, &exact, N);
        let p = chi2_sf(x2, dof);
        eprintln!("{draft}: chi-square {x2:.1} on {dof} dof, p = {p:.4}");
        assert!(
            p > 0.001,
            "{draft}: first two tokens differ from the target (p = {p})"
        );

        // First drafted token of each first round: accepted with probability exactly α.
        let m = first.len() as f64;
        let rate = first.iter().filter(|(a, _)| *a).count() as f64 / m;
        let alpha = first.iter().map(|(_, a)| a).sum::<f64>() / m;
        let se = (first.iter().map(|(_, a)| a * (1.0 - a)).sum::<f64>()).sqrt() / m;
        eprintln!("{draft}: acceptance {rate:.4} vs mean α {alpha:.4} (SE {se:.4})");
        assert!(
            alpha > 0.05 && alpha < 0.95,
            "{draft}: α {alpha} leaves nothing to test"
        );
        assert!(
            (rate - alpha).abs() < 3.0 * se,
            "{draft}: acceptance {rate} vs α {alpha} ± {se}"
        );
    }
}

#[test]
fn rejected_drafts_leave_the_caches_as_if_never_seen() {
    let mut s = session(true);
    tch::set_num_threads(1);
    let mut run = SpecRun::new(spec(DraftSpec::Model("spec-draft".into()), 4), &s).unwrap();
    let mut rejections = 0;
    for seed in 0..40 {
        s.set_config(knobs(seed)).unwrap();
        let r = run.round(&mut s, usize::MAX).unwrap();
        if r.resampled.is_some() {
            rejections += 1;
            // What the session computes next from its rolled-back caches...
            let next = s.pending_logits().unwrap();
            // ...equals a session that only ever saw the emitted tokens, fed one by one.
            let mut fresh = session(false);
            for st in s.steps() {
                fresh.take(st.token_id).unwrap();
            }
            let want = fresh.pending_logits().unwrap();
            let d = max_diff(&next, &want);
            assert!(d < 1e-4, "logits after a rejection differ by {d}");
        }
        if s.finished() || s.steps().len() > 60 {
            break;
        }
    }
    assert!(rejections > 0, "no rejection happened");
}

/// Under a bounded policy a rejected verification forward may have evicted slots: restoring
/// the checkpoint brings back exactly the cache before it (same logits, bit for bit).
#[test]
fn a_checkpoint_survives_evictions() {
    let lm = load(&fixture("spec-target"));
    tch::set_num_threads(1);
    let m = &lm.model;
    let mut cache = m.new_cache_with(CachePolicy::Sinks { s: 2, w: 6 });
    m.next_logits(&[5, 9, 13, 17, 21, 25], &mut cache).unwrap();
    let cp = cache.checkpoint();
    let (len, evicted) = (cache.len(), cache.evicted());
    let before = m.next_logits(&[40], &mut cache).unwrap();
    cache.restore(cp).unwrap();
    let cp = cache.checkpoint();
    // Four drafts that force evictions, then rejected.
    m.next_logits(&[50, 51, 52, 53], &mut cache).unwrap();
    assert!(cache.evicted() > evicted, "the drafts must evict something");
    cache.restore(cp).unwrap();
    assert_eq!((cache.len(), cache.evicted()), (len, evicted));
    let after = m.next_logits(&[40], &mut cache).unwrap();
    assert_eq!(before, after);
    // A cache cut back and rewritten since cannot go back to an older checkpoint.
    let cp = cache.checkpoint();
    cache.truncate(3);
    assert!(cache.restore(cp).is_err());
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A tokenizer file like the pair's, edited by `change`.
fn edited_tok(
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> logitscope::model::tokenizer::Tok {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("spec-draft/tokenizer.json")).unwrap();
    let mut j: serde_json::Value = serde_json::from_str(&text).unwrap();
    change(j["model"]["vocab"].as_object_mut().unwrap());
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, j.to_string()).unwrap();
    logitscope::model::tokenizer::Tok::from_file(&path).unwrap()
}

#[test]
fn a_draft_with_another_vocabulary_is_refused_in_one_line() {
    let target = load(&fixture("spec-target"));
    // The tiny GPT-2 was trained with the same tokenizer: accepted.
    let gpt2 = load(&fixture("tiny-gpt2"));
    check_same_vocab(&target.tok, "target", &gpt2.tok, "gpt2").unwrap();

    let swapped = edited_tok(|v| {
        let (a, b) = (v["Ġthe"].clone(), v["Ġfox"].clone());
        v.insert("Ġthe".into(), b);
        v.insert("Ġfox".into(), a);
    });
    let err = check_same_vocab(&target.tok, "target", &swapped, "draft").unwrap_err();
    assert!(!err.contains('\n'));
    assert!(
        err.contains("draft does not share the target's vocabulary: token "),
        "{err}"
    );
    assert!(
        err.contains("\" the\"") && err.contains("\" fox\""),
        "{err}"
    );

    let bigger = edited_tok(|v| {
        v.insert("zzzz".into(), serde_json::json!(373));
    });
    let err = check_same_vocab(&target.tok, "target", &bigger, "draft").unwrap_err();
    assert_eq!(
        err,
        "draft does not share the target's vocabulary: 374 tokens vs 373 in target"
    );
}
