//! Bad input gives a one-line `error:` message and exit code 2 — never a panic.

mod common;

use assert_cmd::Command;
use logitscope::model::gguf::{GgufWriter, MetaValue};
use logitscope::model::quant::GgmlType;
use tempfile::TempDir;

/// Runs the binary and returns its stderr after checking the exit code and the one-line shape.
fn fails(args: &[&str]) -> String {
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "args {args:?}: stderr {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "args {args:?}: expected one line, got {err:?}"
    );
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err
}

/// A small llama-shaped GGUF with the given architecture and one tensor of type `ty`.
fn gguf(dir: &TempDir, arch: &str, ty: GgmlType, bytes: usize) -> String {
    let s = |x: &str| MetaValue::Str(x.into());
    let mut w = GgufWriter::new();
    w.meta("general.architecture", s(arch))
        .meta(&format!("{arch}.embedding_length"), MetaValue::U32(8))
        .meta(&format!("{arch}.attention.head_count"), MetaValue::U32(2))
        .meta(&format!("{arch}.block_count"), MetaValue::U32(1))
        .meta(&format!("{arch}.feed_forward_length"), MetaValue::U32(16))
        .meta(&format!("{arch}.context_length"), MetaValue::U32(32))
        .meta("tokenizer.ggml.model", s("gpt2"))
        .meta(
            "tokenizer.ggml.tokens",
            MetaValue::Array(["a", "b", "c", "d"].iter().map(|t| s(t)).collect()),
        )
        .tensor("token_embd.weight", &[256], ty, vec![0u8; bytes]);
    let path = dir.path().join(format!("{arch}.gguf"));
    w.write(&path).unwrap();
    path.display().to_string()
}

#[test]
fn missing_model_file() {
    let err = fails(&[
        "generate",
        "--model",
        "/no/such/model.gguf",
        "--prompt",
        "hi",
    ]);
    assert!(
        err.contains("/no/such/model.gguf") && err.contains("no such"),
        "{err}"
    );
}

#[test]
fn non_gguf_file() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("notes.gguf");
    std::fs::write(&p, "just some text, not a model").unwrap();
    let err = fails(&["generate", "--model", p.to_str().unwrap(), "--prompt", "hi"]);
    assert!(err.contains("not a GGUF file"), "{err}");
}

#[test]
fn truncated_gguf_file() {
    let dir = TempDir::new().unwrap();
    let full = gguf(&dir, "llama", GgmlType::F32, 1024);
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let err = fails(&[
        "generate",
        "--model",
        cut.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn unsupported_quant_type() {
    let dir = TempDir::new().unwrap();
    // One Q2_K super-block (84 bytes for 256 weights).
    let p = gguf(&dir, "llama", GgmlType::Q2_K, 84);
    let err = fails(&["generate", "--model", &p, "--prompt", "hi"]);
    assert!(
        err.contains("token_embd.weight") && err.contains("Q2_K"),
        "{err}"
    );
}

#[test]
fn unknown_architecture() {
    let dir = TempDir::new().unwrap();
    let p = gguf(&dir, "mamba", GgmlType::F32, 1024);
    let err = fails(&["generate", "--model", &p, "--prompt", "hi"]);
    assert!(err.contains("architecture 'mamba'"), "{err}");
}

#[test]
fn malformed_config_json() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("config.json"), "{ \"hidden_size\": ").unwrap();
    let err = fails(&[
        "generate",
        "--model",
        dir.path().to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert!(
        err.contains("config.json") && err.contains("invalid JSON"),
        "{err}"
    );
}

#[test]
fn empty_prompt() {
    let err = fails(&["generate", "--prompt", ""]);
    assert!(err.contains("prompt is empty"), "{err}");
}

#[test]
fn prompt_longer_than_the_context() {
    // The tiny Llama fixture has a 128-token context.
    let model = common::fixture("tiny-llama");
    let prompt = "the quick brown fox jumps over the lazy dog ".repeat(60);
    let err = fails(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        &prompt,
    ]);
    assert!(err.contains("context of 128 tokens"), "{err}");
}

#[test]
fn impossible_knob_values() {
    for (args, needle) in [
        (&["--temperature", "-1"][..], "temperature"),
        (&["--top-p", "0"][..], "top_p"),
        (&["--top-p", "1.5"][..], "top_p"),
        (&["--top-k", "0"][..], "top_k"),
        (&["--min-p", "2"][..], "min_p"),
        (&["--repetition-penalty", "0"][..], "repetition_penalty"),
        (&["--samplers", "top_k,warp_drive"][..], "warp_drive"),
        (&["--logit-bias", "5=nan"][..], "logit_bias"),
        (&["--top-k", "-3"][..], "--top-k"),
    ] {
        let mut all = vec!["generate", "--prompt", "hi"];
        all.extend_from_slice(args);
        let err = fails(&all);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
