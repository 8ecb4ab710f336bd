//! Beam search on the model: every step's live beams run in one batched forward; the prompt is
//! prefilled once (batch 1) and its cache expanded to the beams; caches are reordered by the
//! parents of each step, never recomputed.

use std::time::Instant;

use tch::Kind;

use crate::decode::beam::{BeamConfig, BeamSearch, BeamTree};
use crate::decode::math::top_n;
use crate::model::cache::KvCache;
use crate::model::error::ModelError;
use crate::model::{ids_tensor, tensor_to_vec, ForwardOptions, Model};

use super::session::EngineError;

/// A beam search in progress over one model.
pub struct BeamRun {
    search: BeamSearch,
    cache: KvCache,
    tree: BeamTree,
    /// Log-probability rows of the live beams, when already computed (after the prefill).
    pending: Option<Vec<Vec<f32>>>,
    /// Tokens the live beams take next (fed at the next step).
    next: Vec<u32>,
    /// Milliseconds of the last step's forward.
    pub forward_ms: f32,
}

impl BeamRun {
    /// Prefills `prompt` and prepares the search; `max_new_tokens` is capped by the context.
    pub fn start(model: &Model, prompt: &[u32], mut cfg: BeamConfig) -> Result<Self, EngineError> {
        let ctx = model.config().context_len;
        if prompt.is_empty() {
            return Err(EngineError::Invalid("the prompt has no tokens".into()));
        }
        if prompt.len() >= ctx {
            return Err(ModelError::ContextFull {
                needed: prompt.len() + 1,
                context: ctx,
            }
            .into());
        }
        cfg.max_new_tokens = cfg.max_new_tokens.min(ctx - prompt.len());
        let search = BeamSearch::new(cfg.clone(), prompt)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut cache = model.new_cache();
        let t0 = Instant::now();
        let rows = log_softmax_rows(model, &ids_tensor(&[prompt]), &mut cache)?;
        let n = search.live().len();
        if n > 1 {
            cache.reorder(&vec![0; n]);
        }
        Ok(BeamRun {
            pending: Some(vec![rows[0].clone(); n]),
            tree: BeamTree::new(cfg, prompt),
            search,
            cache,
            next: Vec::new(),
            forward_ms: t0.elapsed().as_secs_f32() * 1e3,
        })
    }

    /// One expansion: one batched forward of the live beams (none at the first step), the
    /// search step, the cache reorder. Returns whether the search is over.
    pub fn step(&mut self, model: &Model) -> Result<bool, EngineError> {
        if self.search.is_done() {
            return Err(EngineError::Finished);
        }
        let rows = match self.pending.take() {
            Some(rows) => rows,
            None => {
                let t0 = Instant::now();
                let ids: Vec<[u32; 1]> = self.next.iter().map(|&t| [t]).collect();
                let refs: Vec<&[u32]> = ids.iter().map(|r| &r[..]).collect();
                let rows = log_softmax_rows(model, &ids_tensor(&refs), &mut self.cache)?;
                self.forward_ms = t0.elapsed().as_secs_f32() * 1e3;
                rows
            }
        };
        let step = self
            .search
            .advance(&rows)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if !step.done {
            let parents: Vec<i64> = step.parents.iter().map(|&p| p as i64).collect();
            self.cache.reorder(&parents);
            self.next = step.tokens.clone();
        }
        let done = step.done;
        self.tree.push(step, self.search.hypotheses());
        Ok(done)
    }

    /// Steps until the search is over.
    pub fn run(&mut self, model: &Model) -> Result<(), EngineError> {
        while !self.search.is_done() {
            self.step(model)?;
        }
        Ok(())
    }

    pub fn is_done(&self) -> bool {
        self.search.is_done()
    }

    pub fn tree(&self) -> &BeamTree {
        &self.tree
    }

    pub fn search(&self) -> &BeamSearch {
        &self.search
    }
}

/// Runs `ids` (`[batch, T]`) after `cache`; the last position's log-softmax per row.
fn log_softmax_rows(
    model: &Model,
    ids: &tch::Tensor,
    cache: &mut KvCache,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let out = model.forward(ids, cache, ForwardOptions::LAST)?;
    let lp = out.logits.log_softmax(-1, Kind::Float);
    let vocab = lp.size().last().copied().unwrap_or(0).max(1) as usize;
    Ok(tensor_to_vec(&lp)
        .chunks(vocab)
        .map(|c| c.to_vec())
        .collect())
}

/// Milliseconds per beam step at width `beams` (one batched forward, the search step, the
/// cache reorder) and per single-sequence greedy decode step, each averaged over `steps`
/// steps after `prompt` (the prefill and the first beam step, which needs no forward, are not
/// timed).
pub fn bench_beam_step(
    model: &Model,
    prompt: &[u32],
    beams: usize,
    steps: usize,
) -> Result<(f32, f32), EngineError> {
    let steps = steps.max(1);
    let cfg = BeamConfig {
        beams,
        num_return: 1,
        max_new_tokens: steps + 1,
        early_stopping: crate::decode::beam::EarlyStopping::Never,
        ..BeamConfig::default()
    };
    let mut run = BeamRun::start(model, prompt, cfg)?;
    run.step(model)?;
    let t0 = Instant::now();
    for _ in 0..steps {
        run.step(model)?;
    }
    let beam_ms = t0.elapsed().as_secs_f32() * 1e3 / steps as f32;

    let mut cache = model.new_cache();
    let mut row = log_softmax_rows(model, &ids_tensor(&[prompt]), &mut cache)?;
    let t0 = Instant::now();
    for _ in 0..steps {
        let next = top_n(&row[0], 1).first().map_or(0, |&(id, _)| id);
        row = log_softmax_rows(model, &ids_tensor(&[&[next]]), &mut cache)?;
    }
    let single_ms = t0.elapsed().as_secs_f32() * 1e3 / steps as f32;
    Ok((beam_ms, single_ms))
}
