//! Named weight tensors (Hugging Face names) loaded from a GGUF file or safetensors files.

use crate::oneline::one_line;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::Tensor;

use super::config::{Arch, ModelConfig};
use super::error::ModelError;
use super::gguf::GgufFile;

/// Weights by Hugging Face name, in f32 on the CPU until a model takes them.
pub struct Weights {
    map: HashMap<String, Tensor>,
}

impl Weights {
    /// Removes and returns a tensor, or says which one is missing.
    pub fn take(&mut self, name: &str) -> Result<Tensor, ModelError> {
        self.map
            .remove(name)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_string(),
            })
    }

    /// Whether a tensor of this name is present.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Dequantizes every tensor of a GGUF file and renames it to its Hugging Face name,
    /// undoing llama.cpp's Q/K row permutation so that the usual `rotate_half` RoPE applies.
    /// `progress` is called with the fraction done.
    pub fn from_gguf(
        g: &GgufFile,
        cfg: &ModelConfig,
        progress: &mut dyn FnMut(f32),
    ) -> Result<Self, ModelError> {
        let to_hf = match cfg.arch {
            Arch::Llama => hf_name,
            Arch::Gemma3 => hf_name_gemma,
            Arch::Gpt2 => {
                return Err(ModelError::Other(
                    "GGUF loading supports llama-family and Gemma 3 models; use a Hugging Face directory for GPT-2"
                        .into(),
                ))
            }
        };
        // llama.cpp permutes Q/K rows only for the `llama` architecture (interleaved RoPE);
        // others (qwen2, gemma3...) are stored in Hugging Face order already.
        let permuted = g.architecture() == Some("llama");
        let infos = g.tensors();
        let mut map = HashMap::with_capacity(infos.len());
        for (n, info) in infos.iter().enumerate() {
            let (data, shape) = g.dequantize(&info.name)?;
            let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            let t = Tensor::from_slice(&data).view(shape.as_slice());
            let hf = to_hf(&info.name);
            let t = if permuted && hf.ends_with("q_proj.weight") {
                unpermute(&t, cfg.heads)?
            } else if permuted && hf.ends_with("k_proj.weight") {
                unpermute(&t, cfg.kv_heads)?
            } else {
                t
            };
            map.insert(hf, t);
            progress((n + 1) as f32 / infos.len() as f32);
        }
        Ok(Weights { map })
    }

    /// Loads every tensor of the given safetensors files.
    pub fn from_safetensors(files: &[PathBuf]) -> Result<Self, ModelError> {
        let mut map = HashMap::new();
        for f in files {
            let tensors = Tensor::read_safetensors(f).map_err(|e| ModelError::BadConfig {
                path: f.to_path_buf(),
                msg: format!("cannot read safetensors: {}", one_line(e)),
            })?;
            for (name, t) in tensors {
                map.insert(name, t.to_kind(tch::Kind::Float));
            }
        }
        Ok(Weights { map })
    }

    /// The safetensors files of a Hugging Face directory: those named by
    /// `model.safetensors.index.json` when present, else every `*.safetensors`.
    pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
        let index = dir.join("model.safetensors.index.json");
        let mut files: Vec<PathBuf> = if index.exists() {
            let text = std::fs::read_to_string(&index).map_err(|e| ModelError::Io {
                path: index.to_path_buf(),
                source: e,
            })?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| ModelError::BadConfig {
                    path: index.to_path_buf(),
                    msg: format!("invalid JSON: {e}"),
                })?;
            let mut names: Vec<String> = v["weight_map"]
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names.dedup();
            names.into_iter().map(|n| dir.join(n)).collect()
        } else {
            let rd = std::fs::read_dir(dir).map_err(|e| ModelError::Io {
                path: dir.to_path_buf(),
                source: e,
            })?;
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
                .collect()
        };
        files.sort();
        if files.is_empty() {
            return Err(ModelError::BadConfig {
                path: dir.to_path_buf(),
                msg: "no *.safetensors weights in the directory".into(),
            });
        }
        Ok(files)
    }
}

