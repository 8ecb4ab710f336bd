//! The event loop, on a current-thread tokio runtime owned by the UI thread: sleep until the
//! terminal or the engine has something, drain everything already waiting through `update`,
//! send the resulting commands, then draw once. Nothing wakes it while nothing happens (the
//! engine, on its own thread, drives autoplay and sends an event per step).
//!
//! A key is answered with a frame at once; engine events alone are drawn at most every
//! [`FRAME`], so that autoplay faster than the eye spends its cores on tokens, not on frames
//! nobody sees (the last frame still shows the last step).

use std::io;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;

use crate::engine::protocol::{Command, EngineHandle, Event};
use crate::tui::action::Action;
use crate::tui::app::{App, Message};
use crate::tui::keymap;
use crate::tui::ui::{draw, Screen};
use crate::tui::update::update;
use crate::tui::watch::EngineStopped;

/// Shortest time between two frames drawn for engine events alone (25 frames a second).
pub const FRAME: Duration = Duration::from_millis(40);

/// Run until the user quits or the terminal fails; fails with [`EngineStopped`] when the
/// engine thread dies.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    handle: &mut EngineHandle,
) -> color_eyre::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    run_loop_with(terminal, app, handle, EventStream::new())
}

/// [`run_loop`] reading terminal events from `input` (crossterm's [`EventStream`], or a
/// script in tests). When `input` ends, the loop keeps serving the engine.
pub fn run_loop_with<B, I>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    handle: &mut EngineHandle,
    input: I,
) -> color_eyre::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    runtime.block_on(turns(terminal, app, handle, input))
}

/// What woke the loop: a terminal event or an engine event (`None`: that source ended), or
/// the time to draw what engine events changed.
enum Wake {
    Input(Option<io::Result<TermEvent>>),
    Engine(Option<Event>),
    Frame,
}

async fn turns<B, I>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    handle: &mut EngineHandle,
    mut input: I,
) -> color_eyre::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let mut input_open = true;
    let mut dirty = true;
    // Whether a key changed the screen since the last frame (it is drawn at once).
    let mut keyed = true;
    let mut drawn = tokio::time::Instant::now();
    let mut screen = Screen::default();
    loop {
        let due = drawn + FRAME;
        if dirty && (keyed || tokio::time::Instant::now() >= due) {
            terminal.draw(|frame| draw(frame, app, &mut screen))?;
            (dirty, keyed, drawn) = (false, false, tokio::time::Instant::now());
        }
        let mut wake = Some(tokio::select! {
            ev = input.next(), if input_open => Wake::Input(ev),
            ev = handle.events.recv() => Wake::Engine(ev),
            () = tokio::time::sleep_until(due), if dirty => Wake::Frame,
        });
        let mut commands: Vec<Command> = Vec::new();
        while let Some(woken) = wake {
            let action = match woken {
                Wake::Input(Some(ev)) => {
                    let action = keymap::map(app, &screen, &ev?);
                    keyed |= action.is_some();
                    action
                }
                Wake::Frame => None,
                Wake::Input(None) => {
                    input_open = false;
                    None
                }
                Wake::Engine(Some(ev)) => Some(Action::Engine(ev)),
                Wake::Engine(None) if app.quit => return Ok(()),
                Wake::Engine(None) => return Err(EngineStopped::now().into()),
            };
            if let Some(action) = action {
                commands.extend(update(app, action));
                dirty = true;
            }
            // Whatever else is already waiting, without sleeping. (Polled in this task, never
            // with a dummy waker: crossterm's stream parks its wake-up on the first waker.)
            wake = tokio::select! {
                biased;
                ev = input.next(), if input_open => Some(Wake::Input(ev)),
                ev = handle.events.recv() => Some(Wake::Engine(ev)),
                () = std::future::ready(()) => None,
            };
        }
        commands.extend(update(app, Action::Frame));
        for command in commands {
            if handle.commands.send(command).is_err() && !app.quit {
                app.message = Some(Message {
                    text: "the engine is gone".into(),
                    error: true,
                });
                dirty = true;
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}
