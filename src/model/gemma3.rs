//! Gemma 3 forward pass in tch: scaled embeddings, RMSNorm before and after attention and the
//! MLP, per-head q/k RMSNorm, GELU-tanh gated MLP, interleaved sliding-window and global
//! layers with their own RoPE bases, optional soft-caps.
//!
//! The norm weights come from llama.cpp's GGUF, which stores Gemma's `1 + w` factor already,
//! so every norm here is a plain RMSNorm.

use tch::{Kind, Tensor};

use super::cache::KvCache;
use super::config::{GemmaParams, LayerKind, ModelConfig};
use super::error::ModelError;
use super::ops::{
    attention_with, final_norm, gated_weight_bytes, head_logits, rms_norm, Compute, Linear, Rope,
    Scores,
};
use super::profile::span;
use super::weights::Weights;
use super::{ForwardOptions, ForwardOutput, HiddenTap, LogitsWanted};

struct Layer {
    attn_norm: Tensor,
    q_norm: Tensor,
    k_norm: Tensor,
    /// Fused q/k/v projection to `(H + 2·Hkv)·D`.
    qkv: Linear,
    wo: Linear,
    post_attn_norm: Tensor,
    ffn_norm: Tensor,
    post_ffn_norm: Tensor,
    /// Fused gate/up projection to `2·F`.
    gate_up: Linear,
    down: Linear,
    /// `Some(window)` for a sliding layer.
    window: Option<i64>,
}

/// A Gemma 3 text model.
pub struct Gemma3 {
    cfg: ModelConfig,
    extra: GemmaParams,
    embed: Tensor,
    /// `sqrt(d)` in the compute dtype (Hugging Face rounds it to the weights' dtype).
    embed_scale: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    head: Linear,
    rope_global: Rope,
    rope_local: Rope,
}

impl Gemma3 {
    /// Builds the model from Hugging Face-named weights, converted to `kind`.
    pub fn new(
        cfg: ModelConfig,
        mut w: Weights,
        kind: impl Into<Compute>,
    ) -> Result<Self, ModelError> {
        let kind: Compute = kind.into();
        let act = kind.act();
        let extra = cfg.gemma.clone().ok_or_else(|| {
            ModelError::Other("a Gemma 3 model needs its Gemma parameters".into())
        })?;
        let norm = |w: &mut Weights, name: String| w.take(&name).map(|t| t.to_kind(act));
        let mut layers = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let p = format!("model.layers.{i}");
            let attn_norm = norm(&mut w, format!("{p}.input_layernorm.weight"))?;
            let q_norm = norm(&mut w, format!("{p}.self_attn.q_norm.weight"))?;
            let k_norm = norm(&mut w, format!("{p}.self_attn.k_norm.weight"))?;
            let post_attn_norm = norm(&mut w, format!("{p}.post_attention_layernorm.weight"))?;
            let ffn_norm = norm(&mut w, format!("{p}.pre_feedforward_layernorm.weight"))?;
            let post_ffn_norm = norm(&mut w, format!("{p}.post_feedforward_layernorm.weight"))?;
            let q = w.take(&format!("{p}.self_attn.q_proj.weight"))?;
            let k = w.take(&format!("{p}.self_attn.k_proj.weight"))?;
            let v = w.take(&format!("{p}.self_attn.v_proj.weight"))?;
            let gate = w.take(&format!("{p}.mlp.gate_proj.weight"))?;
            let up = w.take(&format!("{p}.mlp.up_proj.weight"))?;
            layers.push(Layer {
                attn_norm,
                q_norm,
                k_norm,
                qkv: Linear::new(&Tensor::cat(&[q, k, v], 0), None, kind),
                wo: Linear::new(
                    &w.take(&format!("{p}.self_attn.o_proj.weight"))?,
                    None,
                    kind,
                ),
                post_attn_norm,
                ffn_norm,
                post_ffn_norm,
                gate_up: Linear::new(&Tensor::cat(&[gate, up], 0), None, kind),
                down: Linear::new(&w.take(&format!("{p}.mlp.down_proj.weight"))?, None, kind),
                window: match cfg.layer_kind(i) {
                    LayerKind::Sliding { window } => Some(window as i64),
                    LayerKind::Global => None,
                },
            });
        }
        let final_norm = w.take("model.norm.weight")?.to_kind(act);
        let embed = w.take("model.embed_tokens.weight")?;
        let head = if cfg.tied_embeddings {
            embed.shallow_clone()
        } else {
            w.take("lm_head.weight")?
        };
        let rope = |theta| Rope::new(cfg.head_dim, cfg.context_len, theta, act);
        Ok(Gemma3 {
            embed_scale: Tensor::from((cfg.hidden as f64).sqrt() as f32).to_kind(act),
            embed: embed.to_kind(act),
            head: Linear::new(&head, None, kind),
            norm: final_norm,
            layers,
            rope_global: rope(cfg.rope_theta),
            rope_local: rope(extra.rope_local_theta),
            extra,
            cfg,
        })
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Re-rotates layer `layer`'s cached keys that moved `by` slots to the left (the K-shift),
    /// with that layer's RoPE base.
    pub(crate) fn shift_keys(&self, layer: usize, keys: &Tensor, by: i64) -> Tensor {
        self.rope(layer).shift(keys, -by)
    }

