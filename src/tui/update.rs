//! `update`: the one place the UI state changes. Pure: it returns the engine commands to send.

use crate::decode::config::SamplerConfig;
use crate::engine::protocol::{Command, Event, Snapshot};
use crate::tui::action::Action;
use crate::tui::app::{App, Focus, Message, Popup, Tab};
use crate::tui::input::TextInput;
use crate::tui::knob::Knob;

/// The start of the main timeline's run (sampling or speculative) when another is active.
fn timeline_run(app: &mut App) -> Vec<Command> {
    let req = crate::tui::tabs::speculative::timeline_request(app);
    if app.run == req.kind() {
        return Vec::new();
    }
    app.run = req.kind();
    vec![Command::Start(req)]
}

/// Apply `action` to `app`; returns the commands for the engine, in order.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    if !matches!(action, Action::Engine(_) | Action::Frame | Action::Resize) {
        app.message = None;
    }
    match action {
        Action::Engine(event) => return engine_event(app, event),
        Action::Step => {
            app.follow = true;
            let mut cmds = timeline_run(app);
            cmds.push(Command::Step);
            return cmds;
        }
        Action::ToggleAutoplay => {
            app.snapshot.playing = !app.snapshot.playing;
            app.follow |= app.snapshot.playing;
            let mut cmds = timeline_run(app);
            cmds.push(Command::Autoplay(app.snapshot.playing));
            return cmds;
        }
        Action::SelectPrev => move_selection(app, |i, _| i.saturating_sub(1)),
        Action::SelectNext => move_selection(app, |i, n| (i + 1).min(n - 1)),
        Action::SelectFirst => move_selection(app, |_, _| 0),
        Action::SelectLast => move_selection(app, |_, n| n - 1),
        Action::SelectStep(step) => {
            app.focus = Focus::Main;
            move_selection(app, |_, n| step.min(n - 1));
        }
        Action::MoveCandidate(delta) => {
            let n = app.shown_trace().map_or(0, |t| t.candidates.len());
            app.highlight =
                (app.highlight as i64 + delta as i64).clamp(0, n.max(1) as i64 - 1) as usize;
        }
        Action::HighlightCandidate(i) => {
            app.focus = Focus::Main;
            app.highlight = i;
        }
        Action::TakeCandidate => return take_candidate(app),
        Action::Reroll => {
            if let Some(step) = app.selected {
                app.follow = true;
                app.preview = None;
                return vec![Command::Reroll { step }];
            }
        }
        Action::ToggleFocus => {
            app.focus = match app.focus {
                Focus::Main => Focus::Knobs,
                Focus::Knobs => Focus::Main,
            }
        }
        Action::MoveKnob(delta) => {
            app.focus = Focus::Knobs;
            app.knob =
                (app.knob as i64 + delta as i64).clamp(0, Knob::all().len() as i64 - 1) as usize;
        }
        Action::SelectKnob(i) => {
            app.focus = Focus::Knobs;
            app.knob = i.min(Knob::all().len() - 1);
        }
        Action::AdjustKnob(dir) => adjust_knob(app, dir),
        Action::ScrollKnob { knob, dir } => {
            app.knob = knob.min(Knob::all().len() - 1);
            adjust_knob(app, dir);
        }
        Action::ToggleKnob => {
            let knob = app.selected_knob();
            let mut config = app.edited_knobs().clone();
            let off = knob.toggle(&mut config, app.knob_memory.get(knob.label()).copied());
            if let Some(off) = off {
                app.knob_memory.insert(knob.label(), off);
            }
            set_config(app, config);
        }
        Action::ToggleTint => app.tint = app.tint.next(),
        Action::ToggleHelp => {
            app.popup = match app.popup {
                Popup::Help => Popup::None,
                _ => Popup::Help,
            }
        }
        Action::OpenBranches => {
            let selected = app
                .snapshot
                .branches
                .iter()
                .position(|b| b.id == app.snapshot.current_branch)
                .unwrap_or(0);
            app.popup = Popup::Branches { selected };
        }
        Action::MoveBranch(delta) => {
            let n = app.snapshot.branches.len().max(1) as i64;
            if let Popup::Branches { selected } = &mut app.popup {
                *selected = (*selected as i64 + delta as i64).clamp(0, n - 1) as usize;
            }
        }
        Action::EditPrompt => app.popup = Popup::Prompt(TextInput::new(&app.snapshot.prompt)),
        Action::Save => return vec![Command::Save(None)],
        Action::ToggleAb => {
            app.knobs_b = match app.knobs_b {
                Some(_) => None,
                None => Some(app.config.clone()),
            };
            app.editing_b = app.knobs_b.is_some();
            app.preview_b = None;
            app.b_asked = None;
        }
        Action::EditB => app.editing_b = app.knobs_b.is_some() && !app.editing_b,
        Action::ToggleChat => {
            app.preview = None;
            app.follow = true;
            app.selected = None;
            return vec![Command::SetChat(!app.snapshot.chat)];
        }
        Action::Edit(edit) => {
            if let Popup::Prompt(input) = &mut app.popup {
                input.apply(edit);
            }
        }
        Action::Confirm => return confirm(app),
        Action::Cancel => app.popup = Popup::None,
        Action::SetTab(tab) => {
            app.tab = tab;
            if matches!(tab, Tab::Attention | Tab::Cache) {
                return crate::tui::tabs::attention::set_capture(app, true);
            }
        }
        Action::Beam(a) => return crate::tui::tabs::beams::update(app, a),
        Action::Attention(a) => return crate::tui::tabs::attention::update(app, a),
        Action::Cache(a) => return crate::tui::tabs::cache::update(app, a),
        Action::Speculative(a) => return crate::tui::tabs::speculative::update(app, a),
        Action::Lens(a) => return crate::tui::tabs::lens::update(app, a),
        Action::Crowd(a) => return crate::tui::tabs::crowd::update(app, a),
        Action::Tokens(a) => return crate::tui::tabs::tokens::update(app, a),
        Action::Quit => {
            app.quit = true;
            return vec![Command::Quit];
        }
        Action::Resize => {}
        Action::Frame => {
            let mut cmds = crate::tui::tabs::lens::request(app);
            cmds.extend(request_b(app));
            if std::mem::take(&mut app.knobs_dirty) {
                cmds.push(Command::SetKnobs {
                    config: Box::new(app.config.clone()),
                    preview_step: app.selected.filter(|_| !app.on_pending),
                });
            }
            return cmds;
        }
    }
    Vec::new()
}

