//! A tiny but complete llama GGUF (a few kilobytes), built in code: the seed that the
//! loader's property test and fuzz target mutate.

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
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut weights = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ((rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
            })
            .collect()
    };
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