/// llama.cpp tensor names and their Hugging Face names: the whole-model ones, then the
/// per-layer parts (`blk.N.` / `model.layers.N.`).
const GLOBAL_NAMES: [(&str, &str); 3] = [
    ("token_embd.weight", "model.embed_tokens.weight"),
    ("output_norm.weight", "model.norm.weight"),
    ("output.weight", "lm_head.weight"),
];
const LAYER_NAMES: [(&str, &str); 12] = [
    ("attn_norm.weight", "input_layernorm.weight"),
    ("ffn_norm.weight", "post_attention_layernorm.weight"),
    ("attn_q.weight", "self_attn.q_proj.weight"),
    ("attn_k.weight", "self_attn.k_proj.weight"),
    ("attn_v.weight", "self_attn.v_proj.weight"),
    ("attn_q.bias", "self_attn.q_proj.bias"),
    ("attn_k.bias", "self_attn.k_proj.bias"),
    ("attn_v.bias", "self_attn.v_proj.bias"),
    ("attn_output.weight", "self_attn.o_proj.weight"),
    ("ffn_gate.weight", "mlp.gate_proj.weight"),
    ("ffn_up.weight", "mlp.up_proj.weight"),
    ("ffn_down.weight", "mlp.down_proj.weight"),
];

/// Gemma's per-layer names, looked up before [`LAYER_NAMES`]: its `ffn_norm` is the norm
/// before the MLP, and it has norms after attention and after the MLP, and per-head q/k norms.
/// (llama.cpp stores Gemma's norm weights as `1 + w`, the factor Gemma multiplies by.)
const GEMMA_LAYER_NAMES: [(&str, &str); 5] = [
    ("ffn_norm.weight", "pre_feedforward_layernorm.weight"),
    (
        "post_attention_norm.weight",
        "post_attention_layernorm.weight",
    ),
    ("post_ffw_norm.weight", "post_feedforward_layernorm.weight"),
    ("attn_q_norm.weight", "self_attn.q_norm.weight"),
    ("attn_k_norm.weight", "self_attn.k_norm.weight"),
];

/// A llama.cpp tensor name as its Hugging Face name (unknown names unchanged).
pub(crate) fn hf_name(gguf: &str) -> String {
    rename(gguf, "blk.", "model.layers.", &[&LAYER_NAMES], |(g, h)| {
        (g, h)
    })
}

/// A Hugging Face tensor name as its llama.cpp name (unknown names unchanged).
pub(crate) fn gguf_name(hf: &str) -> String {
    rename(hf, "model.layers.", "blk.", &[&LAYER_NAMES], |(g, h)| {
        (h, g)
    })
}

/// [`hf_name`] for a Gemma 3 file.
pub(crate) fn hf_name_gemma(gguf: &str) -> String {
    let tables: [&[_]; 2] = [&GEMMA_LAYER_NAMES, &LAYER_NAMES];
    rename(gguf, "blk.", "model.layers.", &tables, |(g, h)| (g, h))
}

/// [`gguf_name`] for a Gemma 3 file.
pub(crate) fn gguf_name_gemma(hf: &str) -> String {
    let tables: [&[_]; 2] = [&GEMMA_LAYER_NAMES, &LAYER_NAMES];
    rename(hf, "model.layers.", "blk.", &tables, |(g, h)| (h, g))
}

type NamePair = (&'static str, &'static str);

fn rename(
    name: &str,
    from_layer: &str,
    to_layer: &str,
    tables: &[&[NamePair]],
    dir: fn(NamePair) -> NamePair,
) -> String {
    if let Some((_, to)) = GLOBAL_NAMES.into_iter().map(dir).find(|(f, _)| *f == name) {
        return to.into();
    }
    if let Some((layer, part)) = name
        .strip_prefix(from_layer)
        .and_then(|r| r.split_once('.'))
    {
        let part = tables
            .iter()
            .flat_map(|t| t.iter().copied())
            .map(dir)
            .find(|(f, _)| *f == part)
            .map_or(part, |(_, t)| t);
        return format!("{to_layer}{layer}.{part}");
    }
    name.to_string()
}

/// Inverts llama.cpp's `permute(w, n_head)`, which interleaves the two rotary halves of
/// every head's rows. The shapes were validated against the configuration already.
fn unpermute(w: &Tensor, heads: usize) -> Result<Tensor, ModelError> {
    let h = heads as i64;
    let (rows, cols) = match w.size2() {
        Ok((r, c)) if h > 0 && r % (2 * h) == 0 => (r, c),
        _ => {
            return Err(ModelError::Other(format!(
                "cannot split a {:?} projection into {heads} rotary heads",
                w.size()
            )))
        }
    };
    Ok(w.view([h, rows / h / 2, 2, cols])
        .transpose(1, 2)
        .reshape([rows, cols]))
}
