//! Numerical parity with Hugging Face transformers, from fixtures made by
//! `scripts/golden/make_parity.py` and `make_tiny.py` (float32, eager attention).

mod common;

use common::parity::{check_case, ids};

#[test]
fn smollm2_matches_hugging_face() {
    let Some(path) = common::default_model() else {
        return;
    };
    let lm = common::load(&path);
    let fx = common::read_json("smollm2_parity.json");
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let prompt = case["prompt"].as_str().unwrap();
        assert_eq!(
            lm.tok.encode(prompt).unwrap(),
            ids(&case["ids"]),
            "{name}: token ids"
        );
        check_case(&lm, name, case, "greedy32");
    }
}

#[test]
fn smollm2_tokenizer_probes() {
    let Some(path) = common::default_model() else {
        return;
    };
    let g = logitscope::model::gguf::GgufFile::open(&path).unwrap();
    let tok = logitscope::model::tokenizer::Tok::from_gguf(&g, &path).unwrap();
    let fx = common::read_json("smollm2_parity.json");
    for probe in fx["tokenizer_probes"].as_array().unwrap() {
        let text = probe["text"].as_str().unwrap();
        // We follow SmolLM2's own pre-tokenizer (individual digits, then byte-level), which
        // Hugging Face's GGUF conversion drops; the two differ only on some Unicode numerals.
        assert_eq!(
            tok.encode(text).unwrap(),
            ids(&probe["design_ids"]),
            "{text:?}"
        );
        if probe["agree"].as_bool().unwrap() {
            assert_eq!(tok.encode(text).unwrap(), ids(&probe["hf_ids"]), "{text:?}");
        }
        // Round trip through bytes.
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids), text, "decode {text:?}");
    }
}

#[test]
fn tiny_gpt2_and_llama_match_hugging_face() {
    let fx = common::read_json("tiny_parity.json");
    for (name, m) in fx["models"].as_object().unwrap() {
        let lm = common::load(&common::fixture(name));
        for (i, case) in m["cases"].as_array().unwrap().iter().enumerate() {
            let prompt = case["prompt"].as_str().unwrap();
            assert_eq!(
                lm.tok.encode(prompt).unwrap(),
                ids(&case["ids"]),
                "{name}: ids"
            );
            check_case(&lm, &format!("{name} case {i}"), case, "greedy16");
        }
    }
}

#[test]
fn smollm2_gguf_header_and_a_dequantized_tensor() {
    let Some(path) = common::default_model() else {
        return;
    };
    let f = logitscope::model::gguf::GgufFile::open(&path).unwrap();
    assert_eq!(f.architecture(), Some("llama"));
    assert_eq!(f.get_u32("llama.block_count"), Some(30));
    assert!(f.tensor("blk.29.attn_q.weight").is_some());
    assert!(f.tensor("blk.30.attn_q.weight").is_none());
    assert_eq!(f.tensor("token_embd.weight").unwrap().shape(), [49152, 576]);
    assert_eq!(f.get_array_len("tokenizer.ggml.tokens"), Some(49152));
    let (q, shape) = f.dequantize("blk.0.attn_q.weight").unwrap();
    assert_eq!(shape, [576, 576]);
    assert!(q.iter().all(|x| x.is_finite()));
    let n = q.len() as f64;
    let mean = q.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let std = (q
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    assert!(
        mean.abs() < 0.05 && (0.01..1.0).contains(&std),
        "mean {mean} std {std}"
    );
}
