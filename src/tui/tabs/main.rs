//! The main tab: transcript on top, the distribution (and B beside it) over the temperature
//! or contrast panel, the knob panel on the right, the status bar at the bottom.

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::bind;
use crate::tui::action::Action;
use crate::tui::app::{App, Focus};
use crate::tui::keys::{Binding, COMMON};
use crate::tui::tabs::attention::AttnAction;
use crate::tui::tabs::TabSpec;
use crate::tui::ui::{inner, Screen};
use crate::tui::widgets::contrast::contrast_view;
use crate::tui::widgets::distribution::{b_view, distribution_view, DistLine};
use crate::tui::widgets::knobs::knobs_view;
use crate::tui::widgets::status::status_view;
use crate::tui::widgets::temperature::temperature_view;
use crate::tui::widgets::transcript::transcript_view;

/// Width of the knob panel.
const KNOBS_WIDTH: u16 = 34;

/// Keys of the main screen (besides the common ones).
pub const KEYS: &[Binding] = &[
    bind!("← →", "previous / next step",
        KeyCode::Left => Action::SelectPrev,
        KeyCode::Right => Action::SelectNext),
    bind!("home end", "first / last step",
        KeyCode::Home => Action::SelectFirst,
        KeyCode::End => Action::SelectLast),
    bind!("↑ ↓", "move the candidate highlight",
        KeyCode::Up => Action::MoveCandidate(-1),
        KeyCode::Down => Action::MoveCandidate(1)),
    bind!("pgup pgdn", "by ten",
        KeyCode::PageUp => Action::MoveCandidate(-10),
        KeyCode::PageDown => Action::MoveCandidate(10)),
    bind!("enter", "take the highlighted candidate (on a past step: a branch)",
        KeyCode::Enter => Action::TakeCandidate),
    bind!("b", "list branches (enter switches)", KeyCode::Char('b') => Action::OpenBranches),
    bind!("R", "re-roll from here", KeyCode::Char('R') => Action::Reroll),
    bind!("e", "edit the prompt (enter runs)", KeyCode::Char('e') => Action::EditPrompt),
    bind!("t", "tint prob / H / rank", KeyCode::Char('t') => Action::ToggleTint),
    bind!("c", "chat template on / off", KeyCode::Char('c') => Action::ToggleChat),
    bind!("w", "save the session (--session)", KeyCode::Char('w') => Action::Save),
    bind!("B", "A/B: a second knob set on the same logits", KeyCode::Char('B') => Action::ToggleAb),
    bind!("v", "knobs edit A / B", KeyCode::Char('v') => Action::EditB),
    bind!("o", "tint the transcript by attention (see the attn tab)",
        KeyCode::Char('o') => Action::Attention(AttnAction::ToggleOverlay)),
    bind!("+ -", "adjust the selected knob from any panel",
        KeyCode::Char('+') => Action::AdjustKnob(1),
        KeyCode::Char('=') => Action::AdjustKnob(1),
        KeyCode::Char('-') => Action::AdjustKnob(-1),
        KeyCode::Char('_') => Action::AdjustKnob(-1)),
    bind!("x", "switch the knob off / on", KeyCode::Char('x') => Action::ToggleKnob),
    bind!("tab", "focus the knob panel (and back)",
        KeyCode::Tab => Action::ToggleFocus,
        KeyCode::BackTab => Action::ToggleFocus),
];

/// Keys of the knob panel while it has the focus (before [`KEYS`]).
pub const KNOB_KEYS: &[Binding] = &[
    bind!("↑ ↓", "select a knob",
        KeyCode::Up => Action::MoveKnob(-1),
        KeyCode::Down => Action::MoveKnob(1)),
    bind!("← →", "adjust it",
        KeyCode::Left => Action::AdjustKnob(-1),
        KeyCode::Right => Action::AdjustKnob(1)),
];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "main",
    short: "main",
    keymaps: |focus| match focus {
        Focus::Knobs => &[KNOB_KEYS, KEYS, COMMON],
        Focus::Main => &[KEYS, COMMON],
    },
    draw,
};

/// The panels' areas for a terminal of `area`.
pub struct Panels {
    pub transcript: Rect,
    pub distribution: Rect,
    pub temperature: Rect,
    pub knobs: Rect,
    pub status: Rect,
}

impl Panels {
    /// Split the screen: transcript on top, distribution over temperature beside the knobs,
    /// status bar at the bottom.
    pub fn new(area: Rect) -> Self {
        let [main, status] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
        let top = (main.height * 3 / 10).max(6);
        let [transcript, bottom] =
            Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(main);
        let [left, knobs] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(KNOBS_WIDTH)]).areas(bottom);
        let [distribution, temperature] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(left);
        Self {
            transcript,
            distribution,
            temperature,
            knobs,
            status,
        }
    }
}

/// Draws the main tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, screen: &mut Screen) {
    let p = Panels::new(area);
    draw_transcript(frame, app, p.transcript, screen);
    draw_distribution(frame, app, p.distribution, screen);
    let temp_rows = p.temperature.height.saturating_sub(3) as usize;
    match contrast_view(app, temp_rows) {
        Some(view) => frame.render_widget(&view, p.temperature),
        None => frame.render_widget(&temperature_view(app, temp_rows), p.temperature),
    }
    // Rows for knobs: the panel less its borders and two lines of hint.
    let knob_rows = p.knobs.height.saturating_sub(4) as usize;
    let knobs = knobs_view(app, knob_rows);
    frame.render_widget(&knobs, p.knobs);
    screen.hits.knobs = inner(p.knobs);
    screen.hits.knob_first = knobs.first;
    frame.render_widget(&status_view(app), p.status);
}

fn draw_transcript(frame: &mut Frame, app: &App, area: Rect, screen: &mut Screen) {
    let text = inner(area);
    let wrap = &mut screen.transcript;
    wrap.ensure(&app.snapshot, app.version, text.width);
    wrap.scroll_to(app.selected, text.height as usize);
    frame.render_widget(&transcript_view(app, wrap, text.height as usize), area);
    screen.hits.transcript = text;
}

fn draw_distribution(frame: &mut Frame, app: &App, area: Rect, screen: &mut Screen) {
    // A/B: the second knob set's panel on the right half.
    let area = if app.knobs_b.is_some() {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(area);
        let rows = inner(b).height.saturating_sub(2) as usize;
        match b_view(app, rows) {
            Some(view) => frame.render_widget(&view, b),
            None => frame.render_widget(
                Paragraph::new("B: asking the engine…").block(Block::bordered().title(" B ")),
                b,
            ),
        }
        a
    } else {
        area
    };
    let list = inner(area);
    let view = distribution_view(app, list.height.saturating_sub(2) as usize);
    frame.render_widget(&view, area);
    screen.hits.distribution = list;
    screen.hits.candidates = view
        .lines
        .iter()
        .enumerate()
        .filter_map(|(row, line)| match line {
            DistLine::Candidate(c) => Some((list.y + 1 + row as u16, c.index)),
            DistLine::Marker(_) => None,
        })
        .collect();
}
