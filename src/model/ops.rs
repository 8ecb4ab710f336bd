//! Building blocks shared by the architectures: normalisation, rotary embedding, attention.

use tch::{Kind, Tensor};

/// RMSNorm computed in f32 (as Hugging Face does), returned in the input's dtype.
pub(crate) fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Tensor {
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
        let emb = Tensor::cat(&[&freqs, &freqs], 1);
        Rope {
            cos: emb.cos().to_kind(kind),
            sin: emb.sin().to_kind(kind),
            inv,
        }
    }

    /// Rotates `x` (`[batch, heads, T, head_dim]`, already rotated) by `delta` positions more,
    /// computed in f32: keys moved left by `n` cache slots take `delta = -n`.
    pub(crate) fn shift(&self, x: &Tensor, delta: i64) -> Tensor {
        let freqs = &self.inv * delta as f64;
        let emb = Tensor::cat(&[&freqs, &freqs], 0);
        Rope::apply(&x.to_kind(Kind::Float), &emb.cos(), &emb.sin()).to_kind(x.kind())
    }

    /// The tables for positions `start..start+len`, shaped `[len, head_dim]`.
    pub(crate) fn slice(&self, start: i64, len: i64) -> (Tensor, Tensor) {
        (
            self.cos.narrow(0, start, len),
            self.sin.narrow(0, start, len),
        )
    }

    /// Rotates `x` (`[batch, heads, T, head_dim]`) by the given tables.
    pub(crate) fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
        let d = x.size()[3];
        let x1 = x.narrow(3, 0, d / 2);
        let x2 = x.narrow(3, d / 2, d / 2);
        let rotated = Tensor::cat(&[x2.neg(), x1], 3);
        x * cos + rotated * sin
    }
}

/// Causal scaled dot-product attention with grouped-query heads.
///
/// `q`: `[B, H, T, D]`; `k`, `v`: `[B, Hkv, S, D]` where the last `T` key slots are the
/// queries' own positions and `start = S - T`. Returns the output `[B, T, H·D]` and, when
/// asked, the attention probabilities `[B, H, T, S]` (f32).
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    start: i64,
    want_probs: bool,
) -> (Tensor, Option<Tensor>) {
    let (b, h, t, d) = q.size4().expect("q is [B,H,T,D]");
    let (hkv, s) = (k.size()[1], k.size()[2]);
    let rep = h / hkv;
    // Query heads sharing a KV head are contiguous, so group them without copying K/V.
    let qg = q.reshape([b, hkv, rep * t, d]);
    let scores = qg.matmul(&k.transpose(-2, -1)).to_kind(Kind::Float) * (1.0 / (d as f64).sqrt());
    let scores = if t > 1 {
        let mask = Tensor::full([t, s], f64::NEG_INFINITY, (Kind::Float, tch::Device::Cpu))
            .triu(start + 1);
        (scores.view([b, hkv, rep, t, s]) + mask).view([b, hkv, rep * t, s])
    } else {
        scores
    };
    let probs = scores.softmax(-1, Kind::Float);
    let out = probs
        .to_kind(v.kind())
        .matmul(v)
        .view([b, h, t, d])
        .transpose(1, 2)
        .reshape([b, t, h * d]);
    let probs = want_probs.then(|| probs.view([b, h, t, s]));
    (out, probs)
}

/// A projection `y = x·Wᵀ (+ b)`, computed the way that is fastest on CPUs for its dtype.
///
/// Decoding multiplies a few rows by each weight matrix, so speed is the rate at which the
/// weights stream from memory, and libtorch's CPU kernels differ a lot in that rate. Measured
/// here (`cargo run --release --example bandwidth`, 2 threads, the 49152×576 head): for f32,
/// `W·xᵀ` with `W` row-major reaches 28–41 GB/s for 2–4 rows, where `linear(x, W)` gets
/// 7–12 GB/s and a single row takes the slow matrix-vector path (12 GB/s) — so one row is
/// duplicated to stay on the fast path; for bf16, `linear` is the fastest (12–15 GB/s).
pub(crate) struct Linear {
    /// `[out, in]`, contiguous.
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// From a Hugging Face `[out, in]` weight, converted to `kind`.
    pub(crate) fn new(weight: &Tensor, bias: Option<&Tensor>, kind: Kind) -> Self {
        Linear {
            weight: weight.to_kind(kind).contiguous(),
            bias: bias.map(|b| b.to_kind(kind)),
        }
    }

    /// Applies the projection over the last dimension of `x`.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        if self.weight.kind() != Kind::Float {
            return x.linear(&self.weight, self.bias.as_ref());
        }
        let mut shape = x.size();
        let d_in = shape.pop().unwrap_or(1);
        let rows = x.reshape([-1, d_in]);
        let m = rows.size()[0];
        let rows = if m == 1 { rows.repeat([2, 1]) } else { rows };
        let y = self
            .weight
            .matmul(&rows.tr())
            .tr()
            .narrow(0, 0, m)
            .contiguous();
        shape.push(self.weight.size()[0]);
        let y = y.view(shape.as_slice());
        match &self.bias {
            Some(b) => y + b,
            None => y,
        }
    }
}
