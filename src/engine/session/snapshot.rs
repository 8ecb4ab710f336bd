//! The owned view of a session's whole state that the UI renders.

use super::super::protocol::{BranchInfo, Snapshot, Stats};
use super::Session;

impl Session {
    /// Owned view of the whole state for the UI.
    pub fn snapshot(&self) -> Snapshot {
        let branches = self
            .timelines
            .iter()
            .enumerate()
            .map(|(id, t)| BranchInfo {
                id,
                fork_step: t.fork_step,
                len: t.steps.len(),
                preview: t.steps[t.fork_step.min(t.steps.len())..]
                    .iter()
                    .take(8)
                    .map(|s| s.text.as_str())
                    .collect(),
            })
            .collect();
        let ms = self.decode_ms_per_token();
        Snapshot {
            prompt: self.raw_prompt.clone(),
            chat: self.chat,
            prompt_tokens: self
                .prompt_ids
                .iter()
                .map(|&i| {
                    (
                        i,
                        self.info.vocab.get(i as usize).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
            steps: self.steps().to_vec(),
            branches,
            current_branch: self.current,
            stats: Stats {
                ms_per_token: ms,
                tokens_per_s: if ms > 0.0 { 1000.0 / ms } else { 0.0 },
                kv_cache_bytes: self.cache.bytes(),
                context_used: self.prompt_ids.len() + self.steps().len(),
            },
            playing: false,
            finished: self.finished(),
        }
    }
}
