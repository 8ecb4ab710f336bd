//! The temperature panel: the selected step's top candidates under several temperatures, one
//! small bar column per temperature — peaked at low T, flatter at high T.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::tui::app::App;
use crate::tui::text;
use crate::tui::theme;

/// Columns for the token text.
const TOKEN_COLS: usize = 10;

/// One candidate across the temperature columns.
#[derive(Debug, Clone, PartialEq)]
pub struct TempRow {
    pub text: String,
    /// One probability per column of [`TemperatureView::temperatures`].
    pub probs: Vec<f32>,
    pub chosen: bool,
    pub highlighted: bool,
}

/// What the temperature panel shows.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureView {
    /// Column temperatures, ascending, with whether it is the step's configured one.
    pub temperatures: Vec<(f32, bool)>,
    pub rows: Vec<TempRow>,
    /// Probability drawn as a full bar (shared by all columns, so flatness compares).
    pub scale: f32,
}

/// The panel for `rows` candidate rows, keeping the highlighted candidate in view.
pub fn temperature_view(app: &App, rows: usize) -> TemperatureView {
    let Some((record, _)) = app.shown_record() else {
        return TemperatureView {
            temperatures: Vec::new(),
            rows: Vec::new(),
            scale: 1.0,
        };
    };
    let configured = record.config.temperature;
    let mut columns: Vec<&_> = record.temperature_sweep.iter().collect();
    columns.sort_by(|a, b| a.temperature.total_cmp(&b.temperature));
    columns.dedup_by(|a, b| (a.temperature - b.temperature).abs() < 1e-6);
    let n = record.trace.candidates.len();
    let start = (app.highlight + 1)
        .saturating_sub(rows)
        .min(n.saturating_sub(rows));
    let trace_rows: Vec<TempRow> = record
        .trace
        .candidates
        .iter()
        .enumerate()
        .skip(start)
        .take(rows)
        .map(|(i, c)| TempRow {
            text: app.token_text(c.id).to_string(),
            probs: columns
                .iter()
                .map(|col| col.probs.get(i).copied().unwrap_or(0.0))
                .collect(),
            chosen: c.id == record.trace.chosen.id,
            highlighted: i == app.highlight,
        })
        .collect();
    let scale = trace_rows
        .iter()
        .flat_map(|r| r.probs.iter().copied())
        .fold(0.0f32, f32::max)
        .max(1e-6);
    TemperatureView {
        temperatures: columns
            .iter()
            .map(|c| (c.temperature, (c.temperature - configured).abs() < 1e-6))
            .collect(),
        rows: trace_rows,
        scale,
    }
}

impl Widget for &TemperatureView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered().title(" Temperature: same candidates, other T ");
        let inner = block.inner(area);
        block.render(area, buf);
        if self.temperatures.is_empty() {
            Paragraph::new(Line::styled(
                "no temperature sweep for this step",
                theme::dim(),
            ))
            .render(inner, buf);
            return;
        }
        let label = TOKEN_COLS + 1;
        let col = (inner.width as usize).saturating_sub(label) / self.temperatures.len();
        let bar = col.saturating_sub(if col >= 12 { 8 } else { 1 }).max(1);
        let mut header = vec![Span::styled(text::cell("T =", label), theme::dim())];
        for &(t, configured) in &self.temperatures {
            let name = format!("{t}{}", if configured { "*" } else { "" });
            let style = if configured {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                theme::dim()
            };
            header.push(Span::styled(
                text::cell(&name, col.saturating_sub(1)) + " ",
                style,
            ));
        }
        let mut lines = vec![Line::from(header)];
        for row in &self.rows {
            let mut style = if row.chosen {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            if row.highlighted {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            let mut spans = vec![Span::styled(text::cell(&row.text, TOKEN_COLS) + " ", style)];
            for (&p, &(_, configured)) in row.probs.iter().zip(&self.temperatures) {
                let color = if configured { theme::FINAL } else { theme::RAW };
                spans.push(Span::styled(
                    text::hbar(p / self.scale, bar),
                    Style::new().fg(color),
                ));
                let pct = if col >= 12 {
                    format!(" {:>6} ", text::percent(p))
                } else {
                    " ".into()
                };
                spans.push(Span::styled(pct, theme::dim()));
            }
            lines.push(Line::from(spans));
        }
        Paragraph::new(lines).render(inner, buf);
    }
}
