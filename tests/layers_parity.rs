//! Parity of the logit lens, DoLa and contrastive search with Hugging Face transformers
//! 4.55.4 (the last release with DoLa and contrastive search inside `generate`), from
//! `tests/fixtures/layers.json` made by `scripts/golden/make_layers.py`.

mod common;

use logitscope::decode::contrast::DolaLayers;
use logitscope::decode::math::log_softmax;
use logitscope::decode::trace::StageDetail;
use logitscope::decode::SamplerConfig;
use logitscope::engine::session::Session;
use logitscope::model::lens::prompt_lens;
use logitscope::model::Loaded;
use serde_json::Value;

/// Lens log-probabilities must match within this, at every layer.
const LENS_TOL: f64 = 1e-3;
/// A greedy step whose two best scores are closer than this may legitimately diverge.
const NEAR_TIE: f64 = 1e-3;

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn load() -> Option<(Loaded, Value)> {
    let path = common::default_model()?;
    Some((common::load(&path), common::read_json("layers.json")))
}

/// A session on the real model (its prompt and knobs are set per case).
fn session(lm: Loaded) -> Session {
    Session::new(lm, "x", SamplerConfig::default()).unwrap()
}

/// Points `s` at a case.
fn start(s: &mut Session, prompt: &str, config: SamplerConfig) {
    s.set_prompt(prompt).unwrap();
    s.set_config(config).unwrap();
}

#[test]
fn logit_lens_matches_hugging_face_hidden_states_through_norm_and_head_at_every_layer() {
    let Some((lm, fx)) = load() else { return };
    let mut checked = 0;
    let mut worst = 0.0f64;
    for case in fx["lens"].as_array().unwrap() {
        let prompt = ids(&case["ids"]);
        assert_eq!(
            lm.tok.encode(case["prompt"].as_str().unwrap()).unwrap(),
            prompt
        );
        let mut ours: Vec<Vec<Vec<f32>>> = Vec::new();
        prompt_lens(&lm.model, &prompt, |_, col| {
            ours.push(col.iter().map(|l| log_softmax(l)).collect())
        })
        .unwrap();
        for layer in case["layers"].as_array().unwrap() {
            let l = layer["layer"].as_u64().unwrap() as usize;
            for (pos, cell) in layer["positions"].as_array().unwrap().iter().enumerate() {
                for pair in cell["top"].as_array().unwrap() {
                    let id = pair[0].as_u64().unwrap() as usize;
                    let want = pair[1].as_f64().unwrap();
                    let got = ours[pos][l - 1][id] as f64;
                    worst = worst.max((got - want).abs());
                    assert!(
                        (got - want).abs() < LENS_TOL,
                        "layer {l} position {pos} id {id}: {got} vs HF {want}"
                    );
                    checked += 1;
                }
            }
        }
    }
    eprintln!("lens parity: {checked} logprobs, worst |Δ| {worst:.2e}");
    assert!(checked > 1000);
}

/// Generates up to `n` tokens and compares them with HF's, stopping at the first step HF
/// itself calls a near-tie. Returns how many tokens agreed.
fn compare(s: &mut Session, want: &[u32], margins: &[Option<f64>], what: &str) -> usize {
    for (i, &w) in want.iter().enumerate() {
        let rec = match s.step() {
            Ok(r) => r,
            Err(e) => panic!("{what}: step {i}: {e}"),
        };
        if rec.token_id != w {
            let margin = margins.get(i).copied().flatten().unwrap_or(f64::INFINITY);
            assert!(
                margin < NEAR_TIE,
                "{what}: step {i} chose {} where HF chose {w} (HF margin {margin})",
                rec.token_id
            );
            return i;
        }
    }
    want.len()
}

