//! Beam search and diverse beam search against Hugging Face `generate` on the default model
//! (f32): the same sequences, scores within 1e-3 (`tests/fixtures/beams.json`).

mod common;

use logitscope::decode::beam::{BeamConfig, EarlyStopping};
use logitscope::engine::beam::BeamRun;
use serde_json::Value;

/// The search configuration the fixture recorded for run `name`.
fn config(meta: &Value, name: &str) -> BeamConfig {
    let g = &meta["generation_config"][name];
    let int = |k: &str, d: u64| g[k].as_u64().unwrap_or(d) as usize;
    let early = match &g["early_stopping"] {
        Value::Bool(true) => EarlyStopping::True,
        Value::String(s) if s == "never" => EarlyStopping::Never,
        _ => EarlyStopping::False,
    };
    let eos = g["eos_token_id"].as_u64().expect("eos id") as u32;
    BeamConfig {
        beams: int("num_beams", 1),
        groups: int("num_beam_groups", 1),
        diversity: g["diversity_penalty"].as_f64().unwrap_or(0.0) as f32,
        length_penalty: g["length_penalty"].as_f64().unwrap_or(1.0) as f32,
        early_stopping: early,
        num_return: int("num_return_sequences", 1),
        max_new_tokens: int("max_new_tokens", 20),
        eos_ids: vec![eos],
        pad_id: g["pad_token_id"].as_u64().map(|p| p as u32),
        ..BeamConfig::default()
    }
}

fn check(name: &str) {
    let Some(path) = common::default_model() else {
        return;
    };
    let lm = common::load(&path);
    let fx = common::read_json("beams.json");
    let cfg = config(&fx["meta"], name);
    for run in fx["runs"][name].as_array().expect("runs") {
        let ids: Vec<u32> = serde_json::from_value(run["ids"].clone()).unwrap();
        let mut beam = BeamRun::start(&lm.model, &ids, cfg.clone()).expect("starts");
        beam.run(&lm.model).expect("runs");
        let got = &beam.tree().hypotheses;
        let want = run["hypotheses"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name} {}", run["prompt"]);
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let n = w["new_len"].as_u64().unwrap() as usize;
            let w_ids: Vec<u32> = serde_json::from_value(w["new_ids"].clone()).unwrap();
            let score = w["sequences_score"].as_f64().unwrap();
            assert_eq!(g.ids, w_ids[..n], "{name} {} hypothesis {i}", run["prompt"]);
            assert!(
                (g.score - score).abs() < 1e-3,
                "{name} {} hypothesis {i}: score {} vs {score}",
                run["prompt"],
                g.score
            );
        }
    }
}

#[test]
fn beam_search_matches_hf() {
    check("beam");
}

#[test]
fn group_beam_search_matches_hf() {
    check("group_beam");
}
