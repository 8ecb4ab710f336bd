//! Minimum Bayes risk selection (Freitag et al.): every sample is a hypothesis scored against
//! every other sample as a pseudo-reference; the one with the highest expected utility wins.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The utility `U(i, j)` of hypothesis `i` against reference `j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Utility {
    /// sacrebleu's sentence chrF (character 6-grams, β = 2), 0–100.
    Chrf,
    /// sacrebleu's sentence BLEU (13a tokens, exp smoothing, effective order), 0–100.
    Bleu,
    /// Cosine of the samples' mean final-normed last-layer hidden states, −1–1.
    Embed,
}

impl fmt::Display for Utility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Utility::Chrf => "chrf",
            Utility::Bleu => "bleu",
            Utility::Embed => "embed",
        })
    }
}

/// The utility matrix, each hypothesis's expected utility and the winner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MbrResult {
    /// `matrix[i][j] = U(i, j)` (the diagonal too, though it is never used).
    pub matrix: Vec<Vec<f64>>,
    /// Mean of `U(i, j)` over `j ≠ i`.
    pub expected: Vec<f64>,
    /// The index with the highest expected utility (the first on ties).
    pub chosen: usize,
}

/// MBR over `n` samples with utility `u(i, j)`. With one sample it wins with expected
/// utility 0.
pub fn mbr(n: usize, u: impl Fn(usize, usize) -> f64) -> MbrResult {
    let matrix: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| u(i, j)).collect()).collect();
    let expected: Vec<f64> = matrix
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let others: f64 = row
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|x| x.1)
                .sum();
            if n > 1 {
                others / (n - 1) as f64
            } else {
                0.0
            }
        })
        .collect();
    let mut chosen = 0;
    for (i, &e) in expected.iter().enumerate() {
        if e > expected[chosen] {
            chosen = i;
        }
    }
    MbrResult {
        matrix,
        expected,
        chosen,
    }
}
