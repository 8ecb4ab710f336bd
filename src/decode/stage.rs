//! The [`Stage`] trait, the token history stages see, and the [`Chain`] of stages.

use super::candidates::{Candidate, Candidates};
use super::config::SamplerConfig;
use super::contrast::{Dola, Signals};
use super::error::DecodeError;
use super::math::best_of;
use super::trace::{StageDetail, StageTrace};
use super::{bans, contrast, edit, grammar, penalties, steer, truncate, typical};

/// Every stage name, as used in `--samplers` and [`SamplerConfig::order`].
pub const STAGE_NAMES: [&str; 17] = [
    "dola",
    "contrast",
    "ensemble",
    "grammar",
    "fudge",
    "rad",
    "logit_bias",
    "penalties",
    "no_repeat_ngram",
    "bans",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "epsilon",
    "eta",
];

/// The default order: the two contrasts and the ensemble first (each replaces the model's
/// logits, as Hugging Face's DoLa does before its processors), then the grammar constraint
/// (a hard mask: every later stage, truncation included, then works on allowed tokens only,
/// so top-k keeps the k best *allowed* tokens and no cutoff can leave only forbidden ones),
/// then the steering stages (FUDGE, RAD: they rescore the top candidates of the model's own
/// distribution, as the papers do, before any penalty or truncation), then Hugging Face `generate`'s `LogitsProcessorList` order.
///
/// Processors that edit or forbid logits come first (sequence bias, repetition penalty,
/// no-repeat n-gram, bad words), then temperature, then the truncation warpers in HF's order
/// (top-k, top-p, min-p, typical, epsilon, eta). Penalties must see raw logits (their scale is
/// the model's), and truncation must see the tempered distribution it will sample from.
/// llama.cpp's default chain is the same shape (penalties, ..., top-k, typical, top-p, min-p,
/// temperature last, which differs only in where temperature sits).
pub const DEFAULT_ORDER: [&str; 17] = STAGE_NAMES;

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
    let min_keep = cfg.min_keep.max(1);
    let active = |v: Option<f32>, neutral: f32| v.filter(|&x| x != neutral);
    let stage: Option<Box<dyn Stage>> = match name {
        "dola" => cfg.dola_layers.clone().map(|layers| {
            Box::new(Dola {
                layers,
                min_keep: 1,
            }) as Box<dyn Stage>
        }),
        "contrast" => cfg.contrast.map(|k| {
            Box::new(contrast::Contrastive {
                knobs: k,
                min_keep: 1,
            }) as Box<dyn Stage>
        }),
        "ensemble" => cfg
            .ensemble
            .map(|combine| Box::new(crate::decode::crowd::Ensemble { combine }) as Box<dyn Stage>),
        "grammar" => cfg
            .grammar
            .clone()
            .map(|spec| Box::new(grammar::Grammar { spec }) as Box<dyn Stage>),
        "fudge" => cfg.fudge.clone().map(|knobs| {
            Box::new(steer::Steer {
                kind: steer::SteerKind::Fudge,
                knobs,
            }) as Box<dyn Stage>
        }),
        "rad" => cfg.rad.clone().map(|knobs| {
            Box::new(steer::Steer {
                kind: steer::SteerKind::Rad,
                knobs,
            }) as Box<dyn Stage>
        }),
        "logit_bias" => (!cfg.logit_bias.is_empty())
            .then(|| Box::new(edit::LogitBias::new(&cfg.logit_bias)) as Box<dyn Stage>),
        "penalties" => {
            let p = penalties::Penalties {
                repetition: cfg.repetition_penalty,
                frequency: cfg.frequency_penalty,
                presence: cfg.presence_penalty,
            };
            (!p.is_neutral()).then(|| Box::new(p) as Box<dyn Stage>)
        }
        "no_repeat_ngram" => cfg
            .no_repeat_ngram
            .map(|n| Box::new(bans::NoRepeatNgram { n }) as Box<dyn Stage>),
        "bans" => (!cfg.bad_words.is_empty()).then(|| {
            Box::new(bans::Bans {
                sequences: cfg.bad_words.clone(),
            }) as Box<dyn Stage>
        }),
        "temperature" => (cfg.temperature != 1.0 && cfg.temperature != 0.0)
            .then(|| Box::new(edit::Temperature { t: cfg.temperature }) as Box<dyn Stage>),
        "top_k" => cfg
            .top_k
            .map(|k| Box::new(truncate::TopK { k, min_keep }) as Box<dyn Stage>),
        "top_p" => active(cfg.top_p, 1.0)
            .map(|p| Box::new(truncate::TopP { p, min_keep }) as Box<dyn Stage>),
        "min_p" => active(cfg.min_p, 0.0)
            .map(|min_p| Box::new(truncate::MinP { min_p, min_keep }) as Box<dyn Stage>),
        "typical_p" => active(cfg.typical_p, 1.0)
            .map(|mass| Box::new(typical::Typical { mass, min_keep }) as Box<dyn Stage>),
        "epsilon" => active(cfg.epsilon, 0.0)
            .map(|epsilon| Box::new(truncate::Epsilon { epsilon, min_keep }) as Box<dyn Stage>),
        "eta" => active(cfg.eta, 0.0)
            .map(|eta| Box::new(truncate::Eta { eta, min_keep }) as Box<dyn Stage>),
        other => return Err(format!("unknown sampler stage {other:?}")),
    };
    Ok(stage)
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
