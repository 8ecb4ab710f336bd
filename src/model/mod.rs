//! The model side (tch): file formats, tokenizers, architectures and the KV cache.
//!
//! The cache is a value passed to `forward`, never a field of the model, so beams and
//! two-model methods can keep several caches per model.

pub mod cache;
pub mod chat;
pub mod config;
pub mod detok;
mod elem;
pub mod error;
mod forward;
pub mod gemma3;
mod gemv;
pub mod gguf;
pub mod gpt2;
pub mod lens;
pub mod llama;
mod ops;
pub mod perplexity;
pub mod plan;
mod pool;
pub mod profile;
pub mod quant;
mod rows;
pub mod taps;
pub mod threads;
pub mod tokenizer;
pub mod validate;
pub mod weights;

use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::{Kind, Tensor};

use cache::KvCache;
use config::{Arch, ModelConfig};
use error::ModelError;
use gguf::GgufFile;
use tokenizer::Tok;
use weights::Weights;

pub(crate) use forward::HiddenTap;
pub use forward::{ForwardOptions, ForwardOutput, HiddenWanted, LogitsWanted};
pub use ops::Compute;

/// File name of the default model, installed by `scripts/setup.sh`.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Compute precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    Bf16,
    /// Weight-only int8 projections (one scale per row), bf16 activations.
    Q8,
    /// Weight-only int4 projections (groups of 32: GGUF 4-bit blocks keep their codes, with
    /// scales rounded to bf16), bf16 activations; weights that are not 4-bit grids (a `Q8_0`
    /// embedding) take int8.
    Q4,
}

impl Dtype {
    /// How the projections compute in this precision.
    pub fn compute(self) -> Compute {
        match self {
            Dtype::F32 => Compute::Dense(Kind::Float),
            Dtype::Bf16 => Compute::Dense(Kind::BFloat16),
            Dtype::Q8 => Compute::Int8 {
                act: Kind::BFloat16,
            },
            Dtype::Q4 => Compute::Int4 {
                act: Kind::BFloat16,
            },
        }
    }

    /// Lower-case name (`f32`, `bf16`, `q8`, `q4`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::Bf16 => "bf16",
            Dtype::Q8 => "q8",
            Dtype::Q4 => "q4",
        }
    }
}

/// A causal language model of one of the supported architectures.
pub enum Model {
    Llama(llama::Llama),
    Gpt2(gpt2::Gpt2),
    Gemma3(gemma3::Gemma3),
}

impl Model {
    /// The model's hyper-parameters.
    pub fn config(&self) -> &ModelConfig {
        match self {
            Model::Llama(m) => m.config(),
            Model::Gpt2(m) => m.config(),
            Model::Gemma3(m) => m.config(),
        }
    }

