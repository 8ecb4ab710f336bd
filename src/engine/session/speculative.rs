//! Speculative rounds on the session's timeline: draft γ tokens (prompt lookup, the target's
//! own first layers, or a draft model), verify them in ONE target forward, keep what the exact
//! acceptance rule accepts, and roll the caches back over the rest.
//!
//! Caches: the target's cache is checkpointed before the verification forward; rejected
//! tokens are cut off its end, or, when that forward evicted slots (window / sinks), the
//! checkpoint is restored and the accepted tokens run again in the next round's forward. An
//! early-exit draft (`self:L`) runs its L layers on the target's own cache — the verified
//! prefix's keys and values of those layers are exactly the draft's — and the cache is
//! restored before verification. A draft model keeps its own cache, restored after drafting.

use std::sync::Arc;
use std::time::Instant;

use crate::decode::speculative::{
    ngram_propose, verify, Dist, DraftSpec, Round, RoundDraws, MAX_GAMMA,
};
use crate::decode::stage::History;
use crate::model::cache::CachePolicy;
use crate::model::error::ModelError;
use crate::model::taps::capture_rows;
use crate::model::{ids_tensor, tensor_to_vec, ForwardOptions, Loaded, LogitsWanted};

use super::super::roles::{Role, RoleModel};
use super::contrast::StepAux;
use super::record::forced_choice;
use super::{run_tokens, EngineError, Session};

/// Whether `cfg` turns on a method that changes what the target's distribution is.
fn cfg_contrasts(cfg: &crate::decode::SamplerConfig) -> bool {
    cfg.contrast.is_some() || cfg.dola_layers.is_some() || cfg.contrastive_search().is_some()
}

/// Prompts longer than this are prefilled on their own before the first round, so the
/// verification forward never returns logits for the whole prompt.
const PREFILL_ALONE: usize = 32;

impl Session {
    /// Loads `lm` into `role` (checking it shares the target's vocabulary), replacing any
    /// model already there.
    pub fn attach(&mut self, role: Role, lm: Loaded) -> Result<(), EngineError> {
        let rm = RoleModel::new(role, lm, &self.lm).map_err(EngineError::Invalid)?;
        if role == Role::Draft {
            let mut info = (*self.info).clone();
            info.draft_model = Some(rm.lm.path.display().to_string());
            self.info = Arc::new(info);
        }
        self.roles.retain(|r| r.role != role);
        self.roles.push(rm);
        Ok(())
    }

    /// The model in `role`, if one is loaded.
    pub fn role(&self, role: Role) -> Option<&RoleModel> {
        self.roles.iter().find(|r| r.role == role)
    }

