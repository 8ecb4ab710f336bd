//! The logit lens: what the model would predict if it stopped after layer `l` (the head applied
//! to the final norm of the residual stream after block `l`), read against the final layer.

use serde::{Deserialize, Serialize};

use crate::decode::math::{entropy, log_softmax, top_n};

/// Candidates a lens cell keeps.
pub const LENS_TOP: usize = 5;

/// One layer's prediction at one position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LensCell {
    /// The best `(id, logprob)`, best first.
    pub top: Vec<(u32, f32)>,
    /// Entropy of the layer's distribution, nats.
    pub entropy: f32,
    /// `KL(final ‖ layer)`, nats: how far this layer's prediction is from the model's own.
    pub kl_to_final: f32,
}

/// Reads one layer's logits at one position against the final layer's log-probabilities.
pub fn lens_cell(logits: &[f32], final_lp: &[f32], n: usize) -> LensCell {
    let lp = log_softmax(logits);
    LensCell {
        top: top_n(&lp, n),
        entropy: entropy(logits),
        kl_to_final: kl(final_lp, &lp) as f32,
    }
}

/// `KL(p‖q)` of two log-probability vectors, nats (terms where `p` is 0 contribute nothing).
pub fn kl(p: &[f32], q: &[f32]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(a, _)| **a > f32::NEG_INFINITY)
        .map(|(&a, &b)| (a as f64).exp() * (a as f64 - b as f64))
        .sum::<f64>()
        .max(0.0)
}

/// A layer × position grid of lens cells.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LensGrid {
    /// Text position of each column (the position whose next token the column predicts).
    pub positions: Vec<usize>,
    /// Layer numbers of the rows (1-based: after block `l`; the last is the model's output).
    pub layers: Vec<usize>,
    /// `cells[row][column]`.
    pub cells: Vec<Vec<LensCell>>,
}

impl LensGrid {
    /// An empty grid over `layers`.
    pub fn new(layers: Vec<usize>) -> Self {
        LensGrid {
            cells: vec![Vec::new(); layers.len()],
            positions: Vec::new(),
            layers,
        }
    }

    /// Adds the column of `position`: `logits[r]` is layer `layers[r]`'s prediction there, the
    /// last being the final layer's.
    pub fn push_column(&mut self, position: usize, logits: &[Vec<f32>]) {
        let final_lp = logits.last().map(|l| log_softmax(l)).unwrap_or_default();
        for (row, l) in self.cells.iter_mut().zip(logits) {
            row.push(lens_cell(l, &final_lp, LENS_TOP));
        }
        self.positions.push(position);
    }
}
