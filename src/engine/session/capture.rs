//! The session's cache policy and attention capture: running tokens through the model in
//! chunks the policy allows, capturing every query's row, and the views for the UI.

use crate::model::cache::{CachePolicy, KvCache};
use crate::model::config::LayerKind;
use crate::model::error::ModelError;
use crate::model::taps::{capture_rows, AttentionTrail};
use crate::model::{ids_tensor, tensor_to_vec, ForwardOptions, HiddenWanted, LogitsWanted, Model};

use super::super::inspect::{AttentionView, CacheView, LayerReach};
use super::{EngineError, Session};

/// Query rows per forward while capturing (bounds the capture's memory).
const CAPTURE_CHUNK: usize = 16;

/// Feeds `todo` after `cache`, in chunks that fit its policy; with a trail, captures the row
/// of every query. Returns the last position's logits.
pub(crate) fn run_tokens(
    model: &Model,
    todo: &[u32],
    cache: &mut KvCache,
    trail: Option<&mut AttentionTrail>,
) -> Result<Vec<f32>, ModelError> {
    Ok(run_tokens_tapped(model, todo, cache, trail, false)?.logits)
}

/// What [`run_tokens_tapped`] returns.
pub(crate) struct Ran {
    /// The last position's logits.
    pub logits: Vec<f32>,
    /// The last position's residual stream after the embedding and every block, flattened
    /// `[(L + 1) · d]`, when asked for.
    pub rows: Option<Vec<f32>>,
}

/// [`run_tokens`], also returning the last position's residual streams when `rows`.
pub(crate) fn run_tokens_tapped(
    model: &Model,
    todo: &[u32],
    cache: &mut KvCache,
    mut trail: Option<&mut AttentionTrail>,
    rows: bool,
) -> Result<Ran, ModelError> {
    let mut ran = Ran {
        logits: Vec::new(),
        rows: None,
    };
    let mut rest = todo;
    while !rest.is_empty() {
        let cap = if trail.is_some() {
            CAPTURE_CHUNK
        } else {
            usize::MAX
        };
        let n = rest.len().min(cache.max_chunk()).min(cap).max(1);
        let (chunk, tail) = rest.split_at(n);
        let opts = ForwardOptions {
            logits: LogitsWanted::Last,
            capture_attention: trail.is_some(),
            exit_after: None,
            hidden: if rows && tail.is_empty() {
                HiddenWanted::Last
            } else {
                HiddenWanted::None
            },
        };
        let out = model.forward(&ids_tensor(&[chunk]), cache, opts)?;
        if let Some(trail) = trail.as_deref_mut() {
            for row in capture_rows(&out.attentions, cache.positions()) {
                trail.insert(row);
            }
        }
        if tail.is_empty() {
            ran.logits = tensor_to_vec(&out.logits.get(0));
            ran.rows = out.hidden.map(|h| tensor_to_vec(&h));
        }
        rest = tail;
    }
    Ok(ran)
}

impl Session {
    /// The KV-cache policy in force.
    pub fn cache_policy(&self) -> CachePolicy {
        self.cache.policy()
    }

    /// Switches the cache policy: the cache is rebuilt from the timeline at once.
    pub fn set_cache_policy(&mut self, policy: CachePolicy) -> Result<(), EngineError> {
        let ctx = self.lm.model.config().context_len;
        if policy.capacity().is_some_and(|c| c > ctx) {
            return Err(EngineError::Invalid(format!(
                "cache {policy} holds more than the model's context of {ctx} tokens"
            )));
        }
        self.cache = self.lm.model.new_cache_with(policy);
        self.rebuild()
    }

    /// Whether attention rows are captured.
    pub fn capturing(&self) -> bool {
        self.capture
    }

    /// Starts or stops capturing attention. Starting rebuilds the cache from the timeline so
    /// every position has its row.
    pub fn set_attention_capture(&mut self, on: bool) -> Result<(), EngineError> {
        if on == self.capture {
            return Ok(());
        }
        self.capture = on;
        self.trail.truncate(0);
        if on {
            self.cache = self.lm.model.new_cache_with(self.cache.policy());
            self.rebuild()?;
        }
        Ok(())
    }

    /// Recomputes the logits after the timeline (the cache fills as far as it lacks).
    fn rebuild(&mut self) -> Result<(), EngineError> {
        self.trail.truncate(0);
        self.pending = None;
        let tokens = self.tokens();
        self.ensure_pending(&tokens)
    }

    /// Rolls the cache (and the captured rows) back to the first `keep` tokens; an evicted
    /// cache cannot be cut and is emptied, to be refilled lazily.
    pub(super) fn rollback(&mut self, keep: usize) {
        if self.cache.next_position() > keep {
            if self.cache.evicted() == 0 {
                self.cache.truncate(keep);
            } else {
                self.cache = self.lm.model.new_cache_with(self.cache.policy());
            }
        }
        self.trail.truncate(keep);
    }

    /// Runs what the cache lacks of `tokens` (capturing when on); the last logits and the
    /// last position's residual streams.
    pub(super) fn run_missing(&mut self, tokens: &[u32]) -> Result<Ran, ModelError> {
        let have = self.cache.next_position().min(tokens.len());
        let trail = if self.capture {
            Some(&mut self.trail)
        } else {
            None
        };
        run_tokens_tapped(
            &self.lm.model,
            &tokens[have..],
            &mut self.cache,
            trail,
            true,
        )
    }

    /// The captured attention of the current timeline.
    pub fn attention_view(&self) -> AttentionView {
        let cfg = self.lm.model.config();
        AttentionView {
            layers: cfg.layers,
            heads: cfg.heads,
            tokens: self.texts(&self.tokens()),
            prompt_len: self.prompt_ids.len(),
            rows: self.trail.rows().to_vec(),
            bytes: self.trail.bytes(),
        }
    }

    /// The cache's slots now.
    pub fn cache_view(&self) -> CacheView {
        let tokens = self.tokens();
        let slots = self.cache.slots();
        let ids: Vec<u32> = slots
            .iter()
            .map(|s| tokens.get(s.position).copied().unwrap_or(0))
            .collect();
        let cfg = self.lm.model.config();
        CacheView {
            policy: self.cache.policy(),
            tokens: self.texts(&ids),
            slots,
            evicted: self.cache.evicted(),
            bytes: self.cache.bytes(),
            context_len: cfg.context_len,
            layers: (0..cfg.layers)
                .map(|l| match cfg.layer_kind(l) {
                    LayerKind::Global => LayerReach::Global,
                    LayerKind::Sliding { window } => LayerReach::Sliding { window },
                })
                .collect(),
        }
    }

    fn texts(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&i| self.info.vocab.get(i as usize).cloned().unwrap_or_default())
            .collect()
    }
}
