//! Looking before choosing: the pending next-token distribution the engine sends is shown as
//! soon as it arrives, enter takes the highlighted candidate, and the selection moves between
//! the steps and the pending slot.

mod tui_common;

use std::sync::Arc;

use logitscope::engine::protocol::{Command, Event};
use logitscope::tui::{update, Action};
use tui_common::{screen, synthetic_app, text};

/// The synthetic app with a pending record: its last step re-indexed as the next one.
fn app_with_pending() -> logitscope::tui::App {
    let mut app = synthetic_app();
    let n = app.snapshot.steps.len();
    let mut rec = (*app.snapshot.steps[n - 1]).clone();
    rec.index = n;
    update(
        &mut app,
        Action::Engine(Event::Pending(Some(Arc::new(rec)))),
    );
    app
}

#[test]
fn the_pending_distribution_shows_and_enter_takes_a_candidate() {
    let mut app = app_with_pending();
    assert!(
        app.on_pending,
        "following the newest step, the view moves to the pending one"
    );
    let n = app.snapshot.steps.len();
    let s = text(&screen(&app, 120, 40));
    assert!(s.contains(&format!("Next token {}", n + 1)), "{s}");
    update(&mut app, Action::MoveCandidate(2));
    let want = app.pending.as_ref().unwrap().trace.candidates[app.highlight].id;
    assert_eq!(
        update(&mut app, Action::TakeCandidate),
        [Command::Take { token_id: want }]
    );
}

#[test]
fn arrows_move_between_the_steps_and_the_pending_slot() {
    let mut app = app_with_pending();
    let n = app.snapshot.steps.len();
    update(&mut app, Action::SelectPrev);
    assert!(!app.on_pending);
    assert_eq!(app.selected, Some(n - 1));
    // A knob change on a past step previews that step.
    update(&mut app, Action::AdjustKnob(1));
    let cmds = update(&mut app, Action::Frame);
    assert!(matches!(&cmds[..], [Command::SetKnobs { preview_step: Some(s), .. }] if *s == n - 1));
    update(&mut app, Action::SelectNext);
    assert!(app.on_pending);
    // On the pending slot the engine re-sends the pending record: no step preview.
    update(&mut app, Action::AdjustKnob(1));
    let cmds = update(&mut app, Action::Frame);
    assert!(matches!(
        &cmds[..],
        [Command::SetKnobs {
            preview_step: None,
            ..
        }]
    ));
    // A new step makes the old pending record stale.
    let mut snap = app.snapshot.clone();
    snap.steps.push(app.pending.clone().unwrap());
    update(&mut app, Action::Engine(Event::Timeline(snap)));
    assert!(app.pending.is_none());
}

#[test]
fn the_lens_tab_asks_for_the_pending_token_while_it_is_shown() {
    let mut app = app_with_pending();
    let n = app.snapshot.steps.len();
    update(&mut app, Action::SetTab(logitscope::tui::app::Tab::Lens));
    let sent = update(&mut app, Action::Frame);
    assert!(sent.contains(&Command::Lens { step: n }), "{sent:?}");
    update(&mut app, Action::SelectPrev);
    let sent = update(&mut app, Action::Frame);
    assert!(sent.contains(&Command::Lens { step: n - 1 }), "{sent:?}");
}
