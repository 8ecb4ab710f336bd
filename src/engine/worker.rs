//! The engine's thread: owns the model (tch tensors are not `Sync`), obeys [`Command`]s and
//! reports [`Event`]s with owned snapshots. One [`Run`] is active at a time (sampling unless
//! something else was started); bursts of knob changes collapse to the latest.

use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::protocol::{Command, EngineHandle, Event};
use super::run::{self, Run, RunKind, RunRequest, SampleRun};
use super::session::{EngineError, Session};

/// How the engine thread behaves besides what it is told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Autoplay pauses once the current timeline holds this many generated tokens (a
    /// speculative round stops there too); a single step still goes past it.
    pub max_tokens: Option<usize>,
}

/// Starts the engine thread on a ready session; it serves commands until `Quit` or until the
/// UI drops its handle.
pub fn spawn(session: Session) -> (EngineHandle, JoinHandle<()>) {
    spawn_with(session, WorkerOptions::default())
}

/// [`spawn`] with options.
pub fn spawn_with(session: Session, opts: WorkerOptions) -> (EngineHandle, JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = channel();
    let (ev_tx, ev_rx) = unbounded_channel();
    let join = std::thread::spawn(move || run(session, opts, cmd_rx, ev_tx));
    (
        EngineHandle {
            commands: cmd_tx,
            events: ev_rx,
        },
        join,
    )
}

/// The worker's state besides the session: the active run and whether it is playing.
struct Worker {
    active: Box<dyn Run>,
    /// The last timeline run started (sampling or speculative), resumed by timeline actions.
    timeline: RunRequest,
    playing: bool,
    /// Steps still to generate for a re-roll.
    queued: usize,
    /// Autoplay's limit on the timeline's length.
    max_tokens: Option<usize>,
}

impl Worker {
    /// Makes `req` the active run; its start events are sent.
    fn start(
        &mut self,
        req: RunRequest,
        session: &mut Session,
        send: &dyn Fn(Event) -> bool,
    ) -> Result<(), EngineError> {
        let kind = req.kind();
        let timeline = kind != RunKind::Beam;
        let active = run::start(req.clone(), session)?;
        if timeline {
            self.timeline = req;
        }
        self.active = active;
        self.playing = false;
        send(Event::RunStarted(kind));
        for e in self.active.view() {
            send(e);
        }
        Ok(())
    }

    /// Timeline actions (re-roll, branch, prompt) act on the sampling or speculative run:
    /// restarts it when a beam search is active.
    fn ensure_timeline(&mut self, session: &mut Session, send: &dyn Fn(Event) -> bool) {
        if self.active.kind() == RunKind::Beam {
            let req = self.timeline.clone();
            if self.start(req, session, send).is_err() {
                self.active = Box::new(SampleRun);
                send(Event::RunStarted(RunKind::Sample));
            }
        }
    }

    /// How many tokens autoplay may still add to the current timeline (`usize::MAX`: no
    /// limit, or a run that does not extend the timeline).
    fn room(&self, session: &Session) -> usize {
        match (self.max_tokens, self.active.kind()) {
            (Some(n), RunKind::Sample | RunKind::Speculative) => {
                n.saturating_sub(session.steps().len())
            }
            _ => usize::MAX,
        }
    }

    /// One step of the active run, adding at most `room` (≥ 1) tokens to the timeline.
    fn step(
        &mut self,
        session: &mut Session,
        send: &dyn Fn(Event) -> bool,
        room: usize,
    ) -> Result<(), EngineError> {
        if !self.active.can_step(session) {
            self.playing = false;
            self.queued = 0;
            return match self.active.kind() {
                RunKind::Beam => Ok(()),
                _ => Err(EngineError::Finished),
            };
        }
        for e in self.active.step(session, room.max(1))? {
            send(e);
        }
        Ok(())
    }
}

