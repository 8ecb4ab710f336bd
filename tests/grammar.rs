//! Grammar constraints (`--regex`, `--json-schema`, `--grammar`): the `grammar` stage on
//! hand-made masks, then properties on the real model — every finished output of a
//! constrained session matches its regex, or parses as JSON valid under its schema, whatever
//! the seed and temperature — and the command line's errors and JSON.

mod common;

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use assert_cmd::Command;
use logitscope::decode::contrast::Signals;
use logitscope::decode::grammar::{GrammarKind, GrammarMask, GrammarSpec};
use logitscope::decode::{DecodeError, History, Sampler, SamplerConfig};
use logitscope::engine::session::{EngineError, Session};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

// ---------------------------------------------------------------- the stage, no model

const EOS: u32 = 9;

fn config(kind: GrammarKind, source: &str) -> SamplerConfig {
    SamplerConfig {
        grammar: Some(GrammarSpec::new(kind, source)),
        top_k: None,
        greedy: true,
        ..SamplerConfig::default()
    }
}

/// Ten tokens, token 0 the most probable, then 1, ...
fn logits() -> Vec<f32> {
    (0..10).map(|i| -(i as f32)).collect()
}

fn signals(mask: GrammarMask) -> Signals {
    Signals {
        grammar: Some(Arc::new(mask)),
        ..Signals::default()
    }
}

#[test]
fn the_stage_removes_what_the_mask_forbids() {
    let cfg = config(GrammarKind::Regex, "[3-5]");
    let s = signals(GrammarMask::from_ids(10, &[3, 5, 7], false));
    let sampler = Sampler::new(&cfg).unwrap();
    let trace = sampler
        .replay(&logits(), History::new(&[], 0).with_signals(&s), None)
        .unwrap();
    // Greedy among the allowed: 3.
    assert_eq!(trace.chosen.id, 3);
    let st = &trace.stages[0];
    assert_eq!(st.name, "grammar");
    assert_eq!(st.params, "regex=[3-5]");
    assert_eq!(st.kept, 3);
    // The best removed, by probability: 0, 1, 2, 4, 6.
    assert_eq!(st.removed_best, vec![0, 1, 2, 4, 6]);
    // Removed candidates are labelled with the stage.
    for c in &trace.candidates {
        let allowed = [3, 5, 7].contains(&c.id);
        assert_eq!(c.removed_by.is_none(), allowed, "{c:?}");
        assert_eq!(c.final_p > 0.0, allowed, "{c:?}");
    }
    let processed = sampler
        .chain()
        .process(&logits(), History::new(&[], 0).with_signals(&s))
        .unwrap();
    for (id, l) in processed.iter().enumerate() {
        assert_eq!(l.is_finite(), [3, 5, 7].contains(&(id as u32)), "{id}");
    }
}

#[test]
fn a_complete_mask_keeps_only_end_of_sequence() {
    let mut cfg = config(GrammarKind::Regex, "ab");
    cfg.greedy = false;
    cfg.temperature = 1.5;
    let s = signals(GrammarMask::from_ids(10, &[EOS], true));
    for draw in [0.0, 0.5, 0.999] {
        let trace = Sampler::new(&cfg)
            .unwrap()
            .replay(&logits(), History::new(&[], 0).with_signals(&s), Some(draw))
            .unwrap();
        assert_eq!(trace.chosen.id, EOS);
        assert_eq!(trace.kept, 1);
        assert_eq!(trace.final_top, vec![(EOS, 1.0)]);
    }
}

#[test]
fn an_empty_mask_is_an_error_saying_the_constraint_cannot_be_met() {
    let cfg = config(GrammarKind::Regex, "x");
    let s = signals(GrammarMask::unsatisfiable(10, "token 4 breaks it"));
    let e = Sampler::new(&cfg)
        .unwrap()
        .replay(&logits(), History::new(&[], 0).with_signals(&s), None)
        .unwrap_err();
    assert_eq!(
        e,
        DecodeError::Unsatisfiable {
            constraint: "--regex".into(),
            reason: "token 4 breaks it".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "the constraint (--regex) cannot be met: token 4 breaks it"
    );
    // Allowed tokens that an earlier stage removed: the same error, with that reason.
    let mut cfg = config(GrammarKind::Regex, "x");
    cfg.order = vec!["logit_bias".into(), "grammar".into()];
    cfg.logit_bias = vec![(EOS, f32::NEG_INFINITY)];
    let s = signals(GrammarMask::from_ids(10, &[EOS], true));
    let e = Sampler::new(&cfg)
        .unwrap()
        .replay(&logits(), History::new(&[], 0).with_signals(&s), None)
        .unwrap_err();
    assert!(
        e.to_string().contains("cannot be met") && e.to_string().contains("end-of-sequence"),
        "{e}"
    );
}

#[test]
fn the_stage_runs_right_after_ensemble_in_the_default_order() {
    let order = SamplerConfig::default().order;
    let at = |n: &str| order.iter().position(|s| s == n).unwrap();
    assert_eq!(at("grammar"), at("ensemble") + 1);
    assert_eq!(at("fudge"), at("grammar") + 1);
    assert_eq!(at("rad"), at("fudge") + 1);
    assert_eq!(at("logit_bias"), at("rad") + 1);
}

// ---------------------------------------------------------------- the real model

/// Generates after `prompt` under `cfg` until end-of-sequence or `max` tokens; the output's
/// bytes (end-of-sequence excluded) and whether it finished.
fn generate(s: &mut Session, prompt: &str, cfg: SamplerConfig, max: usize) -> (Vec<u8>, bool) {
    s.set_config(cfg).unwrap();
    s.set_prompt(prompt).unwrap();
    let eos = s.loaded().model.config().eos_ids.clone();
    while s.steps().len() < max && !s.finished() {
        match s.step() {
            Ok(_) => {}
            Err(EngineError::Finished) => break,
            Err(e) => panic!("step {}: {e}", s.steps().len()),
        }
    }
    let bytes = s
        .steps()
        .iter()
        .filter(|r| !eos.contains(&r.token_id))
        .flat_map(|r| s.loaded().tok.token_bytes(r.token_id).to_vec())
        .collect();
    (bytes, s.finished())
}

/// Seeds and temperatures (0 is greedy), `cases` of them, the same on every run.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 8,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn knobs(spec: GrammarSpec, seed: u64, temperature: f32) -> SamplerConfig {
    SamplerConfig {
        grammar: Some(spec),
        seed,
        temperature,
        ..SamplerConfig::default()
    }
}

