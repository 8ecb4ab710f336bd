//! A crowd of samples drawn together and one chosen from them: N sequences in one batched
//! forward per step (the prompt prefilled once, its cache copied to N rows), each row with its
//! own RNG stream (`row_seed(seed, row)`, so a plain session with that seed replays the row
//! alone), per-row stopping; then MBR or self-consistency picks the winner.
//!
//! Cost: the KV cache holds N rows (N × 46 KB per token on SmolLM2-135M in f32) and every
//! step is one forward of N rows; rows that stopped keep feeding end-of-sequence tokens whose
//! results are ignored.

use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::decode::config::SamplerConfig;
use crate::decode::crowd::{
    extract_answer, mbr, row_seed, vote, Selection, Utility, DEFAULT_ANSWER_REGEX,
};
use crate::decode::math::cosine;
use crate::decode::sampler::Sampler;
use crate::decode::select::metrics::{chrf, sentence_bleu};
use crate::decode::stage::History;
use crate::decode::trace::StepTrace;
use crate::model::cache::KvCache;
use crate::model::{ids_tensor, tensor_to_vec, ForwardOptions, HiddenWanted, Loaded, LogitsWanted};
use crate::oneline::one_line;

use super::session::{run_tokens, EngineError};

/// Most samples in a crowd.
pub const MAX_SAMPLES: usize = 64;

/// What to draw and how to choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrowdConfig {
    pub samples: usize,
    /// Tokens per sample at most.
    pub max_tokens: usize,
    pub select: Selection,
    /// Self-consistency's answer pattern (default [`DEFAULT_ANSWER_REGEX`]).
    pub answer_regex: Option<String>,
}

/// One sample of the crowd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrowdSample {
    pub row: usize,
    /// The seed that replays this row alone.
    pub seed: u64,
    pub ids: Vec<u32>,
    /// The generated continuation (end-of-sequence excluded).
    pub text: String,
    /// Sum of the tokens' raw log-probabilities.
    pub logprob: f64,
    pub finished: bool,
    /// The extracted answer (self-consistency).
    pub answer: Option<String>,
}

/// Why the winner won.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub select: Selection,
    /// `matrix[i][j] = U(i, j)` (MBR).
    pub matrix: Vec<Vec<f64>>,
    /// Expected utility of each sample (MBR).
    pub expected: Vec<f64>,
    /// Every answer with its votes, best first (self-consistency).
    pub votes: Vec<(String, f64)>,
    pub chosen: usize,
}

/// The crowd as the views show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrowdView {
    pub config: CrowdConfig,
    pub samples: Vec<CrowdSample>,
    /// Tokens drawn per row so far.
    pub step: usize,
    pub outcome: Option<Outcome>,
}

/// A crowd being drawn.
pub struct CrowdRun {
    cfg: CrowdConfig,
    prompt: Vec<u32>,
    samplers: Vec<Sampler>,
    cache: KvCache,
    /// The next-token logits of every row.
    logits: Vec<Vec<f32>>,
    samples: Vec<CrowdSample>,
    /// Every row's step traces.
    traces: Vec<Vec<StepTrace>>,
    /// Every row's prompt and generated ids (the history its stages see).
    histories: Vec<Vec<u32>>,
    answer_re: Regex,
    step: usize,
    outcome: Option<Outcome>,
}