    /// One speculative round with at most `gamma` drafted tokens and at most `max_emit`
    /// emitted tokens; appends the emitted tokens as steps and returns the round.
    pub fn speculative_round(
        &mut self,
        draft: &DraftSpec,
        gamma: usize,
        max_emit: usize,
    ) -> Result<Round, EngineError> {
        if self.finished() {
            return Err(EngineError::Finished);
        }
        if let DraftSpec::SelfLayers(l) = *draft {
            let layers = self.lm.model.config().layers;
            if l == 0 || l >= layers {
                return Err(EngineError::Invalid(format!(
                    "draft self:{l}: the target has {layers} layers, so L must be 1..={}",
                    layers - 1
                )));
            }
        }
        if cfg_contrasts(self.config()) {
            return Err(EngineError::Invalid(
                "speculative rounds verify the target's own distribution: turn off contrastive decoding, DoLa and contrastive search first".into(),
            ));
        }
        if self.config().fudge.is_some() || self.config().rad.is_some() {
            return Err(EngineError::Invalid(
                "speculative rounds verify the target's own distribution: turn off FUDGE and RAD (--fudge, --reward) first".into(),
            ));
        }
        if self.config().grammar.is_some() {
            return Err(EngineError::Invalid(
                "speculative rounds do not support a grammar constraint (--regex, --json-schema, --grammar): turn it off first".into(),
            ));
        }
        if draft.is_model() && self.role(Role::Draft).is_none() {
            return Err(EngineError::Invalid(
                "no draft model is loaded: start with --draft PATH".into(),
            ));
        }
        let tokens = self.tokens();
        let n = tokens.len();
        let cfg = self.sampler.config().clone();
        let first_step = self.steps().len();

        // The target's cache holds the context but its last token, or all of it with the
        // logits after it pending (an early-exit draft needs that last token's early layers).
        let use_pending = self.pending.is_some() && !matches!(draft, DraftSpec::SelfLayers(_));
        if !use_pending {
            self.pending = None;
            if self.cache.next_position() > n - 1 {
                self.rollback(n - 1);
            }
            let have = self.cache.next_position();
            if n - 1 - have > PREFILL_ALONE {
                let t0 = Instant::now();
                run_tokens(&self.lm.model, &tokens[have..n - 1], &mut self.cache, None)?;
                self.prefill_ms = t0.elapsed().as_secs_f32() * 1e3;
            }
        }
        // The verification forward adds what the cache lacks plus the drafts: they must fit
        // the context and the cache policy's largest chunk.
        let missing = n - self.cache.next_position().min(n);
        let gamma = gamma
            .min(MAX_GAMMA)
            .min(self.lm.model.config().context_len.saturating_sub(n + 1))
            .min(max_emit.saturating_sub(1))
            .min(self.cache.max_chunk().saturating_sub(missing));
        let draws = (!cfg.is_greedy()).then(|| RoundDraws::for_round(cfg.seed, first_step, gamma));

        let drafts = self.draft(draft, &tokens, gamma, draws.as_ref())?;

        // Verification: one forward of what the cache lacks plus the drafts.
        let have = self.cache.next_position();
        let mut run: Vec<u32> = tokens[have.min(n)..].to_vec();
        run.extend(drafts.iter().map(|(id, _)| *id));
        let mut rows: Vec<Vec<f32>> = Vec::with_capacity(drafts.len() + 1);
        if let Some(p0) = self.pending.take().filter(|_| use_pending) {
            rows.push(p0);
        }
        let before = self.cache.checkpoint();
        let evicted = self.cache.evicted();
        let t0 = Instant::now();
        if !run.is_empty() {
            let opts = ForwardOptions {
                logits: LogitsWanted::All,
                capture_attention: self.capture,
                exit_after: None,
                hidden: crate::model::HiddenWanted::None,
            };
            let out = self
                .lm
                .model
                .forward(&ids_tensor(&[&run]), &mut self.cache, opts)?;
            if self.capture {
                for row in capture_rows(&out.attentions, self.cache.positions()) {
                    self.trail.insert(row);
                }
            }
            let want = drafts.len() + 1 - rows.len();
            let all = out.logits.get(0);
            let t = all.size()[0];
            for i in t - want as i64..t {
                rows.push(tensor_to_vec(&all.get(i)));
            }
        }
        let forward_ms = t0.elapsed().as_secs_f32() * 1e3;
        let mut hist = tokens.clone();
        let mut targets = Vec::with_capacity(rows.len());
        for (j, row) in rows.iter().enumerate() {
            targets.push(self.dist(row, &hist)?);
            if let Some((id, _)) = drafts.get(j) {
                hist.push(*id);
            }
        }
        let mut round = verify(&drafts, &targets, draws.as_ref());
        round.first_step = first_step;
        round.draft = draft.to_string();

        // Roll the target back to the context plus the accepted drafts.
        let rejected = drafts.len() - round.accepted();
        if self.cache.evicted() != evicted && self.cache.policy() != CachePolicy::Full {
            self.cache.restore(before).map_err(ModelError::Other)?;
        } else {
            self.cache.truncate(self.cache.len() - rejected);
        }
        self.trail.truncate(self.cache.next_position());

        // The emitted tokens become steps, each traced on its own target logits.
        let emitted = round.emitted();
        let per_token_ms = forward_ms / emitted.len().max(1) as f32;
        let eos = self.lm.model.config().eos_ids.clone();
        let mut hist = tokens;
        for (j, &id) in emitted.iter().enumerate() {
            let logits = &rows[j];
            let history = History::new(&hist, self.prompt_ids.len());
            let mut trace = self
                .sampler
                .replay(logits, history, None)
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            trace.chosen = forced_choice(logits, &trace, id);
            self.push_step(trace, logits, StepAux::default(), per_token_ms, true);
            hist.push(id);
            if eos.contains(&id) {
                break;
            }
        }
        // An end-of-sequence among the accepted drafts ends the timeline before the cache does.
        let keep = self.tokens().len() - 1;
        if self.cache.next_position() > keep {
            self.rollback(keep);
        }
        self.recent_ms.push(forward_ms);
        if self.recent_ms.len() > 64 {
            self.recent_ms.remove(0);
        }
        self.sampler.seek(self.steps().len() as u64);
        Ok(round)
    }

