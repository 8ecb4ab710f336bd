//! `update()` on action sequences: the commands it returns and the state it leaves, with
//! synthetic engine events standing in for the engine.

mod tui_common;

use std::sync::Arc;

use logitscope::engine::protocol::{Command, Event};
use logitscope::tui::app::{Focus, Popup};
use logitscope::tui::input::TextEdit;
use logitscope::tui::{update, Action, App, TintMode};
use tui_common::{loaded_app, session};

fn run(app: &mut App, actions: impl IntoIterator<Item = Action>) -> Vec<Command> {
    actions.into_iter().flat_map(|a| update(app, a)).collect()
}

/// The fixture's timeline cut to its first `n` steps.
fn timeline(n: usize) -> Event {
    let mut snapshot = session().to_snapshot();
    snapshot.steps.truncate(n);
    Event::Timeline(snapshot)
}

#[test]
fn loading_then_timeline_selects_the_newest_step() {
    let mut app = App::new(TintMode::Probability, false);
    let loading = Event::Loading {
        progress: 0.5,
        message: "weights".into(),
    };
    assert!(update(&mut app, Action::Engine(loading)).is_empty());
    assert_eq!(app.loading, Some((0.5, "weights".into())));
    let [loaded, knobs, timeline] = session().events();
    update(&mut app, Action::Engine(loaded));
    assert!(app.loading.is_none());
    update(&mut app, Action::Engine(knobs));
    assert_eq!(app.config, session().config, "the engine's knobs at start");
    update(&mut app, Action::Engine(timeline));
    assert_eq!(app.selected, Some(session().steps.len() - 1));
}

#[test]
fn autoplay_on_load_starts_playing() {
    let mut app = App::new(TintMode::Probability, true);
    let [loaded, _, _] = session().events();
    assert_eq!(
        update(&mut app, Action::Engine(loaded)),
        vec![Command::Autoplay(true)]
    );
}

#[test]
fn stepping_and_autoplay() {
    let mut app = loaded_app();
    assert_eq!(update(&mut app, Action::Step), vec![Command::Step]);
    assert_eq!(
        update(&mut app, Action::ToggleAutoplay),
        vec![Command::Autoplay(true)]
    );
    assert_eq!(
        update(&mut app, Action::ToggleAutoplay),
        vec![Command::Autoplay(false)]
    );
}

#[test]
fn selection_moves_and_follows_only_at_the_end() {
    let mut app = App::new(TintMode::Probability, false);
    let [loaded, _, _] = session().events();
    update(&mut app, Action::Engine(loaded));
    update(&mut app, Action::Engine(timeline(10)));
    assert_eq!(app.selected, Some(9));
    run(&mut app, [Action::SelectPrev, Action::SelectPrev]);
    assert_eq!((app.selected, app.follow), (Some(7), false));
    update(&mut app, Action::Engine(timeline(11)));
    assert_eq!(app.selected, Some(7), "a moved selection stays put");
    update(&mut app, Action::SelectFirst);
    assert_eq!(app.selected, Some(0));
    update(&mut app, Action::SelectPrev);
    assert_eq!(app.selected, Some(0));
    update(&mut app, Action::SelectLast);
    assert!(app.follow);
    update(&mut app, Action::Engine(timeline(12)));
    assert_eq!(app.selected, Some(11), "at the end it follows new steps");
    update(&mut app, Action::SelectStep(99));
    assert_eq!(app.selected, Some(11));
}

#[test]
fn candidate_highlight_moves_clamps_and_resets_to_the_chosen_token() {
    let mut app = loaded_app();
    update(&mut app, Action::SelectStep(3));
    let trace = app.selected_record().unwrap().trace.clone();
    let chosen = trace
        .candidates
        .iter()
        .position(|c| c.id == trace.chosen.id)
        .unwrap();
    assert_eq!(app.highlight, chosen);
    run(&mut app, [Action::MoveCandidate(-100)]);
    assert_eq!(app.highlight, 0);
    run(
        &mut app,
        [Action::MoveCandidate(1), Action::MoveCandidate(1)],
    );
    assert_eq!(app.highlight, 2);
    run(&mut app, [Action::MoveCandidate(1000)]);
    assert_eq!(app.highlight, trace.candidates.len() - 1);
}

#[test]
fn enter_branches_at_the_selected_step_with_the_highlighted_candidate() {
    let mut app = loaded_app();
    update(&mut app, Action::SelectStep(5));
    let trace = app.selected_record().unwrap().trace.clone();
    assert!(
        update(&mut app, Action::TakeCandidate).is_empty(),
        "the chosen token is no branch"
    );
    assert!(app.message.is_some());
    let other = (0..trace.candidates.len())
        .find(|&i| trace.candidates[i].id != trace.chosen.id)
        .unwrap();
    update(&mut app, Action::HighlightCandidate(other));
    assert_eq!(
        update(&mut app, Action::TakeCandidate),
        vec![Command::Branch {
            step: 5,
            token_id: trace.candidates[other].id
        }]
    );
}

