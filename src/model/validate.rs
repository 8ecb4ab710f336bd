//! Checks a model's configuration against its tensors before anything is built or computed.
//!
//! A file whose metadata and tensors disagree gets one line naming the key, its value and the
//! tensor that contradicts it (`llama.embedding_length = 512 but token_embd.weight is 576
//! wide`), never a panic inside tch. Once [`model`] has passed, every shape the forward
//! passes derive from the configuration matches the weights.

mod gguf;
mod hf;

use std::collections::HashMap;
use std::path::Path;

use tch::{Kind, Tensor};

pub use gguf::gguf;
pub use hf::safetensors;

use super::config::{Arch, ModelConfig};
use super::error::{sanitize, ModelError};
use super::tokenizer::Tok;
use super::weights::{gguf_name, gguf_name_gemma, hf_name, hf_name_gemma};

/// Longest context accepted: the rotary tables and caches are sized by it.
pub const MAX_CONTEXT: usize = 1 << 20;

/// The names the hyper-parameters have in the file they came from, for error messages.
pub struct Keys {
    hidden: String,
    heads: String,
    kv_heads: String,
    head_dim: String,
    layers: String,
    ffn: String,
    vocab: String,
    context: String,
    rope_theta: String,
    norm_eps: String,
    tied: String,
    /// Whether the head size is the width divided by the head count (not a key of its own).
    derived_head_dim: bool,
}

fn bad(path: &Path, msg: String) -> ModelError {
    ModelError::BadConfig {
        path: path.to_path_buf(),
        msg: sanitize(&msg),
    }
}

/// Checks each hyper-parameter on its own: positive counts, a bounded context, finite
/// constants. Relations between them are checked by [`model`], once the tensors are known.
pub fn values(cfg: &ModelConfig, keys: &Keys, path: &Path) -> Result<(), ModelError> {
    for (v, key) in [
        (cfg.hidden, &keys.hidden),
        (cfg.heads, &keys.heads),
        (cfg.kv_heads, &keys.kv_heads),
        (cfg.layers, &keys.layers),
        (cfg.intermediate, &keys.ffn),
        (cfg.vocab_size, &keys.vocab),
        (cfg.context_len, &keys.context),
    ] {
        if v == 0 {
            return Err(bad(path, format!("{key} = 0 must be at least 1")));
        }
    }
    if cfg.context_len > MAX_CONTEXT {
        return Err(bad(
            path,
            format!(
                "{} = {} exceeds the largest supported context ({MAX_CONTEXT})",
                keys.context, cfg.context_len
            ),
        ));
    }
    if cfg.arch != Arch::Gpt2 && !(cfg.rope_theta.is_finite() && cfg.rope_theta > 0.0) {
        return Err(bad(
            path,
            format!("{} = {} must be positive", keys.rope_theta, cfg.rope_theta),
        ));
    }
    if !(cfg.norm_eps.is_finite() && cfg.norm_eps >= 0.0) {
        return Err(bad(
            path,
            format!(
                "{} = {} must be a finite non-negative number",
                keys.norm_eps, cfg.norm_eps
            ),
        ));
    }
    if let Some(g) = &cfg.gemma {
        gguf::gemma_values(g, path)?;
    }
    for id in cfg.bos_id.iter().chain(&cfg.eos_ids) {
        if *id as usize >= cfg.vocab_size {
            return Err(bad(
                path,
                format!(
                    "special token id {id} is outside the vocabulary ({} = {})",
                    keys.vocab, cfg.vocab_size
                ),
            ));
        }
    }
    Ok(())
}

/// One tensor as the file declares it.
pub struct Declared {
    /// The name in the file (shown in messages).
    pub name: String,
    /// Outermost dimension first.
    pub shape: Vec<u64>,
    /// The stored type's name, when it cannot be loaded.
    pub bad_type: Option<String>,
}

/// How a file names its tensors, relative to the Hugging Face names the architectures use.
#[derive(Clone, Copy)]
pub struct Naming {
    /// A file name to the Hugging Face name.
    pub to_hf: fn(&str) -> String,
    /// A Hugging Face name to the file's name (for messages about missing tensors).
    pub to_file: fn(&str) -> String,
}

impl Naming {
    /// llama.cpp names.
    pub const GGUF: Naming = Naming {
        to_hf: hf_name,
        to_file: gguf_name,
    };
    /// llama.cpp names of a Gemma 3 file.
    pub const GGUF_GEMMA: Naming = Naming {
        to_hf: hf_name_gemma,
        to_file: gguf_name_gemma,
    };
    /// Hugging Face names.
    pub const HF: Naming = Naming {
        to_hf: str::to_string,
        to_file: str::to_string,
    };
}

/// One dimension a tensor must have, and where that number comes from.
#[derive(Clone)]
struct Dim {
    value: u64,
    why: String,
}

