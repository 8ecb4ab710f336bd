//! The UI's whole state. Changed only by [`crate::tui::update`]; read by the view builders.

use std::sync::Arc;

use ratatui::layout::Rect;

use crate::decode::config::SamplerConfig;
use crate::decode::trace::StepTrace;
use crate::engine::protocol::{ModelInfo, Snapshot, StepRecord};
use crate::engine::run::RunKind;
use crate::tui::input::TextInput;
use crate::tui::knob::Knob;
use crate::tui::tabs::attention::AttentionState;
use crate::tui::tabs::beams::BeamsState;
use crate::tui::tabs::cache::CacheState;
use crate::tui::tabs::crowd::CrowdState;
use crate::tui::tabs::lens::LensState;
use crate::tui::tabs::speculative::SpecState;
use crate::tui::wrap::Wrap;

/// Which panel group the arrow keys drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// Transcript and distribution: ←/→ select steps, ↑/↓ move the candidate highlight.
    #[default]
    Main,
    /// Knob panel: ↑/↓ select a knob, ←/→ adjust it.
    Knobs,
}

/// The screen shown, chosen with `1`..`8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// Transcript, distribution, temperatures and knobs.
    #[default]
    Main,
    /// The beam search tree.
    Beams,
    Attention,
    Cache,
    /// Speculative rounds: drafts, verdicts, p against q.
    Speculative,
    /// The logit lens: what every layer would predict.
    Lens,
    /// A crowd of samples and the one MBR or a vote chooses.
    Crowd,
    /// The prompt and transcript as tokens.
    Tokens,
}

impl Tab {
    /// Every tab, in key order (`1`..`8`).
    pub const ALL: [Tab; 8] = [
        Tab::Main,
        Tab::Beams,
        Tab::Attention,
        Tab::Cache,
        Tab::Speculative,
        Tab::Lens,
        Tab::Crowd,
        Tab::Tokens,
    ];

    /// Name in the tab bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Main => "main",
            Tab::Beams => "beams",
            Tab::Attention => "attention",
            Tab::Cache => "cache",
            Tab::Speculative => "speculative",
            Tab::Lens => "lens",
            Tab::Crowd => "crowd",
            Tab::Tokens => "tokens",
        }
    }
}

/// What the transcript's token tint encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TintMode {
    /// The chosen token's raw probability.
    #[default]
    Probability,
    /// The entropy of the raw distribution at the step (low = confident).
    Entropy,
    /// The chosen token's raw rank.
    Rank,
    /// The steering score of the chosen token: FUDGE's P(attribute | prefix + x), or RAD's
    /// reward (clamped to [0, 1]); 0 on steps that ran neither.
    Attribute,
}

impl TintMode {
    /// The next mode in the `t` cycle.
    pub fn next(self) -> Self {
        match self {
            TintMode::Probability => TintMode::Entropy,
            TintMode::Entropy => TintMode::Rank,
            TintMode::Rank => TintMode::Attribute,
            TintMode::Attribute => TintMode::Probability,
        }
    }

    /// Short name for the transcript title.
    pub fn label(self) -> &'static str {
        match self {
            TintMode::Probability => "probability",
            TintMode::Entropy => "entropy",
            TintMode::Rank => "rank",
            TintMode::Attribute => "attribute",
        }
    }
}

/// The popup on top of the main screen, if any.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Popup {
    #[default]
    None,
    Help,
    /// The branch list with its selected row.
    Branches {
        selected: usize,
    },
    /// The prompt editor.
    Prompt(TextInput),
}

/// A line for the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// What the mouse can hit, recorded by the last draw.
#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// The transcript's text area.
    pub transcript: Rect,
    /// The distribution panel and its candidate rows (row, candidate index).
    pub distribution: Rect,
    pub candidates: Vec<(u16, usize)>,
    /// Each tab's label in the tab bar.
    pub tabs: Vec<(Rect, Tab)>,
    /// The knob panel's rows (first row y; row i is knob `knob_first + i`).
    pub knobs: Rect,
    pub knob_first: usize,
}

