//! A/B: a second knob set on the same step's logits — in the TUI (B's panel beside A's, B's
//! knobs edited apart) and in `generate --json` (`"b"` in every step record).

mod common;
mod tui_common;

use std::sync::Arc;

use assert_cmd::Command;
use logitscope::engine::protocol::{Command as EngineCommand, Event};
use logitscope::tui::{update, Action};
use serde_json::Value;
use tui_common::{loaded_app, screen, text};

#[test]
fn the_tui_asks_for_the_shown_step_under_b_and_edits_b_apart() {
    let mut app = loaded_app();
    let step = app.selected.unwrap();
    update(&mut app, Action::ToggleAb);
    assert!(app.editing_b);
    let cmds = update(&mut app, Action::Frame);
    let Some(EngineCommand::PreviewB {
        step: asked,
        config,
    }) = cmds.last()
    else {
        panic!("expected a PreviewB, got {cmds:?}")
    };
    assert_eq!(*asked, Some(step));
    assert_eq!(**config, app.config);
    // Editing B changes B only, and asks again; A's knobs are not sent.
    let a_before = app.config.clone();
    update(&mut app, Action::AdjustKnob(1));
    let cmds = update(&mut app, Action::Frame);
    assert_eq!(app.config, a_before);
    assert!(matches!(&cmds[..], [EngineCommand::PreviewB { config, .. }] if **config != a_before));
    // The engine's answer is drawn beside A's panel.
    let mut b = (*app.snapshot.steps[step]).clone();
    b.trace.kept = 3;
    update(&mut app, Action::Engine(Event::PreviewB(Arc::new(b))));
    let s = text(&screen(&app, 160, 40));
    assert!(
        s.contains(" A · Distribution") && s.contains(" B · kept 3 ·"),
        "{s}"
    );
    assert!(s.contains("Knobs B (tab · v edits A)"), "{s}");
    update(&mut app, Action::ToggleAb);
    assert!(app.knobs_b.is_none() && !app.editing_b);
}

#[test]
fn generate_json_prints_each_step_under_b_with_the_same_draw() {
    let Some(path) = common::default_model() else {
        return;
    };
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args([
            "generate",
            "--model",
            path.to_str().unwrap(),
            "--prompt",
            "The capital of France is",
            "--max-tokens",
            "4",
            "--top-k",
            "40",
            "--seed",
            "1",
            "--json",
            "--b-knobs",
            r#"{"temperature":0.3,"top_p":0.5,"top_k":null}"#,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "step")
        .collect();
    assert_eq!(steps.len(), 4);
    for v in &steps {
        let b = &v["b"];
        assert_eq!(
            b["chosen"]["draw"], v["chosen"]["draw"],
            "the same uniform draw"
        );
        assert_eq!(b["top"], v["top"], "the same raw distribution");
        let names: Vec<&str> = b["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["temperature", "top_p"]);
        assert!(b["kept"].as_u64().unwrap() <= v["kept"].as_u64().unwrap());
    }
    // A bad B is one line.
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args([
            "generate",
            "--model",
            path.to_str().unwrap(),
            "--prompt",
            "x",
            "--json",
            "--b-knobs",
            r#"{"top_p":7}"#,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--b-knobs: top_p must be in (0, 1]"), "{err}");
}
