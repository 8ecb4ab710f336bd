//! The synchronous core: one model, one prompt, a tree of timelines (branches), the sampler.
//!
//! The cache always holds a prefix of the current timeline's tokens; the logits for the next
//! token are computed lazily by running whatever the cache lacks. Every step keeps its raw
//! logits exactly (f32, see [`logits`]) so knobs can be re-applied to it later without a model
//! call and show the very numbers the step used.

use std::sync::Arc;

use crate::decode::config::SamplerConfig;
use crate::decode::contrast::Signals;
use crate::decode::math::median;
use crate::decode::sampler::Sampler;
use crate::decode::stage::History;
use crate::decode::trace::StepTrace;
use crate::model::cache::KvCache;
use crate::model::error::ModelError;
use crate::model::taps::AttentionTrail;
use crate::model::Loaded;

use super::protocol::{ModelInfo, StepRecord};
use super::roles::RoleModel;

mod branches;
mod capture;
mod contrast;
mod ensemble;
mod file;
mod lens;
mod logits;
mod pending;
pub mod record;
mod snapshot;
mod speculative;
mod steer;

pub(crate) use capture::run_tokens;
pub use file::{Divergence, SessionFile};

use contrast::StepAux;
use ensemble::Member;
use logits::{LogitStore, LogitsRef};
use record::{forced_choice, temperature_sweep};

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{0}")]
    Invalid(String),
    #[error("end of sequence reached: branch or re-roll to continue")]
    Finished,
}

/// One line of the story: the generated tokens after the prompt and how each was chosen.
#[derive(Clone, Default)]
struct Timeline {
    steps: Vec<Arc<StepRecord>>,
    logits: Vec<LogitsRef>,
    /// What each step kept besides its logits (residual streams, the amateur's logits).
    aux: Vec<StepAux>,
    /// Step at which this timeline departs from the one it was cut from.
    fork_step: usize,
}

impl Timeline {
    fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.steps.iter().map(|s| s.token_id)
    }
}

/// A generation session over a loaded model.
pub struct Session {
    lm: Loaded,
    info: Arc<ModelInfo>,
    cache: KvCache,
    /// The prompt's text as tokenised (the chat template applied in chat mode).
    prompt: String,
    /// The prompt as the user gave it.
    raw_prompt: String,
    prompt_ids: Vec<u32>,
    timelines: Vec<Timeline>,
    current: usize,
    sampler: Sampler,
    /// Logits predicting the token after the current timeline, when computed.
    pending: Option<Vec<f32>>,
    /// The residual streams at the last position of the forward that made `pending`.
    pending_rows: Option<Vec<f32>>,
    /// The pending step's signals and stored inputs, for the knobs they were computed under
    /// (shown before the choice, then used by it).
    pending_inputs: Option<(SamplerConfig, Signals, StepAux)>,
    pending_forward_ms: f32,
    /// Decode timings (ms) of recent single-token forwards.
    recent_ms: Vec<f32>,
    prefill_ms: f32,
    /// Whether every forward captures attention rows into `trail`.
    capture: bool,
    trail: AttentionTrail,
    /// Models in other roles (a speculative draft, ...), each with its own cache.
    roles: Vec<RoleModel>,
    /// Every step's raw logits, exact.
    store: LogitStore,
    /// Every step's residual streams at its last position, exact (`(L + 1) · d` each).
    rows: LogitStore,
    /// Output ensembling's other members.
    members: Vec<Member>,
    /// Whether prompts are rendered as a user message through the model's chat template.
    chat: bool,
    /// Contrastive search: the final-normed last-layer hidden states of the timeline's
    /// tokens, flattened `[T · d]`.
    search_context: Option<Vec<f32>>,
    /// The grammar constraint's token space and matcher (`--regex`, `--json-schema`,
    /// `--grammar`), built at the first constrained step.
    constrainer: crate::constrain::Constrainer,
}

impl Session {
    /// A session on `prompt` (tokenised now; the model runs at the first step).
    pub fn new(lm: Loaded, prompt: &str, config: SamplerConfig) -> Result<Self, EngineError> {
        let sampler = Sampler::new(&config).map_err(EngineError::Invalid)?;
        let vocab = Arc::new(lm.tok.display_vocab());
        let vocab_len = lm.model.config().vocab_size;
        let cfg = lm.model.config();
        let rows_len = (cfg.layers + 1) * cfg.hidden;
        let info = Arc::new(ModelInfo {
            name: lm.name(),
            params: cfg.param_count(),
            dtype: lm.dtype.name().to_string(),
            context_len: cfg.context_len,
            vocab,
            layers: cfg.layers,
            draft_model: None,
            specials: (0..vocab_len as u32)
                .filter(|&i| lm.tok.is_special(i))
                .collect(),
        });
        let mut s = Session {
            cache: lm.model.new_cache(),
            lm,
            info,
            prompt: String::new(),
            raw_prompt: String::new(),
            prompt_ids: Vec::new(),
            timelines: vec![Timeline::default()],
            current: 0,
            sampler,
            pending: None,
            pending_forward_ms: 0.0,
            recent_ms: Vec::new(),
            prefill_ms: 0.0,
            capture: false,
            trail: AttentionTrail::default(),
            roles: Vec::new(),
            store: LogitStore::new(vocab_len),
            rows: LogitStore::new(rows_len),
            search_context: None,
            pending_rows: None,
            pending_inputs: None,
            members: Vec::new(),
            chat: false,
            constrainer: Default::default(),
        };
        s.check_steer(&s.config().clone())?;
        s.set_prompt(prompt)?;
        Ok(s)
    }

