//! The knobs of beam search, validated once.

use serde::{Deserialize, Serialize};

use crate::decode::config::SamplerConfig;

/// When a group of beams stops, as Hugging Face's `early_stopping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarlyStopping {
    /// Stop as soon as `beams` hypotheses are finished.
    #[default]
    True,
    /// Stop when the best running beam, normalized at its current length, cannot beat the worst
    /// finished hypothesis (HF's heuristic).
    False,
    /// Stop only when no running beam can beat the worst finished hypothesis at any length.
    Never,
}

impl EarlyStopping {
    /// Parses `true`, `false` or `never`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "true" => Ok(EarlyStopping::True),
            "false" => Ok(EarlyStopping::False),
            "never" => Ok(EarlyStopping::Never),
            other => Err(format!(
                "early stopping must be true, false or never, got {other:?}"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EarlyStopping::True => "true",
            EarlyStopping::False => "false",
            EarlyStopping::Never => "never",
        }
    }
}

/// Every knob of a beam search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeamConfig {
    /// Beam width B (all groups together).
    pub beams: usize,
    /// Diverse beam search: the beams split into this many groups (1 = plain beam search).
    pub groups: usize,
    /// Hamming diversity penalty λ: a group's log-probability of a token drops by λ for every
    /// beam of an earlier group that chose it at this step.
    pub diversity: f32,
    /// Hypothesis score = sum of log-probabilities / generated_len ^ length_penalty.
    pub length_penalty: f32,
    pub early_stopping: EarlyStopping,
    /// How many hypotheses to return (at most `beams`).
    pub num_return: usize,
    /// Generated tokens at most (the last step finishes every beam).
    pub max_new_tokens: usize,
    /// Tokens that finish a beam.
    pub eos_ids: Vec<u32>,
    /// Token a finished group reports as chosen to later groups' diversity penalty (HF pads a
    /// done group with `pad_token_id`).
    pub pad_id: Option<u32>,
    /// Stochastic beam search: sample the continuations without replacement (Gumbel-top-k on
    /// the cumulative scores) instead of taking the best.
    pub sample: bool,
    /// Seed of the Gumbel noise (PCG64).
    pub seed: u64,
    /// The sampler knobs applied to every beam's log-probabilities with its own history: the
    /// processors (bias, penalties, n-gram blocking, bans) always; temperature and truncation
    /// only when sampling, as Hugging Face.
    pub knobs: SamplerConfig,
    /// How many pruned candidates per expanded beam the tree keeps.
    pub pruned_per_beam: usize,
}

impl Default for BeamConfig {
    fn default() -> Self {
        BeamConfig {
            beams: 4,
            groups: 1,
            diversity: 0.0,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::True,
            num_return: 4,
            max_new_tokens: 32,
            eos_ids: Vec::new(),
            pad_id: None,
            sample: false,
            seed: 0,
            knobs: SamplerConfig {
                top_k: None,
                ..SamplerConfig::default()
            },
            pruned_per_beam: 3,
        }
    }
}

/// Stages that edit scores; the rest (temperature, truncation) only apply when sampling.
pub const PROCESSOR_STAGES: [&str; 4] = ["logit_bias", "penalties", "no_repeat_ngram", "bans"];

impl BeamConfig {
    /// Beams per group.
    pub fn group_size(&self) -> usize {
        self.beams / self.groups.max(1)
    }

    /// Rejects impossible combinations with a one-line message.
    pub fn validate(&self) -> Result<(), String> {
        if self.beams == 0 {
            return Err("beams must be at least 1".into());
        }
        if self.groups == 0 || !self.beams.is_multiple_of(self.groups) {
            return Err(format!(
                "groups must divide beams: {} beams in {} groups",
                self.beams, self.groups
            ));
        }
        if !(self.diversity.is_finite() && self.diversity >= 0.0) {
            return Err(format!("diversity must be >= 0, got {}", self.diversity));
        }
        if self.diversity > 0.0 && self.groups < 2 {
            return Err("diversity needs at least 2 groups".into());
        }
        if self.sample && self.groups > 1 {
            return Err("beam sampling cannot be combined with groups".into());
        }
        if !self.length_penalty.is_finite() {
            return Err(format!(
                "length penalty must be finite, got {}",
                self.length_penalty
            ));
        }
        if self.num_return == 0 || self.num_return > self.beams {
            return Err(format!(
                "return must be between 1 and beams ({}), got {}",
                self.beams, self.num_return
            ));
        }
        if self.max_new_tokens == 0 {
            return Err("max new tokens must be at least 1".into());
        }
        if self.knobs.grammar.is_some() {
            return Err(
                "beam search does not support a grammar constraint (--regex, --json-schema, --grammar)"
                    .into(),
            );
        }
        self.knobs.validate()
    }

    /// The sampler knobs restricted to the stages beam search applies.
    pub fn chain_config(&self) -> SamplerConfig {
        let mut c = self.knobs.clone();
        if !self.sample {
            c.order.retain(|s| PROCESSOR_STAGES.contains(&s.as_str()));
        }
        c
    }
}
