//! How the event loop ends. A dying engine is not a dying terminal: when the engine thread
//! panics, the loop stops with one line saying what failed (the binary then restores the
//! terminal and exits 1). Quitting ends it cleanly and tells the engine.

use std::io;
use std::sync::mpsc::channel;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use futures_util::{stream, StreamExt};
use logitscope::engine::protocol::{Command, EngineHandle, Event};
use logitscope::tui::event_loop::run_loop_with;
use logitscope::tui::watch::{EngineStopped, PanicGuard};
use logitscope::tui::{App, TintMode};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::unbounded_channel;

/// No keys are ever pressed.
fn idle() -> stream::Pending<io::Result<TermEvent>> {
    stream::pending()
}

/// An engine whose model fails on its first step: it reports an error, then panics.
fn failing_engine() -> (EngineHandle, std::thread::JoinHandle<()>) {
    let (commands, cmd_rx) = channel();
    let (ev_tx, events) = unbounded_channel();
    let join = std::thread::spawn(move || {
        let _commands = cmd_rx;
        ev_tx
            .send(Event::Error("injected: first step failed".into()))
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        panic!("injected model failure\nwith a second line");
    });
    (EngineHandle { commands, events }, join)
}

#[test]
fn a_panicking_engine_ends_the_loop_with_one_line() {
    let guard = PanicGuard::install(|| {});
    let (mut handle, join) = failing_engine();
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app = App::new(TintMode::Probability, false);
    let result = run_loop_with(&mut terminal, &mut app, &mut handle, idle());
    drop(guard);
    assert!(join.join().is_err(), "the fake engine panicked");
    let err = result.expect_err("the loop must stop when the engine dies");
    let stopped = err
        .downcast_ref::<EngineStopped>()
        .expect("an EngineStopped error");
    let line = stopped.to_string();
    assert!(
        line.starts_with("the engine thread panicked at tests/tui_engine_failure.rs:"),
        "{line}"
    );
    assert!(line.ends_with(": injected model failure"), "{line}");
    assert!(!line.contains('\n'), "{line}");
    // The error it reported before dying reached the app.
    let shown = app.message.as_ref().map(|m| m.text.clone());
    assert_eq!(shown.as_deref(), Some("injected: first step failed"));

    // An engine that stops without a panic is reported too (same test: the panic record is
    // process-wide).
    let (commands, _cmd_rx) = channel();
    let (ev_tx, events) = unbounded_channel::<Event>();
    drop(ev_tx);
    let mut handle = EngineHandle { commands, events };
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app = App::new(TintMode::Probability, false);
    let err = run_loop_with(&mut terminal, &mut app, &mut handle, idle()).unwrap_err();
    assert_eq!(err.to_string(), "the engine thread stopped unexpectedly");
}

#[test]
fn quitting_ends_the_loop_and_stops_the_engine() {
    let (commands, cmd_rx) = channel();
    // The engine stays alive (its event sender is held) and says nothing.
    let (_ev_tx, events) = unbounded_channel::<Event>();
    let mut handle = EngineHandle { commands, events };
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app = App::new(TintMode::Probability, false);
    let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    let keys = stream::iter([Ok(TermEvent::Key(q))]).chain(idle());
    run_loop_with(&mut terminal, &mut app, &mut handle, keys).expect("a clean exit");
    assert!(app.quit);
    let sent: Vec<Command> = cmd_rx.try_iter().collect();
    assert_eq!(sent.last(), Some(&Command::Quit), "{sent:?}");
}
