//! The knob panel: every sampler knob with its value; the selected one highlighted.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::decode::spec::order_summary;
use crate::tui::app::{App, Focus};
use crate::tui::knob::Knob;
use crate::tui::{text, theme};

/// One knob row.
#[derive(Debug, Clone, PartialEq)]
pub struct KnobRow {
    pub label: &'static str,
    pub value: String,
    /// Whether its stage is active (inactive rows are dimmed).
    pub enabled: bool,
    pub selected: bool,
}

/// What the knob panel shows.
#[derive(Debug, Clone, PartialEq)]
pub struct KnobsView {
    /// The visible rows (from [`KnobsView::first`]).
    pub rows: Vec<KnobRow>,
    /// Index in [`Knob::all`] of the first visible row.
    pub first: usize,
    pub focused: bool,
    /// Explanation of the selected knob and the full chain order.
    pub hint: String,
    /// Which knob set it shows.
    pub title: String,
}

/// The knob panel for the current knobs, `visible` rows of it, scrolled to keep the
/// selected knob in view.
pub fn knobs_view(app: &App, visible: usize) -> KnobsView {
    let selected = app.selected_knob();
    let visible = visible.max(1);
    let first = (app.knob + 1)
        .saturating_sub(visible)
        .min(Knob::all().len().saturating_sub(visible));
    KnobsView {
        first,
        rows: Knob::all()
            .iter()
            .skip(first)
            .take(visible)
            .map(|&k| KnobRow {
                label: k.label(),
                value: k.value(app.edited_knobs()),
                enabled: k.enabled(app.edited_knobs()),
                selected: k == selected,
            })
            .collect(),
        focused: app.focus == Focus::Knobs,
        hint: format!(
            "{}. chain: {}",
            selected.hint(),
            order_summary(&app.edited_knobs().order)
        ),
        title: match (&app.knobs_b, app.editing_b) {
            (None, _) => " Knobs (tab) ".into(),
            (Some(_), false) => " Knobs A (tab · v edits B) ".into(),
            (Some(_), true) => " Knobs B (tab · v edits A) ".into(),
        },
    }
}

impl Widget for &KnobsView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered()
            .title(self.title.as_str())
            .border_style(theme::border(self.focused));
        let inner = block.inner(area);
        block.render(area, buf);
        let label_cols = 12;
        let value_cols = (inner.width as usize).saturating_sub(label_cols + 2);
        let mut lines: Vec<Line> = self
            .rows
            .iter()
            .map(|r| {
                let style = match (r.selected, self.focused) {
                    (true, true) => theme::selected(),
                    (true, false) => Style::new().add_modifier(Modifier::BOLD),
                    _ if !r.enabled => theme::dim(),
                    _ => Style::new(),
                };
                Line::from(vec![
                    Span::styled(if r.selected { "▸ " } else { "  " }, style),
                    Span::styled(format!("{:<label_cols$}", r.label), style),
                    Span::styled(
                        format!("{:>value_cols$}", text::truncate(&r.value, value_cols)),
                        style,
                    ),
                ])
            })
            .collect();
        lines.push(Line::styled(self.hint.as_str(), theme::dim()));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(inner, buf);
    }
}
