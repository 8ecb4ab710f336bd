//! Repetition, frequency and presence penalties, as one stage.

use super::candidates::Candidates;
use super::spec::{neutral, step, KnobSpec, StageSpec, ThresholdKind};
use super::stage::{Effect, History, Stage};

/// Penalizes tokens already seen.
///
/// - Repetition (HF `RepetitionPenaltyLogitsProcessor`): over the whole history, prompt
///   included (HF's default for decoder-only models), each distinct seen token's logit is
///   divided by `repetition` when positive and multiplied when negative.
/// - Frequency and presence (OpenAI semantics): over the generated tokens only (the prompt is
///   what the user asked about; penalizing it would push the model off-topic),
///   `logit -= count * frequency + (count > 0) * presence`.
///
/// Repetition applies first, then frequency/presence (llama.cpp's order).
pub struct Penalties {
    pub repetition: f32,
    pub frequency: f32,
    pub presence: f32,
}

impl Penalties {
    /// Whether every knob is neutral.
    pub fn is_neutral(&self) -> bool {
        self.repetition == 1.0 && self.frequency == 0.0 && self.presence == 0.0
    }
}

impl Stage for Penalties {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn params(&self) -> String {
        format!(
            "rep={} freq={} pres={}",
            self.repetition, self.frequency, self.presence
        )
    }

    fn removes(&self) -> bool {
        false
    }

    fn apply(&self, c: &mut Candidates, history: History<'_>) -> Effect {
        let seen = counts(history.tokens);
        let generated = counts(history.generated());
        if seen.is_empty() {
            return Effect::default();
        }
        let index = c.id_index();
        let items = c.logits_mut();
        if self.repetition != 1.0 {
            for &(id, _) in &seen {
                if let Some(pos) = index.get(id) {
                    let l = &mut items[pos].logit;
                    *l = if *l < 0.0 {
                        *l * self.repetition
                    } else {
                        *l / self.repetition
                    };
                }
            }
        }
        if self.frequency != 0.0 || self.presence != 0.0 {
            for &(id, n) in &generated {
                if let Some(pos) = index.get(id) {
                    items[pos].logit -= n as f32 * self.frequency + self.presence;
                }
            }
        }
        Effect::default()
    }
}

/// Distinct ids with their counts, sorted by id.
fn counts(tokens: &[u32]) -> Vec<(u32, u32)> {
    let mut sorted = tokens.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for id in sorted {
        match out.last_mut() {
            Some((last, n)) if *last == id => *n += 1,
            _ => out.push((id, 1)),
        }
    }
    out
}

/// `penalties`: repetition, frequency and presence.
pub const SPEC: StageSpec = StageSpec {
    name: "penalties",
    abbrev: "pen",
    threshold: ThresholdKind::Own,
    build: |c| {
        let p = Penalties {
            repetition: c.repetition_penalty,
            frequency: c.frequency_penalty,
            presence: c.presence_penalty,
        };
        (!p.is_neutral()).then(|| Box::new(p) as Box<dyn Stage>)
    },
    knobs: &[
        KnobSpec {
            label: "repetition",
            hint: "divide logits of seen tokens (HF)",
            rank: 7,
            enabled: |c| c.repetition_penalty != 1.0,
            value: |c| format!("{:.2}", c.repetition_penalty),
            adjust: |c, up| c.repetition_penalty = step(c.repetition_penalty, up, 0.05, 0.5, 3.0),
            toggle: |c, back| neutral(&mut c.repetition_penalty, 1.0, back, 1.2),
        },
        KnobSpec {
            label: "frequency",
            hint: "subtract per occurrence (OpenAI)",
            rank: 8,
            enabled: |c| c.frequency_penalty != 0.0,
            value: |c| format!("{:.1}", c.frequency_penalty),
            adjust: |c, up| c.frequency_penalty = step(c.frequency_penalty, up, 0.1, -2.0, 2.0),
            toggle: |c, back| neutral(&mut c.frequency_penalty, 0.0, back, 0.5),
        },
        KnobSpec {
            label: "presence",
            hint: "subtract once if seen (OpenAI)",
            rank: 9,
            enabled: |c| c.presence_penalty != 0.0,
            value: |c| format!("{:.1}", c.presence_penalty),
            adjust: |c, up| c.presence_penalty = step(c.presence_penalty, up, 0.1, -2.0, 2.0),
            toggle: |c, back| neutral(&mut c.presence_penalty, 0.0, back, 0.5),
        },
    ],
};
