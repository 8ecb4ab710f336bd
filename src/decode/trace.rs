//! What one decoding step did: the data every view and the JSON export read.
//!
//! Pure data (serde), produced by the sampler chain in this module and consumed by the engine,
//! the CLI's JSON output and the TUI's views.

use serde::{Deserialize, Serialize};

/// What one stage of the chain did to the distribution entering it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTrace {
    /// Stage name as used in `--samplers` (e.g. `top_k`).
    pub name: String,
    /// Human-readable parameters (e.g. `k=50`).
    pub params: String,
    /// Candidates kept after this stage.
    pub kept: usize,
    /// Probability mass kept, measured under the distribution entering the stage.
    pub mass: f32,
    /// Rank (0-based, by the entering distribution) of the last kept candidate, when the stage
    /// cuts the sorted list at a rank.
    pub cutoff_rank: Option<usize>,
    /// The threshold the stage applied, in the stage's own unit (probability for top-p/min-p/
    /// epsilon/eta, the temperature for temperature, ...), when it has one.
    pub threshold: Option<f32>,
    /// Up to 5 of the most probable ids this stage removed (under the entering distribution).
    pub removed_best: Vec<u32>,
    /// Per-candidate scores of the contrast stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<StageDetail>,
}

/// What a contrast stage computed for its candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StageDetail {
    /// Contrastive decoding or DoLa: the kept candidates, best contrast first.
    Contrast {
        rows: Vec<ContrastRow>,
        /// DoLa: the premature layer chosen for this step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        premature_layer: Option<usize>,
        /// DoLa: the divergence of every candidate layer from the final one, as
        /// `(layer, divergence)`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        divergence: Vec<(usize, f32)>,
    },
    /// Contrastive search: the top-k candidates in rank order.
    Search { rows: Vec<SearchRow> },
    /// Output ensembling: every member's probability and the combination, best first.
    Ensemble { rows: Vec<EnsembleRow> },
    /// FUDGE or RAD: the scored candidates, best combined first.
    Steer { rows: Vec<SteerRow> },
}

/// One candidate of a steering stage (FUDGE, RAD).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SteerRow {
    pub id: u32,
    /// Log-probability under the distribution entering the stage.
    pub lm_logprob: f32,
    /// FUDGE: log P(attribute | prefix + x); RAD: the reward r(prefix + x).
    pub score: f32,
    /// `lm_logprob + weight · score`: the new logit.
    pub combined: f32,
}

/// One candidate of an ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleRow {
    pub id: u32,
    /// Each member's probability (the session's own prompt and model first).
    pub members: Vec<f32>,
    /// The combined log-value (the new logit).
    pub combined: f32,
}

/// One candidate of a contrast: the two log-probabilities and their difference (the new logit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContrastRow {
    pub id: u32,
    /// Log-probability under the expert (contrastive decoding) or the final layer (DoLa).
    pub expert: f32,
    /// Log-probability under the amateur (at its temperature) or the premature layer.
    pub amateur: f32,
    /// `expert - amateur`.
    pub contrast: f32,
}

/// One candidate of contrastive search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchRow {
    pub id: u32,
    /// Model confidence: its probability after the processors.
    pub prob: f32,
    /// Degeneration penalty: the largest cosine between its hidden state and the context's.
    pub penalty: f32,
    /// `(1 - alpha) * prob - alpha * penalty`.
    pub score: f32,
}

/// One candidate of the step as the views show it: the most probable tokens under the raw
/// distribution, with what the chain did to each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateTrace {
    pub id: u32,
    /// Raw model logit.
    pub logit: f32,
    /// Probability under the raw model distribution (softmax of raw logits).
    pub raw_p: f32,
    /// Probability under the final (processed) distribution; 0 when removed.
    pub final_p: f32,
    /// Index into [`StepTrace::stages`] of the stage that removed this candidate.
    pub removed_by: Option<usize>,
}

/// The token chosen at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chosen {
    pub id: u32,
    pub raw_prob: f32,
    pub final_prob: f32,
    /// 0-based rank under the raw distribution.
    pub rank: usize,
    /// The uniform draw in [0,1) that picked it; `None` for greedy.
    pub draw: Option<f64>,
}

/// Everything one decoding step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTrace {
    pub stages: Vec<StageTrace>,
    /// The top candidates by raw probability (at most [`TRACE_CANDIDATES`]), raw order.
    pub candidates: Vec<CandidateTrace>,
    /// The most probable candidates of the final distribution (at most [`TRACE_CANDIDATES`]),
    /// as (id, prob), best first.
    pub final_top: Vec<(u32, f32)>,
    pub chosen: Chosen,
    /// Entropy of the raw distribution, nats.
    pub entropy_raw: f32,
    /// Entropy of the final distribution, nats.
    pub entropy_final: f32,
    /// Raw top-1 probability.
    pub top1: f32,
    /// Raw top-1 minus top-2 probability.
    pub margin: f32,
    /// Raw probability mass of the candidates that survived the whole chain.
    pub kept_mass: f32,
    /// Number of candidates that survived the whole chain.
    pub kept: usize,
}

/// How many candidates a trace keeps for the views.
pub const TRACE_CANDIDATES: usize = 64;
