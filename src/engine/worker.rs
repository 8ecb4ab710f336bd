//! The engine's thread: owns the model (tch tensors are not `Sync`), obeys [`Command`]s and
//! reports [`Event`]s with owned snapshots. Bursts of knob changes collapse to the latest.

use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::beam::BeamWorker;
use super::protocol::{Command, EngineHandle, Event};
use super::session::Session;

/// Starts the engine thread on a ready session; it serves commands until `Quit` or until the
/// UI drops its handle.
pub fn spawn(session: Session) -> (EngineHandle, JoinHandle<()>) {
    let (cmd_tx, cmd_rx) = channel();
    let (ev_tx, ev_rx) = channel();
    let join = std::thread::spawn(move || run(session, cmd_rx, ev_tx));
    (
        EngineHandle {
            commands: cmd_tx,
            events: ev_rx,
        },
        join,
    )
}

fn run(mut session: Session, commands: Receiver<Command>, events: Sender<Event>) {
    let send = |e: Event| events.send(e).is_ok();
    send(Event::Loaded(session.info()));
    let mut playing = false;
    // Steps still to generate for a re-roll.
    let mut queued = 0usize;
    let mut beam = BeamWorker::default();
    send(Event::Timeline(session.snapshot()));
    loop {
        let busy = playing || queued > 0 || beam.busy();
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
                } => session.set_config(config.clone()).and_then(|_| {
                    if let Some(step) = preview_step.filter(|&s| s < session.steps().len()) {
                        let rec = session.preview(step, &config)?;
                        send(Event::Preview(rec));
                    }
                    Ok(())
                }),
                Command::Step => session.step().map(|_| ()),
                Command::Autoplay(on) => {
                    playing = on;
                    Ok(())
                }
                Command::Branch { step, token_id } => session.branch(step, token_id),
                Command::Reroll { step } => session.reroll(step).map(|n| queued = n),
                Command::SwitchBranch(id) => session.switch_branch(id),
                Command::BeamStart { cfg } => beam.start(&session, cfg).map(|tree| {
                    send(Event::Beam(tree));
                }),
                Command::BeamStep => beam.step(&session).map(|tree| {
                    send(Event::Beam(tree));
                }),
                Command::BeamRun => {
                    beam.play();
                    Ok(())
                }
                Command::SetPrompt(p) => {
                    queued = 0;
                    playing = false;
                    session.set_prompt(&p)
                }
                Command::SetAttentionCapture(on) => session.set_attention_capture(on),
                Command::SetCachePolicy(policy) => session.set_cache_policy(policy),
            };
            changed = true;
            if let Err(e) = result {
                playing = false;
                queued = 0;
                send(Event::Error(e.to_string()));
            }
        }
        match beam.tick(&session) {
            Some(Ok(tree)) => {
                send(Event::Beam(tree));
            }
            Some(Err(e)) => {
                send(Event::Error(e.to_string()));
            }
            None => {}
        }
        if (playing || queued > 0) && !session.finished() {
            queued = queued.saturating_sub(1);
            if let Err(e) = session.step() {
                playing = false;
                queued = 0;
                send(Event::Error(e.to_string()));
            }
            changed = true;
        } else if session.finished() {
            if playing {
                changed = true;
            }
            playing = false;
            queued = 0;
        }
        if changed {
            let mut snap = session.snapshot();
            snap.playing = playing || queued > 0;
            if !send(Event::Timeline(snap)) {
                return;
            }
            if session.capturing() {
                send(Event::Attention(Arc::new(session.attention_view())));
            }
            send(Event::Cache(Arc::new(session.cache_view())));
        }
    }
}
