//! Saved sessions: every branch (drawn, taken, re-rolled) reopens exactly on the same model,
//! `replay` reports no divergence and exports the current branch in `generate --json`'s
//! schema, a corrupt file is one line, and a changed knob history is caught as a divergence.

mod common;

use assert_cmd::Command;
use logitscope::decode::SamplerConfig;
use logitscope::engine::session::{Session, SessionFile};

use common::{fixture, load};

fn knobs(seed: u64) -> SamplerConfig {
    SamplerConfig {
        temperature: 0.9,
        top_k: Some(30),
        seed,
        ..SamplerConfig::default()
    }
}

/// A session with three branches: drawn steps, a hand-taken token, a re-roll under other knobs.
fn session_with_branches() -> Session {
    let mut s = Session::new(
        load(&fixture("spec-target")),
        "The quick brown fox",
        knobs(3),
    )
    .unwrap();
    tch::set_num_threads(1);
    for _ in 0..6 {
        s.step().unwrap();
    }
    let other = s.steps()[2].trace.candidates[3].id;
    s.branch(2, other).unwrap();
    for _ in 0..3 {
        s.step().unwrap();
    }
    s.set_config(knobs(9)).unwrap();
    s.reroll(4).unwrap();
    for _ in 0..4 {
        s.step().unwrap();
    }
    s.switch_branch(1).unwrap();
    s
}

#[test]
fn a_saved_session_reopens_exactly() {
    let s = session_with_branches();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    s.to_file().save(&path).unwrap();
    let file = SessionFile::load(&path).unwrap();
    assert_eq!(file.branches.len(), 3);
    let mut again = Session::new(load(&fixture("spec-target")), "x", knobs(0)).unwrap();
    // The same thread count as the original: then even the logits come out bit for bit.
    tch::set_num_threads(1);
    assert_eq!(again.replay(&file).unwrap(), None);
    assert_eq!(again.to_file(), file, "every branch, step, knob and draw");
    let snap = (s.snapshot(), again.snapshot());
    assert_eq!(snap.0.current_branch, snap.1.current_branch);
    for (a, b) in snap.0.steps.iter().zip(&snap.1.steps) {
        assert_eq!(a.trace, b.trace, "the reopened steps show the same numbers");
    }
}

#[test]
fn a_changed_history_is_reported_as_the_first_divergence() {
    let s = session_with_branches();
    let mut file = s.to_file();
    // Claim step 1 of branch 0 drew another token.
    let st = &mut file.branches[0].steps[1];
    st.token_id = (st.token_id + 1) % 300;
    let mut again = Session::new(load(&fixture("spec-target")), "x", knobs(0)).unwrap();
    let d = again.replay(&file).unwrap().expect("a divergence");
    assert_eq!((d.branch, d.step), (0, 1));
}

#[test]
fn replay_on_the_command_line_and_corrupt_files() {
    let s = session_with_branches();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let mut file = s.to_file();
    file.model = fixture("spec-target").display().to_string();
    file.save(&path).unwrap();
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args(["replay", path.to_str().unwrap(), "--threads", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "replayed 3 branches, {} steps: no divergence",
            file.steps()
        )),
        "{stdout}"
    );
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args(["replay", path.to_str().unwrap(), "--threads", "1", "--json"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "prompt");
    let steps: Vec<u64> = lines
        .iter()
        .filter(|l| l["type"] == "step")
        .map(|l| l["token_id"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = s.steps().iter().map(|r| r.token_id as u64).collect();
    assert_eq!(steps, want, "the current branch");
    // A truncated file is one line, exit 2.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args(["replay", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("truncated or corrupt"), "{err}");
}
