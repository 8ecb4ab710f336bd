//! The messages between the UI thread and the engine thread, and the owned snapshots the UI
//! renders from. The engine owns the model (tch tensors are not `Sync`); the UI only ever sees
//! these plain values.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use serde::{Deserialize, Serialize};

use crate::decode::beam::BeamTree;
use crate::decode::config::SamplerConfig;
use crate::decode::trace::StepTrace;
use crate::model::cache::CachePolicy;

use super::crowd::CrowdView;
use super::inspect::{AttentionView, CacheView, LensView};
use super::run::{RunKind, RunRequest, SpecView};

/// The UI's end of the engine: commands in, events out.
pub struct EngineHandle {
    /// To the engine thread, which blocks on it between steps.
    pub commands: Sender<Command>,
    /// From the engine thread: an unbounded tokio channel, so the engine (plain synchronous
    /// code, no runtime) sends without blocking and the UI's event loop awaits it beside the
    /// terminal's events. Closed when the engine thread ends.
    pub events: UnboundedReceiver<Event>,
}

/// What the UI asks of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Make `RunRequest` the active run (replacing the one there).
    Start(RunRequest),
    /// One step of the active run (a token, a beam expansion, a speculative round).
    Step,
    /// Start or stop stepping the active run continuously.
    Autoplay(bool),
    /// New knobs: future tokens use them, and the given step (if any) is re-run through the
    /// chain on its cached logits (no model call) so the UI can show the new distribution.
    SetKnobs {
        config: Box<SamplerConfig>,
        preview_step: Option<usize>,
    },
    /// Take `token_id` at `step` instead of what was chosen: the future is cut (kept as a
    /// branch), the cache rolled back, generation continues from the new token.
    Branch { step: usize, token_id: u32 },
    /// Discard the steps from `step` on and regenerate them with the current knobs.
    Reroll { step: usize },
    /// Take `token_id` as the next token instead of sampling one.
    Take { token_id: u32 },
    /// Switch to another branch by id.
    SwitchBranch(usize),
    /// Replace the prompt and start a new timeline.
    SetPrompt(String),
    /// Render prompts through the model's chat template (or not); the prompt is re-applied.
    SetChat(bool),
    /// Save the whole session to a file (`None`: a new file named by the time, in the
    /// current folder); answered by [`Event::Notice`] or [`Event::Error`].
    Save(Option<std::path::PathBuf>),
    /// Start or stop capturing attention rows (starting rebuilds the cache with capture).
    SetAttentionCapture(bool),
    /// Switch the KV-cache policy; the cache is rebuilt from the timeline.
    SetCachePolicy(CachePolicy),
    /// Re-run step `step` (`None`: the pending next token) under a second knob set, for the
    /// A/B panel (answered by [`Event::PreviewB`]).
    PreviewB {
        step: Option<usize>,
        config: Box<SamplerConfig>,
    },
    /// Compute the logit lens of the steps up to `step` (answered by [`Event::Lens`]).
    Lens { step: usize },
    /// Stop the engine thread.
    Quit,
}

