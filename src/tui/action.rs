//! Everything that can happen to the UI, as one enum: keys and mouse map to it (see
//! [`crate::tui::keymap`]), engine events arrive wrapped in it, and [`crate::tui::update`]
//! applies it.

use crate::engine::protocol::Event;
use crate::tui::app::Tab;
use crate::tui::input::TextEdit;
use crate::tui::tabs::attention::AttnAction;
use crate::tui::tabs::beams::BeamAction;
use crate::tui::tabs::cache::CacheAction;
use crate::tui::tabs::crowd::CrowdAction;
use crate::tui::tabs::lens::LensAction;
use crate::tui::tabs::speculative::SpecAction;
use crate::tui::tabs::tokens::TokensAction;

/// One thing that happened.
// Engine events (snapshots) are large; each is moved once, so boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Action {
    /// A message from the engine thread.
    Engine(Event),
    /// Generate one token.
    Step,
    /// Start or stop autoplay.
    ToggleAutoplay,
    /// Select the previous / next generated step.
    SelectPrev,
    SelectNext,
    /// Select the first / last generated step.
    SelectFirst,
    SelectLast,
    /// Select a step by index (mouse).
    SelectStep(usize),
    /// Move the candidate highlight by this many rows.
    MoveCandidate(i32),
    /// Highlight a candidate by its index in the step's trace (mouse).
    HighlightCandidate(usize),
    /// Branch: take the highlighted candidate at the selected step.
    TakeCandidate,
    /// Regenerate from the selected step.
    Reroll,
    /// Move keyboard focus between the main panels and the knob panel.
    ToggleFocus,
    /// Move the knob selection by this many rows.
    MoveKnob(i32),
    /// Select a knob by its row (mouse).
    SelectKnob(usize),
    /// Step the selected knob up (+1) or down (-1).
    AdjustKnob(i32),
    /// Select a knob and step it (mouse wheel).
    ScrollKnob {
        knob: usize,
        dir: i32,
    },
    /// Switch the selected knob off or back on.
    ToggleKnob,
    /// Cycle the transcript tint: probability, entropy, rank.
    ToggleTint,
    /// Show or hide the key map.
    ToggleHelp,
    /// Open the branch list.
    OpenBranches,
    /// Move the branch list selection.
    MoveBranch(i32),
    /// Open the prompt editor.
    EditPrompt,
    /// Render the prompt through the model's chat template, or not.
    ToggleChat,
    /// Save the session to a file.
    Save,
    /// Turn the A/B panel on (B starts as a copy of A) or off.
    ToggleAb,
    /// Switch the knob panel between editing A and B.
    EditB,
    /// Edit the prompt editor's text.
    Edit(TextEdit),
    /// Enter in a popup: switch branch, submit the prompt, close help.
    Confirm,
    /// Esc: close the popup.
    Cancel,
    /// Show another tab.
    SetTab(Tab),
    /// A key of the beam tab.
    Beam(BeamAction),
    /// A key of the attention tab (or the transcript overlay toggle).
    Attention(AttnAction),
    /// A key of the cache tab.
    Cache(CacheAction),
    /// A key of the speculative tab.
    Speculative(SpecAction),
    /// A key of the lens tab.
    Lens(LensAction),
    /// A key of the crowd tab.
    Crowd(CrowdAction),
    /// A key of the tokens tab.
    Tokens(TokensAction),
    /// Leave the program.
    Quit,
    /// The terminal was resized.
    Resize,
    /// End of an event-loop turn: flush the collapsed knob change.
    Frame,
}
