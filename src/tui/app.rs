//! The UI's whole state. Changed only by [`crate::tui::update`]; read by the view builders.

use std::sync::Arc;

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
pub use crate::tui::tabs::Tab;

/// Which panel group the arrow keys drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// Transcript and distribution: ←/→ select steps, ↑/↓ move the candidate highlight.
    #[default]
    Main,
    /// Knob panel: ↑/↓ select a knob, ←/→ adjust it.
    Knobs,
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
    /// The knobs: the UI's one copy. Sent to the engine with
    /// [`SetKnobs`](crate::engine::protocol::Command::SetKnobs); replaced
    /// only by [`Knobs`](crate::engine::protocol::Event::Knobs) (the engine's at start, or the ones it kept when it refused).
    pub config: SamplerConfig,
    /// A knob change (or selection change) waiting to be sent at the end of the frame.
    pub knobs_dirty: bool,
    /// Selected row of the knob panel.
    pub knob: usize,
    /// Value each optional knob had when it was switched off.
    pub knob_memory: std::collections::BTreeMap<&'static str, f32>,
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
        let all = Knob::all();
        all[self.knob.min(all.len() - 1)]
    }

    /// Display text of a token id.
    pub fn token_text(&self, id: u32) -> &str {
        self.info
            .as_ref()
            .and_then(|i| i.vocab.get(id as usize))
            .map_or("?", |s| s.as_str())
    }
}
