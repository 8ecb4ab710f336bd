//! What drafts for a speculative run (`--draft SPEC`) and how many tokens per round (γ).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The draft of a speculative run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DraftSpec {
    /// A second model (GGUF or Hugging Face directory) sharing the target's vocabulary.
    Model(PathBuf),
    /// The target's own first `L` layers, then its final norm and head (early exit).
    SelfLayers(usize),
    /// Prompt lookup on the last `N` tokens (no model call).
    NGram(usize),
}

impl DraftSpec {
    /// Whether the draft is a model of its own (loaded from a file).
    pub fn is_model(&self) -> bool {
        matches!(self, DraftSpec::Model(_))
    }
}

impl FromStr for DraftSpec {
    type Err = String;

    /// Parses `ngram:N`, `self:L` or a path.
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |kind: &str, v: &str| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("bad draft '{s}': {kind} needs a whole number ≥ 1"))
        };
        match s.split_once(':') {
            Some(("ngram", n)) => Ok(DraftSpec::NGram(num("ngram:N", n)?)),
            Some(("self", l)) => Ok(DraftSpec::SelfLayers(num("self:L", l)?)),
            _ if s.trim().is_empty() => {
                Err("--draft is empty: give ngram:N, self:L or a model path".into())
            }
            _ => Ok(DraftSpec::Model(PathBuf::from(s))),
        }
    }
}

impl fmt::Display for DraftSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DraftSpec::Model(p) => write!(
                f,
                "{}",
                p.file_stem().map_or_else(
                    || p.display().to_string(),
                    |s| s.to_string_lossy().into_owned()
                )
            ),
            DraftSpec::SelfLayers(l) => write!(f, "self:{l}"),
            DraftSpec::NGram(n) => write!(f, "ngram:{n}"),
        }
    }
}

/// γ for the next round: fixed, or Hugging Face's heuristic schedule (+2 after a round whose
/// drafts were all accepted, −1, never below 1, otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GammaSchedule {
    pub gamma: usize,
    pub adaptive: bool,
}

/// Largest γ the adaptive schedule reaches.
pub const MAX_GAMMA: usize = 16;

impl GammaSchedule {
    /// γ after a round that drafted `drafted` tokens and accepted `accepted` of them.
    pub fn after_round(&mut self, drafted: usize, accepted: usize) {
        if !self.adaptive || drafted == 0 {
            return;
        }
        self.gamma = if accepted == drafted {
            (self.gamma + 2).min(MAX_GAMMA)
        } else {
            self.gamma.saturating_sub(1).max(1)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds_and_rejects_bad_numbers() {
        assert_eq!("ngram:3".parse(), Ok(DraftSpec::NGram(3)));
        assert_eq!("self:8".parse(), Ok(DraftSpec::SelfLayers(8)));
        assert_eq!(
            "models/d.gguf".parse(),
            Ok(DraftSpec::Model(PathBuf::from("models/d.gguf")))
        );
        assert!("ngram:0"
            .parse::<DraftSpec>()
            .unwrap_err()
            .contains("ngram:N"));
        assert!("self:x"
            .parse::<DraftSpec>()
            .unwrap_err()
            .contains("self:L"));
        assert!("".parse::<DraftSpec>().is_err());
        assert_eq!(DraftSpec::SelfLayers(8).to_string(), "self:8");
        assert_eq!(DraftSpec::Model("a/b.gguf".into()).to_string(), "b");
    }

    #[test]
    fn adaptive_gamma_follows_the_heuristic() {
        let mut g = GammaSchedule {
            gamma: 4,
            adaptive: true,
        };
        g.after_round(4, 4);
        assert_eq!(g.gamma, 6);
        g.after_round(6, 2);
        assert_eq!(g.gamma, 5);
        let mut g = GammaSchedule {
            gamma: 1,
            adaptive: true,
        };
        g.after_round(1, 0);
        assert_eq!(g.gamma, 1);
        let mut fixed = GammaSchedule {
            gamma: 4,
            adaptive: false,
        };
        fixed.after_round(4, 4);
        assert_eq!(fixed.gamma, 4);
    }
}
