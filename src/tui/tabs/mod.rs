//! The screens beside the main one, one file each: `1` main, `2` beams, `3` attention,
//! `4` cache, `5` speculative, `6` lens, `7` crowd, `8` tokens. [`draw`] dispatches on [`App::tab`]; [`draw_bar`] draws the tab line.

pub mod attention;
pub mod beams;
pub mod cache;
pub mod crowd;
pub mod lens;
pub mod speculative;
pub mod tokens;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use crate::tui::action::Action;
use crate::tui::app::{App, Tab};
use crate::tui::theme;

/// Keys that mean the same on the attention and cache tabs as on the main screen.
pub fn common_key(key: &KeyEvent) -> Option<Action> {
    match key.code {
        KeyCode::Char(' ') => Some(Action::Step),
        KeyCode::Char('a') => Some(Action::ToggleAutoplay),
        KeyCode::Char('q') => Some(Action::Quit),
        KeyCode::Char('?') => Some(Action::ToggleHelp),
        KeyCode::Esc => Some(Action::Cancel),
        _ => None,
    }
}

/// Draws the tab line at the top of `area` (recording where each tab is, for clicks);
/// returns the area below it.
pub fn draw_bar(frame: &mut Frame, app: &mut App, area: Rect) -> Rect {
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let mut spans = Vec::new();
    let mut x = bar.x;
    app.hits.tabs.clear();
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let style = if *tab == app.tab {
            theme::selected()
        } else {
            theme::dim()
        };
        let label = format!(" {} {} ", i + 1, tab.label());
        let w = label.chars().count() as u16;
        app.hits.tabs.push((Rect::new(x, bar.y, w, 1), *tab));
        x += w + 1;
        spans.push(Span::styled(label, style));
        spans.push(Span::styled(" ", Style::new()));
    }
    frame.render_widget(Line::from(spans), bar);
    body
}

/// Draws the current tab (not [`Tab::Main`], which `ui` lays out itself) into `area`.
pub fn draw(frame: &mut Frame, app: &mut App, area: Rect) {
    match app.tab {
        Tab::Main => {}
        Tab::Beams => beams::draw(frame, app, area),
        Tab::Attention => attention::draw(frame, app, area),
        Tab::Cache => cache::draw(frame, app, area),
        Tab::Speculative => speculative::draw(frame, app, area),
        Tab::Lens => lens::draw(frame, app, area),
        Tab::Crowd => crowd::draw(frame, app, area),
        Tab::Tokens => tokens::draw(frame, app, area),
    }
}
