//! Steering (FUDGE, RAD): the stages' maths on hand-made candidates against an independent
//! f64 computation (a grammar mask in front of them included), probe training on a separable
//! toy set, batched candidate scoring against one-by-one scoring on the real model, and the
//! command line's errors and JSON.

mod common;

use std::sync::Arc;

use assert_cmd::Command;
use logitscope::decode::contrast::Signals;
use logitscope::decode::grammar::{GrammarKind, GrammarMask, GrammarSpec};
use logitscope::decode::steer::{SteerKnobs, SteerScores};
use logitscope::decode::trace::StageDetail;
use logitscope::decode::{History, Sampler, SamplerConfig};
use logitscope::steer::features::{candidate_streams, prefix_feature, rows_at_layer};
use logitscope::steer::probe::{fit_logistic, Probe};

// ---------------------------------------------------------------- the stages, no model

/// Ten tokens with uneven logits.
const LOGITS: [f32; 10] = [2.0, 1.5, 1.4, 0.3, 0.0, -0.5, -1.0, -2.0, -2.5, -3.0];

fn knobs(weight: f32, top_k: usize) -> SteerKnobs {
    SteerKnobs {
        spec: "unused".into(),
        weight,
        top_k,
    }
}

fn scores() -> SteerScores {
    // Scored in raw rank order, as the engine does; token 9 is scored but never in a top-k.
    SteerScores {
        ids: vec![0, 1, 2, 3, 4, 9],
        scores: vec![-3.0, -0.1, -1.2, -0.05, -0.7, -0.01],
    }
}

/// The final distribution of a steered step as (id, p), computed in f64 from scratch:
/// the `k` best of `allowed` by raw logit, each at log p + w·s, renormalised.
fn reference(allowed: &[u32], k: usize, w: f64, sc: &SteerScores) -> Vec<(u32, f64)> {
    let lse = |v: &[f64]| {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    };
    let live: Vec<u32> = allowed.to_vec();
    let z = lse(&live
        .iter()
        .map(|&i| LOGITS[i as usize] as f64)
        .collect::<Vec<_>>());
    let mut ranked: Vec<u32> = live
        .iter()
        .copied()
        .filter(|id| sc.ids.contains(id))
        .collect();
    ranked.sort_by(|a, b| LOGITS[*b as usize].total_cmp(&LOGITS[*a as usize]));
    ranked.truncate(k);
    let new: Vec<f64> = ranked
        .iter()
        .map(|&id| {
            let s = sc.scores[sc.ids.iter().position(|&x| x == id).unwrap()] as f64;
            LOGITS[id as usize] as f64 - z + w * s
        })
        .collect();
    let z2 = lse(&new);
    ranked
        .iter()
        .zip(new)
        .map(|(&id, v)| (id, (v - z2).exp()))
        .collect()
}

fn run(cfg: &SamplerConfig, s: &Signals) -> logitscope::decode::StepTrace {
    Sampler::new(cfg)
        .unwrap()
        .replay(&LOGITS, History::new(&[], 0).with_signals(s), Some(0.5))
        .unwrap()
}

fn check_against_reference(trace: &logitscope::decode::StepTrace, want: &[(u32, f64)]) {
    assert_eq!(trace.kept, want.len(), "{:?}", trace.final_top);
    for &(id, p) in want {
        let got = trace
            .final_top
            .iter()
            .find(|x| x.0 == id)
            .unwrap_or_else(|| panic!("{id} kept"))
            .1 as f64;
        assert!((got - p).abs() < 1e-6, "id {id}: {got} vs {p}");
    }
}

#[test]
fn fudge_adds_lambda_log_p_attribute_to_the_top_k_and_removes_the_rest() {
    for (lambda, k) in [(0.0, 4), (1.0, 4), (3.5, 3), (2.0, 100)] {
        let cfg = SamplerConfig {
            fudge: Some(knobs(lambda, k)),
            top_k: None,
            ..SamplerConfig::default()
        };
        let s = Signals {
            fudge: Some(scores()),
            ..Signals::default()
        };
        let trace = run(&cfg, &s);
        let all: Vec<u32> = (0..10).collect();
        check_against_reference(&trace, &reference(&all, k, lambda as f64, &scores()));
        let st = &trace.stages[0];
        assert_eq!(st.name, "fudge");
        let Some(StageDetail::Steer { rows }) = &st.detail else {
            panic!("no detail")
        };
        for r in rows {
            assert!((r.combined - (r.lm_logprob + lambda * r.score)).abs() < 1e-5);
        }
        // Best combined first.
        assert!(rows.windows(2).all(|w| w[0].combined >= w[1].combined));
    }
}