    /// An empty KV cache for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.config().layers)
    }

    /// An empty KV cache for this model under an eviction policy.
    pub fn new_cache_with(&self, policy: cache::CachePolicy) -> KvCache {
        KvCache::with_policy(self.config().layers, policy)
    }

    /// Runs `tokens` (`[batch, T]` int64) after what `cache` holds, appending to it; under a
    /// bounded [`cache::CachePolicy`] it first evicts what the new tokens need. Fails, without
    /// touching the cache, when the context would overflow or the chunk exceeds
    /// [`KvCache::max_chunk`].
    pub fn forward(
        &self,
        tokens: &Tensor,
        cache: &mut KvCache,
        opts: ForwardOptions,
    ) -> Result<ForwardOutput, ModelError> {
        validate::token_ids(tokens, self.config().vocab_size)?;
        let t = tokens.size().get(1).copied().unwrap_or(0) as usize;
        let ctx = self.config().context_len;
        if t == 0 {
            return Err(ModelError::Other(
                "nothing to run: empty token sequence".into(),
            ));
        }
        let needed = cache.len_after(t).map_err(ModelError::Other)?;
        if needed > ctx {
            return Err(ModelError::ContextFull {
                needed,
                context: ctx,
            });
        }
        if let Some(l) = opts.exit_after {
            if l == 0 || l > self.config().layers {
                return Err(ModelError::Other(format!(
                    "early exit after {l} layers: the model has layers 1..={}",
                    self.config().layers
                )));
            }
        }
        let _guard = tch::no_grad_guard();
        // Evict before running so the cache never exceeds the context.
        let shift = |layer: usize, k: &Tensor, by: i64| match self {
            Model::Llama(m) => m.shift_keys(k, by),
            Model::Gemma3(m) => m.shift_keys(layer, k, by),
            Model::Gpt2(_) => k.shallow_clone(),
        };
        cache.make_room(t, &shift).map_err(ModelError::Other)?;
        let t0 = Instant::now();
        let out = match self {
            Model::Llama(m) => m.forward(tokens, cache, opts),
            Model::Gpt2(m) => m.forward(tokens, cache, opts),
            Model::Gemma3(m) => m.forward(tokens, cache, opts),
        };
        if tokens.numel() == 1 {
            // A decode step: its time tells the thread governor whether the cores are free.
            threads::observe(
                self as *const Model as usize,
                t0.elapsed().as_secs_f64() * 1e3,
            );
        }
        Ok(out)
    }

    /// The logit lens: `rows` (`[n, d]` residual streams) through the final norm (when
    /// `normed`) and the head, as f32 `[n, vocab]`. Without the norm it is Hugging Face's
    /// DoLa reading of a premature layer.
    pub fn lens_logits(&self, rows: &Tensor, normed: bool) -> Tensor {
        let _guard = tch::no_grad_guard();
        match self {
            Model::Llama(m) => m.lens(rows, normed),
            Model::Gpt2(m) => m.lens(rows, normed),
            Model::Gemma3(m) => m.lens(rows, normed),
        }
    }

    /// The final norm of `rows` (`[.., d]`), f32: the last layer's hidden state as Hugging
    /// Face's `hidden_states[-1]` reports it (contrastive search compares these).
    pub fn final_norm(&self, rows: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        match self {
            Model::Llama(m) => m.norm(rows),
            Model::Gpt2(m) => m.norm(rows),
            Model::Gemma3(m) => m.norm(rows),
        }
    }

    /// Bytes of weights one decode step reads, per projection (over all layers) and for the
    /// head: the memory-bandwidth bound of decoding is their sum over the machine's stream
    /// rate.
    pub fn weight_bytes(&self) -> Vec<(&'static str, u64)> {
        match self {
            Model::Llama(m) => m.weight_bytes(),
            Model::Gpt2(m) => m.weight_bytes(),
            Model::Gemma3(m) => m.weight_bytes(),
        }
    }

    /// Convenience: one sequence of ids after `cache`; returns the last position's logits.
    pub fn next_logits(&self, ids: &[u32], cache: &mut KvCache) -> Result<Vec<f32>, ModelError> {
        let out = self.forward(&ids_tensor(&[ids]), cache, ForwardOptions::LAST)?;
        Ok(tensor_to_vec(&out.logits.get(0)))
    }
}

/// `[batch, T]` int64 tensor of token ids (all rows the same length).
pub fn ids_tensor(rows: &[&[u32]]) -> Tensor {
    let t = rows.first().map_or(0, |r| r.len()) as i64;
    let flat: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.iter().map(|&i| i as i64))
        .collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, t])
}

/// Copies a float tensor to a `Vec<f32>` (flattened).
pub fn tensor_to_vec(t: &Tensor) -> Vec<f32> {
    let t = t.to_kind(Kind::Float).contiguous().view([-1]);
    Vec::<f32>::try_from(&t).unwrap_or_default()
}

/// A model with its tokenizer.
pub struct Loaded {
    pub model: Model,
    pub tok: Tok,
    pub path: PathBuf,
    pub dtype: Dtype,
    /// The model's chat template, when it ships one.
    pub chat: Option<chat::ChatTemplate>,
}

impl Loaded {
    /// A short display name (the file or directory name).
    pub fn name(&self) -> String {
        config::file_stem(&self.path)
    }
}

/// The set-up cache: `$LOGITSCOPE_CACHE`, else `$XDG_CACHE_HOME/logitscope`, else
/// `~/.cache/logitscope` (where `scripts/setup.sh` installs models and the plans are kept).
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("LOGITSCOPE_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("logitscope"))
        })
}

