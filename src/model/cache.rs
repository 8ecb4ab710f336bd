//! The KV cache: a value owned by the caller and passed to `forward`, never stored in the model
//! (beams and two-model methods need several caches per model), and its eviction policies
//! (full attention, a sliding window, StreamingLLM's attention sinks + window).
//!
//! Positions are *cache* positions, as StreamingLLM assigns them: the token in slot `i` is
//! encoded at position `i`, whatever its place in the text. Keys are cached after rotary
//! embedding; when slots are evicted, the kept recent keys move left by the number of evicted
//! slots and are re-rotated by minus that amount (RoPE rotations compose: R(a)·R(b) = R(a+b);
//! llama.cpp calls this the K-shift). The model supplies that re-rotation (identity for
//! learned positions). Each slot also remembers its absolute position in the text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Which slots the cache keeps once it is full. The capacity counts the newest token too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CachePolicy {
    /// Keep everything (bounded only by the model's context).
    #[default]
    Full,
    /// Keep the `w` most recent tokens.
    Window { w: usize },
    /// Keep the first `s` tokens (attention sinks) and the `w` most recent.
    Sinks { s: usize, w: usize },
}

impl CachePolicy {
    /// Number of leading slots never evicted.
    pub fn sinks(self) -> usize {
        match self {
            CachePolicy::Sinks { s, .. } => s,
            _ => 0,
        }
    }

    /// Most slots the cache holds (`None`: unbounded).
    pub fn capacity(self) -> Option<usize> {
        match self {
            CachePolicy::Full => None,
            CachePolicy::Window { w } => Some(w),
            CachePolicy::Sinks { s, w } => Some(s + w),
        }
    }
}

impl FromStr for CachePolicy {
    type Err = String;

    /// Parses `full`, `window:W` or `sinks:S,W` (W ≥ 1).
    fn from_str(spec: &str) -> Result<Self, String> {
        let bad = || format!("bad cache policy '{spec}': expected full, window:W or sinks:S,W");
        let num = |s: &str| s.trim().parse::<usize>().map_err(|_| bad());
        let policy = match spec.trim().split_once(':') {
            None if spec.trim() == "full" => CachePolicy::Full,
            Some(("window", w)) => CachePolicy::Window { w: num(w)? },
            Some(("sinks", rest)) => {
                let (s, w) = rest.split_once(',').ok_or_else(bad)?;
                CachePolicy::Sinks {
                    s: num(s)?,
                    w: num(w)?,
                }
            }
            _ => return Err(bad()),
        };
        match policy {
            CachePolicy::Window { w: 0 } | CachePolicy::Sinks { w: 0, .. } => Err(format!(
                "bad cache policy '{spec}': the window must be at least 1"
            )),
            p => Ok(p),
        }
    }
}

impl fmt::Display for CachePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CachePolicy::Full => write!(f, "full"),
            CachePolicy::Window { w } => write!(f, "window:{w}"),
            CachePolicy::Sinks { s, w } => write!(f, "sinks:{s},{w}"),
        }
    }
}

/// Why a slot is in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotKind {
    /// One of the first tokens, kept for good by [`CachePolicy::Sinks`].
    Sink,
    /// Kept because it is recent (every slot under `Full` and `Window`).
    Recent,
}

/// One cache slot, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Index in the cache: the position the model encodes it at.
    pub cache_pos: usize,
    /// Position of its token in the text.
    pub position: usize,
    pub kind: SlotKind,
}

/// Re-rotates one layer's keys that moved left by `by` slots (the model's K-shift; the layer
/// index picks its RoPE base).
pub(crate) type KeyShift<'a> = &'a dyn Fn(usize, &Tensor, i64) -> Tensor;

/// Keys and values of every layer for a batch of sequences.
///
/// Layout per layer: `[batch, kv_heads, slots, head_dim]`. Keys are stored *after* rotary
/// embedding at their slot index: slot `i` is encoded at position `i`.
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<Option<LayerKv>>,
    policy: CachePolicy,
    /// Text position of every slot (shared by the batch rows).
    positions: Vec<usize>,
    /// Text position of the next token.
    next: usize,
    evicted: usize,
    /// Bumped by every change that rewrites live slots in place ([`KvCache::truncate`] followed
    /// by an append): a [`Checkpoint`] taken before it can no longer be restored.
    epoch: u64,
}

