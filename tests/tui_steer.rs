//! The steering panel (FUDGE, RAD), the λ / β knobs and the attribute tint, fed a trace the
//! real chain computed on synthetic logits and scores.

mod tui_common;

use std::sync::Arc;

use insta::assert_snapshot;
use logitscope::decode::contrast::Signals;
use logitscope::decode::sampler::Sampler;
use logitscope::decode::stage::History;
use logitscope::decode::steer::{SteerKnobs, SteerScores};
use logitscope::decode::SamplerConfig;
use logitscope::tui::app::TintMode;
use logitscope::tui::knob::Knob;
use logitscope::tui::widgets::transcript::tint_score;
use logitscope::tui::App;
use tui_common::{screen, synthetic_app, text};

/// Puts a FUDGE step (λ = 3, top 5) at the selected step of the synthetic app: the model
/// prefers 30 > 31 > ... > 34; the probe likes 33 best.
fn fudge_app() -> App {
    let mut app = synthetic_app();
    let vocab = app.info.as_ref().unwrap().vocab.len();
    let step = app.selected.unwrap_or(app.snapshot.steps.len() - 1);
    let mut logits = vec![-2.0f32; vocab];
    for (i, l) in [3.0, 2.6, 2.2, 1.8, 1.0].into_iter().enumerate() {
        logits[30 + i] = l;
    }
    let config = SamplerConfig {
        fudge: Some(SteerKnobs {
            spec: "science.probe.json".into(),
            weight: 3.0,
            top_k: 5,
        }),
        top_k: None,
        greedy: true,
        ..SamplerConfig::default()
    };
    let signals = Signals {
        fudge: Some(SteerScores {
            ids: (30..35).collect(),
            scores: [0.05f32, 0.2, 0.1, 0.9, 0.5].map(f32::ln).to_vec(),
        }),
        ..Signals::default()
    };
    let trace = Sampler::new(&config)
        .unwrap()
        .replay(&logits, History::new(&[], 0).with_signals(&signals), None)
        .unwrap();
    let mut rec = (*app.snapshot.steps[step]).clone();
    rec.token_id = trace.chosen.id;
    rec.trace = trace;
    app.snapshot.steps[step] = Arc::new(rec);
    app.selected = Some(step);
    app
}

#[test]
fn fudge_panel_shows_lm_probability_attribute_and_combined() {
    let app = fudge_app();
    let screen = text(&screen(&app, 120, 40));
    let step = app.selected.unwrap();
    // 2.2 + 3 ln 0.9 beats 3.0 + 3 ln 0.05 and every other candidate.
    assert_eq!(app.snapshot.steps[step].trace.chosen.id, 33);
    assert!(screen.contains("FUDGE (lambda=3 k=5)"), "{screen}");
    assert!(screen.contains("LM p") && screen.contains("P(attr)") && screen.contains("combined"));
    assert_snapshot!("fudge_panel", screen);
}

#[test]
fn attribute_tint_reads_the_chosen_tokens_probe_score() {
    let app = fudge_app();
    let rec = &app.snapshot.steps[app.selected.unwrap()];
    assert!((tint_score(&rec.trace, TintMode::Attribute) - 0.9).abs() < 1e-5);
    // A step without steering tints as 0.
    assert_eq!(
        tint_score(&app.snapshot.steps[0].trace, TintMode::Attribute),
        0.0
    );
    assert_eq!(TintMode::Rank.next(), TintMode::Attribute);
}

#[test]
fn weight_knobs_step_and_toggle_only_with_a_probe_or_reward() {
    let fudge = Knob::named("fudge λ").expect("the FUDGE knob");
    let mut c = SamplerConfig::default();
    fudge.adjust(&mut c, 1);
    assert_eq!(c.fudge, None, "no probe: nothing to turn on");
    assert_eq!(fudge.value(&c), "off");
    c.fudge = Some(SteerKnobs {
        spec: "p".into(),
        weight: 1.0,
        top_k: 100,
    });
    fudge.adjust(&mut c, 1);
    assert_eq!(fudge.value(&c), "1.25");
    let old = fudge.toggle(&mut c, None);
    assert_eq!((old, c.fudge.as_ref().unwrap().weight), (Some(1.25), 0.0));
    fudge.toggle(&mut c, old);
    assert_eq!(c.fudge.as_ref().unwrap().weight, 1.25);
}
