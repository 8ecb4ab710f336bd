//! Building blocks shared by the architectures: normalisation, rotary embedding, attention.

use tch::{Device, Kind, Tensor};

use super::plan::{self, Choice, Storage};
use super::quant::pack;

/// The final RMSNorm of `rows` in `weight`'s precision, returned as f32 (the logit lens and
/// contrastive search read it).
pub(crate) fn final_norm(rows: &Tensor, weight: &Tensor, eps: f64) -> Tensor {
    rms_norm(&rows.to_kind(weight.kind()), weight, eps).to_kind(Kind::Float)
}

/// `head` applied to `rows` in `norm`'s precision, after the final norm when `normed`; f32.
pub(crate) fn head_logits(
    rows: &Tensor,
    norm: &Tensor,
    eps: f64,
    head: &Linear,
    normed: bool,
) -> Tensor {
    let x = rows.to_kind(norm.kind());
    let x = if normed { rms_norm(&x, norm, eps) } else { x };
    head.forward(&x).to_kind(Kind::Float)
}

/// RMSNorm computed in f32 (as Hugging Face does), returned in the input's dtype.
pub(crate) fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Tensor {
    if let Some(y) = super::rows::rms_norm(x, weight, eps) {
        return y;
    }
    let d = x.size().last().copied().unwrap_or(0);
    // libtorch's fused kernel accumulates in f32 for bf16 inputs too.
    x.rms_norm([d], Some(weight), eps)
}

/// LayerNorm over the last dimension.
pub(crate) fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Tensor {
    let d = x.size().last().copied().unwrap_or(0);
    x.layer_norm([d], Some(weight), Some(bias), eps, false)
}

/// Rotary position embedding tables (Hugging Face's `rotate_half` convention).
///
/// `rotate_half(x) = [-x₂, x₁]` is computed as `roll(x, D/2) · [-1…, 1…]`, the sign folded into
/// the sine table (`sin` holds `[-sin, sin]`): three kernels fewer per call, and the same
/// numbers, since `x₂·(-s)` and `(-x₂)·s` round alike.
pub(crate) struct Rope {
    cos: Tensor,
    sin: Tensor,
    /// Inverse frequencies `[head_dim / 2]` (f32), for rotations by any offset.
    inv: Tensor,
}

impl Rope {
    /// Tables for positions `0..max_pos` of a head of size `head_dim`.
    pub(crate) fn new(head_dim: usize, max_pos: usize, theta: f64, kind: Kind) -> Self {
        let half = head_dim / 2;
        let inv: Vec<f32> = (0..half)
            .map(|i| (1.0 / theta.powf(2.0 * i as f64 / head_dim as f64)) as f32)
            .collect();
        let inv = Tensor::from_slice(&inv);
        let pos = Tensor::arange(max_pos as i64, (Kind::Float, tch::Device::Cpu));
        let freqs = pos.unsqueeze(1) * inv.unsqueeze(0);
        let (cos, sin) = Rope::tables(&freqs);
        Rope {
            cos: cos.to_kind(kind),
            sin: sin.to_kind(kind),
            inv,
        }
    }

    /// `cos` and the signed `sin` tables `[.., head_dim]` of angles `[.., head_dim / 2]`.
    fn tables(freqs: &Tensor) -> (Tensor, Tensor) {
        let sin = freqs.sin();
        (
            Tensor::cat(&[freqs.cos(), freqs.cos()], -1),
            Tensor::cat(&[sin.neg(), sin], -1),
        )
    }

    /// Rotates `x` (`[batch, heads, T, head_dim]`, already rotated) by `delta` positions more,
    /// computed in f32: keys moved left by `n` cache slots take `delta = -n`.
    pub(crate) fn shift(&self, x: &Tensor, delta: i64) -> Tensor {
        let (cos, sin) = Rope::tables(&(&self.inv * delta as f64));
        Rope::apply(&x.to_kind(Kind::Float), &cos, &sin).to_kind(x.kind())
    }

