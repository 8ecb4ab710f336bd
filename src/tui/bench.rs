//! Render timing on a synthetic long session, for benches and the perf budget (≤ 16 ms/frame).

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::tui::action::Action;
use crate::tui::app::{App, TintMode};
use crate::tui::synthetic::demo_session;
use crate::tui::ui::{draw, Screen};
use crate::tui::update::update;

/// Median time to draw one frame of a `steps`-step synthetic session on a `width`×`height`
/// test terminal, over `frames` frames; each frame selects the previous step first, and every
/// tenth frame also delivers a new timeline (forcing a transcript re-layout).
pub fn bench_render(steps: usize, width: u16, height: u16, frames: usize) -> Duration {
    let session = demo_session(steps, 7);
    let mut app = App::new(TintMode::Probability, false);
    for event in session.events() {
        update(&mut app, Action::Engine(event));
    }
    let snapshot = session.to_snapshot();
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    let mut screen = Screen::default();
    let mut times: Vec<Duration> = (0..frames.max(1))
        .map(|i| {
            update(&mut app, Action::SelectPrev);
            if i % 10 == 0 {
                update(
                    &mut app,
                    Action::Engine(crate::engine::protocol::Event::Timeline(snapshot.clone())),
                );
            }
            let start = Instant::now();
            let _ = terminal.draw(|frame| draw(frame, &app, &mut screen));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
