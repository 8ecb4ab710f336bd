//! Attention taps: the newest query row of every layer and head at each step, kept under a
//! memory budget ([`AttentionTrail`]), and the exact query×key matrix of a prompt for one
//! layer on demand ([`prompt_attention`]).
//!
//! Budget: rows are stored as f16. While the trail is over its budget, the oldest full rows
//! are reduced to the mean over heads with their middle keys pooled into bins (the first
//! [`KEEP_FIRST`] and last [`KEEP_LAST`] keys stay exact), so a 2,048-token session stays
//! under 64 MB (see `tests/attention_taps.rs`).

use std::sync::Arc;
use std::time::Instant;

use half::f16;
use tch::{Kind, Tensor};

use super::cache::KvCache;
use super::error::ModelError;
use super::{ids_tensor, ForwardOptions, Model};
use crate::decode::math::median;

/// Keys kept exact at the start of a reduced row (where the sinks are).
pub const KEEP_FIRST: usize = 8;
/// Keys kept exact at the end of a reduced row (the local window).
pub const KEEP_LAST: usize = 56;
/// Bins the middle keys of a reduced row are pooled into.
pub const MIDDLE_BINS: usize = 64;
/// Default byte budget of an [`AttentionTrail`].
pub const DEFAULT_BUDGET: usize = 48 << 20;

/// One query's attention over the cache slots of its moment, for every layer and head.
#[derive(Clone, PartialEq)]
pub struct AttentionRow {
    /// Text position of the query token.
    pub query: usize,
    pub layers: usize,
    pub heads: usize,
    /// Text positions of the key slots, as runs `(first, count)` in slot order.
    keys: Vec<(usize, usize)>,
    data: RowData,
}

#[derive(Clone, PartialEq)]
enum RowData {
    /// `[layer][head][slot]`.
    Full(Vec<f16>),
    /// Mean over heads, `[layer][bin]`: each bin holds the total of its slots `[from, to)`.
    Reduced {
        bins: Vec<(u32, u32)>,
        mass: Vec<f16>,
    },
}

impl std::fmt::Debug for AttentionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AttentionRow {{ query: {}, slots: {}, reduced: {} }}",
            self.query,
            self.slots(),
            self.is_reduced()
        )
    }
}

impl AttentionRow {
    /// A full row: `probs` is `[layer][head][slot]` over keys at text positions `keys`.
    pub fn new(query: usize, keys: &[usize], layers: usize, heads: usize, probs: Vec<f16>) -> Self {
        debug_assert_eq!(probs.len(), layers * heads * keys.len());
        AttentionRow {
            query,
            layers,
            heads,
            keys: runs(keys),
            data: RowData::Full(probs),
        }
    }

    /// Number of key slots.
    pub fn slots(&self) -> usize {
        self.keys.iter().map(|r| r.1).sum()
    }

    /// Text position of every key slot, in slot order.
    pub fn key_positions(&self) -> Vec<usize> {
        self.keys.iter().flat_map(|&(a, n)| a..a + n).collect()
    }

    /// Whether per-head detail was dropped to fit the budget.
    pub fn is_reduced(&self) -> bool {
        matches!(self.data, RowData::Reduced { .. })
    }

