//! The crowd tab: its keys become crowd runs with the tab's settings, and a snapshot of a
//! crowd whose choice is made by the real MBR code with sacrebleu's chrF (no model).

mod tui_common;

use std::sync::Arc;

use insta::assert_snapshot;
use logitscope::decode::crowd::{mbr, vote, Selection, Utility};
use logitscope::decode::select::metrics::chrf;
use logitscope::engine::crowd::{CrowdConfig, CrowdSample, CrowdView, Outcome};
use logitscope::engine::protocol::{Command, Event};
use logitscope::engine::run::{RunKind, RunRequest};
use logitscope::tui::app::Tab;
use logitscope::tui::tabs::crowd::CrowdAction;
use logitscope::tui::{update, Action};
use tui_common::{screen, synthetic_info_app, text};

const TEXTS: [&str; 6] = [
    " Paris, the city of light.",
    " Paris.",
    " Paris, France's capital and largest city.",
    " Lyon, I think.",
    " Paris, the capital city.",
    " a city in Europe.",
];

fn view(select: Selection) -> CrowdView {
    let samples: Vec<CrowdSample> = TEXTS
        .iter()
        .enumerate()
        .map(|(row, t)| CrowdSample {
            row,
            seed: 1000 + row as u64,
            ids: vec![1; 4],
            text: t.to_string(),
            logprob: -2.0 - row as f64,
            finished: true,
            answer: t
                .split(|c: char| !c.is_alphabetic())
                .find(|w| !w.is_empty())
                .map(String::from),
        })
        .collect();
    let outcome = match select {
        Selection::Mbr(_) => {
            let r = mbr(TEXTS.len(), |i, j| chrf(TEXTS[i], TEXTS[j]));
            Outcome {
                select,
                matrix: r.matrix,
                expected: r.expected,
                votes: Vec::new(),
                chosen: r.chosen,
            }
        }
        Selection::Vote { weighted } => {
            let answers: Vec<Option<String>> = samples.iter().map(|s| s.answer.clone()).collect();
            let lps: Vec<f64> = samples.iter().map(|s| s.logprob).collect();
            let r = vote(&answers, &lps, weighted);
            Outcome {
                select,
                matrix: Vec::new(),
                expected: Vec::new(),
                votes: r.votes,
                chosen: r.chosen,
            }
        }
    };
    CrowdView {
        config: CrowdConfig {
            samples: TEXTS.len(),
            max_tokens: 16,
            select,
            answer_regex: None,
        },
        samples,
        step: 16,
        outcome: Some(outcome),
    }
}

#[test]
fn keys_start_crowds_with_the_tab_settings() {
    let mut app = synthetic_info_app(Tab::Crowd);
    let cmds = update(&mut app, Action::Crowd(CrowdAction::Run));
    assert!(matches!(
        &cmds[..],
        [Command::Start(RunRequest::Crowd(c)), Command::Autoplay(true)]
            if c.samples == 8 && c.select == Selection::Mbr(Utility::Chrf)
    ));
    assert_eq!(app.run, RunKind::Crowd);
    let cmds = update(&mut app, Action::Crowd(CrowdAction::CycleSelect));
    assert!(
        matches!(&cmds[0], Command::Start(RunRequest::Crowd(c)) if c.select == Selection::Mbr(Utility::Bleu))
    );
    let cmds = update(&mut app, Action::Crowd(CrowdAction::Samples(1)));
    assert!(matches!(&cmds[0], Command::Start(RunRequest::Crowd(c)) if c.samples == 9));
    // Space steps a crowd still drawing; it starts one when the last has finished.
    update(
        &mut app,
        Action::Engine(Event::Crowd(Arc::new(CrowdView {
            outcome: None,
            ..view(Selection::Mbr(Utility::Chrf))
        }))),
    );
    assert_eq!(
        update(&mut app, Action::Crowd(CrowdAction::Step)),
        [Command::Step]
    );
    update(
        &mut app,
        Action::Engine(Event::Crowd(Arc::new(view(Selection::Mbr(Utility::Chrf))))),
    );
    let cmds = update(&mut app, Action::Crowd(CrowdAction::Step));
    assert!(matches!(
        &cmds[..],
        [Command::Start(RunRequest::Crowd(_)), Command::Step]
    ));
}

#[test]
fn crowd_tab_shows_samples_the_utility_matrix_and_the_winner() {
    let mut app = synthetic_info_app(Tab::Crowd);
    let v = view(Selection::Mbr(Utility::Chrf));
    let chosen = v.outcome.as_ref().unwrap().chosen;
    update(&mut app, Action::Engine(Event::Crowd(Arc::new(v))));
    assert_eq!(
        app.crowd.selected, chosen,
        "the winner is selected when the crowd ends"
    );
    let s = text(&screen(&app, 120, 30));
    assert!(s.contains(&format!("why #{chosen} won")), "{s}");
    assert_snapshot!("crowd_mbr", s);

    let mut app = synthetic_info_app(Tab::Crowd);
    update(
        &mut app,
        Action::Engine(Event::Crowd(Arc::new(view(Selection::Vote {
            weighted: false,
        })))),
    );
    let s = text(&screen(&app, 120, 30));
    assert!(
        s.contains("answer      votes") && s.contains("Paris"),
        "{s}"
    );
}
