//! Llama-architecture forward pass in tch: RMSNorm, RoPE, grouped-query attention, SwiGLU.

use tch::{Kind, Tensor};

use super::cache::KvCache;
use super::config::ModelConfig;
use super::error::ModelError;
use super::ops::{
    attention, final_norm, gated_weight_bytes, head_logits, rms_norm, Compute, Linear, Rope,
};
use super::profile::span;
use super::rows;
use super::weights::Weights;
use super::{ForwardOptions, ForwardOutput, HiddenTap, LogitsWanted};

struct Layer {
    attn_norm: Tensor,
    /// Fused q/k/v projection to `(H + 2·Hkv)·D`.
    qkv: Linear,
    wo: Linear,
    mlp_norm: Tensor,
    /// Fused gate/up projection to `2·F`.
    gate_up: Linear,
    down: Linear,
}

/// A Llama-family model (Llama, SmolLM, Qwen2, Mistral without sliding window).
pub struct Llama {
    cfg: ModelConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    head: Linear,
    rope: Rope,
}

impl Llama {
    /// Builds the model from Hugging Face-named weights, converted to `kind` (a dtype, or
    /// a quantised [`Compute`]).
    pub fn new(
        cfg: ModelConfig,
        mut w: Weights,
        kind: impl Into<Compute>,
    ) -> Result<Self, ModelError> {
        let kind: Compute = kind.into();
        let act = kind.act();
        let cast = |t: Tensor| t.to_kind(act);
        let embed = w.take("model.embed_tokens.weight")?;
        let mut layers = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let p = format!("model.layers.{i}");
            let q = w.take(&format!("{p}.self_attn.q_proj.weight"))?;
            let k = w.take(&format!("{p}.self_attn.k_proj.weight"))?;
            let v = w.take(&format!("{p}.self_attn.v_proj.weight"))?;
            let bqkv = if cfg.qkv_bias {
                let bq = w.take(&format!("{p}.self_attn.q_proj.bias"))?;
                let bk = w.take(&format!("{p}.self_attn.k_proj.bias"))?;
                let bv = w.take(&format!("{p}.self_attn.v_proj.bias"))?;
                Some(Tensor::cat(&[bq, bk, bv], 0))
            } else {
                None
            };
            let gate = w.take(&format!("{p}.mlp.gate_proj.weight"))?;
            let up = w.take(&format!("{p}.mlp.up_proj.weight"))?;
            layers.push(Layer {
                attn_norm: cast(w.take(&format!("{p}.input_layernorm.weight"))?),
                qkv: Linear::new(&Tensor::cat(&[q, k, v], 0), bqkv.as_ref(), kind),
                wo: Linear::new(
                    &w.take(&format!("{p}.self_attn.o_proj.weight"))?,
                    None,
                    kind,
                ),
                mlp_norm: cast(w.take(&format!("{p}.post_attention_layernorm.weight"))?),
                gate_up: Linear::new(&Tensor::cat(&[gate, up], 0), None, kind),
                down: Linear::new(&w.take(&format!("{p}.mlp.down_proj.weight"))?, None, kind),
            });
        }
        let norm = cast(w.take("model.norm.weight")?);
        let head = if cfg.tied_embeddings {
            embed.shallow_clone()
        } else {
            w.take("lm_head.weight")?
        };
        let rope = Rope::new(cfg.head_dim, cfg.context_len, cfg.rope_theta, act);
        Ok(Llama {
            embed: cast(embed),
            head: Linear::new(&head, None, kind),
            norm,
            layers,
            rope,
            cfg,
        })
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Re-rotates cached keys that moved `by` slots to the left (the K-shift).
    pub(crate) fn shift_keys(&self, keys: &Tensor, by: i64) -> Tensor {
        self.rope.shift(keys, -by)
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
        // [t, d], and shaped [t, 1, d] to broadcast over [b, t, heads, d].
        let tables = self.rope.slice(start, t);
        let (cos, sin) = (tables.0.unsqueeze(1), tables.1.unsqueeze(1));
        let eps = self.cfg.norm_eps;
        let mut x = span("embed", || {
            Tensor::embedding(&self.embed, tokens, -1, false, false)
        });
        let mut attentions = Vec::new();
        let mut tap = HiddenTap::new(opts.hidden);
        tap.push(&x);
        let depth = opts.exit_after.unwrap_or(self.layers.len());
        let f = self.cfg.intermediate as i64;
        for (i, l) in self.layers.iter().take(depth).enumerate() {
            let hdn = span("rms_norm", || rms_norm(&x, &l.attn_norm, eps));
            let qkv = span("qkv_proj", || l.qkv.forward(&hdn));
            let (q, k, v) = span("split_rope", || {
                if let Some(qkv) = rows::split_rope(&qkv, &tables.0, &tables.1, h, hkv) {
                    return qkv;
                }
                // Queries and keys rotated together, as [b, t, heads, d].
                let qk = qkv.narrow(2, 0, (h + hkv) * d).view([b, t, h + hkv, d]);
                let qk = Rope::apply(&qk, &cos, &sin);
                let v = qkv
                    .narrow(2, (h + hkv) * d, hkv * d)
                    .view([b, t, hkv, d])
                    .transpose(1, 2)
                    .contiguous();
                (
                    qk.narrow(2, 0, h).transpose(1, 2),
                    qk.narrow(2, h, hkv).transpose(1, 2),
                    v,
                )
            });
            let (k, v) = span("kv_cache", || cache.append(i, k, v));
            let (out, probs) = span("attention", || {
                attention(&q, &k, &v, start, opts.capture_attention)
            });
            if let Some(p) = probs {
                attentions.push(p);
            }
            let o = span("o_proj", || l.wo.forward(&out));
            span("residual", || x += o);
            let hdn = span("rms_norm", || rms_norm(&x, &l.mlp_norm, eps));
            let gu = span("gate_up_proj", || l.gate_up.forward(&hdn));
            let act = span("silu_mul", || {
                rows::silu_mul(&gu, f)
                    .unwrap_or_else(|| gu.narrow(2, 0, f).silu() * gu.narrow(2, f, f))
            });
            let down = span("down_proj", || l.down.forward(&act));
            span("residual", || x += down);
            tap.push(&x);
        }
        let x = match opts.logits {
            LogitsWanted::Last => x.select(1, t - 1),
            LogitsWanted::All => x,
        };
        let x = span("rms_norm", || rms_norm(&x, &self.norm, eps));
        let logits = span("head", || self.head.forward(&x).to_kind(Kind::Float));
        ForwardOutput {
            logits,
            attentions,
            hidden: tap.finish(),
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

    /// The head applied to `rows`, after the final norm when `normed`.
    pub(crate) fn lens(&self, rows: &Tensor, normed: bool) -> Tensor {
        head_logits(rows, &self.norm, self.cfg.norm_eps, &self.head, normed)
    }
}
