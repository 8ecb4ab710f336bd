//! A dying engine is not a dying terminal: panics on other threads are recorded as one line
//! instead of printed over the screen, and the UI reports the engine's death once it notices.

use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

/// The last panic seen outside the UI thread, as one line.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The engine thread is gone without having been asked to quit.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EngineStopped(pub String);

impl EngineStopped {
    /// What is known about why the engine stopped: its panic, when one was recorded.
    pub fn now() -> Self {
        let recorded = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
        EngineStopped(recorded.unwrap_or_else(|| "the engine thread stopped unexpectedly".into()))
    }
}

/// While alive, a panic on the thread that installed it runs `on_ui_panic` (restore the
/// terminal) and then the previous hook; a panic on any other thread is recorded quietly for
/// [`EngineStopped::now`]. Dropping it puts the previous hook back.
pub struct PanicGuard {
    previous: Arc<PanicHook>,
}

impl PanicGuard {
    /// Installs the hook for the current (UI) thread.
    pub fn install(on_ui_panic: impl Fn() + Send + Sync + 'static) -> Self {
        let previous: Arc<PanicHook> = Arc::new(panic::take_hook());
        let chained = Arc::clone(&previous);
        let ui: ThreadId = thread::current().id();
        panic::set_hook(Box::new(move |info| {
            if thread::current().id() == ui {
                on_ui_panic();
                chained(info);
            } else {
                let line = one_line(info);
                *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(line);
            }
        }));
        PanicGuard { previous }
    }
}

impl Drop for PanicGuard {
    fn drop(&mut self) {
        let _ = panic::take_hook();
        let previous = Arc::clone(&self.previous);
        panic::set_hook(Box::new(move |info| previous(info)));
    }
}

/// `the engine thread panicked at FILE:LINE: MESSAGE` (the message's first line).
fn one_line(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let msg = msg.lines().next().unwrap_or("").trim();
    format!("the engine thread panicked{at}: {msg}")
}