/// The UI state.
#[derive(Debug, Clone, Default)]
pub struct App {
    pub info: Option<Arc<ModelInfo>>,
    /// Loading progress and message, until the model is loaded.
    pub loading: Option<(f32, String)>,
    pub snapshot: Snapshot,
    /// Bumped on every timeline change (keys the transcript layout cache).
    pub version: u64,
    /// The selected generated step.
    pub selected: Option<usize>,
    /// Whether the selection follows the newest step.
    pub follow: bool,
    /// Highlighted candidate: index into the shown trace's candidates.
    pub highlight: usize,
    /// The selected step re-run under the current knobs.
    pub preview: Option<Arc<StepRecord>>,
    /// The next token's distribution before it is chosen (from the engine).
    pub pending: Option<Arc<StepRecord>>,
    /// Whether the main panels show [`App::pending`] rather than the selected step.
    pub on_pending: bool,
    /// The A/B panel's second knob set (`None`: off), applied to the shown step's logits.
    pub knobs_b: Option<SamplerConfig>,
    /// Whether the knob panel edits B.
    pub editing_b: bool,
    /// The shown step under B, from the engine.
    pub preview_b: Option<Arc<StepRecord>>,
    /// What B was last asked for: the step (`None`: pending), the timeline version, B's knobs.
    pub b_asked: Option<(Option<usize>, usize, SamplerConfig)>,
    /// The knobs as the user set them.
    pub config: SamplerConfig,
    /// The last config sent, until a snapshot confirms it.
    pub awaiting: Option<SamplerConfig>,
    /// A knob change (or selection change) waiting to be sent at the end of the frame.
    pub knobs_dirty: bool,
    /// Selected row of the knob panel.
    pub knob: usize,
    /// Value each optional knob had when it was switched off.
    pub knob_memory: [Option<f32>; Knob::ALL.len()],
    pub focus: Focus,
    pub tab: Tab,
    /// The beam tab's state.
    pub beams: BeamsState,
    /// The attention tab's state (and the transcript overlay's).
    pub attention: AttentionState,
    /// The cache tab's state.
    pub cache: CacheState,
    /// The speculative tab's state.
    pub spec: SpecState,
    /// The lens tab's state.
    pub lens: LensState,
    /// The crowd tab's state.
    pub crowd: CrowdState,
    /// The tokens tab's selected token (text position).
    pub token: usize,
    /// The engine's active run (as last started).
    pub run: RunKind,
    pub popup: Popup,
    pub tint: TintMode,
    pub message: Option<Message>,
    /// Start autoplay once the model has loaded.
    pub autoplay_on_load: bool,
    pub quit: bool,
    pub transcript: Wrap,
    pub hits: Hits,
}

impl App {
    /// A fresh UI state.
    pub fn new(tint: TintMode, autoplay_on_load: bool) -> Self {
        Self {
            follow: true,
            tint,
            autoplay_on_load,
            ..Self::default()
        }
    }

    /// The selected step's record.
    pub fn selected_record(&self) -> Option<&Arc<StepRecord>> {
        self.selected.and_then(|i| self.snapshot.steps.get(i))
    }

    /// The pending record when the panels are on it.
    pub fn shown_pending(&self) -> Option<&Arc<StepRecord>> {
        self.pending.as_ref().filter(|_| self.on_pending)
    }

    /// The record the distribution and temperature panels show: the pending next token when
    /// selected, else the preview of the selected step when there is one, else the step
    /// itself; `true` when it is a preview.
    pub fn shown_record(&self) -> Option<(&Arc<StepRecord>, bool)> {
        if let Some(p) = self.shown_pending() {
            return Some((p, false));
        }
        let record = self.selected_record()?;
        match &self.preview {
            Some(p) if p.index == record.index && p.token_id == record.token_id => Some((p, true)),
            _ => Some((record, false)),
        }
    }

    /// The shown step's trace.
    pub fn shown_trace(&self) -> Option<&StepTrace> {
        self.shown_record().map(|(r, _)| &r.trace)
    }

    /// The knob set the knob panel shows and edits (A, or B while editing it).
    pub fn edited_knobs(&self) -> &SamplerConfig {
        match (&self.knobs_b, self.editing_b) {
            (Some(b), true) => b,
            _ => &self.config,
        }
    }

    /// The step the distribution panel shows: `None` for the pending next token.
    pub fn shown_step(&self) -> Option<Option<usize>> {
        if self.shown_pending().is_some() {
            Some(None)
        } else {
            self.selected.map(Some)
        }
    }

    /// The selected knob.
    pub fn selected_knob(&self) -> Knob {
        Knob::ALL[self.knob.min(Knob::ALL.len() - 1)]
    }

    /// Display text of a token id.
    pub fn token_text(&self, id: u32) -> &str {
        self.info
            .as_ref()
            .and_then(|i| i.vocab.get(id as usize))
            .map_or("?", |s| s.as_str())
    }
}