impl CrowdRun {
    /// Checks the request and prefills the prompt once.
    pub fn start(
        lm: &Loaded,
        prompt: &[u32],
        knobs: &SamplerConfig,
        cfg: CrowdConfig,
    ) -> Result<Self, EngineError> {
        let invalid = |m: String| EngineError::Invalid(m);
        if !(1..=MAX_SAMPLES).contains(&cfg.samples) {
            return Err(invalid(format!(
                "--samples must be 1..={MAX_SAMPLES}, got {}",
                cfg.samples
            )));
        }
        if cfg.max_tokens == 0 {
            return Err(invalid(
                "a crowd needs at least one token per sample".into(),
            ));
        }
        if knobs.contrast.is_some()
            || knobs.dola_layers.is_some()
            || knobs.ensemble.is_some()
            || knobs.contrastive_search().is_some()
        {
            return Err(invalid(
                "--samples draws from the chain's own knobs: contrasts, ensembles and contrastive search do not combine with it".into(),
            ));
        }
        if knobs.fudge.is_some() || knobs.rad.is_some() {
            return Err(invalid(
                "--samples does not support steering (--fudge, --reward)".into(),
            ));
        }
        if knobs.grammar.is_some() {
            return Err(invalid(
                "--samples does not support a grammar constraint (--regex, --json-schema, --grammar)".into(),
            ));
        }
        let pattern = cfg.answer_regex.as_deref().unwrap_or(DEFAULT_ANSWER_REGEX);
        let answer_re = Regex::new(pattern)
            .map_err(|e| invalid(format!("--answer-regex {pattern:?}: {}", one_line(e))))?;
        if prompt.is_empty() {
            return Err(invalid("the prompt has no tokens".into()));
        }
        let n = cfg.samples;
        let mut samplers = Vec::with_capacity(n);
        for row in 0..n {
            let seed = row_seed(knobs.seed, row);
            let s = SamplerConfig {
                seed,
                ..knobs.clone()
            };
            samplers.push(Sampler::new(&s).map_err(invalid)?);
        }
        let mut cache = lm.model.new_cache();
        let first = run_tokens(&lm.model, prompt, &mut cache, None)?;
        cache.reorder(&vec![0; n]);
        Ok(CrowdRun {
            samples: (0..n)
                .map(|row| CrowdSample {
                    row,
                    seed: row_seed(knobs.seed, row),
                    ids: Vec::new(),
                    text: String::new(),
                    logprob: 0.0,
                    finished: false,
                    answer: None,
                })
                .collect(),
            logits: vec![first; n],
            traces: vec![Vec::new(); n],
            histories: vec![prompt.to_vec(); n],
            prompt: prompt.to_vec(),
            samplers,
            cache,
            answer_re,
            step: 0,
            outcome: None,
            cfg,
        })
    }

    /// Whether every row stopped and the winner is chosen.
    pub fn is_done(&self) -> bool {
        self.outcome.is_some()
    }

    /// Bytes the crowd's KV cache holds (every row).
    pub fn cache_bytes(&self) -> u64 {
        self.cache.bytes()
    }

    /// Each row's step traces (for the JSON step records).
    pub fn traces(&self) -> &[Vec<StepTrace>] {
        &self.traces
    }

    /// One token for every row still running (one batched forward); chooses the winner once
    /// every row has stopped.
    pub fn step(&mut self, lm: &Loaded) -> Result<(), EngineError> {
        if self.is_done() {
            return Ok(());
        }
        let eos = &lm.model.config().eos_ids;
        let pad = eos.first().copied().unwrap_or(0);
        let mut feed = Vec::with_capacity(self.samples.len());
        for (r, s) in self.samples.iter_mut().enumerate() {
            if s.finished {
                feed.push(pad);
                continue;
            }
            let hist = &mut self.histories[r];
            let trace = self.samplers[r]
                .step(&self.logits[r], History::new(hist, self.prompt.len()))
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            let id = trace.chosen.id;
            s.logprob += (trace.chosen.raw_prob as f64).ln();
            s.ids.push(id);
            hist.push(id);
            self.traces[r].push(trace);
            s.finished = eos.contains(&id) || s.ids.len() >= self.cfg.max_tokens;
            feed.push(id);
        }
        self.step += 1;
        let full = self.cache.len() + 1 >= lm.model.config().context_len;
        if full || self.samples.iter().all(|s| s.finished) {
            for s in &mut self.samples {
                s.finished = true;
            }
            return self.finish(lm);
        }
        let rows: Vec<[u32; 1]> = feed.iter().map(|&id| [id]).collect();
        let rows: Vec<&[u32]> = rows.iter().map(|r| r.as_slice()).collect();
        let out = lm
            .model
            .forward(&ids_tensor(&rows), &mut self.cache, ForwardOptions::LAST)?;
        for (r, l) in self.logits.iter_mut().enumerate() {
            *l = tensor_to_vec(&out.logits.get(r as i64));
        }
        Ok(())
    }