    /// The tables for positions `start..start+len`, shaped `[len, head_dim]`.
    pub(crate) fn slice(&self, start: i64, len: i64) -> (Tensor, Tensor) {
        (
            self.cos.narrow(0, start, len),
            self.sin.narrow(0, start, len),
        )
    }

    /// Rotates `x` (`[.., head_dim]`) by tables from [`Rope::slice`] shaped to broadcast
    /// against it (`[T, head_dim]` for `[batch, heads, T, head_dim]`).
    pub(crate) fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
        let d = x.size().last().copied().unwrap_or(0);
        x * cos + x.roll([d / 2], [-1]) * sin
    }
}

/// Causal scaled dot-product attention with grouped-query heads (scores scaled by
/// `1/sqrt(head_dim)`, no window, no soft-cap); see [`attention_with`].
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    start: i64,
    want_probs: bool,
) -> (Tensor, Option<Tensor>) {
    let d = q.size().last().copied().unwrap_or(1);
    let scores = Scores {
        scale: 1.0 / (d as f64).sqrt(),
        window: None,
        softcap: None,
    };
    attention_with(q, k, v, start, want_probs, scores)
}

/// How attention scores are formed before the softmax.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scores {
    /// Factor applied to `q·k`.
    pub scale: f64,
    /// Keys at least this many slots before the query are masked (a sliding-window layer).
    pub window: Option<i64>,
    /// Scores become `c·tanh(s/c)` (after scaling, before the mask).
    pub softcap: Option<f64>,
}

/// Causal scaled dot-product attention with grouped-query heads.
///
/// `q`: `[B, H, T, D]`; `k`, `v`: `[B, Hkv, S, D]` where the last `T` key slots are the
/// queries' own positions and `start = S - T`. Returns the output `[B, T, H·D]` and, when
/// asked, the attention probabilities `[B, H, T, S]` (f32).
pub(crate) fn attention_with(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    start: i64,
    want_probs: bool,
    how: Scores,
) -> (Tensor, Option<Tensor>) {
    let (b, h, t, d) = q.size4().expect("q is [B,H,T,D]");
    let (hkv, s) = (k.size()[1], k.size()[2]);
    let hidden = hidden_keys(start, t, s, how.window);
    if how.softcap.is_none() && t == 1 {
        // A decode step: our own loop, without libtorch's per-call costs.
        let first = how.window.map_or(0, |w| (s - w).max(0)) as usize;
        if let Some(out) = super::rows::attend_one(q, k, v, first, how.scale) {
            let probs = want_probs.then(|| weights(q, k, hidden.as_ref(), how).view([b, h, t, s]));
            return (out, probs);
        }
    }
    if how.softcap.is_none() {
        // One fused call (libtorch's CPU flash kernel), in f32: its bf16 path is 2–3× slower
        // on CPUs without bf16 arithmetic, and the cast of a few thousand cached values costs
        // less than that. The output never depends on whether the weights are captured, so a
        // step computes the same numbers with the attention view open or closed.
        let mask = hidden.as_ref().map(|m| m.logical_not());
        let f = |x: &Tensor| x.to_kind(Kind::Float);
        let (qf, kf, vf) = (f(q), f(k), f(v));
        let out = Tensor::scaled_dot_product_attention(
            &qf,
            &kf,
            &vf,
            mask,
            0.0,
            false,
            how.scale,
            hkv != h,
        );
        let out = out.transpose(1, 2).reshape([b, t, h * d]).to_kind(q.kind());
        let probs = want_probs.then(|| weights(q, k, hidden.as_ref(), how).view([b, h, t, s]));
        return (out, probs);
    }
    let probs = weights(q, k, hidden.as_ref(), how);
    let out = probs
        .to_kind(v.kind())
        .matmul(v)
        .view([b, h, t, d])
        .transpose(1, 2)
        .reshape([b, t, h * d]);
    let probs = want_probs.then(|| probs.view([b, h, t, s]));
    (out, probs)
}