    /// The processed (knobbed) distribution of `logits` after `history`.
    fn dist(&self, logits: &[f32], history: &[u32]) -> Result<Dist, EngineError> {
        let (mut c, _) = self
            .sampler
            .apply_chain(logits, History::new(history, self.prompt_ids.len()))
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        Ok(Dist::from_candidates(&mut c, self.info.vocab.len()))
    }

    /// Up to `gamma` drafted tokens after `tokens`, each with the draft's processed
    /// distribution it was drawn from.
    fn draft(
        &mut self,
        spec: &DraftSpec,
        tokens: &[u32],
        gamma: usize,
        draws: Option<&RoundDraws>,
    ) -> Result<Vec<(u32, Dist)>, EngineError> {
        let vocab = self.info.vocab.len();
        let draw = |j: usize| draws.map(|d| d.draft[j]);
        let mut out = Vec::with_capacity(gamma);
        if gamma == 0 {
            return Ok(out);
        }
        let mut hist = tokens.to_vec();
        match *spec {
            DraftSpec::NGram(n) => {
                for id in ngram_propose(tokens, n, gamma) {
                    out.push((id, Dist::point(id, vocab)));
                }
            }
            DraftSpec::SelfLayers(l) => {
                let cp = self.cache.checkpoint();
                let mut todo = tokens[self.cache.next_position()..].to_vec();
                let opts = ForwardOptions {
                    exit_after: Some(l),
                    hidden: crate::model::HiddenWanted::None,
                    ..ForwardOptions::LAST
                };
                for j in 0..gamma {
                    let logits =
                        self.lm
                            .model
                            .forward(&ids_tensor(&[&todo]), &mut self.cache, opts)?;
                    let q = self.dist(&tensor_to_vec(&logits.logits.get(0)), &hist)?;
                    let id = q.pick(draw(j));
                    out.push((id, q));
                    hist.push(id);
                    todo = vec![id];
                }
                self.cache.restore(cp).map_err(ModelError::Other)?;
            }
            DraftSpec::Model(_) => {
                let policy = self.cache.policy();
                let idx = self
                    .roles
                    .iter()
                    .position(|r| r.role == Role::Draft)
                    .ok_or_else(|| EngineError::Invalid("no draft model is loaded".into()))?;
                let first = self.roles[idx].next_logits(tokens, policy)?;
                let cp = self.roles[idx].checkpoint();
                let mut logits = first;
                for j in 0..gamma {
                    let q = self.dist(&logits, &hist)?;
                    let id = q.pick(draw(j));
                    out.push((id, q));
                    hist.push(id);
                    if j + 1 < gamma {
                        logits = self.roles[idx].next_logits(&hist, policy)?;
                    }
                }
                self.roles[idx].restore(cp)?;
            }
        }
        Ok(out)
    }
}