/// Where the default model is looked for: `$LOGITSCOPE_MODEL`, the repository's `models/`,
/// then the set-up cache.
pub fn default_model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("LOGITSCOPE_MODEL") {
        return PathBuf::from(p);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(DEFAULT_MODEL_FILE);
    if repo.exists() {
        return repo;
    }
    match cache_dir() {
        Some(c) if c.join("models").join(DEFAULT_MODEL_FILE).exists() => {
            c.join("models").join(DEFAULT_MODEL_FILE)
        }
        _ => repo,
    }
}

/// Loads a GGUF file or a Hugging Face directory (`config.json`, `*.safetensors`,
/// `tokenizer.json`). `progress` receives a fraction and a message.
pub fn load(
    path: &Path,
    dtype: Dtype,
    progress: &mut dyn FnMut(f32, &str),
) -> Result<Loaded, ModelError> {
    let io = |e: std::io::Error| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let compute = dtype.compute();
    let (model, tok, template) = if meta.is_dir() {
        let cfg_path = path.join("config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::Io {
            path: cfg_path.to_path_buf(),
            source: e,
        })?;
        let cfg = ModelConfig::from_hf_json(&text, &cfg_path, config::file_stem(path))?;
        let keys = validate::Keys::hf(cfg.arch);
        let tok = Tok::from_file(&path.join("tokenizer.json"))?;
        progress(0.1, "reading safetensors");
        let files = Weights::safetensors_files(path)?;
        validate::safetensors(&files, &cfg, &keys, path)?;
        validate::tokenizer(&tok, &cfg, &keys, path)?;
        let w = Weights::from_safetensors(&files)?;
        progress(0.8, "building model");
        let template = hf_chat_template(path);
        (build(cfg, w, compute, progress)?, tok, template)
    } else {
        let g = GgufFile::open(path)?;
        let cfg = ModelConfig::from_gguf(&g, path)?;
        let keys = validate::Keys::for_gguf(&g);
        validate::gguf(&g, &cfg, &keys, path)?;
        let tok = Tok::from_gguf(&g, path)?;
        validate::tokenizer(&tok, &cfg, &keys, path)?;
        let w = Weights::from_gguf(&g, &cfg, &mut |f| progress(0.9 * f, "dequantizing weights"))?;
        let template = g.get_str("tokenizer.chat_template").map(str::to_string);
        (build(cfg, w, compute, progress)?, tok, template)
    };
    progress(1.0, "ready");
    let text = |id: Option<u32>| id.map_or(String::new(), |i| tok.display(i));
    let cfg = model.config();
    let chat = template
        .map(|t| chat::ChatTemplate::new(t, text(cfg.bos_id), text(cfg.eos_ids.first().copied())));
    Ok(Loaded {
        model,
        tok,
        path: path.to_path_buf(),
        dtype,
        chat,
    })
}

/// `chat_template` of a Hugging Face directory's `tokenizer_config.json`: a string, or the
/// `default` entry of a list of named templates.
fn hf_chat_template(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("tokenizer_config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    match &v["chat_template"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(list) => list
            .iter()
            .find(|t| t["name"] == "default")
            .and_then(|t| t["template"].as_str())
            .map(str::to_string),
        _ => None,
    }
}

fn build(
    cfg: ModelConfig,
    w: Weights,
    compute: Compute,
    progress: &mut dyn FnMut(f32, &str),
) -> Result<Model, ModelError> {
    if let Compute::Dense(kind) = compute {
        progress(0.9, "timing projection layouts (once per machine)");
        plan::prepare(kind, &plan::model_shapes(&cfg));
    }
    progress(0.95, "building model");
    Ok(match (cfg.arch, compute) {
        (Arch::Llama, _) => Model::Llama(llama::Llama::new(cfg, w, compute)?),
        (Arch::Gemma3, _) => Model::Gemma3(gemma3::Gemma3::new(cfg, w, compute)?),
        (Arch::Gpt2, Compute::Dense(kind)) => Model::Gpt2(gpt2::Gpt2::new(cfg, w, kind)?),
        (Arch::Gpt2, _) => {
            return Err(ModelError::Other(
                "quantised compute (q8, q4) supports llama-family models only".into(),
            ))
        }
    })
}
