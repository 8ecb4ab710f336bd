//! View builders and layout robustness: what each panel is given, odd tokens, tiny terminals,
//! and the render-time budget.

mod tui_common;

use logitscope::engine::protocol::Event;
use logitscope::tui::bench::bench_render;
use logitscope::tui::synthetic::demo_session;
use logitscope::tui::widgets::distribution::{distribution_view, DistLine};
use logitscope::tui::widgets::status::status_view;
use logitscope::tui::widgets::temperature::temperature_view;
use logitscope::tui::{update, Action, App, TintMode};
use ratatui::style::Modifier;
use tui_common::{drawn, loaded_app, redraw, screen, synthetic_app, text};

#[test]
fn distribution_marks_cutoffs_removals_and_the_chosen_token() {
    let mut app = synthetic_app();
    update(&mut app, Action::SelectStep(12));
    let view = distribution_view(&app, 200);
    let trace = &app.selected_record().unwrap().trace;
    let markers: Vec<&String> = view
        .lines
        .iter()
        .filter_map(|l| {
            if let DistLine::Marker(m) = l {
                Some(m)
            } else {
                None
            }
        })
        .collect();
    assert!(
        markers.iter().any(|m| m.starts_with("top_p")),
        "{markers:?}"
    );
    let rows: Vec<_> = view
        .lines
        .iter()
        .filter_map(|l| {
            if let DistLine::Candidate(c) = l {
                Some(c)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(rows.len(), trace.candidates.len());
    assert_eq!(rows.iter().filter(|r| r.chosen).count(), 1);
    for (row, c) in rows.iter().zip(&trace.candidates) {
        assert_eq!(row.removed_by.is_some(), c.removed_by.is_some());
    }
    // The marker sits right after the top-p cutoff rank.
    let top_p = trace.stages.iter().find(|s| s.name == "top_p").unwrap();
    let at = view
        .lines
        .iter()
        .position(|l| matches!(l, DistLine::Marker(m) if m.starts_with("top_p")))
        .unwrap();
    assert!(
        matches!(&view.lines[at - 1], DistLine::Candidate(c) if c.index == top_p.cutoff_rank.unwrap())
    );
}

#[test]
fn distribution_window_keeps_the_highlight_visible() {
    let mut app = loaded_app();
    update(&mut app, Action::MoveCandidate(25));
    let view = distribution_view(&app, 6);
    assert!(view.lines.len() <= 6);
    assert!(view
        .lines
        .iter()
        .any(|l| matches!(l, DistLine::Candidate(c) if c.highlighted)));
}

#[test]
fn temperature_columns_are_sorted_and_flatten_as_t_rises() {
    let app = loaded_app();
    let view = temperature_view(&app, 5);
    let temps: Vec<f32> = view.temperatures.iter().map(|t| t.0).collect();
    assert!(temps.windows(2).all(|w| w[0] < w[1]), "{temps:?}");
    assert_eq!(view.temperatures.iter().filter(|t| t.1).count(), 1);
    let top: Vec<f32> = view.rows[0].probs.clone();
    assert!(
        top.windows(2).all(|w| w[0] >= w[1]),
        "top-1 loses mass as T rises: {top:?}"
    );
}

#[test]
fn status_shows_model_context_speed_and_seed() {
    let app = synthetic_app();
    let view = status_view(&app);
    let all = view.segments.join(" | ");
    for part in [
        "demo-200 135M bf16",
        "ctx 46/8192",
        "ms/tok",
        "tok/s",
        "KV",
        "seed 42",
    ] {
        assert!(all.contains(part), "{all}");
    }
    assert_eq!(view.state, "⏸ paused");
}

#[test]
fn the_selected_step_is_reversed_in_the_transcript() {
    let mut app = loaded_app();
    update(&mut app, Action::SelectStep(0));
    let (buffer, sc) = drawn(&app, 120, 40);
    let t = sc.hits.transcript;
    let piece = &sc.transcript.pieces[sc.transcript.prompt_len];
    let cell = &buffer[(
        t.x + piece.col,
        t.y + (piece.line - sc.transcript.scroll) as u16,
    )];
    assert!(cell.modifier.contains(Modifier::REVERSED));
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let app = synthetic_app();
    let buffer = screen(&app, 120, 40);
    assert!(buffer
        .content
        .iter()
        .all(|c| !c.symbol().chars().any(|ch| ch.is_control())));
    assert!(
        text(&buffer).contains('␛'),
        "the ESC token shows as a control picture"
    );
}

#[test]
fn every_size_renders_the_screen_or_says_it_is_too_small() {
    let mut app = loaded_app();
    let (min_w, min_h) = logitscope::tui::ui::MIN_SIZE;
    for (w, h) in [
        (1, 1),
        (10, 3),
        (79, 24),
        (80, 23),
        (80, 24),
        (81, 25),
        (133, 47),
        (250, 80),
    ] {
        let (buffer, sc) = drawn(&app, w, h);
        let shown = text(&buffer);
        let big_enough = w >= min_w && h >= min_h;
        if big_enough {
            assert!(shown.contains("Distribution"), "{w}×{h}:\n{shown}");
            // Every clickable region lies on the screen.
            let area = ratatui::layout::Rect::new(0, 0, w, h);
            for r in [sc.hits.transcript, sc.hits.distribution, sc.hits.knobs] {
                assert_eq!(r.intersection(area), r, "{w}×{h}: {r:?}");
            }
        } else if h >= 3 && w >= 40 {
            assert!(shown.contains("terminal too small"), "{w}×{h}:\n{shown}");
        }
    }
    update(&mut app, Action::ToggleHelp);
    assert!(text(&screen(&app, 80, 24)).contains("Keys (esc closes)"));
    update(&mut app, Action::Cancel);
    update(&mut app, Action::OpenBranches);
    let shown = text(&screen(&app, 80, 24));
    assert!(shown.contains("Branches (enter switches") && !shown.contains("Keys (esc closes)"));
}

#[test]
fn an_empty_timeline_renders() {
    let mut app = App::new(TintMode::Rank, false);
    let [loaded, _, _] = tui_common::session().events();
    update(&mut app, Action::Engine(loaded));
    update(
        &mut app,
        Action::Engine(Event::Timeline(Default::default())),
    );
    assert!(text(&screen(&app, 100, 30)).contains("no step selected"));
}

#[test]
fn long_sessions_lay_out_and_scroll() {
    let mut app = App::new(TintMode::Entropy, false);
    for event in demo_session(2000, 1).events() {
        update(&mut app, Action::Engine(event));
    }
    let (_, mut sc) = drawn(&app, 200, 60);
    assert!(
        sc.transcript.scroll > 0,
        "the newest step is scrolled into view"
    );
    update(&mut app, Action::SelectFirst);
    redraw(&app, &mut sc, 200, 60);
    assert_eq!(sc.transcript.scroll, 0);
}

/// The render budget: `cargo test --release --test tui_views -- --ignored --nocapture`.
#[test]
#[ignore]
fn render_budget_2000_steps_200x60() {
    let median = bench_render(2000, 200, 60, 200);
    println!("median frame: {median:?}");
    assert!(median.as_millis() < 16, "{median:?}");
}