const REGEX: &str = r" (Yes|No)\. It has [0-9]{1,2} colou?rs\.";

#[test]
fn every_finished_output_matches_the_regex() {
    let Some(path) = common::default_model() else {
        return;
    };
    let spec = GrammarSpec::new(GrammarKind::Regex, REGEX);
    let whole = regex::Regex::new(&format!("^(?:{REGEX})$")).unwrap();
    let session =
        RefCell::new(Session::new(common::load(&path), "x", SamplerConfig::default()).unwrap());
    let prompt = "Q: Does a rainbow have colours, and how many?\nA:";
    let (finished, cases) = (Cell::new(0), Cell::new(0));
    runner(24)
        .run(&(any::<u64>(), 0.0f32..2.0), |(seed, t)| {
            cases.set(cases.get() + 1);
            let (bytes, done) = generate(
                &mut session.borrow_mut(),
                prompt,
                knobs(spec.clone(), seed, t),
                24,
            );
            let text = String::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if done {
                finished.set(finished.get() + 1);
                prop_assert!(whole.is_match(&text), "seed {seed} T {t}: {text:?}");
            } else {
                // Unfinished: still a prefix of a match (the regex is finite, so 24 tokens
                // hold at most a few unfinished characters).
                prop_assert!(text.len() <= 28, "seed {seed} T {t}: {text:?}");
            }
            Ok(())
        })
        .unwrap();
    // The longest match fits in 24 single-character tokens; most outputs finish far sooner.
    let (finished, cases) = (finished.get(), cases.get());
    eprintln!("regex: {finished} of {cases} outputs finished, all matching");
    assert!(finished * 4 >= cases * 3, "{finished} of {cases}");
}

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 8},
    "age": {"type": "integer", "minimum": 0, "maximum": 120},
    "drink": {"enum": ["tea", "coffee"]}
  },
  "required": ["name", "age", "drink"],
  "additionalProperties": false,
  "x-guidance": {"whitespace_flexible": false}
}"#;

#[test]
fn every_finished_output_is_json_valid_under_the_schema() {
    let Some(path) = common::default_model() else {
        return;
    };
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let spec = GrammarSpec::new(GrammarKind::JsonSchema, SCHEMA);
    let session =
        RefCell::new(Session::new(common::load(&path), "x", SamplerConfig::default()).unwrap());
    let prompt = "Ann is 34 and drinks tea. As JSON:";
    let (finished, cases) = (Cell::new(0), Cell::new(0));
    runner(24)
        .run(&(any::<u64>(), 0.0f32..2.0), |(seed, t)| {
            cases.set(cases.get() + 1);
            let (bytes, done) = generate(
                &mut session.borrow_mut(),
                prompt,
                knobs(spec.clone(), seed, t),
                32,
            );
            if done {
                finished.set(finished.get() + 1);
                let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    TestCaseError::fail(format!(
                        "seed {seed} T {t}: {e}: {}",
                        String::from_utf8_lossy(&bytes)
                    ))
                })?;
                let errors: Vec<String> =
                    validator.iter_errors(&v).map(|e| e.to_string()).collect();
                prop_assert!(errors.is_empty(), "seed {seed} T {t}: {v}: {errors:?}");
            }
            Ok(())
        })
        .unwrap();
    let (finished, cases) = (finished.get(), cases.get());
    eprintln!("json schema: {finished} of {cases} outputs finished, all valid");
    // The compact form of an 8-character name needs ~25 tokens: most finish within 32.
    assert!(finished * 4 >= cases * 3, "{finished} of {cases}");
}