/// The state of a [`KvCache`] at one moment, restorable after forwards that only appended to
/// it or evicted from it (rejected speculative drafts, early-exit drafting): it holds shallow
/// handles to the buffers, whose live slots appends never overwrite and evictions replace.
pub struct Checkpoint {
    layers: Vec<Option<(Tensor, Tensor, i64)>>,
    positions: Vec<usize>,
    next: usize,
    evicted: usize,
    epoch: u64,
}

/// One layer's keys and values in buffers with room to grow: slots `0..used` are live, so
/// appending a token copies only that token (no re-concatenation of the whole cache).
#[derive(Debug)]
struct LayerKv {
    k: Tensor,
    v: Tensor,
    used: i64,
}

impl LayerKv {
    /// The live keys and values (views into the buffers).
    fn live(&self) -> (Tensor, Tensor) {
        (
            self.k.narrow(2, 0, self.used),
            self.v.narrow(2, 0, self.used),
        )
    }

    /// Replaces the contents by exactly `k` and `v`.
    fn set(&mut self, k: Tensor, v: Tensor) {
        self.used = k.size()[2];
        self.k = k;
        self.v = v;
    }

    /// Writes `k`, `v` after the live slots, growing the buffers (doubling) when full.
    fn push(&mut self, k: &Tensor, v: &Tensor) {
        let t = k.size()[2];
        let capacity = self.k.size()[2];
        if self.used + t > capacity {
            let grown = (2 * capacity).max(self.used + t);
            let (lk, lv) = self.live();
            self.k = grow(&lk, grown);
            self.v = grow(&lv, grown);
        }
        for (buf, new) in [(&self.k, k), (&self.v, v)] {
            if !super::rows::write_slots(buf, new, self.used) {
                buf.narrow(2, self.used, t).copy_(new);
            }
        }
        self.used += t;
    }
}

/// A zeroed buffer of `slots` slots holding `live` at its start.
fn grow(live: &Tensor, slots: i64) -> Tensor {
    let mut shape = live.size();
    shape[2] = slots;
    let buf = Tensor::zeros(shape.as_slice(), (live.kind(), live.device()));
    buf.narrow(2, 0, live.size()[2]).copy_(live);
    buf
}

impl KvCache {
    /// An empty cache for a model of `layers` layers, keeping everything.
    pub fn new(layers: usize) -> Self {
        Self::with_policy(layers, CachePolicy::Full)
    }

    /// An empty cache for a model of `layers` layers under `policy`.
    pub fn with_policy(layers: usize, policy: CachePolicy) -> Self {
        KvCache {
            layers: (0..layers).map(|_| None).collect(),
            policy,
            positions: Vec::new(),
            next: 0,
            evicted: 0,
            epoch: 0,
        }
    }

