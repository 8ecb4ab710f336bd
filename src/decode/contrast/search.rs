//! Contrastive search (Su et al. 2022): among the top-k candidates, trade the model's
//! confidence against the degeneration penalty, the largest cosine similarity between the
//! candidate's last-layer hidden state and those of the context.

use crate::decode::math::dot;
use crate::decode::trace::SearchRow;

/// Scores the candidates: `probs[i]` is candidate `i`'s `(id, probability)`,
/// `hidden[i]` its last-layer hidden state, `context` the context's hidden states (each
/// `d` wide, flattened). `(1 − α)·p − α·max_j cos(h_i, h_j)`; with no context the penalty is 0.
pub fn score(
    probs: &[(u32, f32)],
    hidden: &[Vec<f32>],
    context: &[f32],
    alpha: f32,
) -> Vec<SearchRow> {
    let d = hidden.first().map_or(1, |h| h.len().max(1));
    let rows: Vec<(&[f32], f64)> = context.chunks_exact(d).map(|r| (r, norm(r))).collect();
    probs
        .iter()
        .zip(hidden)
        .map(|(&(id, prob), h)| {
            let hn = norm(h);
            let penalty = rows
                .iter()
                .map(|(r, rn)| dot(r, h) / (rn * hn))
                .fold(f64::NEG_INFINITY, f64::max);
            let penalty = if penalty.is_finite() { penalty } else { 0.0 };
            let a = alpha as f64;
            SearchRow {
                id,
                prob,
                penalty: penalty as f32,
                score: ((1.0 - a) * prob as f64 - a * penalty) as f32,
            }
        })
        .collect()
}

/// Index of the best score (the first on ties, as `torch.max` picks).
pub fn best(rows: &[SearchRow]) -> usize {
    let mut best = 0;
    for (i, r) in rows.iter().enumerate() {
        if r.score > rows[best].score {
            best = i;
        }
    }
    best
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}
