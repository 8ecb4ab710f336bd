//! Architecture hyper-parameters, read from GGUF metadata or a Hugging Face `config.json`.

use std::path::Path;

use serde_json::Value;

use super::error::{sanitize, ModelError};
use super::gguf::GgufFile;
use super::validate::{self, Keys};

/// The model families we can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Llama-style: RMSNorm, RoPE, grouped-query attention, SwiGLU (also Qwen2, SmolLM).
    Llama,
    /// GPT-2: LayerNorm, learned positions, GELU MLP.
    Gpt2,
}

/// Hyper-parameters of a causal LM.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub arch: Arch,
    pub name: String,
    pub vocab_size: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub intermediate: usize,
    /// RoPE base frequency (Llama).
    pub rope_theta: f64,
    /// Epsilon of RMSNorm / LayerNorm.
    pub norm_eps: f64,
    /// Maximum context length in tokens.
    pub context_len: usize,
    /// Whether the output head shares the token embedding.
    pub tied_embeddings: bool,
    /// Whether q/k/v projections carry a bias (Qwen2).
    pub qkv_bias: bool,
    pub bos_id: Option<u32>,
    pub eos_ids: Vec<u32>,
}

impl ModelConfig {
    /// Reads the hyper-parameters of a GGUF file (`general.architecture` must be llama-like).
    pub fn from_gguf(g: &GgufFile, path: &Path) -> Result<Self, ModelError> {
        let arch = g.architecture().unwrap_or("").to_string();
        let family = match arch.as_str() {
            "llama" | "qwen2" | "smollm" | "mistral" => Arch::Llama,
            "gpt2" => Arch::Gpt2,
            _ => {
                return Err(ModelError::UnknownArch {
                    arch: sanitize(&arch),
                })
            }
        };
        let key = |k: &str| format!("{arch}.{k}");
        let need = |k: &str| {
            g.get_u64(&key(k)).ok_or_else(|| ModelError::BadConfig {
                path: path.to_path_buf(),
                msg: format!("missing metadata {}", key(k)),
            })
        };
        let hidden = need("embedding_length")? as usize;
        let heads = need("attention.head_count")? as usize;
        let vocab_size = g
            .get_u64(&key("vocab_size"))
            .map(|v| v as usize)
            .or_else(|| g.get_array_len("tokenizer.ggml.tokens"))
            .ok_or_else(|| ModelError::BadConfig {
                path: path.to_path_buf(),
                msg: "no vocabulary size".into(),
            })?;
        let cfg = ModelConfig {
            arch: family,
            name: g
                .get_str("general.name")
                .map(str::to_string)
                .unwrap_or_else(|| file_stem(path)),
            vocab_size,
            hidden,
            layers: need("block_count")? as usize,
            heads,
            kv_heads: g
                .get_u64(&key("attention.head_count_kv"))
                .map_or(heads, |v| v as usize),
            head_dim: hidden / heads.max(1),
            intermediate: need("feed_forward_length")? as usize,
            rope_theta: g
                .get_f32(&key("rope.freq_base"))
                .map_or(10_000.0, f64::from),
            norm_eps: g
                .get_f32(&key("attention.layer_norm_rms_epsilon"))
                .or_else(|| g.get_f32(&key("attention.layer_norm_epsilon")))
                .map_or(1e-5, f64::from),
            context_len: need("context_length")? as usize,
            tied_embeddings: g.tensor("output.weight").is_none(),
            qkv_bias: g.tensor("blk.0.attn_q.bias").is_some(),
            bos_id: g.get_u64("tokenizer.ggml.bos_token_id").map(token_id),
            eos_ids: g
                .get_u64("tokenizer.ggml.eos_token_id")
                .map(|v| vec![token_id(v)])
                .unwrap_or_default(),
        };
        validate::values(&cfg, &Keys::for_gguf(g), path)?;
        Ok(cfg)
    }

