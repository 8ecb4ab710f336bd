//! The `?` overlay: the key map from `assets/help.txt`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::tui::widgets::centered;

/// The key map text (also quoted by the README).
pub const HELP: &str = include_str!("../../../assets/help.txt");

/// The help overlay (no state: it shows [`HELP`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HelpView;

impl Widget for &HelpView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let lines = HELP.lines().count() as u16;
        let width = HELP.lines().map(crate::tui::text::width).max().unwrap_or(0) as u16;
        let popup = centered(area, width + 4, lines + 2);
        Clear.render(popup, buf);
        Paragraph::new(HELP)
            .block(Block::bordered().title(" Keys (esc closes) "))
            .render(popup, buf);
    }
}
