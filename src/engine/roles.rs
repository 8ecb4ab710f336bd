//! Models by role. A session's target is the model it generates with; other roles (a
//! speculative draft, later an amateur or scorers) are further models that share the target's
//! vocabulary, each with its own KV cache.

use std::fmt;

use crate::model::cache::{CachePolicy, Checkpoint, KvCache};
use crate::model::error::ModelError;
use crate::model::tokenizer::Tok;
use crate::model::{Loaded, Model};

use super::session::run_tokens;

/// What a model is for in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The model whose distribution the session generates from.
    Target,
    /// Proposes tokens for the target to verify (speculative decoding).
    Draft,
    /// The weaker model contrastive decoding subtracts.
    Amateur,
    /// Scores prefixes (classifiers, rewards).
    Scorer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Target => "target",
            Role::Draft => "draft",
            Role::Amateur => "amateur",
            Role::Scorer => "scorer",
        })
    }
}

/// Checks that `other` uses the target's vocabulary: same size and the same token at every id.
/// The error is one line naming both sizes or the first differing token.
pub fn check_same_vocab(
    target: &Tok,
    target_name: &str,
    other: &Tok,
    other_name: &str,
) -> Result<(), String> {
    let (a, b) = (target.vocab_size(), other.vocab_size());
    if a != b {
        return Err(format!(
            "{other_name} does not share the target's vocabulary: {b} tokens vs {a} in {target_name}"
        ));
    }
    match (0..a as u32).find(|&i| target.token_bytes(i) != other.token_bytes(i)) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{other_name} does not share the target's vocabulary: token {i} is {:?} there but {:?} in {target_name}",
            other.display(i),
            target.display(i)
        )),
    }
}

/// A model in a non-target role with its own cache and the tokens that cache holds.
pub struct RoleModel {
    pub role: Role,
    pub lm: Loaded,
    cache: KvCache,
    /// Token ids the cache holds, in order (a prefix of the last context asked for).
    held: Vec<u32>,
}

impl RoleModel {
    /// `lm` in `role`, after checking it shares `target`'s vocabulary.
    pub fn new(role: Role, lm: Loaded, target: &Loaded) -> Result<Self, String> {
        check_same_vocab(&target.tok, &target.name(), &lm.tok, &lm.name())?;
        Ok(RoleModel {
            role,
            cache: lm.model.new_cache(),
            lm,
            held: Vec::new(),
        })
    }

    /// The cache (for inspection).
    pub fn cache(&self) -> &KvCache {
        &self.cache
    }

    /// The logits after `context` (see [`advance`]); under `policy` (the target's), the
    /// cache is rebuilt when the policy changes.
    pub fn next_logits(
        &mut self,
        context: &[u32],
        policy: CachePolicy,
    ) -> Result<Vec<f32>, ModelError> {
        advance(
            &self.lm.model,
            &mut self.cache,
            &mut self.held,
            context,
            policy,
        )
    }

    /// The cache state now, for [`RoleModel::restore`] after drafting past it.
    pub fn checkpoint(&self) -> (Checkpoint, usize) {
        (self.cache.checkpoint(), self.held.len())
    }

    /// Back to a checkpoint taken since the last [`RoleModel::next_logits`] that cut the cache.
    pub fn restore(&mut self, (cp, held): (Checkpoint, usize)) -> Result<(), ModelError> {
        self.cache.restore(cp).map_err(ModelError::Other)?;
        self.held.truncate(held);
        Ok(())
    }
}

/// The logits after `context` from a model whose `cache` holds the tokens `held`: the cache
/// keeps its longest prefix in common with `context` (cut back when it can be cut, rebuilt when
/// evictions happened or the policy changed) and runs the rest.
pub fn advance(
    model: &Model,
    cache: &mut KvCache,
    held: &mut Vec<u32>,
    context: &[u32],
    policy: CachePolicy,
) -> Result<Vec<f32>, ModelError> {
    if context.is_empty() {
        return Err(ModelError::Other("nothing to run: empty context".into()));
    }
    if cache.policy() != policy {
        *cache = model.new_cache_with(policy);
        held.clear();
    }
    let common = held
        .iter()
        .zip(context)
        .take_while(|(a, b)| a == b)
        .count()
        // At least one token must run to produce logits.
        .min(context.len() - 1);
    if common < held.len() {
        if cache.evicted() == 0 {
            cache.truncate(common);
            held.truncate(common);
        } else {
            *cache = model.new_cache_with(policy);
            held.clear();
        }
    }
    let have = held.len();
    let logits = run_tokens(model, &context[have..], cache, None)?;
    *held = context.to_vec();
    Ok(logits)
}