fn margins(case: &Value) -> Vec<Option<f64>> {
    case["margins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_f64())
        .collect()
}

#[test]
fn greedy_dola_chooses_hugging_faces_tokens_and_premature_layers() {
    let Some((lm, fx)) = load() else { return };
    let mut sess = session(lm);
    let mut agreed = 0;
    for case in fx["dola"].as_array().unwrap() {
        let cfg = &case["config"];
        let layers = match &cfg["dola_layers"] {
            Value::String(x) => x.parse::<DolaLayers>().unwrap(),
            list => DolaLayers::List(ids(list).into_iter().map(|x| x as usize).collect()),
        };
        let config = SamplerConfig {
            greedy: true,
            top_k: None,
            dola_layers: Some(layers),
            repetition_penalty: cfg["repetition_penalty"].as_f64().unwrap() as f32,
            ..SamplerConfig::default()
        };
        let prompt = case["prompt"].as_str().unwrap();
        start(&mut sess, prompt, config);
        assert_eq!(sess.prompt_ids(), ids(&case["ids"]).as_slice());
        let want = ids(&case["new_ids"]);
        let n = compare(
            &mut sess,
            &want,
            &margins(case),
            &format!("dola {prompt:?}"),
        );
        // The premature layer and the divergences of the agreeing steps are HF's.
        for (i, step) in case["steps"].as_array().unwrap().iter().take(n).enumerate() {
            let rec = &sess.steps()[i];
            let Some(StageDetail::Contrast {
                premature_layer,
                divergence,
                ..
            }) = &rec.trace.stages[0].detail
            else {
                panic!("step {i} has no DoLa detail")
            };
            assert_eq!(
                *premature_layer,
                step["premature_layer"].as_u64().map(|x| x as usize),
                "step {i}"
            );
            for ((_, ours), hf) in divergence.iter().zip(step["js"].as_array().unwrap()) {
                let hf = hf.as_f64().unwrap();
                assert!(
                    (*ours as f64 - hf).abs() < 1e-5 + 1e-3 * hf.abs(),
                    "step {i}: divergence {ours} vs HF {hf}"
                );
            }
        }
        agreed += n;
    }
    eprintln!("dola parity: {agreed} tokens agreed");
    assert!(agreed >= 60, "only {agreed} DoLa tokens agreed");
}

#[test]
fn contrastive_search_chooses_hugging_faces_tokens_with_its_scores() {
    let Some((lm, fx)) = load() else { return };
    let mut agreed = 0;
    let mut s = session(lm);
    for case in fx["contrastive"].as_array().unwrap() {
        let cfg = &case["config"];
        let config = SamplerConfig {
            penalty_alpha: Some(cfg["penalty_alpha"].as_f64().unwrap() as f32),
            top_k: Some(cfg["top_k"].as_u64().unwrap() as usize),
            ..SamplerConfig::default()
        };
        let prompt = case["prompt"].as_str().unwrap();
        start(&mut s, prompt, config);
        // HF's near-ties are in the contrastive scores, not the logits.
        let steps = case["steps"].as_array().unwrap();
        let gaps: Vec<Option<f64>> = steps
            .iter()
            .map(|st| {
                let mut sc: Vec<f64> = st["score"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                sc.sort_by(|a, b| b.total_cmp(a));
                sc.get(1).map(|b| sc[0] - b)
            })
            .collect();
        let want = ids(&case["new_ids"]);
        let n = compare(&mut s, &want, &gaps, &format!("contrastive {prompt:?}"));
        for (i, st) in steps.iter().take(n).enumerate() {
            let rec = &s.steps()[i];
            let Some(StageDetail::Search { rows }) = &rec.trace.stages.last().unwrap().detail
            else {
                panic!("step {i} has no search detail")
            };
            let cand = ids(&st["candidates"]);
            assert_eq!(
                rows.iter().map(|r| r.id).collect::<Vec<_>>(),
                cand,
                "step {i}"
            );
            for (r, hf) in rows.iter().zip(st["penalty"].as_array().unwrap()) {
                let hf = hf.as_f64().unwrap();
                assert!(
                    (r.penalty as f64 - hf).abs() < 1e-4,
                    "step {i}: {} vs {hf}",
                    r.penalty
                );
            }
            for (r, hf) in rows.iter().zip(st["probs"].as_array().unwrap()) {
                let hf = hf.as_f64().unwrap();
                assert!(
                    (r.prob as f64 - hf).abs() < 1e-4,
                    "step {i}: {} vs {hf}",
                    r.prob
                );
            }
        }
        agreed += n;
    }
    eprintln!("contrastive search parity: {agreed} tokens agreed");
    assert!(
        agreed >= 40,
        "only {agreed} contrastive-search tokens agreed"
    );
}
