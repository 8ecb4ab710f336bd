//! The beam tab: tab keys, beam keys to engine commands, and a snapshot of the tree drawn from
//! a deterministic synthetic search (no model).

mod tui_common;

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use logitscope::decode::beam::{BeamConfig, BeamSearch, BeamTree, EarlyStopping};
use logitscope::decode::log_softmax;
use logitscope::engine::protocol::{Command, Event};
use logitscope::engine::run::{RunKind, RunRequest};
use logitscope::tui::app::Tab;
use logitscope::tui::keymap::map_key;
use logitscope::tui::tabs::beams::BeamAction;
use logitscope::tui::{update, Action, App};
use tui_common::{loaded_app, screen, synthetic_info_app, text};

/// A search of `steps` steps on a made-up model over the demo vocabulary (200 tokens; id 5
/// ends a sequence).
fn synthetic_tree(beams: usize, steps: usize) -> BeamTree {
    let cfg = BeamConfig {
        beams,
        num_return: beams,
        max_new_tokens: steps,
        early_stopping: EarlyStopping::Never,
        eos_ids: vec![5],
        ..BeamConfig::default()
    };
    let prompt = [0u32, 40, 41];
    let mut search = BeamSearch::new(cfg.clone(), &prompt).unwrap();
    let mut tree = BeamTree::new(cfg, &prompt);
    while !search.is_done() {
        let rows: Vec<Vec<f32>> = search
            .live()
            .iter()
            .map(|b| {
                let last = b.ids.last().copied().unwrap_or(7) as f32;
                let logits: Vec<f32> = (0..200)
                    .map(|i| {
                        let x = i as f32;
                        3.0 * (x * 0.37 + last * 0.91 + b.ids.len() as f32 * 0.5).sin() - x * 0.01
                    })
                    .collect();
                log_softmax(&logits)
            })
            .collect();
        let step = search.advance(&rows).unwrap();
        tree.push(step, search.hypotheses());
    }
    tree
}

/// An app on the beam tab with the demo vocabulary (independent of the recorded session).
fn beams_app(tree: BeamTree) -> App {
    let mut app = synthetic_info_app(Tab::Beams);
    update(&mut app, Action::Engine(Event::Beam(Arc::new(tree))));
    app
}

