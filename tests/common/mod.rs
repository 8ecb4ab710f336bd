//! Helpers shared by the tests that need a real model.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use logitscope::model::{self, Dtype, Loaded};

/// The default model installed by `scripts/setup.sh`, or `None` (with a note) when absent.
pub fn default_model() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(model::DEFAULT_MODEL_FILE);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent (run scripts/setup.sh)", p.display());
        None
    }
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