    /// The model and tokenizer.
    pub fn loaded(&self) -> &Loaded {
        &self.lm
    }

    /// Static facts about the model.
    pub fn info(&self) -> Arc<ModelInfo> {
        self.info.clone()
    }

    /// Prompt token ids.
    pub fn prompt_ids(&self) -> &[u32] {
        &self.prompt_ids
    }

    /// The knobs in force.
    pub fn config(&self) -> &SamplerConfig {
        self.sampler.config()
    }

    /// Steps of the current timeline.
    pub fn steps(&self) -> &[Arc<StepRecord>] {
        &self.timelines[self.current].steps
    }

    /// Milliseconds the prompt's forward took (0 before the first step).
    pub fn prefill_ms(&self) -> f32 {
        self.prefill_ms
    }

    /// Median milliseconds of the recent single-token forwards.
    pub fn decode_ms_per_token(&self) -> f32 {
        let ms: Vec<f64> = self.recent_ms.iter().map(|&x| f64::from(x)).collect();
        median(&ms) as f32
    }

    /// Whether the last generated token ends the sequence.
    pub fn finished(&self) -> bool {
        self.steps()
            .last()
            .is_some_and(|s| self.lm.model.config().eos_ids.contains(&s.token_id))
    }

    /// Whether prompts go through the chat template.
    pub fn chat(&self) -> bool {
        self.chat
    }

    /// Renders prompts as a user message through the model's chat template (with the
    /// generation prompt) or not, re-applying the current prompt's raw text. A model without
    /// a template is a one-line error.
    pub fn set_chat(&mut self, on: bool) -> Result<(), EngineError> {
        if on && self.lm.chat.is_none() {
            return Err(EngineError::Invalid(format!(
                "{} has no chat template (GGUF tokenizer.chat_template or tokenizer_config.json chat_template)",
                self.lm.name()
            )));
        }
        let old = self.chat;
        self.chat = on;
        let raw = self.raw_prompt.clone();
        if let Err(e) = self.set_prompt(&raw) {
            self.chat = old;
            return Err(e);
        }
        Ok(())
    }

    /// Replaces the prompt and starts over with a single empty timeline. In chat mode the
    /// prompt is the user's message, rendered through the chat template.
    pub fn set_prompt(&mut self, prompt: &str) -> Result<(), EngineError> {
        if prompt.is_empty() {
            return Err(EngineError::Invalid("the prompt is empty".into()));
        }
        let text = match (&self.lm.chat, self.chat) {
            (Some(t), true) => t.render_user(prompt).map_err(EngineError::Invalid)?,
            _ => prompt.to_string(),
        };
        let ids = self.lm.tok.encode(&text)?;
        if ids.is_empty() {
            return Err(EngineError::Invalid("the prompt has no tokens".into()));
        }
        let ctx = self.lm.model.config().context_len;
        if ids.len() >= ctx {
            return Err(EngineError::Model(ModelError::ContextFull {
                needed: ids.len() + 1,
                context: ctx,
            }));
        }
        self.prompt = text;
        self.raw_prompt = prompt.to_string();
        self.prompt_ids = ids;
        self.timelines = vec![Timeline::default()];
        self.current = 0;
        self.cache = self.lm.model.new_cache_with(self.cache.policy());
        self.trail.truncate(0);
        self.pending = None;
        self.search_context = None;
        self.sampler.seek(0);
        Ok(())
    }

    /// New knobs for the steps to come.
    pub fn set_config(&mut self, config: SamplerConfig) -> Result<(), EngineError> {
        self.check_contrast(&config)?;
        let mut sampler = Sampler::new(&config).map_err(EngineError::Invalid)?;
        sampler.seek(self.steps().len() as u64);
        self.sampler = sampler;
        Ok(())
    }

    /// All token ids of the current timeline (prompt then generated).
    pub fn tokens(&self) -> Vec<u32> {
        let mut t = self.prompt_ids.clone();
        t.extend(self.timelines[self.current].ids());
        t
    }

