//! Keys and mouse to [`Action`]s. The key map text users see is `assets/help.txt`;
//! `tests/tui_help.rs` fails when a key mapped here is missing from it.

use crossterm::event::{
    Event as InputEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::tui::action::Action;
use crate::tui::app::{App, Focus, Popup, Tab};
use crate::tui::input::TextEdit;
use crate::tui::knob::Knob;
use crate::tui::tabs::attention::AttnAction;

/// The action for a terminal input event, if it means anything here.
pub fn map(app: &App, event: &InputEvent) -> Option<Action> {
    match event {
        InputEvent::Key(key) => map_key(app, key),
        InputEvent::Mouse(mouse) => map_mouse(app, mouse),
        InputEvent::Resize(..) => Some(Action::Resize),
        _ => None,
    }
}

/// The action for a key press.
pub fn map_key(app: &App, key: &KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    match &app.popup {
        Popup::Prompt(_) => prompt_key(key),
        Popup::Help => match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?') => Some(Action::Cancel),
            _ => None,
        },
        Popup::Branches { .. } => match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Up => Some(Action::MoveBranch(-1)),
            KeyCode::Down => Some(Action::MoveBranch(1)),
            KeyCode::Enter => Some(Action::Confirm),
            KeyCode::Esc | KeyCode::Char('b') => Some(Action::Cancel),
            _ => None,
        },
        Popup::None => match key.code {
            KeyCode::Char(c @ '1'..='8') => Tab::ALL
                .get(c as usize - '1' as usize)
                .map(|&t| Action::SetTab(t)),
            _ if app.tab == Tab::Beams => crate::tui::tabs::beams::map_key(key),
            _ if app.tab == Tab::Attention => crate::tui::tabs::attention::map_key(key),
            _ if app.tab == Tab::Cache => crate::tui::tabs::cache::map_key(key),
            _ if app.tab == Tab::Speculative => crate::tui::tabs::speculative::map_key(key),
            _ if app.tab == Tab::Lens => crate::tui::tabs::lens::map_key(key),
            _ if app.tab == Tab::Crowd => crate::tui::tabs::crowd::map_key(key),
            _ if app.tab == Tab::Tokens => crate::tui::tabs::tokens::map_key(key),
            _ => main_key(app.focus, key),
        },
    }
}

fn prompt_key(key: &KeyEvent) -> Option<Action> {
    Some(match key.code {
        KeyCode::Enter => Action::Confirm,
        KeyCode::Esc => Action::Cancel,
        KeyCode::Backspace => Action::Edit(TextEdit::Backspace),
        KeyCode::Delete => Action::Edit(TextEdit::Delete),
        KeyCode::Left => Action::Edit(TextEdit::Left),
        KeyCode::Right => Action::Edit(TextEdit::Right),
        KeyCode::Home => Action::Edit(TextEdit::Home),
        KeyCode::End => Action::Edit(TextEdit::End),
        KeyCode::Tab => Action::Edit(TextEdit::Insert('\t')),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            Action::Edit(TextEdit::Insert(c))
        }
        _ => return None,
    })
}

fn main_key(focus: Focus, key: &KeyEvent) -> Option<Action> {
    let knobs = focus == Focus::Knobs;
    Some(match key.code {
        KeyCode::Char(' ') => Action::Step,
        KeyCode::Char('a') => Action::ToggleAutoplay,
        KeyCode::Char('t') => Action::ToggleTint,
        KeyCode::Char('o') => Action::Attention(AttnAction::ToggleOverlay),
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('b') => Action::OpenBranches,
        KeyCode::Char('e') => Action::EditPrompt,
        KeyCode::Char('c') => Action::ToggleChat,
        KeyCode::Char('w') => Action::Save,
        KeyCode::Char('B') => Action::ToggleAb,
        KeyCode::Char('v') => Action::EditB,
        KeyCode::Char('R') => Action::Reroll,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::AdjustKnob(1),
        KeyCode::Char('-') | KeyCode::Char('_') => Action::AdjustKnob(-1),
        KeyCode::Char('x') => Action::ToggleKnob,
        KeyCode::Tab | KeyCode::BackTab => Action::ToggleFocus,
        KeyCode::Enter => Action::TakeCandidate,
        KeyCode::Esc => Action::Cancel,
        KeyCode::Home => Action::SelectFirst,
        KeyCode::End => Action::SelectLast,
        KeyCode::PageUp => Action::MoveCandidate(-10),
        KeyCode::PageDown => Action::MoveCandidate(10),
        KeyCode::Up if knobs => Action::MoveKnob(-1),
        KeyCode::Down if knobs => Action::MoveKnob(1),
        KeyCode::Left if knobs => Action::AdjustKnob(-1),
        KeyCode::Right if knobs => Action::AdjustKnob(1),
        KeyCode::Up => Action::MoveCandidate(-1),
        KeyCode::Down => Action::MoveCandidate(1),
        KeyCode::Left => Action::SelectPrev,
        KeyCode::Right => Action::SelectNext,
        _ => return None,
    })
}

/// The action for a mouse event, using the regions recorded by the last draw.
pub fn map_mouse(app: &App, mouse: &MouseEvent) -> Option<Action> {
    if app.popup != Popup::None {
        return None;
    }
    let at = Position::new(mouse.column, mouse.row);
    let hits = &app.hits;
    let knob_row = |area: Rect| {
        let i = (mouse.row - area.y) as usize + hits.knob_first;
        (i < Knob::ALL.len()).then_some(i)
    };
    let candidate = || {
        hits.candidates
            .iter()
            .find(|(row, _)| *row == mouse.row)
            .map(|&(_, i)| i)
    };
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            if let Some(&(_, tab)) = hits.tabs.iter().find(|(r, _)| r.contains(at)) {
                Some(Action::SetTab(tab))
            } else if hits.transcript.contains(at) {
                let t = hits.transcript;
                app.transcript
                    .step_at((at.y - t.y) as usize, at.x - t.x)
                    .map(Action::SelectStep)
            } else if hits.distribution.contains(at) {
                candidate().map(Action::HighlightCandidate)
            } else if hits.knobs.contains(at) {
                knob_row(hits.knobs).map(Action::SelectKnob)
            } else {
                None
            }
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let dir = if mouse.kind == MouseEventKind::ScrollUp {
                1
            } else {
                -1
            };
            if hits.knobs.contains(at) {
                knob_row(hits.knobs).map(|knob| Action::ScrollKnob { knob, dir })
            } else if hits.transcript.contains(at) {
                Some(if dir > 0 {
                    Action::SelectPrev
                } else {
                    Action::SelectNext
                })
            } else if hits.distribution.contains(at) {
                Some(Action::MoveCandidate(-dir))
            } else {
                None
            }
        }
        _ => None,
    }
}
