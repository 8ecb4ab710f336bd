//! Bad input gives a one-line `error:` message and exit code 2, a failure while running exit
//! code 1 — never a panic.

mod common;

use assert_cmd::Command;
use logitscope::model::gguf::{GgufWriter, MetaValue};
use logitscope::model::quant::GgmlType;
use tempfile::TempDir;

/// Runs the binary on bad input and returns its stderr after checking exit code 2 and the
/// one-line shape.
fn fails(args: &[&str]) -> String {
    fails_with(2, args)
}

/// Runs the binary and returns its stderr after checking the exit code and the one-line shape.
fn fails_with(code: i32, args: &[&str]) -> String {
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "args {args:?}: stderr {err}");
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

/// Writes the tiny llama GGUF after `edit` and returns its path.
fn tiny(dir: &TempDir, edit: impl FnOnce(&mut GgufWriter)) -> String {
    let mut w = logitscope::model::gguf::tiny_llama();
    edit(&mut w);
    let path = dir.path().join("model.gguf");
    w.write(&path).unwrap();
    path.display().to_string()
}

#[test]
fn width_contradicting_the_embedding_names_key_value_and_tensor() {
    let dir = TempDir::new().unwrap();
    let p = tiny(&dir, |w| {
        w.meta("llama.embedding_length", MetaValue::U32(16));
    });
    let err = fails(&["generate", "--model", &p, "--prompt", "ab"]);
    assert!(
        err.contains("llama.embedding_length = 16 but token_embd.weight is 32 wide"),
        "{err}"
    );
}

#[test]
fn head_count_contradicting_the_projections_is_one_line_not_a_struct() {
    let dir = TempDir::new().unwrap();
    let p = tiny(&dir, |w| {
        w.meta("llama.attention.head_count", MetaValue::U32(8));
    });
    let err = fails(&["generate", "--model", &p, "--prompt", "ab"]);
    assert!(
        err.contains("llama.attention.head_count_kv") && err.contains("blk.0.attn_k.weight"),
        "{err}"
    );
    assert!(!err.contains("ModelConfig") && !err.contains('{'), "{err}");
    let p = tiny(&dir, |w| {
        w.meta("llama.attention.head_count", MetaValue::U32(3));
    });
    let err = fails(&["generate", "--model", &p, "--prompt", "ab"]);
    assert!(
        err.contains(
            "llama.embedding_length = 32 is not a multiple of llama.attention.head_count = 3"
        ),
        "{err}"
    );
}

#[test]
fn layer_count_beyond_the_tensors() {
    let dir = TempDir::new().unwrap();
    let p = tiny(&dir, |w| {
        w.meta("llama.block_count", MetaValue::U64(1 << 40));
    });
    let err = fails(&["generate", "--model", &p, "--prompt", "ab"]);
    assert!(
        err.contains("llama.block_count = 1099511627776 but the file has tensors for 2 layers"),
        "{err}"
    );
}

#[test]
fn a_tensor_of_the_wrong_rank_or_a_missing_tensor() {
    let dir = TempDir::new().unwrap();
    let p = tiny(&dir, |w| {
        w.redeclare("blk.1.ffn_norm.weight", Some(&[4, 8]), None);
    });
    let err = fails(&["generate", "--model", &p, "--prompt", "ab"]);
    assert!(
        err.contains("blk.1.ffn_norm.weight has shape [4, 8] but should be [32]"),
        "{err}"
    );
    let p = tiny(&dir, |w| {
        w.remove_tensor("blk.1.ffn_up.weight");
    });
    let err = fails(&["generate", "--model", &p, "--prompt", "ab"]);
    assert!(err.contains("no tensor blk.1.ffn_up.weight"), "{err}");
}

#[test]
fn the_tiny_gguf_itself_generates() {
    let dir = TempDir::new().unwrap();
    let p = tiny(&dir, |_| {});
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .args([
            "generate",
            "--model",
            &p,
            "--prompt",
            "abc",
            "--max-tokens",
            "3",
        ])
        .args(["--greedy", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("\"type\":\"step\""))
            .count(),
        3
    );
}

#[test]
fn a_session_that_cannot_be_written_is_a_runtime_failure() {
    let dir = TempDir::new().unwrap();
    let p = tiny(&dir, |_| {});
    let record = dir.path().join("no-such-dir").join("s.json");
    let err = fails_with(
        1,
        &[
            "generate",
            "--model",
            &p,
            "--prompt",
            "ab",
            "--max-tokens",
            "1",
            "--record",
            record.to_str().unwrap(),
        ],
    );
    assert!(err.contains("s.json"), "{err}");
}

#[test]
fn help_documents_the_exit_codes() {
    let out = Command::cargo_bin("logitscope")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit status: 0 on success; 2 for bad usage"),
        "{help}"
    );
    assert!(help.contains("1 for a failure while running"), "{help}");
}

#[test]
fn gemma3_without_its_sliding_window_key() {
    let dir = TempDir::new().unwrap();
    let mut w = logitscope::model::gguf::tiny_gemma3();
    w.remove_meta("gemma3.attention.sliding_window");
    let path = dir.path().join("gemma.gguf");
    w.write(&path).unwrap();
    let p = path.display().to_string();
    let err = fails(&["generate", "--model", &p, "--prompt", "ab"]);
    assert!(
        err.contains("missing metadata gemma3.attention.sliding_window"),
        "{err}"
    );
}
