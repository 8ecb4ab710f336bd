//! GPT-2 forward pass in tch: LayerNorm, learned positions, GELU MLP, tied head.

use tch::{Kind, Tensor};

use super::cache::KvCache;
use super::config::ModelConfig;
use super::error::ModelError;
use super::ops::{attention, layer_norm, Linear};
use super::profile::span;
use super::weights::Weights;
use super::{ForwardOptions, ForwardOutput, HiddenTap, LogitsWanted};

struct Block {
    ln1: (Tensor, Tensor),
    /// Fused q/k/v projection to `3d`.
    attn: Linear,
    proj: Linear,
    ln2: (Tensor, Tensor),
    fc: Linear,
    out: Linear,
}

impl Block {
    fn load(w: &mut Weights, p: &str, kind: Kind) -> Result<Self, ModelError> {
        let mut get = |n: &str| w.take(&format!("{p}.{n}")).map(|t| t.to_kind(kind));
        // Conv1D stores [in, out]; Linear takes Hugging Face's [out, in].
        let mut conv = |n: &str| -> Result<Linear, ModelError> {
            let weight = get(&format!("{n}.weight"))?.tr();
            let bias = get(&format!("{n}.bias"))?;
            Ok(Linear::new(&weight, Some(&bias), kind))
        };
        Ok(Block {
            attn: conv("attn.c_attn")?,
            proj: conv("attn.c_proj")?,
            fc: conv("mlp.c_fc")?,
            out: conv("mlp.c_proj")?,
            ln1: (get("ln_1.weight")?, get("ln_1.bias")?),
            ln2: (get("ln_2.weight")?, get("ln_2.bias")?),
        })
    }
}

/// A GPT-2 model.
pub struct Gpt2 {
    cfg: ModelConfig,
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: (Tensor, Tensor),
}

impl Gpt2 {
    /// Builds the model from Hugging Face-named weights (with or without the `transformer.`
    /// prefix), converted to `kind`.
    pub fn new(cfg: ModelConfig, mut w: Weights, kind: Kind) -> Result<Self, ModelError> {
        let prefix = if w.contains("transformer.wte.weight") {
            "transformer."
        } else {
            ""
        };
        let blocks = (0..cfg.layers)
            .map(|i| Block::load(&mut w, &format!("{prefix}h.{i}"), kind))
            .collect::<Result<Vec<_>, _>>()?;
        let mut get = |n: &str| w.take(&format!("{prefix}{n}")).map(|t| t.to_kind(kind));
        Ok(Gpt2 {
            wte: get("wte.weight")?,
            wpe: get("wpe.weight")?,
            ln_f: (get("ln_f.weight")?, get("ln_f.bias")?),
            blocks,
            cfg,
        })
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Runs `tokens` (`[batch, T]`, int64) after what `cache` holds and appends to it.
    pub fn forward(
        &self,
        tokens: &Tensor,
        cache: &mut KvCache,
        opts: ForwardOptions,
    ) -> ForwardOutput {
        let (b, t) = tokens.size2().expect("tokens must be [batch, T]");
        let (h, d) = (self.cfg.heads as i64, self.cfg.head_dim as i64);
        // Learned positions are cache positions too (StreamingLLM).
        let start = cache.len() as i64;
        let eps = self.cfg.norm_eps;
        let pos = self.wpe.narrow(0, start, t);
        let mut x = span("embed", || {
            Tensor::embedding(&self.wte, tokens, -1, false, false) + pos
        });
        let mut attentions = Vec::new();
        let mut tap = HiddenTap::new(opts.hidden);
        tap.push(&x);
        let depth = opts.exit_after.unwrap_or(self.blocks.len());
        for (i, blk) in self.blocks.iter().take(depth).enumerate() {
            let hdn = span("layer_norm", || layer_norm(&x, &blk.ln1.0, &blk.ln1.1, eps));
            let qkv = span("qkv_proj", || blk.attn.forward(&hdn));
            let (q, k, v) = span("split", || {
                let split = |j: i64| {
                    qkv.narrow(2, j * h * d, h * d)
                        .view([b, t, h, d])
                        .transpose(1, 2)
                };
                (split(0), split(1), split(2).contiguous())
            });
            let (k, v) = span("kv_cache", || cache.append(i, k, v));
            let (out, probs) = span("attention", || {
                attention(&q, &k, &v, start, opts.capture_attention)
            });
            if let Some(p) = probs {
                attentions.push(p);
            }
            let o = span("o_proj", || blk.proj.forward(&out));
            span("residual", || x += o);
            let hdn = span("layer_norm", || layer_norm(&x, &blk.ln2.0, &blk.ln2.1, eps));
            let m = span("fc", || blk.fc.forward(&hdn));
            let m = span("gelu", || m.gelu("tanh"));
            let m = span("fc_out", || blk.out.forward(&m));
            span("residual", || x += m);
            tap.push(&x);
        }
        let x = match opts.logits {
            LogitsWanted::Last => x.select(1, t - 1),
            LogitsWanted::All => x,
        };
        let x = span("layer_norm", || {
            layer_norm(&x, &self.ln_f.0, &self.ln_f.1, eps)
        });
        let logits = span("head", || {
            x.linear::<Tensor>(&self.wte, None).to_kind(Kind::Float)
        });
        ForwardOutput {
            logits,
            attentions,
            hidden: tap.finish(),
        }
    }

    /// Bytes of weights one decode step streams, per projection over all blocks, and the
    /// tied head.
    pub(crate) fn weight_bytes(&self) -> Vec<(&'static str, u64)> {
        let sum = |f: fn(&Block) -> &Linear| self.blocks.iter().map(|b| f(b).bytes()).sum();
        let head = (self.wte.numel() * self.wte.kind().elt_size_in_bytes()) as u64;
        vec![
            ("qkv_proj", sum(|b| &b.attn)),
            ("o_proj", sum(|b| &b.proj)),
            ("fc", sum(|b| &b.fc)),
            ("fc_out", sum(|b| &b.out)),
            ("head", head),
        ]
    }

    /// Final layer norm in the compute precision, returned as f32.
    pub(crate) fn norm(&self, rows: &Tensor) -> Tensor {
        let x = rows.to_kind(self.wte.kind());
        layer_norm(&x, &self.ln_f.0, &self.ln_f.1, self.cfg.norm_eps).to_kind(Kind::Float)
    }

    /// The (tied) head applied to `rows`, after the final norm when `normed`.
    pub(crate) fn lens(&self, rows: &Tensor, normed: bool) -> Tensor {
        let x = rows.to_kind(self.wte.kind());
        let x = if normed {
            layer_norm(&x, &self.ln_f.0, &self.ln_f.1, self.cfg.norm_eps)
        } else {
            x
        };
        x.linear::<Tensor>(&self.wte, None).to_kind(Kind::Float)
    }
}
