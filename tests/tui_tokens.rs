//! The tokens tab and `inspect tokens`: pieces with invalid UTF-8 as `\xNN`, specials marked,
//! generated tokens with the rank and probability they were drawn with; tabs are clickable.

mod common;
mod tui_common;

use assert_cmd::Command;
use crossterm::event::{
    Event as InputEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use insta::assert_snapshot;
use logitscope::tui::app::Tab;
use logitscope::tui::keymap::map;
use logitscope::tui::tabs::tokens::TokensAction;
use logitscope::tui::{update, Action};
use serde_json::Value;
use tui_common::{drawn, loaded_app, screen, text};

#[test]
fn tokens_tab_shows_pieces_and_how_a_generated_token_was_drawn() {
    let mut app = loaded_app();
    update(&mut app, Action::SetTab(Tab::Tokens));
    let n = app.snapshot.prompt_tokens.len();
    // The first generated token.
    update(&mut app, Action::Tokens(TokensAction::Move(n as i64)));
    let s = text(&screen(&app, 120, 30));
    let first = &app.snapshot.steps[0];
    assert!(
        s.contains(&format!(
            "generated at step 1 · rank {}",
            first.trace.chosen.rank
        )),
        "{s}"
    );
    assert_snapshot!("tokens_tab", s);
    update(&mut app, Action::Tokens(TokensAction::Move(i64::MIN / 2)));
    assert!(text(&screen(&app, 120, 30)).contains("part of the prompt"));
}

#[test]
fn a_click_on_a_tab_opens_it() {
    let app = loaded_app();
    let (_, sc) = drawn(&app, 120, 30);
    let (rect, tab) = sc.hits.tabs[5];
    assert_eq!(tab, Tab::Lens);
    let click = InputEvent::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: rect.x + 2,
        row: rect.y,
        modifiers: KeyModifiers::NONE,
    });
    let action = map(&app, &sc, &click).expect("a click on a tab is an action");
    assert!(matches!(action, Action::SetTab(Tab::Lens)));
}

#[test]
fn inspect_tokens_marks_specials_and_partial_utf8() {
    let Some(path) = common::default_model() else {
        return;
    };
    let path = path.display().to_string();
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args([
            "inspect", "tokens", "--model", &path, "--chat", "--prompt", "𝔘 hi", "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let toks = v["tokens"].as_array().unwrap();
    assert_eq!(toks[0]["piece"], "<|im_start|>");
    assert_eq!(toks[0]["special"], true);
    let partial = toks
        .iter()
        .find(|t| t["piece"] == "\\xf0\\x9d")
        .expect("the first bytes of 𝔘 are one token");
    assert_eq!(partial["bytes"], serde_json::json!([240, 157]));
    assert_eq!(partial["special"], false);
}
