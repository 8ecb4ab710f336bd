//! FUDGE's and RAD's scores on the session: the top-k candidates of the pending step, scored
//! by a probe on ONE batched forward of prefix + x (or by a lexicon, no forward), stored with
//! the step so every later preview under other weights re-uses them.

use std::path::Path;
use std::sync::OnceLock;

use crate::decode::config::SamplerConfig;
use crate::decode::contrast::Signals;
use crate::decode::grammar::GrammarMask;
use crate::decode::math::top_n;
use crate::decode::steer::{RewardSpec, SteerKnobs, SteerScores};
use crate::steer::features::{candidate_streams, prefix_feature, rows_at_layer, stream_feature};
use crate::steer::lexicon::Lexicon;
use crate::steer::probe::Probe;

use super::logits::LogitsRef;
use super::{EngineError, Session};

/// A step's steering scores, each with the knobs (spec and top-k) it was computed for.
#[derive(Debug, Clone, Default)]
pub(super) struct StepSteer {
    fudge: Option<(String, SteerScores)>,
    rad: Option<(String, SteerScores)>,
}

/// What the scores of a stage depend on: its spec and top-k (not its weight).
fn key(k: &SteerKnobs) -> String {
    format!("{} k={}", k.spec, k.top_k)
}

fn invalid(e: impl ToString) -> EngineError {
    EngineError::Invalid(e.to_string())
}

/// The committed sentiment lexicon, parsed once.
fn sentiment() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(|| Lexicon::named("sentiment").unwrap_or_default())
}

/// What a stage's scores come from.
enum Scorer {
    /// log P(a | ·) (FUDGE) or P(a | ·) (RAD) of a probe.
    Probe {
        probe: Box<Probe>,
        log: bool,
    },
    Lexicon(&'static Lexicon),
}

impl Session {
    /// Loads a probe and checks it fits the session's model (one line otherwise).
    fn load_probe(&self, path: &str) -> Result<Probe, EngineError> {
        let probe = Probe::load(Path::new(path)).map_err(invalid)?;
        let mc = self.lm.model.config();
        probe
            .check_model(mc.hidden, mc.layers, &self.lm.name())
            .map_err(invalid)?;
        Ok(probe)
    }

    fn scorer(&self, k: &SteerKnobs, fudge: bool) -> Result<Scorer, EngineError> {
        if fudge {
            return Ok(Scorer::Probe {
                probe: Box::new(self.load_probe(&k.spec)?),
                log: true,
            });
        }
        Ok(match RewardSpec::parse(&k.spec).map_err(invalid)? {
            RewardSpec::Probe(f) => Scorer::Probe {
                probe: Box::new(self.load_probe(&f)?),
                log: false,
            },
            RewardSpec::Lexicon(_) => Scorer::Lexicon(sentiment()),
        })
    }

    /// Rejects steering knobs the session cannot serve (a probe file that is missing, not a
    /// probe, or made for another model).
    pub(super) fn check_steer(&self, cfg: &SamplerConfig) -> Result<(), EngineError> {
        if let Some(k) = &cfg.fudge {
            self.scorer(k, true)?;
        }
        if let Some(k) = &cfg.rad {
            self.scorer(k, false)?;
        }
        Ok(())
    }

    /// The pending step's steering scores under `cfg` (re-using `previous` where its knobs
    /// match): the top-k of the raw logits (allowed by `mask`) scored in one batched forward.
    /// `streams` are the stored residual streams of the prefix's last position.
    pub(super) fn pending_steer(
        &mut self,
        cfg: &SamplerConfig,
        tokens: &[u32],
        mask: Option<&GrammarMask>,
        previous: Option<&StepSteer>,
        streams: Option<LogitsRef>,
    ) -> Result<Option<StepSteer>, EngineError> {
        let stages = [(cfg.fudge.as_ref(), true), (cfg.rad.as_ref(), false)];
        if stages.iter().all(|(k, _)| k.is_none()) {
            return Ok(None);
        }
        let logits = self.pending.clone().ok_or_else(|| {
            invalid("FUDGE and RAD score the model's own next-token candidates: they do not combine with contrastive search")
        })?;
        let mut out = StepSteer::default();
        for (knobs, fudge) in stages {
            let Some(k) = knobs else { continue };
            let reuse = previous.and_then(|p| (if fudge { &p.fudge } else { &p.rad }).as_ref());
            let scores = match reuse {
                Some((key_, s)) if *key_ == key(k) => s.clone(),
                _ => self.score(k, fudge, &logits, tokens, mask, streams)?,
            };
            let slot = if fudge { &mut out.fudge } else { &mut out.rad };
            *slot = Some((key(k), scores));
        }
        Ok(Some(out))
    }