    /// Attention of `layer` to every slot, from `head` or the mean over heads (`None`).
    /// Reduced rows give the head mean, spread evenly over each pooled bin.
    pub fn values(&self, layer: usize, head: Option<usize>) -> Vec<f32> {
        let s = self.slots();
        let layer = layer.min(self.layers.saturating_sub(1));
        match &self.data {
            RowData::Full(p) => {
                let at = |h: usize| &p[(layer * self.heads + h) * s..][..s];
                match head {
                    Some(h) => at(h.min(self.heads - 1))
                        .iter()
                        .map(|x| x.to_f32())
                        .collect(),
                    None => {
                        let mut sum = vec![0f32; s];
                        for h in 0..self.heads {
                            for (acc, x) in sum.iter_mut().zip(at(h)) {
                                *acc += x.to_f32();
                            }
                        }
                        sum.iter().map(|x| x / self.heads as f32).collect()
                    }
                }
            }
            RowData::Reduced { bins, mass } => {
                let mut out = vec![0f32; s];
                for (&(a, b), m) in bins.iter().zip(&mass[layer * bins.len()..]) {
                    let each = m.to_f32() / (b - a) as f32;
                    out[a as usize..b as usize].fill(each);
                }
                out
            }
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        let data = match &self.data {
            RowData::Full(p) => p.len() * 2,
            RowData::Reduced { bins, mass } => bins.len() * 8 + mass.len() * 2,
        };
        std::mem::size_of::<Self>() + self.keys.len() * 16 + data
    }

    /// The row averaged over heads with its middle keys pooled (see the module docs).
    pub fn reduced(&self) -> AttentionRow {
        if self.is_reduced() {
            return self.clone();
        }
        let bins = bins(self.slots());
        let mut mass = Vec::with_capacity(self.layers * bins.len());
        for l in 0..self.layers {
            let v = self.values(l, None);
            mass.extend(
                bins.iter()
                    .map(|&(a, b)| f16::from_f32(v[a as usize..b as usize].iter().sum())),
            );
        }
        AttentionRow {
            data: RowData::Reduced { bins, mass },
            ..self.clone_header()
        }
    }

    fn clone_header(&self) -> AttentionRow {
        AttentionRow {
            query: self.query,
            layers: self.layers,
            heads: self.heads,
            keys: self.keys.clone(),
            data: RowData::Full(Vec::new()),
        }
    }
}

/// Consecutive runs of positions.
fn runs(pos: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &p in pos {
        match out.last_mut() {
            Some((a, n)) if *a + *n == p => *n += 1,
            _ => out.push((p, 1)),
        }
    }
    out
}

/// Slot ranges of a reduced row of `s` slots.
fn bins(s: usize) -> Vec<(u32, u32)> {
    let one = |i: usize| (i as u32, i as u32 + 1);
    if s <= KEEP_FIRST + KEEP_LAST + MIDDLE_BINS {
        return (0..s).map(one).collect();
    }
    let (mid_from, mid_to) = (KEEP_FIRST, s - KEEP_LAST);
    let width = (mid_to - mid_from).div_ceil(MIDDLE_BINS);
    let middle = (mid_from..mid_to)
        .step_by(width)
        .map(|a| (a as u32, (a + width).min(mid_to) as u32));
    (0..KEEP_FIRST)
        .map(one)
        .chain(middle)
        .chain((mid_to..s).map(one))
        .collect()
}

/// Captured rows by query position, under a byte budget.
#[derive(Debug, Clone)]
pub struct AttentionTrail {
    rows: Vec<Option<Arc<AttentionRow>>>,
    budget: usize,
    bytes: usize,
    /// Rows before this index are reduced or absent.
    cursor: usize,
}

impl Default for AttentionTrail {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET)
    }
}

impl AttentionTrail {
    /// An empty trail that keeps at most `budget` bytes (beyond its reduced rows' floor).
    pub fn new(budget: usize) -> Self {
        AttentionTrail {
            rows: Vec::new(),
            budget,
            bytes: 0,
            cursor: 0,
        }
    }

    /// Stores `row` at its query position (replacing any), then reduces the oldest full
    /// rows while over budget.
    pub fn insert(&mut self, row: AttentionRow) {
        let q = row.query;
        if self.rows.len() <= q {
            self.rows.resize(q + 1, None);
        }
        self.bytes += row.bytes();
        if let Some(old) = self.rows[q].replace(Arc::new(row)) {
            self.bytes -= old.bytes();
        }
        self.cursor = self.cursor.min(q);
        while self.bytes > self.budget && self.cursor < self.rows.len() {
            if let Some(r) = &self.rows[self.cursor] {
                if !r.is_reduced() {
                    let small = r.reduced();
                    self.bytes = self.bytes - r.bytes() + small.bytes();
                    self.rows[self.cursor] = Some(Arc::new(small));
                }
            }
            self.cursor += 1;
        }
    }

    /// Drops the rows of queries at `len` and after.
    pub fn truncate(&mut self, len: usize) {
        for r in self.rows.drain(len.min(self.rows.len())..).flatten() {
            self.bytes -= r.bytes();
        }
        self.cursor = self.cursor.min(self.rows.len());
    }

    /// The row of every query position (`None` where not captured).
    pub fn rows(&self) -> &[Option<Arc<AttentionRow>>] {
        &self.rows
    }