#[test]
fn rad_adds_beta_times_the_reward_after_the_grammar_mask() {
    // The mask forbids 0 and 2: RAD's top-3 are then 1, 3, 4 (renormalised over the allowed).
    let allowed = [1, 3, 4, 5, 6, 7, 8, 9];
    let mask = GrammarMask::from_ids(10, &allowed, false);
    let cfg = SamplerConfig {
        grammar: Some(GrammarSpec::new(GrammarKind::Regex, "x")),
        rad: Some(SteerKnobs {
            spec: "lexicon:sentiment".into(),
            ..knobs(10.0, 3)
        }),
        top_k: None,
        ..SamplerConfig::default()
    };
    let s = Signals {
        grammar: Some(Arc::new(mask)),
        rad: Some(scores()),
        ..Signals::default()
    };
    let trace = run(&cfg, &s);
    assert_eq!(trace.stages[0].name, "grammar");
    assert_eq!(trace.stages[1].name, "rad");
    let want = reference(&allowed, 3, 10.0, &scores());
    assert_eq!(want.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 3, 4]);
    check_against_reference(&trace, &want);
}

#[test]
fn without_scores_the_stage_changes_nothing() {
    let cfg = SamplerConfig {
        fudge: Some(knobs(5.0, 2)),
        top_k: None,
        ..SamplerConfig::default()
    };
    let trace = run(&cfg, &Signals::default());
    assert_eq!(trace.kept, 10);
}

// ---------------------------------------------------------------- probe training

