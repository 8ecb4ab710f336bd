//! Snapshot tests of the attention and cache tabs on synthetic captures over the recorded
//! demo session (no model): the sink's column and slot must stand out.

mod tui_common;

use std::sync::Arc;

use half::f16;
use insta::assert_snapshot;
use logitscope::engine::inspect::{AttentionView, CacheView, LayerReach};
use logitscope::engine::protocol::{Command, Event};
use logitscope::model::cache::{CachePolicy, Slot, SlotKind};
use logitscope::model::taps::AttentionRow;
use logitscope::tui::app::{App, Tab};
use logitscope::tui::tabs::attention::{overlay_scores, AttnAction};
use logitscope::tui::tabs::cache::{cache_tab_view, CacheAction};
use logitscope::tui::{update, Action};
use tui_common::{loaded_app, screen, text};

const LAYERS: usize = 2;
const HEADS: usize = 3;
const SINKS: usize = 4;
const WINDOW: usize = 8;

/// Rows like a real model's: half the mass on key 0, a quarter on the previous key, the rest
/// spread; under `sinks:4,8` from query 12 on (keys 0..4 and the 8 most recent).
fn attention(tokens: &[String], prompt_len: usize) -> AttentionView {
    let rows = (0..tokens.len())
        .map(|q| {
            let keys: Vec<usize> = if q < SINKS + WINDOW {
                (0..=q).collect()
            } else {
                (0..SINKS).chain(q + 1 - WINDOW..=q).collect()
            };
            let s = keys.len();
            let mut one = vec![0f32; s];
            one[0] += 0.5;
            one[s - 1] += 0.25;
            for x in one.iter_mut() {
                *x += 0.25 / s as f32;
            }
            if s == 1 {
                one[0] = 1.0;
            }
            let data = (0..LAYERS * HEADS)
                .flat_map(|_| one.iter().map(|&x| f16::from_f32(x)))
                .collect();
            Some(Arc::new(AttentionRow::new(q, &keys, LAYERS, HEADS, data)))
        })
        .collect();
    AttentionView {
        layers: LAYERS,
        heads: HEADS,
        tokens: tokens.to_vec(),
        prompt_len,
        rows,
        bytes: 12_345,
    }
}

fn cache(tokens: &[String]) -> CacheView {
    let n = tokens.len() - 1;
    let positions: Vec<usize> = (0..SINKS).chain(n - WINDOW..n).collect();
    CacheView {
        policy: CachePolicy::Sinks {
            s: SINKS,
            w: WINDOW,
        },
        slots: positions
            .iter()
            .enumerate()
            .map(|(i, &p)| Slot {
                cache_pos: i,
                position: p,
                kind: if i < SINKS {
                    SlotKind::Sink
                } else {
                    SlotKind::Recent
                },
            })
            .collect(),
        tokens: positions.iter().map(|&p| tokens[p].clone()).collect(),
        evicted: n - SINKS - WINDOW,
        bytes: 98_304,
        context_len: 8192,
        layers: vec![LayerReach::Global; 30],
    }
}

/// The demo app on `tab` with synthetic attention and cache views, the last step selected.
fn app(tab: Tab) -> App {
    let mut app = loaded_app();
    let cmds = update(&mut app, Action::SetTab(Tab::Attention));
    assert_eq!(cmds, vec![Command::SetAttentionCapture(true)]);
    assert!(update(&mut app, Action::SetTab(tab)).is_empty());
    let snap = &app.snapshot;
    let tokens: Vec<String> = snap
        .prompt_tokens
        .iter()
        .map(|(_, t)| t.clone())
        .chain(snap.steps.iter().map(|s| s.text.clone()))
        .collect();
    let prompt_len = snap.prompt_tokens.len();
    let view = attention(&tokens, prompt_len);
    update(&mut app, Action::Engine(Event::Attention(Arc::new(view))));
    update(
        &mut app,
        Action::Engine(Event::Cache(Arc::new(cache(&tokens)))),
    );
    update(&mut app, Action::SelectLast);
    app
}

#[test]
fn attention_tab() {
    assert_snapshot!(text(&screen(&app(Tab::Attention), 120, 30)));
}

#[test]
fn attention_tab_scrolled_head() {
    let mut app = app(Tab::Attention);
    update(&mut app, Action::Attention(AttnAction::Head(1)));
    update(&mut app, Action::Attention(AttnAction::Layer(1)));
    update(
        &mut app,
        Action::Attention(AttnAction::Scroll { dx: 0, dy: -5 }),
    );
    assert_snapshot!(text(&screen(&app, 100, 24)));
}

#[test]
fn cache_tab() {
    assert_snapshot!(text(&screen(&app(Tab::Cache), 120, 30)));
}

#[test]
fn cache_keys_change_the_policy_live() {
    let mut app = app(Tab::Cache);
    let set = |app: &mut App, a| update(app, Action::Cache(a));
    assert_eq!(
        set(&mut app, CacheAction::Sinks(1)),
        vec![Command::SetCachePolicy(CachePolicy::Sinks { s: 5, w: 8 })]
    );
    assert_eq!(
        set(&mut app, CacheAction::Window(8)),
        vec![Command::SetCachePolicy(CachePolicy::Sinks { s: 4, w: 16 })]
    );
    assert_eq!(
        set(&mut app, CacheAction::CyclePolicy),
        vec![Command::SetCachePolicy(CachePolicy::Full)]
    );
}

#[test]
fn overlay_tints_the_sink_brightest() {
    let mut app = app(Tab::Main);
    assert!(overlay_scores(&app).is_none());
    update(&mut app, Action::Attention(AttnAction::ToggleOverlay));
    let scores = overlay_scores(&app).unwrap();
    let first = scores[0].unwrap();
    assert!(scores.iter().flatten().all(|&p| p <= first));
    assert!(scores[SINKS].is_none(), "evicted positions get no tint");
    let screen = text(&screen(&app, 120, 30));
    assert!(screen.contains("tint: attention L0 mean (o)"), "{screen}");
}

#[test]
fn cache_tab_with_sliding_window_layers() {
    // Gemma-like: every 6th layer global, the rest sliding (a window of 5 here, so that the
    // 12 slots split into those every layer still sees and those only the global ones do).
    let mut app = app(Tab::Cache);
    let mut view = (**app.cache.view.as_ref().unwrap()).clone();
    let s = LayerReach::Sliding { window: 5 };
    let g = LayerReach::Global;
    view.layers = vec![s, s, s, s, s, g, s, s, s, s, s, g];
    update(&mut app, Action::Engine(Event::Cache(Arc::new(view))));
    let tab = cache_tab_view(&app, 20, 40).unwrap();
    let layers = tab.layers.as_ref().unwrap();
    assert_eq!((layers.window, layers.global.as_slice()), (5, &[6, 12][..]));
    // The next token takes slot 12: sliding layers see slots 8..=12.
    let seen: Vec<(usize, Option<bool>)> = tab
        .lines
        .iter()
        .map(|l| (l.cache_pos, l.in_window))
        .collect();
    for (slot, in_window) in seen {
        assert_eq!(in_window, Some(slot >= 8), "slot {slot}");
    }
    let shown = text(&screen(&app, 120, 30));
    assert!(shown.contains("global ×2 (layers 6, 12)"), "{shown}");
    assert_snapshot!(shown);
}