#[test]
fn knob_bursts_collapse_into_one_set_knobs_per_frame() {
    let mut app = loaded_app();
    update(&mut app, Action::SelectStep(4));
    let before = app.config.temperature;
    let burst = [
        Action::AdjustKnob(1),
        Action::AdjustKnob(1),
        Action::AdjustKnob(1),
    ];
    assert!(run(&mut app, burst).is_empty());
    let sent = update(&mut app, Action::Frame);
    let [Command::SetKnobs {
        config,
        preview_step,
    }] = sent.as_slice()
    else {
        panic!("expected one SetKnobs, got {sent:?}");
    };
    assert!((config.temperature - (before + 0.15)).abs() < 1e-5);
    assert_eq!(*preview_step, Some(4));
    assert!(update(&mut app, Action::Frame).is_empty());
}

#[test]
fn knobs_toggle_and_only_a_refusal_replaces_them() {
    let mut app = loaded_app();
    update(&mut app, Action::SelectKnob(2));
    assert_eq!(app.focus, Focus::Knobs);
    let top_p = app.config.top_p;
    update(&mut app, Action::ToggleKnob);
    assert_eq!(app.config.top_p, None);
    update(&mut app, Action::Frame);
    update(&mut app, Action::Engine(timeline(40)));
    assert_eq!(app.config.top_p, None, "a timeline does not carry knobs");
    update(&mut app, Action::ToggleKnob);
    assert_eq!(app.config.top_p, top_p);
    // The engine refused a change: it sends the knobs it kept, and the panel shows them.
    let kept = app.config.clone();
    update(&mut app, Action::AdjustKnob(1));
    assert_ne!(app.config, kept);
    update(
        &mut app,
        Action::Engine(Event::Knobs(Box::new(kept.clone()))),
    );
    assert_eq!(app.config, kept);
    update(&mut app, Action::ScrollKnob { knob: 1, dir: -1 });
    assert_eq!(app.config.top_k, Some(35));
}

#[test]
fn previews_show_for_their_step_only() {
    let mut app = loaded_app();
    update(&mut app, Action::SelectStep(6));
    let mut preview = (**app.selected_record().unwrap()).clone();
    preview.trace.entropy_final = 9.0;
    update(&mut app, Action::Engine(Event::Preview(Arc::new(preview))));
    let (shown, is_preview) = app.shown_record().unwrap();
    assert!(is_preview);
    assert_eq!(shown.trace.entropy_final, 9.0);
    update(&mut app, Action::SelectNext);
    assert!(!app.shown_record().unwrap().1);
}

#[test]
fn editing_the_prompt() {
    let mut app = loaded_app();
    update(&mut app, Action::EditPrompt);
    let prompt = app.snapshot.prompt.clone();
    let mut edits: Vec<Action> = prompt
        .chars()
        .map(|_| Action::Edit(TextEdit::Backspace))
        .collect();
    edits.extend("Hi 🙂".chars().map(|c| Action::Edit(TextEdit::Insert(c))));
    assert!(run(&mut app, edits).is_empty());
    assert_eq!(
        update(&mut app, Action::Confirm),
        vec![Command::SetPrompt("Hi 🙂".into())]
    );
    assert_eq!(app.popup, Popup::None);
    update(&mut app, Action::EditPrompt);
    update(&mut app, Action::Edit(TextEdit::Insert('x')));
    assert!(update(&mut app, Action::Cancel).is_empty());
    assert_eq!(app.popup, Popup::None);
}

#[test]
fn switching_branches_and_rerolling() {
    let mut app = loaded_app();
    // A second branch, forked at step 3.
    app.snapshot
        .branches
        .push(logitscope::engine::protocol::BranchInfo {
            id: 1,
            fork_step: 3,
            len: 4,
            preview: "another way".into(),
        });
    update(&mut app, Action::OpenBranches);
    assert_eq!(app.popup, Popup::Branches { selected: 0 });
    run(&mut app, [Action::MoveBranch(1), Action::MoveBranch(5)]);
    assert_eq!(
        update(&mut app, Action::Confirm),
        vec![Command::SwitchBranch(1)]
    );
    update(&mut app, Action::SelectStep(8));
    assert_eq!(
        update(&mut app, Action::Reroll),
        vec![Command::Reroll { step: 8 }]
    );
}

#[test]
fn errors_show_and_quit_quits() {
    let mut app = loaded_app();
    update(
        &mut app,
        Action::Engine(Event::Error("out of context".into())),
    );
    assert_eq!(app.message.as_ref().unwrap().text, "out of context");
    assert_eq!(update(&mut app, Action::Quit), vec![Command::Quit]);
    assert!(app.quit);
}
