//! Tiny but complete llama and Gemma 3 GGUFs (a few kilobytes), built in code: the seeds that
//! the loader's property test and fuzz target mutate.

use super::super::quant::GgmlType;
use super::{GgufWriter, MetaValue};

/// Width of the tiny model.
pub const TINY_HIDDEN: usize = 32;
/// Vocabulary size of the tiny model: the letters `a` to `p`, then `ab` and `cd`.
pub const TINY_VOCAB: usize = 18;

/// A llama model with 2 layers, width 32, 2 query heads and 1 KV head of size 16, a
/// feed-forward of 32, an 18-token byte-level BPE vocabulary and deterministic pseudo-random
/// weights: F32 norms, Q8_0 and F16 projections, a Q8_0 embedding and an untied F32 head.
pub fn tiny_llama() -> GgufWriter {
    let (d, f, v, layers, h, hkv, hd) = (TINY_HIDDEN, 32, TINY_VOCAB, 2, 2, 1, 16);
    let mut weights = noise();
    let s = |x: &str| MetaValue::Str(x.into());
    let u = |x: usize| MetaValue::U32(x as u32);
    let tokens = (b'a'..=b'p')
        .map(|c| char::from(c).to_string())
        .chain(["ab".to_string(), "cd".to_string()])
        .map(|t| s(&t))
        .collect();
    let mut w = GgufWriter::new();
    w.meta("general.architecture", s("llama"))
        .meta("general.name", s("tiny"))
        .meta("llama.embedding_length", u(d))
        .meta("llama.attention.head_count", u(h))
        .meta("llama.attention.head_count_kv", u(hkv))
        .meta("llama.block_count", u(layers))
        .meta("llama.feed_forward_length", u(f))
        .meta("llama.context_length", u(32))
        .meta("llama.rope.freq_base", MetaValue::F32(10_000.0))
        .meta(
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        )
        .meta("tokenizer.ggml.model", s("gpt2"))
        .meta("tokenizer.ggml.pre", s("gpt2"))
        .meta("tokenizer.ggml.tokens", MetaValue::Array(tokens))
        .meta(
            "tokenizer.ggml.merges",
            MetaValue::Array(vec![s("a b"), s("c d")]),
        )
        .meta("tokenizer.ggml.eos_token_id", u(0));
    w.tensor(
        "token_embd.weight",
        &[v, d],
        GgmlType::Q8_0,
        q8_0(&weights(v * d)),
    );
    for l in 0..layers {
        let p = |n: &str| format!("blk.{l}.{n}.weight");
        w.tensor_f32(&p("attn_norm"), &[d], &vec![1.0; d]);
        w.tensor_f32(&p("ffn_norm"), &[d], &vec![1.0; d]);
        for (n, shape) in [
            ("attn_q", [h * hd, d]),
            ("attn_k", [hkv * hd, d]),
            ("attn_v", [hkv * hd, d]),
            ("attn_output", [d, h * hd]),
            ("ffn_gate", [f, d]),
            ("ffn_up", [f, d]),
            ("ffn_down", [d, f]),
        ] {
            let data = weights(shape[0] * shape[1]);
            if n == "attn_output" {
                w.tensor(&p(n), &shape, GgmlType::F16, f16_bytes(&data));
            } else {
                w.tensor(&p(n), &shape, GgmlType::Q8_0, q8_0(&data));
            }
        }
    }
    w.tensor_f32("output_norm.weight", &[d], &vec![1.0; d]);
    w.tensor_f32("output.weight", &[v, d], &weights(v * d));
    w
}

/// Deterministic pseudo-random weights in [-0.25, 0.25).
fn noise() -> impl FnMut(usize) -> Vec<f32> {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    move |n| {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ((rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
            })
            .collect()
    }
}

/// Vocabulary size of the tiny Gemma 3 model: `<pad> <eos> <bos> <unk>`, `▁`, the letters
/// `a` to `p`, then `▁a` and `ab`.
pub const TINY_GEMMA_VOCAB: usize = 23;