    /// The state now, for [`KvCache::restore`] (cheap: no tensor data is copied).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            layers: self
                .layers
                .iter()
                .map(|l| {
                    l.as_ref()
                        .map(|l| (l.k.shallow_clone(), l.v.shallow_clone(), l.used))
                })
                .collect(),
            positions: self.positions.clone(),
            next: self.next,
            evicted: self.evicted,
            epoch: self.epoch,
        }
    }

    /// Goes back to `cp`, undoing the appends and evictions since. Fails (leaving the cache
    /// as it is) when the cache was truncated and written since, which rewrites the slots the
    /// checkpoint still counts as live.
    pub fn restore(&mut self, cp: Checkpoint) -> Result<(), String> {
        if cp.epoch != self.epoch || cp.layers.len() != self.layers.len() {
            return Err("the KV cache was rewritten since the checkpoint".into());
        }
        self.layers = cp
            .layers
            .into_iter()
            .map(|l| l.map(|(k, v, used)| LayerKv { k, v, used }))
            .collect();
        self.positions = cp.positions;
        self.next = cp.next;
        self.evicted = cp.evicted;
        Ok(())
    }

    /// The eviction policy.
    pub fn policy(&self) -> CachePolicy {
        self.policy
    }

    /// Number of cached slots (tokens) per sequence.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Text position the next token will take (equals [`len`](Self::len) until something is
    /// evicted).
    pub fn next_position(&self) -> usize {
        self.next
    }

    /// Number of slots evicted so far.
    pub fn evicted(&self) -> usize {
        self.evicted
    }

    /// Text position of every slot, in slot order.
    pub fn positions(&self) -> &[usize] {
        &self.positions
    }

    /// Every slot with its positions and kind.
    pub fn slots(&self) -> Vec<Slot> {
        let sinks = self.policy.sinks();
        self.positions
            .iter()
            .enumerate()
            .map(|(i, &position)| Slot {
                cache_pos: i,
                position,
                kind: if i < sinks {
                    SlotKind::Sink
                } else {
                    SlotKind::Recent
                },
            })
            .collect()
    }

    /// Number of sequences in the batch (0 when empty).
    pub fn batch(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |l| l.k.size()[0] as usize)
    }

    /// Most new tokens one forward may add: everything under `Full`, else what fits once
    /// every evictable slot is gone.
    pub fn max_chunk(&self) -> usize {
        match self.policy.capacity() {
            None => usize::MAX,
            Some(cap) => cap - self.len().min(self.policy.sinks()),
        }
    }

    /// Slots held after `t` more tokens (eviction included), or why they cannot be added.
    pub fn len_after(&self, t: usize) -> Result<usize, String> {
        if t > self.max_chunk() {
            return Err(format!(
                "{t} tokens at once do not fit a {} cache holding {} slots: feed at most {}",
                self.policy,
                self.len(),
                self.max_chunk()
            ));
        }
        let n = self.len() + t;
        Ok(self.policy.capacity().map_or(n, |cap| n.min(cap)))
    }

    /// Evicts the oldest recent slots so `t` new tokens fit, re-keying the moved keys with
    /// `shift`; returns how many were evicted.
    pub(crate) fn make_room(&mut self, t: usize, shift: KeyShift) -> Result<usize, String> {
        let after = self.len_after(t)?;
        let len = self.len();
        let excess = (len + t) - after;
        if excess == 0 {
            return Ok(0);
        }
        let s = self.policy.sinks().min(len) as i64;
        let (e, keep) = (excess as i64, (len - excess) as i64 - s);
        for (layer, l) in self.layers.iter_mut().enumerate() {
            let Some(l) = l else { continue };
            let (k, v) = l.live();
            let recent_k = k.narrow(2, s + e, keep);
            let recent_k = if keep > 0 {
                shift(layer, &recent_k, e)
            } else {
                recent_k
            };
            l.set(
                Tensor::cat(&[k.narrow(2, 0, s), recent_k], 2),
                Tensor::cat(&[v.narrow(2, 0, s), v.narrow(2, s + e, keep)], 2),
            );
        }
        self.positions.drain(s as usize..(s + e) as usize);
        self.evicted += excess;
        Ok(excess)
    }

    /// Appends new keys/values for `layer` and returns the whole cached keys/values.
    pub(crate) fn append(&mut self, layer: usize, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        if layer == 0 {
            let t = k.size()[2] as usize;
            self.positions.extend(self.next..self.next + t);
            self.next += t;
        }
        match &mut self.layers[layer] {
            Some(l) => l.push(&k, &v),
            slot @ None => {
                let used = k.size()[2];
                *slot = Some(LayerKv {
                    k: grow(&k, used),
                    v: grow(&v, used),
                    used,
                });
            }
        }
        self.layers[layer]
            .as_ref()
            .map(LayerKv::live)
            .unwrap_or((k, v))
    }

    /// Keeps only the first `len` slots (rolls generation back).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.epoch += 1;
        }
        for l in self.layers.iter_mut().flatten() {
            l.used = l.used.min(len as i64);
        }
        self.positions.truncate(len);
        self.next = self.positions.last().map_or(0, |p| p + 1);
    }

    /// Reorders (and possibly repeats) the batch rows: row `i` of the result is row
    /// `parents[i]` of the current cache. Used by beam search.
    pub fn reorder(&mut self, parents: &[i64]) {
        let idx = Tensor::from_slice(parents);
        for l in self.layers.iter_mut().flatten() {
            // Whole buffers, so the room to grow survives the reorder.
            l.k = l.k.index_select(0, &idx);
            l.v = l.v.index_select(0, &idx);
        }
    }

    /// Bytes of the live keys and values.
    pub fn bytes(&self) -> u64 {
        self.layers
            .iter()
            .flatten()
            .map(|l| {
                let (k, v) = l.live();
                tensor_bytes(&k) + tensor_bytes(&v)
            })
            .sum()
    }

    /// Per-layer cached (keys, values), for inspection.
    pub fn layer(&self, layer: usize) -> Option<(Tensor, Tensor)> {
        self.layers.get(layer)?.as_ref().map(LayerKv::live)
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

#[cfg(test)]
mod tests;
