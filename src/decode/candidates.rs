//! The candidate set: every live token of a step with its logit and probability.
//!
//! Stages never see a logit vector; they shrink or edit a [`Candidates`]. Removing a token drops
//! it from the set (the equivalent of Hugging Face's `-inf`), so the probabilities of the
//! survivors are a softmax over the survivors only.

use std::cmp::Ordering;

use super::error::DecodeError;
use super::math::{select_front, softmax_pass, sort_prefix_until};

/// One live token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub id: u32,
    pub logit: f32,
    /// Probability under the current set; only meaningful after [`Candidates::normalize`].
    pub p: f32,
}

/// The canonical rank order: logit descending, ties broken by the smaller id first.
///
/// Every "sorted" notion in this module (top-k, top-p prefixes, greedy, the inverse CDF, the
/// trace's ranks) uses this one deterministic order.
pub fn by_rank(a: &Candidate, b: &Candidate) -> Ordering {
    b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
}

/// Maps a token id to its position in a [`Candidates`].
pub enum IdIndex {
    /// Position equals id, for ids below the length.
    Dense(usize),
    /// `table[id]` is the position, `u32::MAX` when absent.
    Table(Vec<u32>),
}

impl IdIndex {
    /// Position of `id` in the set, if present.
    pub fn get(&self, id: u32) -> Option<usize> {
        match self {
            IdIndex::Dense(n) => ((id as usize) < *n).then_some(id as usize),
            IdIndex::Table(t) => match t.get(id as usize) {
                Some(&pos) if pos != u32::MAX => Some(pos as usize),
                _ => None,
            },
        }
    }
}

/// The live candidates of one step.
///
/// One buffer holds, in order: the live candidates, then those removed since the last
/// [`Candidates::clear_removed`] (with the probabilities they had when removed), then spent
/// slots. Removal moves items, it never copies or frees them.
#[derive(Debug, Clone)]
pub struct Candidates {
    items: Vec<Candidate>,
    /// `items[..live]` are live.
    live: usize,
    /// `items[live..removed_end]` were removed since the last `clear_removed`.
    removed_end: usize,
    /// Length of the leading run of live items that holds the best ones in [`by_rank`] order.
    sorted: usize,
    /// Whether every live `p` is the softmax of the live logits.
    normalized: bool,
    /// Log-sum-exp of the live logits, valid while `normalized`.
    lse: f64,
    /// Entropy of the live distribution (nats), valid while `normalized`.
    entropy: f64,
    /// Whether `items[i].id == i` for every live `i`.
    dense: bool,
}

impl Candidates {
    /// The full vocabulary of one logit vector, normalized.
    ///
    /// NaN and `-inf` logits are left out of the set (probability 0); `+inf` is clamped to
    /// `f32::MAX`. Errors when `logits` is empty or has no usable entry.
    pub fn from_logits(logits: &[f32]) -> Result<Self, DecodeError> {
        if logits.is_empty() {
            return Err(DecodeError::EmptyLogits);
        }
        Self::from_pairs(logits.iter().enumerate().map(|(id, &l)| (id as u32, l)))
    }

    /// A set from explicit `(id, logit)` pairs (ids must be distinct; NaN and `-inf` logits are
    /// dropped), normalized. Errors when nothing usable remains.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, f32)>) -> Result<Self, DecodeError> {
        let pairs = pairs.into_iter();
        let mut items = Vec::with_capacity(pairs.size_hint().0);
        let mut dense = true;
        for (id, l) in pairs {
            if let Some(logit) = sanitize(l) {
                dense &= id as usize == items.len();
                items.push(Candidate { id, logit, p: 0.0 });
            }
        }
        if items.is_empty() {
            return Err(DecodeError::NoFiniteLogit);
        }
        let mut c = Candidates {
            live: items.len(),
            removed_end: items.len(),
            items,
            sorted: 0,
            normalized: false,
            lse: 0.0,
            entropy: 0.0,
            dense,
        };
        c.normalize();
        Ok(c)
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The live candidates, in their current order (rank order over the sorted prefix).
    pub fn items(&self) -> &[Candidate] {
        &self.items[..self.live]
    }

    /// Computes `p` as the softmax of the live logits (a no-op when already normalized).
    pub fn normalize(&mut self) {
        if self.normalized || self.live == 0 {
            return;
        }
        let live = &mut self.items[..self.live];
        for c in live.iter_mut() {
            // Edits (temperature, penalties) may overflow; keep every logit finite.
            c.logit = c.logit.clamp(-f32::MAX, f32::MAX);
        }
        let Some(stats) = softmax_pass(live, |c| c.logit, |c, e| c.p = e) else {
            return;
        };
        for c in live.iter_mut() {
            c.p *= stats.scale;
        }
        self.lse = stats.log_z;
        self.entropy = stats.entropy;
        self.normalized = true;
    }

