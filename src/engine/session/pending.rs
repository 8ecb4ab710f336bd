//! The next token before it is chosen: its logits computed lazily by running what the cache
//! lacks, its signals computed once per knob setting (and then used by the step itself), and
//! its record under any knob set.

use std::sync::Arc;
use std::time::Instant;

use crate::decode::config::SamplerConfig;
use crate::decode::contrast::Signals;
use crate::decode::sampler::Sampler;
use crate::decode::stage::History;

use super::super::protocol::StepRecord;
use super::contrast::StepAux;
use super::{EngineError, Session};

impl Session {
    /// Makes sure the logits after the current timeline are computed.
    pub(super) fn ensure_pending(&mut self, tokens: &[u32]) -> Result<(), EngineError> {
        if self.pending.is_some() {
            return Ok(());
        }
        let have = self.cache.next_position();
        let t0 = Instant::now();
        let ran = self.run_missing(tokens)?;
        let ms = t0.elapsed().as_secs_f32() * 1e3;
        if have == 0 {
            self.prefill_ms = ms;
        } else if tokens.len() == have + 1 {
            self.recent_ms.push(ms);
            if self.recent_ms.len() > 64 {
                self.recent_ms.remove(0);
            }
        }
        self.pending_forward_ms = ms;
        self.pending = Some(ran.logits);
        self.pending_rows = ran.rows;
        self.pending_inputs = None;
        Ok(())
    }

    /// The pending step's signals under the knobs in force, computed once per knob setting.
    pub(super) fn pending_inputs(
        &mut self,
        tokens: &[u32],
    ) -> Result<(Signals, StepAux), EngineError> {
        let cfg = self.config().clone();
        if let Some((c, signals, aux)) = &self.pending_inputs {
            if *c == cfg {
                return Ok((signals.clone(), aux.clone()));
            }
            // Other knobs: recompute from the same forward's streams.
            if self.pending_rows.is_none() {
                if let Some(rows) = aux.rows_ref() {
                    self.pending_rows =
                        Some(self.rows.get(rows).map_err(EngineError::Invalid)?.to_vec());
                }
            }
        }
        let (signals, aux) = self.pending_signals(tokens)?;
        self.pending_inputs = Some((cfg, signals.clone(), aux.clone()));
        Ok((signals, aux))
    }

    /// The record the next [`Session::step`] would make under the knobs in force (its
    /// distribution before choosing, the token its draw picks), computing what the cache lacks;
    /// `None` when the sequence has ended.
    pub fn pending_record(&mut self) -> Result<Option<Arc<StepRecord>>, EngineError> {
        if self.finished() {
            return Ok(None);
        }
        let config = self.config().clone();
        self.pending_under(&config).map(Some)
    }

    /// The pending step re-run through the chain under `config` (another knob set on the same
    /// logits and stored signals; its own draw), without choosing.
    pub fn pending_under(
        &mut self,
        config: &SamplerConfig,
    ) -> Result<Arc<StepRecord>, EngineError> {
        let tokens = self.tokens();
        self.ensure_pending(&tokens)?;
        let (_, aux) = self.pending_inputs(&tokens)?;
        let signals = self.signals_for(config, &aux)?;
        let logits = self.pending.clone().unwrap_or_default();
        let index = self.steps().len();
        let history = History::new(&tokens, self.prompt_ids.len()).with_signals(&signals);
        let draw = crate::decode::sampler::draw_for(config.seed, index as u64);
        let trace = Sampler::new(config)
            .map_err(EngineError::Invalid)?
            .replay(&logits, history, Some(draw))
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        Ok(Arc::new(self.record(
            index,
            trace,
            &logits,
            config.clone(),
            self.pending_forward_ms,
        )))
    }

    /// The raw logits of the next token (computing what the cache lacks), before choosing.
    pub fn pending_logits(&mut self) -> Result<Vec<f32>, EngineError> {
        let tokens = self.tokens();
        self.ensure_pending(&tokens)?;
        Ok(self.pending.clone().unwrap_or_default())
    }
}
