//! Shared helpers for the TUI tests (included by `mod` from each tui_* test).
#![allow(dead_code)]

use std::path::PathBuf;

use logitscope::tui::ui::Screen;
use logitscope::tui::{update, Action, App, RecordedSession, TintMode};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

/// Where the recorded demo session lives.
pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/session_demo.json")
}

/// The recorded demo session.
pub fn session() -> RecordedSession {
    RecordedSession::load(&fixture_path()).expect("tests/fixtures/session_demo.json")
}

/// An app that has received the fixture's `Loaded` and `Timeline` events.
pub fn loaded_app() -> App {
    app_for(&session())
}

/// An app fed the deterministic synthetic session, whose vocabulary has the awkward tokens
/// (control characters, invalid UTF-8 escapes, CJK, emoji) that robustness tests need.
pub fn synthetic_app() -> App {
    app_for(&logitscope::tui::synthetic::demo_session(40, 42))
}

fn app_for(s: &RecordedSession) -> App {
    let mut app = App::new(TintMode::Probability, false);
    for event in s.events() {
        assert!(update(&mut app, Action::Engine(event)).is_empty());
    }
    app
}

/// The buffer's text, one line per row, trailing spaces trimmed.
pub fn text(buffer: &Buffer) -> String {
    let width = buffer.area.width as usize;
    buffer
        .content
        .chunks(width)
        .map(|row| {
            let mut line = String::new();
            let mut skip = 0;
            for cell in row {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let symbol = cell.symbol();
                line.push_str(symbol);
                skip = unicode_columns(symbol).saturating_sub(1);
            }
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn unicode_columns(symbol: &str) -> usize {
    ratatui::text::Span::raw(symbol).width()
}

/// Draw the whole screen for `app` on a `w`×`h` test terminal.
pub fn screen(app: &App, w: u16, h: u16) -> Buffer {
    drawn(app, w, h).0
}

/// Draw the whole screen for `app` on a `w`×`h` test terminal; also what the draw recorded
/// (mouse regions, the transcript layout).
pub fn drawn(app: &App, w: u16, h: u16) -> (Buffer, Screen) {
    let mut screen = Screen::default();
    (redraw(app, &mut screen, w, h), screen)
}

/// Draw `app` again on a screen that keeps what earlier frames left (the transcript scroll).
pub fn redraw(app: &App, screen: &mut Screen, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|frame| logitscope::tui::ui::draw(frame, app, screen))
        .unwrap();
    terminal.backend().buffer().clone()
}

/// Render one widget into a `w`×`h` buffer.
pub fn widget<W: ratatui::widgets::Widget>(w: u16, h: u16, widget: W) -> Buffer {
    let area = ratatui::layout::Rect::new(0, 0, w, h);
    let mut buffer = Buffer::empty(area);
    widget.render(area, &mut buffer);
    buffer
}

/// An app on `tab` over the demo vocabulary (a 30-layer model, independent of the recorded
/// session), for tabs fed synthetic engine events.
pub fn synthetic_info_app(tab: logitscope::tui::app::Tab) -> App {
    let mut app = App {
        info: Some(std::sync::Arc::new(
            logitscope::engine::protocol::ModelInfo {
                name: "synthetic".into(),
                params: 0,
                dtype: "f32".into(),
                context_len: 2048,
                vocab: std::sync::Arc::new(logitscope::tui::synthetic::demo_vocab()),
                layers: 30,
                draft_model: None,
                specials: Vec::new(),
            },
        )),
        ..App::default()
    };
    update(&mut app, Action::SetTab(tab));
    app
}