    /// Reads a Hugging Face `config.json`.
    pub fn from_hf_json(text: &str, path: &Path, name: String) -> Result<Self, ModelError> {
        let bad = |msg: String| ModelError::BadConfig {
            path: path.to_path_buf(),
            msg,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let arch_name = v["architectures"][0]
            .as_str()
            .or_else(|| v["model_type"].as_str())
            .unwrap_or("")
            .to_string();
        let family = match arch_name.as_str() {
            "LlamaForCausalLM" | "Qwen2ForCausalLM" | "MistralForCausalLM" | "llama" | "qwen2" => {
                Arch::Llama
            }
            "GPT2LMHeadModel" | "gpt2" => Arch::Gpt2,
            _ => {
                return Err(ModelError::UnknownArch {
                    arch: sanitize(&arch_name),
                })
            }
        };
        let num = |k: &str| -> Result<usize, ModelError> {
            v[k].as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| bad(format!("missing or non-integer \"{k}\"")))
        };
        let float = |k: &str, d: f64| v[k].as_f64().unwrap_or(d);
        let eos_ids = match &v["eos_token_id"] {
            Value::Number(n) => n.as_u64().map(|x| vec![token_id(x)]).unwrap_or_default(),
            Value::Array(a) => a.iter().filter_map(|x| x.as_u64()).map(token_id).collect(),
            _ => vec![],
        };
        let bos_id = v["bos_token_id"].as_u64().map(token_id);
        let cfg = match family {
            Arch::Llama => {
                let hidden = num("hidden_size")?;
                let heads = num("num_attention_heads")?;
                ModelConfig {
                    arch: family,
                    name,
                    vocab_size: num("vocab_size")?,
                    hidden,
                    layers: num("num_hidden_layers")?,
                    heads,
                    kv_heads: v["num_key_value_heads"]
                        .as_u64()
                        .map_or(heads, |x| x as usize),
                    head_dim: v["head_dim"]
                        .as_u64()
                        .map_or(hidden / heads.max(1), |x| x as usize),
                    intermediate: num("intermediate_size")?,
                    rope_theta: float("rope_theta", 10_000.0),
                    norm_eps: float("rms_norm_eps", 1e-6),
                    context_len: num("max_position_embeddings")?,
                    tied_embeddings: v["tie_word_embeddings"].as_bool().unwrap_or(false),
                    qkv_bias: arch_name.starts_with("Qwen2") || arch_name == "qwen2",
                    bos_id,
                    eos_ids,
                }
            }
            Arch::Gpt2 => {
                let hidden = num("n_embd")?;
                let heads = num("n_head")?;
                ModelConfig {
                    arch: family,
                    name,
                    vocab_size: num("vocab_size")?,
                    hidden,
                    layers: num("n_layer")?,
                    heads,
                    kv_heads: heads,
                    head_dim: hidden / heads.max(1),
                    intermediate: v["n_inner"]
                        .as_u64()
                        .map_or(hidden.saturating_mul(4), |x| x as usize),
                    rope_theta: 0.0,
                    norm_eps: float("layer_norm_epsilon", 1e-5),
                    context_len: num("n_positions")?,
                    tied_embeddings: true,
                    qkv_bias: true,
                    bos_id,
                    eos_ids,
                }
            }
        };
        validate::values(&cfg, &Keys::hf(family), path)?;
        Ok(cfg)
    }

    /// Number of parameters (embeddings counted once when tied).
    pub fn param_count(&self) -> u64 {
        let (d, f, v, l) = (
            self.hidden as u64,
            self.intermediate as u64,
            self.vocab_size as u64,
            self.layers as u64,
        );
        let head = if self.tied_embeddings { 0 } else { v * d };
        match self.arch {
            Arch::Llama => {
                let kv = (self.kv_heads * self.head_dim) as u64;
                let q = (self.heads * self.head_dim) as u64;
                let attn = d * q + 2 * d * kv + q * d;
                v * d + l * (attn + 3 * d * f + 2 * d) + d + head
            }
            Arch::Gpt2 => {
                let pos = self.context_len as u64 * d;
                v * d + pos + l * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + 2 * d + head
            }
        }
    }
}

/// A token id from a file; one too large for `u32` becomes `u32::MAX`, which validation then
/// rejects as outside the vocabulary (never silently wrapped).
fn token_id(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

pub(crate) fn file_stem(path: &Path) -> String {
    path.file_stem()
        .or_else(|| path.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}