/// A deterministic pseudo-random stream in [-1, 1).
fn noise(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

#[test]
fn training_converges_on_a_separable_toy_set() {
    // 200 points in 8 dimensions; the label is the side of the plane 2·x0 − x3 = 0.5, with a
    // margin of 0.2 kept clear.
    let mut seed = 7;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    while xs.len() < 200 {
        let x: Vec<f32> = (0..8).map(|_| noise(&mut seed) * 3.0).collect();
        let s = 2.0 * x[0] - x[3] - 0.5;
        if s.abs() < 0.2 {
            continue;
        }
        ys.push(s > 0.0);
        xs.push(x);
    }
    let fit = fit_logistic(&xs, &ys, 1e-3, 50).unwrap();
    assert_eq!(fit.accuracy(&xs, &ys), 1.0);
    assert!(fit.loss < 0.05, "loss {}", fit.loss);
    assert!(fit.iterations < 50, "{} iterations", fit.iterations);
    // The learned direction (back in raw units) is the true one.
    let w: Vec<f32> = (0..8).map(|i| fit.weights[i] / fit.std[i]).collect();
    let norm = w.iter().map(|v| v * v).sum::<f32>().sqrt();
    let cos = (2.0 * w[0] - w[3]) / (norm * 5f32.sqrt());
    assert!(cos > 0.95, "cosine {cos}");
    // Labels that no plane separates are not learned perfectly.
    let shuffled: Vec<bool> = (0..200).map(|i| (i * 7919) % 13 < 6).collect();
    let fit = fit_logistic(&xs, &shuffled, 1e-3, 50).unwrap();
    assert!(fit.accuracy(&xs, &shuffled) < 0.9);
}

// ---------------------------------------------------------------- the real model

fn shipped_probe() -> Probe {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/probes/science.probe.json");
    Probe::load(&p).expect("the shipped probe loads")
}

#[test]
fn batched_candidate_scores_equal_one_by_one_scores() {
    let Some(path) = common::default_model() else {
        return;
    };
    tch::set_num_threads(1);
    let lm = logitscope::model::load(&path, logitscope::model::Dtype::F32, &mut |_, _| {}).unwrap();
    let probe = shipped_probe();
    let prefix = lm.tok.encode("My favourite subject at school was").unwrap();
    let mut cache = lm.model.new_cache();
    lm.model.next_logits(&prefix, &mut cache).unwrap();
    let ids: Vec<u32> = vec![5566, 28, 260, 1699, 8373, 30, 7042, 2];
    let streams = candidate_streams(&lm.model, &mut cache, &ids).unwrap();
    assert_eq!(cache.len(), prefix.len(), "the cache is restored");
    let layers = lm.model.config().layers;
    let mut worst = 0f32;
    for layer in [probe.layer, layers / 2] {
        let batched = rows_at_layer(&lm.model, &streams, layer);
        for (i, &id) in ids.iter().enumerate() {
            let mut seq = prefix.clone();
            seq.push(id);
            let single = prefix_feature(&lm.model, &seq, layer).unwrap();
            let scale = single.iter().map(|v| v.abs()).fold(1.0, f32::max);
            for (a, b) in batched[i].iter().zip(&single) {
                assert!(
                    (a - b).abs() <= 1e-4 * scale,
                    "layer {layer} id {id}: {a} vs {b}"
                );
            }
            if layer == probe.layer {
                let d = (probe.log_prob(&batched[i]) - probe.log_prob(&single)).abs();
                worst = worst.max(d);
            }
        }
    }
    eprintln!("max |Δ log P(attribute)| batched vs one by one: {worst:.2e}");
    assert!(worst < 1e-5, "{worst}");
}

fn bin() -> Command {
    Command::cargo_bin("logitscope").unwrap()
}

/// Runs the binary expecting exit code 2 and one `error:` line; returns it.
fn fails(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error:"), "{err}");
    err
}

#[test]
fn bad_steering_input_is_one_line_and_exit_2() {
    let Some(_) = common::default_model() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let generate = |extra: &[&str]| {
        let mut a = vec![
            "generate",
            "--prompt",
            "Hi",
            "--max-tokens",
            "1",
            "--threads",
            "1",
        ];
        a.extend_from_slice(extra);
        fails(&a)
    };
    assert!(generate(&["--fudge", "/no/such.probe"]).contains("/no/such.probe"));
    let mut small = shipped_probe();
    small.hidden = 8;
    small.mean.truncate(8);
    small.std.truncate(8);
    small.weights.truncate(8);
    let p = dir.path().join("small.json");
    std::fs::write(&p, serde_json::to_string(&small).unwrap()).unwrap();
    let e = generate(&["--fudge", p.to_str().unwrap()]);
    assert!(e.contains("hidden size 8"), "{e}");
    assert!(generate(&["--fudge", p.to_str().unwrap(), "--fudge-topk", "-1"]).contains("-1"));
    assert!(generate(&["--reward", "lexicon:sentiment", "--reward-topk", "0"]).contains("top-k"));
    assert!(generate(&["--reward", "bleu"]).contains("probe:FILE or lexicon:sentiment"));
    let data = dir.path().join("d.jsonl");
    std::fs::write(&data, "{\"text\": \"a\", \"label\": 1}\n{\"text\": 3}\n").unwrap();
    let out = dir.path().join("p.json");
    let e = fails(&[
        "probe",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn generate_json_carries_the_rad_and_fudge_stages_with_their_scores() {
    let Some(_) = common::default_model() else {
        return;
    };
    let probe =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/probes/science.probe.json");
    let out = bin()
        .args([
            "generate",
            "--prompt",
            "I feel",
            "--max-tokens",
            "2",
            "--json",
            "--threads",
            "1",
        ])
        .args([
            "--reward",
            "lexicon:sentiment",
            "--reward-beta",
            "4",
            "--reward-topk",
            "20",
        ])
        .args([
            "--fudge",
            probe.to_str().unwrap(),
            "--fudge-lambda",
            "2",
            "--fudge-topk",
            "12",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let step: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "step")
        .unwrap();
    let stages = step["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(&names[..2], ["fudge", "rad"]);
    let fudge = stages[0]["detail"]["candidates"].as_array().unwrap();
    assert_eq!(fudge.len(), 12);
    for c in fudge {
        let (lm, s, comb) = (
            c["lm_logprob"].as_f64().unwrap(),
            c["score"].as_f64().unwrap(),
            c["combined"].as_f64().unwrap(),
        );
        assert!(s <= 0.0, "a log-probability");
        assert!((comb - (lm + 2.0 * s)).abs() < 1e-4);
    }
    // RAD runs on FUDGE's 12 survivors.
    let rad = stages[1]["detail"]["candidates"].as_array().unwrap();
    assert!(rad.len() <= 12 && !rad.is_empty());
    for c in rad {
        let (lm, s, comb) = (
            c["lm_logprob"].as_f64().unwrap(),
            c["score"].as_f64().unwrap(),
            c["combined"].as_f64().unwrap(),
        );
        assert!((comb - (lm + 4.0 * s)).abs() < 1e-4);
    }
}
