//! Stages that edit logits without truncating: temperature and logit bias.

use super::candidates::Candidates;
use super::spec::{neutral, step, KnobSpec, StageSpec, ThresholdKind};
use super::stage::{Effect, History, Stage};

/// Divides logits by `t` (HF `TemperatureLogitsWarper`). `t` must be positive; temperature 0
/// is greedy choice and never builds this stage.
pub struct Temperature {
    pub t: f32,
}

impl Stage for Temperature {
    fn name(&self) -> &'static str {
        TEMPERATURE.name
    }

    fn params(&self) -> String {
        format!("t={}", self.t)
    }

    fn removes(&self) -> bool {
        false
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        c.divide_logits(self.t);
        Effect {
            threshold: Some(self.t),
            prefix: false,
            detail: None,
        }
    }
}

/// Adds a bias to the logits of listed ids (HF `SequenceBiasLogitsProcessor` with one-token
/// sequences; OpenAI `logit_bias`). A `-inf` bias removes the token. Ids absent from the set
/// (out of vocabulary or already removed) are ignored.
pub struct LogitBias {
    bias: Vec<(u32, f32)>,
    bans: bool,
}

impl LogitBias {
    pub fn new(bias: &[(u32, f32)]) -> Self {
        LogitBias {
            bias: bias.to_vec(),
            bans: bias.iter().any(|&(_, b)| b == f32::NEG_INFINITY),
        }
    }
}

impl Stage for LogitBias {
    fn name(&self) -> &'static str {
        LOGIT_BIAS.name
    }

    fn params(&self) -> String {
        let shown: Vec<String> = self
            .bias
            .iter()
            .take(4)
            .map(|(id, b)| format!("{id}:{b:+}"))
            .collect();
        let more = self.bias.len().saturating_sub(4);
        if more > 0 {
            format!("{} (+{more})", shown.join(" "))
        } else {
            shown.join(" ")
        }
    }

    fn removes(&self) -> bool {
        self.bans
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        let index = c.id_index();
        let items = c.logits_mut();
        for &(id, b) in &self.bias {
            if let Some(pos) = index.get(id) {
                items[pos].logit += b;
            }
        }
        if self.bans {
            c.retain_where(|_, x| x.logit != f32::NEG_INFINITY);
        }
        Effect::default()
    }
}

/// `temperature`.
pub const TEMPERATURE: StageSpec = StageSpec {
    name: "temperature",
    abbrev: "T",
    threshold: ThresholdKind::Own,
    build: |c| {
        (c.temperature != 1.0 && c.temperature != 0.0)
            .then(|| Box::new(Temperature { t: c.temperature }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "temperature",
        hint: "divide logits by T: <1 peaks, >1 flattens",
        rank: 0,
        enabled: |c| c.temperature != 1.0,
        value: |c| format!("{:.2}", c.temperature),
        adjust: |c, up| c.temperature = step(c.temperature, up, 0.05, 0.0, 5.0),
        toggle: |c, back| neutral(&mut c.temperature, 1.0, back, 0.7),
    }],
};

/// `logit_bias` (set on the command line; no knob).
pub const LOGIT_BIAS: StageSpec = StageSpec {
    name: "logit_bias",
    abbrev: "bias",
    threshold: ThresholdKind::Own,
    build: |c| {
        (!c.logit_bias.is_empty())
            .then(|| Box::new(LogitBias::new(&c.logit_bias)) as Box<dyn Stage>)
    },
    knobs: &[],
};
