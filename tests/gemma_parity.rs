//! Gemma 3 270M against Hugging Face transformers (`scripts/golden/make_gemma.py`, float32,
//! eager attention): token ids of the prompts and of tokenizer probes, last-position top-20
//! and teacher-forced logprobs (one prompt runs past the 512-token sliding window), greedy
//! continuations. Needs `scripts/setup.sh --model gemma3-270m`.

mod common;

use common::parity::{check_case, ids, LOGPROB_TOL};
use logitscope::model::config::{Arch, LayerKind};

#[test]
fn gemma3_matches_hugging_face() {
    let Some(path) = common::gemma_model() else {
        return;
    };
    let lm = common::load(&path);
    let cfg = lm.model.config();
    assert_eq!(cfg.arch, Arch::Gemma3);
    let fx = common::read_json("gemma3_parity.json");
    // The layer pattern HF derives (`layer_types`) is ours.
    let kinds: Vec<&str> = (0..cfg.layers)
        .map(|l| match cfg.layer_kind(l) {
            LayerKind::Sliding { window } => {
                assert_eq!(window, 512);
                "sliding_attention"
            }
            LayerKind::Global => "full_attention",
        })
        .collect();
    let hf_kinds: Vec<&str> = fx["meta"]["model_config"]["layer_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(kinds, hf_kinds);
    let mut worst = 0f64;
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let prompt = case["prompt"].as_str().unwrap();
        assert_eq!(
            lm.tok.encode(prompt).unwrap(),
            ids(&case["ids"]),
            "{name}: token ids"
        );
        let (w, agreed) = check_case(&lm, name, case, "greedy32");
        eprintln!(
            "{name}: {} ids, worst |Δ logprob| {w:.2e}, greedy {agreed}/32 agree",
            ids(&case["ids"]).len()
        );
        worst = worst.max(w);
    }
    eprintln!("worst |Δ logprob| over every case: {worst:.2e} (tolerance {LOGPROB_TOL})");
}

#[test]
fn gemma3_tokenizer_matches_hugging_face_on_probes() {
    let Some(path) = common::gemma_model() else {
        return;
    };
    let g = logitscope::model::gguf::GgufFile::open(&path).unwrap();
    let tok = logitscope::model::tokenizer::Tok::from_gguf(&g, &path).unwrap();
    let fx = common::read_json("gemma3_parity.json");
    for probe in fx["tokenizer_probes"].as_array().unwrap() {
        let text = probe["text"].as_str().unwrap();
        let got = tok.encode(text).unwrap();
        assert_eq!(got, ids(&probe["hf_ids"]), "{text:?}");
        // Pieces back to text: `▁` as spaces, `<0xNN>` as bytes, specials as their text.
        let hf = probe["hf_decoded"].as_str().unwrap();
        if !hf.contains('\u{fffd}') {
            assert_eq!(tok.decode(&got), hf, "decode {text:?}");
        }
    }
}
