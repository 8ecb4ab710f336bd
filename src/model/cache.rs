//! The KV cache: a value owned by the caller and passed to `forward`, never stored in the model
//! (beams and two-model methods need several caches per model).

use tch::{Kind, Tensor};

/// Keys and values of every layer for a batch of sequences.
///
/// Layout per layer: `[batch, kv_heads, slots, head_dim]`. Keys are stored *after* rotary
/// embedding, rotated at their slot index: slot `i` holds position `i`.
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// An empty cache for a model of `layers` layers.
    pub fn new(layers: usize) -> Self {
        KvCache {
            layers: (0..layers).map(|_| None).collect(),
        }
    }

    /// Number of cached slots (tokens) per sequence.
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |(k, _)| k.size()[2] as usize)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position the next token will take.
    pub fn next_position(&self) -> usize {
        self.len()
    }

    /// Number of sequences in the batch (0 when empty).
    pub fn batch(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |(k, _)| k.size()[0] as usize)
    }

    /// Appends new keys/values for `layer` and returns the whole cached keys/values.
    pub(crate) fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        let slot = &mut self.layers[layer];
        let (k, v) = match slot.take() {
            None => (k, v),
            Some((pk, pv)) => (Tensor::cat(&[pk, k], 2), Tensor::cat(&[pv, v], 2)),
        };
        *slot = Some((k.shallow_clone(), v.shallow_clone()));
        (k, v)
    }

    /// Keeps only the first `len` slots (rolls generation back).
    pub fn truncate(&mut self, len: usize) {
        for (k, v) in self.layers.iter_mut().flatten() {
            let n = k.size()[2].min(len as i64);
            *k = k.narrow(2, 0, n).contiguous();
            *v = v.narrow(2, 0, n).contiguous();
        }
    }

    /// Reorders (and possibly repeats) the batch rows: row `i` of the result is row
    /// `parents[i]` of the current cache. Used by beam search.
    pub fn reorder(&mut self, parents: &[i64]) {
        let idx = Tensor::from_slice(parents);
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.index_select(0, &idx);
            *v = v.index_select(0, &idx);
        }
    }

    /// Bytes held by keys and values.
    pub fn bytes(&self) -> u64 {
        self.layers
            .iter()
            .flatten()
            .map(|(k, v)| tensor_bytes(k) + tensor_bytes(v))
            .sum()
    }

    /// Per-layer cached (keys, values), for inspection.
    pub fn layer(&self, layer: usize) -> Option<&(Tensor, Tensor)> {
        self.layers.get(layer).and_then(|l| l.as_ref())
    }
}

fn tensor_bytes(t: &Tensor) -> u64 {
    let elem = match t.kind() {
        Kind::BFloat16 | Kind::Half => 2,
        Kind::Double | Kind::Int64 => 8,
        _ => 4,
    };
    t.numel() as u64 * elem
}