/// What the engine tells the UI.
#[derive(Debug, Clone)]
// A snapshot is a few hundred bytes and events are rare: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// Model loading progress in [0, 1] with a message.
    Loading { progress: f32, message: String },
    /// The model is ready.
    Loaded(Arc<ModelInfo>),
    /// The engine's knobs, when they change other than as the UI asked: at start (the command
    /// line's, or a reopened session's) and when it refuses a [`Command::SetKnobs`] (the knobs
    /// it kept). The UI holds the knobs; this is the only way they flow back.
    Knobs(Box<SamplerConfig>),
    /// The timeline changed (a step was added, a branch cut, a prompt set...).
    Timeline(Snapshot),
    /// A cached step re-run through the chain under new knobs (its token unchanged).
    Preview(Arc<StepRecord>),
    /// The next token's distribution before it is chosen, under the knobs in force (the
    /// token its draw would pick as `trace.chosen`); `None` once the sequence has ended.
    Pending(Option<Arc<StepRecord>>),
    /// A recoverable error to show in the status bar.
    Error(String),
    /// Something done, to show in the status bar (a saved file).
    Notice(String),
    /// A step (or the pending token) under the A/B panel's second knob set.
    PreviewB(Arc<StepRecord>),
    /// The captured attention rows (sent after timeline changes while capture is on).
    Attention(Arc<AttentionView>),
    /// The KV cache's slots (sent after every timeline change).
    Cache(Arc<CacheView>),
    /// The beam search tree after a step (or a start).
    Beam(Arc<BeamTree>),
    /// The speculative run after a round (or a start).
    Speculative(Arc<SpecView>),
    /// The logit lens of a few steps ending at the one asked for.
    Lens(Arc<LensView>),
    /// The crowd of samples after a step (or a start).
    Crowd(Arc<CrowdView>),
    /// The active run changed (after a [`Command::Start`], or a timeline action that needed
    /// a timeline run).
    RunStarted(RunKind),
}

/// Static facts about the loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    /// Number of parameters.
    pub params: u64,
    pub dtype: String,
    /// Maximum context length in tokens.
    pub context_len: usize,
    /// Display string of every token id (byte-level pieces decoded; invalid UTF-8 as `\xNN`).
    pub vocab: Arc<Vec<String>>,
    /// Number of transformer blocks (the early-exit drafts choose among them).
    #[serde(default)]
    pub layers: usize,
    /// Path of the draft model loaded in the draft role, if any.
    #[serde(default)]
    pub draft_model: Option<String>,
    /// Ids of the special (control) tokens.
    #[serde(default)]
    pub specials: Vec<u32>,
}

/// One generated token and the distribution it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// 0-based index among generated tokens.
    pub index: usize,
    pub token_id: u32,
    /// Display text of the token (see [`ModelInfo::vocab`]).
    pub text: String,
    /// How the sampler chain produced it.
    pub trace: StepTrace,
    /// The knobs in force when it was chosen.
    pub config: SamplerConfig,
    /// Milliseconds the model's forward for this step took.
    pub forward_ms: f32,
    /// The raw candidates of `trace.candidates` under several temperatures (full-vocabulary
    /// softmax), for the temperature panel: 0.3, 0.7, 1.0, 1.5 and the configured one.
    pub temperature_sweep: Vec<TemperatureColumn>,
    /// The token was chosen by hand (taken, a branch) or by a speculative round rather than
    /// drawn by the chain from the session's stream: replaying it means taking it again.
    #[serde(default)]
    pub taken: bool,
}

/// Probabilities of a step's traced candidates under one temperature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemperatureColumn {
    pub temperature: f32,
    /// Parallel to `StepTrace::candidates`.
    pub probs: Vec<f32>,
}

/// A branch of the story: the tokens abandoned when the user took another candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchInfo {
    pub id: usize,
    /// The step at which this branch departs from its parent.
    pub fork_step: usize,
    /// Number of generated steps on the branch.
    pub len: usize,
    /// The first few tokens after the fork, for the branch list.
    pub preview: String,
}

/// Running figures for the status bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub ms_per_token: f32,
    pub tokens_per_s: f32,
    pub kv_cache_bytes: u64,
    /// Tokens in context (prompt + generated).
    pub context_used: usize,
}

/// The whole visible state of the engine, cheap to clone (steps are shared).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The prompt as the user gave it (in chat mode: the user's message).
    pub prompt: String,
    /// Whether the prompt went through the model's chat template.
    pub chat: bool,
    /// Prompt token ids and display texts.
    pub prompt_tokens: Vec<(u32, String)>,
    pub steps: Vec<Arc<StepRecord>>,
    pub branches: Vec<BranchInfo>,
    pub current_branch: usize,
    pub stats: Stats,
    /// True while autoplay is generating.
    pub playing: bool,
    /// True when the last step produced end-of-sequence.
    pub finished: bool,
}