/// A Gemma 3 model with 3 layers (sliding window 4; every 3rd layer global), width 32, 4
/// query heads and 1 KV head of size 16 (`key_length`, not width / heads), a feed-forward of
/// 32, a SentencePiece vocabulary with scores that asks for a BOS, tied embeddings, norm
/// weights near 1 (llama.cpp stores Gemma's `1 + w`).
pub fn tiny_gemma3() -> GgufWriter {
    let (d, f, v, layers, h, hkv, hd) = (TINY_HIDDEN, 32, TINY_GEMMA_VOCAB, 3, 4, 1, 16);
    let mut weights = noise();
    let s = |x: &str| MetaValue::Str(x.into());
    let u = |x: usize| MetaValue::U32(x as u32);
    let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>", "\u{2581}"]
        .map(String::from)
        .to_vec();
    tokens.extend((b'a'..=b'p').map(|c| char::from(c).to_string()));
    tokens.extend(["\u{2581}a".to_string(), "ab".to_string()]);
    // Unigram scores: the two-character pieces beat their characters (-1.5 > -2).
    let scores: Vec<MetaValue> = (0..v)
        .map(|i| {
            MetaValue::F32(match i {
                0..4 => -1000.0,
                _ if i >= v - 2 => -1.5,
                _ => -1.0,
            })
        })
        .collect();
    let types = (0..v)
        .map(|i| MetaValue::I32(if i < 4 { 3 } else { 1 }))
        .collect();
    let mut w = GgufWriter::new();
    w.meta("general.architecture", s("gemma3"))
        .meta("general.name", s("tiny-gemma3"))
        .meta("gemma3.embedding_length", u(d))
        .meta("gemma3.attention.head_count", u(h))
        .meta("gemma3.attention.head_count_kv", u(hkv))
        .meta("gemma3.attention.key_length", u(hd))
        .meta("gemma3.attention.value_length", u(hd))
        .meta("gemma3.block_count", u(layers))
        .meta("gemma3.feed_forward_length", u(f))
        .meta("gemma3.context_length", u(64))
        .meta("gemma3.rope.freq_base", MetaValue::F32(1_000_000.0))
        .meta("gemma3.attention.sliding_window", u(4))
        .meta("gemma3.attention.sliding_window_pattern", u(3))
        .meta(
            "gemma3.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-6),
        )
        .meta("tokenizer.ggml.model", s("llama"))
        .meta(
            "tokenizer.ggml.tokens",
            MetaValue::Array(tokens.iter().map(|t| s(t)).collect()),
        )
        .meta("tokenizer.ggml.scores", MetaValue::Array(scores))
        .meta("tokenizer.ggml.token_type", MetaValue::Array(types))
        .meta("tokenizer.ggml.padding_token_id", u(0))
        .meta("tokenizer.ggml.eos_token_id", u(1))
        .meta("tokenizer.ggml.bos_token_id", u(2))
        .meta("tokenizer.ggml.unknown_token_id", u(3))
        .meta("tokenizer.ggml.add_bos_token", MetaValue::Bool(true));
    w.tensor(
        "token_embd.weight",
        &[v, d],
        GgmlType::Q8_0,
        q8_0(&weights(v * d)),
    );
    let near_one = |w: &mut dyn FnMut(usize) -> Vec<f32>, n: usize| -> Vec<f32> {
        w(n).iter().map(|x| 1.0 + x).collect()
    };
    for l in 0..layers {
        let p = |n: &str| format!("blk.{l}.{n}.weight");
        for n in [
            "attn_norm",
            "post_attention_norm",
            "ffn_norm",
            "post_ffw_norm",
        ] {
            w.tensor_f32(&p(n), &[d], &near_one(&mut weights, d));
        }
        for n in ["attn_q_norm", "attn_k_norm"] {
            w.tensor_f32(&p(n), &[hd], &near_one(&mut weights, hd));
        }
        for (n, shape) in [
            ("attn_q", [h * hd, d]),
            ("attn_k", [hkv * hd, d]),
            ("attn_v", [hkv * hd, d]),
            ("attn_output", [d, h * hd]),
            ("ffn_gate", [f, d]),
            ("ffn_up", [f, d]),
            ("ffn_down", [d, f]),
        ] {
            let data = weights(shape[0] * shape[1]);
            w.tensor(&p(n), &shape, GgmlType::Q8_0, q8_0(&data));
        }
    }
    w.tensor_f32("output_norm.weight", &[d], &near_one(&mut weights, d));
    w
}

fn f16_bytes(data: &[f32]) -> Vec<u8> {
    data.iter()
        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
        .collect()
}

/// Q8_0: blocks of 32 weights as an f16 scale and 32 signed bytes.
fn q8_0(data: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 32 * 34);
    for block in data.chunks(32) {
        let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = amax / 127.0;
        out.extend(half::f16::from_f32(scale).to_le_bytes());
        for &x in block {
            let q = if scale > 0.0 {
                (x / scale).round()
            } else {
                0.0
            };
            out.push(q as i8 as u8);
        }
    }
    out
}