fn engine_event(app: &mut App, event: Event) -> Vec<Command> {
    match event {
        Event::Loading { progress, message } => app.loading = Some((progress, message)),
        Event::Loaded(info) => {
            app.info = Some(info);
            app.loading = None;
            if std::mem::take(&mut app.autoplay_on_load) {
                app.snapshot.playing = true;
                let mut cmds = timeline_run(app);
                cmds.push(Command::Autoplay(true));
                return cmds;
            }
        }
        Event::Knobs(config) => app.config = *config,
        Event::Timeline(snapshot) => apply_timeline(app, snapshot),
        Event::Pending(record) => {
            let n = app.snapshot.steps.len();
            app.pending = record.filter(|r| r.index == n);
            let before = app.on_pending;
            app.on_pending =
                app.pending.is_some() && (app.on_pending || (app.follow && !app.snapshot.playing));
            if app.on_pending {
                // The pending record follows the knobs: keep the highlight unless it moved on.
                if !before {
                    reset_highlight(app);
                }
            }
        }
        Event::Preview(record) => {
            if app.snapshot.steps.get(record.index).map(|s| s.token_id) == Some(record.token_id) {
                app.preview = Some(record);
            }
        }
        Event::Error(text) => app.message = Some(Message { text, error: true }),
        Event::Notice(text) => app.message = Some(Message { text, error: false }),
        Event::PreviewB(record) => app.preview_b = Some(record),
        Event::Beam(tree) => crate::tui::tabs::beams::on_tree(app, tree),
        Event::Attention(view) => crate::tui::tabs::attention::on_view(app, view),
        Event::Cache(view) => crate::tui::tabs::cache::on_view(app, view),
        Event::Speculative(view) => crate::tui::tabs::speculative::on_view(app, view),
        Event::Lens(view) => crate::tui::tabs::lens::on_view(app, view),
        Event::Crowd(view) => crate::tui::tabs::crowd::on_view(app, view),
        Event::RunStarted(kind) => app.run = kind,
    }
    Vec::new()
}

