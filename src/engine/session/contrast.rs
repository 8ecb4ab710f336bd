//! The contrasts on the session: the signals contrastive decoding and DoLa read (recomputed
//! exactly from what each step stored), contrastive search's batched candidate forward, and
//! the logit lens of the timeline's steps.
//!
//! Every step stores the residual stream at its last position after the embedding and every
//! block (`(L + 1) · d` f32, 71 KB for SmolLM2-135M; in the session's temporary file like the
//! logits), and, with an amateur model, the amateur's logits. Signals are derived from those
//! by the same computation at the step and in every later preview, so both see the same bits.

use std::sync::Arc;
use std::time::Instant;

use tch::Tensor;

use crate::decode::config::SamplerConfig;
use crate::decode::contrast::{search, Signals};
use crate::decode::grammar::{GrammarMask, GrammarSpec};
use crate::decode::sampler::Sampler;
use crate::decode::stage::History;
use crate::decode::trace::{StageDetail, StageTrace};
use crate::model::error::ModelError;
use crate::model::{ids_tensor, tensor_to_vec, ForwardOptions, HiddenWanted, LogitsWanted};

use super::super::protocol::StepRecord;
use super::super::roles::Role;
use super::logits::LogitsRef;
use super::record::forced_choice;
use super::steer::StepSteer;
use super::{EngineError, Session};

/// What a step stored besides its logits.
#[derive(Debug, Clone, Default)]
pub(super) struct StepAux {
    /// Its residual streams (none for speculative steps).
    rows: Option<LogitsRef>,
    /// The amateur model's logits, when contrastive decoding ran with one.
    amateur: Option<LogitsRef>,
    /// The ensemble members' logits, when ensembling ran.
    members: Vec<LogitsRef>,
    /// The grammar constraint's mask of the step, when one was in force.
    grammar: Option<StepGrammar>,
    /// How many generated tokens the step continued (`None`: a speculative step).
    generated: Option<usize>,
    /// FUDGE's and RAD's scores of its candidates, when steering ran.
    steer: Option<StepSteer>,
}

/// A step's grammar mask and the constraint it was computed for.
#[derive(Debug, Clone)]
struct StepGrammar {
    /// [`spec_key`] of the constraint.
    key: u64,
    mask: Arc<GrammarMask>,
}

/// A fingerprint of a constraint (kind and source), so a step stores 8 bytes, not the source.
fn spec_key(spec: &GrammarSpec) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    spec.hash(&mut h);
    h.finish()
}

impl StepAux {
    /// Where the step's residual streams are stored.
    pub(super) fn rows_ref(&self) -> Option<LogitsRef> {
        self.rows
    }
}

pub(super) fn invalid(e: impl ToString) -> EngineError {
    EngineError::Invalid(e.to_string())
}

impl Session {
    /// Rejects knobs the session cannot serve: contrastive decoding without an amateur,
    /// an amateur layer out of range, DoLa layers that select nothing.
    pub(super) fn check_contrast(&self, cfg: &SamplerConfig) -> Result<(), EngineError> {
        let mc = self.lm.model.config();
        if let Some(k) = cfg.contrast {
            match k.amateur_layer {
                Some(l) if l == 0 || l >= mc.layers => {
                    return Err(invalid(format!(
                        "amateur self:{l}: the target has {} layers, so L must be 1..={}",
                        mc.layers,
                        mc.layers - 1
                    )))
                }
                None if self.role(Role::Amateur).is_none() => {
                    return Err(invalid(
                        "contrastive decoding needs an amateur: --amateur PATH or --amateur self:L",
                    ))
                }
                _ => {}
            }
        }
        if cfg.ensemble.is_some() && self.members.is_empty() {
            return Err(invalid(
                "ensembling needs members: --ensemble-prompt TEXT or --ensemble-model PATH",
            ));
        }
        if let Some(g) = &cfg.grammar {
            crate::constrain::check(g).map_err(invalid)?;
        }
        self.check_steer(cfg)?;
        if let Some(d) = &cfg.dola_layers {
            if d.candidates(mc.layers, mc.tied_embeddings).is_empty() {
                return Err(invalid(format!(
                    "--dola-layers {d} selects no layer below the model's {}",
                    mc.layers
                )));
            }
        }
        Ok(())
    }

