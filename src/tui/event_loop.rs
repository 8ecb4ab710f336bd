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
use crate::tui::ui::draw;
use crate::tui::update::update;

/// How long one turn waits for input.
const FRAME: Duration = Duration::from_millis(16);

/// Run until the user quits or the terminal fails.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    handle: &EngineHandle,
) -> color_eyre::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let mut engine_alive = true;
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|frame| draw(frame, app))?;
            dirty = false;
        }
        let mut commands: Vec<Command> = Vec::new();
        let mut timeout = FRAME;
        while event::poll(timeout)? {
            timeout = Duration::ZERO;
            if let Some(action) = keymap::map(app, &event::read()?) {
                commands.extend(update(app, action));
                dirty = true;
            }
        }
        while engine_alive {
            match handle.events.try_recv() {
                Ok(ev) => {
                    commands.extend(update(app, Action::Engine(ev)));
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    engine_alive = false;
                    app.message = Some(Message {
                        text: "the engine stopped".into(),
                        error: true,
                    });
                    dirty = true;
                }
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