    /// Generates one token with the current knobs.
    pub fn step(&mut self) -> Result<Arc<StepRecord>, EngineError> {
        if self.finished() {
            return Err(EngineError::Finished);
        }
        if let Some((alpha, k)) = self.config().contrastive_search() {
            return self.search_step(alpha, k);
        }
        let tokens = self.tokens();
        self.ensure_pending(&tokens)?;
        let (signals, aux) = self.pending_inputs(&tokens)?;
        let logits = self.pending.take().unwrap_or_default();
        self.pending_inputs = None;
        let history = History::new(&tokens, self.prompt_ids.len()).with_signals(&signals);
        let index = self.steps().len();
        self.sampler.seek(index as u64);
        let trace = self
            .sampler
            .step(&logits, history)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        Ok(self.push_step(trace, &logits, aux, self.pending_forward_ms, false))
    }

    /// Appends the step whose token is `trace.chosen` to the current timeline, with its
    /// logits (and what else it kept) stored exactly; `taken` when the token was chosen by
    /// hand or by a speculative round rather than drawn by the chain.
    fn push_step(
        &mut self,
        trace: StepTrace,
        logits: &[f32],
        aux: StepAux,
        forward_ms: f32,
        taken: bool,
    ) -> Arc<StepRecord> {
        let index = self.steps().len();
        let config = self.sampler.config().clone();
        let mut record = self.record(index, trace, logits, config, forward_ms);
        record.taken = taken;
        let record = Arc::new(record);
        let r = self.store.push(logits);
        let tl = &mut self.timelines[self.current];
        tl.steps.push(record.clone());
        tl.logits.push(r);
        tl.aux.push(aux);
        record
    }

    /// Takes `token_id` as the next token instead of sampling (traced like a step whose
    /// choice was made by hand).
    pub fn take(&mut self, token_id: u32) -> Result<Arc<StepRecord>, EngineError> {
        if token_id as usize >= self.info.vocab.len() {
            return Err(EngineError::Invalid(format!("no token id {token_id}")));
        }
        let tokens = self.tokens();
        self.ensure_pending(&tokens)?;
        let (signals, aux) = self.pending_inputs(&tokens)?;
        let logits = self.pending.take().unwrap_or_default();
        self.pending_inputs = None;
        let history = History::new(&tokens, self.prompt_ids.len()).with_signals(&signals);
        let mut trace = self
            .sampler
            .replay(&logits, history, None)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        trace.chosen = forced_choice(&logits, &trace, token_id);
        let record = self.push_step(trace, &logits, aux, self.pending_forward_ms, true);
        self.sampler.seek(self.steps().len() as u64);
        Ok(record)
    }

    /// The record of step `index` whose token is `trace.chosen`.
    fn record(
        &self,
        index: usize,
        trace: StepTrace,
        logits: &[f32],
        config: SamplerConfig,
        forward_ms: f32,
    ) -> StepRecord {
        let id = trace.chosen.id;
        StepRecord {
            index,
            token_id: id,
            text: self
                .info
                .vocab
                .get(id as usize)
                .cloned()
                .unwrap_or_default(),
            temperature_sweep: temperature_sweep(logits, &trace, config.temperature),
            trace,
            config,
            forward_ms,
            taken: false,
        }
    }

    /// The raw logits and history of step `step` of the current timeline.
    fn cached(&self, step: usize) -> Result<(Vec<f32>, Vec<u32>), EngineError> {
        let tl = &self.timelines[self.current];
        let r = *tl
            .logits
            .get(step)
            .ok_or_else(|| EngineError::Invalid(format!("no step {step}")))?;
        let logits = self.store.get(r).map_err(EngineError::Invalid)?;
        let mut history = self.prompt_ids.clone();
        history.extend(tl.ids().take(step));
        Ok((logits.to_vec(), history))
    }

    /// What step `step` of the current timeline kept besides its logits.
    fn cached_aux(&self, step: usize) -> StepAux {
        self.timelines[self.current]
            .aux
            .get(step)
            .cloned()
            .unwrap_or_default()
    }

    /// Step `step` re-run through the chain under `config` (same draw; no model call).
    pub fn preview(
        &self,
        step: usize,
        config: &SamplerConfig,
    ) -> Result<Arc<StepRecord>, EngineError> {
        let sampler = Sampler::new(config).map_err(EngineError::Invalid)?;
        let (logits, history) = self.cached(step)?;
        let signals = self.signals_for(config, &self.cached_aux(step))?;
        let old = &self.steps()[step];
        let draw = old
            .trace
            .chosen
            .draw
            .unwrap_or_else(|| crate::decode::sampler::draw_for(config.seed, step as u64));
        let trace = sampler
            .replay(
                &logits,
                History::new(&history, self.prompt_ids.len()).with_signals(&signals),
                Some(draw),
            )
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut rec = self.record(step, trace, &logits, config.clone(), old.forward_ms);
        rec.token_id = old.token_id;
        rec.text = old.text.clone();
        Ok(Arc::new(rec))
    }
}
