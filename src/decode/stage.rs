//! The [`Stage`] trait, the token history stages see, and the [`Chain`] of stages.

use super::candidates::{Candidate, Candidates};
use super::config::SamplerConfig;
use super::contrast::Signals;
use super::error::DecodeError;
use super::math::best_of;
use super::spec::StageSpec;
use super::trace::{StageDetail, StageTrace};
use super::{bans, contrast, crowd, edit, grammar, penalties, steer, truncate, typical};

/// Every stage, described once ([`StageSpec`]), in the default order: the two contrasts and
/// the ensemble first (each replaces the model's logits, as Hugging Face's DoLa does before
/// its processors), then the grammar constraint (a hard mask: every later stage, truncation
/// included, then works on allowed tokens only, so top-k keeps the k best *allowed* tokens and
/// no cutoff can leave only forbidden ones), then the steering stages (FUDGE, RAD: they
/// rescore the top candidates of the model's own distribution, as the papers do, before any
/// penalty or truncation), then Hugging Face `generate`'s `LogitsProcessorList` order.
///
/// Processors that edit or forbid logits come first (sequence bias, repetition penalty,
/// no-repeat n-gram, bad words), then temperature, then the truncation warpers in HF's order
/// (top-k, top-p, min-p, typical, epsilon, eta). Penalties must see raw logits (their scale is
/// the model's), and truncation must see the tempered distribution it will sample from.
/// llama.cpp's default chain is the same shape (penalties, ..., top-k, typical, top-p, min-p,
/// temperature last, which differs only in where temperature sits).
pub const STAGES: [StageSpec; 17] = [
    contrast::dola::SPEC,
    contrast::cd::SPEC,
    crowd::ensemble::SPEC,
    grammar::SPEC,
    steer::FUDGE,
    steer::RAD,
    edit::LOGIT_BIAS,
    penalties::SPEC,
    bans::NO_REPEAT_NGRAM,
    bans::BANS,
    edit::TEMPERATURE,
    truncate::TOP_K,
    truncate::TOP_P,
    truncate::MIN_P,
    typical::SPEC,
    truncate::EPSILON,
    truncate::ETA,
];

/// Every stage name, as used in `--samplers` and [`SamplerConfig::order`].
pub const STAGE_NAMES: [&str; STAGES.len()] = {
    let mut names = [""; STAGES.len()];
    let mut i = 0;
    while i < STAGES.len() {
        names[i] = STAGES[i].name;
        i += 1;
    }
    names
};

/// The default order: [`STAGES`]' order.
pub const DEFAULT_ORDER: [&str; STAGES.len()] = STAGE_NAMES;

/// The description of stage `name`.
pub fn spec(name: &str) -> Option<&'static StageSpec> {
    STAGES.iter().find(|s| s.name == name)
}

/// The token sequence a step continues: prompt then generated ids, and the model-side
/// signals the contrast stages read.
#[derive(Debug, Clone, Copy, Default)]
pub struct History<'a> {
    /// Prompt and generated ids, in order.
    pub tokens: &'a [u32],
    /// How many leading `tokens` are the prompt.
    pub prompt_len: usize,
    /// What the engine computed besides the target's logits (amateur, premature layers).
    pub signals: Option<&'a Signals>,
}

impl<'a> History<'a> {
    pub fn new(tokens: &'a [u32], prompt_len: usize) -> Self {
        History {
            tokens,
            prompt_len,
            signals: None,
        }
    }

    /// The same history with the step's signals.
    pub fn with_signals(self, signals: &'a Signals) -> Self {
        History {
            signals: Some(signals),
            ..self
        }
    }

    /// The generated part (after the prompt).
    pub fn generated(&self) -> &'a [u32] {
        &self.tokens[self.prompt_len.min(self.tokens.len())..]
    }
}

/// What a stage reports besides the candidates it kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effect {
    /// The threshold applied, in the stage's own unit.
    pub threshold: Option<f32>,
    /// Whether the kept set is a prefix of the entering rank order (then the trace reports a
    /// cutoff rank).
    pub prefix: bool,
    /// Per-candidate scores of stages that compute more than a cut (the contrasts).
    pub detail: Option<StageDetail>,
}

