//! Keys and mouse to [`Action`]s: popups here, the rest from the tabs' key maps
//! ([`crate::tui::tabs::TabSpec::keymaps`]), which the help overlay is generated from.

use crossterm::event::{
    Event as InputEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::tui::action::Action;
use crate::tui::app::{App, Popup, Tab};
use crate::tui::input::TextEdit;
use crate::tui::knob::Knob;
use crate::tui::tabs;
use crate::tui::ui::Screen;

/// The action for a terminal input event, if it means anything here; mouse events hit the
/// regions `screen` recorded in the last draw.
pub fn map(app: &App, screen: &Screen, event: &InputEvent) -> Option<Action> {
    match event {
        InputEvent::Key(key) => map_key(app, key),
        InputEvent::Mouse(mouse) => map_mouse(app, screen, mouse),
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
            KeyCode::Char(c) if c.is_ascii_digit() => Tab::for_digit(c).map(Action::SetTab),
            code => tabs::map_key(app.tab, app.focus, code),
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

/// The action for a mouse event, using the regions recorded by the last draw.
pub fn map_mouse(app: &App, screen: &Screen, mouse: &MouseEvent) -> Option<Action> {
    if app.popup != Popup::None {
        return None;
    }
    let at = Position::new(mouse.column, mouse.row);
    let hits = &screen.hits;
    let knob_row = |area: Rect| {
        let i = (mouse.row - area.y) as usize + hits.knob_first;
        (i < Knob::all().len()).then_some(i)
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
                screen
                    .transcript
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
