//! The message shown instead of the main screen when the terminal is too small.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::tui::widgets::centered;

/// The terminal's size and the minimum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TooSmallView {
    pub size: (u16, u16),
    pub min: (u16, u16),
}

impl Widget for &TooSmallView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let lines = vec![
            Line::raw(format!(
                "terminal too small: {}×{}",
                self.size.0, self.size.1
            ))
            .centered(),
            Line::raw(format!("logitscope needs {}×{}", self.min.0, self.min.1)).centered(),
            Line::raw("enlarge the window, or q to quit").centered(),
        ];
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .render(centered(area, area.width, 3), buf);
    }
}
