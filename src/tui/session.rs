//! A recorded session: a serde form of what the engine sent (model facts plus the timeline),
//! for snapshot tests, demos and benchmarks without a model.

use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::WrapErr;
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
    /// Record what the UI was shown.
    pub fn record(info: &ModelInfo, snapshot: &Snapshot) -> Self {
        Self {
            info: info.clone(),
            prompt: snapshot.prompt.clone(),
            prompt_tokens: snapshot.prompt_tokens.clone(),
            steps: snapshot.steps.iter().map(|s| (**s).clone()).collect(),
            branches: snapshot.branches.clone(),
            current_branch: snapshot.current_branch,
            config: snapshot.config.clone(),
            stats: snapshot.stats.clone(),
            finished: snapshot.finished,
        }
    }

    /// The timeline as the engine would send it (not playing).
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            prompt: self.prompt.clone(),
            prompt_tokens: self.prompt_tokens.clone(),
            steps: self.steps.iter().cloned().map(Arc::new).collect(),
            branches: self.branches.clone(),
            current_branch: self.current_branch,
            config: self.config.clone(),
            stats: self.stats.clone(),
            playing: false,
            finished: self.finished,
        }
    }

    /// The events an engine would send for this session: `Loaded`, then `Timeline`.
    pub fn events(&self) -> [Event; 2] {
        [
            Event::Loaded(Arc::new(self.info.clone())),
            Event::Timeline(self.to_snapshot()),
        ]
    }

    /// Read a session from a JSON file.
    pub fn load(path: &Path) -> color_eyre::Result<Self> {
        let text = std::fs::read_to_string(path)
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).wrap_err_with(|| format!("parsing {}", path.display()))
    }

    /// Write the session as compact JSON.
    pub fn save(&self, path: &Path) -> color_eyre::Result<()> {
        let text = serde_json::to_string(self)?;
        std::fs::write(path, text + "\n").wrap_err_with(|| format!("writing {}", path.display()))
    }
}
