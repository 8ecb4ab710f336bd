//! Branches: taking another token at a past step, re-rolling from a step, switching between
//! timelines (the cache keeps the common prefix).

use std::sync::Arc;

use super::record::forced_choice;
use super::{EngineError, Session, Timeline};

impl Session {
    /// Takes `token_id` at `step` instead: the old future is kept as a branch, the cache is
    /// rolled back, and the current timeline continues from the new token.
    pub fn branch(&mut self, step: usize, token_id: u32) -> Result<(), EngineError> {
        if token_id as usize >= self.info.vocab.len() {
            return Err(EngineError::Invalid(format!("no token id {token_id}")));
        }
        let (logits, _) = self.cached(step)?;
        let old = &self.timelines[self.current];
        let mut trace = old.steps[step].trace.clone();
        trace.chosen = forced_choice(&logits, &trace, token_id);
        let forward_ms = old.steps[step].forward_ms;
        let mut rec = self.record(step, trace, &logits, self.config().clone(), forward_ms);
        rec.taken = true;
        let old = &self.timelines[self.current];
        let mut tl = Timeline {
            steps: old.steps[..step].to_vec(),
            logits: old.logits[..=step].to_vec(),
            aux: old.aux[..=step].to_vec(),
            fork_step: step,
        };
        tl.steps.push(Arc::new(rec));
        self.timelines.push(tl);
        self.switch_branch(self.timelines.len() - 1)
    }

    /// Drops the steps from `step` on (kept as a branch) so they can be regenerated.
    pub fn reroll(&mut self, step: usize) -> Result<usize, EngineError> {
        let old = &self.timelines[self.current];
        if step >= old.steps.len() {
            return Ok(0);
        }
        let removed = old.steps.len() - step;
        self.fork_at(step)?;
        Ok(removed)
    }

    /// A new branch holding the current timeline's first `step` steps, made current.
    pub(super) fn fork_at(&mut self, step: usize) -> Result<(), EngineError> {
        let old = &self.timelines[self.current];
        let step = step.min(old.steps.len());
        self.timelines.push(Timeline {
            steps: old.steps[..step].to_vec(),
            logits: old.logits[..step].to_vec(),
            aux: old.aux[..step].to_vec(),
            fork_step: step,
        });
        self.switch_branch(self.timelines.len() - 1)
    }

    /// Makes branch `id` current; the cache keeps the common prefix and recomputes the rest
    /// lazily.
    pub fn switch_branch(&mut self, id: usize) -> Result<(), EngineError> {
        if id >= self.timelines.len() {
            return Err(EngineError::Invalid(format!("no branch {id}")));
        }
        let old = self.tokens();
        self.current = id;
        let new = self.tokens();
        let common = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        // The cache must not hold the last token: its logits come from running it.
        let keep = common.min(new.len().saturating_sub(1));
        self.rollback(keep);
        self.pending = None;
        self.search_context = None;
        self.sampler.seek(self.steps().len() as u64);
        Ok(())
    }
}
