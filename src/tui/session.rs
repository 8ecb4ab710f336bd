//! A recorded session: a serde form of what the engine sent (model facts plus the timeline),
//! for snapshot tests, demos and benchmarks without a model.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::eyre;
use serde::{Deserialize, Serialize};

use crate::decode::config::SamplerConfig;
use crate::engine::protocol::{BranchInfo, Event, ModelInfo, Snapshot, Stats, StepRecord};

/// A model's facts and one timeline, serialisable (unlike [`Snapshot`], which shares steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedSession {
    pub info: ModelInfo,
    pub prompt: String,
    pub prompt_tokens: Vec<(u32, String)>,
    pub steps: Vec<StepRecord>,
    pub branches: Vec<BranchInfo>,
    #[serde(default)]
    pub current_branch: usize,
    pub config: SamplerConfig,
    pub stats: Stats,
    #[serde(default)]
    pub finished: bool,
}

impl RecordedSession {
    /// Record what the UI was shown, with the knobs in force.
    pub fn record(info: &ModelInfo, snapshot: &Snapshot, config: &SamplerConfig) -> Self {
        Self {
            info: info.clone(),
            prompt: snapshot.prompt.clone(),
            prompt_tokens: snapshot.prompt_tokens.clone(),
            steps: snapshot.steps.iter().map(|s| (**s).clone()).collect(),
            branches: snapshot.branches.clone(),
            current_branch: snapshot.current_branch,
            config: config.clone(),
            stats: snapshot.stats.clone(),
            finished: snapshot.finished,
        }
    }

    /// The timeline as the engine would send it (not playing).
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            prompt: self.prompt.clone(),
            chat: false,
            prompt_tokens: self.prompt_tokens.clone(),
            steps: self.steps.iter().cloned().map(Arc::new).collect(),
            branches: self.branches.clone(),
            current_branch: self.current_branch,
            stats: self.stats.clone(),
            playing: false,
            finished: self.finished,
        }
    }

    /// The events an engine would send for this session: `Loaded`, `Knobs`, then `Timeline`.
    pub fn events(&self) -> [Event; 3] {
        [
            Event::Loaded(Arc::new(self.info.clone())),
            Event::Knobs(Box::new(self.config.clone())),
            Event::Timeline(self.to_snapshot()),
        ]
    }

    /// Read a session from a JSON file.
    /// Fails with one line naming the file: unreadable, or truncated or corrupt.
    pub fn load(path: &Path) -> color_eyre::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| eyre!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            eyre!(
                "{}: not a recorded session (truncated or corrupt): {e}",
                path.display()
            )
        })
    }

    /// Write the session as compact JSON, atomically: to a temporary file in the same
    /// directory, then renamed over `path`, so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> color_eyre::Result<()> {
        let text = serde_json::to_string(self)? + "\n";
        write_atomic(path, text.as_bytes()).map_err(|e| eyre!("{}: {e}", path.display()))
    }
}

/// Writes `bytes` to a temporary file next to `path`, syncs it, and renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