#[test]
fn previews_reuse_each_steps_mask_and_branches_rebuild_the_matcher() {
    let Some(path) = common::default_model() else {
        return;
    };
    let re = r" [0-9]{3} (cats|dogs)\.";
    let cfg = knobs(GrammarSpec::new(GrammarKind::Regex, re), 3, 0.8);
    let mut s = Session::new(common::load(&path), "I have", cfg.clone()).unwrap();
    for _ in 0..3 {
        s.step().unwrap();
    }
    // A preview under the same knobs re-uses the step's mask: the same trace.
    for i in 0..3 {
        let again = s.preview(i, &cfg).unwrap();
        assert_eq!(again.trace, s.steps()[i].trace, "step {i}");
    }
    // Under another constraint the mask is the other constraint's after the same tokens.
    let letters = knobs(GrammarSpec::new(GrammarKind::Regex, " [a-z]+"), 3, 0.8);
    let other = s.preview(0, &letters).unwrap();
    let kept = |t: &logitscope::decode::StepTrace| t.stages[0].kept;
    assert_ne!(kept(&other.trace), kept(&s.steps()[0].trace));
    // Branch at step 1 to another digit: the matcher starts over and the output still matches.
    let tok = &s.loaded().tok;
    let digit = (0..tok.vocab_size() as u32)
        .find(|&i| tok.token_bytes(i) == b"7" && i != s.steps()[1].token_id)
        .unwrap();
    s.branch(1, digit).unwrap();
    while !s.finished() && s.steps().len() < 16 {
        s.step().unwrap();
    }
    assert!(s.finished());
    let eos = s.loaded().model.config().eos_ids.clone();
    let ids: Vec<u32> = s
        .steps()
        .iter()
        .map(|r| r.token_id)
        .filter(|t| !eos.contains(t))
        .collect();
    let text = String::from_utf8(
        ids.iter()
            .flat_map(|&i| s.loaded().tok.token_bytes(i).to_vec())
            .collect(),
    )
    .unwrap();
    assert!(
        regex::Regex::new(&format!("^(?:{re})$"))
            .unwrap()
            .is_match(&text),
        "{text:?}"
    );
    // A hand-picked token the constraint forbids: the next step cannot be met, in one line.
    s.set_prompt("I have").unwrap();
    let x = (0..s.loaded().tok.vocab_size() as u32)
        .find(|&i| s.loaded().tok.token_bytes(i) == b"x")
        .unwrap();
    s.take(x).unwrap();
    let e = s.step().unwrap_err().to_string();
    assert!(
        e.starts_with("the constraint (--regex) cannot be met: "),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

// ---------------------------------------------------------------- the command line

fn logitscope() -> Command {
    Command::cargo_bin("logitscope").unwrap()
}

#[test]
fn a_bad_regex_is_one_error_line_and_exit_code_2() {
    // Checked before any model is loaded: no model is needed.
    for (args, want) in [
        (
            vec!["--regex", "[0-9"],
            "error: --regex \"[0-9\": unclosed character class",
        ),
        (
            vec!["--json-schema", "/nonexistent/schema.json"],
            "error: --json-schema /nonexistent/schema.json: ",
        ),
    ] {
        let out = logitscope()
            .args(["generate", "--prompt", "x", "--model", "/nonexistent.gguf"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    for (flag, name, text, want) in [
        (
            "--json-schema",
            "s.json",
            r#"{"type": 3}"#,
            "error: --json-schema: ",
        ),
        (
            "--json-schema",
            "t.json",
            "{\"type\":",
            "error: --json-schema: the schema is not JSON",
        ),
        (
            "--grammar",
            "g.lark",
            "start: \"a\" b\nb: /[0-9/\n",
            "error: --grammar: ",
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let out = logitscope()
            .args(["generate", "--prompt", "x", flag])
            .arg(&p)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "{text}: {err}");
        assert!(err.starts_with(want), "{text}: {err}");
    }
}

#[test]
fn generate_json_shows_the_grammar_stage_and_stops_when_complete() {
    if common::default_model().is_none() {
        return;
    }
    let out = logitscope()
        .args([
            "generate",
            "--prompt",
            "Is the sky blue? Answer yes or no:",
            "--regex",
            " (yes|no)",
            "--json",
            "--threads",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "step").collect();
    for st in &steps {
        assert_eq!(st["stages"][0]["name"], "grammar", "{st}");
    }
    // The last step is end-of-sequence, the only token the complete constraint allowed.
    let last = steps.last().unwrap();
    assert_eq!(last["stages"][0]["kept"], 1, "{last}");
    let done = records.last().unwrap();
    assert!(done["text"] == " yes" || done["text"] == " no", "{done}");
    // Beams and crowds refuse a constraint in one line.
    for extra in [["--beams", "2"], ["--samples", "2"]] {
        let out = logitscope()
            .args(["generate", "--prompt", "x", "--regex", "a"])
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{extra:?}: {err}");
        assert!(err.contains("--regex"), "{err}");
    }
}