fn run(
    mut session: Session,
    opts: WorkerOptions,
    commands: Receiver<Command>,
    events: UnboundedSender<Event>,
) {
    let send = |e: Event| events.send(e).is_ok();
    send(Event::Loaded(session.info()));
    send(Event::Knobs(Box::new(session.config().clone())));
    let mut w = Worker {
        active: Box::new(SampleRun),
        timeline: RunRequest::Sample,
        playing: false,
        queued: 0,
        max_tokens: opts.max_tokens,
    };
    send(Event::Timeline(session.snapshot()));
    match session.pending_record() {
        Ok(p) => send(Event::Pending(p)),
        Err(e) => send(Event::Error(e.to_string())),
    };
    loop {
        let busy = w.playing || w.queued > 0;
        let mut batch = Vec::new();
        if !busy {
            match commands.recv() {
                Ok(c) => batch.push(c),
                Err(_) => return,
            }
        }
        loop {
            match commands.try_recv() {
                Ok(c) => batch.push(c),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        // Collapse a burst of knob changes to the latest.
        let last_knobs = batch
            .iter()
            .rposition(|c| matches!(c, Command::SetKnobs { .. }));
        let mut changed = false;
        for (i, cmd) in batch.into_iter().enumerate() {
            let result = match cmd {
                Command::Quit => return,
                Command::SetKnobs { .. } if Some(i) != last_knobs => Ok(()),
                Command::SetKnobs {
                    config,
                    preview_step,
                } => match session.set_config(*config.clone()) {
                    Ok(()) => {
                        preview_step
                            .filter(|&s| s < session.steps().len())
                            .map_or(Ok(()), |step| {
                                session.preview(step, &config).map(|rec| {
                                    send(Event::Preview(rec));
                                })
                            })
                    }
                    Err(e) => {
                        // Refused: the UI shows the knobs still in force.
                        send(Event::Knobs(Box::new(session.config().clone())));
                        Err(e)
                    }
                },
                Command::Start(req) => w.start(req, &mut session, &send),
                Command::Step => w.step(&mut session, &send, usize::MAX),
                Command::Autoplay(on) => {
                    w.playing = on;
                    Ok(())
                }
                Command::Branch { step, token_id } => {
                    w.ensure_timeline(&mut session, &send);
                    session.branch(step, token_id)
                }
                Command::Reroll { step } => {
                    w.ensure_timeline(&mut session, &send);
                    session.reroll(step).map(|n| w.queued = n)
                }
                Command::SwitchBranch(id) => session.switch_branch(id),
                Command::Take { token_id } => {
                    w.ensure_timeline(&mut session, &send);
                    session.take(token_id).map(|_| ())
                }
                Command::SetPrompt(p) => {
                    w.queued = 0;
                    w.playing = false;
                    w.ensure_timeline(&mut session, &send);
                    session.set_prompt(&p)
                }
                Command::SetChat(on) => {
                    w.queued = 0;
                    w.playing = false;
                    w.ensure_timeline(&mut session, &send);
                    session.set_chat(on)
                }
                Command::SetAttentionCapture(on) => session.set_attention_capture(on),
                Command::SetCachePolicy(policy) => session.set_cache_policy(policy),
                Command::Save(path) => {
                    let path = path.unwrap_or_else(|| {
                        let secs = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs());
                        format!("logitscope-session-{secs}.json").into()
                    });
                    match session.to_file().save(&path) {
                        Ok(()) => send(Event::Notice(format!(
                            "saved to {} (reopen: logitscope --session FILE)",
                            path.display()
                        ))),
                        Err(e) => send(Event::Error(e)),
                    };
                    continue;
                }
                Command::PreviewB { step, config } => {
                    let rec = match step {
                        Some(step) => session.preview(step, &config),
                        None => session.pending_under(&config),
                    };
                    match rec {
                        Ok(rec) => send(Event::PreviewB(rec)),
                        Err(e) => send(Event::Error(format!("B: {e}"))),
                    };
                    continue;
                }
                Command::Lens { step } => {
                    match session.lens_view(step) {
                        Ok(view) => send(Event::Lens(Arc::new(view))),
                        Err(e) => send(Event::Error(e.to_string())),
                    };
                    continue;
                }
            };
            changed = true;
            if let Err(e) = result {
                w.playing = false;
                w.queued = 0;
                send(Event::Error(e.to_string()));
            }
        }
        if w.playing && w.queued == 0 && w.room(&session) == 0 {
            w.playing = false;
            changed = true;
            send(Event::Notice(format!(
                "autoplay stops at {} tokens (--max-tokens): space steps on",
                w.max_tokens.unwrap_or_default()
            )));
        }
        if w.playing || w.queued > 0 {
            // A re-roll restores the steps it discarded, whatever the limit.
            let room = if w.queued > 0 {
                usize::MAX
            } else {
                w.room(&session)
            };
            w.queued = w.queued.saturating_sub(1);
            if let Err(e) = w.step(&mut session, &send, room) {
                w.playing = false;
                w.queued = 0;
                if !matches!(e, EngineError::Finished) {
                    send(Event::Error(e.to_string()));
                }
            }
            changed = true;
        }
        if changed {
            let mut snap = session.snapshot();
            snap.playing = w.playing || w.queued > 0;
            if !send(Event::Timeline(snap)) {
                return;
            }
            if session.capturing() {
                send(Event::Attention(Arc::new(session.attention_view())));
            }
            send(Event::Cache(Arc::new(session.cache_view())));
            // Between steps of the timeline, show the next distribution before it is chosen.
            if !(w.playing || w.queued > 0) && w.active.kind() == RunKind::Sample {
                match session.pending_record() {
                    Ok(p) => send(Event::Pending(p)),
                    Err(e) => send(Event::Error(e.to_string())),
                };
            }
        }
    }
}
