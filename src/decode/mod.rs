//! Decoding core, pure Rust: the traced sampler chain.
//!
//! A step turns one logit vector into a token. The full vocabulary becomes a [`Candidates`]
//! set; a [`Chain`] of [`Stage`]s (ordered by [`SamplerConfig::order`], default
//! [`DEFAULT_ORDER`]) edits logits and drops candidates; [`choose`] picks greedily or by inverse
//! CDF with a recorded uniform draw; and a [`StepTrace`] records what every stage did.
//! [`Sampler`] ties it together and owns the seeded RNG stream (see [`sampler`] for replay).
//!
//! Stage semantics follow Hugging Face's `LogitsProcessor`s (see each stage's docs); ties are
//! broken by [`by_rank`]: logit descending, smaller id first.

pub mod bans;
pub mod beam;
pub mod candidates;
pub mod config;
pub mod contrast;
pub mod crowd;
pub mod edit;
pub mod error;
pub mod grammar;
pub mod math;
pub mod penalties;
pub mod sampler;
pub mod select;
pub mod spec;
pub mod speculative;
pub mod stage;
pub mod steer;
pub mod trace;
pub mod truncate;
pub mod typical;

pub use candidates::{by_rank, Candidate, Candidates};
pub use config::SamplerConfig;
pub use error::DecodeError;
pub use math::{entropy, log_softmax, top_n};
pub use sampler::{apply_stages, choose, draw_for, Sampler};
pub use stage::{build_stage, Chain, Effect, History, Stage, DEFAULT_ORDER, STAGE_NAMES};
pub use trace::{CandidateTrace, Chosen, StageTrace, StepTrace, TRACE_CANDIDATES};
