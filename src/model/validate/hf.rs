//! The Hugging Face side of validation: `config.json` field names and safetensors headers
//! checked against the configuration before any data is loaded.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::super::config::{Arch, ModelConfig};
use super::super::error::ModelError;
use super::{bad, model, Declared, Keys, Naming};

/// Largest safetensors header read (the JSON before the data).
const MAX_SAFETENSORS_HEADER: u64 = 100 << 20;

impl Keys {
    /// `config.json` field names of a Hugging Face model.
    pub fn hf(arch: Arch) -> Keys {
        let s = |x: &str| x.to_string();
        match arch {
            Arch::Llama | Arch::Gemma3 => Keys {
                hidden: s("hidden_size"),
                heads: s("num_attention_heads"),
                kv_heads: s("num_key_value_heads"),
                head_dim: s("head_dim"),
                layers: s("num_hidden_layers"),
                ffn: s("intermediate_size"),
                vocab: s("vocab_size"),
                context: s("max_position_embeddings"),
                rope_theta: s("rope_theta"),
                norm_eps: s("rms_norm_eps"),
                tied: s("tie_word_embeddings"),
                derived_head_dim: false,
            },
            Arch::Gpt2 => Keys {
                hidden: s("n_embd"),
                heads: s("n_head"),
                kv_heads: s("n_head"),
                head_dim: s("n_embd / n_head"),
                layers: s("n_layer"),
                ffn: s("n_inner"),
                vocab: s("vocab_size"),
                context: s("n_positions"),
                rope_theta: s("rope_theta"),
                norm_eps: s("layer_norm_epsilon"),
                tied: s("tie_word_embeddings"),
                derived_head_dim: true,
            },
        }
    }
}

/// The tensors of safetensors files (read from their headers only), checked against the
/// configuration before any data is loaded.
pub fn safetensors(
    files: &[PathBuf],
    cfg: &ModelConfig,
    keys: &Keys,
    dir: &Path,
) -> Result<(), ModelError> {
    let mut declared = Vec::new();
    for f in files {
        declared.extend(safetensors_header(f)?);
    }
    model(cfg, keys, declared, dir, Naming::HF)
}

/// Parses one safetensors header: `u64` length, then a JSON map of name to dtype and shape.
fn safetensors_header(path: &Path) -> Result<Vec<Declared>, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |what: String| bad(path, format!("corrupt safetensors header: {what}"));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut n = [0u8; 8];
    file.read_exact(&mut n)
        .map_err(|_| corrupt(format!("the file is only {len} bytes long")))?;
    let n = u64::from_le_bytes(n);
    if n > MAX_SAFETENSORS_HEADER || n > len - 8 {
        return Err(corrupt(format!(
            "it claims {n} bytes in a file of {len} bytes"
        )));
    }
    let mut text = vec![0u8; n as usize];
    file.read_exact(&mut text).map_err(io)?;
    let v: Value = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
    let map = v
        .as_object()
        .ok_or_else(|| corrupt("not a JSON object".into()))?;
    let mut out = Vec::with_capacity(map.len());
    for (name, t) in map.iter().filter(|(k, _)| *k != "__metadata__") {
        let shape = t["shape"]
            .as_array()
            .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
            .ok_or_else(|| corrupt(format!("tensor {name} has no valid shape")))?;
        let dtype = t["dtype"].as_str().unwrap_or("");
        let bad_type =
            (!matches!(dtype, "F32" | "F16" | "BF16" | "F64")).then(|| dtype.to_string());
        out.push(Declared {
            name: name.clone(),
            shape,
            bad_type,
        });
    }
    Ok(out)
}
