//! Keys and mouse to actions, including mouse hits recorded by a real draw.

mod tui_common;

use crossterm::event::{
    Event as InputEvent, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use logitscope::tui::action::Action;
use logitscope::tui::app::Focus;
use logitscope::tui::keymap::map;
use logitscope::tui::ui::Screen;
use logitscope::tui::update;
use tui_common::{drawn, loaded_app};

fn key(code: KeyCode) -> InputEvent {
    InputEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> InputEvent {
    InputEvent::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn arrows_depend_on_focus() {
    let mut app = loaded_app();
    assert!(matches!(
        map(&app, &Screen::default(), &key(KeyCode::Left)),
        Some(Action::SelectPrev)
    ));
    assert!(matches!(
        map(&app, &Screen::default(), &key(KeyCode::Down)),
        Some(Action::MoveCandidate(1))
    ));
    app.focus = Focus::Knobs;
    assert!(matches!(
        map(&app, &Screen::default(), &key(KeyCode::Left)),
        Some(Action::AdjustKnob(-1))
    ));
    assert!(matches!(
        map(&app, &Screen::default(), &key(KeyCode::Down)),
        Some(Action::MoveKnob(1))
    ));
}

#[test]
fn typing_in_the_prompt_editor_does_not_trigger_commands() {
    let mut app = loaded_app();
    update(&mut app, Action::EditPrompt);
    assert!(matches!(
        map(&app, &Screen::default(), &key(KeyCode::Char('q'))),
        Some(Action::Edit(_))
    ));
    let ctrl_c = InputEvent::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(matches!(
        map(&app, &Screen::default(), &ctrl_c),
        Some(Action::Quit)
    ));
    assert!(matches!(
        map(&app, &Screen::default(), &key(KeyCode::Esc)),
        Some(Action::Cancel)
    ));
}

#[test]
fn main_keys() {
    let app = loaded_app();
    for (code, want) in [
        (KeyCode::Char(' '), "Step"),
        (KeyCode::Char('a'), "ToggleAutoplay"),
        (KeyCode::Char('R'), "Reroll"),
        (KeyCode::Char('b'), "OpenBranches"),
        (KeyCode::Char('e'), "EditPrompt"),
        (KeyCode::Char('?'), "ToggleHelp"),
        (KeyCode::Char('q'), "Quit"),
        (KeyCode::Enter, "TakeCandidate"),
        (KeyCode::Home, "SelectFirst"),
        (KeyCode::End, "SelectLast"),
        (KeyCode::Tab, "ToggleFocus"),
    ] {
        assert_eq!(
            format!("{:?}", map(&app, &Screen::default(), &key(code)).unwrap()),
            want
        );
    }
}

#[test]
fn clicks_select_steps_candidates_and_knobs() {
    let mut app = loaded_app();
    let (_, sc) = drawn(&app, 120, 40);
    let t = sc.hits.transcript;
    // Row 1 of the transcript holds generated tokens only.
    let click = mouse(MouseEventKind::Down(MouseButton::Left), t.x + 2, t.y + 1);
    let Some(Action::SelectStep(step)) = map(&app, &sc, &click) else {
        panic!("no step under click")
    };
    update(&mut app, Action::SelectStep(step));
    assert_eq!(app.selected, Some(step));
    let (row, index) = sc.hits.candidates[2];
    let click = mouse(MouseEventKind::Down(MouseButton::Left), 10, row);
    assert!(matches!(map(&app, &sc, &click), Some(Action::HighlightCandidate(i)) if i == index));
    let k = sc.hits.knobs;
    let wheel = mouse(MouseEventKind::ScrollUp, k.x + 3, k.y + 1);
    assert!(matches!(
        map(&app, &sc, &wheel),
        Some(Action::ScrollKnob { knob: 1, dir: 1 })
    ));
    let click = mouse(MouseEventKind::Down(MouseButton::Left), k.x + 3, k.y + 3);
    assert!(matches!(
        map(&app, &sc, &click),
        Some(Action::SelectKnob(3))
    ));
}
