//! The status bar: model, context, speed, cache, seed, play state, and a message or key hints.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::tui::app::App;
use crate::tui::theme;

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    /// Facts, left to right.
    pub segments: Vec<String>,
    /// `▶ playing`, `⏸ paused` or `■ finished`.
    pub state: String,
    /// A message (error or note) instead of the key hints.
    pub message: Option<(String, bool)>,
}

/// Key hints shown when there is no message.
const HINTS: &str = "space step · a play · ←/→ step · ↑/↓ candidate · enter branch · ? help";

/// The status bar for the current state.
pub fn status_view(app: &App) -> StatusView {
    let s = &app.snapshot;
    let mut segments = Vec::new();
    if let Some(info) = &app.info {
        segments.push(format!(
            "{} {} {}",
            info.name,
            params(info.params),
            info.dtype
        ));
        segments.push(format!("ctx {}/{}", s.stats.context_used, info.context_len));
    }
    segments.push(format!(
        "{:.1} ms/tok {:.1} tok/s",
        s.stats.ms_per_token, s.stats.tokens_per_s
    ));
    segments.push(format!("KV {}", bytes(s.stats.kv_cache_bytes)));
    segments.push(format!("seed {}", app.config.seed));
    let state = if s.playing {
        "▶ playing"
    } else if s.finished {
        "■ finished"
    } else {
        "⏸ paused"
    };
    StatusView {
        segments,
        state: state.into(),
        message: app.message.as_ref().map(|m| (m.text.clone(), m.error)),
    }
}

/// A parameter count as `135M` / `1.2B`.
fn params(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
        n => format!("{}K", n / 1_000),
    }
}

/// A byte count in KiB/MiB/GiB.
fn bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1024.0 * 1024.0 * 1024.0 => format!("{:.2} GiB", n / (1024.0 * 1024.0 * 1024.0)),
        n if n >= 1024.0 * 1024.0 => format!("{:.1} MiB", n / (1024.0 * 1024.0)),
        n => format!("{:.0} KiB", n / 1024.0),
    }
}

impl Widget for &StatusView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut spans = vec![Span::styled(
            format!(" {} ", self.state),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )];
        for s in &self.segments {
            spans.push(Span::raw(format!(" {s} │")));
        }
        spans.push(Span::raw(" "));
        spans.push(match &self.message {
            Some((text, true)) => Span::styled(
                text.as_str(),
                Style::new().fg(theme::ERROR).add_modifier(Modifier::BOLD),
            ),
            Some((text, false)) => Span::styled(text.as_str(), Style::new().fg(theme::MARK)),
            None => Span::styled(HINTS, theme::dim()),
        });
        buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    }
}
