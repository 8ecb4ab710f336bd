//! The sampler stages against Hugging Face's LogitsProcessors on real SmolLM2 logits
//! (fixtures from `scripts/golden/make_processors.py`): same kept set, probabilities within
//! 1e-6.

mod common;

use logitscope::decode::config::SamplerConfig;
use logitscope::decode::sampler::apply_stages;
use logitscope::decode::stage::History;
use serde_json::Value;

const PROB_TOL: f64 = 1e-6;

/// Row `i` of the binary logits file.
fn row(bytes: &[u8], i: usize, width: usize) -> Vec<f32> {
    bytes[i * width * 4..(i + 1) * width * 4]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Softmax (f64) over the finite entries; removed entries are `None`.
fn probs(logits: &[f32]) -> Vec<Option<f64>> {
    let max = logits
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f32::MIN, f32::max) as f64;
    let z: f64 = logits
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| (x as f64 - max).exp())
        .sum();
    logits
        .iter()
        .map(|&x| x.is_finite().then(|| (x as f64 - max).exp() / z))
        .collect()
}

/// Our knobs for one HF processor; returns the stage name.
fn apply_hf(cfg: &mut SamplerConfig, name: &str, p: &Value) -> &'static str {
    let f = |k: &str| p[k].as_f64().unwrap() as f32;
    match name {
        "TemperatureLogitsWarper" => {
            cfg.temperature = f("temperature");
            "temperature"
        }
        "TopKLogitsWarper" => {
            cfg.top_k = Some(p["top_k"].as_u64().unwrap() as usize);
            "top_k"
        }
        "TopPLogitsWarper" => {
            cfg.top_p = Some(f("top_p"));
            "top_p"
        }
        "MinPLogitsWarper" => {
            cfg.min_p = Some(f("min_p"));
            "min_p"
        }
        "EpsilonLogitsWarper" => {
            cfg.epsilon = Some(f("epsilon"));
            "epsilon"
        }
        "EtaLogitsWarper" => {
            cfg.eta = Some(f("epsilon"));
            "eta"
        }
        "TypicalLogitsWarper" => {
            cfg.typical_p = Some(f("mass"));
            "typical_p"
        }
        "RepetitionPenaltyLogitsProcessor" => {
            cfg.repetition_penalty = f("penalty");
            "penalties"
        }
        "NoRepeatNGramLogitsProcessor" => {
            cfg.no_repeat_ngram = Some(p["ngram_size"].as_u64().unwrap() as usize);
            "no_repeat_ngram"
        }
        "NoBadWordsLogitsProcessor" => {
            cfg.bad_words = p["bad_words_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap() as u32)
                        .collect()
                })
                .collect();
            "bans"
        }
        other => panic!("unknown processor {other}"),
    }
}

#[test]
fn stages_match_hugging_face_processors() {
    let fx = common::read_json("processors.json");
    let bytes = std::fs::read(common::fixture("processors_logits.f32")).unwrap();
    let width = fx["meta"]["binary"]["row_len"].as_u64().unwrap() as usize;
    let mut matched = std::collections::BTreeSet::new();
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let prompt = &fx["prompts"][case["prompt_index"].as_u64().unwrap() as usize];
        let history: Vec<u32> = prompt["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let raw = row(&bytes, prompt["raw_row"].as_u64().unwrap() as usize, width);
        let mut cfg = SamplerConfig {
            top_k: None,
            order: vec![],
            ..SamplerConfig::default()
        };
        let label = if name == "chain" {
            let stages = case["params"]["stages"].as_array().unwrap();
            for s in stages {
                let stage = apply_hf(&mut cfg, s[0].as_str().unwrap(), &s[1]);
                cfg.order.push(stage.to_string());
                matched.insert(s[0].as_str().unwrap().to_string());
            }
            format!("chain {:?}", cfg.order)
        } else {
            let stage = apply_hf(&mut cfg, name, &case["params"]);
            cfg.order.push(stage.to_string());
            matched.insert(name.to_string());
            name.to_string()
        };
        let ours = apply_stages(&cfg, &raw, History::new(&history, history.len())).unwrap();
        let ours_p = probs(&ours);
        let kept = ours_p.iter().filter(|p| p.is_some()).count();
        assert_eq!(
            kept,
            case["kept_count"].as_u64().unwrap() as usize,
            "{label}: kept count"
        );
        if let Some(r) = case["dense_row"].as_u64() {
            let want = probs(&row(&bytes, r as usize, width));
            for (id, (o, w)) in ours_p.iter().zip(&want).enumerate() {
                match (o, w) {
                    (Some(o), Some(w)) => {
                        assert!(
                            (o - w).abs() < PROB_TOL,
                            "{label}: id {id}: ours {o}, HF {w}"
                        )
                    }
                    (None, None) => {}
                    _ => panic!("{label}: id {id} kept by one side only (ours {o:?}, HF {w:?})"),
                }
            }
        } else {
            for k in case["kept"].as_array().unwrap() {
                let id = k[0].as_u64().unwrap() as usize;
                let w = k[1].as_f64().unwrap();
                let o =
                    ours_p[id].unwrap_or_else(|| panic!("{label}: HF keeps {id}, we remove it"));
                assert!(
                    (o - w).abs() < PROB_TOL,
                    "{label}: id {id}: ours {o}, HF {w}"
                );
            }
        }
    }
    eprintln!("matched processors: {matched:?}");
    assert_eq!(
        matched.len(),
        10,
        "every HF processor is covered: {matched:?}"
    );
}