/// One step of the chain: edits logits or drops candidates.
///
/// Stages are pure functions of (candidates, history): they hold no state between steps, so
/// replaying any step with the same inputs gives the same result.
pub trait Stage: Send + Sync {
    /// Name as in [`STAGE_NAMES`].
    fn name(&self) -> &'static str;
    /// Human-readable parameters, e.g. `k=50`.
    fn params(&self) -> String;
    /// Whether `apply` may drop candidates; the chain then normalizes the set first so the
    /// trace can measure the mass kept under the entering distribution.
    fn removes(&self) -> bool {
        true
    }
    /// Applies the stage. Must not renormalize after dropping candidates, and must keep at
    /// least one candidate unless it is a ban.
    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect;
    /// The error when the stage left no candidate (a constraint says why it cannot be met).
    fn empty_error(&self, _history: History<'_>) -> DecodeError {
        DecodeError::AllRemoved {
            stage: self.name().to_string(),
        }
    }
}

/// Builds the stage `name` from the config's knobs: `Ok(None)` when its knob is neutral
/// (e.g. temperature 1.0 or 0.0, `top_p` 1.0, no bans), `Err` for an unknown name.
pub fn build_stage(name: &str, cfg: &SamplerConfig) -> Result<Option<Box<dyn Stage>>, String> {
    match spec(name) {
        Some(s) => Ok((s.build)(cfg)),
        None => Err(format!("unknown sampler stage {name:?}")),
    }
}

/// Stages applied in order; itself a [`Stage`].
pub struct Chain {
    stages: Vec<Box<dyn Stage>>,
}

impl Chain {
    pub fn new(stages: Vec<Box<dyn Stage>>) -> Self {
        Chain { stages }
    }

    /// The active stages of `cfg.order` (after [`SamplerConfig::validate`]).
    pub fn from_config(cfg: &SamplerConfig) -> Result<Self, String> {
        cfg.validate()?;
        let mut stages = Vec::new();
        for name in &cfg.order {
            stages.extend(build_stage(name, cfg)?);
        }
        Ok(Chain { stages })
    }

    pub fn stages(&self) -> &[Box<dyn Stage>] {
        &self.stages
    }

    /// Applies every stage and traces each. `on_removed(stage_index, removed)` sees what each
    /// stage dropped. Errors when a stage leaves no candidate.
    pub fn apply_traced(
        &self,
        c: &mut Candidates,
        history: History<'_>,
        mut on_removed: impl FnMut(usize, &[Candidate]),
    ) -> Result<Vec<StageTrace>, DecodeError> {
        let mut traces = Vec::with_capacity(self.stages.len());
        for (index, stage) in self.stages.iter().enumerate() {
            if stage.removes() {
                c.normalize();
            }
            c.clear_removed();
            let entering = c.len();
            let effect = stage.apply(c, history);
            let kept = c.len();
            if kept == 0 {
                return Err(stage.empty_error(history));
            }
            // Survivors still carry the probabilities of the entering distribution.
            let mass = if kept == entering {
                1.0
            } else {
                c.items().iter().map(|x| x.p as f64).sum::<f64>() as f32
            };
            on_removed(index, c.removed());
            traces.push(StageTrace {
                name: stage.name().to_string(),
                params: stage.params(),
                kept,
                mass,
                cutoff_rank: effect.prefix.then_some(kept - 1),
                threshold: effect.threshold,
                removed_best: best_ids(c.removed(), 5),
                detail: effect.detail,
            });
        }
        c.clear_removed();
        Ok(traces)
    }

    /// Processed logits in vocabulary order, `-inf` where removed: the equivalent of Hugging
    /// Face's `processors(input_ids, scores)` for parity tests.
    pub fn process(&self, logits: &[f32], history: History<'_>) -> Result<Vec<f32>, DecodeError> {
        let mut c = Candidates::from_logits(logits)?;
        self.apply_traced(&mut c, history, |_, _| {})?;
        let mut out = vec![f32::NEG_INFINITY; logits.len()];
        for x in c.items() {
            out[x.id as usize] = x.logit;
        }
        Ok(out)
    }
}

impl Stage for Chain {
    fn name(&self) -> &'static str {
        "chain"
    }

    fn params(&self) -> String {
        let names: Vec<&str> = self.stages.iter().map(|s| s.name()).collect();
        names.join(",")
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        for stage in &self.stages {
            if c.is_empty() {
                break;
            }
            if stage.removes() {
                c.normalize();
            }
            stage.apply(c, history);
            c.clear_removed();
        }
        Effect::default()
    }
}

/// The ids of the `n` most probable candidates (ties: smaller id).
fn best_ids(v: &[Candidate], n: usize) -> Vec<u32> {
    let by_p = |a: &Candidate, b: &Candidate| b.p.total_cmp(&a.p).then(a.id.cmp(&b.id));
    best_of(v.iter().copied(), n, by_p)
        .iter()
        .map(|x| x.id)
        .collect()
}