    fn rope(&self, layer: usize) -> &Rope {
        match self.layers.get(layer).and_then(|l| l.window) {
            Some(_) => &self.rope_local,
            None => &self.rope_global,
        }
    }

    /// Runs `tokens` (`[batch, T]`, int64) after what `cache` holds and appends to it.
    pub fn forward(
        &self,
        tokens: &Tensor,
        cache: &mut KvCache,
        opts: ForwardOptions,
    ) -> ForwardOutput {
        let (b, t) = tokens.size2().expect("tokens must be [batch, T]");
        let (h, hkv, d) = (
            self.cfg.heads as i64,
            self.cfg.kv_heads as i64,
            self.cfg.head_dim as i64,
        );
        // StreamingLLM: positions are cache positions.
        let start = cache.len() as i64;
        let global = self.rope_global.slice(start, t);
        let local = self.rope_local.slice(start, t);
        let eps = self.cfg.norm_eps;
        let mut x = span("embed", || {
            Tensor::embedding(&self.embed, tokens, -1, false, false) * &self.embed_scale
        });
        let mut attentions = Vec::new();
        let mut tap = HiddenTap::new(opts.hidden);
        tap.push(&x);
        let depth = opts.exit_after.unwrap_or(self.layers.len());
        let f = self.cfg.intermediate as i64;
        for (i, l) in self.layers.iter().take(depth).enumerate() {
            let hdn = span("rms_norm", || rms_norm(&x, &l.attn_norm, eps));
            let qkv = span("qkv_proj", || l.qkv.forward(&hdn));
            let (q, k, v) = span("split_norm_rope", || {
                let q = qkv.narrow(2, 0, h * d).view([b, t, h, d]);
                let k = qkv.narrow(2, h * d, hkv * d).view([b, t, hkv, d]);
                let v = qkv
                    .narrow(2, (h + hkv) * d, hkv * d)
                    .view([b, t, hkv, d])
                    .transpose(1, 2)
                    .contiguous();
                let q = rms_norm(&q, &l.q_norm, eps).transpose(1, 2);
                let k = rms_norm(&k, &l.k_norm, eps).transpose(1, 2);
                let (cos, sin) = if l.window.is_some() { &local } else { &global };
                (Rope::apply(&q, cos, sin), Rope::apply(&k, cos, sin), v)
            });
            let (k, v) = span("kv_cache", || cache.append(i, k, v));
            let how = Scores {
                scale: self.extra.query_pre_attn_scalar.powf(-0.5),
                window: l.window,
                softcap: self.extra.attn_softcap,
            };
            let (out, probs) = span("attention", || {
                attention_with(&q, &k, &v, start, opts.capture_attention, how)
            });
            if let Some(p) = probs {
                attentions.push(p);
            }
            let o = span("o_proj", || l.wo.forward(&out));
            span("norm_residual", || {
                x += rms_norm(&o, &l.post_attn_norm, eps)
            });
            let hdn = span("rms_norm", || rms_norm(&x, &l.ffn_norm, eps));
            let gu = span("gate_up_proj", || l.gate_up.forward(&hdn));
            let act = span("gelu_mul", || {
                gu.narrow(2, 0, f).gelu("tanh") * gu.narrow(2, f, f)
            });
            let down = span("down_proj", || l.down.forward(&act));
            span("norm_residual", || {
                x += rms_norm(&down, &l.post_ffn_norm, eps)
            });
            tap.push(&x);
        }
        let x = match opts.logits {
            LogitsWanted::Last => x.select(1, t - 1),
            LogitsWanted::All => x,
        };
        let x = span("rms_norm", || rms_norm(&x, &self.norm, eps));
        let logits = span("head", || {
            self.softcap(self.head.forward(&x).to_kind(Kind::Float))
        });
        ForwardOutput {
            logits,
            attentions,
            hidden: tap.finish(),
        }
    }

    /// Final logit soft-capping, when the model has it.
    fn softcap(&self, logits: Tensor) -> Tensor {
        match self.extra.final_softcap {
            Some(c) => (logits / c).tanh() * c,
            None => logits,
        }
    }

    /// Bytes of weights one decode step streams, per projection (named as the profile's
    /// spans) over all layers, and the head.
    pub(crate) fn weight_bytes(&self) -> Vec<(&'static str, u64)> {
        let layers = self
            .layers
            .iter()
            .map(|l| [&l.qkv, &l.wo, &l.gate_up, &l.down]);
        gated_weight_bytes(layers, &self.head)
    }

    /// Final norm in the compute precision, returned as f32.
    pub(crate) fn norm(&self, rows: &Tensor) -> Tensor {
        final_norm(rows, &self.norm, self.cfg.norm_eps)
    }

    /// The head applied to `rows`, after the final norm when `normed` (soft-capped like the
    /// model's own logits).
    pub(crate) fn lens(&self, rows: &Tensor, normed: bool) -> Tensor {
        let logits = head_logits(rows, &self.norm, self.cfg.norm_eps, &self.head, normed);
        self.softcap(logits)
    }
}
