//! Self-consistency (Wang et al. 2023): extract an answer from every sample and take the
//! majority.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The default answer pattern: a number (the last one in the text is the answer).
pub const DEFAULT_ANSWER_REGEX: &str = r"-?\d+(\.\d+)?";

/// The last match of `re` in `text`.
pub fn extract_answer(text: &str, re: &Regex) -> Option<String> {
    re.find_iter(text).last().map(|m| m.as_str().to_string())
}

/// The outcome of a vote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteResult {
    /// Every answer with its votes (a count, or summed sequence probabilities), best first.
    pub votes: Vec<(String, f64)>,
    /// The winning sample: the most probable sample with the winning answer; with no answer
    /// at all, the most probable sample.
    pub chosen: usize,
}

/// Votes over `answers` (one per sample, `None` where nothing matched), each worth 1 or, when
/// `weighted`, its sequence probability `exp(logprobs[i])`. Ties between answers go to the
/// one whose best sample has the higher sequence log-probability.
pub fn vote(answers: &[Option<String>], logprobs: &[f64], weighted: bool) -> VoteResult {
    // (answer, votes, best logprob, best row)
    let mut tally: Vec<(String, f64, f64, usize)> = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        let Some(a) = a else { continue };
        let lp = logprobs.get(i).copied().unwrap_or(f64::NEG_INFINITY);
        let w = if weighted { lp.exp() } else { 1.0 };
        match tally.iter_mut().find(|t| &t.0 == a) {
            Some(t) => {
                t.1 += w;
                if lp > t.2 {
                    t.2 = lp;
                    t.3 = i;
                }
            }
            None => tally.push((a.clone(), w, lp, i)),
        }
    }
    tally.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.total_cmp(&a.2)));
    let best_overall = || {
        (0..logprobs.len())
            .max_by(|&a, &b| logprobs[a].total_cmp(&logprobs[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    };
    VoteResult {
        chosen: tally.first().map_or_else(best_overall, |t| t.3),
        votes: tally.into_iter().map(|t| (t.0, t.1)).collect(),
    }
}
