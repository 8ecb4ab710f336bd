//! The GGUF side of validation: metadata key names, Gemma 3's extra values, and a file's
//! tensors checked against its configuration before dequantizing.

use std::path::Path;

use super::super::config::{Arch, GemmaParams, ModelConfig};
use super::super::error::ModelError;
use super::super::gguf::GgufFile;
use super::{bad, model, Declared, Keys, Naming};

impl Keys {
    /// GGUF metadata keys of architecture `arch`; `vocab_key` says whether the vocabulary size
    /// came from `{arch}.vocab_size` (else from the token list), `key_length` says whether the head size came from `{arch}.attention.key_length` (else
    /// it is the width divided by the head count).
    pub fn gguf(arch: &str, vocab_key: bool, key_length: bool) -> Keys {
        let k = |s: &str| format!("{arch}.{s}");
        Keys {
            hidden: k("embedding_length"),
            heads: k("attention.head_count"),
            kv_heads: k("attention.head_count_kv"),
            head_dim: if key_length {
                k("attention.key_length")
            } else {
                format!(
                    "head size ({} / {})",
                    k("embedding_length"),
                    k("attention.head_count")
                )
            },
            layers: k("block_count"),
            ffn: k("feed_forward_length"),
            vocab: if vocab_key {
                k("vocab_size")
            } else {
                "length of tokenizer.ggml.tokens".into()
            },
            context: k("context_length"),
            rope_theta: k("rope.freq_base"),
            norm_eps: k("attention.layer_norm_rms_epsilon"),
            tied: "absence of output.weight".into(),
            derived_head_dim: !key_length,
        }
    }

    /// The keys of an open GGUF file.
    pub fn for_gguf(g: &GgufFile) -> Keys {
        let arch = g.architecture().unwrap_or("");
        let has = |k: &str| g.get_u64(&format!("{arch}.{k}")).is_some();
        Keys::gguf(arch, has("vocab_size"), has("attention.key_length"))
    }
}

/// Gemma 3's extras: a window and a layer pattern of at least 1, positive constants.
pub(super) fn gemma_values(g: &GemmaParams, path: &Path) -> Result<(), ModelError> {
    let key = |k: &str| format!("gemma3.{k}");
    if g.window == 0 {
        return Err(bad(
            path,
            format!("{} = 0 must be at least 1", key("attention.sliding_window")),
        ));
    }
    if g.global_every == 0 {
        return Err(bad(
            path,
            format!(
                "{} = 0 must be at least 1",
                key("attention.sliding_window_pattern")
            ),
        ));
    }
    let positive = [
        (Some(g.rope_local_theta), key("rope.freq_base_swa")),
        (g.attn_softcap, key("attn_logit_softcapping")),
        (g.final_softcap, key("final_logit_softcapping")),
    ];
    for (v, k) in positive {
        if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(bad(path, format!("{k} = {v} must be positive")));
        }
    }
    Ok(())
}

/// A GGUF file's tensors, checked against its configuration before dequantizing.
pub fn gguf(g: &GgufFile, cfg: &ModelConfig, keys: &Keys, path: &Path) -> Result<(), ModelError> {
    if cfg.arch == Arch::Gpt2 {
        return Err(bad(
            path,
            "general.architecture = gpt2 is only read from Hugging Face directories, not GGUF"
                .into(),
        ));
    }
    let declared = g
        .tensors()
        .iter()
        .map(|t| Declared {
            name: t.name.clone(),
            shape: t.dims.iter().rev().copied().collect(),
            bad_type: (!t.ty.can_dequantize()).then(|| t.ty.name().to_string()),
        })
        .collect();
    let naming = match cfg.arch {
        Arch::Gemma3 => Naming::GGUF_GEMMA,
        _ => Naming::GGUF,
    };
    model(cfg, keys, declared, path, naming)
}
