//! Chat templates: the model's own template rendered with minijinja gives exactly Hugging
//! Face's `apply_chat_template(..., add_generation_prompt=True)` text and ids
//! (`scripts/golden/make_chat.py`), and a model without a template says so in one line.

mod common;

use assert_cmd::Command;
use logitscope::decode::SamplerConfig;
use logitscope::engine::session::Session;

#[test]
fn chat_prompts_match_hugging_faces_apply_chat_template() {
    let Some(path) = common::default_model() else {
        return;
    };
    let lm = common::load(&path);
    let template = lm
        .chat
        .clone()
        .expect("SmolLM2's GGUF ships a chat template");
    let fx = common::read_json("chat.json");
    for case in fx["cases"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let text = template.render_user(prompt).unwrap();
        assert_eq!(text, case["text"].as_str().unwrap(), "{prompt:?}");
        let want: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(lm.tok.encode(&text).unwrap(), want, "{prompt:?}");
    }
    // The session renders it the same way and keeps the user's text as the prompt.
    let mut s = Session::new(
        lm,
        "What is the capital of France?",
        SamplerConfig::default(),
    )
    .unwrap();
    s.set_chat(true).unwrap();
    let first = &fx["cases"][0];
    let want: Vec<u32> = first["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(s.prompt_ids(), want.as_slice());
    assert_eq!(s.snapshot().prompt, "What is the capital of France?");
    s.set_chat(false).unwrap();
    assert!(s.prompt_ids().len() < want.len());
}

#[test]
fn a_model_without_a_chat_template_is_a_one_line_error() {
    let dir = common::fixture("tiny-llama");
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args([
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "hi",
            "--chat",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("has no chat template"), "{err}");
}
