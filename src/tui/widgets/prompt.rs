//! The `e` popup: edit the prompt; enter starts a new timeline, esc cancels.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::tui::app::{App, Popup};
use crate::tui::widgets::centered;
use crate::tui::{text, theme};

/// What the prompt editor shows: the text before and from the cursor (control characters
/// made visible).
#[derive(Debug, Clone, PartialEq)]
pub struct PromptView {
    pub before: String,
    pub after: String,
}

/// The editor, or `None` when it is closed.
pub fn prompt_view(app: &App) -> Option<PromptView> {
    let Popup::Prompt(input) = &app.popup else {
        return None;
    };
    let (before, after) = input.split();
    Some(PromptView {
        before: text::visible(&before),
        after: text::visible(&after),
    })
}

impl Widget for &PromptView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let popup = centered(area, area.width.saturating_sub(8).min(100), 8);
        Clear.render(popup, buf);
        let mut chars = self.after.chars();
        let cursor = chars.next().map_or(" ".to_string(), String::from);
        let line = Line::from(vec![
            Span::raw(self.before.as_str()),
            Span::styled(cursor, theme::selected()),
            Span::raw(chars.as_str()),
        ]);
        let inner_width = popup.width.saturating_sub(2).max(1) as usize;
        let rows = text::width(&self.before) / inner_width;
        let scroll = rows.saturating_sub(popup.height.saturating_sub(3) as usize) as u16;
        Paragraph::new(line)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::bordered().title(" Prompt (enter runs, esc cancels) "))
            .render(popup, buf);
    }
}
