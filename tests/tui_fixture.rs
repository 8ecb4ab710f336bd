//! The recorded demo session the TUI snapshot tests read.

mod tui_common;

use logitscope::tui::synthetic::demo_session;

/// Regenerate `tests/fixtures/session_demo.json` from the synthetic generator:
/// `cargo test --test tui_fixture -- --ignored`.
#[test]
#[ignore]
fn regenerate_demo_fixture() {
    demo_session(40, 42)
        .save(&tui_common::fixture_path())
        .unwrap();
}

#[test]
fn fixture_loads_and_is_consistent() {
    let s = tui_common::session();
    assert!(!s.steps.is_empty());
    for (i, step) in s.steps.iter().enumerate() {
        assert_eq!(step.index, i);
        assert_eq!(s.info.vocab[step.token_id as usize], step.text);
        for column in &step.temperature_sweep {
            assert_eq!(column.probs.len(), step.trace.candidates.len());
        }
    }
    assert_eq!(s.to_snapshot().steps.len(), s.steps.len());
}

#[test]
fn synthetic_sessions_are_deterministic() {
    assert_eq!(demo_session(5, 3), demo_session(5, 3));
    assert_ne!(demo_session(5, 3), demo_session(5, 4));
}
