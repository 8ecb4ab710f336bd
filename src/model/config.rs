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
    /// Gemma 3: pre/post norms, per-head q/k norms, scaled embeddings, GELU-tanh MLP,
    /// interleaved sliding-window and global attention layers (GGUF only).
    Gemma3,
}

/// Gemma 3's extras over the Llama hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmaParams {
    /// Keys a sliding layer's query sees: its own position and the `window - 1` before it.
    pub window: usize,
    /// Every `global_every`-th layer (counting from 1) attends to the whole context; the
    /// others slide.
    pub global_every: usize,
    /// RoPE base of the sliding layers (the global layers use [`ModelConfig::rope_theta`]).
    pub rope_local_theta: f64,
    /// Queries are scaled by `query_pre_attn_scalar^-1/2`.
    pub query_pre_attn_scalar: f64,
    /// Attention scores become `c·tanh(s/c)` when set (Gemma 2; Gemma 3 has none).
    pub attn_softcap: Option<f64>,
    /// Logits become `c·tanh(z/c)` when set (Gemma 2; Gemma 3 has none).
    pub final_softcap: Option<f64>,
}

/// How one layer's attention reaches back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// Every earlier position.
    Global,
    /// Only the last `window` positions (the query's own included).
    Sliding { window: usize },
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
    /// Gemma 3's extras (`None` for the other families).
    pub gemma: Option<GemmaParams>,
}

impl ModelConfig {
    /// Reads the hyper-parameters of a GGUF file (`general.architecture` must be llama-like).
    pub fn from_gguf(g: &GgufFile, path: &Path) -> Result<Self, ModelError> {
        let arch = g.architecture().unwrap_or("").to_string();
        let family = match arch.as_str() {
            "llama" | "qwen2" | "smollm" | "mistral" => Arch::Llama,
            "gpt2" => Arch::Gpt2,
            "gemma3" => Arch::Gemma3,
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
            head_dim: g
                .get_u64(&key("attention.key_length"))
                .map_or(hidden / heads.max(1), |v| v as usize),
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
            gemma: None,
        };
        let cfg = ModelConfig {
            gemma: match family {
                Arch::Gemma3 => Some(gemma_params(g, &arch, &cfg, path)?),
                _ => None,
            },
            ..cfg
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
                    gemma: None,
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
                    gemma: None,
                }
            }
            Arch::Gemma3 => unreachable!("no Hugging Face name maps to Gemma 3"),
        };
        validate::values(&cfg, &Keys::hf(family), path)?;
        Ok(cfg)
    }

    /// How layer `layer` attends: Gemma 3's interleaved sliding / global layers, global for
    /// every other family.
    pub fn layer_kind(&self, layer: usize) -> LayerKind {
        match &self.gemma {
            Some(g) if !(layer + 1).is_multiple_of(g.global_every.max(1)) => {
                LayerKind::Sliding { window: g.window }
            }
            _ => LayerKind::Global,
        }
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
        let kv = (self.kv_heads * self.head_dim) as u64;
        let q = (self.heads * self.head_dim) as u64;
        let attn = d * q + 2 * d * kv + q * d;
        match self.arch {
            Arch::Llama => v * d + l * (attn + 3 * d * f + 2 * d) + d + head,
            Arch::Gemma3 => {
                let qk_norms = 2 * self.head_dim as u64;
                v * d + l * (attn + qk_norms + 3 * d * f + 4 * d) + d + head
            }
            Arch::Gpt2 => {
                let pos = self.context_len as u64 * d;
                v * d + pos + l * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + 2 * d + head
            }
        }
    }
}

/// Gemma 3's keys: the sliding window is required; llama.cpp's defaults fill the rest (every
/// 6th layer global, local RoPE base 10,000, queries scaled by the head size, no soft-caps).
fn gemma_params(
    g: &GgufFile,
    arch: &str,
    cfg: &ModelConfig,
    path: &Path,
) -> Result<GemmaParams, ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    let window =
        g.get_u64(&key("attention.sliding_window"))
            .ok_or_else(|| ModelError::BadConfig {
                path: path.to_path_buf(),
                msg: format!("missing metadata {}", key("attention.sliding_window")),
            })? as usize;
    let f = |k: &str| g.get_f32(&key(k)).map(f64::from);
    Ok(GemmaParams {
        window,
        global_every: g
            .get_u64(&key("attention.sliding_window_pattern"))
            .map_or(6, |v| v as usize),
        rope_local_theta: f("rope.freq_base_swa").unwrap_or(10_000.0),
        query_pre_attn_scalar: cfg.head_dim as f64,
        attn_softcap: f("attn_logit_softcapping"),
        final_softcap: f("final_logit_softcapping"),
    })
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