/// The attention weights `[B, Hkv, rep·T, S]` (f32, query heads grouped by their KV head)
/// of `q` over `k`, with the `hidden` key slots masked.
fn weights(q: &Tensor, k: &Tensor, hidden: Option<&Tensor>, how: Scores) -> Tensor {
    let (b, h, t, d) = q.size4().expect("q is [B,H,T,D]");
    let (hkv, s) = (k.size()[1], k.size()[2]);
    let rep = h / hkv;
    // Query heads sharing a KV head are contiguous, so group them without copying K/V.
    let qg = q.reshape([b, hkv, rep * t, d]);
    let scores = qg.matmul(&k.transpose(-2, -1)).to_kind(Kind::Float) * how.scale;
    let scores = match how.softcap {
        Some(c) => (scores / c).tanh() * c,
        None => scores,
    };
    let scores = match hidden {
        Some(hidden) => {
            let mask = Tensor::zeros([t, s], (Kind::Float, tch::Device::Cpu))
                .masked_fill(hidden, f64::NEG_INFINITY);
            (scores.view([b, hkv, rep, t, s]) + mask).view([b, hkv, rep * t, s])
        }
        None => scores,
    };
    scores.softmax(-1, Kind::Float)
}

/// Which of `s` key slots each of `t` queries (slots `start..start + t`) may not see, as a
/// `[t, s]` boolean mask: later slots, and slots `window` or more back; `None` when every
/// query sees every slot.
fn hidden_keys(start: i64, t: i64, s: i64, window: Option<i64>) -> Option<Tensor> {
    if t == 1 && window.is_none_or(|w| s <= w) {
        return None;
    }
    let cpu = (Kind::Int64, tch::Device::Cpu);
    // Distance from each query (slot start + i) back to each key slot j.
    let back = Tensor::arange_start(start, start + t, cpu).unsqueeze(1)
        - Tensor::arange(s, cpu).unsqueeze(0);
    Some(match window {
        Some(w) => back.lt(0).logical_or(&back.ge(w)),
        None => back.lt(0),
    })
}

/// Bytes per projection over all layers of a gated-MLP model — each layer's (q/k/v, output,
/// gate/up, down) — and of the head, named as the profile's spans.
pub(crate) fn gated_weight_bytes<'a>(
    layers: impl Iterator<Item = [&'a Linear; 4]>,
    head: &Linear,
) -> Vec<(&'static str, u64)> {
    let mut sums = [0u64; 4];
    for layer in layers {
        for (sum, proj) in sums.iter_mut().zip(layer) {
            *sum += proj.bytes();
        }
    }
    let names = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"];
    let mut out: Vec<_> = names.into_iter().zip(sums).collect();
    out.push(("head", head.bytes()));
    out
}

/// How a model's projections store and multiply their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    /// Dense weights of this kind, laid out as the per-machine plan says
    /// ([`super::plan`]).
    Dense(Kind),
    /// Weight-only int8 (one scale per output row), activations of `act`.
    Int8 { act: Kind },
    /// Weight-only int4 (groups of 32 input columns), activations of `act`; weights whose
    /// groups are not 16-level grids (e.g. a GGUF `Q8_0` embedding) take int8 instead.
    Int4 { act: Kind },
}

impl From<Kind> for Compute {
    fn from(kind: Kind) -> Self {
        Compute::Dense(kind)
    }
}

impl Compute {
    /// The dtype of activations (and of everything that is not a projection weight).
    pub fn act(self) -> Kind {
        match self {
            Compute::Dense(kind) | Compute::Int8 { act: kind } | Compute::Int4 { act: kind } => {
                kind
            }
        }
    }
}