fn key(app: &App, code: KeyCode) -> Option<Action> {
    map_key(app, &KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn digits_switch_tabs_and_the_beam_tab_has_its_own_keys() {
    let mut app = loaded_app();
    for (c, tab) in
        ['2', '3', '4', '1']
            .into_iter()
            .zip([Tab::Beams, Tab::Attention, Tab::Cache, Tab::Main])
    {
        let a = key(&app, KeyCode::Char(c)).unwrap();
        update(&mut app, a);
        assert_eq!(app.tab, tab);
    }
    assert!(matches!(key(&app, KeyCode::Char(' ')), Some(Action::Step)));
    update(&mut app, Action::SetTab(Tab::Beams));
    assert!(matches!(
        key(&app, KeyCode::Char(' ')),
        Some(Action::Beam(BeamAction::Expand))
    ));
    assert!(matches!(
        key(&app, KeyCode::Char('L')),
        Some(Action::Beam(BeamAction::LengthPenalty(1)))
    ));
    assert!(matches!(key(&app, KeyCode::Char('q')), Some(Action::Quit)));
}

#[test]
fn expanding_starts_a_search_once_then_steps() {
    let mut app = loaded_app();
    update(&mut app, Action::SetTab(Tab::Beams));
    let cmds = update(&mut app, Action::Beam(BeamAction::Expand));
    assert!(
        matches!(&cmds[..], [Command::Start(RunRequest::Beam(cfg)), Command::Step] if cfg.beams == 4)
    );
    assert_eq!(app.run, RunKind::Beam);
    update(
        &mut app,
        Action::Engine(Event::Beam(Arc::new(synthetic_tree(4, 32)).clone())),
    );
    // A finished search is started again.
    let cmds = update(&mut app, Action::Beam(BeamAction::Expand));
    assert!(matches!(cmds[0], Command::Start(RunRequest::Beam(_))));
    // An unfinished one just steps.
    let mut partial = synthetic_tree(4, 32);
    partial.done = false;
    update(&mut app, Action::Engine(Event::Beam(Arc::new(partial))));
    let cmds = update(&mut app, Action::Beam(BeamAction::Expand));
    assert_eq!(cmds, [Command::Step]);
    assert_eq!(
        update(&mut app, Action::Beam(BeamAction::RunToEnd)),
        [Command::Autoplay(true)]
    );
    assert!(app.beams.running);
    // Stepping the main timeline meanwhile restarts sampling first; the beam tab then starts
    // its search again rather than stepping a run that is no longer active.
    assert_eq!(
        update(&mut app, Action::Step),
        [Command::Start(RunRequest::Sample), Command::Step]
    );
    let cmds = update(&mut app, Action::Beam(BeamAction::Expand));
    assert!(matches!(cmds[0], Command::Start(RunRequest::Beam(_))));
}

#[test]
fn knob_keys_retune_and_rerun() {
    let mut app = beams_app(synthetic_tree(4, 8));
    let cmds = update(&mut app, Action::Beam(BeamAction::Width(1)));
    assert!(
        matches!(&cmds[..], [Command::Start(RunRequest::Beam(cfg)), Command::Autoplay(true)] if cfg.beams == 5 && cfg.num_return == 5)
    );
    update(&mut app, Action::Beam(BeamAction::Diversity(1)));
    assert_eq!(app.beams.config.diversity, 0.25);
    assert_eq!(
        app.beams.config.groups, 5,
        "an odd width puts every beam in its own group"
    );
    update(&mut app, Action::Beam(BeamAction::Width(-1)));
    assert_eq!(app.beams.config.groups, 2);
    assert!(app.beams.config.validate().is_ok());
    update(&mut app, Action::Beam(BeamAction::LengthPenalty(-1)));
    assert_eq!(app.beams.config.length_penalty, 0.75);
    for _ in 0..20 {
        update(&mut app, Action::Beam(BeamAction::Width(-1)));
    }
    assert_eq!(app.beams.config.beams, 1);
    assert_eq!(app.beams.config.diversity, 0.0);
    assert!(app.beams.config.validate().is_ok());
}

#[test]
fn arrows_walk_the_tree() {
    let mut app = beams_app(synthetic_tree(4, 8));
    let tree = app.beams.tree.clone().unwrap();
    update(&mut app, Action::Beam(BeamAction::Select { dx: 0, dy: 1 }));
    assert_eq!(app.beams.selected, Some(tree.steps[7].nodes[1].id));
    update(&mut app, Action::Beam(BeamAction::Select { dx: -1, dy: 0 }));
    assert_eq!(app.beams.selected, Some(tree.steps[6].nodes[1].id));
    for _ in 0..10 {
        update(&mut app, Action::Beam(BeamAction::Select { dx: -1, dy: 5 }));
    }
    assert_eq!(
        app.beams.selected,
        Some(0),
        "the prompt is the leftmost node"
    );
}

#[test]
fn beam_tab_snapshot() {
    let app = beams_app(synthetic_tree(4, 8));
    assert_snapshot!(text(&screen(&app, 120, 30)));
}

#[test]
fn a_wide_search_scrolls_and_stays_in_bounds() {
    let mut app = beams_app(synthetic_tree(4, 32));
    for (w, h) in [(80, 24), (120, 30), (200, 50)] {
        let s = text(&screen(&app, w, h));
        assert!(s.contains("step 32"), "{s}");
        assert!(s.contains("hypotheses"));
    }
    update(
        &mut app,
        Action::Beam(BeamAction::Select { dx: -40, dy: 0 }),
    );
    let s = text(&screen(&app, 80, 24));
    assert!(s.contains("prompt"), "{s}");
}
