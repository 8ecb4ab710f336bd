//! The terminal UI: an Elm-style app (one [`Action`] enum, a pure [`update`], views built from
//! [`App`]) talking to the engine thread through an [`EngineHandle`].

pub mod action;
pub mod app;
pub mod bench;
pub mod event_loop;
pub mod input;
pub mod keymap;
pub mod keys;
pub mod knob;
pub mod session;
pub mod synthetic;
pub mod tabs;
pub mod text;
pub mod theme;
pub mod ui;
pub mod update;
pub mod watch;
pub mod widgets;
pub mod wrap;

use crate::engine::run::SpecConfig;
use std::io::{stdout, Stdout};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub use action::Action;
pub use app::{App, TintMode};
pub use session::RecordedSession;
pub use update::update;

use crate::engine::protocol::{Command, EngineHandle};

/// How the UI starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuiOptions {
    /// Capture the mouse (click to select, wheel to adjust); off leaves terminal selection.
    pub mouse: bool,
    /// Start autoplay as soon as the model has loaded.
    pub autoplay: bool,
    /// Initial transcript tint.
    pub tint: TintMode,
    /// Speculative decoding on from the start, with these knobs (`--draft`).
    pub speculative: Option<SpecConfig>,
    /// The crowd tab's settings (`--samples`), opened on that tab.
    pub crowd: Option<crate::engine::crowd::CrowdConfig>,
}

impl Default for TuiOptions {
    fn default() -> Self {
        Self {
            mouse: true,
            autoplay: false,
            tint: TintMode::Probability,
            speculative: None,
            crowd: None,
        }
    }
}

/// Run the UI on the current terminal until the user quits; sends [`Command::Quit`] on exit.
/// The terminal is restored on return, on error and on panic. If the engine thread dies, the
/// error is one line saying why ([`watch::EngineStopped`]).
pub fn run(mut handle: EngineHandle, opts: TuiOptions) -> color_eyre::Result<()> {
    // Already installed by the binary is fine.
    let _ = color_eyre::install();
    let guard = watch::PanicGuard::install(move || restore(opts.mouse));
    let mut app = App::new(opts.tint, opts.autoplay);
    if let Some(cfg) = opts.speculative.clone() {
        app.spec.enabled = true;
        app.spec.config = cfg;
    }
    if let Some(cfg) = opts.crowd.clone() {
        app.crowd.config = cfg;
        app.tab = app::Tab::Crowd;
    }
    let result = setup(opts.mouse)
        .and_then(|mut terminal| event_loop::run_loop(&mut terminal, &mut app, &mut handle));
    restore(opts.mouse);
    drop(guard);
    if !app.quit {
        // The loop failed: stop the engine anyway.
        let _ = handle.commands.send(Command::Quit);
    }
    result
}

fn setup(mouse: bool) -> color_eyre::Result<Terminal<CrosstermBackend<Stdout>>> {
    enable_raw_mode()?;
    let mut out = stdout();
    execute!(out, EnterAlternateScreen)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    Ok(Terminal::new(CrosstermBackend::new(out))?)
}

fn restore(mouse: bool) {
    let mut out = stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = disable_raw_mode();
}
