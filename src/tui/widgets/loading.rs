//! The loading screen: a progress gauge while the engine loads the model.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Gauge, Widget};

use crate::tui::app::App;
use crate::tui::theme;
use crate::tui::widgets::centered;

/// Loading progress in [0, 1] and what is being loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadingView {
    pub progress: f32,
    pub message: String,
}

/// The loading screen for the current state.
pub fn loading_view(app: &App) -> LoadingView {
    match &app.loading {
        Some((progress, message)) => LoadingView {
            progress: *progress,
            message: message.clone(),
        },
        None => LoadingView {
            progress: 0.0,
            message: "waiting for the engine…".into(),
        },
    }
}

impl Widget for &LoadingView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        Gauge::default()
            .block(Block::bordered().title(format!(" Loading: {} ", self.message)))
            .gauge_style(Style::new().fg(theme::RAW))
            .ratio(self.progress.clamp(0.0, 1.0) as f64)
            .render(centered(area, 60, 3), buf);
    }
}