    /// Bytes held by the rows.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Rows of every query of a forward run with `capture_attention` (batch row 0): `attentions`
/// per layer `[B, H, T, S]`, `positions` the text position of every slot after the forward.
pub fn capture_rows(attentions: &[Tensor], positions: &[usize]) -> Vec<AttentionRow> {
    let Some((_, heads, t, s)) = attentions.first().and_then(|a| a.size4().ok()) else {
        return Vec::new();
    };
    let layers = attentions.len();
    let rows: Vec<Tensor> = attentions.iter().map(|a| a.get(0)).collect();
    let all = Tensor::stack(&rows, 0)
        .permute([2, 0, 1, 3])
        .to_kind(Kind::Half)
        .contiguous()
        .view([-1]);
    let flat = Vec::<f16>::try_from(&all).unwrap_or_default();
    let (heads, t, s) = (heads as usize, t as usize, s as usize);
    if flat.len() != t * layers * heads * s || positions.len() < s {
        return Vec::new();
    }
    (0..t)
        .map(|j| {
            let sj = s - t + j + 1;
            let mut data = Vec::with_capacity(layers * heads * sj);
            for lh in 0..layers * heads {
                data.extend_from_slice(&flat[(j * layers * heads + lh) * s..][..sj]);
            }
            AttentionRow::new(positions[sj - 1], &positions[..sj], layers, heads, data)
        })
        .collect()
}

/// One layer's attention over a prompt, every head, exact (f32).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerAttention {
    pub layer: usize,
    pub heads: usize,
    pub tokens: usize,
    /// `[head][query][key]`; keys after the query are 0.
    pub probs: Vec<f32>,
}

impl LayerAttention {
    /// The row of `query` for `head`.
    pub fn row(&self, head: usize, query: usize) -> &[f32] {
        &self.probs[(head * self.tokens + query) * self.tokens..][..self.tokens]
    }
}

/// Query rows per forward in [`prompt_attention`] (bounds the capture's memory).
const PROMPT_CHUNK: usize = 32;

/// The full query×key attention of `layer` over `ids` (fresh cache, full attention).
pub fn prompt_attention(
    model: &Model,
    ids: &[u32],
    layer: usize,
) -> Result<LayerAttention, ModelError> {
    let cfg = model.config();
    if layer >= cfg.layers {
        return Err(ModelError::Other(format!(
            "no layer {layer}: the model has layers 0 to {}",
            cfg.layers - 1
        )));
    }
    let (h, t) = (cfg.heads, ids.len());
    let mut probs = vec![0f32; h * t * t];
    let mut cache = model.new_cache();
    let opts = ForwardOptions {
        capture_attention: true,
        ..ForwardOptions::LAST
    };
    for chunk in ids.chunks(PROMPT_CHUNK) {
        let start = cache.len();
        let out = model.forward(&ids_tensor(&[chunk]), &mut cache, opts)?;
        let a = out.attentions[layer].get(0).contiguous();
        let s = start + chunk.len();
        let flat = Vec::<f32>::try_from(&a.view([-1])).unwrap_or_default();
        for head in 0..h {
            for j in 0..chunk.len() {
                let src = &flat[(head * chunk.len() + j) * s..][..s];
                probs[(head * t + start + j) * t..][..s].copy_from_slice(src);
            }
        }
    }
    Ok(LayerAttention {
        layer,
        heads: h,
        tokens: t,
        probs,
    })
}

/// Median milliseconds of one decode step with and without attention capture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptureBench {
    /// Tokens in the cache when measured.
    pub context: usize,
    pub plain_ms: f64,
    pub capture_ms: f64,
}

impl CaptureBench {
    /// Extra time capture costs, in percent.
    pub fn overhead_pct(&self) -> f64 {
        100.0 * (self.capture_ms / self.plain_ms - 1.0)
    }
}

/// Measures the capture's cost: after `prompt`, `steps` single-token forwards each way
/// (alternating, rolled back each time so every forward sees the same context). The captured
/// rows go into a trail, as the engine does.
pub fn bench_capture(
    model: &Model,
    prompt: &[u32],
    steps: usize,
) -> Result<CaptureBench, ModelError> {
    let mut cache: KvCache = model.new_cache();
    model.forward(&ids_tensor(&[prompt]), &mut cache, ForwardOptions::LAST)?;
    let len = cache.len();
    let next = [prompt.last().copied().unwrap_or(0)];
    let mut trail = AttentionTrail::default();
    let (mut plain, mut capture) = (Vec::new(), Vec::new());
    for i in 0..steps.max(1) * 2 {
        let on = i % 2 == 1;
        let opts = ForwardOptions {
            capture_attention: on,
            ..ForwardOptions::LAST
        };
        let t0 = Instant::now();
        let out = model.forward(&ids_tensor(&[&next]), &mut cache, opts)?;
        let _ = out.logits.double_value(&[0, 0]);
        if on {
            for row in capture_rows(&out.attentions, cache.positions()) {
                trail.insert(row);
            }
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if on { &mut capture } else { &mut plain }.push(ms);
        cache.truncate(len);
    }
    Ok(CaptureBench {
        context: len + 1,
        plain_ms: median(&plain),
        capture_ms: median(&capture),
    })
}