/// Checks every declared tensor against the configuration.
pub fn model(
    cfg: &ModelConfig,
    keys: &Keys,
    declared: Vec<Declared>,
    path: &Path,
    naming: Naming,
) -> Result<(), ModelError> {
    let hf = naming.to_hf;
    let by_hf: HashMap<String, &Declared> = declared.iter().map(|d| (hf(&d.name), d)).collect();
    let key = |k: &String, v: usize| Dim {
        value: v as u64,
        why: format!("{k} = {v}"),
    };
    let hidden = key(&keys.hidden, cfg.hidden);
    let vocab = key(&keys.vocab, cfg.vocab_size);
    let prefix = match cfg.arch {
        Arch::Gpt2 if by_hf.contains_key("transformer.wte.weight") => "transformer.",
        _ => "",
    };
    let embed = match cfg.arch {
        Arch::Llama | Arch::Gemma3 => "model.embed_tokens.weight".to_string(),
        Arch::Gpt2 => format!("{prefix}wte.weight"),
    };
    // The embedding first: it pins the width and the vocabulary that everything else uses.
    check(
        &by_hf,
        &embed,
        &[vocab.clone(), hidden.clone()],
        path,
        naming,
    )?;
    let product = |n: usize, nk: &String, d: usize, dk: &String| -> Result<Dim, ModelError> {
        let value = n
            .checked_mul(d)
            .ok_or_else(|| bad(path, format!("{nk} = {n} times {dk} = {d} overflows")))?;
        Ok(Dim {
            value: value as u64,
            why: format!("{nk} × {dk} = {n} × {d} = {value}"),
        })
    };
    if cfg.head_dim == 0 || keys.derived_head_dim && !cfg.hidden.is_multiple_of(cfg.heads) {
        return Err(bad(
            path,
            format!(
                "{} = {} is not a multiple of {} = {}",
                keys.hidden, cfg.hidden, keys.heads, cfg.heads
            ),
        ));
    }
    if !cfg.heads.is_multiple_of(cfg.kv_heads) {
        return Err(bad(
            path,
            format!(
                "{} = {} is not a multiple of {} = {}",
                keys.heads, cfg.heads, keys.kv_heads, cfg.kv_heads
            ),
        ));
    }
    if cfg.arch != Arch::Gpt2 && !cfg.head_dim.is_multiple_of(2) {
        return Err(bad(
            path,
            format!(
                "{} = {} is odd; rotary embeddings need pairs",
                keys.head_dim, cfg.head_dim
            ),
        ));
    }
    let q = product(cfg.heads, &keys.heads, cfg.head_dim, &keys.head_dim)?;
    let kv = product(cfg.kv_heads, &keys.kv_heads, cfg.head_dim, &keys.head_dim)?;
    let ffn = key(&keys.ffn, cfg.intermediate);
    let layer_prefix = match cfg.arch {
        Arch::Llama | Arch::Gemma3 => "model.layers.".to_string(),
        Arch::Gpt2 => format!("{prefix}h."),
    };
    layer_count(cfg, keys, &declared, &layer_prefix, hf, path)?;
    let mut expected: Vec<(String, Vec<Dim>)> = Vec::new();
    match cfg.arch {
        Arch::Llama | Arch::Gemma3 => {
            expected.push(("model.norm.weight".into(), vec![hidden.clone()]));
            if !cfg.tied_embeddings {
                expected.push(("lm_head.weight".into(), vec![vocab.clone(), hidden.clone()]));
            }
        }
        Arch::Gpt2 => {
            let ctx = key(&keys.context, cfg.context_len);
            expected.push((format!("{prefix}wpe.weight"), vec![ctx, hidden.clone()]));
            expected.push((format!("{prefix}ln_f.weight"), vec![hidden.clone()]));
            expected.push((format!("{prefix}ln_f.bias"), vec![hidden.clone()]));
        }
    }
    for i in 0..cfg.layers {
        let p = format!("{layer_prefix}{i}.");
        let mut t = |n: &str, dims: &[&Dim]| {
            expected.push((
                format!("{p}{n}"),
                dims.iter().map(|d| (*d).clone()).collect(),
            ));
        };
        if cfg.arch == Arch::Gemma3 {
            let head = key(&keys.head_dim, cfg.head_dim);
            t("pre_feedforward_layernorm.weight", &[&hidden]);
            t("post_feedforward_layernorm.weight", &[&hidden]);
            t("self_attn.q_norm.weight", &[&head]);
            t("self_attn.k_norm.weight", &[&head]);
        }
        match cfg.arch {
            Arch::Llama | Arch::Gemma3 => {
                t("input_layernorm.weight", &[&hidden]);
                t("post_attention_layernorm.weight", &[&hidden]);
                t("self_attn.q_proj.weight", &[&q, &hidden]);
                t("self_attn.k_proj.weight", &[&kv, &hidden]);
                t("self_attn.v_proj.weight", &[&kv, &hidden]);
                t("self_attn.o_proj.weight", &[&hidden, &q]);
                if cfg.qkv_bias {
                    t("self_attn.q_proj.bias", &[&q]);
                    t("self_attn.k_proj.bias", &[&kv]);
                    t("self_attn.v_proj.bias", &[&kv]);
                }
                t("mlp.gate_proj.weight", &[&ffn, &hidden]);
                t("mlp.up_proj.weight", &[&ffn, &hidden]);
                t("mlp.down_proj.weight", &[&hidden, &ffn]);
            }
            Arch::Gpt2 => {
                let three = product(3, &"3".to_string(), cfg.hidden, &keys.hidden)?;
                // Conv1D weights are stored [in, out].
                t("attn.c_attn.weight", &[&hidden, &three]);
                t("attn.c_attn.bias", &[&three]);
                t("attn.c_proj.weight", &[&hidden, &hidden]);
                t("attn.c_proj.bias", &[&hidden]);
                t("mlp.c_fc.weight", &[&hidden, &ffn]);
                t("mlp.c_fc.bias", &[&ffn]);
                t("mlp.c_proj.weight", &[&ffn, &hidden]);
                t("mlp.c_proj.bias", &[&hidden]);
                for n in ["ln_1", "ln_2"] {
                    t(&format!("{n}.weight"), &[&hidden]);
                    t(&format!("{n}.bias"), &[&hidden]);
                }
            }
        }
    }
    for (name, dims) in &expected {
        if name == "lm_head.weight" && !by_hf.contains_key(name) {
            return Err(bad(
                path,
                format!("{} = false but there is no lm_head.weight", keys.tied),
            ));
        }
        check(&by_hf, name, dims, path, naming)?;
    }
    Ok(())
}