    /// Texts, answers and the selection.
    fn finish(&mut self, lm: &Loaded) -> Result<(), EngineError> {
        let eos = &lm.model.config().eos_ids;
        for s in &mut self.samples {
            let body: Vec<u32> = s.ids.iter().copied().filter(|i| !eos.contains(i)).collect();
            s.text = lm.tok.decode(&body);
            s.answer = extract_answer(&s.text, &self.answer_re);
        }
        let n = self.samples.len();
        let texts: Vec<&str> = self.samples.iter().map(|s| s.text.as_str()).collect();
        let outcome = match self.cfg.select {
            Selection::Mbr(u) => {
                let r = match u {
                    Utility::Chrf => mbr(n, |i, j| chrf(texts[i], texts[j])),
                    Utility::Bleu => mbr(n, |i, j| sentence_bleu(texts[i], texts[j])),
                    Utility::Embed => {
                        let e = self.embeddings(lm)?;
                        mbr(n, |i, j| cosine(&e[i], &e[j]))
                    }
                };
                Outcome {
                    select: self.cfg.select,
                    matrix: r.matrix,
                    expected: r.expected,
                    votes: Vec::new(),
                    chosen: r.chosen,
                }
            }
            Selection::Vote { weighted } => {
                let answers: Vec<Option<String>> =
                    self.samples.iter().map(|s| s.answer.clone()).collect();
                let lps: Vec<f64> = self.samples.iter().map(|s| s.logprob).collect();
                let r = vote(&answers, &lps, weighted);
                Outcome {
                    select: self.cfg.select,
                    matrix: Vec::new(),
                    expected: Vec::new(),
                    votes: r.votes,
                    chosen: r.chosen,
                }
            }
        };
        self.outcome = Some(outcome);
        Ok(())
    }

    /// Each sample's mean final-normed last-layer hidden state over its generated tokens (the
    /// prompt's last position when it generated none).
    fn embeddings(&self, lm: &Loaded) -> Result<Vec<Vec<f32>>, EngineError> {
        let layers = lm.model.config().layers as i64;
        let opts = ForwardOptions {
            logits: LogitsWanted::Last,
            capture_attention: false,
            exit_after: None,
            hidden: HiddenWanted::All,
        };
        let mut out = Vec::with_capacity(self.samples.len());
        for s in &self.samples {
            let mut ids = self.prompt.clone();
            ids.extend(&s.ids);
            let mut cache = lm.model.new_cache();
            let fwd = lm.model.forward(&ids_tensor(&[&ids]), &mut cache, opts)?;
            let hidden = fwd
                .hidden
                .ok_or_else(|| EngineError::Invalid("no hidden states".into()))?;
            let last = lm.model.final_norm(&hidden.get(0).select(1, layers));
            let from = (self.prompt.len().max(1) - 1).min(ids.len() - 1) as i64;
            let from = if s.ids.is_empty() { from } else { from + 1 };
            let gen = last.narrow(0, from, ids.len() as i64 - from);
            out.push(tensor_to_vec(&gen.mean_dim(0, false, tch::Kind::Float)));
        }
        Ok(out)
    }

    /// The crowd as it stands.
    pub fn view(&self) -> CrowdView {
        CrowdView {
            config: self.cfg.clone(),
            samples: self.samples.clone(),
            step: self.step,
            outcome: self.outcome.clone(),
        }
    }

    /// The view, shared.
    pub fn shared_view(&self) -> Arc<CrowdView> {
        Arc::new(self.view())
    }
}
