//! End to end: the real binary on the real default model, driven in tmux like a user.

mod common;

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Tmux {
    name: String,
}

impl Tmux {
    fn start(cmd: &str) -> Tmux {
        let name = format!("logitscope-e2e-{}", std::process::id());
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "160",
                "-y",
                "48",
                cmd,
            ])
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Tmux { name }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("tmux")
                .args(["send-keys", "-t", &self.name, k])
                .status()
                .unwrap();
            assert!(ok.success());
            sleep(Duration::from_millis(150));
        }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `pred`; panics with the screen after `secs`.
    fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if t0.elapsed() > Duration::from_secs(secs) {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

/// The value shown on the knob panel's `temperature` line.
fn temperature(screen: &str) -> f32 {
    let line = screen
        .lines()
        .find(|l| l.contains("temperature"))
        .unwrap_or("");
    let after = &line[line.find("temperature").unwrap_or(0)..];
    after
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find_map(|w| w.parse().ok())
        .unwrap_or(f32::NAN)
}

#[test]
fn step_knob_help_branch_quit_on_the_real_model() {
    if !common::tmux() {
        return;
    }
    let Some(model) = common::default_model() else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_logitscope");
    let t = Tmux::start(&format!(
        "{bin} --model {} --prompt 'The capital of France is' --seed 7; echo EXITED=$?; sleep 60",
        model.display()
    ));
    t.wait("the model to load", 180, |s| {
        s.contains("ctx ") && s.contains("Knobs")
    });

    // Step five tokens.
    for i in 1..=5 {
        t.keys(&["Space"]);
        t.wait(&format!("step {i}"), 60, |s| {
            s.contains(&format!("step {i}/{i}"))
        });
    }
    let s = t.screen();
    assert!(s.contains("The capital of France is"), "{s}");
    // Between steps the panel shows the next token's distribution before it is chosen.
    assert!(s.contains("Next token 6 · not chosen yet"), "{s}");

    // Raise the temperature: the knob panel and the distribution follow.
    let before = temperature(&s);
    t.keys(&["+", "+"]);
    let s = t.wait("a higher temperature", 20, |s| temperature(s) > before);
    assert!(temperature(&s) > 1.0, "{s}");

    // Help overlay opens and closes.
    t.keys(&["?"]);
    t.wait("the help overlay", 20, |s| {
        s.contains("take the highlighted candidate")
    });
    t.keys(&["Escape"]);
    t.wait("the help to close", 20, |s| {
        !s.contains("take the highlighted candidate")
    });

    // Branch at step 2: select it (from the pending slot), highlight another candidate,
    // take it.
    t.keys(&["Left", "Left", "Left", "Left"]);
    t.wait("step 2 selected", 20, |s| s.contains("step 2/5"));
    t.keys(&["Down", "Down", "Enter"]);
    t.wait("the new branch", 60, |s| s.contains("branch 1"));
    t.keys(&["b"]);
    let s = t.wait("the branch list", 20, |s| {
        s.to_lowercase().contains("branches")
    });
    assert!(s.contains("fork") || s.contains("step"), "{s}");
    t.keys(&["Escape"]);

    // The beam tab: expand the search two steps.
    t.keys(&["2"]);
    t.wait("the beam tab", 20, |s| s.contains("beam search"));
    t.keys(&["Space"]);
    t.wait("one beam expansion", 60, |s| s.contains("step 1/"));
    t.keys(&["Space"]);
    t.wait("two beam expansions", 60, |s| s.contains("step 2/"));

    // The attention tab: a middle layer, where the first token's column lights up.
    t.keys(&["3"]);
    t.wait("the attention tab", 20, |s| {
        s.contains("Attention · layer 0/")
    });
    t.keys(&["]"; 12]);
    let s = t.wait("layer 12", 20, |s| s.contains("layer 12/"));
    let sink_rows = s
        .lines()
        .filter(|l| {
            l.contains('│')
                && l.split_whitespace()
                    .nth(3)
                    .is_some_and(|c| c.starts_with("██"))
        })
        .count();
    assert!(
        sink_rows >= 3,
        "the sink column is visible at layer 12:\n{s}"
    );

    // The cache tab: switch the policy live.
    t.keys(&["4"]);
    t.wait("the cache tab", 20, |s| s.contains("policy full"));
    t.keys(&["p"]);
    t.wait("a window policy", 20, |s| s.contains("policy window"));
    t.keys(&["p", "p"]);

    // The speculative tab: turn it on, step two rounds of prompt lookup, switch the draft
    // to an early exit live and run one more round.
    t.keys(&["5"]);
    t.wait("the speculative tab", 20, |s| {
        s.contains("Speculative · off")
    });
    t.keys(&["s", "Space"]);
    t.wait("a speculative round", 60, |s| s.contains("1 rounds ·"));
    t.keys(&["d", "d", "d"]);
    t.wait("an early-exit draft", 20, |s| s.contains("draft self:15"));
    t.keys(&["Space"]);
    let s = t.wait("a round of self:15", 60, |s| {
        s.contains("1 rounds ·") && s.contains("draft self:15 γ 4")
    });
    assert!(s.contains("accept min(1, p/q)"), "{s}");
    t.keys(&["s", "1"]);
    t.wait("the main tab", 20, |s| s.contains("Knobs"));

    // The lens tab: what every layer predicts at the selected step; switch the shading.
    t.keys(&["6"]);
    let s = t.wait("the lens", 60, |s| {
        s.contains("Logit lens · step") && s.contains("the model's output")
    });
    assert!(s.contains("   30 "), "every layer has a row:\n{s}");
    t.keys(&["k", "Up", "Up"]);
    t.wait("KL shading on layer 28", 20, |s| {
        s.contains("shade: KL to final") && s.contains("layer 28: after block 28")
    });
    // The crowd tab: four samples of eight tokens, chosen by MBR with chrF.
    t.keys(&["7", "-", "-", "-", "-", "[", "[", "[", "r"]);
    let s = t.wait("a chosen sample", 90, |s| s.contains("won ─"));
    assert!(s.contains("Crowd · 4 samples · mbr:chrf · chosen #"), "{s}");
    assert!(s.contains('★'), "{s}");
    t.keys(&["1"]);
    t.wait("the main tab", 20, |s| s.contains("Knobs"));

    // Never frozen: while autoplay generates, a key is answered at once.
    t.keys(&["a"]);
    t.wait("autoplay", 20, |s| s.contains("playing"));
    let t0 = Instant::now();
    Command::new("tmux")
        .args(["send-keys", "-t", &t.name, "?"])
        .status()
        .unwrap();
    let t1 = Instant::now();
    loop {
        if t.screen().contains("take the highlighted candidate") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the UI froze during autoplay"
        );
        sleep(Duration::from_millis(5));
    }
    eprintln!(
        "input latency during autoplay: {:.0} ms (key sent after {:.0} ms)",
        t0.elapsed().as_secs_f64() * 1e3,
        (t1 - t0).as_secs_f64() * 1e3
    );
    t.keys(&["Escape", "a"]);

    // Quit promptly.
    let t0 = Instant::now();
    t.keys(&["q"]);
    t.wait("the program to exit", 10, |s| s.contains("EXITED=0"));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "quit took {:?}",
        t0.elapsed()
    );
}
