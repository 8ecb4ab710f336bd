//! The `b` popup: the branches of the story; enter switches to the selected one.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::tui::app::{App, Popup};
use crate::tui::widgets::centered;
use crate::tui::{text, theme};

/// One branch row.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchRow {
    pub text: String,
    pub current: bool,
    pub selected: bool,
}

/// What the branch popup shows.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchesView {
    pub rows: Vec<BranchRow>,
}

/// The branch list, or `None` when the popup is closed.
pub fn branches_view(app: &App) -> Option<BranchesView> {
    let Popup::Branches { selected } = app.popup else {
        return None;
    };
    let rows = app
        .snapshot
        .branches
        .iter()
        .enumerate()
        .map(|(i, b)| BranchRow {
            text: format!(
                "#{:<3} fork at step {:<5} {:>5} steps  {}",
                b.id,
                b.fork_step + 1,
                b.len,
                text::truncate(&text::visible(&b.preview), 30)
            ),
            current: b.id == app.snapshot.current_branch,
            selected: i == selected,
        })
        .collect();
    Some(BranchesView { rows })
}

impl Widget for &BranchesView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let popup = centered(area, 72, self.rows.len().max(1) as u16 + 2);
        Clear.render(popup, buf);
        let lines: Vec<Line> = if self.rows.is_empty() {
            vec![Line::styled(
                "no branches yet: enter on another candidate forks one",
                theme::dim(),
            )]
        } else {
            self.rows
                .iter()
                .map(|r| {
                    let text = format!("{} {}", if r.current { "●" } else { " " }, r.text);
                    if r.selected {
                        Line::styled(text, theme::selected())
                    } else {
                        Line::raw(text)
                    }
                })
                .collect()
        };
        Paragraph::new(lines)
            .block(Block::bordered().title(" Branches (enter switches, esc closes) "))
            .render(popup, buf);
    }
}
