//! Snapshot tests of every panel, the popups and the whole screen, fed from the recorded
//! session in `tests/fixtures/session_demo.json`.

mod tui_common;

use insta::assert_snapshot;
use logitscope::engine::protocol::Event;
use logitscope::tui::app::App;
use logitscope::tui::widgets::branches::branches_view;
use logitscope::tui::widgets::distribution::distribution_view;
use logitscope::tui::widgets::help::help_view;
use logitscope::tui::widgets::knobs::knobs_view;
use logitscope::tui::widgets::status::status_view;
use logitscope::tui::widgets::temperature::temperature_view;
use logitscope::tui::widgets::too_small::TooSmallView;
use logitscope::tui::widgets::transcript::transcript_view;
use logitscope::tui::wrap::Wrap;
use logitscope::tui::{update, Action, TintMode};
use tui_common::{loaded_app, screen, text, widget};

const W: u16 = 120;
const H: u16 = 40;

/// The demo app with step 12 selected.
fn app() -> App {
    let mut app = loaded_app();
    update(&mut app, Action::SelectStep(12));
    app
}

#[test]
fn main_screen() {
    assert_snapshot!(text(&screen(&app(), W, H)));
}

#[test]
fn main_screen_minimum_size() {
    assert_snapshot!(text(&screen(&app(), 80, 24)));
}

#[test]
fn transcript_panel() {
    let app = app();
    let mut wrap = Wrap::default();
    wrap.ensure(&app.snapshot, app.version, W - 2);
    wrap.scroll_to(app.selected, 8);
    assert_snapshot!(text(&widget(W, 10, &transcript_view(&app, &wrap, 8))));
}

#[test]
fn distribution_panel() {
    let app = app();
    assert_snapshot!(text(&widget(86, 20, &distribution_view(&app, 16))));
}

#[test]
fn distribution_panel_preview() {
    let mut app = app();
    update(&mut app, Action::SelectKnob(2));
    update(&mut app, Action::AdjustKnob(-1));
    update(&mut app, Action::Frame);
    let mut preview = (**app.selected_record().unwrap()).clone();
    preview.config = app.config.clone();
    for c in &mut preview.trace.candidates {
        c.final_p *= 0.5;
    }
    update(&mut app, Action::Engine(Event::Preview(preview.into())));
    assert_snapshot!(text(&widget(86, 12, &distribution_view(&app, 8))));
}

#[test]
fn temperature_panel() {
    let app = app();
    assert_snapshot!(text(&widget(86, 12, &temperature_view(&app, 9))));
}

#[test]
fn knobs_panel() {
    let mut app = app();
    update(&mut app, Action::ToggleFocus);
    update(&mut app, Action::MoveKnob(3));
    assert_snapshot!(text(&widget(34, 19, &knobs_view(&app, 15))));
}

#[test]
fn status_bar() {
    let app = app();
    assert_snapshot!(text(&widget(W, 1, &status_view(&app))));
}

#[test]
fn help_overlay() {
    let mut app = app();
    update(&mut app, Action::ToggleHelp);
    assert_snapshot!(text(&screen(&app, W, H)));
    assert_snapshot!("help_alone", text(&widget(90, 34, &help_view())));
}

#[test]
fn branch_popup() {
    let mut app = app();
    update(&mut app, Action::OpenBranches);
    update(&mut app, Action::MoveBranch(1));
    assert_snapshot!(text(&widget(W, 8, &branches_view(&app).unwrap())));
    assert_snapshot!("branch_popup_screen", text(&screen(&app, W, H)));
}

#[test]
fn prompt_popup() {
    let mut app = app();
    update(&mut app, Action::EditPrompt);
    update(
        &mut app,
        Action::Edit(logitscope::tui::input::TextEdit::Left),
    );
    assert_snapshot!(text(&screen(&app, W, H)));
}

#[test]
fn too_small_message() {
    let view = TooSmallView {
        size: (60, 20),
        min: (80, 24),
    };
    assert_snapshot!(text(&widget(60, 20, &view)));
    assert_eq!(text(&screen(&app(), 60, 20)), text(&widget(60, 20, &view)));
}

#[test]
fn loading_gauge() {
    let mut app = App::new(TintMode::Probability, false);
    let loading = Event::Loading {
        progress: 0.4,
        message: "SmolLM2-135M weights".into(),
    };
    update(&mut app, Action::Engine(loading));
    assert_snapshot!(text(&screen(&app, 100, 24)));
}

#[test]
fn tint_modes_title() {
    let mut app = app();
    update(&mut app, Action::ToggleTint);
    let buffer = screen(&app, W, H);
    // Line 0 is the tab bar.
    assert!(text(&buffer)
        .lines()
        .nth(1)
        .unwrap()
        .contains("tint: entropy"));
}
