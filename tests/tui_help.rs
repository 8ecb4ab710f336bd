//! The help overlay is generated from the tabs' key maps; these tests check that the keys
//! handled outside those maps are named too: every key that does something in a tab (or in
//! the knob panel) is named in that tab's section of the help, unless it does there exactly
//! what it does everywhere, whose section names it. The README quotes the same text.

mod tui_common;

use crossterm::event::{Event as InputEvent, KeyCode, KeyEvent, KeyModifiers};
use logitscope::tui::app::{App, Focus, Tab};
use logitscope::tui::keymap::map;
use logitscope::tui::ui::Screen;
use logitscope::tui::widgets::help::{help_text, sections};
use tui_common::loaded_app;

/// Every key worth trying: printable ASCII and the named keys the map uses.
fn all_keys() -> Vec<KeyCode> {
    let mut keys: Vec<KeyCode> = (b' '..=b'~').map(|c| KeyCode::Char(c as char)).collect();
    keys.extend([
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Home,
        KeyCode::End,
        KeyCode::PageUp,
        KeyCode::PageDown,
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Delete,
    ]);
    keys
}

/// The words a help line may use for `key`.
fn labels(key: KeyCode) -> Vec<String> {
    let arrows = |a: &str| vec![a.to_string(), "arrows".to_string()];
    match key {
        KeyCode::Char(' ') => vec!["space".into()],
        // The unshifted twins of + and -.
        KeyCode::Char('=') => vec!["=".into(), "+".into()],
        KeyCode::Char('_') => vec!["_".into(), "-".into()],
        KeyCode::Char(c) => vec![c.to_string()],
        KeyCode::Up => arrows("↑"),
        KeyCode::Down => arrows("↓"),
        KeyCode::Left => arrows("←"),
        KeyCode::Right => arrows("→"),
        KeyCode::Home => vec!["home".into()],
        KeyCode::End => vec!["end".into()],
        KeyCode::PageUp => vec!["pgup".into()],
        KeyCode::PageDown => vec!["pgdn".into()],
        KeyCode::Enter => vec!["enter".into()],
        KeyCode::Esc => vec!["esc".into()],
        KeyCode::Tab | KeyCode::BackTab => vec!["tab".into()],
        other => vec![format!("{other:?}")],
    }
}

/// The whitespace-separated words of `text`, with brackets around them removed.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_start_matches('(')
                .trim_end_matches([')', ',', ';', ':'])
                .to_string()
        })
        .collect()
}

/// The words of the help section headed `head`, and of the sections under it (the knob
/// panel's is indented under the main tab's).
fn section(head: &str) -> Vec<String> {
    let all = sections();
    let start = all
        .iter()
        .position(|s| s.head == head)
        .unwrap_or_else(|| panic!("no help section {head:?}"));
    all[start..]
        .iter()
        .enumerate()
        .take_while(|(i, s)| *i == 0 || s.head.starts_with(' '))
        .flat_map(|(_, s)| s.entries.iter().flat_map(|e| words(e)))
        .collect()
}

fn app_on(tab: Tab, focus: Focus) -> App {
    let mut app = loaded_app();
    app.tab = tab;
    app.focus = focus;
    app
}

#[test]
fn every_key_is_in_the_help_of_its_tab() {
    let everywhere = section("everywhere:");
    assert!(everywhere.contains(&"space".to_string()), "{everywhere:?}");
    let on_main = app_on(Tab::Main, Focus::Main);
    let mut missing = Vec::new();
    let mut checked = 0;
    for &tab in Tab::ALL {
        for focus in [Focus::Main, Focus::Knobs] {
            if focus == Focus::Knobs && tab != Tab::Main {
                continue;
            }
            let head = if tab == Tab::Main {
                "main:".to_string()
            } else {
                format!("{} tab:", tab.spec().short)
            };
            let app = app_on(tab, focus);
            let here = section(&head);
            assert!(!here.is_empty(), "empty help section {head:?}");
            for code in all_keys() {
                let ev = InputEvent::Key(KeyEvent::new(code, KeyModifiers::NONE));
                let Some(action) = map(&app, &Screen::default(), &ev) else {
                    continue;
                };
                checked += 1;
                let as_everywhere = map(&on_main, &Screen::default(), &ev)
                    .is_some_and(|a| format!("{a:?}") == format!("{action:?}"));
                let named = |ws: &[String]| labels(code).iter().any(|l| ws.contains(l));
                if !(named(&here) || as_everywhere && named(&everywhere)) {
                    missing.push(format!("{tab:?}/{focus:?}: {code:?} -> {action:?}"));
                }
            }
        }
    }
    assert!(checked > 80, "only {checked} keys mapped");
    assert!(
        missing.is_empty(),
        "keys missing from the help:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_help_fits_the_smallest_terminal_width() {
    let text = help_text();
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest + 4 <= 80, "a help line is {widest} columns wide");
    assert!(
        text.contains("beams tab:") && text.contains("tokens tab:"),
        "{text}"
    );
}

#[test]
fn the_readme_quotes_the_help() {
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(help_text().trim_end()),
        "README's key list differs from the help"
    );
}