    /// Scores the `k.top_k` best candidates of `logits` (allowed by `mask`) after `tokens`.
    ///
    /// A special token (end-of-sequence, a control token) ends or leaves the text rather than
    /// continuing it, and the probe never saw one, so it is scored as the prefix itself: the
    /// text stops with the attribute it has (the probe on the prefix's stored `streams`; the
    /// lexicon on the generated text so far).
    fn score(
        &mut self,
        k: &SteerKnobs,
        fudge: bool,
        logits: &[f32],
        tokens: &[u32],
        mask: Option<&GrammarMask>,
        streams: Option<LogitsRef>,
    ) -> Result<SteerScores, EngineError> {
        let generated = &tokens[self.prompt_ids.len().min(tokens.len())..];
        let masked: Vec<f32>;
        let logits = match mask {
            Some(m) => {
                masked = (0..logits.len() as u32)
                    .map(|id| {
                        if m.allows(id) {
                            logits[id as usize]
                        } else {
                            f32::NEG_INFINITY
                        }
                    })
                    .collect();
                &masked
            }
            None => logits,
        };
        let ids: Vec<u32> = top_n(logits, k.top_k)
            .into_iter()
            .filter(|x| x.1.is_finite())
            .map(|x| x.0)
            .collect();
        let tok = &self.lm.tok;
        let (special, plain): (Vec<u32>, Vec<u32>) =
            ids.iter().partition(|&&id| tok.is_special(id));
        let mut scored: Vec<(u32, f32)> = match self.scorer(k, fudge)? {
            Scorer::Probe { probe, log } => {
                let f = |x: &[f32]| {
                    if log {
                        probe.log_prob(x)
                    } else {
                        probe.prob(x)
                    }
                };
                let mut out = Vec::with_capacity(ids.len());
                if !plain.is_empty() {
                    let all = candidate_streams(&self.lm.model, &mut self.cache, &plain)?;
                    let feats = rows_at_layer(&self.lm.model, &all, probe.layer);
                    out.extend(plain.iter().zip(&feats).map(|(&id, x)| (id, f(x))));
                }
                if !special.is_empty() {
                    let own = match streams {
                        Some(r) => {
                            let rows = self.rows.get(r).map_err(invalid)?;
                            stream_feature(&self.lm.model, &rows, probe.layer)
                        }
                        None => prefix_feature(&self.lm.model, tokens, probe.layer)?,
                    };
                    out.extend(special.iter().map(|&id| (id, f(&own))));
                }
                out
            }
            Scorer::Lexicon(lex) => {
                let own = lex.score(&tok.decode(generated));
                let mut text: Vec<u32> = generated.to_vec();
                let mut out: Vec<(u32, f32)> = special.iter().map(|&id| (id, own)).collect();
                for &id in &plain {
                    text.push(id);
                    out.push((id, lex.score(&tok.decode(&text))));
                    text.pop();
                }
                out
            }
        };
        // Back to rank order.
        scored.sort_by_key(|&(id, _)| ids.iter().position(|&x| x == id));
        Ok(SteerScores {
            ids: scored.iter().map(|x| x.0).collect(),
            scores: scored.iter().map(|x| x.1).collect(),
        })
    }

    /// Puts a step's stored scores into `s` for `cfg`'s steering stages; scores computed for
    /// other knobs (another probe or top-k) are a one-line error.
    pub(super) fn steer_signals(
        &self,
        cfg: &SamplerConfig,
        stored: Option<&StepSteer>,
        s: &mut Signals,
    ) -> Result<(), EngineError> {
        let pick = |k: &SteerKnobs, have: Option<&(String, SteerScores)>, name: &str| {
            match have {
            Some((key_, scores)) if *key_ == key(k) => Ok(scores.clone()),
            _ => Err(invalid(format!(
                "this step has no {name} scores for {} (steering knobs set after it ran apply from the next token)",
                key(k)
            ))),
        }
        };
        if let Some(k) = &cfg.fudge {
            s.fudge = Some(pick(k, stored.and_then(|x| x.fudge.as_ref()), "FUDGE")?);
        }
        if let Some(k) = &cfg.rad {
            s.rad = Some(pick(k, stored.and_then(|x| x.rad.as_ref()), "RAD")?);
        }
        Ok(())
    }
}
