//! The candidate set: every live token of a step with its logit and probability.
//!
//! Stages never see a logit vector; they shrink or edit a [`Candidates`]. Removing a token drops
//! it from the set (the equivalent of Hugging Face's `-inf`), so the probabilities of the
//! survivors are a softmax over the survivors only.

use std::cmp::Ordering;

use super::error::DecodeError;
use super::math::sort_prefix_until;

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
#[derive(Debug, Clone)]
pub struct Candidates {
    items: Vec<Candidate>,
    /// Length of the leading run that holds the best candidates in [`by_rank`] order.
    sorted: usize,
    /// Whether every `p` is the softmax of the current logits.
    normalized: bool,
    /// Log-sum-exp of the logits, valid while `normalized`.
    lse: f64,
    /// Whether `items[i].id == i` for every `i`.
    dense: bool,
    /// What the removals since the last [`Candidates::clear_removed`] dropped, with the
    /// probabilities they had when dropped.
    removed: Vec<Candidate>,
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
        let items: Vec<Candidate> = logits
            .iter()
            .enumerate()
            .filter_map(|(id, &l)| {
                sanitize(l).map(|logit| Candidate {
                    id: id as u32,
                    logit,
                    p: 0.0,
                })
            })
            .collect();
        if items.is_empty() {
            return Err(DecodeError::NoFiniteLogit);
        }
        let dense = items.len() == logits.len();
        let mut c = Candidates {
            items,
            sorted: 0,
            normalized: false,
            lse: 0.0,
            dense,
            removed: Vec::new(),
        };
        c.normalize();
        Ok(c)
    }

    /// A set from explicit candidates (ids must be distinct; non-finite logits are dropped).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, f32)>) -> Result<Self, DecodeError> {
        let items: Vec<Candidate> = pairs
            .into_iter()
            .filter_map(|(id, l)| sanitize(l).map(|logit| Candidate { id, logit, p: 0.0 }))
            .collect();
        if items.is_empty() {
            return Err(DecodeError::NoFiniteLogit);
        }
        let dense = items.iter().enumerate().all(|(i, c)| c.id as usize == i);
        let mut c = Candidates {
            items,
            sorted: 0,
            normalized: false,
            lse: 0.0,
            dense,
            removed: Vec::new(),
        };
        c.normalize();
        Ok(c)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The candidates in their current (unspecified unless sorted) order.
    pub fn items(&self) -> &[Candidate] {
        &self.items
    }

    /// Computes `p` as the softmax of the current logits (a no-op when already normalized).
    pub fn normalize(&mut self) {
        if self.normalized || self.items.is_empty() {
            return;
        }
        let max = self
            .items
            .iter()
            .map(|c| c.logit)
            .fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f64;
        for c in &mut self.items {
            c.p = (c.logit - max).exp();
            sum += c.p as f64;
        }
        let inv = (1.0 / sum) as f32;
        for c in &mut self.items {
            c.p *= inv;
        }
        self.lse = max as f64 + sum.ln();
        self.normalized = true;
    }

    /// Natural log of the probability of a candidate with this logit (normalizes first).
    pub fn log_p(&mut self, logit: f32) -> f64 {
        self.normalize();
        logit as f64 - self.lse
    }

    /// Entropy of the current distribution, nats.
    pub fn entropy(&mut self) -> f64 {
        self.normalize();
        let lse = self.lse;
        -self
            .items
            .iter()
            .map(|c| c.p as f64 * (c.logit as f64 - lse))
            .sum::<f64>()
    }

    /// Ensures the first `min(m, len)` items are the best ones in [`by_rank`] order, by partial
    /// selection; returns them.
    pub fn sorted_prefix(&mut self, m: usize) -> &[Candidate] {
        let m = m.min(self.items.len());
        if self.sorted < m {
            let tail = &mut self.items[self.sorted..];
            let need = m - self.sorted;
            if need < tail.len() {
                tail.select_nth_unstable_by(need - 1, by_rank);
            }
            tail[..need].sort_unstable_by(by_rank);
            self.sorted = m;
            self.dense = false;
        }
        &self.items[..m]
    }

    /// Grows the sorted prefix (64, 256, ... items) until `done(prefix)` holds or everything is
    /// sorted; returns the sorted prefix. Avoids a full sort when the answer lies near the top.
    pub fn sorted_until(&mut self, done: impl FnMut(&[Candidate]) -> bool) -> &[Candidate] {
        let from = self.sorted;
        let n = sort_prefix_until(&mut self.items, from, by_rank, done);
        if n > self.sorted {
            self.sorted = n;
            self.dense = false;
        }
        &self.items[..n]
    }

    /// A map from id to position, O(1) when the set is still the dense vocabulary.
    pub fn id_index(&self) -> IdIndex {
        if self.dense {
            return IdIndex::Dense(self.items.len());
        }
        let max = self.items.iter().map(|c| c.id).max().unwrap_or(0) as usize;
        let mut table = vec![u32::MAX; max + 1];
        for (pos, c) in self.items.iter().enumerate() {
            table[c.id as usize] = pos as u32;
        }
        IdIndex::Table(table)
    }

    /// Mutable access to edit logits (ids must not change); forgets order and probabilities.
    pub fn logits_mut(&mut self) -> &mut [Candidate] {
        self.sorted = 0;
        self.normalized = false;
        &mut self.items
    }

    /// Divides every logit by `t > 0`, which keeps the rank order.
    pub fn divide_logits(&mut self, t: f32) {
        for c in &mut self.items {
            c.logit /= t;
        }
        self.normalized = false;
    }

    /// Keeps the candidates for which `keep(position, candidate)` holds, in their order; the
    /// others go to [`Candidates::removed`].
    pub fn retain_where(&mut self, mut keep: impl FnMut(usize, &Candidate) -> bool) {
        let old_sorted = self.sorted;
        let mut write = 0;
        let mut sorted = 0;
        for read in 0..self.items.len() {
            let c = self.items[read];
            if keep(read, &c) {
                self.items[write] = c;
                write += 1;
                if read < old_sorted {
                    sorted += 1;
                }
            } else {
                self.removed.push(c);
            }
        }
        if write < self.items.len() {
            self.items.truncate(write);
            self.sorted = sorted;
            self.dense = false;
            self.normalized = false;
        }
    }

    /// Keeps the best `n` candidates in rank order (at least one).
    pub fn truncate_ranked(&mut self, n: usize) {
        let n = n.max(1);
        if n >= self.items.len() {
            return;
        }
        self.sorted_prefix(n);
        self.removed.extend(self.items.drain(n..));
        self.normalized = false;
    }

    /// Removes every listed id that is present.
    pub fn remove_ids(&mut self, ids: &[u32]) {
        if ids.is_empty() {
            return;
        }
        let index = self.id_index();
        let mut drop = vec![false; self.items.len()];
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
        &self.removed
    }

    /// Mutable access to the removed list (e.g. to rank it in place).
    pub fn removed_mut(&mut self) -> &mut [Candidate] {
        &mut self.removed
    }

    pub fn clear_removed(&mut self) {
        self.removed.clear();
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
