//! The help overlay cannot drift from the key map: every key that does something in a tab (or
//! in the knob panel) is named in that tab's part of the help, unless it does there exactly
//! what it does on the main screen, whose part names it. The README quotes the same text.

mod tui_common;

use crossterm::event::{Event as InputEvent, KeyCode, KeyEvent, KeyModifiers};
use logitscope::tui::app::{App, Focus, Tab};
use logitscope::tui::keymap::map;
use logitscope::tui::widgets::help::HELP;
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

/// The help lines of a section: from the line starting with `head` to the next section.
fn section(head: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in HELP.lines() {
        let starts_section = [
            "beams tab:",
            "attn tab:",
            "cache tab:",
            "spec tab:",
            "lens tab:",
            "crowd tab:",
            "tokens tab:",
            "Mouse:",
        ]
        .iter()
        .any(|h| line.starts_with(h));
        if starts_section {
            inside = !head.is_empty() && line.starts_with(head);
        } else if head.is_empty() && out.is_empty() {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn app_on(tab: Tab, focus: Focus) -> App {
    let mut app = loaded_app();
    app.tab = tab;
    app.focus = focus;
    app
}

#[test]
fn every_key_is_in_the_help_of_its_tab() {
    let main = app_on(Tab::Main, Focus::Main);
    let main_words = words(&section(""));
    assert!(main_words.contains(&"space".to_string()), "{main_words:?}");
    let mut missing = Vec::new();
    let mut checked = 0;
    for (tab, focus, head) in [
        (Tab::Main, Focus::Main, ""),
        (Tab::Main, Focus::Knobs, ""),
        (Tab::Beams, Focus::Main, "beams tab:"),
        (Tab::Attention, Focus::Main, "attn tab:"),
        (Tab::Cache, Focus::Main, "cache tab:"),
        (Tab::Speculative, Focus::Main, "spec tab:"),
        (Tab::Lens, Focus::Main, "lens tab:"),
        (Tab::Crowd, Focus::Main, "crowd tab:"),
        (Tab::Tokens, Focus::Main, "tokens tab:"),
    ] {
        let app = app_on(tab, focus);
        let here = words(&section(head));
        assert!(!here.is_empty(), "no help section {head:?}");
        for code in all_keys() {
            let ev = InputEvent::Key(KeyEvent::new(code, KeyModifiers::NONE));
            let Some(action) = map(&app, &ev) else {
                continue;
            };
            checked += 1;
            let as_on_main =
                map(&main, &ev).is_some_and(|a| format!("{a:?}") == format!("{action:?}"));
            let named = |ws: &[String]| labels(code).iter().any(|l| ws.contains(l));
            if !(named(&here) || as_on_main && named(&main_words)) {
                missing.push(format!("{tab:?}/{focus:?}: {code:?} -> {action:?}"));
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
fn the_readme_quotes_the_help() {
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(HELP.trim_end()),
        "README's key list differs from the help"
    );
}
