//! Engine events faster than the eye are drawn at most every `FRAME` (autoplay spends the
//! cores on tokens, not on frames nobody sees), and the last frame shows the last event.

use std::io;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use crossterm::event::Event as TermEvent;
use futures_util::stream;
use logitscope::engine::protocol::{EngineHandle, Event};
use logitscope::tui::event_loop::{run_loop_with, FRAME};
use logitscope::tui::{App, TintMode};
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::Terminal;
use tokio::sync::mpsc::unbounded_channel;

/// A [`TestBackend`] that counts the frames drawn on it (one flush per frame).
struct Counting {
    inner: TestBackend,
    frames: usize,
}

impl Backend for Counting {
    type Error = <TestBackend as Backend>::Error;
    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.frames += 1;
        self.inner.flush()
    }
}

#[test]
fn engine_events_are_drawn_at_most_once_a_frame_and_the_last_one_is_shown() {
    let events_sent = 100;
    let (commands, _cmd_rx) = channel();
    let (ev_tx, events) = unbounded_channel();
    let engine = std::thread::spawn(move || {
        for i in 0..events_sent {
            let (progress, message) = (i as f32 / events_sent as f32, format!("event {i}"));
            ev_tx.send(Event::Loading { progress, message }).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        // Quiet long enough for the last event's frame, then the engine ends.
        std::thread::sleep(FRAME * 4);
    });
    let mut handle = EngineHandle { commands, events };
    let backend = Counting {
        inner: TestBackend::new(100, 30),
        frames: 0,
    };
    let mut terminal = Terminal::new(backend).unwrap();
    let mut app = App::new(TintMode::Probability, false);
    let t0 = Instant::now();
    let idle = stream::pending::<io::Result<TermEvent>>();
    let err = run_loop_with(&mut terminal, &mut app, &mut handle, idle).unwrap_err();
    let elapsed = t0.elapsed();
    engine.join().unwrap();
    assert_eq!(err.to_string(), "the engine thread stopped unexpectedly");

    let frames = terminal.backend().frames;
    let most = (elapsed.as_secs_f64() / FRAME.as_secs_f64()).ceil() as usize + 1;
    assert!(
        (2..=most).contains(&frames),
        "{frames} frames for {events_sent} events in {elapsed:?} (at most {most})"
    );
    let shown: String = terminal
        .backend()
        .inner
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        shown.contains(&format!("event {}", events_sent - 1)),
        "{shown}"
    );
}
