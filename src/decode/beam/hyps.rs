//! Finished hypotheses of one group: Hugging Face's `BeamHypotheses`.

use serde::{Deserialize, Serialize};

use super::config::EarlyStopping;

/// A finished sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    /// Generated ids (after the prompt), the end-of-sequence token included.
    pub ids: Vec<u32>,
    /// `sum_logprobs / len(ids) ^ length_penalty`.
    pub score: f64,
    /// Sum of the (processed) log-probabilities of `ids`.
    pub sum_logprobs: f64,
    /// Tree node of the last token.
    pub node: usize,
}

/// Length-normalized score as Hugging Face computes it (`len` counts generated tokens).
pub fn normalized(sum_logprobs: f64, len: usize, length_penalty: f32) -> f64 {
    sum_logprobs / (len.max(1) as f64).powf(length_penalty as f64)
}

/// The best `capacity` finished hypotheses of a group.
#[derive(Debug, Clone)]
pub struct Hypotheses {
    capacity: usize,
    items: Vec<Hypothesis>,
    worst: f64,
}

impl Hypotheses {
    pub fn new(capacity: usize) -> Self {
        Hypotheses {
            capacity,
            items: Vec::new(),
            worst: 1e9,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.items.len() >= self.capacity
    }

    pub fn items(&self) -> &[Hypothesis] {
        &self.items
    }

    /// Whether a hypothesis of this score would be kept.
    pub fn accepts(&self, score: f64) -> bool {
        !self.is_full() || score > self.worst
    }

    /// Adds `h` if it is among the best `capacity`; returns whether it was kept.
    pub fn add(&mut self, h: Hypothesis) -> bool {
        if !self.accepts(h.score) {
            return false;
        }
        let score = h.score;
        self.items.push(h);
        if self.items.len() > self.capacity {
            let mut order: Vec<(f64, usize)> = self
                .items
                .iter()
                .enumerate()
                .map(|(i, h)| (h.score, i))
                .collect();
            order.sort_by(|a, b| a.0.total_cmp(&b.0));
            self.items.remove(order[0].1);
            self.worst = order[1].0;
        } else {
            self.worst = self.worst.min(score);
        }
        true
    }

    /// Whether no running beam can enter any more (HF `BeamHypotheses.is_done`): `best_sum` is
    /// the best running cumulative score, `len` the generated length it has, `max_len` the
    /// longest it may grow.
    pub fn is_done(
        &self,
        best_sum: f64,
        len: usize,
        max_len: usize,
        early: EarlyStopping,
        length_penalty: f32,
    ) -> bool {
        if !self.is_full() {
            return false;
        }
        let bound_len = match early {
            EarlyStopping::True => return true,
            EarlyStopping::Never if length_penalty > 0.0 => max_len,
            _ => len,
        };
        self.worst >= normalized(best_sum, bound_len, length_penalty)
    }
}