fn apply_timeline(app: &mut App, snapshot: Snapshot) {
    let before = app.selected;
    app.snapshot = snapshot;
    app.version += 1;
    let n = app.snapshot.steps.len();
    if app.pending.as_ref().is_some_and(|p| p.index != n) || app.snapshot.playing {
        app.pending = None;
    }
    if app.snapshot.playing {
        app.on_pending = false;
    }
    app.selected = match app.selected {
        _ if n == 0 => None,
        Some(i) if !app.follow => Some(i.min(n - 1)),
        _ => Some(n - 1),
    };
    if let Some(p) = &app.preview {
        if app.snapshot.steps.get(p.index).map(|s| s.token_id) != Some(p.token_id) {
            app.preview = None;
        }
    }
    if app.selected != before {
        reset_highlight(app);
    }
}

/// Change the selection with `f(current, len)`; the selection follows new steps again when
/// it lands on the newest one.
/// The pending next token counts as the slot after the last step.
fn move_selection(app: &mut App, f: impl Fn(usize, usize) -> usize) {
    let n = app.snapshot.steps.len();
    let total = n + usize::from(app.pending.is_some());
    if total == 0 {
        return;
    }
    let current = if app.on_pending && app.pending.is_some() {
        n
    } else {
        app.selected.unwrap_or(n.saturating_sub(1))
    };
    let next = f(current, total);
    app.follow = next == total - 1;
    let on_pending = app.pending.is_some() && next == n;
    if on_pending != app.on_pending {
        app.on_pending = on_pending;
        reset_highlight(app);
    }
    let step = next.min(n.saturating_sub(1));
    if n > 0 && app.selected != Some(step) {
        app.selected = Some(step);
        reset_highlight(app);
        let differs = app
            .selected_record()
            .is_some_and(|r| r.config != app.config);
        if differs {
            app.knobs_dirty = true;
        }
    }
}

/// Put the candidate highlight on the chosen token of the selected step.
fn reset_highlight(app: &mut App) {
    app.highlight = app
        .shown_trace()
        .and_then(|t| t.candidates.iter().position(|c| c.id == t.chosen.id))
        .unwrap_or(0);
}

fn take_candidate(app: &mut App) -> Vec<Command> {
    if let Some(p) = app.shown_pending() {
        let Some(candidate) = p.trace.candidates.get(app.highlight) else {
            return Vec::new();
        };
        let token_id = candidate.id;
        app.follow = true;
        return vec![Command::Take { token_id }];
    }
    let Some((step, trace)) = app.selected.zip(app.shown_trace()) else {
        return Vec::new();
    };
    let Some(candidate) = trace.candidates.get(app.highlight) else {
        return Vec::new();
    };
    if candidate.id == trace.chosen.id {
        app.message = Some(Message {
            text: "that is the chosen token: highlight another candidate (↑/↓)".into(),
            error: false,
        });
        return Vec::new();
    }
    let token_id = candidate.id;
    app.follow = true;
    app.preview = None;
    vec![Command::Branch { step, token_id }]
}

/// Asks for the shown step under B when the A/B panel is on and the step or B changed.
fn request_b(app: &mut App) -> Vec<Command> {
    let (Some(b), Some(step)) = (&app.knobs_b, app.shown_step()) else {
        return Vec::new();
    };
    let key = (step, app.version as usize, b.clone());
    if app.b_asked.as_ref() == Some(&key) {
        return Vec::new();
    }
    let config = Box::new(b.clone());
    app.b_asked = Some(key);
    vec![Command::PreviewB { step, config }]
}

fn adjust_knob(app: &mut App, dir: i32) {
    let mut config = app.edited_knobs().clone();
    app.selected_knob().adjust(&mut config, dir);
    set_config(app, config);
}

/// Adopt a new knob configuration (A's, or B's while editing B) if it is valid; A's is sent at
/// the end of the frame, B's asked for then.
fn set_config(app: &mut App, config: SamplerConfig) {
    match config.validate() {
        Err(text) => app.message = Some(Message { text, error: true }),
        Ok(()) if app.editing_b && app.knobs_b.is_some() => app.knobs_b = Some(config),
        Ok(()) if config != app.config => {
            app.config = config;
            app.knobs_dirty = true;
        }
        Ok(()) => {}
    }
}

fn confirm(app: &mut App) -> Vec<Command> {
    match std::mem::take(&mut app.popup) {
        Popup::Branches { selected } => match app.snapshot.branches.get(selected) {
            Some(b) => {
                app.preview = None;
                app.follow = true;
                vec![Command::SwitchBranch(b.id)]
            }
            None => Vec::new(),
        },
        Popup::Prompt(input) => {
            app.preview = None;
            app.follow = true;
            app.selected = None;
            vec![Command::SetPrompt(input.text())]
        }
        Popup::Help | Popup::None => Vec::new(),
    }
}
