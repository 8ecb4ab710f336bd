//! Session files: the whole session — model, prompt, chat mode, and every branch's steps with
//! their knobs, draws and how each token was chosen — written atomically, and replayed through
//! the model to reopen it (every drawn token must come out again; a token chosen by hand or by
//! a speculative round is taken again).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::decode::config::SamplerConfig;

use super::{EngineError, Session};

/// The format version this build writes and reads.
pub const SESSION_VERSION: u32 = 1;

/// A saved session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFile {
    pub version: u32,
    /// The model's path when saved.
    pub model: String,
    pub dtype: String,
    /// The prompt as the user gave it.
    pub prompt: String,
    #[serde(default)]
    pub chat: bool,
    /// The branch shown when saved.
    pub current: usize,
    pub branches: Vec<BranchFile>,
}

/// One branch: all its steps from the first (shared prefixes repeated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchFile {
    /// The step at which it left the branch it was cut from.
    pub fork_step: usize,
    pub steps: Vec<StepFile>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFile {
    pub token_id: u32,
    /// Display text (for people reading the file).
    pub token: String,
    pub config: SamplerConfig,
    /// The uniform draw that picked it (`None`: greedy or not drawn).
    pub draw: Option<f64>,
    /// Chosen by hand or by a speculative round: replayed by taking it.
    pub taken: bool,
}

/// Where a replay first produced another token than the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    pub branch: usize,
    pub step: usize,
    pub recorded: u32,
    pub regenerated: u32,
}

impl SessionFile {
    /// Reads a session file; a missing, truncated or corrupt one is a one-line error.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: SessionFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a readable logitscope session (truncated or corrupt?): {e}",
                path.display()
            )
        })?;
        if file.version != SESSION_VERSION {
            return Err(format!(
                "{}: session format {} is not {SESSION_VERSION}, the one this build reads",
                path.display(),
                file.version
            ));
        }
        Ok(file)
    }

    /// Writes the file atomically (a temporary file in the same folder, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        tmp.persist(path)
            .map_err(|e| format!("{}: {}", path.display(), e.error))?;
        Ok(())
    }

    /// Number of steps over all branches.
    pub fn steps(&self) -> usize {
        self.branches.iter().map(|b| b.steps.len()).sum()
    }
}

impl Session {
    /// The session as a file.
    pub fn to_file(&self) -> SessionFile {
        SessionFile {
            version: SESSION_VERSION,
            model: self.lm.path.display().to_string(),
            dtype: self.lm.dtype.name().to_string(),
            prompt: self.raw_prompt.clone(),
            chat: self.chat,
            current: self.current,
            branches: self
                .timelines
                .iter()
                .map(|t| BranchFile {
                    fork_step: t.fork_step,
                    steps: t
                        .steps
                        .iter()
                        .map(|s| StepFile {
                            token_id: s.token_id,
                            token: s.text.clone(),
                            config: s.config.clone(),
                            draw: s.trace.chosen.draw,
                            taken: s.taken,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Regenerates `file` in this session (which must run the file's model): the prompt, then
    /// every branch in order, each cut from an earlier branch with the same first steps. A
    /// drawn step must draw the recorded token again; the first one that does not stops the
    /// replay and is returned.
    pub fn replay(&mut self, file: &SessionFile) -> Result<Option<Divergence>, EngineError> {
        self.chat = file.chat;
        self.set_prompt(&file.prompt)?;
        for (b, branch) in file.branches.iter().enumerate() {
            let start = if b == 0 { 0 } else { branch.fork_step };
            if b > 0 {
                let ids = |x: &BranchFile| x.steps.iter().map(|s| s.token_id).collect::<Vec<_>>();
                let want = ids(branch);
                let parent = (0..b)
                    .find(|&j| {
                        let have = ids(&file.branches[j]);
                        have.len() >= start && want.len() >= start && have[..start] == want[..start]
                    })
                    .ok_or_else(|| {
                        EngineError::Invalid(format!(
                            "branch {b} of the session shares its first {start} steps with no earlier branch"
                        ))
                    })?;
                self.switch_branch(parent)?;
                self.fork_at(start)?;
            }
            for (i, st) in branch.steps.iter().enumerate().skip(start) {
                if *self.config() != st.config {
                    self.set_config(st.config.clone())?;
                }
                if st.taken {
                    self.take(st.token_id)?;
                    continue;
                }
                let rec = self.step()?;
                if rec.token_id != st.token_id {
                    return Ok(Some(Divergence {
                        branch: b,
                        step: i,
                        recorded: st.token_id,
                        regenerated: rec.token_id,
                    }));
                }
            }
        }
        self.switch_branch(file.current.min(self.timelines.len() - 1))?;
        Ok(None)
    }
}
