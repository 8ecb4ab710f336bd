//! The speculative tab: its keys become run starts with the knobs, and a snapshot of rounds
//! computed by the real acceptance rule on synthetic distributions (no model).

mod tui_common;

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use logitscope::decode::speculative::{
    expected_tokens_per_call, verify, Dist, DraftSpec, RoundDraws, SpecStats,
};
use logitscope::engine::protocol::{Command, Event};
use logitscope::engine::run::{RunKind, RunRequest, SpecView};
use logitscope::tui::app::Tab;
use logitscope::tui::keymap::map_key;
use logitscope::tui::tabs::speculative::SpecAction;
use logitscope::tui::{update, Action, App};
use tui_common::{screen, synthetic_info_app, text};

const VOCAB: usize = 200;

/// A peaked distribution over the demo vocabulary, its mode at `centre`.
fn peaked(centre: usize, width: f32) -> Dist {
    let w: Vec<f32> = (0..VOCAB)
        .map(|i| (-((i as f32 - centre as f32) / width).powi(2)).exp())
        .collect();
    let z: f32 = w.iter().sum();
    Dist(w.iter().map(|x| x / z).collect())
}

/// Rounds from the acceptance rule: the draft's mode drifts from the target's.
fn view() -> SpecView {
    let mut stats = SpecStats::default();
    let mut rounds = Vec::new();
    let mut step = 0;
    for r in 0..6 {
        let gamma = 4;
        let draws = RoundDraws::for_round(7, step, gamma);
        let drafts: Vec<(u32, Dist)> = (0..gamma)
            .map(|j| {
                let q = peaked(40 + 3 * j + (r % 2) * 2, 1.5);
                (q.pick(Some(draws.draft[j])), q)
            })
            .collect();
        let targets: Vec<Dist> = (0..=gamma).map(|j| peaked(40 + 3 * j, 1.8)).collect();
        let mut round = verify(&drafts, &targets, Some(&draws));
        round.round = r;
        round.first_step = step;
        round.draft = "ngram:3".into();
        step += round.emitted().len();
        stats.add(&round);
        rounds.push(Arc::new(round));
    }
    SpecView {
        draft: "ngram:3".into(),
        gamma: 4,
        adaptive: false,
        expected_tokens_per_call: expected_tokens_per_call(stats.mean_alpha(), 4),
        rounds,
        stats,
    }
}

fn app() -> App {
    synthetic_info_app(Tab::Speculative)
}

fn key(app: &App, code: KeyCode) -> Action {
    map_key(app, &KeyEvent::new(code, KeyModifiers::NONE)).expect("the key is bound")
}

#[test]
fn keys_start_runs_with_the_tab_knobs() {
    let mut app = app();
    assert!(matches!(
        key(&app, KeyCode::Char('s')),
        Action::Speculative(SpecAction::Toggle)
    ));
    let a = key(&app, KeyCode::Char('s'));
    let cmds = update(&mut app, a);
    assert!(
        matches!(&cmds[..], [Command::Start(RunRequest::Speculative(c))] if c.draft == DraftSpec::NGram(3) && c.gamma.gamma == 4)
    );
    assert_eq!(app.run, RunKind::Speculative);
    // γ and the draft are live: each change restarts the run.
    let cmds = update(&mut app, Action::Speculative(SpecAction::Gamma(1)));
    assert!(
        matches!(&cmds[..], [Command::Start(RunRequest::Speculative(c))] if c.gamma.gamma == 5)
    );
    let mut seen = vec![app.spec.config.draft.clone()];
    for _ in 0..5 {
        update(&mut app, Action::Speculative(SpecAction::CycleDraft));
        seen.push(app.spec.config.draft.clone());
    }
    assert_eq!(
        seen,
        [
            DraftSpec::NGram(3),
            DraftSpec::NGram(2),
            DraftSpec::SelfLayers(7),
            DraftSpec::SelfLayers(15),
            DraftSpec::SelfLayers(22),
            DraftSpec::NGram(3),
        ]
    );
    // Space steps the active (speculative) run; off again, stepping samples.
    assert_eq!(update(&mut app, Action::Step), [Command::Step]);
    update(&mut app, Action::Speculative(SpecAction::Toggle));
    assert_eq!(app.run, RunKind::Sample);
}

#[test]
fn rounds_show_verdicts_and_p_against_q() {
    let mut app = app();
    update(
        &mut app,
        Action::Engine(Event::Speculative(Arc::new(view()))),
    );
    // Select a round with a rejection and its rejected token.
    let v = app.spec.view.clone().unwrap();
    let (r, j) = v
        .rounds
        .iter()
        .enumerate()
        .find_map(|(i, r)| {
            r.drafted
                .iter()
                .position(|d| d.verified && !d.accepted)
                .map(|j| (i, j))
        })
        .expect("some round rejects");
    for _ in 0..v.rounds.len() {
        update(&mut app, Action::Speculative(SpecAction::Round(-1)));
    }
    for _ in 0..r {
        update(&mut app, Action::Speculative(SpecAction::Round(1)));
    }
    for _ in 0..j {
        update(&mut app, Action::Speculative(SpecAction::Token(1)));
    }
    let s = text(&screen(&app, 130, 34));
    assert!(s.contains("→ rejected"), "{s}");
    assert!(s.contains("residual"), "{s}");
    assert!(s.contains("mean α"), "{s}");
    assert_snapshot!(s);
}
