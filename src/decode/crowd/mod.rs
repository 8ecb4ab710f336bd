//! Many samples, one answer: the per-row RNG streams of batched sampling, minimum Bayes risk
//! selection, self-consistency voting, and output ensembling (a chain stage).

pub mod ensemble;
pub mod mbr;
pub mod vote;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use ensemble::{Combine, Ensemble};
pub use mbr::{mbr, MbrResult, Utility};
pub use vote::{extract_answer, vote, VoteResult, DEFAULT_ANSWER_REGEX};

/// The seed of row `row`'s RNG stream in a crowd seeded with `seed` (SplitMix64 of both):
/// a plain session with this seed and the same knobs replays the row alone.
pub fn row_seed(seed: u64, row: usize) -> u64 {
    let mut z = seed ^ (row as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a crowd's winner is chosen (`--select`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection {
    /// Minimum Bayes risk: the sample with the highest expected utility against the others.
    Mbr(Utility),
    /// Self-consistency: the majority answer (weighted by sequence probability when asked).
    Vote { weighted: bool },
}

impl FromStr for Selection {
    type Err = String;

    /// `mbr:chrf`, `mbr:bleu`, `mbr:embed`, `vote` or `vote:weighted`.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim() {
            "mbr:chrf" => Selection::Mbr(Utility::Chrf),
            "mbr:bleu" => Selection::Mbr(Utility::Bleu),
            "mbr:embed" => Selection::Mbr(Utility::Embed),
            "vote" => Selection::Vote { weighted: false },
            "vote:weighted" => Selection::Vote { weighted: true },
            other => {
                return Err(format!(
                "--select {other:?}: expected mbr:chrf, mbr:bleu, mbr:embed, vote or vote:weighted"
            ))
            }
        })
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::Mbr(u) => write!(f, "mbr:{u}"),
            Selection::Vote { weighted: false } => f.write_str("vote"),
            Selection::Vote { weighted: true } => f.write_str("vote:weighted"),
        }
    }
}

#[cfg(test)]
mod tests;
