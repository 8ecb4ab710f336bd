//! Crowds on the real model: every row of a batched crowd replays alone with its seed, the
//! rows' first tokens follow the model's processed distribution, MBR's matrix is sacrebleu's
//! chrF of the samples, a vote counts the answers, an ensemble of a prompt with itself is the
//! prompt alone; and the CLI's select record and its one-line errors.

mod common;

use assert_cmd::Command;
use logitscope::decode::crowd::{Selection, Utility};
use logitscope::decode::sampler::Sampler;
use logitscope::decode::select::metrics::chrf;
use logitscope::decode::stage::History;
use logitscope::decode::SamplerConfig;
use logitscope::engine::crowd::{CrowdConfig, CrowdRun};
use logitscope::engine::session::Session;
use logitscope::model::Loaded;
use serde_json::Value;

const PROMPT: &str = "Once upon a time, in a small village by the sea,";

fn knobs(seed: u64) -> SamplerConfig {
    SamplerConfig {
        temperature: 0.9,
        top_k: Some(40),
        seed,
        ..SamplerConfig::default()
    }
}

fn crowd(lm: &Loaded, knobs: &SamplerConfig, cfg: CrowdConfig) -> CrowdRun {
    let ids = lm.tok.encode(PROMPT).unwrap();
    let mut run = CrowdRun::start(lm, &ids, knobs, cfg).unwrap();
    while !run.is_done() {
        run.step(lm).unwrap();
    }
    run
}

#[test]
fn every_row_of_a_batched_crowd_replays_alone_with_its_seed() {
    let Some(path) = common::default_model() else {
        return;
    };
    let lm = common::load(&path);
    let cfg = CrowdConfig {
        samples: 6,
        max_tokens: 20,
        select: Selection::Mbr(Utility::Chrf),
        answer_regex: None,
    };
    let run = crowd(&lm, &knobs(11), cfg);
    let view = run.view();
    let mut s = Session::new(lm, PROMPT, knobs(0)).unwrap();
    let mut distinct = std::collections::HashSet::new();
    for smp in &view.samples {
        distinct.insert(smp.ids.clone());
        s.set_prompt(PROMPT).unwrap();
        s.set_config(SamplerConfig {
            seed: smp.seed,
            ..knobs(11)
        })
        .unwrap();
        for _ in 0..smp.ids.len() {
            s.step().unwrap();
        }
        let alone: Vec<u32> = s.steps().iter().map(|r| r.token_id).collect();
        assert_eq!(alone, smp.ids, "row {} alone", smp.row);
    }
    assert!(distinct.len() >= 4, "the rows draw different samples");
}

#[test]
fn the_rows_first_tokens_follow_the_models_processed_distribution() {
    let Some(path) = common::default_model() else {
        return;
    };
    let lm = common::load(&path);
    let k = knobs(0);
    // The distribution every row's first token is drawn from.
    let ids = lm.tok.encode(PROMPT).unwrap();
    let mut cache = lm.model.new_cache();
    let logits = lm.model.next_logits(&ids, &mut cache).unwrap();
    let (c, _) = Sampler::new(&k)
        .unwrap()
        .apply_chain(&logits, History::new(&ids, ids.len()))
        .unwrap();
    let p: Vec<(u32, f64)> = c.items().iter().map(|x| (x.id, x.p as f64)).collect();
    let mut counts = std::collections::HashMap::new();
    let mut n = 0;
    for seed in 0..6 {
        let cfg = CrowdConfig {
            samples: 64,
            max_tokens: 1,
            select: Selection::Vote { weighted: false },
            answer_regex: None,
        };
        for smp in crowd(&lm, &knobs(seed), cfg).view().samples {
            *counts.entry(smp.ids[0]).or_insert(0usize) += 1;
            n += 1;
        }
    }
    // Pool the tail so every cell expects at least 5.
    let mut cells: Vec<(f64, usize)> = Vec::new();
    let (mut tail_p, mut tail_n) = (0.0, 0);
    for (id, q) in &p {
        let seen = counts.get(id).copied().unwrap_or(0);
        if q * n as f64 >= 5.0 {
            cells.push((*q, seen));
        } else {
            tail_p += q;
            tail_n += seen;
        }
    }
    cells.push((tail_p, tail_n));
    let x2: f64 = cells
        .iter()
        .map(|&(q, o)| {
            let e = q * n as f64;
            (o as f64 - e).powi(2) / e.max(1e-9)
        })
        .sum();
    let pv = common::stats::chi2_sf(x2, cells.len() - 1);
    eprintln!(
        "first tokens: {n} draws, {} cells, chi2 {x2:.1}, p = {pv:.3}",
        cells.len()
    );
    assert!(pv > 1e-3, "p = {pv}");
}