/// The layers present in the file must be exactly `0..layers`.
fn layer_count(
    cfg: &ModelConfig,
    keys: &Keys,
    declared: &[Declared],
    layer_prefix: &str,
    hf: fn(&str) -> String,
    path: &Path,
) -> Result<(), ModelError> {
    let mut present = 0usize;
    for d in declared {
        let layer = hf(&d.name)
            .strip_prefix(layer_prefix)
            .and_then(|r| r.split('.').next()?.parse::<usize>().ok());
        if let Some(l) = layer {
            if l >= cfg.layers {
                return Err(bad(
                    path,
                    format!(
                        "{} = {} but the file has {} (layer {l})",
                        keys.layers, cfg.layers, d.name
                    ),
                ));
            }
            present = present.max(l + 1);
        }
    }
    if present < cfg.layers {
        return Err(bad(
            path,
            format!(
                "{} = {} but the file has tensors for {present} layers",
                keys.layers, cfg.layers
            ),
        ));
    }
    Ok(())
}

/// One tensor: present, of a loadable type, of the expected shape.
fn check(
    by_hf: &HashMap<String, &Declared>,
    hf_name: &str,
    dims: &[Dim],
    path: &Path,
    naming: Naming,
) -> Result<(), ModelError> {
    let d = by_hf
        .get(hf_name)
        .ok_or_else(|| bad(path, format!("no tensor {}", (naming.to_file)(hf_name))))?;
    if let Some(ty) = &d.bad_type {
        return Err(ModelError::UnsupportedQuant {
            path: Some(path.to_path_buf()),
            tensor: sanitize(&d.name),
            ty: sanitize(ty),
        });
    }
    let name = &d.name;
    if d.shape.len() != dims.len() {
        let want: Vec<String> = dims.iter().map(|x| x.value.to_string()).collect();
        return Err(bad(
            path,
            format!(
                "{name} has shape {:?} but should be [{}] ({})",
                d.shape,
                want.join(", "),
                dims.iter()
                    .map(|x| x.why.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for (i, (got, want)) in d.shape.iter().zip(dims).enumerate() {
        if *got != want.value {
            let what = match (dims.len(), i) {
                (1, _) => format!("has {got} elements"),
                (_, 0) => format!("has {got} rows"),
                _ => format!("is {got} wide"),
            };
            return Err(bad(path, format!("{} but {name} {what}", want.why)));
        }
    }
    Ok(())
}

/// The tokenizer's ids must all index the embedding.
pub fn tokenizer(tok: &Tok, cfg: &ModelConfig, keys: &Keys, path: &Path) -> Result<(), ModelError> {
    if tok.vocab_size() > cfg.vocab_size {
        return Err(bad(
            path,
            format!(
                "{} = {} but the tokenizer has {} tokens",
                keys.vocab,
                cfg.vocab_size,
                tok.vocab_size()
            ),
        ));
    }
    Ok(())
}

/// Token ids given to a forward pass: `[batch, T]` int64, each inside the vocabulary.
pub fn token_ids(tokens: &Tensor, vocab: usize) -> Result<(), ModelError> {
    let size = tokens.size();
    if size.len() != 2 || tokens.kind() != Kind::Int64 {
        return Err(ModelError::Other(format!(
            "token ids must be a [batch, T] int64 tensor, got {:?} {size:?}",
            tokens.kind()
        )));
    }
    if tokens.numel() == 0 {
        return Ok(());
    }
    let (lo, hi) = (tokens.min().int64_value(&[]), tokens.max().int64_value(&[]));
    if lo < 0 || hi >= vocab as i64 {
        let id = if lo < 0 { lo } else { hi };
        return Err(ModelError::Other(format!(
            "token id {id} is outside the vocabulary of {vocab}"
        )));
    }
    Ok(())
}
