//! The event loop: wait briefly for input, drain all input and engine events through
//! `update`, send the resulting commands, then draw once.

use std::sync::mpsc::TryRecvError;
use std::time::Duration;

use crossterm::event;
use ratatui::backend::Backend;
use ratatui::Terminal;

use crate::engine::protocol::{Command, EngineHandle};
use crate::tui::action::Action;
use crate::tui::app::{App, Message};
use crate::tui::keymap;
use crate::tui::ui::{draw, Screen};
use crate::tui::update::update;
use crate::tui::watch::EngineStopped;

/// How long one turn waits for input.
const FRAME: Duration = Duration::from_millis(16);

/// Where terminal events come from: the real terminal, or a script in tests.
pub trait Input {
    /// Whether an event is ready within `timeout`.
    fn poll(&mut self, timeout: Duration) -> std::io::Result<bool>;
    /// The next event (after `poll` said one is ready).
    fn read(&mut self) -> std::io::Result<event::Event>;
}

/// The terminal's own events.
pub struct CrosstermInput;

impl Input for CrosstermInput {
    fn poll(&mut self, timeout: Duration) -> std::io::Result<bool> {
        event::poll(timeout)
    }

    fn read(&mut self) -> std::io::Result<event::Event> {
        event::read()
    }
}

/// Run until the user quits or the terminal fails; fails with [`EngineStopped`] when the
/// engine thread dies.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    handle: &EngineHandle,
) -> color_eyre::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    run_loop_with(terminal, app, handle, &mut CrosstermInput)
}

/// [`run_loop`] reading events from `input`.
pub fn run_loop_with<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    handle: &EngineHandle,
    input: &mut dyn Input,
) -> color_eyre::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let mut dirty = true;
    let mut screen = Screen::default();
    loop {
        if dirty {
            terminal.draw(|frame| draw(frame, app, &mut screen))?;
            dirty = false;
        }
        let mut commands: Vec<Command> = Vec::new();
        let mut timeout = FRAME;
        while input.poll(timeout)? {
            timeout = Duration::ZERO;
            if let Some(action) = keymap::map(app, &screen, &input.read()?) {
                commands.extend(update(app, action));
                dirty = true;
            }
        }
        loop {
            match handle.events.try_recv() {
                Ok(ev) => {
                    commands.extend(update(app, Action::Engine(ev)));
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) if app.quit => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(EngineStopped::now().into()),
            }
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
