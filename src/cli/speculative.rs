//! `--draft SPEC --draft-tokens G [--adaptive-gamma]`: speculative decoding on the command line
//! (`generate`) and in the TUI, and the JSON round records.

use clap::Args;
use serde_json::{json, Value};

use crate::decode::speculative::{DraftSpec, GammaSchedule, Round, SpecStats, MAX_GAMMA};
use crate::engine::roles::Role;
use crate::engine::run::SpecConfig;
use crate::engine::session::Session;
use crate::model::load;
use crate::model::tokenizer::Tok;

use super::args::ModelArgs;
use super::CliError;

/// Speculative decoding's options.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Speculative decoding with this draft: `ngram:N` (prompt lookup on the last N tokens, no
    /// model call), `self:L` (the target's own first L layers, then its final norm and head),
    /// or a GGUF file / Hugging Face directory of a model with the same tokenizer. Tokens are
    /// distributed exactly as without a draft; the draft only changes the speed.
    #[arg(long, value_name = "SPEC")]
    pub draft: Option<String>,
    /// Tokens drafted per round (γ).
    #[arg(long, value_name = "G", default_value_t = 4)]
    pub draft_tokens: usize,
    /// Adapt γ after every round (Hugging Face's heuristic: +2 when all drafts were accepted,
    /// −1 otherwise).
    #[arg(long)]
    pub adaptive_gamma: bool,
}

impl SpecArgs {
    /// The speculative configuration, when `--draft` is given (validated, no model loaded).
    pub fn config(&self) -> Result<Option<SpecConfig>, CliError> {
        let Some(spec) = &self.draft else {
            return Ok(None);
        };
        let draft: DraftSpec = spec.parse().map_err(CliError::usage)?;
        if !(1..=MAX_GAMMA).contains(&self.draft_tokens) {
            return Err(CliError::usage(format!(
                "--draft-tokens must be 1..={MAX_GAMMA}, got {}",
                self.draft_tokens
            )));
        }
        if let DraftSpec::Model(p) = &draft {
            if !p.exists() {
                return Err(CliError::usage(format!(
                    "--draft {}: no such model file or directory",
                    p.display()
                )));
            }
        }
        Ok(Some(SpecConfig {
            draft,
            gamma: GammaSchedule {
                gamma: self.draft_tokens,
                adaptive: self.adaptive_gamma,
            },
        }))
    }

    /// Loads the draft model into the session when the draft is a model.
    pub fn attach(
        &self,
        cfg: &SpecConfig,
        model: &ModelArgs,
        s: &mut Session,
    ) -> Result<(), CliError> {
        if let DraftSpec::Model(path) = &cfg.draft {
            let lm = load(path, model.dtype.into(), &mut |_, _| {})?;
            s.attach(Role::Draft, lm)?;
        }
        Ok(())
    }
}

/// One round as a JSON record (the schema in the README).
pub fn round_json(r: &Round, tok: &Tok) -> Value {
    json!({
        "type": "round",
        "round": r.round,
        "drafted": r.drafted.iter().map(|d| json!({
            "id": d.id, "token": tok.display(d.id), "q": d.q, "p": d.p,
            "accept_prob": d.accept_prob, "draw": d.draw, "accepted": d.accepted,
        })).collect::<Vec<_>>(),
        "resampled": r.resampled.as_ref().map(|x| json!({
            "id": x.id, "token": tok.display(x.id), "p": x.p, "q": x.q})),
        "bonus": r.bonus.as_ref().map(|b| json!({
            "id": b.id, "token": tok.display(b.id), "p": b.p})),
        "alpha": r.alpha,
    })
}

/// The `speculative` part of the `done` record.
pub fn stats_json(s: &SpecStats) -> Value {
    json!({
        "rounds": s.rounds,
        "drafted": s.drafted,
        "accepted": s.accepted,
        "acceptance_rate": s.acceptance_rate(),
        "mean_alpha": s.mean_alpha(),
        "target_calls": s.target_calls,
        "tokens_per_target_call": s.tokens_per_target_call(),
    })
}
