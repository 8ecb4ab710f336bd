//! Helpers shared by the tests that need a real model.
//!
//! A test that cannot run here (no model, no tmux) calls [`skip`]: it prints one
//! `SKIPPED: reason` line straight to stderr (past the test harness's capture) and the test
//! returns, so `.ci/run` counts it as skipped rather than passed; under `CI=true` a missing
//! requirement fails the test instead.
#![allow(dead_code)]

pub mod parity;
pub mod stats;

use std::io::Write;
use std::path::{Path, PathBuf};

use logitscope::model::{self, Dtype, Loaded};

/// Reports that the calling test cannot run here (see the module docs). Panics under
/// `CI=true`, where every requirement must be installed.
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and this test cannot run: {reason}");
    }
    // Not `eprintln!`: the harness captures that for passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
}

/// The default model installed by `scripts/setup.sh`, or `None` after [`skip`] when absent.
pub fn default_model() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(model::DEFAULT_MODEL_FILE);
    if p.exists() {
        Some(p)
    } else {
        skip(&format!("{} is absent (run scripts/setup.sh)", p.display()));
        None
    }
}

/// File name of Gemma 3 270M, installed by `scripts/setup.sh --model gemma3-270m`.
pub const GEMMA3_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// Gemma 3 270M under `models/`, or `None` after [`skip`] when absent.
pub fn gemma_model() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(GEMMA3_FILE);
    if p.exists() {
        Some(p)
    } else {
        skip(&format!(
            "{} is absent (run scripts/setup.sh --model gemma3-270m)",
            p.display()
        ));
        None
    }
}

/// Whether `tmux` runs here; [`skip`]s when it does not.
pub fn tmux() -> bool {
    let ok = std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip("tmux is not installed");
    }
    ok
}

/// A committed fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Loads a model in f32 with two threads.
pub fn load(path: &Path) -> Loaded {
    tch::set_num_threads(2);
    model::load(path, Dtype::F32, &mut |_, _| {}).expect("model loads")
}

/// Parses a JSON fixture.
pub fn read_json(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(rel)).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}