    /// The signals of the pending step, storing what recomputing them needs.
    pub(super) fn pending_signals(
        &mut self,
        tokens: &[u32],
    ) -> Result<(Signals, StepAux), EngineError> {
        let cfg = self.config().clone();
        let mut aux = StepAux::default();
        if let Some(rows) = self.pending_rows.take() {
            aux.rows = Some(self.rows.push(&rows));
        }
        if cfg.contrast.is_some_and(|k| k.amateur_layer.is_none()) {
            let policy = self.cache.policy();
            let amateur = self
                .roles
                .iter_mut()
                .find(|r| r.role == Role::Amateur)
                .ok_or_else(|| invalid("contrastive decoding needs an amateur model"))?;
            let logits = amateur.next_logits(tokens, policy)?;
            aux.amateur = Some(self.store.push(&logits));
        }
        let generated = &tokens[self.prompt_ids.len().min(tokens.len())..];
        if cfg.ensemble.is_some() {
            aux.members = self.member_logits(generated)?;
        }
        aux.generated = Some(generated.len());
        if let Some(spec) = &cfg.grammar {
            aux.grammar = Some(StepGrammar {
                key: spec_key(spec),
                mask: self.grammar_mask(spec, generated)?,
            });
        }
        let previous = self.pending_inputs.as_ref().and_then(|p| p.2.steer.clone());
        let mask = aux.grammar.as_ref().map(|g| g.mask.clone());
        aux.steer =
            self.pending_steer(&cfg, tokens, mask.as_deref(), previous.as_ref(), aux.rows)?;
        Ok((self.signals_for(&cfg, &aux)?, aux))
    }

    /// The signals `cfg`'s contrast stages read at a step that stored `aux`.
    pub(super) fn signals_for(
        &self,
        cfg: &SamplerConfig,
        aux: &StepAux,
    ) -> Result<Signals, EngineError> {
        let mut s = Signals::default();
        if cfg.ensemble.is_some() {
            if aux.members.is_empty() {
                return Err(invalid("this step has no ensemble members' logits"));
            }
            for &r in &aux.members {
                s.members.push(self.store.get(r).map_err(invalid)?.to_vec());
            }
        }
        if let Some(spec) = &cfg.grammar {
            s.grammar = Some(match &aux.grammar {
                Some(g) if g.key == spec_key(spec) => g.mask.clone(),
                // Another constraint than the step ran under (or none): its mask after the
                // same tokens.
                _ => {
                    let n = aux.generated.ok_or_else(|| {
                        invalid("this step (a speculative step) cannot be re-run under a grammar constraint")
                    })?;
                    let generated: Vec<u32> = self.timelines[self.current].ids().take(n).collect();
                    self.grammar_mask(spec, &generated)?
                }
            });
        }
        self.steer_signals(cfg, aux.steer.as_ref(), &mut s)?;
        if cfg.contrast.is_none() && cfg.dola_layers.is_none() {
            return Ok(s);
        }
        let rows = aux
            .rows
            .map(|r| self.rows.get(r))
            .transpose()
            .map_err(invalid)?;
        let rows = || {
            rows.as_deref().map(Vec::as_slice).ok_or_else(|| {
                invalid("this step kept no hidden states (a speculative step): its contrasts cannot be computed")
            })
        };
        if let Some(k) = cfg.contrast {
            s.amateur = Some(match (k.amateur_layer, aux.amateur) {
                (Some(l), _) => {
                    let layers = self.lm.model.config().layers;
                    if l == 0 || l >= layers {
                        return Err(invalid(format!(
                            "amateur self:{l}: the target has {layers} layers, so L must be 1..={}",
                            layers - 1
                        )));
                    }
                    self.lens_rows(rows()?, &[l], true).remove(0)
                }
                (None, Some(r)) => self.store.get(r).map_err(invalid)?.to_vec(),
                (None, None) => return Err(invalid("this step has no amateur logits")),
            });
        }
        if let Some(d) = &cfg.dola_layers {
            let mc = self.lm.model.config();
            let layers = d.candidates(mc.layers, mc.tied_embeddings);
            if layers.is_empty() {
                return Err(invalid(format!(
                    "--dola-layers {d} selects no layer below the model's {}",
                    mc.layers
                )));
            }
            let logits = self.lens_rows(rows()?, &layers, false);
            s.premature = layers.into_iter().zip(logits).collect();
        }
        Ok(s)
    }

    /// The mask of `spec` after the generated tokens `generated` (the session's token space is
    /// built from the tokenizer the first time: every id's bytes, the model's end-of-sequence
    /// ids).
    fn grammar_mask(
        &self,
        spec: &GrammarSpec,
        generated: &[u32],
    ) -> Result<Arc<GrammarMask>, EngineError> {
        let space = || {
            let tok = &self.lm.tok;
            let mc = self.lm.model.config();
            let vocab = tok.vocab_size().max(mc.vocab_size);
            crate::constrain::TokenSpace::new(
                vocab,
                |id| tok.token_bytes(id),
                &mc.eos_ids,
                |id| tok.is_special(id),
            )
        };
        self.constrainer
            .mask(spec, space, generated)
            .map_err(invalid)
    }

    /// The head applied to the residual streams after `layers` (through the final norm when
    /// `normed`), from one step's stored rows; one forward of the head for all of them.
    pub(super) fn lens_rows(&self, rows: &[f32], layers: &[usize], normed: bool) -> Vec<Vec<f32>> {
        let d = self.lm.model.config().hidden;
        let flat: Vec<f32> = layers
            .iter()
            .flat_map(|&l| rows[l * d..(l + 1) * d].iter().copied())
            .collect();
        let x = Tensor::from_slice(&flat).view([layers.len() as i64, d as i64]);
        let out = self.lm.model.lens_logits(&x, normed);
        (0..layers.len() as i64)
            .map(|i| tensor_to_vec(&out.get(i)))
            .collect()
    }

