//! The lens tab and the contrast panel, fed synthetic engine events built by the real code
//! (the lens grid's maths, the contrast stages of the chain) on synthetic logits: snapshots,
//! the lens following the selected step, and the shading switch.

mod tui_common;

use std::sync::Arc;

use insta::assert_snapshot;
use logitscope::decode::contrast::lens::LensGrid;
use logitscope::decode::contrast::{ContrastKnobs, Signals};
use logitscope::decode::sampler::Sampler;
use logitscope::decode::stage::History;
use logitscope::decode::SamplerConfig;
use logitscope::engine::inspect::LensView;
use logitscope::engine::protocol::{Command, Event};
use logitscope::tui::app::Tab;
use logitscope::tui::tabs::lens::{LensAction, Shade};
use logitscope::tui::{update, Action, App};
use tui_common::{screen, synthetic_app, text};

/// Logits peaked at `id` with the given sharpness, over `n` tokens.
fn peaked(n: usize, id: usize, sharp: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            if i == id {
                sharp
            } else {
                -((i * 7 % 13) as f32) * 0.1
            }
        })
        .collect()
}

/// A lens over 4 steps of a 30-layer model: the early layers predict a comma, the middle
/// a vague guess, the last few the answer.
fn lens_view(vocab: usize) -> LensView {
    let mut grid = LensGrid::new((1..=30).collect());
    for (c, answer) in [12usize, 20, 30, 40].into_iter().enumerate() {
        let col: Vec<Vec<f32>> = (1..=30)
            .map(|l| match l {
                1..=10 => peaked(vocab, 1, 2.0),
                11..=24 => peaked(vocab, answer + 1, 0.5 + l as f32 * 0.1),
                _ => peaked(vocab, answer, l as f32 * 0.3),
            })
            .collect();
        grid.push_column(10 + c, &col);
    }
    LensView {
        step: 3,
        steps: vec![0, 1, 2, 3],
        chosen: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        grid,
    }
}

fn lens_app() -> App {
    let mut app = synthetic_app();
    update(&mut app, Action::SetTab(Tab::Lens));
    app
}

#[test]
fn the_lens_tab_asks_for_the_selected_step_once() {
    let mut app = lens_app();
    let last = app.snapshot.steps.len() - 1;
    assert_eq!(
        update(&mut app, Action::Frame),
        [Command::Lens { step: last }]
    );
    assert!(update(&mut app, Action::Frame).is_empty(), "asked once");
    update(&mut app, Action::SelectPrev);
    let cmds = update(&mut app, Action::Frame);
    assert!(matches!(cmds[..], [Command::Lens { step }] if step < last));
    // Other tabs ask for nothing.
    update(&mut app, Action::SetTab(Tab::Main));
    update(&mut app, Action::SelectPrev);
    assert!(update(&mut app, Action::Frame)
        .iter()
        .all(|c| !matches!(c, Command::Lens { .. })));
}

#[test]
fn lens_tab_grid_and_selected_cell() {
    let mut app = lens_app();
    let vocab = app.info.as_ref().unwrap().vocab.len();
    update(
        &mut app,
        Action::Engine(Event::Lens(Arc::new(lens_view(vocab)))),
    );
    // The selected layer starts on 30 (the output); move up to layer 25.
    for _ in 0..5 {
        update(&mut app, Action::Lens(LensAction::Layer(-1)));
    }
    assert_eq!(app.lens.row, 24);
    assert_snapshot!("lens_probability", text(&screen(&app, 110, 40)));
    update(&mut app, Action::Lens(LensAction::ToggleShade));
    assert_eq!(app.lens.shade, Shade::Kl);
    let kl = text(&screen(&app, 110, 40));
    assert!(kl.contains("shade: KL to final"));
}

#[test]
fn contrast_panel_shows_expert_amateur_and_contrast_side_by_side() {
    let mut app = synthetic_app();
    let vocab = app.info.as_ref().unwrap().vocab.len();
    let step = app.selected.unwrap_or(app.snapshot.steps.len() - 1);
    // Five plausible tokens; the amateur is sure of the first and third.
    let mut expert = vec![-1.0f32; vocab];
    let mut amateur = vec![-1.0f32; vocab];
    for (i, (e, a)) in [(3.0, 5.0), (2.7, 1.0), (2.4, 3.0), (2.0, 0.5), (1.5, 0.0)]
        .into_iter()
        .enumerate()
    {
        expert[30 + i] = e;
        amateur[30 + i] = a;
    }
    let config = SamplerConfig {
        contrast: Some(ContrastKnobs {
            alpha: 0.1,
            amateur_temperature: 0.5,
            amateur_layer: Some(8),
        }),
        top_k: None,
        greedy: true,
        ..SamplerConfig::default()
    };
    let signals = Signals {
        amateur: Some(amateur),
        ..Signals::default()
    };
    let trace = Sampler::new(&config)
        .unwrap()
        .replay(&expert, History::new(&[], 0).with_signals(&signals), None)
        .unwrap();
    let mut rec = (*app.snapshot.steps[step]).clone();
    rec.token_id = trace.chosen.id;
    rec.trace = trace;
    app.snapshot.steps[step] = Arc::new(rec);
    app.selected = Some(step);
    let screen = text(&screen(&app, 120, 40));
    assert_eq!(
        app.snapshot.steps[step].trace.chosen.id, 34,
        "the plausible token the amateur likes least wins"
    );
    assert!(screen.contains("Contrastive decoding"));
    assert!(screen.contains("expert") && screen.contains("amateur") && screen.contains("contrast"));
    assert_snapshot!("contrast_panel", screen);
}