    /// The log-normalizer (log-sum-exp of the logits): `ln p = logit - log_z` (normalizes).
    pub fn log_z(&mut self) -> f64 {
        self.normalize();
        self.lse
    }

    /// Entropy of the current distribution, nats.
    pub fn entropy(&mut self) -> f64 {
        self.normalize();
        self.entropy
    }

    /// Ensures the first `min(m, len)` live items are the best ones in [`by_rank`] order, by
    /// partial selection; returns them.
    pub fn sorted_prefix(&mut self, m: usize) -> &[Candidate] {
        let m = m.min(self.live);
        if self.sorted < m {
            select_front(
                &mut self.items[self.sorted..self.live],
                m - self.sorted,
                by_rank,
            );
            self.sorted = m;
            self.dense = false;
        }
        &self.items[..m]
    }

    /// Grows the sorted prefix (64, 256, ... items) until `done(prefix)` holds or everything is
    /// sorted; returns the sorted prefix. Avoids a full sort when the answer lies near the top.
    pub fn sorted_until(&mut self, done: impl FnMut(&[Candidate]) -> bool) -> &[Candidate] {
        let n = sort_prefix_until(&mut self.items[..self.live], self.sorted, by_rank, done);
        if n > self.sorted {
            self.sorted = n;
            self.dense = false;
        }
        &self.items[..n]
    }

    /// A map from id to live position, O(1) to build while the set is the dense vocabulary.
    pub fn id_index(&self) -> IdIndex {
        if self.dense {
            return IdIndex::Dense(self.live);
        }
        let live = self.items();
        let max = live.iter().map(|c| c.id).max().unwrap_or(0) as usize;
        let mut table = vec![u32::MAX; max + 1];
        for (pos, c) in live.iter().enumerate() {
            table[c.id as usize] = pos as u32;
        }
        IdIndex::Table(table)
    }

    /// Mutable access to edit live logits (ids must not change); forgets order and
    /// probabilities.
    pub fn logits_mut(&mut self) -> &mut [Candidate] {
        self.sorted = 0;
        self.normalized = false;
        &mut self.items[..self.live]
    }

    /// Divides every live logit by `t > 0`, which keeps the rank order.
    pub fn divide_logits(&mut self, t: f32) {
        for c in &mut self.items[..self.live] {
            c.logit /= t;
        }
        self.normalized = false;
    }

    /// Keeps the live candidates for which `keep(position, candidate)` holds, in their order;
    /// the others join [`Candidates::removed`].
    pub fn retain_where(&mut self, mut keep: impl FnMut(usize, &Candidate) -> bool) {
        let mut write = 0;
        let mut sorted = 0;
        for read in 0..self.live {
            if keep(read, &self.items[read]) {
                self.items.swap(write, read);
                write += 1;
                if read < self.sorted {
                    sorted += 1;
                }
            }
        }
        if write < self.live {
            // items[write..removed_end] now holds this call's and earlier removals.
            self.live = write;
            self.sorted = sorted;
            self.dense = false;
            self.normalized = false;
        }
    }

    /// Keeps the best `n` live candidates in rank order (at least one).
    pub fn truncate_ranked(&mut self, n: usize) {
        let n = n.max(1);
        if n >= self.live {
            return;
        }
        self.sorted_prefix(n);
        self.live = n;
        self.normalized = false;
    }

    /// Removes every listed id that is live.
    pub fn remove_ids(&mut self, ids: &[u32]) {
        if ids.is_empty() {
            return;
        }
        let index = self.id_index();
        let mut drop = vec![false; self.live];
        for &id in ids {
            if let Some(pos) = index.get(id) {
                drop[pos] = true;
            }
        }
        self.retain_where(|pos, _| !drop[pos]);
    }

    /// Candidates removed since the last [`Candidates::clear_removed`], with the probabilities
    /// they had when removed.
    pub fn removed(&self) -> &[Candidate] {
        &self.items[self.live..self.removed_end]
    }

    pub fn clear_removed(&mut self) {
        self.removed_end = self.live;
    }
}

/// NaN and `-inf` become `None`; `+inf` becomes `f32::MAX`.
pub(crate) fn sanitize(l: f32) -> Option<f32> {
    if l.is_nan() || l == f32::NEG_INFINITY {
        None
    } else {
        Some(l.min(f32::MAX))
    }
}
