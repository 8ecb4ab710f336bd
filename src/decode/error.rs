//! Why a step could not produce a distribution.

use std::fmt;

/// A step that cannot yield a token. Configuration errors are reported earlier, as strings,
/// by [`super::SamplerConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The logit vector was empty.
    EmptyLogits,
    /// Every logit was NaN or `-inf`.
    NoFiniteLogit,
    /// A stage (bans, n-gram blocking or a `-inf` logit bias) removed every candidate.
    AllRemoved { stage: String },
    /// A constraint (`--regex`, `--json-schema`, `--grammar`) allows no token that is left.
    Unsatisfiable { constraint: String, reason: String },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::EmptyLogits => write!(f, "empty logit vector"),
            DecodeError::NoFiniteLogit => write!(f, "no finite logit"),
            DecodeError::AllRemoved { stage } => write!(f, "stage {stage} removed every token"),
            DecodeError::Unsatisfiable { constraint, reason } => {
                write!(f, "the constraint ({constraint}) cannot be met: {reason}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
