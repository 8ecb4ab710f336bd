//! Output ensembling on the session: further members (another prompt for the same question
//! on the target model, or another model with the same vocabulary on the session's prompt),
//! each continuing the timeline's generated tokens with its own KV cache.

use crate::model::cache::KvCache;
use crate::model::Loaded;

use super::super::roles::{advance, check_same_vocab};
use super::logits::LogitsRef;
use super::{EngineError, Session};

/// One ensemble member besides the session itself.
pub(super) struct Member {
    label: String,
    /// Its own prompt (`None`: the session's).
    prompt_ids: Option<Vec<u32>>,
    /// Its own model (`None`: the target).
    lm: Option<Loaded>,
    cache: KvCache,
    held: Vec<u32>,
}

impl Session {
    /// Adds an ensemble member: `prompt` for the same question on the target model, or the
    /// model `lm` (same vocabulary) on the session's prompt, or both.
    pub fn add_member(
        &mut self,
        prompt: Option<&str>,
        lm: Option<Loaded>,
    ) -> Result<(), EngineError> {
        let prompt_ids = match prompt {
            Some("") => return Err(EngineError::Invalid("--ensemble-prompt is empty".into())),
            Some(p) => Some(self.lm.tok.encode(p)?),
            None => None,
        };
        if let Some(m) = &lm {
            check_same_vocab(&self.lm.tok, &self.lm.name(), &m.tok, &m.name())
                .map_err(EngineError::Invalid)?;
        }
        let label = match (&lm, prompt) {
            (Some(m), _) => m.name(),
            (None, Some(p)) => format!("prompt {:?}", p.chars().take(24).collect::<String>()),
            (None, None) => return Err(EngineError::Invalid("an empty ensemble member".into())),
        };
        let model = lm.as_ref().map_or(&self.lm.model, |m| &m.model);
        self.members.push(Member {
            label,
            cache: model.new_cache(),
            prompt_ids,
            lm,
            held: Vec::new(),
        });
        Ok(())
    }

    /// The members' labels (the session itself not included).
    pub fn member_labels(&self) -> Vec<String> {
        self.members.iter().map(|m| m.label.clone()).collect()
    }

    /// Every member's logits for the next token after `generated`, stored exactly.
    pub(super) fn member_logits(
        &mut self,
        generated: &[u32],
    ) -> Result<Vec<LogitsRef>, EngineError> {
        if self.members.is_empty() {
            return Err(EngineError::Invalid(
                "ensembling needs members: --ensemble-prompt TEXT or --ensemble-model PATH".into(),
            ));
        }
        let policy = self.cache.policy();
        let mut refs = Vec::with_capacity(self.members.len());
        for m in &mut self.members {
            let mut context = m
                .prompt_ids
                .clone()
                .unwrap_or_else(|| self.prompt_ids.clone());
            context.extend_from_slice(generated);
            let model = m.lm.as_ref().map_or(&self.lm.model, |l| &l.model);
            let logits = advance(model, &mut m.cache, &mut m.held, &context, policy)?;
            refs.push(self.store.push(&logits));
        }
        Ok(refs)
    }
}
