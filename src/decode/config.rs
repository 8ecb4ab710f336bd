//! The knobs of the sampler chain, as one serde value shared by the CLI, the engine and the TUI.

use serde::{Deserialize, Serialize};

/// Every knob of the sampler chain. `None` (or the neutral value) disables a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    /// Softmax temperature; 1.0 is neutral, 0.0 means greedy.
    pub temperature: f32,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub epsilon: Option<f32>,
    pub eta: Option<f32>,
    pub typical_p: Option<f32>,
    /// HF repetition penalty (1.0 neutral).
    pub repetition_penalty: f32,
    /// OpenAI frequency penalty (0.0 neutral).
    pub frequency_penalty: f32,
    /// OpenAI presence penalty (0.0 neutral).
    pub presence_penalty: f32,
    /// Ban any token that would complete an n-gram already in the sequence.
    pub no_repeat_ngram: Option<usize>,
    /// Additive logit bias per token id.
    pub logit_bias: Vec<(u32, f32)>,
    /// Banned token sequences (already tokenised); a single-token sequence bans that token.
    pub bad_words: Vec<Vec<u32>>,
    /// Always take the most probable token of the final distribution.
    pub greedy: bool,
    /// Stage order, by stage name.
    pub order: Vec<String>,
    /// Seed of the sequence's RNG.
    pub seed: u64,
}