/// A projection `y = x·Wᵀ (+ b)`, computed the way that is fastest on this CPU.
///
/// Decoding multiplies a few rows by each weight matrix, so speed is the rate at which the
/// weights stream from memory, and which libtorch call streams fastest depends on the CPU
/// (`cargo run --release --example bandwidth`): dense weights take the layout the
/// per-machine plan chose for their shape and row count ([`super::plan`]); quantised weights
/// go through libtorch's weight-only kernels.
pub(crate) struct Linear {
    weight: Packed,
    bias: Option<Tensor>,
    out: i64,
}

enum Packed {
    Dense { w: Tensor, choice: Choice },
    Int8(pack::Int8),
    Int4(pack::Int4),
}

/// Below this share of groups on a 16-level grid, an int4 request packs to int8 instead (the
/// weight was not 4-bit to begin with).
const INT4_EXACT_SHARE: f64 = 0.5;

/// Rows up to which an int8 projection runs on our own kernel ([`super::gemv`]) rather than
/// libtorch's packed one: 2.5× faster for one row, about even at eight (measured by
/// `cargo test --release --lib gemv::speed -- --ignored --nocapture`).
const INT8_OWN_ROWS: i64 = 4;

impl Linear {
    /// From a Hugging Face `[out, in]` weight (f32), stored as `compute` says.
    pub(crate) fn new(weight: &Tensor, bias: Option<&Tensor>, compute: impl Into<Compute>) -> Self {
        let compute = compute.into();
        let act = compute.act();
        let (out, inp) = weight.size2().expect("a projection weight is 2-D");
        let int8 = || Packed::Int8(pack::int8(weight, act));
        let weight = match compute {
            Compute::Dense(kind) => {
                let choice = plan::choice(kind, out, inp);
                let w = weight.to_kind(kind);
                let w = match choice.storage {
                    Storage::Row => w.contiguous(),
                    Storage::Col => w.tr().contiguous(),
                };
                Packed::Dense { w, choice }
            }
            Compute::Int8 { .. } => int8(),
            Compute::Int4 { .. } if pack::int4_fits(weight) => {
                let p = pack::int4(weight, act);
                if p.exact_groups as f64 >= INT4_EXACT_SHARE * p.groups as f64 {
                    Packed::Int4(p)
                } else {
                    int8()
                }
            }
            Compute::Int4 { .. } => int8(),
        };
        Linear {
            weight,
            bias: bias.map(|b| b.to_kind(act)),
            out,
        }
    }

    /// Applies the projection over the last dimension of `x`.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        let mut shape = x.size();
        let d_in = shape.pop().unwrap_or(1);
        let rows = x.reshape([-1, d_in]);
        let y = match &self.weight {
            Packed::Dense { w, choice } => {
                let m = rows.size()[0];
                plan::apply(w, choice.storage, choice.method(m), &rows)
            }
            Packed::Int8(p) if rows.size()[0] <= INT8_OWN_ROWS && p.q.device() == Device::Cpu => {
                super::gemv::matmul_t_int8(&p.q, &p.scales, &rows)
            }
            Packed::Int8(p) => rows
                .contiguous()
                .internal_weight_int8pack_mm(&p.q, &p.scales),
            Packed::Int4(p) => rows.contiguous().internal_weight_int4pack_mm_for_cpu(
                &p.packed,
                pack::GROUP,
                &p.scale_zeros,
            ),
        };
        shape.push(self.out);
        let y = y.view(shape.as_slice());
        match &self.bias {
            Some(b) => y + b,
            None => y,
        }
    }

    /// Bytes a forward streams from this projection's weight (and bias).
    pub(crate) fn bytes(&self) -> u64 {
        let size = |t: &Tensor| (t.numel() * t.kind().elt_size_in_bytes()) as u64;
        let weight = match &self.weight {
            Packed::Dense { w, .. } => size(w),
            Packed::Int8(p) => size(&p.q) + size(&p.scales),
            Packed::Int4(p) => size(&p.packed) + size(&p.scale_zeros),
        };
        weight + self.bias.as_ref().map_or(0, size)
    }
}