fn json_lines(args: &[&str]) -> Vec<Value> {
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn mbr_json_is_the_chrf_matrix_of_the_samples_and_its_argmax() {
    let Some(path) = common::default_model() else {
        return;
    };
    let model = path.to_str().unwrap();
    let recs = json_lines(&[
        "generate",
        "--model",
        model,
        "--prompt",
        PROMPT,
        "--samples",
        "5",
        "--max-tokens",
        "12",
        "--epsilon",
        "0.02",
        "--seed",
        "3",
        "--json",
    ]);
    let sel = recs.last().unwrap();
    assert_eq!(sel["type"], "select");
    assert_eq!(
        (sel["method"].as_str(), sel["utility"].as_str()),
        (Some("mbr"), Some("chrf"))
    );
    let texts: Vec<&str> = sel["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    let m = sel["matrix"].as_array().unwrap();
    let expected: Vec<f64> = sel["expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    for i in 0..5 {
        for j in 0..5 {
            let got = m[i][j].as_f64().unwrap();
            assert!((got - chrf(texts[i], texts[j])).abs() < 1e-9, "U({i},{j})");
        }
        let mean = (0..5)
            .filter(|&j| j != i)
            .map(|j| m[i][j].as_f64().unwrap())
            .sum::<f64>()
            / 4.0;
        assert!((expected[i] - mean).abs() < 1e-9);
    }
    let best = (0..5)
        .max_by(|&a, &b| expected[a].total_cmp(&expected[b]).then(b.cmp(&a)))
        .unwrap();
    assert_eq!(sel["chosen"].as_u64(), Some(best as u64));
    // Each row's step records come first, tagged with their row.
    let rows: std::collections::BTreeSet<u64> = recs
        .iter()
        .filter(|r| r["type"] == "step")
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
}

#[test]
fn a_vote_counts_the_extracted_answers() {
    let Some(path) = common::default_model() else {
        return;
    };
    let model = path.to_str().unwrap();
    let recs = json_lines(&[
        "generate",
        "--model",
        model,
        "--prompt",
        "Question: what is 6 times 7? Answer:",
        "--samples",
        "8",
        "--max-tokens",
        "8",
        "--select",
        "vote",
        "--temperature",
        "0.7",
        "--seed",
        "5",
        "--json",
    ]);
    let sel = recs.last().unwrap();
    let samples = sel["samples"].as_array().unwrap();
    let answered: Vec<&str> = samples
        .iter()
        .filter_map(|s| s["answer"].as_str())
        .collect();
    let votes = sel["votes"].as_object().unwrap();
    let total: f64 = votes.values().map(|v| v.as_f64().unwrap()).sum();
    assert_eq!(total as usize, answered.len());
    for (a, n) in votes {
        assert_eq!(
            answered.iter().filter(|x| *x == a).count() as f64,
            n.as_f64().unwrap()
        );
    }
    if let Some(top) = votes.values().map(|v| v.as_f64().unwrap()).reduce(f64::max) {
        let chosen = &samples[sel["chosen"].as_u64().unwrap() as usize];
        assert_eq!(
            votes[chosen["answer"].as_str().unwrap()].as_f64().unwrap(),
            top
        );
    }
}

#[test]
fn an_ensemble_of_a_prompt_with_itself_is_the_prompt_alone() {
    let Some(path) = common::default_model() else {
        return;
    };
    let model = path.to_str().unwrap();
    let base = [
        "generate",
        "--model",
        model,
        "--prompt",
        PROMPT,
        "--max-tokens",
        "10",
        "--greedy",
        "--json",
    ];
    let plain = json_lines(&base);
    for combine in ["mean", "product"] {
        let mut args = base.to_vec();
        args.extend(["--ensemble-prompt", PROMPT, "--combine", combine]);
        let ens = json_lines(&args);
        for (a, b) in plain.iter().zip(&ens).filter(|(a, _)| a["type"] == "step") {
            assert_eq!(a["token_id"], b["token_id"], "{combine}");
            let d = &b["stages"][0]["detail"]["candidates"][0];
            let m = d["members"].as_array().unwrap();
            let (x, y) = (m[0].as_f64().unwrap(), m[1].as_f64().unwrap());
            // The member runs the same ids through its own cache: equal up to rounding.
            assert!((x - y).abs() < 1e-6 * x.max(1e-3), "{x} vs {y}");
        }
    }
}

#[test]
fn bad_crowd_and_ensemble_options_are_one_line_errors() {
    let Some(path) = common::default_model() else {
        return;
    };
    let model = path.to_str().unwrap();
    for (args, says) in [
        (vec!["--samples", "0"], "--samples must be 1..=64"),
        (
            vec!["--samples", "3", "--select", "best"],
            "expected mbr:chrf",
        ),
        (
            vec!["--samples", "3", "--select", "vote", "--answer-regex", "("],
            "--answer-regex",
        ),
        (
            vec!["--ensemble-prompt", "x", "--combine", "max"],
            "expected mean or product",
        ),
        (
            vec!["--samples", "3", "--amateur", "self:4"],
            "do not combine",
        ),
        (vec!["--amateur", "self:40"], "L must be 1..=29"),
        (vec!["--dola-layers", "50"], "selects no layer"),
    ] {
        let mut all = vec![
            "generate",
            "--model",
            model,
            "--prompt",
            "Hi",
            "--max-tokens",
            "2",
        ];
        all.extend(args);
        let out = Command::cargo_bin("logitscope")
            .unwrap()
            .args(&all)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{all:?}: {err}");
    }
}