    /// The last-layer hidden states of the whole timeline, recomputed when they do not match it.
    fn ensure_search_context(&mut self, tokens: &[u32]) -> Result<(), EngineError> {
        let d = self.lm.model.config().hidden;
        if self.search_context.as_ref().map(Vec::len) == Some(tokens.len() * d) {
            return Ok(());
        }
        let mut cache = self.lm.model.new_cache();
        let opts = ForwardOptions {
            logits: LogitsWanted::Last,
            capture_attention: false,
            exit_after: None,
            hidden: HiddenWanted::All,
        };
        let out = self
            .lm
            .model
            .forward(&ids_tensor(&[tokens]), &mut cache, opts)?;
        let hidden = out
            .hidden
            .ok_or_else(|| invalid("the forward returned no hidden states"))?;
        let layers = self.lm.model.config().layers as i64;
        let last = hidden.get(0).select(1, layers);
        self.search_context = Some(tensor_to_vec(&self.lm.model.final_norm(&last)));
        Ok(())
    }

    /// One contrastive-search step (Su et al. 2022, Hugging Face's `_contrastive_search`):
    /// the chain's processors (its top-k is the search width, as no warper runs there), the
    /// `k` best tokens run in ONE batched forward on a `k`-row copy of the cache, and the one
    /// with the best `(1 − α)·p − α·max cos(h, context)` is kept, its row of that forward
    /// giving the next step's logits.
    pub(super) fn search_step(
        &mut self,
        alpha: f32,
        k: usize,
    ) -> Result<std::sync::Arc<StepRecord>, EngineError> {
        let tokens = self.tokens();
        self.ensure_pending(&tokens)?;
        self.ensure_search_context(&tokens)?;
        let logits = self.pending.take().unwrap_or_default();
        let forward_ms = self.pending_forward_ms;
        let (signals, aux) = self.pending_inputs(&tokens)?;
        self.pending_inputs = None;
        let history = History::new(&tokens, self.prompt_ids.len()).with_signals(&signals);
        let knobs = SamplerConfig {
            top_k: None,
            greedy: true,
            ..self.config().clone()
        };
        let mut trace = Sampler::new(&knobs)
            .map_err(invalid)?
            .replay(&logits, history, None)
            .map_err(invalid)?;
        let top: Vec<(u32, f32)> = trace.final_top.iter().take(k).copied().collect();
        let n = top.len();

        let t0 = Instant::now();
        let before = self.cache.checkpoint();
        self.cache.reorder(&vec![0; n]);
        let ids: Vec<[u32; 1]> = top.iter().map(|&(id, _)| [id]).collect();
        let rows: Vec<&[u32]> = ids.iter().map(|r| r.as_slice()).collect();
        let opts = ForwardOptions {
            logits: LogitsWanted::Last,
            capture_attention: false,
            exit_after: None,
            hidden: HiddenWanted::Last,
        };
        let out = match self
            .lm
            .model
            .forward(&ids_tensor(&rows), &mut self.cache, opts)
        {
            Ok(out) => out,
            Err(e) => {
                self.cache.restore(before).map_err(ModelError::Other)?;
                return Err(e.into());
            }
        };
        let layers = self.lm.model.config().layers as i64;
        let hidden = out
            .hidden
            .ok_or_else(|| invalid("the forward returned no hidden states"))?;
        let normed = self
            .lm
            .model
            .final_norm(&hidden.select(1, 0).select(1, layers));
        let cand: Vec<Vec<f32>> = (0..n as i64)
            .map(|i| tensor_to_vec(&normed.get(i)))
            .collect();
        let context = self.search_context.as_deref().unwrap_or_default();
        let scored = search::score(&top, &cand, context, alpha);
        let j = search::best(&scored);
        self.cache.reorder(&[j as i64]);
        let ms = t0.elapsed().as_secs_f32() * 1e3;

        self.pending = Some(tensor_to_vec(&out.logits.get(j as i64)));
        self.pending_inputs = None;
        self.pending_rows = Some(tensor_to_vec(&hidden.get(j as i64)));
        self.pending_forward_ms = ms;
        self.recent_ms.push(ms);
        if self.recent_ms.len() > 64 {
            self.recent_ms.remove(0);
        }
        if let Some(c) = self.search_context.as_mut() {
            c.extend_from_slice(&cand[j]);
        }

        trace.stages.push(StageTrace {
            name: "contrastive_search".into(),
            params: format!("alpha={alpha} k={k}"),
            kept: n,
            mass: top.iter().map(|x| x.1).sum(),
            cutoff_rank: Some(n - 1),
            threshold: Some(alpha),
            removed_best: Vec::new(),
            detail: Some(StageDetail::Search { rows: scored }),
        });
        trace.chosen = forced_choice(&logits, &trace, top[j].0);
        let record = self.push_step(trace, &logits, aux, forward_ms, false);
        self.sampler.seek(self.steps().len() as u64);
        Ok(record)
    }
}
